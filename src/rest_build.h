/* SPDX-License-Identifier: MIT */
/* rest_build.h: the stanza a /rest request describes: path, body (XML,
 * JSON, form or text), mod_rest's normalisation and the sender. */
#ifndef RESTANZA_REST_BUILD_H
#define RESTANZA_REST_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>
#include <strophe.h>

#include "rest_error.h"

struct jsonmap_error;
struct rest;
struct rest_job;

/* What the path said: POST /rest/{kind}/{type}/{to}. */
struct rest_path {
    bool given;
    const char *kind; /* message, presence or iq */
    char *type;
    char *to;
    const char *query; /* iq with a payload key instead of get/set */
};

/* Split "kind/type/to" (to may hold more slashes) into p (clear it with
 * rest_build_path_clear()); false when malformed. */
bool rest_build_split_path(const char *rest, struct rest_path *p);
void rest_build_path_clear(struct rest_path *p);

/* Map a JSON object (taken) to a stanza; NULL with err set on failure. */
xmpp_stanza_t *rest_build_map_json(struct rest_job *j, json_object *obj,
                                   struct jsonmap_error *err);

/* The request body, completed by p, as a stanza (not yet validated;
 * caller releases); NULL with err set. */
xmpp_stanza_t *rest_build_parse_body(struct rest_job *j,
                                     const struct rest_path *p,
                                     struct jsonmap_error *err);

/*
 * Parse an application/xmpp+xml body: exactly one element, no XML
 * declaration, DOCTYPE, comment or processing instruction, nothing but
 * blanks around it. NULL on failure.
 */
xmpp_stanza_t *rest_build_parse_xml(xmpp_ctx_t *ctx, const char *body,
                                    size_t len);

/* mod_rest's normalisation of st in place (see rest_build.c): a new
 * reference to st, or NULL with err set. */
xmpp_stanza_t *rest_build_normalise(struct rest *r, xmpp_stanza_t *st,
                                    struct jsonmap_error *err);

/* Set and check `from`; *as_user when it goes through the XEP-0356
 * message privilege. False with *why when the caller may not send so. */
bool rest_build_check_from(struct rest_job *j, xmpp_stanza_t *st, bool *as_user,
                           enum rest_error_id *why);

/* A message gets an XEP-0359 origin-id equal to its id. */
void rest_build_add_origin_id(xmpp_stanza_t *st);

/* inner (copied) wrapped for the server to send as the user (priv_ns). */
xmpp_stanza_t *rest_build_privileged_wrap(struct rest *r, xmpp_stanza_t *inner,
                                          const char *priv_ns);

#endif
