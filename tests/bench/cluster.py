#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""cluster.py: wrk through HAProxy with one and two restanza instances on a
two-node ejabberd cluster (SPEC §12, doc/scaling.md). Run by cluster.sh.

usage: tests/bench/cluster.py [RESULTS_FILE]
env:   RESTANZA_BIN (restanza built -O2), BENCH_TOOLS (dir with c2s),
       BENCH_SECONDS (wrk duration per row, 10), BENCH_CONNS (wrk -c, 50)

Rows: each workload (ping: GET /rest/ping/<server>; send: POST /rest, a
chat message to a raw client on node 1) straight to instance A, through
HAProxy to A alone, through HAProxy to A and B (A on node 1, B on node 2).
CPU per request comes from /proc/<pid>/stat (utime + stime) of every process
before and after each row; "others" is what the rest of the machine used
meanwhile (from /proc/stat), the noise of a shared machine.
"""
import json
import os
import pathlib
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
import ejcluster  # noqa: E402
import servers  # noqa: E402

TOKEN = "bench-cluster-token-0123456789"
BINARY = os.environ.get("RESTANZA_BIN", str(REPO / "src" / "restanza"))
TOOLS = pathlib.Path(os.environ.get("BENCH_TOOLS",
                                    REPO / "build" / "bench-cluster"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNS = int(os.environ.get("BENCH_CONNS", "50"))
TICK = os.sysconf("SC_CLK_TCK")
NOPROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

lines = []


def out(text=""):
    print(text, flush=True)
    lines.append(text)


def proc_cpu(pid):
    """utime + stime of one process, seconds."""
    with open("/proc/%d/stat" % pid) as f:
        st = f.read().rsplit(")", 1)[1].split()
    return (int(st[11]) + int(st[12])) / TICK


def machine_busy():
    """CPU seconds the whole machine spent busy so far (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return (sum(v[:8]) - idle) / TICK


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


class Restanza:
    """One instance connected to `node` with its own component domain."""

    def __init__(self, node, work, name):
        self.port = servers.free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        conf = work / ("%s.conf" % name)
        conf.write_text(
            "[server]\ndomain = %s\nport = %d\n[component]\njid = %s\n"
            "secret = %s\n[http]\nlisten = 127.0.0.1:%d\n"
            "max_connections = 2048\n[rest]\ntokens = %s\n[store]\n"
            "path = none\n[log]\nlevel = warn\n" % (
                node.domain, node.service_port, node.own_domain, node.secret,
                self.port, TOKEN))
        self.log = work / ("%s.log" % name)
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([BINARY, "-f", "-c", str(conf)],
                                         stdout=subprocess.DEVNULL,
                                         stderr=log, start_new_session=True)
        self.pid = self.proc.pid
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with NOPROXY.open(self.url + "/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("%s not ready:\n%s" % (name, self.log.read_text()))

    def threads(self):
        return len(os.listdir("/proc/%d/task" % self.pid))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Drain:
    """tests/bench/c2s.c drain: a raw client counting its messages."""

    def __init__(self, node, user):
        self.p = subprocess.Popen(
            [str(TOOLS / "c2s"), "drain", "127.0.0.1", str(node.c2s_port),
             node.domain, user, node.password], stdout=subprocess.PIPE,
            text=True, start_new_session=True)
        if self.p.stdout.readline().strip() != "ready":
            raise RuntimeError("c2s drain did not log in")

    def count(self):
        self.p.send_signal(signal.SIGUSR1)
        return int(self.p.stdout.readline().split()[1])

    def settle(self, want, timeout=30):
        deadline, last, still = time.monotonic() + timeout, -1, 0
        while time.monotonic() < deadline:
            n = self.count()
            if n >= want:
                return n
            still = still + 1 if n == last else 0
            if still >= 10:
                return n
            last = n
            time.sleep(0.2)
        return self.count()

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            self.p.wait(5)


def wrk(url, work, body=None):
    lua = work / "wrk.lua"
    setup = ""
    if body is not None:
        setup = ('wrk.method = "POST"\nwrk.body = %s\n'
                 'wrk.headers["Content-Type"] = "application/json"\n'
                 % json.dumps(json.dumps(body)))
    lua.write_text(
        setup +
        'wrk.headers["Authorization"] = "Bearer %s"\n'
        'done = function(summary, latency, requests)\n'
        '  io.write(string.format("p50_us %%d\\np99_us %%d\\n",\n'
        '    latency:percentile(50), latency:percentile(99)))\n'
        '  io.write(string.format("status_errors %%d\\nsock_errors %%d\\n",\n'
        '    summary.errors.status, summary.errors.connect +'
        ' summary.errors.read + summary.errors.write +'
        ' summary.errors.timeout))\nend\n' % TOKEN)
    text = subprocess.run(
        ["wrk", "-t2", "-c%d" % CONNS, "-d%ds" % SECONDS, "-s", str(lua),
         url], capture_output=True, text=True).stdout
    try:
        return {
            "requests": int(re.search(r"(\d+) requests in", text).group(1)),
            "rps": float(re.search(r"Requests/sec:\s+([\d.]+)",
                                   text).group(1)),
            "p50": int(re.search(r"p50_us (\d+)", text).group(1)) / 1000,
            "p99": int(re.search(r"p99_us (\d+)", text).group(1)) / 1000,
            "errors": int(re.search(r"status_errors (\d+)", text).group(1)) +
            int(re.search(r"sock_errors (\d+)", text).group(1)),
        }
    except AttributeError:
        raise RuntimeError("cannot parse wrk output:\n" + text)


def measure(url, work, groups, body=None):
    """One wrk run; CPU seconds of each group of pids, of wrk, and of the
    rest of the machine during it."""
    before = {k: sum(proc_cpu(p) for p in pids) for k, pids in groups.items()}
    busy0, kids0, t0 = machine_busy(), children_cpu(), time.monotonic()
    w = wrk(url, work, body)
    wall = time.monotonic() - t0
    cpu = {k: sum(proc_cpu(p) for p in pids) - before[k]
           for k, pids in groups.items()}
    cpu["wrk"] = children_cpu() - kids0
    ours = sum(cpu.values())
    cpu["others"] = max(0.0, machine_busy() - busy0 - ours - 0.0)
    w["cpu"], w["wall"] = cpu, wall
    return w


def us(seconds, n):
    return 1e6 * seconds / max(1, n)


def main():
    results = sys.argv[1] if len(sys.argv) > 1 else None
    for tool in ("wrk", ejcluster.HAPROXY, str(TOOLS / "c2s"), BINARY):
        if not shutil.which(tool):
            sys.exit("cluster.py: %s not found (run tests/bench/cluster.sh)"
                     % tool)
    work = pathlib.Path(tempfile.mkdtemp(prefix="restanza-bench-cluster-"))
    cluster = ejcluster.Cluster(work / "cluster", loglevel="warning",
                                users=("alice", "bob"))
    procs, lbs = [], []
    t_start = time.monotonic()
    try:
        cluster.start()
        node1, node2 = cluster.nodes
        a = Restanza(node1, work, "a")
        procs.append(a)
        b = Restanza(node2, work, "b")
        procs.append(b)
        drain = Drain(node1, "bob")
        procs.append(drain)
        lb1 = ejcluster.Haproxy(work, [a.port]).start()
        lbs.append(lb1)
        (work / "lb2").mkdir()
        lb2 = ejcluster.Haproxy(work / "lb2", [a.port, b.port]).start()
        lbs.append(lb2)
        time.sleep(1)          # HAProxy's first /ready checks
        beams = [n.proc.pid for n in cluster.nodes]
        setups = [
            ("A direct", a.url, {"restanza": [a.pid], "ejabberd": beams}),
            ("HAProxy, A", lb1.url, {"restanza": [a.pid], "ejabberd": beams,
                                     "haproxy": [lb1.pid]}),
            ("HAProxy, A+B", lb2.url, {"restanza": [a.pid, b.pid],
                                       "ejabberd": beams,
                                       "haproxy": [lb2.pid]}),
        ]
        body = {"kind": "message", "type": "chat", "to": node1.jid("bob"),
                "body": "bench"}
        rows = []
        for work_name, path, payload in (
                ("ping", "/rest/ping/" + node1.domain, None),
                ("send", "/rest", body)):
            for name, url, groups in setups:
                n0 = drain.count()
                w = measure(url + path, work, groups, payload)
                ok = w["requests"] - w["errors"]
                if payload is not None:
                    w["delivered"] = drain.settle(n0 + ok) - n0
                rows.append((work_name, name, w))
                print("  %s %s: %.0f req/s" % (work_name, name, w["rps"]),
                      flush=True)
        threads = a.threads()
        load = open("/proc/loadavg").read().split()[:3]
    finally:
        for p in procs:
            p.stop()
        for lb in lbs:
            lb.stop()
        cluster.stop()
    took = time.monotonic() - t_start
    cpu_model = "?"
    with open("/proc/cpuinfo") as f:
        for ln in f:
            if ln.startswith("model name"):
                cpu_model = ln.split(":", 1)[1].strip()
                break
    out("# restanza cluster bench, %s" % time.strftime("%Y-%m-%d %H:%M:%S"))
    out("# %d cores (%s), load average after: %s; wrk -t2 -c%d -d%ds per row;"
        % (os.cpu_count(), cpu_model, " ".join(load), CONNS, SECONDS))
    out("# two ejabberd 23.01 nodes (loglevel warning), restanza -O2 (%d "
        "threads), HAProxy %s" % (threads, haproxy_version()))
    out()
    out("| workload | path | req/s | p50 ms | p99 ms | errors | "
        "restanza us/req | ejabberd us/req | haproxy us/req | wrk us/req | "
        "others CPU s |")
    out("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: |")
    for work_name, name, w in rows:
        n, c = w["requests"], w["cpu"]
        err = str(w["errors"])
        if "delivered" in w:
            err += " (%d delivered)" % w["delivered"]
        out("| %s | %s | %.0f | %.2f | %.2f | %s | %.1f | %.1f | %s | %.1f | "
            "%.1f |" % (work_name, name, w["rps"], w["p50"], w["p99"], err,
                        us(c["restanza"], n), us(c["ejabberd"], n),
                        "%.1f" % us(c["haproxy"], n) if "haproxy" in c
                        else "-", us(c["wrk"], n), c["others"]))
    out()
    out("Per-instance capacity if restanza had a core to itself "
        "(1 s / restanza CPU per request):")
    for work_name, name, w in rows:
        if name.startswith("HAProxy"):
            per = us(w["cpu"]["restanza"], w["requests"])
            out("  %s, %s: %.1f us/req -> ~%.0f req/s per instance" % (
                work_name, name, per, 1e6 / per if per else 0))
    out("Whole path per request through HAProxy (restanza + ejabberd + "
        "haproxy + wrk) and what %d cores allow at most:" % os.cpu_count())
    for work_name, name, w in rows:
        if name.startswith("HAProxy"):
            c = w["cpu"]
            per = us(c["restanza"] + c["ejabberd"] + c["haproxy"] + c["wrk"],
                     w["requests"])
            out("  %s, %s: %.1f us/req -> <= %.0f req/s (measured %.0f)" % (
                work_name, name, per, os.cpu_count() * 1e6 / per,
                w["rps"]))
    out("total %.0f s (cluster start %.1f s)" % (took, cluster.start_seconds))
    if results:
        pathlib.Path(results).write_text("\n".join(lines) + "\n")
    shutil.rmtree(work, ignore_errors=True)


def haproxy_version():
    text = subprocess.run([ejcluster.HAPROXY, "-v"], capture_output=True,
                          text=True).stdout
    m = re.search(r"version (\S+)", text)
    return m.group(1) if m else "?"


if __name__ == "__main__":
    main()
