#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""table.py: one Markdown table from bench.py result files (one per server).

usage: tests/bench/table.py RESULT_FILE..."""
import re
import sys

ROWS = [
    # (label, key(s), unit, SPEC §8 target)
    ("rest-send req/s (all answers)", "send_rps", "", "≥ 20,000"),
    ("rest-send req/s answered 2xx (goodput)", "send_ok_rps", "", ""),
    ("rest-send non-2xx", "send_non2xx_pct", " %", "< 1 %"),
    ("rest-send p50", "send_p50_ms", " ms", ""),
    ("rest-send p99", "send_p99_ms", " ms", "< 10 ms"),
    ("rest-send delivered / lost", ("send_delivered", "send_lost"), "", "lost 0"),
    ("ceiling (raw component) msg/s", "ceiling_msg_s", "", ""),
    ("rest-send 2xx / ceiling", "send_ok_vs_ceiling", "", "≥ 0.9"),
    ("wait=server c=50: 2xx/s", "confirm_ok_rps", "", ""),
    ("wait=server c=50: p50 / p99", ("confirm_p50_ms", "confirm_p99_ms"),
     " ms", "reported"),
    ("c=1 p50 / p99: plain", ("send_c1_p50_ms", "send_c1_p99_ms"), " ms",
     ""),
    ("c=1 p50 / p99: wait=server", ("confirm_c1_p50_ms", "confirm_c1_p99_ms"),
     " ms", "reported"),
    ("wait=server lost", "confirm_lost", "", "lost 0"),
    ("ejabberd mod_http_api send_message 2xx/s", "api_ok_rps", "", ""),
    ("mod_http_api p50 / p99", ("api_p50_ms", "api_p99_ms"), " ms", ""),
    ("rest-send 2xx ÷ mod_http_api 2xx", "send_vs_api", "x", "≥ 3x"),
    ("rest-send 2xx ÷ mod_rest (INTEROP.md: 1,764/s)", "send_vs_mod_rest",
     "x", "≥ 10x"),
    ("CPU s in ceiling: server / load tools",
     ("ceiling_cpu_server_s", "ceiling_cpu_tools_s"), "", ""),
    ("CPU s in rest-send: server / restanza / wrk / drain",
     ("send_cpu_server_s", "send_cpu_restanza_s", "send_cpu_wrk_s",
      "send_cpu_drain_s"), "", ""),
    ("restanza CPU per rest-send request", "send_restanza_us_per_req", " µs",
     ""),
    ("server CPU per message: raw ceiling / through restanza",
     ("ceiling_server_us_per_msg", "send_server_us_per_msg"), " µs", ""),
    ("rest-ping c=1 p50 / p99", ("ping_c1_p50_ms", "ping_c1_p99_ms"), " ms",
     "< 1 / < 5 ms"),
    ("rest-ping c=1 req/s", "ping_c1_rps", "", ""),
    ("rest-ping c=50 p50 / p99", ("ping_c50_p50_ms", "ping_c50_p99_ms"), " ms",
     ""),
    ("rest-ping c=50 req/s", "ping_c50_rps", "", ""),
    ("webhook stanzas/s", "webhook_stanzas_s", "", "≥ 10,000"),
    ("webhook posted / lost", ("webhook_posted", "webhook_lost"), "", "lost 0"),
    ("refresh 10,000 users", "refresh_s", " s", "< 10 s"),
    ("refresh errors", "refresh_errors", "", "0"),
    ("RSS idle (REST+webhook+roster)", "rss_idle_kb", " kB", "< 8 MB"),
    ("RSS floor: the four libraries loaded and initialised", "rss_floor_kb",
     " kB", ""),
    ("RSS idle above that floor", "rss_idle_above_floor_kb", " kB", ""),
    ("RSS idle, anonymous part (RssAnon)", "rss_idle_anon_kb", " kB", ""),
    ("RSS during rest-send (peak)", "rss_send_peak_kb", " kB", ""),
    ("RSS with 100,000 cached roster entries", "rss_cache_100k_kb", " kB",
     "reported"),
]


def load(path):
    d = {}
    server = re.search(r"\d{4}-\d\d-\d\d-(\w+)\.txt$", path)
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                m = re.search(r"server=(\w+)", line)
                if m:
                    d["_server"] = m.group(1)
                continue
            k, _, v = line.rstrip("\n").partition(" ")
            d[k] = v
    d.setdefault("_server", server.group(1) if server else path)
    return d


def cell(d, key, unit):
    keys = key if isinstance(key, tuple) else (key,)
    vals = [d.get(k, "–") for k in keys]
    return " / ".join(vals) + (unit if all(v != "–" for v in vals) else "")


def main():
    runs = [load(p) for p in sys.argv[1:]]
    head = ["what"] + [r["_server"] for r in runs] + ["target (SPEC §8)"]
    print("| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    for label, key, unit, target in ROWS:
        print("| " + " | ".join([label] + [cell(r, key, unit) for r in runs] +
                                [target]) + " |")


if __name__ == "__main__":
    main()
