#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Echo bot for restanza's webhook (webhook.content_type = application/json).

Every chat message sent to any JID of the component is answered with the same
text. The X-Restanza-Signature header is checked when WEBHOOK_SECRET is set.
Python 3 standard library only.

    WEBHOOK_SECRET=... ./echo_bot_json.py [PORT]
    restanza.conf: [webhook] url = http://127.0.0.1:PORT/
                   content_type = application/json
                   secret = ...   (the same value)
"""

import hashlib
import hmac
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = os.environ.get("WEBHOOK_SECRET", "").encode()


def signed(headers, body):
    if not SECRET:
        return True
    want = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers.get("X-Restanza-Signature", ""), want)


class Bot(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, body=b"", ctype=None):
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_OPTIONS(self):
        self.send_response(200)
        self.send_header("Accept", "application/json")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not signed(self.headers, body):
            return self.reply(403)
        try:
            stanza = json.loads(body)
        except ValueError:
            return self.reply(400)
        if stanza.get("kind") != "message" or "body" not in stanza:
            return self.reply(202)      # nothing to say
        answer = {"kind": "message", "type": stanza.get("type", "chat"),
                  "body": stanza["body"]}
        self.reply(200, json.dumps(answer).encode(), "application/json")


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    ThreadingHTTPServer(("127.0.0.1", port), Bot).serve_forever()
