/* SPDX-License-Identifier: MIT */
/* iq.h: the table of IQs we sent and still wait for: id, callback, deadline. */
#ifndef RESTANZA_IQ_H
#define RESTANZA_IQ_H

#include <stdbool.h>
#include <stdint.h>
#include <strophe.h>

struct loop;
struct iq_table;

enum iq_outcome {
    IQ_REPLY,        /* result or error stanza arrived */
    IQ_TIMEOUT,      /* deadline passed */
    IQ_DISCONNECTED, /* the XMPP stream went away */
    IQ_SHUTDOWN,     /* the daemon is stopping */
};

/*
 * Called exactly once per tracked IQ. reply is borrowed and only set for
 * IQ_REPLY. The callback owns arg and frees it.
 */
typedef void (*iq_cb)(enum iq_outcome outcome, xmpp_stanza_t *reply, void *arg);

struct iq_table *iq_table_new(struct loop *loop);
/* Calls every pending callback with IQ_SHUTDOWN, then frees. */
void iq_table_free(struct iq_table *table);

/* Write a fresh unique id into buf (at least 32 bytes). */
void iq_new_id(struct iq_table *table, char *buf, size_t size);

/*
 * The id space of the table is restanza's alone: an IQ sent on someone
 * else's behalf gets a fresh wire id here, and the id it carried (the
 * caller's, newly allocated, NULL if none) is returned to be put back on the
 * reply with iq_reply_with_id(). The caller frees the returned string.
 */
char *iq_assign_id(struct iq_table *table, xmpp_stanza_t *iq);

/* A copy of reply (the caller releases it) that carries id instead of the
 * wire id; id NULL keeps the wire id. */
xmpp_stanza_t *iq_reply_with_id(const xmpp_stanza_t *reply, const char *id);

/*
 * Wait for the reply to the IQ with this id (from iq_new_id/iq_assign_id),
 * which must come from `peer` (the JID the IQ was sent to; both compared
 * normalised, as the server routes). -1 if the id is already tracked.
 */
int iq_track(struct iq_table *table, const char *id, const char *peer,
             uint64_t timeout_ms, iq_cb cb, void *arg);

/* Forget an id without calling its callback; returns its arg (or NULL). */
void *iq_untrack(struct iq_table *table, const char *id);

/*
 * Offer an incoming result/error IQ. True when it answered a tracked IQ
 * (its callback has run); false when nobody waits for it.
 */
bool iq_handle(struct iq_table *table, xmpp_stanza_t *reply);

/* Fail every pending IQ with outcome (IQ_DISCONNECTED or IQ_SHUTDOWN). */
void iq_fail_all(struct iq_table *table, enum iq_outcome outcome);

size_t iq_pending(const struct iq_table *table);

#endif
