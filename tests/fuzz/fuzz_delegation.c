/* SPDX-License-Identifier: MIT */
/* fuzz_delegation.c: XEP-0355/0356 adverts and forwarded-IQ unwrapping. */
#include "config.h"

#include "delegation.h"
#include "delegation_priv.h"
#include "fuzz.h"
#include "stanza.h"
#include "strmap.h"

static struct delegation *dlg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    dlg = delegation_new();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    xmpp_stanza_t *st = xmpp_stanza_new_from_string(fuzz_ctx, text);
    const char *ns = NULL;
    bool bare;

    (void)delegation_parse_node(text, &bare);
    free(text);
    if (st == NULL)
        return 0;

    /* State persists across inputs, as it does across a stream; clear it
     * now and then so it stays small. */
    if (delegation_handle_advert(dlg, st)) {
        const char **servers = delegation_servers(dlg);
        for (const char **s = servers; s != NULL && *s != NULL; s++) {
            (void)delegation_namespaces(dlg, *s);
            (void)delegation_privilege(dlg, *s, "roster");
            (void)delegation_privilege(dlg, *s, "message");
            (void)delegation_privilege(dlg, *s, "presence");
            (void)delegation_privilege_ns(dlg, *s);
            (void)delegation_privileges(dlg, *s);
        }
        free(servers);
        (void)delegation_is_delegated(dlg, "jabber:iq:roster");
    }
    xmpp_stanza_t *inner = delegation_unwrap(st, &ns);
    if (inner != NULL) {
        if (ns == NULL)
            abort();
        xmpp_stanza_t *reply =
            delegation_inner_reply(fuzz_ctx, inner, "result");
        xmpp_stanza_t *outer =
            delegation_wrap_reply(fuzz_ctx, st, "restanza.example", ns, reply);
        size_t len;
        char *s = stanza_to_text(outer, &len);
        if (s != NULL)
            free(s);
        xmpp_stanza_release(outer);
    }
    if (size % 64 == 0)
        delegation_clear(dlg);
    xmpp_stanza_release(st);
    return 0;
}
