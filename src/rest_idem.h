/* SPDX-License-Identifier: MIT */
/* rest_idem.h: Idempotency-Key on /rest (SPEC §10). */
#ifndef RESTANZA_REST_IDEM_H
#define RESTANZA_REST_IDEM_H

#include <stdbool.h>

struct rest;
struct rest_job;

/*
 * Idempotency-Key: true when the request is answered or parked here (a
 * replay, a wait for the first, an error); false to go on, with its
 * answer kept when the request has a new key.
 */
bool rest_idem_check(struct rest_job *j);

/* Forget the keys of requests still unanswered (they outlive us). */
void rest_idem_shutdown(struct rest *r);

#endif
