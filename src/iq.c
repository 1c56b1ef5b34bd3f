/* SPDX-License-Identifier: MIT */
/* iq.c: the table of IQs we sent and still wait for: id, callback, deadline. */
#include "config.h"

#include "iq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jid.h"
#include "log.h"
#include "loop.h"
#include "stanza.h"
#include "strmap.h"
#include "xmalloc.h"

struct pending {
    struct iq_table *table;
    char *id;
    char *peer;
    iq_cb cb;
    void *arg;
    struct loop_timer *timer;
};

struct iq_table {
    struct loop *loop;
    struct strmap *pending; /* id -> struct pending */
    uint64_t counter;
    unsigned salt;
};

struct iq_table *iq_table_new(struct loop *loop)
{
    struct iq_table *t = xcalloc(1, sizeof(*t));
    t->loop = loop;
    t->pending = strmap_new(NULL);
    /* Ids differ across restarts, so late replies to a previous run miss. */
    t->salt = (unsigned)loop_clock_ms() * 2654435761u ^ (unsigned)getpid();
    return t;
}

static void pending_free(struct pending *p)
{
    free(p->id);
    free(p->peer);
    free(p);
}

/* Remove p from the table and run its callback once. */
static void iq_finish(struct pending *p, enum iq_outcome outcome,
                      xmpp_stanza_t *reply)
{
    iq_cb cb = p->cb;
    void *arg = p->arg;

    strmap_take(p->table->pending, p->id);
    loop_timer_cancel(p->table->loop, p->timer);
    pending_free(p);
    cb(outcome, reply, arg);
}

static void on_timeout(void *arg)
{
    struct pending *p = arg;

    p->timer = NULL; /* the loop frees a fired timer */
    log_debug("iq timed out", "id=%s peer=%s", p->id, p->peer);
    iq_finish(p, IQ_TIMEOUT, NULL);
}

void iq_new_id(struct iq_table *table, char *buf, size_t size)
{
    snprintf(buf, size, "r%08x%llx", table->salt,
             (unsigned long long)++table->counter);
}

char *iq_assign_id(struct iq_table *table, xmpp_stanza_t *iq)
{
    const char *old = stanza_attr(iq, ATTR_ID);
    char *given = old != NULL ? xstrdup(old) : NULL;
    char id[32];

    iq_new_id(table, id, sizeof(id));
    xmpp_stanza_set_id(iq, id);
    return given;
}

xmpp_stanza_t *iq_reply_with_id(const xmpp_stanza_t *reply, const char *id)
{
    xmpp_stanza_t *copy = xmpp_stanza_copy(reply);

    if (id != NULL)
        xmpp_stanza_set_id(copy, id);
    return copy;
}

int iq_track(struct iq_table *table, const char *id, const char *peer,
             uint64_t timeout_ms, iq_cb cb, void *arg)
{
    struct pending *p;

    if (strmap_get(table->pending, id) != NULL) {
        log_warn("iq id already pending", "id=%s", id);
        return -1;
    }
    p = xcalloc(1, sizeof(*p));
    p->table = table;
    p->id = xstrdup(id);
    /* The server answers from the normalised address (`localhost` for
     * `LOCALHOST.`). */
    if ((p->peer = jid_normalize(peer)) == NULL)
        p->peer = xstrdup(peer);
    p->cb = cb;
    p->arg = arg;
    p->timer = loop_timer_add(table->loop, timeout_ms, on_timeout, p);
    strmap_set(table->pending, id, p);
    return 0;
}

void *iq_untrack(struct iq_table *table, const char *id)
{
    struct pending *p = strmap_take(table->pending, id);
    void *arg;

    if (p == NULL)
        return NULL;
    loop_timer_cancel(table->loop, p->timer);
    arg = p->arg;
    pending_free(p);
    return arg;
}

bool iq_handle(struct iq_table *table, xmpp_stanza_t *reply)
{
    const char *id = stanza_attr(reply, ATTR_ID);
    const char *from = stanza_attr(reply, ATTR_FROM);
    struct pending *p;

    if (id == NULL || (p = strmap_get(table->pending, id)) == NULL)
        return false;
    /* Only the entity we asked may answer; anyone could guess an id. */
    if (from == NULL ||
        (strcmp(from, p->peer) != 0 && !jid_equal(from, p->peer))) {
        static struct log_ratelimit sender_log = LOG_RATELIMIT_INIT(
            LOG_LEVEL_WARN, "iq reply from unexpected sender");
        if (log_ratelimit_pass(&sender_log, loop_clock_ms()))
            log_warn("iq reply from unexpected sender", "id=%s from=%s peer=%s",
                     id, from ? from : "-", p->peer);
        return false;
    }
    iq_finish(p, IQ_REPLY, reply);
    return true;
}

void iq_fail_all(struct iq_table *table, enum iq_outcome outcome)
{
    size_t n = strmap_count(table->pending), pos = 0, i = 0;
    char **ids = xcalloc(n + 1, sizeof(*ids));
    const char *key;

    /* Snapshot the ids: callbacks may untrack others or track new ones. */
    while (i < n && strmap_next(table->pending, &pos, &key, NULL))
        ids[i++] = xstrdup(key);
    for (i = 0; i < n; i++) {
        struct pending *p = strmap_get(table->pending, ids[i]);
        if (p != NULL)
            iq_finish(p, outcome, NULL);
        free(ids[i]);
    }
    free(ids);
}

size_t iq_pending(const struct iq_table *table)
{
    return strmap_count(table->pending);
}

void iq_table_free(struct iq_table *table)
{
    if (table == NULL)
        return;
    /* A callback may track a new IQ while we fail the others. */
    for (int round = 0; round < 8 && iq_pending(table) > 0; round++)
        iq_fail_all(table, IQ_SHUTDOWN);
    strmap_free(table->pending);
    free(table);
}
