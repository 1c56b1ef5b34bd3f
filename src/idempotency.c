/* SPDX-License-Identifier: MIT */
/* idempotency.c: Idempotency-Key answers (SPEC §10): the first 2xx answer
 * of a key per caller, kept for a day in a bounded in-memory table. */
#include "config.h"

#include "idempotency.h"
#include "idempotency_priv.h"

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "strmap.h"
#include "xmalloc.h"

struct idempotency_waiter {
    idempotency_cb cb;
    void *arg;
    LIST_ENTRY(idempotency_waiter) link; /* e->waiters */
};

struct idempotency_entry {
    char *mapkey; /* scope "\n" key */
    unsigned char digest[IDEMPOTENCY_DIGEST_LEN];
    bool done;
    struct idempotency_answer answer; /* copies, once done */
    uint64_t expires;                 /* once done */
    LIST_HEAD(idempotency_waiters, idempotency_waiter) waiters;
    TAILQ_ENTRY(idempotency_entry) link; /* t->entries, by creation */
};

struct idempotency {
    struct strmap *map; /* mapkey -> entry (owned through the list) */
    TAILQ_HEAD(idempotency_entries, idempotency_entry)
    entries; /* oldest first */
    size_t max;
    uint64_t ttl_ms;
};

struct idempotency *idempotency_new(size_t max, uint64_t ttl_ms)
{
    struct idempotency *t = xcalloc(1, sizeof(*t));

    t->map = strmap_new(NULL);
    TAILQ_INIT(&t->entries);
    t->max = max;
    t->ttl_ms = ttl_ms;
    return t;
}

/* Call every waiter once with a (NULL: no answer) and forget them. */
static void wake(struct idempotency_entry *e,
                 const struct idempotency_answer *a)
{
    struct idempotency_waiter *w;

    while ((w = LIST_FIRST(&e->waiters)) != NULL) {
        LIST_REMOVE(w, link);
        w->cb(a, w->arg);
        free(w);
    }
}

/* Unlink and free an entry (its waiters must be gone). */
static void drop(struct idempotency *t, struct idempotency_entry *e)
{
    strmap_take(t->map, e->mapkey);
    TAILQ_REMOVE(&t->entries, e, link);
    free(e->mapkey);
    free((char *)e->answer.content_type);
    free((char *)e->answer.body);
    free(e);
}

void idempotency_free(struct idempotency *t)
{
    struct idempotency_entry *e;

    if (t == NULL)
        return;
    while ((e = TAILQ_FIRST(&t->entries)) != NULL) {
        wake(e, NULL);
        drop(t, e);
    }
    strmap_free(t->map);
    free(t);
}

bool idempotency_key_valid(const char *key)
{
    size_t n = 0;

    for (; key[n] != '\0'; n++)
        if ((unsigned char)key[n] < 0x20 || (unsigned char)key[n] > 0x7e)
            return false;
    return n >= 1 && n <= IDEMPOTENCY_KEY_MAX;
}

/* Make room for one more: expired answers go, then the oldest answers. */
static bool make_room(struct idempotency *t, uint64_t now)
{
    struct idempotency_entry *e, *next;

    for (e = TAILQ_FIRST(&t->entries); e != NULL; e = next) {
        next = TAILQ_NEXT(e, link);
        if (e->done && e->expires <= now)
            drop(t, e);
    }
    for (e = TAILQ_FIRST(&t->entries);
         e != NULL && strmap_count(t->map) >= t->max; e = next) {
        next = TAILQ_NEXT(e, link);
        if (e->done)
            drop(t, e);
    }
    return strmap_count(t->map) < t->max;
}

enum idempotency_state
idempotency_begin(struct idempotency *t, const char *scope, const char *key,
                  const unsigned char digest[IDEMPOTENCY_DIGEST_LEN],
                  uint64_t now, struct idempotency_entry **out)
{
    size_t n = strlen(scope) + strlen(key) + 2;
    char *mapkey = xmalloc(n);
    struct idempotency_entry *e;

    memcpy(mapkey, scope, strlen(scope));
    mapkey[strlen(scope)] = '\n';
    memcpy(mapkey + strlen(scope) + 1, key, strlen(key) + 1);
    e = strmap_get(t->map, mapkey);
    if (e != NULL && e->done && e->expires <= now) {
        drop(t, e);
        e = NULL;
    }
    if (e != NULL) {
        free(mapkey);
        if (memcmp(e->digest, digest, IDEMPOTENCY_DIGEST_LEN) != 0)
            return IDEMPOTENCY_MISMATCH;
        *out = e;
        return e->done ? IDEMPOTENCY_DONE : IDEMPOTENCY_PENDING;
    }
    if (strmap_count(t->map) >= t->max && !make_room(t, now)) {
        free(mapkey);
        return IDEMPOTENCY_FULL;
    }
    e = xcalloc(1, sizeof(*e));
    e->mapkey = mapkey;
    memcpy(e->digest, digest, IDEMPOTENCY_DIGEST_LEN);
    LIST_INIT(&e->waiters);
    TAILQ_INSERT_TAIL(&t->entries, e, link);
    strmap_set(t->map, mapkey, e);
    *out = e;
    return IDEMPOTENCY_NEW;
}

const struct idempotency_answer *
idempotency_stored(const struct idempotency_entry *e)
{
    return &e->answer;
}

void idempotency_finish(struct idempotency *t, struct idempotency_entry *e,
                        const struct idempotency_answer *a, uint64_t now)
{
    char *body;

    wake(e, a);
    if (a == NULL || a->status < 200 || a->status > 299) {
        drop(t, e);
        return;
    }
    e->done = true;
    e->expires = now + t->ttl_ms;
    e->answer.status = a->status;
    e->answer.content_type =
        a->content_type != NULL ? xstrdup(a->content_type) : NULL;
    body = xmalloc(a->len + 1);
    memcpy(body, a->body, a->len);
    body[a->len] = '\0';
    e->answer.body = body;
    e->answer.len = a->len;
}

struct idempotency_waiter *idempotency_wait(struct idempotency_entry *e,
                                            idempotency_cb cb, void *arg)
{
    struct idempotency_waiter *w = xcalloc(1, sizeof(*w));

    w->cb = cb;
    w->arg = arg;
    LIST_INSERT_HEAD(&e->waiters, w, link);
    return w;
}

void idempotency_unwait(struct idempotency_waiter *w)
{
    LIST_REMOVE(w, link);
    free(w);
}

size_t idempotency_count(const struct idempotency *t)
{
    return strmap_count(t->map);
}

const unsigned char *idempotency_digest(const struct idempotency_entry *e)
{
    return e->digest;
}
