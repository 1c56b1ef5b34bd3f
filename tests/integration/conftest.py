# SPDX-License-Identifier: MIT
"""Fixtures for restanza's integration tests.

Run with the Debian interpreter (it sees python3-slixmpp):
    /usr/bin/python3 -m pytest tests/integration

Fixtures
  server          a running private server, parametrized over prosody and
                  ejabberd (one instance per test module and server; restarted
                  before a test if a previous test left it dead)
  make_server     make_server(name, start=True, **opts) -> a custom server
  restanza        restanza(server, keepalive=60, config=None, valgrind=False,
                  wait=True, args=()) -> a running daemon (Restanza)
  client          client(server, user="alice", ...) -> logged-in XmppClient

Environment
  RESTANZA_BIN            daemon binary (default <repo>/src/restanza)
  RESTANZA_VALGRIND_BIN   binary for valgrind=True (default RESTANZA_BIN)
  RESTANZA_TEST_SERVERS   comma-separated subset of "prosody,ejabberd"

Markers
  @pytest.mark.servers("prosody")   run the test only against these servers
"""

import asyncio
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SERVER_NAMES = ("prosody", "ejabberd")
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"


def restanza_bin():
    return os.environ.get("RESTANZA_BIN",
                          os.path.join(REPO, "src", "restanza"))


def _selected_servers():
    env = os.environ.get("RESTANZA_TEST_SERVERS")
    if not env:
        return list(SERVER_NAMES)
    names = [n.strip() for n in env.split(",") if n.strip()]
    bad = [n for n in names if n not in SERVER_NAMES]
    if bad:
        raise pytest.UsageError("RESTANZA_TEST_SERVERS: unknown %s" % bad)
    return names


# --------------------------------------------------------------------------
# pytest plumbing

def pytest_configure(config):
    config.addinivalue_line(
        "markers", "servers(*names): run only against these XMPP servers")


def pytest_generate_tests(metafunc):
    if "server_name" in metafunc.fixturenames:
        names = _selected_servers()
        marker = metafunc.definition.get_closest_marker("servers")
        if marker:
            names = [n for n in names if n in marker.args]
        metafunc.parametrize("server_name", names, ids=names, indirect=True,
                             scope="module")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(request):
    node = request.node
    return any(getattr(getattr(node, "rep_" + w, None), "failed", False)
               for w in ("setup", "call"))


# --------------------------------------------------------------------------
# servers

@pytest.fixture(scope="module")
def server_name(request):
    return request.param


@pytest.fixture(scope="module")
def _server_instance(server_name, tmp_path_factory):
    srv = servers.make(server_name,
                       tmp_path_factory.mktemp(server_name, numbered=True))
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def server(_server_instance, request):
    """The module's server, running; its log tail is printed on failure."""
    srv = _server_instance
    if not srv.is_running():
        srv.start()
    start = srv.log_offset()
    yield srv
    if _failed(request):
        print("\n" + srv.diagnostics(lines=80, start=start))
    if not srv.is_running():        # a test killed it and failed midway
        try:
            srv.kill()
        except servers.ServerError as e:
            print(e)


@pytest.fixture
def make_server(tmp_path, request):
    """make_server(name, start=True, **opts): a private server for one test
    (opts as servers.Prosody/Ejabberd: delegate=[...], privileges={...},
    users=[...], loglevel=...). Stopped at teardown."""
    made = []

    def make(name, start=True, **opts):
        d = tmp_path / ("%s-%d" % (name, len(made)))
        srv = servers.make(name, d, **opts)
        made.append((srv, 0))
        if start:
            srv.start()
        return srv

    yield make
    for srv, start in made:
        if _failed(request):
            print("\n" + srv.diagnostics(lines=80, start=start))
        srv.stop()


# --------------------------------------------------------------------------
# the daemon

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class HttpResponse:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body.decode())

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<HTTP %s %r>" % (self.status, self.body[:300])


def http(method, url, body=None, headers=None, timeout=10):
    """Plain HTTP without proxies; never raises for an HTTP status."""
    if isinstance(body, str):
        body = body.encode()
    req = urllib.request.Request(url, data=body, method=method,
                                 headers=headers or {})
    try:
        with _NO_PROXY.open(req, timeout=timeout) as r:
            return HttpResponse(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return HttpResponse(e.code, e.headers, e.read())


class Restanza:
    """One daemon process with its own config file and log."""

    def __init__(self, server, workdir, keepalive=60, config=None,
                 valgrind=False, args=(), binary=None):
        self.server = server
        self.dir = str(workdir)
        os.makedirs(self.dir, exist_ok=True)
        # Valgrind cannot run a sanitizer build: tests/run.sh passes a plain
        # build in RESTANZA_VALGRIND_BIN.
        self.binary = binary or (
            valgrind and os.environ.get("RESTANZA_VALGRIND_BIN")) or \
            restanza_bin()
        self.http_port = servers.free_port()
        self.url = "http://127.0.0.1:%d" % self.http_port
        self.conf_path = os.path.join(self.dir, "restanza.conf")
        self.log_path = os.path.join(self.dir, "restanza.log")
        self.valgrind_log = (os.path.join(self.dir, "valgrind.log")
                             if valgrind else None)
        self.args = list(args)
        self.proc = None
        self.returncode = None
        self.config = {
            "server": {"domain": server.domain, "host": "127.0.0.1",
                       "port": server.component_port},
            "component": {"jid": server.component_jid,
                          "secret": server.secret, "keepalive": keepalive},
            "http": {"listen": "127.0.0.1:%d" % self.http_port},
            "log": {"level": "debug"},
            # No durable store unless a test asks for one (test_events.py):
            # the other tests prove SPEC §5's behaviour, which is what
            # store.path = none keeps.
            "store": {"path": "none"},
        }
        for section, keys in (config or {}).items():
            sect = self.config.setdefault(section, {})
            for k, v in keys.items():
                if v is None:
                    sect.pop(k, None)
                else:
                    sect[k] = v
        self.write_config()

    def write_config(self):
        with open(self.conf_path, "w") as f:
            for section, keys in self.config.items():
                f.write("[%s]\n" % section)
                for k, v in keys.items():
                    f.write("%s = %s\n" % (k, v))
                f.write("\n")

    @property
    def command(self):
        cmd = [self.binary, "-f", "-c", self.conf_path] + self.args
        if self.valgrind_log:
            cmd = ["valgrind", "--leak-check=full", "--error-exitcode=99",
                   "--errors-for-leak-kinds=definite,indirect",
                   "--show-leak-kinds=definite,indirect",
                   "--log-file=" + self.valgrind_log] + cmd
        return cmd

    def start(self, wait=True, timeout=None):
        if not os.access(self.binary, os.X_OK):
            pytest.fail("restanza binary %s is missing (build it, or set "
                        "RESTANZA_BIN)" % self.binary)
        if timeout is None:
            timeout = 60 if self.valgrind_log else 10
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log.close()
        if wait:
            self.wait_http(timeout)
        return self

    def wait_http(self, timeout=10):
        """Wait until the HTTP listener answers (any status)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError("restanza exited with %s at start-up\n%s"
                                     % (self.proc.returncode, self.diagnostics()))
            try:
                http("GET", self.url + "/status", timeout=2)
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.05)
        raise AssertionError("restanza HTTP not up after %.0f s\n%s"
                             % (timeout, self.diagnostics()))

    def alive(self):
        return (self.proc is not None and self.proc.poll() is None
                and servers.pid_alive(self.proc.pid))

    @property
    def pid(self):
        return self.proc.pid

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """Send `sig`, wait for the exit; return the exit code (negative for
        a signal). Fails (after SIGKILL) if it does not exit in time."""
        if self.proc is None:
            return None
        if timeout is None:
            timeout = 30 if self.valgrind_log else 5
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(
                    "restanza did not exit within %.0f s of signal %s\n%s"
                    % (timeout, sig, self.diagnostics()))
        self.returncode = self.proc.returncode
        return self.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)
        return self.proc.returncode if self.proc else None

    # --- HTTP ---
    def request(self, method, path, body=None, headers=None, timeout=10):
        return http(method, self.url + path, body, headers, timeout)

    def metric(self, name):
        """The value of one /metrics sample (name with its labels)."""
        text = self.request("GET", "/metrics").body.decode()
        for line in text.splitlines():
            if line.startswith(name + " "):
                return int(float(line.split()[1]))
        raise AssertionError("no metric %s in /metrics:\n%s" % (name, text))

    def disconnects(self):
        """restanza_xmpp_disconnects_total: moves when a stream ends."""
        return self.metric("restanza_xmpp_disconnects_total")

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def status(self, timeout=5):
        """GET /status: asserts 200 and returns the parsed JSON."""
        r = self.get("/status", timeout=timeout)
        assert r.status == 200, "GET /status -> %s %s" % (r.status, r.text)
        return r.json()

    def wait_status(self, pred, timeout=10, interval=0.1, what=None):
        """Poll /status until pred(status) is true; return that status.
        Fails with the last status and the log tail on timeout."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                last = self.status(timeout=2)
                if pred(last):
                    return last
            except (OSError, urllib.error.URLError, ValueError,
                    AssertionError, KeyError, TypeError) as e:
                last = last if isinstance(last, dict) else repr(e)
            if not self.alive():
                raise AssertionError("restanza died (exit %s) while waiting "
                                     "for %s\n%s" % (self.proc.returncode,
                                                     what or pred,
                                                     self.diagnostics()))
            if time.monotonic() >= deadline:
                raise AssertionError(
                    "timeout (%.1f s) waiting for %s; last /status: %s\n%s"
                    % (timeout, what or "status condition",
                       json.dumps(last, indent=1, sort_keys=True),
                       self.diagnostics()))
            time.sleep(interval)

    def wait_connected(self, timeout=10):
        return self.wait_status(lambda s: s["xmpp"]["state"] == "connected",
                                timeout, what="xmpp.state == connected")

    # --- logs ---
    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_lines(self, regex=None):
        lines = self.log().splitlines()
        if regex is None:
            return lines
        return [ln for ln in lines if re.search(regex, ln)]

    def wait_log(self, regex, timeout=10, count=1):
        deadline = time.monotonic() + timeout
        while True:
            found = self.log_lines(regex)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise AssertionError("log has %d line(s) matching %r, wanted "
                                     "%d within %.0f s\n%s" % (
                                         len(found), regex, count, timeout,
                                         self.diagnostics()))
            time.sleep(0.1)

    def diagnostics(self, lines=80):
        out = "--- restanza log %s ---\n%s" % (
            self.log_path, servers.tail(self.log_path, lines))
        if self.valgrind_log:
            out += "\n--- valgrind %s ---\n%s" % (
                self.valgrind_log, servers.tail(self.valgrind_log, 60))
        return out


@pytest.fixture
def restanza(tmp_path, request):
    """restanza(server, keepalive=60, config=None, valgrind=False, wait=True,
    args=()) -> a started Restanza.

    `config` is {section: {key: value}} merged over the generated config
    (value None removes a key). With wait=True the call returns once the
    HTTP listener answers. Every daemon is killed at teardown; its log (and
    valgrind log) tail is printed when the test failed."""
    started = []

    def start(server, keepalive=60, config=None, valgrind=False, wait=True,
              args=(), binary=None):
        r = Restanza(server, tmp_path / ("restanza-%d" % len(started)),
                     keepalive=keepalive, config=config, valgrind=valgrind,
                     args=args, binary=binary)
        started.append(r)
        r.start(wait=wait)
        return r

    yield start
    failed = _failed(request)
    unclean = []
    for r in started:
        if r.alive():
            try:
                code = r.stop(timeout=30 if r.valgrind_log else 5)
            except AssertionError as e:
                print(e)
                code = "no exit"
            # Every daemon still running must stop cleanly: with the
            # sanitizer build a leak or a memory error at exit shows here
            # (ASAN_OPTIONS exitcode=86 in tests/run.sh).
            if code != 0:
                unclean.append((r, code))
        if failed:
            print("\n" + r.diagnostics(lines=150))
    if unclean and not failed:
        pytest.fail("restanza did not stop cleanly at teardown: %s\n%s" % (
            ", ".join(str(c) for _, c in unclean),
            unclean[0][0].diagnostics(lines=80)))


# --------------------------------------------------------------------------
# XMPP client

class Reply:
    """An IQ reply, decoded: type, from, payload element, error details."""

    def __init__(self, stanza):
        self.stanza = stanza
        self.xml = stanza.xml
        self.type = self.xml.get("type")
        self.frm = self.xml.get("from")
        self.id = self.xml.get("id")
        self.error = None
        self.error_type = None
        self.error_condition = None
        self.error_text = None
        self.payload = None
        for child in self.xml:
            if child.tag.endswith("}error") or child.tag == "error":
                self.error = child
                self.error_type = child.get("type")
                for c in child:
                    if c.tag.startswith("{%s}" % NS_STANZAS):
                        local = c.tag.split("}", 1)[1]
                        if local == "text":
                            self.error_text = c.text
                        elif self.error_condition is None:
                            self.error_condition = local
            elif self.payload is None:
                self.payload = child

    def find(self, path):
        return self.xml.find(path)

    def findall(self, path):
        return self.xml.findall(path)

    def __str__(self):
        return str(self.stanza)

    __repr__ = __str__


class DiscoInfo(Reply):
    def __init__(self, stanza):
        super().__init__(stanza)
        q = self.xml.find("{%s}query" % NS_DISCO_INFO)
        self.identities = []
        self.features = []
        if q is not None:
            self.identities = [(i.get("category"), i.get("type"), i.get("name"))
                               for i in q.findall("{%s}identity" % NS_DISCO_INFO)]
            self.features = [f.get("var")
                             for f in q.findall("{%s}feature" % NS_DISCO_INFO)]


class XmppClient:
    """A slixmpp client on its own thread and asyncio loop, with blocking
    helpers. The roster is never requested."""

    def __init__(self, jid, password, port, host="127.0.0.1", presence=True):
        self.bare = jid
        self.password = password
        self.address = (host, port)
        self.presence = presence
        self.messages = queue.Queue()
        self.presences = queue.Queue()
        self.iqs = queue.Queue()       # IQ get/set addressed to this client
        self.xmpp = None
        self.loop = None
        self._thread = None
        self._ready = threading.Event()
        self._gone = threading.Event()
        self._error = None

    @property
    def jid(self):
        """The bound full JID."""
        return str(self.xmpp.boundjid)

    def start(self, timeout=10):
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="xmpp-" + self.bare)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.disconnect()
            raise AssertionError("%s: no session within %.0f s" %
                                 (self.bare, timeout))
        if self._error:
            self.disconnect()
            raise AssertionError("%s: %s" % (self.bare, self._error))
        return self

    def _run(self):
        from slixmpp import ClientXMPP
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        x = self.xmpp = ClientXMPP(self.bare, self.password)
        x.loop = self.loop

        def session_start(_):
            if self.presence:
                # Ready once the server echoes our initial presence back
                # (RFC 6121 4.2.2): before that, ejabberd does not route a
                # message for the bare JID to this session yet.
                x.add_event_handler("presence_available", own_presence)
                x.send_presence()
            else:
                self._ready.set()

        def own_presence(p):
            if p["from"] == x.boundjid:
                x.del_event_handler("presence_available", own_presence)
                self._ready.set()

        def fail(why):
            def handler(ev):
                self._error = "%s: %s" % (why, ev)
                self._ready.set()
            return handler

        x.add_event_handler("session_start", session_start)
        x.add_event_handler("failed_auth", fail("authentication failed"))
        x.add_event_handler("connection_failed", fail("connection failed"))
        x.add_event_handler("disconnected", lambda _: self._gone.set())
        x.add_event_handler("message", self.messages.put)
        x.add_event_handler("presence", self.presences.put)
        from slixmpp.xmlstream.handler import Callback
        from slixmpp.xmlstream.matcher import MatchXPath

        def incoming_iq(iq):
            if iq["type"] in ("get", "set"):
                self.iqs.put(iq)
        x.register_handler(Callback(
            "test incoming iq", MatchXPath("{jabber:client}iq"), incoming_iq))
        x.connect(self.address, force_starttls=False, disable_starttls=True)
        try:
            self.loop.run_forever()
        finally:
            tasks = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
            for t in tasks:
                t.cancel()
            if tasks:
                self.loop.run_until_complete(
                    asyncio.gather(*tasks, return_exceptions=True))
            self.loop.close()

    def call(self, coro, timeout=15):
        """Run a coroutine on the client's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def iq(self, to, payload=None, type="get", timeout=10):
        """Send an IQ (payload: XML text or Element) and return the Reply,
        result or error. Raises TimeoutError without a reply."""
        from slixmpp.exceptions import IqError, IqTimeout
        from slixmpp.xmlstream import ET

        async def go():
            iq = self.xmpp.Iq()
            iq["type"] = type
            if to:
                iq["to"] = to
            if payload is not None:
                iq.append(ET.fromstring(payload) if isinstance(payload, str)
                          else payload)
            try:
                return await iq.send(timeout=timeout)
            except IqError as e:
                return e.iq
            except IqTimeout:
                return None
        reply = self.call(go(), timeout + 5)
        if reply is None:
            raise TimeoutError("no reply from %s within %s s to %s" % (
                to, timeout, payload))
        return Reply(reply)

    def disco_info(self, jid, node=None, timeout=10):
        q = "<query xmlns='%s'%s/>" % (
            NS_DISCO_INFO, " node='%s'" % node if node else "")
        return DiscoInfo(self.iq(jid, q, "get", timeout).stanza)

    def disco_items(self, jid, node=None, timeout=10):
        q = "<query xmlns='%s'%s/>" % (
            NS_DISCO_ITEMS, " node='%s'" % node if node else "")
        return self.iq(jid, q, "get", timeout)

    def ping(self, jid, timeout=10):
        return self.iq(jid, "<ping xmlns='urn:xmpp:ping'/>", "get", timeout)

    def version(self, jid, timeout=10):
        return self.iq(jid, "<query xmlns='jabber:iq:version'/>", "get",
                       timeout)

    def send_raw(self, xml):
        self.loop.call_soon_threadsafe(self.xmpp.send_raw, xml)

    def send_message(self, to, body, mtype="chat"):
        self.loop.call_soon_threadsafe(
            lambda: self.xmpp.send_message(mto=to, mbody=body, mtype=mtype))

    def wait_message(self, pred=lambda m: True, timeout=10):
        """Next received message satisfying pred (others are discarded)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("%s: no matching message within %s s" %
                                   (self.bare, timeout))
            try:
                m = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            if pred(m):
                return m

    def connected(self):
        return (self._thread is not None and self._thread.is_alive()
                and not self._gone.is_set())

    def disconnect(self, timeout=3):
        if self.loop is None or self.loop.is_closed():
            return
        if self.xmpp is not None and not self._gone.is_set():
            try:
                self.loop.call_soon_threadsafe(
                    lambda: self.xmpp.disconnect(wait=1.0))
            except RuntimeError:
                pass
            self._gone.wait(timeout)
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:
            pass
        self._thread.join(timeout)


@pytest.fixture
def client():
    """client(server, user="alice", password=None, presence=True,
    timeout=10) -> logged-in XmppClient; disconnected at teardown."""
    clients = []

    def connect(server, user="alice", password=None, presence=True,
                timeout=10):
        c = XmppClient(server.jid(user),
                       server.password if password is None else password,
                       server.c2s_port, presence=presence)
        clients.append(c)
        return c.start(timeout)

    yield connect
    for c in clients:
        c.disconnect()
