#!/usr/bin/env python3
"""events_consumer.py: a webhook receiver for restanza's durable event log.

Deliveries are at least once (doc/events.md): the same event may arrive
again (after a timeout, a restart, a redelivered dead letter), always with
the same X-Restanza-Event id. This receiver checks the signature (which
covers the event id and the attempt), handles each event id once, and
answers 202 to repeats. Answer 5xx (or be down) to have restanza retry.

    WEBHOOK_SECRET=... python3 events_consumer.py 8080
    # restanza.conf: [webhook] url = http://127.0.0.1:8080/hook
"""
import hashlib
import hmac
import http.server
import os
import sqlite3
import sys

SECRET = os.environ.get("WEBHOOK_SECRET", "").encode()
# Seen event ids survive our own restarts: a repeat after a crash of this
# process must not be handled twice either.
DB = sqlite3.connect(os.environ.get("SEEN_DB", "seen-events.db"),
                     check_same_thread=False)
DB.execute("CREATE TABLE IF NOT EXISTS seen (id INTEGER PRIMARY KEY)")


def signature_ok(headers, body):
    if not SECRET:
        return True
    event = headers.get("X-Restanza-Event")
    attempt = headers.get("X-Restanza-Attempt")
    data = body if event is None else (
        ("%s\n%s\n" % (event, attempt)).encode() + body)
    want = "sha256=" + hmac.new(SECRET, data, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers.get("X-Restanza-Signature", ""), want)


def handle(event_id, body):
    """The application's work; runs once per event id."""
    print("event", event_id, body[:200].decode("utf-8", "replace"))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status):
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_OPTIONS(self):
        self.send_response(200)
        self.send_header("Accept", "application/xmpp+xml, application/json")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 1024 * 1024:
            return self.answer(413)
        body = self.rfile.read(n)
        if not signature_ok(self.headers, body):
            return self.answer(403)  # final: restanza does not retry 403
        event = self.headers.get("X-Restanza-Event")
        if event is None:  # an IQ without a store, or store.path = none
            handle(None, body)
            return self.answer(202)
        try:
            with DB:
                DB.execute("INSERT INTO seen (id) VALUES (?)", (int(event),))
        except sqlite3.IntegrityError:
            return self.answer(202)  # a repeat: already handled
        try:
            handle(int(event), body)
        except Exception:
            with DB:
                DB.execute("DELETE FROM seen WHERE id = ?", (int(event),))
            return self.answer(503)  # restanza retries with backoff
        self.answer(202)


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                    Handler).serve_forever()
