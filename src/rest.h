/* SPDX-License-Identifier: MIT */
/* rest.h: the REST API (mod_rest parity, component mode) on /rest. */
#ifndef RESTANZA_REST_H
#define RESTANZA_REST_H

#include <stdbool.h>
#include <strophe.h>

struct httpd;
struct component;
struct delegation;
struct conf;
struct rest;

/* Register POST /rest, POST /rest/echo, POST /rest/{kind}/{type}/{to} and
 * GET /rest/{query}/{to}. */
struct rest *rest_new(struct httpd *h, struct component *c,
                      struct delegation *d, const struct conf *conf);
/* Parked IQ requests are answered 503 first. */
void rest_free(struct rest *r);

struct store;
/* Keep the 2xx answers of Idempotency-Keys in the store too (borrowed;
 * NULL: memory only), so that they survive a restart. */
void rest_set_store(struct rest *r, struct store *s);

struct httpd_request;
/*
 * GET /rest/archive/{to} once the caller is authenticated: the handler
 * answers it (true) or leaves it to the mod_rest shortcut (false). pattern
 * is the caller's limit on `from`, NULL for any.
 */
typedef bool (*rest_archive_cb)(struct httpd_request *req, const char *to,
                                const char *pattern, void *arg);
void rest_on_archive(struct rest *r, rest_archive_cb cb, void *arg);

/*
 * Offer an incoming message (arg is the struct rest; the signature is
 * dispatch_incoming_cb's): if it is a MAM result (<result
 * xmlns='urn:xmpp:mam:2' queryid=Q>) for an archive query we wait for, keep
 * a copy for the HTTP answer and return true (the caller drops it).
 */
bool rest_offer_message(xmpp_stanza_t *msg, void *arg);

struct muc;
/* Send groupchat messages through m (SPEC §11); NULL: as any message. */
void rest_set_muc(struct rest *r, struct muc *m);

/* mod_rest's narrowing rule (util.jid.compare): true when every part
 * present in pattern equals that part of jid (domains without case). */
bool rest_jid_matches(const char *jid, const char *pattern);

/* A timeout header: strictly 1 or more decimal seconds, capped at max.
 * 0 with *out set, -1 when malformed. */
int rest_parse_timeout(const char *value, unsigned max, unsigned *out);

#endif
