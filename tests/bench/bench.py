#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench.py: every benchmark of tests/bench/ against one server.

usage: tests/bench/bench.py prosody|ejabberd RESULTS_FILE
env:   RESTANZA_BIN (restanza built -O2), BENCH_TOOLS (dir of c2s, ceiling,
       sink built by run.sh), BENCH_SECONDS (wrk duration of rest-send, 20),
       BENCH_STORE (restanza's store.path; default a file in the bench's
       directory, "none" to measure without the store)

Prints and writes "key value" lines; run.sh turns both servers' files into
one table.  Every figure is measured in this run.
"""
import base64
import json
import os
import pathlib
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
import servers  # noqa: E402

TOKEN = "bench-token-0123456789abcdef"
ROSTER_TOKEN = "bench-roster-token-0123456789"
TOOLS = pathlib.Path(os.environ.get("BENCH_TOOLS", REPO / "build" / "bench"))
BINARY = os.environ.get("RESTANZA_BIN", str(REPO / "src" / "restanza"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "20"))
CEILING_SECONDS = int(os.environ.get("BENCH_CEILING_SECONDS", "10"))
PING_SECONDS = int(os.environ.get("BENCH_PING_SECONDS", "5"))
# Prosody mod_rest, JSON message to an online user, component mode, wrk
# -t2 -c50 (../shared/INTEROP.md §8, same machine class).
MOD_REST_RPS = 1764
CONFIRM_SECONDS = int(os.environ.get("BENCH_CONFIRM_SECONDS", "5"))
API_SECONDS = int(os.environ.get("BENCH_API_SECONDS", "10"))
# Which phases run (comma-separated; default all): ceiling, ping, send,
# webhook, refresh, cache.
PHASES = os.environ.get("BENCH_PHASES",
                        "ceiling,ping,send,webhook,refresh,cache").split(",")
WEBHOOK_N = 20000
WEBHOOK_SENDERS = ("alice", "carol", "dave", "erin")
REFRESH_USERS = 10000
CACHE_USERS, CACHE_CONTACTS = 1000, 100
NOPROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

results = {}


def note(key, value):
    results[key] = value
    print("%-28s %s" % (key, value), flush=True)


def rss_kb(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(field + r":\s+(\d+)", f.read()).group(1))


def cpu_seconds():
    """CPU time used so far by every process: {pid: (pgid, seconds)}."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(d)] = (int(st[2]), (int(st[11]) + int(st[12])) / tick)
    return out


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


class CpuMeter:
    """Who used the machine's CPU during one phase: the XMPP server (its
    process group), restanza, our still-running tools, and the children
    that exited during the phase (wrk, ceiling)."""

    def __init__(self, server_pgid, restanza_pid=None):
        self.pgid, self.rpid = server_pgid, restanza_pid
        self.t0, self.c0, self.k0 = time.monotonic(), cpu_seconds(), children_cpu()

    def stop(self):
        c1, k1 = cpu_seconds(), children_cpu()
        res = {"server": 0.0, "restanza": 0.0, "tools": 0.0, "other": 0.0}
        me = os.getpid()
        for pid, (pgid, sec) in c1.items():
            d = sec - self.c0.get(pid, (0, 0.0))[1]
            if pgid == self.pgid:
                res["server"] += d
            elif pid == self.rpid:
                res["restanza"] += d
            elif pid == me or self._is_child(pid, me):
                res["tools"] += d
            else:
                res["other"] += d
        res["exited_children"] = k1 - self.k0
        res["wall"] = time.monotonic() - self.t0
        return res

    @staticmethod
    def _is_child(pid, me):
        try:
            with open("/proc/%d/stat" % pid) as f:
                return int(f.read().rsplit(")", 1)[1].split()[1]) == me
        except OSError:
            return False


class Tool:
    """One of our C tools, with a line protocol on stdout."""

    def __init__(self, *args):
        self.p = subprocess.Popen([str(a) for a in args], stdout=subprocess.PIPE,
                                  text=True, start_new_session=True)

    def line(self):
        return self.p.stdout.readline().strip()

    def query(self):
        self.p.send_signal(signal.SIGUSR1)
        return self.line().split()

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


class Drain(Tool):
    """A raw c2s client that counts the chat messages it receives."""

    def __init__(self, server, user="bob"):
        super().__init__(TOOLS / "c2s", "drain", "127.0.0.1", server.c2s_port,
                         server.domain, user, server.password)
        if self.line() != "ready":
            raise RuntimeError("c2s drain did not log in")

    def count(self):
        f = self.query()
        return int(f[1]), float(f[3])

    def settle(self, want, timeout=30):
        """Wait until `want` messages arrived or the count stops moving."""
        deadline, last_n, still = time.monotonic() + timeout, -1, 0
        while time.monotonic() < deadline:
            n, t = self.count()
            if n >= want:
                break
            still = still + 1 if n == last_n else 0
            if still >= 10:     # 2 s without a message
                break
            last_n = n
            time.sleep(0.2)
        return self.count()


def wrk(url, conns, seconds, work, lua_body=None, threads=2, headers=None):
    """wrk against url; headers default to restanza's bearer token."""
    lua = work / ("wrk-%d.lua" % conns)
    setup = ""
    if lua_body is not None:
        setup = ('wrk.method = "POST"\nwrk.body = %s\n'
                 'wrk.headers["Content-Type"] = "application/json"\n'
                 % json.dumps(lua_body))
    if headers is None:
        headers = {"Authorization": "Bearer " + TOKEN}
    setup += "".join('wrk.headers[%s] = %s\n' % (json.dumps(k), json.dumps(v))
                     for k, v in headers.items())
    lua.write_text(
        setup +
        'done = function(summary, latency, requests)\n'
        '  io.write(string.format("p50_us %d\\np99_us %d\\n",\n'
        '    latency:percentile(50), latency:percentile(99)))\n'
        '  io.write(string.format("status_errors %d\\nsock_errors %d\\n",\n'
        '    summary.errors.status, summary.errors.connect +'
        ' summary.errors.read + summary.errors.write +'
        ' summary.errors.timeout))\nend\n')
    out = subprocess.run(
        ["wrk", "-t%d" % min(threads, conns), "-c%d" % conns,
         "-d%ds" % seconds, "-s", str(lua), url],
        capture_output=True, text=True).stdout
    try:
        return {
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "secs": float(re.search(r"requests in ([\d.]+)s", out).group(1)),
            "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": int(re.search(r"p50_us (\d+)", out).group(1)) / 1000,
            "p99": int(re.search(r"p99_us (\d+)", out).group(1)) / 1000,
            "non2xx": int(re.search(r"status_errors (\d+)", out).group(1)),
            "sockerr": int(re.search(r"sock_errors (\d+)", out).group(1)),
        }
    except AttributeError:
        raise RuntimeError("cannot parse wrk output:\n" + out)


def http(method, url, body=None, token=TOKEN, timeout=600):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json",
        "Authorization": "Bearer " + token})
    try:
        with NOPROXY.open(req, timeout=timeout) as r:
            return r.status, json.loads(r.read().decode() or "null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


class Restanza:
    def __init__(self, server, work, name, sections):
        self.port = servers.free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        conf = work / ("%s.conf" % name)
        text = ("[server]\ndomain = %s\nport = %d\n[component]\njid = %s\n"
                "secret = %s\n[http]\nlisten = 127.0.0.1:%d\n[log]\n"
                "level = warn\n" % (server.domain, server.component_port,
                                    server.component_jid, server.secret,
                                    self.port))
        # The store is on by default; keep it in the bench's directory.
        sections = dict(sections)
        sections.setdefault("store", {"path": os.environ.get(
            "BENCH_STORE", str(work / (name + ".db")))})
        for sec, kv in sections.items():
            text += "[%s]\n" % sec + "".join("%s = %s\n" % x
                                             for x in kv.items())
        conf.write_text(text)
        self.log = work / ("%s.log" % name)
        self.proc = subprocess.Popen([BINARY, "-f", "-c", str(conf)],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "w"))
        self.pid = self.proc.pid
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with NOPROXY.open(self.url + "/status", timeout=2) as r:
                    st = json.load(r)
                if st["xmpp"]["state"] == "connected":
                    return
            except (OSError, ValueError, KeyError):
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("restanza did not connect:\n" + self.log.read_text())

    def status(self):
        with NOPROXY.open(self.url + "/status", timeout=5) as r:
            return json.load(r)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def bulk_register_ejabberd(server, names):
    """Accounts in one Erlang expression through erl_call (seconds, not the
    minutes of one API call per user)."""
    expr = ("[ejabberd_auth:try_register(list_to_binary(U), <<\"%s\">>, "
            "<<\"%s\">>) || U <- [%s]], ok.\n" % (
                server.domain, server.password,
                ",".join('"%s"' % n for n in names)))
    r = subprocess.run(["erl_call", "-address", "127.0.0.1:%d" % server.dist_port,
                        "-c", server.cookie, "-e"], input=expr, text=True,
                       capture_output=True, timeout=120)
    if "ok" not in r.stdout:
        raise RuntimeError("erl_call register: %s %s" % (r.stdout, r.stderr))


def send_run(url, drain, work, body, seconds, headers=None, pid=None,
             pgid=None, conns=50):
    """wrk POSTing body to url; counts what the drain received."""
    n0, _ = drain.count()
    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.wait(0.5):
            peak[0] = max(peak[0], rss_kb(pid))
    th = threading.Thread(target=sample, daemon=True)
    if pid is not None:
        th.start()
    meter = CpuMeter(pgid, pid)
    w = wrk(url, conns, seconds, work, lua_body=body, headers=headers)
    w["cpu"] = meter.stop()
    stop.set()
    if pid is not None:
        th.join()
    w["accepted"] = w["requests"] - w["non2xx"]
    n1, _ = drain.settle(n0 + w["accepted"])
    w["delivered"] = n1 - n0
    w["ok_rps"] = w["accepted"] / w["secs"]
    w["non2xx_pct"] = 100.0 * w["non2xx"] / max(1, w["requests"])
    w["rss_peak"] = peak[0]
    return w


def rest_send(r, server, drain, work, ceiling):
    """POST /rest at saturation, then with Prefer: wait=server."""
    body = json.dumps({"kind": "message", "type": "chat",
                       "to": server.jid("bob"), "body": "bench"})
    w = send_run(r.url + "/rest", drain, work, body, SECONDS, pid=r.pid,
                 pgid=server.proc.pid)
    cpu, accepted = w["cpu"], w["accepted"]
    note("send_rps", "%.0f" % w["rps"])
    note("send_p50_ms", "%.2f" % w["p50"])
    note("send_p99_ms", "%.2f" % w["p99"])
    note("send_requests", w["requests"])
    note("send_non2xx", w["non2xx"])
    note("send_non2xx_pct", "%.2f" % w["non2xx_pct"])
    note("send_ok_rps", "%.0f" % w["ok_rps"])
    note("send_delivered", w["delivered"])
    # wrk does not count the requests still in flight when it stops
    # (at most one per connection): those are delivered too.
    note("send_in_flight_at_end", max(0, w["delivered"] - accepted))
    note("send_lost", max(0, accepted - w["delivered"]))
    note("send_vs_ceiling", "%.2f" % (w["rps"] / ceiling if ceiling else 0))
    note("send_ok_vs_ceiling",
         "%.2f" % (w["ok_rps"] / ceiling if ceiling else 0))
    note("rss_send_peak_kb", w["rss_peak"])
    # Where the two cores went while wrk ran (CPU seconds).
    note("send_cpu_wall_s", "%.1f" % cpu["wall"])
    note("send_cpu_server_s", "%.1f" % cpu["server"])
    note("send_cpu_restanza_s", "%.1f" % cpu["restanza"])
    note("send_cpu_wrk_s", "%.1f" % cpu["exited_children"])
    note("send_cpu_drain_s", "%.1f" % cpu["tools"])
    note("send_restanza_us_per_req", "%.1f" % (
        1e6 * cpu["restanza"] / max(1, w["requests"])))
    # The server's CPU per message it routed, through restanza and raw:
    # equal means restanza costs the server nothing extra per message.
    note("send_server_us_per_msg", "%.1f" % (
        1e6 * cpu["server"] / max(1, accepted)))
    # Every request waits for the server's confirmation (SPEC §10), at
    # saturation and one at a time (against the same without the wait).
    confirm = {"Authorization": "Bearer " + TOKEN, "Prefer": "wait=server"}
    w = send_run(r.url + "/rest", drain, work, body, CONFIRM_SECONDS,
                 headers=confirm)
    note("confirm_ok_rps", "%.0f" % w["ok_rps"])
    note("confirm_non2xx_pct", "%.2f" % w["non2xx_pct"])
    note("confirm_p50_ms", "%.2f" % w["p50"])
    note("confirm_p99_ms", "%.2f" % w["p99"])
    lost = max(0, w["accepted"] - w["delivered"])
    for key, headers in (("send_c1", None), ("confirm_c1", confirm)):
        w = send_run(r.url + "/rest", drain, work, body, CONFIRM_SECONDS,
                     headers=headers, conns=1)
        note(key + "_p50_ms", "%.2f" % w["p50"])
        note(key + "_p99_ms", "%.2f" % w["p99"])
        note(key + "_ok_rps", "%.0f" % w["ok_rps"])
        lost += max(0, w["accepted"] - w["delivered"])
    note("confirm_lost", lost)
    if server.name == "prosody":
        # Prosody's mod_rest was measured once (INTEROP.md §8), not here.
        note("send_vs_mod_rest", "%.1f" % (
            float(results["send_ok_rps"]) / MOD_REST_RPS))


def http_api_send(server, drain, work):
    """ejabberd's own HTTP API (mod_http_api send_message), same load."""
    body = json.dumps({"type": "chat", "from": server.admin_jid,
                       "to": server.jid("bob"), "subject": "",
                       "body": "bench"})
    basic = base64.b64encode(("%s:%s" % (server.admin_jid,
                                          server.admin_password)).encode())
    w = send_run(server.api_url + "/send_message", drain, work, body,
                 API_SECONDS,
                 headers={"Authorization": "Basic " + basic.decode()})
    note("api_ok_rps", "%.0f" % w["ok_rps"])
    note("api_non2xx_pct", "%.2f" % w["non2xx_pct"])
    note("api_p50_ms", "%.2f" % w["p50"])
    note("api_p99_ms", "%.2f" % w["p99"])
    note("api_delivered", w["delivered"])
    ok = float(results.get("send_ok_rps", 0))
    note("send_vs_api", "%.1f" % (ok / w["ok_rps"] if w["ok_rps"] else 0))


def ceiling_phase(server, drain):
    """The raw component (restanza not connected): messages per second."""
    n0, _ = drain.count()
    meter = CpuMeter(server.proc.pid)
    out = subprocess.run(
        [str(TOOLS / "ceiling"), "127.0.0.1", str(server.component_port),
         server.component_jid, server.secret, server.jid("bob"),
         str(CEILING_SECONDS)],
        capture_output=True, text=True, timeout=CEILING_SECONDS + 60)
    m = re.search(r"sent (\d+) seconds ([\d.]+) start ([\d.]+)", out.stdout)
    if not m:
        raise RuntimeError("ceiling: %s %s" % (out.stdout, out.stderr))
    sent, start = int(m.group(1)), float(m.group(3))
    n1, last = drain.settle(n0 + sent)
    cpu = meter.stop()
    delivered = n1 - n0
    ceiling = delivered / (last - start) if last > start else 0
    note("ceiling_sent", sent)
    note("ceiling_delivered", delivered)
    note("ceiling_msg_s", "%.0f" % ceiling)
    note("ceiling_cpu_server_s", "%.1f" % cpu["server"])
    note("ceiling_cpu_tools_s", "%.1f" % (cpu["tools"] +
                                          cpu["exited_children"]))
    note("ceiling_cpu_wall_s", "%.1f" % cpu["wall"])
    note("ceiling_server_us_per_msg", "%.1f" % (
        1e6 * cpu["server"] / max(1, delivered)))
    return ceiling


def start_restanza(server, work, sink_port):
    """restanza with REST, webhook and roster; its idle memory."""
    roster = {"url": "http://127.0.0.1:%d/contacts/%%s" % sink_port,
              "token": ROSTER_TOKEN, "timeout": 30, "min_interval": 0}
    if server.name == "ejabberd":
        roster.update(writer="ejabberd-api", api_url=server.api_url,
                      api_user=server.admin_jid,
                      api_password=server.admin_password)
    else:
        roster.update(writer="privilege")
    r = Restanza(server, work, "restanza", {
        "rest": {"tokens": TOKEN},
        "webhook": {"url": "http://127.0.0.1:%d/hook" % sink_port,
                    "stanzas": "message", "queue_max": 100000},
        "roster": roster})
    time.sleep(2)
    note("rss_idle_kb", rss_kb(r.pid))
    # Anonymous memory: restanza's own, what page cache cannot share.
    note("rss_idle_anon_kb", rss_kb(r.pid, "RssAnon"))
    floor = subprocess.run([str(TOOLS / "floor")], capture_output=True,
                           text=True, timeout=30).stdout
    m = re.search(r"rss_kb (\d+)", floor)
    note("rss_floor_kb", m.group(1) if m else "?")
    if m:
        note("rss_idle_above_floor_kb", rss_kb(r.pid) - int(m.group(1)))
    return r


def ping_phase(r, server, work):
    for c in (1, 50):
        w = wrk(r.url + "/rest/ping/" + server.domain, c, PING_SECONDS, work)
        note("ping_c%d_rps" % c, "%.0f" % w["rps"])
        note("ping_c%d_p50_ms" % c, "%.2f" % w["p50"])
        note("ping_c%d_p99_ms" % c, "%.2f" % w["p99"])
        note("ping_c%d_errors" % c, w["non2xx"] + w["sockerr"])


def webhook_phase(server, sink):
    """4 raw clients send WEBHOOK_N messages to the component's bot."""
    bot = "bot@" + server.component_jid
    before = int(sink.query()[1])
    per = WEBHOOK_N // len(WEBHOOK_SENDERS)
    t0 = time.monotonic()
    blasts = [Tool(TOOLS / "c2s", "blast", "127.0.0.1", server.c2s_port,
                   server.domain, u, server.password, bot, per)
              for u in WEBHOOK_SENDERS]
    for b in blasts:
        b.p.wait(120)
    deadline, got, still, prev, last = time.monotonic() + 60, 0, 0, -1, t0
    while time.monotonic() < deadline:
        f = sink.query()
        got, last = int(f[1]) - before, float(f[7])
        if got >= WEBHOOK_N:
            break
        still = still + 1 if got == prev else 0
        if still >= 25:     # 5 s without a POST
            break
        prev = got
        time.sleep(0.2)
    note("webhook_sent", per * len(WEBHOOK_SENDERS))
    note("webhook_posted", got)
    note("webhook_stanzas_s", "%.0f" % (got / max(1e-3, last - t0)))
    note("webhook_lost", per * len(WEBHOOK_SENDERS) - got)


def refresh_phase(r, refresh_users):
    t0 = time.monotonic()
    st, ans = http("POST", r.url + "/roster_admin/refresh", refresh_users,
                   token=ROSTER_TOKEN)
    secs = time.monotonic() - t0
    failed = ans.get("failed", {}) if isinstance(ans, dict) else None
    note("refresh_users", len(refresh_users))
    note("refresh_s", "%.2f" % secs)
    note("refresh_status", st)
    note("refresh_errors", len(failed) if failed is not None else
         len(refresh_users))
    if failed:
        print("refresh first errors:", list(failed.items())[:3])
    elif not isinstance(ans, dict):
        print("refresh answer:", str(ans)[:300])


def cache_phase(server, work, sink_port, procs):
    """Memory with 100,000 cached roster entries."""
    cache_users = ["big%04d" % i for i in range(CACHE_USERS)]
    m = Restanza(server, work, "restanza-cache", {
        "roster": {"url": "http://127.0.0.1:%d/contacts/%%s" % sink_port,
                   "token": ROSTER_TOKEN, "writer": "none",
                   "min_interval": 0}})
    procs.append(m)
    time.sleep(1)
    note("rss_idle_roster_only_kb", rss_kb(m.pid))
    st, ans = http("POST", m.url + "/roster_admin/refresh", cache_users,
                   token=ROSTER_TOKEN)
    cached = m.status().get("roster", {})
    note("cache_entries", CACHE_USERS * CACHE_CONTACTS
         if st == 200 else "refresh failed: %s" % st)
    note("cache_status", json.dumps(cached.get("cached", cached))[:60])
    note("rss_cache_100k_kb", rss_kb(m.pid))
    m.stop()
    procs.remove(m)


def start_server(name, work, refresh_users):
    users = list(servers.DEFAULT_USERS) + ["dave", "erin"]
    opts = {"basedir": str(work / name), "loglevel": "warning"}
    if name == "prosody":
        # Prosody: account files are written before the start (fast).
        opts["users"] = users + refresh_users
        # Privileged roster writes, as the roster tests do: no delegation.
        opts["delegate"] = ()
    server = servers.make(name, **opts)
    t0 = time.monotonic()
    server.start()
    try:
        if name == "ejabberd":
            bulk_register_ejabberd(server, ["dave", "erin"] + refresh_users)
    except Exception:
        server.stop()
        raise
    note("server_start_s", "%.1f" % (time.monotonic() - t0))
    return server


def main():
    name, outfile = sys.argv[1], pathlib.Path(sys.argv[2])
    work = pathlib.Path(tempfile.mkdtemp(prefix="restanza-bench-%s-" % name))
    refresh_users = ["u%05d" % i for i in range(REFRESH_USERS)]
    if "refresh" not in PHASES:
        refresh_users = []
    server = start_server(name, work, refresh_users)
    tools, procs = [], []
    try:
        sink = Tool(TOOLS / "sink", CACHE_CONTACTS, server.domain)
        tools.append(sink)
        sink_port = int(sink.line().split()[1])
        drain = Drain(server)
        tools.append(drain)
        ceiling = ceiling_phase(server, drain) if "ceiling" in PHASES else 0
        r = start_restanza(server, work, sink_port)
        procs.append(r)
        if "ping" in PHASES:
            ping_phase(r, server, work)
        if "send" in PHASES:
            rest_send(r, server, drain, work, ceiling)
            if name == "ejabberd":
                http_api_send(server, drain, work)
        if "webhook" in PHASES:
            webhook_phase(server, sink)
        if "refresh" in PHASES:
            refresh_phase(r, refresh_users)
        r.stop()
        procs.remove(r)
        if "cache" in PHASES:
            cache_phase(server, work, sink_port, procs)
    finally:
        for p in procs:
            p.stop()
        for t in tools:
            t.stop()
        server.stop()
    outfile.parent.mkdir(parents=True, exist_ok=True)
    with open(outfile, "w") as f:
        f.write("# restanza bench, server=%s, %s, phases=%s\n" % (
            name, time.strftime("%Y-%m-%d %H:%M:%S"), ",".join(PHASES)))
        for k, v in results.items():
            f.write("%s %s\n" % (k, v))


if __name__ == "__main__":
    main()
