/* SPDX-License-Identifier: MIT */
/* stanza_priv.h: what stanza.c exports for its unit tests only. */
#ifndef RESTANZA_STANZA_PRIV_H
#define RESTANZA_STANZA_PRIV_H

#include "stanza.h"

/* stanza_serialize_max() without a size bound. */
int stanza_serialize(xmpp_stanza_t *st, struct stanza_out *o);

/* "none", "invalid-characters" or "too-large". */
const char *stanza_fault_name(enum stanza_fault fault);

#endif
