/* SPDX-License-Identifier: MIT */
/* roster.h: rosters owned by a web app: fetch, read, diff, write, cache. */
#ifndef RESTANZA_ROSTER_H
#define RESTANZA_ROSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <strophe.h>

#include "roster_list.h"

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

/* How a sync ended: callers answer a slow web app differently. */
enum roster_fail {
    ROSTER_FAIL_NONE,
    ROSTER_FAIL_APP_TIMEOUT, /* the web app did not answer in time */
    ROSTER_FAIL_OTHER,
};

/* Called once per roster_sync(): error is NULL (and fail
 * ROSTER_FAIL_NONE) on success, else the text for people (borrowed). */
typedef void (*roster_done_cb)(const char *user, enum roster_fail fail,
                               const char *error, void *arg);

/* NULL when conf has no roster.url. Borrows everything. */
struct roster *roster_new(struct loop *loop, struct component *c,
                          struct dispatch *dp, struct delegation *d,
                          const struct conf *conf);
/* Pending callbacks get "shutting down" first. */
void roster_free(struct roster *r);
/* Dispatch handlers (registered by main.c; arg is the roster): a user's
 * available presence may trigger a sync (never consumed); delegated
 * jabber:iq:roster gets are answered from the web app. */
bool roster_offer_presence(xmpp_stanza_t *st, void *arg);
bool roster_delegated(xmpp_stanza_t *outer, xmpp_stanza_t *inner,
                      const char *dlg_ns, void *arg);
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
