/* SPDX-License-Identifier: MIT */
/* json.c: strict JSON parsing and non-coercing typed getters over json-c. */
#include "config.h"

#include "json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

/*
 * json-c 0.16 in strict mode still accepts 'single quotes', NaN, Infinity,
 * "1.", out-of-range integers (clamped) and duplicate keys (last one wins).
 * So a small grammar checker runs over the text first; json-c then builds the
 * tree and validates UTF-8.
 */
struct scan {
    const char *p;
    const char *end;
    const char *start;
    int max_depth;
    char *err;
    size_t errlen;
};

/* One object key: points into the text, or into buf when it had escapes. */
struct scan_key {
    const char *s;
    size_t len;
    char *buf;
};

static int scan_value(struct scan *sc, int depth);

__attribute__((format(printf, 2, 3))) static int fail(struct scan *sc,
                                                      const char *fmt, ...)
{
    va_list ap;
    int n;

    if (sc->err == NULL || sc->errlen == 0)
        return -1;
    n = snprintf(sc->err, sc->errlen,
                 "offset %zu: ", (size_t)(sc->p - sc->start));
    if (n < 0 || (size_t)n >= sc->errlen)
        return -1;
    va_start(ap, fmt);
    vsnprintf(sc->err + n, sc->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static void skip_ws(struct scan *sc)
{
    while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' ||
                               *sc->p == '\n' || *sc->p == '\r'))
        sc->p++;
}

int json_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Append code point cp as UTF-8 (surrogates already combined). */
static size_t put_utf8(char *out, unsigned long cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Four hex digits at p (already bounds-checked); -1 if not hex. */
static long hex4(const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = json_hexval(p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/*
 * The \uXXXX escape at sc->p; a surrogate only as a high-low pair. json-c
 * would turn a lone one into U+FFFD without a word, and no JSON text that
 * means a character has one.
 */
static int scan_u_escape(struct scan *sc)
{
    long cp, lo;

    if (sc->end - sc->p < 6 || (cp = hex4(sc->p + 2)) < 0)
        return fail(sc, "bad \\u escape");
    if (cp >= 0xdc00 && cp < 0xe000)
        return fail(sc, "lone low surrogate \\u%04lx", (unsigned long)cp);
    if (cp >= 0xd800 && cp < 0xdc00) {
        if (sc->end - sc->p < 12 || sc->p[6] != '\\' || sc->p[7] != 'u' ||
            (lo = hex4(sc->p + 8)) < 0xdc00 || lo >= 0xe000)
            return fail(sc, "lone high surrogate \\u%04lx", (unsigned long)cp);
        sc->p += 6;
    }
    sc->p += 6;
    return 0;
}

/*
 * The text of the valid escaped string [s, end) decoded into a new buffer;
 * its length in *len. Decoded text is never longer than the escaped form.
 */
static char *unescape(const char *s, const char *end, size_t *len)
{
    char *out = xmalloc((size_t)(end - s) + 1);
    size_t n = 0;

    for (const char *q = s; q < end;) {
        if (*q != '\\') {
            out[n++] = *q++;
            continue;
        }
        switch (q[1]) {
        case 'b':
            out[n++] = '\b';
            break;
        case 'f':
            out[n++] = '\f';
            break;
        case 'n':
            out[n++] = '\n';
            break;
        case 'r':
            out[n++] = '\r';
            break;
        case 't':
            out[n++] = '\t';
            break;
        case 'u': {
            unsigned long cp = (unsigned long)hex4(q + 2);
            q += 6;
            if (cp >= 0xd800 && cp < 0xdc00 && end - q >= 6 && q[0] == '\\' &&
                q[1] == 'u') {
                long lo = hex4(q + 2);
                if (lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) +
                         ((unsigned long)lo - 0xdc00);
                    q += 6;
                }
            }
            n += put_utf8(out + n, cp);
            continue;
        }
        default:
            out[n++] = q[1];
            break;
        }
        q += 2;
    }
    *len = n;
    return out;
}

/*
 * Scan a double-quoted string at sc->p. When key is non-NULL, also decode it
 * so that "a" and "\u0061" compare equal in the duplicate check.
 */
static int scan_string(struct scan *sc, struct scan_key *key)
{
    const char *s = ++sc->p;
    bool escaped = false;

    while (sc->p < sc->end && *sc->p != '"') {
        unsigned char c = (unsigned char)*sc->p;
        if (c < 0x20)
            return fail(sc, "control character in string");
        if (c != '\\') {
            sc->p++;
            continue;
        }
        escaped = true;
        if (sc->end - sc->p < 2)
            break;
        switch (sc->p[1]) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            sc->p += 2;
            break;
        case 'u':
            if (scan_u_escape(sc) < 0)
                return -1;
            break;
        default:
            return fail(sc, "bad escape");
        }
    }
    if (sc->p >= sc->end)
        return fail(sc, "unterminated string");
    if (key != NULL) {
        key->buf = NULL;
        key->s = s;
        key->len = (size_t)(sc->p - s);
        if (escaped) {
            key->buf = unescape(s, sc->p, &key->len);
            key->s = key->buf;
        }
    }
    sc->p++;
    return 0;
}

/* RFC 8259 number; integers must also fit int64_t. */
static int scan_number(struct scan *sc)
{
    const char *s = sc->p;
    bool integer = true;

    if (*sc->p == '-')
        sc->p++;
    if (sc->p >= sc->end || *sc->p < '0' || *sc->p > '9')
        return fail(sc, "bad number");
    if (*sc->p == '0') {
        sc->p++;
        if (sc->p < sc->end && *sc->p >= '0' && *sc->p <= '9')
            return fail(sc, "leading zero in number");
    } else {
        while (sc->p < sc->end && *sc->p >= '0' && *sc->p <= '9')
            sc->p++;
    }
    if (sc->p < sc->end && *sc->p == '.') {
        integer = false;
        sc->p++;
        if (sc->p >= sc->end || *sc->p < '0' || *sc->p > '9')
            return fail(sc, "bad fraction");
        while (sc->p < sc->end && *sc->p >= '0' && *sc->p <= '9')
            sc->p++;
    }
    if (sc->p < sc->end && (*sc->p == 'e' || *sc->p == 'E')) {
        integer = false;
        sc->p++;
        if (sc->p < sc->end && (*sc->p == '+' || *sc->p == '-'))
            sc->p++;
        if (sc->p >= sc->end || *sc->p < '0' || *sc->p > '9')
            return fail(sc, "bad exponent");
        while (sc->p < sc->end && *sc->p >= '0' && *sc->p <= '9')
            sc->p++;
    }
    if (integer) {
        char buf[32];
        size_t n = (size_t)(sc->p - s);
        if (n >= sizeof(buf))
            return fail(sc, "integer out of range");
        memcpy(buf, s, n);
        buf[n] = '\0';
        errno = 0;
        (void)strtoll(buf, NULL, 10);
        if (errno == ERANGE)
            return fail(sc, "integer out of range");
    }
    return 0;
}

static int scan_literal(struct scan *sc, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(sc->end - sc->p) < n || memcmp(sc->p, word, n) != 0)
        return fail(sc, "unexpected character");
    sc->p += n;
    return 0;
}

static int key_cmp(const void *a, const void *b)
{
    const struct scan_key *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);

    if (c != 0)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* Sorting makes the duplicate check O(n log n) even for huge objects. */
static int check_duplicates(struct scan *sc, struct scan_key *keys, size_t n)
{
    qsort(keys, n, sizeof(*keys), key_cmp);
    for (size_t i = 1; i < n; i++)
        if (key_cmp(&keys[i - 1], &keys[i]) == 0)
            return fail(sc, "duplicate key \"%.*s\"",
                        keys[i].len > 64 ? 64 : (int)keys[i].len, keys[i].s);
    return 0;
}

static int scan_object(struct scan *sc, int depth)
{
    struct scan_key *keys = NULL;
    size_t n = 0, cap = 0;
    int rc = -1;

    sc->p++;
    skip_ws(sc);
    if (sc->p < sc->end && *sc->p == '}') {
        sc->p++;
        return 0;
    }
    for (;;) {
        skip_ws(sc);
        if (sc->p >= sc->end || *sc->p != '"') {
            fail(sc, "expected a double-quoted key");
            goto out;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            keys = xreallocarray(keys, cap, sizeof(*keys));
        }
        if (scan_string(sc, &keys[n]) < 0)
            goto out;
        n++;
        skip_ws(sc);
        if (sc->p >= sc->end || *sc->p != ':') {
            fail(sc, "expected ':'");
            goto out;
        }
        sc->p++;
        if (scan_value(sc, depth) < 0)
            goto out;
        skip_ws(sc);
        if (sc->p < sc->end && *sc->p == ',') {
            sc->p++;
            continue;
        }
        if (sc->p < sc->end && *sc->p == '}') {
            sc->p++;
            break;
        }
        fail(sc, "expected ',' or '}'");
        goto out;
    }
    rc = check_duplicates(sc, keys, n);
out:
    for (size_t i = 0; i < n; i++)
        free(keys[i].buf);
    free(keys);
    return rc;
}

static int scan_array(struct scan *sc, int depth)
{
    sc->p++;
    skip_ws(sc);
    if (sc->p < sc->end && *sc->p == ']') {
        sc->p++;
        return 0;
    }
    for (;;) {
        if (scan_value(sc, depth) < 0)
            return -1;
        skip_ws(sc);
        if (sc->p < sc->end && *sc->p == ',') {
            sc->p++;
            continue;
        }
        if (sc->p < sc->end && *sc->p == ']') {
            sc->p++;
            return 0;
        }
        return fail(sc, "expected ',' or ']'");
    }
}

static int scan_value(struct scan *sc, int depth)
{
    skip_ws(sc);
    if (sc->p >= sc->end)
        return fail(sc, "unexpected end of input");
    switch (*sc->p) {
    case '{':
        if (depth >= sc->max_depth)
            return fail(sc, "nesting deeper than %d", sc->max_depth);
        return scan_object(sc, depth + 1);
    case '[':
        if (depth >= sc->max_depth)
            return fail(sc, "nesting deeper than %d", sc->max_depth);
        return scan_array(sc, depth + 1);
    case '"':
        return scan_string(sc, NULL);
    case 't':
        return scan_literal(sc, "true");
    case 'f':
        return scan_literal(sc, "false");
    case 'n':
        return scan_literal(sc, "null");
    default:
        if (*sc->p == '-' || (*sc->p >= '0' && *sc->p <= '9'))
            return scan_number(sc);
        return fail(sc, "unexpected character");
    }
}

/* Strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
bool json_utf8_valid(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        unsigned long cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return false;
        i += n + 1;
    }
    return true;
}

/*
 * One tokener, reset between documents: a new one costs an allocation and
 * the clearing of its whole depth stack on every request (measured with
 * callgrind: about a quarter of a small document's parse). The daemon has
 * one thread.
 */
static json_tokener *cached_tok;
static int cached_depth;

static json_tokener *tokener(int max_depth)
{
    if (cached_tok != NULL && cached_depth == max_depth) {
        json_tokener_reset(cached_tok);
        return cached_tok;
    }
    json_parse_release();
    /* json-c counts the top-level container as one level more. */
    if ((cached_tok = json_tokener_new_ex(max_depth + 1)) == NULL)
        return NULL;
    cached_depth = max_depth;
    json_tokener_set_flags(cached_tok,
                           JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    return cached_tok;
}

json_object *json_parse(const char *text, size_t len, int max_depth, char *err,
                        size_t errlen)
{
    struct scan sc = {text, text + len, text, max_depth, err, errlen};
    json_tokener *tok;
    json_object *obj;

    if (sc.max_depth <= 0)
        sc.max_depth = JSON_DEFAULT_DEPTH;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (memchr(text, '\0', len) != NULL) {
        sc.p = memchr(text, '\0', len);
        fail(&sc, "NUL byte");
        return NULL;
    }
    /* json-c's own check lets overlong forms and surrogates through. */
    if (!json_utf8_valid(text, len)) {
        fail(&sc, "invalid utf-8");
        return NULL;
    }
    if (scan_value(&sc, 0) < 0)
        return NULL;
    skip_ws(&sc);
    if (sc.p != sc.end) {
        fail(&sc, "trailing characters after the JSON value");
        return NULL;
    }

    if ((tok = tokener(sc.max_depth)) == NULL) {
        sc.p = text;
        fail(&sc, "out of memory");
        return NULL;
    }
    obj = json_tokener_parse_ex(tok, text, (int)len);
    /* A bare number at the very end needs an explicit terminator. */
    if (obj == NULL && json_tokener_get_error(tok) == json_tokener_continue)
        obj = json_tokener_parse_ex(tok, "", 1);
    /* A NULL object with success is the JSON value null. */
    if (obj == NULL && json_tokener_get_error(tok) != json_tokener_success) {
        sc.p = text + json_tokener_get_parse_end(tok);
        fail(&sc, "%s", json_tokener_error_desc(json_tokener_get_error(tok)));
    }
    return obj;
}

void json_parse_release(void)
{
    if (cached_tok != NULL)
        json_tokener_free(cached_tok);
    cached_tok = NULL;
}

static json_object *get(json_object *obj, const char *key, json_type type)
{
    json_object *v;

    if (obj == NULL || !json_object_is_type(obj, json_type_object))
        return NULL;
    if (!json_object_object_get_ex(obj, key, &v) || v == NULL)
        return NULL;
    return json_object_is_type(v, type) ? v : NULL;
}

const char *json_get_string(json_object *obj, const char *key)
{
    json_object *v = get(obj, key, json_type_string);
    const char *s;

    if (v == NULL)
        return NULL;
    s = json_object_get_string(v);
    /* "\u0000" would silently truncate the value in C. */
    if (strlen(s) != (size_t)json_object_get_string_len(v))
        return NULL;
    return s;
}

int json_get_bool(json_object *obj, const char *key, bool *out)
{
    json_object *v = get(obj, key, json_type_boolean);

    if (v == NULL)
        return -1;
    *out = json_object_get_boolean(v) != 0;
    return 0;
}

bool json_is_int64(json_object *obj)
{
    if (obj == NULL || !json_object_is_type(obj, json_type_int))
        return false;
    /* json-c clamps uint64 values above INT64_MAX to INT64_MAX. */
    if (json_object_get_int64(obj) == INT64_MAX &&
        json_object_get_uint64(obj) != (uint64_t)INT64_MAX)
        return false;
    return true;
}

int json_get_int64(json_object *obj, const char *key, int64_t *out)
{
    json_object *v = get(obj, key, json_type_int);

    if (v == NULL || !json_is_int64(v))
        return -1;
    *out = json_object_get_int64(v);
    return 0;
}

json_object *json_get_object(json_object *obj, const char *key)
{
    return get(obj, key, json_type_object);
}

json_object *json_get_array(json_object *obj, const char *key)
{
    return get(obj, key, json_type_array);
}

char *json_to_string(json_object *obj)
{
    return xstrdup(json_object_to_json_string_ext(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}
