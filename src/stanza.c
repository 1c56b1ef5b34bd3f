/* SPDX-License-Identifier: MIT */
/* stanza.c: XML names and namespaces, stanza builders and safe accessors. */
#include "config.h"

#include "stanza.h"

#include <string.h>

const char *stanza_attr(xmpp_stanza_t *st, const char *name)
{
    return st != NULL ? xmpp_stanza_get_attribute(st, name) : NULL;
}

bool stanza_is(xmpp_stanza_t *st, const char *name)
{
    const char *n = st != NULL ? xmpp_stanza_get_name(st) : NULL;
    return n != NULL && strcmp(n, name) == 0;
}

xmpp_stanza_t *stanza_first_element(xmpp_stanza_t *st)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(st); c != NULL;
         c = xmpp_stanza_get_next(c))
        if (xmpp_stanza_is_tag(c))
            return c;
    return NULL;
}

int stanza_element_count(xmpp_stanza_t *st)
{
    int n = 0;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(st); c != NULL;
         c = xmpp_stanza_get_next(c))
        if (xmpp_stanza_is_tag(c))
            n++;
    return n;
}

xmpp_stanza_t *stanza_child(xmpp_stanza_t *st, const char *name, const char *ns)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(st); c != NULL;
         c = xmpp_stanza_get_next(c)) {
        const char *cns;
        if (!xmpp_stanza_is_tag(c))
            continue;
        if (name != NULL && !stanza_is(c, name))
            continue;
        cns = xmpp_stanza_get_ns(c);
        if (ns != NULL && (cns == NULL || strcmp(cns, ns) != 0))
            continue;
        return c;
    }
    return NULL;
}

xmpp_stanza_t *stanza_element(xmpp_ctx_t *ctx, const char *name, const char *ns)
{
    xmpp_stanza_t *st = xmpp_stanza_new(ctx);
    xmpp_stanza_set_name(st, name);
    if (ns != NULL)
        xmpp_stanza_set_ns(st, ns);
    return st;
}

void stanza_adopt(xmpp_stanza_t *parent, xmpp_stanza_t *child)
{
    xmpp_stanza_add_child(parent, child);
    xmpp_stanza_release(child);
}

xmpp_stanza_t *stanza_add_element(xmpp_stanza_t *parent, const char *name,
                                  const char *ns)
{
    xmpp_stanza_t *c =
        stanza_element(xmpp_stanza_get_context(parent), name, ns);
    stanza_adopt(parent, c);
    return c;
}

void stanza_add_text(xmpp_stanza_t *parent, const char *text)
{
    xmpp_stanza_t *t = xmpp_stanza_new(xmpp_stanza_get_context(parent));
    xmpp_stanza_set_text(t, text);
    stanza_adopt(parent, t);
}

xmpp_stanza_t *stanza_iq(xmpp_ctx_t *ctx, const char *type, const char *id,
                         const char *from, const char *to)
{
    xmpp_stanza_t *iq = stanza_element(ctx, EL_IQ, NULL);
    xmpp_stanza_set_type(iq, type);
    if (id != NULL)
        xmpp_stanza_set_id(iq, id);
    if (from != NULL)
        xmpp_stanza_set_from(iq, from);
    if (to != NULL)
        xmpp_stanza_set_to(iq, to);
    return iq;
}

static xmpp_stanza_t *reply_base(xmpp_ctx_t *ctx, xmpp_stanza_t *req,
                                 const char *from, const char *type)
{
    xmpp_stanza_t *r = stanza_element(ctx, xmpp_stanza_get_name(req), NULL);
    const char *id = stanza_attr(req, ATTR_ID);
    const char *to = stanza_attr(req, ATTR_FROM);

    xmpp_stanza_set_type(r, type);
    if (id != NULL)
        xmpp_stanza_set_id(r, id);
    if (to != NULL)
        xmpp_stanza_set_to(r, to);
    if (from != NULL)
        xmpp_stanza_set_from(r, from);
    return r;
}

xmpp_stanza_t *stanza_result(xmpp_ctx_t *ctx, xmpp_stanza_t *req,
                             const char *from)
{
    return reply_base(ctx, req, from, "result");
}

xmpp_stanza_t *stanza_error_element(xmpp_ctx_t *ctx, const char *type,
                                    const char *condition, const char *text)
{
    xmpp_stanza_t *err = stanza_element(ctx, EL_ERROR, NULL);
    xmpp_stanza_set_type(err, type);
    stanza_adopt(err, stanza_element(ctx, condition, NS_STANZAS));
    if (text != NULL) {
        xmpp_stanza_t *t = stanza_add_element(err, EL_TEXT, NS_STANZAS);
        stanza_add_text(t, text);
    }
    return err;
}

xmpp_stanza_t *stanza_error(xmpp_ctx_t *ctx, xmpp_stanza_t *req,
                            const char *from, const char *type,
                            const char *condition, const char *text)
{
    xmpp_stanza_t *r = reply_base(ctx, req, from, "error");
    stanza_adopt(r, stanza_error_element(ctx, type, condition, text));
    return r;
}

char *stanza_to_text(xmpp_stanza_t *st, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;

    if (xmpp_stanza_to_text(st, &buf, &n) != XMPP_EOK)
        return NULL;
    if (len != NULL)
        *len = n;
    return buf;
}
