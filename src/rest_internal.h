/* SPDX-License-Identifier: MIT */
/* rest_internal.h: what the rest*.c files share: the endpoint's state, one
 * request, and the steps every route takes. Not for other modules. */
#ifndef RESTANZA_REST_INTERNAL_H
#define RESTANZA_REST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <strophe.h>

#include "rest.h"
#include "rest_format.h"

struct component;
struct conf;
struct delegation;
struct httpd;
struct httpd_request;
struct idempotency;
struct loop;
struct loop_timer;
struct muc;
struct store;
struct rest_iq_call;
struct rest_held;
struct rest_idem_first;

#define ID_SIZE 64

/* Who the caller proved to be. */
struct rest_auth {
    const char *pattern; /* limit on `from`, NULL for any */
    const char *scope;   /* whose Idempotency-Keys: the token, or Basic */
};

/* One request being handled. */
struct rest_job {
    struct rest *r;
    struct httpd_request *req;
    const char *route;
    enum rest_format fmt;     /* answer format */
    enum rest_format err_fmt; /* error answer format */
    struct rest_auth auth;
};

/* One overload episode: from the first held send until none is held. */
struct rest_episode {
    bool on;
    uint64_t start_ms;
    uint64_t held, sent, timed_out, failed;
    struct loop_timer *quiet; /* ends it unless a send is held again */
};

struct rest {
    struct httpd *h;
    struct component *c;
    struct delegation *d;
    const struct conf *conf;
    xmpp_ctx_t *ctx;
    struct loop *loop;
    LIST_HEAD(rest_iq_calls, rest_iq_call) calls;
    struct idempotency *idem;
    struct store *store; /* Idempotency-Key answers across restarts */
    /* requests whose answer a key keeps */
    LIST_HEAD(rest_idem_firsts, rest_idem_first) firsts;
    TAILQ_HEAD(rest_helds, rest_held) held; /* oldest first */
    size_t nheld;
    struct rest_helds confirm; /* sent, by outbox number */
    /* Sent with the store on: 202 once their outbox entry is committed. */
    struct rest_stored *stored;
    struct loop_timer *stored_timer;
    struct rest_episode ep;
    rest_archive_cb archive_cb; /* a user's archive (archive.c) */
    void *archive_arg;
    struct muc *muc; /* group chats (muc.c), or NULL */
};

/* Start handling req on route: formats negotiated, caller authenticated.
 * False when it is answered already (401/403). */
bool rest_job_start(struct rest_job *j, struct rest *r,
                    struct httpd_request *req, const char *route);

/* Validate, then echo or send the stanza (released) the request
 * described. */
void rest_process(struct rest_job *j, xmpp_stanza_t *parsed, bool echo);

#endif
