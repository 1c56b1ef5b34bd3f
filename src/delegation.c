/* SPDX-License-Identifier: MIT */
/* delegation.c: XEP-0355 delegations and XEP-0356 privileges, both generations.
 */
#include "config.h"

#include "delegation.h"
#include "delegation_priv.h"

#include <stdlib.h>
#include <string.h>

#include "jid.h"
#include "log.h"
#include "stanza.h"
#include "strmap.h"
#include "xmalloc.h"

struct server {
    struct strmap *namespaces; /* set: ns -> marker */
    struct strmap *perms;      /* access -> type (owned string) */
    char *priv_ns;
};

struct delegation {
    struct strmap *servers; /* domain -> struct server */
};

static char marker;

static void server_free(void *p)
{
    struct server *s = p;
    if (s == NULL)
        return;
    strmap_free(s->namespaces);
    strmap_free(s->perms);
    free(s->priv_ns);
    free(s);
}

struct delegation *delegation_new(void)
{
    struct delegation *d = xcalloc(1, sizeof(*d));
    d->servers = strmap_new(server_free);
    return d;
}

void delegation_free(struct delegation *d)
{
    if (d == NULL)
        return;
    strmap_free(d->servers);
    free(d);
}

void delegation_clear(struct delegation *d)
{
    strmap_clear(d->servers);
}

static struct server *server_get(struct delegation *d, const char *domain)
{
    struct server *s = strmap_get(d->servers, domain);
    if (s == NULL) {
        s = xcalloc(1, sizeof(*s));
        s->namespaces = strmap_new(NULL);
        s->perms = strmap_new(free);
        strmap_set(d->servers, domain, s);
    }
    return s;
}

static bool ns_is(const char *ns, const char *a, const char *b)
{
    return ns != NULL && (strcmp(ns, a) == 0 || strcmp(ns, b) == 0);
}

/* Record <delegated namespace=...> children. */
static void take_delegations(struct server *s, xmpp_stanza_t *el,
                             const char *ns, const char *from)
{
    /*
     * Prosody (delegation:2) lists every namespace in one message, so the
     * message replaces what we knew. ejabberd (delegation:1) sends one
     * message per namespace and route, so there each message adds.
     */
    if (strcmp(ns, NS_DELEGATION_2) == 0)
        strmap_clear(s->namespaces);
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(el); c != NULL;
         c = xmpp_stanza_get_next(c)) {
        const char *dns = stanza_attr(c, ATTR_NAMESPACE);
        if (!stanza_is(c, EL_DELEGATED) || dns == NULL || dns[0] == '\0')
            continue;
        if (strmap_get(s->namespaces, dns) == NULL)
            log_info("namespace delegated", "server=%s ns=%s via=%s", from, dns,
                     ns);
        strmap_set(s->namespaces, dns, &marker);
    }
}

/* Find every <namespace ns=.. type=..> below el (Prosody nests them). */
static void take_iq_perms(struct server *s, xmpp_stanza_t *el)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(el); c != NULL;
         c = xmpp_stanza_get_next(c)) {
        const char *ins = stanza_attr(c, ATTR_NS);
        const char *type = stanza_attr(c, ATTR_TYPE);
        if (!stanza_is(c, EL_NAMESPACE))
            continue;
        if (ins != NULL && type != NULL && strcmp(type, "none") != 0) {
            char *key = xasprintf("iq:%s", ins);
            strmap_set(s->perms, key, xstrdup(type));
            free(key);
        }
        take_iq_perms(s, c);
    }
}

static void take_privileges(struct server *s, xmpp_stanza_t *el, const char *ns,
                            const char *from)
{
    strmap_clear(s->perms); /* both servers send the full list each time */
    free(s->priv_ns);
    s->priv_ns = xstrdup(ns);
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(el); c != NULL;
         c = xmpp_stanza_get_next(c)) {
        const char *access = stanza_attr(c, ATTR_ACCESS);
        const char *type = stanza_attr(c, ATTR_TYPE);
        if (!stanza_is(c, EL_PERM) || access == NULL)
            continue;
        if (strcmp(access, "iq") == 0) {
            take_iq_perms(s, c);
            continue;
        }
        if (type == NULL || strcmp(type, "none") == 0)
            continue;
        strmap_set(s->perms, access, xstrdup(type));
        log_info("privilege granted", "server=%s access=%s type=%s via=%s",
                 from, access, type, ns);
    }
}

bool delegation_handle_advert(struct delegation *d, xmpp_stanza_t *msg)
{
    const char *from = stanza_attr(msg, ATTR_FROM);
    xmpp_stanza_t *el;
    bool handled = false;

    /* Only a server (a bare domain) may advertise; users cannot. */
    if (from == NULL || strchr(from, '@') != NULL ||
        strchr(from, '/') != NULL || !jid_domain_valid(from))
        return false;
    for (el = xmpp_stanza_get_children(msg); el != NULL;
         el = xmpp_stanza_get_next(el)) {
        const char *ns = xmpp_stanza_is_tag(el) ? xmpp_stanza_get_ns(el) : NULL;
        if (stanza_is(el, EL_DELEGATION) &&
            ns_is(ns, NS_DELEGATION_1, NS_DELEGATION_2)) {
            take_delegations(server_get(d, from), el, ns, from);
            handled = true;
        } else if (stanza_is(el, EL_PRIVILEGE) &&
                   ns_is(ns, NS_PRIVILEGE_1, NS_PRIVILEGE_2) &&
                   stanza_child(el, EL_FORWARDED, NULL) == NULL) {
            take_privileges(server_get(d, from), el, ns, from);
            handled = true;
        }
    }
    return handled;
}

const char *delegation_parse_node(const char *node, bool *bare)
{
    static const char *const prefixes[] = {NS_DELEGATION_1, NS_DELEGATION_2};

    if (node == NULL)
        return NULL;
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(node, prefixes[i], n) != 0)
            continue;
        if (strncmp(node + n, "::", 2) == 0 && node[n + 2] != '\0') {
            *bare = false;
            return node + n + 2;
        }
        if (strncmp(node + n, ":bare:", 6) == 0 && node[n + 6] != '\0') {
            *bare = true;
            return node + n + 6;
        }
    }
    return NULL;
}

xmpp_stanza_t *delegation_unwrap(xmpp_stanza_t *iq, const char **dlg_ns)
{
    xmpp_stanza_t *dlg, *fwd, *inner;
    const char *ns, *type = stanza_attr(iq, ATTR_TYPE);

    if (!stanza_is(iq, EL_IQ) || type == NULL || strcmp(type, "set") != 0)
        return NULL;
    dlg = stanza_first_element(iq);
    ns = dlg != NULL ? xmpp_stanza_get_ns(dlg) : NULL;
    if (!stanza_is(dlg, EL_DELEGATION) ||
        !ns_is(ns, NS_DELEGATION_1, NS_DELEGATION_2))
        return NULL;
    fwd = stanza_child(dlg, EL_FORWARDED, NS_FORWARD);
    inner = fwd != NULL ? stanza_child(fwd, EL_IQ, NULL) : NULL;
    if (inner == NULL || stanza_attr(inner, ATTR_ID) == NULL ||
        stanza_attr(inner, ATTR_FROM) == NULL ||
        stanza_attr(inner, ATTR_TYPE) == NULL)
        return NULL;
    *dlg_ns = ns;
    return inner;
}

xmpp_stanza_t *delegation_inner_reply(xmpp_ctx_t *ctx, xmpp_stanza_t *inner,
                                      const char *type)
{
    const char *from = stanza_attr(inner, ATTR_FROM);
    const char *to = stanza_attr(inner, ATTR_TO);
    /* ejabberd checks that our from equals the original to; Prosody
     * leaves to out when the client did, so use the user's bare JID. */
    char *bare = to == NULL ? jid_bare(from) : NULL;
    xmpp_stanza_t *r = stanza_iq(ctx, type, stanza_attr(inner, ATTR_ID),
                                 to != NULL ? to : bare, from);

    xmpp_stanza_set_ns(r, NS_CLIENT);
    free(bare);
    return r;
}

xmpp_stanza_t *delegation_wrap_reply(xmpp_ctx_t *ctx, xmpp_stanza_t *outer,
                                     const char *component_jid,
                                     const char *dlg_ns,
                                     xmpp_stanza_t *inner_reply)
{
    xmpp_stanza_t *r = stanza_result(ctx, outer, component_jid);
    xmpp_stanza_t *dlg = stanza_add_element(r, EL_DELEGATION, dlg_ns);
    xmpp_stanza_t *fwd = stanza_add_element(dlg, EL_FORWARDED, NS_FORWARD);

    stanza_adopt(fwd, inner_reply);
    return r;
}

const struct strmap *delegation_namespaces(const struct delegation *d,
                                           const char *server)
{
    struct server *s = strmap_get(d->servers, server);
    return s != NULL ? s->namespaces : NULL;
}

bool delegation_is_delegated(const struct delegation *d, const char *ns)
{
    size_t pos = 0;
    const char *key;
    void *value;

    while (strmap_next(d->servers, &pos, &key, &value)) {
        struct server *s = value;
        if (strmap_get(s->namespaces, ns) != NULL)
            return true;
    }
    return false;
}

const char *delegation_privilege(const struct delegation *d, const char *server,
                                 const char *access)
{
    struct server *s = strmap_get(d->servers, server);
    return s != NULL ? strmap_get(s->perms, access) : NULL;
}

const char *delegation_privilege_ns(const struct delegation *d,
                                    const char *server)
{
    struct server *s = strmap_get(d->servers, server);
    return s != NULL ? s->priv_ns : NULL;
}

const char **delegation_servers(const struct delegation *d)
{
    return strmap_sorted_keys(d->servers);
}

const struct strmap *delegation_privileges(const struct delegation *d,
                                           const char *server)
{
    struct server *s = strmap_get(d->servers, server);
    return s != NULL ? s->perms : NULL;
}
