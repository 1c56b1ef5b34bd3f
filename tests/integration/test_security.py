# SPDX-License-Identifier: MIT
"""Security (issue 6): secrets never reach the log, even at debug level; XML
bodies with a DOCTYPE or entities are refused; JIDs are validated before they
reach a stanza or URL."""

import base64
import json
import time

from test_webhook import Sink, errors_too

TOKEN = "tok_SECRET_tokenvalue_4f9a2c"
ADMIN = "adm_SECRET_admintoken_77be1"
HOOK_SECRET = "hook_SECRET_hmac_key_d41d8"
JSON = "application/json"
XML = "application/xmpp+xml"


def test_debug_log_never_contains_secrets(server, restanza, client):
    sink = Sink()
    try:
        r = restanza(server, config={
            "rest": {"tokens": TOKEN},
            "http": {"admin_token": ADMIN},
            "webhook": {"url": sink.url(), "secret": HOOK_SECRET},
            "log": {"level": "debug"}})
        r.wait_log('msg="xmpp connected"')   # /status needs ADMIN now
        alice = errors_too(client(server, "alice"))
        auth = {"Authorization": "Bearer " + TOKEN}
        resp = r.post("/rest", json.dumps(
            {"kind": "message", "to": alice.jid, "body": "hello"}),
            headers=dict(auth, **{"Content-Type": JSON}))
        assert resp.status == 202, resp
        alice.wait_message(lambda m: m["body"] == "hello")
        resp = r.get("/rest/ping/" + server.domain, headers=auth)
        assert resp.status == 200, resp
        # Wrong credentials are logged as failures, not echoed.
        bad = r.get("/rest/ping/" + server.domain,
                    headers={"Authorization": "Bearer " + TOKEN[:-1] + "X"})
        assert bad.status in (401, 403), bad
        basic = base64.b64encode(("%s:%s" % (
            server.component_jid, server.secret)).encode()).decode()
        resp = r.get("/rest/ping/" + server.domain,
                     headers={"Authorization": "Basic " + basic})
        assert resp.status == 200, resp
        assert r.get("/metrics", headers={
            "Authorization": "Bearer " + ADMIN}).status == 200
        alice.send_message("bot@" + server.component_jid, "to the hook")
        req = sink.next_post()
        assert "X-Restanza-Signature" in req[2]
        r.wait_log(r'msg="webhook delivered"')  # its answer is logged too
    finally:
        sink.close()
    assert r.stop() == 0
    log = r.log()
    assert "level=debug" in log          # it really was verbose
    assert "SENT: <handshake" in log     # ... down to the wire
    for name, secret in (("component secret", server.secret),
                         ("REST token", TOKEN), ("admin token", ADMIN),
                         ("webhook secret", HOOK_SECRET),
                         ("Basic credentials", basic)):
        assert secret not in log, "%s appears in the debug log" % name
    # Nor a tell-tale fragment of them (a prefix long enough to matter).
    for secret in (TOKEN, ADMIN, HOOK_SECRET):
        assert secret[:12] not in log


def test_xml_entities_and_doctype_are_refused(server, restanza):
    r = restanza(server, config={"rest": {"tokens": TOKEN}})
    h = {"Authorization": "Bearer " + TOKEN, "Content-Type": XML}
    bodies = {
        "internal entity": "<!DOCTYPE m [<!ENTITY x 'boom'>]>"
                           "<message to='bob@localhost'><body>&x;</body>"
                           "</message>",
        "billion laughs": "<!DOCTYPE m [<!ENTITY a 'aaaaaaaaaa'>"
                          + "".join("<!ENTITY %s '%s'>" % (
                              chr(98 + i), ("&%s;" % chr(97 + i)) * 10)
                              for i in range(8))
                          + "]><message to='bob@localhost'><body>&i;"
                            "</body></message>",
        "external entity": "<!DOCTYPE m [<!ENTITY x SYSTEM "
                           "'file:///etc/passwd'>]><message "
                           "to='bob@localhost'><body>&x;</body></message>",
        "undeclared entity": "<message to='bob@localhost'><body>&x;</body>"
                             "</message>",
        "processing instruction": "<?xml-stylesheet href='x'?><message "
                                  "to='bob@localhost'/>",
    }
    for name, body in bodies.items():
        t0 = time.monotonic()
        resp = r.post("/rest/echo", body, headers=h)
        assert resp.status == 400, (name, resp)
        assert b"passwd" not in resp.body and b"root:" not in resp.body
        # No expansion: a billion laughs would take far longer than this
        # (the margin is for a loaded machine, not for the parser).
        assert time.monotonic() - t0 < 5.0, name
    # The predefined entities still work.
    resp = r.post("/rest/echo", "<message to='bob@localhost'><body>a &amp; "
                  "&lt;b&gt;</body></message>", headers=h)
    assert resp.status == 200, resp
    assert r.alive()


def test_invalid_jids_never_reach_a_stanza(server, restanza):
    r = restanza(server, config={"rest": {"tokens": TOKEN}})
    h = {"Authorization": "Bearer " + TOKEN, "Content-Type": JSON}
    for to in ("a b@localhost", "@localhost",
               "bob@local host", "bob@localhost\u0000x", "x" * 1100 + "@l",
               "bob@localhost'/><evil/>"):
        resp = r.post("/rest/echo", json.dumps(
            {"kind": "message", "to": to, "body": "x"}), headers=h)
        assert resp.status in (400, 422), (to, resp)
    # Path segments are decoded, then validated like body fields.
    resp = r.post("/rest/message/chat/bob%40local%20host", "hi",
                  headers={"Authorization": "Bearer " + TOKEN,
                           "Content-Type": "text/plain"})
    assert resp.status in (400, 422), resp
