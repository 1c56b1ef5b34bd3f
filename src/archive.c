/* SPDX-License-Identifier: MIT */
/* archive.c: GET /rest/archive/{user} as a privileged (XEP-0356) MAM query. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "archive.h"
#include "archive_priv.h"
#include "component.h"
#include "conf.h"
#include "delegation.h"
#include "httpd.h"
#include "iq.h"
#include "jid.h"
#include "json.h"
#include "jsonmap.h"
#include "log.h"
#include "number.h"
#include "rest.h"
#include "stanza.h"
#include "utf8.h"
#include "xmalloc.h"

#define MIME_JSON "application/json"
#define ID_SIZE 64
#define EL_PRIVILEGED_IQ "privileged_iq"
/* The delegation table's key of the IQ permission we need. */
#define PERM_MAM "iq:" NS_MAM
/* Results kept per answer; a server's page is far smaller. */
#define MAX_RESULTS 10000
#define FIX_HINT                                                               \
    "Prosody's mod_privilege fails this way as soon as the archive has a "     \
    "result (its privileged session cannot send the result messages): "        \
    "apply contrib/prosody/mod_privilege-iq-results.patch (doc/servers.md)"

/* One privileged archive query waiting for its answer. */
struct archive_query {
    struct archive *a;
    struct httpd_request *req;
    char wire[ID_SIZE];    /* the outer IQ's id */
    char queryid[ID_SIZE]; /* ours, on every result */
    char *user;            /* normalised bare JID whose archive it is */
    json_object *messages; /* array of archive_result_entry() */
    LIST_ENTRY(archive_query) link; /* a->queries */
};

struct archive {
    struct component *c;
    struct delegation *d;
    const struct conf *conf;
    LIST_HEAD(archive_queries, archive_query) queries;
};

/* ---------------------------------------------------------------------- */
/* pure parts */

int archive_params_add(json_object *payload, const char *key, const char *value)
{
    static const char *const strings[] = {"with",   "start", "end",
                                          "before", "after", NULL};
    unsigned long long n;

    for (const char *const *k = strings; *k != NULL; k++)
        if (strcmp(key, *k) == 0) {
            json_object_object_add(payload, key, json_object_new_string(value));
            return 0;
        }
    if (strcmp(key, "max") != 0 || !number_parse(value, &n) || n > 100000)
        return -1;
    json_object_object_add(payload, key, json_object_new_int64((int64_t)n));
    return 0;
}

/* Text of the first text node of el, or NULL. */
static const char *archive_text_of(xmpp_stanza_t *el)
{
    for (xmpp_stanza_t *c = el != NULL ? xmpp_stanza_get_children(el) : NULL;
         c != NULL; c = xmpp_stanza_get_next(c))
        if (xmpp_stanza_is_text(c))
            return xmpp_stanza_get_text_ptr(c);
    return NULL;
}

static void archive_add_string(json_object *o, const char *key,
                               const char *value)
{
    if (value != NULL)
        json_object_object_add(o, key, json_object_new_string(value));
}

json_object *archive_result_entry(xmpp_stanza_t *result)
{
    xmpp_stanza_t *fwd = stanza_child(result, EL_FORWARDED, NS_FORWARD);
    xmpp_stanza_t *msg =
        fwd != NULL ? stanza_child(fwd, EL_MESSAGE, NULL) : NULL;
    xmpp_stanza_t *delay =
        fwd != NULL ? stanza_child(fwd, "delay", NS_DELAY) : NULL;
    json_object *entry, *m = msg != NULL ? jsonmap_from_stanza(msg) : NULL;

    if (m == NULL)
        return NULL;
    entry = json_object_new_object();
    archive_add_string(entry, "id", stanza_attr(result, ATTR_ID));
    archive_add_string(entry, "stamp",
                       delay != NULL ? stanza_attr(delay, "stamp") : NULL);
    json_object_object_add(entry, "message", m);
    return entry;
}

/* Text of the child `name` of el (el may be NULL), or NULL. */
static const char *archive_child_text(xmpp_stanza_t *el, const char *name)
{
    return el != NULL ? archive_text_of(stanza_child(el, name, NULL)) : NULL;
}

json_object *archive_page(xmpp_stanza_t *fin)
{
    json_object *page = json_object_new_object();
    xmpp_stanza_t *set = fin != NULL ? stanza_child(fin, "set", NS_RSM) : NULL;
    const char *complete = fin != NULL ? stanza_attr(fin, "complete") : NULL;
    const char *count = archive_child_text(set, "count");

    archive_add_string(page, "first", archive_child_text(set, "first"));
    archive_add_string(page, "last", archive_child_text(set, "last"));
    if (count != NULL && count[0] >= '0' && count[0] <= '9')
        json_object_object_add(page, "count",
                               json_object_new_int64(atoll(count)));
    json_object_object_add(
        page, "complete",
        json_object_new_boolean(
            complete != NULL &&
            (strcmp(complete, "true") == 0 || strcmp(complete, "1") == 0)));
    return page;
}

unsigned archive_error_status(const char *condition, bool outer)
{
    if (condition == NULL)
        return 502;
    if (strcmp(condition, COND_REMOTE_TIMEOUT) == 0)
        return 504;
    if (outer)
        return strcmp(condition, COND_FORBIDDEN) == 0 ? 403 : 502;
    if (strcmp(condition, COND_ITEM_NOT_FOUND) == 0)
        return 404;
    if (strcmp(condition, COND_BAD_REQUEST) == 0 ||
        strcmp(condition, COND_NOT_ACCEPTABLE) == 0)
        return 400;
    if (strcmp(condition, COND_FORBIDDEN) == 0 ||
        strcmp(condition, COND_NOT_ALLOWED) == 0)
        return 403;
    return 502;
}

/* ---------------------------------------------------------------------- */
/* answers */

static void archive_query_free(struct archive_query *q)
{
    LIST_REMOVE(q, link);
    json_object_put(q->messages);
    free(q->user);
    free(q);
}

static void archive_fail(struct httpd_request *req, unsigned status,
                         const char *type, const char *condition,
                         const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Answer with the REST error shape and log the failure once. */
static void archive_fail(struct httpd_request *req, unsigned status,
                         const char *type, const char *condition,
                         const char *fmt, ...)
{
    char text[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    log_info("archive query failed", "status=%u condition=%s text=%s", status,
             condition, text);
    if (status == 503)
        httpd_add_header(req, "Retry-After", "5");
    httpd_error(req, status, type, condition, text);
}

/* The condition and text of the <error/> in st. */
static const char *archive_error_of(xmpp_stanza_t *st, const char **text)
{
    xmpp_stanza_t *err = stanza_child(st, EL_ERROR, NULL);
    const char *cond = NULL;

    *text = NULL;
    for (xmpp_stanza_t *c = err != NULL ? xmpp_stanza_get_children(err) : NULL;
         c != NULL; c = xmpp_stanza_get_next(c)) {
        const char *name =
            xmpp_stanza_is_tag(c) ? xmpp_stanza_get_name(c) : NULL;
        if (name == NULL)
            continue;
        if (strcmp(name, EL_TEXT) == 0)
            *text = archive_text_of(c);
        else if (cond == NULL)
            cond = name;
    }
    return cond;
}

/* The server refused or failed the privileged IQ itself. */
static void archive_answer_outer_error(struct archive_query *q,
                                       xmpp_stanza_t *reply)
{
    const char *text, *cond = archive_error_of(reply, &text);

    if (cond != NULL && strcmp(cond, COND_INTERNAL) == 0) {
        archive_fail(q->req, 502, ERR_CANCEL, COND_INTERNAL,
                     "The server failed the privileged MAM query for %s with "
                     "internal-server-error. " FIX_HINT,
                     q->user);
        return;
    }
    archive_fail(q->req, archive_error_status(cond, true), ERR_CANCEL,
                 cond != NULL ? cond : COND_INTERNAL,
                 "The server refused the privileged MAM query for %s: %s%s%s",
                 q->user, cond != NULL ? cond : "error without a condition",
                 text != NULL ? ": " : "", text != NULL ? text : "");
}

/* The archive's own answer, forwarded inside the privileged IQ's result. */
static void archive_answer_inner(struct archive_query *q, xmpp_stanza_t *inner)
{
    const char *type = stanza_attr(inner, ATTR_TYPE);
    json_object *o;
    char *body;

    if (type != NULL && strcmp(type, "error") == 0) {
        const char *text, *cond = archive_error_of(inner, &text);
        archive_fail(q->req, archive_error_status(cond, false), ERR_CANCEL,
                     cond != NULL ? cond : COND_INTERNAL,
                     "The archive of %s answered %s%s%s", q->user,
                     cond != NULL ? cond : "an error without a condition",
                     text != NULL ? ": " : "", text != NULL ? text : "");
        return;
    }
    o = json_object_new_object();
    json_object_object_add(o, "messages", json_object_get(q->messages));
    json_object_object_add(o, "page",
                           archive_page(stanza_child(inner, "fin", NS_MAM)));
    body = json_to_string(o);
    json_object_put(o);
    log_debug("archive answered", "user=%s results=%zu", q->user,
              json_object_array_length(q->messages));
    httpd_respond(q->req, 200, MIME_JSON, body, strlen(body));
    free(body);
}

static void archive_on_reply(enum iq_outcome outcome, xmpp_stanza_t *reply,
                             void *arg)
{
    struct archive_query *q = arg;
    const char *type;
    xmpp_stanza_t *priv, *fwd, *inner = NULL;

    switch (outcome) {
    case IQ_REPLY:
        type = stanza_attr(reply, ATTR_TYPE);
        if (type != NULL && strcmp(type, "error") == 0) {
            archive_answer_outer_error(q, reply);
            break;
        }
        priv = stanza_child(reply, EL_PRIVILEGE, NULL);
        fwd =
            priv != NULL ? stanza_child(priv, EL_FORWARDED, NS_FORWARD) : NULL;
        inner = fwd != NULL ? stanza_child(fwd, EL_IQ, NULL) : NULL;
        if (inner == NULL)
            archive_fail(q->req, 502, ERR_CANCEL, COND_INTERNAL,
                         "The server answered the privileged MAM query for %s "
                         "without the forwarded archive answer",
                         q->user);
        else
            archive_answer_inner(q, inner);
        break;
    case IQ_TIMEOUT:
        archive_fail(q->req, 504, ERR_WAIT, COND_REMOTE_TIMEOUT,
                     "No answer to the archive query for %s in time", q->user);
        break;
    case IQ_DISCONNECTED:
        archive_fail(q->req, 503, ERR_WAIT, COND_SERVICE_UNAVAILABLE,
                     "The XMPP stream went down during the archive query");
        break;
    case IQ_SHUTDOWN:
        archive_fail(q->req, 503, ERR_WAIT, COND_SERVICE_UNAVAILABLE,
                     "restanza is shutting down");
        break;
    }
    archive_query_free(q);
}

/* The HTTP side went away first: forget the IQ. */
static void archive_on_abort(struct httpd_request *req, void *arg)
{
    struct archive_query *q = arg;

    (void)req;
    iq_untrack(component_iqs(q->a->c), q->wire);
    archive_query_free(q);
}

/* True when s is a bare JID of server.domain. */
static bool archive_is_user(const struct archive *a, const char *s)
{
    struct jid j;
    bool user;

    if (jid_parse(s, &j) < 0)
        return false;
    user = j.local != NULL && j.resource == NULL &&
           strcmp(j.domain, a->conf->server.domain) == 0;
    jid_clear(&j);
    return user;
}

bool archive_offer_message(xmpp_stanza_t *msg, void *arg)
{
    struct archive *a = arg;
    const char *from = stanza_attr(msg, ATTR_FROM);
    xmpp_stanza_t *priv = stanza_child(msg, EL_PRIVILEGE, NULL);
    xmpp_stanza_t *fwd, *inner, *res;
    const char *qid;
    struct archive_query *q;

    if (from == NULL || priv == NULL)
        return false;
    fwd = stanza_child(priv, EL_FORWARDED, NS_FORWARD);
    inner = fwd != NULL ? stanza_child(fwd, EL_MESSAGE, NULL) : NULL;
    res = inner != NULL ? stanza_child(inner, "result", NS_MAM) : NULL;
    qid = res != NULL ? stanza_attr(res, "queryid") : NULL;
    if (qid == NULL)
        return false;
    LIST_FOREACH(q, &a->queries, link)
    {
        json_object *entry;
        /* Only the server speaks as the user's bare JID: a client's
         * message always carries its full JID. */
        if (strcmp(q->queryid, qid) != 0 || strcmp(q->user, from) != 0)
            continue;
        if (json_object_array_length(q->messages) < MAX_RESULTS &&
            (entry = archive_result_entry(res)) != NULL)
            json_object_array_add(q->messages, entry);
        return true;
    }
    /* A result of a query whose caller left or timed out: the server's
     * answer to us, nothing for the webhook. */
    if (archive_is_user(a, from)) {
        log_debug("archive late result dropped", "user=%s queryid=%s", from,
                  qid);
        return true;
    }
    return false;
}

/* ---------------------------------------------------------------------- */
/* the request */

/* The URL parameters become the payload; false (answered 400) on a bad one.
 */
struct archive_params {
    json_object *payload;
    const char *bad;
};

static bool archive_param(const char *key, const char *value, void *arg)
{
    struct archive_params *p = arg;

    if (value == NULL || !utf8_xml_valid_str(value) ||
        archive_params_add(p->payload, key, value) < 0) {
        p->bad = key;
        return false;
    }
    return true;
}

/* <iq set to=user><privileged_iq><iq set from=user to=user><query/>. */
static xmpp_stanza_t *archive_build(struct archive *a, struct archive_query *q,
                                    json_object *payload, const char *priv_ns,
                                    struct jsonmap_error *err)
{
    xmpp_ctx_t *ctx = component_ctx(a->c);
    json_object *obj = json_object_new_object();
    xmpp_stanza_t *inner, *outer, *pq, *query;
    char id[ID_SIZE];

    json_object_object_add(obj, "kind", json_object_new_string(EL_IQ));
    json_object_object_add(obj, ATTR_TYPE, json_object_new_string("set"));
    json_object_object_add(obj, ATTR_TO, json_object_new_string(q->user));
    json_object_object_add(obj, ATTR_FROM, json_object_new_string(q->user));
    json_object_object_add(obj, "archive", json_object_get(payload));
    inner = jsonmap_to_stanza(ctx, obj, err);
    json_object_put(obj);
    if (inner == NULL)
        return NULL;
    iq_new_id(component_iqs(a->c), id, sizeof(id));
    xmpp_stanza_set_id(inner, id);
    xmpp_stanza_set_ns(inner, NS_CLIENT);
    /* jsonmap builds the query for the "archive" key; ours carries our id. */
    if ((query = stanza_child(inner, EL_QUERY, NS_MAM)) != NULL)
        xmpp_stanza_set_attribute(query, "queryid", q->queryid);
    outer = stanza_iq(ctx, "set", NULL, a->conf->component.jid, q->user);
    pq = stanza_add_element(outer, EL_PRIVILEGED_IQ, priv_ns);
    stanza_adopt(pq, inner);
    return outer;
}

/* What stands between the request and the query: connection, grant. */
static bool archive_ready(struct archive *a, struct httpd_request *req,
                          const char **priv_ns)
{
    const char *domain = a->conf->server.domain;
    const char *perm;

    if (component_state(a->c) != COMPONENT_CONNECTED) {
        archive_fail(req, 503, ERR_WAIT, COND_SERVICE_UNAVAILABLE,
                     "Not connected to the XMPP server");
        return false;
    }
    *priv_ns = delegation_privilege_ns(a->d, domain);
    perm = delegation_privilege(a->d, domain, PERM_MAM);
    if (*priv_ns == NULL || perm == NULL ||
        (strcmp(perm, "set") != 0 && strcmp(perm, "both") != 0)) {
        archive_fail(
            req, 403, ERR_AUTH, COND_FORBIDDEN,
            "%s has not granted %s the XEP-0356 IQ permission for %s "
            "(type set), which reading a user's archive needs (ejabberd "
            "23.01 cannot grant IQ permissions; doc/servers.md)",
            domain, a->conf->component.jid, NS_MAM);
        return false;
    }
    return true;
}

static void archive_start(struct archive *a, struct httpd_request *req,
                          char *user, json_object *payload, unsigned secs)
{
    struct jsonmap_error err;
    const char *priv_ns;
    struct archive_query *q;
    xmpp_stanza_t *iq;

    if (!archive_ready(a, req, &priv_ns)) {
        free(user);
        return;
    }
    q = xcalloc(1, sizeof(*q));
    q->a = a;
    q->req = req;
    q->user = user;
    q->messages = json_object_new_array();
    iq_new_id(component_iqs(a->c), q->queryid, sizeof(q->queryid));
    LIST_INSERT_HEAD(&a->queries, q, link);
    iq = archive_build(a, q, payload, priv_ns, &err);
    if (iq == NULL) {
        httpd_error(req, err.status, err.type, err.condition, err.text);
        archive_query_free(q);
        return;
    }
    if (component_send_iq(a->c, iq, (uint64_t)secs * 1000, archive_on_reply,
                          q) < 0) {
        archive_fail(req, 503, ERR_WAIT, COND_SERVICE_UNAVAILABLE,
                     "The archive query could not be sent to the XMPP server");
        archive_query_free(q);
    } else {
        snprintf(q->wire, sizeof(q->wire), "%s", stanza_attr(iq, ATTR_ID));
        log_debug("archive query sent", "user=%s wire=%s", q->user, q->wire);
        httpd_park(req, archive_on_abort, q);
    }
    xmpp_stanza_release(iq);
}

bool archive_take(struct httpd_request *req, const char *to,
                  const char *pattern, void *arg)
{
    struct archive *a = arg;
    struct archive_params p = {NULL, NULL};
    const char *timeout = httpd_request_header(req, "Restanza-Timeout");
    unsigned secs = a->conf->rest.iq_timeout;
    char *user;

    if (!archive_is_user(a, to))
        return false;
    user = jid_bare(to);
    if (pattern != NULL && !rest_jid_matches(user, pattern)) {
        archive_fail(req, 403, ERR_AUTH, COND_FORBIDDEN,
                     "This token may not read the archive of %s", user);
        free(user);
        return true;
    }
    /* The REST API's timeout headers apply, capped as there. */
    if (timeout == NULL)
        timeout = httpd_request_header(req, "Prosody-Rest-Timeout");
    if (timeout != NULL &&
        rest_parse_timeout(timeout, a->conf->rest.iq_max_timeout, &secs) < 0) {
        archive_fail(req, 400, ERR_MODIFY, COND_BAD_REQUEST,
                     "The timeout header must be a whole number of seconds "
                     "from 1");
        free(user);
        return true;
    }
    p.payload = json_object_new_object();
    httpd_request_query_each(req, archive_param, &p);
    if (p.bad != NULL) {
        archive_fail(
            req, 400, ERR_MODIFY, COND_BAD_REQUEST,
            "Unknown or invalid archive parameter '%s' (with, start, end, "
            "max, before, after)",
            p.bad);
        free(user);
    } else {
        archive_start(a, req, user, p.payload, secs);
    }
    json_object_put(p.payload);
    return true;
}

struct archive *archive_new(struct component *c, struct delegation *d,
                            const struct conf *conf)
{
    struct archive *a = xcalloc(1, sizeof(*a));

    LIST_INIT(&a->queries);
    a->c = c;
    a->d = d;
    a->conf = conf;
    return a;
}

void archive_free(struct archive *a)
{
    struct archive_query *q;

    if (a == NULL)
        return;
    while ((q = LIST_FIRST(&a->queries)) != NULL) {
        iq_untrack(component_iqs(a->c), q->wire);
        archive_on_reply(IQ_SHUTDOWN, NULL, q);
    }
    free(a);
}
