/* SPDX-License-Identifier: MIT */
/* dispatch.h: routes incoming stanzas; answers every IQ get/set. */
#ifndef RESTANZA_DISPATCH_H
#define RESTANZA_DISPATCH_H

#include <stdbool.h>
#include <strophe.h>

struct component;
struct delegation;
struct conf;
struct dispatch;

/*
 * A forwarded IQ in a delegated namespace. The handler must answer, now or
 * later, with dispatch_delegated_reply(), within 25 s.
 */
typedef void (*dispatch_delegated_cb)(xmpp_stanza_t *outer,
                                      xmpp_stanza_t *inner, const char *dlg_ns,
                                      void *arg);

/*
 * A stanza for the component that restanza does not serve itself: a
 * message (other than the server's advertisements), a presence, an IQ
 * get/set that is not disco/ping/version on the component's domain, or an
 * IQ result/error that answers no pending request. The handler owns the
 * answer: it must reply to every IQ get/set (and should to messages it
 * cannot deliver), never to a result or error. Returns true when it took
 * the stanza; false lets dispatch answer as if no handler existed.
 */
typedef bool (*dispatch_incoming_cb)(xmpp_stanza_t *st, void *arg);

struct dispatch *dispatch_new(struct component *c, struct delegation *d,
                              const struct conf *conf);
void dispatch_free(struct dispatch *dp);

/* Route unserved stanzas to cb (one handler; NULL removes it). */
void dispatch_on_incoming(struct dispatch *dp, dispatch_incoming_cb cb,
                          void *arg);

/* Offer every message to cb before the incoming hook (REST collects MAM
 * results this way); cb returns true when it consumed the message. */
void dispatch_on_message_early(struct dispatch *dp, dispatch_incoming_cb cb,
                               void *arg);

/* Show every incoming presence to cb before anything else (the roster
 * feature learns logins this way); true consumes it, false passes it on. */
void dispatch_on_presence(struct dispatch *dp, dispatch_incoming_cb cb,
                          void *arg);

/* Serve forwarded IQs whose payload is in namespace ns. With ns NULL: the
 * default handler, for every namespace without its own except
 * jabber:iq:roster (which only its own handler serves). */
void dispatch_delegate(struct dispatch *dp, const char *ns,
                       dispatch_delegated_cb cb, void *arg);

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
