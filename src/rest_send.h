/* SPDX-License-Identifier: MIT */
/* rest_send.h: /rest messages and presences: sent, or held while the send
 * queue is full, answered at once or once the server confirmed them. */
#ifndef RESTANZA_REST_SEND_H
#define RESTANZA_REST_SEND_H

#include <stdint.h>

#include <strophe.h>

struct rest;
struct rest_job;

/* Send st (borrowed) now, or hold it while older sends wait or the queue
 * is full; j's request is answered or parked. */
void rest_send_or_hold(struct rest_job *j, xmpp_stanza_t *st);

/* A groupchat message (SPEC §11): answered once the room reflects it. */
void rest_send_groupchat(struct rest_job *j, xmpp_stanza_t *st);

/* component_on_room() callback (arg: the struct rest). */
void rest_send_on_room(void *arg);
/* component_on_confirm() callback (arg: the struct rest). */
void rest_send_on_confirmed(uint64_t seq, void *arg);

/* Answer every held or unconfirmed send 503 (shutdown). */
void rest_send_shutdown(struct rest *r);

#endif
