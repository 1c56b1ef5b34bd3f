/* SPDX-License-Identifier: MIT */
/* roster.h: rosters owned by a web app: parse, diff, fetch, sync, cache. */
#ifndef RESTANZA_ROSTER_H
#define RESTANZA_ROSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <strophe.h>

struct loop;
struct component;
struct dispatch;
struct delegation;
struct conf;
struct roster;

/*
 * Privileged roster sets in flight at most, shared by every user being
 * synced (doc/rosters.md): the next goes out when one is answered, and
 * each has its own deadline from its send. The window narrows (down to 1)
 * while the server answers slowly.
 */
#define ROSTER_WINDOW 32

enum roster_sub {
    ROSTER_SUB_NONE,
    ROSTER_SUB_TO,
    ROSTER_SUB_FROM,
    ROSTER_SUB_BOTH,
};

/* One contact; every string is owned by the list that holds the item. */
struct roster_item {
    char *jid;     /* bare, ASCII lower-cased */
    char *name;    /* or NULL */
    char **groups; /* sorted, unique, non-empty */
    size_t ngroups;
    enum roster_sub sub;
};

/* A roster: items sorted by jid, unique. */
struct roster_list {
    struct roster_item *items;
    size_t n;
};

enum roster_op {
    ROSTER_OP_SET,    /* add or change item */
    ROSTER_OP_REMOVE, /* remove item */
};

/* One change; item is borrowed from the list it came from. */
struct roster_change {
    enum roster_op op;
    const struct roster_item *item;
};

void roster_list_free(struct roster_list *l);
/* Item with this bare JID (exact, lower-cased), or NULL; borrowed. */
const struct roster_item *roster_list_find(const struct roster_list *l,
                                           const char *jid);
const char *roster_sub_name(enum roster_sub sub);

/*
 * Parse the web app's answer for user_jid (user@domain): a JSON object
 * {"<jid>": {"name": s, "groups": [s..] or {"s": true}, "subscription":
 * "both|to|from|none"}}. Invalid entries are skipped with a warning naming
 * the user and the JID. NULL (why in err) when the body is not an object.
 */
struct roster_list *roster_parse(const char *user_jid, const char *body,
                                 size_t len, char *err, size_t errlen);
/* The items of a <query xmlns='jabber:iq:roster'/> (NULL query: empty). */
struct roster_list *roster_from_query(xmpp_stanza_t *query);
/* ejabberd mod_http_api get_roster answer (one entry per group); NULL with
 * err when it is not the expected array. */
struct roster_list *roster_from_api(const char *body, size_t len, char *err,
                                    size_t errlen);
/*
 * What to apply to `have` to make it `want`: sets (added or changed name,
 * groups or subscription) in want's order, then removals. *out is a new
 * array (free()) of n changes, NULL when n is 0.
 */
size_t roster_diff(const struct roster_list *want,
                   const struct roster_list *have, struct roster_change **out);
/* <item jid name subscription><group/>..</item>, or <item jid
 * subscription='remove'/>; caller releases. */
xmpp_stanza_t *roster_item_stanza(xmpp_ctx_t *ctx,
                                  const struct roster_item *item, bool remove);

/* Called once per roster_sync(): error is NULL on success (borrowed). */
typedef void (*roster_done_cb)(const char *user, const char *error, void *arg);

/* NULL when conf has no roster.url. Borrows everything. */
struct roster *roster_new(struct loop *loop, struct component *c,
                          struct dispatch *dp, struct delegation *d,
                          const struct conf *conf);
/* Pending callbacks get "shutting down" first. */
void roster_free(struct roster *r);
/* Fetch user's roster and write the difference to the server; cb (may be
 * NULL) runs once, never from inside this call. */
void roster_sync(struct roster *r, const char *user, roster_done_cb cb,
                 void *arg);
/* The writer in use now: "privilege", "ejabberd-api" or "none". */
const char *roster_writer(const struct roster *r);
size_t roster_cached(const struct roster *r);
/* Unix time of the last finished sync, 0 when none. */
time_t roster_last_sync(const struct roster *r);
/* True when a sync can reach the server now (XMPP stream up). */
bool roster_ready(const struct roster *r);
/* Privileged roster sets in flight now, and the most ever (0 for NULL). */
size_t roster_in_flight(const struct roster *r);
size_t roster_in_flight_peak(const struct roster *r);
/* Sets allowed in flight now (ROSTER_WINDOW or narrower; 0 for NULL). */
size_t roster_window(const struct roster *r);

#endif
