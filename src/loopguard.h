/* SPDX-License-Identifier: MIT */
/* loopguard.h: keeps restanza from talking to itself or ping-ponging. */
#ifndef RESTANZA_LOOPGUARD_H
#define RESTANZA_LOOPGUARD_H

#include <stdbool.h>
#include <stdint.h>

/* Automatic replies (webhook answers, stanza errors) per peer bare JID: a
 * token bucket of LOOPGUARD_BURST refilled at LOOPGUARD_RATE a second. */
#define LOOPGUARD_RATE 5
#define LOOPGUARD_BURST 20
/* Peers tracked at once; idle (full) buckets are forgotten beyond it. */
#define LOOPGUARD_PEERS_MAX 4096

struct loopguard;

/* True when jid (bare, full or domain-only) has domain as its domainpart,
 * compared without ASCII case and without a trailing dot. NULL is false. */
bool loopguard_own_domain(const char *jid, const char *domain);

struct loopguard *loopguard_new(void);
void loopguard_free(struct loopguard *g);

/* Whether one more automatic reply to peer may go out at now_ms (any
 * monotonic ms clock); false means drop it: the peer's budget is spent. */
bool loopguard_allow(struct loopguard *g, const char *peer, uint64_t now_ms);

#endif
