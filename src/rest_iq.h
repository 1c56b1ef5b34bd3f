/* SPDX-License-Identifier: MIT */
/* rest_iq.h: /rest IQs, parked until the reply (with MAM results) or the
 * deadline. */
#ifndef RESTANZA_REST_IQ_H
#define RESTANZA_REST_IQ_H

#include <stdbool.h>

#include <strophe.h>

struct rest;
struct rest_job;

/* Send iq (borrowed) for j and park the request until the reply; answers
 * at once when the header timeout is malformed or the send refused. */
void rest_iq_send(struct rest_job *j, xmpp_stanza_t *iq);

/* The request's reply timeout: Restanza-Timeout (or Prosody-Rest-Timeout),
 * capped, else rest.iq_timeout. 0, or -1 when the header is malformed. */
int rest_iq_timeout(struct rest_job *j, unsigned *secs);

/* rest_offer_message(): a MAM result for a parked archive query is kept
 * (true). */
bool rest_iq_offer_message(xmpp_stanza_t *msg, void *arg);

/* Answer every parked IQ 503 (shutdown) and forget it. */
void rest_iq_shutdown(struct rest *r);

#endif
