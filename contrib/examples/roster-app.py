#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A small roster web app for restanza (standard library only).

It serves GET /contacts/<user> from a JSON file shaped
    {"alice": {"bob@example.org": {"name": "Bob", "groups": ["Team"]}}, ...}
(one object of contacts per username; unknown users get {}), and when the
file changes it POSTs the usernames whose contacts changed to restanza's
refresh endpoint, so the XMPP server pushes the changes to online clients.

    roster-app.py --file contacts.json --listen 127.0.0.1:8081 \\
        --refresh-url http://127.0.0.1:5380/roster_admin/refresh \\
        --token-file /etc/restanza/roster.token

restanza.conf:  [roster]  url = http://127.0.0.1:8081/contacts/%s
"""
import argparse
import json
import os
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Contacts:
    """The file's content, reloaded when its modification time changes."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.data = {}
        self.stamp = None
        self.reload()

    def reload(self):
        """Re-read the file if it changed; return the users whose contacts
        changed (None when nothing was re-read)."""
        try:
            st = os.stat(self.path)
        except OSError as e:
            print("roster-app: %s" % e, file=sys.stderr)
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self.stamp:
            return None
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
            if not isinstance(data, dict):
                raise ValueError("the top level must be an object")
        except (OSError, ValueError) as e:
            print("roster-app: %s: %s (keeping the old data)" % (self.path, e),
                  file=sys.stderr)
            self.stamp = stamp
            return None
        with self.lock:
            old, self.data, self.stamp = self.data, data, stamp
        return sorted(u for u in set(old) | set(data)
                      if old.get(u) != data.get(u))

    def get(self, user):
        with self.lock:
            return self.data.get(user, {})


def make_handler(contacts):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"      # keep-alive for restanza's fetches

        def log_message(self, fmt, *args):
            pass

        def do_GET(self):
            prefix = "/contacts/"
            if not self.path.startswith(prefix):
                self.answer(404, {"error": "not found"})
                return
            user = urllib.parse.unquote(self.path[len(prefix):])
            self.answer(200, contacts.get(user))

        def answer(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
    return Handler


def refresh(url, token, users, timeout=300):
    """POST the users to restanza; returns its JSON answer."""
    req = urllib.request.Request(
        url, data=json.dumps(users).encode(), method="POST",
        headers={"Content-Type": "application/json",
                 "Authorization": "Bearer " + token})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=timeout) as r:
        return json.loads(r.read().decode())


def watch(contacts, args, token):
    while True:
        time.sleep(args.poll)
        users = contacts.reload()
        if not users or not args.refresh_url:
            continue
        try:
            answer = refresh(args.refresh_url, token, users)
            print("roster-app: refreshed %d users: %s" % (len(users), answer),
                  flush=True)
        except Exception as e:          # keep watching whatever happened
            print("roster-app: refresh failed: %s" % e, file=sys.stderr)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--file", required=True, help="JSON file of contacts")
    p.add_argument("--listen", default="127.0.0.1:8081", help="host:port")
    p.add_argument("--refresh-url", help="restanza's /roster_admin/refresh")
    p.add_argument("--token", help="roster.token (or ROSTER_TOKEN)")
    p.add_argument("--token-file", help="file holding roster.token")
    p.add_argument("--poll", type=float, default=1.0,
                   help="seconds between checks of the file")
    args = p.parse_args()
    token = args.token or os.environ.get("ROSTER_TOKEN", "")
    if args.token_file:
        with open(args.token_file) as f:
            token = f.read().strip()
    if args.refresh_url and not token:
        p.error("--refresh-url needs --token, --token-file or ROSTER_TOKEN")
    host, _, port = args.listen.rpartition(":")
    contacts = Contacts(args.file)
    server = ThreadingHTTPServer((host.strip("[]"), int(port)),
                                 make_handler(contacts))
    server.daemon_threads = True
    threading.Thread(target=watch, args=(contacts, args, token),
                     daemon=True).start()
    print("roster-app: serving %s on http://%s/contacts/<user>" % (
        args.file, args.listen), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
