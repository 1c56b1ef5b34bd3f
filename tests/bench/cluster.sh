#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/cluster.sh: wrk through HAProxy with one and two restanza
# instances on a two-node ejabberd cluster (doc/scaling.md). Installs what is
# missing, builds restanza -O2 (no sanitizers) and the c2s tool in
# build/bench-cluster, runs tests/bench/cluster.py, prints one table and
# writes tests/bench/results/<date>-cluster.txt. Not part of tests/run.sh.
# About 1.5 min.
#
# env: RESTANZA_BIN (skip the build, use this binary), BENCH_SECONDS=10 (wrk
#      duration per row), BENCH_CONNS=50
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
build="$top/build/bench-cluster"
say() { printf '==> %s\n' "$*"; }
die() { printf 'tests/bench/cluster.sh: %s\n' "$*" >&2; exit 1; }

packages=(build-essential autoconf automake libtool pkg-config
    libstrophe-dev libjson-c-dev libmicrohttpd-dev libcurl4-openssl-dev libssl-dev libidn-dev
    ejabberd erlang-base haproxy wrk procps)
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
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/restanza-bench-cluster-apt.log 2>&1 ||
        { tail -20 /tmp/restanza-bench-cluster-apt.log; rm -f /usr/sbin/policy-rc.d; die "apt-get install failed"; }
    rm -f /usr/sbin/policy-rc.d
fi

mkdir -p "$build"
if [ -z "${RESTANZA_BIN:-}" ]; then
    say "building restanza (CFLAGS=-O2, no sanitizers) in build/bench-cluster"
    [ -f "$top/config.status" ] &&
        die "the source tree is configured in place: build it out of tree and set RESTANZA_BIN"
    if [ ! -x "$top/configure" ]; then
        autoreconf -fi >/dev/null 2>&1 || die "autoreconf failed"
    fi
    obj="$build/obj"
    mkdir -p "$obj"
    (cd "$obj" && { [ -f Makefile ] || "$top/configure" -q CFLAGS=-O2; } &&
        make -s -j2 src/restanza >/dev/null) || die "build failed"
    export RESTANZA_BIN="$obj/src/restanza"
fi
gcc -O2 -Wall -Wextra -o "$build/c2s" "$top/tests/bench/c2s.c" || die "cannot build c2s"
export BENCH_TOOLS="$build"

mkdir -p "$top/tests/bench/results"
out="$top/tests/bench/results/$(date +%Y-%m-%d)-cluster.txt"
/usr/bin/python3 "$top/tests/bench/cluster.py" "$out" || die "cluster.py failed"
say "written to $out"
