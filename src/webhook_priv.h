/* SPDX-License-Identifier: MIT */
/* webhook_priv.h: what webhook.c exports for its unit tests only. */
#ifndef RESTANZA_WEBHOOK_PRIV_H
#define RESTANZA_WEBHOOK_PRIV_H

#include "webhook.h"

/* What goes back to the sender of a delivered stanza. */
enum webhook_reply {
    WEBHOOK_REPLY_NONE,    /* nothing */
    WEBHOOK_REPLY_RECEIPT, /* message: empty message with <received id/> */
    WEBHOOK_REPLY_EMPTY,   /* empty stanza of the same kind (iq: result) */
    WEBHOOK_REPLY_BODY,    /* the stanza parsed from the response body */
    WEBHOOK_REPLY_ERROR,   /* the stanza error mapped from the status */
};

/*
 * The stanza error for an HTTP status (Prosody's net/http/errors.lua):
 * *type and *condition are constants.
 */
void webhook_http_error(long status, const char **type, const char **condition);

/*
 * The text of the stanza error made from an HTTP status, as mod_rest
 * writes it: the status line ("404 Not Found", "499 Unassigned").
 */
void webhook_status_text(long status, char *buf, size_t size);

/*
 * The mapping of research §4.6 with SPEC §5's fixes. kind is "message",
 * "presence" or "iq"; type the incoming stanza's type (may be NULL);
 * receipt: a message that asks for a XEP-0184 receipt; body_empty: the
 * response had no body; body_stanza: the body parsed as a stanza of the
 * same kind.
 */
enum webhook_reply webhook_decide(const char *kind, const char *type,
                                  bool receipt, long status, bool body_empty,
                                  bool body_stanza);

#endif
