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

#endif
