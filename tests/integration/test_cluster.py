# SPDX-License-Identifier: MIT
"""Scale-out on a real two-node ejabberd cluster (SPEC §12, doc/scaling.md):
two restanza instances, one per node, each with its own component domain
beside the shared one, behind contrib/haproxy/haproxy.cfg."""

import os
import sys
import threading
import time
import urllib.parse

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ejcluster  # noqa: E402
from conftest import _failed, http  # noqa: E402

TOKEN = "cluster-token-0123456789"
AUTH = {"Authorization": "Bearer " + TOKEN}
PHASE = 250          # answers through the balancer between two failures


@pytest.fixture
def cluster(tmp_path, request):
    """ejabberd1@localhost and ejabberd2@localhost, joined, with a private
    epmd; everything stopped at teardown."""
    c = ejcluster.Cluster(tmp_path / "cluster")
    try:
        c.start()
        yield c
    finally:
        if _failed(request):
            print("\n" + c.diagnostics(80))
        c.stop()


def _wait_ready(r, status, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if r.get("/ready", timeout=5).status == status:
                return
        except OSError:
            pass
        assert r.alive(), r.diagnostics()
        assert time.monotonic() < deadline, \
            "GET /ready never %d\n%s" % (status, r.diagnostics())
        time.sleep(0.05)


def _served(r, route):
    """2xx answers of `route` the instance gave (from its /metrics)."""
    n = 0
    for line in r.get("/metrics").text.splitlines():
        if line.startswith('restanza_http_requests_total{route="%s",'
                           'status="2' % route):
            n += int(line.split()[1])
    return n


def _answer_pings(c):
    """Make a slixmpp test client answer XEP-0199 pings."""
    done = threading.Event()

    def register():
        c.xmpp.register_plugin("xep_0199")
        done.set()
    c.loop.call_soon_threadsafe(register)
    assert done.wait(5), "cannot register xep_0199 on %s" % c.jid


def _ping(url, jid):
    return http("GET", url + "/rest/ping/" + urllib.parse.quote(jid, "@"),
                headers=dict(AUTH, **{"Restanza-Timeout": "10"}),
                timeout=30).status


def _message(url, to, body, confirm=False):
    headers = dict(AUTH, **{"Content-Type": "text/plain"})
    if confirm:
        headers["Prefer"] = "wait=server"
    return http("POST", url + "/rest/message/chat/" + to, body=body,
                headers=headers, timeout=30).status


def _bodies(c, want, timeout=20):
    """Message bodies c received, until every one of `want` is there or
    `timeout` has passed."""
    got = set()
    deadline = time.monotonic() + timeout
    while not want <= got and time.monotonic() < deadline:
        try:
            m = c.messages.get(timeout=0.2)
        except Exception:
            continue
        if m["body"]:
            got.add(m["body"])
    return got


class Load:
    """Threads sending through the balancer until stopped: pings to a
    client's full JID and messages to its bare JID with Prefer: wait=server
    (a 2xx then means the server confirmed the stanza). Every answer is
    recorded as (kind, body, status, answered at, sent at); a transport
    error's status is its exception name."""

    def __init__(self, url, client, pingers=2, senders=2):
        self.url, self.client = url, client
        self.stop_ = threading.Event()
        self.lock = threading.Lock()
        self.answers = []
        self.threads = [threading.Thread(target=self._run, args=(k, i),
                                         daemon=True)
                        for k, n in (("ping", pingers), ("message", senders))
                        for i in range(n)]
        for t in self.threads:
            t.start()

    def _run(self, kind, i):
        n = 0
        while not self.stop_.is_set():
            body = "%s-%d-%d" % (kind, i, n)
            t0 = time.monotonic()
            n += 1
            try:
                if kind == "ping":
                    status = _ping(self.url, self.client.jid)
                else:
                    status = _message(self.url, self.client.bare, body,
                                      confirm=True)
            except OSError as e:
                status = type(e).__name__
            with self.lock:
                self.answers.append((kind, body, status, time.monotonic(),
                                     t0))

    def wait(self, n, since, timeout=60):
        """Until n requests were answered after `since`."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                got = sum(1 for a in self.answers if a[3] > since)
            if got >= n:
                return
            assert time.monotonic() < deadline, \
                "%d of %d answers in %d s" % (got, n, timeout)
            time.sleep(0.05)

    def finish(self, timeout=40):
        self.stop_.set()
        for t in self.threads:
            t.join(timeout)
        assert not any(t.is_alive() for t in self.threads), "load hung"
        return list(self.answers)


def _ok(status):
    return isinstance(status, int) and 200 <= status < 300


@pytest.mark.servers("ejabberd")
def test_two_node_cluster_behind_haproxy_survives_a_node_and_an_instance(
        server_name, cluster, restanza, client, tmp_path):
    """Two ejabberd nodes joined in one cluster, restanza A on node 1
    (a.rest.localhost) and B on node 2 (b.rest.localhost), HAProxy in
    front. Pings to clients on either node and messages to them all succeed
    through the balancer and both instances serve some: IQ replies come
    home across nodes. Then, under load: node 2 is killed (B loses its
    stream and answers 503, which the balancer retries on A, and its /ready
    check takes B out), node 2 comes back (it rejoins, B reconnects and
    is back in rotation), B is killed with requests in flight (retried on
    A), node 2 is killed again: fewer than 1 % errors, every 2xx message
    reaches alice on node 1, and A carries on alone."""
    t_start = time.monotonic()
    node1, node2 = cluster.nodes
    inst = [restanza(node, config={
        "server": {"port": node.service_port},
        "component": {"jid": node.own_domain},
        "rest": {"tokens": TOKEN},
        "log": {"level": "info"}}) for node in cluster.nodes]
    for r in inst:
        _wait_ready(r, 200)
    a, b = inst
    alice = client(node1, "alice")       # on the node that survives
    bob = client(node2, "bob")
    for c in (alice, bob):
        _answer_pings(c)
    lb = ejcluster.Haproxy(tmp_path, [a.http_port, b.http_port]).start()
    load = None
    try:
        # -- both instances serve; replies cross nodes -------------------
        before = [_served(r, "rest_get") for r in inst]
        codes = [_ping(lb.url, c.jid) for _ in range(20) for c in (alice, bob)]
        assert codes == [200] * 40, (codes, lb.diagnostics())
        served = [_served(r, "rest_get") - n for r, n in zip(inst, before)]
        assert sum(served) == 40 and min(served) >= 10, served
        sent = {c.bare: {"hello %s %d" % (c.bare, i) for i in range(10)}
                for c in (alice, bob)}
        for to, bodies in sent.items():
            for body in bodies:
                assert _message(lb.url, to, body) == 202
        for c in (alice, bob):
            got = _bodies(c, sent[c.bare])
            assert sent[c.bare] <= got, sorted(sent[c.bare] - got)
        assert min(_served(r, "rest_post_path") for r in inst) >= 5

        # -- under load: node 2 dies and comes back, B dies, node 2 dies --
        load = Load(lb.url, alice)
        load.wait(PHASE, 0)
        events = {}
        events["node 2 stopped"] = time.monotonic()
        node2.stop()             # B alive, its stream gone: 503, /ready 503
        _wait_ready(b, 503)
        load.wait(PHASE, time.monotonic())
        node2.start()            # rejoins from its spool; B reconnects
        events["node 2 back"] = time.monotonic()
        _wait_ready(b, 200, timeout=60)
        b_back = _served(b, "rest_get")
        deadline = time.monotonic() + 20
        while _served(b, "rest_get") < b_back + 20:   # back in rotation
            assert time.monotonic() < deadline, lb.diagnostics()
            time.sleep(0.05)
        events["B killed"] = time.monotonic()
        b.kill()                 # requests in flight on B: retried on A
        load.wait(PHASE, time.monotonic())
        events["node 2 killed"] = time.monotonic()
        node2.kill()             # a crash, nothing of restanza on it now
        load.wait(PHASE, time.monotonic())
        a_before = _served(a, "rest_get") + _served(a, "rest_post_path")
        t_last = time.monotonic()
        load.wait(PHASE, t_last)
        answers = load.finish()
        deadline = time.monotonic() + 20
        while node1.cluster_nodes() != [node1.node]:    # node 2 is gone
            assert time.monotonic() < deadline, node1.cluster_nodes()
            time.sleep(0.1)
    finally:
        if load is not None:
            load.stop_.set()
        lb.stop()
    errors = [x for x in answers if not _ok(x[2])]
    confirmed = {x[1] for x in answers if x[0] == "message" and _ok(x[2])}
    got = _bodies(alice, confirmed)
    lost = confirmed - got
    last = [x for x in answers if x[4] > t_last]
    print("\ncluster: %d requests under load (%d messages confirmed), %d "
          "errors %s, %d lost; before: served %s by A, B; %s; test %.1f s "
          "(cluster start %.1f s)" % (
              len(answers), len(confirmed), len(errors),
              sorted({str(x[2]) for x in errors}), len(lost), served,
              ", ".join("%s at +%.1f s" % (k, t - t_start)
                        for k, t in events.items()),
              time.monotonic() - t_start, cluster.start_seconds))
    assert len(errors) < len(answers) / 100, [
        (k, st, "+%.3f s" % (t - t_start)) for k, _, st, t, _ in errors[:10]]
    assert not lost, sorted("%s answered %s at +%.3f s" % (
        body, st, t - t_start)
        for _, body, st, t, _ in answers if body in lost)
    # The survivors carry on: the last requests all succeeded, served by A.
    assert last and all(_ok(x[2]) for x in last), last[:10]
    assert (_served(a, "rest_get") + _served(a, "rest_post_path") - a_before
            >= len(last))
    _wait_ready(a, 200)
