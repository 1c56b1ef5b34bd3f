/* SPDX-License-Identifier: MIT */
/* fuzz_stanza_json.c: stanza XML -> libstrophe parser -> jsonmap_from_stanza.
 */
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
    (void)stanza_first_element(st);
    (void)stanza_element_count(st);
    xmpp_stanza_release(st);
    return 0;
}
