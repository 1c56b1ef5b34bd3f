/* SPDX-License-Identifier: MIT */
/* archive.h: a user's message archive (MAM) through the XEP-0356 IQ privilege.
 */
#ifndef RESTANZA_ARCHIVE_H
#define RESTANZA_ARCHIVE_H

#include <stdbool.h>

#include <json-c/json.h>
#include <strophe.h>

struct component;
struct delegation;
struct conf;
struct httpd_request;
struct archive;

struct archive *archive_new(struct component *c, struct delegation *d,
                            const struct conf *conf);
/* Parked archive requests are answered 503 first. */
void archive_free(struct archive *a);

/*
 * GET /rest/archive/{to} after authentication (rest_archive_cb; arg is the
 * struct archive). When `to` is a bare JID of server.domain, answer it here
 * (now or later) with the user's messages as JSON and return true;
 * otherwise return false and leave the request to the mod_rest shortcut.
 * pattern is the caller's from-limit (NULL: any), which must allow the
 * user.
 */
bool archive_take(struct httpd_request *req, const char *to,
                  const char *pattern, void *arg);

/*
 * Offer an incoming message (dispatch_incoming_cb's signature): true when
 * it is a forwarded MAM result of a privileged query we wait for (kept for
 * the answer; the caller drops it).
 */
bool archive_offer_message(xmpp_stanza_t *msg, void *arg);

/* ---- pure parts, exported for the unit tests ---- */

/*
 * Add one URL parameter to the archive payload object (with, start, end,
 * before, after as strings; max as an integer). -1 for an unknown key or a
 * max that is not an integer from 0 to 100000.
 */
int archive_params_add(json_object *payload, const char *key,
                       const char *value);

/*
 * One archived message from a MAM <result/> element: {"id", "stamp",
 * "message": mod_rest JSON}. NULL when result carries no forwarded message.
 */
json_object *archive_result_entry(xmpp_stanza_t *result);

/* The RSM cursor of a MAM <fin/>: {"first", "last", "count", "complete"}
 * (absent parts left out). fin may be NULL (an empty page). */
json_object *archive_page(xmpp_stanza_t *fin);

/* HTTP status for an error condition the archive query came back with. */
unsigned archive_error_status(const char *condition, bool outer);

#endif
