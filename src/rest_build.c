/* SPDX-License-Identifier: MIT */
/* rest_build.c: the stanza a /rest request describes: path, body (XML,
 * JSON, form or text), mod_rest's normalisation and the sender. */
#include "config.h"

#include "rest_build.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "component.h"
#include "conf.h"
#include "httpd.h"
#include "iq.h"
#include "jid.h"
#include "json.h"
#include "jsonmap.h"
#include "loopguard.h"
#include "rest.h"
#include "rest_error.h"
#include "rest_format.h"
#include "rest_internal.h"
#include "stanza.h"
#include "utf8.h"
#include "xmalloc.h"

/* Wraps an XML body so that the parser sees anything after the element. */
#define XML_WRAPPER "restanza-body-wrapper"

static const char *kind_name(const char *kind)
{
    /* mod_rest keys on the first letter: "msg", "m" and "message" agree. */
    switch (kind[0]) {
    case 'm':
        return EL_MESSAGE;
    case 'p':
        return EL_PRESENCE;
    case 'i':
        return EL_IQ;
    default:
        return NULL;
    }
}

void rest_build_path_clear(struct rest_path *p)
{
    free(p->type);
    free(p->to);
}

/* Split "kind/type/to" (to may hold more slashes); false when malformed. */
bool rest_build_split_path(const char *rest, struct rest_path *p)
{
    const char *s1 = strchr(rest, '/'), *s2;

    memset(p, 0, sizeof(*p));
    if (s1 == NULL || (s2 = strchr(s1 + 1, '/')) == NULL || s1 == rest ||
        s2 == s1 + 1 || s2[1] == '\0')
        return false;
    p->given = true;
    p->kind = kind_name(rest);
    p->type = xstrndup(s1 + 1, (size_t)(s2 - s1 - 1));
    p->to = xstrdup(s2 + 1);
    if (p->kind != NULL && strcmp(p->kind, EL_IQ) == 0 &&
        strcmp(p->type, "get") != 0 && strcmp(p->type, "set") != 0)
        p->query = p->type;
    return true;
}

/* A JSON object (from a JSON or form body) completed by the path. */
static json_object *apply_path(json_object *obj, const struct rest_path *p)
{
    json_object *top = obj;

    if (!p->given)
        return obj;
    if (p->query != NULL) {
        top = json_object_new_object();
        json_object_object_add(top, p->type, obj);
    }
    json_object_object_add(top, "kind", json_object_new_string(p->kind));
    if (p->query == NULL)
        json_object_object_add(top, ATTR_TYPE, json_object_new_string(p->type));
    json_object_object_add(top, ATTR_TO, json_object_new_string(p->to));
    return top;
}

/* Map a JSON object to a stanza; err set on failure. */
xmpp_stanza_t *rest_build_map_json(struct rest_job *j, json_object *obj,
                                   struct jsonmap_error *err)
{
    xmpp_stanza_t *st = jsonmap_to_stanza(j->r->ctx, obj, err);

    json_object_put(obj);
    return st;
}

/* The request body as a stanza (not yet validated); NULL with err set. */
xmpp_stanza_t *rest_build_parse_body(struct rest_job *j,
                                     const struct rest_path *p,
                                     struct jsonmap_error *err)
{
    const char *ctype = httpd_request_header(j->req, "Content-Type");
    size_t len;
    const char *body = httpd_request_body(j->req, &len);
    json_object *obj = NULL;
    xmpp_stanza_t *st;
    char why[128];

    switch (rest_format_media_type(ctype)) {
    case REST_JSON:
        obj = json_parse(body, len, 0, why, sizeof(why));
        if (obj == NULL) {
            rest_error_set(err, RE_PARSE);
            return NULL;
        }
        return rest_build_map_json(j, apply_path(obj, p), err);
    case REST_FORM:
        if (jsonmap_form_to_json(body, len, &obj, err) < 0)
            return NULL;
        return rest_build_map_json(j, apply_path(obj, p), err);
    case REST_TEXT:
        if (!p->given) {
            rest_error_set(err, RE_TEXT_TO);
            return NULL;
        }
        if (p->query != NULL || strcmp(p->kind, EL_IQ) == 0) {
            rest_error_set(err, RE_TEXT_IQ);
            return NULL;
        }
        if (!utf8_xml_valid(body, len)) {
            rest_error_set(err, RE_PARSE);
            return NULL;
        }
        obj = json_object_new_object();
        json_object_object_add(
            obj, strcmp(p->kind, EL_MESSAGE) == 0 ? "body" : "show",
            json_object_new_string_len(body, (int)len));
        return rest_build_map_json(j, apply_path(obj, p), err);
    case REST_XML:
        st = rest_build_parse_xml(j->r->ctx, body, len);
        if (st == NULL) {
            rest_error_set(err, RE_PARSE);
            return NULL;
        }
        if (!p->given)
            return st;
        if (p->query != NULL) {
            /* The element is the payload of an iq get (set for archive). */
            xmpp_stanza_t *iq = stanza_element(j->r->ctx, EL_IQ, NULL);
            xmpp_stanza_set_type(iq, strcmp(p->type, "archive") == 0 ||
                                             strcmp(p->type, "command") == 0
                                         ? "set"
                                         : "get");
            stanza_adopt(iq, st);
            st = iq;
        } else {
            if (!stanza_is(st, p->kind)) {
                xmpp_stanza_release(st);
                rest_error_set(err, RE_NAME);
                return NULL;
            }
            xmpp_stanza_set_type(st, p->type);
        }
        xmpp_stanza_set_attribute(st, ATTR_TO, p->to);
        return st;
    default:
        rest_error_set(err, RE_MEDIATYPE);
        return NULL;
    }
}

/* True when st holds only blank text. */
static bool blank_text(xmpp_stanza_t *st)
{
    const char *t = xmpp_stanza_get_text_ptr(st);

    return t == NULL || t[strspn(t, " \t\r\n")] == '\0';
}

xmpp_stanza_t *rest_build_parse_xml(xmpp_ctx_t *ctx, const char *body,
                                    size_t len)
{
    xmpp_stanza_t *wrap, *el = NULL, *copy;
    char *text;
    size_t i = 0;

    while (i < len && strchr(" \t\r\n", body[i]) != NULL && body[i] != '\0')
        i++;
    /* No declaration, DOCTYPE (entity expansion), comment or PI first. */
    if (i == len || body[i] != '<' || i + 1 == len || body[i + 1] == '?' ||
        body[i + 1] == '!' || body[i + 1] == '/')
        return NULL;
    if (memchr(body, '\0', len) != NULL ||
        memmem(body, len, "<!DOCTYPE", 9) != NULL ||
        memmem(body, len, "<!ENTITY", 8) != NULL ||
        memmem(body, len, XML_WRAPPER, strlen(XML_WRAPPER)) != NULL)
        return NULL;
    text = xasprintf("<" XML_WRAPPER ">%.*s</" XML_WRAPPER ">", (int)len, body);
    wrap = xmpp_stanza_new_from_string(ctx, text);
    free(text);
    if (wrap == NULL)
        return NULL;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(wrap); c != NULL;
         c = xmpp_stanza_get_next(c)) {
        if (xmpp_stanza_is_text(c)) {
            if (!blank_text(c))
                goto fail;
        } else if (el != NULL) {
            goto fail;
        } else {
            el = c;
        }
    }
    if (el == NULL)
        goto fail;
    copy = xmpp_stanza_copy(el);
    xmpp_stanza_release(wrap);
    return copy;
fail:
    xmpp_stanza_release(wrap);
    return NULL;
}

/* The attributes the top element keeps (mod_rest's rebuild). */
static bool kept_attribute(const char *name)
{
    static const char *const kept[] = {ATTR_TO, ATTR_FROM, ATTR_ID, ATTR_TYPE,
                                       "xml:lang"};
    for (size_t i = 0; i < sizeof(kept) / sizeof(*kept); i++)
        if (strcmp(name, kept[i]) == 0)
            return true;
    return false;
}

/*
 * Replace the JID in attribute attr by its normalised form: the servers
 * compare and route normalised addresses (a `from` of the component's domain
 * in another case is `invalid-from`), and so do authorisation and IQ reply
 * matching here. -1 when it is no valid JID.
 */
static int normal_address(xmpp_stanza_t *st, const char *attr)
{
    char *n = jid_normalize(stanza_attr(st, attr));

    if (n == NULL)
        return -1;
    xmpp_stanza_set_attribute(st, attr, n);
    free(n);
    return 0;
}

/*
 * Normalise the top element as mod_rest does: only from, to, id (made when
 * absent), type and xml:lang survive; validate name, xmlns, to, from and
 * the iq rules. Done in place on the stanza the request produced (ours
 * alone): rebuilding it copied the whole payload once more per request.
 * Returns st, or NULL with err set.
 */
xmpp_stanza_t *rest_build_normalise(struct rest *r, xmpp_stanza_t *st,
                                    struct jsonmap_error *err)
{
    const char *name = xmpp_stanza_get_name(st);
    const char *ns = xmpp_stanza_get_ns(st);
    const char *to = stanza_attr(st, ATTR_TO);
    const char *from = stanza_attr(st, ATTR_FROM);
    const char *type = stanza_attr(st, ATTR_TYPE);
    const char *id = stanza_attr(st, ATTR_ID);
    const char *lang = stanza_attr(st, "xml:lang");
    const char *attrs[2 * 16], **drop = attrs;
    char idbuf[ID_SIZE];
    int n, m = 0;

    if (ns != NULL && *ns != '\0' && strcmp(ns, NS_CLIENT) != 0)
        return rest_error_set(err, RE_XMLNS), NULL;
    if (name == NULL ||
        (strcmp(name, EL_MESSAGE) != 0 && strcmp(name, EL_PRESENCE) != 0 &&
         strcmp(name, EL_IQ) != 0))
        return rest_error_set(err, RE_NAME), NULL;
    if (to == NULL || normal_address(st, ATTR_TO) < 0)
        return rest_error_set(err, RE_TO), NULL;
    /* Normalised first: any case or form of our own domain is caught. An
     * IQ may ask the component itself (version, disco): it is answered
     * once and never reaches the webhook. */
    if (strcmp(name, EL_IQ) != 0 &&
        loopguard_own_domain(stanza_attr(st, ATTR_TO), r->conf->component.jid))
        return rest_error_set(err, RE_TO_SELF), NULL;
    if (from != NULL && normal_address(st, ATTR_FROM) < 0)
        return rest_error_set(err, RE_FROM), NULL;
    if (strcmp(name, EL_IQ) == 0) {
        if (type == NULL ||
            (strcmp(type, "get") != 0 && strcmp(type, "set") != 0))
            return rest_error_set(err, RE_IQ_TYPE), NULL;
        if (stanza_element_count(st) != 1)
            return rest_error_set(err, RE_IQ_TAGS), NULL;
    }
    /* libstrophe's parser drops the xml: prefix. */
    if (lang == NULL && (lang = stanza_attr(st, "lang")) != NULL)
        xmpp_stanza_set_attribute(st, "xml:lang", lang);
    n = xmpp_stanza_get_attribute_count(st) * 2;
    if (n > (int)(sizeof(attrs) / sizeof(*attrs)))
        drop = xcalloc((size_t)n, sizeof(*drop));
    n = xmpp_stanza_get_attributes(st, drop, n);
    /* Collect first, then delete: each name stays valid until its own
     * deletion. */
    for (int i = 0; i + 1 < n; i += 2)
        if (!kept_attribute(drop[i]))
            drop[m++] = drop[i];
    for (int i = 0; i < m; i++)
        xmpp_stanza_del_attribute(st, drop[i]);
    if (drop != attrs)
        free(drop);
    if (id == NULL || *id == '\0') {
        iq_new_id(component_iqs(r->c), idbuf, sizeof(idbuf));
        xmpp_stanza_set_id(st, idbuf);
    }
    return xmpp_stanza_clone(st);
}

/*
 * Decide who sends: `from` defaults to the token's pattern or the
 * component; any JID of the component goes as is; a bare JID of
 * server.domain goes through the XEP-0356 message privilege (*as_user).
 */
bool rest_build_check_from(struct rest_job *j, xmpp_stanza_t *st, bool *as_user,
                           enum rest_error_id *why)
{
    const struct conf *conf = j->r->conf;
    const char *from = stanza_attr(st, ATTR_FROM);
    bool ok = false;
    struct jid jid;

    *as_user = false;
    if (from == NULL) {
        from = j->auth.pattern != NULL ? j->auth.pattern : conf->component.jid;
        xmpp_stanza_set_attribute(st, ATTR_FROM, from);
        from = stanza_attr(st, ATTR_FROM);
    }
    *why = RE_FROM_AUTH;
    if (j->auth.pattern != NULL && !rest_jid_matches(from, j->auth.pattern))
        return false;
    if (jid_parse(from, &jid) < 0) {
        *why = RE_FROM;
        return false;
    }
    if (strcasecmp(jid.domain, conf->component.jid) == 0) {
        ok = true;
    } else if (strcasecmp(jid.domain, conf->server.domain) == 0 &&
               jid.local != NULL && jid.resource == NULL) {
        *as_user = true;
        ok = true;
    }
    jid_clear(&jid);
    return ok;
}

/* Every message carries an XEP-0359 origin-id equal to its id, so that a
 * receiver can drop the copy a resend may deliver. */
void rest_build_add_origin_id(xmpp_stanza_t *st)
{
    const char *id = stanza_attr(st, ATTR_ID);
    xmpp_stanza_t *oid;

    if (id == NULL || !stanza_is(st, EL_MESSAGE))
        return;
    oid = stanza_child(st, EL_ORIGIN_ID, NS_SID);
    if (oid == NULL)
        oid = stanza_add_element(st, EL_ORIGIN_ID, NS_SID);
    xmpp_stanza_set_attribute(oid, ATTR_ID, id);
}

/* <message from=component to=server><privilege><forwarded><message/>. */
xmpp_stanza_t *rest_build_privileged_wrap(struct rest *r, xmpp_stanza_t *inner,
                                          const char *priv_ns)
{
    xmpp_stanza_t *outer = stanza_element(r->ctx, EL_MESSAGE, NULL);
    xmpp_stanza_t *priv, *fwd, *copy;
    char id[ID_SIZE];

    iq_new_id(component_iqs(r->c), id, sizeof(id));
    xmpp_stanza_set_attribute(outer, ATTR_FROM, r->conf->component.jid);
    xmpp_stanza_set_attribute(outer, ATTR_TO, r->conf->server.domain);
    xmpp_stanza_set_id(outer, id);
    priv = stanza_add_element(outer, EL_PRIVILEGE, priv_ns);
    fwd = stanza_add_element(priv, EL_FORWARDED, NS_FORWARD);
    copy = xmpp_stanza_copy(inner);
    xmpp_stanza_set_ns(copy, NS_CLIENT);
    stanza_adopt(fwd, copy);
    return outer;
}
