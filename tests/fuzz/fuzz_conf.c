/* SPDX-License-Identifier: MIT */
/* fuzz_conf.c: the INI configuration parser, from memory. */
#include "config.h"

#include <stdio.h>

#include "conf.h"
#include "conf_priv.h"
#include "fuzz.h"

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(LOG_LEVEL_ERROR);
    devnull = fopen("/dev/null", "w");
    if (devnull == NULL)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct conf *c = conf_parse((const char *)data, size, "fuzz.conf", devnull);

    if (c != NULL) {
        /* What was accepted must respect the limits and name its keys. */
        if (c->server.domain == NULL || c->component.jid == NULL ||
            c->component.secret == NULL)
            abort();
        if (c->http.max_connections > CONF_MAX_CONNECTIONS)
            abort();
        conf_free(c);
    }
    return 0;
}
