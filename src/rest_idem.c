/* SPDX-License-Identifier: MIT */
/* rest_idem.c: Idempotency-Key on /rest (SPEC §10): replays, waits and
 * answers kept across restarts in the store. */
#include "config.h"

#include "rest_idem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hmac.h"
#include "httpd.h"
#include "idempotency.h"
#include "loop.h"
#include "rest_error.h"
#include "rest_internal.h"
#include "store.h"
#include "xmalloc.h"

/* The first request with a key: its answer is kept (2xx) or dropped. */
struct rest_idem_first {
    struct rest *r;
    struct httpd_request *req;
    struct idempotency_entry *e;
    char *skey; /* its key in the store: scope digest, key */
    LIST_ENTRY(rest_idem_first) link; /* r->firsts */
};

/* A repeat waiting for the first request's answer. */
struct idem_wait {
    struct httpd_request *req;
    enum rest_format err_fmt;
    struct idempotency_waiter *w;
};

#define IDEM_SPACE "idempotency"

/*
 * A kept answer in the store: the request digest, the status (4 bytes,
 * big-endian), the content type and a NUL, then the body.
 */
static void idem_store_put(struct rest_idem_first *f,
                           const struct idempotency_answer *a)
{
    const char *ct = a->content_type != NULL ? a->content_type : "";
    size_t ctl = strlen(ct) + 1, n = IDEMPOTENCY_DIGEST_LEN + 4 + ctl + a->len;
    unsigned char *v = xmalloc(n);
    unsigned char *p = v + IDEMPOTENCY_DIGEST_LEN;

    memcpy(v, idempotency_digest(f->e), IDEMPOTENCY_DIGEST_LEN);
    p[0] = (unsigned char)(a->status >> 24);
    p[1] = (unsigned char)(a->status >> 16);
    p[2] = (unsigned char)(a->status >> 8);
    p[3] = (unsigned char)a->status;
    memcpy(p + 4, ct, ctl);
    memcpy(p + 4 + ctl, a->body, a->len);
    /* Logged by the store when it fails: the answer stays in memory. */
    (void)store_kv_put(f->r->store, IDEM_SPACE, f->skey, v, n,
                       (int64_t)time(NULL) + IDEMPOTENCY_TTL_MS / 1000);
    free(v);
}

/* The kept answer of skey in the store, decoded into a (pointing into *v,
 * which the caller frees); 1 found, 0 none. */
static int idem_store_get(struct rest *r, const char *skey,
                          unsigned char digest[IDEMPOTENCY_DIGEST_LEN],
                          struct idempotency_answer *a, unsigned char **v)
{
    size_t n, ctl;
    unsigned char *p;

    *v = store_kv_get(r->store, IDEM_SPACE, skey, &n);
    if (*v == NULL)
        return 0;
    p = *v + IDEMPOTENCY_DIGEST_LEN;
    if (n < IDEMPOTENCY_DIGEST_LEN + 5 ||
        memchr(p + 4, '\0', n - IDEMPOTENCY_DIGEST_LEN - 4) == NULL) {
        free(*v);
        return 0;
    }
    memcpy(digest, *v, IDEMPOTENCY_DIGEST_LEN);
    a->status = (unsigned)p[0] << 24 | (unsigned)p[1] << 16 |
                (unsigned)p[2] << 8 | p[3];
    a->content_type = *(char *)(p + 4) != '\0' ? (char *)(p + 4) : NULL;
    ctl = strlen((char *)(p + 4)) + 1;
    a->body = (char *)(p + 4 + ctl);
    a->len = n - IDEMPOTENCY_DIGEST_LEN - 4 - ctl;
    return 1;
}

static void on_first_answer(unsigned status, const char *content_type,
                            const char *body, size_t len, void *arg)
{
    struct rest_idem_first *f = arg;
    struct idempotency_answer a = {status, content_type, body, len};

    LIST_REMOVE(f, link);
    if (f->r->store != NULL && status >= 200 && status <= 299)
        idem_store_put(f, &a);
    idempotency_finish(f->r->idem, f->e, status != 0 ? &a : NULL,
                       loop_clock_ms());
    free(f->skey);
    free(f);
}

static void replay(struct httpd_request *req,
                   const struct idempotency_answer *a)
{
    httpd_add_header(req, "Idempotent-Replayed", "true");
    httpd_respond(req, a->status, a->content_type, a->body, a->len);
}

static void on_idem_ready(const struct idempotency_answer *a, void *arg)
{
    struct idem_wait *iw = arg;

    if (a != NULL) {
        replay(iw->req, a);
    } else {
        const struct rest_error *e = rest_error_get(RE_IDEM_GONE);
        rest_error_respond(iw->req, iw->err_fmt, e->status, e->type,
                           e->condition, e->text);
    }
    free(iw);
}

static void on_idem_wait_abort(struct httpd_request *req, void *arg)
{
    struct idem_wait *iw = arg;

    (void)req;
    idempotency_unwait(iw->w);
    free(iw);
}

/* What identifies the request: route, path, content type and body. */
static int request_digest(struct rest_job *j,
                          unsigned char out[IDEMPOTENCY_DIGEST_LEN])
{
    const char *ctype = httpd_request_header(j->req, "Content-Type");
    const char *parts[3] = {j->route, httpd_request_rest(j->req),
                            ctype != NULL ? ctype : ""};
    size_t blen, n = 0, total;
    const char *body = httpd_request_body(j->req, &blen);
    char *buf;
    int rc;

    total = blen + 3;
    for (int i = 0; i < 3; i++)
        total += strlen(parts[i]);
    buf = xmalloc(total);
    for (int i = 0; i < 3; i++) {
        memcpy(buf + n, parts[i], strlen(parts[i]) + 1);
        n += strlen(parts[i]) + 1;
    }
    if (blen > 0)
        memcpy(buf + n, body, blen);
    rc = hmac_sha256("restanza idempotency", 20, buf, n + blen, out);
    free(buf);
    return rc;
}

/* The key in the store: a digest of the scope (never a token in the
 * database), a newline, the key. */
static char *idem_store_key(struct rest_job *j, const char *key)
{
    char hex[HMAC_SHA256_HEX_LEN], *out;
    const char *scope = j->auth.scope;

    if (hmac_sha256_hex("restanza idempotency scope", 26, scope, strlen(scope),
                        hex) < 0)
        hex[0] = '\0';
    out = xmalloc(strlen(hex) + strlen(key) + 2);
    sprintf(out, "%s\n%s", hex, key);
    return out;
}

/* A new key in memory may have an answer in the store (from before a
 * restart): replay it, or 422 for another request. True when answered. */
static bool idem_from_store(struct rest_job *j, struct idempotency_entry *e,
                            const char *skey,
                            const unsigned char digest[IDEMPOTENCY_DIGEST_LEN])
{
    struct rest *r = j->r;
    unsigned char stored[IDEMPOTENCY_DIGEST_LEN], *v;
    struct idempotency_answer a;

    if (idem_store_get(r, skey, stored, &a, &v) == 0)
        return false;
    if (memcmp(stored, digest, IDEMPOTENCY_DIGEST_LEN) != 0) {
        idempotency_finish(r->idem, e, NULL, loop_clock_ms());
        rest_error_fail(j, RE_IDEM_MISMATCH);
    } else {
        idempotency_finish(r->idem, e, &a, loop_clock_ms());
        replay(j->req, &a);
    }
    free(v);
    return true;
}

/*
 * Idempotency-Key (SPEC §10): true when the request is answered or parked
 * here (a replay, a wait for the first, an error); false to go on, with
 * its answer kept when the request has a new key.
 */
bool rest_idem_check(struct rest_job *j)
{
    struct rest *r = j->r;
    const char *key = httpd_request_header(j->req, "Idempotency-Key");
    unsigned char digest[IDEMPOTENCY_DIGEST_LEN];
    struct idempotency_entry *e = NULL;
    struct rest_idem_first *f;
    struct idem_wait *iw;
    char *skey;

    if (key == NULL)
        return false;
    if (!idempotency_key_valid(key)) {
        rest_error_fail(j, RE_IDEM_KEY);
        return true;
    }
    if (request_digest(j, digest) < 0) {
        rest_error_fail(j, RE_INTERNAL);
        return true;
    }
    switch (idempotency_begin(r->idem, j->auth.scope, key, digest,
                              loop_clock_ms(), &e)) {
    case IDEMPOTENCY_DONE:
        replay(j->req, idempotency_stored(e));
        return true;
    case IDEMPOTENCY_PENDING:
        iw = xcalloc(1, sizeof(*iw));
        iw->req = j->req;
        iw->err_fmt = j->err_fmt;
        iw->w = idempotency_wait(e, on_idem_ready, iw);
        httpd_park(j->req, on_idem_wait_abort, iw);
        return true;
    case IDEMPOTENCY_MISMATCH:
        rest_error_fail(j, RE_IDEM_MISMATCH);
        return true;
    case IDEMPOTENCY_FULL:
        rest_error_fail(j, RE_IDEM_FULL);
        return true;
    case IDEMPOTENCY_NEW:
        break;
    }
    skey = idem_store_key(j, key);
    if (r->store != NULL && idem_from_store(j, e, skey, digest)) {
        free(skey);
        return true;
    }
    f = xcalloc(1, sizeof(*f));
    f->r = r;
    f->req = j->req;
    f->e = e;
    f->skey = skey;
    LIST_INSERT_HEAD(&r->firsts, f, link);
    httpd_on_answer(j->req, on_first_answer, f);
    return false;
}

void rest_idem_shutdown(struct rest *r)
{
    struct rest_idem_first *f;

    while ((f = LIST_FIRST(&r->firsts)) != NULL) {
        httpd_on_answer(f->req, NULL, NULL);
        LIST_REMOVE(f, link);
        free(f->skey);
        free(f);
    }
}
