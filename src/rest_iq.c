/* SPDX-License-Identifier: MIT */
/* rest_iq.c: /rest IQs, parked until the reply (with MAM results) or the
 * deadline. */
#include "config.h"

#include "rest_iq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "component.h"
#include "conf.h"
#include "httpd.h"
#include "iq.h"
#include "jid.h"
#include "jsonmap.h"
#include "log.h"
#include "loop.h"
#include "rest.h"
#include "rest_error.h"
#include "rest_format.h"
#include "rest_internal.h"
#include "stanza.h"
#include "xmalloc.h"

/* A parked IQ request waiting for its reply. */
struct rest_iq_call {
    struct rest *r;
    struct httpd_request *req;
    const char *route;
    enum rest_format fmt;
    char wire[ID_SIZE];   /* the IQ's id on the stream: always ours */
    char *id;             /* the caller's id, put back on the reply */
    char *queryid;        /* MAM query id on the stream (ours), or NULL */
    char *client_queryid; /* the caller's, put back on each result */
    char *peer;           /* where the IQ went: MAM results must come from it */
    xmpp_stanza_t **results;
    size_t nresults;
    LIST_ENTRY(rest_iq_call) link; /* r->calls */
};

static void call_free(struct rest_iq_call *call)
{
    LIST_REMOVE(call, link);
    for (size_t i = 0; i < call->nresults; i++)
        xmpp_stanza_release(call->results[i]);
    free(call->results);
    free(call->id);
    free(call->queryid);
    free(call->client_queryid);
    free(call->peer);
    free(call);
}

static void call_fail(struct rest_iq_call *call, enum rest_error_id id)
{
    const struct rest_error *e = rest_error_get(id);
    enum rest_format fmt = call->fmt == REST_XML ? REST_XML : REST_JSON;

    static struct log_ratelimit iq_log =
        LOG_RATELIMIT_INIT(LOG_LEVEL_INFO, "rest iq failed");

    if (log_ratelimit_pass(&iq_log, loop_clock_ms()))
        log_info("rest iq failed", "route=%s status=%u condition=%s id=%s",
                 call->route, e->status, e->condition,
                 call->id ? call->id : "-");
    rest_error_respond(call->req, fmt, e->status, e->type, e->condition,
                       e->text);
}

static void on_iq_done(enum iq_outcome outcome, xmpp_stanza_t *reply, void *arg)
{
    struct rest_iq_call *call = arg;
    xmpp_stanza_t *mine;

    switch (outcome) {
    case IQ_REPLY:
        log_debug("rest iq answered", "route=%s status=200 id=%s type=%s",
                  call->route, call->wire,
                  stanza_attr(reply, ATTR_TYPE) ? stanza_attr(reply, ATTR_TYPE)
                                                : "-");
        /* The caller sees its own id, never the wire id. */
        mine = iq_reply_with_id(reply, call->id);
        if (call->queryid != NULL) {
            call->results = xreallocarray(call->results, call->nresults + 1,
                                          sizeof(*call->results));
            call->results[call->nresults++] = mine;
            rest_format_respond(call->req, call->fmt, 200, call->results,
                                call->nresults, true);
        } else {
            rest_format_respond(call->req, call->fmt, 200, &mine, 1, false);
            xmpp_stanza_release(mine);
        }
        break;
    case IQ_TIMEOUT:
        call_fail(call, RE_TIMEOUT);
        break;
    case IQ_DISCONNECTED:
        call_fail(call, RE_DISCONNECTED);
        break;
    case IQ_SHUTDOWN:
        call_fail(call, RE_SHUTDOWN);
        break;
    }
    call_free(call);
}

/* The HTTP side went away first: forget the IQ. */
static void on_abort(struct httpd_request *req, void *arg)
{
    struct rest_iq_call *call = arg;

    (void)req;
    iq_untrack(component_iqs(call->r->c), call->wire);
    call_free(call);
}

/* A copy of a MAM result message carrying the caller's query id. */
static xmpp_stanza_t *result_as_caller(const struct rest_iq_call *call,
                                       xmpp_stanza_t *msg)
{
    xmpp_stanza_t *copy = xmpp_stanza_copy(msg);
    xmpp_stanza_t *res = stanza_child(copy, "result", NS_MAM);

    if (res != NULL && call->client_queryid != NULL)
        xmpp_stanza_set_attribute(res, "queryid", call->client_queryid);
    return copy;
}

bool rest_iq_offer_message(xmpp_stanza_t *msg, void *arg)
{
    struct rest *r = arg;
    xmpp_stanza_t *res = stanza_child(msg, "result", NS_MAM);
    const char *qid = res != NULL ? stanza_attr(res, "queryid") : NULL;
    const char *from = stanza_attr(msg, ATTR_FROM);
    struct rest_iq_call *call;
    char *bare;

    if (qid == NULL || from == NULL || !stanza_is(msg, EL_MESSAGE))
        return false;
    bare = jid_bare(from);
    LIST_FOREACH(call, &r->calls, link)
    {
        /* Only the archive we asked may add results to our answer. */
        if (call->queryid == NULL || strcmp(call->queryid, qid) != 0 ||
            bare == NULL || call->peer == NULL ||
            strcasecmp(bare, call->peer) != 0)
            continue;
        free(bare);
        call->results = xreallocarray(call->results, call->nresults + 1,
                                      sizeof(*call->results));
        call->results[call->nresults++] = result_as_caller(call, msg);
        return true;
    }
    free(bare);
    return false;
}

/* The IQ's timeout: request header, capped, else rest.iq_timeout. */
int rest_iq_timeout(struct rest_job *j, unsigned *secs)
{
    const struct conf *conf = j->r->conf;
    const char *v = httpd_request_header(j->req, "Restanza-Timeout");

    if (v == NULL)
        v = httpd_request_header(j->req, "Prosody-Rest-Timeout");
    if (v == NULL) {
        *secs = conf->rest.iq_timeout;
        return 0;
    }
    return rest_parse_timeout(v, conf->rest.iq_max_timeout, secs);
}

void rest_iq_send(struct rest_job *j, xmpp_stanza_t *iq)
{
    struct rest *r = j->r;
    struct rest_iq_call *call;
    xmpp_stanza_t *q = stanza_child(iq, EL_QUERY, NS_MAM);
    unsigned secs;

    if (rest_iq_timeout(j, &secs) < 0) {
        rest_error_fail(j, RE_TIMEOUT_HEADER);
        return;
    }
    call = xcalloc(1, sizeof(*call));
    call->r = r;
    call->req = j->req;
    call->route = j->route;
    call->fmt = j->fmt;
    /* Our id on the wire, the caller's back on the reply: a caller can
     * neither collide with another caller nor take one of our own IQs. */
    call->id = iq_assign_id(component_iqs(r->c), iq);
    snprintf(call->wire, sizeof(call->wire), "%s", stanza_attr(iq, ATTR_ID));
    if (q != NULL) {
        /* Results are matched by query id: ours, the caller's restored. */
        const char *given = stanza_attr(q, "queryid");
        call->client_queryid = xstrdup(given != NULL ? given : call->id);
        xmpp_stanza_set_attribute(q, "queryid", call->wire);
        call->queryid = xstrdup(call->wire);
        call->peer = jid_bare(stanza_attr(iq, ATTR_TO));
    }
    LIST_INSERT_HEAD(&r->calls, call, link);
    if (component_send_iq(r->c, iq, (uint64_t)secs * 1000, on_iq_done, call) <
        0) {
        call_free(call);
        rest_error_fail(j, rest_error_refusal(r));
        return;
    }
    log_debug("rest iq sent", "route=%s id=%s wire=%s timeout=%u", j->route,
              call->id, call->wire, secs);
    httpd_park(j->req, on_abort, call);
}

void rest_iq_shutdown(struct rest *r)
{
    struct rest_iq_call *call;

    while ((call = LIST_FIRST(&r->calls)) != NULL) {
        iq_untrack(component_iqs(r->c), call->wire);
        call_fail(call, RE_SHUTDOWN);
        call_free(call);
    }
}
