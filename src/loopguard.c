/* SPDX-License-Identifier: MIT */
/* loopguard.c: keeps restanza from talking to itself or ping-ponging. */
#include "config.h"

#include "loopguard.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strmap.h"
#include "xmalloc.h"

/* Budgets in thousandths of a reply: whole-millisecond refills stay exact. */
#define COST 1000u
#define FULL ((uint64_t)LOOPGUARD_BURST * COST)

struct bucket {
    uint64_t tokens; /* thousandths of a reply */
    uint64_t last;   /* ms of the last refill */
};

struct loopguard {
    struct strmap *peers; /* lower-cased bare JID -> struct bucket */
};

bool loopguard_own_domain(const char *jid, const char *domain)
{
    size_t end, len;
    const char *at, *d;

    if (jid == NULL || domain == NULL)
        return false;
    /* RFC 7622 §3.1: the first '/' starts the resource, then the first
     * '@' before it ends the localpart. */
    end = strcspn(jid, "/");
    at = memchr(jid, '@', end);
    d = at != NULL ? at + 1 : jid;
    len = end - (size_t)(d - jid);
    if (len > 0 && d[len - 1] == '.')
        len--;
    size_t dlen = strlen(domain);
    if (dlen > 0 && domain[dlen - 1] == '.')
        dlen--;
    return len == dlen && len > 0 && strncasecmp(d, domain, len) == 0;
}

struct loopguard *loopguard_new(void)
{
    struct loopguard *g = xcalloc(1, sizeof(*g));

    g->peers = strmap_new(free);
    return g;
}

void loopguard_free(struct loopguard *g)
{
    if (g == NULL)
        return;
    strmap_free(g->peers);
    free(g);
}

/* The bucket at now: refilled for the time since its last use. */
static void refill(struct bucket *b, uint64_t now)
{
    if (now > b->last) {
        uint64_t add = (now - b->last) * LOOPGUARD_RATE;
        b->tokens = add >= FULL - b->tokens ? FULL : b->tokens + add;
    }
    b->last = now;
}

/* Make room: forget the peers whose bucket is full again (they are no
 * different from a peer never seen); if none is, forget everyone. */
static void loopguard_prune(struct loopguard *g, uint64_t now)
{
    const char **idle = xcalloc(strmap_count(g->peers), sizeof(*idle));
    size_t pos = 0, n = 0;
    const char *key;
    void *value;

    while (strmap_next(g->peers, &pos, &key, &value)) {
        refill(value, now);
        if (((struct bucket *)value)->tokens == FULL)
            idle[n++] = key;
    }
    /* Delete after the walk; each key stays valid until its own turn. */
    for (size_t i = 0; i < n; i++)
        strmap_del(g->peers, idle[i]);
    free(idle);
    if (n == 0)
        strmap_clear(g->peers);
}

bool loopguard_allow(struct loopguard *g, const char *peer, uint64_t now_ms)
{
    char key[1024];
    size_t len = peer != NULL ? strcspn(peer, "/") : 0;
    struct bucket *b;

    if (len == 0)
        return true; /* a reply with no address goes to the server */
    if (len >= sizeof(key))
        len = sizeof(key) - 1;
    for (size_t i = 0; i < len; i++)
        key[i] = (char)tolower((unsigned char)peer[i]);
    key[len] = '\0';
    b = strmap_get(g->peers, key);
    if (b == NULL) {
        if (strmap_count(g->peers) >= LOOPGUARD_PEERS_MAX)
            loopguard_prune(g, now_ms);
        b = xmalloc(sizeof(*b));
        b->tokens = FULL;
        b->last = now_ms;
        strmap_set(g->peers, key, b);
    }
    refill(b, now_ms);
    if (b->tokens < COST)
        return false;
    b->tokens -= COST;
    return true;
}
