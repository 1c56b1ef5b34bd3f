/* SPDX-License-Identifier: MIT */
/* rest.h: the REST API (mod_rest parity, component mode) on /rest. */
#ifndef RESTANZA_REST_H
#define RESTANZA_REST_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>
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

/* Body and answer formats. */
enum rest_format {
    REST_XML,  /* application/xmpp+xml */
    REST_JSON, /* application/json */
    REST_FORM, /* application/x-www-form-urlencoded */
    REST_TEXT, /* text/plain (request bodies only) */
    REST_UNSUPPORTED,
};

/* The format a Content-Type names (parameters after ';' ignored, case
 * insensitive); REST_UNSUPPORTED for anything else or NULL. */
enum rest_format rest_media_type(const char *content_type);

/*
 * The answer format, as mod_rest's decide_type(Accept .. "," ..
 * Content-Type): the first supported type in that list wins, q-values
 * ignored; XML when none is. Form only when form_ok (never for errors).
 */
enum rest_format rest_negotiate(const char *accept, const char *content_type,
                                bool form_ok);

/*
 * Decode HTTP Basic credentials (the base64 after "Basic "): 0 with
 * *user and *secret set (caller frees both), -1 when not base64 of
 * "user:secret" without NUL bytes.
 */
int rest_parse_basic(const char *b64, char **user, char **secret);

/* mod_rest's narrowing rule (util.jid.compare): true when every part
 * present in pattern equals that part of jid (domains without case). */
bool rest_jid_matches(const char *jid, const char *pattern);

/* A timeout header: strictly 1 or more decimal seconds, capped at max.
 * 0 with *out set, -1 when malformed. */
int rest_parse_timeout(const char *value, unsigned max, unsigned *out);

/*
 * The application/x-www-form-urlencoded form of a JSON object: its
 * top-level strings, numbers and true values (others are dropped, as in
 * mod_rest). Caller frees.
 */
char *rest_form_encode(json_object *obj);

/*
 * Parse an application/xmpp+xml body: exactly one element, no XML
 * declaration, DOCTYPE, comment or processing instruction, nothing but
 * blanks around it. NULL on failure.
 */
xmpp_stanza_t *rest_parse_xml(xmpp_ctx_t *ctx, const char *body, size_t len);

#endif
