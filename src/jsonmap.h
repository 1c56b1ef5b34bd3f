/* SPDX-License-Identifier: MIT */
/* jsonmap.h: the mod_rest JSON <-> stanza mapping (message, presence, iq). */
#ifndef RESTANZA_JSONMAP_H
#define RESTANZA_JSONMAP_H

#include <stddef.h>

#include <json-c/json.h>
#include <strophe.h>

/* Namespaces of the mapped payloads (the core ones live in stanza.h). */
#define NS_XHTML_IM "http://jabber.org/protocol/xhtml-im"
#define NS_XHTML "http://www.w3.org/1999/xhtml"
#define NS_CHATSTATES "http://jabber.org/protocol/chatstates"
#define NS_NICK "http://jabber.org/protocol/nick"
#define NS_RSM "http://jabber.org/protocol/rsm"
#define NS_DELAY "urn:xmpp:delay"
#define NS_JSON_MSG "urn:xmpp:json-msg:0"
#define NS_DATA "jabber:x:data"
#define NS_X_OOB "jabber:x:oob"
#define NS_IQ_OOB "jabber:iq:oob"
#define NS_CORRECT "urn:xmpp:message-correct:0"
#define NS_REPLY "urn:xmpp:reply:0"
#define NS_REACTIONS "urn:xmpp:reactions:0"
#define NS_REFERENCE "urn:xmpp:reference:0"
#define NS_MARKERS "urn:xmpp:chat-markers:0"
#define NS_FALLBACK "urn:xmpp:fallback:0"
#define NS_EME "urn:xmpp:eme:0"
#define NS_OCCUPANT_ID "urn:xmpp:occupant-id:0"
#define NS_ATTACHING "urn:xmpp:message-attaching:1"
#define NS_CONFERENCE "jabber:x:conference"
#define NS_SID "urn:xmpp:sid:0"
#define NS_MAM "urn:xmpp:mam:2"
#define NS_CAPS "http://jabber.org/protocol/caps"
#define NS_MUC "http://jabber.org/protocol/muc"
#define NS_IDLE "urn:xmpp:idle:1"
#define NS_VCARD_UPDATE "vcard-temp:x:update"
#define NS_COMMANDS "http://jabber.org/protocol/commands"
#define NS_LAST "jabber:iq:last"
#define NS_STATS "http://jabber.org/protocol/stats"
#define NS_EXTDISCO "urn:xmpp:extdisco:2"
#define NS_GATEWAY "jabber:iq:gateway"
#define NS_REGISTER "jabber:iq:register"
#define NS_UPLOAD "urn:xmpp:http:upload:0"
#define NS_BLOCKING "urn:xmpp:blocking"
#define NS_REPORTING "urn:xmpp:reporting:1"

/*
 * Why a conversion failed, in mod_rest's terms: HTTP status, stanza error
 * type and condition (constants, never freed) and a human-readable text.
 */
struct jsonmap_error {
    unsigned status;
    const char *type;
    const char *condition;
    char text[256];
};

/*
 * Build a message, presence or iq from a JSON object (research §4.8). The
 * object is borrowed and not modified. Returns a new stanza the caller
 * releases, or NULL with err filled:
 *   400 modify/not-well-formed  not an object, a key of the wrong JSON type,
 *                               a string with characters XML cannot carry,
 *                               html that is not well-formed
 *   400 modify/bad-request      a value outside its range or set (priority,
 *                               state, error type/condition, nesting)
 *   422 modify/unsupported-stanza-type  kind not message/presence/iq
 *   422 modify/improper-addressing      invalid "to"
 *   422 modify/invalid-from             invalid "from"
 *   422 modify/bad-format       an iq get/set with more than one child
 * No id is generated here (rest_build.c does that); unknown keys are ignored.
 */
xmpp_stanza_t *jsonmap_to_stanza(xmpp_ctx_t *ctx, json_object *obj,
                                 struct jsonmap_error *err);

/*
 * The JSON form of a message, presence or iq (borrowed); NULL for any other
 * element. Unknown child elements are dropped. Caller owns the result
 * (json_object_put). An <xmpp> wrapper is the caller's business.
 */
json_object *jsonmap_from_stanza(xmpp_stanza_t *st);

/*
 * Decode an application/x-www-form-urlencoded body into a flat JSON object
 * of strings (then mapped like JSON). Values of top-level keys that the
 * mapping wants as integers or booleans (priority; ping, join, ...) are
 * converted when they spell one ("5", "true"/"false"). 0 and *out (caller
 * puts) on success; -1 with err (400 modify/not-well-formed) on a bad
 * percent escape, invalid UTF-8, a NUL byte or a duplicate key.
 */
int jsonmap_form_to_json(const char *body, size_t len, json_object **out,
                         struct jsonmap_error *err);

#endif
