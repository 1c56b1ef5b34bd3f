/* SPDX-License-Identifier: MIT */
/* webhook.c: incoming stanzas -> HTTP POST to the web app -> stanza reply. */
#include "config.h"

#include "webhook.h"
#include "webhook_priv.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <json-c/json.h>
#include <strophe.h>

#include "component.h"
#include "conf.h"
#include "delegation.h"
#include "dispatch.h"
#include "hmac.h"
#include "httpc.h"
#include "jid.h"
#include "json.h"
#include "jsonmap.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "stanza.h"
#include "strbuf.h"
#include "xmalloc.h"

#define CT_XML "application/xmpp+xml"
#define CT_JSON "application/json"
#define CT_FORM "application/x-www-form-urlencoded"
#define NS_RECEIPTS "urn:xmpp:receipts"
#define EL_BODY "body"
#define EL_STATUS "status"
#define EL_RECEIVED "received"
#define JSON_DEPTH 64

/* One stanza on its way to the web app. */
struct job {
    struct webhook *w;
    TAILQ_ENTRY(job) link; /* in the queue or the in-flight list */
    xmpp_stanza_t *st;     /* our copy; the wrapper for a delegated IQ */
    xmpp_stanza_t *orig;   /* the stanza delivered (st or the inner IQ) */
    const char *dlg_ns;    /* delegated: namespace of the wrapper */
    const char *kind;      /* "message", "presence" or "iq" */
    char *url;
    char *body;
    size_t len;
    struct httpc_transfer *t;
    struct loop_timer *deadline; /* delegated only */
    uint64_t deadline_ms;        /* delegated only: loop time */
    uint64_t started_ms;
    bool in_flight;
    int64_t event;    /* X-Restanza-Event, 0 for none */
    unsigned attempt; /* X-Restanza-Attempt */
    bool durable;     /* failures are retried by events.c, not answered */
    webhook_outcome_fn outcome_cb;
    void *outcome_arg;
};

struct job_list {
    TAILQ_HEAD(webhook_jobs, job) jobs; /* oldest first */
    size_t n;
};

struct webhook {
    struct loop *loop;
    struct component *c;
    struct dispatch *dp;
    struct delegation *d;
    const struct conf *conf;
    xmpp_ctx_t *ctx;
    struct httpc *http;
    struct httpc_transfer *probe;
    const char *content_type;
    unsigned kinds, events;
    struct job_list queue, active;
    /* Logged messages/presences until the store commits them. */
    struct job_list uncommitted;
    webhook_log_fn log_fn;
    void *log_arg;
    bool draining;
    struct loop_timer *drain_timer;
    void (*drain_cb)(void *arg);
    void *drain_arg;
};

/* ---- pure parts ---- */

char *webhook_expand_url(const char *tmpl, const char *kind, const char *type,
                         const char *to, const char *from)
{
    static const char *const names[] = {"{kind}", "{type}", "{to}", "{from}"};
    const char *values[] = {kind, type, to, from};
    char *out = NULL;
    size_t len = 0;
    const char *p = tmpl;

    while (*p != '\0') {
        size_t i, n;
        for (i = 0; i < 4; i++)
            if (strncmp(p, names[i], strlen(names[i])) == 0)
                break;
        if (i < 4) {
            char *esc = httpc_escape(values[i] != NULL ? values[i] : "");
            strbuf_appendf(&out, &len, "%s", esc);
            free(esc);
            p += strlen(names[i]);
            continue;
        }
        n = strcspn(p + 1, "{") + 1;
        strbuf_appendf(&out, &len, "%.*s", (int)n, p);
        p += n;
    }
    return out != NULL ? out : xstrdup("");
}

void webhook_http_error(long status, const char **type, const char **condition)
{
    static const struct {
        long status;
        const char *type, *cond;
    } table[] = {
        {400, ERR_MODIFY, COND_BAD_REQUEST},
        {401, ERR_AUTH, "not-authorized"},
        {402, ERR_AUTH, "payment-required"},
        {403, ERR_AUTH, COND_FORBIDDEN},
        {404, ERR_CANCEL, COND_ITEM_NOT_FOUND},
        {405, ERR_CANCEL, COND_NOT_ALLOWED},
        {406, ERR_MODIFY, "not-acceptable"},
        {407, ERR_AUTH, "registration-required"},
        {408, ERR_WAIT, COND_REMOTE_TIMEOUT},
        {409, ERR_CANCEL, "conflict"},
        {410, ERR_CANCEL, "gone"},
        {411, ERR_MODIFY, COND_BAD_REQUEST},
        {412, ERR_CANCEL, "conflict"},
        {413, ERR_MODIFY, COND_RESOURCE_CONSTRAINT},
        {414, ERR_MODIFY, COND_RESOURCE_CONSTRAINT},
        {415, ERR_CANCEL, COND_FEATURE_NOT_IMPLEMENTED},
        {416, ERR_MODIFY, COND_BAD_REQUEST},
        {422, ERR_MODIFY, COND_BAD_REQUEST},
        {423, ERR_WAIT, COND_RESOURCE_CONSTRAINT},
        {429, ERR_WAIT, COND_RESOURCE_CONSTRAINT},
        {431, ERR_MODIFY, COND_RESOURCE_CONSTRAINT},
        {451, ERR_AUTH, COND_FORBIDDEN},
        {500, ERR_WAIT, COND_INTERNAL},
        {501, ERR_CANCEL, COND_FEATURE_NOT_IMPLEMENTED},
        {502, ERR_WAIT, COND_REMOTE_TIMEOUT},
        {503, ERR_CANCEL, COND_SERVICE_UNAVAILABLE},
        {504, ERR_WAIT, COND_REMOTE_TIMEOUT},
        {507, ERR_WAIT, COND_RESOURCE_CONSTRAINT},
        {511, ERR_AUTH, "not-authorized"},
    };

    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (table[i].status == status) {
            *type = table[i].type;
            *condition = table[i].cond;
            return;
        }
    }
    *type = ERR_CANCEL;
    *condition = "undefined-condition";
}

/* The reason phrase of a status (Prosody 0.12's net/http/codes.lua). */
static const char *reason_phrase(long status)
{
    static const struct {
        long status;
        const char *text;
    } table[] = {
        {100, "Continue"},
        {101, "Switching Protocols"},
        {102, "Processing"},
        {103, "Early Hints"},
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {203, "Non-Authoritative Information"},
        {204, "No Content"},
        {205, "Reset Content"},
        {206, "Partial Content"},
        {207, "Multi-Status"},
        {208, "Already Reported"},
        {226, "IM Used"},
        {300, "Multiple Choices"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {303, "See Other"},
        {304, "Not Modified"},
        {305, "Use Proxy"},
        {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {402, "Payment Required"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {406, "Not Acceptable"},
        {407, "Proxy Authentication Required"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {411, "Length Required"},
        {412, "Precondition Failed"},
        {413, "Payload Too Large"},
        {414, "URI Too Long"},
        {415, "Unsupported Media Type"},
        {416, "Range Not Satisfiable"},
        {417, "Expectation Failed"},
        {418, "I'm a teapot"},
        {421, "Misdirected Request"},
        {422, "Unprocessable Entity"},
        {423, "Locked"},
        {424, "Failed Dependency"},
        {425, "Too Early"},
        {426, "Upgrade Required"},
        {428, "Precondition Required"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {451, "Unavailable For Legal Reasons"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
        {506, "Variant Also Negotiates"},
        {507, "Insufficient Storage"},
        {508, "Loop Detected"},
        {510, "Not Extended"},
        {511, "Network Authentication Required"},
    };

    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (table[i].status == status)
            return table[i].text;
    return NULL;
}

void webhook_status_text(long status, char *buf, size_t size)
{
    const char *phrase = reason_phrase(status);

    /* mod_rest's error text is the status line: "404 Not Found". */
    if (phrase != NULL)
        snprintf(buf, size, "%03ld %s", status, phrase);
    else
        snprintf(buf, size, "%ld Unassigned", status);
}

enum webhook_reply webhook_decide(const char *kind, const char *type,
                                  bool receipt, long status, bool body_empty,
                                  bool body_stanza)
{
    bool iq = strcmp(kind, EL_IQ) == 0;
    bool ok = status >= 200 && status < 300;

    if (type != NULL &&
        (strcmp(type, "error") == 0 || strcmp(type, "result") == 0))
        return WEBHOOK_REPLY_NONE; /* never answer an answer */
    if (status == 202 || status == 204) {
        if (iq)
            return WEBHOOK_REPLY_EMPTY;
        return receipt ? WEBHOOK_REPLY_RECEIPT : WEBHOOK_REPLY_NONE;
    }
    if (body_stanza)
        return WEBHOOK_REPLY_BODY;
    if (ok) {
        if (iq)
            return WEBHOOK_REPLY_EMPTY;
        /* SPEC §5: an empty 2xx on a message/presence means "done". */
        if (body_empty)
            return receipt ? WEBHOOK_REPLY_RECEIPT : WEBHOOK_REPLY_NONE;
        return WEBHOOK_REPLY_EMPTY;
    }
    return WEBHOOK_REPLY_ERROR;
}

/* ---- jobs ---- */

static void list_push(struct job_list *l, struct job *j)
{
    TAILQ_INSERT_TAIL(&l->jobs, j, link);
    l->n++;
}

static void list_unlink(struct job_list *l, struct job *j)
{
    TAILQ_REMOVE(&l->jobs, j, link);
    l->n--;
}

static void job_free(struct job *j)
{
    if (j == NULL)
        return;
    loop_timer_cancel(j->w->loop, j->deadline);
    if (j->st != NULL)
        xmpp_stanza_release(j->st);
    free(j->url);
    free(j->body);
    free(j);
}

/* Take j off whichever list holds it. */
static void job_detach(struct job *j)
{
    struct webhook *w = j->w;

    if (j->in_flight) {
        list_unlink(&w->active, j);
        j->in_flight = false;
    } else {
        list_unlink(&w->queue, j);
    }
}

/* The address we answer from: the original `to`, or the component. */
static const char *orig_to(struct job *j)
{
    const char *to = stanza_attr(j->orig, ATTR_TO);
    return to != NULL ? to : component_jid(j->w->c);
}

/* True when component_send() refused for what the stanza holds (the
 * component logged it), not for the state of the stream. */
static bool refused_content(struct webhook *w)
{
    enum component_refusal why = component_send_refusal(w->c);

    return why == COMPONENT_REFUSED_INVALID ||
           why == COMPONENT_REFUSED_TOO_LARGE;
}

static int webhook_send_release(struct webhook *w, xmpp_stanza_t *st)
{
    static struct log_ratelimit unsent_log = LOG_RATELIMIT_INIT(
        LOG_LEVEL_WARN, "webhook reply not sent: stream unavailable");
    int rc;

    if (!dispatch_reply_allowed(w->dp, st)) {
        xmpp_stanza_release(st);
        return 0; /* dropped on purpose (counted and logged there) */
    }
    rc = component_send(w->c, st);
    if (rc < 0 && !refused_content(w) &&
        log_ratelimit_pass(&unsent_log, loop_clock_ms()))
        log_warn("webhook reply not sent: stream unavailable", "to=%s",
                 stanza_attr(st, ATTR_TO) ? stanza_attr(st, ATTR_TO) : "-");
    xmpp_stanza_release(st);
    return rc;
}

static int send_delegated(struct job *j, xmpp_stanza_t *inner_reply)
{
    int rc = dispatch_delegated_reply(j->w->dp, j->st, j->dlg_ns, inner_reply);

    if (rc < 0 && !refused_content(j->w))
        log_warn("delegated reply not sent: stream unavailable", "from=%s",
                 stanza_attr(j->orig, ATTR_FROM));
    return rc;
}

static void answer_error(struct job *j, const char *type, const char *cond,
                         const char *text);

/*
 * The webhook's answer would make the server close the stream (invalid
 * characters, too large once serialized): tell the sender instead. The
 * error is sent once, never replaced in turn.
 */
static void answer_refused(struct job *j)
{
    if (component_send_refusal(j->w->c) == COMPONENT_REFUSED_TOO_LARGE)
        answer_error(j, ERR_MODIFY, COND_RESOURCE_CONSTRAINT,
                     "Webhook answer larger than the XMPP server accepts");
    else
        answer_error(j, ERR_MODIFY, COND_NOT_ACCEPTABLE,
                     "Webhook answer holds characters XML does not allow");
}

/* Send a reply built from the webhook's answer (released). */
static void send_reply(struct job *j, xmpp_stanza_t *st)
{
    if (webhook_send_release(j->w, st) < 0 && refused_content(j->w))
        answer_refused(j);
}

/* The same for the inner reply of a delegated IQ. */
static void send_delegated_reply(struct job *j, xmpp_stanza_t *inner_reply)
{
    if (send_delegated(j, inner_reply) < 0 && refused_content(j->w))
        answer_refused(j);
}

/* Answer j with a stanza error (inside the wrapper when delegated). */
static void answer_error(struct job *j, const char *type, const char *cond,
                         const char *text)
{
    struct webhook *w = j->w;
    const char *st_type = stanza_attr(j->orig, ATTR_TYPE);

    if (st_type != NULL &&
        (strcmp(st_type, "error") == 0 || strcmp(st_type, "result") == 0))
        return;
    if (j->dlg_ns != NULL) {
        xmpp_stanza_t *r = delegation_inner_reply(w->ctx, j->orig, "error");
        stanza_adopt(r, stanza_error_element(w->ctx, type, cond, text));
        send_delegated(j, r);
        return;
    }
    webhook_send_release(
        w, stanza_error(w->ctx, j->orig, orig_to(j), type, cond, text));
}

/* A new id for replies that do not reuse the original's. */
static void set_new_id(struct webhook *w, xmpp_stanza_t *st)
{
    char *id = xmpp_uuid_gen(w->ctx);

    if (id != NULL) {
        xmpp_stanza_set_attribute(st, ATTR_ID, id);
        xmpp_free(w->ctx, id);
    }
}

/* `to` of a reply: the sender, or its bare JID for groupchat. */
static void set_reply_to(struct job *j, xmpp_stanza_t *r)
{
    const char *from = stanza_attr(j->orig, ATTR_FROM);
    const char *type = stanza_attr(j->orig, ATTR_TYPE);

    if (from == NULL)
        return;
    if (type != NULL && strcmp(type, "groupchat") == 0) {
        char *bare = jid_bare(from);
        xmpp_stanza_set_attribute(r, ATTR_TO, bare != NULL ? bare : from);
        free(bare);
        return;
    }
    xmpp_stanza_set_attribute(r, ATTR_TO, from);
}

/* st.reply(): an empty stanza of the same kind and type. */
static xmpp_stanza_t *empty_reply(struct job *j)
{
    struct webhook *w = j->w;
    const char *type = stanza_attr(j->orig, ATTR_TYPE);
    xmpp_stanza_t *r;

    if (strcmp(j->kind, EL_IQ) == 0)
        return stanza_result(w->ctx, j->orig, orig_to(j));
    r = stanza_element(w->ctx, j->kind, NULL);
    if (type != NULL)
        xmpp_stanza_set_attribute(r, ATTR_TYPE, type);
    xmpp_stanza_set_attribute(r, ATTR_FROM, orig_to(j));
    set_reply_to(j, r);
    set_new_id(w, r);
    return r;
}

/* Copy the element children of from into to. */
static void copy_children(xmpp_stanza_t *to, xmpp_stanza_t *from)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(from); c != NULL;
         c = xmpp_stanza_get_next(c))
        if (xmpp_stanza_is_tag(c))
            stanza_adopt(to, xmpp_stanza_copy(c));
}

/* Send body (a parsed stanza of j's kind) as the reply, mod_rest's way. */
static void answer_body(struct job *j, xmpp_stanza_t *body)
{
    struct webhook *w = j->w;
    const char *btype = stanza_attr(body, ATTR_TYPE);
    const char *otype = stanza_attr(j->orig, ATTR_TYPE);
    bool has_error = stanza_child(body, EL_ERROR, NULL) != NULL;
    bool error = btype != NULL && strcmp(btype, "error") == 0;

    if (otype == NULL && btype == NULL && has_error)
        error = true;
    if (j->dlg_ns != NULL) {
        xmpp_stanza_t *r =
            delegation_inner_reply(w->ctx, j->orig, error ? "error" : "result");
        copy_children(r, body);
        send_delegated_reply(j, r);
        return;
    }
    xmpp_stanza_t *r = xmpp_stanza_copy(body);
    stanza_strip_stream_ns(r, false);
    xmpp_stanza_set_attribute(r, ATTR_FROM, orig_to(j));
    xmpp_stanza_del_attribute(r, ATTR_TO);
    set_reply_to(j, r);
    if (strcmp(j->kind, EL_IQ) == 0)
        xmpp_stanza_set_attribute(r, ATTR_TYPE, error ? "error" : "result");
    else if (error)
        xmpp_stanza_set_attribute(r, ATTR_TYPE, "error");
    if (error || strcmp(j->kind, EL_IQ) == 0) {
        const char *id = stanza_attr(j->orig, ATTR_ID);
        if (id != NULL)
            xmpp_stanza_set_attribute(r, ATTR_ID, id);
        else
            xmpp_stanza_del_attribute(r, ATTR_ID);
    } else if (stanza_attr(r, ATTR_ID) == NULL) {
        set_new_id(w, r);
    }
    send_reply(j, r);
}

/*
 * A 2xx answer whose body is text, not a stanza. To a message mod_rest
 * sends the text back as the <body> of a chat message (to the sender's
 * full JID); restanza's counterpart for a presence is a presence of the
 * same type with the text as <status>. IQs never get here (empty result).
 */
static void answer_text(struct job *j, const struct httpc_response *resp,
                        bool receipt)
{
    struct webhook *w = j->w;
    bool msg = strcmp(j->kind, EL_MESSAGE) == 0;
    const char *from = stanza_attr(j->orig, ATTR_FROM);
    const char *id = stanza_attr(j->orig, ATTR_ID);
    xmpp_stanza_t *r;

    if (strlen(resp->body) != resp->len) {
        answer_error(j, ERR_MODIFY, COND_NOT_ACCEPTABLE,
                     "Webhook answer holds characters XML does not allow");
        return;
    }
    if (msg) {
        const char *otype = stanza_attr(j->orig, ATTR_TYPE);
        bool groupchat = otype != NULL && strcmp(otype, "groupchat") == 0;
        r = stanza_element(w->ctx, EL_MESSAGE, NULL);
        /* To a room message: a message to the room (SPEC §11). */
        xmpp_stanza_set_attribute(r, ATTR_TYPE,
                                  groupchat ? "groupchat" : "chat");
        xmpp_stanza_set_attribute(r, ATTR_FROM, orig_to(j));
        if (groupchat)
            set_reply_to(j, r);
        else if (from != NULL)
            xmpp_stanza_set_attribute(r, ATTR_TO, from);
        set_new_id(w, r);
    } else {
        r = empty_reply(j);
    }
    stanza_add_text(stanza_add_element(r, msg ? EL_BODY : EL_STATUS, NULL),
                    resp->body);
    if (receipt) {
        xmpp_stanza_t *rec = stanza_add_element(r, EL_RECEIVED, NS_RECEIPTS);
        if (id != NULL)
            xmpp_stanza_set_attribute(rec, ATTR_ID, id);
    }
    send_reply(j, r);
}

static void answer_receipt(struct job *j)
{
    struct webhook *w = j->w;
    xmpp_stanza_t *r = stanza_element(w->ctx, EL_MESSAGE, NULL);
    const char *type = stanza_attr(j->orig, ATTR_TYPE);
    const char *id = stanza_attr(j->orig, ATTR_ID);
    xmpp_stanza_t *rec;

    if (type != NULL)
        xmpp_stanza_set_attribute(r, ATTR_TYPE, type);
    xmpp_stanza_set_attribute(r, ATTR_FROM, orig_to(j));
    set_reply_to(j, r);
    set_new_id(w, r);
    rec = stanza_add_element(r, EL_RECEIVED, NS_RECEIPTS);
    if (id != NULL)
        xmpp_stanza_set_attribute(rec, ATTR_ID, id);
    webhook_send_release(w, r);
}

/*
 * A top element we may write to the component stream: message, presence or
 * iq in no namespace, jabber:client or jabber:component:accept. Anything
 * else (another namespace, <stream:error/>...) makes the server close the
 * stream (unsupported-stanza-type).
 */
static bool sendable_stanza(xmpp_stanza_t *st)
{
    const char *ns = xmpp_stanza_get_ns(st);

    if (ns != NULL && *ns != '\0' && strcmp(ns, NS_CLIENT) != 0 &&
        strcmp(ns, NS_COMPONENT) != 0)
        return false;
    return stanza_is(st, EL_MESSAGE) || stanza_is(st, EL_PRESENCE) ||
           stanza_is(st, EL_IQ);
}

/*
 * The response body as a stanza of j's kind, or NULL. *refused is set when
 * the body parsed as XML or JSON but is not a stanza we may send: not an
 * answer to leave unsaid, an error to the sender. *text is set when the
 * body is neither XML nor JSON (by Content-Type, sniffed when absent).
 */
static xmpp_stanza_t *parse_body(struct job *j,
                                 const struct httpc_response *resp,
                                 bool *refused, bool *text)
{
    struct webhook *w = j->w;
    const char *ct = resp->content_type;
    size_t ctlen = ct != NULL ? strcspn(ct, "; \t") : 0;
    bool xml, json, form = false;
    xmpp_stanza_t *st = NULL;

    if (resp->len == 0)
        return NULL;
    if (ct != NULL) {
        xml =
            (ctlen == strlen(CT_XML) && strncasecmp(ct, CT_XML, ctlen) == 0) ||
            (ctlen == 15 && strncasecmp(ct, "application/xml", 15) == 0) ||
            (ctlen == 8 && strncasecmp(ct, "text/xml", 8) == 0);
        json = ctlen == strlen(CT_JSON) && strncasecmp(ct, CT_JSON, ctlen) == 0;
        form = ctlen == strlen(CT_FORM) && strncasecmp(ct, CT_FORM, ctlen) == 0;
    } else {
        const char *p = resp->body + strspn(resp->body, " \t\r\n");
        xml = *p == '<';
        json = *p == '{';
    }
    *text = !xml && !json && !form;
    if (xml) {
        if (strlen(resp->body) != resp->len)
            return NULL; /* a NUL byte: not XML */
        st = xmpp_stanza_new_from_string(w->ctx, resp->body);
    } else if (json || form) {
        char err[128];
        struct jsonmap_error jerr;
        json_object *obj = NULL;
        /* A form answer maps like JSON, as in mod_rest. */
        if (json)
            obj =
                json_parse(resp->body, resp->len, JSON_DEPTH, err, sizeof(err));
        else if (jsonmap_form_to_json(resp->body, resp->len, &obj, &jerr) < 0)
            obj = NULL;
        if (obj != NULL) {
            st = jsonmap_to_stanza(w->ctx, obj, &jerr);
            json_object_put(obj);
            *refused = st == NULL;
        }
    }
    if (st != NULL && !sendable_stanza(st)) {
        xmpp_stanza_release(st);
        st = NULL;
        *refused = true;
    }
    if (st != NULL && !stanza_is(st, j->kind)) {
        xmpp_stanza_release(st);
        st = NULL;
    }
    return st;
}

static const char *url_host(const char *url, char *buf, size_t size)
{
    const char *h = strstr(url, "://");
    size_t n;

    h = h != NULL ? h + 3 : url;
    n = strcspn(h, "/?#");
    snprintf(buf, size, "%.*s", (int)n, h);
    return buf;
}

static void log_failure(struct job *j, const char *reason, long status)
{
    /* A down or slow web app fails every stanza: count, do not flood. */
    static struct log_ratelimit failed_log =
        LOG_RATELIMIT_INIT(LOG_LEVEL_WARN, "webhook delivery failed");
    char host[256];

    if (!log_ratelimit_pass(&failed_log, loop_clock_ms()))
        return;
    log_warn("webhook delivery failed", "host=%s status=%ld kind=%s reason=%s",
             url_host(j->url, host, sizeof(host)), status, j->kind, reason);
}

static void webhook_pump(struct webhook *w);
static void finish_drain(void *arg);

/* Tell events.c how a durable delivery ended (once). */
static void report_outcome(struct job *j, enum webhook_outcome o,
                           const char *error)
{
    webhook_outcome_fn cb = j->outcome_cb;

    j->outcome_cb = NULL;
    if (cb != NULL)
        cb(j->event, o, error, j->outcome_arg);
}

/* Whether a durable delivery's failure is retried (SPEC §9): connection
 * errors, timeouts, 5xx, 408 and 429. */
static bool retryable(const struct httpc_response *resp)
{
    if (resp->error != HTTPC_OK)
        return resp->error != HTTPC_E_TOO_LARGE;
    return resp->status >= 500 || resp->status == 408 || resp->status == 429;
}

/* A durable delivery to try again later: the sender hears nothing. */
static bool retry_later(struct job *j, const struct httpc_response *resp)
{
    char why[64];

    if (!j->durable || !retryable(resp))
        return false;
    if (resp->error != HTTPC_OK) {
        metrics_inc(resp->error == HTTPC_E_TIMEOUT ? METRIC_WEBHOOK_FAIL_TIMEOUT
                    : resp->error == HTTPC_E_CONNECT
                        ? METRIC_WEBHOOK_FAIL_CONNECT
                        : METRIC_WEBHOOK_FAIL_OTHER);
        log_failure(j, resp->error_text, 0);
        snprintf(why, sizeof(why), "%s",
                 resp->error_text != NULL ? resp->error_text : "error");
    } else {
        metrics_inc(METRIC_WEBHOOK_FAIL_HTTP);
        log_failure(j, "http status", resp->status);
        webhook_status_text(resp->status, why, sizeof(why));
    }
    report_outcome(j, WEBHOOK_OUTCOME_RETRY, why);
    return true;
}

/* A delivery is over: account, free, start the next one. */
static void job_done(struct job *j)
{
    struct webhook *w = j->w;

    job_detach(j);
    job_free(j);
    webhook_pump(w);
    if (w->draining && w->active.n == 0 && w->drain_cb != NULL) {
        loop_timer_cancel(w->loop, w->drain_timer);
        w->drain_timer = loop_timer_add(w->loop, 0, finish_drain, w);
    }
}

/* Reply to j's sender as the webhook's response says (research §4.6). */
static void answer(struct job *j, const struct httpc_response *resp,
                   xmpp_stanza_t *body, bool refused, bool body_text)
{
    struct webhook *w = j->w;
    const char *type = stanza_attr(j->orig, ATTR_TYPE);
    bool receipt = strcmp(j->kind, EL_MESSAGE) == 0 &&
                   stanza_child(j->orig, "request", NS_RECEIPTS) != NULL;
    const char *etype, *econd;
    char text[64];

    if (refused && resp->status >= 200 && resp->status < 300) {
        log_failure(j, "answer is not a stanza that may be sent", resp->status);
        answer_error(j, ERR_MODIFY, COND_NOT_ACCEPTABLE,
                     "Webhook answer is not a message, presence or iq");
        return;
    }
    switch (webhook_decide(j->kind, type, receipt, resp->status, resp->len == 0,
                           body != NULL)) {
    case WEBHOOK_REPLY_NONE:
        break;
    case WEBHOOK_REPLY_RECEIPT:
        answer_receipt(j);
        break;
    case WEBHOOK_REPLY_EMPTY:
        if (body_text && j->dlg_ns == NULL && strcmp(j->kind, EL_IQ) != 0)
            answer_text(j, resp, receipt);
        else if (j->dlg_ns != NULL)
            send_delegated(j,
                           delegation_inner_reply(w->ctx, j->orig, "result"));
        else
            webhook_send_release(w, empty_reply(j));
        break;
    case WEBHOOK_REPLY_BODY:
        answer_body(j, body);
        break;
    case WEBHOOK_REPLY_ERROR:
        webhook_http_error(resp->status, &etype, &econd);
        webhook_status_text(resp->status, text, sizeof(text));
        answer_error(j, etype, econd, text);
        break;
    }
}

static void on_response(const struct httpc_response *resp, void *arg)
{
    struct job *j = arg;
    xmpp_stanza_t *body = NULL;
    bool refused = false, body_text = false;

    j->t = NULL;
    metrics_add(METRIC_WEBHOOK_LATENCY_US,
                (loop_clock_ms() - j->started_ms) * 1000);
    metrics_inc(METRIC_WEBHOOK_LATENCY_COUNT);
    if (retry_later(j, resp)) {
        job_done(j);
        return;
    }
    switch (resp->error) {
    case HTTPC_OK:
        break;
    case HTTPC_E_TIMEOUT:
        metrics_inc(METRIC_WEBHOOK_FAIL_TIMEOUT);
        log_failure(j, "timeout", 0);
        answer_error(j, ERR_WAIT, COND_REMOTE_TIMEOUT, "Webhook timed out");
        job_done(j);
        return;
    case HTTPC_E_TOO_LARGE:
        metrics_inc(METRIC_WEBHOOK_FAIL_TOO_LARGE);
        log_failure(j, "response too large", resp->status);
        answer_error(j, ERR_WAIT, COND_INTERNAL, "Webhook response too large");
        report_outcome(j, WEBHOOK_OUTCOME_DONE, "response too large");
        job_done(j);
        return;
    case HTTPC_E_SHUTDOWN:
        answer_error(j, ERR_WAIT, COND_SERVICE_UNAVAILABLE, "Shutting down");
        job_done(j);
        return;
    case HTTPC_E_CONNECT:
    case HTTPC_E_OTHER:
    default:
        metrics_inc(resp->error == HTTPC_E_CONNECT ? METRIC_WEBHOOK_FAIL_CONNECT
                                                   : METRIC_WEBHOOK_FAIL_OTHER);
        log_failure(j, resp->error_text, 0);
        answer_error(j, ERR_WAIT, COND_RECIPIENT_UNAVAILABLE, resp->error_text);
        job_done(j);
        return;
    }
    metrics_inc(METRIC_WEBHOOK_DELIVERIES);
    if (resp->status != 202 && resp->status != 204)
        body = parse_body(j, resp, &refused, &body_text);
    answer(j, resp, body, refused, body_text);
    if (resp->status < 200 || resp->status >= 300) {
        char why[64];
        metrics_inc(METRIC_WEBHOOK_FAIL_HTTP);
        log_failure(j, "http status", resp->status);
        webhook_status_text(resp->status, why, sizeof(why));
        report_outcome(j, WEBHOOK_OUTCOME_DONE, why);
    } else {
        report_outcome(j, WEBHOOK_OUTCOME_DONE, NULL);
        log_debug("webhook delivered", "kind=%s status=%ld ms=%.0f", j->kind,
                  resp->status, resp->seconds * 1000);
    }
    if (body != NULL)
        xmpp_stanza_release(body);
    job_done(j);
}

/*
 * The signature header: HMAC-SHA256 of the body, or, when the request
 * carries an event id, of "<event>\n<attempt>\n<body>" so that neither
 * header can be changed without breaking it (doc/events.md).
 */
static int sign(struct job *j, char *out, size_t size)
{
    const char *key = j->w->conf->webhook.secret;
    char hex[HMAC_SHA256_HEX_LEN];
    char *data = j->body;
    size_t len = j->len;
    int rc;

    if (j->event > 0) {
        char head[48];
        int n = snprintf(head, sizeof(head), "%lld\n%u\n", (long long)j->event,
                         j->attempt);
        data = xmalloc((size_t)n + j->len + 1);
        memcpy(data, head, (size_t)n);
        memcpy(data + n, j->body, j->len);
        len = (size_t)n + j->len;
    }
    rc = hmac_sha256_hex(key, strlen(key), data, len, hex);
    if (data != j->body)
        free(data);
    if (rc == 0)
        snprintf(out, size, "X-Restanza-Signature: sha256=%s", hex);
    return rc;
}

/* Post j now; on failure to start, answer it as a connection failure. */
static void job_start(struct job *j)
{
    struct webhook *w = j->w;
    const char *lang = stanza_attr(j->orig, "xml:lang");
    char ctype[64], clang[128], ev[64], att[48],
        sig[sizeof("X-Restanza-Signature: sha256=") + HMAC_SHA256_HEX_LEN];
    const char *headers[7];
    size_t nh = 0;
    uint64_t timeout_ms = (uint64_t)w->conf->webhook.timeout * 1000;
    struct httpc_request req = {0};

    snprintf(ctype, sizeof(ctype), "Content-Type: %s", w->content_type);
    headers[nh++] = ctype;
    headers[nh++] = "Accept: " CT_XML ", " CT_JSON ", " CT_FORM ", text/plain";
    if (lang != NULL && strcspn(lang, "\r\n") == strlen(lang) &&
        strlen(lang) < 100) {
        snprintf(clang, sizeof(clang), "Content-Language: %s", lang);
        headers[nh++] = clang;
    }
    if (j->event > 0) {
        snprintf(ev, sizeof(ev), "X-Restanza-Event: %lld", (long long)j->event);
        snprintf(att, sizeof(att), "X-Restanza-Attempt: %u", j->attempt);
        headers[nh++] = ev;
        headers[nh++] = att;
    }
    if (w->conf->webhook.secret != NULL && sign(j, sig, sizeof(sig)) == 0)
        headers[nh++] = sig;
    headers[nh] = NULL;
    if (j->dlg_ns != NULL) {
        uint64_t now = loop_now(w->loop);
        uint64_t left = j->deadline_ms > now ? j->deadline_ms - now : 1;
        if (left < timeout_ms)
            timeout_ms = left;
    }
    req.method = "POST";
    req.url = j->url;
    req.headers = headers;
    req.body = j->body;
    req.body_len = j->len;
    req.timeout_ms = (unsigned)timeout_ms;
    req.max_response = WEBHOOK_MAX_RESPONSE;
    list_push(&w->active, j);
    j->in_flight = true;
    j->started_ms = loop_clock_ms();
    j->t = httpc_start(w->http, &req, on_response, j);
    if (j->t == NULL) {
        metrics_inc(METRIC_WEBHOOK_FAIL_OTHER);
        log_failure(j, "request not started", 0);
        if (j->durable)
            report_outcome(j, WEBHOOK_OUTCOME_RETRY, "request not started");
        else
            answer_error(j, ERR_WAIT, COND_RECIPIENT_UNAVAILABLE,
                         "Webhook request could not start");
        job_detach(j);
        job_free(j);
    }
}

/* Start queued jobs while connections are free. */
static void webhook_pump(struct webhook *w)
{
    struct job *j;

    while ((j = TAILQ_FIRST(&w->queue.jobs)) != NULL &&
           w->active.n < w->conf->webhook.concurrency) {
        list_unlink(&w->queue, j);
        job_start(j);
    }
}

/* Delegated IQs are answered within 25 s, queued or not. */
static void on_deadline(void *arg)
{
    struct job *j = arg;

    j->deadline = NULL;
    if (j->t != NULL) {
        httpc_cancel(j->w->http, j->t);
        j->t = NULL;
    }
    metrics_inc(METRIC_WEBHOOK_FAIL_TIMEOUT);
    log_failure(j, "delegated deadline", 0);
    answer_error(j, ERR_WAIT, COND_REMOTE_TIMEOUT, "Webhook timed out");
    job_done(j);
}

/* Serialize j->orig in the configured content type; 0 or -1. */
static int job_body(struct job *j)
{
    struct webhook *w = j->w;

    if (strcmp(w->content_type, CT_JSON) == 0) {
        json_object *obj = jsonmap_from_stanza(j->orig);
        if (obj == NULL)
            return -1;
        j->body = json_to_string(obj);
        json_object_put(obj);
        j->len = strlen(j->body);
        return 0;
    }
    stanza_strip_stream_ns(j->orig, true);
    j->body = stanza_to_text(j->orig, &j->len);
    return j->body != NULL ? 0 : -1;
}

/* A job built around copy (ownership taken). */
static struct job *job_new(struct webhook *w, xmpp_stanza_t *copy,
                           xmpp_stanza_t *orig, const char *dlg_ns)
{
    struct job *j = xcalloc(1, sizeof(*j));

    j->w = w;
    j->st = copy;
    j->orig = orig;
    j->dlg_ns = dlg_ns;
    j->kind = stanza_is(orig, EL_MESSAGE)    ? EL_MESSAGE
              : stanza_is(orig, EL_PRESENCE) ? EL_PRESENCE
                                             : EL_IQ;
    return j;
}

/* Queue or start j; a durable one that cannot be queued is retried. */
static void job_submit(struct job *j)
{
    struct webhook *w = j->w;
    xmpp_stanza_t *orig = j->orig;
    const char *dlg_ns = j->dlg_ns;

    if (w->draining) {
        /* A durable event stays in the log for the next start. */
        if (!j->durable)
            answer_error(j, ERR_WAIT, COND_SERVICE_UNAVAILABLE,
                         "Shutting down");
        job_free(j);
        return;
    }
    j->url = webhook_expand_url(
        w->conf->webhook.url, j->kind, stanza_attr(orig, ATTR_TYPE),
        stanza_attr(orig, ATTR_TO), stanza_attr(orig, ATTR_FROM));
    if (job_body(j) < 0) {
        log_warn("webhook: stanza not serialized", "kind=%s", j->kind);
        answer_error(j, ERR_WAIT, COND_INTERNAL, NULL);
        report_outcome(j, WEBHOOK_OUTCOME_DONE, "stanza not serialized");
        job_free(j);
        return;
    }
    if (dlg_ns != NULL) {
        j->deadline_ms = loop_now(w->loop) + WEBHOOK_DELEGATED_DEADLINE_MS;
        j->deadline = loop_timer_add(w->loop, WEBHOOK_DELEGATED_DEADLINE_MS,
                                     on_deadline, j);
    }
    if (w->active.n < w->conf->webhook.concurrency) {
        job_start(j);
    } else if (w->queue.n < w->conf->webhook.queue_max) {
        list_push(&w->queue, j);
    } else {
        metrics_inc(METRIC_WEBHOOK_FAIL_QUEUE_FULL);
        log_failure(j, "queue full", 0);
        if (j->durable)
            report_outcome(j, WEBHOOK_OUTCOME_RETRY, "queue full");
        else
            answer_error(j, ERR_WAIT, COND_RESOURCE_CONSTRAINT,
                         "Webhook queue full");
        job_free(j);
    }
}

static void submit(struct webhook *w, xmpp_stanza_t *copy, xmpp_stanza_t *orig,
                   const char *dlg_ns)
{
    job_submit(job_new(w, copy, orig, dlg_ns));
}

/* Log st (a copy, taken) as an event; -1 when it could not be. */
static int log_event(struct webhook *w, xmpp_stanza_t *copy)
{
    struct job *j = job_new(w, copy, copy, NULL);
    size_t len;
    char *xml;

    stanza_strip_stream_ns(copy, true);
    xml = stanza_to_text(copy, &len);
    j->event = xml != NULL ? w->log_fn(j->kind, stanza_attr(copy, ATTR_FROM),
                                       xml, w->log_arg)
                           : -1;
    free(xml);
    if (j->event < 0) {
        metrics_inc(METRIC_WEBHOOK_FAIL_QUEUE_FULL);
        answer_error(j, ERR_WAIT, COND_RESOURCE_CONSTRAINT,
                     "Event log write failed");
        job_free(j);
        return -1;
    }
    j->attempt = 1;
    if (strcmp(j->kind, EL_IQ) == 0)
        job_submit(j); /* request/response: delivered as without a log */
    else
        list_push(&w->uncommitted, j);
    return 0;
}

void webhook_set_log(struct webhook *w, webhook_log_fn fn, void *arg)
{
    w->log_fn = fn;
    w->log_arg = arg;
}

void webhook_logged(struct webhook *w, bool ok)
{
    struct job *j;

    while ((j = TAILQ_FIRST(&w->uncommitted.jobs)) != NULL) {
        list_unlink(&w->uncommitted, j);
        if (!ok)
            answer_error(j, ERR_WAIT, COND_RESOURCE_CONSTRAINT,
                         "Event log write failed");
        job_free(j);
    }
}

int webhook_deliver(struct webhook *w, int64_t id, unsigned attempt,
                    const char *xml, webhook_outcome_fn cb, void *arg)
{
    xmpp_stanza_t *st = xmpp_stanza_new_from_string(w->ctx, xml);
    struct job *j;

    if (st == NULL) {
        log_warn("webhook: logged event is not a stanza", "event=%lld",
                 (long long)id);
        return -1;
    }
    j = job_new(w, st, st, NULL);
    j->event = id;
    j->attempt = attempt;
    j->durable = true;
    j->outcome_cb = cb;
    j->outcome_arg = arg;
    job_submit(j);
    return 0;
}

char *webhook_event_json(struct webhook *w, const char *xml)
{
    xmpp_stanza_t *st = xmpp_stanza_new_from_string(w->ctx, xml);
    json_object *obj = st != NULL ? jsonmap_from_stanza(st) : NULL;
    char *text = obj != NULL ? json_to_string(obj) : NULL;

    if (obj != NULL)
        json_object_put(obj);
    if (st != NULL)
        xmpp_stanza_release(st);
    return text;
}

/* Which address form `to` is: host, bare or full. */
static unsigned event_of(const char *to)
{
    if (to == NULL || strchr(to, '/') == NULL)
        return to != NULL && strchr(to, '@') != NULL ? CONF_EVENT_BARE
                                                     : CONF_EVENT_HOST;
    return CONF_EVENT_FULL;
}

static bool on_incoming(xmpp_stanza_t *st, void *arg)
{
    struct webhook *w = arg;
    unsigned kind = stanza_is(st, EL_MESSAGE)    ? CONF_KIND_MESSAGE
                    : stanza_is(st, EL_PRESENCE) ? CONF_KIND_PRESENCE
                    : stanza_is(st, EL_IQ)       ? CONF_KIND_IQ
                                                 : 0;
    xmpp_stanza_t *copy;

    if ((w->kinds & kind) == 0 ||
        (w->events & event_of(stanza_attr(st, ATTR_TO))) == 0)
        return false;
    copy = xmpp_stanza_copy(st);
    if (w->log_fn != NULL)
        log_event(w, copy);
    else
        submit(w, copy, copy, NULL);
    return true;
}

static void on_delegated(xmpp_stanza_t *outer, xmpp_stanza_t *inner,
                         const char *dlg_ns, void *arg)
{
    struct webhook *w = arg;
    xmpp_stanza_t *copy = xmpp_stanza_copy(outer);
    const char *ns = NULL;
    xmpp_stanza_t *in = delegation_unwrap(copy, &ns);

    (void)inner;
    (void)dlg_ns;
    submit(w, copy, in, ns);
}

static void on_probe(const struct httpc_response *resp, void *arg)
{
    struct webhook *w = arg;
    char host[256];

    w->probe = NULL;
    url_host(w->conf->webhook.url, host, sizeof(host));
    if (resp->error != HTTPC_OK)
        log_warn("webhook probe failed", "host=%s error=%s", host,
                 resp->error_text);
    else if (resp->status == 200) {
        /* As mod_rest: the receiver's Accept picks our content type, the
         * first type it lists that we can send. */
        const char *xml = resp->accept ? strstr(resp->accept, CT_XML) : NULL;
        const char *json = resp->accept ? strstr(resp->accept, CT_JSON) : NULL;
        if (json != NULL && (xml == NULL || json < xml))
            w->content_type = CT_JSON;
        else if (xml != NULL)
            w->content_type = CT_XML;
        log_info("webhook connected", "host=%s status=%ld content_type=%s",
                 host, resp->status, w->content_type);
    } else
        log_info("webhook not yet connected", "host=%s status=%ld", host,
                 resp->status);
}

static void probe(struct webhook *w)
{
    const char *jid = component_jid(w->c);
    char *url =
        webhook_expand_url(w->conf->webhook.url, "meta", "info", jid, jid);
    struct httpc_request req = {
        .method = "OPTIONS",
        .url = url,
        .timeout_ms = w->conf->webhook.timeout * 1000,
        .max_response = 64 * 1024,
    };

    w->probe = httpc_start(w->http, &req, on_probe, w);
    free(url);
}

bool webhook_offer(xmpp_stanza_t *st, void *arg)
{
    return on_incoming(st, arg);
}

bool webhook_delegated(xmpp_stanza_t *outer, xmpp_stanza_t *inner,
                       const char *dlg_ns, void *arg)
{
    on_delegated(outer, inner, dlg_ns, arg);
    return true;
}

struct webhook *webhook_new(struct loop *loop, struct component *c,
                            struct dispatch *dp, struct delegation *d,
                            const struct conf *conf)
{
    struct webhook *w;

    if (conf->webhook.url == NULL)
        return NULL;
    w = xcalloc(1, sizeof(*w));
    TAILQ_INIT(&w->queue.jobs);
    TAILQ_INIT(&w->active.jobs);
    TAILQ_INIT(&w->uncommitted.jobs);
    w->loop = loop;
    w->c = c;
    w->dp = dp;
    w->d = d;
    w->conf = conf;
    w->ctx = component_ctx(c);
    w->content_type =
        conf->webhook.content_type == CONF_CONTENT_JSON ? CT_JSON : CT_XML;
    w->kinds = conf->webhook.stanzas;
    w->events = conf->webhook.events;
    w->http = httpc_new(loop, conf->webhook.concurrency);
    probe(w);
    return w;
}

/* Answer and drop every job of l. */
static void abandon(struct webhook *w, struct job_list *l, const char *text)
{
    struct job *j;

    while ((j = TAILQ_FIRST(&l->jobs)) != NULL) {
        if (j->t != NULL) {
            httpc_cancel(w->http, j->t);
            j->t = NULL;
        }
        /* A durable event stays in the log for the next start. */
        if (!j->durable)
            answer_error(j, ERR_WAIT, COND_SERVICE_UNAVAILABLE, text);
        job_detach(j);
        job_free(j);
    }
}

static void finish_drain(void *arg)
{
    struct webhook *w = arg;
    void (*cb)(void *) = w->drain_cb;

    w->drain_timer = NULL;
    w->drain_cb = NULL;
    abandon(w, &w->active, "Shutting down");
    if (cb != NULL)
        cb(w->drain_arg);
}

void webhook_drain(struct webhook *w, unsigned ms, void (*cb)(void *arg),
                   void *arg)
{
    w->draining = true;
    w->drain_cb = cb;
    w->drain_arg = arg;
    abandon(w, &w->queue, "Shutting down");
    loop_timer_cancel(w->loop, w->drain_timer);
    w->drain_timer =
        loop_timer_add(w->loop, w->active.n == 0 ? 0 : ms, finish_drain, w);
}

void webhook_free(struct webhook *w)
{
    if (w == NULL)
        return;
    loop_timer_cancel(w->loop, w->drain_timer);
    if (w->probe != NULL)
        httpc_cancel(w->http, w->probe);
    abandon(w, &w->queue, "Shutting down");
    abandon(w, &w->active, "Shutting down");
    webhook_logged(w, true); /* committed by store_free, or lost unanswered */
    httpc_free(w->http);
    free(w);
}

size_t webhook_queued(const struct webhook *w)
{
    return w != NULL ? w->queue.n : 0;
}

size_t webhook_in_flight(const struct webhook *w)
{
    return w != NULL ? w->active.n : 0;
}
