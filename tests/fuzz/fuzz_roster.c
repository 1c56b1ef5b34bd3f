/* SPDX-License-Identifier: MIT */
/* fuzz_roster.c: the web app's roster JSON, ejabberd's API answer, the diff. */
#include "config.h"

#include "fuzz.h"
#include "roster.h"
#include "stanza.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    return 0;
}

static void check(const struct roster_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct roster_item *it = &l->items[i];
        if (it->jid == NULL ||
            (i > 0 && strcmp(l->items[i - 1].jid, it->jid) >= 0))
            abort(); /* sorted and unique */
        for (size_t g = 0; g < it->ngroups; g++)
            if (it->groups[g][0] == '\0')
                abort();
        if (roster_list_find(l, it->jid) != it)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    struct roster_list *want = roster_list_parse(
        "alice@example.com", (const char *)data, size, err, sizeof(err));
    struct roster_list *have =
        roster_list_from_api((const char *)data, size, err, sizeof(err));
    struct roster_list empty = {NULL, 0};

    if (want != NULL) {
        check(want);
        struct roster_change *ch = NULL;
        size_t n = roster_list_diff(want, have != NULL ? have : &empty, &ch);
        for (size_t i = 0; i < n; i++) {
            xmpp_stanza_t *st = roster_list_item_stanza(
                fuzz_ctx, ch[i].item, ch[i].op == ROSTER_OP_REMOVE);
            xmpp_stanza_release(st);
        }
        free(ch);
        /* A list diffed against itself has no changes. */
        if (roster_list_diff(want, want, &ch) != 0)
            abort();
        roster_list_free(want);
    }
    if (have != NULL) {
        check(have);
        roster_list_free(have);
    }
    return 0;
}
