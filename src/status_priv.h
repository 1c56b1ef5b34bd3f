/* SPDX-License-Identifier: MIT */
/* status_priv.h: what status.c exports for its unit tests only. */
#ifndef RESTANZA_STATUS_PRIV_H
#define RESTANZA_STATUS_PRIV_H

#include "status.h"

/* The /status document as a JSON string; caller frees. */
char *status_json(struct status *s, size_t *len);

#endif
