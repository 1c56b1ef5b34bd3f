/* SPDX-License-Identifier: MIT */
/* webhook.h: incoming stanzas -> HTTP POST to the web app -> stanza reply. */
#ifndef RESTANZA_WEBHOOK_H
#define RESTANZA_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strophe.h>

struct loop;
struct component;
struct dispatch;
struct delegation;
struct conf;
struct webhook;

/* Longest response body kept; above it the delivery fails. */
#define WEBHOOK_MAX_RESPONSE (1024 * 1024)
/* A forwarded (delegated) IQ is answered within this, whatever timeout. */
#define WEBHOOK_DELEGATED_DEADLINE_MS 25000

/*
 * Start the webhook when conf->webhook.url is set: registers with dispatch
 * for unserved stanzas and for delegated namespaces, and sends the OPTIONS
 * probe. NULL when no URL is configured (then nothing is registered).
 * Everything passed is borrowed and must outlive the webhook.
 */
struct webhook *webhook_new(struct loop *loop, struct component *c,
                            struct dispatch *dp, struct delegation *d,
                            const struct conf *conf);
/*
 * Cancel what is in flight and answer every pending stanza with
 * wait/service-unavailable (when the stream is still up), then free.
 */
void webhook_free(struct webhook *w);

/* Dispatch handlers (registered by main.c; arg is the webhook): every
 * stanza of a configured kind is posted, as is every delegated IQ. */
bool webhook_offer(xmpp_stanza_t *st, void *arg);
bool webhook_delegated(xmpp_stanza_t *outer, xmpp_stanza_t *inner,
                       const char *dlg_ns, void *arg);

/*
 * Stop taking stanzas (new ones get wait/service-unavailable), answer the
 * queued ones the same way, let in-flight deliveries finish for at most
 * ms, then call cb once (never from inside this call).
 */
void webhook_drain(struct webhook *w, unsigned ms, void (*cb)(void *arg),
                   void *arg);

/* ---- the durable event log (events.c drives these with a store) ---- */

/*
 * Called for every message, presence and iq that passes the filters,
 * before anything else happens to it: kind, its from (may be NULL) and the
 * stanza as XML. Returns the event id (> 0) or -1 when it could not be
 * logged (the sender then gets wait/resource-constraint).
 */
typedef int64_t (*webhook_log_fn)(const char *kind, const char *from,
                                  const char *xml, void *arg);
/*
 * Log through fn from now on. A logged message or presence is not
 * delivered by the webhook itself: it waits for webhook_logged() and then
 * for events.c to call webhook_deliver(). IQs are delivered at once, as
 * without a log, with their event id in X-Restanza-Event.
 */
void webhook_set_log(struct webhook *w, webhook_log_fn fn, void *arg);
/* The store committed (ok) or lost (!ok: senders get
 * wait/resource-constraint) the messages and presences logged since the
 * last call. */
void webhook_logged(struct webhook *w, bool ok);

/* How a durable delivery ended. */
enum webhook_outcome {
    WEBHOOK_OUTCOME_DONE,  /* delivered, or refused for good (4xx) */
    WEBHOOK_OUTCOME_RETRY, /* try again later; the sender got nothing */
};
/* error: NULL when delivered with 2xx, else why (borrowed). */
typedef void (*webhook_outcome_fn)(int64_t id, enum webhook_outcome outcome,
                                   const char *error, void *arg);
/*
 * POST logged event id (attempt n, from 1) whose stanza is xml, with
 * X-Restanza-Event and X-Restanza-Attempt. A 2xx or a final 4xx answers
 * the sender as without a log; a connection error, timeout, 5xx, 408 or
 * 429 answers nothing (RETRY). cb runs once, never from inside this call,
 * unless the shutdown drops the delivery (then never). 0, or -1 when xml
 * is not a stanza.
 */
int webhook_deliver(struct webhook *w, int64_t id, unsigned attempt,
                    const char *xml, webhook_outcome_fn cb, void *arg);
/* The mod_rest JSON text of a logged stanza (caller frees), or NULL. */
char *webhook_event_json(struct webhook *w, const char *xml);

/* Stanzas waiting for a free connection; 0 for NULL. */
size_t webhook_queued(const struct webhook *w);
/* Requests in flight; 0 for NULL. */
size_t webhook_in_flight(const struct webhook *w);

/* ---- pure parts, exposed for the unit tests ---- */

/*
 * Expand {kind} {type} {to} {from} in tmpl, each value percent-encoded
 * (NULL counts as empty). Other text is kept. Caller frees.
 */
char *webhook_expand_url(const char *tmpl, const char *kind, const char *type,
                         const char *to, const char *from);

#endif
