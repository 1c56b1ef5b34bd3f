/* SPDX-License-Identifier: MIT */
/* jsonmap.c: the mod_rest JSON <-> stanza mapping (message, presence, iq). */
#include "config.h"

#include "jsonmap.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jid.h"
#include "json.h"
#include "stanza.h"
#include "utf8.h"
#include "xmalloc.h"

/* Element and attribute names used by the hand-written mappings. */
#define EL_HTML "html"
#define EL_BODY "body"
#define EL_X "x"
#define EL_URL "url"
#define EL_FIELD "field"
#define EL_VALUE "value"
#define EL_OPTION "option"
#define EL_REQUIRED "required"
#define EL_TITLE "title"
#define EL_INSTRUCTIONS "instructions"
#define EL_DESC "desc"
#define EL_ITEM "item"
#define EL_COMMAND "command"
#define EL_ACTIONS "actions"
#define EL_NOTE "note"
#define EL_SET "set"
#define EL_PAYLOAD "payload"
#define ATTR_LABEL "label"
#define ATTR_JID "jid"
#define ATTR_NAME "name"
#define ATTR_BY "by"
#define ATTR_CODE "code"
#define ATTR_DATATYPE "datatype"
#define ATTR_EXECUTE "execute"
#define ATTR_XML_LANG "xml:lang"
/* libstrophe's parser drops the xml: prefix of xml:lang. */
#define ATTR_LANG "lang"
#define FORM_TYPE "FORM_TYPE"
#define COND_UNDEFINED "undefined-condition"

#define KIND_MESSAGE 1u
#define KIND_PRESENCE 2u
#define KIND_IQ 4u
#define KIND_ALL 7u

/* forwarded -> message -> forwarded ... is cut off here. */
#define MAX_NESTING 4

enum jm_how {
    JM_TEXT,        /* text of a child element <name>value</name> */
    JM_OWN_TEXT,    /* text of the current element */
    JM_ATTR,        /* attribute of the current element */
    JM_SINGLE_ATTR, /* string in attribute `attr` of a child element */
    JM_FLAG,        /* boolean: an empty child element is present */
    JM_NAME_VALUE,  /* string: the child element's name is the value */
    JM_OBJECT,      /* object: child element whose content is `sub` */
    JM_LIST,        /* array: repeated child elements described by sub[0] */
    JM_WRAPPED,     /* array: one child element holding sub[0] items */
    JM_FUNC,        /* hand-written to_xml / from_xml */
};

enum jm_type { JM_STR, JM_INT, JM_BOOL, JM_NUM };

/* A mod_rest "func" key: not mapped on error stanzas (as mod_rest). */
#define JM_F_FUNC 1u
/* JSON -> XML only (formdata, join). */
#define JM_F_JSON_ONLY 2u
/* An integer may also come as a decimal string (GET query parameters). */
#define JM_F_COERCE 4u
/* The integer must lie within [min, max]. */
#define JM_F_RANGE 8u

struct build;

/* One JSON key and where it lives in XML; tables end with a NULL key. */
struct jm_prop {
    const char *key;
    enum jm_how how;
    enum jm_type type;
    const char *name; /* element or attribute name; NULL means key */
    const char *ns;   /* element namespace; NULL inherits the parent's */
    const char *attr; /* JM_SINGLE_ATTR */
    const struct jm_prop *sub;
    const char *const *values; /* JM_NAME_VALUE: the allowed names */
    unsigned kinds;            /* top level: KIND_* it applies to */
    unsigned flags;
    long long min, max;
    int (*to_xml)(struct build *b, xmpp_stanza_t *parent,
                  const struct jm_prop *p, json_object *v);
    json_object *(*from_xml)(xmpp_stanza_t *el, const char *ns, int depth);
};

/* State of one JSON -> XML conversion. */
struct build {
    xmpp_ctx_t *ctx;
    struct jsonmap_error *err;
    json_object *top;    /* the object being mapped (for cross-key rules) */
    const char *iq_type; /* effective type of the stanza being built */
    int depth;
};

#define P_TEXT(k, n, ns_, ...)                                                 \
    {                                                                          \
        .key = k, .how = JM_TEXT, .type = JM_STR, .name = n, .ns = ns_,        \
        __VA_ARGS__                                                            \
    }
#define P_INT_TEXT(k, ...)                                                     \
    {                                                                          \
        .key = k, .how = JM_TEXT, .type = JM_INT, __VA_ARGS__                  \
    }
#define P_ATTR(k, t, ...)                                                      \
    {                                                                          \
        .key = k, .how = JM_ATTR, .type = t, __VA_ARGS__                       \
    }
#define P_OWN_TEXT(k)                                                          \
    {                                                                          \
        .key = k, .how = JM_OWN_TEXT, .type = JM_STR                           \
    }
#define P_SATTR(k, n, ns_, a, ...)                                             \
    {                                                                          \
        .key = k, .how = JM_SINGLE_ATTR, .type = JM_STR, .name = n, .ns = ns_, \
        .attr = a, __VA_ARGS__                                                 \
    }
#define P_FLAG(k, n, ns_, ...)                                                 \
    {                                                                          \
        .key = k, .how = JM_FLAG, .type = JM_BOOL, .name = n, .ns = ns_,       \
        __VA_ARGS__                                                            \
    }
#define P_OBJ(k, n, ns_, s, ...)                                               \
    {                                                                          \
        .key = k, .how = JM_OBJECT, .name = n, .ns = ns_, .sub = s,            \
        __VA_ARGS__                                                            \
    }
#define P_LIST(k, item, ...)                                                   \
    {                                                                          \
        .key = k, .how = JM_LIST, .sub = item, __VA_ARGS__                     \
    }
#define P_WRAPPED(k, n, ns_, item, ...)                                        \
    {                                                                          \
        .key = k, .how = JM_WRAPPED, .name = n, .ns = ns_, .sub = item,        \
        __VA_ARGS__                                                            \
    }
#define P_FUNC(k, n, ns_, to, from, ...)                                       \
    {                                                                          \
        .key = k, .how = JM_FUNC, .name = n, .ns = ns_, .to_xml = to,          \
        .from_xml = from, __VA_ARGS__                                          \
    }
#define P_END                                                                  \
    {                                                                          \
        .key = NULL                                                            \
    }

static int prop_to_xml(struct build *b, xmpp_stanza_t *parent,
                       const struct jm_prop *p, json_object *v);
static json_object *elem_from_xml(xmpp_stanza_t *el, const char *ns,
                                  const struct jm_prop *p, int depth);
static int props_to_xml(struct build *b, xmpp_stanza_t *el,
                        const struct jm_prop *props, json_object *obj,
                        unsigned kind);
static void props_from_xml(xmpp_stanza_t *el, const char *ns,
                           const struct jm_prop *props, unsigned kind,
                           unsigned skip, int depth, json_object *out);
static xmpp_stanza_t *build_stanza(struct build *b, json_object *obj,
                                   bool nested);
static json_object *stanza_json(xmpp_stanza_t *st, const char *ns, bool nested,
                                int depth);

/* ---- errors ---------------------------------------------------------- */

__attribute__((format(printf, 5, 6))) static int
fail(struct build *b, unsigned status, const char *type, const char *cond,
     const char *fmt, ...)
{
    va_list ap;

    if (b->err == NULL)
        return -1;
    b->err->status = status;
    b->err->type = type;
    b->err->condition = cond;
    va_start(ap, fmt);
    vsnprintf(b->err->text, sizeof(b->err->text), fmt, ap);
    va_end(ap);
    return -1;
}

#define COND_NOT_WELL_FORMED "not-well-formed"
#define COND_UNSUPPORTED_TYPE "unsupported-stanza-type"
#define COND_IMPROPER_ADDRESSING "improper-addressing"
#define COND_INVALID_FROM "invalid-from"
#define COND_BAD_FORMAT "bad-format"

/* A value of the wrong JSON type: mod_rest's "parse" error. */
static int fail_type(struct build *b, const char *key, const char *what)
{
    return fail(b, 400, ERR_MODIFY, COND_NOT_WELL_FORMED, "'%s' must be %s",
                key, what);
}

/* A well-typed value outside what the protocol allows. */
static int fail_value(struct build *b, const char *key, const char *what)
{
    return fail(b, 400, ERR_MODIFY, COND_BAD_REQUEST, "'%s' must be %s", key,
                what);
}

/* ---- small helpers ---------------------------------------------------- */

static const char *pname(const struct jm_prop *p)
{
    return p->name != NULL ? p->name : p->key;
}

static bool streq(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/*
 * The namespace an element is in, given its parent's. Stanza children on a
 * component stream are in jabber:component:accept; they map like
 * jabber:client ones.
 */
static const char *eff_ns(xmpp_stanza_t *el, const char *parent_ns)
{
    const char *ns = xmpp_stanza_get_ns(el);

    if (ns == NULL)
        return parent_ns;
    return strcmp(ns, NS_COMPONENT) == 0 ? NS_CLIENT : ns;
}

/*
 * Next child element of el (after `after`, or the first) named `name` in
 * namespace `ns`, where NULL ns means "the same namespace as el" (el_ns).
 */
static xmpp_stanza_t *find_next(xmpp_stanza_t *el, const char *el_ns,
                                const char *name, const char *ns,
                                xmpp_stanza_t *after)
{
    const char *want = ns != NULL ? ns : el_ns;
    xmpp_stanza_t *c = after != NULL ? xmpp_stanza_get_next(after)
                                     : xmpp_stanza_get_children(el);

    for (; c != NULL; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c))
            continue;
        if (name != NULL && !stanza_is(c, name))
            continue;
        if (streq(eff_ns(c, el_ns), want))
            return c;
    }
    return NULL;
}

static xmpp_stanza_t *jsonmap_find(xmpp_stanza_t *el, const char *el_ns,
                                   const char *name, const char *ns)
{
    return find_next(el, el_ns, name, ns, NULL);
}

/* Strict UTF-8 made of XML 1.0 Chars (no C0 controls, U+FFFE/U+FFFF,
 * overlongs or surrogates: bytes from a form or a path are not checked
 * before). */
static bool xml_chars_ok(const char *s)
{
    return utf8_xml_valid_str(s);
}

/* The C string of a JSON string usable in XML, or NULL after fail(). */
static const char *str_value(struct build *b, const char *key, json_object *v)
{
    const char *s;

    if (!json_object_is_type(v, json_type_string))
        return fail_type(b, key, "a string"), NULL;
    s = json_object_get_string(v);
    if (strlen(s) != (size_t)json_object_get_string_len(v) || !xml_chars_ok(s))
        return fail(b, 400, ERR_MODIFY, COND_NOT_WELL_FORMED,
                    "'%s' contains characters not allowed in XML", key),
               NULL;
    return s;
}

/* obj[key] when present and not JSON null, else NULL (borrowed). */
static json_object *member(json_object *obj, const char *key)
{
    json_object *v = NULL;

    if (obj == NULL || !json_object_is_type(obj, json_type_object))
        return NULL;
    if (!json_object_object_get_ex(obj, key, &v))
        return NULL;
    return v;
}

/* Optional string member: 0 with *out (NULL when absent), -1 on error. */
static int opt_str(struct build *b, json_object *obj, const char *key,
                   const char **out)
{
    json_object *v = member(obj, key);

    *out = NULL;
    if (v == NULL)
        return 0;
    *out = str_value(b, key, v);
    return *out != NULL ? 0 : -1;
}

static bool parse_ll(const char *s, long long *out)
{
    char *end;

    if (s == NULL || *s == '\0' || (*s != '-' && (*s < '0' || *s > '9')))
        return false;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno == 0 && *end == '\0';
}

/*
 * Text form of a scalar for an attribute or element text, checked against
 * p's type; buf holds numbers. NULL after fail().
 */
static const char *scalar_text(struct build *b, const struct jm_prop *p,
                               json_object *v, char *buf, size_t len)
{
    long long n;

    switch (p->type) {
    case JM_STR:
        return str_value(b, p->key, v);
    case JM_BOOL:
        if (!json_object_is_type(v, json_type_boolean))
            return fail_type(b, p->key, "a boolean"), NULL;
        return json_object_get_boolean(v) ? "true" : "false";
    case JM_INT:
        if (json_is_int64(v))
            n = json_object_get_int64(v);
        else if (!(p->flags & JM_F_COERCE) ||
                 !json_object_is_type(v, json_type_string) ||
                 !parse_ll(json_object_get_string(v), &n))
            return fail_type(b, p->key, "an integer"), NULL;
        if ((p->flags & JM_F_RANGE) && (n < p->min || n > p->max)) {
            char what[80];
            snprintf(what, sizeof(what), "an integer from %lld to %lld", p->min,
                     p->max);
            return fail_value(b, p->key, what), NULL;
        }
        snprintf(buf, len, "%lld", n);
        return buf;
    case JM_NUM:
        if (json_is_int64(v)) {
            snprintf(buf, len, "%" PRId64, json_object_get_int64(v));
            return buf;
        }
        if (!json_object_is_type(v, json_type_double) ||
            !isfinite(json_object_get_double(v)))
            return fail_type(b, p->key, "a number"), NULL;
        /* Parsed doubles keep their original spelling. */
        snprintf(buf, len, "%s",
                 json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        return buf;
    }
    return NULL;
}

/* The JSON value of XML text s for p's type; NULL when it does not parse. */
static json_object *scalar_json(const struct jm_prop *p, const char *s)
{
    long long n;
    char *end;
    double d;

    switch (p->type) {
    case JM_STR:
        return json_object_new_string(s);
    case JM_INT:
        return parse_ll(s, &n) ? json_object_new_int64(n) : NULL;
    case JM_BOOL:
        /* util.datamapper: only "false" and "0" are false; any other
         * value, "" included, is true. */
        return json_object_new_boolean(strcmp(s, "false") != 0 &&
                                       strcmp(s, "0") != 0);
    case JM_NUM:
        if (parse_ll(s, &n))
            return json_object_new_int64(n);
        errno = 0;
        d = strtod(s, &end);
        if (*s == '\0' || *end != '\0' || errno != 0 || !isfinite(d))
            return NULL;
        return json_object_new_double_s(d, s);
    }
    return NULL;
}

/* Text content of el as a new C string ("" when empty). */
static char *text_of(xmpp_stanza_t *el)
{
    char *t = xmpp_stanza_get_text(el);
    char *copy = xstrdup(t != NULL ? t : "");

    if (t != NULL)
        xmpp_free(xmpp_stanza_get_context(el), t);
    return copy;
}

static xmpp_stanza_t *add_text_element(xmpp_stanza_t *parent, const char *name,
                                       const char *ns, const char *text)
{
    xmpp_stanza_t *c = stanza_add_element(parent, name, ns);
    if (text != NULL && *text != '\0')
        stanza_add_text(c, text);
    return c;
}

static void add_str(json_object *obj, const char *key, const char *s)
{
    if (s != NULL)
        json_object_object_add(obj, key, json_object_new_string(s));
}

/* ---- data forms (XEP-0004) -------------------------------------------- */

/* Add <value/> children for a string or an array of strings. */
static int values_to_xml(struct build *b, xmpp_stanza_t *field, const char *key,
                         json_object *v)
{
    const char *s;

    if (json_object_is_type(v, json_type_array)) {
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++) {
            s = str_value(b, key, json_object_array_get_idx(v, i));
            if (s == NULL)
                return -1;
            add_text_element(field, EL_VALUE, NULL, s);
        }
        return 0;
    }
    if ((s = str_value(b, key, v)) == NULL)
        return fail_type(b, key, "a string or an array of strings");
    add_text_element(field, EL_VALUE, NULL, s);
    return 0;
}

static int field_to_xml(struct build *b, xmpp_stanza_t *form, json_object *f)
{
    const char *var, *type, *label, *desc;
    json_object *v;
    xmpp_stanza_t *field;
    bool required = false;

    if (!json_object_is_type(f, json_type_object))
        return fail_type(b, "fields", "an array of objects");
    if (opt_str(b, f, ATTR_VAR, &var) < 0 ||
        opt_str(b, f, ATTR_TYPE, &type) < 0 ||
        opt_str(b, f, ATTR_LABEL, &label) < 0 ||
        opt_str(b, f, EL_DESC, &desc) < 0)
        return -1;
    field = stanza_add_element(form, EL_FIELD, NULL);
    if (var != NULL)
        xmpp_stanza_set_attribute(field, ATTR_VAR, var);
    if (type != NULL)
        xmpp_stanza_set_attribute(field, ATTR_TYPE, type);
    if (label != NULL)
        xmpp_stanza_set_attribute(field, ATTR_LABEL, label);
    if (desc != NULL)
        add_text_element(field, EL_DESC, NULL, desc);
    if ((v = member(f, EL_REQUIRED)) != NULL) {
        if (!json_object_is_type(v, json_type_boolean))
            return fail_type(b, EL_REQUIRED, "a boolean");
        required = json_object_get_boolean(v);
    }
    if (required)
        stanza_add_element(field, EL_REQUIRED, NULL);
    /* "value" is the func mapping's key, "values" the schema's. */
    if ((v = member(f, "value")) != NULL &&
        values_to_xml(b, field, "value", v) < 0)
        return -1;
    if ((v = member(f, "values")) != NULL) {
        if (!json_object_is_type(v, json_type_array))
            return fail_type(b, "values", "an array of strings");
        if (values_to_xml(b, field, "values", v) < 0)
            return -1;
    }
    if ((v = member(f, "options")) != NULL) {
        size_t n;
        if (!json_object_is_type(v, json_type_array))
            return fail_type(b, "options", "an array of objects");
        n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++) {
            json_object *o = json_object_array_get_idx(v, i);
            const char *olabel, *ovalue;
            xmpp_stanza_t *opt;
            if (!json_object_is_type(o, json_type_object))
                return fail_type(b, "options", "an array of objects");
            if (opt_str(b, o, ATTR_LABEL, &olabel) < 0 ||
                opt_str(b, o, EL_VALUE, &ovalue) < 0)
                return -1;
            opt = stanza_add_element(field, EL_OPTION, NULL);
            if (olabel != NULL)
                xmpp_stanza_set_attribute(opt, ATTR_LABEL, olabel);
            if (ovalue != NULL)
                add_text_element(opt, EL_VALUE, NULL, ovalue);
        }
    }
    return 0;
}

/* {type, title, instructions, fields:[...]} -> <x xmlns='jabber:x:data'>. */
static int dataform_build(struct build *b, xmpp_stanza_t *parent,
                          const char *key, json_object *v)
{
    const char *type, *title, *instr;
    json_object *fields;
    xmpp_stanza_t *x;

    if (!json_object_is_type(v, json_type_object))
        return fail_type(b, key, "an object");
    if (opt_str(b, v, ATTR_TYPE, &type) < 0 ||
        opt_str(b, v, EL_TITLE, &title) < 0 ||
        opt_str(b, v, EL_INSTRUCTIONS, &instr) < 0)
        return -1;
    x = stanza_add_element(parent, EL_X, NS_DATA);
    if (type != NULL)
        xmpp_stanza_set_attribute(x, ATTR_TYPE, type);
    if (title != NULL)
        add_text_element(x, EL_TITLE, NULL, title);
    if (instr != NULL)
        add_text_element(x, EL_INSTRUCTIONS, NULL, instr);
    if ((fields = member(v, "fields")) != NULL) {
        size_t n;
        if (!json_object_is_type(fields, json_type_array))
            return fail_type(b, "fields", "an array of objects");
        n = json_object_array_length(fields);
        for (size_t i = 0; i < n; i++)
            if (field_to_xml(b, x, json_object_array_get_idx(fields, i)) < 0)
                return -1;
    }
    return 0;
}

static int dataform_to_xml(struct build *b, xmpp_stanza_t *parent,
                           const struct jm_prop *p, json_object *v)
{
    return dataform_build(b, parent, p->key, v);
}

/* Text of el's first text child, or "" (borrowed from el). */
static const char *text_ptr(xmpp_stanza_t *el)
{
    for (xmpp_stanza_t *t = xmpp_stanza_get_children(el); t != NULL;
         t = xmpp_stanza_get_next(t))
        if (xmpp_stanza_is_text(t))
            return xmpp_stanza_get_text_ptr(t);
    return "";
}

/*
 * el's own text as util.datamapper reads it: "" for an empty element, NULL
 * when el has child elements (borrowed from el).
 */
static const char *own_text_ptr(xmpp_stanza_t *el)
{
    return stanza_first_element(el) == NULL ? text_ptr(el) : NULL;
}

/* All <value/> texts of a field, as a JSON array. */
static json_object *field_values(xmpp_stanza_t *field, const char *ns)
{
    json_object *arr = json_object_new_array();

    for (xmpp_stanza_t *v = jsonmap_find(field, ns, EL_VALUE, NULL); v != NULL;
         v = find_next(field, ns, EL_VALUE, NULL, v))
        json_object_array_add(arr, json_object_new_string(text_ptr(v)));
    return arr;
}

/* The strings of `values` joined by newlines (text-multi); takes values. */
static json_object *join_lines(json_object *values)
{
    size_t n = json_object_array_length(values), len = 1;
    json_object *r;
    char *joined;

    for (size_t i = 0; i < n; i++)
        len += (size_t)json_object_get_string_len(
                   json_object_array_get_idx(values, i)) +
               1;
    joined = xcalloc(1, len);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strcat(joined, "\n");
        strcat(joined,
               json_object_get_string(json_object_array_get_idx(values, i)));
    }
    r = json_object_new_string(joined);
    free(joined);
    json_object_put(values);
    return r;
}

/* Text of the first child `name` of el, "" when empty, NULL if absent. */
static const char *child_text_ptr(xmpp_stanza_t *el, const char *ns,
                                  const char *name)
{
    xmpp_stanza_t *c = jsonmap_find(el, ns, name, NULL);
    return c != NULL ? text_ptr(c) : NULL;
}

static bool type_is(const char *type, const char *a, const char *b_)
{
    return streq(type, a) || (b_ != NULL && streq(type, b_));
}

/*
 * <x xmlns='jabber:x:data'> -> {type, title, instructions, fields}. With
 * `values_style` each field carries all values in "values" (the schema
 * mapping used inside archive queries); otherwise "value" is a string, an
 * array for jid-multi/list-multi, or lines joined for text-multi.
 */
static json_object *dataform_json(xmpp_stanza_t *x, const char *ns,
                                  bool values_style)
{
    json_object *form = json_object_new_object();
    json_object *fields = json_object_new_array();

    add_str(form, ATTR_TYPE, stanza_attr(x, ATTR_TYPE));
    add_str(form, EL_TITLE, child_text_ptr(x, ns, EL_TITLE));
    add_str(form, EL_INSTRUCTIONS, child_text_ptr(x, ns, EL_INSTRUCTIONS));
    for (xmpp_stanza_t *f = jsonmap_find(x, ns, EL_FIELD, NULL); f != NULL;
         f = find_next(x, ns, EL_FIELD, NULL, f)) {
        json_object *jf = json_object_new_object();
        const char *type = stanza_attr(f, ATTR_TYPE);
        json_object *values = field_values(f, ns);

        add_str(jf, ATTR_VAR, stanza_attr(f, ATTR_VAR));
        add_str(jf, ATTR_TYPE, type);
        add_str(jf, ATTR_LABEL, stanza_attr(f, ATTR_LABEL));
        add_str(jf, EL_DESC, child_text_ptr(f, ns, EL_DESC));
        if (jsonmap_find(f, ns, EL_REQUIRED, NULL) != NULL)
            json_object_object_add(jf, EL_REQUIRED, json_object_new_boolean(1));
        if (values_style) {
            json_object_object_add(jf, "values", values);
        } else if (type_is(type, "jid-multi", "list-multi")) {
            json_object_object_add(jf, EL_VALUE, values);
        } else if (type_is(type, "text-multi", NULL)) {
            json_object_object_add(jf, EL_VALUE, join_lines(values));
        } else {
            if (json_object_array_length(values) > 0)
                json_object_object_add(
                    jf, EL_VALUE,
                    json_object_get(json_object_array_get_idx(values, 0)));
            json_object_put(values);
        }
        if (values_style || type_is(type, "list-single", "list-multi")) {
            json_object *opts = json_object_new_array();
            for (xmpp_stanza_t *o = jsonmap_find(f, ns, EL_OPTION, NULL);
                 o != NULL; o = find_next(f, ns, EL_OPTION, NULL, o)) {
                json_object *jo = json_object_new_object();
                add_str(jo, ATTR_LABEL, stanza_attr(o, ATTR_LABEL));
                add_str(jo, EL_VALUE, child_text_ptr(o, ns, EL_VALUE));
                json_object_array_add(opts, jo);
            }
            if (!values_style || json_object_array_length(opts) > 0)
                json_object_object_add(jf, "options", opts);
            else
                json_object_put(opts);
        }
        json_object_array_add(fields, jf);
    }
    json_object_object_add(form, "fields", fields);
    return form;
}

static json_object *dataform_from_xml(xmpp_stanza_t *el, const char *ns,
                                      int depth)
{
    return dataform_json(el, ns, false);
}

static json_object *dataform_values_from_xml(xmpp_stanza_t *el, const char *ns,
                                             int depth)
{
    return dataform_json(el, ns, true);
}

/*
 * Flat {var: string | [strings] | null} -> <x type=form_type> with one field
 * per key; a FORM_TYPE hidden field first when form_type_value is set.
 */
static int formdata_build(struct build *b, xmpp_stanza_t *parent,
                          const char *key, json_object *v,
                          const char *form_type, const char *form_type_value)
{
    xmpp_stanza_t *x;

    if (!json_object_is_type(v, json_type_object))
        return fail_type(b, key, "an object");
    x = stanza_add_element(parent, EL_X, NS_DATA);
    xmpp_stanza_set_attribute(x, ATTR_TYPE, form_type);
    if (form_type_value != NULL) {
        xmpp_stanza_t *f = stanza_add_element(x, EL_FIELD, NULL);
        xmpp_stanza_set_attribute(f, ATTR_VAR, FORM_TYPE);
        xmpp_stanza_set_attribute(f, ATTR_TYPE, "hidden");
        add_text_element(f, EL_VALUE, NULL, form_type_value);
    }
    json_object_object_foreach(v, var, val)
    {
        xmpp_stanza_t *f;
        if (!xml_chars_ok(var))
            return fail(b, 400, ERR_MODIFY, COND_NOT_WELL_FORMED,
                        "'%s' has a key not allowed in XML", key);
        f = stanza_add_element(x, EL_FIELD, NULL);
        xmpp_stanza_set_attribute(f, ATTR_VAR, var);
        if (val != NULL && values_to_xml(b, f, var, val) < 0)
            return -1;
    }
    return 0;
}

static int formdata_to_xml(struct build *b, xmpp_stanza_t *parent,
                           const struct jm_prop *p, json_object *v)
{
    return formdata_build(b, parent, p->key, v, "submit", NULL);
}

/* <x xmlns='jabber:x:data'> -> flat map, typed by each field's type. */
static json_object *formdata_json(xmpp_stanza_t *x, const char *ns)
{
    json_object *r = json_object_new_object();

    for (xmpp_stanza_t *f = jsonmap_find(x, ns, EL_FIELD, NULL); f != NULL;
         f = find_next(x, ns, EL_FIELD, NULL, f)) {
        const char *var = stanza_attr(f, ATTR_VAR);
        const char *type = stanza_attr(f, ATTR_TYPE);
        json_object *values, *first;

        if (var == NULL)
            continue;
        values = field_values(f, ns);
        first = json_object_array_get_idx(values, 0);
        if (type == NULL || type_is(type, "list-single", "list-multi")) {
            /* Without a type there is no telling single from multi. */
            json_object_object_add(r, var, values);
            continue;
        }
        if (type_is(type, "text-multi", NULL)) {
            json_object_object_add(r, var, join_lines(values));
            continue;
        }
        if (type_is(type, "boolean", NULL)) {
            const char *s = first != NULL ? json_object_get_string(first) : "";
            json_object_object_add(
                r, var,
                json_object_new_boolean(streq(s, "1") || streq(s, "true")));
        } else {
            json_object_object_add(
                r, var, first != NULL ? json_object_get(first) : NULL);
        }
        json_object_put(values);
    }
    return r;
}

/* ---- hand-written keys ------------------------------------------------- */

/* XEP-0071: the JSON string is the XHTML <body>...</body> markup. */
static int html_to_xml(struct build *b, xmpp_stanza_t *parent,
                       const struct jm_prop *p, json_object *v)
{
    const char *s = str_value(b, p->key, v);
    xmpp_stanza_t *html;
    char *doc;

    if (s == NULL)
        return -1;
    /* The default namespace lets callers omit xmlns on their <body>. */
    doc = xasprintf("<x:" EL_HTML " xmlns:x='" NS_XHTML_IM "' xmlns='" NS_XHTML
                    "'>%s</x:" EL_HTML ">",
                    s);
    html = xmpp_stanza_new_from_string(b->ctx, doc);
    free(doc);
    if (html == NULL)
        return fail(b, 400, ERR_MODIFY, COND_NOT_WELL_FORMED,
                    "'%s' is not well-formed XHTML", p->key);
    stanza_adopt(parent, html);
    return 0;
}

static json_object *html_from_xml(xmpp_stanza_t *el, const char *ns, int depth)
{
    static const char decl[] = " xmlns=\"" NS_XHTML "\"";
    xmpp_stanza_t *body = jsonmap_find(el, ns, EL_BODY, NS_XHTML);
    json_object *r;
    char *text, *at;

    if (body == NULL || (text = stanza_to_text(body, NULL)) == NULL)
        return NULL;
    /*
     * mod_rest hands out the markup without the body's own xmlns. Cut it
     * from the text: removing the attribute would make the serializer
     * repeat the namespace on every child.
     */
    if ((at = strstr(text, decl)) != NULL)
        memmove(at, at + sizeof(decl) - 1, strlen(at + sizeof(decl) - 1) + 1);
    r = json_object_new_string(text);
    free(text);
    return r;
}

/*
 * Shared by disco and items requests: true -> empty query, false -> no
 * element, "node" -> query with that node. 1 when v was one of those.
 */
static int query_request(struct build *b, xmpp_stanza_t *parent,
                         const struct jm_prop *p, json_object *v,
                         xmpp_stanza_t **out)
{
    *out = NULL;
    if (json_object_is_type(v, json_type_boolean)) {
        if (json_object_get_boolean(v))
            *out = stanza_add_element(parent, EL_QUERY, p->ns);
        return 1;
    }
    if (json_object_is_type(v, json_type_string)) {
        const char *node = str_value(b, p->key, v);
        if (node == NULL)
            return -1;
        *out = stanza_add_element(parent, EL_QUERY, p->ns);
        xmpp_stanza_set_attribute(*out, ATTR_NODE, node);
        return 1;
    }
    return 0;
}

static int set_opt_attr(struct build *b, xmpp_stanza_t *el, json_object *obj,
                        const char *key)
{
    const char *s;

    if (opt_str(b, obj, key, &s) < 0)
        return -1;
    if (s != NULL)
        xmpp_stanza_set_attribute(el, key, s);
    return 0;
}

/* XEP-0030 info: request or {node, identities, features, extensions}. */
static int disco_to_xml(struct build *b, xmpp_stanza_t *parent,
                        const struct jm_prop *p, json_object *v)
{
    xmpp_stanza_t *q;
    int rc = query_request(b, parent, p, v, &q);
    json_object *a;

    if (rc != 0)
        return rc < 0 ? -1 : 0;
    if (!json_object_is_type(v, json_type_object))
        return fail_type(b, p->key, "true, a node string or an object");
    q = stanza_add_element(parent, EL_QUERY, p->ns);
    if (set_opt_attr(b, q, v, ATTR_NODE) < 0)
        return -1;
    if ((a = member(v, "identities")) != NULL) {
        size_t n;
        if (!json_object_is_type(a, json_type_array))
            return fail_type(b, "identities", "an array of objects");
        n = json_object_array_length(a);
        for (size_t i = 0; i < n; i++) {
            json_object *id = json_object_array_get_idx(a, i);
            xmpp_stanza_t *el;
            if (!json_object_is_type(id, json_type_object))
                return fail_type(b, "identities", "an array of objects");
            el = stanza_add_element(q, EL_IDENTITY, NULL);
            if (set_opt_attr(b, el, id, ATTR_CATEGORY) < 0 ||
                set_opt_attr(b, el, id, ATTR_TYPE) < 0 ||
                set_opt_attr(b, el, id, ATTR_NAME) < 0)
                return -1;
        }
    }
    if ((a = member(v, "features")) != NULL) {
        size_t n;
        if (!json_object_is_type(a, json_type_array))
            return fail_type(b, "features", "an array of strings");
        n = json_object_array_length(a);
        for (size_t i = 0; i < n; i++) {
            const char *var =
                str_value(b, "features", json_object_array_get_idx(a, i));
            if (var == NULL)
                return -1;
            xmpp_stanza_set_attribute(stanza_add_element(q, EL_FEATURE, NULL),
                                      ATTR_VAR, var);
        }
    }
    if ((a = member(v, "extensions")) != NULL) {
        if (!json_object_is_type(a, json_type_object))
            return fail_type(b, "extensions", "an object");
        json_object_object_foreach(a, form_type, ext)
        {
            if (!xml_chars_ok(form_type))
                return fail(b, 400, ERR_MODIFY, COND_NOT_WELL_FORMED,
                            "'extensions' has a key not allowed in XML");
            /* XEP-0128 extensions are result forms. */
            if (formdata_build(b, q, "extensions", ext, "result", form_type) <
                0)
                return -1;
        }
    }
    return 0;
}

static json_object *disco_from_xml(xmpp_stanza_t *el, const char *ns, int depth)
{
    json_object *r, *ids, *features, *exts;
    const char *node = stanza_attr(el, ATTR_NODE);

    if (stanza_first_element(el) == NULL)
        return node != NULL ? json_object_new_string(node)
                            : json_object_new_boolean(1);
    r = json_object_new_object();
    ids = json_object_new_array();
    features = json_object_new_array();
    exts = json_object_new_object();
    add_str(r, ATTR_NODE, node);
    for (xmpp_stanza_t *c = jsonmap_find(el, ns, NULL, NULL); c != NULL;
         c = find_next(el, ns, NULL, NULL, c)) {
        const char *cat = stanza_attr(c, ATTR_CATEGORY);
        const char *type = stanza_attr(c, ATTR_TYPE);
        const char *var = stanza_attr(c, ATTR_VAR);
        if (stanza_is(c, EL_IDENTITY) && cat != NULL && type != NULL) {
            json_object *id = json_object_new_object();
            add_str(id, ATTR_CATEGORY, cat);
            add_str(id, ATTR_TYPE, type);
            add_str(id, ATTR_NAME, stanza_attr(c, ATTR_NAME));
            json_object_array_add(ids, id);
        } else if (stanza_is(c, EL_FEATURE) && var != NULL) {
            json_object_array_add(features, json_object_new_string(var));
        }
    }
    for (xmpp_stanza_t *x = jsonmap_find(el, ns, EL_X, NS_DATA); x != NULL;
         x = find_next(el, ns, EL_X, NS_DATA, x)) {
        json_object *form = formdata_json(x, NS_DATA);
        json_object *ft = member(form, FORM_TYPE);
        /* A typed hidden FORM_TYPE is a string; an untyped one an array. */
        if (ft != NULL && json_object_is_type(ft, json_type_array))
            ft = json_object_array_get_idx(ft, 0);
        if (ft != NULL && json_object_is_type(ft, json_type_string)) {
            char *name = xstrdup(json_object_get_string(ft));
            json_object_object_del(form, FORM_TYPE);
            json_object_object_add(exts, name, form);
            free(name);
        } else {
            json_object_put(form);
        }
    }
    json_object_object_add(r, "identities", ids);
    json_object_object_add(r, "features", features);
    if (json_object_object_length(exts) > 0)
        json_object_object_add(r, "extensions", exts);
    else
        json_object_put(exts);
    return r;
}

/* XEP-0030 items: request, or [jid | {jid, node, name}] for a result. */
static int items_to_xml(struct build *b, xmpp_stanza_t *parent,
                        const struct jm_prop *p, json_object *v)
{
    xmpp_stanza_t *q;
    int rc = query_request(b, parent, p, v, &q);
    size_t n;

    if (rc != 0)
        return rc < 0 ? -1 : 0;
    if (json_object_is_type(v, json_type_object)) {
        q = stanza_add_element(parent, EL_QUERY, p->ns);
        return set_opt_attr(b, q, v, ATTR_NODE);
    }
    if (!json_object_is_type(v, json_type_array))
        return fail_type(b, p->key,
                         "true, a node string, an object or an array");
    q = stanza_add_element(parent, EL_QUERY, p->ns);
    n = json_object_array_length(v);
    for (size_t i = 0; i < n; i++) {
        json_object *it = json_object_array_get_idx(v, i);
        xmpp_stanza_t *item;
        if (json_object_is_type(it, json_type_string)) {
            const char *jid = str_value(b, p->key, it);
            if (jid == NULL)
                return -1;
            item = stanza_add_element(q, EL_ITEM, NULL);
            xmpp_stanza_set_attribute(item, ATTR_JID, jid);
            continue;
        }
        if (!json_object_is_type(it, json_type_object))
            return fail_type(b, p->key, "an array of strings or objects");
        item = stanza_add_element(q, EL_ITEM, NULL);
        if (set_opt_attr(b, item, it, ATTR_JID) < 0 ||
            set_opt_attr(b, item, it, ATTR_NODE) < 0 ||
            set_opt_attr(b, item, it, ATTR_NAME) < 0)
            return -1;
    }
    return 0;
}

static json_object *items_from_xml(xmpp_stanza_t *el, const char *ns, int depth)
{
    const char *node = stanza_attr(el, ATTR_NODE);
    json_object *r;

    if (stanza_first_element(el) == NULL)
        return node != NULL ? json_object_new_string(node)
                            : json_object_new_boolean(1);
    r = json_object_new_array();
    for (xmpp_stanza_t *c = jsonmap_find(el, ns, EL_ITEM, NULL); c != NULL;
         c = find_next(el, ns, EL_ITEM, NULL, c)) {
        json_object *it = json_object_new_object();
        add_str(it, ATTR_JID, stanza_attr(c, ATTR_JID));
        add_str(it, ATTR_NODE, stanza_attr(c, ATTR_NODE));
        add_str(it, ATTR_NAME, stanza_attr(c, ATTR_NAME));
        json_object_array_add(r, it);
    }
    return r;
}

static const char *const command_attrs[] = {"action", ATTR_NODE, "sessionid",
                                            "status", NULL};
static const char *const command_actions[] = {"next", "prev", "complete", NULL};

/* XEP-0050: "node" or {node, action, sessionid, status, actions, note,
 * form | data}. */
static int command_to_xml(struct build *b, xmpp_stanza_t *parent,
                          const struct jm_prop *p, json_object *v)
{
    xmpp_stanza_t *cmd;
    json_object *o;

    if (json_object_is_type(v, json_type_string)) {
        const char *node = str_value(b, p->key, v);
        if (node == NULL)
            return -1;
        cmd = stanza_add_element(parent, EL_COMMAND, p->ns);
        xmpp_stanza_set_attribute(cmd, ATTR_NODE, node);
        return 0;
    }
    if (!json_object_is_type(v, json_type_object))
        return fail_type(b, p->key, "a node string or an object");
    cmd = stanza_add_element(parent, EL_COMMAND, p->ns);
    for (const char *const *a = command_attrs; *a != NULL; a++)
        if (set_opt_attr(b, cmd, v, *a) < 0)
            return -1;
    if ((o = member(v, EL_ACTIONS)) != NULL) {
        xmpp_stanza_t *actions;
        if (!json_object_is_type(o, json_type_object))
            return fail_type(b, EL_ACTIONS, "an object");
        actions = stanza_add_element(cmd, EL_ACTIONS, NULL);
        if (set_opt_attr(b, actions, o, ATTR_EXECUTE) < 0)
            return -1;
        for (const char *const *a = command_actions; *a != NULL; a++) {
            json_object *f = member(o, *a);
            if (f == NULL)
                continue;
            if (!json_object_is_type(f, json_type_boolean))
                return fail_type(b, *a, "a boolean");
            if (json_object_get_boolean(f))
                stanza_add_element(actions, *a, NULL);
        }
    }
    if ((o = member(v, EL_NOTE)) != NULL) {
        const char *type, *text;
        xmpp_stanza_t *note;
        if (!json_object_is_type(o, json_type_object))
            return fail_type(b, EL_NOTE, "an object");
        if (opt_str(b, o, ATTR_TYPE, &type) < 0 ||
            opt_str(b, o, EL_TEXT, &text) < 0)
            return -1;
        note = add_text_element(cmd, EL_NOTE, NULL, text);
        if (type != NULL)
            xmpp_stanza_set_attribute(note, ATTR_TYPE, type);
    }
    if ((o = member(v, "form")) != NULL)
        return dataform_build(b, cmd, "form", o);
    if ((o = member(v, "data")) != NULL)
        return formdata_build(b, cmd, "data", o, "submit", NULL);
    return 0;
}

static json_object *command_from_xml(xmpp_stanza_t *el, const char *ns,
                                     int depth)
{
    json_object *r = json_object_new_object();
    xmpp_stanza_t *actions = jsonmap_find(el, ns, EL_ACTIONS, NULL);
    xmpp_stanza_t *note = jsonmap_find(el, ns, EL_NOTE, NULL);
    xmpp_stanza_t *form = jsonmap_find(el, ns, EL_X, NS_DATA);

    for (const char *const *a = command_attrs; *a != NULL; a++)
        add_str(r, *a, stanza_attr(el, *a));
    if (actions != NULL) {
        json_object *ja = json_object_new_object();
        add_str(ja, ATTR_EXECUTE, stanza_attr(actions, ATTR_EXECUTE));
        for (const char *const *a = command_actions; *a != NULL; a++)
            if (jsonmap_find(actions, ns, *a, NULL) != NULL)
                json_object_object_add(ja, *a, json_object_new_boolean(1));
        json_object_object_add(r, EL_ACTIONS, ja);
    }
    if (note != NULL) {
        json_object *jn = json_object_new_object();
        add_str(jn, ATTR_TYPE, stanza_attr(note, ATTR_TYPE));
        add_str(jn, EL_TEXT, text_ptr(note));
        json_object_object_add(r, EL_NOTE, jn);
    }
    if (form != NULL)
        json_object_object_add(r, "form", dataform_json(form, NS_DATA, false));
    return r;
}

/* XEP-0066 shorthand: a URL string <-> <x xmlns='jabber:x:oob'><url/>. */
static int oob_url_to_xml(struct build *b, xmpp_stanza_t *parent,
                          const struct jm_prop *p, json_object *v)
{
    const char *url = str_value(b, p->key, v);

    if (url == NULL)
        return -1;
    add_text_element(stanza_add_element(parent, EL_X, p->ns), EL_URL, NULL,
                     url);
    return 0;
}

static json_object *oob_url_from_xml(xmpp_stanza_t *el, const char *ns,
                                     int depth)
{
    const char *url = child_text_ptr(el, ns, EL_URL);
    return url != NULL ? json_object_new_string(url) : NULL;
}

/* XEP-0432: {datatype, data}; data is real JSON, carried as text. */
static int payload_to_xml(struct build *b, xmpp_stanza_t *parent,
                          const struct jm_prop *p, json_object *v)
{
    const char *datatype;
    xmpp_stanza_t *el;
    char *text;

    if (!json_object_is_type(v, json_type_object))
        return fail_type(b, p->key, "an object");
    if (opt_str(b, v, ATTR_DATATYPE, &datatype) < 0)
        return -1;
    text = json_to_string(member(v, "data"));
    if (!xml_chars_ok(text)) {
        free(text);
        return fail(b, 400, ERR_MODIFY, COND_NOT_WELL_FORMED,
                    "'%s' contains characters not allowed in XML", p->key);
    }
    el = add_text_element(parent, EL_PAYLOAD, p->ns, text);
    free(text);
    if (datatype != NULL)
        xmpp_stanza_set_attribute(el, ATTR_DATATYPE, datatype);
    return 0;
}

static json_object *payload_from_xml(xmpp_stanza_t *el, const char *ns,
                                     int depth)
{
    char *text = text_of(el);
    char err[128];
    json_object *data = json_parse(text, strlen(text), 0, err, sizeof(err));
    json_object *r;

    free(text);
    /* Unparseable data drops the key, like any other unmappable child. */
    if (data == NULL && err[0] != '\0')
        return NULL;
    r = json_object_new_object();
    add_str(r, ATTR_DATATYPE, stanza_attr(el, ATTR_DATATYPE));
    json_object_object_add(r, "data", data);
    return r;
}

/* Compat: presence "join": true is an empty MUC join unless "muc" is set. */
static int join_to_xml(struct build *b, xmpp_stanza_t *parent,
                       const struct jm_prop *p, json_object *v)
{
    if (!json_object_is_type(v, json_type_boolean))
        return fail_type(b, p->key, "a boolean");
    if (json_object_get_boolean(v) && member(b->top, "muc") == NULL)
        stanza_add_element(parent, EL_X, p->ns);
    return 0;
}

/* The nested <message xmlns='jabber:client'> of XEP-0297 forwarding. */
static int message_to_xml(struct build *b, xmpp_stanza_t *parent,
                          const struct jm_prop *p, json_object *v)
{
    xmpp_stanza_t *msg;

    if (!json_object_is_type(v, json_type_object))
        return fail_type(b, p->key, "an object");
    if (b->depth >= MAX_NESTING)
        return fail_value(b, p->key, "nested less deeply");
    b->depth++;
    msg = build_stanza(b, v, true);
    b->depth--;
    if (msg == NULL)
        return -1;
    stanza_adopt(parent, msg);
    return 0;
}

static json_object *message_from_xml(xmpp_stanza_t *el, const char *ns,
                                     int depth)
{
    if (depth >= MAX_NESTING)
        return NULL;
    return stanza_json(el, ns, true, depth + 1);
}

/* ---- the tables ------------------------------------------------------- */

static const char *const chat_states[] = {"active",    "inactive", "gone",
                                          "composing", "paused",   NULL};

/* XEP-0059; mod_rest maps every field, index included, as an element. */
static const struct jm_prop rsm_props[] = {
    P_TEXT("after", NULL, NULL), P_TEXT("before", NULL, NULL),
    P_INT_TEXT("count"),         P_TEXT("first", NULL, NULL),
    P_INT_TEXT("index"),         P_TEXT("last", NULL, NULL),
    P_INT_TEXT("max"),           P_END,
};

static const struct jm_prop thread_props[] = {
    P_OWN_TEXT("id"),
    P_ATTR("parent", JM_STR),
    P_END,
};

static const struct jm_prop oob_props[] = {
    P_TEXT("url", NULL, NULL),
    P_TEXT("desc", NULL, NULL),
    P_END,
};

static const struct jm_prop reply_props[] = {
    P_ATTR("id", JM_STR),
    P_ATTR("to", JM_STR),
    P_END,
};

static const struct jm_prop reaction_item[] = {
    P_TEXT("reactions", "reaction", NULL),
};

static const struct jm_prop reactions_props[] = {
    P_ATTR("id", JM_STR),
    P_LIST("reactions", reaction_item),
    P_END,
};

static const struct jm_prop reference_props[] = {
    P_ATTR("type", JM_STR),
    P_ATTR("uri", JM_STR),
    P_ATTR("begin", JM_INT),
    P_ATTR("end", JM_INT),
    P_END,
};

static const struct jm_prop invite_props[] = {
    P_ATTR("jid", JM_STR),       P_ATTR("password", JM_STR),
    P_ATTR("reason", JM_STR),    P_ATTR("thread", JM_STR),
    P_ATTR("continue", JM_BOOL), P_END,
};

static const struct jm_prop sid_props[] = {
    P_ATTR("id", JM_STR),
    P_ATTR("by", JM_STR),
    P_END,
};

static const struct jm_prop sid_item[] = {
    P_OBJ("stanza_ids", "stanza-id", NS_SID, sid_props),
};

static const struct jm_prop forwarded_props[] = {
    P_SATTR("delay", "delay", NS_DELAY, "stamp"),
    P_FUNC("message", EL_MESSAGE, NS_CLIENT, message_to_xml, message_from_xml),
    P_END,
};

static const struct jm_prop mam_result_props[] = {
    P_ATTR("queryid", JM_STR),
    P_ATTR("id", JM_STR),
    P_OBJ("forward", "forwarded", NS_FORWARD, forwarded_props),
    P_END,
};

static const struct jm_prop caps_props[] = {
    P_ATTR("node", JM_STR),
    P_ATTR("ver", JM_STR),
    P_ATTR("hash", JM_STR),
    P_ATTR("ext", JM_STR),
    P_END,
};

static const struct jm_prop history_props[] = {
    P_ATTR("maxchars", JM_INT),
    P_ATTR("maxstanzas", JM_INT),
    P_ATTR("seconds", JM_INT),
    P_ATTR("since", JM_STR),
    P_END,
};

static const struct jm_prop muc_props[] = {
    P_OBJ("history", "history", NULL, history_props),
    P_END,
};

static const struct jm_prop vcard_update_props[] = {
    P_TEXT("photo", NULL, NULL),
    P_END,
};

static const struct jm_prop version_props[] = {
    P_TEXT("name", NULL, NULL),
    P_TEXT("version", NULL, NULL),
    P_TEXT("os", NULL, NULL),
    P_END,
};

/* The archive query as the schema maps it (form fields use "values"). */
static const struct jm_prop mam_query_props[] = {
    P_ATTR("queryid", JM_STR),
    P_FUNC("form", EL_X, NS_DATA, NULL, dataform_values_from_xml),
    P_OBJ("page", EL_SET, NS_RSM, rsm_props),
    P_END,
};

static const struct jm_prop fin_props[] = {
    P_OBJ("page", EL_SET, NS_RSM, rsm_props),
    P_END,
};

static const struct jm_prop last_props[] = {
    P_ATTR("seconds", JM_INT),
    P_OWN_TEXT("status"),
    P_END,
};

static const struct jm_prop stat_props[] = {
    P_ATTR("name", JM_STR),
    P_ATTR("unit", JM_STR),
    P_ATTR("value", JM_NUM),
    P_END,
};

static const struct jm_prop stat_item[] = {
    P_OBJ("stats", "stat", NULL, stat_props),
};

static const struct jm_prop service_props[] = {
    P_ATTR("type", JM_STR),     P_ATTR("host", JM_STR),
    P_ATTR("port", JM_INT),     P_ATTR("transport", JM_STR),
    P_ATTR("username", JM_STR), P_ATTR("password", JM_STR),
    P_ATTR("expires", JM_STR),  P_ATTR("restricted", JM_BOOL),
    P_ATTR("name", JM_STR),     P_END,
};

static const struct jm_prop service_item[] = {
    P_OBJ("services", "service", NULL, service_props),
};

static const struct jm_prop extdisco_props[] = {
    P_ATTR("type", JM_STR),
    P_LIST("services", service_item),
    P_END,
};

static const struct jm_prop gateway_props[] = {
    P_TEXT("desc", NULL, NULL),
    P_TEXT("prompt", NULL, NULL),
    P_TEXT("jid", NULL, NULL),
    P_END,
};

static const struct jm_prop register_props[] = {
    P_TEXT("username", NULL, NULL),
    P_TEXT("password", NULL, NULL),
    P_TEXT("email", NULL, NULL),
    P_TEXT("nick", NULL, NULL),
    P_TEXT("name", NULL, NULL),
    P_TEXT("first", NULL, NULL),
    P_TEXT("last", NULL, NULL),
    P_TEXT("address", NULL, NULL),
    P_TEXT("city", NULL, NULL),
    P_TEXT("state", NULL, NULL),
    P_TEXT("zip", NULL, NULL),
    P_TEXT("phone", NULL, NULL),
    P_TEXT("url", NULL, NULL),
    P_TEXT("date", NULL, NULL),
    P_TEXT("misc", NULL, NULL),
    P_TEXT("text", NULL, NULL),
    P_TEXT("key", NULL, NULL),
    P_TEXT("instructions", NULL, NULL),
    P_FLAG("registered", NULL, NULL),
    P_FLAG("remove", NULL, NULL),
    P_END,
};

static const struct jm_prop upload_request_props[] = {
    P_ATTR("filename", JM_STR),
    /* GET /rest/upload_request passes the size as a query string. */
    P_ATTR("size", JM_INT, .flags = JM_F_COERCE),
    P_ATTR("content-type", JM_STR),
    P_END,
};

static const struct jm_prop url_props[] = {
    P_ATTR("url", JM_STR),
    P_END,
};

static const struct jm_prop header_props[] = {
    P_ATTR("name", JM_STR),
    P_OWN_TEXT("value"),
    P_END,
};

static const struct jm_prop header_item[] = {
    P_OBJ("headers", "header", NULL, header_props),
};

static const struct jm_prop put_props[] = {
    P_ATTR("url", JM_STR),
    P_LIST("headers", header_item),
    P_END,
};

static const struct jm_prop slot_props[] = {
    P_OBJ("get", NULL, NULL, url_props),
    P_OBJ("put", NULL, NULL, put_props),
    P_END,
};

static const struct jm_prop report_props[] = {
    P_ATTR("reason", JM_STR),
    P_LIST("stanza_ids", sid_item),
    P_END,
};

static const struct jm_prop block_item_props[] = {
    P_ATTR("jid", JM_STR),
    P_OBJ("report", "report", NS_REPORTING, report_props),
    P_END,
};

static const struct jm_prop block_item[] = {
    P_OBJ("block", EL_ITEM, NULL, block_item_props),
};

static const struct jm_prop blocklist_item_props[] = {
    P_ATTR("jid", JM_STR),
    P_END,
};

static const struct jm_prop blocklist_item[] = {
    P_OBJ("blocklist", EL_ITEM, NULL, blocklist_item_props),
};

static int archive_to_xml(struct build *b, xmpp_stanza_t *parent,
                          const struct jm_prop *p, json_object *v);

/*
 * Every top-level key, in output order: message keys, presence keys, iq
 * payload keys, then the keys common to all kinds.
 */
static const struct jm_prop top_props[] = {
    /* message */
    P_TEXT("body", NULL, NULL, .kinds = KIND_MESSAGE),
    P_TEXT("subject", NULL, NULL, .kinds = KIND_MESSAGE),
    P_OBJ("thread", NULL, NULL, thread_props, .kinds = KIND_MESSAGE),
    P_FUNC("html", EL_HTML, NS_XHTML_IM, html_to_xml, html_from_xml,
           .kinds = KIND_MESSAGE, .flags = JM_F_FUNC),
    {.key = "state",
     .how = JM_NAME_VALUE,
     .type = JM_STR,
     .ns = NS_CHATSTATES,
     .values = chat_states,
     .kinds = KIND_MESSAGE},
    P_FUNC("oob_url", EL_X, NS_X_OOB, oob_url_to_xml, oob_url_from_xml,
           .kinds = KIND_MESSAGE, .flags = JM_F_FUNC),
    P_OBJ("oob", EL_X, NS_X_OOB, oob_props, .kinds = KIND_MESSAGE),
    P_SATTR("replace", "replace", NS_CORRECT, "id", .kinds = KIND_MESSAGE),
    P_OBJ("reply", "reply", NS_REPLY, reply_props, .kinds = KIND_MESSAGE),
    P_OBJ("reactions", "reactions", NS_REACTIONS, reactions_props,
          .kinds = KIND_MESSAGE),
    P_OBJ("reference", "reference", NS_REFERENCE, reference_props,
          .kinds = KIND_MESSAGE),
    P_FLAG("markable", "markable", NS_MARKERS, .kinds = KIND_MESSAGE),
    P_SATTR("displayed", "displayed", NS_MARKERS, "id", .kinds = KIND_MESSAGE),
    P_FLAG("fallback", "fallback", NS_FALLBACK, .kinds = KIND_MESSAGE),
    P_SATTR("encryption", "encryption", NS_EME, "namespace",
            .kinds = KIND_MESSAGE),
    P_SATTR("occupant_id", "occupant-id", NS_OCCUPANT_ID, "id",
            .kinds = KIND_MESSAGE),
    P_SATTR("attach_to", "attach-to", NS_ATTACHING, "id",
            .kinds = KIND_MESSAGE),
    P_OBJ("invite", EL_X, NS_CONFERENCE, invite_props, .kinds = KIND_MESSAGE),
    P_LIST("stanza_ids", sid_item, .kinds = KIND_MESSAGE),
    P_OBJ("forwarded", "forwarded", NS_FORWARD, forwarded_props,
          .kinds = KIND_MESSAGE),
    P_OBJ("archive", "result", NS_MAM, mam_result_props, .kinds = KIND_MESSAGE),
    /* presence */
    P_TEXT("show", NULL, NULL, .kinds = KIND_PRESENCE),
    P_TEXT("status", NULL, NULL, .kinds = KIND_PRESENCE),
    P_INT_TEXT("priority", .kinds = KIND_PRESENCE, .flags = JM_F_RANGE,
               .min = -128, .max = 127),
    P_OBJ("caps", "c", NS_CAPS, caps_props, .kinds = KIND_PRESENCE),
    P_OBJ("muc", EL_X, NS_MUC, muc_props, .kinds = KIND_PRESENCE),
    P_FUNC("join", EL_X, NS_MUC, join_to_xml, NULL, .type = JM_BOOL,
           .kinds = KIND_PRESENCE, .flags = JM_F_JSON_ONLY),
    P_SATTR("idle_since", "idle", NS_IDLE, "since", .kinds = KIND_PRESENCE),
    P_OBJ("vcard_update", EL_X, NS_VCARD_UPDATE, vcard_update_props,
          .kinds = KIND_PRESENCE),
    /* iq payloads */
    P_FLAG("ping", EL_PING, NS_PING, .kinds = KIND_IQ),
    P_OBJ("version", EL_QUERY, NS_VERSION, version_props, .kinds = KIND_IQ),
    P_FUNC("disco", EL_QUERY, NS_DISCO_INFO, disco_to_xml, disco_from_xml,
           .kinds = KIND_IQ, .flags = JM_F_FUNC),
    P_FUNC("items", EL_QUERY, NS_DISCO_ITEMS, items_to_xml, items_from_xml,
           .kinds = KIND_IQ, .flags = JM_F_FUNC),
    P_FUNC("command", EL_COMMAND, NS_COMMANDS, command_to_xml, command_from_xml,
           .kinds = KIND_IQ, .flags = JM_F_FUNC),
    P_FUNC("archive", EL_QUERY, NS_MAM, archive_to_xml, NULL,
           .sub = mam_query_props, .kinds = KIND_IQ),
    P_OBJ("result", "fin", NS_MAM, fin_props, .kinds = KIND_IQ),
    P_OBJ("lastactivity", EL_QUERY, NS_LAST, last_props, .kinds = KIND_IQ),
    P_WRAPPED("stats", EL_QUERY, NS_STATS, stat_item, .kinds = KIND_IQ),
    P_OBJ("extdisco", "services", NS_EXTDISCO, extdisco_props,
          .kinds = KIND_IQ),
    P_OBJ("gateway", EL_QUERY, NS_GATEWAY, gateway_props, .kinds = KIND_IQ),
    P_OBJ("register", EL_QUERY, NS_REGISTER, register_props, .kinds = KIND_IQ),
    P_OBJ("upload_request", "request", NS_UPLOAD, upload_request_props,
          .kinds = KIND_IQ),
    P_OBJ("upload_slot", "slot", NS_UPLOAD, slot_props, .kinds = KIND_IQ),
    P_OBJ("oob", EL_QUERY, NS_IQ_OOB, oob_props, .kinds = KIND_IQ),
    P_WRAPPED("block", "block", NS_BLOCKING, block_item, .kinds = KIND_IQ),
    P_WRAPPED("blocklist", "blocklist", NS_BLOCKING, blocklist_item,
              .kinds = KIND_IQ),
    /* common to all kinds */
    P_SATTR("delay", "delay", NS_DELAY, "stamp", .kinds = KIND_ALL),
    P_TEXT("nick", "nick", NS_NICK, .kinds = KIND_ALL),
    P_OBJ("rsm", EL_SET, NS_RSM, rsm_props, .kinds = KIND_ALL),
    P_FUNC("payload", EL_PAYLOAD, NS_JSON_MSG, payload_to_xml, payload_from_xml,
           .kinds = KIND_ALL),
    P_FUNC("dataform", EL_X, NS_DATA, dataform_to_xml, dataform_from_xml,
           .kinds = KIND_ALL, .flags = JM_F_FUNC),
    P_FUNC("formdata", EL_X, NS_DATA, formdata_to_xml, NULL, .kinds = KIND_ALL,
           .flags = JM_F_FUNC | JM_F_JSON_ONLY),
    P_END,
};

/* The prop that maps RSM pages, for the archive convenience keys. */
static const struct jm_prop page_prop =
    P_OBJ("page", EL_SET, NS_RSM, rsm_props);

/* Archive convenience keys that become MAM form fields, in form order. */
static const char *const mam_fields[] = {"with",      "start",    "end",
                                         "before-id", "after-id", NULL};

static bool truthy(json_object *obj, const char *key)
{
    json_object *v = member(obj, key);
    return v != NULL && !(json_object_is_type(v, json_type_boolean) &&
                          !json_object_get_boolean(v));
}

/* "ids" as an array of strings or a comma-separated string -> <value/>s. */
static int mam_ids_to_xml(struct build *b, xmpp_stanza_t *field,
                          json_object *ids)
{
    const char *s;

    if (json_object_is_type(ids, json_type_array))
        return values_to_xml(b, field, "ids", ids);
    if ((s = str_value(b, "ids", ids)) == NULL)
        return -1;
    while (*s != '\0') {
        size_t n = strcspn(s, ",");
        if (n > 0) {
            char *id = xstrndup(s, n);
            add_text_element(field, EL_VALUE, NULL, id);
            free(id);
        }
        s += n + (s[n] == ',');
    }
    return 0;
}

/*
 * XEP-0313 query: {queryid, form, page}. For a set without "form", the
 * convenience keys with/start/end/before-id/after-id/ids build the MAM form
 * and after/before/max the RSM page (as mod_rest).
 */
/* The convenience fields of an archive query as its data form. */
static int mam_form_to_xml(struct build *b, xmpp_stanza_t *q, json_object *v)
{
    xmpp_stanza_t *x = stanza_add_element(q, EL_X, NS_DATA);
    xmpp_stanza_t *f = stanza_add_element(x, EL_FIELD, NULL);
    json_object *o;

    xmpp_stanza_set_attribute(x, ATTR_TYPE, "submit");
    xmpp_stanza_set_attribute(f, ATTR_VAR, FORM_TYPE);
    xmpp_stanza_set_attribute(f, ATTR_TYPE, "hidden");
    add_text_element(f, EL_VALUE, NULL, NS_MAM);
    for (const char *const *k = mam_fields; *k != NULL; k++) {
        const char *s;
        if (opt_str(b, v, *k, &s) < 0)
            return -1;
        if (s == NULL)
            continue;
        f = stanza_add_element(x, EL_FIELD, NULL);
        xmpp_stanza_set_attribute(f, ATTR_VAR, *k);
        add_text_element(f, EL_VALUE, NULL, s);
    }
    if ((o = member(v, "ids")) != NULL) {
        f = stanza_add_element(x, EL_FIELD, NULL);
        xmpp_stanza_set_attribute(f, ATTR_VAR, "ids");
        if (mam_ids_to_xml(b, f, o) < 0)
            return -1;
    }
    return 0;
}

/* The convenience after/before/max of an archive query as its RSM set. */
static int mam_page_to_xml(struct build *b, xmpp_stanza_t *q, json_object *v)
{
    json_object *page = json_object_new_object(), *o;
    int rc = 0;

    for (const char *const *k =
             (const char *const[]){"after", "before", "max", NULL};
         *k != NULL; k++)
        if ((o = member(v, *k)) != NULL)
            json_object_object_add(page, *k, json_object_get(o));
    /* "max" may come as a query string; mod_rest uses tonumber(). */
    o = member(page, "max");
    if (o != NULL && json_object_is_type(o, json_type_string)) {
        long long n;
        if (!parse_ll(json_object_get_string(o), &n))
            rc = fail_type(b, "max", "an integer");
        else
            json_object_object_add(page, "max", json_object_new_int64(n));
    }
    if (rc == 0)
        rc = prop_to_xml(b, q, &page_prop, page);
    json_object_put(page);
    return rc;
}

static int archive_to_xml(struct build *b, xmpp_stanza_t *parent,
                          const struct jm_prop *p, json_object *v)
{
    bool convenience = streq(b->iq_type, "set") && member(v, "form") == NULL;
    bool has_form = false, has_page = false;
    xmpp_stanza_t *q;
    json_object *o;

    if (!json_object_is_type(v, json_type_object))
        return fail_type(b, p->key, "an object");
    q = stanza_add_element(parent, EL_QUERY, p->ns);
    if (set_opt_attr(b, q, v, "queryid") < 0)
        return -1;
    if (convenience) {
        for (const char *const *f = mam_fields; *f != NULL; f++)
            has_form = has_form || truthy(v, *f);
        has_form = has_form || truthy(v, "ids");
        has_page =
            truthy(v, "after") || truthy(v, "before") || truthy(v, "max");
    }
    if (has_form) {
        if (mam_form_to_xml(b, q, v) < 0)
            return -1;
    } else if ((o = member(v, "form")) != NULL &&
               dataform_build(b, q, "form", o) < 0) {
        return -1;
    }
    if (has_page)
        return mam_page_to_xml(b, q, v);
    if ((o = member(v, "page")) != NULL)
        return prop_to_xml(b, q, &page_prop, o);
    return 0;
}

/* ---- the table engine ------------------------------------------------- */

/* Map value v of prop p into parent (v is not JSON null). */
static int prop_to_xml(struct build *b, xmpp_stanza_t *parent,
                       const struct jm_prop *p, json_object *v)
{
    char buf[64];
    const char *s;
    xmpp_stanza_t *c;
    size_t n;

    switch (p->how) {
    case JM_TEXT:
        if ((s = scalar_text(b, p, v, buf, sizeof(buf))) == NULL)
            return -1;
        add_text_element(parent, pname(p), p->ns, s);
        return 0;
    case JM_OWN_TEXT:
        if ((s = scalar_text(b, p, v, buf, sizeof(buf))) == NULL)
            return -1;
        if (*s != '\0')
            stanza_add_text(parent, s);
        return 0;
    case JM_ATTR:
        if ((s = scalar_text(b, p, v, buf, sizeof(buf))) == NULL)
            return -1;
        xmpp_stanza_set_attribute(parent, pname(p), s);
        return 0;
    case JM_SINGLE_ATTR:
        if ((s = scalar_text(b, p, v, buf, sizeof(buf))) == NULL)
            return -1;
        c = stanza_add_element(parent, pname(p), p->ns);
        xmpp_stanza_set_attribute(c, p->attr, s);
        return 0;
    case JM_FLAG:
        if (!json_object_is_type(v, json_type_boolean))
            return fail_type(b, p->key, "a boolean");
        if (json_object_get_boolean(v))
            stanza_add_element(parent, pname(p), p->ns);
        return 0;
    case JM_NAME_VALUE:
        if ((s = str_value(b, p->key, v)) == NULL)
            return -1;
        /* The value becomes an element name: only the listed ones. */
        for (const char *const *ok = p->values; *ok != NULL; ok++) {
            if (strcmp(*ok, s) == 0) {
                stanza_add_element(parent, s, p->ns);
                return 0;
            }
        }
        return fail_value(b, p->key, "one of the defined names");
    case JM_OBJECT:
        if (!json_object_is_type(v, json_type_object))
            return fail_type(b, p->key, "an object");
        c = stanza_add_element(parent, pname(p), p->ns);
        return props_to_xml(b, c, p->sub, v, 0);
    case JM_WRAPPED:
    case JM_LIST:
        if (!json_object_is_type(v, json_type_array))
            return fail_type(b, p->key, "an array");
        c = parent;
        if (p->how == JM_WRAPPED)
            c = stanza_add_element(parent, pname(p), p->ns);
        n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++) {
            json_object *item = json_object_array_get_idx(v, i);
            if (item == NULL)
                return fail_type(b, p->key, "an array without nulls");
            if (prop_to_xml(b, c, p->sub, item) < 0)
                return -1;
        }
        return 0;
    case JM_FUNC:
        return p->to_xml != NULL ? p->to_xml(b, parent, p, v) : 0;
    }
    return 0;
}

/* Map every present key of obj that has a row in props (and kind). */
static int props_to_xml(struct build *b, xmpp_stanza_t *el,
                        const struct jm_prop *props, json_object *obj,
                        unsigned kind)
{
    for (const struct jm_prop *p = props; p->key != NULL; p++) {
        json_object *v;
        if (kind != 0 && !(p->kinds & kind))
            continue;
        if ((v = member(obj, p->key)) == NULL)
            continue;
        if (prop_to_xml(b, el, p, v) < 0)
            return -1;
    }
    return 0;
}

/* The JSON value of element el (in namespace ns) as described by p. */
static json_object *elem_from_xml(xmpp_stanza_t *el, const char *ns,
                                  const struct jm_prop *p, int depth)
{
    json_object *r;
    const char *s;

    switch (p->how) {
    case JM_TEXT:
        return scalar_json(p, text_ptr(el));
    case JM_SINGLE_ATTR:
        s = stanza_attr(el, p->attr);
        return s != NULL ? scalar_json(p, s) : NULL;
    case JM_FLAG:
        return json_object_new_boolean(1);
    case JM_NAME_VALUE:
        return json_object_new_string(xmpp_stanza_get_name(el));
    case JM_WRAPPED:
        r = json_object_new_array();
        for (xmpp_stanza_t *c = jsonmap_find(el, ns, pname(p->sub), p->sub->ns);
             c != NULL; c = find_next(el, ns, pname(p->sub), p->sub->ns, c)) {
            json_object *item = elem_from_xml(c, eff_ns(c, ns), p->sub, depth);
            if (item != NULL)
                json_object_array_add(r, item);
        }
        return r;
    case JM_FUNC:
        if (p->from_xml != NULL)
            return p->from_xml(el, ns, depth);
        if (p->sub == NULL)
            return NULL;
        /* A func key whose XML side is a plain object (archive). */
        r = json_object_new_object();
        props_from_xml(el, ns, p->sub, 0, 0, depth, r);
        return r;
    case JM_OBJECT:
        r = json_object_new_object();
        props_from_xml(el, ns, p->sub, 0, 0, depth, r);
        return r;
    case JM_OWN_TEXT:
    case JM_ATTR:
    case JM_LIST:
        break;
    }
    return NULL;
}

/* The JSON value of prop p found in element el, or NULL when absent. */
static json_object *prop_from_xml(xmpp_stanza_t *el, const char *ns,
                                  const struct jm_prop *p, int depth)
{
    xmpp_stanza_t *c;
    const char *s;
    json_object *r;

    switch (p->how) {
    case JM_OWN_TEXT:
        /* An empty element keeps its key: {"status": ""}, as mod_rest. */
        s = own_text_ptr(el);
        return s != NULL ? scalar_json(p, s) : NULL;
    case JM_ATTR:
        s = stanza_attr(el, pname(p));
        return s != NULL ? scalar_json(p, s) : NULL;
    case JM_NAME_VALUE:
        for (c = jsonmap_find(el, ns, NULL, p->ns); c != NULL;
             c = find_next(el, ns, NULL, p->ns, c))
            for (const char *const *ok = p->values; *ok != NULL; ok++)
                if (stanza_is(c, *ok))
                    return json_object_new_string(*ok);
        return NULL;
    case JM_LIST:
        r = json_object_new_array();
        for (c = jsonmap_find(el, ns, pname(p->sub), p->sub->ns); c != NULL;
             c = find_next(el, ns, pname(p->sub), p->sub->ns, c)) {
            json_object *item = elem_from_xml(c, eff_ns(c, ns), p->sub, depth);
            if (item != NULL)
                json_object_array_add(r, item);
        }
        if (json_object_array_length(r) == 0) {
            json_object_put(r);
            return NULL;
        }
        return r;
    default:
        c = jsonmap_find(el, ns, pname(p), p->ns);
        return c != NULL ? elem_from_xml(c, eff_ns(c, ns), p, depth) : NULL;
    }
}

/* Add to out every prop of props found in el (skipping `skip` flags). */
static void props_from_xml(xmpp_stanza_t *el, const char *ns,
                           const struct jm_prop *props, unsigned kind,
                           unsigned skip, int depth, json_object *out)
{
    for (const struct jm_prop *p = props; p->key != NULL; p++) {
        json_object *v;
        if (kind != 0 && !(p->kinds & kind))
            continue;
        if (p->flags & (skip | JM_F_JSON_ONLY))
            continue;
        if ((v = prop_from_xml(el, ns, p, depth)) != NULL)
            json_object_object_add(out, p->key, v);
    }
}

/* ---- stanza level ----------------------------------------------------- */

static const struct {
    const char *name;
    unsigned kind;
} kinds[] = {
    {EL_MESSAGE, KIND_MESSAGE},
    {EL_PRESENCE, KIND_PRESENCE},
    {EL_IQ, KIND_IQ},
};

/* mod_rest's kind_by_type. */
static const struct {
    const char *type;
    unsigned kind;
} kind_by_type[] = {
    {"get", KIND_IQ},
    {"set", KIND_IQ},
    {"result", KIND_IQ},
    {"normal", KIND_MESSAGE},
    {"chat", KIND_MESSAGE},
    {"headline", KIND_MESSAGE},
    {"groupchat", KIND_MESSAGE},
    {"available", KIND_PRESENCE},
    {"unavailable", KIND_PRESENCE},
    {"subscribe", KIND_PRESENCE},
    {"unsubscribe", KIND_PRESENCE},
    {"subscribed", KIND_PRESENCE},
    {"unsubscribed", KIND_PRESENCE},
};

/* mod_rest's implied_kinds, in a fixed order (Lua's pairs() has none). */
static const struct {
    const char *key;
    unsigned kind;
} implied_kinds[] = {
    {"disco", KIND_IQ},        {"items", KIND_IQ},
    {"ping", KIND_IQ},         {"version", KIND_IQ},
    {"command", KIND_IQ},      {"archive", KIND_IQ},
    {"body", KIND_MESSAGE},    {"html", KIND_MESSAGE},
    {"replace", KIND_MESSAGE}, {"state", KIND_MESSAGE},
    {"subject", KIND_MESSAGE}, {"thread", KIND_MESSAGE},
    {"join", KIND_PRESENCE},   {"priority", KIND_PRESENCE},
    {"show", KIND_PRESENCE},   {"status", KIND_PRESENCE},
};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const char *const error_types[] = {"auth",   "cancel", "continue",
                                          "modify", "wait",   NULL};

/* RFC 6120 §8.3.3: the condition becomes an element name. */
static const char *const error_conditions[] = {
    "bad-request",
    "conflict",
    "feature-not-implemented",
    "forbidden",
    "gone",
    "internal-server-error",
    "item-not-found",
    "jid-malformed",
    "not-acceptable",
    "not-allowed",
    "not-authorized",
    "policy-violation",
    "recipient-unavailable",
    "redirect",
    "registration-required",
    "remote-server-not-found",
    "remote-server-timeout",
    "resource-constraint",
    "service-unavailable",
    "subscription-required",
    "undefined-condition",
    "unexpected-request",
    NULL,
};

static bool in_list(const char *const *list, const char *s)
{
    for (; *list != NULL; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

/* {type, condition, text, by} -> <error type by><condition/><text/>. */
static int error_to_xml(struct build *b, xmpp_stanza_t *st, json_object *e)
{
    const char *type, *cond, *text, *by;
    xmpp_stanza_t *el;

    if (opt_str(b, e, ATTR_TYPE, &type) < 0 ||
        opt_str(b, e, "condition", &cond) < 0 ||
        opt_str(b, e, EL_TEXT, &text) < 0 || opt_str(b, e, ATTR_BY, &by) < 0)
        return -1;
    if (type == NULL)
        type = ERR_CANCEL;
    if (cond == NULL)
        cond = COND_UNDEFINED;
    if (!in_list(error_types, type))
        return fail_value(b, "error.type",
                          "auth, cancel, continue, modify or wait");
    if (!in_list(error_conditions, cond))
        return fail_value(b, "error.condition",
                          "a defined stanza error condition");
    el = stanza_error_element(b->ctx, type, cond, text);
    if (by != NULL)
        xmpp_stanza_set_attribute(el, ATTR_BY, by);
    stanza_adopt(st, el);
    return 0;
}

/* Legacy: type "error" without an error object -> <error code>body. */
static int legacy_error_to_xml(struct build *b, xmpp_stanza_t *st,
                               json_object *obj)
{
    json_object *code = member(obj, "error_code");
    const char *body, *code_s = NULL;
    char buf[32];
    xmpp_stanza_t *el;

    if (opt_str(b, obj, "body", &body) < 0)
        return -1;
    if (code != NULL && json_is_int64(code)) {
        snprintf(buf, sizeof(buf), "%" PRId64, json_object_get_int64(code));
        code_s = buf;
    } else if (code != NULL &&
               (code_s = str_value(b, "error_code", code)) == NULL) {
        return fail_type(b, "error_code", "an integer or a string");
    }
    el = add_text_element(st, EL_ERROR, NULL, body);
    if (code_s != NULL)
        xmpp_stanza_set_attribute(el, ATTR_CODE, code_s);
    return 0;
}

static int set_jid_attr(struct build *b, xmpp_stanza_t *st, json_object *obj,
                        const char *key, const char *cond, const char *text)
{
    const char *s;

    if (opt_str(b, obj, key, &s) < 0)
        return -1;
    if (s == NULL)
        return 0;
    if (!jid_valid(s))
        return fail(b, 422, ERR_MODIFY, cond, "%s", text);
    xmpp_stanza_set_attribute(st, key, s);
    return 0;
}

/*
 * One stanza from obj. Nested ones (inside <forwarded/>) are always
 * messages in jabber:client and take no part in kind inference.
 */
/* The stanza kind a top-level object asks for: "kind", else its type,
 * else a payload that implies one, else message. 0 after a failure. */
static unsigned kind_of(struct build *b, json_object *obj, const char *kind_s,
                        const char *type)
{
    unsigned kind = 0;
    size_t i;

    if (kind_s != NULL) {
        for (i = 0; i < N_ELEMS(kinds); i++)
            if (strcmp(kind_s, kinds[i].name) == 0)
                kind = kinds[i].kind;
        if (kind == 0)
            fail(b, 422, ERR_MODIFY, COND_UNSUPPORTED_TYPE,
                 "must be 'message', 'presence' or 'iq'");
        return kind;
    }
    for (i = 0; kind == 0 && type != NULL && i < N_ELEMS(kind_by_type); i++)
        if (strcmp(type, kind_by_type[i].type) == 0)
            kind = kind_by_type[i].kind;
    for (i = 0; kind == 0 && i < N_ELEMS(implied_kinds); i++)
        if (truthy(obj, implied_kinds[i].key))
            kind = implied_kinds[i].kind;
    return kind != 0 ? kind : KIND_MESSAGE;
}

/* Addresses and payload of st from obj; 0 or -1 (b says why). */
static int fill_stanza(struct build *b, xmpp_stanza_t *st, json_object *obj,
                       unsigned kind, const char *type, const char *type_s)
{
    json_object *err_obj;

    if (set_jid_attr(b, st, obj, ATTR_TO, COND_IMPROPER_ADDRESSING,
                     "Invalid destination JID") < 0 ||
        set_jid_attr(b, st, obj, ATTR_FROM, COND_INVALID_FROM,
                     "Invalid source JID") < 0)
        return -1;

    /* An error object makes an error stanza; other payload is dropped. */
    if ((err_obj = member(obj, EL_ERROR)) != NULL) {
        if (!json_object_is_type(err_obj, json_type_object)) {
            fail_type(b, EL_ERROR, "an object");
            return -1;
        }
        xmpp_stanza_set_type(st, EL_ERROR);
        return error_to_xml(b, st, err_obj);
    }
    if (props_to_xml(b, st, top_props, obj, kind) < 0)
        return -1;
    if (streq(type_s, EL_ERROR) && legacy_error_to_xml(b, st, obj) < 0)
        return -1;
    if (kind == KIND_IQ && (streq(type, "get") || streq(type, "set")) &&
        stanza_element_count(st) > 1) {
        fail(b, 422, ERR_MODIFY, COND_BAD_FORMAT,
             "'iq' stanza must have exactly one child tag");
        return -1;
    }
    return 0;
}

static xmpp_stanza_t *build_stanza(struct build *b, json_object *obj,
                                   bool nested)
{
    const char *kind_s, *type_s, *type, *id, *lang;
    json_object *saved_top = b->top;
    const char *saved_type = b->iq_type;
    unsigned kind;
    xmpp_stanza_t *st;
    size_t i;
    int rc;

    if (!json_object_is_type(obj, json_type_object))
        return fail(b, 400, ERR_MODIFY, COND_NOT_WELL_FORMED,
                    "expected a JSON object"),
               NULL;
    if (opt_str(b, obj, "kind", &kind_s) < 0 ||
        opt_str(b, obj, ATTR_TYPE, &type_s) < 0 ||
        opt_str(b, obj, ATTR_ID, &id) < 0 || opt_str(b, obj, "lang", &lang) < 0)
        return NULL;

    type = type_s;
    kind = nested ? KIND_MESSAGE : kind_of(b, obj, kind_s, type);
    if (kind == 0)
        return NULL;
    if (kind == KIND_PRESENCE && streq(type, "available")) {
        type = NULL;
    } else if (kind == KIND_IQ && type == NULL) {
        /*
         * command and archive imply set. mod_rest applies this before
         * choosing the kind, which sends <message type='set'/> for a
         * message carrying an archive result; here it is for iqs only.
         */
        type = truthy(obj, "command") || truthy(obj, "archive") ? "set" : "get";
    }

    for (i = 0; kinds[i].kind != kind; i++)
        ;
    st = stanza_element(b->ctx, kinds[i].name, nested ? NS_CLIENT : NULL);
    b->top = obj;
    b->iq_type = type;
    if (type != NULL)
        xmpp_stanza_set_type(st, type);
    if (id != NULL)
        xmpp_stanza_set_id(st, id);
    if (lang != NULL)
        xmpp_stanza_set_attribute(st, ATTR_XML_LANG, lang);
    rc = fill_stanza(b, st, obj, kind, type, type_s);
    b->top = saved_top;
    b->iq_type = saved_type;
    if (rc < 0) {
        xmpp_stanza_release(st);
        return NULL;
    }
    return st;
}

xmpp_stanza_t *jsonmap_to_stanza(xmpp_ctx_t *ctx, json_object *obj,
                                 struct jsonmap_error *err)
{
    struct build b = {ctx, err, obj, NULL, 0};

    return build_stanza(&b, obj, false);
}

/* The error object of an error stanza: {type, condition, text, by}. */
static json_object *error_json(xmpp_stanza_t *st, const char *ns)
{
    xmpp_stanza_t *e = jsonmap_find(st, ns, EL_ERROR, NULL);
    json_object *r = json_object_new_object();

    if (e == NULL)
        return r;
    add_str(r, ATTR_TYPE, stanza_attr(e, ATTR_TYPE));
    for (xmpp_stanza_t *c = jsonmap_find(e, ns, NULL, NS_STANZAS); c != NULL;
         c = find_next(e, ns, NULL, NS_STANZAS, c)) {
        if (!stanza_is(c, EL_TEXT)) {
            add_str(r, "condition", xmpp_stanza_get_name(c));
            break;
        }
    }
    add_str(r, EL_TEXT, child_text_ptr(e, NS_STANZAS, EL_TEXT));
    add_str(r, ATTR_BY, stanza_attr(e, ATTR_BY));
    return r;
}

static json_object *stanza_json(xmpp_stanza_t *st, const char *parent_ns,
                                bool nested, int depth)
{
    const char *name = xmpp_stanza_get_name(st);
    const char *type = stanza_attr(st, ATTR_TYPE);
    const char *lang = stanza_attr(st, ATTR_XML_LANG);
    const char *ns = eff_ns(st, parent_ns);
    unsigned kind = 0;
    json_object *r;

    for (size_t i = 0; name != NULL && i < N_ELEMS(kinds); i++)
        if (strcmp(name, kinds[i].name) == 0)
            kind = kinds[i].kind;
    if (kind == 0)
        return NULL;
    if (ns == NULL)
        ns = NS_CLIENT;
    if (lang == NULL)
        lang = stanza_attr(st, ATTR_LANG);
    if (kind == KIND_PRESENCE && type == NULL && !nested)
        type = "available";

    r = json_object_new_object();
    if (!nested)
        add_str(r, "kind", name);
    add_str(r, ATTR_TYPE, type);
    add_str(r, ATTR_TO, stanza_attr(st, ATTR_TO));
    add_str(r, ATTR_FROM, stanza_attr(st, ATTR_FROM));
    add_str(r, ATTR_ID, stanza_attr(st, ATTR_ID));
    add_str(r, "lang", lang);
    if (streq(type, EL_ERROR)) {
        /* As mod_rest: schema keys and the error; no func keys. */
        props_from_xml(st, ns, top_props, kind, JM_F_FUNC, depth, r);
        json_object_object_add(r, EL_ERROR, error_json(st, ns));
    } else {
        props_from_xml(st, ns, top_props, kind, 0, depth, r);
    }
    return r;
}

json_object *jsonmap_from_stanza(xmpp_stanza_t *st)
{
    if (st == NULL || !xmpp_stanza_is_tag(st))
        return NULL;
    return stanza_json(st, NULL, false, 0);
}

/* ---- application/x-www-form-urlencoded -------------------------------- */

/* Percent/+ decode s[0..len) into a new string; NULL when malformed. */
static char *form_decode(const char *s, size_t len)
{
    char *out = xmalloc(len + 1);
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            out[n++] = ' ';
        } else if (s[i] == '%') {
            int hi, lo;
            if (len - i < 3 || (hi = json_hexval(s[i + 1])) < 0 ||
                (lo = json_hexval(s[i + 2])) < 0)
                goto bad;
            out[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[n++] = s[i];
        }
    }
    out[n] = '\0';
    if (memchr(out, '\0', n) != NULL || !json_utf8_valid(out, n))
        goto bad;
    return out;
bad:
    free(out);
    return NULL;
}

/* A top-level row of the given scalar type for key, if any. */
static bool top_key_has_type(const char *key, enum jm_how how,
                             enum jm_type type)
{
    for (const struct jm_prop *p = top_props; p->key != NULL; p++)
        if (strcmp(p->key, key) == 0 && p->how == how && p->type == type)
            return true;
    return false;
}

/* The JSON value for a form field: strings, except typed top-level keys. */
static json_object *form_value(const char *key, const char *value)
{
    long long n;

    if (top_key_has_type(key, JM_TEXT, JM_INT) && parse_ll(value, &n))
        return json_object_new_int64(n);
    if (top_key_has_type(key, JM_FLAG, JM_BOOL) ||
        top_key_has_type(key, JM_FUNC, JM_BOOL)) {
        if (strcmp(value, "true") == 0)
            return json_object_new_boolean(1);
        if (strcmp(value, "false") == 0)
            return json_object_new_boolean(0);
    }
    return json_object_new_string(value);
}

int jsonmap_form_to_json(const char *body, size_t len, json_object **out,
                         struct jsonmap_error *err)
{
    struct build b = {NULL, err, NULL, NULL, 0};
    json_object *obj = json_object_new_object();
    const char *p = body, *end = body + len;

    *out = NULL;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pair_end = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pair_end - p));
        char *key, *value;

        if (pair_end == p) {
            p++;
            continue;
        }
        key = form_decode(p, (size_t)((eq != NULL ? eq : pair_end) - p));
        value = eq != NULL ? form_decode(eq + 1, (size_t)(pair_end - eq - 1))
                           : xstrdup("");
        if (key == NULL || value == NULL) {
            free(key);
            free(value);
            json_object_put(obj);
            return fail(&b, 400, ERR_MODIFY, COND_NOT_WELL_FORMED,
                        "Failed to parse payload: bad form encoding");
        }
        if (json_object_object_get_ex(obj, key, NULL)) {
            fail(&b, 400, ERR_MODIFY, COND_NOT_WELL_FORMED,
                 "Failed to parse payload: duplicate key '%.64s'", key);
            free(key);
            free(value);
            json_object_put(obj);
            return -1;
        }
        json_object_object_add(obj, key, form_value(key, value));
        free(key);
        free(value);
        p = pair_end + (amp != NULL);
    }
    *out = obj;
    return 0;
}
