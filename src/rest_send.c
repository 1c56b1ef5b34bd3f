/* SPDX-License-Identifier: MIT */
/* rest_send.c: /rest messages and presences: sent, or held while the send
 * queue is full, answered at once or once the server confirmed them. */
#include "config.h"

#include "rest_send.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "component.h"
#include "conf.h"
#include "httpd.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "muc.h"
#include "rest_error.h"
#include "rest_format.h"
#include "rest_internal.h"
#include "rest_iq.h"
#include "stanza.h"
#include "store.h"
#include "xmalloc.h"

/* Requests held for send queue room at once (each is also a parked HTTP
 * connection, so http.max_connections bounds it first). */
#define HELD_MAX 10000
/* An overload episode ends after this long without a held send. */
#define EPISODE_QUIET_MS 1000

/* A message or presence parked until the send queue has room, then (with
 * Prefer: wait=server) until the server confirmed it. */
struct rest_held {
    struct rest_job j; /* j.req is parked */
    xmpp_stanza_t *st;
    struct loop_timer *timer; /* rest.queue_wait, then the confirm deadline */
    bool confirm;             /* the caller waits for the server */
    unsigned confirm_secs;
    bool confirming;             /* sent: on the confirm list */
    uint64_t seq;                /* its outbox number once sent */
    TAILQ_ENTRY(rest_held) link; /* r->held or r->confirm */
};

/* A 202 waiting for its stanza's outbox entry to be committed (store on):
 * MHD writes an answer within the loop turn it is given, before the turn's
 * own commit, and a SIGKILL in between would lose an accepted stanza. */
struct rest_stored {
    struct httpd_request *req; /* NULL once the client went away */
    const char *route;
    struct rest_stored *next;
};

static void episode_check_end(struct rest *r);

/* Quiet for EPISODE_QUIET_MS: the episode ends with its counts. */
static void on_episode_quiet(void *arg)
{
    struct rest *r = arg;
    struct rest_episode *ep = &r->ep;

    ep->quiet = NULL;
    if (r->nheld > 0)
        return;
    if (component_state(r->c) == COMPONENT_CONNECTED &&
        !component_has_room(r->c)) {
        episode_check_end(r);
        return;
    }
    log_info("rest sends no longer held",
             "held=%llu sent=%llu timed_out=%llu failed=%llu ms=%llu",
             (unsigned long long)ep->held, (unsigned long long)ep->sent,
             (unsigned long long)ep->timed_out, (unsigned long long)ep->failed,
             (unsigned long long)(loop_clock_ms() - ep->start_ms));
    memset(ep, 0, sizeof(*ep));
}

/* No send is held: once the queue has room (or the stream is gone) and no
 * send was held again for a while, the episode ends. A queue that fills
 * and drains by the socket buffer's bites is one episode, not dozens. */
static void episode_check_end(struct rest *r)
{
    struct rest_episode *ep = &r->ep;

    if (!ep->on || r->nheld > 0 || ep->quiet != NULL)
        return;
    if (component_state(r->c) == COMPONENT_CONNECTED &&
        !component_has_room(r->c)) {
        component_want_room(r->c); /* rest_send_on_room() comes back here */
        return;
    }
    ep->quiet = loop_timer_add(r->loop, EPISODE_QUIET_MS, on_episode_quiet, r);
}

static void held_unlink(struct rest_held *h)
{
    struct rest *r = h->j.r;

    TAILQ_REMOVE(h->confirming ? &r->confirm : &r->held, h, link);
    if (!h->confirming)
        r->nheld--;
}

/* Append to the held (FIFO) or the confirm list (by outbox number). */
static void held_append(struct rest_held *h)
{
    struct rest *r = h->j.r;

    TAILQ_INSERT_TAIL(h->confirming ? &r->confirm : &r->held, h, link);
    if (!h->confirming)
        r->nheld++;
}

static void held_free(struct rest_held *h)
{
    held_unlink(h);
    loop_timer_cancel(h->j.r->loop, h->timer);
    if (h->st != NULL)
        xmpp_stanza_release(h->st);
    free(h);
}

/* Answer a held request with an error, without a log line each: the
 * episode's lines count them. */
static void held_fail(struct rest_held *h, enum rest_error_id id)
{
    const struct rest_error *e = rest_error_get(id);

    rest_error_respond(h->j.req, h->j.err_fmt, e->status, e->type, e->condition,
                       e->text);
    held_free(h);
}

/* No room within rest.queue_wait: 503 with Retry-After. */
static void on_held_timeout(void *arg)
{
    struct rest_held *h = arg;
    struct rest *r = h->j.r;

    h->timer = NULL;
    metrics_inc(METRIC_REST_HELD_TIMEOUTS);
    r->ep.timed_out++;
    held_fail(h, RE_QUEUE_FULL);
    episode_check_end(r);
}

/* The client went away while its send was held: it is not sent. */
static void on_held_abort(struct httpd_request *req, void *arg)
{
    struct rest_held *h = arg;
    struct rest *r = h->j.r;

    (void)req;
    if (!h->confirming)
        r->ep.failed++;
    held_free(h);
    episode_check_end(r);
}

/* Not confirmed by the deadline: 504, the stanza stays in the outbox. */
static void on_confirm_timeout(void *arg)
{
    struct rest_held *h = arg;

    h->timer = NULL;
    metrics_inc(METRIC_REST_CONFIRM_TIMEOUTS);
    httpd_add_header(h->j.req, "Restanza-Outbox", "pending");
    held_fail(h, RE_UNCONFIRMED);
}

/* The server confirmed every tracked stanza up to seq. */
void rest_send_on_confirmed(uint64_t seq, void *arg)
{
    struct rest *r = arg;
    struct rest_held *h;

    while ((h = TAILQ_FIRST(&r->confirm)) != NULL && h->seq <= seq) {
        httpd_add_header(h->j.req, "Restanza-Outbox", "confirmed");
        httpd_add_header(h->j.req, "Preference-Applied", "wait=server");
        httpd_respond(h->j.req, 200, NULL, "", 0);
        held_free(h);
    }
}

/* One commit for every send of the turn, then their 202s. */
static void on_stored(void *arg)
{
    struct rest *r = arg;
    struct rest_stored *list = r->stored;

    r->stored_timer = NULL;
    r->stored = NULL;
    if (list != NULL && r->store != NULL)
        store_flush(r->store); /* on failure they are kept in memory */
    while (list != NULL) {
        struct rest_stored *s = list;
        list = s->next;
        if (s->req != NULL) {
            log_debug("rest request", "route=%s status=202", s->route);
            httpd_respond(s->req, 202, NULL, "", 0);
        }
        free(s);
    }
}

static void on_stored_abort(struct httpd_request *req, void *arg)
{
    (void)req;
    ((struct rest_stored *)arg)->req = NULL;
}

/* 202 now, or with the store on after the commit (from a timer). */
static void answer_accepted(struct rest_job *j)
{
    struct rest *r = j->r;
    struct rest_stored *s;

    if (r->store == NULL) {
        log_debug("rest request", "route=%s status=202", j->route);
        httpd_respond(j->req, 202, NULL, "", 0);
        return;
    }
    s = xmalloc(sizeof(*s));
    s->req = j->req;
    s->route = j->route;
    s->next = r->stored;
    r->stored = s;
    if (r->stored_timer == NULL)
        r->stored_timer = loop_timer_add(r->loop, 0, on_stored, r);
    httpd_park(j->req, on_stored_abort, s);
}

/*
 * Queue the stanza to the server, kept in the outbox until the server
 * confirms it, and answer 202, or with wait=server 200 once confirmed.
 * h is the request's held record when it was held (and is parked), else
 * NULL.
 */
static void send_stanza(struct rest_job *j, xmpp_stanza_t *st, bool confirm,
                        unsigned secs, struct rest_held *h)
{
    struct rest *r = j->r;
    bool fresh = h == NULL;
    uint64_t seq;

    if (component_send_tracked(r->c, st, &seq) < 0) {
        if (h != NULL)
            held_fail(h, rest_error_refusal(r));
        else
            rest_error_fail(j, rest_error_refusal(r));
        return;
    }
    if (!confirm && h == NULL) {
        answer_accepted(j);
        return;
    }
    if (!confirm) {
        /* Parked: MHD writes it next turn, after rest_send_on_room's
         * flush. */
        log_debug("rest request", "route=%s status=202", j->route);
        httpd_respond(j->req, 202, NULL, "", 0);
        held_free(h);
        return;
    }
    if (h != NULL) {
        held_unlink(h);
        loop_timer_cancel(r->loop, h->timer);
    } else {
        h = xcalloc(1, sizeof(*h));
        h->j = *j;
    }
    h->confirming = true;
    h->seq = seq;
    h->timer = loop_timer_add(r->loop, 1000ull * secs, on_confirm_timeout, h);
    held_append(h);
    if (fresh)
        httpd_park(j->req, on_held_abort, h);
}

/* Room in the queue (or the stream went away): oldest waiter first. */
void rest_send_on_room(void *arg)
{
    struct rest *r = arg;
    struct rest_held *h;

    while ((h = TAILQ_FIRST(&r->held)) != NULL) {
        if (component_state(r->c) != COMPONENT_CONNECTED) {
            r->ep.failed++;
            held_fail(h, RE_UNAVAILABLE);
            continue;
        }
        if (!component_has_room(r->c)) {
            component_want_room(r->c);
            break;
        }
        r->ep.sent++;
        send_stanza(&h->j, h->st, h->confirm, h->confirm_secs, h);
    }
    /* Their 202s leave next turn, before that turn's commit. */
    if (r->store != NULL)
        store_flush(r->store);
    episode_check_end(r);
}

/* Park the request until there is room, at most rest.queue_wait. */
static void hold(struct rest_job *j, xmpp_stanza_t *st, bool confirm,
                 unsigned secs)
{
    struct rest *r = j->r;
    struct rest_held *h;

    if (r->conf->rest.queue_wait == 0 || r->nheld >= HELD_MAX) {
        rest_error_fail(j, RE_QUEUE_FULL);
        return;
    }
    loop_timer_cancel(r->loop, r->ep.quiet);
    r->ep.quiet = NULL;
    if (!r->ep.on) {
        log_warn("rest sends held: xmpp send queue full",
                 "queue_max=%zu queue_wait=%u", r->conf->component.queue_max,
                 r->conf->rest.queue_wait);
        r->ep.on = true;
        r->ep.start_ms = loop_clock_ms();
    }
    r->ep.held++;
    metrics_inc(METRIC_REST_HELD);
    h = xcalloc(1, sizeof(*h));
    h->j = *j;
    h->st = xmpp_stanza_clone(st);
    h->confirm = confirm;
    h->confirm_secs = secs;
    h->timer = loop_timer_add(r->loop, 1000ull * r->conf->rest.queue_wait,
                              on_held_timeout, h);
    held_append(h);
    component_want_room(r->c);
    httpd_park(j->req, on_held_abort, h);
}

/* Prefer: wait=server or ?confirm=1: answer once the server confirmed. */
static bool wants_confirm(struct rest_job *j)
{
    const char *prefer = httpd_request_header(j->req, "Prefer");
    const char *q = httpd_request_query(j->req, "confirm");

    if (q != NULL && strcmp(q, "1") == 0)
        return true;
    for (const char *p = prefer; p != NULL && *p != '\0'; p++)
        if (strncasecmp(p, "wait=server", 11) == 0 &&
            (p == prefer || p[-1] == ' ' || p[-1] == ',' || p[-1] == ';') &&
            (p[11] == '\0' || p[11] == ' ' || p[11] == ',' || p[11] == ';'))
            return true;
    return false;
}

/* Send now, or hold while older sends wait or the queue is full. */
void rest_send_or_hold(struct rest_job *j, xmpp_stanza_t *st)
{
    bool confirm = wants_confirm(j);
    unsigned secs = 0;

    if (confirm && rest_iq_timeout(j, &secs) < 0) {
        rest_error_fail(j, RE_TIMEOUT_HEADER);
        return;
    }
    if (TAILQ_EMPTY(&j->r->held) && component_has_room(j->r->c))
        send_stanza(j, st, confirm, secs, NULL);
    else
        hold(j, st, confirm, secs);
}

/* A groupchat message waiting for the room's reflection. */
struct groupchat {
    struct rest *r;
    struct httpd_request *req;
    enum rest_format fmt, err_fmt;
    struct muc_send *send;
};

static void on_groupchat_done(const struct muc_outcome *o, void *arg)
{
    struct groupchat *g = arg;
    xmpp_stanza_t *st = o->stanza;

    if (st != NULL)
        rest_format_respond(g->req, g->fmt, o->status, &st, 1, false);
    else
        rest_error_respond(g->req, g->err_fmt, o->status, o->type, o->cond,
                           o->text);
    free(g);
}

static void on_groupchat_abort(struct httpd_request *req, void *arg)
{
    struct groupchat *g = arg;

    (void)req;
    muc_send_cancel(g->r->muc, g->send);
    free(g);
}

/* SPEC §11: answered once the room reflects it (or refuses it). */
void rest_send_groupchat(struct rest_job *j, xmpp_stanza_t *st)
{
    struct groupchat *g = xcalloc(1, sizeof(*g));
    struct muc_send *send;
    unsigned secs;

    if (rest_iq_timeout(j, &secs) < 0) {
        free(g);
        rest_error_fail(j, RE_TIMEOUT_HEADER);
        return;
    }
    g->r = j->r;
    g->req = j->req;
    g->fmt = j->fmt;
    g->err_fmt = j->err_fmt;
    /* g is freed by the callback when the answer is known at once. */
    send =
        muc_send_groupchat(j->r->muc, st, secs * 1000u, on_groupchat_done, g);
    if (send != NULL) {
        g->send = send;
        httpd_park(j->req, on_groupchat_abort, g);
    }
}

void rest_send_shutdown(struct rest *r)
{
    struct rest_held *h;

    loop_timer_cancel(r->loop, r->stored_timer);
    on_stored(r);
    while ((h = TAILQ_FIRST(&r->held)) != NULL)
        held_fail(h, RE_SHUTDOWN);
    while ((h = TAILQ_FIRST(&r->confirm)) != NULL) {
        httpd_add_header(h->j.req, "Restanza-Outbox", "pending");
        held_fail(h, RE_SHUTDOWN);
    }
    loop_timer_cancel(r->loop, r->ep.quiet);
}
