# SPDX-License-Identifier: MIT
"""Issue 17: mod_rest parity. A 2xx text answer to a message is a chat
<body> (to a presence a <status>); IQ results and errors that answer no
request reach the webhook and are never answered; HTTP statuses become
stanza errors whose text is the status line; empty values survive the JSON
mapping; GET shortcuts read every URL parameter; the OPTIONS probe's Accept
picks the webhook's content type. On both servers."""

import json
import queue
import threading
import time
import xml.etree.ElementTree as ET

from test_rest import JSON, bearer, start as start_rest
from test_webhook import (bot, errors_too, header, sink, start,  # noqa: F401
                          wait_error_message)

NS_TEST = "urn:restanza:test:0"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_JSON_MSG = "urn:xmpp:json-msg:0"
NS_LAST = "jabber:iq:last"


def kind_of(body):
    text = body.decode("utf-8", "replace").lstrip()
    if text.startswith("{"):
        return json.loads(text).get("kind")
    return text[1:].split(" ", 1)[0].split(">", 1)[0].split("/", 1)[0]


def wait_presence(c, pred, timeout=10):
    """Next presence received by client c that satisfies pred."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no matching presence within %s s" % timeout)
        try:
            p = c.presences.get(timeout=left)
        except queue.Empty:
            continue
        if pred(p):
            return p


def capture_iq_answers(c, frm):
    """IQ results/errors from `frm` that reach client c, collected in a
    list (slixmpp drops answers nobody waits for)."""
    from slixmpp.xmlstream.handler import Callback
    from slixmpp.xmlstream.matcher import MatchXPath
    got = []
    done = threading.Event()

    def on_iq(iq):
        if iq["type"] in ("result", "error") and str(iq["from"]) == frm:
            got.append(str(iq))

    def add():
        c.xmpp.register_handler(Callback(
            "parity iq answers", MatchXPath("{jabber:client}iq"), on_iq))
        done.set()
    c.loop.call_soon_threadsafe(add)
    assert done.wait(5)
    return got


def idle(r):
    r.wait_status(lambda s: s["webhook"] == {"queued": 0, "in_flight": 0},
                  what="webhook idle")


def json_posts(sink, kind, n, timeout=10):
    """The next n POSTs of stanzas of this kind, decoded from JSON."""
    return [json.loads(sink.next_post(kind, timeout)[3]) for _ in range(n)]


# --------------------------------------------------------------------------
# 1. a 2xx text answer

def test_2xx_text_answer_to_message_is_a_chat_body(server, restanza, client,
                                                   sink):
    def respond(method, path, headers, body):
        if kind_of(body) != "message":
            return 202, {}, b"", 0
        if b"untyped" in body:     # no Content-Type: sniffed as text
            return 200, {}, b"said without a type", 0
        return (200, {"Content-Type": "text/plain; charset=utf-8"},
                "plain answer \u00e9".encode(), 0)
    sink.respond = respond
    start(restanza, server, sink)
    alice = client(server, "alice")
    alice.send_message(bot(server), "typed", mtype="normal")
    m = alice.wait_message(lambda m: str(m["from"]) == bot(server))
    assert m["body"] == "plain answer \u00e9"
    assert m["type"] == "chat"
    assert str(m["to"]) == alice.jid
    alice.send_message(bot(server), "untyped")
    m = alice.wait_message(lambda m: str(m["from"]) == bot(server))
    assert m["body"] == "said without a type"


def test_form_answer_maps_like_json_not_as_text(server, restanza, client,
                                                sink):
    """As mod_rest: a form answer is a stanza in flat keys (Accept lists the
    form type), not a text."""
    sink.respond = lambda *a: (
        200, {"Content-Type": "application/x-www-form-urlencoded"},
        b"type=chat&body=from+a+form", 0)
    start(restanza, server, sink)
    alice = client(server, "alice")
    alice.send_message(bot(server), "form please")
    m = alice.wait_message(lambda m: str(m["from"]) == bot(server))
    assert m["body"] == "from a form"


def test_2xx_text_answer_to_presence_is_its_status(server, restanza, client,
                                                   sink):
    def respond(method, path, headers, body):
        if kind_of(body) == "presence" and b"show" in body:
            return 200, {"Content-Type": "text/plain"}, b"bot is here", 0
        return 202, {}, b"", 0
    sink.respond = respond
    start(restanza, server, sink)
    alice = client(server, "alice")
    alice.send_raw("<presence to='%s'><show>chat</show></presence>"
                   % bot(server))
    p = wait_presence(alice, lambda p: str(p["from"]) == bot(server))
    assert p["status"] == "bot is here"
    assert p["type"] == "available"


def test_2xx_text_answer_to_iq_is_an_empty_result(server, restanza, client,
                                                  sink):
    sink.respond = lambda *a: (200, {"Content-Type": "text/plain"},
                               b"not for iqs", 0)
    start(restanza, server, sink)
    alice = client(server, "alice")
    reply = alice.iq(bot(server), "<query xmlns='%s'/>" % NS_TEST, "get")
    assert reply.type == "result"
    assert reply.payload is None


# --------------------------------------------------------------------------
# 2. IQ results and errors that answer no request

def test_unrequested_iq_result_and_error_reach_webhook_unanswered(
        server, restanza, client, sink):
    def respond(method, path, headers, body):
        if kind_of(body) == "iq":
            # Would be an answer if restanza sent one: it must not.
            return (500, {"Content-Type": "application/xmpp+xml"},
                    b"<iq type='result'><query xmlns='urn:x'/></iq>", 0)
        if kind_of(body) == "message":
            return (200, {"Content-Type": "application/xmpp+xml"},
                    b"<message><body>synced</body></message>", 0)
        return 202, {}, b"", 0
    sink.respond = respond
    start(restanza, server, sink, content_type="application/json")
    alice = client(server, "alice")
    answers = capture_iq_answers(alice, bot(server))
    alice.send_raw(
        "<iq type='result' id='unasked-1' to='%s'><query "
        "xmlns='jabber:iq:version'><name>n</name><version>1</version>"
        "</query></iq>" % bot(server))
    alice.send_raw(
        "<iq type='error' id='unasked-2' to='%s'><error type='cancel'>"
        "<item-not-found xmlns='%s'/><text xmlns='%s'>gone</text></error>"
        "</iq>" % (bot(server), NS_STANZAS, NS_STANZAS))
    posts = sorted(json_posts(sink, "iq", 2), key=lambda p: p["id"])
    assert posts[0]["type"] == "result"
    assert posts[0]["id"] == "unasked-1"
    assert posts[0]["from"] == alice.jid
    assert posts[0]["version"] == {"name": "n", "version": "1"}
    assert posts[1]["type"] == "error"
    assert posts[1]["id"] == "unasked-2"
    assert posts[1]["error"] == {"type": "cancel",
                                 "condition": "item-not-found",
                                 "text": "gone"}
    # Anything restanza sent alice before this reply arrives before it.
    alice.send_message(bot(server), "sync")
    alice.wait_message(lambda m: m["body"] == "synced")
    assert answers == []


def test_unrequested_iq_result_follows_webhook_events(server, restanza,
                                                     client, sink):
    r = start(restanza, server, sink, events="bare, full")
    alice = client(server, "alice")
    alice.send_raw("<iq type='result' id='to-host' to='%s'/>"
                   % server.component_jid)
    alice.send_raw("<iq type='result' id='to-bare' to='%s'/>" % bot(server))
    method, path, headers, body = sink.next_post("iq")
    assert b"to-bare" in body
    idle(r)
    seen = []
    while not sink.requests.empty():
        seen.append(sink.requests.get_nowait()[3])
    assert not [b for b in seen if b"to-host" in b], seen


# --------------------------------------------------------------------------
# 3. error texts from an HTTP status

def test_http_status_error_text_is_the_status_line(server, restanza, client,
                                                   sink):
    def respond(method, path, headers, body):
        kind = kind_of(body)
        if kind == "message":
            return 404, {}, b"", 0
        if kind == "iq":
            return 503, {"Content-Type": "text/plain"}, b"down", 0
        return 202, {}, b"", 0
    sink.respond = respond
    start(restanza, server, sink)
    alice = errors_too(client(server, "alice"))
    alice.send_message(bot(server), "where?")
    m = wait_error_message(alice)
    assert (m["error"]["type"], m["error"]["condition"]) == (
        "cancel", "item-not-found")
    assert m["error"]["text"] == "404 Not Found"
    reply = alice.iq(bot(server), "<query xmlns='%s'/>" % NS_TEST, "get")
    assert (reply.error_type, reply.error_condition) == (
        "cancel", "service-unavailable")
    assert reply.error_text == "503 Service Unavailable"


# --------------------------------------------------------------------------
# 4. empty values in the JSON mapping

def test_empty_values_reach_the_json_webhook(server, restanza, client, sink):
    start(restanza, server, sink, content_type="application/json")
    alice = client(server, "alice")
    reply = alice.iq(bot(server), "<query xmlns='%s'/>" % NS_LAST, "get")
    assert reply.type == "result"
    post = json_posts(sink, "iq", 1)[0]
    assert post["lastactivity"] == {"status": ""}, post
    alice.send_raw("<message to='%s' type='chat' id='e1'><body/><subject/>"
                   "<thread/></message>" % bot(server))
    post = json_posts(sink, "message", 1)[0]
    assert post["body"] == "", post
    assert post["subject"] == "", post
    assert post["thread"] == {"id": ""}, post


# --------------------------------------------------------------------------
# 5. GET shortcuts read every URL parameter

def get_in_thread(r, path):
    res = {}

    def run():
        res["r"] = r.get(path, headers=bearer(
            Accept=JSON, **{"Restanza-Timeout": "10"}), timeout=20)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, res


def answered(bob, t, res, iq):
    bob.send_raw("<iq type='result' id='%s' to='%s'/>" % (iq["id"],
                                                          iq["from"]))
    t.join(15)
    assert res["r"].status == 200, res["r"]
    return res["r"].json()


def test_get_shortcut_reads_every_url_parameter(server, restanza, client):
    r = start_rest(server, restanza)
    bob = client(server, "bob")
    t, res = get_in_thread(r, "/rest/payload/%s?datatype=urn%%3Ax&data=hi"
                           "&data=there&unknown=1" % bob.jid)
    iq = bob.iqs.get(timeout=10)
    el = ET.fromstring(str(iq)).find("{%s}payload" % NS_JSON_MSG)
    assert el is not None, str(iq)
    assert el.get("datatype") == "urn:x"
    assert json.loads(el.text) == "there"      # the last repeat wins
    assert answered(bob, t, res, iq)["type"] == "result"
    t, res = get_in_thread(r, "/rest/lastactivity/%s?status=away" % bob.jid)
    iq = bob.iqs.get(timeout=10)
    el = ET.fromstring(str(iq)).find("{%s}query" % NS_LAST)
    assert el is not None and el.text == "away", str(iq)
    answered(bob, t, res, iq)
    # A query without any '=' does not decode (mod_rest: parse error).
    resp = r.get("/rest/ping/%s?flag" % server.domain,
                 headers=bearer(Accept=JSON))
    assert resp.status == 400, resp
    assert resp.json()["error"]["condition"] == "not-well-formed"


# --------------------------------------------------------------------------
# 7. the OPTIONS probe picks the content type

def test_options_probe_accept_picks_the_first_listed_type(server, restanza,
                                                          client, sink):
    sink.respond = lambda *a: (
        200, {"Accept": "application/xmpp+xml, application/json"}, b"", 0)
    r = start(restanza, server, sink, content_type="application/json")
    r.wait_log("webhook connected.*content_type=application/xmpp\\+xml")
    sink.respond = lambda *a: (202, {}, b"", 0)
    alice = client(server, "alice")
    alice.send_message(bot(server), "as xml")
    method, path, headers, body = sink.next_post()
    assert header(headers, "Content-Type") == "application/xmpp+xml"
    assert body.startswith(b"<message")


def test_options_probe_other_answers_keep_the_configured_type(
        server, restanza, client, sink):
    sink.respond = lambda *a: (405, {"Accept": "application/json"}, b"", 0)
    r = start(restanza, server, sink)
    r.wait_log("webhook not yet connected.*status=405")
    sink.respond = lambda *a: (202, {}, b"", 0)
    alice = client(server, "alice")
    alice.send_message(bot(server), "still xml")
    method, path, headers, body = sink.next_post()
    assert header(headers, "Content-Type") == "application/xmpp+xml"
