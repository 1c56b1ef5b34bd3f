#!/usr/bin/env python3
"""events_consumer.py: read restanza's durable event log (doc/events.md).

Two ways to take events, standard library only:

1. The event stream (the default; no public URL needed, works behind NAT):

       EVENTS_TOKEN=... python3 events_consumer.py http://127.0.0.1:5380

   reads GET /events as Server-Sent Events and handles each event once, in
   order. The id of the last handled event is kept in a file (STATE_FILE,
   default events-consumer.last): after a disconnect (restanza restarted,
   network cut, this process restarted) it reconnects with Last-Event-ID
   and gets exactly what it missed, neither a gap nor a repeat. The first
   start takes new events only; EVENTS_AFTER=0 replays what restanza
   retains (store.retention). An IQ in the stream is answered with
   POST /rest by the application (not done here).

2. A webhook receiver (at-least-once deliveries):

       WEBHOOK_SECRET=... python3 events_consumer.py --webhook 8080
       # restanza.conf: [webhook] url = http://127.0.0.1:8080/hook

   checks the signature (which covers the event id and the attempt),
   handles each event id once (seen ids kept in SEEN_DB, so its own
   restarts do not repeat work either) and answers 202 to repeats; 503
   when handling fails, so that restanza retries. ("events_consumer.py
   8080", a bare port, is the same.)
"""
import hashlib
import hmac
import http.client
import http.server
import json
import os
import signal
import sqlite3
import sys
import time
import urllib.parse


def handle(event_id, kind, stanza):
    """The application's work; runs once per event id, in order."""
    print("event", event_id, kind, json.dumps(stanza), flush=True)


# ---- 1. the event stream ----

STATE_FILE = os.environ.get("STATE_FILE", "events-consumer.last")
# SIGTERM while an event is being handled waits until its id is saved.
STOP = {"busy": False, "asked": False}


def on_term(signo, frame):
    if STOP["busy"]:
        STOP["asked"] = True
    else:
        sys.exit(0)


def load_last():
    try:
        with open(STATE_FILE) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def save_last(event_id):
    # Written before the next event is read: a crash repeats at most the
    # event being handled. (Keep it in the application's own database, in
    # the same transaction as the work, to repeat nothing at all.)
    tmp = STATE_FILE + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % event_id)
    os.replace(tmp, STATE_FILE)


def stream_once(url, token, last):
    """One connection: handle events until it ends; the last id handled."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=45)
    path = (u.path.rstrip("/") or "") + "/events"
    headers = {"Accept": "text/event-stream",
               "Authorization": "Bearer " + token}
    if last is not None:
        headers["Last-Event-ID"] = str(last)
    elif os.environ.get("EVENTS_AFTER"):
        path += "?after=" + os.environ["EVENTS_AFTER"]
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        if resp.status != 200:
            print("stream refused:", resp.status, resp.read()[:200],
                  file=sys.stderr, flush=True)
            if resp.status in (401, 403):
                sys.exit(1)  # a wrong token does not get better by retrying
            return last
        print("connected after", last if last is not None else "new",
              flush=True)
        fields = {}
        # A keepalive comment comes every 15 s: 45 s of silence is a dead
        # connection.
        for raw in resp:
            line = raw.decode("utf-8").rstrip("\r\n")
            if line.startswith(":"):
                continue
            if line:
                name, _, value = line.partition(":")
                fields[name] = value[1:] if value.startswith(" ") else value
                continue
            if "id" in fields:
                event_id = int(fields["id"])
                if last is None or event_id > last:
                    STOP["busy"] = True
                    handle(event_id, fields.get("event", "message"),
                           json.loads(fields.get("data", "null")))
                    save_last(event_id)
                    last = event_id
                    STOP["busy"] = False
                    if STOP["asked"]:
                        sys.exit(0)
            fields = {}
    except (OSError, http.client.HTTPException) as e:
        print("stream lost:", e, file=sys.stderr, flush=True)
    finally:
        conn.close()
    return last


def consume(url, token):
    last, delay = load_last(), 1
    while True:
        before = last
        last = stream_once(url, token, last)
        if last != before:
            delay = 1  # it worked for a while: retry soon
        time.sleep(delay)
        delay = min(delay * 2, 30)


# ---- 2. the webhook receiver ----

SECRET = os.environ.get("WEBHOOK_SECRET", "").encode()
DB = None


def signature_ok(headers, body):
    if not SECRET:
        return True
    event = headers.get("X-Restanza-Event")
    attempt = headers.get("X-Restanza-Attempt")
    data = body if event is None else (
        ("%s\n%s\n" % (event, attempt)).encode() + body)
    want = "sha256=" + hmac.new(SECRET, data, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers.get("X-Restanza-Signature", ""), want)


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
            handle(None, "webhook", body.decode("utf-8", "replace"))
            return self.answer(202)
        try:
            with DB:
                DB.execute("INSERT INTO seen (id) VALUES (?)", (int(event),))
        except sqlite3.IntegrityError:
            return self.answer(202)  # a repeat: already handled
        try:
            handle(int(event), "webhook", body.decode("utf-8", "replace"))
        except Exception:
            with DB:
                DB.execute("DELETE FROM seen WHERE id = ?", (int(event),))
            return self.answer(503)  # restanza retries with backoff
        self.answer(202)


def serve_webhook(port):
    global DB
    # Seen event ids survive our own restarts: a repeat after a crash of
    # this process must not be handled twice either.
    DB = sqlite3.connect(os.environ.get("SEEN_DB", "seen-events.db"),
                         check_same_thread=False)
    DB.execute("CREATE TABLE IF NOT EXISTS seen (id INTEGER PRIMARY KEY)")
    http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                    Handler).serve_forever()


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--webhook"]:
        serve_webhook(int(args[1]) if len(args) > 1 else 8080)
    elif args and args[0].isdigit():
        serve_webhook(int(args[0]))
    else:
        token = os.environ.get("EVENTS_TOKEN")
        if not token:
            sys.exit("events_consumer.py: set EVENTS_TOKEN (events.tokens)")
        signal.signal(signal.SIGTERM, on_term)
        try:
            consume(args[0] if args else "http://127.0.0.1:5380", token)
        except KeyboardInterrupt:
            pass
