# SPDX-License-Identifier: MIT
"""Issue 16 classes 1, 2 and 3 (SPEC §13): nothing from outside -- REST paths,
URL parameters and bodies, webhook answers, roster app answers -- makes
restanza write something the server rejects at stream level. Invalid text is
a 400, a stanza over component.max_stanza_size (counted on the escaped XML)
a 413, and a webhook answer that is too large or not a stanza an error to
the sender. Every test ends with the XMPP stream still up: no disconnect
since the bad input, and a normal message still goes through."""

import json
import re
import uuid

import pytest

from test_rest import (FORM, JSON, XML, assert_json_error, assert_xml_error,
                       basic, bearer, post_json, post_xml, start, wait_body)
from test_roster import app, refresh, roster_of, sync_server  # noqa: F401
from test_roster import start as roster_start
from test_webhook import Sink, bot, errors_too, wait_error_message

BAD_CHARS = "The path holds invalid UTF-8 or a character XML does not allow"
BAD_PARAM = ("A URL parameter holds invalid UTF-8 or a character XML does "
             "not allow")
TOO_LARGE = ("The stanza is larger than the XMPP server accepts "
             "(component.max_stanza_size, counted on the escaped XML)")
MAX_STANZA = 524288
# Percent-encoded bytes the servers close the stream on: a C0 control,
# U+FFFE, U+FFFF, overlong '&' and '<', a surrogate, a byte that is never
# UTF-8, a truncated sequence.
BAD_ENCODED = ["%01", "%1F", "%EF%BF%BE", "%EF%BF%BF", "%C0%A6",
               "%E0%80%BC", "%ED%A0%80", "%FF", "%C3"]


def refused(r, reason):
    text = r.request("GET", "/metrics").body.decode()
    m = re.search(r'^restanza_stanzas_refused_total\{reason="%s"\} (\S+)$'
                  % reason, text, re.M)
    assert m, text
    return int(float(m.group(1)))


def assert_stream_up(r, before, c):
    """No disconnect since `before`, and a message reaches client c."""
    body = "still up " + uuid.uuid4().hex
    resp = r.post("/rest", json.dumps({"to": c.bare, "type": "chat",
                                       "body": body}),
                  headers=dict(basic(r.server), **{"Content-Type": JSON}))
    assert resp.status == 202, resp
    wait_body(c, body)
    assert r.disconnects() == before
    assert r.status()["xmpp"]["state"] == "connected"


# --------------------------------------------------------------------------
# class 1: invalid characters, REST

def test_invalid_text_in_path_parts_is_400(server, restanza, client):
    r = start(server, restanza)
    alice = client(server, "alice")
    before = r.disconnects()
    for bad in BAD_ENCODED:
        for path in ("/rest/message/chat/alice@localhost/x" + bad,
                     "/rest/message/chat" + bad + "/alice@localhost",
                     "/rest/iq/version/localhost" + bad):
            resp = r.post(path, "hi", headers=bearer(**{
                "Content-Type": "text/plain", "Accept": JSON}))
            assert_json_error(resp, 400, "modify", "bad-format", BAD_CHARS)
        resp = r.post("/rest/message/chat/alice@localhost/x" + bad,
                      "<message><body>hi</body></message>",
                      headers=bearer(**{"Content-Type": XML, "Accept": XML}))
        assert_xml_error(resp, 400, "bad-format", BAD_CHARS)
        resp = r.get("/rest/ping/localhost" + bad,
                     headers=bearer(Accept=JSON))
        assert_json_error(resp, 400, "modify", "bad-format", BAD_CHARS)
    assert_stream_up(r, before, alice)


def test_invalid_text_in_get_parameters_is_400(server, restanza, client):
    r = start(server, restanza)
    alice = client(server, "alice")
    before = r.disconnects()
    for bad in BAD_ENCODED:
        for query in ("disco/localhost?node=n" + bad,
                      "items/localhost?node=" + bad,
                      "oob/alice@localhost?url=http://x/&desc=d" + bad):
            resp = r.get("/rest/" + query,
                         headers=bearer(Accept=JSON,
                                        **{"Restanza-Timeout": "5"}))
            assert_json_error(resp, 400, "modify", "bad-format", BAD_PARAM)
        resp = r.get("/rest/disco/localhost?node=" + bad,
                     headers=bearer(Accept=XML))
        assert_xml_error(resp, 400, "bad-format", BAD_PARAM)
    assert_stream_up(r, before, alice)


def test_invalid_text_in_bodies_is_400(server, restanza, client):
    r = start(server, restanza)
    alice = client(server, "alice")
    before = r.disconnects()
    to = "alice@localhost"
    # JSON: lone surrogates (json-c made them U+FFFD), escaped non-Chars.
    for body in ('"a\\ud800b"', '"\\udc00"', '"\\ud83d\\u0041"',
                 '"\\u0001"', '"\\ufffe"', '"\\uffff"'):
        resp = r.post("/rest", '{"to":"%s","body":%s}' % (to, body),
                      headers=bearer(**{"Content-Type": JSON,
                                        "Accept": JSON}))
        assert resp.status == 400, (body, resp)
        assert resp.json()["error"]["type"] == "modify", resp.json()
    # Raw U+FFFE in a JSON string, in a text/plain body.
    resp = r.post("/rest", ('{"to":"%s","body":"a\ufffe"}' % to).encode(),
                  headers=bearer(**{"Content-Type": JSON, "Accept": JSON}))
    assert resp.status == 400, resp
    for raw in (b"a\x01", "a\ufffe".encode(), b"\xc0\xa6", b"\xed\xa0\x80",
                b"a\x00b"):
        resp = r.post("/rest/message/chat/" + to, raw,
                      headers=bearer(**{"Content-Type": "text/plain",
                                        "Accept": JSON}))
        assert resp.status == 400, (raw, resp)
    # Forms: decoded bytes.
    for bad in BAD_ENCODED:
        resp = r.post("/rest", "to=%s&body=a%s" % (to, bad),
                      headers=bearer(**{"Content-Type": FORM,
                                        "Accept": JSON}))
        assert resp.status == 400, (bad, resp)
        assert resp.json()["error"]["type"] == "modify", resp.json()
    # XML: character references and raw bytes the parser refuses.
    for xml in (b"<message to='%s'><body>&#1;</body></message>",
                b"<message to='%s'><body>&#xFFFE;</body></message>",
                b"<message to='%s'><body>\xc0\xa6</body></message>",
                b"<message to='%s' id='\x01'/>"):
        resp = post_xml(r, xml.replace(b"%s", to.encode()),
                        headers={"Accept": XML})
        assert resp.status == 400, (xml, resp)
        assert resp.headers["Content-Type"].startswith(XML), resp.headers
    assert_stream_up(r, before, alice)


# --------------------------------------------------------------------------
# class 2: the size bound, on the serialized bytes

def queued_sizes(r):
    """Sizes of the stanzas restanza queued so far (debug log)."""
    return [int(m) for m in re.findall(r'msg="xmpp queued" bytes=(\d+)',
                                       r.log())]


def test_150000_ampersands_are_413_and_the_limit_is_exact(
        server, restanza, client):
    r = start(server, restanza)
    alice = client(server, "alice")
    before = r.disconnects()
    too_large = refused(r, "too_large")
    msg = {"to": "alice@localhost", "type": "chat", "id": "big-1"}
    # 150 KB of JSON, 750 KB once escaped.
    resp = post_json(r, dict(msg, body="&" * 150000),
                     headers={"Accept": JSON})
    assert_json_error(resp, 413, "modify", "resource-constraint", TOO_LARGE)
    resp = post_json(r, dict(msg, body="&" * 150000),
                     headers={"Accept": XML})
    assert_xml_error(resp, 413, "resource-constraint", TOO_LARGE)
    assert refused(r, "too_large") == too_large + 2
    # An IQ is refused the same way, before it is parked.
    resp = post_json(r, {"to": "localhost", "kind": "iq", "type": "set",
                         "disco": {"node": "&" * 120000}},
                     headers={"Accept": JSON})
    assert_json_error(resp, 413, "modify", "resource-constraint", TOO_LARGE)
    # Exactly the limit goes through (and the server takes it); one more
    # byte does not. The probe's size tells the overhead (pings are short).
    n = len(queued_sizes(r))
    assert post_json(r, dict(msg, body="x" * 1000)).status == 202
    r.wait_log(r'msg="xmpp queued" bytes=1\d\d\d\b', count=1)
    overhead = [b for b in queued_sizes(r)[n:] if b > 1000][0] - 1000
    fill = MAX_STANZA - overhead
    body = "&" * (fill // 5) + "a" * (fill % 5)
    assert post_json(r, dict(msg, body=body)).status == 202
    r.wait_log(r'msg="xmpp queued" bytes=%d\b' % MAX_STANZA, count=1)
    assert wait_body(alice, body, timeout=30)
    resp = post_json(r, dict(msg, body=body + "a"), headers={"Accept": JSON})
    assert_json_error(resp, 413, "modify", "resource-constraint", TOO_LARGE)
    assert_stream_up(r, before, alice)


# --------------------------------------------------------------------------
# class 2 and 3: webhook answers

@pytest.fixture
def sink():
    s = Sink()
    yield s
    s.close()


def webhook_start(server, restanza, sink):
    return start(server, restanza,
                 config={"webhook": {"url": sink.url("/hook")}})


def test_webhook_answer_of_700kb_is_resource_constraint(
        server, restanza, client, sink):
    big = ("<message><body>%s</body></message>" % ("a" * 700000)).encode()
    sink.respond = lambda *a: (200, {"Content-Type": XML}, big, 0)
    r = webhook_start(server, restanza, sink)
    alice = errors_too(client(server, "alice"))
    before = r.disconnects()
    alice.send_message(bot(server), "answer big")
    m = wait_error_message(alice, timeout=20)
    assert m["error"]["type"] == "modify", m
    assert m["error"]["condition"] == "resource-constraint", m
    assert str(m["from"]) == bot(server)
    # The same for a delegated-free IQ: its reply is an error, not a cut.
    big_iq = ("<iq type='result'><query xmlns='urn:x'>%s</query></iq>"
              % ("a" * 700000)).encode()
    sink.respond = lambda *a: (200, {"Content-Type": XML}, big_iq, 0)
    reply = alice.iq(bot(server), "<query xmlns='urn:x'/>", timeout=20)
    assert (reply.type, reply.error_type, reply.error_condition) == (
        "error", "modify", "resource-constraint"), str(reply)
    sink.respond = lambda *a: (202, {}, b"", 0)
    assert_stream_up(r, before, alice)


FOREIGN = [
    b"<message xmlns='urn:example:other'><body>x</body></message>",
    b"<message xmlns='http://etherx.jabber.org/streams'><body>x</body>"
    b"</message>",
    b"<stream:error xmlns:stream='http://etherx.jabber.org/streams'>"
    b"<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
    b"<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>",
    b"<handshake xmlns='jabber:component:accept'/>",
    b"<foo xmlns='jabber:client'/>",
    b'{"kind":"message","body":"a\\ufffe"}',
]


@pytest.mark.parametrize("answer", FOREIGN, ids=range(len(FOREIGN)))
def test_webhook_answer_that_is_not_a_stanza_is_an_error(
        server, restanza, client, sink, answer):
    ctype = JSON if answer.startswith(b"{") else XML
    sink.respond = lambda *a: (200, {"Content-Type": ctype}, answer, 0)
    r = webhook_start(server, restanza, sink)
    alice = errors_too(client(server, "alice"))
    before = r.disconnects()
    alice.send_message(bot(server), "answer foreign")
    m = wait_error_message(alice)
    assert (m["error"]["type"], m["error"]["condition"]) == (
        "modify", "not-acceptable"), m
    assert str(m["from"]) == bot(server)
    reply = alice.iq(bot(server), "<query xmlns='urn:x'/>")
    assert (reply.type, reply.error_condition) == (
        "error", "not-acceptable"), str(reply)
    sink.respond = lambda *a: (202, {}, b"", 0)
    assert_stream_up(r, before, alice)


# --------------------------------------------------------------------------
# class 1: roster app answers

def test_roster_names_and_groups_with_non_xml_chars_are_skipped(
        sync_server, restanza, client, app):  # noqa: F811
    srv = sync_server
    app.rosters = {"bob": {
        "carol@localhost": {"name": "a\x01b"},
        "dave@localhost": {"name": "D", "groups": ["ok", "g\ufffe"]},
        "erin@localhost": {"name": "E", "groups": {"x\x1fy": True}},
        "alice@localhost": {"name": "Alice", "groups": ["Team"]}}}
    r = roster_start(restanza, srv, app.url)
    alice = client(srv, "alice")
    before = r.disconnects()
    body = refresh(r, ["bob"]).json()
    assert (body["status"], body["updated"], body["errors"]) == (
        "ok", 1, 0), body
    roster = roster_of(client, srv, "bob")
    assert roster == {"alice@localhost": {
        "name": "Alice", "groups": ["Team"], "subscription": "both"}}, roster
    assert len(r.log_lines("roster entry skipped.*XML does not allow")) >= 3
    assert_stream_up(r, before, alice)
