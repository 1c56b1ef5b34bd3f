/* SPDX-License-Identifier: MIT */
/* rest_format.h: body and answer formats: media types, negotiation, forms,
 * stanzas as the caller sees them. */
#ifndef RESTANZA_REST_FORMAT_H
#define RESTANZA_REST_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>
#include <strophe.h>

struct httpd_request;

#define MIME_XML "application/xmpp+xml"
#define MIME_JSON "application/json"
#define MIME_FORM "application/x-www-form-urlencoded"
#define MIME_TEXT "text/plain"

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
enum rest_format rest_format_media_type(const char *content_type);

/*
 * The answer format, as mod_rest's decide_type(Accept .. "," ..
 * Content-Type): the first supported type in that list wins, q-values
 * ignored; XML when none is. Form only when form_ok (never for errors).
 */
enum rest_format rest_format_negotiate(const char *accept,
                                       const char *content_type, bool form_ok);

/*
 * The application/x-www-form-urlencoded form of a JSON object: its
 * top-level strings, numbers and true values (others are dropped, as in
 * mod_rest). Caller frees.
 */
char *rest_format_form_encode(json_object *obj);

/* The media type of an answer format (XML for anything but JSON or form). */
const char *rest_format_mime(enum rest_format f);

/* The XML text of a stanza as a caller sees it (jabber:client); free(). */
char *rest_format_stanza_xml(xmpp_stanza_t *st, size_t *len);

/* Answer req with stanzas in fmt: list[0] alone, or (wrapped) all n as a
 * MAM <xmpp> collection. The stanzas stay the caller's. */
void rest_format_respond(struct httpd_request *req, enum rest_format fmt,
                         unsigned status, xmpp_stanza_t **list, size_t n,
                         bool wrapped);

#endif
