/* SPDX-License-Identifier: MIT */
/* stanza.c: XML names and namespaces, stanza builders and safe accessors. */
#include "config.h"

#include "stanza.h"
#include "stanza_priv.h"

#include "utf8.h"
#include "xmalloc.h"

#include <stdint.h>
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

void stanza_strip_stream_ns(xmpp_stanza_t *st, bool deep)
{
    const char *ns = xmpp_stanza_get_ns(st);

    if (ns != NULL &&
        (strcmp(ns, NS_CLIENT) == 0 || strcmp(ns, NS_COMPONENT) == 0))
        xmpp_stanza_del_attribute(st, ATTR_XMLNS);
    if (!deep)
        return;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(st); c != NULL;
         c = xmpp_stanza_get_next(c))
        if (xmpp_stanza_is_tag(c))
            stanza_strip_stream_ns(c, true);
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
 * return everywhere, so a value reads back exactly as it was set. -1 when s
 * is not strict UTF-8 made of XML 1.0 Chars: the server would close the
 * stream on it, so nothing else may decide to send it (the caller rolls the
 * buffer back).
 */
static int out_escaped(struct stanza_out *o, const char *s, bool attr)
{
    const char *run = s;

    if (!utf8_xml_valid_str(s))
        return -1;
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
    return 0;
}

/*
 * An element or attribute name we may write: not empty, ASCII only from
 * [A-Za-z0-9_.:-] and not starting with [-.0-9], anything else valid UTF-8
 * Chars. Looser than XML's Name production for non-ASCII, but nothing that
 * passes can end a tag or open another.
 */
static bool name_ok(const char *name)
{
    if (name == NULL || *name == '\0' || strchr("-.0123456789", *name) != NULL)
        return false;
    for (const char *p = name; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x80 && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
            !(c >= '0' && c <= '9') && strchr("_.:-", c) == NULL)
            return false;
    }
    return utf8_xml_valid_str(name);
}

/* The xml and xmlns namespaces: never declared as a default namespace. */
static bool reserved_ns(const char *ns)
{
    return strcmp(ns, "http://www.w3.org/XML/1998/namespace") == 0 ||
           strcmp(ns, "http://www.w3.org/2000/xmlns/") == 0;
}

/*
 * The start tag of el; its xmlns only where it differs from parent_ns. -1
 * for a name or value that is not valid (see name_ok, out_escaped).
 */
static int out_start_tag(struct stanza_out *o, xmpp_stanza_t *el,
                         const char *parent_ns, bool empty)
{
    const char *stack_attrs[32];
    const char **attrs = stack_attrs;
    int n = xmpp_stanza_get_attribute_count(el) * 2;
    const char *name = xmpp_stanza_get_name(el);
    int rc = 0;

    if (!name_ok(name))
        return -1;
    if (n > (int)(sizeof(stack_attrs) / sizeof(*stack_attrs)))
        attrs = xcalloc((size_t)n, sizeof(*attrs));
    n = n > 0 ? xmpp_stanza_get_attributes(el, attrs, n) : 0;
    out_put(o, "<", 1);
    out_put(o, name, strlen(name));
    for (int i = 0; rc == 0 && i + 1 < n; i += 2) {
        if (strcmp(attrs[i], ATTR_XMLNS) == 0 && parent_ns != NULL &&
            strcmp(attrs[i + 1], parent_ns) == 0)
            continue;
        if (!name_ok(attrs[i]) ||
            (strcmp(attrs[i], ATTR_XMLNS) == 0 && reserved_ns(attrs[i + 1]))) {
            rc = -1;
            break;
        }
        out_put(o, " ", 1);
        out_put(o, attrs[i], strlen(attrs[i]));
        out_put(o, "=\"", 2);
        rc = out_escaped(o, attrs[i + 1], true);
        out_put(o, "\"", 1);
    }
    if (empty)
        out_put(o, "/>", 2);
    else
        out_put(o, ">", 1);
    if (attrs != stack_attrs)
        free(attrs);
    return rc;
}

static void out_end_tag(struct stanza_out *o, xmpp_stanza_t *el)
{
    const char *name = xmpp_stanza_get_name(el);

    out_put(o, "</", 2);
    out_put(o, name, strlen(name));
    out_put(o, ">", 1);
}

/* The elements the serializer is inside, innermost last. */
struct walk {
    struct stanza_out *o;
    size_t start; /* o->len before this stanza */
    size_t max;
    xmpp_stanza_t *stack[16], **els;
    size_t depth, cap;
};

static void walk_push(struct walk *w, xmpp_stanza_t *el)
{
    if (w->depth == w->cap) {
        w->cap *= 2;
        w->els = w->els == w->stack
                     ? memcpy(xcalloc(w->cap, sizeof(*w->els)), w->stack,
                              sizeof(w->stack))
                     : xreallocarray(w->els, w->cap, sizeof(*w->els));
    }
    w->els[w->depth++] = el;
}

/* -1 with *fault set once the output is over the bound. */
static int walk_bound(const struct walk *w, enum stanza_fault *fault)
{
    if (w->o->len - w->start <= w->max)
        return 0;
    *fault = STANZA_FAULT_TOO_LARGE;
    return -1;
}

/*
 * From *cur, the node after a start tag: write text runs and end tags up to
 * the next tag to enter, left in *cur (NULL at the end of the stanza).
 */
static int walk_text(struct walk *w, xmpp_stanza_t **cur,
                     enum stanza_fault *fault)
{
    for (;;) {
        while (*cur != NULL && !xmpp_stanza_is_tag(*cur)) {
            const char *t = xmpp_stanza_get_text_ptr(*cur);
            if (t != NULL && out_escaped(w->o, t, false) < 0) {
                *fault = STANZA_FAULT_INVALID;
                return -1;
            }
            *cur = xmpp_stanza_get_next(*cur);
        }
        if (walk_bound(w, fault) < 0)
            return -1;
        if (*cur != NULL || w->depth == 0)
            return 0;
        *cur = w->els[--w->depth];
        out_end_tag(w->o, *cur);
        *cur = w->depth > 0 ? xmpp_stanza_get_next(*cur) : NULL;
    }
}

/*
 * Depth-first without recursion: a stanza relayed from a user may nest as
 * deep as the server lets it, which must not decide our stack use.
 */
static int walk_tree(struct walk *w, xmpp_stanza_t *root,
                     enum stanza_fault *fault)
{
    xmpp_stanza_t *cur = root;

    while (cur != NULL) {
        /* cur is a tag: write its start tag, then go to what follows. */
        xmpp_stanza_t *child = xmpp_stanza_get_children(cur);
        /* At the top, jabber:client is the stream's: left implicit, as
         * libstrophe does. */
        const char *parent_ns =
            w->depth > 0 ? xmpp_stanza_get_ns(w->els[w->depth - 1]) : NS_CLIENT;

        if (out_start_tag(w->o, cur, parent_ns, child == NULL) < 0) {
            *fault = STANZA_FAULT_INVALID;
            return -1;
        }
        if (child != NULL) {
            walk_push(w, cur);
            cur = child;
        } else {
            cur = w->depth > 0 ? xmpp_stanza_get_next(cur) : NULL;
        }
        if (walk_text(w, &cur, fault) < 0)
            return -1;
    }
    return 0;
}

int stanza_serialize_max(xmpp_stanza_t *root, struct stanza_out *o, size_t max,
                         enum stanza_fault *fault)
{
    struct walk w = {.o = o, .start = o->len, .max = max, .cap = 16};
    enum stanza_fault dummy;
    int rc;

    if (fault == NULL)
        fault = &dummy;
    *fault = STANZA_FAULT_INVALID;
    w.els = w.stack;
    if (root == NULL || xmpp_stanza_is_text(root)) {
        const char *t = root != NULL ? xmpp_stanza_get_text_ptr(root) : NULL;
        rc = t != NULL ? out_escaped(o, t, false) : -1;
        if (rc == 0)
            rc = walk_bound(&w, fault);
    } else {
        rc = walk_tree(&w, root, fault);
    }
    if (w.els != w.stack)
        free(w.els);
    if (rc < 0)
        o->len = w.start;
    else
        *fault = STANZA_FAULT_NONE;
    out_reserve(o, 0);
    o->buf[o->len] = '\0';
    return rc;
}

int stanza_serialize(xmpp_stanza_t *root, struct stanza_out *o)
{
    return stanza_serialize_max(root, o, SIZE_MAX, NULL);
}

const char *stanza_fault_name(enum stanza_fault fault)
{
    switch (fault) {
    case STANZA_FAULT_NONE:
        return "none";
    case STANZA_FAULT_TOO_LARGE:
        return "too-large";
    default:
        return "invalid-characters";
    }
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
