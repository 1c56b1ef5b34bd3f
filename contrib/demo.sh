#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# contrib/demo.sh: run restanza against a private Prosody on loopback.
#
#   contrib/demo.sh           start everything, print how to try it, wait for
#                             Ctrl-C, then stop everything and clean up
#   contrib/demo.sh --check   start everything, verify that restanza is
#                             connected and received its delegation and
#                             privileges, stop, exit 0 (ok) or 1 (failed)
#
# Meant for a fresh Debian bookworm machine, as root: it installs what is
# missing with apt-get (build tools, libraries, prosody, prosody-modules,
# curl), builds restanza from this checkout when the binary is missing or
# older than a source file, and keeps every file under one temporary
# directory. It only ever signals the processes it started, by their PID.
#
# Adding a service: write NAME_start (start it in the background, then call
# service_add NAME PID LOG) and call it from main. Services are stopped in
# the reverse order of their start.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
mode=interactive
domain=localhost
component=rest.localhost
delegated_ns=urn:restanza:demo:0
connect_timeout=15

usage() {
    sed -n '3,9p' "$0" | sed 's/^# \{0,1\}//'
}

case "${1:-}" in
"") ;;
--check) mode=check ;;
-h | --help) usage; exit 0 ;;
*) usage >&2; exit 2 ;;
esac

say() { printf '==> %s\n' "$*"; }
warn() { printf 'demo.sh: %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------
# Services and cleanup

work=""
svc_names=()
svc_pids=()
svc_logs=()

service_add() { # NAME PID LOG
    svc_names+=("$1")
    svc_pids+=("$2")
    svc_logs+=("$3")
}

# True while the process runs (a zombie counts as gone).
alive() {
    local state
    state=$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) ||
        return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# Stop service number $1: SIGTERM, SIGKILL after 10 s. Prints nothing; the
# exit status of the process is left in $stop_status.
stop_service() {
    local i=$1 pid=${svc_pids[$1]} n=0
    stop_status=0
    [ -n "$pid" ] || return 0
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        while alive "$pid" && [ $n -lt 100 ]; do
            sleep 0.1
            n=$((n + 1))
        done
        if alive "$pid"; then
            warn "${svc_names[$i]} (pid $pid) did not stop in 10 s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || stop_status=$?
    svc_pids[i]=""
}

show_logs() {
    local i
    for i in "${!svc_names[@]}"; do
        printf -- '--- last lines of %s (%s) ---\n' "${svc_names[$i]}" "${svc_logs[$i]}" >&2
        tail -n 25 "${svc_logs[$i]}" >&2 2>/dev/null || true
    done
}

cleanup() {
    local i
    trap - EXIT INT TERM
    for ((i = ${#svc_pids[@]} - 1; i >= 0; i--)); do
        stop_service "$i"
    done
    if [ -n "$work" ] && [ -d "$work" ]; then
        rm -rf -- "$work"
    fi
}
trap cleanup EXIT
trap 'echo; exit 130' INT
trap 'exit 143' TERM

fail() {
    warn "$*"
    show_logs
    exit 1
}

# ---------------------------------------------------------------------------
# Helpers

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A port on 127.0.0.1 where nothing listens, below the kernel's ephemeral
# range, and not one of the ports already handed out.
taken_ports=" "
free_port() {
    local port n
    for n in $(seq 1 200); do
        port=$((20000 + RANDOM % 12000))
        case "$taken_ports" in *" $port "*) continue ;; esac
        if ! port_open "$port"; then
            taken_ports="$taken_ports$port "
            echo "$port"
            return 0
        fi
    done
    fail "no free TCP port found on 127.0.0.1"
}

# Wait up to $2 seconds until 127.0.0.1:$1 accepts; false if pid $3 died.
wait_port() {
    local port=$1 timeout=$2 pid=$3 n=0
    while ! port_open "$port"; do
        alive "$pid" || return 1
        [ $n -lt $((timeout * 10)) ] || return 1
        sleep 0.1
        n=$((n + 1))
    done
}

random_secret() {
    od -An -N18 -tx1 /dev/urandom | tr -d ' \n'
}

# ---------------------------------------------------------------------------
# Installation and build

packages=(build-essential autoconf automake libtool pkg-config
    libstrophe-dev libjson-c-dev libmicrohttpd-dev libcurl4-openssl-dev
    libssl-dev libidn-dev check prosody prosody-modules curl python3)

install_missing() {
    local p missing=() policy_added=no
    for p in "${packages[@]}"; do
        # Not `dpkg -s | grep -q`: grep's early exit fails the pipe.
        [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = \
            "install ok installed" ] || missing+=("$p")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    [ "$(id -u)" -eq 0 ] ||
        fail "missing packages (${missing[*]}): run as root or install them"
    say "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Debian starts the servers it installs (the system Prosody on all
    # interfaces); the demo runs its own, so forbid that while installing.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        policy_added=yes
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" || {
        [ $policy_added = no ] || rm -f /usr/sbin/policy-rc.d
        fail "apt-get install failed"
    }
    [ $policy_added = no ] || rm -f /usr/sbin/policy-rc.d
}

# Build in the checkout unless src/restanza is newer than every source.
build() {
    local bin="$top/src/restanza" newer log="$work/build.log"
    if [ -n "${RESTANZA_BIN:-}" ]; then
        # A binary built elsewhere (tests/run.sh builds out of tree).
        [ -x "$RESTANZA_BIN" ] || fail "RESTANZA_BIN=$RESTANZA_BIN is not executable"
        restanza_bin=$RESTANZA_BIN
        say "using $restanza_bin (RESTANZA_BIN)"
        return 0
    fi
    restanza_bin=$bin
    if [ -x "$bin" ]; then
        newer=$(find "$top/src" "$top/configure.ac" "$top/Makefile.am" \
            \( -name '*.[ch]' -o -name configure.ac -o -name Makefile.am \) \
            -newer "$bin" -print -quit)
        if [ -z "$newer" ]; then
            say "using $bin (newer than every source)"
            return 0
        fi
    fi
    say "building restanza (log: $log)"
    (
        cd "$top"
        if [ ! -f Makefile ]; then
            autoreconf -fi && ./configure
        fi
        make -j"$(nproc)" src/restanza
    ) >"$log" 2>&1 || {
        tail -n 30 "$log" >&2
        fail "build failed"
    }
}

# ---------------------------------------------------------------------------
# Prosody

prosody_start() {
    local dir="$work/prosody" cfg log pid user
    cfg="$dir/prosody.cfg.lua"
    log="$dir/prosody.log"
    mkdir -p "$dir/data" "$dir/certs"
    prosody_c2s_port=$(free_port)
    prosody_component_port=$(free_port)
    component_secret=$(random_secret)
    cat >"$cfg" <<EOF
-- Private Prosody for contrib/demo.sh: loopback only, no s2s, no TLS.
run_as_root = true
pidfile = "$dir/prosody.pid"
data_path = "$dir/data"
certificates = "$dir/certs"
log = { { levels = { min = "info" }, to = "file", filename = "$log" } }
plugin_paths = { "/usr/lib/prosody/modules" }

interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_interfaces = { "127.0.0.1" }
component_interfaces = { "127.0.0.1" }
c2s_ports = { $prosody_c2s_port }
component_ports = { $prosody_component_port }
c2s_direct_tls_ports = { }
legacy_ssl_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { }

modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "delegation"; "privilege" }
modules_disabled = { "s2s"; "tls" }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
allow_registration = false

VirtualHost "$domain"
    delegations = {
        ["$delegated_ns"] = { jid = "$component" };
    }
    privileged_entities = {
        ["$component"] = {
            roster = "both";
            message = "outgoing";
            presence = "managed_entity";
        };
    }

Component "$component"
    component_secret = "$component_secret"
    modules_enabled = { "delegation"; "privilege" }

Component "conference.$domain" "muc"
    muc_room_locking = false
EOF
    chmod 600 "$cfg"
    for user in alice bob; do
        prosodyctl --config "$cfg" --root register "$user" "$domain" "${user}pw" \
            >>"$dir/prosodyctl.log" 2>&1 ||
            fail "prosodyctl register $user failed (see $dir/prosodyctl.log)"
    done
    say "starting Prosody (c2s 127.0.0.1:$prosody_c2s_port, component 127.0.0.1:$prosody_component_port)"
    setsid prosody -F --config "$cfg" </dev/null >"$dir/console.log" 2>&1 &
    pid=$!
    service_add prosody "$pid" "$log"
    if ! wait_port "$prosody_c2s_port" 15 "$pid" ||
        ! wait_port "$prosody_component_port" 15 "$pid"; then
        fail "Prosody did not start listening within 15 s"
    fi
}

# ---------------------------------------------------------------------------
# the example webhook bot (contrib/examples/echo_bot_json.py)

bot_start() {
    local dir="$work/bot" log
    log="$dir/bot.log"
    mkdir -p "$dir"
    bot_port=$(free_port)
    webhook_secret=$(random_secret)
    say "starting the example webhook bot (127.0.0.1:$bot_port)"
    WEBHOOK_SECRET=$webhook_secret setsid python3 \
        "$top/contrib/examples/echo_bot_json.py" "$bot_port" \
        </dev/null >"$log" 2>&1 &
    bot_pid=$!
    service_add bot "$bot_pid" "$log"
    wait_port "$bot_port" 10 "$bot_pid" || fail "the webhook bot did not start"
}

# ---------------------------------------------------------------------------
# the example roster web app (contrib/examples/roster-app.py)

roster_app_start() {
    local dir="$work/roster-app" log
    log="$dir/roster-app.log"
    mkdir -p "$dir"
    roster_app_port=$(free_port)
    roster_token=$(random_secret)
    (umask 077 && printf '%s\n' "$roster_token" >"$dir/roster.token")
    contacts_file="$dir/contacts.json"
    cat >"$contacts_file" <<JSON
{
  "alice": {"bob@$domain": {"name": "Bob", "groups": ["Friends"]}},
  "bob": {"alice@$domain": {"name": "Alice", "groups": ["Friends"]}}
}
JSON
    # restanza is not listening yet; the app only calls it when the file
    # changes, by then it is.
    restanza_http_port=$(free_port)
    say "starting the example roster app (127.0.0.1:$roster_app_port)"
    setsid python3 "$top/contrib/examples/roster-app.py" \
        --file "$contacts_file" --listen "127.0.0.1:$roster_app_port" \
        --refresh-url "http://127.0.0.1:$restanza_http_port/roster_admin/refresh" \
        --token-file "$dir/roster.token" </dev/null >"$log" 2>&1 &
    roster_app_pid=$!
    service_add roster-app "$roster_app_pid" "$log"
    wait_port "$roster_app_port" 10 "$roster_app_pid" ||
        fail "the roster app did not start"
}

# ---------------------------------------------------------------------------
# restanza

restanza_start() {
    local dir="$work/restanza" cfg log
    cfg="$dir/restanza.conf"
    log="$dir/restanza.log"
    mkdir -p "$dir"
    (umask 077 && printf '%s\n' "$component_secret" >"$dir/component.secret")
    rest_token=$(random_secret)
    cat >"$cfg" <<EOF
# restanza configuration written by contrib/demo.sh
[server]
domain = $domain
host = 127.0.0.1
port = $prosody_component_port

[component]
jid = $component
secret_file = $dir/component.secret

[http]
listen = 127.0.0.1:$restanza_http_port

[store]
path = $dir/restanza.db

[rest]
tokens = $rest_token

[webhook]
url = http://127.0.0.1:$bot_port/
content_type = application/json
secret = $webhook_secret

[roster]
url = http://127.0.0.1:$roster_app_port/contacts/%s
token_file = $work/roster-app/roster.token

[muc]
rooms = demo@conference.$domain

[log]
level = info
EOF
    "$restanza_bin" --check-config -c "$cfg" >/dev/null ||
        fail "restanza rejected the generated configuration $cfg"
    say "starting restanza (HTTP 127.0.0.1:$restanza_http_port)"
    setsid "$restanza_bin" -f -c "$cfg" </dev/null >"$log" 2>&1 &
    restanza_pid=$!
    service_add restanza "$restanza_pid" "$log"
    restanza_index=$((${#svc_pids[@]} - 1))
    status_url="http://127.0.0.1:$restanza_http_port/status"
}

# Wait until /status says connected and lists the delegation and privileges.
restanza_wait_connected() {
    local n=0 body=""
    while :; do
        alive "$restanza_pid" || fail "restanza exited"
        body=$(curl -fsS --max-time 2 "$status_url" 2>/dev/null || true)
        case "$body" in
        *'"state":"connected"'*"$delegated_ns"*'"presence":"managed_entity"'*)
            break ;;
        esac
        [ $n -lt $((connect_timeout * 10)) ] ||
            fail "restanza not connected with delegation and privileges after ${connect_timeout} s; last /status: ${body:-none}"
        sleep 0.1
        n=$((n + 1))
    done
    status_body=$body
}

print_json() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -m json.tool <<<"$1" 2>/dev/null || printf '%s\n' "$1"
    else
        printf '%s\n' "$1"
    fi
}

print_try_this() {
    local base="http://127.0.0.1:$restanza_http_port"
    cat <<EOF

restanza is connected to Prosody as $component. Try:

  curl -s $base/status
  curl -s $base/metrics

  # send alice a chat message (log in as alice with any XMPP client to see it)
  curl -si $base/rest -H 'Authorization: Bearer $rest_token' \\
       -H 'Content-Type: application/json' \\
       -d '{"to":"alice@$domain","type":"chat","body":"hello from curl"}'

  # restanza sits in demo@conference.$domain (GET /muc); post to the room:
  # 200 once the room reflects it (join the room with any client to see it)
  curl -si $base/rest -H 'Authorization: Bearer $rest_token' \\
       -H 'Content-Type: application/json' \\
       -d '{"to":"demo@conference.$domain","type":"groupchat","body":"hello room"}'

  # ping the server through the component; the pong comes back as JSON
  curl -s $base/rest/ping/$domain -H 'Authorization: Bearer $rest_token' \\
       -H 'Accept: application/json'

  # a message from alice's client to bot@$component reaches the example bot
  # (contrib/examples/echo_bot_json.py), which answers with the same text

  curl -si $base/rest/ping/$domain      # 401: a token is required

  # rosters come from the example roster app: edit its file
  #   $contacts_file
  # and the app asks restanza to refresh; or refresh by hand:
  curl -s $base/roster_admin/refresh -H 'Authorization: Bearer $roster_token' \\
       -d '["alice","bob"]'

XMPP client accounts (no TLS; allow plain-text authentication):
  alice@$domain / alicepw
  bob@$domain   / bobpw
  server 127.0.0.1, port $prosody_c2s_port

Files and logs: $work
  Prosody:  $work/prosody/prosody.cfg.lua, $work/prosody/prosody.log
  restanza: $work/restanza/restanza.conf, $work/restanza/restanza.log

Press Ctrl-C to stop; everything above is removed then.
EOF
}

# ---------------------------------------------------------------------------

main() {
    install_missing
    work=$(mktemp -d /tmp/restanza-demo.XXXXXX)
    chmod 700 "$work"
    build
    prosody_start
    bot_start
    roster_app_start
    restanza_start
    restanza_wait_connected
    say "GET $status_url"
    print_json "$status_body"

    say "GET /rest/ping/$domain"
    curl -fsS --max-time 10 "http://127.0.0.1:$restanza_http_port/rest/ping/$domain" \
        -H "Authorization: Bearer $rest_token" -H 'Accept: application/json' ||
        fail "GET /rest/ping/$domain failed"
    echo

    say "POST /roster_admin/refresh [\"alice\",\"bob\"]"
    curl -fsS --max-time 20 "http://127.0.0.1:$restanza_http_port/roster_admin/refresh" \
        -H "Authorization: Bearer $roster_token" -d '["alice","bob"]' ||
        fail "the roster refresh failed"
    echo

    say "POST /rest groupchat to demo@conference.$domain (200 once reflected)"
    local i muc
    for i in $(seq 1 100); do
        muc=$(curl -fsS --max-time 2 "http://127.0.0.1:$restanza_http_port/muc" \
            -H "Authorization: Bearer $rest_token" 2>/dev/null || true)
        case $muc in *'"state":"joined"'*) break ;; esac
        sleep 0.1
    done
    curl -fsS --max-time 20 "http://127.0.0.1:$restanza_http_port/rest" \
        -H "Authorization: Bearer $rest_token" -H 'Content-Type: application/json' \
        -d "{\"to\":\"demo@conference.$domain\",\"type\":\"groupchat\",\"body\":\"hello room\"}" ||
        fail "the groupchat message was not reflected by the room (GET /muc: $muc)"
    echo

    if [ $mode = check ]; then
        stop_service "$restanza_index"
        [ "$stop_status" -eq 0 ] ||
            fail "restanza exited with status $stop_status on SIGTERM (expected 0)"
        say "check passed: connected, delegation and privileges received, clean stop"
        exit 0
    fi

    print_try_this
    while :; do
        for i in "${!svc_pids[@]}"; do
            if ! alive "${svc_pids[$i]}"; then
                fail "${svc_names[$i]} exited unexpectedly"
            fi
        done
        sleep 1
    done
}

main
