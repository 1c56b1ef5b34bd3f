/* SPDX-License-Identifier: MIT */
/* refresh.c: the roster refresh endpoint: sync users, answer when all are done.
 */
#include "config.h"

#include "refresh.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include "auth.h"
#include "conf.h"
#include "httpd.h"
#include "jid.h"
#include "json.h"
#include "log.h"
#include "roster.h"
#include "status.h"
#include "strmap.h"
#include "xmalloc.h"

#define REFRESH_PATH "/roster_admin/refresh"

struct batch;

struct refresh {
    const struct conf *conf;
    struct roster *roster;
    LIST_HEAD(refresh_batches, batch) batches; /* waiting for their users */
};

/* One request: its users are synced, then it is answered. */
struct batch {
    struct refresh *f;         /* NULL once refresh_free ran */
    struct httpd_request *req; /* NULL once answered or gone */
    size_t pending, updated, errors;
    json_object *failed;    /* user -> reason */
    LIST_ENTRY(batch) link; /* f->batches until answered or gone */
};

/* {"status":..,"message":..,"updated":N,"errors":M[,"failed":{..}]} */
static void respond(struct httpd_request *req, unsigned code,
                    const char *status, const char *message, size_t updated,
                    size_t errors, json_object *failed)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "status", json_object_new_string(status));
    json_object_object_add(o, "message", json_object_new_string(message));
    json_object_object_add(o, "updated",
                           json_object_new_int64((int64_t)updated));
    json_object_object_add(o, "errors", json_object_new_int64((int64_t)errors));
    if (failed != NULL)
        json_object_object_add(o, "failed", json_object_get(failed));
    httpd_respond_json(req, code, o);
}

static void bad(struct httpd_request *req, unsigned code, const char *message)
{
    respond(req, code, "error", message, 0, 0, NULL);
}

static void batch_unlink(struct batch *b)
{
    if (b->f == NULL)
        return;
    LIST_REMOVE(b, link);
    b->f = NULL;
}

static void batch_answer(struct batch *b)
{
    char msg[80];
    bool all_failed = b->errors > 0 && b->updated == 0;

    if (b->errors == 0)
        snprintf(msg, sizeof(msg), "roster update complete");
    else
        snprintf(msg, sizeof(msg), "%zu of %zu users failed", b->errors,
                 b->errors + b->updated);
    respond(b->req, 200, all_failed ? "error" : "ok", msg, b->updated,
            b->errors, b->failed);
    b->req = NULL;
}

static void batch_maybe_done(struct batch *b)
{
    if (b->pending > 0)
        return;
    if (b->req != NULL)
        batch_answer(b);
    batch_unlink(b);
    json_object_put(b->failed);
    free(b);
}

static void on_user_done(const char *user, enum roster_fail fail,
                         const char *error, void *arg)
{
    struct batch *b = arg;

    (void)fail; /* every failure is listed with its text */
    if (error == NULL) {
        b->updated++;
    } else {
        b->errors++;
        json_object_object_add(b->failed, user, json_object_new_string(error));
    }
    b->pending--;
    batch_maybe_done(b);
}

static void refresh_on_abort(struct httpd_request *req, void *arg)
{
    struct batch *b = arg;

    (void)req;
    b->req = NULL;
}

/* True when the bearer token is right; answers 401/403 otherwise. */
static bool refresh_authorized(struct refresh *f, struct httpd_request *req)
{
    return auth_require_bearer(req, f->conf->roster.token, "roster");
}

/* s as the server writes a username (nodeprep: `Alice` -> `alice`), or a
 * copy of s when it is none; caller frees. */
static char *nodeprep_user(const struct conf *conf, const char *s)
{
    char *jid = xasprintf("%s@%s", s, conf->server.domain);
    struct jid j;
    char *user = NULL;

    if (jid_parse(jid, &j) == 0) {
        if (j.local != NULL && j.resource == NULL) {
            user = j.local;
            j.local = NULL;
        }
        jid_clear(&j);
    }
    free(jid);
    return user != NULL ? user : xstrdup(s);
}

/* The username for a list entry (username or bare JID of our domain), or
 * NULL; caller frees. */
static char *entry_user(const struct conf *conf, const char *s)
{
    struct jid j;
    char *user = NULL;

    if (strchr(s, '@') != NULL) {
        if (jid_parse(s, &j) < 0)
            return NULL;
        if (j.local != NULL && j.resource == NULL &&
            strcasecmp(j.domain, conf->server.domain) == 0)
            user = xstrdup(j.local);
        jid_clear(&j);
    } else if (*s != '\0' && strlen(s) <= 1023) {
        /* Names the server would refuse fail at write time, listed. */
        user = nodeprep_user(conf, s);
        for (const char *c = s; *c != '\0'; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) {
                free(user);
                return NULL;
            }
    }
    return user;
}

/* Sync every user of the list and answer when all are done. */
static void start_batch(struct refresh *f, struct httpd_request *req,
                        const char *const *users, size_t n)
{
    struct batch *b;

    if (n == 0) {
        respond(req, 200, "ok", "roster update complete", 0, 0, NULL);
        return;
    }
    b = xcalloc(1, sizeof(*b));
    b->f = f;
    b->req = req;
    b->failed = json_object_new_object();
    b->pending = n;
    LIST_INSERT_HEAD(&f->batches, b, link);
    httpd_park(req, refresh_on_abort, b);
    for (size_t i = 0; i < n; i++)
        roster_sync(f->roster, users[i], on_user_done, b);
}

static bool ready(struct refresh *f, struct httpd_request *req)
{
    if (!roster_ready(f->roster)) {
        bad(req, 503, "the XMPP server is not connected");
        return false;
    }
    return true;
}

static void refresh_on_post(struct httpd_request *req, void *arg)
{
    struct refresh *f = arg;
    size_t len, n;
    const char *body = httpd_request_body(req, &len);
    char err[160] = "";
    json_object *arr;
    struct strmap *seen;
    const char **users;

    if (!refresh_authorized(f, req))
        return;
    arr = json_parse(body != NULL ? body : "", body != NULL ? len : 0, 2, err,
                     sizeof(err));
    if (arr == NULL || !json_object_is_type(arr, json_type_array)) {
        json_object_put(arr);
        bad(req, 400, "the body must be a JSON array of usernames");
        return;
    }
    n = json_object_array_length(arr);
    seen = strmap_new(NULL);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(arr, i);
        char *user = NULL;
        if (json_object_is_type(e, json_type_string) &&
            strlen(json_object_get_string(e)) ==
                (size_t)json_object_get_string_len(e))
            user = entry_user(f->conf, json_object_get_string(e));
        if (user == NULL) {
            char msg[120];
            snprintf(msg, sizeof(msg),
                     "entry %zu is not a username or a JID of %s", i,
                     f->conf->server.domain);
            bad(req, 400, msg);
            strmap_free(seen);
            json_object_put(arr);
            return;
        }
        strmap_set(seen, user, NULL);
        free(user);
    }
    json_object_put(arr);
    if (ready(f, req)) {
        users = strmap_sorted_keys(seen);
        start_batch(f, req, users, strmap_count(seen));
        free(users);
    }
    strmap_free(seen);
}

static void refresh_on_get(struct httpd_request *req, void *arg)
{
    struct refresh *f = arg;
    char *user;

    if (!refresh_authorized(f, req))
        return;
    user = entry_user(f->conf, httpd_request_rest(req));
    if (user == NULL) {
        bad(req, 400, "not a username or a JID of the server");
        return;
    }
    if (ready(f, req)) {
        const char *users[] = {user};
        start_batch(f, req, users, 1);
    }
    free(user);
}

struct refresh *refresh_new(struct httpd *h, struct roster *roster,
                            const struct conf *conf)
{
    struct refresh *f;

    if (roster == NULL)
        return NULL;
    f = xcalloc(1, sizeof(*f));
    LIST_INIT(&f->batches);
    f->conf = conf;
    f->roster = roster;
    httpd_route(h, "POST", REFRESH_PATH, false, "roster_refresh",
                refresh_on_post, f);
    httpd_route(h, "GET", REFRESH_PATH, true, "roster_refresh_user",
                refresh_on_get, f);
    return f;
}

void refresh_free(struct refresh *f)
{
    struct batch *b;

    if (f == NULL)
        return;
    while ((b = LIST_FIRST(&f->batches)) != NULL) {
        if (b->req != NULL) {
            bad(b->req, 503, "shutting down");
            b->req = NULL;
        }
        batch_unlink(b);
    }
    free(f);
}
