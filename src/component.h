/* SPDX-License-Identifier: MIT */
/* component.h: the XEP-0114 connection: connect, handshake, keepalive,
 * reconnect. */
#ifndef RESTANZA_COMPONENT_H
#define RESTANZA_COMPONENT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <strophe.h>

#include "iq.h"

struct loop;
struct store;
struct conf;
struct component;
struct iq_table;

enum component_state {
    COMPONENT_DISCONNECTED,
    COMPONENT_CONNECTING,
    COMPONENT_CONNECTED,
};

/* Every stanza (message, presence, iq) received after the handshake. */
typedef void (*component_stanza_cb)(xmpp_stanza_t *st, void *arg);
/* The state changed (after the component's own bookkeeping). */
typedef void (*component_state_cb)(enum component_state state, void *arg);
typedef void (*component_stopped_cb)(void *arg);

/* Room appeared in the send queue after component_want_room(), or the
 * stream went away (check component_has_room()). Runs from a timer. */
typedef void (*component_room_cb)(void *arg);

struct component *component_new(struct loop *loop, const struct conf *conf);
void component_free(struct component *c);

void component_on_stanza(struct component *c, component_stanza_cb cb,
                         void *arg);
void component_on_state(struct component *c, component_state_cb cb, void *arg);

/* Start connecting (and reconnecting until component_stop). */
void component_start(struct component *c);
/* Close the stream cleanly; cb runs once the stream is closed. */
void component_stop(struct component *c, component_stopped_cb cb, void *arg);

/* Why component_send() or component_send_iq() last returned -1. */
enum component_refusal {
    COMPONENT_REFUSED_NONE,
    COMPONENT_REFUSED_DISCONNECTED, /* no stream, or an IQ without `to` */
    COMPONENT_REFUSED_QUEUE_FULL,   /* component.queue_max bytes pending */
    /* Text, a value or a name the server would close the stream on
     * (invalid UTF-8, a character outside XML 1.0 Char...). */
    COMPONENT_REFUSED_INVALID,
    COMPONENT_REFUSED_TOO_LARGE, /* over component.max_stanza_size */
    COMPONENT_REFUSED_ID,        /* the IQ id is already waiting */
};

/*
 * Queue a stanza to the server; the caller keeps its reference. -1 when
 * not connected, when the send queue is full, or when the stanza is one the
 * server would refuse at stream level (invalid characters, over
 * component.max_stanza_size): nothing was queued, and
 * component_send_refusal() says which. Logged here, once, with context.
 */
int component_send(struct component *c, xmpp_stanza_t *st);

/* True when connected and the send queue is below component.queue_max. */
bool component_has_room(const struct component *c);
/* Call cb once when there is room again (or the stream ends); repeated
 * calls before it runs ask once. One callback per component. */
void component_on_room(struct component *c, component_room_cb cb, void *arg);
void component_want_room(struct component *c);

/*
 * component_send() that also keeps the stanza in the outbox until the
 * server confirms it (a ping after the batch is answered), and sends it
 * again on the next stream if this one ends first (at least once). *seq
 * is its sequence number for component_on_confirm().
 */
int component_send_tracked(struct component *c, xmpp_stanza_t *st,
                           uint64_t *seq);
/* Every tracked stanza up to seq is confirmed by the server. */
typedef void (*component_confirm_cb)(uint64_t seq, void *arg);
void component_on_confirm(struct component *c, component_confirm_cb cb,
                          void *arg);
/* Keep the outbox in the store (NULL: memory only), so that a restart,
 * even SIGKILL, resends what the server had not confirmed (SPEC §10).
 * Before component_start(); 0 or -1. */
struct store;
int component_set_store(struct component *c, struct store *s);
/* Tracked stanzas not yet confirmed. */
uint64_t component_unconfirmed(const struct component *c);

/* The reason of the last refusal (valid until the next send). */
enum component_refusal component_send_refusal(const struct component *c);
/* "disconnected", "queue-full", "invalid-characters", "too-large", ... */
const char *component_refusal_name(enum component_refusal r);

/*
 * Send an IQ (its id is set here when absent) and call cb once with the
 * reply, a timeout or a disconnect. The caller keeps its reference to iq;
 * on -1 cb is not called and arg stays the caller's.
 */
int component_send_iq(struct component *c, xmpp_stanza_t *iq,
                      uint64_t timeout_ms, iq_cb cb, void *arg);

xmpp_ctx_t *component_ctx(struct component *c);
struct loop *component_loop(struct component *c);
struct iq_table *component_iqs(struct component *c);
const char *component_jid(const struct component *c);
enum component_state component_state(const struct component *c);
const char *component_state_name(enum component_state state);
/* Human text of the last failure ("not-authorized: ..."), or NULL. */
const char *component_last_error(const struct component *c);
/* Unix time of the last state change. */
time_t component_since(const struct component *c);
/* "host:port" of the server. */
const char *component_server(const struct component *c);
uint64_t component_reconnects(const struct component *c);

#endif
