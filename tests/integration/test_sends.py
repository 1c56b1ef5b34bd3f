# SPDX-License-Identifier: MIT
"""Sends you can trust (SPEC §10, issue 12): a full send queue holds
POST /rest instead of shedding it, then 503 + Retry-After after
rest.queue_wait."""

import http.client
import json
import threading
import time

TOKEN = "tok_sends_0123456789abcdef"
JSON = "application/json"
# Large bodies fill the paused server's socket buffers and a small
# component.queue_max within a few hundred requests.
PAD = "x" * 50000


def post(r, body, headers=None, path="/rest", timeout=60):
    """(status, headers dict, body bytes); status is the exception name
    when the request failed."""
    h = {"Authorization": "Bearer " + TOKEN, "Content-Type": JSON}
    h.update(headers or {})
    conn = http.client.HTTPConnection("127.0.0.1", r.http_port,
                                      timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers=h)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    except (OSError, http.client.HTTPException) as e:
        return type(e).__name__, {}, b""
    finally:
        conn.close()


def chat(to, tag, pad=PAD):
    return json.dumps({"kind": "message", "type": "chat", "to": to,
                       "body": tag + " " + pad})


class Flood:
    """Threads POSTing big messages one after another until stopped."""

    def __init__(self, r, to, threads=8):
        self.r, self.to = r, to
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.answers = []  # (tag, status, headers, started, answered)
        self.threads = [threading.Thread(target=self._run, args=(i,),
                                         daemon=True) for i in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self, i):
        n = 0
        while not self.stop.is_set():
            tag = "flood-%d-%d" % (i, n)
            n += 1
            t0 = time.monotonic()
            status, headers, _ = post(self.r, chat(self.to, tag))
            with self.lock:
                self.answers.append((tag, status, headers, t0,
                                     time.monotonic()))

    def wait(self, pred, timeout=60, what="condition"):
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if pred(list(self.answers)):
                    return
            assert time.monotonic() < deadline, "timeout waiting for " + what
            time.sleep(0.05)

    def finish(self, timeout=60):
        self.stop.set()
        for t in self.threads:
            t.join(timeout)
        assert not any(t.is_alive() for t in self.threads), "senders hung"
        return list(self.answers)


def bodies_received(c, want, timeout=60):
    """Tags of the messages c received, until all of `want` came (or the
    deadline)."""
    got = {}
    deadline = time.monotonic() + timeout
    while not want <= set(got) and time.monotonic() < deadline:
        try:
            m = c.messages.get(timeout=0.2)
        except Exception:
            continue
        tag = (m["body"] or "").split(" ", 1)[0]
        got[tag] = got.get(tag, 0) + 1
    return got


def start(server, restanza, **sections):
    cfg = {"rest": {"tokens": TOKEN}}
    for section, keys in sections.items():
        cfg.setdefault(section, {}).update(keys)
    r = restanza(server, config=cfg)
    r.wait_connected(timeout=15)
    return r


def test_full_send_queue_holds_requests_until_room_then_sends_them(
        server, restanza, client):
    r = start(server, restanza, rest={"queue_wait": 120},
              component={"queue_max": 65536})
    bob = client(server, "bob")
    server.pause()
    try:
        flood = Flood(r, bob.jid.split("/")[0])
        # Every sender is parked: the queue is full and nobody is shed.
        r.wait_status(lambda s: s["http"]["parked"] >= 8, timeout=90,
                      what="8 held sends")
        t_resume = time.monotonic()
        held = r.metric("restanza_rest_held_total")
        assert held >= 8
    finally:
        flood.stop.set()  # the held ones finish, no new ones start
        server.resume()
    answers = flood.finish()
    statuses = {a[1] for a in answers}
    assert statuses == {202}, sorted(map(str, statuses))
    # The held ones were answered only after the server read again.
    waited = [a for a in answers if a[3] < t_resume < a[4]]
    assert len(waited) >= 8, len(waited)
    assert r.metric("restanza_rest_held_timeouts_total") == 0
    # Every accepted message reaches bob.
    sent = {a[0] for a in answers}
    got = bodies_received(bob, sent, timeout=120)
    assert sent <= set(got), sorted(sent - set(got))[:10]
    # One line when holding starts and one when it ends, with the counts.
    r.wait_log(r"rest sends no longer held", timeout=30)
    assert len(r.log_lines(r"rest sends held: xmpp send queue full")) == 1
    end = r.log_lines(r"rest sends no longer held")
    assert len(end) == 1 and "timed_out=0" in end[0], end
    assert "held=%d" % r.metric("restanza_rest_held_total") in end[0], end


def test_held_request_gets_503_with_retry_after_after_queue_wait(
        server, restanza, client):
    r = start(server, restanza, rest={"queue_wait": 2},
              component={"queue_max": 65536})
    bob = client(server, "bob")
    server.pause()
    try:
        flood = Flood(r, bob.jid.split("/")[0])
        flood.wait(lambda a: sum(1 for x in a if x[1] == 503) >= 8,
                   timeout=90, what="8 answers 503")
    finally:
        flood.stop.set()
        server.resume()
    answers = flood.finish()
    refused = [a for a in answers if a[1] == 503]
    assert {a[1] for a in answers} <= {202, 503}
    for tag, status, headers, t0, t1 in refused:
        assert headers.get("Retry-After") == "5", headers
        # Held for rest.queue_wait (2 s), not refused at once.
        assert t1 - t0 >= 1.9, t1 - t0
    assert r.metric("restanza_rest_held_timeouts_total") >= len(refused)
    # No log line per refused request: one when the episode starts, and
    # one with the counts when it ends.
    r.wait_log(r"rest sends no longer held", timeout=60)
    assert len(r.log_lines(r"rest sends held: xmpp send queue full")) == 1
    assert not r.log_lines(r"rest request failed")
    end = r.log_lines(r"rest sends no longer held")
    assert len(end) == 1, end
    assert "timed_out=%d" % r.metric(
        "restanza_rest_held_timeouts_total") in end[0], end


# --------------------------------------------------------------------------
# Idempotency-Key

TOKEN2 = "tok_sends_second_0123456789"


def quiet_tags(c, quiet=1.5, timeout=20):
    """Tag -> count of the messages c received until none came for
    `quiet` s."""
    got = {}
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - last < quiet:
        try:
            m = c.messages.get(timeout=0.2)
        except Exception:
            continue
        tag = (m["body"] or "").split(" ", 1)[0]
        got[tag] = got.get(tag, 0) + 1
        last = time.monotonic()
    return got


def test_idempotency_key_repeats_get_first_answer_and_send_nothing(
        server, restanza, client):
    r = start(server, restanza, rest={"tokens": TOKEN + ", " + TOKEN2})
    bob = client(server, "bob")
    to = bob.jid.split("/")[0]
    body = chat(to, "idem-1", pad="hello")
    answers = [post(r, body, {"Idempotency-Key": "order-42"})
               for _ in range(3)]
    assert [a[0] for a in answers] == [202, 202, 202], answers
    assert "Idempotent-Replayed" not in answers[0][1]
    assert all(a[1].get("Idempotent-Replayed") == "true"
               for a in answers[1:]), answers
    # Another token has its own keys: its first use sends.
    other = post(r, body, {"Idempotency-Key": "order-42",
                           "Authorization": "Bearer " + TOKEN2})
    assert other[0] == 202 and "Idempotent-Replayed" not in other[1]
    # The same key with another request is refused.
    s, h, b = post(r, chat(to, "idem-other", pad="x"),
                   {"Idempotency-Key": "order-42"})
    assert s == 422, (s, b)
    assert json.loads(b)["error"]["condition"] == "not-allowed"
    assert quiet_tags(bob) == {"idem-1": 2}
    # Keys: 1 to 128 printable ASCII characters.
    for bad in ("k" * 129, "caf\u00e9".encode().decode("latin-1"), " \x01"):
        s, h, b = post(r, chat(to, "idem-bad", pad="x"),
                       {"Idempotency-Key": bad})
        assert s == 400, (bad, s, b)
    s, _, _ = post(r, chat(to, "idem-128", pad="x"),
                   {"Idempotency-Key": "k" * 128})
    assert s == 202
    assert quiet_tags(bob) == {"idem-128": 1}


def test_idempotency_repeat_in_progress_waits_and_errors_are_not_kept(
        server, restanza, client):
    r = start(server, restanza)
    bob = client(server, "bob")
    iq = ("<iq type='get' to='%s'><query xmlns='urn:x:silent'/></iq>"
          % bob.jid)
    hdr = {"Content-Type": "application/xmpp+xml", "Accept": JSON,
           "Restanza-Timeout": "3", "Idempotency-Key": "slow-1"}
    results = [None, None]

    def one(i):
        t0 = time.monotonic()
        results[i] = post(r, iq, hdr) + (time.monotonic() - t0,)

    first = threading.Thread(target=one, args=(0,))
    first.start()
    r.wait_status(lambda s: s["http"]["parked"] >= 1, what="first parked")
    second = threading.Thread(target=one, args=(1,))
    second.start()
    r.wait_status(lambda s: s["http"]["parked"] >= 2, what="repeat parked")
    first.join(30)
    second.join(30)
    (s1, h1, b1, _), (s2, h2, b2, _) = results
    # The repeat waited for the first's answer and got the same one.
    assert s1 == s2 == 504, results
    assert b1 == b2 and h2.get("Idempotent-Replayed") == "true"
    # A 504 is not kept: the key is free for a retry, which runs anew.
    t0 = time.monotonic()
    s3, h3, _ = post(r, iq, hdr)
    assert s3 == 504 and "Idempotent-Replayed" not in h3
    assert time.monotonic() - t0 >= 2.9


# --------------------------------------------------------------------------
# Confirmed acceptance

SID = "{urn:xmpp:sid:0}origin-id"


def next_message(c, tag, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            m = c.messages.get(timeout=0.2)
        except Exception:
            continue
        if (m["body"] or "").startswith(tag):
            return m
    raise AssertionError("no message %s" % tag)


def wait_metric(r, name, at_least, timeout=30):
    deadline = time.monotonic() + timeout
    while r.metric(name) < at_least:
        assert time.monotonic() < deadline, "%s < %d" % (name, at_least)
        time.sleep(0.1)


def test_wait_server_answers_200_once_confirmed_with_origin_id(
        server, restanza, client):
    r = start(server, restanza)
    bob = client(server, "bob")
    to = bob.jid.split("/")[0]
    s, h, b = post(r, chat(to, "conf-1", pad="x"), {"Prefer": "wait=server"})
    assert (s, b) == (200, b""), (s, h, b)
    assert h.get("Restanza-Outbox") == "confirmed"
    s, h, _ = post(r, chat(to, "conf-2", pad="x"), path="/rest?confirm=1")
    assert s == 200 and h.get("Restanza-Outbox") == "confirmed"
    s, h, _ = post(r, json.dumps({"kind": "message", "type": "chat",
                                  "to": to, "id": "given-7",
                                  "body": "conf-3 x"}))
    assert s == 202 and "Restanza-Outbox" not in h
    for tag in ("conf-1", "conf-2", "conf-3"):
        m = next_message(bob, tag)
        oid = m.xml.find(SID)
        assert oid is not None and oid.get("id") == m["id"], str(m)
    assert m["id"] == "given-7"
    wait_metric(r, "restanza_outbox_confirmed_total", 3)


def test_wait_server_unconfirmed_is_504_pending_and_still_sent(
        server, restanza, client):
    r = start(server, restanza)
    bob = client(server, "bob")
    to = bob.jid.split("/")[0]
    server.pause()
    try:
        t0 = time.monotonic()
        s, h, b = post(r, chat(to, "pend-1", pad="x"),
                       {"Prefer": "wait=server", "Restanza-Timeout": "2"})
        took = time.monotonic() - t0
    finally:
        server.resume()
    assert s == 504, (s, h, b)
    assert h.get("Restanza-Outbox") == "pending"
    assert 1.9 <= took < 15, took
    assert r.metric("restanza_rest_confirm_timeouts_total") == 1
    next_message(bob, "pend-1")
    wait_metric(r, "restanza_outbox_confirmed_total", 1)


def test_idempotency_key_survives_a_restart_with_the_store(
        server, restanza, client, tmp_path):
    db = str(tmp_path / "restanza.db")
    r = start(server, restanza, store={"path": db})
    bob = client(server, "bob")
    body = chat(bob.jid.split("/")[0], "idem-restart", pad="x")
    s, h, _ = post(r, body, {"Idempotency-Key": "restart-1"})
    assert s == 202 and "Idempotent-Replayed" not in h
    assert r.stop() == 0
    r.start()
    r.wait_connected(timeout=30)
    s, h, _ = post(r, body, {"Idempotency-Key": "restart-1"})
    assert s == 202 and h.get("Idempotent-Replayed") == "true", h
    s, _, _ = post(r, chat(bob.jid.split("/")[0], "idem-x", pad="x"),
                   {"Idempotency-Key": "restart-1"})
    assert s == 422
    assert quiet_tags(bob) == {"idem-restart": 1}


def test_outbox_in_the_store_survives_sigkill(server, restanza, client,
                                              tmp_path):
    """2xx'd messages the server had not confirmed when restanza was
    SIGKILLed are sent again by the next run: each arrives at least once,
    copies carry the same origin-id. The server is paused, so big messages
    stay in restanza's own buffer: those only the store can bring back."""
    r = start(server, restanza, store={"path": str(tmp_path / "r.db")})
    bob = client(server, "bob")
    to = bob.jid.split("/")[0]
    for i in range(5):
        assert post(r, chat(to, "before-%d" % i, pad="x"))[0] == 202
    wait_metric(r, "restanza_outbox_confirmed_total", 5)
    server.pause()      # nothing after this is read or confirmed
    try:
        for i in range(KILLED):
            assert post(r, chat(to, "kill-%d" % i))[0] == 202
        r.kill()
    finally:
        server.resume()
    r.start()
    r.wait_connected(timeout=30)
    for i in range(5):
        assert post(r, chat(to, "after-%d" % i, pad="x"))[0] == 202
    want = {"%s-%d" % (k, i) for k in ("before", "after") for i in range(5)}
    want |= {"kill-%d" % i for i in range(KILLED)}
    ids = origin_ids(bob, want)
    assert want <= set(ids), sorted(want - set(ids))
    for tag, seen in ids.items():
        assert None not in seen and len(set(seen)) == 1, (tag, seen)
    assert all(len(ids["before-%d" % i]) == 1 for i in range(5)), ids
    assert r.metric("restanza_outbox_resent_total") >= KILLED
    # The tail never reached the killed run's socket: only the store's
    # copy arrived (without the store these are lost).
    assert any(len(ids["kill-%d" % i]) == 1 for i in range(KILLED)), ids


KILLED = 40


def origin_ids(c, want, quiet=1.0, timeout=60):
    """Tag -> origin-ids of every copy c received, until all of `want`
    came and then none for `quiet` s (or the deadline)."""
    got, last = {}, time.monotonic()
    deadline = last + timeout
    while time.monotonic() < deadline and (
            not want <= set(got) or time.monotonic() - last < quiet):
        try:
            m = c.messages.get(timeout=0.2)
        except Exception:
            continue
        oid = m.xml.find(SID)
        got.setdefault(m["body"].split(" ", 1)[0], []).append(
            oid.get("id") if oid is not None else None)
        last = time.monotonic()
    return got
