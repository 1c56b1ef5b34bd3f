/* SPDX-License-Identifier: MIT */
/* stanza.c: XML names and namespaces, stanza builders and safe accessors. */
#include "config.h"

#include "stanza.h"

#include "xmalloc.h"

#include <stdlib.h>
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

/* Room for n more bytes in the growing output. */
static void out_reserve(struct stanza_out *o, size_t n)
{
    if (o->len + n + 1 <= o->cap)
        return;
    o->cap = o->cap * 2 > o->len + n + 1 ? o->cap * 2 : o->len + n + 1;
    if (o->cap < 256)
        o->cap = 256;
    o->buf = xrealloc(o->buf, o->cap);
}

static void out_put(struct stanza_out *o, const char *s, size_t n)
{
    out_reserve(o, n);
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

/*
 * Escaped character data. In attribute values the whitespace characters an
 * XML parser would normalise to spaces are escaped too, and a carriage
 * return everywhere, so a value reads back exactly as it was set.
 */
static void out_escaped(struct stanza_out *o, const char *s, bool attr)
{
    const char *run = s;

    for (; *s != '\0'; s++) {
        const char *rep;
        switch (*s) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\t':
            rep = attr ? "&#9;" : NULL;
            break;
        case '\n':
            rep = attr ? "&#10;" : NULL;
            break;
        case '\r':
            rep = "&#13;";
            break;
        default:
            rep = NULL;
            break;
        }
        if (rep == NULL)
            continue;
        out_put(o, run, (size_t)(s - run));
        out_put(o, rep, strlen(rep));
        run = s + 1;
    }
    out_put(o, run, (size_t)(s - run));
}

/* The start tag of el; its xmlns only where it differs from parent_ns. */
static void out_start_tag(struct stanza_out *o, xmpp_stanza_t *el,
                          const char *parent_ns, bool empty)
{
    const char *stack_attrs[32];
    const char **attrs = stack_attrs;
    int n = xmpp_stanza_get_attribute_count(el) * 2;
    const char *name = xmpp_stanza_get_name(el);

    if (n > (int)(sizeof(stack_attrs) / sizeof(*stack_attrs)))
        attrs = xcalloc((size_t)n, sizeof(*attrs));
    n = n > 0 ? xmpp_stanza_get_attributes(el, attrs, n) : 0;
    out_put(o, "<", 1);
    out_put(o, name, strlen(name));
    for (int i = 0; i + 1 < n; i += 2) {
        if (strcmp(attrs[i], ATTR_XMLNS) == 0 && parent_ns != NULL &&
            strcmp(attrs[i + 1], parent_ns) == 0)
            continue;
        out_put(o, " ", 1);
        out_put(o, attrs[i], strlen(attrs[i]));
        out_put(o, "=\"", 2);
        out_escaped(o, attrs[i + 1], true);
        out_put(o, "\"", 1);
    }
    if (empty)
        out_put(o, "/>", 2);
    else
        out_put(o, ">", 1);
    if (attrs != stack_attrs)
        free(attrs);
}

static void out_end_tag(struct stanza_out *o, xmpp_stanza_t *el)
{
    const char *name = xmpp_stanza_get_name(el);

    out_put(o, "</", 2);
    out_put(o, name, strlen(name));
    out_put(o, ">", 1);
}

/*
 * Depth-first without recursion: a stanza relayed from a user may nest as
 * deep as the server lets it, which must not decide our stack use.
 */
int stanza_serialize(xmpp_stanza_t *root, struct stanza_out *o)
{
    xmpp_stanza_t *stack_els[16], **els = stack_els;
    size_t depth = 0, cap = sizeof(stack_els) / sizeof(*stack_els);
    size_t start = o->len;
    xmpp_stanza_t *cur = root;
    int rc = 0;

    if (root == NULL || xmpp_stanza_is_text(root)) {
        const char *t = root != NULL ? xmpp_stanza_get_text_ptr(root) : NULL;
        if (t == NULL)
            return -1;
        out_escaped(o, t, false);
        o->buf[o->len] = '\0';
        return 0;
    }
    for (;;) {
        /* cur is a tag: write its start tag, then go to what follows. */
        xmpp_stanza_t *child = xmpp_stanza_get_children(cur);
        if (xmpp_stanza_get_name(cur) == NULL) {
            rc = -1;
            break;
        }
        /* At the top, jabber:client is the stream's: left implicit, as
         * libstrophe does. */
        out_start_tag(
            o, cur, depth > 0 ? xmpp_stanza_get_ns(els[depth - 1]) : NS_CLIENT,
            child == NULL);
        if (child != NULL) {
            if (depth == cap) {
                cap *= 2;
                els = els == stack_els ? memcpy(xcalloc(cap, sizeof(*els)),
                                                stack_els, sizeof(stack_els))
                                       : xreallocarray(els, cap, sizeof(*els));
            }
            els[depth++] = cur;
            cur = child;
        } else {
            cur = depth > 0 ? xmpp_stanza_get_next(cur) : NULL;
        }
        /* Text runs and end tags up to the next tag to enter. */
        for (;;) {
            while (cur != NULL && !xmpp_stanza_is_tag(cur)) {
                const char *t = xmpp_stanza_get_text_ptr(cur);
                if (t != NULL)
                    out_escaped(o, t, false);
                cur = xmpp_stanza_get_next(cur);
            }
            if (cur != NULL || depth == 0)
                break;
            cur = els[--depth];
            out_end_tag(o, cur);
            cur = depth > 0 ? xmpp_stanza_get_next(cur) : NULL;
        }
        if (cur == NULL)
            break;
    }
    if (els != stack_els)
        free(els);
    if (rc < 0)
        o->len = start;
    out_reserve(o, 0);
    o->buf[o->len] = '\0';
    return rc;
}

char *stanza_to_text(xmpp_stanza_t *st, size_t *len)
{
    struct stanza_out o = {0};

    if (stanza_serialize(st, &o) < 0) {
        free(o.buf);
        return NULL;
    }
    if (len != NULL)
        *len = o.len;
    return o.buf;
}
