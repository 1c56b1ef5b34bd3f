#!/usr/bin/env bash
# tests/fuzz/run.sh: build the libFuzzer targets and run each for a while.
#   tests/fuzz/run.sh [SECONDS] [TARGET...]      (default 20 s, all targets)
# Targets are tests/fuzz/fuzz_<name>.c; seeds come from corpus/<name>/ and
# new inputs go to build/fuzz/corpus/<name>/ (the source tree is untouched).
# Each target's line reads "fuzz <name>: N execs, N crashes" and crash inputs
# are kept in build/fuzz/crashes/<name>/. Exit status: 0 when none crashed.
# Environment: CC (default clang), FUZZ_BUILD (default <top>/build/fuzz),
# FUZZ_JOBS (targets run in parallel, default nproc), FUZZ_ONLY_BUILD=1.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
secs=${1:-20}
[ $# -gt 0 ] && shift
build=${FUZZ_BUILD:-$top/build/fuzz}
cc=${CC:-clang}
case "$cc" in *clang*) ;; *) cc=clang ;; esac
jobs=${FUZZ_JOBS:-$(nproc)}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in "$here"/fuzz_*.c; do
        n=$(basename "$f" .c)
        targets+=("${n#fuzz_}")
    done
fi

mkdir -p "$build/obj" "$build/corpus" "$build/crashes" "$build/logs"
# What configure would put in config.h, for the few things the code uses.
cat >"$build/config.h" <<'H'
#define _GNU_SOURCE 1
#define PACKAGE_VERSION "fuzz"
H

pkgs="libstrophe json-c libmicrohttpd libcurl libcrypto libidn sqlite3"
pc_cflags=$(pkg-config --cflags $pkgs) || { echo "fuzz: pkg-config failed"; exit 2; }
pc_libs=$(pkg-config --libs $pkgs)
cflags="-std=gnu11 -g -O1 -fno-omit-frame-pointer -I$build -I$top/src $pc_cflags
    -DSYSCONFDIR=\"/etc\" -DLOCALSTATEDIR=\"/var\" -fsanitize=address,undefined
    -fno-sanitize-recover=undefined"

# The library sources (all but main.c), instrumented for coverage.
objs=()
for src in "$top"/src/*.c; do
    n=$(basename "$src" .c)
    [ "$n" = main ] && continue
    o="$build/obj/$n.o"
    objs+=("$o")
    if [ ! -f "$o" ] || [ "$src" -nt "$o" ] || [ -n "$(find "$top/src" -name '*.h' -newer "$o")" ]; then
        $cc $cflags -fsanitize=fuzzer-no-link -c "$src" -o "$o" ||
            { echo "fuzz: cannot compile $src"; exit 2; }
    fi
done
for t in "${targets[@]}"; do
    src="$here/fuzz_$t.c"
    [ -f "$src" ] || { echo "fuzz: no target $src"; exit 2; }
    $cc $cflags -fsanitize=fuzzer -I"$here" "$src" "${objs[@]}" $pc_libs \
        -o "$build/fuzz_$t" || { echo "fuzz: cannot build $t"; exit 2; }
done
[ -n "${FUZZ_ONLY_BUILD:-}" ] && exit 0

# One target: fresh work corpus seeded from the tree, bounded time and memory.
run_one() {
    local t=$1 log="$build/logs/$1.log"
    mkdir -p "$build/corpus/$t" "$build/crashes/$t"
    [ -d "$here/corpus/$t" ] && cp -n "$here/corpus/$t"/* "$build/corpus/$t/" 2>/dev/null
    local dict=()
    [ -f "$here/$t.dict" ] && dict=("-dict=$here/$t.dict")
    ASAN_OPTIONS="detect_leaks=1:abort_on_error=0" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        timeout -k 10 $((secs + 60)) "$build/fuzz_$t" -max_total_time="$secs" \
        -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
        -artifact_prefix="$build/crashes/$t/" "${dict[@]}" \
        "$build/corpus/$t" </dev/null >"$log" 2>&1
    echo $? >"$build/logs/$t.rc"
}

running=0
for t in "${targets[@]}"; do
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

failed=0
for t in "${targets[@]}"; do
    log="$build/logs/$t.log"
    rc=$(cat "$build/logs/$t.rc" 2>/dev/null || echo 1)
    execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)
    crashes=$(find "$build/crashes/$t" -type f | wc -l)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
    echo "fuzz $t: ${execs:-0} execs, $crashes crashes, ${cov:-cov: ?}, exit $rc"
    if [ "$rc" -ne 0 ] || [ "$crashes" -gt 0 ] || [ -z "$execs" ]; then
        failed=$((failed + 1))
        grep -E 'ERROR|SUMMARY|runtime error|#[0-9]+ 0x' "$log" | head -25
        find "$build/crashes/$t" -type f | head -3
    fi
done
[ "$failed" -eq 0 ]
