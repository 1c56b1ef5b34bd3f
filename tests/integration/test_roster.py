# SPDX-License-Identifier: MIT
"""Rosters owned by a web app (issue 4, SPEC §6): fetch, sync into the
server, the refresh endpoint, the login trigger and the delegated roster.

Prosody uses the privilege writer WITHOUT roster delegation (so that its
roster pushes reach the clients); ejabberd 23.01 uses the ejabberd-api writer
(its privileged roster set is broken, INTEROP.md §5)."""
import json
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import servers

NS_ROSTER = "jabber:iq:roster"
TOKEN = "roster-token-0123456789"
HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE_APP = os.path.join(HERE, "..", "..", "contrib", "examples",
                           "roster-app.py")


# --------------------------------------------------------------------------
# the web app

class RosterApp:
    """A roster web app on loopback: GET /contacts/<user> answers from
    self.rosters; self.behaviour[user] may be "404", "garbage" or "slow"."""

    def __init__(self):
        self.rosters = {}
        self.behaviour = {}
        self.paths = []
        self.slow_seconds = 5
        self.down = False
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                if app.down:            # a kept-alive connection dies too
                    self.close_connection = True
                    return
                app.paths.append(self.path)
                user = urllib.parse.unquote(self.path.split("/contacts/", 1)[1])
                how = app.behaviour.get(user)
                if how == "slow":
                    time.sleep(app.slow_seconds)
                if how == "404":
                    code, body = 404, b"no such user"
                elif how == "garbage":
                    code, body = 200, b"<html>oops</html>"
                elif how == "2mb":           # over the 1 MiB fetch cap
                    code = 200
                    body = (b'{"x@localhost":{"name":"' + b"a" * (2 << 20)
                            + b'"}}')
                elif how == "badutf8":
                    code = 200
                    body = (b'{"x@localhost":{"name":"' + bytes([0xff, 0xfe])
                            + b'"}}')
                else:
                    code = 200
                    body = json.dumps(app.rosters.get(user, {})).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d/contacts/%%s" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def app():
    a = RosterApp()
    yield a
    a.close()


# --------------------------------------------------------------------------
# servers and daemon

@pytest.fixture(scope="module")
def sync_server(server_name, tmp_path_factory):
    """The module's server without roster delegation and without the
    presence privilege (no login syncs unless a test wants them)."""
    srv = servers.make(server_name,
                       tmp_path_factory.mktemp("sync-" + server_name),
                       delegate=(), privileges={"roster": "both"})
    srv.start()
    yield srv
    srv.stop()


def roster_config(srv, app_url, **extra):
    cfg = {"url": app_url, "token": TOKEN, "timeout": 2}
    if srv.name == "ejabberd":
        cfg.update(writer="ejabberd-api", api_url=srv.api_url,
                   api_user=srv.admin_jid, api_password=srv.admin_password)
    else:
        cfg.update(writer="privilege")
    cfg.update(extra)
    return {"roster": cfg}


def start(restanza, srv, app_url, **extra):
    r = restanza(srv, config=roster_config(srv, app_url, **extra))
    r.wait_connected()
    want = "ejabberd-api" if srv.name == "ejabberd" else "privilege"
    r.wait_status(lambda s: s.get("roster", {}).get("writer") == want,
                  what="roster writer " + want)
    return r


def refresh(r, users, token=TOKEN, timeout=30):
    hdr = {"Content-Type": "application/json"}
    if token:
        hdr["Authorization"] = "Bearer " + token
    body = users if isinstance(users, (bytes, str)) else json.dumps(users)
    if isinstance(body, str):
        body = body.encode()
    return r.post("/roster_admin/refresh", body, headers=hdr, timeout=timeout)


def post_large(r, path, body):
    """POST a big body with Expect: 100-continue (so that an early 413 does
    not race with our sending); returns the final status."""
    import socket
    host, port = r.url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(("POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer "
                   "%s\r\nContent-Type: application/json\r\n"
                   "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n"
                   % (path, host, TOKEN, len(body))).encode())
        head = s.recv(4096).decode("latin-1")
        if head.startswith("HTTP/1.1 100"):
            try:
                s.sendall(body)
            except OSError:
                pass
            head = head.split("\r\n\r\n", 1)[1] or \
                s.recv(4096).decode("latin-1")
        return int(head.split()[1])


# --------------------------------------------------------------------------
# roster observation

def items_of(query):
    out = {}
    for it in query.findall("{%s}item" % NS_ROSTER):
        out[it.get("jid")] = {
            "name": it.get("name"),
            "groups": sorted(g.text for g in it.findall("{%s}group" %
                                                         NS_ROSTER)),
            "subscription": it.get("subscription"),
        }
    return out


def fetch_roster(c):
    """The client's roster get (this also makes it interested in pushes)."""
    reply = c.iq(None, "<query xmlns='%s'/>" % NS_ROSTER, "get")
    assert reply.type == "result", str(reply)
    return items_of(reply.payload)


def pushes(c, count, timeout=10):
    """The next `count` roster pushes received by client c."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("%s: %d of %d roster pushes: %s" % (
                c.bare, len(got), count, got))
        try:
            iq = c.iqs.get(timeout=left)
        except queue.Empty:
            continue
        q = iq.xml.find("{%s}query" % NS_ROSTER)
        if iq["type"] == "set" and q is not None:
            got.append(items_of(q))
    merged = {}
    for p in got:
        merged.update(p)
    return merged


def drain(c, settle=0.5):
    """Forget the pushes received so far (after `settle` seconds)."""
    time.sleep(settle)
    while True:
        try:
            c.iqs.get_nowait()
        except queue.Empty:
            return


def expected(roster, domain="localhost"):
    out = {}
    for jid, v in roster.items():
        g = v.get("groups", [])
        if isinstance(g, dict):
            g = [k for k, on in g.items() if on]
        out[jid] = {"name": v.get("name"), "groups": sorted(set(g)),
                    "subscription": v.get("subscription", "both")}
    return out


def roster_of(client, srv, user):
    """A user's roster as the server keeps it (logs in as the user)."""
    c = client(srv, user, presence=False)
    try:
        return fetch_roster(c)
    finally:
        c.disconnect()


BOB_CAROL = {"bob@localhost": {"name": "Bob", "groups": ["Team"]},
             "carol@localhost": {"name": "Carol",
                                 "groups": {"Team": True, "Friends": True}}}


# --------------------------------------------------------------------------
# 1, 2: pushes to an online user

def test_refresh_pushes_new_contacts_to_online_user(
        sync_server, restanza, client, app):
    srv = sync_server
    app.rosters["alice"] = {}
    r = start(restanza, srv, app.url)
    assert refresh(r, ["alice"]).json()["errors"] == 0      # start empty
    alice = client(srv, "alice")
    assert fetch_roster(alice) == {}
    app.rosters["alice"] = BOB_CAROL
    resp = refresh(r, ["alice"])
    assert resp.status == 200, resp
    assert resp.json() == {"status": "ok", "message": "roster update complete",
                           "updated": 1, "errors": 0, "failed": {}}
    got = pushes(alice, 2)
    assert got == expected(BOB_CAROL)
    # Both servers honour subscription (Prosody's privileged set, ejabberd's
    # add_rosteritem): the re-fetched roster is exactly the web app's.
    assert fetch_roster(alice) == expected(BOB_CAROL)


def test_rename_group_change_and_removal_are_pushed(
        sync_server, restanza, client, app):
    srv = sync_server
    app.rosters["alice"] = BOB_CAROL
    r = start(restanza, srv, app.url)
    assert refresh(r, ["alice"]).json()["updated"] == 1
    alice = client(srv, "alice")
    assert fetch_roster(alice) == expected(BOB_CAROL)
    changed = {"bob@localhost": {"name": "Robert", "groups": ["Team"]},
               "carol@localhost": {"name": "Carol", "groups": ["Family"]}}
    app.rosters["alice"] = changed
    assert refresh(r, ["alice"]).json()["updated"] == 1
    assert pushes(alice, 2) == expected(changed)
    app.rosters["alice"] = {"carol@localhost": changed["carol@localhost"]}
    assert refresh(r, ["alice"]).json()["updated"] == 1
    got = pushes(alice, 1)
    assert got["bob@localhost"]["subscription"] == "remove"
    assert fetch_roster(alice) == expected(app.rosters["alice"])


# --------------------------------------------------------------------------
# 3: offline user

def test_offline_user_gets_the_roster_at_next_login(
        sync_server, restanza, client, app):
    srv = sync_server
    app.rosters["carol"] = {"alice@localhost": {"name": "Alice",
                                                "subscription": "to"}}
    r = start(restanza, srv, app.url)
    resp = refresh(r, ["carol@localhost"])
    assert resp.json()["updated"] == 1, resp
    assert roster_of(client, srv, "carol") == expected(app.rosters["carol"])
    app.rosters["carol"] = {}
    assert refresh(r, ["carol"]).json()["updated"] == 1
    assert roster_of(client, srv, "carol") == {}


# --------------------------------------------------------------------------
# 5: failures are per user

def test_failing_users_are_listed_and_left_alone(
        sync_server, restanza, client, app):
    srv = sync_server
    app.rosters = {"alice": {"carol@localhost": {"name": "C"}},
                   "bob": {"carol@localhost": {"name": "C"}},
                   "carol": {"bob@localhost": {"name": "B"}}}
    r = start(restanza, srv, app.url)
    assert refresh(r, ["alice", "bob", "carol"]).json()["updated"] == 3
    before = {u: roster_of(client, srv, u) for u in ("bob", "carol")}
    app.rosters = {u: {} for u in ("alice", "bob", "carol")}
    app.behaviour = {"bob": "404", "carol": "garbage"}
    resp = refresh(r, ["alice", "bob", "carol"])
    body = resp.json()
    assert resp.status == 200
    assert (body["status"], body["updated"], body["errors"]) == ("ok", 1, 2)
    assert body["failed"] == {"bob": "web app: HTTP 404",
                              "carol": body["failed"]["carol"]}
    assert "invalid roster" in body["failed"]["carol"]
    for u in ("bob", "carol"):
        assert roster_of(client, srv, u) == before[u]
    assert roster_of(client, srv, "alice") == {}

    # slow: cut at roster.timeout (2 s), before the app would answer
    app.behaviour = {"bob": "slow"}
    app.slow_seconds = 20
    t0 = time.monotonic()
    body = refresh(r, ["bob"]).json()
    took = time.monotonic() - t0
    assert took < 10, took
    assert (body["status"], body["updated"], body["errors"]) == ("error", 0, 1)
    assert "timeout" in body["failed"]["bob"].lower() or \
        "timed out" in body["failed"]["bob"].lower(), body

    # down: every user fails -> status error
    app.behaviour = {}
    app.down = True
    app.close()
    body = refresh(r, ["alice", "bob"]).json()
    assert (body["status"], body["updated"], body["errors"]) == ("error", 0, 2)
    assert sorted(body["failed"]) == ["alice", "bob"]
    assert roster_of(client, srv, "bob") == before["bob"]


def test_oversized_invalid_utf8_and_huge_rosters(
        sync_server, restanza, client, app):
    """issue 6 (3): a 2 MB answer and invalid UTF-8 are errors for that user
    only and nothing changes on the server for them; a roster of 2,000
    contacts is applied in full."""
    srv = sync_server
    app.rosters = {"bob": {"carol@localhost": {"name": "C"}},
                   "carol": {"bob@localhost": {"name": "B"}}}
    r = start(restanza, srv, app.url)
    assert refresh(r, ["bob", "carol"]).json()["updated"] == 2
    app.behaviour = {"bob": "2mb", "carol": "badutf8"}
    body = refresh(r, ["bob", "carol"]).json()
    assert (body["status"], body["updated"], body["errors"]) == ("error", 0, 2)
    # Refused for what they are (not a timeout: roster.timeout is 2 s).
    assert body["failed"]["bob"] == "web app: response too large", body
    assert "invalid utf-8" in body["failed"]["carol"], body
    assert set(roster_of(client, srv, "bob")) == {"carol@localhost"}
    assert set(roster_of(client, srv, "carol")) == {"bob@localhost"}
    app.behaviour = {}
    many = {"c%d@localhost" % i: {"name": "C%d" % i, "groups": ["G"]}
            for i in range(2000)}
    app.rosters = {"bob": many}
    t0 = time.monotonic()
    # Prosody rewrites the whole roster for each item: about 30 s here
    # (doc/rosters.md); only each IQ's own deadline bounds the sync.
    body = refresh(r, ["bob"], timeout=600).json()
    print("roster_2000_contacts_s=%.2f" % (time.monotonic() - t0))
    assert (body["status"], body["updated"], body["errors"]) == ("ok", 1, 0)
    assert set(roster_of(client, srv, "bob")) == set(many)
    ro = r.status()["roster"]
    if srv.name == "prosody":
        # Paced: the 2,000 sets went out through the window, never at once.
        assert (ro["in_flight_peak"], ro["in_flight"]) == (ro["window"], 0), ro


# --------------------------------------------------------------------------
# 6: URL encoding

def test_usernames_are_url_encoded_in_the_fetch(sync_server, restanza, app):
    r = start(restanza, sync_server, app.url)
    body = refresh(r, ["a b", "\u00e4", "x/y"]).json()
    assert body["updated"] + body["errors"] == 3
    assert sorted(app.paths) == sorted(["/contacts/a%20b", "/contacts/%C3%A4",
                                        "/contacts/x%2Fy"])


# --------------------------------------------------------------------------
# 7: authentication and malformed bodies

def test_refresh_auth_and_malformed_bodies(sync_server, restanza, app):
    r = start(restanza, sync_server, app.url)
    assert refresh(r, ["alice"], token=None).status == 401
    assert refresh(r, ["alice"], token="wrong-token-000000000").status == 403
    assert r.get("/roster_admin/refresh/alice").status == 401
    for bad in ('{"alice": 1}', '"alice"', '[["alice"]]', '[1]', '[null]',
                '["alice@other.example"]', '["alice@localhost/res"]',
                '[""]', 'not json', ''):
        resp = refresh(r, bad)
        assert resp.status == 400, (bad, resp)
        body = resp.json()
        assert body["status"] == "error" and body["updated"] == 0 and \
            body["errors"] == 0, body
    big = json.dumps(["u%07d" % i for i in range(100000)]).encode()
    assert len(big) > 1000000
    assert post_large(r, "/roster_admin/refresh", big) == 413
    resp = refresh(r, [])
    assert resp.status == 200
    assert resp.json()["updated"] == 0 and resp.json()["errors"] == 0
    resp = r.get("/roster_admin/refresh/alice",
                 headers={"Authorization": "Bearer " + TOKEN})
    assert resp.status == 200 and resp.json()["updated"] == 1, resp


def test_refresh_answers_503_when_xmpp_is_down(make_server, restanza, app):
    srv = make_server("prosody", delegate=(), privileges={"roster": "both"})
    r = start(restanza, srv, app.url)
    srv.stop()
    r.wait_status(lambda s: s["xmpp"]["state"] != "connected",
                  what="disconnected")
    resp = refresh(r, ["alice"])
    assert resp.status == 503 and resp.json()["status"] == "error"


# --------------------------------------------------------------------------
# 4: login trigger

def test_login_syncs_the_roster_without_a_refresh_call(
        server_name, make_server, restanza, client, app):
    srv = make_server(server_name, delegate=(),
                      privileges={"roster": "both",
                                  "presence": "managed_entity"})
    app.rosters["alice"] = {"bob@localhost": {"name": "Bob",
                                              "groups": ["Team"]}}
    r = start(restanza, srv, app.url, min_interval=60)
    alice = client(srv, "alice")        # sends its first available presence
    r.wait_log(r"roster synced.*user=alice", timeout=10)
    assert fetch_roster(alice) == expected(app.rosters["alice"])
    # Again within min_interval (ejabberd may also repeat presences): no
    # second sync.
    app.rosters["alice"] = {}
    alice.send_raw("<presence/>")
    second = client(srv, "alice")
    time.sleep(1)
    assert len(r.log_lines(r"roster login sync.*user=alice")) == 1
    assert fetch_roster(second) == expected(
        {"bob@localhost": {"name": "Bob", "groups": ["Team"]}})


# --------------------------------------------------------------------------
# 8: delegated jabber:iq:roster

def test_delegated_roster_get_set_and_failure(
        server_name, make_server, restanza, client, app):
    srv = make_server(server_name, delegate=["jabber:iq:roster"])
    app.rosters["alice"] = BOB_CAROL
    app.behaviour["bob"] = "404"
    r = start(restanza, srv, app.url)
    r.wait_status(lambda s: NS_ROSTER in json.dumps(s["delegations"]),
                  what="roster delegated")
    alice = client(srv, "alice", presence=False)
    assert fetch_roster(alice) == expected(BOB_CAROL)
    reply = alice.iq(None, "<query xmlns='%s'><item jid='dave@localhost'/>"
                     "</query>" % NS_ROSTER, "set")
    assert (reply.type, reply.error_condition) == ("error", "not-allowed")
    # The web app fails for bob: an error, not silence.
    bob = client(srv, "bob", presence=False)
    reply = bob.iq(None, "<query xmlns='%s'/>" % NS_ROSTER, "get",
                   timeout=28)
    assert reply.type == "error", str(reply)
    assert reply.error_condition == "internal-server-error", str(reply)
    # Slow web app: an inner wait/remote-server-timeout within 25 s.
    app.behaviour["carol"] = "slow"
    carol = client(srv, "carol", presence=False)
    t0 = time.monotonic()
    reply = carol.iq(None, "<query xmlns='%s'/>" % NS_ROSTER, "get",
                     timeout=28)
    assert time.monotonic() - t0 < 25
    assert (reply.type, reply.error_type, reply.error_condition) == (
        "error", "wait", "remote-server-timeout"), str(reply)


# --------------------------------------------------------------------------
# 9: 1,000 users against the example app (and its file watcher)

def test_refresh_of_1000_users_with_the_example_app(
        sync_server, restanza, client, tmp_path):
    srv = sync_server
    users = ["user%04d" % i for i in range(1000)]
    data = {u: {"bob@localhost": {"name": "Bob", "groups": ["Team"]},
                "carol@localhost": {"name": "Carol"}} for u in users}
    data["alice"] = {"bob@localhost": {"name": "Bob"}}
    # ejabberd refuses rosters of unknown users: create the accounts.
    missing = [u for u in users if u not in srv.users]
    threads = [threading.Thread(target=lambda part: [srv.register(u)
                                                     for u in part],
                                args=(missing[k::8],)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    path = tmp_path / "contacts.json"
    path.write_text(json.dumps(data))
    port = servers.free_port()
    # restanza's port is known only once it runs: start it first.
    r = start(restanza, srv, "http://127.0.0.1:%d/contacts/%%s" % port,
              concurrency=32, timeout=10)
    proc = subprocess.Popen(
        [sys.executable, EXAMPLE_APP, "--file", str(path), "--listen",
         "127.0.0.1:%d" % port, "--refresh-url",
         r.url + "/roster_admin/refresh", "--token", TOKEN, "--poll", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout.readline().startswith("roster-app: serving")
        t0 = time.monotonic()
        resp = refresh(r, users, timeout=170)
        took = time.monotonic() - t0
        body = resp.json()
        print("\nrefresh of %d users (%s writer): %.2f s" % (
            len(users), "ejabberd-api" if srv.name == "ejabberd"
            else "privilege", took))
        assert (resp.status, body["updated"], body["errors"]) == \
            (200, 1000, 0), {k: body[k] for k in ("updated", "errors")}
        assert roster_of(client, srv, "user0999") == expected(data["user0999"])

        # The example app refreshes alice when the file changes.
        alice = client(srv, "alice")
        fetch_roster(alice)
        assert refresh(r, ["alice"]).json()["updated"] == 1
        assert fetch_roster(alice) == expected(data["alice"])
        drain(alice)
        data["alice"] = {"carol@localhost": {"name": "Carol"}}
        path.write_text(json.dumps(data))
        got = pushes(alice, 2)
        assert got["bob@localhost"]["subscription"] == "remove"
        assert got["carol@localhost"]["name"] == "Carol"
    finally:
        proc.terminate()
        proc.wait(5)
