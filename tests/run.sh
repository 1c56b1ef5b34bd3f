#!/usr/bin/env bash
# tests/run.sh: install what is missing, build from scratch, run the unit and
# integration suites, and end with one line "N passed, N failed".
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build="$top/build/test"
build_vg="$top/build/valgrind"
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

say() { printf '==> %s\n' "$*"; }
die() { printf 'tests/run.sh: %s\n' "$*" >&2; echo "0 passed, 1 failed"; exit 1; }

packages=(build-essential autoconf automake libtool pkg-config
    libstrophe-dev libjson-c-dev libmicrohttpd-dev libcurl4-openssl-dev libssl-dev libidn-dev libsqlite3-dev sqlite3 check
    prosody prosody-modules ejabberd erlang-base python3-slixmpp python3-pytest
    curl valgrind procps clang-format python3-yaml python3-jsonschema
    clang libclang-rt-14-dev
    prometheus debhelper dpkg-dev lintian haproxy)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}): run as root or install them"
    say "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || die "apt-get update failed"
    # Debian starts the servers it installs; the tests start their own.
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$results/apt.log" 2>&1 ||
        { tail -20 "$results/apt.log"; rm -f /usr/sbin/policy-rc.d; die "apt-get install failed"; }
    rm -f /usr/sbin/policy-rc.d
fi

say "building (sanitizers, warnings as errors)"
if [ -f "$top/config.status" ]; then
    say "the source tree is configured in place: cleaning it for an out-of-tree build"
    make -C "$top" distclean >/dev/null 2>&1 || true
fi
rm -rf "$build" "$build_vg"
mkdir -p "$build" "$build_vg"
autoreconf -fi >"$results/autoreconf.log" 2>&1 || { cat "$results/autoreconf.log"; die "autoreconf failed"; }
(cd "$build" && "$top/configure" -q --enable-sanitizers --enable-werror &&
    make -j"$(nproc)" >/dev/null) || die "build failed"
say "building (plain, for valgrind)"
(cd "$build_vg" && "$top/configure" -q --enable-werror &&
    make -j"$(nproc)" src/restanza >/dev/null) || die "plain build failed"

unit_pass=0
unit_fail=0
say "unit tests"
(cd "$build" && make -j"$(nproc)" check >"$results/check.log" 2>&1)
for log in "$build"/tests/unit/test_*.log; do
    [ -f "$log" ] || continue
    line=$(grep -E '^[0-9]+%: Checks: ' "$log" | tail -n 1)
    name=$(basename "$log" .log)
    if [ -z "$line" ]; then
        echo "  $name: no result (crashed?)"
        sed -n '1,40p' "$log"
        unit_fail=$((unit_fail + 1))
        continue
    fi
    checks=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
    fails=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
    errors=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
    unit_pass=$((unit_pass + checks - fails - errors))
    unit_fail=$((unit_fail + fails + errors))
    echo "  $name: $line"
    [ $((fails + errors)) -eq 0 ] || grep -E ':[EF]:' "$log" | head -20
done
[ -n "$(ls "$build"/tests/unit/test_*.log 2>/dev/null)" ] ||
    { tail -30 "$results/check.log"; unit_fail=$((unit_fail + 1)); }

say "clang-format"
unformatted=$(for f in src/*.[ch] tests/unit/*.c; do
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || echo "$f"
done)
if [ -z "$unformatted" ]; then
    unit_pass=$((unit_pass + 1))
else
    echo "  not clang-format clean: $unformatted"
    unit_fail=$((unit_fail + 1))
fi

say "fuzzing (libFuzzer, ${FUZZ_SECONDS:-15} s per target)"
# Each target counts as one test: it passes when it ran and found no crash.
fuzz_pass=0
fuzz_fail=0
"$top/tests/fuzz/run.sh" "${FUZZ_SECONDS:-15}" >"$results/fuzz.log" 2>&1
sed -n '/^fuzz /,$p' "$results/fuzz.log" | head -60
grep -q '^fuzz [a-z_]*:' "$results/fuzz.log" || { tail -20 "$results/fuzz.log"; fuzz_fail=1; }
while read -r line; do
    if [[ "$line" =~ ,\ 0\ crashes,.*exit\ 0$ ]] && [[ ! "$line" =~ :\ 0\ execs ]]; then
        fuzz_pass=$((fuzz_pass + 1))
    else
        fuzz_fail=$((fuzz_fail + 1))
    fi
done < <(grep -E '^fuzz [a-z_]+:' "$results/fuzz.log")
unit_pass=$((unit_pass + fuzz_pass))
unit_fail=$((unit_fail + fuzz_fail))

say "integration tests (Prosody and ejabberd)"
export RESTANZA_BIN="$build/src/restanza"
export RESTANZA_VALGRIND_BIN="$build_vg/src/restanza"
# ASan: report leaks at exit and make them fail the daemon's exit status.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=86"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# The full output stays in $results; what is printed is the summary line,
# then for each failure its assertion and the tail of its daemon's log (from
# the junit XML, which keeps each test's captured output).
/usr/bin/python3 -m pytest -q -p no:cacheprovider -o junit_logging=system-out \
    --durations=12 --junitxml="$results/it.xml" "$top/tests/integration" >"$results/it.log" 2>&1
# The slowest tests, to keep the suite's time in view.
sed -n '/slowest .*durations/,/^$/p' "$results/it.log" | grep -E '^[0-9.]+s ' | sed 's/^/  /'
grep -E '^(=+ )?[0-9]+ (passed|failed|error|skipped|deselected)' "$results/it.log" | tail -n 1
int_counts=$(/usr/bin/python3 - "$results/it.xml" "$results/it.log" <<'PY'
import re, sys, xml.etree.ElementTree as ET
LINES = 15
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception as e:
    # pytest died before writing its report: show how it ended.
    print("  no junit report (%s); the end of pytest's output:" % e)
    with open(sys.argv[2], errors="replace") as f:
        print("".join("    " + l for l in f.readlines()[-40:]).rstrip())
    print("COUNTS 0 1 0"); sys.exit()

def daemon_tail(out):
    """The last lines of the last restanza log printed by the fixtures (the
    whole captured output when there is none)."""
    parts = re.split(r"^--- restanza log .*---$", out or "", flags=re.M)
    text = parts[-1] if len(parts) > 1 else (out or "")
    text = re.split(r"^--- (valgrind|console|\S+ log) .*---$", text, flags=re.M)[0]
    lines = [l for l in text.rstrip().splitlines() if l.strip()]
    return ("restanza log" if len(parts) > 1 else "captured output"), \
        lines[-LINES:]

t = f = 0
skipped = []
for case in root.iter("testcase"):
    t += 1
    name = "%s::%s" % (case.get("classname", "").rsplit(".", 1)[-1],
                       case.get("name"))
    bad = [e for e in case if e.tag in ("failure", "error")]
    skip = case.find("skipped")
    if skip is not None and not bad:
        skipped.append("%s (%s)" % (name, skip.get("message", "")))
        continue
    if not bad:
        continue
    f += 1
    print("FAILED %s" % name)
    for e in bad:
        # The E lines of the traceback say why; the message is the fallback.
        why = [l for l in (e.text or "").splitlines() if l.startswith("E ")]
        why = why or (e.get("message") or "").splitlines()
        print("\n".join("    " + l for l in why[:LINES]))
    out = "\n".join(o.text or "" for o in case.iter("system-out"))
    what, tail = daemon_tail(out)
    if tail:
        print("  last %d lines of the %s:" % (len(tail), what))
        print("\n".join("    " + l[:300] for l in tail))
if skipped:
    print("skipped (%d): %s" % (len(skipped), "; ".join(skipped)))
print("COUNTS %d %d %d" % (t - f - len(skipped), f if t else 1, len(skipped)))
PY
)
grep -v '^COUNTS ' <<<"$int_counts"
int_counts=$(grep '^COUNTS ' <<<"$int_counts" | cut -d' ' -f2-)
read -r int_pass int_fail int_skip <<<"$int_counts"

passed=$((unit_pass + int_pass))
failed=$((unit_fail + int_fail))
echo "unit (with $fuzz_pass+$fuzz_fail fuzz targets): $unit_pass passed, $unit_fail failed; integration: $int_pass passed, $int_fail failed, $int_skip skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
