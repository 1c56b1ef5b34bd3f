/* SPDX-License-Identifier: MIT */
/* rest.c: the REST API (mod_rest parity, component mode) on /rest. */
#include "config.h"

#include "rest.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "component.h"
#include "conf.h"
#include "delegation.h"
#include "auth.h"
#include "hmac.h"
#include "httpd.h"
#include "idempotency.h"
#include "iq.h"
#include "jid.h"
#include "json.h"
#include "jsonmap.h"
#include "log.h"
#include "muc.h"
#include "loop.h"
#include "loopguard.h"
#include "metrics.h"
#include "stanza.h"
#include "status.h"
#include "store.h"
#include "utf8.h"
#include "xmalloc.h"

#define NS_STREAMS "http://etherx.jabber.org/streams"
#define NS_XMPP_STREAMS "urn:ietf:params:xml:ns:xmpp-streams"
#define MIME_XML "application/xmpp+xml"
#define MIME_JSON "application/json"
#define MIME_FORM "application/x-www-form-urlencoded"
#define MIME_TEXT "text/plain"
#define WWW_AUTHENTICATE "Bearer realm=\"restanza\", Basic realm=\"restanza\""
#define RETRY_AFTER "5"
/* Wraps an XML body so that the parser sees anything after the element. */
#define XML_WRAPPER "restanza-body-wrapper"
#define ID_SIZE 64
/* Requests held for send queue room at once (each is also a parked HTTP
 * connection, so http.max_connections bounds it first). */
#define HELD_MAX 10000
/* Idempotency keys remembered at once (answers up to http.max_body
 * bytes each are 2xx only: messages have an empty body). */
#define IDEMPOTENCY_MAX 100000
/* An overload episode ends after this long without a held send. */
#define EPISODE_QUIET_MS 1000

/* Every error the REST endpoint itself answers with (research §4.7). */
enum rest_error_id {
    RE_NOAUTHZ,
    RE_UNAUTHZ,
    RE_MALFORMAUTHZ,
    RE_PARSE,
    RE_PATH_CHARS,
    RE_QUERY_CHARS,
    RE_CHARS,
    RE_TOO_LARGE,
    RE_XMLNS,
    RE_NAME,
    RE_TO,
    RE_TO_SELF,
    RE_FROM,
    RE_FROM_AUTH,
    RE_NO_PRIVILEGE,
    RE_USER_KIND,
    RE_IQ_TYPE,
    RE_IQ_TAGS,
    RE_MEDIATYPE,
    RE_TEXT_TO,
    RE_TEXT_IQ,
    RE_TIMEOUT_HEADER,
    RE_NOT_FOUND,
    RE_UNAVAILABLE,
    RE_QUEUE_FULL,
    RE_TIMEOUT,
    RE_DISCONNECTED,
    RE_SHUTDOWN,
    RE_UNCONFIRMED,
    RE_IDEM_KEY,
    RE_IDEM_MISMATCH,
    RE_IDEM_FULL,
    RE_IDEM_GONE,
    RE_INTERNAL,
};

static const struct rest_error {
    unsigned status;
    const char *type;
    const char *condition;
    const char *text;
} rest_errors[] = {
    [RE_NOAUTHZ] = {401, ERR_AUTH, "not-authorized", AUTH_TEXT_MISSING},
    [RE_UNAUTHZ] = {403, ERR_AUTH, "not-authorized", AUTH_TEXT_WRONG},
    [RE_MALFORMAUTHZ] = {403, ERR_AUTH, "not-authorized", AUTH_TEXT_MALFORMED},
    [RE_PARSE] = {400, ERR_MODIFY, "not-well-formed",
                  "Failed to parse payload"},
    [RE_PATH_CHARS] = {400, ERR_MODIFY, "bad-format",
                       "The path holds invalid UTF-8 or a character XML "
                       "does not allow"},
    [RE_QUERY_CHARS] = {400, ERR_MODIFY, "bad-format",
                        "A URL parameter holds invalid UTF-8 or a character "
                        "XML does not allow"},
    [RE_CHARS] = {400, ERR_MODIFY, "bad-format",
                  "The stanza holds invalid UTF-8 or a character XML does "
                  "not allow"},
    [RE_TOO_LARGE] = {413, ERR_MODIFY, COND_RESOURCE_CONSTRAINT,
                      "The stanza is larger than the XMPP server accepts "
                      "(component.max_stanza_size, counted on the escaped "
                      "XML)"},
    [RE_XMLNS] = {422, ERR_MODIFY, "invalid-namespace",
                  "'xmlns' attribute must be empty"},
    [RE_NAME] = {422, ERR_MODIFY, "unsupported-stanza-type",
                 "must be 'message', 'presence' or 'iq'"},
    [RE_TO] = {422, ERR_MODIFY, "improper-addressing",
               "Invalid destination JID"},
    [RE_TO_SELF] = {422, ERR_CANCEL, COND_NOT_ALLOWED,
                    "cannot send to restanza's own address (it would come "
                    "back to restanza)"},
    [RE_FROM] = {422, ERR_MODIFY, "invalid-from", "Invalid source JID"},
    [RE_FROM_AUTH] = {403, ERR_AUTH, "not-authorized",
                      "Not authorized to send stanza with requested 'from'"},
    [RE_NO_PRIVILEGE] = {403, ERR_AUTH, "forbidden",
                         "The server granted no message privilege "
                         "(XEP-0356): cannot send as a user"},
    [RE_USER_KIND] = {403, ERR_AUTH, "forbidden",
                      "Only messages can be sent as a user (XEP-0356)"},
    [RE_IQ_TYPE] = {422, ERR_MODIFY, "invalid-xml",
                    "'iq' stanza must be of type 'get' or 'set'"},
    [RE_IQ_TAGS] = {422, ERR_MODIFY, "bad-format",
                    "'iq' stanza must have exactly one child tag"},
    [RE_MEDIATYPE] = {415, ERR_CANCEL, "bad-format", "Unsupported media type"},
    [RE_TEXT_TO] = {422, ERR_MODIFY, "improper-addressing",
                    "A text/plain body needs the destination in the path: "
                    "POST /rest/{kind}/{type}/{to}"},
    [RE_TEXT_IQ] = {415, ERR_CANCEL, "bad-format",
                    "A text/plain body can only be a message body or a "
                    "presence show"},
    [RE_TIMEOUT_HEADER] = {400, ERR_MODIFY, "bad-request",
                           "The timeout header must be a whole number of "
                           "seconds from 1"},
    [RE_NOT_FOUND] = {404, ERR_CANCEL, COND_ITEM_NOT_FOUND,
                      "No such REST route"},
    [RE_UNAVAILABLE] = {503, ERR_WAIT, COND_SERVICE_UNAVAILABLE,
                        "Not connected to the XMPP server"},
    [RE_QUEUE_FULL] = {503, ERR_WAIT, COND_RESOURCE_CONSTRAINT,
                       "The queue to the XMPP server is full"},
    [RE_TIMEOUT] = {504, ERR_WAIT, COND_REMOTE_TIMEOUT, "IQ stanza timed out"},
    [RE_DISCONNECTED] = {503, ERR_WAIT, COND_SERVICE_UNAVAILABLE,
                         "The XMPP stream went away before the reply"},
    [RE_SHUTDOWN] = {503, ERR_WAIT, COND_SERVICE_UNAVAILABLE,
                     "restanza is shutting down"},
    [RE_UNCONFIRMED] = {504, ERR_WAIT, COND_REMOTE_TIMEOUT,
                        "The XMPP server has not confirmed the stanza in "
                        "time; it stays in the outbox and will be sent"},
    [RE_IDEM_KEY] = {400, ERR_MODIFY, "bad-request",
                     "Idempotency-Key must be 1 to 128 printable ASCII "
                     "characters"},
    [RE_IDEM_MISMATCH] = {422, ERR_MODIFY, COND_NOT_ALLOWED,
                          "This Idempotency-Key was used with a different "
                          "request"},
    [RE_IDEM_FULL] = {503, ERR_WAIT, COND_RESOURCE_CONSTRAINT,
                      "Too many Idempotency-Keys in progress"},
    [RE_IDEM_GONE] = {503, ERR_WAIT, COND_SERVICE_UNAVAILABLE,
                      "The first request with this Idempotency-Key went "
                      "away unanswered: retry"},
    [RE_INTERNAL] = {500, ERR_WAIT, COND_INTERNAL, "Internal error"},
};

/* What the payload key of a GET shortcut holds without URL parameters. */
enum get_empty {
    GET_TRUE,   /* a flag: "ping": true */
    GET_OBJECT, /* an empty object: <query xmlns=.../> */
    GET_ARRAY,  /* an empty list (stats) */
};

/*
 * GET /rest/{query}/{to} shortcuts. Every URL parameter goes into the
 * payload object of a GET_OBJECT query (as mod_rest); a flag or a list
 * takes none.
 */
static const struct {
    const char *query;
    enum get_empty empty;
} get_queries[] = {
    {"ping", GET_TRUE},
    {"version", GET_OBJECT},
    {"disco", GET_OBJECT},
    {"items", GET_OBJECT},
    {"extdisco", GET_OBJECT},
    {"archive", GET_OBJECT},
    {"lastactivity", GET_OBJECT},
    {"stats", GET_ARRAY},
    {"upload_request", GET_OBJECT},
    {"oob", GET_OBJECT},
    {"payload", GET_OBJECT},
};

/* The URL parameters of a GET shortcut, read into a payload object. */
struct get_params {
    json_object *obj; /* NULL while no parameter had a value */
    size_t n;         /* parameters seen */
    bool bad;         /* a key or value that is not XML text */
};

static bool get_param(const char *key, const char *value, void *arg)
{
    struct get_params *gp = arg;

    gp->n++;
    if (value == NULL)
        return true; /* "?flag" without '=': mod_rest's decoder skips it */
    /* Percent-decoded: any bytes at all. */
    if (!utf8_xml_valid_str(key) || !utf8_xml_valid_str(value)) {
        gp->bad = true;
        return false;
    }
    if (gp->obj == NULL)
        gp->obj = json_object_new_object();
    /* A repeated parameter: the last one wins, as in mod_rest. */
    json_object_object_add(gp->obj, key, json_object_new_string(value));
    return true;
}

/* A parked IQ request waiting for its reply. */
struct call {
    struct rest *r;
    struct httpd_request *req;
    const char *route;
    enum rest_format fmt;
    char wire[ID_SIZE];   /* the IQ's id on the stream: always ours */
    char *id;             /* the caller's id, put back on the reply */
    char *queryid;        /* MAM query id on the stream (ours), or NULL */
    char *client_queryid; /* the caller's, put back on each result */
    char *peer;           /* where the IQ went: MAM results must come from it */
    xmpp_stanza_t **results;
    size_t nresults;
    struct call *prev, *next;
};

/* Who the caller proved to be. */
struct auth {
    const char *pattern; /* limit on `from`, NULL for any */
    const char *scope;   /* whose Idempotency-Keys: the token, or Basic */
};

/* One request being handled. */
struct rest_job {
    struct rest *r;
    struct httpd_request *req;
    const char *route;
    enum rest_format fmt;     /* answer format */
    enum rest_format err_fmt; /* error answer format */
    struct auth auth;
};

/* A message or presence parked until the send queue has room, then (with
 * Prefer: wait=server) until the server confirmed it. */
struct held {
    struct rest_job j; /* j.req is parked */
    xmpp_stanza_t *st;
    struct loop_timer *timer; /* rest.queue_wait, then the confirm deadline */
    bool confirm;             /* the caller waits for the server */
    unsigned confirm_secs;
    bool confirming; /* sent: on the confirm list */
    uint64_t seq;    /* its outbox number once sent */
    struct held *prev, *next;
};

/* One overload episode: from the first held send until none is held. */
struct episode {
    bool on;
    uint64_t start_ms;
    uint64_t held, sent, timed_out, failed;
    struct loop_timer *quiet; /* ends it unless a send is held again */
};

struct rest {
    struct httpd *h;
    struct component *c;
    struct delegation *d;
    const struct conf *conf;
    xmpp_ctx_t *ctx;
    struct loop *loop;
    struct call *calls;
    struct idempotency *idem;
    struct store *store;       /* Idempotency-Key answers across restarts */
    struct idem_first *firsts; /* requests whose answer a key keeps */
    struct held *held_head, *held_tail; /* oldest first */
    size_t nheld;
    struct held *confirm_head, *confirm_tail; /* sent, by outbox number */
    struct episode ep;
    rest_archive_cb archive_cb; /* a user's archive (archive.c) */
    void *archive_arg;
    struct muc *muc; /* group chats (muc.c), or NULL */
};

/* ---------------------------------------------------------------------- */
/* pure helpers (exported for the unit tests) */

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

enum rest_format rest_media_type(const char *content_type)
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

enum rest_format rest_negotiate(const char *accept, const char *content_type,
                                bool form_ok)
{
    enum rest_format f = REST_XML;

    if (!first_supported(accept, form_ok, &f))
        first_supported(content_type, form_ok, &f);
    return f;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int rest_parse_basic(const char *b64, char **user, char **secret)
{
    size_t len, n = 0;
    unsigned acc = 0;
    int bits = 0;
    char *out, *colon;

    while (*b64 == ' ' || *b64 == '\t')
        b64++;
    len = strlen(b64);
    while (len > 0 && (b64[len - 1] == ' ' || b64[len - 1] == '\t'))
        len--;
    /* Padding is optional, but only at the end and at most two. */
    for (size_t pad = 0; len > 0 && b64[len - 1] == '=' && pad < 2; pad++)
        len--;
    if (len == 0 || len % 4 == 1)
        return -1;
    out = xmalloc(len * 3 / 4 + 1);
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)b64[i]);
        if (v < 0) {
            free(out);
            return -1;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[n] = '\0';
    colon = memchr(out, ':', n);
    if (colon == NULL || strlen(out) != n) {
        free(out);
        return -1;
    }
    *user = xstrndup(out, (size_t)(colon - out));
    *secret = xstrdup(colon + 1);
    free(out);
    return 0;
}

bool rest_jid_matches(const char *jid, const char *pattern)
{
    struct jid j, p;
    bool ok;

    if (jid_parse(jid, &j) < 0)
        return false;
    if (jid_parse(pattern, &p) < 0) {
        jid_clear(&j);
        return false;
    }
    ok = strcasecmp(j.domain, p.domain) == 0 &&
         (p.local == NULL ||
          (j.local != NULL && strcmp(j.local, p.local) == 0)) &&
         (p.resource == NULL ||
          (j.resource != NULL && strcmp(j.resource, p.resource) == 0));
    jid_clear(&j);
    jid_clear(&p);
    return ok;
}

int rest_parse_timeout(const char *value, unsigned max, unsigned *out)
{
    unsigned long v = 0;

    if (value == NULL || *value == '\0')
        return -1;
    for (const char *s = value; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        /* Anything past the cap is the cap; stop before overflowing. */
        if (v <= max)
            v = v * 10 + (unsigned long)(*s - '0');
    }
    if (v == 0)
        return -1;
    *out = v > max ? max : (unsigned)v;
    return 0;
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

char *rest_form_encode(json_object *obj)
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

/* True when st holds only blank text. */
static bool blank_text(xmpp_stanza_t *st)
{
    const char *t = xmpp_stanza_get_text_ptr(st);

    return t == NULL || t[strspn(t, " \t\r\n")] == '\0';
}

xmpp_stanza_t *rest_parse_xml(xmpp_ctx_t *ctx, const char *body, size_t len)
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

/* ---------------------------------------------------------------------- */
/* answers */

static const char *format_mime(enum rest_format f)
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

/* Answer with an error, as XML or JSON; 503s carry Retry-After. */
static void respond_error(struct httpd_request *req, enum rest_format fmt,
                          unsigned status, const char *type,
                          const char *condition, const char *text)
{
    xmpp_ctx_t *ctx;
    xmpp_stanza_t *err, *t;
    char *body;
    size_t len;

    if (status == 503)
        httpd_add_header(req, "Retry-After", RETRY_AFTER);
    if (status == 401)
        httpd_add_header(req, "WWW-Authenticate", WWW_AUTHENTICATE);
    if (fmt != REST_XML) {
        httpd_error(req, status, type, condition, text);
        return;
    }
    /* A throwaway context keeps this usable before any stream exists. */
    ctx = xmpp_ctx_new(NULL, NULL);
    err = stanza_element(ctx, EL_ERROR, NS_STREAMS);
    stanza_add_element(err, condition, NS_XMPP_STREAMS);
    if (text != NULL && *text != '\0') {
        t = stanza_add_element(err, EL_TEXT, NS_XMPP_STREAMS);
        stanza_add_text(t, text);
    }
    body = stanza_to_text(err, &len);
    if (body != NULL) {
        httpd_respond(req, status, MIME_XML, body, len);
        free(body);
    } else {
        httpd_error(req, status, type, condition, text);
    }
    xmpp_stanza_release(err);
    xmpp_ctx_free(ctx);
}

static void job_fail_with(struct rest_job *j, unsigned status, const char *type,
                          const char *condition, const char *text)
{
    /* Under overload or abuse every request ends here: a few lines a
     * second and a count, never one line per request. */
    static struct log_ratelimit failed_log =
        LOG_RATELIMIT_INIT(LOG_LEVEL_WARN, "rest request failed");
    static struct log_ratelimit refused_log =
        LOG_RATELIMIT_INIT(LOG_LEVEL_INFO, "rest request refused");

    if (status >= 500 && log_ratelimit_pass(&failed_log, loop_clock_ms()))
        log_warn("rest request failed", "route=%s status=%u condition=%s",
                 j->route, status, condition);
    else if (status < 500 && log_ratelimit_pass(&refused_log, loop_clock_ms()))
        log_info("rest request refused", "route=%s status=%u condition=%s",
                 j->route, status, condition);
    respond_error(j->req, j->err_fmt, status, type, condition, text);
}

static void job_fail(struct rest_job *j, enum rest_error_id id)
{
    const struct rest_error *e = &rest_errors[id];

    job_fail_with(j, e->status, e->type, e->condition, e->text);
}

static void job_fail_map(struct rest_job *j, const struct jsonmap_error *e)
{
    job_fail_with(j, e->status, e->type, e->condition, e->text);
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
static char *stanza_xml(xmpp_stanza_t *st, size_t *len)
{
    xmpp_stanza_t *copy = xmpp_stanza_copy(st);
    char *text;

    client_namespace(copy, true);
    text = stanza_to_text(copy, len);
    xmpp_stanza_release(copy);
    return text;
}

/* Answer with stanzas: one, or a MAM <xmpp> collection ending with last. */
static void respond_stanzas(struct httpd_request *req, enum rest_format fmt,
                            unsigned status, xmpp_stanza_t **list, size_t n,
                            bool wrapped)
{
    char *body = NULL;
    size_t len = 0;

    if (fmt == REST_XML) {
        if (!wrapped) {
            body = stanza_xml(list[0], &len);
        } else {
            body = xstrdup("<xmpp xmlns='jabber:client'>");
            len = strlen(body);
            for (size_t i = 0; i < n; i++) {
                size_t l;
                char *s = stanza_xml(list[i], &l);
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
            body = fmt == REST_FORM ? rest_form_encode(o) : json_to_string(o);
            len = strlen(body);
            json_object_put(o);
        }
    }
    if (body == NULL) {
        const struct rest_error *e = &rest_errors[RE_INTERNAL];
        respond_error(req, fmt == REST_XML ? REST_XML : REST_JSON, e->status,
                      e->type, e->condition, e->text);
        return;
    }
    httpd_respond(req, status, format_mime(fmt), body, len);
    free(body);
}

/* ---------------------------------------------------------------------- */
/* authentication */

/* True when the request carries credentials we accept; answers otherwise. */
static bool authenticate(struct rest_job *j)
{
    const struct conf *conf = j->r->conf;
    const char *cred;

    switch (auth_scheme(httpd_request_header(j->req, "Authorization"), &cred)) {
    case AUTH_SCHEME_BEARER: {
        size_t match = conf->rest.ntokens;
        /* Check every token so the time spent tells nothing. */
        for (size_t i = 0; i < conf->rest.ntokens; i++) {
            bool eq = auth_secret_equal(cred, conf->rest.tokens[i].token);
            if (eq && match == conf->rest.ntokens)
                match = i;
        }
        if (*cred == '\0') {
            job_fail(j, RE_NOAUTHZ);
            return false;
        }
        if (match == conf->rest.ntokens) {
            job_fail(j, RE_UNAUTHZ);
            return false;
        }
        j->auth.pattern = conf->rest.tokens[match].pattern;
        j->auth.scope = conf->rest.tokens[match].token;
        return true;
    }
    case AUTH_SCHEME_BASIC: {
        char *user, *secret;
        bool ok;

        if (rest_parse_basic(cred, &user, &secret) < 0) {
            job_fail(j, RE_MALFORMAUTHZ);
            return false;
        }
        /* Both comparisons run whatever the first one says. */
        ok = auth_secret_equal(secret, conf->component.secret);
        ok = (strcasecmp(user, conf->component.jid) == 0) & ok;
        free(user);
        free(secret);
        if (!ok) {
            job_fail(j, RE_UNAUTHZ);
            return false;
        }
        j->auth.pattern = NULL;
        j->auth.scope = "\n basic"; /* no token can hold a newline */
        return true;
    }
    default:
        job_fail(j, RE_NOAUTHZ);
        return false;
    }
}

/* ---------------------------------------------------------------------- */
/* building the stanza */

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

/* What the path said: POST /rest/{kind}/{type}/{to}. */
struct path {
    bool given;
    const char *kind; /* message, presence or iq */
    char *type;
    char *to;
    const char *query; /* iq with a payload key instead of get/set */
};

static void path_clear(struct path *p)
{
    free(p->type);
    free(p->to);
}

/* A JSON object (from a JSON or form body) completed by the path. */
static json_object *apply_path(json_object *obj, const struct path *p)
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
static xmpp_stanza_t *map_json(struct rest_job *j, json_object *obj,
                               struct jsonmap_error *err)
{
    xmpp_stanza_t *st = jsonmap_to_stanza(j->r->ctx, obj, err);

    json_object_put(obj);
    return st;
}

static void set_error(struct jsonmap_error *err, enum rest_error_id id)
{
    const struct rest_error *e = &rest_errors[id];

    err->status = e->status;
    err->type = e->type;
    err->condition = e->condition;
    snprintf(err->text, sizeof(err->text), "%s", e->text);
}

/* The request body as a stanza (not yet validated); NULL with err set. */
static xmpp_stanza_t *rest_parse_body(struct rest_job *j, const struct path *p,
                                      struct jsonmap_error *err)
{
    const char *ctype = httpd_request_header(j->req, "Content-Type");
    size_t len;
    const char *body = httpd_request_body(j->req, &len);
    json_object *obj = NULL;
    xmpp_stanza_t *st;
    char why[128];

    switch (rest_media_type(ctype)) {
    case REST_JSON:
        obj = json_parse(body, len, 0, why, sizeof(why));
        if (obj == NULL) {
            set_error(err, RE_PARSE);
            return NULL;
        }
        return map_json(j, apply_path(obj, p), err);
    case REST_FORM:
        if (jsonmap_form_to_json(body, len, &obj, err) < 0)
            return NULL;
        return map_json(j, apply_path(obj, p), err);
    case REST_TEXT:
        if (!p->given) {
            set_error(err, RE_TEXT_TO);
            return NULL;
        }
        if (p->query != NULL || strcmp(p->kind, EL_IQ) == 0) {
            set_error(err, RE_TEXT_IQ);
            return NULL;
        }
        if (!utf8_xml_valid(body, len)) {
            set_error(err, RE_PARSE);
            return NULL;
        }
        obj = json_object_new_object();
        json_object_object_add(
            obj, strcmp(p->kind, EL_MESSAGE) == 0 ? "body" : "show",
            json_object_new_string_len(body, (int)len));
        return map_json(j, apply_path(obj, p), err);
    case REST_XML:
        st = rest_parse_xml(j->r->ctx, body, len);
        if (st == NULL) {
            set_error(err, RE_PARSE);
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
                set_error(err, RE_NAME);
                return NULL;
            }
            xmpp_stanza_set_type(st, p->type);
        }
        xmpp_stanza_set_attribute(st, ATTR_TO, p->to);
        return st;
    default:
        set_error(err, RE_MEDIATYPE);
        return NULL;
    }
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
static xmpp_stanza_t *normalise(struct rest *r, xmpp_stanza_t *st,
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
        return set_error(err, RE_XMLNS), NULL;
    if (name == NULL ||
        (strcmp(name, EL_MESSAGE) != 0 && strcmp(name, EL_PRESENCE) != 0 &&
         strcmp(name, EL_IQ) != 0))
        return set_error(err, RE_NAME), NULL;
    if (to == NULL || normal_address(st, ATTR_TO) < 0)
        return set_error(err, RE_TO), NULL;
    /* Normalised first: any case or form of our own domain is caught. An
     * IQ may ask the component itself (version, disco): it is answered
     * once and never reaches the webhook. */
    if (strcmp(name, EL_IQ) != 0 &&
        loopguard_own_domain(stanza_attr(st, ATTR_TO), r->conf->component.jid))
        return set_error(err, RE_TO_SELF), NULL;
    if (from != NULL && normal_address(st, ATTR_FROM) < 0)
        return set_error(err, RE_FROM), NULL;
    if (strcmp(name, EL_IQ) == 0) {
        if (type == NULL ||
            (strcmp(type, "get") != 0 && strcmp(type, "set") != 0))
            return set_error(err, RE_IQ_TYPE), NULL;
        if (stanza_element_count(st) != 1)
            return set_error(err, RE_IQ_TAGS), NULL;
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
static bool check_from(struct rest_job *j, xmpp_stanza_t *st, bool *as_user,
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

/* <message from=component to=server><privilege><forwarded><message/>. */
static xmpp_stanza_t *privileged_wrap(struct rest *r, xmpp_stanza_t *inner,
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

/* ---------------------------------------------------------------------- */
/* parked IQs */

static void call_unlink(struct call *call)
{
    struct rest *r = call->r;

    if (call->prev != NULL)
        call->prev->next = call->next;
    else
        r->calls = call->next;
    if (call->next != NULL)
        call->next->prev = call->prev;
}

static void call_free(struct call *call)
{
    call_unlink(call);
    for (size_t i = 0; i < call->nresults; i++)
        xmpp_stanza_release(call->results[i]);
    free(call->results);
    free(call->id);
    free(call->queryid);
    free(call->client_queryid);
    free(call->peer);
    free(call);
}

static void call_fail(struct call *call, enum rest_error_id id)
{
    const struct rest_error *e = &rest_errors[id];
    enum rest_format fmt = call->fmt == REST_XML ? REST_XML : REST_JSON;

    static struct log_ratelimit iq_log =
        LOG_RATELIMIT_INIT(LOG_LEVEL_INFO, "rest iq failed");

    if (log_ratelimit_pass(&iq_log, loop_clock_ms()))
        log_info("rest iq failed", "route=%s status=%u condition=%s id=%s",
                 call->route, e->status, e->condition,
                 call->id ? call->id : "-");
    respond_error(call->req, fmt, e->status, e->type, e->condition, e->text);
}

static void on_iq_done(enum iq_outcome outcome, xmpp_stanza_t *reply, void *arg)
{
    struct call *call = arg;
    xmpp_stanza_t *mine;

    switch (outcome) {
    case IQ_REPLY:
        log_debug("rest iq answered", "route=%s status=200 id=%s type=%s",
                  call->route, call->wire,
                  stanza_attr(reply, ATTR_TYPE) ? stanza_attr(reply, ATTR_TYPE)
                                                : "-");
        /* The caller sees its own id, never the wire id. */
        mine = iq_reply_with_id(reply, call->id);
        if (call->queryid != NULL) {
            call->results = xreallocarray(call->results, call->nresults + 1,
                                          sizeof(*call->results));
            call->results[call->nresults++] = mine;
            respond_stanzas(call->req, call->fmt, 200, call->results,
                            call->nresults, true);
        } else {
            respond_stanzas(call->req, call->fmt, 200, &mine, 1, false);
            xmpp_stanza_release(mine);
        }
        break;
    case IQ_TIMEOUT:
        call_fail(call, RE_TIMEOUT);
        break;
    case IQ_DISCONNECTED:
        call_fail(call, RE_DISCONNECTED);
        break;
    case IQ_SHUTDOWN:
        call_fail(call, RE_SHUTDOWN);
        break;
    }
    call_free(call);
}

/* The HTTP side went away first: forget the IQ. */
static void on_abort(struct httpd_request *req, void *arg)
{
    struct call *call = arg;

    (void)req;
    iq_untrack(component_iqs(call->r->c), call->wire);
    call_free(call);
}

/* A copy of a MAM result message carrying the caller's query id. */
static xmpp_stanza_t *result_as_caller(const struct call *call,
                                       xmpp_stanza_t *msg)
{
    xmpp_stanza_t *copy = xmpp_stanza_copy(msg);
    xmpp_stanza_t *res = stanza_child(copy, "result", NS_MAM);

    if (res != NULL && call->client_queryid != NULL)
        xmpp_stanza_set_attribute(res, "queryid", call->client_queryid);
    return copy;
}

bool rest_offer_message(xmpp_stanza_t *msg, void *arg)
{
    struct rest *r = arg;
    xmpp_stanza_t *res = stanza_child(msg, "result", NS_MAM);
    const char *qid = res != NULL ? stanza_attr(res, "queryid") : NULL;
    const char *from = stanza_attr(msg, ATTR_FROM);
    char *bare;

    if (qid == NULL || from == NULL || !stanza_is(msg, EL_MESSAGE))
        return false;
    bare = jid_bare(from);
    for (struct call *call = r->calls; call != NULL; call = call->next) {
        /* Only the archive we asked may add results to our answer. */
        if (call->queryid == NULL || strcmp(call->queryid, qid) != 0 ||
            bare == NULL || call->peer == NULL ||
            strcasecmp(bare, call->peer) != 0)
            continue;
        free(bare);
        call->results = xreallocarray(call->results, call->nresults + 1,
                                      sizeof(*call->results));
        call->results[call->nresults++] = result_as_caller(call, msg);
        return true;
    }
    free(bare);
    return false;
}

/* The IQ's timeout: request header, capped, else rest.iq_timeout. */
static int iq_timeout(struct rest_job *j, unsigned *secs)
{
    const struct conf *conf = j->r->conf;
    const char *v = httpd_request_header(j->req, "Restanza-Timeout");

    if (v == NULL)
        v = httpd_request_header(j->req, "Prosody-Rest-Timeout");
    if (v == NULL) {
        *secs = conf->rest.iq_timeout;
        return 0;
    }
    return rest_parse_timeout(v, conf->rest.iq_max_timeout, secs);
}

/* The answer to a stanza component_send() refused. */
static enum rest_error_id refusal_error(struct rest *r)
{
    switch (component_send_refusal(r->c)) {
    case COMPONENT_REFUSED_INVALID:
        return RE_CHARS;
    case COMPONENT_REFUSED_TOO_LARGE:
        return RE_TOO_LARGE;
    case COMPONENT_REFUSED_DISCONNECTED:
        return RE_UNAVAILABLE;
    default:
        return component_state(r->c) == COMPONENT_CONNECTED ? RE_QUEUE_FULL
                                                            : RE_UNAVAILABLE;
    }
}

static void rest_send_iq(struct rest_job *j, xmpp_stanza_t *iq)
{
    struct rest *r = j->r;
    struct call *call;
    xmpp_stanza_t *q = stanza_child(iq, EL_QUERY, NS_MAM);
    unsigned secs;

    if (iq_timeout(j, &secs) < 0) {
        job_fail(j, RE_TIMEOUT_HEADER);
        return;
    }
    call = xcalloc(1, sizeof(*call));
    call->r = r;
    call->req = j->req;
    call->route = j->route;
    call->fmt = j->fmt;
    /* Our id on the wire, the caller's back on the reply: a caller can
     * neither collide with another caller nor take one of our own IQs. */
    call->id = iq_assign_id(component_iqs(r->c), iq);
    snprintf(call->wire, sizeof(call->wire), "%s", stanza_attr(iq, ATTR_ID));
    if (q != NULL) {
        /* Results are matched by query id: ours, the caller's restored. */
        const char *given = stanza_attr(q, "queryid");
        call->client_queryid = xstrdup(given != NULL ? given : call->id);
        xmpp_stanza_set_attribute(q, "queryid", call->wire);
        call->queryid = xstrdup(call->wire);
        call->peer = jid_bare(stanza_attr(iq, ATTR_TO));
    }
    call->next = r->calls;
    if (r->calls != NULL)
        r->calls->prev = call;
    r->calls = call;
    if (component_send_iq(r->c, iq, (uint64_t)secs * 1000, on_iq_done, call) <
        0) {
        call_free(call);
        job_fail(j, refusal_error(r));
        return;
    }
    log_debug("rest iq sent", "route=%s id=%s wire=%s timeout=%u", j->route,
              call->id, call->wire, secs);
    httpd_park(j->req, on_abort, call);
}

/* ---------------------------------------------------------------------- */
/* messages and presences: sent, or held while the send queue is full */

static void episode_check_end(struct rest *r);

/* Quiet for EPISODE_QUIET_MS: the episode ends with its counts. */
static void on_episode_quiet(void *arg)
{
    struct rest *r = arg;
    struct episode *ep = &r->ep;

    ep->quiet = NULL;
    if (r->nheld > 0)
        return;
    if (component_state(r->c) == COMPONENT_CONNECTED &&
        !component_has_room(r->c)) {
        episode_check_end(r);
        return;
    }
    log_info("rest sends no longer held",
             "held=%llu sent=%llu timed_out=%llu failed=%llu ms=%llu",
             (unsigned long long)ep->held, (unsigned long long)ep->sent,
             (unsigned long long)ep->timed_out, (unsigned long long)ep->failed,
             (unsigned long long)(loop_clock_ms() - ep->start_ms));
    memset(ep, 0, sizeof(*ep));
}

/* No send is held: once the queue has room (or the stream is gone) and no
 * send was held again for a while, the episode ends. A queue that fills
 * and drains by the socket buffer's bites is one episode, not dozens. */
static void episode_check_end(struct rest *r)
{
    struct episode *ep = &r->ep;

    if (!ep->on || r->nheld > 0 || ep->quiet != NULL)
        return;
    if (component_state(r->c) == COMPONENT_CONNECTED &&
        !component_has_room(r->c)) {
        component_want_room(r->c); /* rest_on_room() comes back here */
        return;
    }
    ep->quiet = loop_timer_add(r->loop, EPISODE_QUIET_MS, on_episode_quiet, r);
}

static void held_unlink(struct held *h)
{
    struct rest *r = h->j.r;
    struct held **head = h->confirming ? &r->confirm_head : &r->held_head;
    struct held **tail = h->confirming ? &r->confirm_tail : &r->held_tail;

    if (h->prev != NULL)
        h->prev->next = h->next;
    else
        *head = h->next;
    if (h->next != NULL)
        h->next->prev = h->prev;
    else
        *tail = h->prev;
    h->prev = h->next = NULL;
    if (!h->confirming)
        r->nheld--;
}

/* Append to the held (FIFO) or the confirm list (by outbox number). */
static void held_append(struct held *h)
{
    struct rest *r = h->j.r;
    struct held **head = h->confirming ? &r->confirm_head : &r->held_head;
    struct held **tail = h->confirming ? &r->confirm_tail : &r->held_tail;

    h->prev = *tail;
    if (*tail != NULL)
        (*tail)->next = h;
    else
        *head = h;
    *tail = h;
    if (!h->confirming)
        r->nheld++;
}

static void held_free(struct held *h)
{
    held_unlink(h);
    loop_timer_cancel(h->j.r->loop, h->timer);
    if (h->st != NULL)
        xmpp_stanza_release(h->st);
    free(h);
}

/* Answer a held request with an error, without a log line each: the
 * episode's lines count them. */
static void held_fail(struct held *h, enum rest_error_id id)
{
    const struct rest_error *e = &rest_errors[id];

    respond_error(h->j.req, h->j.err_fmt, e->status, e->type, e->condition,
                  e->text);
    held_free(h);
}

/* No room within rest.queue_wait: 503 with Retry-After. */
static void on_held_timeout(void *arg)
{
    struct held *h = arg;
    struct rest *r = h->j.r;

    h->timer = NULL;
    metrics_inc(METRIC_REST_HELD_TIMEOUTS);
    r->ep.timed_out++;
    held_fail(h, RE_QUEUE_FULL);
    episode_check_end(r);
}

/* The client went away while its send was held: it is not sent. */
static void on_held_abort(struct httpd_request *req, void *arg)
{
    struct held *h = arg;
    struct rest *r = h->j.r;

    (void)req;
    if (!h->confirming)
        r->ep.failed++;
    held_free(h);
    episode_check_end(r);
}

/* Not confirmed by the deadline: 504, the stanza stays in the outbox. */
static void on_confirm_timeout(void *arg)
{
    struct held *h = arg;

    h->timer = NULL;
    metrics_inc(METRIC_REST_CONFIRM_TIMEOUTS);
    httpd_add_header(h->j.req, "Restanza-Outbox", "pending");
    held_fail(h, RE_UNCONFIRMED);
}

/* The server confirmed every tracked stanza up to seq. */
static void on_confirmed(uint64_t seq, void *arg)
{
    struct rest *r = arg;

    while (r->confirm_head != NULL && r->confirm_head->seq <= seq) {
        struct held *h = r->confirm_head;

        httpd_add_header(h->j.req, "Restanza-Outbox", "confirmed");
        httpd_add_header(h->j.req, "Preference-Applied", "wait=server");
        httpd_respond(h->j.req, 200, NULL, "", 0);
        held_free(h);
    }
}

/*
 * Queue the stanza to the server, kept in the outbox until the server
 * confirms it, and answer 202, or with wait=server 200 once confirmed.
 * h is the request's held record when it was held (and is parked), else
 * NULL.
 */
static void send_stanza(struct rest_job *j, xmpp_stanza_t *st, bool confirm,
                        unsigned secs, struct held *h)
{
    struct rest *r = j->r;
    bool fresh = h == NULL;
    uint64_t seq;

    if (component_send_tracked(r->c, st, &seq) < 0) {
        if (h != NULL)
            held_fail(h, refusal_error(r));
        else
            job_fail(j, refusal_error(r));
        return;
    }
    if (!confirm) {
        log_debug("rest request", "route=%s status=202", j->route);
        httpd_respond(j->req, 202, NULL, "", 0);
        if (h != NULL)
            held_free(h);
        return;
    }
    if (h != NULL) {
        held_unlink(h);
        loop_timer_cancel(r->loop, h->timer);
    } else {
        h = xcalloc(1, sizeof(*h));
        h->j = *j;
    }
    h->confirming = true;
    h->seq = seq;
    h->timer = loop_timer_add(r->loop, 1000ull * secs, on_confirm_timeout, h);
    held_append(h);
    if (fresh)
        httpd_park(j->req, on_held_abort, h);
}

/* Room in the queue (or the stream went away): oldest waiter first. */
static void rest_on_room(void *arg)
{
    struct rest *r = arg;

    while (r->held_head != NULL) {
        struct held *h = r->held_head;

        if (component_state(r->c) != COMPONENT_CONNECTED) {
            r->ep.failed++;
            held_fail(h, RE_UNAVAILABLE);
            continue;
        }
        if (!component_has_room(r->c)) {
            component_want_room(r->c);
            break;
        }
        r->ep.sent++;
        send_stanza(&h->j, h->st, h->confirm, h->confirm_secs, h);
    }
    episode_check_end(r);
}

/* Park the request until there is room, at most rest.queue_wait. */
static void hold(struct rest_job *j, xmpp_stanza_t *st, bool confirm,
                 unsigned secs)
{
    struct rest *r = j->r;
    struct held *h;

    if (r->conf->rest.queue_wait == 0 || r->nheld >= HELD_MAX) {
        job_fail(j, RE_QUEUE_FULL);
        return;
    }
    loop_timer_cancel(r->loop, r->ep.quiet);
    r->ep.quiet = NULL;
    if (!r->ep.on) {
        log_warn("rest sends held: xmpp send queue full",
                 "queue_max=%zu queue_wait=%u", r->conf->component.queue_max,
                 r->conf->rest.queue_wait);
        r->ep.on = true;
        r->ep.start_ms = loop_clock_ms();
    }
    r->ep.held++;
    metrics_inc(METRIC_REST_HELD);
    h = xcalloc(1, sizeof(*h));
    h->j = *j;
    h->st = xmpp_stanza_clone(st);
    h->confirm = confirm;
    h->confirm_secs = secs;
    h->timer = loop_timer_add(r->loop, 1000ull * r->conf->rest.queue_wait,
                              on_held_timeout, h);
    held_append(h);
    component_want_room(r->c);
    httpd_park(j->req, on_held_abort, h);
}

/* Prefer: wait=server or ?confirm=1: answer once the server confirmed. */
static bool wants_confirm(struct rest_job *j)
{
    const char *prefer = httpd_request_header(j->req, "Prefer");
    const char *q = httpd_request_query(j->req, "confirm");

    if (q != NULL && strcmp(q, "1") == 0)
        return true;
    for (const char *p = prefer; p != NULL && *p != '\0'; p++)
        if (strncasecmp(p, "wait=server", 11) == 0 &&
            (p == prefer || p[-1] == ' ' || p[-1] == ',' || p[-1] == ';') &&
            (p[11] == '\0' || p[11] == ' ' || p[11] == ',' || p[11] == ';'))
            return true;
    return false;
}

/* Every message carries an XEP-0359 origin-id equal to its id, so that a
 * receiver can drop the copy a resend may deliver. */
static void add_origin_id(xmpp_stanza_t *st)
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

/* Send now, or hold while older sends wait or the queue is full. */
static void send_or_hold(struct rest_job *j, xmpp_stanza_t *st)
{
    bool confirm = wants_confirm(j);
    unsigned secs = 0;

    if (confirm && iq_timeout(j, &secs) < 0) {
        job_fail(j, RE_TIMEOUT_HEADER);
        return;
    }
    if (j->r->held_head == NULL && component_has_room(j->r->c))
        send_stanza(j, st, confirm, secs, NULL);
    else
        hold(j, st, confirm, secs);
}

/* A groupchat message waiting for the room's reflection. */
struct groupchat {
    struct rest *r;
    struct httpd_request *req;
    enum rest_format fmt, err_fmt;
    struct muc_send *send;
};

static void on_groupchat_done(const struct muc_outcome *o, void *arg)
{
    struct groupchat *g = arg;
    xmpp_stanza_t *st = o->stanza;

    if (st != NULL)
        respond_stanzas(g->req, g->fmt, o->status, &st, 1, false);
    else
        respond_error(g->req, g->err_fmt, o->status, o->type, o->cond, o->text);
    free(g);
}

static void on_groupchat_abort(struct httpd_request *req, void *arg)
{
    struct groupchat *g = arg;

    (void)req;
    muc_send_cancel(g->r->muc, g->send);
    free(g);
}

/* SPEC §11: answered once the room reflects it (or refuses it). */
static void send_groupchat(struct rest_job *j, xmpp_stanza_t *st)
{
    struct groupchat *g = xcalloc(1, sizeof(*g));
    struct muc_send *send;
    unsigned secs;

    if (iq_timeout(j, &secs) < 0) {
        free(g);
        job_fail(j, RE_TIMEOUT_HEADER);
        return;
    }
    g->r = j->r;
    g->req = j->req;
    g->fmt = j->fmt;
    g->err_fmt = j->err_fmt;
    /* g is freed by the callback when the answer is known at once. */
    send =
        muc_send_groupchat(j->r->muc, st, secs * 1000u, on_groupchat_done, g);
    if (send != NULL) {
        g->send = send;
        httpd_park(j->req, on_groupchat_abort, g);
    }
}

void rest_set_muc(struct rest *r, struct muc *m)
{
    r->muc = m;
}

/* Validate, then echo or send the stanza the request described. */
static void process(struct rest_job *j, xmpp_stanza_t *parsed, bool echo)
{
    struct rest *r = j->r;
    struct jsonmap_error err;
    enum rest_error_id eid;
    xmpp_stanza_t *st = normalise(r, parsed, &err);
    bool as_user;

    xmpp_stanza_release(parsed);
    if (st == NULL) {
        job_fail_map(j, &err);
        return;
    }
    if (!check_from(j, st, &as_user, &eid)) {
        job_fail(j, eid);
        goto out;
    }
    if (log_enabled(LOG_LEVEL_DEBUG)) {
        size_t len;
        char *text = stanza_xml(st, &len);
        log_debug("rest stanza", "route=%s stanza=%s", j->route,
                  text ? text : "-");
        free(text);
    }
    if (echo) {
        respond_stanzas(j->req, j->fmt, 200, &st, 1, false);
        goto out;
    }
    add_origin_id(st);
    if (as_user) {
        const char *ns = delegation_privilege_ns(r->d, r->conf->server.domain);
        xmpp_stanza_t *wrap;

        if (!stanza_is(st, EL_MESSAGE)) {
            job_fail(j, RE_USER_KIND);
            goto out;
        }
        if (ns == NULL || delegation_privilege(r->d, r->conf->server.domain,
                                               "message") == NULL) {
            job_fail(j, component_state(r->c) == COMPONENT_CONNECTED
                            ? RE_NO_PRIVILEGE
                            : RE_UNAVAILABLE);
            goto out;
        }
        wrap = privileged_wrap(r, st, ns);
        xmpp_stanza_release(st);
        st = wrap;
    }
    if (component_state(r->c) != COMPONENT_CONNECTED) {
        job_fail(j, RE_UNAVAILABLE);
        goto out;
    }
    if (stanza_is(st, EL_IQ))
        rest_send_iq(j, st);
    else if (!as_user && r->muc != NULL && muc_is_groupchat(st))
        send_groupchat(j, st);
    else
        send_or_hold(j, st);
out:
    xmpp_stanza_release(st);
}

/* ---------------------------------------------------------------------- */
/* Idempotency-Key */

/* The first request with a key: its answer is kept (2xx) or dropped. */
struct idem_first {
    struct rest *r;
    struct httpd_request *req;
    struct idempotency_entry *e;
    char *skey; /* its key in the store: scope digest, key */
    struct idem_first *prev, *next;
};

/* A repeat waiting for the first request's answer. */
struct idem_wait {
    struct httpd_request *req;
    enum rest_format err_fmt;
    struct idempotency_waiter *w;
};

static void first_unlink(struct idem_first *f)
{
    if (f->prev != NULL)
        f->prev->next = f->next;
    else
        f->r->firsts = f->next;
    if (f->next != NULL)
        f->next->prev = f->prev;
}

#define IDEM_SPACE "idempotency"

/*
 * A kept answer in the store: the request digest, the status (4 bytes,
 * big-endian), the content type and a NUL, then the body.
 */
static void idem_store_put(struct idem_first *f,
                           const struct idempotency_answer *a)
{
    const char *ct = a->content_type != NULL ? a->content_type : "";
    size_t ctl = strlen(ct) + 1, n = IDEMPOTENCY_DIGEST_LEN + 4 + ctl + a->len;
    unsigned char *v = xmalloc(n);
    unsigned char *p = v + IDEMPOTENCY_DIGEST_LEN;

    memcpy(v, idempotency_digest(f->e), IDEMPOTENCY_DIGEST_LEN);
    p[0] = (unsigned char)(a->status >> 24);
    p[1] = (unsigned char)(a->status >> 16);
    p[2] = (unsigned char)(a->status >> 8);
    p[3] = (unsigned char)a->status;
    memcpy(p + 4, ct, ctl);
    memcpy(p + 4 + ctl, a->body, a->len);
    /* Logged by the store when it fails: the answer stays in memory. */
    (void)store_kv_put(f->r->store, IDEM_SPACE, f->skey, v, n,
                       (int64_t)time(NULL) + IDEMPOTENCY_TTL_MS / 1000);
    free(v);
}

/* The kept answer of skey in the store, decoded into a (pointing into *v,
 * which the caller frees); 1 found, 0 none. */
static int idem_store_get(struct rest *r, const char *skey,
                          unsigned char digest[IDEMPOTENCY_DIGEST_LEN],
                          struct idempotency_answer *a, unsigned char **v)
{
    size_t n, ctl;
    unsigned char *p;

    *v = store_kv_get(r->store, IDEM_SPACE, skey, &n);
    if (*v == NULL)
        return 0;
    p = *v + IDEMPOTENCY_DIGEST_LEN;
    if (n < IDEMPOTENCY_DIGEST_LEN + 5 ||
        memchr(p + 4, '\0', n - IDEMPOTENCY_DIGEST_LEN - 4) == NULL) {
        free(*v);
        return 0;
    }
    memcpy(digest, *v, IDEMPOTENCY_DIGEST_LEN);
    a->status = (unsigned)p[0] << 24 | (unsigned)p[1] << 16 |
                (unsigned)p[2] << 8 | p[3];
    a->content_type = *(char *)(p + 4) != '\0' ? (char *)(p + 4) : NULL;
    ctl = strlen((char *)(p + 4)) + 1;
    a->body = (char *)(p + 4 + ctl);
    a->len = n - IDEMPOTENCY_DIGEST_LEN - 4 - ctl;
    return 1;
}

static void on_first_answer(unsigned status, const char *content_type,
                            const char *body, size_t len, void *arg)
{
    struct idem_first *f = arg;
    struct idempotency_answer a = {status, content_type, body, len};

    first_unlink(f);
    if (f->r->store != NULL && status >= 200 && status <= 299)
        idem_store_put(f, &a);
    idempotency_finish(f->r->idem, f->e, status != 0 ? &a : NULL,
                       loop_clock_ms());
    free(f->skey);
    free(f);
}

static void replay(struct httpd_request *req,
                   const struct idempotency_answer *a)
{
    httpd_add_header(req, "Idempotent-Replayed", "true");
    httpd_respond(req, a->status, a->content_type, a->body, a->len);
}

static void on_idem_ready(const struct idempotency_answer *a, void *arg)
{
    struct idem_wait *iw = arg;

    if (a != NULL) {
        replay(iw->req, a);
    } else {
        const struct rest_error *e = &rest_errors[RE_IDEM_GONE];
        respond_error(iw->req, iw->err_fmt, e->status, e->type, e->condition,
                      e->text);
    }
    free(iw);
}

static void on_idem_wait_abort(struct httpd_request *req, void *arg)
{
    struct idem_wait *iw = arg;

    (void)req;
    idempotency_unwait(iw->w);
    free(iw);
}

/* What identifies the request: route, path, content type and body. */
static int request_digest(struct rest_job *j,
                          unsigned char out[IDEMPOTENCY_DIGEST_LEN])
{
    const char *ctype = httpd_request_header(j->req, "Content-Type");
    const char *parts[3] = {j->route, httpd_request_rest(j->req),
                            ctype != NULL ? ctype : ""};
    size_t blen, n = 0, total;
    const char *body = httpd_request_body(j->req, &blen);
    char *buf;
    int rc;

    total = blen + 3;
    for (int i = 0; i < 3; i++)
        total += strlen(parts[i]);
    buf = xmalloc(total);
    for (int i = 0; i < 3; i++) {
        memcpy(buf + n, parts[i], strlen(parts[i]) + 1);
        n += strlen(parts[i]) + 1;
    }
    if (blen > 0)
        memcpy(buf + n, body, blen);
    rc = hmac_sha256("restanza idempotency", 20, buf, n + blen, out);
    free(buf);
    return rc;
}

/* The key in the store: a digest of the scope (never a token in the
 * database), a newline, the key. */
static char *idem_store_key(struct rest_job *j, const char *key)
{
    char hex[HMAC_SHA256_HEX_LEN], *out;
    const char *scope = j->auth.scope;

    if (hmac_sha256_hex("restanza idempotency scope", 26, scope, strlen(scope),
                        hex) < 0)
        hex[0] = '\0';
    out = xmalloc(strlen(hex) + strlen(key) + 2);
    sprintf(out, "%s\n%s", hex, key);
    return out;
}

/* A new key in memory may have an answer in the store (from before a
 * restart): replay it, or 422 for another request. True when answered. */
static bool idem_from_store(struct rest_job *j, struct idempotency_entry *e,
                            const char *skey,
                            const unsigned char digest[IDEMPOTENCY_DIGEST_LEN])
{
    struct rest *r = j->r;
    unsigned char stored[IDEMPOTENCY_DIGEST_LEN], *v;
    struct idempotency_answer a;

    if (idem_store_get(r, skey, stored, &a, &v) == 0)
        return false;
    if (memcmp(stored, digest, IDEMPOTENCY_DIGEST_LEN) != 0) {
        idempotency_finish(r->idem, e, NULL, loop_clock_ms());
        job_fail(j, RE_IDEM_MISMATCH);
    } else {
        idempotency_finish(r->idem, e, &a, loop_clock_ms());
        replay(j->req, &a);
    }
    free(v);
    return true;
}

/*
 * Idempotency-Key (SPEC §10): true when the request is answered or parked
 * here (a replay, a wait for the first, an error); false to go on, with
 * its answer kept when the request has a new key.
 */
static bool idempotent(struct rest_job *j)
{
    struct rest *r = j->r;
    const char *key = httpd_request_header(j->req, "Idempotency-Key");
    unsigned char digest[IDEMPOTENCY_DIGEST_LEN];
    struct idempotency_entry *e = NULL;
    struct idem_first *f;
    struct idem_wait *iw;
    char *skey;

    if (key == NULL)
        return false;
    if (!idempotency_key_valid(key)) {
        job_fail(j, RE_IDEM_KEY);
        return true;
    }
    if (request_digest(j, digest) < 0) {
        job_fail(j, RE_INTERNAL);
        return true;
    }
    switch (idempotency_begin(r->idem, j->auth.scope, key, digest,
                              loop_clock_ms(), &e)) {
    case IDEMPOTENCY_DONE:
        replay(j->req, idempotency_stored(e));
        return true;
    case IDEMPOTENCY_PENDING:
        iw = xcalloc(1, sizeof(*iw));
        iw->req = j->req;
        iw->err_fmt = j->err_fmt;
        iw->w = idempotency_wait(e, on_idem_ready, iw);
        httpd_park(j->req, on_idem_wait_abort, iw);
        return true;
    case IDEMPOTENCY_MISMATCH:
        job_fail(j, RE_IDEM_MISMATCH);
        return true;
    case IDEMPOTENCY_FULL:
        job_fail(j, RE_IDEM_FULL);
        return true;
    case IDEMPOTENCY_NEW:
        break;
    }
    skey = idem_store_key(j, key);
    if (r->store != NULL && idem_from_store(j, e, skey, digest)) {
        free(skey);
        return true;
    }
    f = xcalloc(1, sizeof(*f));
    f->r = r;
    f->req = j->req;
    f->e = e;
    f->skey = skey;
    f->next = r->firsts;
    if (r->firsts != NULL)
        r->firsts->prev = f;
    r->firsts = f;
    httpd_on_answer(j->req, on_first_answer, f);
    return false;
}

/* ---------------------------------------------------------------------- */
/* routes */

static bool rest_job_start(struct rest_job *j, struct rest *r,
                           struct httpd_request *req, const char *route)
{
    const char *accept = httpd_request_header(req, "Accept");
    const char *ctype = httpd_request_header(req, "Content-Type");

    j->r = r;
    j->req = req;
    j->route = route;
    j->fmt = rest_negotiate(accept, ctype, true);
    j->err_fmt = rest_negotiate(accept, ctype, false);
    j->auth.pattern = NULL;
    return authenticate(j);
}

/* Split "kind/type/to" (to may hold more slashes); false when malformed. */
static bool split_path(const char *rest, struct path *p)
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

static void post(struct rest *r, struct httpd_request *req, const char *route,
                 bool echo, bool with_path)
{
    struct rest_job j;
    struct path p = {0};
    struct jsonmap_error err;
    xmpp_stanza_t *st;

    if (!rest_job_start(&j, r, req, route))
        return;
    if (!echo && idempotent(&j))
        return;
    if (with_path) {
        if (!split_path(httpd_request_rest(req), &p)) {
            job_fail(&j, RE_NOT_FOUND);
            return;
        }
        if (p.kind == NULL) {
            job_fail(&j, RE_NAME);
            path_clear(&p);
            return;
        }
        /* Percent-decoded by libmicrohttpd: any bytes at all. */
        if (!utf8_xml_valid_str(p.type) || !utf8_xml_valid_str(p.to)) {
            job_fail(&j, RE_PATH_CHARS);
            path_clear(&p);
            return;
        }
    }
    st = rest_parse_body(&j, &p, &err);
    path_clear(&p);
    if (st == NULL) {
        job_fail_map(&j, &err);
        return;
    }
    process(&j, st, echo);
}

static void on_post(struct httpd_request *req, void *arg)
{
    post(arg, req, "rest_post", false, false);
}

static void on_echo(struct httpd_request *req, void *arg)
{
    post(arg, req, "rest_echo", true, false);
}

static void on_post_path(struct httpd_request *req, void *arg)
{
    post(arg, req, "rest_post_path", false, true);
}

static void rest_on_get(struct httpd_request *req, void *arg)
{
    struct rest *r = arg;
    const char *rest = httpd_request_rest(req);
    const char *slash = strchr(rest, '/');
    struct jsonmap_error err;
    struct rest_job j;
    struct get_params gp = {0};
    json_object *obj, *payload = NULL;
    xmpp_stanza_t *st;
    size_t qi, n = sizeof(get_queries) / sizeof(get_queries[0]);

    if (!rest_job_start(&j, r, req, "rest_get"))
        return;
    for (qi = 0; slash != NULL && qi < n; qi++)
        if (strlen(get_queries[qi].query) == (size_t)(slash - rest) &&
            strncmp(rest, get_queries[qi].query, (size_t)(slash - rest)) == 0)
            break;
    if (slash == NULL || qi == n || slash[1] == '\0') {
        job_fail(&j, RE_NOT_FOUND);
        return;
    }
    /* Path and parameters are percent-decoded: any bytes at all. */
    if (!utf8_xml_valid_str(slash + 1)) {
        job_fail(&j, RE_PATH_CHARS);
        return;
    }
    if (r->archive_cb != NULL &&
        strcmp(get_queries[qi].query, "archive") == 0 &&
        r->archive_cb(req, slash + 1, j.auth.pattern, r->archive_arg))
        return;
    /* The URL parameters become the payload object (`?node=...`). */
    httpd_request_query_each(req, get_param, &gp);
    if (gp.bad || (gp.n > 0 && gp.obj == NULL)) {
        /* mod_rest cannot decode a query without any '=' either. */
        json_object_put(gp.obj);
        job_fail(&j, gp.bad ? RE_QUERY_CHARS : RE_PARSE);
        return;
    }
    if (get_queries[qi].empty == GET_OBJECT)
        payload = gp.obj;
    else
        json_object_put(gp.obj);
    obj = json_object_new_object();
    json_object_object_add(obj, "kind", json_object_new_string(EL_IQ));
    json_object_object_add(
        obj, ATTR_TYPE,
        json_object_new_string(
            strcmp(get_queries[qi].query, "archive") == 0 ? "set" : "get"));
    json_object_object_add(obj, ATTR_TO, json_object_new_string(slash + 1));
    if (payload == NULL) {
        switch (get_queries[qi].empty) {
        case GET_TRUE:
            payload = json_object_new_boolean(1);
            break;
        case GET_OBJECT:
            payload = json_object_new_object();
            break;
        case GET_ARRAY:
            payload = json_object_new_array();
            break;
        }
    }
    json_object_object_add(obj, get_queries[qi].query, payload);
    st = map_json(&j, obj, &err);
    if (st == NULL) {
        job_fail_map(&j, &err);
        return;
    }
    process(&j, st, false);
}

struct rest *rest_new(struct httpd *h, struct component *c,
                      struct delegation *d, const struct conf *conf)
{
    struct rest *r = xcalloc(1, sizeof(*r));

    r->h = h;
    r->c = c;
    r->d = d;
    r->conf = conf;
    r->ctx = component_ctx(c);
    r->loop = component_loop(c);
    r->idem = idempotency_new(IDEMPOTENCY_MAX, IDEMPOTENCY_TTL_MS);
    component_on_room(c, rest_on_room, r);
    component_on_confirm(c, on_confirmed, r);
    httpd_route(h, "POST", "/rest", false, "rest_post", on_post, r);
    httpd_route(h, "POST", "/rest/echo", false, "rest_echo", on_echo, r);
    httpd_route(h, "POST", "/rest", true, "rest_post_path", on_post_path, r);
    httpd_route(h, "GET", "/rest", true, "rest_get", rest_on_get, r);
    if (conf->rest.ntokens == 0)
        log_info("rest: no bearer tokens configured, only Basic "
                 "component-jid:secret is accepted",
                 "");
    return r;
}

void rest_on_archive(struct rest *r, rest_archive_cb cb, void *arg)
{
    r->archive_cb = cb;
    r->archive_arg = arg;
}

void rest_set_store(struct rest *r, struct store *s)
{
    r->store = s;
}

void rest_free(struct rest *r)
{
    if (r == NULL)
        return;
    while (r->calls != NULL) {
        struct call *call = r->calls;
        iq_untrack(component_iqs(r->c), call->wire);
        call_fail(call, RE_SHUTDOWN);
        call_free(call);
    }
    while (r->held_head != NULL)
        held_fail(r->held_head, RE_SHUTDOWN);
    while (r->confirm_head != NULL) {
        httpd_add_header(r->confirm_head->j.req, "Restanza-Outbox", "pending");
        held_fail(r->confirm_head, RE_SHUTDOWN);
    }
    component_on_room(r->c, NULL, NULL);
    component_on_confirm(r->c, NULL, NULL);
    loop_timer_cancel(r->loop, r->ep.quiet);
    /* Requests still unanswered outlive us in httpd: forget their keys. */
    while (r->firsts != NULL) {
        struct idem_first *f = r->firsts;
        httpd_on_answer(f->req, NULL, NULL);
        first_unlink(f);
        free(f->skey);
        free(f);
    }
    idempotency_free(r->idem);
    free(r);
}
