/* SPDX-License-Identifier: MIT */
/* auth_priv.h: what auth.c exports for its unit tests only. */
#ifndef RESTANZA_AUTH_PRIV_H
#define RESTANZA_AUTH_PRIV_H

#include "auth.h"

/* HTTP status and text of a denial. */
unsigned auth_denial_status(enum auth_denial d);
const char *auth_denial_text(enum auth_denial d);

#endif
