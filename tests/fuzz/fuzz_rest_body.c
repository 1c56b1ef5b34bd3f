/* SPDX-License-Identifier: MIT */
/* fuzz_rest_body.c: REST request bodies (form, text, XML) and header parsers.
 * The first byte picks the parser; the rest is the body. */
#include "config.h"

#include "fuzz.h"
#include "json.h"
#include "jsonmap.h"
#include "rest.h"
#include "rest_auth.h"
#include "rest_build.h"
#include "rest_format.h"
#include "stanza.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    return 0;
}

static void map(json_object *obj)
{
    struct jsonmap_error err;
    xmpp_stanza_t *st = jsonmap_to_stanza(fuzz_ctx, obj, &err);

    if (st != NULL)
        xmpp_stanza_release(st);
}

static void form(const char *body, size_t len)
{
    json_object *obj = NULL;
    struct jsonmap_error err;

    if (jsonmap_form_to_json(body, len, &obj, &err) < 0) {
        if (err.status != 400)
            abort();
        return;
    }
    map(obj);
    /* Form-encode the object again: the encoder must round-trip it. */
    char *enc = rest_format_form_encode(obj);
    json_object *again = NULL;
    if (jsonmap_form_to_json(enc, strlen(enc), &again, &err) == 0)
        json_object_put(again);
    free(enc);
    json_object_put(obj);
}

/* As rest_build.c does for text/plain: valid UTF-8 without NUL -> body. */
static void text(const char *body, size_t len)
{
    if (!json_utf8_valid(body, len) || memchr(body, '\0', len) != NULL)
        return;
    json_object *obj = json_object_new_object();
    json_object_object_add(obj, "kind", json_object_new_string("message"));
    json_object_object_add(obj, "to", json_object_new_string("a@b.example"));
    json_object_object_add(obj, "body",
                           json_object_new_string_len(body, (int)len));
    map(obj);
    json_object_put(obj);
}

static void xml(const char *body, size_t len)
{
    xmpp_stanza_t *st = rest_build_parse_xml(fuzz_ctx, body, len);

    if (st == NULL)
        return;
    json_object *obj = jsonmap_from_stanza(st);
    json_object_put(obj);
    size_t n;
    char *s = stanza_to_text(st, &n);
    if (s != NULL)
        free(s);
    xmpp_stanza_release(st);
}

/* The small header parsers, on a NUL-terminated copy. */
static void headers(const char *s)
{
    char *user = NULL, *secret = NULL;
    unsigned secs;
    const char *comma = strchr(s, ',');

    (void)rest_format_media_type(s);
    (void)rest_format_negotiate(s, comma != NULL ? comma + 1 : NULL, true);
    if (rest_auth_parse_basic(s, &user, &secret) == 0) {
        free(user);
        free(secret);
    }
    if (rest_parse_timeout(s, 300, &secs) == 0 && (secs < 1 || secs > 300))
        abort();
    if (comma != NULL) {
        char *jid = strndup(s, (size_t)(comma - s));
        (void)rest_jid_matches(jid, comma + 1);
        free(jid);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char *s;

    switch (data[0] % 4) {
    case 0:
        form(body, len);
        break;
    case 1:
        text(body, len);
        break;
    case 2:
        xml(body, len);
        break;
    default:
        s = fuzz_cstr(data + 1, len);
        headers(s);
        free(s);
        break;
    }
    return 0;
}
