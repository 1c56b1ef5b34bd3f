/* SPDX-License-Identifier: MIT */
/* fuzz.h: shared set-up for the libFuzzer targets (one libstrophe context). */
#ifndef RESTANZA_FUZZ_H
#define RESTANZA_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static xmpp_ctx_t *fuzz_ctx;

/* Quiet logs, one libstrophe context for the whole run. */
static inline void fuzz_init(void)
{
    log_set_level(LOG_LEVEL_ERROR);
    xmpp_initialize();
    fuzz_ctx = xmpp_ctx_new(NULL, NULL);
}

/* A NUL-terminated copy of the input; caller frees. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
