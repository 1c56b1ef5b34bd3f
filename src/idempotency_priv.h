/* SPDX-License-Identifier: MIT */
/* idempotency_priv.h: what idempotency.c exports for its unit tests only. */
#ifndef RESTANZA_IDEMPOTENCY_PRIV_H
#define RESTANZA_IDEMPOTENCY_PRIV_H

#include "idempotency.h"

/* Entries held now. */
size_t idempotency_count(const struct idempotency *t);

#endif
