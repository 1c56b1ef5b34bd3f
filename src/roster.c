/* SPDX-License-Identifier: MIT */
/* roster.c: web-app rosters: sync jobs, cache, delegated IQs, logins. */
#include "config.h"

#include "roster.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include "component.h"
#include "conf.h"
#include "delegation.h"
#include "dispatch.h"
#include "httpc.h"
#include "jid.h"
#include "json.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "stanza.h"
#include "strmap.h"
#include "utf8.h"
#include "xmalloc.h"

#define EL_ITEM "item"
#define EL_GROUP "group"
#define ATTR_JID "jid"
#define ATTR_NAME "name"
#define ATTR_SUBSCRIPTION "subscription"

/* Biggest web app answer we read. */
#define ROSTER_MAX_RESPONSE (1024 * 1024)
/* Privileged roster IQs and ejabberd API calls, each from its own send. */
#define ROSTER_WRITE_TIMEOUT_MS 15000
/* A roster set answered later than this halves the window (see below). */
#define ROSTER_SLOW_MS (ROSTER_WRITE_TIMEOUT_MS / 4)
/* A delegated roster get is answered within this (ejabberd waits 32 s). */
#define ROSTER_DELEGATED_MS 24000

/* ---------------------------------------------------------------------- */
/* the manager: fetch, read, diff, write */

enum writer {
    WRITER_NONE,
    WRITER_PRIVILEGE,
    WRITER_API,
};

struct waiter {
    roster_done_cb cb;
    void *arg;
};

enum job_state {
    JOB_QUEUED,
    JOB_FETCHING,
    JOB_READING,
    JOB_WRITING,
};

struct roster_job;

/* An outstanding IQ of a job; outlives the job when the job goes first. */
struct ticket {
    struct roster_job *job;  /* NULL once the job is gone */
    LIST_ENTRY(ticket) link; /* job->tickets while job is set */
    uint64_t sent;           /* loop ms */
    size_t change;           /* index in job->changes (sets only) */
};

struct roster_job {
    struct roster *r;
    char *user; /* local part */
    char *jid;  /* user@domain */
    enum job_state state;
    bool fetch_only; /* refresh the cache, write nothing */
    struct waiter *waiters;
    size_t nwaiters;
    struct httpc_transfer *t;
    LIST_HEAD(roster_tickets, ticket) tickets;
    struct roster_list *want; /* what the web app said (own copy) */
    struct roster_list *have;
    struct roster_change *changes;
    size_t nchanges, next_change;
    size_t pending;       /* privileged IQs of this job in flight */
    bool halted;          /* send no more changes (server silent or gone) */
    uint64_t write_start; /* loop ms when writing began */
    char *error;
    enum roster_fail fail;
    LIST_ENTRY(roster_job) link;   /* r->jobs */
    TAILQ_ENTRY(roster_job) wlink; /* r->wq while in_wq */
    bool in_wq;                    /* has changes left to send */
};

struct roster {
    struct loop *loop;
    struct component *c;
    struct dispatch *dp;
    struct delegation *d;
    const struct conf *conf;
    struct httpc *http;
    struct strmap *cache;  /* user -> struct roster_list */
    struct strmap *latest; /* user -> newest struct roster_job (borrowed) */
    struct strmap *logins; /* user -> uint64_t ms of the last login sync */
    LIST_HEAD(roster_jobs, roster_job)
    jobs; /* queued or running, newest first */
    size_t running;
    /* Privileged writer: jobs taking turns for the window, oldest turn
     * first, and the roster sets in flight across all of them. */
    TAILQ_HEAD(roster_wq, roster_job) wq;
    size_t in_flight, in_flight_peak;
    size_t window;       /* sets allowed in flight now, 1..ROSTER_WINDOW */
    uint64_t window_cut; /* loop ms of the last narrowing */
    struct loop_timer *pump;
    time_t last_sync;
    char *auth; /* "Authorization: Basic ..." for the ejabberd API */
    bool warned_none;
};

static void roster_schedule_pump(struct roster *r);

static enum writer writer_of(const struct roster *r)
{
    const char *p;

    switch (r->conf->roster.writer) {
    case CONF_WRITER_PRIVILEGE:
        return WRITER_PRIVILEGE;
    case CONF_WRITER_API:
        return WRITER_API;
    case CONF_WRITER_NONE:
        return WRITER_NONE;
    case CONF_WRITER_AUTO:
        break;
    }
    p = delegation_privilege(r->d, r->conf->server.domain, "roster");
    if (p != NULL && (strcmp(p, "set") == 0 || strcmp(p, "both") == 0))
        return WRITER_PRIVILEGE;
    return WRITER_NONE;
}

const char *roster_writer(const struct roster *r)
{
    static const char *const names[] = {"none", "privilege", "ejabberd-api"};

    return names[writer_of(r)];
}

size_t roster_cached(const struct roster *r)
{
    return r != NULL ? strmap_count(r->cache) : 0;
}

time_t roster_last_sync(const struct roster *r)
{
    return r != NULL ? r->last_sync : 0;
}

bool roster_ready(const struct roster *r)
{
    return component_state(r->c) == COMPONENT_CONNECTED;
}

size_t roster_in_flight(const struct roster *r)
{
    return r != NULL ? r->in_flight : 0;
}

size_t roster_in_flight_peak(const struct roster *r)
{
    return r != NULL ? r->in_flight_peak : 0;
}

size_t roster_window(const struct roster *r)
{
    return r != NULL ? r->window : 0;
}

/* Queue j for a turn in the window (at the back). */
static void wq_push(struct roster_job *j)
{
    TAILQ_INSERT_TAIL(&j->r->wq, j, wlink);
    j->in_wq = true;
}

/* Take j out of the turn queue wherever it is (no-op when absent). */
static void wq_remove(struct roster_job *j)
{
    if (!j->in_wq)
        return;
    TAILQ_REMOVE(&j->r->wq, j, wlink);
    j->in_wq = false;
}

static void roster_job_free(struct roster_job *j)
{
    wq_remove(j);
    /* Replies to IQs still out find no job: free their window slots now. */
    j->r->in_flight -= j->pending;
    struct ticket *t;

    LIST_FOREACH(t, &j->tickets, link)
    t->job = NULL;
    free(j->waiters);
    free(j->user);
    free(j->jid);
    roster_list_free(j->want);
    roster_list_free(j->have);
    free(j->changes);
    free(j->error);
    free(j);
}

static void roster_job_set_error(struct roster_job *j, enum roster_fail fail,
                                 const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The first failure of a job is the one its waiters hear. */
static void roster_job_set_error(struct roster_job *j, enum roster_fail fail,
                                 const char *fmt, ...)
{
    va_list ap;
    char buf[300];

    if (j->error != NULL)
        return;
    j->fail = fail;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    j->error = xstrdup(buf);
}

/* The job is over: tell every waiter, free it, start the next one. */
static void job_finish(struct roster_job *j)
{
    struct roster *r = j->r;

    if (j->t != NULL) {
        httpc_cancel(r->http, j->t);
        j->t = NULL;
    }
    if (j->state != JOB_QUEUED)
        r->running--;
    LIST_REMOVE(j, link);
    if (strmap_get(r->latest, j->user) == j)
        strmap_del(r->latest, j->user);
    if (!j->fetch_only) {
        uint64_t ms = j->nchanges > 0 ? loop_now(r->loop) - j->write_start : 0;

        r->last_sync = time(NULL);
        if (j->error != NULL)
            log_warn("roster sync failed", "user=%s reason=%s", j->user,
                     j->error);
        else
            log_info("roster synced", "user=%s writer=%s changes=%zu ms=%llu",
                     j->user, roster_writer(r), j->nchanges,
                     (unsigned long long)ms);
    }
    for (size_t i = 0; i < j->nwaiters; i++)
        if (j->waiters[i].cb != NULL)
            j->waiters[i].cb(j->user, j->fail, j->error, j->waiters[i].arg);
    roster_job_free(j);
    roster_schedule_pump(r);
}

static struct ticket *ticket_new(struct roster_job *j)
{
    struct ticket *t = xcalloc(1, sizeof(*t));

    t->job = j;
    t->sent = loop_now(j->r->loop);
    LIST_INSERT_HEAD(&j->tickets, t, link);
    return t;
}

/* Forget t in its job (if any) and free it; returns the job or NULL. */
static struct roster_job *ticket_take(struct ticket *t)
{
    struct roster_job *j = t->job;

    if (j != NULL)
        LIST_REMOVE(t, link);
    free(t);
    return j;
}

static const char *iq_error_text(enum iq_outcome o, xmpp_stanza_t *reply,
                                 char *buf, size_t len)
{
    xmpp_stanza_t *err, *cond;

    if (o == IQ_TIMEOUT) {
        snprintf(buf, len, "XMPP server did not answer within %d s",
                 ROSTER_WRITE_TIMEOUT_MS / 1000);
        return buf;
    }
    if (o != IQ_REPLY)
        return "XMPP stream went away";
    err = stanza_child(reply, EL_ERROR, NULL);
    cond = err != NULL ? stanza_first_element(err) : NULL;
    snprintf(buf, len, "XMPP error %s",
             cond != NULL ? xmpp_stanza_get_name(cond) : "(unknown)");
    return buf;
}

static bool iq_ok(enum iq_outcome o, xmpp_stanza_t *reply)
{
    const char *type;

    if (o != IQ_REPLY)
        return false;
    type = stanza_attr(reply, ATTR_TYPE);
    return type != NULL && strcmp(type, "result") == 0;
}

/* -- privilege writer -- */

/*
 * The roster sets go out through a window of ROSTER_WINDOW IQs in flight,
 * shared by every user being written: a job with changes left waits in
 * r->wq for its turn, sends one IQ per turn and goes to the back, so a
 * user with two changes is not stuck behind one with 10,000. Prosody
 * rewrites the whole roster for every item, so a set takes longer as the
 * roster grows; each IQ's deadline counts from its own send, never from
 * the start of the sync.
 */

static void window_fill(struct roster *r);

/* The job has nothing left to send or await: finish it. */
static bool job_done_writing(struct roster_job *j)
{
    return j->pending == 0 && (j->halted || j->next_change == j->nchanges);
}

/*
 * Our own window queues IQs at the server: with w in flight and a server
 * taking s per set, the last waits about w * s, and that must stay well
 * inside each IQ's deadline. So the window narrows like TCP's: halved
 * (at most once per round trip) when a set took longer than a quarter of
 * the deadline or got none, and widened by one for each quick answer.
 */
static void window_adapt(struct roster *r, enum iq_outcome o, uint64_t sent)
{
    uint64_t now = loop_now(r->loop), rtt = now - sent;

    if (o == IQ_TIMEOUT || (o == IQ_REPLY && rtt > ROSTER_SLOW_MS)) {
        if (sent < r->window_cut || r->window == 1)
            return;
        r->window /= 2;
        r->window_cut = now;
        log_info("roster window narrowed", "window=%zu rtt_ms=%llu", r->window,
                 (unsigned long long)rtt);
    } else if (o == IQ_REPLY && rtt < ROSTER_SLOW_MS / 2 &&
               r->window < ROSTER_WINDOW) {
        r->window++;
    }
}

static void on_priv_set(enum iq_outcome o, xmpp_stanza_t *reply, void *arg)
{
    struct ticket *t = arg;
    uint64_t sent = t->sent;
    size_t change = t->change;
    struct roster_job *j = ticket_take(t);
    struct roster *r;
    char buf[120];

    if (j == NULL)
        return; /* the job is gone and gave its slot back */
    r = j->r;
    j->pending--;
    r->in_flight--;
    window_adapt(r, o, sent);
    if (!iq_ok(o, reply))
        roster_job_set_error(j, ROSTER_FAIL_OTHER, "roster set of %s: %s",
                             j->changes[change].item->jid,
                             iq_error_text(o, reply, buf, sizeof(buf)));
    /* An error reply is about one item; silence or a lost stream means
     * the rest would fare no better: stop sending this user's changes. */
    if (o != IQ_REPLY && !j->halted) {
        j->halted = true;
        wq_remove(j);
        if (j->next_change < j->nchanges)
            log_warn("roster sync stopped", "user=%s sent=%zu of=%zu", j->user,
                     j->next_change, j->nchanges);
    }
    if (job_done_writing(j))
        job_finish(j);
    window_fill(r);
}

/* A roster IQ from the component to the user's bare JID. */
static xmpp_stanza_t *roster_iq(struct roster_job *j, const char *type)
{
    xmpp_ctx_t *ctx = component_ctx(j->r->c);
    xmpp_stanza_t *iq =
        stanza_iq(ctx, type, NULL, component_jid(j->r->c), j->jid);

    stanza_add_element(iq, EL_QUERY, NS_ROSTER);
    return iq;
}

/* Send j's next change (one item per IQ, RFC 6121); a refused send is an
 * error of this user only and the next change goes on. */
static void send_change(struct roster_job *j)
{
    struct roster *r = j->r;
    const struct roster_change *ch = &j->changes[j->next_change++];
    xmpp_stanza_t *iq = roster_iq(j, "set");
    xmpp_stanza_t *q = stanza_child(iq, EL_QUERY, NS_ROSTER);
    struct ticket *t = ticket_new(j);

    t->change = j->next_change - 1;
    stanza_adopt(q, roster_list_item_stanza(component_ctx(r->c), ch->item,
                                            ch->op == ROSTER_OP_REMOVE));
    if (component_send_iq(r->c, iq, ROSTER_WRITE_TIMEOUT_MS, on_priv_set, t) <
        0) {
        enum component_refusal why = component_send_refusal(r->c);

        ticket_take(t);
        roster_job_set_error(j, ROSTER_FAIL_OTHER,
                             "roster set of %s not sent: %s", ch->item->jid,
                             component_refusal_name(why));
        /* Without a stream no later change can go either. */
        if (why == COMPONENT_REFUSED_DISCONNECTED)
            j->halted = true;
    } else {
        j->pending++;
        if (++r->in_flight > r->in_flight_peak)
            r->in_flight_peak = r->in_flight;
    }
    xmpp_stanza_release(iq);
}

/* Give free window slots to the waiting jobs, one change per turn. */
static void window_fill(struct roster *r)
{
    struct roster_job *j;

    while (r->in_flight < r->window && (j = TAILQ_FIRST(&r->wq)) != NULL) {
        wq_remove(j);
        send_change(j);
        if (!j->halted && j->next_change < j->nchanges)
            wq_push(j);
        else if (job_done_writing(j))
            job_finish(j);
    }
}

static void priv_write(struct roster_job *j)
{
    j->state = JOB_WRITING;
    j->next_change = 0;
    wq_push(j);
    window_fill(j->r);
}

static void diff_and_write(struct roster_job *j);

static void on_priv_get(enum iq_outcome o, xmpp_stanza_t *reply, void *arg)
{
    struct roster_job *j = ticket_take(arg);
    char buf[120];

    if (j == NULL)
        return;
    if (!iq_ok(o, reply)) {
        roster_job_set_error(j, ROSTER_FAIL_OTHER, "roster get: %s",
                             iq_error_text(o, reply, buf, sizeof(buf)));
        job_finish(j);
        return;
    }
    j->have = roster_list_from_query(stanza_child(reply, EL_QUERY, NS_ROSTER));
    diff_and_write(j);
}

static void priv_read(struct roster_job *j)
{
    struct roster *r = j->r;
    const char *p =
        delegation_privilege(r->d, r->conf->server.domain, "roster");
    xmpp_stanza_t *iq;
    struct ticket *t;

    j->state = JOB_READING;
    if (p == NULL || strcmp(p, "get") == 0) {
        roster_job_set_error(j, ROSTER_FAIL_OTHER,
                             "roster set privilege not granted");
        job_finish(j);
        return;
    }
    if (strcmp(p, "set") == 0) {
        /* Without get we cannot see what to remove: set everything. */
        j->have = xcalloc(1, sizeof(*j->have));
        diff_and_write(j);
        return;
    }
    iq = roster_iq(j, "get");
    t = ticket_new(j);
    if (component_send_iq(r->c, iq, ROSTER_WRITE_TIMEOUT_MS, on_priv_get, t) <
        0) {
        ticket_take(t);
        roster_job_set_error(j, ROSTER_FAIL_OTHER, "XMPP server not connected");
        job_finish(j);
    }
    xmpp_stanza_release(iq);
}

/* -- ejabberd-api writer -- */

static void api_next(struct roster_job *j);

/* POST api_url/cmd with a JSON body; cb gets the job back. */
static void api_call(struct roster_job *j, const char *cmd, json_object *args,
                     httpc_cb cb)
{
    struct roster *r = j->r;
    const char *headers[] = {"Content-Type: application/json",
                             "Accept: application/json", r->auth, NULL};
    char *body = json_to_string(args);
    char *url = xmalloc(strlen(r->conf->roster.api_url) + strlen(cmd) + 2);
    struct httpc_request req = {
        .method = "POST",
        .headers = headers,
        .body = body,
        .body_len = strlen(body),
        .timeout_ms = ROSTER_WRITE_TIMEOUT_MS,
    };
    size_t base = strlen(r->conf->roster.api_url);

    memcpy(url, r->conf->roster.api_url, base);
    if (base > 0 && url[base - 1] == '/')
        base--;
    sprintf(url + base, "/%s", cmd);
    req.url = url;
    j->t = httpc_start(r->http, &req, cb, j);
    free(url);
    free(body);
    json_object_put(args);
    if (j->t == NULL) {
        roster_job_set_error(j, ROSTER_FAIL_OTHER,
                             "cannot start ejabberd API request");
        job_finish(j);
    }
}

/* NULL when the API call worked, else why (in buf). */
static const char *api_failed(const struct httpc_response *resp, char *buf,
                              size_t len)
{
    if (resp->error != HTTPC_OK) {
        snprintf(buf, len, "ejabberd API: %s", resp->error_text);
        return buf;
    }
    if (resp->status != 200) {
        snprintf(buf, len, "ejabberd API: HTTP %ld: %.80s", resp->status,
                 resp->body);
        return buf;
    }
    return NULL;
}

static void on_api_write(const struct httpc_response *resp, void *arg)
{
    struct roster_job *j = arg;
    char buf[200];
    const char *why;

    j->t = NULL;
    if (resp->error == HTTPC_E_SHUTDOWN) {
        roster_job_set_error(j, ROSTER_FAIL_OTHER, "shutting down");
        job_finish(j);
        return;
    }
    why = api_failed(resp, buf, sizeof(buf));
    if (why == NULL && strcmp(resp->body, "0") != 0)
        why = "ejabberd API: command failed";
    if (why != NULL)
        roster_job_set_error(j, ROSTER_FAIL_OTHER, "%s", why);
    api_next(j);
}

/* Apply the changes one call at a time (one item each). */
static void api_next(struct roster_job *j)
{
    const struct conf *conf = j->r->conf;
    const struct roster_change *ch;
    json_object *args;
    struct jid who;

    if (j->next_change == j->nchanges) {
        job_finish(j);
        return;
    }
    ch = &j->changes[j->next_change++];
    if (jid_parse(ch->item->jid, &who) < 0 || who.local == NULL) {
        jid_clear(&who);
        roster_job_set_error(j, ROSTER_FAIL_OTHER,
                             "cannot write %s through the ejabberd API",
                             ch->item->jid);
        api_next(j);
        return;
    }
    args = json_object_new_object();
    json_object_object_add(args, "localuser", json_object_new_string(j->user));
    json_object_object_add(args, "localhost",
                           json_object_new_string(conf->server.domain));
    json_object_object_add(args, "user", json_object_new_string(who.local));
    json_object_object_add(args, "host", json_object_new_string(who.domain));
    jid_clear(&who);
    if (ch->op == ROSTER_OP_REMOVE) {
        api_call(j, "delete_rosteritem", args, on_api_write);
        return;
    }
    {
        /* API v0 joins groups with ';' (get_roster splits them again). */
        size_t len = 1;
        char *groups;
        for (size_t i = 0; i < ch->item->ngroups; i++)
            len += strlen(ch->item->groups[i]) + 1;
        groups = xcalloc(1, len);
        for (size_t i = 0; i < ch->item->ngroups; i++) {
            if (i > 0)
                strcat(groups, ";");
            strcat(groups, ch->item->groups[i]);
        }
        json_object_object_add(
            args, "nick",
            json_object_new_string(ch->item->name ? ch->item->name : ""));
        json_object_object_add(args, "group", json_object_new_string(groups));
        json_object_object_add(
            args, "subs",
            json_object_new_string(roster_list_sub_name(ch->item->sub)));
        free(groups);
    }
    api_call(j, "add_rosteritem", args, on_api_write);
}

static void on_api_get(const struct httpc_response *resp, void *arg)
{
    struct roster_job *j = arg;
    char buf[200];
    const char *why;

    j->t = NULL;
    if (resp->error == HTTPC_E_SHUTDOWN) {
        roster_job_set_error(j, ROSTER_FAIL_OTHER, "shutting down");
        job_finish(j);
        return;
    }
    why = api_failed(resp, buf, sizeof(buf));
    if (why == NULL) {
        j->have = roster_list_from_api(resp->body, resp->len, buf, sizeof(buf));
        if (j->have == NULL)
            why = buf;
    }
    if (why != NULL) {
        roster_job_set_error(j, ROSTER_FAIL_OTHER, "%s", why);
        job_finish(j);
        return;
    }
    diff_and_write(j);
}

static void api_read(struct roster_job *j)
{
    json_object *args = json_object_new_object();

    j->state = JOB_READING;
    json_object_object_add(args, "user", json_object_new_string(j->user));
    json_object_object_add(args, "host",
                           json_object_new_string(j->r->conf->server.domain));
    api_call(j, "get_roster", args, on_api_get);
}

static void diff_and_write(struct roster_job *j)
{
    j->nchanges = roster_list_diff(j->want, j->have, &j->changes);
    if (j->nchanges == 0) {
        job_finish(j);
        return;
    }
    j->state = JOB_WRITING;
    j->write_start = loop_now(j->r->loop);
    if (writer_of(j->r) == WRITER_API)
        api_next(j);
    else
        priv_write(j);
}

/* -- fetch -- */

static void on_fetch(const struct httpc_response *resp, void *arg)
{
    struct roster_job *j = arg;
    struct roster *r = j->r;
    struct roster_list *l;
    char err[200];
    enum writer w;

    j->t = NULL;
    metrics_inc(METRIC_ROSTER_FETCHES);
    if (resp->error != HTTPC_OK || resp->status != 200) {
        metrics_inc(METRIC_ROSTER_FETCH_FAILURES);
        if (resp->error == HTTPC_E_SHUTDOWN)
            roster_job_set_error(j, ROSTER_FAIL_OTHER, "shutting down");
        else if (resp->error == HTTPC_E_TIMEOUT)
            roster_job_set_error(j, ROSTER_FAIL_APP_TIMEOUT,
                                 "web app: timeout: %s", resp->error_text);
        else if (resp->error != HTTPC_OK)
            roster_job_set_error(j, ROSTER_FAIL_OTHER, "web app: %s",
                                 resp->error_text);
        else
            roster_job_set_error(j, ROSTER_FAIL_OTHER, "web app: HTTP %ld",
                                 resp->status);
        job_finish(j);
        return;
    }
    l = roster_list_parse(j->jid, resp->body, resp->len, err, sizeof(err));
    if (l == NULL) {
        metrics_inc(METRIC_ROSTER_FETCH_FAILURES);
        roster_job_set_error(j, ROSTER_FAIL_OTHER,
                             "web app: invalid roster: %s", err);
        job_finish(j);
        return;
    }
    strmap_set(r->cache, j->user, l);
    /* The cache entry may be replaced while we write: keep a copy. */
    j->want = roster_list_dup(l);
    if (j->fetch_only) {
        job_finish(j);
        return;
    }
    w = writer_of(r);
    if (w == WRITER_NONE) {
        if (!r->warned_none)
            log_warn("roster writer is none: rosters are fetched but not "
                     "written",
                     "writer=%s", conf_writer_name(r->conf->roster.writer));
        r->warned_none = true;
        job_finish(j);
    } else if (w == WRITER_API) {
        api_read(j);
    } else if (!roster_ready(r)) {
        roster_job_set_error(j, ROSTER_FAIL_OTHER, "XMPP server not connected");
        job_finish(j);
    } else {
        priv_read(j);
    }
}

/* roster.url with %s replaced by the encoded user; caller frees. */
static char *fetch_url(const char *tmpl, const char *user)
{
    char *enc = httpc_escape(user);
    const char *pct = strstr(tmpl, "%s");
    size_t pre = (size_t)(pct - tmpl);
    char *url = xmalloc(strlen(tmpl) + strlen(enc) + 1);

    memcpy(url, tmpl, pre);
    strcpy(url + pre, enc);
    strcat(url, pct + 2);
    free(enc);
    return url;
}

static void roster_job_start(struct roster_job *j)
{
    struct roster *r = j->r;
    const char *headers[] = {"Accept: application/json", NULL};
    char *url = fetch_url(r->conf->roster.url, j->user);
    unsigned timeout = r->conf->roster.timeout * 1000;
    struct httpc_request req = {
        .url = url,
        .headers = headers,
        .timeout_ms = timeout,
        .max_response = ROSTER_MAX_RESPONSE,
    };

    /* A delegated get must be answered within ROSTER_DELEGATED_MS. */
    if (j->fetch_only && req.timeout_ms > ROSTER_DELEGATED_MS - 4000)
        req.timeout_ms = ROSTER_DELEGATED_MS - 4000;
    r->running++;
    j->state = JOB_FETCHING;
    log_debug("roster fetch", "user=%s url=%s", j->user, url);
    j->t = httpc_start(r->http, &req, on_fetch, j);
    free(url);
    if (j->t == NULL) {
        roster_job_set_error(j, ROSTER_FAIL_OTHER,
                             "cannot start the web app request");
        job_finish(j);
    }
}

static void on_pump(void *arg)
{
    struct roster *r = arg;

    r->pump = NULL;
    /* Oldest first: the list is newest first, so walk from the tail. */
    while (r->running < r->conf->roster.concurrency) {
        struct roster_job *q = NULL;
        struct roster_job *j;

        LIST_FOREACH(j, &r->jobs, link)
        if (j->state == JOB_QUEUED)
            q = j;
        if (q == NULL)
            break;
        roster_job_start(q);
    }
}

static void roster_schedule_pump(struct roster *r)
{
    if (r->pump == NULL)
        r->pump = loop_timer_add(r->loop, 0, on_pump, r);
}

static void job_add_waiter(struct roster_job *j, roster_done_cb cb, void *arg)
{
    j->waiters = xrealloc(j->waiters, (j->nwaiters + 1) * sizeof(*j->waiters));
    j->waiters[j->nwaiters++] = (struct waiter){cb, arg};
}

/* Queue a job for user (or join a queued one). */
static void enqueue(struct roster *r, const char *user, bool fetch_only,
                    roster_done_cb cb, void *arg)
{
    struct roster_job *j = strmap_get(r->latest, user);

    if (j != NULL && (j->state == JOB_QUEUED || fetch_only)) {
        if (!fetch_only)
            j->fetch_only = false;
        job_add_waiter(j, cb, arg);
        return;
    }
    j = xcalloc(1, sizeof(*j));
    j->r = r;
    j->user = xstrdup(user);
    j->jid = xmalloc(strlen(user) + strlen(r->conf->server.domain) + 2);
    sprintf(j->jid, "%s@%s", user, r->conf->server.domain);
    j->fetch_only = fetch_only;
    job_add_waiter(j, cb, arg);
    LIST_INIT(&j->tickets);
    LIST_INSERT_HEAD(&r->jobs, j, link);
    strmap_set(r->latest, user, j);
    roster_schedule_pump(r);
}

void roster_sync(struct roster *r, const char *user, roster_done_cb cb,
                 void *arg)
{
    enqueue(r, user, false, cb, arg);
}

/* ---------------------------------------------------------------------- */
/* delegated jabber:iq:roster */

/* A delegated get waiting for the web app. */
struct dreq {
    struct roster *r;
    xmpp_stanza_t *outer; /* our copy */
    xmpp_stanza_t *inner; /* inside outer */
    char *dlg_ns;
    struct loop_timer *timer;
    bool answered;
};

/* Send an inner error for the forwarded IQ. */
static void delegated_error(struct roster *r, xmpp_stanza_t *outer,
                            xmpp_stanza_t *inner, const char *dlg_ns,
                            const char *type, const char *cond,
                            const char *text)
{
    xmpp_ctx_t *ctx = component_ctx(r->c);
    xmpp_stanza_t *reply = delegation_inner_reply(ctx, inner, "error");

    stanza_adopt(reply, stanza_error_element(ctx, type, cond, text));
    dispatch_delegated_reply(r->dp, outer, dlg_ns, reply);
}

/* Answer a roster get with the cached web app roster of user. */
static void delegated_result(struct roster *r, xmpp_stanza_t *outer,
                             xmpp_stanza_t *inner, const char *dlg_ns,
                             const struct roster_list *l)
{
    xmpp_ctx_t *ctx = component_ctx(r->c);
    xmpp_stanza_t *reply = delegation_inner_reply(ctx, inner, "result");
    xmpp_stanza_t *q = stanza_add_element(reply, EL_QUERY, NS_ROSTER);

    for (size_t i = 0; i < l->n; i++)
        stanza_adopt(q, roster_list_item_stanza(ctx, &l->items[i], false));
    dispatch_delegated_reply(r->dp, outer, dlg_ns, reply);
}

static void dreq_free(struct dreq *q)
{
    loop_timer_cancel(q->r->loop, q->timer);
    xmpp_stanza_release(q->outer);
    free(q->dlg_ns);
    free(q);
}

/* The web app did not answer in time: never leave the client waiting. */
static void on_dreq_timer(void *arg)
{
    struct dreq *q = arg;

    q->timer = NULL;
    q->answered = true;
    delegated_error(q->r, q->outer, q->inner, q->dlg_ns, ERR_WAIT,
                    COND_REMOTE_TIMEOUT, "the roster web app did not answer");
}

static void on_dreq_fetched(const char *user, enum roster_fail fail,
                            const char *error, void *arg)
{
    struct dreq *q = arg;
    const struct roster_list *l = strmap_get(q->r->cache, user);

    if (!q->answered) {
        if (error == NULL && l != NULL)
            delegated_result(q->r, q->outer, q->inner, q->dlg_ns, l);
        else if (fail == ROSTER_FAIL_APP_TIMEOUT)
            delegated_error(q->r, q->outer, q->inner, q->dlg_ns, ERR_WAIT,
                            COND_REMOTE_TIMEOUT,
                            "the roster web app did not answer");
        else
            delegated_error(q->r, q->outer, q->inner, q->dlg_ns, ERR_CANCEL,
                            COND_INTERNAL, "the roster web app failed");
    }
    dreq_free(q);
}

static void roster_on_delegated(xmpp_stanza_t *outer, xmpp_stanza_t *inner,
                                const char *dlg_ns, void *arg)
{
    struct roster *r = arg;
    const char *type = stanza_attr(inner, ATTR_TYPE);
    const char *from = stanza_attr(inner, ATTR_FROM);
    const char *to = stanza_attr(inner, ATTR_TO);
    struct jid f = {0}, t = {0};
    const struct roster_list *l;
    struct dreq *q;

    if (from == NULL || jid_parse(from, &f) < 0) {
        delegated_error(r, outer, inner, dlg_ns, ERR_MODIFY, COND_BAD_REQUEST,
                        NULL);
        return;
    }
    /* ejabberd forwards our own privileged roster IQs back (#1737). */
    if (f.local == NULL) {
        delegated_error(r, outer, inner, dlg_ns, ERR_CANCEL,
                        COND_FEATURE_NOT_IMPLEMENTED,
                        "restanza does not serve this roster request");
        goto out;
    }
    if (strcasecmp(f.domain, r->conf->server.domain) != 0 ||
        (to != NULL && (jid_parse(to, &t) < 0 || t.local == NULL ||
                        strcasecmp(t.local, f.local) != 0 ||
                        strcasecmp(t.domain, f.domain) != 0))) {
        delegated_error(r, outer, inner, dlg_ns, ERR_AUTH, COND_FORBIDDEN,
                        NULL);
        goto out;
    }
    if (type == NULL || strcmp(type, "get") != 0) {
        delegated_error(r, outer, inner, dlg_ns, ERR_CANCEL, COND_NOT_ALLOWED,
                        "the roster is managed by a web app");
        goto out;
    }
    l = strmap_get(r->cache, f.local);
    if (l != NULL) {
        delegated_result(r, outer, inner, dlg_ns, l);
        goto out;
    }
    q = xcalloc(1, sizeof(*q));
    q->r = r;
    q->outer = xmpp_stanza_copy(outer);
    q->inner = delegation_unwrap(q->outer, &dlg_ns);
    q->dlg_ns = xstrdup(dlg_ns);
    q->timer = loop_timer_add(r->loop, ROSTER_DELEGATED_MS, on_dreq_timer, q);
    enqueue(r, f.local, true, on_dreq_fetched, q);
out:
    jid_clear(&f);
    jid_clear(&t);
}

/* ---------------------------------------------------------------------- */
/* login trigger */

/* An available presence of a user of ours: sync at most once a while. */
static bool on_presence(xmpp_stanza_t *st, void *arg)
{
    struct roster *r = arg;
    const char *from = stanza_attr(st, ATTR_FROM);
    uint64_t now = loop_now(r->loop), *last;
    struct jid f;

    if (stanza_attr(st, ATTR_TYPE) != NULL || from == NULL ||
        jid_parse(from, &f) < 0)
        return false;
    if (f.local != NULL && strcasecmp(f.domain, r->conf->server.domain) == 0) {
        last = strmap_get(r->logins, f.local);
        if (last == NULL ||
            now - *last >= (uint64_t)r->conf->roster.min_interval * 1000) {
            if (last == NULL) {
                last = xmalloc(sizeof(*last));
                strmap_set(r->logins, f.local, last);
            }
            *last = now;
            log_info("roster login sync", "user=%s", f.local);
            roster_sync(r, f.local, NULL, NULL);
        }
    }
    jid_clear(&f);
    return false;
}

/* ---------------------------------------------------------------------- */

static void list_free_cb(void *v)
{
    roster_list_free(v);
}

bool roster_offer_presence(xmpp_stanza_t *st, void *arg)
{
    return on_presence(st, arg);
}

bool roster_delegated(xmpp_stanza_t *outer, xmpp_stanza_t *inner,
                      const char *dlg_ns, void *arg)
{
    roster_on_delegated(outer, inner, dlg_ns, arg);
    return true;
}

struct roster *roster_new(struct loop *loop, struct component *c,
                          struct dispatch *dp, struct delegation *d,
                          const struct conf *conf)
{
    struct roster *r;

    if (conf->roster.url == NULL)
        return NULL;
    r = xcalloc(1, sizeof(*r));
    LIST_INIT(&r->jobs);
    TAILQ_INIT(&r->wq);
    r->loop = loop;
    r->c = c;
    r->dp = dp;
    r->d = d;
    r->conf = conf;
    r->window = ROSTER_WINDOW;
    r->http = httpc_new(loop, conf->roster.concurrency);
    r->cache = strmap_new(list_free_cb);
    r->latest = strmap_new(NULL);
    r->logins = strmap_new(free);
    if (conf->roster.api_user != NULL && conf->roster.api_password != NULL) {
        xmpp_ctx_t *ctx = component_ctx(c);
        size_t n = strlen(conf->roster.api_user) +
                   strlen(conf->roster.api_password) + 2;
        char *cred = xmalloc(n);
        char *b64;
        snprintf(cred, n, "%s:%s", conf->roster.api_user,
                 conf->roster.api_password);
        b64 =
            xmpp_base64_encode(ctx, (const unsigned char *)cred, strlen(cred));
        r->auth = xmalloc(strlen(b64) + 32);
        sprintf(r->auth, "Authorization: Basic %s", b64);
        xmpp_free(ctx, b64);
        free(cred);
    }
    log_info("roster enabled", "url=%s writer=%s", conf->roster.url,
             conf_writer_name(conf->roster.writer));
    return r;
}

void roster_free(struct roster *r)
{
    struct roster_job *j;

    if (r == NULL)
        return;
    loop_timer_cancel(r->loop, r->pump);
    r->pump = NULL;
    while ((j = LIST_FIRST(&r->jobs)) != NULL) {
        roster_job_set_error(j, ROSTER_FAIL_OTHER, "shutting down");
        job_finish(j);
        loop_timer_cancel(r->loop, r->pump);
        r->pump = NULL;
    }
    httpc_free(r->http);
    strmap_free(r->cache);
    strmap_free(r->latest);
    strmap_free(r->logins);
    free(r->auth);
    free(r);
}
