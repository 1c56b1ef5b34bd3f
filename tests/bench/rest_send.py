#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""rest_send.py: wrk POSTs JSON messages to /rest for an online client that
drains them; prints req/s, latency percentiles and how many arrived.

usage: tests/bench/rest_send.py [prosody|ejabberd] [SECONDS] [CONNECTIONS]
Needs wrk (apt-get install wrk) and a built src/restanza (RESTANZA_BIN).
env: BENCH_HEADERS='{"Prefer": "wait=server"}' adds request headers,
BENCH_CONF='component.queue_max=65536,rest.queue_wait=0' sets config keys
(issue 12: goodput with a full send queue, held vs shed, and the latency of
wait=server)."""
import asyncio
import json
import os
import pathlib
import re
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
import slixmpp  # noqa: E402

TOKEN = "bench-token-0123456789abcdef"


class Drain(threading.Thread):
    """bob, online, counting the messages he receives."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server, self.count, self.ready = server, 0, threading.Event()

    def run(self):
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        c = slixmpp.ClientXMPP(self.server.jid("bob"), self.server.password)
        c.add_event_handler("session_start",
                            lambda _: (c.send_presence(), self.ready.set()))
        c.add_event_handler("message", self._on_message)
        c.connect(("127.0.0.1", self.server.c2s_port),
                  force_starttls=False, disable_starttls=True)
        self.client = c
        loop.run_forever()

    def _on_message(self, msg):
        if msg["body"].startswith("bench"):
            self.count += 1


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "prosody"
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    conns = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    binary = os.environ.get("RESTANZA_BIN", str(REPO / "src" / "restanza"))
    work = pathlib.Path(tempfile.mkdtemp(prefix="restanza-bench-"))
    server = servers.make(name, basedir=str(work / name), loglevel="warning")
    server.start()
    port = servers.free_port()
    conf = work / "restanza.conf"
    sections = {
        "server": {"domain": server.domain, "port": server.component_port},
        "component": {"jid": server.component_jid, "secret": server.secret},
        "http": {"listen": "127.0.0.1:%d" % port},
        "rest": {"tokens": TOKEN},
        "log": {"level": "warn"},
    }
    for item in filter(None, os.environ.get("BENCH_CONF", "").split(",")):
        key, value = item.split("=", 1)
        section, name = key.strip().split(".", 1)
        sections.setdefault(section, {})[name] = value.strip()
    conf.write_text("".join(
        "[%s]\n%s" % (sec, "".join("%s = %s\n" % kv for kv in keys.items()))
        for sec, keys in sections.items()))
    extra = json.loads(os.environ.get("BENCH_HEADERS", "{}"))
    proc = subprocess.Popen([binary, "-f", "-c", str(conf)],
                            stderr=open(work / "restanza.log", "w"))
    try:
        url = "http://127.0.0.1:%d" % port
        for _ in range(100):
            try:
                st = json.load(urllib.request.urlopen(url + "/status"))
                if st["xmpp"]["state"] == "connected":
                    break
            except OSError:
                pass
            time.sleep(0.1)
        drain = Drain(server)
        drain.start()
        drain.ready.wait(10)
        body = json.dumps({"kind": "message", "type": "chat",
                           "to": server.jid("bob"), "body": "bench"})
        lua = work / "post.lua"
        lua.write_text(
            'wrk.method = "POST"\nwrk.body = %s\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            'wrk.headers["Authorization"] = "Bearer %s"\n%s'
            'done = function(summary, latency, requests)\n'
            '  io.write(string.format("p50_us %%d\\np99_us %%d\\n",\n'
            '    latency:percentile(50), latency:percentile(99)))\n'
            '  io.write(string.format("status_errors %%d\\n",\n'
            '    summary.errors.status))\nend\n'
            % (json.dumps(body), TOKEN,
               "".join('wrk.headers[%s] = %s\n' % (json.dumps(k), json.dumps(v))
                       for k, v in extra.items())))
        out = subprocess.run(
            ["wrk", "-t2", "-c%d" % conns, "-d%ds" % seconds, "-s", str(lua),
             url + "/rest"], capture_output=True, text=True).stdout
        total = int(re.search(r"(\d+) requests in", out).group(1))
        errors = int(re.search(r"status_errors (\d+)", out).group(1))
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        p50 = int(re.search(r"p50_us (\d+)", out).group(1)) / 1000
        p99 = int(re.search(r"p99_us (\d+)", out).group(1)) / 1000
        accepted = total - errors
        t_end = time.monotonic()
        deadline = t_end + 30
        while drain.count < accepted and time.monotonic() < deadline:
            time.sleep(0.2)
        drain_s = time.monotonic() - t_end
        print("server=%s seconds=%d connections=%d conf=%s headers=%s" % (
            name, seconds, conns, os.environ.get("BENCH_CONF", "-"),
            json.dumps(extra)))
        print("requests=%d accepted_202=%d non_2xx=%d" % (total, accepted,
                                                         errors))
        print("req_per_s=%.0f accepted_per_s=%.0f non_2xx_pct=%.1f "
              "p50_ms=%.2f p99_ms=%.2f" % (rps, accepted / seconds,
                                           100.0 * errors / max(total, 1),
                                           p50, p99))
        # Seconds after wrk's end until all accepted messages arrived: 2xx
        # answered faster than the server reads pile up here.
        print("delivered=%d lost=%d drain_s=%.1f" % (
            drain.count, accepted - drain.count, drain_s))
    finally:
        proc.terminate()
        proc.wait(10)
        server.stop()


if __name__ == "__main__":
    main()
