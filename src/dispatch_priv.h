/* SPDX-License-Identifier: MIT */
/* dispatch_priv.h: what dispatch.c exports for its unit tests only. */
#ifndef RESTANZA_DISPATCH_PRIV_H
#define RESTANZA_DISPATCH_PRIV_H

#include "dispatch.h"

/* Route one incoming stanza as if it came from the stream (the
 * component's stanza hook; tests call it directly). */
void dispatch_route(struct dispatch *dp, xmpp_stanza_t *st);

#endif
