/* SPDX-License-Identifier: MIT */
/* events.c: the durable event log: at-least-once delivery, /events routes. */
#include "config.h"

#include "events.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <json-c/json.h>

#include "auth.h"
#include "conf.h"
#include "httpd.h"
#include "jid.h"
#include "log.h"
#include "loop.h"
#include "store.h"
#include "strmap.h"
#include "webhook.h"
#include "xmalloc.h"

/*
 * Delivery is driven by the log, not by memory: a scan walks pending
 * events in id order from a cursor and starts the first one of every
 * sender that has none active; when a sender's event ends, its oldest
 * pending one (found through an index) starts. So memory holds at most
 * EVENTS_MAX_ACTIVE events however long the backlog, order is kept per
 * sender, and a restart resumes from the log alone.
 */

/* One event being delivered or waiting for its next attempt. */
struct active {
    struct events *e;
    int64_t id;
    int64_t ts_ms;
    char *sender;
    char *stanza;
    unsigned attempts;
    struct loop_timer *timer;
    bool superseded; /* a newer presence came while this one was posted */
};

/* An open event stream (GET /events, Accept: text/event-stream). */
struct sse {
    struct events *e;
    struct httpd_stream *s;
    int64_t cursor; /* sent up to this event id */
    bool gone;      /* a write failed: the stream is closed */
    struct sse *prev, *next;
};

struct events {
    struct loop *loop;
    struct store *s;
    struct webhook *w;
    const struct conf *conf;
    struct strmap *active; /* sender -> struct active */
    int64_t cursor;        /* pending events up to here have been seen */
    struct loop_timer *pump_timer;
    struct loop_timer *prune_timer;
    uint64_t retries;
    struct sse *streams;
    int64_t committed; /* highest event id known committed */
    struct loop_timer *keepalive_timer;
    bool down;       /* no delivery done for EVENTS_DOWN_MS, one failed */
    int64_t done_ms; /* when a delivery was last done */
    struct loop_timer *probe_timer;
};

static int64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

uint64_t events_backoff_ms(unsigned attempt)
{
    uint64_t ms = EVENTS_BACKOFF_MIN_MS;

    for (unsigned i = 1; i < attempt && ms < EVENTS_BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms > EVENTS_BACKOFF_MAX_MS ? EVENTS_BACKOFF_MAX_MS : ms;
}

static void active_free(void *p)
{
    struct active *a = p;

    if (a == NULL)
        return;
    loop_timer_cancel(a->e->loop, a->timer);
    free(a->sender);
    free(a->stanza);
    free(a);
}

/* The ordering key: bare JID for messages, full JID for presences. */
static char *sender_key(const char *kind, const char *from)
{
    char *bare;
    char *key;

    if (from == NULL)
        from = "";
    if (strcmp(kind, "message") != 0)
        return xasprintf("p:%s", from);
    bare = jid_bare(from);
    key = xasprintf("m:%s", bare != NULL ? bare : from);
    free(bare);
    return key;
}

/* Presence is state (SPEC §9): the newest of a full JID replaces the older
 * ones still waiting; one being posted right now finishes its attempt. */
static void supersede(struct events *e, const char *key, int64_t id)
{
    struct active *a = strmap_get(e->active, key);
    bool posting = a != NULL && a->timer == NULL;

    if (store_event_supersede(e->s, key, id, posting ? a->id : 0) < 0)
        return;
    if (posting)
        a->superseded = true; /* not retried if this attempt fails */
    else if (a != NULL)
        strmap_del(e->active, key); /* the scan finds the newest */
}

static int64_t on_log(const char *kind, const char *from, const char *xml,
                      void *arg)
{
    struct events *e = arg;
    char *key = sender_key(kind, from);
    /* IQs are request/response: logged as delivered, answered as today. */
    int state =
        strcmp(kind, "iq") == 0 ? STORE_EVENT_DELIVERED : STORE_EVENT_PENDING;
    int64_t id = store_event_append(e->s, wall_ms(), kind, key, xml, state);

    if (id > 0 && strcmp(kind, "presence") == 0)
        supersede(e, key, id);
    free(key);
    return id;
}

static void schedule_pump(struct events *e);
static void attempt(struct active *a);

/* Start delivering the event of row (its sender has nothing active). */
static void activate(struct events *e, const struct store_event *row)
{
    struct active *a = xcalloc(1, sizeof(*a));
    int64_t now = wall_ms();

    a->e = e;
    a->id = row->id;
    a->ts_ms = row->ts_ms;
    a->sender = xstrdup(row->sender);
    a->stanza = xstrdup(row->stanza);
    a->attempts = row->attempts;
    strmap_set(e->active, a->sender, a);
    if (row->next_ms > now)
        a->timer = loop_timer_add(e->loop, (uint64_t)(row->next_ms - now),
                                  (loop_timer_cb)attempt, a);
    else
        a->timer = loop_timer_add(e->loop, 0, (loop_timer_cb)attempt, a);
}

static int on_first_pending(const struct store_event *row, void *arg)
{
    activate(arg, row);
    return 1;
}

/* a's delivery is over: free it and start its sender's next event. */
static void release(struct active *a)
{
    struct events *e = a->e;
    char *sender = xstrdup(a->sender);

    strmap_del(e->active, sender); /* frees a */
    /* Events of this sender after the cursor are found by the scan. */
    store_event_first_pending(e->s, sender, on_first_pending, e);
    free(sender);
    schedule_pump(e);
}

/* The webhook answers again after an outage: the events waiting for their
 * next attempt are tried now, not at the end of a backoff that grew while
 * it was down, so a backlog drains as soon as the app is back. (While it
 * answers other events, a failing one keeps its backoff.) */
static void wake_retries(struct events *e)
{
    size_t pos = 0;
    const char *key;
    void *v;
    unsigned n = 0;

    e->down = false;
    while (strmap_next(e->active, &pos, &key, &v)) {
        struct active *a = v;
        if (a->timer != NULL && a->attempts > 0) {
            loop_timer_cancel(e->loop, a->timer);
            a->timer = loop_timer_add(e->loop, 0, (loop_timer_cb)attempt, a);
            n++;
        }
    }
    if (n > 0)
        log_info("webhook answers again: retrying now", "events=%u", n);
}

/* While the webhook is down, one waiting event is tried every
 * EVENTS_PROBE_MS whatever its backoff: the first that goes through wakes
 * the others, so the outage ends for all within that, not within the
 * longest backoff (up to 5 min). */
static void probe(void *arg)
{
    struct events *e = arg;
    size_t pos = 0;
    const char *key;
    void *v;

    e->probe_timer = NULL;
    if (!e->down)
        return;
    while (strmap_next(e->active, &pos, &key, &v)) {
        struct active *a = v;
        if (a->timer != NULL && a->attempts > 0) {
            loop_timer_cancel(e->loop, a->timer);
            a->timer = loop_timer_add(e->loop, 0, (loop_timer_cb)attempt, a);
            e->probe_timer = loop_timer_add(e->loop, EVENTS_PROBE_MS, probe, e);
            return;
        }
    }
}

static void on_outcome(int64_t id, enum webhook_outcome o, const char *error,
                       void *arg)
{
    struct active *a = arg;
    struct events *e = a->e;
    int64_t now = wall_ms();
    uint64_t delay;

    a->attempts++;
    if (o == WEBHOOK_OUTCOME_DONE) {
        store_event_update(e->s, id, STORE_EVENT_DELIVERED, a->attempts, 0,
                           error);
        release(a);
        e->done_ms = now;
        if (e->down)
            wake_retries(e);
        return;
    }
    if (now - e->done_ms >= EVENTS_DOWN_MS)
        e->down = true;
    if (e->down && e->probe_timer == NULL)
        e->probe_timer = loop_timer_add(e->loop, EVENTS_PROBE_MS, probe, e);
    if (a->superseded) {
        store_event_update(e->s, id, STORE_EVENT_DELIVERED, a->attempts, 0,
                           "superseded by a newer presence");
        release(a);
        return;
    }
    if (now - a->ts_ms >= (int64_t)e->conf->webhook.retry_for * 1000) {
        log_warn("event is a dead letter", "event=%lld attempts=%u error=%s",
                 (long long)id, a->attempts, error);
        store_event_update(e->s, id, STORE_EVENT_DEAD, a->attempts, 0, error);
        release(a);
        return;
    }
    e->retries++;
    delay = events_backoff_ms(a->attempts);
    delay += (uint64_t)rand() % (delay / 4 + 1); /* jitter */
    store_event_update(e->s, id, STORE_EVENT_PENDING, a->attempts,
                       now + (int64_t)delay, error);
    a->timer = loop_timer_add(e->loop, delay, (loop_timer_cb)attempt, a);
}

static void attempt(struct active *a)
{
    a->timer = NULL;
    if (webhook_deliver(a->e->w, a->id, a->attempts + 1, a->stanza, on_outcome,
                        a) < 0) {
        store_event_update(a->e->s, a->id, STORE_EVENT_DEAD, a->attempts, 0,
                           "logged stanza cannot be parsed");
        release(a);
    }
}

static int on_scan(const struct store_event *row, void *arg)
{
    struct events *e = arg;

    e->cursor = row->id;
    if (strmap_get(e->active, row->sender) == NULL)
        activate(e, row);
    return strmap_count(e->active) >= EVENTS_MAX_ACTIVE;
}

/* Walk pending events after the cursor while there is room. */
static void pump(void *arg)
{
    struct events *e = arg;
    int64_t before;

    e->pump_timer = NULL;
    do {
        before = e->cursor;
        if (strmap_count(e->active) >= EVENTS_MAX_ACTIVE)
            return;
        if (store_event_each(e->s, e->cursor, 256, STORE_EVENT_PENDING, on_scan,
                             e) < 0)
            return;
    } while (e->cursor != before);
}

static void schedule_pump(struct events *e)
{
    /* No webhook (url removed since the events were logged): they wait in
     * the log, listed by GET /events, until one is configured again. */
    if (e->w != NULL && e->pump_timer == NULL)
        e->pump_timer = loop_timer_add(e->loop, 0, pump, e);
}

static void sse_fill(struct sse *x);

static void on_commit(bool ok, void *arg)
{
    struct events *e = arg;

    if (ok)
        e->committed = store_event_last_id(e->s);
    if (ok)
        for (struct sse *x = e->streams, *next; x != NULL; x = next) {
            next = x->next;
            sse_fill(x);
        }

    /* Other writers commit too (muc.c's saved rooms), with no webhook. */
    if (e->w != NULL)
        webhook_logged(e->w, ok);
    if (ok)
        schedule_pump(e);
}

/* Delivered events older than store.retention go, once an hour. */
static void prune(void *arg)
{
    struct events *e = arg;
    int64_t n = store_event_prune(
        e->s, wall_ms() - (int64_t)e->conf->store.retention * 1000);

    if (n > 0)
        log_info("events pruned", "count=%lld", (long long)n);
    e->prune_timer = loop_timer_add(e->loop, 3600 * 1000, prune, e);
}

/* ---- HTTP ---- */

/* A bearer token of events.tokens (or ?access_token=); answers if not. */
static bool authorized(struct events *e, struct httpd_request *req)
{
    const char *hdr = httpd_request_header(req, "Authorization");
    const char *cred = httpd_request_query(req, "access_token");

    if (hdr != NULL) {
        if (auth_scheme(hdr, &cred) != AUTH_SCHEME_BEARER) {
            auth_deny(req, AUTH_DENY_MISSING, AUTH_CHALLENGE_BEARER);
            return false;
        }
    } else if (cred == NULL) {
        auth_deny(req, AUTH_DENY_MISSING, AUTH_CHALLENGE_BEARER);
        return false;
    }
    for (size_t i = 0; i < e->conf->events.ntokens; i++)
        if (auth_secret_equal(cred, e->conf->events.tokens[i].token))
            return true;
    auth_deny(req, AUTH_DENY_WRONG, NULL);
    return false;
}

/* A non-negative integer; def when v is NULL, -1 if bad. */
static int64_t parse_int(const char *v, int64_t def)
{
    int64_t n = 0;

    if (v == NULL)
        return def;
    if (*v == '\0' || strlen(v) > 18)
        return -1;
    for (; *v != '\0'; v++) {
        if (*v < '0' || *v > '9')
            return -1;
        n = n * 10 + (*v - '0');
    }
    return n;
}

/* A non-negative integer query parameter; def when absent, -1 if bad. */
static int64_t query_int(struct httpd_request *req, const char *name,
                         int64_t def)
{
    return parse_int(httpd_request_query(req, name), def);
}

/* ---- Event streams ---- */

static void sse_forget(struct sse *x)
{
    struct events *e = x->e;

    if (x->prev != NULL)
        x->prev->next = x->next;
    else
        e->streams = x->next;
    if (x->next != NULL)
        x->next->prev = x->prev;
    free(x);
}

/* One event: id, kind and the stanza as mod_rest JSON on one line. */
static int on_sse_row(const struct store_event *row, void *arg)
{
    struct sse *x = arg;
    struct events *e = x->e;
    char *stanza, *text;
    bool ok;

    /* Not committed yet (this loop turn's transaction): a failed commit
     * would take it back. It is sent after its commit. */
    if (row->id > e->committed)
        return 1;
    stanza = e->w != NULL ? webhook_event_json(e->w, row->stanza) : NULL;
    text = xasprintf("id: %lld\nevent: %s\ndata: %s\n\n", (long long)row->id,
                     row->kind, stanza != NULL ? stanza : "null");
    ok = httpd_stream_write(x->s, text, strlen(text));

    free(stanza);
    free(text);
    x->cursor = row->id;
    x->gone = !ok;
    return !ok || httpd_stream_buffered(x->s) >= EVENTS_STREAM_AHEAD;
}

/* Read the log after the stream's cursor into its buffer, a page at a
 * time, up to EVENTS_STREAM_AHEAD: the rest follows when it drains. */
static void sse_fill(struct sse *x)
{
    int64_t before;

    do {
        before = x->cursor;
        if (httpd_stream_buffered(x->s) >= EVENTS_STREAM_AHEAD)
            break;
        if (store_event_each(x->e->s, x->cursor, 64, -1, on_sse_row, x) < 0)
            break;
    } while (!x->gone && x->cursor != before);
    if (x->gone)
        sse_forget(x); /* httpd closed it (over its bound) */
}

static void on_sse_want(struct httpd_stream *s, void *arg)
{
    (void)s;
    sse_fill(arg);
}

static void on_sse_close(struct httpd_stream *s, void *arg)
{
    (void)s;
    sse_forget(arg);
}

static void sse_keepalive(void *arg)
{
    struct events *e = arg;
    static const char line[] = ": keepalive\n\n";

    e->keepalive_timer = NULL;
    for (struct sse *x = e->streams, *next; x != NULL; x = next) {
        next = x->next;
        /* A client that reads has an empty buffer; one that does not
         * is not sent more. */
        if (httpd_stream_buffered(x->s) == 0 &&
            !httpd_stream_write(x->s, line, sizeof(line) - 1))
            sse_forget(x);
    }
    if (e->streams != NULL)
        e->keepalive_timer =
            loop_timer_add(e->loop, EVENTS_KEEPALIVE_MS, sse_keepalive, e);
}

/* GET /events with Accept: text/event-stream (authorized). From
 * Last-Event-ID, else ?after=, else the newest event. */
static void sse_start(struct events *e, struct httpd_request *req)
{
    const char *last = httpd_request_header(req, "Last-Event-ID");
    int64_t after =
        last != NULL ? parse_int(last, -1) : query_int(req, "after", -2);
    struct sse *x;
    static const char hello[] = ": restanza events\n\n";

    if (after == -2)
        after = e->committed;
    if (after < 0) {
        httpd_error(req, 400, "modify", "bad-request",
                    "Last-Event-ID and after must be event ids");
        return;
    }
    x = xcalloc(1, sizeof(*x));
    x->e = e;
    x->cursor = after;
    x->s = httpd_stream_start(req, "text/event-stream", on_sse_want,
                              on_sse_close, x);
    if (x->s == NULL) {
        free(x);
        httpd_add_header(req, "Retry-After", "5");
        httpd_error(req, 503, "wait", "resource-constraint",
                    "Too many event streams");
        return;
    }
    x->next = e->streams;
    if (e->streams != NULL)
        e->streams->prev = x;
    e->streams = x;
    /* The client sees the stream open before the first event. */
    httpd_stream_write(x->s, hello, sizeof(hello) - 1);
    if (e->keepalive_timer == NULL)
        e->keepalive_timer =
            loop_timer_add(e->loop, EVENTS_KEEPALIVE_MS, sse_keepalive, e);
}

/* Whether the client asks for an event stream. */
static bool wants_stream(struct httpd_request *req)
{
    const char *accept = httpd_request_header(req, "Accept");

    return accept != NULL && strstr(accept, "text/event-stream") != NULL;
}

struct page {
    struct events *e;
    json_object *list;
    int64_t last;
    bool dead;
};

static int on_page_row(const struct store_event *row, void *arg)
{
    struct page *p = arg;
    json_object *item, *st;
    char *stanza;

    /* As in a stream: an event of the batch not committed yet is listed
     * after its commit (a failed one takes it back). */
    if (!p->dead && row->id > p->e->committed)
        return 1;
    item = json_object_new_object();
    /* Without a webhook (removed since) there is no XMPP context to map
     * with: the stanza is null. */
    stanza = p->e->w != NULL ? webhook_event_json(p->e->w, row->stanza) : NULL;
    st = stanza != NULL ? json_tokener_parse(stanza) : NULL;
    free(stanza);
    json_object_object_add(item, "id", json_object_new_int64(row->id));
    json_object_object_add(item, "kind", json_object_new_string(row->kind));
    json_object_object_add(item, "stanza", st);
    if (p->dead) {
        json_object_object_add(item, "attempts",
                               json_object_new_int64(row->attempts));
        json_object_object_add(item, "last_error",
                               row->last_error != NULL
                                   ? json_object_new_string(row->last_error)
                                   : NULL);
    }
    json_object_array_add(p->list, item);
    p->last = row->id;
    return 0;
}

/* GET /events?after=ID&limit=N (JSON page) and GET /events/dead. */
static void on_get(struct httpd_request *req, void *arg)
{
    struct events *e = arg;
    struct page p = {.e = e, .list = json_object_new_array()};
    json_object *out = json_object_new_object();
    int64_t after, limit;

    if (!authorized(e, req)) {
        json_object_put(p.list);
        json_object_put(out);
        return;
    }
    p.dead = strcmp(httpd_request_path(req), "/events/dead") == 0;
    if (!p.dead && wants_stream(req)) {
        json_object_put(p.list);
        json_object_put(out);
        sse_start(e, req);
        return;
    }
    after = query_int(req, "after", p.dead ? 0 : e->committed);
    limit = query_int(req, "limit", EVENTS_PAGE_DEFAULT);
    if (after < 0 || limit < 1 || limit > EVENTS_PAGE_MAX) {
        json_object_put(p.list);
        json_object_put(out);
        httpd_error(req, 400, "modify", "bad-request",
                    "after must be an event id, limit 1 to 1000");
        return;
    }
    p.last = after;
    if (store_event_each(e->s, after, (size_t)limit,
                         p.dead ? STORE_EVENT_DEAD : -1, on_page_row, &p) < 0) {
        json_object_put(p.list);
        json_object_put(out);
        httpd_error(req, 500, "wait", "internal-server-error",
                    "Event log read failed");
        return;
    }
    json_object_object_add(out, p.dead ? "dead" : "events", p.list);
    if (!p.dead)
        json_object_object_add(out, "next", json_object_new_int64(p.last));
    httpd_respond_json(req, 200, out);
}

static int on_found(const struct store_event *row, void *arg)
{
    struct store_event *copy = arg;

    *copy = *row;
    copy->sender = xstrdup(row->sender);
    copy->stanza = xstrdup(row->stanza);
    return 1;
}

/* The dead letter named by "<id>" or "<id>/redeliver" (the path after
 * /events/dead/). */
static int64_t dead_id(const char *rest, const char *suffix)
{
    const char *p = rest;
    int64_t id = 0;

    if (*p < '1' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9' && id < INT64_MAX / 10; p++)
        id = id * 10 + (*p - '0');
    return strcmp(p, suffix) == 0 ? id : -1;
}

/* POST /events/dead/{id}/redeliver and DELETE /events/dead/{id}. */
static void on_dead(struct httpd_request *req, void *arg)
{
    struct events *e = arg;
    bool del = strcmp(httpd_request_method(req), "DELETE") == 0;
    int64_t id = dead_id(httpd_request_rest(req), del ? "" : "/redeliver");
    struct store_event row = {0};

    if (!authorized(e, req))
        return;
    if (id < 0 || store_event_get(e->s, id, on_found, &row) != 1 ||
        row.state != STORE_EVENT_DEAD) {
        free((char *)row.sender);
        free((char *)row.stanza);
        httpd_error(req, 404, "cancel", "item-not-found",
                    "No such dead letter");
        return;
    }
    if (store_event_update(e->s, id,
                           del ? STORE_EVENT_DELIVERED : STORE_EVENT_PENDING,
                           row.attempts, 0, del ? "deleted" : NULL) < 0 ||
        store_flush(e->s) < 0) {
        httpd_error(req, 503, "wait", "resource-constraint",
                    "Event log write failed");
    } else {
        if (!del && strmap_get(e->active, row.sender) == NULL) {
            row.state = STORE_EVENT_PENDING;
            row.next_ms = 0;
            activate(e, &row);
        }
        log_info(del ? "dead letter deleted" : "dead letter redelivered",
                 "event=%lld", (long long)id);
        httpd_respond(req, del ? 204 : 202, "application/json", del ? "" : "{}",
                      del ? 0 : 2);
    }
    free((char *)row.sender);
    free((char *)row.stanza);
}

struct events *events_new(struct loop *loop, struct store *s, struct webhook *w,
                          struct httpd *h, const struct conf *conf)
{
    struct events *e;

    if (s == NULL)
        return NULL;
    e = xcalloc(1, sizeof(*e));
    e->loop = loop;
    e->s = s;
    e->w = w;
    e->conf = conf;
    e->active = strmap_new(active_free);
    /* Events restored from the log may wait for a retry: the first
     * delivery done wakes them. */
    e->down = true;
    srand((unsigned)wall_ms());
    e->committed = store_event_last_id(s);
    store_on_commit(s, on_commit, e);
    if (w != NULL) {
        webhook_set_log(w, on_log, e);
        schedule_pump(e);
    }
    httpd_route(h, "GET", "/events", false, "events_get", on_get, e);
    httpd_route(h, "GET", "/events/dead", false, "events_dead_list", on_get, e);
    httpd_route(h, "POST", "/events/dead", true, "events_dead", on_dead, e);
    httpd_route(h, "DELETE", "/events/dead", true, "events_dead", on_dead, e);
    e->prune_timer = loop_timer_add(loop, 0, prune, e);
    return e;
}

void events_free(struct events *e)
{
    if (e == NULL)
        return;
    if (e->w != NULL)
        webhook_set_log(e->w, NULL, NULL);
    loop_timer_cancel(e->loop, e->pump_timer);
    loop_timer_cancel(e->loop, e->prune_timer);
    loop_timer_cancel(e->loop, e->keepalive_timer);
    loop_timer_cancel(e->loop, e->probe_timer);
    while (e->streams != NULL) {
        httpd_stream_end(e->streams->s);
        sse_forget(e->streams);
    }
    strmap_free(e->active);
    free(e);
}

void events_stats(struct events *e, struct events_stats *out)
{
    int64_t oldest;

    memset(out, 0, sizeof(*out));
    if (e == NULL)
        return;
    out->backlog = store_event_count(e->s, STORE_EVENT_PENDING);
    out->dead = store_event_count(e->s, STORE_EVENT_DEAD);
    oldest = store_event_oldest_pending_ms(e->s);
    out->oldest_age_ms = oldest > 0 ? wall_ms() - oldest : 0;
    out->retries = e->retries;
    out->last_id = store_event_last_id(e->s);
    out->disk_bytes = store_disk_bytes(e->s);
    out->failing = store_failing(e->s);
}
