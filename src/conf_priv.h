/* SPDX-License-Identifier: MIT */
/* conf_priv.h: what conf.c exports for its unit tests only. */
#ifndef RESTANZA_CONF_PRIV_H
#define RESTANZA_CONF_PRIV_H

#include "conf.h"

/* conf_load() from text in memory; name is used in messages in place of a path.
 */
struct conf *conf_parse(const char *text, size_t len, const char *name,
                        FILE *errs);

#endif
