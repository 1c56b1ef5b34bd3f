# SPDX-License-Identifier: MIT
"""Webhook: stanzas to the component are POSTed to a web app whose answer
becomes the reply (SPEC §5, research §4.6), delegated IQs included (§3)."""

import hashlib
import hmac
import http.server
import json
import queue
import threading
import time

import pytest

import servers

NS_TEST = "urn:restanza:test:0"
SECRET = "webhook-test-secret"


def stanza_kind(body):
    """message, presence or iq of a POSTed body (XML or JSON)."""
    text = body.decode("utf-8", "replace").lstrip()
    if text.startswith("{"):
        return json.loads(text).get("kind")
    return text[1:].split(" ", 1)[0].split(">", 1)[0].split("/", 1)[0]


class Sink:
    """A local web app: records every request, answers with `respond`."""

    def __init__(self):
        self.requests = queue.Queue()
        # respond(method, path, headers, body) -> (status, headers, body,
        # delay seconds)
        self.respond = lambda *a: (202, {}, b"", 0)
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                req = (self.command, self.path, dict(self.headers), body)
                sink.requests.put(req)
                status, headers, out, delay = sink.respond(*req)
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except OSError:
                    pass

            do_POST = do_OPTIONS = _handle

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def url(self, path="/hook"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def next_post(self, kind="message", timeout=10):
        """Next POST of a stanza of this kind (the server also forwards
        presences to the component); others are discarded."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no POST reached the webhook")
            try:
                req = self.requests.get(timeout=left)
            except queue.Empty:
                continue
            if req[0] == "POST" and stanza_kind(req[3]) == kind:
                return req

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def sink():
    s = Sink()
    yield s
    s.close()


def start(restanza, server, sink, path="/hook", **webhook):
    conf = {"url": sink.url(path), "secret": SECRET}
    conf.update(webhook)
    r = restanza(server, config={"webhook": conf})
    r.wait_connected()
    return r


def signature_ok(headers, body):
    sig = headers.get("X-Restanza-Signature", "")
    want = "sha256=" + hmac.new(SECRET.encode(), body,
                                hashlib.sha256).hexdigest()
    return hmac.compare_digest(sig, want)


def header(headers, name):
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None


def bot(server):
    return "bot@" + server.component_jid


def test_message_reaches_webhook_as_signed_xml(server, restanza, client,
                                               sink):
    start(restanza, server, sink, path="/hook/{kind}/{type}?to={to}")
    alice = client(server, "alice")
    alice.send_message(bot(server), "hello xml")
    method, path, headers, body = sink.next_post()
    assert path == ("/hook/message/chat?to=bot%40"
                    + server.component_jid.replace(".", "%2E"))
    assert header(headers, "Content-Type") == "application/xmpp+xml"
    assert header(headers, "Accept") == (
        "application/xmpp+xml, application/json, "
        "application/x-www-form-urlencoded, text/plain")
    assert signature_ok(headers, body), (headers, body)
    text = body.decode()
    assert text.startswith("<message")
    assert "<body>hello xml</body>" in text
    assert "jabber:component:accept" not in text
    assert "jabber:client" not in text
    assert 'to="%s"' % bot(server) in text or "to='%s'" % bot(server) in text


def test_json_webhook_reply_reaches_client(server, restanza, client, sink):
    def respond(method, path, headers, body):
        msg = json.loads(body)
        return (200, {"Content-Type": "application/json"},
                json.dumps({"body": "echo: " + msg["body"]}).encode(), 0)
    sink.respond = respond
    start(restanza, server, sink, content_type="application/json")
    alice = client(server, "alice")
    alice.send_message(bot(server), "hello json")
    method, path, headers, body = sink.next_post()
    assert header(headers, "Content-Type") == "application/json"
    assert signature_ok(headers, body)
    assert json.loads(body)["body"] == "hello json"
    m = alice.wait_message(lambda m: m["body"].startswith("echo"))
    assert m["body"] == "echo: hello json"
    assert str(m["from"]) == bot(server)


def test_xml_webhook_reply_reaches_client(server, restanza, client, sink):
    sink.respond = lambda *a: (
        200, {"Content-Type": "application/xmpp+xml"},
        b"<message type='chat'><body>pong</body></message>", 0)
    start(restanza, server, sink)
    alice = client(server, "alice")
    alice.send_message(bot(server), "ping")
    m = alice.wait_message(lambda m: m["body"] == "pong")
    assert str(m["from"]) == bot(server)
    assert m["type"] == "chat"


@pytest.mark.parametrize("status,etype,cond", [
    (404, "cancel", "item-not-found"),
    (403, "auth", "forbidden"),
    (500, "wait", "internal-server-error"),
    (503, "cancel", "service-unavailable"),
])
def test_http_error_status_becomes_iq_error(server, restanza, client, sink,
                                            status, etype, cond):
    sink.respond = lambda *a: (status, {"Content-Type": "text/plain"},
                               b"nope", 0)
    start(restanza, server, sink)
    alice = client(server, "alice")
    r = alice.iq(bot(server), "<query xmlns='%s'/>" % NS_TEST, "get")
    assert r.type == "error"
    assert (r.error_type, r.error_condition) == (etype, cond)
    assert r.frm == bot(server)


def errors_too(c):
    """slixmpp reports error messages as `message_error`, not `message`:
    route them to the client's message queue as well."""
    done = threading.Event()

    def add():
        c.xmpp.add_event_handler("message_error", c.messages.put)
        done.set()
    c.loop.call_soon_threadsafe(add)
    assert done.wait(5)
    return c


def wait_error_message(c, timeout=10):
    return c.wait_message(lambda m: m["type"] == "error", timeout)


def test_http_error_status_becomes_message_error(server, restanza, client,
                                                 sink):
    sink.respond = lambda *a: (404, {}, b"", 0)
    start(restanza, server, sink)
    alice = errors_too(client(server, "alice"))
    alice.send_message(bot(server), "lost")
    m = wait_error_message(alice)
    assert m["error"]["type"] == "cancel"
    assert m["error"]["condition"] == "item-not-found"
    assert m["error"]["text"] == "404 Not Found"
    assert str(m["from"]) == bot(server)


def test_connection_refused_is_recipient_unavailable(server, restanza,
                                                     client):
    port = servers.free_port()
    r = restanza(server, config={"webhook": {
        "url": "http://127.0.0.1:%d/hook" % port}})
    r.wait_connected()
    alice = errors_too(client(server, "alice"))
    reply = alice.iq(bot(server), "<query xmlns='%s'/>" % NS_TEST, "get")
    assert (reply.error_type, reply.error_condition) == (
        "wait", "recipient-unavailable")
    alice.send_message(bot(server), "anyone?")
    m = wait_error_message(alice)
    assert m["error"]["condition"] == "recipient-unavailable"
    assert r.log_lines("webhook delivery failed.*kind=iq")


def test_timeout_is_remote_server_timeout(server, restanza, client, sink):
    sink.respond = lambda *a: (200, {}, b"", 3)
    start(restanza, server, sink, timeout=1)
    alice = errors_too(client(server, "alice"))
    t0 = time.monotonic()
    reply = alice.iq(bot(server), "<query xmlns='%s'/>" % NS_TEST, "get")
    assert (reply.error_type, reply.error_condition) == (
        "wait", "remote-server-timeout")
    assert time.monotonic() - t0 < 3
    alice.send_message(bot(server), "slow")
    m = wait_error_message(alice)
    assert m["error"]["condition"] == "remote-server-timeout"


def test_202_on_message_sends_nothing_back(server, restanza, client, sink):
    r = start(restanza, server, sink)
    alice = client(server, "alice")
    alice.send_message(bot(server), "fire and forget")
    sink.next_post()
    with pytest.raises(TimeoutError):
        alice.wait_message(lambda m: str(m["from"]).startswith("bot@"), 1.5)
    s = r.status()
    assert s["webhook"] == {"queued": 0, "in_flight": 0}


def test_empty_2xx_on_iq_is_empty_result(server, restanza, client, sink):
    sink.respond = lambda *a: (200, {}, b"", 0)
    start(restanza, server, sink)
    alice = client(server, "alice")
    reply = alice.iq(bot(server), "<query xmlns='%s'/>" % NS_TEST, "get")
    assert reply.type == "result"
    assert reply.payload is None
    assert reply.frm == bot(server)


def test_iq_reply_body_is_forced_to_result_with_original_id(
        server, restanza, client, sink):
    sink.respond = lambda *a: (
        200, {"Content-Type": "application/xmpp+xml"},
        ("<iq type='set' id='other'><query xmlns='%s'><x>1</x></query></iq>"
         % NS_TEST).encode(), 0)
    start(restanza, server, sink)
    alice = client(server, "alice")
    reply = alice.iq(bot(server), "<query xmlns='%s'/>" % NS_TEST, "get")
    assert reply.type == "result"
    assert reply.payload is not None and reply.payload.tag == (
        "{%s}query" % NS_TEST)


def test_delegated_iq_goes_through_the_webhook(server, restanza, client,
                                               sink):
    def respond(method, path, headers, body):
        text = body.decode()
        if NS_TEST not in text:
            return 202, {}, b"", 0
        return (200, {"Content-Type": "application/xmpp+xml"},
                ("<iq type='result'><query xmlns='%s'><item>from-web"
                 "</item></query></iq>" % NS_TEST).encode(), 0)
    sink.respond = respond
    r = start(restanza, server, sink)
    r.wait_status(lambda s: NS_TEST in s["delegations"].get(
        server.domain, []), what="test namespace delegated")
    alice = client(server, "alice")
    target = server.jid("alice")
    reply = alice.iq(target, "<query xmlns='%s'/>" % NS_TEST, "get")
    assert reply.type == "result", reply
    item = reply.payload.find("{%s}item" % NS_TEST)
    assert item is not None and item.text == "from-web"
    # The web app saw the inner IQ, from the user.
    while True:
        method, path, headers, body = sink.next_post("iq")
        if NS_TEST.encode() in body:
            break
    assert body.startswith(b"<iq")
    assert alice.jid.encode() in body
    assert signature_ok(headers, body)


def test_delegated_iq_error_status_is_inner_error(server, restanza, client,
                                                  sink):
    sink.respond = lambda *a: (403, {}, b"", 0)
    r = start(restanza, server, sink)
    r.wait_status(lambda s: NS_TEST in s["delegations"].get(
        server.domain, []), what="test namespace delegated")
    alice = client(server, "alice")
    reply = alice.iq(server.jid("alice"), "<query xmlns='%s'/>" % NS_TEST,
                     "get")
    assert (reply.type, reply.error_type, reply.error_condition) == (
        "error", "auth", "forbidden")


def test_full_queue_answers_resource_constraint(server, restanza, client,
                                                sink):
    sink.respond = lambda *a: (202, {}, b"", 2)
    r = start(restanza, server, sink, concurrency=1, queue_max=1)
    alice = errors_too(client(server, "alice"))
    for i in range(3):
        alice.send_message(bot(server), "m%d" % i)
    m = wait_error_message(alice)
    assert m["error"]["type"] == "wait"
    assert m["error"]["condition"] == "resource-constraint"
    s = r.status()
    assert s["webhook"]["in_flight"] == 1
    assert s["webhook"]["queued"] == 1
    r.wait_status(lambda s: s["webhook"] == {"queued": 0, "in_flight": 0},
                  timeout=10, what="queue drained")
    assert r.log_lines("webhook delivery failed.*queue full")


def test_options_probe_negotiates_content_type(server, restanza, client,
                                               sink):
    """As mod_rest: the startup OPTIONS probe's Accept header picks the
    content type (here JSON, although the configured default is XML)."""
    sink.respond = lambda *a: (200, {"Accept": "application/json"}, b"", 0)
    r = restanza(server, config={"webhook": {
        "url": sink.url("/hook/{kind}/{type}/{to}")}})
    # Presences of users still online from earlier tests may be POSTed
    # too; the probe is the first OPTIONS.
    deadline = time.monotonic() + 10
    req = sink.requests.get(timeout=10)
    while req[0] != "OPTIONS" and time.monotonic() < deadline:
        req = sink.requests.get(timeout=10)
    assert req[0] == "OPTIONS"
    assert req[1] == ("/hook/meta/info/"
                      + server.component_jid.replace(".", "%2E"))
    r.wait_log("webhook connected.*content_type=application/json")
    sink.respond = lambda *a: (202, {}, b"", 0)
    # The probe may finish before the component stream is up; a message
    # sent before that would bounce at the server.
    r.wait_connected()
    alice = client(server, "alice")
    alice.send_message(bot(server), "negotiated")
    method, path, headers, body = sink.next_post()
    assert header(headers, "Content-Type") == "application/json"
    assert json.loads(body)["body"] == "negotiated"


def test_no_webhook_iq_is_service_unavailable(server, restanza, client):
    r = restanza(server)
    r.wait_connected()
    alice = client(server, "alice")
    reply = alice.iq(bot(server), "<query xmlns='%s'/>" % NS_TEST, "get")
    assert (reply.error_type, reply.error_condition) == (
        "cancel", "service-unavailable")


@pytest.mark.servers("prosody")
def test_webhook_is_clean_under_valgrind(server, restanza, client, sink):
    def respond(method, path, headers, body):
        if b"fail" in body:
            return 500, {}, b"", 0
        return (200, {"Content-Type": "application/json"},
                json.dumps({"body": "ok"}).encode(), 0)
    sink.respond = respond
    r = restanza(server, valgrind=True, config={"webhook": {
        "url": sink.url(), "secret": SECRET,
        "content_type": "application/json"}})
    r.wait_connected(timeout=60)
    alice = errors_too(client(server, "alice"))
    alice.send_message(bot(server), "hello")
    alice.wait_message(lambda m: m["body"] == "ok", 20)
    alice.send_message(bot(server), "fail")
    assert wait_error_message(alice, 20)["error"]["condition"] == (
        "internal-server-error")
    reply = alice.iq(bot(server), "<query xmlns='%s'/>" % NS_TEST, "get",
                     timeout=20)
    assert reply.type == "result"
    assert r.stop(timeout=30) == 0


@pytest.mark.parametrize("bot_name,ctype", [
    ("echo_bot_json.py", "application/json"),
    ("echo_bot_xml.py", "application/xmpp+xml"),
])
def test_example_echo_bots_answer(server, restanza, client, bot_name, ctype):
    import os
    import subprocess
    import sys
    port = servers.free_port()
    path = os.path.join(os.path.dirname(__file__), "..", "..", "contrib",
                        "examples", bot_name)
    proc = subprocess.Popen([sys.executable, path, str(port)],
                            env=dict(os.environ, WEBHOOK_SECRET=SECRET))
    try:
        deadline = time.monotonic() + 10
        while not servers.port_accepts(port):
            assert time.monotonic() < deadline, "bot did not start"
            time.sleep(0.05)
        r = restanza(server, config={"webhook": {
            "url": "http://127.0.0.1:%d/" % port, "secret": SECRET,
            "content_type": ctype}})
        r.wait_connected()
        alice = client(server, "alice")
        alice.send_message(bot(server), "echo me")
        m = alice.wait_message(lambda m: m["body"] == "echo me")
        assert str(m["from"]) == bot(server)
    finally:
        proc.terminate()
        proc.wait(5)
