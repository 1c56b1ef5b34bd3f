/* SPDX-License-Identifier: MIT */
/* muc.h: group chats (XEP-0045): joins, rejoins, sends to rooms, /muc API. */
#ifndef RESTANZA_MUC_H
#define RESTANZA_MUC_H

#include <stdbool.h>

#include <strophe.h>

#include "component.h"

struct loop;
struct httpd;
struct conf;
struct muc;
struct store;

/* The occupant's real JID is this local part at component.jid. */
#define MUC_LOCAL "muc"

/* How a groupchat message sent with muc_send_groupchat() ended. */
struct muc_outcome {
    unsigned status;       /* 200 (reflected) or an HTTP error status */
    xmpp_stanza_t *stanza; /* the reflection or the room's error, or NULL */
    const char *type;      /* without a stanza: error type, condition and */
    const char *cond;      /* text of the JSON error */
    const char *text;
};
typedef void (*muc_sent_cb)(const struct muc_outcome *o, void *arg);
struct muc_send;

/*
 * Join the rooms of muc.rooms and those PUT /muc/{room} saved in store
 * (NULL: kept in memory only) once the stream is up, serve GET /muc and
 * PUT/DELETE /muc/{room} on h. Never NULL; borrows everything.
 */
struct muc *muc_new(struct loop *loop, struct component *c, struct httpd *h,
                    struct store *store, const struct conf *conf);
/* Pending sends are answered 503 first. */
void muc_free(struct muc *m);

/* Dispatch handler for messages and presences (arg: the muc): consumes
 * room traffic that is not for the webhook (presences, our reflections,
 * history, the subject at join); joins rooms we are invited to when
 * muc.accept_invites says so (the invitation is passed on). */
bool muc_offer(xmpp_stanza_t *st, void *arg);

/* Dispatch state handler (arg: the muc): joins every room once the stream
 * is up; marks them rejoining when it is down. */
void muc_on_state(enum component_state state, void *arg);

/* True for a message of type groupchat (muc_send_groupchat's to send). */
bool muc_is_groupchat(xmpp_stanza_t *st);

/*
 * Send the groupchat message msg (borrowed) to its room as our occupant and
 * report once the room reflects it, refuses it, or timeout_ms passed. A
 * room not joined (or any failure found at once) is reported before this
 * returns, and NULL is returned; otherwise cb runs later, exactly once,
 * unless muc_send_cancel() is called first.
 */
struct muc_send *muc_send_groupchat(struct muc *m, xmpp_stanza_t *msg,
                                    unsigned timeout_ms, muc_sent_cb cb,
                                    void *arg);
/* Forget a send: its callback will not run. */
void muc_send_cancel(struct muc *m, struct muc_send *s);

#endif
