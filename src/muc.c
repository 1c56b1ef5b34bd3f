/* SPDX-License-Identifier: MIT */
/* muc.c: group chats (XEP-0045): joins, rejoins, sends to rooms, /muc API. */
#include "config.h"

#include "muc.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "auth.h"
#include "component.h"
#include "conf.h"
#include "httpd.h"
#include "jid.h"
#include "json.h"
#include "log.h"
#include "loop.h"
#include "rest.h"
#include "stanza.h"
#include "store.h"
#include "xmalloc.h"

#define NS_MUC "http://jabber.org/protocol/muc"
#define NS_MUC_USER "http://jabber.org/protocol/muc#user"
#define NS_MUC_OWNER "http://jabber.org/protocol/muc#owner"
#define NS_CONFERENCE "jabber:x:conference"
#define NS_SID "urn:xmpp:sid:0"
#define NS_DELAY "urn:xmpp:delay"
#define NS_DATA "jabber:x:data"

/* Sends waiting for their reflection, at most. */
#define MUC_MAX_PENDING 1024
/* A join with no answer within this is retried. */
#define MUC_JOIN_TIMEOUT_MS 30000
/* Rejoin backoff: 1 s doubling up to this. */
#define MUC_BACKOFF_MAX_MS 60000
/* Longest PUT /muc body read. */
#define MUC_MAX_BODY 4096

enum room_state {
    ROOM_JOINING,  /* presence sent, no answer yet (or stream down) */
    ROOM_JOINED,   /* our self-presence arrived */
    ROOM_CONFLICT, /* nickname in use: retried with backoff */
    ROOM_ERROR,    /* refused, kicked, destroyed: retried with backoff */
};

static const char *const state_names[] = {"joining", "joined", "conflict",
                                          "error"};

struct room {
    char *jid; /* bare, normalised */
    char *nick;
    bool api; /* added with PUT /muc/{room} */
    enum room_state state;
    char *last_error;         /* NULL when none */
    unsigned failures;        /* consecutive, for the backoff */
    bool subject_seen;        /* the subject sent at join has arrived */
    struct loop_timer *timer; /* join timeout or rejoin backoff */
    struct muc *m;
    LIST_ENTRY(room) link; /* m->rooms */
};

struct muc_send {
    struct muc *m;
    char *room;
    char *id;
    muc_sent_cb cb;
    void *arg;
    struct loop_timer *timer;
    unsigned timeout_s;
    LIST_ENTRY(muc_send) link; /* m->sends */
};

struct muc {
    struct loop *loop;
    struct component *c;
    const struct conf *conf;
    xmpp_ctx_t *ctx;
    char *occupant; /* muc@component.jid */
    bool accept_invites;
    LIST_HEAD(muc_rooms, room) rooms;
    size_t nrooms;
    struct store *store; /* API-added rooms survive restarts here, or NULL */
    LIST_HEAD(muc_sends, muc_send) sends;
    size_t nsends;
    unsigned seq; /* join ids */
};

static void muc_join(struct room *rm);

/* ---------------------------------------------------------------------- */
/* rooms */

static struct room *muc_room_find(struct muc *m, const char *jid)
{
    struct room *rm;

    LIST_FOREACH(rm, &m->rooms, link)
    if (strcmp(rm->jid, jid) == 0)
        return rm;
    return NULL;
}

static void muc_room_set_error(struct room *rm, enum room_state st,
                               const char *why)
{
    rm->state = st;
    free(rm->last_error);
    rm->last_error = why != NULL ? xstrdup(why) : NULL;
}

static void muc_on_timer(void *arg)
{
    struct room *rm = arg;

    rm->timer = NULL;
    if (rm->state == ROOM_JOINING && rm->failures == 0 &&
        rm->last_error == NULL) {
        /* The join timeout: nobody answered. */
        muc_room_set_error(rm, ROOM_ERROR, "no answer to the join");
        log_warn("room join timed out", "room=%s", rm->jid);
    }
    muc_join(rm);
}

/* Retry the join after the backoff of the failures so far. */
static void muc_schedule_rejoin(struct room *rm)
{
    uint64_t ms = 1000;

    for (unsigned i = 0; i < rm->failures && ms < MUC_BACKOFF_MAX_MS; i++)
        ms *= 2;
    if (ms > MUC_BACKOFF_MAX_MS)
        ms = MUC_BACKOFF_MAX_MS;
    rm->failures++;
    loop_timer_cancel(rm->m->loop, rm->timer);
    rm->timer = loop_timer_add(rm->m->loop, ms, muc_on_timer, rm);
    log_info("room rejoin scheduled", "room=%s in_ms=%llu", rm->jid,
             (unsigned long long)ms);
}

/* Send the join presence (no history); nothing while the stream is down. */
static void muc_join(struct room *rm)
{
    struct muc *m = rm->m;
    xmpp_stanza_t *p, *x, *h;
    char to[1200], id[32];

    loop_timer_cancel(m->loop, rm->timer);
    rm->timer = NULL;
    if (component_state(m->c) != COMPONENT_CONNECTED)
        return;
    if (rm->state == ROOM_JOINED)
        rm->state = ROOM_JOINING;
    rm->subject_seen = false;
    snprintf(to, sizeof(to), "%s/%s", rm->jid, rm->nick);
    snprintf(id, sizeof(id), "muc-join-%u", ++m->seq);
    p = stanza_element(m->ctx, EL_PRESENCE, NULL);
    xmpp_stanza_set_attribute(p, ATTR_FROM, m->occupant);
    xmpp_stanza_set_attribute(p, ATTR_TO, to);
    xmpp_stanza_set_attribute(p, ATTR_ID, id);
    x = stanza_add_element(p, "x", NS_MUC);
    h = stanza_add_element(x, "history", NULL);
    xmpp_stanza_set_attribute(h, "maxstanzas", "0");
    if (component_send(m->c, p) < 0)
        log_warn("room join not sent", "room=%s", rm->jid);
    else
        log_info("room join sent", "room=%s nick=%s", rm->jid, rm->nick);
    xmpp_stanza_release(p);
    rm->timer = loop_timer_add(m->loop, MUC_JOIN_TIMEOUT_MS, muc_on_timer, rm);
}

/* Add a room (joined at once when the stream is up); NULL when full. */
static struct room *muc_room_add(struct muc *m, const char *jid,
                                 const char *nick, bool api)
{
    struct room *rm;

    if (m->nrooms >= CONF_MUC_MAX_ROOMS)
        return NULL;
    rm = xcalloc(1, sizeof(*rm));
    rm->m = m;
    rm->jid = xstrdup(jid);
    rm->nick = xstrdup(nick);
    rm->api = api;
    rm->state = ROOM_JOINING;
    LIST_INSERT_HEAD(&m->rooms, rm, link);
    m->nrooms++;
    muc_join(rm);
    return rm;
}

static void muc_room_free(struct room *rm)
{
    loop_timer_cancel(rm->m->loop, rm->timer);
    free(rm->jid);
    free(rm->nick);
    free(rm->last_error);
    free(rm);
}

/* Leave (unavailable presence) and forget the room. */
static void muc_room_remove(struct muc *m, struct room *rm)
{
    char to[1200];

    LIST_REMOVE(rm, link);
    m->nrooms--;
    if (component_state(m->c) == COMPONENT_CONNECTED) {
        xmpp_stanza_t *p = stanza_element(m->ctx, EL_PRESENCE, NULL);
        snprintf(to, sizeof(to), "%s/%s", rm->jid, rm->nick);
        xmpp_stanza_set_attribute(p, ATTR_FROM, m->occupant);
        xmpp_stanza_set_attribute(p, ATTR_TO, to);
        xmpp_stanza_set_attribute(p, ATTR_TYPE, "unavailable");
        component_send(m->c, p);
        xmpp_stanza_release(p);
    }
    log_info("room left", "room=%s", rm->jid);
    muc_room_free(rm);
}

void muc_on_state(enum component_state state, void *arg)
{
    struct muc *m = arg;
    struct room *rm;

    LIST_FOREACH(rm, &m->rooms, link)
    {
        if (state == COMPONENT_CONNECTED) {
            rm->failures = 0;
            muc_join(rm);
        } else if (rm->state == ROOM_JOINED) {
            rm->state = ROOM_JOINING;
        }
    }
}

/* ---------------------------------------------------------------------- */
/* sends */

static void muc_send_unlink(struct muc_send *s)
{
    struct muc *m = s->m;

    LIST_REMOVE(s, link);
    m->nsends--;
    loop_timer_cancel(m->loop, s->timer);
    free(s->room);
    free(s->id);
    free(s);
}

/* Report o for s and forget it. */
static void muc_send_finish(struct muc_send *s, const struct muc_outcome *o)
{
    muc_sent_cb cb = s->cb;
    void *arg = s->arg;

    muc_send_unlink(s);
    cb(o, arg);
}

static void muc_fail_now(muc_sent_cb cb, void *arg, unsigned status,
                         const char *type, const char *cond, const char *text)
{
    struct muc_outcome o = {status, NULL, type, cond, text};

    cb(&o, arg);
}

static void muc_on_send_timeout(void *arg)
{
    struct muc_send *s = arg;
    char text[160];
    struct muc_outcome o = {504, NULL, ERR_WAIT, COND_REMOTE_TIMEOUT, text};

    s->timer = NULL;
    snprintf(text, sizeof(text), "No reflection from the room within %u s",
             s->timeout_s);
    log_warn("groupchat message not reflected", "room=%s id=%s", s->room,
             s->id);
    muc_send_finish(s, &o);
}

static struct muc_send *muc_send_find(struct muc *m, const char *room,
                                      const char *id)
{
    struct muc_send *s;

    if (id == NULL)
        return NULL;
    LIST_FOREACH(s, &m->sends, link)
    if (strcmp(s->id, id) == 0 && strcmp(s->room, room) == 0)
        return s;
    return NULL;
}

bool muc_is_groupchat(xmpp_stanza_t *st)
{
    const char *type = stanza_attr(st, ATTR_TYPE);

    return stanza_is(st, EL_MESSAGE) && type != NULL &&
           strcmp(type, "groupchat") == 0;
}

/* The copy that goes out: from our occupant, with an id and origin-id. */
static xmpp_stanza_t *muc_outgoing(struct muc *m, xmpp_stanza_t *msg,
                                   const char *room)
{
    xmpp_stanza_t *out = xmpp_stanza_copy(msg);
    const char *id = stanza_attr(out, ATTR_ID);

    xmpp_stanza_set_attribute(out, ATTR_FROM, m->occupant);
    xmpp_stanza_set_attribute(out, ATTR_TO, room);
    if (id == NULL) {
        char *gen = xmpp_uuid_gen(m->ctx);
        xmpp_stanza_set_attribute(out, ATTR_ID, gen);
        xmpp_free(m->ctx, gen);
        id = stanza_attr(out, ATTR_ID);
    }
    if (stanza_child(out, "origin-id", NS_SID) == NULL) {
        xmpp_stanza_t *o = stanza_add_element(out, "origin-id", NS_SID);
        xmpp_stanza_set_attribute(o, ATTR_ID, id);
    }
    return out;
}

struct muc_send *muc_send_groupchat(struct muc *m, xmpp_stanza_t *msg,
                                    unsigned timeout_ms, muc_sent_cb cb,
                                    void *arg)
{
    const char *to = stanza_attr(msg, ATTR_TO);
    char *room = to != NULL ? jid_bare(to) : NULL;
    struct room *rm = room != NULL ? muc_room_find(m, room) : NULL;
    struct muc_send *s = NULL;
    xmpp_stanza_t *out;
    char text[1300];

    if (room == NULL || strcmp(room, to) != 0) {
        muc_fail_now(cb, arg, 400, ERR_MODIFY, COND_BAD_REQUEST,
                     "A groupchat message goes to a bare room JID");
    } else if (rm == NULL || rm->state != ROOM_JOINED) {
        snprintf(text, sizeof(text), "restanza has not joined room %s%s%s",
                 room, rm != NULL ? ": " : " (PUT /muc/{room} joins it)",
                 rm != NULL ? state_names[rm->state] : "");
        muc_fail_now(cb, arg, 404, ERR_CANCEL, COND_ITEM_NOT_FOUND, text);
    } else if (m->nsends >= MUC_MAX_PENDING) {
        muc_fail_now(cb, arg, 503, ERR_WAIT, COND_RESOURCE_CONSTRAINT,
                     "Too many groupchat messages wait for their reflection");
    } else {
        out = muc_outgoing(m, msg, room);
        if (component_send(m->c, out) < 0) {
            muc_fail_now(cb, arg, 503, ERR_WAIT, COND_SERVICE_UNAVAILABLE,
                         "XMPP stream unavailable");
        } else {
            s = xcalloc(1, sizeof(*s));
            s->m = m;
            s->room = xstrdup(room);
            s->id = xstrdup(stanza_attr(out, ATTR_ID));
            s->cb = cb;
            s->arg = arg;
            s->timeout_s = (unsigned)((timeout_ms + 999) / 1000);
            s->timer =
                loop_timer_add(m->loop, timeout_ms, muc_on_send_timeout, s);
            LIST_INSERT_HEAD(&m->sends, s, link);
            m->nsends++;
            log_debug("groupchat message sent", "room=%s id=%s", room, s->id);
        }
        xmpp_stanza_release(out);
    }
    free(room);
    return s;
}

void muc_send_cancel(struct muc *m, struct muc_send *s)
{
    (void)m;
    if (s != NULL)
        muc_send_unlink(s);
}

/* ---------------------------------------------------------------------- */
/* incoming */

/* The condition element name of an error stanza, or NULL. */
static const char *muc_error_condition(xmpp_stanza_t *st)
{
    xmpp_stanza_t *e = stanza_child(st, EL_ERROR, NULL);

    for (xmpp_stanza_t *c = e != NULL ? xmpp_stanza_get_children(e) : NULL;
         c != NULL; c = xmpp_stanza_get_next(c)) {
        const char *ns = xmpp_stanza_get_ns(c);
        if (xmpp_stanza_is_tag(c) && ns != NULL &&
            strcmp(ns, NS_STANZAS) == 0 && !stanza_is(c, EL_TEXT))
            return xmpp_stanza_get_name(c);
    }
    return NULL;
}

/* The HTTP status a room's error condition means for a sender. */
static unsigned muc_error_status(const char *cond)
{
    static const struct {
        const char *cond;
        unsigned status;
    } map[] = {
        {"forbidden", 403},
        {"not-authorized", 403},
        {"registration-required", 403},
        {"not-allowed", 403},
        {"policy-violation", 403},
        {"item-not-found", 404},
        {"not-acceptable", 404},
        {"remote-server-not-found", 404},
        {"service-unavailable", 503},
        {"resource-constraint", 503},
    };

    for (size_t i = 0; cond != NULL && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i].cond, cond) == 0)
            return map[i].status;
    return 502;
}

/* Whether the muc#user <x/> of st carries status code. */
static bool muc_has_status(xmpp_stanza_t *st, const char *code)
{
    xmpp_stanza_t *x = stanza_child(st, "x", NS_MUC_USER);

    for (xmpp_stanza_t *c = x != NULL ? xmpp_stanza_get_children(x) : NULL;
         c != NULL; c = xmpp_stanza_get_next(c))
        if (stanza_is(c, "status") && stanza_attr(c, "code") != NULL &&
            strcmp(stanza_attr(c, "code"), code) == 0)
            return true;
    return false;
}

/* Accept the default configuration of a room our join created (an
 * instant room, XEP-0045 §10.1.2): until then some servers keep it locked. */
static void muc_unlock_room(struct muc *m, struct room *rm)
{
    xmpp_stanza_t *iq = stanza_iq(m->ctx, "set", NULL, m->occupant, rm->jid);
    xmpp_stanza_t *q = stanza_add_element(iq, EL_QUERY, NS_MUC_OWNER);
    xmpp_stanza_t *x = stanza_add_element(q, "x", NS_DATA);

    xmpp_stanza_set_attribute(x, ATTR_TYPE, "submit");
    component_send(m->c, iq);
    xmpp_stanza_release(iq);
    log_info("room created", "room=%s", rm->jid);
}

/* Why our occupant left the room, from its unavailable self-presence. */
static const char *muc_leave_reason(xmpp_stanza_t *st)
{
    xmpp_stanza_t *x = stanza_child(st, "x", NS_MUC_USER);

    if (x != NULL && stanza_child(x, "destroy", NULL) != NULL)
        return "room destroyed";
    if (muc_has_status(st, "307"))
        return "kicked";
    if (muc_has_status(st, "301"))
        return "banned";
    if (muc_has_status(st, "321") || muc_has_status(st, "322"))
        return "removed (affiliation change)";
    if (muc_has_status(st, "332"))
        return "room service shut down";
    return "left the room";
}

/* Our own presence in rm (self-presence or an error to our muc_join). */
static void muc_self_presence(struct muc *m, struct room *rm, xmpp_stanza_t *st)
{
    const char *type = stanza_attr(st, ATTR_TYPE);

    if (type == NULL) {
        bool was = rm->state == ROOM_JOINED;
        loop_timer_cancel(m->loop, rm->timer);
        rm->timer = NULL;
        muc_room_set_error(rm, ROOM_JOINED, NULL);
        rm->failures = 0;
        if (muc_has_status(st, "201"))
            muc_unlock_room(m, rm);
        if (!was)
            log_info("room joined", "room=%s nick=%s", rm->jid, rm->nick);
    } else if (strcmp(type, "unavailable") == 0) {
        const char *why = muc_leave_reason(st);
        if (muc_has_status(st, "303"))
            return; /* a nick change: the new presence follows */
        muc_room_set_error(rm, ROOM_ERROR, why);
        log_warn("room lost", "room=%s reason=%s", rm->jid, why);
        muc_schedule_rejoin(rm);
    } else if (strcmp(type, "error") == 0) {
        const char *cond = muc_error_condition(st);
        bool conflict = cond != NULL && strcmp(cond, "conflict") == 0;
        muc_room_set_error(rm, conflict ? ROOM_CONFLICT : ROOM_ERROR,
                           conflict       ? "nickname in use"
                           : cond != NULL ? cond
                                          : "join refused");
        log_warn("room join refused", "room=%s nick=%s condition=%s", rm->jid,
                 rm->nick, cond != NULL ? cond : "-");
        muc_schedule_rejoin(rm);
    }
}

/* A message of type error from a room: the answer to one of our sends. */
static void muc_room_error(struct muc *m, struct room *rm, xmpp_stanza_t *st)
{
    struct muc_send *s = muc_send_find(m, rm->jid, stanza_attr(st, ATTR_ID));
    const char *cond = muc_error_condition(st);
    struct muc_outcome o = {muc_error_status(cond), st, NULL, NULL, NULL};

    if (cond != NULL && strcmp(cond, "not-acceptable") == 0 &&
        rm->state == ROOM_JOINED) {
        /* The room does not know us (it restarted, say): join again. */
        muc_room_set_error(rm, ROOM_ERROR, "not an occupant any more");
        log_warn("room lost", "room=%s reason=%s", rm->jid, rm->last_error);
        muc_join(rm);
    }
    if (s != NULL) {
        log_info("groupchat message refused", "room=%s id=%s condition=%s",
                 rm->jid, s->id, cond != NULL ? cond : "-");
        muc_send_finish(s, &o);
    }
}

/* A groupchat message from rm: true when it is not for the webhook. */
static bool muc_room_message(struct muc *m, struct room *rm, xmpp_stanza_t *st,
                             const char *nick)
{
    xmpp_stanza_t *sid = stanza_child(st, "origin-id", NS_SID);
    struct muc_send *s;

    if (nick != NULL && strcmp(nick, rm->nick) == 0) {
        /* Our reflection: never the webhook's. */
        s = muc_send_find(m, rm->jid, stanza_attr(st, ATTR_ID));
        if (s == NULL && sid != NULL)
            s = muc_send_find(m, rm->jid, stanza_attr(sid, ATTR_ID));
        if (s != NULL) {
            struct muc_outcome o = {200, st, NULL, NULL, NULL};
            muc_send_finish(s, &o);
        }
        return true;
    }
    if (stanza_child(st, "delay", NS_DELAY) != NULL)
        return true; /* history */
    if (stanza_child(st, "subject", NULL) != NULL &&
        stanza_child(st, "body", NULL) == NULL && !rm->subject_seen) {
        rm->subject_seen = true; /* the subject sent at join */
        return true;
    }
    return nick == NULL; /* the room's own notices stay here */
}

/* An invitation (XEP-0249 direct or mediated): the room it names. */
static const char *muc_invitation_room(xmpp_stanza_t *st)
{
    xmpp_stanza_t *x = stanza_child(st, "x", NS_CONFERENCE);
    xmpp_stanza_t *u = stanza_child(st, "x", NS_MUC_USER);

    if (x != NULL)
        return stanza_attr(x, "jid");
    if (u != NULL && stanza_child(u, "invite", NULL) != NULL)
        return stanza_attr(st, ATTR_FROM);
    return NULL;
}

static void muc_maybe_accept(struct muc *m, xmpp_stanza_t *st)
{
    const char *inv = muc_invitation_room(st);
    char *room;

    if (inv == NULL || !stanza_is(st, EL_MESSAGE))
        return;
    room = jid_bare(inv);
    log_info("room invitation", "room=%s from=%s accept=%s",
             room != NULL ? room : "-", stanza_attr(st, ATTR_FROM),
             m->accept_invites ? "yes" : "no");
    if (m->accept_invites && room != NULL && strchr(room, '@') != NULL &&
        muc_room_find(m, room) == NULL &&
        muc_room_add(m, room, m->conf->muc.nick, false) == NULL)
        log_warn("room invitation not accepted: too many rooms", "room=%s",
                 room);
    free(room);
}

bool muc_offer(xmpp_stanza_t *st, void *arg)
{
    struct muc *m = arg;
    const char *from = stanza_attr(st, ATTR_FROM);
    const char *to = stanza_attr(st, ATTR_TO);
    const char *type = stanza_attr(st, ATTR_TYPE);
    struct jid f;
    struct room *rm;
    bool taken = false;
    char *bare;

    muc_maybe_accept(m, st);
    if (from == NULL || to == NULL || strcmp(to, m->occupant) != 0 ||
        (bare = jid_bare(from)) == NULL)
        return false;
    rm = muc_room_find(m, bare);
    free(bare);
    if (rm == NULL || jid_parse(from, &f) < 0)
        return false;
    if (stanza_is(st, EL_PRESENCE)) {
        if ((f.resource != NULL && strcmp(f.resource, rm->nick) == 0) ||
            muc_has_status(st, "110") ||
            (type != NULL && strcmp(type, "error") == 0))
            muc_self_presence(m, rm, st);
        taken = true; /* occupants' presences are not forwarded */
    } else if (type != NULL && strcmp(type, "error") == 0) {
        muc_room_error(m, rm, st);
        taken = true;
    } else if (type != NULL && strcmp(type, "groupchat") == 0) {
        taken = muc_room_message(m, rm, st, f.resource);
    }
    jid_clear(&f);
    return taken;
}

/* ---------------------------------------------------------------------- */
/* HTTP: GET /muc, PUT and DELETE /muc/{room} */

/* A REST token whose JID pattern admits our occupant; answers otherwise. */
static bool muc_authorized(struct muc *m, struct httpd_request *req)
{
    const char *cred;
    bool ok = false;

    if (auth_scheme(httpd_request_header(req, "Authorization"), &cred) !=
            AUTH_SCHEME_BEARER ||
        *cred == '\0') {
        auth_deny(req, AUTH_DENY_MISSING, AUTH_CHALLENGE_BEARER);
        return false;
    }
    for (size_t i = 0; i < m->conf->rest.ntokens; i++) {
        const struct conf_token *t = &m->conf->rest.tokens[i];
        bool eq = auth_secret_equal(cred, t->token);
        if (eq &&
            (t->pattern == NULL || rest_jid_matches(m->occupant, t->pattern)))
            ok = true;
    }
    if (!ok) {
        log_warn("muc api: credentials not accepted", "");
        auth_deny(req, AUTH_DENY_WRONG, AUTH_CHALLENGE_BEARER);
    }
    return ok;
}

static json_object *muc_room_json(const struct room *rm)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "room", json_object_new_string(rm->jid));
    json_object_object_add(o, "nick", json_object_new_string(rm->nick));
    json_object_object_add(o, "state",
                           json_object_new_string(state_names[rm->state]));
    json_object_object_add(
        o, "last_error",
        rm->last_error != NULL ? json_object_new_string(rm->last_error) : NULL);
    return o;
}

/* The store's space for API-added rooms: room -> nick. */
#define MUC_STORE_SPACE "muc.rooms"

/* Keep an API-added room across restarts (logged when the store fails). */
static void muc_keep(struct muc *m, const struct room *rm)
{
    if (m->store == NULL)
        return;
    if (store_kv_put(m->store, MUC_STORE_SPACE, rm->jid, rm->nick,
                     strlen(rm->nick), 0) < 0 ||
        store_flush(m->store) < 0)
        log_warn("room not saved: a restart will forget it", "room=%s",
                 rm->jid);
}

static void muc_forget(struct muc *m, const char *room)
{
    if (m->store == NULL)
        return;
    if (store_kv_del(m->store, MUC_STORE_SPACE, room) < 0 ||
        store_flush(m->store) < 0)
        log_warn("room not removed from the store: a restart rejoins it",
                 "room=%s", room);
}

/* One saved room (validated again: the file may have been edited). */
static int muc_restore_one(const char *key, const void *val, size_t len,
                           int64_t expires_unix, void *arg)
{
    struct muc *m = arg;
    char nick[65];
    struct jid j;
    bool ok;

    (void)expires_unix;
    ok = len > 0 && len < sizeof(nick) && jid_parse(key, &j) == 0;
    if (ok) {
        ok = j.local != NULL && j.resource == NULL;
        jid_clear(&j);
    }
    if (!ok || memchr(val, '\0', len) != NULL) {
        log_warn("saved room ignored: not a room and nickname", "room=%s", key);
        return 0;
    }
    memcpy(nick, val, len);
    nick[len] = '\0';
    if (muc_room_find(m, key) == NULL &&
        muc_room_add(m, key, nick, true) == NULL) {
        log_warn("saved room ignored: too many rooms", "room=%s", key);
        return 1;
    }
    return 0;
}

static void muc_on_list(struct httpd_request *req, void *arg)
{
    struct muc *m = arg;
    json_object *o, *a;
    struct room *rm;

    if (!muc_authorized(m, req))
        return;
    o = json_object_new_object();
    a = json_object_new_array();
    LIST_FOREACH(rm, &m->rooms, link)
    json_object_array_add(a, muc_room_json(rm));
    json_object_object_add(o, "rooms", a);
    httpd_respond_json(req, 200, o);
}

/* The room of /muc/{room}, normalised; answers 400 and NULL when the path
 * names no room. */
static char *muc_path_room(struct httpd_request *req)
{
    const char *p = httpd_request_rest(req);
    struct jid j;
    char *room;

    bool ok = jid_parse(p, &j) == 0;

    if (ok && (j.local == NULL || j.resource != NULL)) {
        jid_clear(&j);
        ok = false;
    }
    if (!ok) {
        httpd_error(req, 400, ERR_MODIFY, COND_BAD_REQUEST,
                    "The path must name a room: /muc/room@service");
        return NULL;
    }
    jid_clear(&j);
    room = jid_normalize(p);
    return room;
}

/* The nick of a PUT body ({"nick": ..} or empty); answers 400 on error. */
static int muc_body_nick(struct muc *m, struct httpd_request *req, char **nick)
{
    size_t len;
    const char *body = httpd_request_body(req, &len);
    json_object *o;
    const char *n;
    char err[128];

    *nick = NULL;
    if (body == NULL || len == 0) {
        *nick = xstrdup(m->conf->muc.nick);
        return 0;
    }
    if (len > MUC_MAX_BODY ||
        (o = json_parse(body, len, 4, err, sizeof(err))) == NULL ||
        !json_object_is_type(o, json_type_object)) {
        if (len <= MUC_MAX_BODY && o != NULL)
            json_object_put(o);
        httpd_error(req, 400, ERR_MODIFY, COND_BAD_REQUEST,
                    "The body must be a JSON object like {\"nick\": \"bot\"}");
        return -1;
    }
    n = json_get_string(o, "nick");
    if (n == NULL && json_object_object_get_ex(o, "nick", NULL))
        n = ""; /* present but not a string: refused below */
    if (n != NULL && (*n == '\0' || strlen(n) > 64 || strchr(n, '/') != NULL ||
                      !json_utf8_valid(n, strlen(n)))) {
        json_object_put(o);
        httpd_error(req, 400, ERR_MODIFY, COND_BAD_REQUEST,
                    "nick must be a string of 1 to 64 bytes");
        return -1;
    }
    *nick = xstrdup(n != NULL ? n : m->conf->muc.nick);
    json_object_put(o);
    return 0;
}

static void muc_on_put(struct httpd_request *req, void *arg)
{
    struct muc *m = arg;
    char *room, *nick;
    struct room *rm;

    if (!muc_authorized(m, req) || (room = muc_path_room(req)) == NULL)
        return;
    if (muc_body_nick(m, req, &nick) < 0) {
        free(room);
        return;
    }
    rm = muc_room_find(m, room);
    if (rm != NULL && strcmp(rm->nick, nick) != 0) {
        muc_room_remove(m, rm);
        rm = NULL;
    }
    if (rm == NULL && (rm = muc_room_add(m, room, nick, true)) == NULL) {
        httpd_error(req, 503, ERR_WAIT, COND_RESOURCE_CONSTRAINT,
                    "Too many rooms (at most 64)");
    } else {
        rm->api = true;
        muc_keep(m, rm);
        httpd_respond_json(req, rm->state == ROOM_JOINED ? 200 : 202,
                           muc_room_json(rm));
    }
    free(room);
    free(nick);
}

static void muc_on_delete(struct httpd_request *req, void *arg)
{
    struct muc *m = arg;
    char *room;
    struct room *rm;

    if (!muc_authorized(m, req) || (room = muc_path_room(req)) == NULL)
        return;
    rm = muc_room_find(m, room);
    if (rm == NULL) {
        char text[1200];
        snprintf(text, sizeof(text), "restanza has not joined room %s", room);
        httpd_error(req, 404, ERR_CANCEL, COND_ITEM_NOT_FOUND, text);
    } else {
        muc_forget(m, rm->jid);
        muc_room_remove(m, rm);
        httpd_respond(req, 204, NULL, "", 0);
    }
    free(room);
}

/* ---------------------------------------------------------------------- */

/* Add the rooms of muc.rooms (validated by conf: room@service[/nick]). */
static void muc_add_configured(struct muc *m)
{
    const char *s = m->conf->muc.rooms;

    while (s != NULL && *s != '\0') {
        size_t len;
        char item[1100];
        struct jid j;

        s += strspn(s, " \t,");
        len = strcspn(s, ",");
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (len > 0 && len < sizeof(item)) {
            memcpy(item, s, len);
            item[len] = '\0';
            if (jid_parse(item, &j) == 0) {
                char bare[1100];
                snprintf(bare, sizeof(bare), "%s@%s", j.local, j.domain);
                if (muc_room_find(m, bare) == NULL)
                    muc_room_add(m, bare,
                                 j.resource != NULL ? j.resource
                                                    : m->conf->muc.nick,
                                 false);
                jid_clear(&j);
            }
        }
        s += strcspn(s, ",");
    }
}

struct muc *muc_new(struct loop *loop, struct component *c, struct httpd *h,
                    struct store *store, const struct conf *conf)
{
    struct muc *m = xcalloc(1, sizeof(*m));
    size_t n = strlen(MUC_LOCAL) + strlen(conf->component.jid) + 2;

    LIST_INIT(&m->rooms);
    LIST_INIT(&m->sends);
    m->loop = loop;
    m->c = c;
    m->conf = conf;
    m->ctx = component_ctx(c);
    m->occupant = xmalloc(n);
    snprintf(m->occupant, n, "%s@%s", MUC_LOCAL, conf->component.jid);
    m->accept_invites = conf->muc.accept_invites == CONF_YES;
    m->store = store;
    muc_add_configured(m);
    if (store != NULL &&
        store_kv_each(store, MUC_STORE_SPACE, muc_restore_one, m) < 0)
        log_warn("saved rooms not read", "path=%s", store_path(store));
    if (h != NULL) {
        httpd_route(h, "GET", "/muc", false, "muc_list", muc_on_list, m);
        httpd_route(h, "PUT", "/muc", true, "muc_put", muc_on_put, m);
        httpd_route(h, "DELETE", "/muc", true, "muc_delete", muc_on_delete, m);
    }
    return m;
}

void muc_free(struct muc *m)
{
    struct muc_send *s;
    struct room *rm;

    if (m == NULL)
        return;
    while ((s = LIST_FIRST(&m->sends)) != NULL) {
        struct muc_outcome o = {503, NULL, ERR_WAIT, COND_SERVICE_UNAVAILABLE,
                                "Shutting down"};
        muc_send_finish(s, &o);
    }
    while ((rm = LIST_FIRST(&m->rooms)) != NULL) {
        LIST_REMOVE(rm, link);
        muc_room_free(rm);
    }
    free(m->occupant);
    free(m);
}
