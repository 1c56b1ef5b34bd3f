/* SPDX-License-Identifier: MIT */
/* outbox.c: stanzas written to the server but not yet confirmed by it
 * (SPEC §10), in order, with their serialized bytes for a resend. */
#include "config.h"

#include "outbox.h"

#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

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
};

struct outbox *outbox_new(void)
{
    return xcalloc(1, sizeof(struct outbox));
}

void outbox_free(struct outbox *o)
{
    if (o == NULL)
        return;
    outbox_confirm(o, o->last);
    free(o);
}

uint64_t outbox_add(struct outbox *o, const char *xml, size_t len)
{
    struct outbox_item *it = xmalloc(sizeof(*it) + len);

    it->seq = ++o->last;
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
    return it->seq;
}

size_t outbox_confirm(struct outbox *o, uint64_t seq)
{
    size_t n = 0;

    while (o->head != NULL && o->head->seq <= seq) {
        struct outbox_item *it = o->head;
        o->head = it->next;
        o->count--;
        o->bytes -= it->len;
        free(it);
        n++;
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
