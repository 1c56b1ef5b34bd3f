/* SPDX-License-Identifier: MIT */
/* fuzz_boundaries.c: bytes through every input boundary (REST body and path,
 * webhook answer, roster answer) into the serializer; whatever it accepts
 * must be well-formed XML of valid characters within the size bound. The
 * first byte picks the route. */
#include "config.h"

#include "fuzz.h"
#include "json.h"
#include "jsonmap.h"
#include "rest_build.h"
#include "roster.h"
#include "stanza.h"
#include "utf8.h"

/* Small, so that the bound is reached often. */
#define FUZZ_MAX_STANZA 2048

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    return 0;
}

/*
 * The property the root guard (component_send) relies on: on 0 the output
 * is within the bound, valid UTF-8 XML Chars and parses back as one
 * element; on -1 nothing was appended. Releases st.
 */
static void check(xmpp_stanza_t *st)
{
    struct stanza_out o = {0};
    enum stanza_fault fault;
    xmpp_stanza_t *back;

    if (st == NULL)
        return;
    if (stanza_serialize_max(st, &o, FUZZ_MAX_STANZA, &fault) == 0) {
        if (o.len > FUZZ_MAX_STANZA || fault != STANZA_FAULT_NONE ||
            !utf8_xml_valid(o.buf, o.len) || strlen(o.buf) != o.len)
            abort();
        if ((back = xmpp_stanza_new_from_string(fuzz_ctx, o.buf)) == NULL)
            abort();
        xmpp_stanza_release(back);
    } else if (o.len != 0 || fault == STANZA_FAULT_NONE) {
        abort();
    }
    free(o.buf);
    xmpp_stanza_release(st);
}

static void map(json_object *obj)
{
    struct jsonmap_error err;

    check(jsonmap_to_stanza(fuzz_ctx, obj, &err));
    json_object_put(obj);
}

/* REST POST /rest/message/{type}/{to}: the decoded path parts as rest_build.c
 * hands them on, and the same bytes set directly on a stanza. */
static void path(const char *s, size_t len)
{
    const char *slash = memchr(s, '/', len);
    size_t tlen = slash != NULL ? (size_t)(slash - s) : len;
    char *type = strndup(s, tlen);
    char *to = slash != NULL ? strndup(slash + 1, len - tlen - 1) : strdup("");
    json_object *obj = json_object_new_object();
    xmpp_stanza_t *raw = stanza_element(fuzz_ctx, EL_MESSAGE, NULL);

    if (type == NULL || to == NULL)
        abort();
    if (utf8_xml_valid_str(type) && utf8_xml_valid_str(to)) {
        json_object_object_add(obj, "kind", json_object_new_string("message"));
        json_object_object_add(obj, "type", json_object_new_string(type));
        json_object_object_add(obj, "to", json_object_new_string(to));
        json_object_object_add(obj, "body", json_object_new_string(to));
        map(obj);
    } else {
        json_object_put(obj);
    }
    xmpp_stanza_set_attribute(raw, ATTR_TO, to);
    xmpp_stanza_set_attribute(raw, ATTR_TYPE, type);
    stanza_add_text(stanza_add_element(raw, "body", NULL), type);
    check(raw);
    free(type);
    free(to);
}

/* A roster app's answer: each item as the privileged roster set. */
static void roster(const char *s, size_t len)
{
    char err[160];
    struct roster_list *l =
        roster_list_parse("u@b.example", s, len, err, sizeof(err));

    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++) {
        xmpp_stanza_t *iq =
            stanza_iq(fuzz_ctx, "set", "r1", "c.example", "u@b.example");
        xmpp_stanza_t *q = stanza_add_element(iq, EL_QUERY, NS_ROSTER);
        stanza_adopt(q, roster_list_item_stanza(fuzz_ctx, &l->items[i], false));
        check(iq);
    }
    roster_list_free(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_object *obj = NULL;
    struct jsonmap_error err;
    const char *s = (const char *)data + 1;
    size_t len = size - 1;
    char *c;

    if (size == 0)
        return 0;
    switch (data[0] % 6) {
    case 0: /* REST or webhook JSON */
        if ((obj = json_parse(s, len, 0, NULL, 0)) != NULL)
            map(obj);
        break;
    case 1: /* REST form */
        if (jsonmap_form_to_json(s, len, &obj, &err) == 0)
            map(obj);
        break;
    case 2: /* REST XML body */
        check(rest_build_parse_xml(fuzz_ctx, s, len));
        break;
    case 3: /* REST path parts */
        path(s, len);
        break;
    case 4: /* webhook XML answer */
        c = fuzz_cstr(data + 1, len);
        check(xmpp_stanza_new_from_string(fuzz_ctx, c));
        free(c);
        break;
    default: /* roster app answer */
        roster(s, len);
        break;
    }
    return 0;
}
