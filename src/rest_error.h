/* SPDX-License-Identifier: MIT */
/* rest_error.h: every error /rest answers with, and how it is answered. */
#ifndef RESTANZA_REST_ERROR_H
#define RESTANZA_REST_ERROR_H

#include "rest_format.h"

struct httpd_request;
struct jsonmap_error;
struct rest;
struct rest_job;

/* Every error the REST endpoint itself answers with (research §4.7). */
enum rest_error_id {
    RE_NOAUTHZ,
    RE_UNAUTHZ,
    RE_MALFORMAUTHZ,
    RE_PARSE,
    RE_PATH_CHARS,
    RE_QUERY_CHARS,
    RE_CHARS,
    RE_TOO_LARGE,
    RE_XMLNS,
    RE_NAME,
    RE_TO,
    RE_TO_SELF,
    RE_FROM,
    RE_FROM_AUTH,
    RE_NO_PRIVILEGE,
    RE_USER_KIND,
    RE_IQ_TYPE,
    RE_IQ_TAGS,
    RE_MEDIATYPE,
    RE_TEXT_TO,
    RE_TEXT_IQ,
    RE_TIMEOUT_HEADER,
    RE_NOT_FOUND,
    RE_UNAVAILABLE,
    RE_QUEUE_FULL,
    RE_TIMEOUT,
    RE_DISCONNECTED,
    RE_SHUTDOWN,
    RE_UNCONFIRMED,
    RE_IDEM_KEY,
    RE_IDEM_MISMATCH,
    RE_IDEM_FULL,
    RE_IDEM_GONE,
    RE_INTERNAL,
};

/* One error: HTTP status, stanza error type, condition and text. */
struct rest_error {
    unsigned status;
    const char *type;
    const char *condition;
    const char *text;
};

/* The table entry of id (static storage). */
const struct rest_error *rest_error_get(enum rest_error_id id);

/* Answer req with an error, as XML (a stream error) or JSON; 401s carry
 * the challenge, 503s Retry-After. */
void rest_error_respond(struct httpd_request *req, enum rest_format fmt,
                        unsigned status, const char *type,
                        const char *condition, const char *text);

/* Answer the request j with error id (rate-limited log line). */
void rest_error_fail(struct rest_job *j, enum rest_error_id id);
/* Likewise with an error the mapping produced. */
void rest_error_fail_map(struct rest_job *j, const struct jsonmap_error *e);
/* Fill err with error id. */
void rest_error_set(struct jsonmap_error *err, enum rest_error_id id);
/* The error for a stanza component_send() just refused. */
enum rest_error_id rest_error_refusal(struct rest *r);

#endif
