# SPDX-License-Identifier: MIT
"""Group chats (SPEC §11): restanza joins rooms as muc@<component>, sends
groupchat messages answered once the room reflects them, forwards other
occupants' messages to the webhook and rejoins after restarts."""

import json
import time
import uuid
import xml.etree.ElementTree as ET

import pytest

from test_webhook import Sink

TOKEN = "muc-test-token-0123456789"
NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = "http://jabber.org/protocol/muc#user"
NS_MUC_OWNER = "http://jabber.org/protocol/muc#owner"
NS_DATA = "jabber:x:data"
NS_CLIENT = "jabber:client"


@pytest.fixture
def sink():
    s = Sink()
    yield s
    s.close()


def auth(**more):
    h = {"Authorization": "Bearer " + TOKEN}
    h.update(more)
    return h


def new_room(server, name="room"):
    return "%s-%s@%s" % (name, uuid.uuid4().hex[:8], server.muc_domain)


def start(restanza, server, rooms=None, sink=None, valgrind=False, **more):
    cfg = {"rest": {"tokens": TOKEN, "iq_timeout": 5}}
    if rooms:
        cfg["muc"] = {"rooms": ", ".join(rooms)}
    if sink is not None:
        cfg["webhook"] = {"url": sink.url()}
    for section, keys in more.items():
        cfg.setdefault(section, {}).update(keys)
    r = restanza(server, config=cfg, valgrind=valgrind)
    r.wait_connected(timeout=60 if valgrind else 15)
    return r


def rooms(r):
    resp = r.get("/muc", headers=auth())
    assert resp.status == 200, resp.text
    return {x["room"]: x for x in resp.json()["rooms"]}


def wait_state(r, room, state="joined", timeout=20):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = rooms(r).get(room)
        if last is not None and last["state"] == state:
            return last
        time.sleep(0.1)
    raise AssertionError("room %s not %s within %s s: %s\n%s" % (
        room, state, timeout, last, r.diagnostics()))


def join(c, room, nick, timeout=10):
    """Client c joins room as nick (creating it if needed); waits for its
    self-presence."""
    while not c.presences.empty():     # an old self-presence is no answer
        c.presences.get_nowait()
    c.send_raw("<presence to='%s/%s'><x xmlns='%s'><history maxstanzas='0'/>"
               "</x></presence>" % (room, nick, NS_MUC))
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "%s: no self-presence from %s" % (c.bare, room)
        try:
            p = c.presences.get(timeout=left)
        except Exception:
            continue
        if str(p["from"]) == "%s/%s" % (room, nick) and \
                p["type"] != "unavailable":
            assert p["type"] != "error", str(p)
            return p


def configure(c, room, moderated=False):
    """Owner c submits the room configuration (instant room, unlocked)."""
    # Explicit either way: ejabberd's rooms are moderated by default.
    fields = ("<field var='FORM_TYPE'><value>"
              "http://jabber.org/protocol/muc#roomconfig</value></field>"
              "<field var='muc#roomconfig_moderatedroom'><value>%d</value>"
              "</field>" % (1 if moderated else 0))
    reply = c.iq(room, "<query xmlns='%s'><x xmlns='%s' type='submit'>%s</x>"
                 "</query>" % (NS_MUC_OWNER, NS_DATA, fields), "set")
    assert reply.stanza["type"] == "result", str(reply)


def destroy(c, room):
    reply = c.iq(room, "<query xmlns='%s'><destroy/></query>" % NS_MUC_OWNER,
                 "set")
    assert reply.stanza["type"] == "result", str(reply)


def groupchat(c, room, body):
    c.send_raw("<message to='%s' type='groupchat'><body>%s</body></message>"
               % (room, body))


def bodies(c, room, body, wait=1.0):
    """Every groupchat message with this body from room c got: waits for
    the first (10 s), then `wait` s more for duplicates."""
    got = [c.wait_message(lambda m: m["type"] == "groupchat" and
                          str(m["body"]) == body, timeout=10)]
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            got.append(c.wait_message(
                lambda m: m["type"] == "groupchat" and str(m["body"]) == body,
                timeout=deadline - time.monotonic()))
        except TimeoutError:
            break
    return got


def post_groupchat(r, room, body, path="/rest"):
    obj = {"kind": "message", "type": "groupchat", "to": room, "body": body}
    if path != "/rest":
        obj = {"body": body}
    return r.post(path, json.dumps(obj),
                  headers=auth(**{"Content-Type": "application/json",
                                  "Accept": "application/json"}), timeout=20)


def hook_messages(sink, timeout=10):
    """Parsed message stanzas POSTed to the webhook until 2.5 s pass
    without one (the first waits up to timeout): the quiet period is what
    proves that nothing more (a duplicate, an echo) comes."""
    out = []
    while True:
        try:
            req = sink.next_post("message", timeout=timeout)
        except TimeoutError:
            return out
        out.append(ET.fromstring(req[3]))
        timeout = 2.5


# --------------------------------------------------------------------------

def test_configured_room_joined_and_post_reflected_once_to_each(
        server, restanza, client):
    room = new_room(server)
    alice = client(server, "alice")
    bob = client(server, "bob")
    join(alice, room, "alice")
    configure(alice, room)
    join(bob, room, "bob")
    r = start(restanza, server, rooms=[room])
    st = wait_state(r, room)
    assert st["nick"] == "restanza" and st["last_error"] is None

    resp = post_groupchat(r, room, "hello room")
    assert resp.status == 200, resp.text
    assert resp.json()["type"] == "groupchat"
    for c in (alice, bob):
        got = bodies(c, room, "hello room")
        assert len(got) == 1, [str(m) for m in got]
        assert str(got[0]["from"]) == room + "/restanza"

    resp = post_groupchat(r, room, "by path",
                          path="/rest/message/groupchat/" + room)
    assert resp.status == 200, resp.text
    assert len(bodies(alice, room, "by path")) == 1


def test_errors_are_http_statuses_never_2xx(server, restanza, client):
    room = new_room(server, "moderated")
    alice = client(server, "alice")
    join(alice, room, "alice")
    configure(alice, room, moderated=True)
    r = start(restanza, server, rooms=[room])
    wait_state(r, room)

    resp = post_groupchat(r, room, "no voice")
    assert resp.status == 403, resp.text
    body = resp.json()
    assert body["type"] == "error", body
    assert "forbidden" in json.dumps(body), body
    with pytest.raises(TimeoutError):
        alice.wait_message(lambda m: str(m["body"]) == "no voice", timeout=2)

    other = new_room(server, "never")
    resp = post_groupchat(r, other, "nobody")
    assert resp.status == 404, resp.text
    assert "has not joined room " + other in resp.text


def test_occupant_message_to_webhook_once_and_answer_in_room(
        server, restanza, client, sink):
    room = new_room(server)
    alice = client(server, "alice")
    join(alice, room, "alice")
    configure(alice, room)
    groupchat(alice, room, "old history")   # must not reach the webhook
    alice.wait_message(lambda m: str(m["body"]) == "old history")
    sink.respond = lambda method, path, headers, body: (
        200, {"Content-Type": "text/plain"},
        b"pong" if b"ping from alice" in body else b"", 0)
    r = start(restanza, server, rooms=[room], sink=sink)
    wait_state(r, room)
    assert post_groupchat(r, room, "own message").status == 200

    groupchat(alice, room, "ping from alice")
    got = hook_messages(sink)
    texts = [m.findtext("body") or m.findtext("{%s}body" % NS_CLIENT)
             for m in got]
    assert texts == ["ping from alice"], texts
    assert got[0].get("from") == room + "/alice"
    assert got[0].get("type") == "groupchat"
    answer = bodies(alice, room, "pong")
    assert len(answer) == 1
    assert str(answer[0]["from"]) == room + "/restanza"


def test_rejoin_after_server_kill_and_room_recreated(server, restanza,
                                                     client):
    room = new_room(server)
    r = start(restanza, server, rooms=[room])
    wait_state(r, room)
    disconnects = r.disconnects()
    server.kill()
    server.start()
    r.wait_status(lambda s: r.disconnects() > disconnects and
                  s["xmpp"]["state"] == "connected", timeout=30,
                  what="reconnected")
    wait_state(r, room, timeout=20)
    alice = client(server, "alice")
    join(alice, room, "alice")
    assert post_groupchat(r, room, "after restart").status == 200
    assert len(bodies(alice, room, "after restart")) == 1



def test_room_destroyed_and_recreated_is_rejoined(server, restanza, client):
    room = new_room(server)
    alice = client(server, "alice")
    join(alice, room, "alice")
    configure(alice, room)
    r = start(restanza, server, rooms=[room])
    wait_state(r, room)
    destroy(alice, room)
    r.wait_log(r"room lost.*room destroyed", timeout=10)
    # restanza's rejoin re-creates the room (and unlocks it).
    wait_state(r, room, timeout=20)
    join(alice, room, "alice")
    assert post_groupchat(r, room, "after re-creation").status == 200
    assert len(bodies(alice, room, "after re-creation")) == 1


def test_api_put_list_delete(server, restanza, client):
    """Under valgrind: no leak or memory error in the /muc and send paths."""
    room = new_room(server)
    r = start(restanza, server, valgrind=True)
    assert rooms(r) == {}
    assert r.get("/muc").status == 401
    resp = r.request("PUT", "/muc/" + room, json.dumps({"nick": "api-bot"}),
                     headers=auth(**{"Content-Type": "application/json"}))
    assert resp.status in (200, 202), resp.text
    st = wait_state(r, room)
    assert st["nick"] == "api-bot"
    alice = client(server, "alice")
    join(alice, room, "alice")
    assert post_groupchat(r, room, "api room").status == 200
    assert len(bodies(alice, room, "api room")) == 1

    resp = r.request("PUT", "/muc/not-a-room", "", headers=auth())
    assert resp.status == 400, resp.text
    resp = r.request("DELETE", "/muc/" + room, headers=auth())
    assert resp.status == 204, resp.text
    assert room not in rooms(r)
    resp = post_groupchat(r, room, "gone")
    assert resp.status == 404, resp.text
    resp = r.request("DELETE", "/muc/" + room, headers=auth())
    assert resp.status == 404, resp.text
    assert r.stop(timeout=60) == 0, r.diagnostics()


def test_put_room_survives_restart_through_the_store(server, restanza,
                                                     client, tmp_path):
    room = new_room(server)
    gone = new_room(server, "gone")
    store = {"store": {"path": str(tmp_path / "restanza.db")}}
    r = start(restanza, server, **store)
    for name, nick in ((room, "kept"), (gone, "dropped")):
        resp = r.request("PUT", "/muc/" + name, json.dumps({"nick": nick}),
                         headers=auth(**{"Content-Type": "application/json"}))
        assert resp.status in (200, 202), resp.text
        wait_state(r, name)
    assert r.request("DELETE", "/muc/" + gone, headers=auth()).status == 204
    assert r.stop() == 0

    r2 = start(restanza, server, **store)
    st = wait_state(r2, room)
    assert st["nick"] == "kept"
    assert gone not in rooms(r2)
    alice = client(server, "alice")
    join(alice, room, "alice")
    assert post_groupchat(r2, room, "after restart").status == 200
    assert len(bodies(alice, room, "after restart")) == 1


def test_invitation_reaches_webhook_and_is_accepted(server, restanza, client,
                                                    sink):
    room = new_room(server, "invited")
    alice = client(server, "alice")
    join(alice, room, "alice")
    configure(alice, room)
    r = start(restanza, server, sink=sink, muc={"accept_invites": "yes"},
              webhook={"url": sink.url(), "stanzas": "message"})
    muc_jid = "muc@" + server.component_jid
    alice.send_raw("<message to='%s'><x xmlns='jabber:x:conference' "
                   "jid='%s'/></message>" % (muc_jid, room))
    st = wait_state(r, room)
    assert st["nick"] == "restanza"
    got = hook_messages(sink)
    assert len(got) == 1, [ET.tostring(m) for m in got]
    assert got[0].find("{jabber:x:conference}x").get("jid") == room
    assert post_groupchat(r, room, "thanks").status == 200


def test_nick_conflict_then_kick_are_retried(server, restanza, client):
    room = new_room(server)
    alice = client(server, "alice")
    bob = client(server, "bob")
    join(alice, room, "alice")         # the owner, a moderator
    configure(alice, room)
    join(bob, room, "restanza")        # takes restanza's nickname
    r = start(restanza, server, rooms=[room])
    st = wait_state(r, room, "conflict")
    assert st["last_error"] == "nickname in use"
    bob.send_raw("<presence to='%s/restanza' type='unavailable'/>" % room)
    wait_state(r, room, timeout=30)    # the backoff retry gets in
    reply = alice.iq(room, "<query xmlns='%s#admin'><item nick='restanza' "
                     "role='none'/></query>" % NS_MUC, "set")
    assert reply.stanza["type"] == "result", str(reply)
    r.wait_log(r"room lost.*reason=kicked", timeout=10)
    wait_state(r, room, timeout=30)
    assert post_groupchat(r, room, "back after kick").status == 200
    assert len(bodies(alice, room, "back after kick")) == 1


def test_private_message_and_subject_change_reach_webhook(server, restanza,
                                                          client, sink):
    room = new_room(server)
    alice = client(server, "alice")
    join(alice, room, "alice")
    configure(alice, room)
    r = start(restanza, server, rooms=[room], sink=sink)
    wait_state(r, room)
    alice.send_raw("<message to='%s/restanza' type='chat'><body>psst</body>"
                   "</message>" % room)
    alice.send_raw("<message to='%s' type='groupchat'><subject>new topic"
                   "</subject></message>" % room)
    got = hook_messages(sink)
    kinds = [(m.get("type"), m.get("from"), m.findtext("body"),
              m.findtext("subject")) for m in got]
    # Without a store webhook deliveries run side by side: any order.
    assert sorted(kinds, key=str) == sorted(
        [("chat", room + "/alice", "psst", None),
         ("groupchat", room + "/alice", None, "new topic")], key=str), kinds
