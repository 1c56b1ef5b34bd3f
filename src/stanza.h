/* SPDX-License-Identifier: MIT */
/* stanza.h: XML names and namespaces, stanza builders and safe accessors. */
#ifndef RESTANZA_STANZA_H
#define RESTANZA_STANZA_H

#include <stdbool.h>
#include <strophe.h>

#define NS_CLIENT "jabber:client"
#define NS_COMPONENT "jabber:component:accept"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_PING "urn:xmpp:ping"
#define NS_SID "urn:xmpp:sid:0" /* XEP-0359 */
#define NS_VERSION "jabber:iq:version"
#define NS_ROSTER "jabber:iq:roster"
#define NS_FORWARD "urn:xmpp:forward:0"
#define NS_DELEGATION_1 "urn:xmpp:delegation:1"
#define NS_DELEGATION_2 "urn:xmpp:delegation:2"
#define NS_PRIVILEGE_1 "urn:xmpp:privilege:1"
#define NS_PRIVILEGE_2 "urn:xmpp:privilege:2"

#define EL_IQ "iq"
#define EL_MESSAGE "message"
#define EL_PRESENCE "presence"
#define EL_QUERY "query"
#define EL_ERROR "error"
#define EL_TEXT "text"
#define EL_IDENTITY "identity"
#define EL_FEATURE "feature"
#define EL_PING "ping"
#define EL_ORIGIN_ID "origin-id"
#define EL_NAME "name"
#define EL_VERSION "version"
#define EL_DELEGATION "delegation"
#define EL_DELEGATED "delegated"
#define EL_ATTRIBUTE "attribute"
#define EL_PRIVILEGE "privilege"
#define EL_PERM "perm"
#define EL_NAMESPACE "namespace"
#define EL_FORWARDED "forwarded"

#define ATTR_ID "id"
#define ATTR_TYPE "type"
#define ATTR_FROM "from"
#define ATTR_TO "to"
#define ATTR_XMLNS "xmlns"
#define ATTR_NODE "node"
#define ATTR_VAR "var"
#define ATTR_CATEGORY "category"
#define ATTR_NAMESPACE "namespace"
#define ATTR_ACCESS "access"
#define ATTR_NS "ns"

/* Error types and the conditions we emit (RFC 6120 §8.3). */
#define ERR_CANCEL "cancel"
#define ERR_MODIFY "modify"
#define ERR_WAIT "wait"
#define ERR_AUTH "auth"
#define COND_SERVICE_UNAVAILABLE "service-unavailable"
#define COND_FEATURE_NOT_IMPLEMENTED "feature-not-implemented"
#define COND_BAD_REQUEST "bad-request"
#define COND_ITEM_NOT_FOUND "item-not-found"
#define COND_NOT_ALLOWED "not-allowed"
#define COND_FORBIDDEN "forbidden"
#define COND_INTERNAL "internal-server-error"
#define COND_REMOTE_TIMEOUT "remote-server-timeout"
#define COND_RECIPIENT_UNAVAILABLE "recipient-unavailable"
#define COND_RESOURCE_CONSTRAINT "resource-constraint"
#define COND_NOT_ACCEPTABLE "not-acceptable"

/* Attribute or NULL; borrowed from the stanza. */
const char *stanza_attr(xmpp_stanza_t *st, const char *name);
/* True when the stanza's element name equals name. */
bool stanza_is(xmpp_stanza_t *st, const char *name);
/* First element child (text nodes skipped), or NULL. */
xmpp_stanza_t *stanza_first_element(xmpp_stanza_t *st);
/* Number of element children. */
int stanza_element_count(xmpp_stanza_t *st);
/* First child element with this name and namespace (either may be NULL). */
xmpp_stanza_t *stanza_child(xmpp_stanza_t *st, const char *name,
                            const char *ns);

/* New element with an optional namespace; caller releases. */
xmpp_stanza_t *stanza_element(xmpp_ctx_t *ctx, const char *name,
                              const char *ns);
/* Add a new element child and return it (borrowed: the parent owns it). */
xmpp_stanza_t *stanza_add_element(xmpp_stanza_t *parent, const char *name,
                                  const char *ns);
/* Add a text child. */
void stanza_add_text(xmpp_stanza_t *parent, const char *text);
/* Add child and release our reference (the parent keeps it alive). */
void stanza_adopt(xmpp_stanza_t *parent, xmpp_stanza_t *child);
/* Drop an xmlns of the stream (jabber:client or jabber:component:accept)
 * from st, and from every descendant element too when deep. */
void stanza_strip_stream_ns(xmpp_stanza_t *st, bool deep);

/* <iq type id from to/>; caller releases. */
xmpp_stanza_t *stanza_iq(xmpp_ctx_t *ctx, const char *type, const char *id,
                         const char *from, const char *to);

/*
 * A reply to `req` of the same element: type result (or error), id copied,
 * to = req's from, from = `from`. Caller releases.
 */
xmpp_stanza_t *stanza_result(xmpp_ctx_t *ctx, xmpp_stanza_t *req,
                             const char *from);
xmpp_stanza_t *stanza_error(xmpp_ctx_t *ctx, xmpp_stanza_t *req,
                            const char *from, const char *type,
                            const char *condition, const char *text);
/* Build only the <error type=..><condition/><text/></error> element. */
xmpp_stanza_t *stanza_error_element(xmpp_ctx_t *ctx, const char *type,
                                    const char *condition, const char *text);

/* Output of stanza_serialize: buf[0..len) plus a NUL, cap allocated. */
struct stanza_out {
    char *buf;
    size_t len;
    size_t cap;
};

/* Why stanza_serialize_max refused a stanza. */
enum stanza_fault {
    STANZA_FAULT_NONE,
    /* A text or attribute value that is not strict UTF-8 made of XML 1.0
     * Chars (utf8.h), or a missing or malformed element or attribute name:
     * a server closes the stream on it. */
    STANZA_FAULT_INVALID,
    STANZA_FAULT_TOO_LARGE, /* more than max bytes once serialized */
};

/*
 * Append the compact XML of st (an element or a text node) to o, growing
 * o->buf with xrealloc; a child's xmlns is written only where it differs
 * from its parent's. 0, or -1 (o unchanged in length, *fault says why when
 * fault is not NULL) for anything a server would refuse at stream level or
 * more than max bytes of XML.
 */
int stanza_serialize_max(xmpp_stanza_t *st, struct stanza_out *o, size_t max,
                         enum stanza_fault *fault);

/* Serialize compactly into new memory; NULL on failure; free(). */
char *stanza_to_text(xmpp_stanza_t *st, size_t *len);

#endif
