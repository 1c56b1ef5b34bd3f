# SPDX-License-Identifier: MIT
"""The REST API (SPEC §4, mod_rest parity in component mode): auth, the four
body types, validation errors, message/presence 202, IQ long-poll with
timeout, GET shortcuts, echo, token `from` patterns, messages sent as a user
through the XEP-0356 message privilege, 503 while the server is away."""

import base64
import json
import time
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

import servers

TOKEN = "tok_full_0123456789abcdef"
TOKEN_BOT = "tok_bot_0123456789abcdef"
TOKEN_ALICE = "tok_alice_0123456789abcd"
TOKENS = "%s, %s bot@rest.localhost, %s alice@localhost" % (
    TOKEN, TOKEN_BOT, TOKEN_ALICE)
NS_CLIENT = "jabber:client"
NS_STREAMS = "http://etherx.jabber.org/streams"
NS_XMPP_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams"
XML = "application/xmpp+xml"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def bearer(token=TOKEN, **more):
    h = {"Authorization": "Bearer " + token}
    h.update(more)
    return h


def basic(server, secret=None, user=None):
    cred = "%s:%s" % (user or server.component_jid,
                      server.secret if secret is None else secret)
    return {"Authorization": "Basic " +
            base64.b64encode(cred.encode()).decode()}


def start(server, restanza, config=None, privileges=True):
    """A daemon with the test tokens, connected (with the privileges)."""
    cfg = {"rest": {"tokens": TOKENS}}
    for section, keys in (config or {}).items():
        cfg.setdefault(section, {}).update(keys)
    r = restanza(server, config=cfg)

    def ready(s):
        if s["xmpp"]["state"] != "connected":
            return False
        return not privileges or \
            s["privileges"].get(server.domain) == server.privileges
    r.wait_status(ready, timeout=15, what="connected with privileges")
    return r


def post_json(r, obj, path="/rest", headers=None, **kw):
    h = bearer(**{"Content-Type": JSON})
    h.update(headers or {})
    return r.post(path, json.dumps(obj), headers=h, **kw)


def post_xml(r, text, path="/rest", headers=None, **kw):
    h = bearer(**{"Content-Type": XML})
    h.update(headers or {})
    return r.post(path, text, headers=h, **kw)


def json_error(status, etype, condition, text):
    return {"type": "error", "code": status,
            "error": {"type": etype, "condition": condition, "text": text}}


def assert_json_error(resp, status, etype, condition, text=None):
    assert resp.status == status, resp
    assert resp.headers["Content-Type"].startswith(JSON), resp.headers
    body = resp.json()
    if text is None:
        text = body["error"]["text"]
    assert body == json_error(status, etype, condition, text), body


def assert_xml_error(resp, status, condition, text):
    assert resp.status == status, resp
    assert resp.headers["Content-Type"].startswith(XML), resp.headers
    el = ET.fromstring(resp.body)
    assert el.tag == "{%s}error" % NS_STREAMS
    kids = list(el)
    assert [k.tag for k in kids] == ["{%s}%s" % (NS_XMPP_STREAMS, condition),
                                     "{%s}text" % NS_XMPP_STREAMS], resp.text
    assert kids[1].text == text


def wait_body(c, body, timeout=10):
    return c.wait_message(lambda m: m["body"] == body, timeout=timeout)


def assert_no_message(c, seconds=1.0):
    try:
        m = c.wait_message(timeout=seconds)
    except TimeoutError:
        return
    raise AssertionError("unexpected message: %s" % m)


# --------------------------------------------------------------------------
# messages in every body type

def test_json_message_reaches_client(server, restanza, client):
    r = start(server, restanza)
    bob = client(server, "bob")
    resp = post_json(r, {"to": "bob@localhost", "type": "chat",
                         "body": "hello json"})
    assert resp.status == 202, resp
    assert resp.body == b""
    m = wait_body(bob, "hello json")
    assert str(m["from"]) == "rest.localhost"
    assert m["type"] == "chat"
    assert m["id"]


def test_xml_message_reaches_client_with_only_allowed_attributes(
        server, restanza, client):
    r = start(server, restanza)
    bob = client(server, "bob")
    resp = post_xml(r, "<message xmlns='jabber:client' to='bob@localhost' "
                       "type='normal' id='xml-1' foo='bar'>"
                       "<body>hello xml</body></message>")
    assert resp.status == 202, resp
    m = wait_body(bob, "hello xml")
    assert str(m["from"]) == "rest.localhost"
    assert m["type"] == "normal"
    assert m["id"] == "xml-1"
    assert m.xml.get("foo") is None


def test_form_message_reaches_client(server, restanza, client):
    r = start(server, restanza)
    bob = client(server, "bob")
    resp = r.post("/rest", "to=bob%40localhost&type=chat&body=hello+form%21",
                  headers=bearer(**{"Content-Type": FORM}))
    assert resp.status == 202, resp
    m = wait_body(bob, "hello form!")
    assert str(m["from"]) == "rest.localhost"
    assert m["type"] == "chat"


def test_text_message_with_path_and_basic_auth(server, restanza, client):
    r = start(server, restanza)
    bob = client(server, "bob")
    h = basic(server)
    h["Content-Type"] = "text/plain; charset=utf-8"
    resp = r.post("/rest/message/headline/bob@localhost",
                  "hello text ✓".encode(), headers=h)
    assert resp.status == 202, resp
    m = wait_body(bob, "hello text ✓")
    assert str(m["from"]) == "rest.localhost"
    assert m["type"] == "headline"


def test_json_path_supplies_kind_type_and_to(server, restanza, client):
    r = start(server, restanza)
    bob = client(server, "bob")
    resp = post_json(r, {"body": "from path"},
                     path="/rest/message/chat/bob@localhost")
    assert resp.status == 202, resp
    m = wait_body(bob, "from path")
    assert m["type"] == "chat"


def test_presence_is_accepted_with_202(server, restanza):
    r = start(server, restanza)
    resp = post_json(r, {"kind": "presence", "to": "bob@localhost",
                         "show": "away"})
    assert resp.status == 202, resp
    assert resp.body == b""


# --------------------------------------------------------------------------
# IQs and GET shortcuts

def test_get_ping_returns_pong_as_xml_and_json(server, restanza):
    r = start(server, restanza)
    resp = r.get("/rest/ping/localhost", headers=bearer(Accept=XML))
    assert resp.status == 200, resp
    assert resp.headers["Content-Type"] == XML
    el = ET.fromstring(resp.body)
    # libstrophe never writes the default stanza namespace on the top
    # element: the stanza comes without xmlns (mod_rest's "or none").
    assert el.tag == "iq"
    assert el.get("type") == "result"
    assert el.get("from") == "localhost"
    assert el.get("to") == "rest.localhost"
    assert "jabber:component:accept" not in resp.text

    resp = r.get("/rest/ping/localhost", headers=bearer(Accept=JSON))
    assert resp.status == 200, resp
    assert resp.headers["Content-Type"] == JSON
    body = resp.json()
    assert body["kind"] == "iq"
    assert body["type"] == "result"
    assert body["from"] == "localhost"
    assert body["to"] == "rest.localhost"
    assert body["id"]

    # No Accept: XML by default.
    resp = r.get("/rest/ping/localhost", headers=bearer())
    assert resp.status == 200 and resp.headers["Content-Type"] == XML


def test_get_version_disco_and_items(server, restanza):
    r = start(server, restanza)
    # The component answers XEP-0092 itself, through the server and back.
    resp = r.get("/rest/version/rest.localhost", headers=bearer(Accept=JSON))
    assert resp.status == 200, resp
    body = resp.json()
    assert body["type"] == "result" and body["from"] == "rest.localhost"
    assert body["version"]["name"] == "restanza"
    assert body["version"]["version"]

    # POST /rest/iq/{query}/{to}: the body is the payload of key {query}.
    resp = post_json(r, {}, path="/rest/iq/version/rest.localhost",
                     headers={"Accept": JSON})
    assert resp.status == 200, resp
    assert resp.json()["version"]["name"] == "restanza"
    resp = post_json(r, True, path="/rest/iq/ping/localhost",
                     headers={"Accept": JSON})
    assert resp.status == 200, resp
    assert resp.json()["type"] == "result"

    resp = r.get("/rest/disco/localhost", headers=bearer(Accept=JSON))
    assert resp.status == 200, resp
    body = resp.json()
    assert body["type"] == "result", body
    assert "urn:xmpp:ping" in body["disco"]["features"]
    assert {"category": "server", "type": "im"} in [
        {k: i[k] for k in ("category", "type")}
        for i in body["disco"]["identities"]]

    resp = r.get("/rest/items/localhost", headers=bearer(Accept=XML))
    assert resp.status == 200, resp
    el = ET.fromstring(resp.body)
    assert el.get("type") == "result"
    assert el.find("{http://jabber.org/protocol/disco#items}query") is not None

    # URL parameters become the payload: a disco#info node query.
    resp = r.get("/rest/disco/rest.localhost?node=urn%3Axmpp%3Adelegation"
                 "%3A2%3A%3Aurn%3Arestanza%3Atest%3A0",
                 headers=bearer(Accept=XML))
    assert resp.status == 200, resp
    q = ET.fromstring(resp.body).find(
        "{http://jabber.org/protocol/disco#info}query")
    assert q is not None and q.get("node") == \
        "urn:xmpp:delegation:2::urn:restanza:test:0"


def test_iq_error_reply_is_200(server, restanza):
    r = start(server, restanza)
    resp = post_xml(r, "<iq type='get' to='localhost'>"
                       "<query xmlns='urn:restanza:unknown'/></iq>",
                    headers={"Accept": JSON})
    assert resp.status == 200, resp
    body = resp.json()
    assert body["type"] == "error"
    assert body["error"]["condition"] in ("service-unavailable",
                                          "feature-not-implemented")


def test_iq_to_silent_client_times_out_with_504(server, restanza, client):
    r = start(server, restanza)
    bob = client(server, "bob")
    t0 = time.monotonic()
    resp = post_xml(r, "<iq type='get' to='%s'><query xmlns='urn:x:silent'/>"
                       "</iq>" % bob.jid,
                    headers={"Restanza-Timeout": "2", "Accept": JSON},
                    timeout=15)
    took = time.monotonic() - t0
    assert_json_error(resp, 504, "wait", "remote-server-timeout",
                      "IQ stanza timed out")
    # Not before the 2 s asked for; well before the default (120 s), with
    # room for a loaded machine.
    assert 1.9 <= took < 10.0, took
    iq = bob.iqs.get(timeout=2)
    assert iq["type"] == "get"
    assert str(iq["from"]) == "rest.localhost"
    # The Prosody header works too, and is capped by iq_max_timeout.
    t0 = time.monotonic()
    resp = post_xml(r, "<iq type='get' to='%s'><query xmlns='urn:x:silent'/>"
                       "</iq>" % bob.jid,
                    headers={"Prosody-Rest-Timeout": "1", "Accept": XML})
    assert_xml_error(resp, 504, "remote-server-timeout", "IQ stanza timed out")
    assert time.monotonic() - t0 < 10.0
    assert r.status()["xmpp"]["pending_iqs"] == 0


def test_iq_answered_by_client_is_returned(server, restanza, client):
    r = start(server, restanza)
    bob = client(server, "bob")
    import threading
    res = {}

    def call():
        res["r"] = post_json(r, {"kind": "iq", "type": "get", "to": bob.jid,
                                 "ping": True}, headers={"Accept": JSON})
    t = threading.Thread(target=call)
    t.start()
    iq = bob.iqs.get(timeout=5)
    bob.send_raw("<iq type='result' id='%s' to='%s'/>" % (iq["id"],
                                                          iq["from"]))
    t.join(10)
    resp = res["r"]
    assert resp.status == 200, resp
    assert resp.json()["type"] == "result"
    assert resp.json()["from"] == bob.jid


def test_iq_timeout_header_invalid_is_400(server, restanza):
    r = start(server, restanza)
    for bad in ("0", "-1", "abc", "1.5"):
        resp = r.get("/rest/ping/localhost",
                     headers=bearer(Accept=JSON, **{"Restanza-Timeout": bad}))
        assert_json_error(resp, 400, "modify", "bad-request")


def test_echo_returns_normalized_stanza_without_sending(server, restanza,
                                                        client):
    r = start(server, restanza)
    bob = client(server, "bob")
    resp = post_json(r, {"to": "bob@localhost", "body": "echo only"},
                     path="/rest/echo", headers={"Accept": JSON})
    assert resp.status == 200, resp
    body = resp.json()
    assert body["kind"] == "message"
    assert body["to"] == "bob@localhost"
    assert body["from"] == "rest.localhost"
    assert body["body"] == "echo only"
    assert body["id"]
    resp = post_xml(r, "<message to='bob@localhost' bogus='1'>"
                       "<body>echo xml</body></message>", path="/rest/echo")
    assert resp.status == 200, resp
    el = ET.fromstring(resp.body)
    assert el.tag == "message"
    assert el.get("from") == "rest.localhost" and el.get("id")
    assert el.get("bogus") is None
    assert el.find("body").text == "echo xml"
    # Form output: the flat keys.
    resp = post_json(r, {"to": "bob@localhost", "body": "a b"},
                     path="/rest/echo", headers={"Accept": FORM})
    assert resp.status == 200 and resp.headers["Content-Type"] == FORM
    form = urllib.parse.parse_qs(resp.text)
    assert form["body"] == ["a b"] and form["kind"] == ["message"]
    assert_no_message(bob, 1.0)


# --------------------------------------------------------------------------
# the error table

def test_error_table(server, restanza):
    r = start(server, restanza, config={"http": {"max_body": 1024}})
    msg = json.dumps({"to": "bob@localhost", "body": "x"})

    resp = r.post("/rest", msg, headers={"Content-Type": JSON})
    assert_json_error(resp, 401, "auth", "not-authorized",
                      "No credentials provided")
    assert resp.headers["WWW-Authenticate"] == \
        'Bearer realm="restanza", Basic realm="restanza"'
    resp = r.post("/rest", "<message to='bob@localhost'/>",
                  headers={"Content-Type": XML})
    assert_xml_error(resp, 401, "not-authorized", "No credentials provided")

    resp = r.post("/rest", msg, headers=bearer("wrong_token_0123456789",
                                               **{"Content-Type": JSON}))
    assert_json_error(resp, 403, "auth", "not-authorized",
                      "Credentials not accepted")
    h = basic(server, secret="wrong")
    h["Content-Type"] = JSON
    assert_json_error(r.post("/rest", msg, headers=h), 403, "auth",
                      "not-authorized", "Credentials not accepted")
    h = basic(server, user="other.localhost")
    h["Content-Type"] = JSON
    assert_json_error(r.post("/rest", msg, headers=h), 403, "auth",
                      "not-authorized", "Credentials not accepted")

    assert_json_error(post_json(r, {"to": "bob@localhost", "body": "x",
                                    "from": "x@elsewhere.example"}),
                      403, "auth", "not-authorized",
                      "Not authorized to send stanza with requested 'from'")
    assert_xml_error(post_xml(r, "<message from='localhost' "
                                 "to='bob@localhost'/>"),
                     403, "not-authorized",
                     "Not authorized to send stanza with requested 'from'")

    assert_json_error(r.post("/rest", "{\"to\":", headers=bearer(
        **{"Content-Type": JSON})), 400, "modify", "not-well-formed",
        "Failed to parse payload")
    assert_xml_error(post_xml(r, "<message to='bob@localhost'>"), 400,
                     "not-well-formed", "Failed to parse payload")
    assert_xml_error(post_xml(r, "<?xml version='1.0'?><message "
                                 "to='bob@localhost'/>"), 400,
                     "not-well-formed", "Failed to parse payload")
    assert_xml_error(post_xml(r, "<message to='bob@localhost'/><x/>"), 400,
                     "not-well-formed", "Failed to parse payload")

    resp = r.post("/rest", "<p>hi</p>", headers=bearer(
        **{"Content-Type": "text/html", "Accept": JSON}))
    assert_json_error(resp, 415, "cancel", "bad-format",
                      "Unsupported media type")
    resp = r.post("/rest", "x", headers=bearer(
        **{"Content-Type": "application/octet-stream", "Accept": JSON}))
    assert resp.status == 415, resp

    assert_xml_error(post_xml(r, "<message xmlns='jabber:component:accept' "
                                 "to='bob@localhost'/>"),
                     422, "invalid-namespace",
                     "'xmlns' attribute must be empty")
    assert_xml_error(post_xml(r, "<foo to='bob@localhost'/>"), 422,
                     "unsupported-stanza-type",
                     "must be 'message', 'presence' or 'iq'")
    assert_json_error(post_json(r, {"kind": "foo", "to": "bob@localhost"}),
                      422, "modify", "unsupported-stanza-type")
    assert_xml_error(post_xml(r, "<message><body>x</body></message>"), 422,
                     "improper-addressing", "Invalid destination JID")
    assert_json_error(post_json(r, {"to": "@bad@", "body": "x"}), 422,
                      "modify", "improper-addressing")
    assert_xml_error(post_xml(r, "<message to='bob@localhost' from='a@@b'/>"),
                     422, "invalid-from", "Invalid source JID")
    assert_xml_error(post_xml(r, "<iq type='result' to='localhost'>"
                                 "<ping xmlns='urn:xmpp:ping'/></iq>"),
                     422, "invalid-xml",
                     "'iq' stanza must be of type 'get' or 'set'")
    assert_xml_error(post_xml(r, "<iq type='get' to='localhost'/>"), 422,
                     "bad-format",
                     "'iq' stanza must have exactly one child tag")
    assert_xml_error(post_xml(r, "<iq type='get' to='localhost'><ping "
                                 "xmlns='urn:xmpp:ping'/><x xmlns='y'/></iq>"),
                     422, "bad-format",
                     "'iq' stanza must have exactly one child tag")
    assert_json_error(post_json(r, {"kind": "iq", "to": "localhost",
                                    "ping": True, "version": {}}),
                      422, "modify", "bad-format")

    resp = r.post("/rest/message/chat/bob@localhost", "x" * 2000,
                  headers=bearer(**{"Content-Type": "text/plain"}))
    assert resp.status == 413, resp

    resp = r.post("/rest", "hi", headers=bearer(
        **{"Content-Type": "text/plain", "Accept": JSON}))
    assert_json_error(resp, 422, "modify", "improper-addressing")

    resp = r.get("/rest/nosuch/localhost", headers=bearer(Accept=JSON))
    assert_json_error(resp, 404, "cancel", "item-not-found")
    # Still connected: none of this reached the server.
    assert r.status()["xmpp"]["state"] == "connected"


# --------------------------------------------------------------------------
# `from`

def test_token_pattern_limits_from(server, restanza, client):
    r = start(server, restanza)
    bob = client(server, "bob")
    resp = post_json(r, {"to": "bob@localhost", "body": "as bot/x",
                         "from": "bot@rest.localhost/x"},
                     headers=bearer(TOKEN_BOT))
    assert resp.status == 202, resp
    m = wait_body(bob, "as bot/x")
    assert str(m["from"]) == "bot@rest.localhost/x"

    resp = post_json(r, {"to": "bob@localhost", "body": "default from"},
                     headers=bearer(TOKEN_BOT))
    assert resp.status == 202, resp
    assert str(wait_body(bob, "default from")["from"]) == "bot@rest.localhost"

    resp = post_json(r, {"to": "bob@localhost", "body": "as other",
                         "from": "other@rest.localhost"},
                     headers=bearer(TOKEN_BOT, Accept=JSON))
    assert_json_error(resp, 403, "auth", "not-authorized",
                      "Not authorized to send stanza with requested 'from'")
    resp = post_json(r, {"to": "bob@localhost", "body": "as component",
                         "from": "rest.localhost"},
                     headers=bearer(TOKEN_BOT, Accept=JSON))
    assert resp.status == 403, resp

    # An unlimited token may use any JID of the component.
    resp = post_json(r, {"to": "bob@localhost", "body": "as other ok",
                         "from": "other@rest.localhost/r"})
    assert resp.status == 202, resp
    assert str(wait_body(bob, "as other ok")["from"]) == \
        "other@rest.localhost/r"


def test_message_as_user_through_privilege(server, restanza, client):
    r = start(server, restanza)
    bob = client(server, "bob")
    resp = post_json(r, {"to": "bob@localhost", "type": "chat",
                         "body": "hi from alice", "from": "alice@localhost"})
    assert resp.status == 202, resp
    m = wait_body(bob, "hi from alice")
    assert m["from"].bare == "alice@localhost"
    assert m["type"] == "chat"

    # A token limited to alice sends as alice by default, and only as her.
    resp = post_json(r, {"to": "bob@localhost", "body": "alice token"},
                     headers=bearer(TOKEN_ALICE))
    assert resp.status == 202, resp
    assert wait_body(bob, "alice token")["from"].bare == "alice@localhost"
    resp = post_json(r, {"to": "bob@localhost", "body": "x",
                         "from": "carol@localhost"},
                     headers=bearer(TOKEN_ALICE, Accept=JSON))
    assert resp.status == 403, resp

    # Only messages, only bare JIDs.
    resp = post_json(r, {"kind": "iq", "to": "localhost", "ping": True,
                         "from": "alice@localhost"}, headers={"Accept": JSON})
    assert_json_error(resp, 403, "auth", "forbidden",
                      "Only messages can be sent as a user (XEP-0356)")
    resp = post_json(r, {"to": "bob@localhost", "body": "x",
                         "from": "alice@localhost/res"},
                     headers={"Accept": JSON})
    assert resp.status == 403, resp


def test_message_as_user_without_privilege_is_403(server_name, make_server,
                                                  restanza):
    srv = make_server(server_name, privileges={"roster": "both"})
    r = start(srv, restanza)
    resp = post_json(r, {"to": "bob@localhost", "body": "x",
                         "from": "alice@localhost"}, headers={"Accept": JSON})
    assert_json_error(resp, 403, "auth", "forbidden",
                      "The server granted no message privilege (XEP-0356): "
                      "cannot send as a user")


# --------------------------------------------------------------------------
# availability

def test_503_with_retry_after_when_server_is_down(server, restanza):
    # Nothing listens on this port: the component never connects.
    r = restanza(server, config={"rest": {"tokens": TOKENS},
                                 "server": {"port": servers.free_port()}})
    resp = post_json(r, {"to": "bob@localhost", "body": "x"},
                     headers={"Accept": JSON})
    assert_json_error(resp, 503, "wait", "service-unavailable",
                      "Not connected to the XMPP server")
    assert resp.headers["Retry-After"] == "5"
    resp = r.get("/rest/ping/localhost", headers=bearer())
    assert_xml_error(resp, 503, "service-unavailable",
                     "Not connected to the XMPP server")
    assert resp.headers["Retry-After"] == "5"
    # Echo needs no server.
    resp = post_json(r, {"to": "bob@localhost", "body": "x"},
                     path="/rest/echo")
    assert resp.status == 200, resp


def test_parked_iq_fails_503_when_stream_drops(server, restanza, client):
    r = start(server, restanza)
    bob = client(server, "bob")
    import threading
    res = {}

    def call():
        res["r"] = post_xml(r, "<iq type='get' to='%s'><query "
                               "xmlns='urn:x:silent'/></iq>" % bob.jid,
                            headers={"Accept": JSON}, timeout=20)
    t = threading.Thread(target=call)
    t.start()
    bob.iqs.get(timeout=5)
    server.kill()
    t.join(15)
    resp = res["r"]
    assert resp.status == 503, resp
    assert resp.headers["Retry-After"] == "5"
    assert resp.json()["error"]["condition"] == "service-unavailable"
