/* SPDX-License-Identifier: MIT */
/* fuzz_json_stanza.c: JSON text -> json_parse -> jsonmap_to_stanza -> back. */
#include "config.h"

#include "fuzz.h"
#include "json.h"
#include "jsonmap.h"
#include "stanza.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[256];
    struct jsonmap_error err;
    json_object *obj =
        json_parse((const char *)data, size, 0, why, sizeof(why));
    xmpp_stanza_t *st;

    if (obj == NULL)
        return 0;
    st = jsonmap_to_stanza(fuzz_ctx, obj, &err);
    if (st != NULL) {
        size_t len;
        char *text = stanza_to_text(st, &len);
        json_object *back = jsonmap_from_stanza(st);
        char *s = back != NULL ? json_to_string(back) : NULL;

        /* What we built must serialise and parse back. */
        if (text == NULL)
            abort();
        xmpp_stanza_t *again = xmpp_stanza_new_from_string(fuzz_ctx, text);
        if (again == NULL)
            abort();
        xmpp_stanza_release(again);
        free(s);
        json_object_put(back);
        free(text);
        xmpp_stanza_release(st);
    } else if (err.status < 400 || err.status > 499) {
        abort(); /* every failure maps to a 4xx */
    }
    json_object_put(obj);
    return 0;
}
