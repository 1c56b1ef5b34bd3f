# SPDX-License-Identifier: MIT
"""One Authorization check for every route: /rest, /status, /metrics and
/roster_admin/refresh take the scheme in any case (RFC 7235), answer a
missing or unusable credential with 401 and a challenge, a wrong one with
403, all in the same JSON error shape."""

import json

REST_TOKEN = "tok_rest_0123456789abcdef"
ADMIN_TOKEN = "tok_admin_0123456789abcd"
ROSTER_TOKEN = "tok_roster_0123456789abc"
JSON_CT = {"Content-Type": "application/json", "Accept": "application/json"}
BEARER_CHALLENGE = 'Bearer realm="restanza"'


def start(server, restanza):
    """A daemon with a token per route, connected (/status needs a token
    now, so the log tells when the stream is up)."""
    r = restanza(server, config={
        "rest": {"tokens": REST_TOKEN},
        "http": {"admin_token": ADMIN_TOKEN},
        # No fetch happens: every request below is refused before one.
        "roster": {"url": "http://127.0.0.1:9/roster/%s",
                   "token": ROSTER_TOKEN, "writer": "none"},
    })
    r.wait_log(r"msg=\"xmpp connected\"", timeout=15)
    return r


def routes(r):
    """(name, send(headers) -> response, its token, its challenge)."""
    msg = json.dumps({"to": "bob@localhost", "body": "x"})
    return [
        ("rest", lambda h: r.post("/rest", msg, headers=dict(JSON_CT, **h)),
         REST_TOKEN, 'Bearer realm="restanza", Basic realm="restanza"'),
        ("status", lambda h: r.get("/status", headers=h), ADMIN_TOKEN,
         BEARER_CHALLENGE),
        ("metrics", lambda h: r.get("/metrics", headers=h), ADMIN_TOKEN,
         BEARER_CHALLENGE),
        ("refresh", lambda h: r.post("/roster_admin/refresh", "[]",
                                     headers=dict(JSON_CT, **h)),
         ROSTER_TOKEN, BEARER_CHALLENGE),
    ]


def assert_denied(resp, status, text, where):
    assert resp.status == status, (where, resp)
    body = json.loads(resp.text)
    assert body == {"type": "error", "code": status,
                    "error": {"type": "auth", "condition": "not-authorized",
                              "text": text}}, (where, body)


def test_missing_or_unusable_credentials_get_401_with_a_challenge(
        server, restanza):
    r = start(server, restanza)
    for name, send, _, challenge in routes(r):
        for headers in ({}, {"Authorization": "Bearer"},
                        {"Authorization": "Bearer   "},
                        {"Authorization": "Digest abc"}):
            resp = send(headers)
            where = "%s %s" % (name, headers)
            assert_denied(resp, 401, "No credentials provided", where)
            assert resp.headers["WWW-Authenticate"] == challenge, where


def test_wrong_token_gets_403_on_every_route(server, restanza):
    r = start(server, restanza)
    for name, send, token, _ in routes(r):
        # Another route's token is as wrong as a made-up one.
        for cred in ("wrong_0123456789abcdefgh", token[:-1], token + "x",
                     ADMIN_TOKEN if token != ADMIN_TOKEN else REST_TOKEN):
            resp = send({"Authorization": "Bearer " + cred})
            assert_denied(resp, 403, "Credentials not accepted",
                          "%s %s" % (name, cred))
            assert "WWW-Authenticate" not in resp.headers


def test_scheme_is_case_insensitive_on_every_route(server, restanza):
    r = start(server, restanza)
    for name, send, token, _ in routes(r):
        for scheme in ("Bearer", "bearer", "BEARER", "bEaReR"):
            resp = send({"Authorization": "%s %s" % (scheme, token)})
            assert resp.status in (200, 202), (name, scheme, resp)
