/* SPDX-License-Identifier: MIT */
/* status.c: the operations routes GET /status (JSON), GET /ready (for a load
 * balancer's health check) and GET /metrics. */
#include "config.h"

#include "status.h"
#include "status_priv.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "component.h"
#include "conf.h"
#include "delegation.h"
#include "httpd.h"
#include "iq.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "strbuf.h"
#include "strmap.h"
#include "version.h"
#include "webhook.h"
#include "events.h"
#include "roster.h"
#include "xmalloc.h"

struct status {
    struct httpd *h;
    struct component *c;
    struct delegation *d;
    const struct conf *conf;
    struct webhook *w;     /* or NULL */
    struct events *ev;     /* or NULL (no store) */
    struct roster *roster; /* or NULL */
};

/* True when the request may see operations data; answers it otherwise. */
static bool status_authorized(struct status *s, struct httpd_request *req)
{
    if (s->conf->http.admin_token == NULL)
        return true; /* only allowed by conf on a loopback listener */
    return auth_require_bearer(req, s->conf->http.admin_token, "admin");
}

/* The durable event log's figures (SPEC §9). */
static json_object *events_json(struct events *ev)
{
    struct events_stats st;
    json_object *o = json_object_new_object();

    events_stats(ev, &st);
    json_object_object_add(o, "backlog", json_object_new_int64(st.backlog));
    json_object_object_add(o, "oldest_undelivered_seconds",
                           json_object_new_int64(st.oldest_age_ms / 1000));
    json_object_object_add(o, "retries",
                           json_object_new_int64((int64_t)st.retries));
    json_object_object_add(o, "dead", json_object_new_int64(st.dead));
    json_object_object_add(o, "last_id", json_object_new_int64(st.last_id));
    json_object_object_add(o, "disk_bytes",
                           json_object_new_int64(st.disk_bytes));
    json_object_object_add(o, "store_failing",
                           json_object_new_boolean(st.failing));
    return o;
}

static json_object *privileges_json(const struct strmap *perms)
{
    json_object *o = json_object_new_object();
    const char **keys = strmap_sorted_keys(perms);

    for (const char **k = keys; *k != NULL; k++)
        json_object_object_add(o, *k,
                               json_object_new_string(strmap_get(perms, *k)));
    free(keys);
    return o;
}

/* The "roster" object of /status. */
static json_object *roster_json(const struct roster *r)
{
    json_object *ro = json_object_new_object();

    json_object_object_add(ro, "writer",
                           json_object_new_string(roster_writer(r)));
    json_object_object_add(ro, "cached_users",
                           json_object_new_int64((int64_t)roster_cached(r)));
    json_object_object_add(ro, "last_sync",
                           json_object_new_int64((int64_t)roster_last_sync(r)));
    json_object_object_add(ro, "in_flight",
                           json_object_new_int64((int64_t)roster_in_flight(r)));
    json_object_object_add(
        ro, "in_flight_peak",
        json_object_new_int64((int64_t)roster_in_flight_peak(r)));
    json_object_object_add(ro, "window", json_object_new_int64(ROSTER_WINDOW));
    json_object_object_add(ro, "window_now",
                           json_object_new_int64((int64_t)roster_window(r)));
    return ro;
}

char *status_json(struct status *s, size_t *len)
{
    json_object *root = json_object_new_object();
    json_object *xmpp = json_object_new_object();
    json_object *dlg = json_object_new_object();
    json_object *priv = json_object_new_object();
    json_object *hook = json_object_new_object();
    json_object *http = json_object_new_object();
    const char **servers = delegation_servers(s->d);
    const char *err = component_last_error(s->c);
    char *out;

    json_object_object_add(root, "version",
                           json_object_new_string(RESTANZA_VERSION));
    json_object_object_add(
        xmpp, "state",
        json_object_new_string(component_state_name(component_state(s->c))));
    json_object_object_add(xmpp, "component",
                           json_object_new_string(component_jid(s->c)));
    json_object_object_add(xmpp, "server",
                           json_object_new_string(component_server(s->c)));
    json_object_object_add(xmpp, "domain",
                           json_object_new_string(s->conf->server.domain));
    json_object_object_add(xmpp, "since",
                           json_object_new_int64(component_since(s->c)));
    json_object_object_add(xmpp, "last_error",
                           err ? json_object_new_string(err) : NULL);
    json_object_object_add(
        xmpp, "reconnects",
        json_object_new_int64((int64_t)component_reconnects(s->c)));
    json_object_object_add(
        xmpp, "pending_iqs",
        json_object_new_int64((int64_t)iq_pending(component_iqs(s->c))));
    json_object_object_add(root, "xmpp", xmpp);

    for (const char **sv = servers; *sv != NULL; sv++) {
        const struct strmap *ns = delegation_namespaces(s->d, *sv);
        const struct strmap *perms = delegation_privileges(s->d, *sv);
        json_object *arr = json_object_new_array();
        const char **names = strmap_sorted_keys(ns);
        for (const char **n = names; *n != NULL; n++)
            json_object_array_add(arr, json_object_new_string(*n));
        free(names);
        json_object_object_add(dlg, *sv, arr);
        json_object_object_add(priv, *sv, privileges_json(perms));
    }
    free(servers);
    json_object_object_add(root, "delegations", dlg);
    json_object_object_add(root, "privileges", priv);
    json_object_object_add(
        hook, "queued", json_object_new_int64((int64_t)webhook_queued(s->w)));
    json_object_object_add(
        hook, "in_flight",
        json_object_new_int64((int64_t)webhook_in_flight(s->w)));
    json_object_object_add(root, "webhook", hook);
    if (s->ev != NULL)
        json_object_object_add(root, "events", events_json(s->ev));
    if (s->roster != NULL)
        json_object_object_add(root, "roster", roster_json(s->roster));
    json_object_object_add(http, "parked",
                           json_object_new_int64((int64_t)httpd_parked(s->h)));
    json_object_object_add(root, "http", http);

    out = xstrdup(json_object_to_json_string_ext(
        root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(root);
    if (len != NULL)
        *len = strlen(out);
    return out;
}

/* GET /ready: 200 while the XMPP stream is up, 503 otherwise (SPEC 12). */
static void on_ready(struct httpd_request *req, void *arg)
{
    struct status *s = arg;
    enum component_state st = component_state(s->c);
    char body[96];
    int len;

    if (!status_authorized(s, req))
        return;
    len = snprintf(body, sizeof(body), "{\"ready\":%s,\"xmpp\":\"%s\"}",
                   st == COMPONENT_CONNECTED ? "true" : "false",
                   component_state_name(st));
    if (st != COMPONENT_CONNECTED)
        httpd_add_header(req, "Retry-After", "1");
    httpd_respond(req, st == COMPONENT_CONNECTED ? 200 : 503,
                  "application/json", body, (size_t)len);
}

static void on_status(struct httpd_request *req, void *arg)
{
    struct status *s = arg;
    size_t len;
    char *body;

    if (!status_authorized(s, req))
        return;
    body = status_json(s, &len);
    httpd_respond(req, 200, "application/json", body, len);
    free(body);
}

static void on_metrics(struct httpd_request *req, void *arg)
{
    struct status *s = arg;
    char *buf = NULL;
    size_t len = 0;

    if (!status_authorized(s, req))
        return;
    metrics_render(&buf, &len);
    strbuf_appendf(&buf, &len,
                   "# HELP restanza_xmpp_connected 1 while the component "
                   "stream is up.\n"
                   "# TYPE restanza_xmpp_connected gauge\n"
                   "restanza_xmpp_connected %d\n"
                   "# HELP restanza_iq_pending IQs waiting for a reply.\n"
                   "# TYPE restanza_iq_pending gauge\n"
                   "restanza_iq_pending %zu\n"
                   "# HELP restanza_http_parked HTTP requests waiting for "
                   "XMPP.\n"
                   "# TYPE restanza_http_parked gauge\n"
                   "restanza_http_parked %zu\n"
                   "# HELP restanza_http_connections HTTP connections open "
                   "(at most http.max_connections).\n"
                   "# TYPE restanza_http_connections gauge\n"
                   "restanza_http_connections %zu\n",
                   component_state(s->c) == COMPONENT_CONNECTED,
                   iq_pending(component_iqs(s->c)), httpd_parked(s->h),
                   httpd_connections(s->h));
    strbuf_appendf(
        &buf, &len,
        "# HELP restanza_http_max_connections http.max_connections (the "
        "limit of open and parked connections).\n"
        "# TYPE restanza_http_max_connections gauge\n"
        "restanza_http_max_connections %u\n"
        "# HELP restanza_webhook_queued Stanzas waiting for a free webhook "
        "connection.\n"
        "# TYPE restanza_webhook_queued gauge\n"
        "restanza_webhook_queued %zu\n"
        "# HELP restanza_webhook_in_flight Webhook requests in flight.\n"
        "# TYPE restanza_webhook_in_flight gauge\n"
        "restanza_webhook_in_flight %zu\n"
        "# HELP restanza_webhook_queue_max webhook.queue_max (above it "
        "stanzas are refused).\n"
        "# TYPE restanza_webhook_queue_max gauge\n"
        "restanza_webhook_queue_max %u\n",
        s->conf->http.max_connections, webhook_queued(s->w),
        webhook_in_flight(s->w), s->conf->webhook.queue_max);
    /* Always served (0 without a store) so that dashboards need no case. */
    {
        struct events_stats st;
        events_stats(s->ev, &st);
        strbuf_appendf(
            &buf, &len,
            "# HELP restanza_events_backlog Logged messages and presences "
            "not yet delivered (dead letters excluded).\n"
            "# TYPE restanza_events_backlog gauge\n"
            "restanza_events_backlog %lld\n"
            "# HELP restanza_events_oldest_undelivered_seconds Age of the "
            "oldest undelivered event.\n"
            "# TYPE restanza_events_oldest_undelivered_seconds gauge\n"
            "restanza_events_oldest_undelivered_seconds %lld\n"
            "# HELP restanza_events_retries_total Failed deliveries "
            "scheduled for another attempt.\n"
            "# TYPE restanza_events_retries_total counter\n"
            "restanza_events_retries_total %llu\n"
            "# HELP restanza_events_dead Dead letters.\n"
            "# TYPE restanza_events_dead gauge\n"
            "restanza_events_dead %lld\n"
            "# HELP restanza_store_bytes Size of the store and its WAL.\n"
            "# TYPE restanza_store_bytes gauge\n"
            "restanza_store_bytes %lld\n",
            (long long)st.backlog, (long long)(st.oldest_age_ms / 1000),
            (unsigned long long)st.retries, (long long)st.dead,
            (long long)st.disk_bytes);
    }
    httpd_respond(req, 200, "text/plain; version=0.0.4", buf, len);
    free(buf);
}

struct status *status_new(struct httpd *h, struct component *c,
                          struct delegation *d, const struct conf *conf)
{
    struct status *s = xcalloc(1, sizeof(*s));

    s->h = h;
    s->c = c;
    s->d = d;
    s->conf = conf;
    httpd_route(h, "GET", "/status", false, "status", on_status, s);
    httpd_route(h, "GET", "/ready", false, "ready", on_ready, s);
    httpd_route(h, "GET", "/metrics", false, "metrics", on_metrics, s);
    return s;
}

void status_set_roster(struct status *s, struct roster *r)
{
    s->roster = r;
}

void status_set_webhook(struct status *s, struct webhook *w)
{
    s->w = w;
}

void status_set_events(struct status *s, struct events *ev)
{
    s->ev = ev;
}

void status_free(struct status *s)
{
    free(s);
}
