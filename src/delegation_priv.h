/* SPDX-License-Identifier: MIT */
/* delegation_priv.h: what delegation.c exports for its unit tests only. */
#ifndef RESTANZA_DELEGATION_PRIV_H
#define RESTANZA_DELEGATION_PRIV_H

#include "delegation.h"

/* True when some server delegated ns to us. */
bool delegation_is_delegated(const struct delegation *d, const char *ns);

#endif
