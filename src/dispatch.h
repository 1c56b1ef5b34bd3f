/* SPDX-License-Identifier: MIT */
/* dispatch.h: routes incoming stanzas; answers every IQ get/set. */
#ifndef RESTANZA_DISPATCH_H
#define RESTANZA_DISPATCH_H

#include <stdbool.h>
#include <strophe.h>

#include "component.h"

struct component;
struct delegation;
struct conf;
struct dispatch;

/*
 * A forwarded IQ in a delegated namespace. The handler must answer, now or
 * later, with dispatch_delegated_reply(), within 25 s. Returns true when it
 * took the IQ; false passes it on to the next matching handler (and, when
 * none takes it, dispatch answers feature-not-implemented).
 */
typedef bool (*dispatch_delegated_cb)(xmpp_stanza_t *outer,
                                      xmpp_stanza_t *inner, const char *dlg_ns,
                                      void *arg);

/*
 * A stanza for the component that restanza does not serve itself: a
 * message (other than the server's advertisements), a presence, an IQ
 * get/set that is not disco/ping/version on the component's domain, or an
 * IQ result/error that answers no pending request. A handler that takes
 * the stanza owns the answer: it must reply to every IQ get/set (and
 * should to messages it cannot deliver), never to a result or error.
 * Returns true when it took (consumed) the stanza; false passes it on to
 * the next handler, and after the last dispatch answers as if none existed.
 */
typedef bool (*dispatch_incoming_cb)(xmpp_stanza_t *st, void *arg);

/* Stanza kinds a handler is offered (bits). */
#define DISPATCH_MESSAGE 1u
#define DISPATCH_PRESENCE 2u
#define DISPATCH_IQ 4u

/* A registration; dispatch_unregister() ends it. */
struct dispatch_handler;

struct dispatch *dispatch_new(struct component *c, struct delegation *d,
                              const struct conf *conf);
/* Frees the registrations still left. */
void dispatch_free(struct dispatch *dp);

/*
 * Offer every stanza of the kinds (DISPATCH_* bits) to cb: handlers run in
 * ascending priority (equal priorities in registration order) until one
 * returns true. Stanzas from the component's own domain are offered to
 * nobody. Never NULL.
 */
struct dispatch_handler *dispatch_register(struct dispatch *dp, unsigned kinds,
                                           int priority,
                                           dispatch_incoming_cb cb, void *arg);

/*
 * Serve forwarded IQs whose payload is in namespace ns (NULL: any
 * namespace but not_ns, which may be NULL), in the same priority order
 * until one returns true. The namespaces handlers match are the features
 * disco nesting announces. Never NULL.
 */
struct dispatch_handler *
dispatch_register_delegate(struct dispatch *dp, const char *ns,
                           const char *not_ns, int priority,
                           dispatch_delegated_cb cb, void *arg);

/* Tell cb of every change of the stream's state, in the same order (after
 * dispatch's own bookkeeping). Never NULL. */
struct dispatch_handler *dispatch_register_state(struct dispatch *dp,
                                                 int priority,
                                                 component_state_cb cb,
                                                 void *arg);

/* End a registration (NULL: nothing); safe from inside any handler. */
void dispatch_unregister(struct dispatch *dp, struct dispatch_handler *h);

/*
 * Whether an automatic reply (a webhook answer, a stanza error) may be
 * sent: never to the component's own domain, and for messages and
 * presences within the peer's budget (loopguard.h). A refusal is counted
 * and logged (rate-limited) here; the caller just drops st.
 */
bool dispatch_reply_allowed(struct dispatch *dp, xmpp_stanza_t *st);

/*
 * Answer a forwarded IQ: inner_reply (ownership taken) is wrapped for the
 * wrapper IQ outer in dlg_ns and sent. 0 or -1 (not connected).
 */
int dispatch_delegated_reply(struct dispatch *dp, xmpp_stanza_t *outer,
                             const char *dlg_ns, xmpp_stanza_t *inner_reply);

#endif
