/* SPDX-License-Identifier: MIT */
/* conf.c: the strict INI configuration parser behind struct conf. */
#include "config.h"

#include "conf.h"
#include "conf_priv.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jid.h"
#include "number.h"
#include "xmalloc.h"

/*
 * The format, in full:
 * - `[section]` headers and `key = value` lines; names are case-sensitive.
 * - A line whose first non-blank character is '#' or ';' is a comment.
 *   There are no trailing comments: a '#' or ';' after a value is part of
 *   the value, because secrets and tokens may contain them and silently
 *   cutting a secret short is worse than a loud `port = 80 # x` error.
 * - Blanks around names and values are trimmed; a value wrapped in double
 *   quotes keeps its blanks (the outer quotes are removed, nothing else is
 *   unescaped, so `"a"b"` is `a"b`).
 * - A repeated key or a repeated section header is an error: one place per
 *   setting is the simpler model, and merging sections hides typos.
 * - CRLF line ends and a leading UTF-8 byte order mark are accepted; NUL
 *   bytes, other control characters (except tab) and invalid UTF-8 are not.
 * - Problems are collected and printed sorted by line (line 0, for what is
 *   missing, first), so one run shows everything to fix.
 * - Paths (`*_file`, tls_cert, tls_key) are used as written: a relative one
 *   is relative to the working directory, not to the configuration file.
 */

#define CONF_MAX_FILE (1024 * 1024)
#define CONF_MAX_LINE 4096
/* Secret files hold one secret (or later a token list), never megabytes. */
#define CONF_MAX_SECRET_FILE (64 * 1024)

enum key_type {
    CONF_TYPE_STRING,    /* char *, validated by key->check when set */
    CONF_TYPE_FILE_TEXT, /* char *, the content of the file the value names */
    CONF_TYPE_PATH,      /* char *, the path of a readable file */
    CONF_TYPE_UINT,      /* unsigned, key->min..key->max */
    CONF_TYPE_SIZE,      /* size_t, key->min..key->max */
    CONF_TYPE_LEVEL,     /* enum log_level */
    CONF_TYPE_LISTEN,    /* addr:port into http.listen_{host,port,loopback} */
    CONF_TYPE_DURATION,  /* unsigned seconds from N, Ns, Nm, Nh or Nd */
    CONF_TYPE_ENUM,      /* an enum: the index of the value in key->names */
    CONF_TYPE_FLAGS,     /* unsigned: bit i for key->names[i] in a comma list */
};

/*
 * One row per key. Rows that share an offset are alternative spellings of
 * the same setting (`secret` / `secret_file`): at most one of them may be
 * set, and the first row of the group carries the default.
 */
struct key {
    const char *section;
    const char *name;
    enum key_type type;
    size_t offset;
    const char *def; /* default, as written in a file; NULL for none */
    bool required;   /* on any row of a group: one of the group is needed */
    unsigned long long min, max;
    /* For strings: NULL when valid, else why not ("is not a ..."). */
    const char *(*check)(const char *value);
    const char *why; /* appended to range errors to explain the limit */
    const char *const *names; /* enums and flags: the values, NULL-ended */
};

static const char *check_domain(const char *value);
static const char *check_host(const char *value);
static const char *check_url(const char *value);
static const char *check_roster_url(const char *value);
static const char *check_room_list(const char *value);
static const char *check_nick(const char *value);

#define OFF(field) offsetof(struct conf, field)

/* Two lines a row read better than the one field a line clang-format wants. */
/* The spellings of enum and flag values, in the order of their enums and
 * bits (conf.h). */
static const char *const content_type_names[] = {"application/xmpp+xml",
                                                 "application/json", NULL};
static const char *const writer_names[] = {"auto", "privilege", "ejabberd-api",
                                           "none", NULL};
static const char *const kind_names[] = {"message", "presence", "iq", NULL};
static const char *const event_names[] = {"bare", "full", "host", NULL};
static const char *const sync_names[] = {"normal", "full", NULL};
static const char *const no_yes_names[] = {"no", "yes", NULL};

/* clang-format off */
static const struct key keys[] = {
    {.section = "server", .name = "domain", .type = CONF_TYPE_STRING,
     .offset = OFF(server.domain), .required = true, .check = check_domain},
    {.section = "server", .name = "host", .type = CONF_TYPE_STRING,
     .offset = OFF(server.host), .def = "127.0.0.1", .check = check_host},
    {.section = "server", .name = "port", .type = CONF_TYPE_UINT,
     .offset = OFF(server.port), .def = "5347", .min = 1, .max = 65535},
    {.section = "component", .name = "jid", .type = CONF_TYPE_STRING,
     .offset = OFF(component.jid), .required = true, .check = check_domain},
    {.section = "component", .name = "secret", .type = CONF_TYPE_STRING,
     .offset = OFF(component.secret), .required = true},
    {.section = "component", .name = "secret_file",
     .type = CONF_TYPE_FILE_TEXT, .offset = OFF(component.secret)},
    {.section = "component", .name = "keepalive", .type = CONF_TYPE_UINT,
     .offset = OFF(component.keepalive), .def = "60", .min = 1, .max = 3600},
    {.section = "component", .name = "max_stanza_size", .type = CONF_TYPE_SIZE,
     .offset = OFF(component.max_stanza_size), .def = "524288", .min = 4096,
     .max = 8388608},
    {.section = "component", .name = "queue_max", .type = CONF_TYPE_SIZE,
     .offset = OFF(component.queue_max), .def = "8388608", .min = 4096,
     .max = 1073741824},
    {.section = "http", .name = "listen", .type = CONF_TYPE_LISTEN,
     .offset = OFF(http.listen_host), .def = "127.0.0.1:5380"},
    {.section = "http", .name = "tls_cert", .type = CONF_TYPE_PATH,
     .offset = OFF(http.tls_cert)},
    {.section = "http", .name = "tls_key", .type = CONF_TYPE_PATH,
     .offset = OFF(http.tls_key)},
    {.section = "http", .name = "admin_token", .type = CONF_TYPE_STRING,
     .offset = OFF(http.admin_token)},
    {.section = "http", .name = "admin_token_file",
     .type = CONF_TYPE_FILE_TEXT, .offset = OFF(http.admin_token)},
    {.section = "http", .name = "max_body", .type = CONF_TYPE_SIZE,
     .offset = OFF(http.max_body), .def = "196608", .min = 1,
     .max = 67108864},
    {.section = "http", .name = "max_connections", .type = CONF_TYPE_UINT,
     .offset = OFF(http.max_connections), .def = "512", .min = 1,
     .max = CONF_MAX_CONNECTIONS},
    {.section = "http", .name = "timeout", .type = CONF_TYPE_UINT,
     .offset = OFF(http.timeout), .def = "30", .min = 1, .max = 3600},
    {.section = "http", .name = "header_timeout", .type = CONF_TYPE_UINT,
     .offset = OFF(http.header_timeout), .def = "10", .min = 1, .max = 3600},
    {.section = "http", .name = "body_timeout", .type = CONF_TYPE_UINT,
     .offset = OFF(http.body_timeout), .def = "30", .min = 1, .max = 3600},
    {.section = "rest", .name = "tokens", .type = CONF_TYPE_STRING,
     .offset = OFF(rest.tokens_text)},
    {.section = "rest", .name = "tokens_file", .type = CONF_TYPE_FILE_TEXT,
     .offset = OFF(rest.tokens_text)},
    {.section = "rest", .name = "iq_timeout", .type = CONF_TYPE_UINT,
     .offset = OFF(rest.iq_timeout), .def = "120", .min = 1, .max = 3600},
    {.section = "rest", .name = "iq_max_timeout", .type = CONF_TYPE_UINT,
     .offset = OFF(rest.iq_max_timeout), .def = "300", .min = 1, .max = 3600},
    {.section = "rest", .name = "queue_wait", .type = CONF_TYPE_UINT,
     .offset = OFF(rest.queue_wait), .def = "5", .min = 0, .max = 3600},
    {.section = "webhook", .name = "url", .type = CONF_TYPE_STRING,
     .offset = OFF(webhook.url), .check = check_url},
    {.section = "webhook", .name = "content_type", .type = CONF_TYPE_ENUM,
     .offset = OFF(webhook.content_type), .def = "application/xmpp+xml",
     .names = content_type_names},
    {.section = "webhook", .name = "stanzas", .type = CONF_TYPE_FLAGS,
     .offset = OFF(webhook.stanzas), .def = "message, presence, iq",
     .names = kind_names},
    {.section = "webhook", .name = "events", .type = CONF_TYPE_FLAGS,
     .offset = OFF(webhook.events), .def = "bare, full, host",
     .names = event_names},
    {.section = "webhook", .name = "timeout", .type = CONF_TYPE_UINT,
     .offset = OFF(webhook.timeout), .def = "10", .min = 1, .max = 300},
    {.section = "webhook", .name = "concurrency", .type = CONF_TYPE_UINT,
     .offset = OFF(webhook.concurrency), .def = "64", .min = 1, .max = 256},
    {.section = "webhook", .name = "queue_max", .type = CONF_TYPE_UINT,
     .offset = OFF(webhook.queue_max), .def = "10000", .min = 1,
     .max = 1000000},
    {.section = "webhook", .name = "secret", .type = CONF_TYPE_STRING,
     .offset = OFF(webhook.secret)},
    {.section = "webhook", .name = "secret_file", .type = CONF_TYPE_FILE_TEXT,
     .offset = OFF(webhook.secret)},
    {.section = "webhook", .name = "retry_for", .type = CONF_TYPE_DURATION,
     .offset = OFF(webhook.retry_for), .def = "24h", .min = 0,
     .max = 365 * 86400ULL},
    {.section = "roster", .name = "url", .type = CONF_TYPE_STRING,
     .offset = OFF(roster.url), .check = check_roster_url},
    {.section = "roster", .name = "token", .type = CONF_TYPE_STRING,
     .offset = OFF(roster.token)},
    {.section = "roster", .name = "token_file", .type = CONF_TYPE_FILE_TEXT,
     .offset = OFF(roster.token)},
    {.section = "roster", .name = "timeout", .type = CONF_TYPE_UINT,
     .offset = OFF(roster.timeout), .def = "10", .min = 1, .max = 300},
    {.section = "roster", .name = "concurrency", .type = CONF_TYPE_UINT,
     .offset = OFF(roster.concurrency), .def = "32", .min = 1, .max = 256},
    {.section = "roster", .name = "writer", .type = CONF_TYPE_ENUM,
     .offset = OFF(roster.writer), .def = "auto", .names = writer_names},
    {.section = "roster", .name = "api_url", .type = CONF_TYPE_STRING,
     .offset = OFF(roster.api_url), .check = check_url},
    {.section = "roster", .name = "api_user", .type = CONF_TYPE_STRING,
     .offset = OFF(roster.api_user)},
    {.section = "roster", .name = "api_password", .type = CONF_TYPE_STRING,
     .offset = OFF(roster.api_password)},
    {.section = "roster", .name = "api_password_file",
     .type = CONF_TYPE_FILE_TEXT, .offset = OFF(roster.api_password)},
    {.section = "roster", .name = "min_interval", .type = CONF_TYPE_UINT,
     .offset = OFF(roster.min_interval), .def = "60", .min = 0,
     .max = 86400},
    {.section = "muc", .name = "rooms", .type = CONF_TYPE_STRING,
     .offset = OFF(muc.rooms), .check = check_room_list},
    {.section = "muc", .name = "nick", .type = CONF_TYPE_STRING,
     .offset = OFF(muc.nick), .def = "restanza", .check = check_nick},
    {.section = "muc", .name = "accept_invites", .type = CONF_TYPE_ENUM,
     .offset = OFF(muc.accept_invites), .def = "no", .names = no_yes_names},
    {.section = "log", .name = "level", .type = CONF_TYPE_LEVEL,
     .offset = OFF(log.level), .def = "info"},
    {.section = "store", .name = "path", .type = CONF_TYPE_STRING,
     .offset = OFF(store.path), .def = LOCALSTATEDIR "/lib/restanza/restanza.db"},
    {.section = "store", .name = "sync", .type = CONF_TYPE_ENUM,
     .offset = OFF(store.sync), .def = "normal", .names = sync_names},
    {.section = "store", .name = "retention", .type = CONF_TYPE_DURATION,
     .offset = OFF(store.retention), .def = "7d", .min = 0,
     .max = 10 * 365 * 86400ULL},
    {.section = "events", .name = "tokens", .type = CONF_TYPE_STRING,
     .offset = OFF(events.tokens_text)},
    {.section = "events", .name = "tokens_file", .type = CONF_TYPE_FILE_TEXT,
     .offset = OFF(events.tokens_text)},
};
/* clang-format on */

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* What the file said about one key. */
struct seen {
    unsigned line; /* 0: not in the file */
    char *value;   /* NULL: the line was wrong and has been reported */
};

struct problem {
    unsigned line;
    size_t seq; /* keeps problems on one line in the order found */
    char *msg;
};

struct parser {
    struct conf *conf;
    struct seen seen[NKEYS];
    /* Header line of each section, indexed by the section's first row. */
    unsigned section_line[NKEYS];
    int section; /* first row of the current section, or -1 */
    bool skip;   /* inside a section already reported as wrong */
    /*
     * A line with bad bytes is still parsed, so that its key does not also
     * show up as missing, but it gets no second complaint.
     */
    unsigned broken_line;
    struct problem *problems;
    size_t nproblems;
};

/* Record a problem; they are printed sorted by line once all are known. */
static void __attribute__((format(printf, 3, 4)))
fail(struct parser *p, unsigned line, const char *fmt, ...)
{
    va_list ap, copy;
    struct problem *pr;
    int n;

    if (line != 0 && line == p->broken_line)
        return;
    va_start(ap, fmt);
    va_copy(copy, ap);
    n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    p->problems =
        xreallocarray(p->problems, p->nproblems + 1, sizeof(*p->problems));
    pr = &p->problems[p->nproblems];
    pr->line = line;
    pr->seq = p->nproblems++;
    pr->msg = xmalloc(n > 0 ? (size_t)n + 1 : 1);
    if (n < 0 || vsnprintf(pr->msg, (size_t)n + 1, fmt, ap) < 0)
        pr->msg[0] = '\0';
    va_end(ap);
}

static int problem_cmp(const void *a, const void *b)
{
    const struct problem *x = a, *y = b;

    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void report(const char *name, FILE *errs, unsigned line, const char *msg)
{
    if (errs != NULL)
        fprintf(errs, "%s:%u: %s\n", name, line, msg);
}

static void report_too_large(const char *name, FILE *errs)
{
    if (errs != NULL)
        fprintf(errs, "%s:0: file is larger than %d bytes\n", name,
                CONF_MAX_FILE);
}

static const char *check_domain(const char *value)
{
    return jid_domain_valid(value) ? NULL : "is not a valid domain name";
}

/* A valid domain as the server writes it (`LOCALHOST.` -> `localhost`):
 * stanzas carry it and replies are matched against it. */
static char *normal_domain(const char *value)
{
    char *d = jid_domain(value);

    return d != NULL ? d : xstrdup(value);
}

/* A hostname, or an IPv4 or IPv6 literal (no brackets: it is not a URL). */
static const char *check_host(const char *value)
{
    static const char *const bad = "is not a hostname or IP address";
    unsigned char addr[sizeof(struct in6_addr)];
    const char *last;

    if (inet_pton(AF_INET, value, addr) == 1 ||
        inet_pton(AF_INET6, value, addr) == 1)
        return NULL;
    if (value[0] == '[' || !jid_domain_valid(value))
        return bad;
    /* No top-level domain is all digits: `999.1.1.1` is a broken IPv4. */
    last = strrchr(value, '.');
    last = last != NULL && last[1] != '\0' ? last + 1 : value;
    if (strspn(last, "0123456789") == strcspn(last, "."))
        return bad;
    return NULL;
}

/* An http:// or https:// URL with a host and no blanks or controls. */
static const char *check_url(const char *value)
{
    const char *host;

    if (strncmp(value, "http://", 7) == 0)
        host = value + 7;
    else if (strncmp(value, "https://", 8) == 0)
        host = value + 8;
    else
        return "is not an http:// or https:// URL";
    if (*host == '\0' || *host == '/' || *host == '?' || *host == '#')
        return "has no host";
    for (const char *c = value; *c != '\0'; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return "contains a blank or control character";
    return NULL;
}

/* An http(s) URL with exactly one %s (the username) and no other %. */
static const char *check_roster_url(const char *value)
{
    const char *why = check_url(value);
    const char *pct = strchr(value, '%');

    if (why != NULL)
        return why;
    if (pct == NULL || pct[1] != 's')
        return "must contain %s (the username)";
    if (strchr(pct + 2, '%') != NULL)
        return "must contain %s once and no other %";
    return NULL;
}

/* A nickname: 1..64 bytes, no blanks at the ends, no control characters. */
static const char *check_nick(const char *value)
{
    size_t n = strlen(value);

    if (n == 0 || n > 64)
        return "must be 1 to 64 bytes";
    if (isspace((unsigned char)value[0]) ||
        isspace((unsigned char)value[n - 1]))
        return "must not start or end with a blank";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
            return "must not contain control characters";
    return NULL;
}

/* Comma list of room@service or room@service/nick, at most
 * CONF_MUC_MAX_ROOMS, blanks after commas allowed. */
static const char *check_room_list(const char *value)
{
    const char *s = value;
    size_t n = 0;

    for (;;) {
        size_t len;
        char item[1100];
        struct jid j;
        bool ok;

        s += strspn(s, " \t");
        len = strcspn(s, ",");
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (len == 0 || len >= sizeof(item))
            return "is not a comma list of room@service[/nick]";
        memcpy(item, s, len);
        item[len] = '\0';
        ok = jid_parse(item, &j) == 0 && j.local != NULL &&
             (j.resource == NULL || check_nick(j.resource) == NULL);
        if (ok)
            jid_clear(&j);
        else
            return "is not a comma list of room@service[/nick]";
        if (++n > CONF_MUC_MAX_ROOMS)
            return "lists more than 64 rooms";
        s += strcspn(s, ",");
        if (*s == '\0')
            return NULL;
        s++;
    }
}

/* Strictly decimal digits (number_parse) from min to max. */
static bool parse_number(const char *s, unsigned long long min,
                         unsigned long long max, unsigned long long *out)
{
    unsigned long long v;

    if (!number_parse(s, &v) || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/*
 * Read at most max bytes of the file at path into a new buffer (with a NUL
 * after the data). 0 on success; -1 with errno set otherwise, EFBIG when
 * the file holds more than max bytes.
 */
static int read_file(const char *path, size_t max, char **out, size_t *lenp)
{
    size_t len = 0, cap = 4096;
    char *buf;
    int fd, saved;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -1;
    buf = xmalloc(cap);
    for (;;) {
        ssize_t n;

        if (len == cap - 1) {
            /* Only ever allocate max + 2: one byte to see EOF, one NUL. */
            if (cap >= max + 2) {
                saved = EFBIG;
                goto fail;
            }
            cap = cap * 2 < max + 2 ? cap * 2 : max + 2;
            buf = xrealloc(buf, cap);
        }
        n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            saved = errno;
            goto fail;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (len > max) {
        free(buf);
        errno = EFBIG;
        return -1;
    }
    buf[len] = '\0';
    *out = buf;
    *lenp = len;
    return 0;
fail:
    free(buf);
    close(fd);
    errno = saved;
    return -1;
}

/* Length of the well-formed UTF-8 sequence at s (n > 0 bytes), 0 if none. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp, min;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2, cp = s[0] & 0x1fu, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, cp = s[0] & 0x0fu, min = 0x800;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4, cp = s[0] & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    /* Overlong forms, UTF-16 surrogates and code points past Unicode. */
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Report the first encoding problem of a line; 0 if it has none. */
static int check_bytes(struct parser *p, const char *s, size_t n, unsigned line)
{
    const unsigned char *u = (const unsigned char *)s;

    if (n > CONF_MAX_LINE) {
        fail(p, line, "line is longer than %d bytes", CONF_MAX_LINE);
        return -1;
    }
    for (size_t i = 0; i < n;) {
        size_t len;

        if (u[i] == '\0') {
            fail(p, line, "NUL byte in line");
            return -1;
        }
        if ((u[i] < 0x20 && u[i] != '\t') || u[i] == 0x7f) {
            fail(p, line, "control character 0x%02x in line", u[i]);
            return -1;
        }
        len = utf8_sequence(u + i, n - i);
        if (len == 0) {
            fail(p, line, "invalid UTF-8");
            return -1;
        }
        i += len;
    }
    return 0;
}

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t'))
        (*s)++, (*n)--;
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

static bool name_is(const char *name, const char *s, size_t n)
{
    return strlen(name) == n && memcmp(name, s, n) == 0;
}

/* First row of the named section, or -1. */
static int find_section(const char *s, size_t n)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (name_is(keys[i].section, s, n))
            return (int)i;
    return -1;
}

/* Row of a key in the section whose first row is section, or -1. */
static int find_key(int section, const char *s, size_t n)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].section, keys[section].section) == 0 &&
            name_is(keys[i].name, s, n))
            return (int)i;
    return -1;
}

/* The row set in the file that shares row i's setting, or -1. */
static int set_alternative(const struct parser *p, size_t i)
{
    for (size_t j = 0; j < NKEYS; j++)
        if (j != i && keys[j].offset == keys[i].offset && p->seen[j].line != 0)
            return (int)j;
    return -1;
}

static void parse_header(struct parser *p, const char *s, size_t n,
                         unsigned line)
{
    const char *close = memchr(s, ']', n);
    const char *name = s + 1;
    size_t len;
    int sec;

    /* Keys under a broken header would only repeat the same complaint. */
    p->section = -1;
    p->skip = true;
    if (close == NULL) {
        fail(p, line, "unterminated section header");
        return;
    }
    if (close != s + n - 1) {
        fail(p, line, "unexpected text after section header");
        return;
    }
    len = (size_t)(close - name);
    trim(&name, &len);
    if (len == 0) {
        fail(p, line, "empty section name");
        return;
    }
    sec = find_section(name, len);
    if (sec < 0) {
        fail(p, line, "unknown section [%.*s]", (int)len, name);
        return;
    }
    /*
     * Keys under a repeated header still count for the same section, so
     * that every other problem in them is reported too.
     */
    if (p->section_line[sec] != 0)
        fail(p, line, "duplicate section [%.*s] (first at line %u)", (int)len,
             name, p->section_line[sec]);
    else
        p->section_line[sec] = line;
    p->section = sec;
    p->skip = false;
}

static void parse_pair(struct parser *p, const char *s, size_t n, unsigned line)
{
    const char *eq = memchr(s, '=', n);
    const char *name = s, *value;
    size_t nlen, vlen;
    int i, alt;

    if (eq == NULL) {
        fail(p, line, "expected 'key = value', '[section]' or a comment");
        return;
    }
    nlen = (size_t)(eq - s);
    value = eq + 1;
    vlen = n - nlen - 1;
    trim(&name, &nlen);
    trim(&value, &vlen);
    if (nlen == 0) {
        fail(p, line, "missing key name before '='");
        return;
    }
    if (p->skip)
        return;
    if (p->section < 0) {
        fail(p, line, "key '%.*s' outside of any section", (int)nlen, name);
        return;
    }
    i = find_key(p->section, name, nlen);
    if (i < 0) {
        fail(p, line, "unknown key '%.*s' in [%s]", (int)nlen, name,
             keys[p->section].section);
        return;
    }
    if (p->seen[i].line != 0) {
        fail(p, line, "duplicate key '%s' (first at line %u)", keys[i].name,
             p->seen[i].line);
        return;
    }
    alt = set_alternative(p, (size_t)i);
    if (alt >= 0) {
        fail(p, line, "%s.%s conflicts with %s.%s (line %u): set only one",
             keys[i].section, keys[i].name, keys[alt].section, keys[alt].name,
             p->seen[alt].line);
        return;
    }
    p->seen[i].line = line;
    if (vlen > 0 && value[0] == '"') {
        if (vlen < 2 || value[vlen - 1] != '"') {
            fail(p, line, "%s.%s: unterminated quoted value", keys[i].section,
                 keys[i].name);
            return;
        }
        value++;
        vlen -= 2;
    }
    if (vlen == 0) {
        fail(p, line, "%s.%s: empty value", keys[i].section, keys[i].name);
        return;
    }
    if (line != p->broken_line)
        p->seen[i].value = xstrndup(value, vlen);
}

static void parse_line(struct parser *p, const char *s, size_t n, unsigned line)
{
    trim(&s, &n);
    if (n == 0 || s[0] == '#' || s[0] == ';')
        return;
    if (s[0] == '[')
        parse_header(p, s, n, line);
    else
        parse_pair(p, s, n, line);
}

static void parse_text(struct parser *p, const char *text, size_t len)
{
    const char *s = text, *end = text + len;
    unsigned line = 0;

    /* Some Windows editors start UTF-8 files with a byte order mark. */
    if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
        s += 3;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *eol = nl != NULL ? nl : end;
        size_t n = (size_t)(eol - s);

        line++;
        if (n > 0 && s[n - 1] == '\r')
            n--;
        if (check_bytes(p, s, n, line) < 0)
            p->broken_line = line;
        parse_line(p, s, n, line);
        s = nl != NULL ? nl + 1 : end;
    }
    p->broken_line = 0;
}

/* The field a row describes; the row's type says which C type it has. */
static void *field_of(struct conf *conf, const struct key *k)
{
    return (char *)conf + k->offset;
}

static enum log_level *level_field(struct conf *conf, const struct key *k)
{
    return field_of(conf, k);
}

static bool is_string(enum key_type type)
{
    return type == CONF_TYPE_STRING || type == CONF_TYPE_FILE_TEXT ||
           type == CONF_TYPE_PATH || type == CONF_TYPE_LISTEN;
}

static void set_string(struct parser *p, size_t i, char *value)
{
    char **field = field_of(p->conf, &keys[i]);

    free(*field);
    *field = value;
}

/* The secret is the file's content minus trailing line ends. */
static void set_file_text(struct parser *p, size_t i, const char *path,
                          unsigned line)
{
    const struct key *k = &keys[i];
    char *text;
    size_t len;

    if (read_file(path, CONF_MAX_SECRET_FILE, &text, &len) < 0) {
        if (errno == EFBIG)
            fail(p, line, "%s.%s: '%s' is larger than %d bytes", k->section,
                 k->name, path, CONF_MAX_SECRET_FILE);
        else
            fail(p, line, "%s.%s: cannot read '%s': %s", k->section, k->name,
                 path, strerror(errno));
        return;
    }
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = '\0';
    if (memchr(text, '\0', len) != NULL) {
        fail(p, line, "%s.%s: '%s' contains a NUL byte", k->section, k->name,
             path);
        free(text);
        return;
    }
    if (len == 0) {
        fail(p, line, "%s.%s: '%s' is empty", k->section, k->name, path);
        free(text);
        return;
    }
    set_string(p, i, text);
}

/* Only the path is kept; opening it now turns a typo into a load error. */
static void set_path(struct parser *p, size_t i, const char *path,
                     unsigned line)
{
    const struct key *k = &keys[i];
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0) {
        fail(p, line, "%s.%s: cannot read '%s': %s", k->section, k->name, path,
             strerror(errno));
        return;
    }
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        fail(p, line, "%s.%s: '%s' is a directory", k->section, k->name, path);
        close(fd);
        return;
    }
    close(fd);
    set_string(p, i, xstrdup(path));
}

static void set_number(struct parser *p, size_t i, const char *value,
                       unsigned line)
{
    const struct key *k = &keys[i];
    void *field = field_of(p->conf, k);
    unsigned long long v;

    if (!parse_number(value, k->min, k->max, &v)) {
        fail(p, line, "%s.%s: '%s' is not an integer from %llu to %llu%s%s%s",
             k->section, k->name, value, k->min, k->max,
             k->why != NULL ? " (" : "", k->why != NULL ? k->why : "",
             k->why != NULL ? ")" : "");
        return;
    }
    /* The table keeps max within the field's type. */
    if (k->type == CONF_TYPE_SIZE)
        *(size_t *)field = (size_t)v;
    else
        *(unsigned *)field = (unsigned)v;
}

/* N (seconds), Ns, Nm, Nh or Nd, within the row's min..max seconds. */
static void set_duration(struct parser *p, size_t i, const char *value,
                         unsigned line)
{
    static const char units[] = "smhd";
    static const unsigned long long mult[] = {1, 60, 3600, 86400};
    const struct key *k = &keys[i];
    size_t n = strlen(value);
    unsigned long long v, m = 1;
    char *digits;
    bool ok;

    if (n > 1 && strchr(units, value[n - 1]) != NULL) {
        m = mult[strchr(units, value[n - 1]) - units];
        n--;
    }
    digits = xstrndup(value, n);
    ok = parse_number(digits, 0, ULLONG_MAX / 86400, &v) && v * m >= k->min &&
         v * m <= k->max;
    free(digits);
    if (!ok) {
        fail(p, line,
             "%s.%s: '%s' is not a duration (N seconds, or N followed by s, m, "
             "h or d) from %llu to %llu seconds",
             k->section, k->name, value, k->min, k->max);
        return;
    }
    *(unsigned *)field_of(p->conf, k) = (unsigned)(v * m);
}

/*
 * `IPv4:port` or `[IPv6]:port`, numeric only: the daemon binds exactly what
 * it is told, and whether the API is reachable from outside (which decides
 * whether an admin token is needed) must be known without a resolver.
 */
static void set_listen(struct parser *p, size_t i, const char *value,
                       unsigned line)
{
    const struct key *k = &keys[i];
    unsigned char addr[sizeof(struct in6_addr)];
    const char *port;
    unsigned long long v;
    char *host;
    int family;

    if (value[0] == '[') {
        const char *close = strchr(value, ']');

        if (close == NULL || close[1] != ':')
            goto bad;
        host = xstrndup(value + 1, (size_t)(close - value - 1));
        port = close + 2;
        family = AF_INET6;
    } else {
        const char *colon = strrchr(value, ':');

        if (colon == NULL)
            goto bad;
        host = xstrndup(value, (size_t)(colon - value));
        port = colon + 1;
        family = AF_INET;
    }
    if (inet_pton(family, host, addr) != 1) {
        free(host);
        goto bad;
    }
    if (!parse_number(port, 1, 65535, &v)) {
        free(host);
        fail(p, line, "%s.%s: '%s' has no valid port (1 to 65535)", k->section,
             k->name, value);
        return;
    }
    set_string(p, i, host);
    p->conf->http.listen_port = (unsigned)v;
    if (family == AF_INET) {
        p->conf->http.listen_loopback = addr[0] == 127;
    } else {
        struct in6_addr a6;

        memcpy(&a6, addr, sizeof(a6));
        /* ::ffff:127.x.y.z only ever reaches IPv4 loopback too. */
        p->conf->http.listen_loopback =
            IN6_IS_ADDR_LOOPBACK(&a6) ||
            (IN6_IS_ADDR_V4MAPPED(&a6) && addr[12] == 127);
    }
    return;
bad:
    fail(p, line, "%s.%s: '%s' is not a numeric IPv4:port or [IPv6]:port",
         k->section, k->name, value);
}

/* "a, b or c" (or "a, b, c" with last NULL) from a names table. */
static char *names_text(const char *const *names, const char *last)
{
    char *text = xstrdup(names[0]);

    for (size_t i = 1; names[i] != NULL; i++) {
        const char *sep = names[i + 1] == NULL && last != NULL ? last : ", ";
        char *more = xasprintf("%s%s%s", text, sep, names[i]);
        free(text);
        text = more;
    }
    return text;
}

/* Index of the n bytes at s in names, or -1. */
static int name_index(const char *const *names, const char *s, size_t n)
{
    for (int i = 0; names[i] != NULL; i++)
        if (strlen(names[i]) == n && strncmp(s, names[i], n) == 0)
            return i;
    return -1;
}

static void set_enum(struct parser *p, size_t i, const char *value,
                     unsigned line)
{
    const struct key *k = &keys[i];
    int v = name_index(k->names, value, strlen(value));

    if (v < 0) {
        char *all = names_text(k->names, " or ");
        fail(p, line, "%s.%s: '%s' is not %s", k->section, k->name, value, all);
        free(all);
        return;
    }
    *(int *)field_of(p->conf, k) = v;
}

/* A comma list (blanks around items allowed), every item in k->names. */
static void set_flags(struct parser *p, size_t i, const char *value,
                      unsigned line)
{
    const struct key *k = &keys[i];
    unsigned mask = 0;
    const char *s = value;

    for (;;) {
        size_t len;
        int bit;

        s += strspn(s, " \t");
        len = strcspn(s, ",");
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        bit = name_index(k->names, s, len);
        if (bit < 0) {
            char *all = names_text(k->names, NULL);
            fail(p, line, "%s.%s: '%s' is not a comma list of %s", k->section,
                 k->name, value, all);
            free(all);
            return;
        }
        mask |= 1u << bit;
        s = strchr(s, ',');
        if (s == NULL)
            break;
        s++;
    }
    *(unsigned *)field_of(p->conf, k) = mask;
}

/* Convert and store one value; line 0 for a default. */
static void set_value(struct parser *p, size_t i, const char *value,
                      unsigned line)
{
    const struct key *k = &keys[i];
    const char *why;

    switch (k->type) {
    case CONF_TYPE_STRING:
        why = k->check != NULL ? k->check(value) : NULL;
        if (why != NULL)
            fail(p, line, "%s.%s: '%s' %s", k->section, k->name, value, why);
        else if (k->check == check_domain)
            set_string(p, i, normal_domain(value));
        else
            set_string(p, i, xstrdup(value));
        break;
    case CONF_TYPE_FILE_TEXT:
        set_file_text(p, i, value, line);
        break;
    case CONF_TYPE_PATH:
        set_path(p, i, value, line);
        break;
    case CONF_TYPE_UINT:
    case CONF_TYPE_SIZE:
        set_number(p, i, value, line);
        break;
    case CONF_TYPE_LEVEL:
        if (log_parse_level(value, level_field(p->conf, k)) < 0)
            fail(p, line, "%s.%s: '%s' is not one of error, warn, info, debug",
                 k->section, k->name, value);
        break;
    case CONF_TYPE_LISTEN:
        set_listen(p, i, value, line);
        break;
    case CONF_TYPE_DURATION:
        set_duration(p, i, value, line);
        break;
    case CONF_TYPE_ENUM:
        set_enum(p, i, value, line);
        break;
    case CONF_TYPE_FLAGS:
        set_flags(p, i, value, line);
        break;
    }
}

/* "a.b", or "a.b or a.c" when the setting has alternative spellings. */
static char *group_names(size_t first)
{
    char *names = xasprintf("%s.%s", keys[first].section, keys[first].name);

    for (size_t j = first + 1; j < NKEYS; j++) {
        if (keys[j].offset == keys[first].offset) {
            char *more =
                xasprintf("%s or %s.%s", names, keys[j].section, keys[j].name);
            free(names);
            names = more;
        }
    }
    return names;
}

/* Apply what the file said, defaults for the rest, and note what is missing. */
static void apply(struct parser *p)
{
    for (size_t i = 0; i < NKEYS; i++) {
        bool first = true, required = false;

        if (p->seen[i].value != NULL)
            set_value(p, i, p->seen[i].value, p->seen[i].line);
        for (size_t j = 0; j < NKEYS; j++) {
            if (keys[j].offset != keys[i].offset)
                continue;
            first = first && j >= i;
            required = required || keys[j].required;
        }
        /* Each setting is decided once, by the first row of its group. */
        if (!first || p->seen[i].line != 0 || set_alternative(p, i) >= 0)
            continue;
        if (keys[i].def != NULL) {
            set_value(p, i, keys[i].def, 0);
        } else if (required) {
            char *names = group_names(i);
            fail(p, 0, "missing required key %s", names);
            free(names);
        }
    }
}

/* Line of section.name in the file, 0 if absent. */
static unsigned line_of(const struct parser *p, const char *section,
                        const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].section, section) == 0 &&
            strcmp(keys[i].name, name) == 0)
            return p->seen[i].line;
    return 0;
}

/* Domains compare without case and without a final root dot. */
static bool same_domain(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la > 1 && a[la - 1] == '.')
        la--;
    if (lb > 1 && b[lb - 1] == '.')
        lb--;
    return la == lb && strncasecmp(a, b, la) == 0;
}

/* The file's text for section.name, or NULL. */
static const char *seen_value(const struct parser *p, const char *section,
                              const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].section, section) == 0 &&
            strcmp(keys[i].name, name) == 0)
            return p->seen[i].value;
    return NULL;
}

/* RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" )
 * *"=" */
static bool b64token(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n && (isalnum((unsigned char)s[i]) || strchr("-._~+/", s[i])))
        i++;
    if (i == 0)
        return false;
    while (i < n && s[i] == '=')
        i++;
    return i == n;
}

/*
 * Why *pattern cannot limit a token, or NULL when it can; then *pattern is
 * replaced by its normalised form (matched against normalised senders, and
 * the default `from`).
 */
static const char *check_pattern(char **pattern, const char *server_domain,
                                 const char *component_jid)
{
    struct jid j;
    const char *why = NULL;

    if (jid_parse(*pattern, &j) < 0)
        return "is not a valid JID";
    if (component_jid != NULL && same_domain(j.domain, component_jid)) {
        why = NULL;
    } else if (server_domain != NULL && same_domain(j.domain, server_domain)) {
        /* Users are impersonated through XEP-0356, bare JIDs only. */
        if (j.resource != NULL)
            why = "names a resource of a server.domain user (only bare "
                  "JIDs can send as a user)";
    } else {
        why = "is neither in component.jid nor in server.domain";
    }
    jid_clear(&j);
    if (why == NULL) {
        char *norm = jid_normalize(*pattern);
        free(*pattern);
        *pattern = norm;
    }
    return why;
}

void conf_tokens_free(struct conf_token *tokens, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(tokens[i].token);
        free(tokens[i].pattern);
    }
    free(tokens);
}

int conf_tokens_parse(const char *text, const char *server_domain,
                      const char *component_jid, struct conf_token **out,
                      size_t *n, char *why, size_t whylen, unsigned *line)
{
    struct conf_token *list = NULL;
    size_t count = 0;
    unsigned lineno = 1;
    const char *s = text;

    while (*s != '\0') {
        size_t len = strcspn(s, ",\n");
        const char *e = s, *tok, *pat = NULL;
        size_t elen = len, toklen, patlen = 0;
        unsigned here = lineno;
        char sep = s[len];

        if (elen > 0 && e[elen - 1] == '\r')
            elen--;
        trim(&e, &elen);
        s += len + (sep != '\0');
        if (sep == '\n')
            lineno++;
        if (elen == 0 || e[0] == '#')
            continue;
        tok = e;
        toklen = strcspn(e, " \t");
        if (toklen > elen)
            toklen = elen;
        if (toklen < elen) {
            pat = e + toklen;
            patlen = elen - toklen;
            trim(&pat, &patlen);
        }
        *line = here;
        if (!b64token(tok, toklen)) {
            snprintf(why, whylen,
                     "token %zu has characters outside A-Z a-z 0-9 - . _ ~ "
                     "+ / and trailing =",
                     count + 1);
            goto fail;
        }
        if (toklen < CONF_TOKEN_MIN) {
            snprintf(why, whylen, "token %zu is shorter than %d characters",
                     count + 1, CONF_TOKEN_MIN);
            goto fail;
        }
        if (pat != NULL && memchr(pat, ' ', patlen) != NULL) {
            snprintf(why, whylen, "entry %zu: expected 'TOKEN [JID-PATTERN]'",
                     count + 1);
            goto fail;
        }
        for (size_t i = 0; i < count; i++) {
            if (strlen(list[i].token) == toklen &&
                memcmp(list[i].token, tok, toklen) == 0) {
                snprintf(why, whylen, "token %zu repeats token %zu", count + 1,
                         i + 1);
                goto fail;
            }
        }
        list = xreallocarray(list, count + 1, sizeof(*list));
        list[count].token = xstrndup(tok, toklen);
        list[count].pattern = pat != NULL ? xstrndup(pat, patlen) : NULL;
        count++;
        if (list[count - 1].pattern != NULL) {
            const char *bad = check_pattern(&list[count - 1].pattern,
                                            server_domain, component_jid);
            if (bad != NULL) {
                snprintf(why, whylen, "pattern of token %zu '%s' %s", count,
                         list[count - 1].pattern, bad);
                goto fail;
            }
        }
    }
    *out = list;
    *n = count;
    return 0;
fail:
    conf_tokens_free(list, count);
    return -1;
}

/* Parse rest.tokens or rest.tokens_file into the token list. */
static void load_tokens(struct parser *p)
{
    struct conf *c = p->conf;
    const char *file = seen_value(p, "rest", "tokens_file");
    unsigned kline = line_of(p, "rest", file ? "tokens_file" : "tokens");
    unsigned line;
    char why[512];

    if (c->rest.tokens_text != NULL &&
        conf_tokens_parse(c->rest.tokens_text, c->server.domain,
                          c->component.jid, &c->rest.tokens, &c->rest.ntokens,
                          why, sizeof(why), &line) < 0) {
        /* Never echo the token itself: the message names it by number. */
        if (file != NULL)
            fail(p, kline, "rest.tokens_file: %s:%u: %s", file, line, why);
        else
            fail(p, kline, "rest.tokens: %s", why);
    }
    file = seen_value(p, "events", "tokens_file");
    kline = line_of(p, "events", file ? "tokens_file" : "tokens");
    if (c->events.tokens_text != NULL &&
        conf_tokens_parse(c->events.tokens_text, c->server.domain,
                          c->component.jid, &c->events.tokens,
                          &c->events.ntokens, why, sizeof(why), &line) < 0) {
        if (file != NULL)
            fail(p, kline, "events.tokens_file: %s:%u: %s", file, line, why);
        else
            fail(p, kline, "events.tokens: %s", why);
    }
    /* store.path = none: no store (callers get NULL). */
    if (c->store.path != NULL && strcmp(c->store.path, "none") == 0) {
        free(c->store.path);
        c->store.path = NULL;
    }
}

/* Rules that involve more than one key. */
static void cross_check(struct parser *p)
{
    const struct conf *c = p->conf;
    unsigned cert = line_of(p, "http", "tls_cert");
    unsigned key = line_of(p, "http", "tls_key");

    /* Same domain would route the server's own traffic to us. */
    if (c->server.domain != NULL && c->component.jid != NULL &&
        same_domain(c->server.domain, c->component.jid))
        fail(p, line_of(p, "component", "jid"),
             "component.jid must differ from server.domain (line %u)",
             line_of(p, "server", "domain"));
    if (cert != 0 && key == 0)
        fail(p, cert, "http.tls_cert is set but http.tls_key is not");
    if (key != 0 && cert == 0)
        fail(p, key, "http.tls_key is set but http.tls_cert is not");
    /* /status and /metrics must not be open to the network. */
    if (c->http.listen_host != NULL && !c->http.listen_loopback &&
        line_of(p, "http", "admin_token") == 0 &&
        line_of(p, "http", "admin_token_file") == 0)
        fail(p, line_of(p, "http", "listen"),
             "http.listen is not a loopback address: set http.admin_token");
    /* 0: the value was wrong and has been reported already. */
    if (c->rest.iq_max_timeout != 0 &&
        c->rest.iq_timeout > c->rest.iq_max_timeout)
        fail(p,
             line_of(p, "rest", "iq_timeout") != 0
                 ? line_of(p, "rest", "iq_timeout")
                 : line_of(p, "rest", "iq_max_timeout"),
             "rest.iq_timeout (%u) is larger than rest.iq_max_timeout (%u)",
             c->rest.iq_timeout, c->rest.iq_max_timeout);
    /* An open refresh endpoint would let anyone trigger fetches. */
    if (c->roster.url != NULL && c->roster.token == NULL)
        fail(p, line_of(p, "roster", "url"),
             "roster.url is set but roster.token (or token_file) is not");
    if (c->roster.writer == CONF_WRITER_API) {
        static const char *const need[] = {"api_url", "api_user",
                                           "api_password"};
        const char *have[] = {c->roster.api_url, c->roster.api_user,
                              c->roster.api_password};
        for (size_t i = 0; i < 3; i++)
            if (have[i] == NULL)
                fail(p, line_of(p, "roster", "writer"),
                     "roster.writer = ejabberd-api needs roster.%s", need[i]);
    }
    load_tokens(p);
}

struct conf *conf_parse(const char *text, size_t len, const char *name,
                        FILE *errs)
{
    struct parser p = {.section = -1};
    struct conf *conf;

    if (len > CONF_MAX_FILE) {
        report_too_large(name, errs);
        return NULL;
    }
    p.conf = conf = xcalloc(1, sizeof(*conf));
    conf->path = xstrdup(name);
    parse_text(&p, text, len);
    apply(&p);
    cross_check(&p);

    if (p.nproblems > 1)
        qsort(p.problems, p.nproblems, sizeof(*p.problems), problem_cmp);
    for (size_t i = 0; i < p.nproblems; i++) {
        report(name, errs, p.problems[i].line, p.problems[i].msg);
        free(p.problems[i].msg);
    }
    for (size_t i = 0; i < NKEYS; i++)
        free(p.seen[i].value);
    free(p.problems);
    if (p.nproblems > 0) {
        conf_free(conf);
        return NULL;
    }
    return conf;
}

struct conf *conf_load(const char *path, FILE *errs)
{
    struct conf *conf;
    char *text;
    size_t len;

    if (read_file(path, CONF_MAX_FILE, &text, &len) < 0) {
        if (errno == EFBIG) {
            report_too_large(path, errs);
        } else if (errs != NULL) {
            fprintf(errs, "%s:0: cannot read: %s\n", path, strerror(errno));
        }
        return NULL;
    }
    conf = conf_parse(text, len, path, errs);
    free(text);
    return conf;
}

void conf_free(struct conf *conf)
{
    if (conf == NULL)
        return;
    /* Every string but the path is some row's field (rows may share one). */
    for (size_t i = 0; i < NKEYS; i++) {
        if (is_string(keys[i].type)) {
            char **field = field_of(conf, &keys[i]);
            free(*field);
            *field = NULL;
        }
    }
    conf_tokens_free(conf->rest.tokens, conf->rest.ntokens);
    conf_tokens_free(conf->events.tokens, conf->events.ntokens);
    free(conf->path);
    free(conf);
}

const char *conf_content_type_name(enum conf_content_type ct)
{
    return content_type_names[ct];
}

const char *conf_writer_name(enum conf_writer w)
{
    return writer_names[w];
}
