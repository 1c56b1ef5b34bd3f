/* SPDX-License-Identifier: MIT */
/* outbox.h: stanzas written to the server but not yet confirmed by it
 * (SPEC §10), in order, with their serialized bytes for a resend. */
#ifndef RESTANZA_OUTBOX_H
#define RESTANZA_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

struct outbox;
struct store;

/* One unconfirmed stanza's bytes (borrowed); returning -1 stops. */
typedef int (*outbox_each_fn)(uint64_t seq, const char *xml, size_t len,
                              void *arg);

struct outbox *outbox_new(void);
/* Frees the memory; what the store holds stays for the next start. */
void outbox_free(struct outbox *o);

/*
 * Keep the outbox in the store too (borrowed; NULL: memory only): load what
 * an earlier run left unconfirmed (sent again on the next stream), then
 * write every add and delete every confirmation, committed with the loop
 * turn. Call once, on an empty outbox. 0 or -1 (nothing could be read).
 */
int outbox_set_store(struct outbox *o, struct store *s);

/* Keep a copy of len bytes; returns the stanza's sequence number (from 1,
 * increasing). */
uint64_t outbox_add(struct outbox *o, const char *xml, size_t len);
/* Every stanza up to seq is confirmed and dropped; returns how many. */
size_t outbox_confirm(struct outbox *o, uint64_t seq);
/* Walk the unconfirmed stanzas, oldest first. */
void outbox_each(const struct outbox *o, outbox_each_fn fn, void *arg);

/* The last sequence number handed out (0: none yet). */
uint64_t outbox_last(const struct outbox *o);
/* Every stanza up to this one is confirmed. */
uint64_t outbox_confirmed(const struct outbox *o);
size_t outbox_count(const struct outbox *o);
size_t outbox_bytes(const struct outbox *o);

#endif
