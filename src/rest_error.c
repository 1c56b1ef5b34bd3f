/* SPDX-License-Identifier: MIT */
/* rest_error.c: every error /rest answers with, and how it is answered. */
#include "config.h"

#include "rest_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "component.h"
#include "httpd.h"
#include "jsonmap.h"
#include "log.h"
#include "loop.h"
#include "rest_internal.h"
#include "stanza.h"

#define NS_STREAMS "http://etherx.jabber.org/streams"
#define NS_XMPP_STREAMS "urn:ietf:params:xml:ns:xmpp-streams"
#define WWW_AUTHENTICATE "Bearer realm=\"restanza\", Basic realm=\"restanza\""
#define RETRY_AFTER "5"

static const struct rest_error rest_errors[] = {
    [RE_NOAUTHZ] = {401, ERR_AUTH, "not-authorized", AUTH_TEXT_MISSING},
    [RE_UNAUTHZ] = {403, ERR_AUTH, "not-authorized", AUTH_TEXT_WRONG},
    [RE_MALFORMAUTHZ] = {403, ERR_AUTH, "not-authorized", AUTH_TEXT_MALFORMED},
    [RE_PARSE] = {400, ERR_MODIFY, "not-well-formed",
                  "Failed to parse payload"},
    [RE_PATH_CHARS] = {400, ERR_MODIFY, "bad-format",
                       "The path holds invalid UTF-8 or a character XML "
                       "does not allow"},
    [RE_QUERY_CHARS] = {400, ERR_MODIFY, "bad-format",
                        "A URL parameter holds invalid UTF-8 or a character "
                        "XML does not allow"},
    [RE_CHARS] = {400, ERR_MODIFY, "bad-format",
                  "The stanza holds invalid UTF-8 or a character XML does "
                  "not allow"},
    [RE_TOO_LARGE] = {413, ERR_MODIFY, COND_RESOURCE_CONSTRAINT,
                      "The stanza is larger than the XMPP server accepts "
                      "(component.max_stanza_size, counted on the escaped "
                      "XML)"},
    [RE_XMLNS] = {422, ERR_MODIFY, "invalid-namespace",
                  "'xmlns' attribute must be empty"},
    [RE_NAME] = {422, ERR_MODIFY, "unsupported-stanza-type",
                 "must be 'message', 'presence' or 'iq'"},
    [RE_TO] = {422, ERR_MODIFY, "improper-addressing",
               "Invalid destination JID"},
    [RE_TO_SELF] = {422, ERR_CANCEL, COND_NOT_ALLOWED,
                    "cannot send to restanza's own address (it would come "
                    "back to restanza)"},
    [RE_FROM] = {422, ERR_MODIFY, "invalid-from", "Invalid source JID"},
    [RE_FROM_AUTH] = {403, ERR_AUTH, "not-authorized",
                      "Not authorized to send stanza with requested 'from'"},
    [RE_NO_PRIVILEGE] = {403, ERR_AUTH, "forbidden",
                         "The server granted no message privilege "
                         "(XEP-0356): cannot send as a user"},
    [RE_USER_KIND] = {403, ERR_AUTH, "forbidden",
                      "Only messages can be sent as a user (XEP-0356)"},
    [RE_IQ_TYPE] = {422, ERR_MODIFY, "invalid-xml",
                    "'iq' stanza must be of type 'get' or 'set'"},
    [RE_IQ_TAGS] = {422, ERR_MODIFY, "bad-format",
                    "'iq' stanza must have exactly one child tag"},
    [RE_MEDIATYPE] = {415, ERR_CANCEL, "bad-format", "Unsupported media type"},
    [RE_TEXT_TO] = {422, ERR_MODIFY, "improper-addressing",
                    "A text/plain body needs the destination in the path: "
                    "POST /rest/{kind}/{type}/{to}"},
    [RE_TEXT_IQ] = {415, ERR_CANCEL, "bad-format",
                    "A text/plain body can only be a message body or a "
                    "presence show"},
    [RE_TIMEOUT_HEADER] = {400, ERR_MODIFY, "bad-request",
                           "The timeout header must be a whole number of "
                           "seconds from 1"},
    [RE_NOT_FOUND] = {404, ERR_CANCEL, COND_ITEM_NOT_FOUND,
                      "No such REST route"},
    [RE_UNAVAILABLE] = {503, ERR_WAIT, COND_SERVICE_UNAVAILABLE,
                        "Not connected to the XMPP server"},
    [RE_QUEUE_FULL] = {503, ERR_WAIT, COND_RESOURCE_CONSTRAINT,
                       "The queue to the XMPP server is full"},
    [RE_TIMEOUT] = {504, ERR_WAIT, COND_REMOTE_TIMEOUT, "IQ stanza timed out"},
    [RE_DISCONNECTED] = {503, ERR_WAIT, COND_SERVICE_UNAVAILABLE,
                         "The XMPP stream went away before the reply"},
    [RE_SHUTDOWN] = {503, ERR_WAIT, COND_SERVICE_UNAVAILABLE,
                     "restanza is shutting down"},
    [RE_UNCONFIRMED] = {504, ERR_WAIT, COND_REMOTE_TIMEOUT,
                        "The XMPP server has not confirmed the stanza in "
                        "time; it stays in the outbox and will be sent"},
    [RE_IDEM_KEY] = {400, ERR_MODIFY, "bad-request",
                     "Idempotency-Key must be 1 to 128 printable ASCII "
                     "characters"},
    [RE_IDEM_MISMATCH] = {422, ERR_MODIFY, COND_NOT_ALLOWED,
                          "This Idempotency-Key was used with a different "
                          "request"},
    [RE_IDEM_FULL] = {503, ERR_WAIT, COND_RESOURCE_CONSTRAINT,
                      "Too many Idempotency-Keys in progress"},
    [RE_IDEM_GONE] = {503, ERR_WAIT, COND_SERVICE_UNAVAILABLE,
                      "The first request with this Idempotency-Key went "
                      "away unanswered: retry"},
    [RE_INTERNAL] = {500, ERR_WAIT, COND_INTERNAL, "Internal error"},
};

const struct rest_error *rest_error_get(enum rest_error_id id)
{
    return &rest_errors[id];
}

/* Answer with an error, as XML or JSON; 503s carry Retry-After. */
void rest_error_respond(struct httpd_request *req, enum rest_format fmt,
                        unsigned status, const char *type,
                        const char *condition, const char *text)
{
    xmpp_ctx_t *ctx;
    xmpp_stanza_t *err, *t;
    char *body;
    size_t len;

    if (status == 503)
        httpd_add_header(req, "Retry-After", RETRY_AFTER);
    if (status == 401)
        httpd_add_header(req, "WWW-Authenticate", WWW_AUTHENTICATE);
    if (fmt != REST_XML) {
        httpd_error(req, status, type, condition, text);
        return;
    }
    /* A throwaway context keeps this usable before any stream exists. */
    ctx = xmpp_ctx_new(NULL, NULL);
    err = stanza_element(ctx, EL_ERROR, NS_STREAMS);
    stanza_add_element(err, condition, NS_XMPP_STREAMS);
    if (text != NULL && *text != '\0') {
        t = stanza_add_element(err, EL_TEXT, NS_XMPP_STREAMS);
        stanza_add_text(t, text);
    }
    body = stanza_to_text(err, &len);
    if (body != NULL) {
        httpd_respond(req, status, MIME_XML, body, len);
        free(body);
    } else {
        httpd_error(req, status, type, condition, text);
    }
    xmpp_stanza_release(err);
    xmpp_ctx_free(ctx);
}

static void job_fail_with(struct rest_job *j, unsigned status, const char *type,
                          const char *condition, const char *text)
{
    /* Under overload or abuse every request ends here: a few lines a
     * second and a count, never one line per request. */
    static struct log_ratelimit failed_log =
        LOG_RATELIMIT_INIT(LOG_LEVEL_WARN, "rest request failed");
    static struct log_ratelimit refused_log =
        LOG_RATELIMIT_INIT(LOG_LEVEL_INFO, "rest request refused");

    if (status >= 500 && log_ratelimit_pass(&failed_log, loop_clock_ms()))
        log_warn("rest request failed", "route=%s status=%u condition=%s",
                 j->route, status, condition);
    else if (status < 500 && log_ratelimit_pass(&refused_log, loop_clock_ms()))
        log_info("rest request refused", "route=%s status=%u condition=%s",
                 j->route, status, condition);
    rest_error_respond(j->req, j->err_fmt, status, type, condition, text);
}

void rest_error_fail(struct rest_job *j, enum rest_error_id id)
{
    const struct rest_error *e = &rest_errors[id];

    job_fail_with(j, e->status, e->type, e->condition, e->text);
}

void rest_error_fail_map(struct rest_job *j, const struct jsonmap_error *e)
{
    job_fail_with(j, e->status, e->type, e->condition, e->text);
}

void rest_error_set(struct jsonmap_error *err, enum rest_error_id id)
{
    const struct rest_error *e = &rest_errors[id];

    err->status = e->status;
    err->type = e->type;
    err->condition = e->condition;
    snprintf(err->text, sizeof(err->text), "%s", e->text);
}

/* The answer to a stanza component_send() refused. */
enum rest_error_id rest_error_refusal(struct rest *r)
{
    switch (component_send_refusal(r->c)) {
    case COMPONENT_REFUSED_INVALID:
        return RE_CHARS;
    case COMPONENT_REFUSED_TOO_LARGE:
        return RE_TOO_LARGE;
    case COMPONENT_REFUSED_DISCONNECTED:
        return RE_UNAVAILABLE;
    default:
        return component_state(r->c) == COMPONENT_CONNECTED ? RE_QUEUE_FULL
                                                            : RE_UNAVAILABLE;
    }
}
