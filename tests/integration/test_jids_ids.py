# SPDX-License-Identifier: MIT
"""Issue 16 classes 4 and 5 (SPEC §13): JIDs are normalised as the servers do
(nodeprep, nameprep with the trailing dot dropped, resourceprep) before
sending, authorising and matching replies; restanza owns the IQ id space, so
a caller's ids can neither collide with each other nor with restanza's own
IQs. Every test ends with the XMPP stream still up."""

import json
import re
import threading
import xml.etree.ElementTree as ET

from test_rest import (JSON, TOKEN, TOKEN_BOT, XML, assert_json_error, bearer,
                       post_json, post_xml, start, wait_body)

TOKEN_UPPER = "tok_upper_0123456789abcd"
NS_ROSTER = "jabber:iq:roster"


def assert_stream_up(r, before):
    """No disconnect since `before` and a plain request still works."""
    resp = r.get("/rest/ping/localhost",
                 headers=bearer(Accept=JSON, **{"Restanza-Timeout": "10"}))
    assert resp.status == 200, resp
    assert resp.json()["type"] == "result", resp.json()
    assert r.disconnects() == before
    assert r.status()["xmpp"]["state"] == "connected"


def in_thread(fn, *args, **kw):
    """Run fn in a thread; returns (thread, result dict with key "r")."""
    res = {}

    def run():
        res["r"] = fn(*args, **kw)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, res


def answer(c, iq, payload=""):
    c.send_raw("<iq type='result' id='%s' to='%s'>%s</iq>" % (
        iq["id"], iq["from"], payload))


# --------------------------------------------------------------------------
# class 4: normalised JIDs

def test_get_ping_to_unnormalised_domain_is_answered(server, restanza):
    r = start(server, restanza)
    before = r.disconnects()
    for to in ("LOCALHOST", "localhost.", "LocalHost."):
        resp = r.get("/rest/ping/" + to,
                     headers=bearer(Accept=JSON, **{"Restanza-Timeout": "5"}))
        assert resp.status == 200, (to, resp)
        body = resp.json()
        assert body["type"] == "result", body
        assert body["from"] == "localhost", body
    assert_stream_up(r, before)


def test_iq_to_upper_case_user_jid_is_answered(server, restanza, client):
    r = start(server, restanza)
    before = r.disconnects()
    bob = client(server, "bob")
    local, rest = bob.jid.split("@", 1)
    domain, resource = rest.split("/", 1)
    to = "%s@%s./%s" % (local.upper(), domain.upper(), resource)
    t, res = in_thread(post_json, r, {"kind": "iq", "type": "get", "to": to,
                                      "id": "Upper-1", "ping": True},
                       headers={"Accept": JSON, "Restanza-Timeout": "10"},
                       timeout=20)
    iq = bob.iqs.get(timeout=5)
    assert str(iq["from"]) == "rest.localhost"
    assert str(iq["to"]) == bob.jid           # sent normalised
    answer(bob, iq)
    t.join(15)
    resp = res["r"]
    assert resp.status == 200, resp
    body = resp.json()
    assert body["type"] == "result", body
    assert body["from"] == bob.jid
    assert body["id"] == "Upper-1"
    assert_stream_up(r, before)


def test_from_upper_case_component_domain_goes_out_normalised(
        server, restanza, client):
    r = start(server, restanza)
    before = r.disconnects()
    bob = client(server, "bob")
    resp = post_json(r, {"to": "BOB@LOCALHOST", "body": "from upper",
                         "from": "bot@REST.LOCALHOST"})
    assert resp.status == 202, resp
    m = wait_body(bob, "from upper")
    assert str(m["from"]) == "bot@rest.localhost"
    # Echo shows what would be sent.
    resp = post_json(r, {"to": "Bob@LocalHost./Res", "body": "x",
                         "from": "Bot@Rest.LocalHost./X"},
                     path="/rest/echo", headers={"Accept": JSON})
    assert resp.status == 200, resp
    assert resp.json()["to"] == "bob@localhost/Res"
    assert resp.json()["from"] == "bot@rest.localhost/X"
    assert_stream_up(r, before)


def test_privileged_message_from_upper_case_user_is_delivered(
        server, restanza, client):
    r = start(server, restanza)
    before = r.disconnects()
    bob = client(server, "bob")
    resp = post_json(r, {"to": "bob@localhost", "type": "chat",
                         "body": "upper alice", "from": "ALICE@LOCALHOST"})
    assert resp.status == 202, resp
    m = wait_body(bob, "upper alice")
    assert str(m["from"]) == "alice@localhost"
    assert_stream_up(r, before)


def test_token_pattern_cannot_be_bypassed_by_case(server, restanza, client):
    # The configured pattern is normalised too.
    r = start(server, restanza, config={"rest": {
        "tokens": "%s, %s bot@rest.localhost, %s ALICE@LOCALHOST." % (
            TOKEN, TOKEN_BOT, TOKEN_UPPER)}})
    before = r.disconnects()
    bob = client(server, "bob")
    resp = post_json(r, {"to": "bob@localhost", "body": "bot upper",
                         "from": "BOT@REST.LOCALHOST/x"},
                     headers=bearer(TOKEN_BOT))
    assert resp.status == 202, resp
    assert str(wait_body(bob, "bot upper")["from"]) == "bot@rest.localhost/x"
    for other in ("OTHER@REST.LOCALHOST", "BOT2@rest.localhost",
                  "REST.LOCALHOST", "alice@LOCALHOST"):
        resp = post_json(r, {"to": "bob@localhost", "body": "no",
                             "from": other},
                         headers=bearer(TOKEN_BOT, Accept=JSON))
        assert_json_error(resp, 403, "auth", "not-authorized",
                          "Not authorized to send stanza with requested "
                          "'from'")
    # The default `from` of a token limited to a user is the user, sent
    # normalised through the privilege; another case of her JID is her.
    resp = post_json(r, {"to": "bob@localhost", "body": "upper token"},
                     headers=bearer(TOKEN_UPPER))
    assert resp.status == 202, resp
    assert str(wait_body(bob, "upper token")["from"]) == "alice@localhost"
    resp = post_json(r, {"to": "bob@localhost", "body": "alice again",
                         "from": "Alice@localhost"},
                     headers=bearer(TOKEN_UPPER))
    assert resp.status == 202, resp
    assert str(wait_body(bob, "alice again")["from"]) == "alice@localhost"
    resp = post_json(r, {"to": "bob@localhost", "body": "no",
                         "from": "CAROL@LOCALHOST"},
                     headers=bearer(TOKEN_UPPER, Accept=JSON))
    assert resp.status == 403, resp
    assert_stream_up(r, before)


# --------------------------------------------------------------------------
# class 5: restanza's id space

def test_concurrent_iqs_with_the_same_caller_id_are_both_answered(
        server, restanza, client):
    r = start(server, restanza)
    before = r.disconnects()
    bob = client(server, "bob")
    calls = []
    for ns in ("urn:x:one", "urn:x:two"):
        calls.append(in_thread(
            post_xml, r, "<iq type='get' id='dup' to='%s'><query xmlns='%s'/>"
                         "</iq>" % (bob.jid, ns),
            headers={"Accept": XML, "Restanza-Timeout": "10"}, timeout=20))
        # Both are parked at once: the second is sent while the first waits.
        iq = bob.iqs.get(timeout=5)
        calls[-1] = calls[-1] + (iq,)
    wire = [c[2]["id"] for c in calls]
    assert wire[0] != wire[1] and "dup" not in wire, wire
    # Answer in reverse order, each with its own payload.
    for t, res, iq in reversed(calls):
        ns = iq.xml[0].tag.split("}")[0][1:]
        answer(bob, iq, "<query xmlns='%s'><n>%s</n></query>" % (ns, ns))
    for (t, res, iq), ns in zip(calls, ("urn:x:one", "urn:x:two")):
        t.join(15)
        resp = res["r"]
        assert resp.status == 200, resp
        el = ET.fromstring(resp.body)
        assert el.get("id") == "dup", resp.text
        assert el.get("type") == "result", resp.text
        assert [c.tag for c in el] == ["{%s}query" % ns], resp.text
    assert r.status()["xmpp"]["pending_iqs"] == 0
    assert_stream_up(r, before)


def roster_app():
    """A roster web app that answers every user with an empty roster."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            body = b"{}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def test_caller_ids_cannot_take_restanza_own_iq_ids(server_name, make_server,
                                                    restanza, client):
    # No roster delegation: ejabberd would forward our own roster IQs back.
    server = make_server(server_name, delegate=(),
                         privileges={"roster": "both"})
    app = roster_app()
    try:
        r = start(server, restanza, config={"roster": {
            "url": "http://127.0.0.1:%d/contacts/%%s" % app.server_address[1],
            "token": "roster-token-0123456789", "writer": "privilege",
            "timeout": 5}})
        before = r.disconnects()
        bob = client(server, "bob")
        # The ids restanza makes are visible on answers to id-less IQs...
        resp = r.get("/rest/ping/localhost", headers=bearer(Accept=JSON))
        m = re.match(r"^(r[0-9a-f]{8})([0-9a-f]+)$", resp.json()["id"])
        assert m, resp.json()
        prefix, counter = m.group(1), int(m.group(2), 16)
        # ... so a caller can park IQs under the next ones.
        taken = ["%s%x" % (prefix, counter + k) for k in range(1, 21)]
        calls = []
        for cid in taken:
            calls.append(in_thread(
                post_xml, r, "<iq type='get' id='%s' to='%s'><query "
                             "xmlns='urn:x:silent'/></iq>" % (cid, bob.jid),
                headers={"Accept": JSON, "Restanza-Timeout": "30"},
                timeout=40))
        parked = [bob.iqs.get(timeout=10) for _ in taken]
        # Each parked IQ went out under a wire id of its own.
        assert len(set(iq["id"] for iq in parked)) == len(taken)
        # A caller cannot answer for anyone either: no IQ result via REST.
        resp = post_xml(r, "<iq type='result' id='%s' to='localhost'/>" %
                        taken[0], headers={"Accept": JSON})
        assert resp.status == 422, resp
        # restanza's own IQs (the privileged roster get) still go out.
        resp = r.post("/roster_admin/refresh", json.dumps(["alice"]),
                      headers={"Content-Type": "application/json",
                               "Authorization":
                                   "Bearer roster-token-0123456789"},
                      timeout=30)
        assert resp.status == 200, resp
        assert resp.json()["errors"] == 0, resp.json()
        # Every parked caller gets its own answer under its own id.
        for iq in parked:
            answer(bob, iq)
        for (t, res), cid in zip(calls, taken):
            t.join(15)
            assert res["r"].status == 200, res["r"]
            assert res["r"].json()["id"] == cid
        assert r.status()["xmpp"]["pending_iqs"] == 0
        assert_stream_up(r, before)
    finally:
        app.shutdown()
        app.server_close()
