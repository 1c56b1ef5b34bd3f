/* SPDX-License-Identifier: MIT */
/* fuzz_stanza_json.c: stanza XML -> libstrophe parser -> jsonmap_from_stanza,
 * and our serializer on whatever the parser accepted. */
#include "config.h"

#include "fuzz.h"
#include "json.h"
#include "jsonmap.h"
#include "stanza.h"

#include <stdbool.h>

/* The namespace el is in: its own xmlns, or the one it inherits. */
static const char *eff_ns(xmpp_stanza_t *el, const char *parent_ns)
{
    const char *ns = xmpp_stanza_get_ns(el);
    return ns != NULL ? ns : parent_ns;
}

/* The next child's text, adjacent text nodes joined (the parser may split
 * character data); *c moves past them. NULL when *c is not text. */
static char *text_run(xmpp_stanza_t **c)
{
    size_t len = 0;
    char *out = NULL;

    while (*c != NULL && xmpp_stanza_is_text(*c)) {
        const char *t = xmpp_stanza_get_text_ptr(*c);
        size_t n = t != NULL ? strlen(t) : 0;
        out = realloc(out, len + n + 1);
        if (out == NULL)
            abort();
        memcpy(out + len, t != NULL ? t : "", n);
        len += n;
        out[len] = '\0';
        *c = xmpp_stanza_get_next(*c);
    }
    return out;
}

/* Same document: names, effective namespaces, attributes other than xmlns
 * (in any order) and character data. */
static bool same_tree(xmpp_stanza_t *a, const char *ans, xmpp_stanza_t *b,
                      const char *bns)
{
    const char *attrs[256];
    int n;

    if (strcmp(xmpp_stanza_get_name(a), xmpp_stanza_get_name(b)) != 0)
        return false;
    ans = eff_ns(a, ans);
    bns = eff_ns(b, bns);
    if ((ans == NULL) != (bns == NULL) ||
        (ans != NULL && strcmp(ans, bns) != 0))
        return false;
    if (xmpp_stanza_get_attribute_count(a) > 128)
        return true; /* not worth a bigger array here */
    n = xmpp_stanza_get_attributes(a, attrs, 256);
    int na = 0, nb = 0;
    for (int i = 0; i + 1 < n; i += 2) {
        const char *v;
        if (strcmp(attrs[i], "xmlns") == 0)
            continue;
        na++;
        v = xmpp_stanza_get_attribute(b, attrs[i]);
        if (v == NULL || strcmp(v, attrs[i + 1]) != 0)
            return false;
    }
    n = xmpp_stanza_get_attribute_count(b) <= 128
            ? xmpp_stanza_get_attributes(b, attrs, 256)
            : 0;
    for (int i = 0; i + 1 < n; i += 2)
        if (strcmp(attrs[i], "xmlns") != 0)
            nb++;
    if (na != nb)
        return false;
    xmpp_stanza_t *ca = xmpp_stanza_get_children(a);
    xmpp_stanza_t *cb = xmpp_stanza_get_children(b);
    for (;;) {
        char *ta = text_run(&ca), *tb = text_run(&cb);
        bool ok = (ta == NULL && tb == NULL) ||
                  (ta != NULL && tb != NULL && strcmp(ta, tb) == 0) ||
                  (ta != NULL && tb == NULL && *ta == '\0') ||
                  (tb != NULL && ta == NULL && *tb == '\0');
        free(ta);
        free(tb);
        if (!ok)
            return false;
        if (ca == NULL || cb == NULL)
            return ca == cb;
        if (!xmpp_stanza_is_tag(ca) || !xmpp_stanza_is_tag(cb) ||
            !same_tree(ca, ans, cb, bns))
            return false;
        ca = xmpp_stanza_get_next(ca);
        cb = xmpp_stanza_get_next(cb);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    xmpp_stanza_t *st = xmpp_stanza_new_from_string(fuzz_ctx, text);

    free(text);
    if (st == NULL)
        return 0;
    json_object *obj = jsonmap_from_stanza(st);
    if (obj != NULL) {
        char *s = json_to_string(obj);
        struct jsonmap_error err;
        xmpp_stanza_t *back;
        char why[256];
        json_object *re;

        /* The JSON we emit must be valid strict JSON and map back. */
        if (s == NULL)
            abort();
        re = json_parse(s, strlen(s), 0, why, sizeof(why));
        if (re == NULL && why[0] != '\0')
            abort();
        back = jsonmap_to_stanza(fuzz_ctx, obj, &err);
        if (back != NULL)
            xmpp_stanza_release(back);
        json_object_put(re);
        free(s);
        json_object_put(obj);
    }
    /* What our serializer writes parses back to the same document; what
     * no parser would accept back (a reserved namespace, say) it refuses.
     * The top element's jabber:client is the stream's default namespace,
     * left implicit by the serializer: both sides inherit it. */
    size_t len;
    char *xml = stanza_to_text(st, &len);
    if (xml != NULL) {
        if (strlen(xml) != len)
            abort();
        xmpp_stanza_t *again = xmpp_stanza_new_from_string(fuzz_ctx, xml);
        if (again == NULL || !same_tree(st, NS_CLIENT, again, NS_CLIENT))
            abort();
        free(xml);
        xmpp_stanza_release(again);
    }
    (void)stanza_first_element(st);
    (void)stanza_element_count(st);
    xmpp_stanza_release(st);
    return 0;
}
