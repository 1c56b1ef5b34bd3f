#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""events.py: the durable event log's benchmarks (issue 11; SPEC §8, §9).

usage: tests/bench/events.py [prosody|ejabberd|none] [RESULTS_FILE]
env:   RESTANZA_BIN (restanza built -O2; default build/bench/obj/src/restanza
       as tests/bench/run.sh builds it), BENCH_TOOLS (where evtool and c2s
       are or are built: build/bench), EVBENCH_N (100000 stanzas per
       throughput run), EVBENCH_SENDERS (1000), EVBENCH_BACKLOG (1000000),
       EVBENCH_SERVER_N (40000), EVBENCH_SERVER_USERS (16), EVBENCH_PARTS
       (feed,server,backlog: which parts run)

Three parts, every figure measured in this run:

feed     restanza alone: evtool feed is a fake XMPP server on restanza's
         component connection that pushes EVBENCH_N chat messages from
         EVBENCH_SENDERS senders as fast as restanza reads them; evtool sink
         is the webhook (202, keep-alive). Store off (store.path = none,
         webhook.queue_max raised so that nothing is refused) and on, and
         on with 4 senders and with 1 (EVBENCH_N / 5 messages): one
         delivery is in flight per sender.
server   the same through a real XMPP server: EVBENCH_SERVER_USERS c2s
         clients (tests/bench/c2s.c blast) send EVBENCH_SERVER_N messages in
         all to the component; store off and on.
backlog  the webhook answers 503 while the feed logs EVBENCH_BACKLOG
         messages (restanza's RSS sampled as the backlog grows, disk bytes
         per event after), then answers 202: time to drain it all.

The sink checks every delivery: per sender, numbers in order (a gap is a
loss or a reordering), repeats counted. Prints "key value" lines, then a
table; with RESULTS_FILE also writes the lines there.
"""
import json
import os
import pathlib
import queue
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
import servers  # noqa: E402

TOOLS = pathlib.Path(os.environ.get("BENCH_TOOLS", REPO / "build" / "bench"))
BINARY = os.environ.get("RESTANZA_BIN", str(
    REPO / "build" / "bench" / "obj" / "src" / "restanza"))
N = int(os.environ.get("EVBENCH_N", "100000"))
SENDERS = int(os.environ.get("EVBENCH_SENDERS", "1000"))
BACKLOG = int(os.environ.get("EVBENCH_BACKLOG", "1000000"))
SERVER_N = int(os.environ.get("EVBENCH_SERVER_N", "40000"))
SERVER_USERS = int(os.environ.get("EVBENCH_SERVER_USERS", "16"))
PARTS = os.environ.get("EVBENCH_PARTS", "feed,server,backlog").split(",")
NOPROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
TICK = os.sysconf("SC_CLK_TCK")

results = {}


def note(key, value):
    results[key] = value
    print("%-34s %s" % (key, value), flush=True)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        st = f.read().rsplit(")", 1)[1].split()
    return (int(st[11]) + int(st[12])) / TICK


def machine_busy_s():
    """CPU-seconds the whole machine has been busy (all cores)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / TICK  # less idle and iowait


def build_tools():
    TOOLS.mkdir(parents=True, exist_ok=True)
    for t in ("evtool", "c2s"):
        src, exe = HERE / (t + ".c"), TOOLS / t
        if not exe.exists() or exe.stat().st_mtime < src.stat().st_mtime:
            subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-o", str(exe),
                            str(src)], check=True)


class Tool:
    """evtool: commands on stdin, answers read by a thread into a queue."""

    def __init__(self, mode):
        self.p = subprocess.Popen([str(TOOLS / "evtool"), mode],
                                  stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True,
                                  start_new_session=True)
        self.q = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.port = int(self.wait("port").split()[1])

    def _read(self):
        for line in self.p.stdout:
            self.q.put(line.strip())

    def cmd(self, text):
        self.p.stdin.write(text + "\n")
        self.p.stdin.flush()

    def wait(self, prefix, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.q.get(timeout=max(0.01, deadline -
                                              time.monotonic()))
            except queue.Empty:
                raise RuntimeError("evtool: no %r line" % prefix)
            if line.startswith(prefix):
                return line

    def stat(self):
        self.cmd("stat")
        f = self.wait("posts").split()
        d = dict(zip(f[::2], f[1::2]))
        return {k: (float(v) if k in ("first", "last") else int(v))
                for k, v in d.items()}

    def stop(self):
        if self.p.poll() is None:
            try:
                self.cmd("quit")
                self.p.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait()


class Restanza:
    def __init__(self, work, name, server_port, domain, component, secret,
                 sections):
        self.port = servers.free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        text = ("[server]\ndomain = %s\nport = %d\n[component]\njid = %s\n"
                "secret = %s\n[http]\nlisten = 127.0.0.1:%d\n[log]\n"
                "level = warn\n" % (domain, server_port, component, secret,
                                    self.port))
        for sec, kv in sections.items():
            text += "[%s]\n" % sec + "".join("%s = %s\n" % x
                                             for x in kv.items())
        conf = work / (name + ".conf")
        conf.write_text(text)
        self.log = work / (name + ".log")
        self.proc = subprocess.Popen([BINARY, "-f", "-c", str(conf)],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "w"))
        self.pid = self.proc.pid

    def wait_connected(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.status()["xmpp"]["state"] == "connected":
                    return
            except (OSError, ValueError, KeyError):
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("restanza did not connect:\n" +
                           self.log.read_text()[-2000:])

    def status(self):
        with NOPROXY.open(self.url + "/status", timeout=60) as r:
            return json.load(r)

    def refused(self):
        """Stanzas answered wait/resource-constraint for a full webhook
        queue (or a failed log write): the sender was told."""
        with NOPROXY.open(self.url + "/metrics", timeout=60) as r:
            m = re.search(r'restanza_webhook_failures_total\{reason='
                          r'"queue_full"\} (\d+)', r.read().decode())
        return int(m.group(1)) if m else 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def webhook_conf(sink, store, **extra):
    sections = {"webhook": {"url": "http://127.0.0.1:%d/hook" % sink.port,
                            "stanzas": "message"},
                "store": {"path": store}}
    sections["webhook"].update(extra)
    return sections


def wait_delivered(sink, want, t0, timeout=300, idle=20):
    """Sink stats once want messages arrived, or the count stopped moving
    for idle seconds, or timeout."""
    deadline, prev, since = time.monotonic() + timeout, -1, time.monotonic()
    while True:
        st = sink.stat()
        if st["new"] >= want or time.monotonic() > deadline:
            return st
        if st["new"] != prev:
            prev, since = st["new"], time.monotonic()
        elif time.monotonic() - since > idle:
            return st
        time.sleep(0.2)


def delivered_notes(prefix, st, sent, t0, cpu, refused=0):
    rate = st["new"] / (st["last"] - t0) if st["new"] and st["last"] > t0 \
        else 0
    note(prefix + "_stanzas_s", "%.0f" % rate)
    note(prefix + "_delivered", "%d/%d" % (st["new"], sent))
    note(prefix + "_refused", refused)
    note(prefix + "_lost", sent - st["new"] - refused)
    note(prefix + "_out_of_order", st["gap"])
    note(prefix + "_repeats", st["dup"])
    note(prefix + "_restanza_us_per_event", "%.1f" % (1e6 * cpu /
                                                      max(1, st["new"])))
    return rate


def feed_run(work, label, store, senders, n, queue_max=None):
    """n messages from senders through the fake server; store "none" or a
    path. Returns the rate."""
    feed, sink = Tool("feed"), Tool("sink")
    extra = {"queue_max": queue_max} if queue_max else {}
    r = Restanza(work, label, feed.port, "localhost", "rest.localhost",
                 "bench", webhook_conf(sink, store, **extra))
    try:
        feed.wait("connected")
        r.wait_connected()
        c0 = cpu_s(r.pid)
        feed.cmd("go %d %d" % (n, senders))
        sent = feed.wait("sent", timeout=300).split()
        t0 = float(sent[5])
        st = wait_delivered(sink, n, t0)
        cpu = cpu_s(r.pid) - c0
        note(label + "_log_s" if store != "none" else label + "_read_s",
             "%.1f" % float(sent[3]))
        return delivered_notes(label, st, n, t0, cpu, r.refused())
    finally:
        r.stop()
        feed.stop()
        sink.stop()


def bulk_register_ejabberd(server, names):
    expr = ("[ejabberd_auth:try_register(list_to_binary(U), <<\"%s\">>, "
            "<<\"%s\">>) || U <- [%s]], ok.\n" % (
                server.domain, server.password,
                ",".join('"%s"' % n for n in names)))
    r = subprocess.run(["erl_call", "-address",
                        "127.0.0.1:%d" % server.dist_port, "-c",
                        server.cookie, "-e"], input=expr, text=True,
                       capture_output=True, timeout=120)
    if "ok" not in r.stdout:
        raise RuntimeError("erl_call register: %s %s" % (r.stdout, r.stderr))


def server_runs(work, name):
    users = ["ev%02d" % i for i in range(SERVER_USERS)]
    opts = {"basedir": str(work / name), "loglevel": "warning",
            "delegate": ()}
    if name == "prosody":
        opts["users"] = list(servers.DEFAULT_USERS) + users
    server = servers.make(name, **opts)
    server.start()
    try:
        if name == "ejabberd":
            bulk_register_ejabberd(server, users)
        per = SERVER_N // SERVER_USERS
        for label, store in (("server_off", "none"),
                             ("server_on", str(work / "server.db"))):
            label = label.replace("server", name)
            sink = Tool("sink")
            r = Restanza(work, label, server.component_port, server.domain,
                         server.component_jid, server.secret,
                         webhook_conf(sink, store))
            try:
                r.wait_connected()
                c0 = cpu_s(r.pid)
                bot = "bot@" + server.component_jid
                t0 = time.monotonic()
                blasts = [subprocess.Popen(
                    [str(TOOLS / "c2s"), "blast", "127.0.0.1",
                     str(server.c2s_port), server.domain, u, server.password,
                     bot, str(per)], stdout=subprocess.DEVNULL)
                    for u in users]
                for b in blasts:
                    b.wait(300)
                st = wait_delivered(sink, per * len(users), t0)
                delivered_notes(label, st, per * len(users), t0,
                                cpu_s(r.pid) - c0, r.refused())
            finally:
                r.stop()
                sink.stop()
    finally:
        server.stop()


def backlog_run(work):
    feed, sink = Tool("feed"), Tool("sink")
    db = work / "backlog.db"
    r = Restanza(work, "backlog", feed.port, "localhost", "rest.localhost",
                 "bench", webhook_conf(sink, str(db)))
    try:
        sink.cmd("down")
        feed.wait("connected")
        r.wait_connected()
        time.sleep(1)

        def disk():
            return sum(p.stat().st_size for p in (db, pathlib.Path(
                str(db) + "-wal")) if p.exists())
        disk0, rss0 = disk(), rss_kb(r.pid)
        note("backlog_rss_before_kb", rss0)
        c0 = cpu_s(r.pid)
        feed.cmd("go %d %d" % (BACKLOG, SENDERS))
        samples = []   # (messages fed so far, rss_kb)
        deadline = time.monotonic() + 600
        while True:
            time.sleep(0.5)
            feed.cmd("stat")
            line = feed.wait(("fed", "sent"))
            if line.startswith("sent") or time.monotonic() > deadline:
                break
            samples.append((int(line.split()[1]), rss_kb(r.pid)))
        sent = line.split()
        t0 = float(sent[5])
        # Logged: restanza has read the socket dry and committed.
        deadline = time.monotonic() + 120
        while r.status()["events"]["last_id"] < BACKLOG:
            if time.monotonic() > deadline:
                raise RuntimeError("the backlog was not logged")
            time.sleep(1)
        t_logged = time.monotonic()
        samples.append((BACKLOG, rss_kb(r.pid)))
        cpu_log = cpu_s(r.pid) - c0
        ev = r.status()["events"]
        note("backlog_events", ev["backlog"])
        note("backlog_log_stanzas_s", "%.0f" % (BACKLOG / (t_logged - t0)))
        note("backlog_log_restanza_us_per_event",
             "%.1f" % (1e6 * cpu_log / BACKLOG))
        for frac in (0.1, 0.25, 0.5, 0.75, 1.0):
            fed, kb = min(samples, key=lambda s: abs(s[0] - frac * BACKLOG))
            note("backlog_rss_at_%d%%_kb" % round(100 * frac), kb)
        # Flat: from the first tenth (SQLite's page cache filled by then)
        # to the end.
        later = [kb for fed, kb in samples if fed >= BACKLOG // 10]
        at10 = later[0] if later else samples[-1][1]
        note("backlog_rss_max_kb", max(kb for _, kb in samples))
        note("backlog_rss_growth_kb", max(later or [at10]) - at10)
        size = disk() - disk0
        note("backlog_disk_bytes", size)
        note("backlog_disk_bytes_per_event", "%.0f" % (size / BACKLOG))
        note("backlog_refused_while_down", sink.stat()["refused"])
        # The webhook is back.
        c1 = cpu_s(r.pid)
        peak = [0]
        stop = threading.Event()

        def sample():
            while not stop.wait(0.5):
                peak[0] = max(peak[0], rss_kb(r.pid))
        th = threading.Thread(target=sample, daemon=True)
        th.start()
        t_up = time.monotonic()
        sink.cmd("up")
        st = wait_delivered(sink, BACKLOG, t_up, timeout=600)
        stop.set()
        th.join()
        cpu = cpu_s(r.pid) - c1
        note("backlog_first_delivery_after_up_s", "%.2f" % (
            st["first"] - t_up if st["first"] else -1))
        note("backlog_drain_s", "%.1f" % (st["last"] - t_up))
        delivered_notes("backlog_drain", st, BACKLOG, t_up, cpu, r.refused())
        note("backlog_rss_drain_peak_kb", peak[0])
        note("backlog_after_drain", r.status()["events"]["backlog"])
    finally:
        r.stop()
        feed.stop()
        sink.stop()


def table():
    R = results.get
    rows = [
        ("webhook stanzas/s, restanza alone, store off (%d senders)"
         % SENDERS, "feed_off"),
        ("webhook stanzas/s, restanza alone, store on (%d senders)"
         % SENDERS, "feed_on"),
        ("webhook stanzas/s, restanza alone, store on (4 senders)",
         "feed_on_4"),
        ("webhook stanzas/s, restanza alone, store on (1 sender)",
         "feed_on_1"),
    ]
    for name in ("prosody", "ejabberd"):
        rows += [("webhook stanzas/s via %s, store off (%d c2s senders)"
                  % (name, SERVER_USERS), name + "_off"),
                 ("webhook stanzas/s via %s, store on (%d c2s senders)"
                  % (name, SERVER_USERS), name + "_on")]
    out = ["", "| what | stanzas/s | delivered | refused (error to the "
           "sender) | lost | out of sender order | repeats | restanza CPU "
           "µs/event |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for what, k in rows:
        if R(k + "_stanzas_s") is not None:
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                what, R(k + "_stanzas_s"), R(k + "_delivered"),
                R(k + "_refused"), R(k + "_lost"), R(k + "_out_of_order"),
                R(k + "_repeats"), R(k + "_restanza_us_per_event")))
    if R("backlog_drain_stanzas_s") is not None:
        out += [
            "",
            "| backlog of %d events, %d senders, webhook 503 then 202 | |"
            % (BACKLOG, SENDERS),
            "| --- | --- |",
            "| logged while the webhook is down, stanzas/s | %s |"
            % R("backlog_log_stanzas_s"),
            "| RSS before / at 10, 25, 50, 75, 100 %% of the backlog, kB | "
            "%s / %s, %s, %s, %s, %s |" % (
                R("backlog_rss_before_kb"), R("backlog_rss_at_10%_kb"),
                R("backlog_rss_at_25%_kb"), R("backlog_rss_at_50%_kb"),
                R("backlog_rss_at_75%_kb"), R("backlog_rss_at_100%_kb")),
            "| RSS growth from 10 %% to 100 %% of the backlog, kB | %s |"
            % R("backlog_rss_growth_kb"),
            "| disk bytes per event (database + WAL) | %s |"
            % R("backlog_disk_bytes_per_event"),
            "| first delivery after the webhook is back, s | %s |"
            % R("backlog_first_delivery_after_up_s"),
            "| drained, stanzas/s (from the webhook's return) | %s |"
            % R("backlog_drain_stanzas_s"),
            "| delivered / refused / lost / out of sender order / repeats | "
            "%s / %s / %s / %s / %s |" % (
                R("backlog_drain_delivered"), R("backlog_drain_refused"),
                R("backlog_drain_lost"), R("backlog_drain_out_of_order"),
                R("backlog_drain_repeats")),
            "| restanza CPU µs per event: logging / draining | %s / %s |"
            % (R("backlog_log_restanza_us_per_event"),
               R("backlog_drain_restanza_us_per_event")),
            "| RSS peak while draining, kB | %s |"
            % R("backlog_rss_drain_peak_kb"),
        ]
    out += ["", "conditions: %s" % R("conditions")]
    return "\n".join(out)


def main():
    server = sys.argv[1] if len(sys.argv) > 1 else "prosody"
    outfile = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else None
    if server not in ("prosody", "ejabberd", "none"):
        sys.exit(__doc__)
    if not os.access(BINARY, os.X_OK):
        sys.exit("events.py: no restanza at %s: build it -O2 (tests/bench/"
                 "run.sh does, into build/bench/obj) or set RESTANZA_BIN"
                 % BINARY)
    build_tools()
    work = pathlib.Path(tempfile.mkdtemp(prefix="restanza-evbench-"))
    t_start, busy0 = time.monotonic(), machine_busy_s()
    self0 = resource.getrusage(resource.RUSAGE_SELF)
    load0 = os.getloadavg()[0]
    mine = []

    def track(fn, *a):
        """CPU of the processes a part starts, for the conditions line."""
        k0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        fn(*a)
        k1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        mine.append(k1.ru_utime + k1.ru_stime - k0.ru_utime - k0.ru_stime)

    try:
        if "feed" in PARTS:
            track(feed_run, work, "feed_off", "none", SENDERS, N, N + 1000)
            track(feed_run, work, "feed_on", str(work / "feed_on.db"),
                  SENDERS, N)
            track(feed_run, work, "feed_on_4", str(work / "feed_on_4.db"), 4,
                  N)
            track(feed_run, work, "feed_on_1", str(work / "feed_on_1.db"), 1,
                  N // 5)
        if "server" in PARTS and server != "none":
            track(server_runs, work, server)
        if "backlog" in PARTS:
            track(backlog_run, work)
    except BaseException:
        print("events.py: failed; logs kept in %s" % work, file=sys.stderr)
        for db in work.glob("*.db*"):
            db.unlink()
        raise
    shutil.rmtree(work, ignore_errors=True)
    wall = time.monotonic() - t_start
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    ours = sum(mine) + (self1.ru_utime + self1.ru_stime -
                        self0.ru_utime - self0.ru_stime)
    others = max(0.0, machine_busy_s() - busy0 - ours)
    model = "?"
    with open("/proc/cpuinfo") as f:
        m = re.search(r"model name\s*:\s*(.*)", f.read())
        model = m.group(1) if m else model
    note("conditions", "%d cores (%s), %.0f s; load average %.1f at the "
         "start, %.1f at the end; other processes used %.1f cores on "
         "average meanwhile" % (os.cpu_count(), model, wall, load0,
                                os.getloadavg()[0], others / wall))
    print(table(), flush=True)
    if outfile:
        outfile.parent.mkdir(parents=True, exist_ok=True)
        with open(outfile, "w") as f:
            f.write("# restanza events bench, %s\n" %
                    time.strftime("%Y-%m-%d %H:%M:%S"))
            for k, v in results.items():
                f.write("%s %s\n" % (k, v))
            f.write(table() + "\n")


if __name__ == "__main__":
    main()
