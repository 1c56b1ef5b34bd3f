#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/run.sh: install what is missing, build restanza -O2 without
# sanitizers in build/bench, build the C load tools, run every benchmark
# against a private Prosody and ejabberd, print one table and write
# tests/bench/results/<date>-<server>.txt.  Not part of tests/run.sh.
#
# env: BENCH_SERVERS="prosody ejabberd", BENCH_SECONDS=20 (rest-send),
#      BENCH_PHASES (default all: ceiling,ping,send,webhook,refresh,cache),
#      BENCH_CONFIRM_SECONDS=5 (wait=server), BENCH_API_SECONDS=10
#      (ejabberd's mod_http_api send_message, same load as rest-send)
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
build="$top/build/bench"
results="$top/tests/bench/results"
date=$(date +%Y-%m-%d)
say() { printf '==> %s\n' "$*"; }
die() { printf 'tests/bench/run.sh: %s\n' "$*" >&2; exit 1; }
t_start=$(date +%s)

packages=(build-essential autoconf automake libtool pkg-config
    libstrophe-dev libjson-c-dev libmicrohttpd-dev libcurl4-openssl-dev libssl-dev libidn-dev
    prosody prosody-modules ejabberd erlang-base python3-slixmpp
    wrk procps curl)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}): run as root or install them"
    say "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || die "apt-get update failed"
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/restanza-bench-apt.log 2>&1 ||
        { tail -20 /tmp/restanza-bench-apt.log; rm -f /usr/sbin/policy-rc.d; die "apt-get install failed"; }
    rm -f /usr/sbin/policy-rc.d
fi
command -v erl_call >/dev/null || die "erl_call not found (erlang's erl_interface)"

say "building restanza (CFLAGS=-O2, no sanitizers) in build/bench"
src="$top"
if [ -f "$top/config.status" ]; then
    # Configured in place (a developer's build): configure refuses an
    # out-of-tree build then; build a copy of the sources instead of
    # cleaning someone else's tree.
    say "the source tree is configured in place: building a copy of it"
    src="$build/src-copy"
    rm -rf "$src" && mkdir -p "$src"
    git ls-files -co --exclude-standard -z | grep -zv '^build/' |
        xargs -0 cp --parents -t "$src" 2>/dev/null ||
        die "cannot copy the sources"
fi
if [ ! -x "$src/configure" ]; then
    (cd "$src" && autoreconf -fi >/dev/null 2>&1) || die "autoreconf failed"
fi
obj="$build/obj"
mkdir -p "$obj"
(cd "$obj" && { [ -f Makefile ] || "$src/configure" -q CFLAGS=-O2; } &&
    make -s -j2 src/restanza >/dev/null) || die "build failed"
export RESTANZA_BIN="$obj/src/restanza"

say "building the load tools (c2s, ceiling, sink) and the memory floor probe"
for t in c2s ceiling sink; do
    gcc -O2 -Wall -Wextra -o "$build/$t" "$top/tests/bench/$t.c" || die "cannot build $t"
done
# shellcheck disable=SC2046
gcc -O2 -Wall -Wextra -o "$build/floor" "$top/tests/bench/floor.c" \
    $(pkg-config --cflags --libs libstrophe libcurl libmicrohttpd json-c) ||
    die "cannot build floor"
export BENCH_TOOLS="$build"

mkdir -p "$results"
servers=${BENCH_SERVERS:-prosody ejabberd}
files=()
for s in $servers; do
    say "benchmarks on $s"
    f="$results/$date-$s.txt"
    /usr/bin/python3 "$top/tests/bench/bench.py" "$s" "$f" || die "bench.py $s failed"
    files+=("$f")
done
/usr/bin/python3 "$top/tests/bench/events.py" "${servers%% *}" "$results/$date-events.txt" || die "events.py failed"

say "results ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
/usr/bin/python3 "$top/tests/bench/table.py" "${files[@]}"
say "done in $(( $(date +%s) - t_start )) s; files: ${files[*]}"
