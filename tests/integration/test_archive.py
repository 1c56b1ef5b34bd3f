# SPDX-License-Identifier: MIT
"""A user's message archive through restanza (issue #17 item 6):
GET /rest/archive/{user} sends a privileged MAM query (XEP-0356 IQ
permission for urn:xmpp:mam:2, type set) and answers the messages as JSON
with an RSM cursor. Prosody needs contrib/prosody/mod_privilege-iq-results.patch
(Debian's mod_privilege fails as soon as the archive has a result: 502 that
says so); ejabberd 23.01 has no IQ permission at all (403 naming the grant)."""

import base64
import os
import re
import shutil
import signal
import subprocess
import threading
import urllib.parse

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PATCH = os.path.join(REPO, "contrib", "prosody",
                     "mod_privilege-iq-results.patch")
DEBIAN_MODULE = "/usr/lib/prosody/modules/mod_privilege/mod_privilege.lua"
NS_MAM = "urn:xmpp:mam:2"
MAM_GRANT = {"roster": "both", "message": "outgoing", "iq": {NS_MAM: "set"}}
TOKEN = "tok_archive_full_0123456789"
TOKEN_BOB = "tok_archive_bob_0123456789"


def basic(server):
    cred = "%s:%s" % (server.component_jid, server.secret)
    return {"Authorization": "Basic " +
            base64.b64encode(cred.encode()).decode()}


def bearer(token=TOKEN):
    return {"Authorization": "Bearer " + token}


def patched_plugins(tmp_path):
    """A plugin directory with Debian's mod_privilege and our patch."""
    d = tmp_path / "plugins"
    (d / "mod_privilege").mkdir(parents=True)
    shutil.copy(DEBIAN_MODULE, d / "mod_privilege" / "mod_privilege.lua")
    subprocess.run(["patch", "-p1", "-s", "-i", PATCH], cwd=str(d),
                   check=True)
    return str(d)


def start(server, restanza, wait_iq=True, valgrind=False):
    r = restanza(server, valgrind=valgrind, config={"rest": {
        "tokens": "%s, %s bob@localhost" % (TOKEN, TOKEN_BOB)}})
    key = "iq:" + NS_MAM

    def ready(s):
        if s["xmpp"]["state"] != "connected":
            return False
        privs = s["privileges"].get(server.domain) or {}
        return key in privs if wait_iq else "roster" in privs
    r.wait_status(ready, timeout=60 if valgrind else 15,
                  what="connected with privileges")
    return r


def converse(server, client):
    """alice and bob exchange three chat messages; every one arrived (and
    is archived: Prosody stores a message before delivering it)."""
    alice = client(server, "alice")
    bob = client(server, "bob")
    sent = [(alice, bob, "one"), (bob, alice, "two"), (alice, bob, "three")]
    for frm, to, body in sent:
        frm.send_message(to.bare, body)
        to.wait_message(lambda m, b=body: m["body"] == b, timeout=10)
    return [body for _, _, body in sent]


def archive(r, user, headers=None, timeout_s=30, **params):
    q = urllib.parse.urlencode(params)
    return r.get("/rest/archive/%s%s" % (user, "?" + q if q else ""),
                 headers=headers if headers is not None else bearer(),
                 timeout=timeout_s)


def bodies(answer):
    return [m["message"].get("body") for m in answer["messages"]]


@pytest.mark.servers("prosody")
def test_archive_with_the_fix_returns_the_users_messages_and_pages(
        make_server, restanza, client, tmp_path):
    srv = make_server("prosody", modules=["mam"], privileges=MAM_GRANT,
                      plugin_paths=[patched_plugins(tmp_path)])
    r = start(srv, restanza)
    sent = converse(srv, client)

    resp = archive(r, "alice@localhost", headers=basic(srv))
    assert resp.status == 200, resp
    assert resp.headers["Content-Type"] == "application/json"
    got = resp.json()
    assert bodies(got) == sent
    first = got["messages"][0]
    assert first["message"]["from"].startswith("alice@localhost/")
    assert first["message"]["to"] == "bob@localhost"
    assert first["message"]["type"] == "chat"
    assert first["id"] and first["stamp"].endswith("Z")
    assert got["page"]["count"] == 3 and got["page"]["complete"] is True
    assert got["page"]["first"] == first["id"]
    assert got["page"]["last"] == got["messages"][-1]["id"]

    # Paging: max + after walks the archive in order, complete on the last.
    page1 = archive(r, "alice@localhost", max=2).json()
    assert bodies(page1) == sent[:2]
    assert page1["page"]["complete"] is False
    page2 = archive(r, "alice@localhost", max=2,
                    after=page1["page"]["last"]).json()
    assert bodies(page2) == sent[2:]
    assert page2["page"]["complete"] is True
    # before= (empty) is the last page.
    last = archive(r, "alice@localhost", max=1, before="").json()
    assert bodies(last) == sent[2:]

    # with= filters by correspondent; an empty result is a real empty list.
    assert bodies(archive(r, "bob@localhost",
                          **{"with": "alice@localhost"}).json()) == sent
    none = archive(r, "carol@localhost").json()
    assert none["messages"] == [] and none["page"]["complete"] is True

    # An unknown `after` id is the archive's item-not-found: 404.
    resp = archive(r, "alice@localhost", after="no-such-id")
    assert resp.status == 404, resp
    assert resp.json()["error"]["condition"] == "item-not-found"
    # A token limited to bob may read bob's archive only.
    assert archive(r, "bob@localhost", headers=bearer(TOKEN_BOB)).status == 200
    resp = archive(r, "alice@localhost", headers=bearer(TOKEN_BOB))
    assert resp.status == 403, resp
    assert "archive of alice@localhost" in resp.json()["error"]["text"]
    # Parameters are checked, not passed on blindly.
    resp = archive(r, "alice@localhost", maxx=2)
    assert resp.status == 400 and "maxx" in resp.json()["error"]["text"]
    resp = archive(r, "alice@localhost", max="two")
    assert resp.status == 400, resp

    # No answer within the caller's Restanza-Timeout: 504. The results that
    # come later are dropped (not handed to the webhook as messages).
    srv.pause()
    try:
        resp = archive(r, "alice@localhost",
                       headers=dict(bearer(), **{"Restanza-Timeout": "1"}))
    finally:
        srv.resume()
    assert resp.status == 504, resp
    assert resp.json()["error"]["condition"] == "remote-server-timeout"
    r.wait_log(r"archive late result dropped.*alice@localhost", timeout=20,
               count=3)


@pytest.mark.servers("prosody")
def test_archive_without_the_fix_is_a_502_naming_the_server_failure(
        make_server, restanza, client):
    srv = make_server("prosody", modules=["mam"], privileges=MAM_GRANT)
    r = start(srv, restanza)
    converse(srv, client)

    resp = archive(r, "alice@localhost")
    assert resp.status == 502, resp
    err = resp.json()["error"]
    assert err["condition"] == "internal-server-error"
    assert "privileged MAM query" in err["text"]
    assert "mod_privilege-iq-results.patch" in err["text"]
    assert "attempt to call a nil value (field 'send')" in srv.log_text()
    # An archive without results works even there: that empty list is true.
    resp = archive(r, "carol@localhost")
    assert resp.status == 200 and resp.json()["messages"] == []


def test_archive_without_the_iq_grant_is_a_403_naming_it(server, restanza):
    """The default fixture grants roster/message/presence only; ejabberd
    23.01's mod_privilege has no IQ permission to grant at all."""
    r = start(server, restanza, wait_iq=False)
    status = r.status()
    assert not any(k.startswith("iq:")
                   for k in status["privileges"][server.domain])
    resp = archive(r, "alice@localhost")
    assert resp.status == 403, resp
    err = resp.json()["error"]
    assert err["condition"] == "forbidden"
    assert "IQ permission for urn:xmpp:mam:2 (type set)" in err["text"]
    assert server.domain in err["text"]
    # Not a user: the mod_rest shortcut, a query sent as the component
    # (no MAM on the fixture's server: its error IQ, collected as mod_rest).
    h = dict(bearer(), Accept="application/json")
    resp = archive(r, server.domain, headers=h)
    assert resp.status == 200, resp
    answer = resp.json()["xmpp"]
    assert answer[-1]["kind"] == "iq" and answer[-1]["type"] == "error"


@pytest.mark.servers("prosody")
def test_archive_paths_are_clean_under_valgrind(make_server, restanza, client,
                                                tmp_path):
    """Results, paging, an archive error, a query timed out, and a query
    still waiting at SIGTERM (answered 503): no memory error, no leak."""
    srv = make_server("prosody", modules=["mam"], privileges=MAM_GRANT,
                      plugin_paths=[patched_plugins(tmp_path)])
    r = start(srv, restanza, valgrind=True)
    sent = converse(srv, client)
    assert bodies(archive(r, "alice@localhost").json()) == sent
    page = archive(r, "alice@localhost", max=2).json()
    assert bodies(archive(r, "alice@localhost", max=2,
                          after=page["page"]["last"]).json()) == sent[2:]
    assert archive(r, "alice@localhost", after="nope").status == 404

    srv.pause()     # the server holds every query from now on
    try:
        h = dict(bearer(), **{"Restanza-Timeout": "1"})
        assert archive(r, "alice@localhost", headers=h).status == 504
        late = {}
        t = threading.Thread(target=lambda: late.setdefault(
            "resp", archive(r, "bob@localhost", timeout_s=60)))
        t.start()
        r.wait_log(r"archive query sent.*bob@localhost", timeout=30)
        assert r.stop(signal.SIGTERM, timeout=60) == 0, r.diagnostics()
        t.join(60)
    finally:
        srv.resume()
    assert late["resp"].status == 503, late["resp"]
    assert "shutting down" in late["resp"].json()["error"]["text"]
    with open(r.valgrind_log) as f:
        vg = f.read()
    assert "ERROR SUMMARY: 0 errors" in vg, vg[-4000:]
    for kind in ("definitely", "indirectly"):
        for m in re.finditer(r"%s lost: ([\d,]+) bytes" % kind, vg):
            assert m.group(1) == "0", vg[-4000:]
