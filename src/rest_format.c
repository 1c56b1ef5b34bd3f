/* SPDX-License-Identifier: MIT */
/* rest_format.c: body and answer formats: media types, negotiation, forms,
 * stanzas as the caller sees them. */
#include "config.h"

#include "rest_format.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpd.h"
#include "json.h"
#include "jsonmap.h"
#include "rest_error.h"
#include "stanza.h"
#include "xmalloc.h"

/* Compare the media type at s[0..n) (blanks trimmed) without case. */
static bool media_is(const char *s, size_t n, const char *type)
{
    while (n > 0 && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return strlen(type) == n && strncasecmp(s, type, n) == 0;
}

static enum rest_format media_of(const char *s, size_t n)
{
    size_t semi = 0;

    while (semi < n && s[semi] != ';')
        semi++;
    if (media_is(s, semi, MIME_XML))
        return REST_XML;
    if (media_is(s, semi, MIME_JSON))
        return REST_JSON;
    if (media_is(s, semi, MIME_FORM))
        return REST_FORM;
    if (media_is(s, semi, MIME_TEXT))
        return REST_TEXT;
    return REST_UNSUPPORTED;
}

enum rest_format rest_format_media_type(const char *content_type)
{
    if (content_type == NULL)
        return REST_UNSUPPORTED;
    return media_of(content_type, strlen(content_type));
}

/* First format of the comma-separated list s that we can answer in. */
static bool first_supported(const char *s, bool form_ok, enum rest_format *out)
{
    while (s != NULL && *s != '\0') {
        size_t n = strcspn(s, ",");
        enum rest_format f = media_of(s, n);

        if (f == REST_XML || f == REST_JSON || (f == REST_FORM && form_ok)) {
            *out = f;
            return true;
        }
        s += n;
        if (*s == ',')
            s++;
    }
    return false;
}

enum rest_format rest_format_negotiate(const char *accept,
                                       const char *content_type, bool form_ok)
{
    enum rest_format f = REST_XML;

    if (!first_supported(accept, form_ok, &f))
        first_supported(content_type, form_ok, &f);
    return f;
}

/* Append one raw byte. */
static void form_byte(char **buf, size_t *len, size_t *cap, char c)
{
    if (*len + 2 > *cap) {
        *cap = *cap * 2 + 16;
        *buf = xrealloc(*buf, *cap);
    }
    (*buf)[(*len)++] = c;
    (*buf)[*len] = '\0';
}

/* Append s percent-encoded (space as '+'). */
static void form_append(char **buf, size_t *len, size_t *cap, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
            c == '~') {
            form_byte(buf, len, cap, (char)c);
        } else if (c == ' ') {
            form_byte(buf, len, cap, '+');
        } else {
            form_byte(buf, len, cap, '%');
            form_byte(buf, len, cap, hex[c >> 4]);
            form_byte(buf, len, cap, hex[c & 15]);
        }
    }
}

char *rest_format_form_encode(json_object *obj)
{
    size_t len = 0, cap = 64;
    char *buf = xmalloc(cap);

    buf[0] = '\0';
    if (!json_object_is_type(obj, json_type_object))
        return buf;
    json_object_object_foreach(obj, key, val)
    {
        const char *s;

        switch (json_object_get_type(val)) {
        case json_type_string:
        case json_type_int:
        case json_type_double:
            s = json_object_get_string(val);
            break;
        case json_type_boolean:
            if (!json_object_get_boolean(val))
                continue;
            s = "true";
            break;
        default:
            continue;
        }
        if (len > 0)
            form_byte(&buf, &len, &cap, '&');
        form_append(&buf, &len, &cap, key);
        form_byte(&buf, &len, &cap, '=');
        form_append(&buf, &len, &cap, s);
    }
    return buf;
}

const char *rest_format_mime(enum rest_format f)
{
    switch (f) {
    case REST_JSON:
        return MIME_JSON;
    case REST_FORM:
        return MIME_FORM;
    default:
        return MIME_XML;
    }
}

/* Namespaces of the component stream become jabber:client (or inherit). */
static void client_namespace(xmpp_stanza_t *st, bool top)
{
    const char *ns = xmpp_stanza_get_ns(st);

    if (top)
        xmpp_stanza_set_ns(st, NS_CLIENT);
    else if (ns != NULL && strcmp(ns, NS_COMPONENT) == 0)
        xmpp_stanza_del_attribute(st, ATTR_XMLNS);
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(st); c != NULL;
         c = xmpp_stanza_get_next(c))
        if (xmpp_stanza_is_tag(c))
            client_namespace(c, false);
}

/* The XML text of a stanza as a caller sees it; free(). */
char *rest_format_stanza_xml(xmpp_stanza_t *st, size_t *len)
{
    xmpp_stanza_t *copy = xmpp_stanza_copy(st);
    char *text;

    client_namespace(copy, true);
    text = stanza_to_text(copy, len);
    xmpp_stanza_release(copy);
    return text;
}

/* Answer with stanzas: one, or a MAM <xmpp> collection ending with last. */
void rest_format_respond(struct httpd_request *req, enum rest_format fmt,
                         unsigned status, xmpp_stanza_t **list, size_t n,
                         bool wrapped)
{
    char *body = NULL;
    size_t len = 0;

    if (fmt == REST_XML) {
        if (!wrapped) {
            body = rest_format_stanza_xml(list[0], &len);
        } else {
            body = xstrdup("<xmpp xmlns='jabber:client'>");
            len = strlen(body);
            for (size_t i = 0; i < n; i++) {
                size_t l;
                char *s = rest_format_stanza_xml(list[i], &l);
                if (s == NULL)
                    continue;
                body = xrealloc(body, len + l + 1);
                memcpy(body + len, s, l);
                len += l;
                free(s);
            }
            body = xrealloc(body, len + 8);
            memcpy(body + len, "</xmpp>", 8);
            len += 7;
        }
    } else {
        json_object *o;

        if (!wrapped) {
            o = jsonmap_from_stanza(list[0]);
        } else {
            json_object *arr = json_object_new_array();
            for (size_t i = 0; i < n; i++) {
                json_object *e = jsonmap_from_stanza(list[i]);
                if (e != NULL)
                    json_object_array_add(arr, e);
            }
            o = json_object_new_object();
            json_object_object_add(o, "xmpp", arr);
            /* Form output has no lists: a collection is always JSON. */
            fmt = REST_JSON;
        }
        if (o != NULL) {
            body = fmt == REST_FORM ? rest_format_form_encode(o)
                                    : json_to_string(o);
            len = strlen(body);
            json_object_put(o);
        }
    }
    if (body == NULL) {
        const struct rest_error *e = rest_error_get(RE_INTERNAL);
        rest_error_respond(req, fmt == REST_XML ? REST_XML : REST_JSON,
                           e->status, e->type, e->condition, e->text);
        return;
    }
    httpd_respond(req, status, rest_format_mime(fmt), body, len);
    free(body);
}
