# SPDX-License-Identifier: MIT
"""Boundaries (SPEC §13, issue 16 classes 6-8): restanza never loops stanzas
to itself and stops a ping-pong with an echoing peer; substituted URL values
never form dot segments; log values cannot forge fields and overload is
counted, not written line by line. Every test ends by checking that the
XMPP stream is still up."""

import base64
import http.client
import json
import queue
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

ROSTER_TOKEN = "loops-roster-token"
ECHO = b"<message><body>echo</body></message>"


class App:
    """A local web app: records (method, path, body) of every request and
    answers with respond(method, path, body) -> (status, content type,
    body)."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        self.respond = lambda *a: (202, "text/plain", b"")
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with app.lock:
                    app.requests.append((self.command, self.path, body))
                status, ctype, out = app.respond(self.command, self.path,
                                                 body)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except OSError:
                    pass

            do_GET = do_POST = do_OPTIONS = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def posts(self, needle=b""):
        """Message POSTs so far whose body contains needle."""
        with self.lock:
            return [r for r in self.requests if r[0] == "POST"
                    and r[2].lstrip().startswith(b"<message")
                    and needle in r[2]]

    def wait(self, pred, timeout=15, what="request"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [r for r in self.requests if pred(r)]
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError("no %s reached the web app; got %r" % (
            what, self.requests[-10:]))

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def app():
    a = App()
    yield a
    a.close()


def auth(server):
    cred = "%s:%s" % (server.component_jid, server.secret)
    return {"Authorization": "Basic " +
            base64.b64encode(cred.encode()).decode()}


def assert_stream_up(r, server, before):
    """The stream never dropped and a normal request still works."""
    assert r.disconnects() == before, r.diagnostics()
    resp = r.get("/rest/ping/" + server.domain, timeout=15,
                 headers=auth(r.server))
    assert resp.status == 200, resp
    assert r.status()["xmpp"]["state"] == "connected"


def post_json(r, obj):
    hdr = {"Content-Type": "application/json", "Accept": "application/json"}
    hdr.update(auth(r.server))
    return r.post("/rest", json.dumps(obj), headers=hdr)


def start(restanza, server, config):
    r = restanza(server, config=config)
    r.wait_connected()
    return r, r.disconnects()


def logfmt(line):
    """key -> value of one log line, read the way a logfmt reader does
    (values are bare up to a space, or "..." up to the next quote)."""
    fields = {}
    rest = line.split(" ", 1)[1]        # after the timestamp
    for m in re.finditer(r'\s*([^=\s]+)=("[^"]*"|[^\s"]*)(?=\s|$)', rest):
        fields[m.group(1)] = m.group(2).strip('"')
    consumed = "".join(m.group(0) for m in
                       re.finditer(r'\s*([^=\s]+)=("[^"]*"|[^\s"]*)(?=\s|$)',
                                   rest))
    assert consumed.strip() == rest.strip(), "unparseable line: %s" % line
    return fields


# --------------------------------------------------------------------------
# 6: loops

@pytest.mark.parametrize("target", ["domain", "bot", "BOT-upper"])
def test_rest_message_to_own_address_is_refused_and_never_reaches_webhook(
        server, restanza, client, app, target):
    app.respond = lambda m, p, b: (200, "application/xmpp+xml", ECHO)
    r, before = start(restanza, server, {"webhook": {"url": app.url("/h")}})
    to = {"domain": server.component_jid,
          "bot": "bot@" + server.component_jid,
          "BOT-upper": "Bot@" + server.component_jid.upper()}[target]
    resp = post_json(r, {"kind": "message", "type": "chat", "to": to,
                         "body": "loop?"})
    assert resp.status == 422, resp
    assert "restanza's own address" in resp.text
    # A marker from a user goes through and gets its echo: everything
    # before it has been delivered, and only the marker reached the hook.
    alice = client(server, "alice")
    alice.send_message("bot@" + server.component_jid, "marker")
    m = alice.wait_message(lambda m: m["body"] == "echo")
    assert m["from"].bare == "bot@" + server.component_jid
    assert len(app.posts()) == 1, app.posts()
    assert b"marker" in app.posts()[0][2]
    assert r.metric('restanza_loop_guard_drops_total{reason="to_self"}') == 0
    assert_stream_up(r, server, before)


def test_rest_iq_to_own_address_is_answered_once_and_never_reaches_webhook(
        server, restanza, app):
    """An IQ cannot ping-pong: one to the component itself is answered by
    its built-in handlers (or with service-unavailable), and neither the
    request nor the answer reaches the webhook."""
    app.respond = lambda m, p, b: (200, "application/xmpp+xml", ECHO)
    r, before = start(restanza, server, {"webhook": {"url": app.url("/h")}})
    resp = post_json(r, {"kind": "iq", "type": "get",
                         "to": server.component_jid.upper(), "ping": True})
    assert resp.status == 200, resp
    assert resp.json()["type"] == "result"
    resp = post_json(r, {"kind": "iq", "type": "get", "to":
                         "bot@" + server.component_jid,
                         "lastactivity": {}})
    assert resp.status == 200, resp
    assert resp.json()["type"] == "error", resp.json()
    assert resp.json()["error"]["condition"] == "service-unavailable"
    assert app.posts() == []
    assert r.metric('restanza_loop_guard_drops_total{reason="to_self"}') == 0
    assert_stream_up(r, server, before)


def test_stanzas_to_unnormalised_component_addresses_are_answered_normalised(
        server, restanza, client, app):
    """A client may write our address in any case: the webhook's answer and
    restanza's own IQ answers come from the normalised address (Prosody
    closes the stream on a from that differs in case: invalid-from)."""
    app.respond = lambda m, p, b: (200, "application/xmpp+xml", ECHO)
    r, before = start(restanza, server, {"webhook": {"url": app.url("/h")}})
    alice = client(server, "alice")
    upper = "BOT@" + server.component_jid.upper() + "/Res"
    alice.send_message(upper, "hello upper")
    m = alice.wait_message(lambda m: m["body"] == "echo")
    assert str(m["from"]) == "bot@%s/Res" % server.component_jid
    reply = alice.version(server.component_jid.upper())
    assert reply.type == "result" and reply.frm == server.component_jid
    reply = alice.iq("Bot@" + server.component_jid.upper(),
                     "<query xmlns='jabber:iq:last'/>")
    assert reply.frm == "bot@" + server.component_jid, reply.xml
    assert_stream_up(r, server, before)


def test_echoing_peer_ping_pong_is_stopped_by_the_reply_budget(
        server, restanza, client, app):
    app.respond = lambda m, p, b: (200, "application/xmpp+xml", ECHO)
    r, before = start(restanza, server, {"webhook": {"url": app.url("/h")}})
    bot = "bot@" + server.component_jid
    alice = client(server, "alice")
    # Alice is an echo bot too: she answers every message from restanza.
    sent = []

    def echo(msg):
        if msg["from"].bare == bot and msg["type"] != "error":
            sent.append(1)
            alice.xmpp.send_message(mto=msg["from"], mbody="re",
                                    mtype="chat")
    alice.loop.call_soon_threadsafe(
        lambda: alice.xmpp.add_event_handler("message", echo))
    t0 = time.monotonic()
    alice.send_message(bot, "start")
    r.wait_status(lambda s: r.metric(
        'restanza_loop_guard_drops_total{reason="peer_budget"}') >= 1,
        timeout=30, what="the guard to stop the ping-pong")
    stopped_at = len(app.posts())
    # A burst of 20 replies plus 5 a second: the first delivery, then one
    # per reply allowed while the chain ran.
    assert stopped_at <= 1 + 20 + 5 * (time.monotonic() - t0 + 1), stopped_at
    # A later marker from bob is delivered and answered; alice's chain
    # has not moved meanwhile.
    bob = client(server, "bob")
    bob.send_message(bot, "marker-bob")
    bob.wait_message(lambda m: m["body"] == "echo")
    assert len(app.posts(b"marker-bob")) == 1
    assert len(app.posts()) == stopped_at + 1, (stopped_at, len(app.posts()))
    r.wait_log(r'msg="reply over the peer\'s budget not sent')
    assert_stream_up(r, server, before)


# --------------------------------------------------------------------------
# 7: dot segments

def segments(path):
    return path.split("?", 1)[0].split("/")[1:]


def test_hostile_type_and_resource_stay_on_the_template_path(
        server, restanza, client, app):
    # One delivery at a time: the POSTs arrive in the order sent.
    r, before = start(restanza, server, {"webhook": {
        "url": app.url("/hook/{kind}/{type}/{from}/end?to={to}"),
        "concurrency": 1}})
    from conftest import XmppClient
    evil = XmppClient(server.jid("alice") + "/../../admin/..",
                      server.password, server.c2s_port).start()
    try:
        bot = "bot@" + server.component_jid
        # t1's type is not valid XMPP: a server may pass it or bounce it.
        evil.send_raw("<message to='%s' type='..'><body>t1</body></message>"
                      % bot)
        evil.send_raw("<message to='%s' type='chat'><body>t2</body>"
                      "</message>" % bot)
        app.wait(lambda q: b"t2" in q[2], what="t2")
    finally:
        evil.disconnect()
    posts = app.posts()
    print("paths:", [p for m, p, b in posts])
    assert posts
    for method, path, body in posts:
        segs = segments(path)
        assert len(segs) == 5, path
        assert segs[:2] == ["hook", "message"] and segs[4] == "end", path
        assert "." not in segs and ".." not in segs, path
        # The resource "../../admin/..", encoded inside its segment.
        assert segs[3].endswith("%2F%2E%2E%2F%2E%2E%2Fadmin%2F%2E%2E"), path
    assert_stream_up(r, server, before)


def test_roster_fetch_for_dot_users_stays_on_the_template_path(
        server, restanza, app):
    app.respond = lambda m, p, b: (200, "application/json", b"{}")
    r, before = start(restanza, server, {"roster": {
        "url": app.url("/contacts/%s/roster"), "token": ROSTER_TOKEN,
        "writer": "none", "timeout": 5}})
    users = ["..", ".", "...", "%2e%2e"]
    resp = r.post("/roster_admin/refresh", json.dumps(users),
                  headers={"Authorization": "Bearer " + ROSTER_TOKEN,
                           "Content-Type": "application/json"}, timeout=30)
    assert resp.status == 200, resp
    gets = sorted(p for m, p, b in app.requests if m == "GET")
    assert gets == sorted(["/contacts/%2E%2E/roster", "/contacts/%2E/roster",
                           "/contacts/%2E%2E%2E/roster",
                           "/contacts/%252e%252e/roster"]), gets
    assert_stream_up(r, server, before)


# --------------------------------------------------------------------------
# 8: logs

def test_hostile_log_values_are_one_field_each(server, restanza, client,
                                               app):
    forged = 'x@localhost" forged="yes'
    app.respond = lambda m, p, b: (200, "application/json",
                                   json.dumps({forged: {}}).encode())
    closed = App()
    dead_url = closed.url("/h")
    closed.close()                      # nothing listens there any more
    r, before = start(restanza, server, {
        "roster": {"url": app.url("/contacts/%s"), "token": ROSTER_TOKEN,
                   "writer": "none", "timeout": 5},
        "webhook": {"url": dead_url, "timeout": 5}})
    resp = r.post("/roster_admin/refresh", json.dumps(["alice"]),
                  headers={"Authorization": "Bearer " + ROSTER_TOKEN,
                           "Content-Type": "application/json"}, timeout=30)
    assert resp.status == 200, resp
    line = r.wait_log(r'msg="roster entry skipped"')[0]
    f = logfmt(line)
    assert set(f) == {"level", "msg", "user", "jid", "reason"}, line
    assert f["jid"] == 'x@localhost\\x22 forged=\\x22yes', line
    # A curl error text with spaces is one quoted value.
    alice = client(server, "alice")
    alice.send_message("bot@" + server.component_jid, "to a dead hook")
    line = r.wait_log(r'msg="webhook delivery failed"')[0]
    f = logfmt(line)
    assert set(f) == {"level", "msg", "host", "status", "kind", "reason"}
    assert " " in f["reason"], line
    assert_stream_up(r, server, before)


def test_a_flood_of_refused_requests_is_counted_not_logged_per_request(
        server, restanza):
    r, before = start(restanza, server, None)
    n = 600
    body = json.dumps({"kind": "message", "to": "not a jid", "body": "x"})
    conn = http.client.HTTPConnection("127.0.0.1", r.http_port, timeout=10)
    hdr = {"Content-Type": "application/json"}
    hdr.update(auth(server))
    t0 = time.monotonic()
    for _ in range(n):
        conn.request("POST", "/rest", body, hdr)
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 422
    elapsed = time.monotonic() - t0
    conn.close()
    # Every refusal is either a line or counted in a summary line; the
    # last window's summary comes when that window ends.
    deadline = time.monotonic() + 15
    while True:
        lines = r.log_lines(r'msg="rest request refused"')
        summaries = [ln for ln in lines if "suppressed=" in ln]
        suppressed = sum(int(re.search(r"suppressed=(\d+)", ln).group(1))
                         for ln in summaries)
        if len(lines) - len(summaries) + suppressed >= n:
            break
        assert time.monotonic() < deadline, (len(lines), suppressed)
        time.sleep(0.1)
    assert len(lines) - len(summaries) + suppressed == n
    assert summaries
    # Five lines a second at most, plus one summary per window.
    windows = int(elapsed) + 2
    assert len(lines) <= 6 * windows, (len(lines), elapsed)
    assert_stream_up(r, server, before)
