/* SPDX-License-Identifier: MIT */
/* delegation.h: XEP-0355 delegations and XEP-0356 privileges, both generations.
 */
#ifndef RESTANZA_DELEGATION_H
#define RESTANZA_DELEGATION_H

#include <stdbool.h>
#include <strophe.h>

struct delegation;
struct strmap;

struct delegation *delegation_new(void);
void delegation_free(struct delegation *d);

/* Forget everything (the stream went away). */
void delegation_clear(struct delegation *d);

/*
 * If msg is a delegation or privilege advertisement, record it as the
 * current state for the server that sent it and return true.
 */
bool delegation_handle_advert(struct delegation *d, xmpp_stanza_t *msg);

/*
 * If node is a disco nesting node (`<dlg-ns>::<ns>` or `<dlg-ns>:bare:<ns>`
 * for either generation), return a pointer to <ns> inside node and set
 * *bare; NULL otherwise.
 */
const char *delegation_parse_node(const char *node, bool *bare);

/*
 * If iq is a forwarded delegated IQ (<iq type=set><delegation
 * xmlns=dlg-ns><forwarded><iq/>), return the inner IQ (borrowed) and set
 * *dlg_ns to the wrapper's namespace; NULL otherwise.
 */
xmpp_stanza_t *delegation_unwrap(xmpp_stanza_t *iq, const char **dlg_ns);

/*
 * The reply to a forwarded IQ `inner`, addressed as both servers accept:
 * <iq xmlns='jabber:client' type=TYPE id=inner.id to=inner.from
 * from=inner.to or the sender's bare JID/>. Caller adds the payload.
 */
xmpp_stanza_t *delegation_inner_reply(xmpp_ctx_t *ctx, xmpp_stanza_t *inner,
                                      const char *type);

/*
 * Wrap inner_reply (ownership taken) into the outer result for the
 * wrapper IQ `outer`, in namespace dlg_ns. Caller sends and releases.
 */
xmpp_stanza_t *delegation_wrap_reply(xmpp_ctx_t *ctx, xmpp_stanza_t *outer,
                                     const char *component_jid,
                                     const char *dlg_ns,
                                     xmpp_stanza_t *inner_reply);

/* Namespaces delegated by server: set of strings (values unused). */
const struct strmap *delegation_namespaces(const struct delegation *d,
                                           const char *server);
/* Privilege type granted for access ("roster", "message", "presence")
 * by server, or NULL when not granted (type "none" counts as not). */
const char *delegation_privilege(const struct delegation *d, const char *server,
                                 const char *access);
/* Namespace of the privilege generation the server used, or NULL. */
const char *delegation_privilege_ns(const struct delegation *d,
                                    const char *server);

/* Servers that advertised anything, sorted; free the array only. */
const char **delegation_servers(const struct delegation *d);
/* access -> type map of the server (borrowed), or NULL. */
const struct strmap *delegation_privileges(const struct delegation *d,
                                           const char *server);

#endif
