"""SPEC §9: the durable event log. At-least-once webhook deliveries that
survive a SIGKILL, ordered per sender, dead letters and their redelivery,
store.path = none as before, and clear start-up errors for a bad store."""
import hashlib
import hmac
import http.client
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from test_webhook import Sink, SECRET, bot, errors_too, header

TOKEN = "events-token-0123456789abcdef"
AUTH = {"Authorization": "Bearer " + TOKEN}


@pytest.fixture
def sink():
    s = Sink()
    yield s
    s.close()


class Switch:
    """A webhook that answers 503 while down, 202 otherwise, and keeps every
    message POST as (event id, attempt, body text, status answered)."""

    def __init__(self, sink):
        self.down = True
        self.lock = threading.Lock()
        self.posts = []
        sink.respond = self.respond

    def respond(self, method, path, headers, body):
        if method != "POST" or not body.startswith(b"<message"):
            return (202, {}, b"", 0)
        status = 503 if self.down else 202
        with self.lock:
            self.posts.append((header(headers, "X-Restanza-Event"),
                               header(headers, "X-Restanza-Attempt"),
                               body.decode(), status, headers, body))
        return (status, {}, b"", 0)

    def delivered(self):
        with self.lock:
            return [p for p in self.posts if p[3] == 202]


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def durable(restanza, server, sink, tmp_path, **webhook):
    conf = {"url": sink.url(), "secret": SECRET}
    conf.update(webhook)
    r = restanza(server, config={
        "webhook": conf,
        "store": {"path": str(tmp_path / "events.db")},
        "events": {"tokens": TOKEN}})
    r.wait_connected()
    return r


def logged(r):
    """Event ids in the log (GET /events?after=0, every page)."""
    ids, after = [], 0
    while True:
        resp = r.get("/events?after=%d&limit=1000" % after, headers=AUTH)
        assert resp.status == 200, resp
        page = resp.json()
        ids += [e["id"] for e in page["events"]]
        if not page["events"]:
            return ids
        after = page["next"]


class Stream:
    """GET /events as text/event-stream, read event by event (http.client
    undoes the chunked encoding; every read has a deadline)."""

    def __init__(self, r, headers=None, path="/events", timeout=60):
        self.conn = http.client.HTTPConnection("127.0.0.1", r.http_port,
                                               timeout=timeout)
        h = {"Accept": "text/event-stream"}
        h.update(headers or {})
        self.conn.request("GET", path, headers=h)
        self.resp = self.conn.getresponse()

    def event(self):
        """The next event as a dict of its fields (comments skipped)."""
        fields = {}
        while True:
            line = self.resp.readline()
            assert line, "the stream ended"
            line = line.decode().rstrip("\n")
            if line == "":
                if fields:
                    return fields
                continue
            if line.startswith(":"):
                continue
            k, _, v = line.partition(":")
            assert k not in fields, (k, fields)
            fields[k] = v[1:] if v.startswith(" ") else v

    def messages(self, n):
        """The next n message events as (id, body); ids only grow."""
        out, last = [], 0
        while len(out) < n:
            ev = self.event()
            assert ev["event"] in ("message", "presence", "iq"), ev
            eid = int(ev["id"])
            assert eid > last, (eid, last)
            last = eid
            data = json.loads(ev["data"])
            assert "\n" not in ev["data"]
            if ev["event"] == "message":
                out.append((eid, data["body"]))
        return out

    def close(self):
        self.conn.close()


def body_of(xml):
    m = re.search(r"<body>([^<]*)</body>", xml)
    return m.group(1) if m else None


N = 300  # 1,000 in the issue; scaled for suite time (doc/events.md)


def test_webhook_down_and_sigkill_lose_nothing_and_keep_order(
        server, restanza, client, sink, tmp_path):
    switch = Switch(sink)
    r = durable(restanza, server, sink, tmp_path)
    alice = errors_too(client(server, "alice"))
    for i in range(N // 2):
        alice.send_message(bot(server), "m%d" % i)
    # Pause sending around the kill: everything sent is logged first.
    wait_for(lambda: len(logged(r)) >= N // 2, 60, "first half logged")
    r.kill()
    r.start()
    r.wait_connected(timeout=30)
    for i in range(N // 2, N):
        alice.send_message(bot(server), "m%d" % i)
    wait_for(lambda: len(logged(r)) >= N, 60, "second half logged")
    assert len(switch.posts) > 0  # the app was tried while down
    assert r.status()["events"]["backlog"] >= N
    switch.down = False
    wait_for(lambda: len({body_of(p[2]) for p in switch.delivered()}) >= N,
             180, "all %d delivered" % N)
    posts = switch.posts[:]
    # Each body carries one event id; every repeat has the same id.
    ids = {}
    for ev, attempt, xml, status, headers, body in posts:
        assert ev is not None and int(ev) > 0 and int(attempt) >= 1
        assert ids.setdefault(body_of(xml), ev) == ev, (body_of(xml), ev)
        # The signature covers event id and attempt.
        want = hmac.new(SECRET.encode(),
                        ("%s\n%s\n" % (ev, attempt)).encode() + body,
                        hashlib.sha256).hexdigest()
        assert header(headers, "X-Restanza-Signature") == "sha256=" + want
    first_ok = []
    for p in switch.delivered():
        b = body_of(p[2])
        if b not in first_ok:
            first_ok.append(b)
    assert first_ok == ["m%d" % i for i in range(N)]
    # No error reached the sender.
    errors = []
    while True:
        try:
            m = alice.messages.get_nowait()
        except queue.Empty:
            break
        if m["type"] == "error":
            errors.append(m)
    assert errors == []


def test_failing_delivery_becomes_dead_letter_and_is_redelivered(
        server, restanza, client, sink, tmp_path):
    switch = Switch(sink)
    r = durable(restanza, server, sink, tmp_path, retry_for="3s")
    alice = client(server, "alice")
    alice.send_message(bot(server), "doomed")

    def dead():
        resp = r.get("/events/dead", headers=AUTH)
        assert resp.status == 200, resp
        return resp.json()["dead"]
    letters = wait_for(dead, 30, "a dead letter")
    assert len(letters) == 1
    d = letters[0]
    assert d["kind"] == "message"
    assert d["stanza"]["body"] == "doomed"
    assert d["attempts"] >= 2
    assert d["last_error"].startswith("503")
    assert len(switch.posts) == d["attempts"]
    # /status and /metrics show it.
    st = r.status()["events"]
    assert st["dead"] == 1 and st["backlog"] == 0
    assert st["retries"] == d["attempts"] - 1
    assert st["last_id"] >= d["id"] and st["disk_bytes"] > 0
    assert r.metric("restanza_events_dead") == 1
    assert r.metric("restanza_events_retries_total") == d["attempts"] - 1
    # Unauthenticated and wrong tokens are refused.
    assert r.get("/events/dead").status == 401
    assert r.get("/events/dead", headers={
        "Authorization": "Bearer wrong-token-0123456789"}).status == 403
    assert r.post("/events/dead/999999/redeliver", headers=AUTH).status == 404
    switch.down = False
    resp = r.post("/events/dead/%d/redeliver" % d["id"], headers=AUTH)
    assert resp.status == 202, resp
    wait_for(lambda: switch.delivered(), 30, "the redelivery")
    assert switch.delivered()[0][0] == str(d["id"])
    wait_for(lambda: dead() == [], 10, "the dead letter to leave the list")


def test_dead_letter_can_be_deleted(server, restanza, client, sink,
                                    tmp_path):
    Switch(sink)
    r = durable(restanza, server, sink, tmp_path, retry_for="1s")
    alice = client(server, "alice")
    alice.send_message(bot(server), "unwanted")
    letters = wait_for(
        lambda: r.get("/events/dead", headers=AUTH).json()["dead"], 30,
        "a dead letter")
    eid = letters[0]["id"]
    assert r.request("DELETE", "/events/dead/%d" % eid,
                     headers=AUTH).status == 204
    assert r.get("/events/dead", headers=AUTH).json()["dead"] == []
    assert r.request("DELETE", "/events/dead/%d" % eid,
                     headers=AUTH).status == 404


def test_store_none_has_no_event_routes_and_no_event_headers(
        server, restanza, client, sink):
    r = restanza(server, config={"webhook": {"url": sink.url()},
                                 "events": {"tokens": TOKEN}})
    r.wait_connected()
    alice = client(server, "alice")
    alice.send_message(bot(server), "plain")
    method, path, headers, body = sink.next_post()
    assert header(headers, "X-Restanza-Event") is None
    assert r.get("/events/dead", headers=AUTH).status == 404


def test_unusable_store_path_stops_the_start_with_a_clear_error(
        server, restanza, tmp_path):
    bad = tmp_path / "no-such-dir" / "r.db"
    r = restanza(server, wait=False,
                 config={"store": {"path": str(bad)}})
    assert r.proc.wait(20) == 2
    assert re.search(r'store: cannot open.*path=%s' % re.escape(str(bad)),
                     r.log())
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database " * 400)
    r2 = restanza(server, wait=False,
                  config={"store": {"path": str(garbage)}})
    assert r2.proc.wait(20) == 2
    assert "file is not a database" in r2.log()


@pytest.fixture
def small_fs(tmp_path):
    """A 1 MB tmpfs (root only): the store runs out of space on it."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    d = tmp_path / "small"
    d.mkdir()
    if os.system("mount -t tmpfs -o size=1m tmpfs '%s'" % d) != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield d
    os.system("umount -l '%s'" % d)


def test_full_disk_answers_resource_constraint_and_keeps_what_is_logged(
        server, restanza, client, sink, small_fs):
    switch = Switch(sink)
    r = restanza(server, config={
        "webhook": {"url": sink.url(), "secret": SECRET},
        "store": {"path": str(small_fs / "events.db")},
        "events": {"tokens": TOKEN}})
    r.wait_connected()
    alice = errors_too(client(server, "alice"))
    big = "x" * 20000
    for i in range(100):
        alice.send_message(bot(server), "%d %s" % (i, big))
    errors = []

    def refused():
        while True:
            try:
                m = alice.messages.get_nowait()
            except queue.Empty:
                return len(errors) > 0 and r.status()["events"]["store_failing"]
            if m["type"] == "error":
                errors.append(m)
    wait_for(refused, 60, "the store to fill up")
    for m in errors:
        assert m["error"]["type"] == "wait"
        assert m["error"]["condition"] == "resource-constraint"
    # Space comes back (the operator's part) and so does the app: everything
    # the log took is delivered.
    assert os.system("mount -o remount,size=16m '%s'" % small_fs) == 0
    switch.down = False
    wait_for(lambda: r.status()["events"]["backlog"] == 0, 120,
             "the backlog to drain")

    def settled():
        refused()  # collects errors that came late
        got = {body_of(p[2]).split()[0] for p in switch.delivered()}
        return len(got) + len(errors) >= 100
    wait_for(settled, 30, "every message delivered or refused")
    for m in errors:
        assert m["error"]["condition"] == "resource-constraint"
    refused_ids = {m["body"].split()[0] for m in errors if m["body"]}
    got = {body_of(p[2]).split()[0] for p in switch.delivered()}
    assert got, "nothing was logged before the disk filled"
    # Each message was either refused or delivered, never both, none lost.
    assert len(got) + len(errors) == 100, (len(got), len(errors))
    assert not (got & refused_ids)


def test_event_log_is_clean_under_valgrind(server, restanza, client, sink,
                                           tmp_path):
    switch = Switch(sink)
    r = restanza(server, valgrind=True, config={
        "webhook": {"url": sink.url(), "secret": SECRET, "retry_for": "2s"},
        "store": {"path": str(tmp_path / "events.db")},
        "events": {"tokens": TOKEN}})
    r.wait_connected(timeout=60)
    alice = client(server, "alice")
    alice.send_message(bot(server), "retried then dead")
    wait_for(lambda: r.get("/events/dead", headers=AUTH,
                           timeout=20).json()["dead"], 60, "a dead letter")
    switch.down = False
    alice.send_message(bot(server), "delivered")
    wait_for(lambda: any(body_of(p[2]) == "delivered"
                         for p in switch.delivered()), 60, "a delivery")
    assert r.get("/events?after=0", headers=AUTH,
                 timeout=20).json()["events"]
    # An event stream open at the stop ends with it.
    s = Stream(r, AUTH, path="/events?after=0")
    assert s.messages(2)[1][1] == "delivered"
    # Stopped with a dead letter in the log: exit 0, no leak or error.
    assert r.stop(timeout=30) == 0


def test_pending_events_wait_when_the_webhook_url_is_removed(
        server, restanza, client, sink, tmp_path):
    Switch(sink)  # down: the message stays pending
    r = durable(restanza, server, sink, tmp_path)
    alice = client(server, "alice")
    alice.send_message(bot(server), "kept")
    wait_for(lambda: r.status()["events"]["backlog"] >= 1, 30, "logged")
    assert r.stop() == 0
    r.config.pop("webhook")
    r.write_config()
    r.start()
    r.wait_connected(timeout=30)
    # Still pending, still listed, and restanza keeps running.
    assert r.status()["events"]["backlog"] >= 1
    ids = logged(r)
    assert ids
    assert r.stop() == 0


def test_event_stream_resumes_with_last_event_id(
        server, restanza, client, sink, tmp_path):
    Switch(sink).down = False
    r = durable(restanza, server, sink, tmp_path)
    alice = client(server, "alice")
    s = Stream(r, AUTH)
    assert s.resp.status == 200
    assert s.resp.getheader("Content-Type") == "text/event-stream"
    for i in range(100):
        alice.send_message(bot(server), "s%d" % i)
    got = s.messages(100)
    assert [b for _, b in got] == ["s%d" % i for i in range(100)]
    s.close()
    last = got[-1][0]
    for i in range(100, 200):
        alice.send_message(bot(server), "s%d" % i)
    s = Stream(r, dict(AUTH, **{"Last-Event-ID": str(last)}))
    assert s.resp.status == 200
    again = s.messages(100)
    assert [b for _, b in again] == ["s%d" % i for i in range(100, 200)]
    assert again[0][0] > last
    s.close()
    # ?after= resumes too, and after=0 replays the log from its start.
    s = Stream(r, AUTH, path="/events?after=%d" % got[49][0])
    assert [b for _, b in s.messages(2)] == ["s50", "s51"]
    s.close()


def test_event_stream_starts_with_new_events_and_needs_a_token(
        server, restanza, client, sink, tmp_path):
    Switch(sink).down = False
    r = durable(restanza, server, sink, tmp_path)
    alice = client(server, "alice")
    alice.send_message(bot(server), "old")

    def old_logged():
        page = r.get("/events?after=0&limit=1000", headers=AUTH).json()
        return any(e["kind"] == "message" and e["stanza"]["body"] == "old"
                   for e in page["events"])
    wait_for(old_logged, 30, "the old message logged")
    assert r.get("/events", headers={
        "Accept": "text/event-stream"}).status == 401
    assert r.get("/events?access_token=wrong-token-0123456789", headers={
        "Accept": "text/event-stream"}).status == 403
    s = Stream(r, AUTH)
    assert s.resp.status == 200
    alice.send_message(bot(server), "new")
    assert s.messages(1)[0][1] == "new"
    # A browser's EventSource passes the token in the URL.
    replay = Stream(r, path="/events?after=0&access_token=" + TOKEN)
    assert [b for _, b in replay.messages(2)] == ["old", "new"]
    replay.close()
    s.close()
    assert TOKEN not in r.log()


def test_retries_wait_no_longer_once_the_webhook_answers_again(
        server, restanza, client, sink, tmp_path):
    # alice's message fails 4 times: its backoff is 8 s and more. While the
    # webhook is down one waiting event is tried every 2 s, and the first
    # delivery that goes through (here carol's) retries the others at once:
    # alice's goes within 4 s of the webhook's return, not 8.
    switch = Switch(sink)
    r = durable(restanza, server, sink, tmp_path)
    alice, carol = client(server, "alice"), client(server, "carol")
    alice.send_message(bot(server), "waited")
    wait_for(lambda: len(switch.posts) >= 4, 30, "four failed attempts")
    switch.down = False
    t0 = time.monotonic()
    carol.send_message(bot(server), "back")
    wait_for(lambda: {body_of(p[2]) for p in switch.delivered()} >=
             {"waited", "back"}, 30, "both delivered")
    # Its own backoff would wait 8 s or more.
    assert time.monotonic() - t0 < 7
    assert r.status()["events"]["backlog"] == 0


def test_a_newer_presence_replaces_an_older_one_still_waiting(
        server, restanza, client, sink, tmp_path):
    """SPEC §9: presence is state, the latest per full JID wins. While the
    webhook refuses presences, five from one full JID wait as one: once it
    is back only the newest is delivered; all five stay in the log; and
    the same user's message was never held back by them."""
    lock = threading.Lock()
    presences, messages = [], []
    state = {"down": True}

    def respond(method, path, headers, body):
        text = body.decode()
        if method == "POST" and text.startswith("<presence"):
            status = 503 if state["down"] else 202
            m = re.search(r"<status>([^<]*)</status>", text)
            with lock:
                presences.append((m.group(1) if m else None, status))
            return (status, {}, b"", 0)
        if method == "POST" and text.startswith("<message"):
            with lock:
                messages.append(body_of(text))
        return (202, {}, b"", 0)

    sink.respond = respond
    r = durable(restanza, server, sink, tmp_path)
    alice = client(server, "alice")
    for i in range(5):
        alice.send_raw("<presence to='%s'><status>s%d</status></presence>"
                       % (bot(server), i))

    def statuses_logged():
        page = r.get("/events?after=0&limit=100", headers=AUTH).json()
        return [e["stanza"].get("status") for e in page["events"]
                if e["kind"] == "presence"]
    wait_for(lambda: {"s%d" % i for i in range(5)} <= set(statuses_logged()),
             30, "five presences logged")
    alice.send_message(bot(server), "not held back")
    wait_for(lambda: "not held back" in messages, 30, "the message delivered")
    wait_for(lambda: any(st == 503 for _, st in presences), 30,
             "a refused presence")
    state["down"] = False
    wait_for(lambda: ("s4", 202) in presences, 30, "the newest delivered")
    wait_for(lambda: r.status()["events"]["backlog"] == 0, 30, "no backlog")
    with lock:
        delivered = [s for s, st in presences if st == 202]
    assert delivered == ["s4"], presences
    assert {"s%d" % i for i in range(5)} <= set(statuses_logged())


CONSUMER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                        "..", "contrib", "examples", "events_consumer.py")


class Consumer:
    """contrib/examples/events_consumer.py on the event stream, its output
    read line by line."""

    def __init__(self, r, state):
        env = dict(os.environ, EVENTS_TOKEN=TOKEN, STATE_FILE=str(state))
        self.p = subprocess.Popen([sys.executable, CONSUMER, r.url],
                                  stdout=subprocess.PIPE, text=True, env=env)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(line.rstrip("\n"))

    def line(self, prefix, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, "no %r line from the consumer" % prefix
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line.startswith(prefix):
                return line

    def messages(self, n):
        """The next n message events as (id, body)."""
        out = []
        while len(out) < n:
            _, eid, kind, data = self.line("event ").split(" ", 3)
            if kind == "message":
                out.append((int(eid), json.loads(data)["body"]))
        return out

    def stop(self):
        self.p.terminate()
        self.p.wait(10)


def resumed(consumer):
    """The event id a consumer's new connection resumes after."""
    return int(consumer.line("connected after ").split()[2])


def test_example_consumer_resumes_after_a_disconnect(
        server, restanza, client, sink, tmp_path):
    Switch(sink).down = False
    r = durable(restanza, server, sink, tmp_path)
    alice = client(server, "alice")
    state = tmp_path / "consumer.last"
    c = Consumer(r, state)
    try:
        c.line("connected after new")
        for i in range(30):
            alice.send_message(bot(server), "c%d" % i)
        got = c.messages(30)
        # restanza restarts: the stream ends, the consumer reconnects with
        # Last-Event-ID.
        assert r.stop() == 0
        r.start()
        r.wait_connected(timeout=30)
        assert resumed(c) >= got[-1][0]
        for i in range(30, 60):
            alice.send_message(bot(server), "c%d" % i)
        got += c.messages(30)
        # The consumer itself stops; what arrives meanwhile waits for it.
        c.stop()
        for i in range(60, 90):
            alice.send_message(bot(server), "c%d" % i)
        c = Consumer(r, state)
        assert resumed(c) >= got[-1][0]
        got += c.messages(30)
    finally:
        c.stop()
    assert [b for _, b in got] == ["c%d" % i for i in range(90)]
    ids = [i for i, _ in got]
    assert ids == sorted(set(ids))
