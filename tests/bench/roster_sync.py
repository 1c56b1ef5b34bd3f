#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""roster_sync.py: time the sync of one user with a big roster (SPEC §8).

usage: tests/bench/roster_sync.py [prosody|ejabberd ...] [--sizes 2000,10000]
env:   RESTANZA_BIN (default build/bench/src/restanza, else src/restanza)

For each server and size N: a fresh user gets N contacts from a local web
app through one POST /roster_admin/refresh (the same setup as the
integration tests: Prosody with the privilege writer and no roster
delegation, ejabberd with the ejabberd-api writer). Then a second refresh
must find nothing to change, which proves that the server holds exactly
the web app's roster. Prints "key value" lines: the time of both refreshes,
the server's CPU seconds, and the most privileged roster sets in flight.
Not part of tests/run.sh; run it idle and beside a load to compare.
"""
import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(HERE))
import servers  # noqa: E402

if "RESTANZA_BIN" not in os.environ:
    for cand in (REPO / "build" / "bench" / "src" / "restanza",
                 REPO / "src" / "restanza"):
        if cand.exists():
            os.environ["RESTANZA_BIN"] = str(cand)
            break
import bench  # noqa: E402  (reads RESTANZA_BIN)

TOKEN = bench.ROSTER_TOKEN


def web_app(rosters):
    """GET /contacts/<user> -> rosters[user] as JSON; returns (httpd, url)."""
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            user = self.path.rsplit("/", 1)[1]
            body = json.dumps(rosters.get(user, {})).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, "http://127.0.0.1:%d/contacts/%%s" % httpd.server_address[1]


def start_restanza(srv, work, name, roster):
    """restanza with only [roster], logging at info (the "roster synced"
    lines carry changes= and ms=); waits until it is connected."""
    port = servers.free_port()
    conf = work / (name + ".conf")
    log = work / (name + ".log")
    conf.write_text(
        "[server]\ndomain = %s\nport = %d\n[component]\njid = %s\n"
        "secret = %s\n[http]\nlisten = 127.0.0.1:%d\n[log]\nlevel = info\n"
        "[roster]\n%s" % (srv.domain, srv.component_port, srv.component_jid,
                          srv.secret, port,
                          "".join("%s = %s\n" % kv for kv in roster.items())))
    proc = subprocess.Popen([bench.BINARY, "-f", "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    url = "http://127.0.0.1:%d" % port
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if bench.http("GET", url + "/status")[1]["xmpp"]["state"] == \
                    "connected":
                return proc, url, log
        except (OSError, TypeError, KeyError):
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("restanza did not connect:\n" + log.read_text())


def synced_ms(log_path, user):
    """(changes, ms) of the last "roster synced" line for user, or None."""
    found = re.findall(r'roster synced" user=%s .*changes=(\d+) ms=(\d+)'
                       % re.escape(user), pathlib.Path(log_path).read_text())
    return found[-1] if found else None


def run(name, sizes, work):
    users = ["big%d" % n for n in sizes]
    opts = {"basedir": str(work / name), "loglevel": "warning",
            "delegate": (), "privileges": {"roster": "both"},
            "users": list(servers.DEFAULT_USERS) + users}
    srv = servers.make(name, **opts)
    srv.start()
    rosters = {}
    httpd, url = web_app(rosters)
    roster = {"url": url, "token": TOKEN, "timeout": 30, "min_interval": 0}
    if name == "ejabberd":
        roster.update(writer="ejabberd-api", api_url=srv.api_url,
                      api_user=srv.admin_jid,
                      api_password=srv.admin_password)
    else:
        roster.update(writer="privilege")
    proc, rurl, log = start_restanza(srv, work, "restanza-" + name, roster)
    try:
        for n, user in zip(sizes, users):
            rosters[user] = {"c%05d@localhost" % i:
                             {"name": "Contact %d" % i, "groups": ["G%d" % (i % 7)]}
                             for i in range(n)}
            meter, t0 = bench.CpuMeter(srv.proc.pid, proc.pid), time.monotonic()
            st, ans = bench.http("POST", rurl + "/roster_admin/refresh",
                                 [user], token=TOKEN, timeout=3600)
            took = time.monotonic() - t0
            cpu = meter.stop()
            ok = st == 200 and ans.get("updated") == 1
            bench.note("%s_%d_sync_s" % (name, n), "%.1f" % took)
            bench.note("%s_%d_server_cpu_s" % (name, n), "%.1f" % cpu["server"])
            bench.note("%s_%d_restanza_cpu_s" % (name, n),
                       "%.1f" % cpu["restanza"])
            bench.note("%s_%d_other_cpu_s" % (name, n), "%.1f" % cpu["other"])
            bench.note("%s_%d_result" % (name, n),
                       "ok" if ok else "FAILED %s %s" % (st, ans))
            done = synced_ms(log, user)
            bench.note("%s_%d_changes_written" % (name, n),
                       "%s in %s ms" % done if done else "?")
            t0 = time.monotonic()
            st, ans = bench.http("POST", rurl + "/roster_admin/refresh",
                                 [user], token=TOKEN, timeout=600)
            bench.note("%s_%d_resync_s" % (name, n),
                       "%.1f" % (time.monotonic() - t0))
            changes = synced_ms(log, user)
            bench.note("%s_%d_resync_changes" % (name, n),
                       changes[0] if changes else "? (%s %s)" % (st, ans))
        st, status = bench.http("GET", rurl + "/status")
        bench.note("%s_in_flight_peak" % name,
                   status.get("roster", {}).get("in_flight_peak"))
    finally:
        proc.terminate()
        proc.wait(10)
        httpd.shutdown()
        srv.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("servers", nargs="*", default=["prosody", "ejabberd"])
    p.add_argument("--sizes", default="2000,10000")
    a = p.parse_args()
    sizes = [int(x) for x in a.sizes.split(",")]
    work = pathlib.Path(tempfile.mkdtemp(prefix="restanza-roster-bench-"))
    print("restanza %s, load %s" % (bench.BINARY, os.getloadavg()), flush=True)
    for name in a.servers:
        run(name, sizes, work)


if __name__ == "__main__":
    main()
