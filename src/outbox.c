/* SPDX-License-Identifier: MIT */
/* outbox.c: stanzas written to the server but not yet confirmed by it
 * (SPEC §10), in order, with their serialized bytes for a resend. */
#include "config.h"

#include "outbox.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "xmalloc.h"

/* Key-value space of the store that keeps the outbox across restarts; the
 * key is the sequence number, zero-padded so that key order is its order. */
#define OUTBOX_SPACE "outbox"
#define OUTBOX_KEY_LEN 24

struct outbox_item {
    uint64_t seq;
    size_t len;
    struct outbox_item *next;
    char xml[];
};

struct outbox {
    struct outbox_item *head, *tail; /* oldest first */
    uint64_t last, confirmed;
    size_t count, bytes;
    struct store *store; /* borrowed, or NULL: memory only */
};

struct outbox *outbox_new(void)
{
    return xcalloc(1, sizeof(struct outbox));
}

/* Memory only: what the store holds stays for the next start. */
void outbox_free(struct outbox *o)
{
    if (o == NULL)
        return;
    while (o->head != NULL) {
        struct outbox_item *it = o->head;
        o->head = it->next;
        free(it);
    }
    free(o);
}

static void outbox_key(char key[OUTBOX_KEY_LEN], uint64_t seq)
{
    snprintf(key, OUTBOX_KEY_LEN, "%020" PRIu64, seq);
}

/* Append an item with sequence number seq (> o->last). */
static struct outbox_item *outbox_append(struct outbox *o, uint64_t seq,
                                         const char *xml, size_t len)
{
    struct outbox_item *it = xmalloc(sizeof(*it) + len);

    it->seq = seq;
    o->last = seq;
    it->len = len;
    it->next = NULL;
    memcpy(it->xml, xml, len);
    if (o->tail != NULL)
        o->tail->next = it;
    else
        o->head = it;
    o->tail = it;
    o->count++;
    o->bytes += len;
    return it;
}

uint64_t outbox_add(struct outbox *o, const char *xml, size_t len)
{
    struct outbox_item *it = outbox_append(o, o->last + 1, xml, len);
    char key[OUTBOX_KEY_LEN];

    /* Committed with this loop turn's writes, or by a store_flush() of the
     * caller's before it answers. */
    if (o->store != NULL) {
        outbox_key(key, it->seq);
        if (store_kv_put(o->store, OUTBOX_SPACE, key, xml, len, 0) < 0)
            log_warn("outbox: stanza not stored, kept in memory only",
                     "seq=%" PRIu64 " bytes=%zu", it->seq, len);
    }
    return it->seq;
}

/* One stanza an earlier run left unconfirmed. */
static int outbox_load_one(const char *key, const void *val, size_t len,
                           int64_t expires_unix, void *arg)
{
    struct outbox *o = arg;
    uint64_t seq = strtoull(key, NULL, 10);

    (void)expires_unix;
    if (seq <= o->last) /* not ours: keys only grow */
        return 0;
    outbox_append(o, seq, val, len);
    return 0;
}

int outbox_set_store(struct outbox *o, struct store *s)
{
    o->store = s;
    if (s == NULL)
        return 0;
    if (store_kv_each(s, OUTBOX_SPACE, outbox_load_one, o) < 0)
        return -1;
    if (o->count > 0) {
        o->confirmed = o->head->seq - 1;
        log_info("outbox: unconfirmed stanzas from the last run, resent "
                 "once connected",
                 "count=%zu bytes=%zu", o->count, o->bytes);
    }
    return 0;
}

size_t outbox_confirm(struct outbox *o, uint64_t seq)
{
    size_t n = 0;
    uint64_t upto = 0;

    while (o->head != NULL && o->head->seq <= seq) {
        struct outbox_item *it = o->head;
        o->head = it->next;
        o->count--;
        o->bytes -= it->len;
        upto = it->seq;
        free(it);
        n++;
    }
    if (o->store != NULL && n > 0) { /* one statement for the whole batch */
        char key[OUTBOX_KEY_LEN];
        outbox_key(key, upto);
        store_kv_del_upto(o->store, OUTBOX_SPACE, key);
    }
    if (o->head == NULL)
        o->tail = NULL;
    if (seq > o->confirmed)
        o->confirmed = seq < o->last ? seq : o->last;
    return n;
}

void outbox_each(const struct outbox *o, outbox_each_fn fn, void *arg)
{
    for (const struct outbox_item *it = o->head; it != NULL; it = it->next)
        if (fn(it->seq, it->xml, it->len, arg) < 0)
            return;
}

uint64_t outbox_last(const struct outbox *o)
{
    return o->last;
}

uint64_t outbox_confirmed(const struct outbox *o)
{
    return o->confirmed;
}

size_t outbox_count(const struct outbox *o)
{
    return o->count;
}

size_t outbox_bytes(const struct outbox *o)
{
    return o->bytes;
}
