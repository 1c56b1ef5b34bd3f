/* SPDX-License-Identifier: MIT */
/* metrics_priv.h: what metrics.c exports for its unit tests only. */
#ifndef RESTANZA_METRICS_PRIV_H
#define RESTANZA_METRICS_PRIV_H

#include "metrics.h"

/* The value of a counter. */
uint64_t metrics_get(enum metric m);

/* Reset everything (tests). */
void metrics_reset(void);

#endif
