/* SPDX-License-Identifier: MIT */
/* log.c: one-line-per-event leveled logger on stderr, safe for untrusted text.
 */
#include "config.h"

#include "log.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <syslog.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_level current = LOG_LEVEL_INFO;
static bool use_syslog;

static const char *const names[] = {"error", "warn", "info", "debug"};

void log_use_syslog(void)
{
    openlog("restanza", LOG_PID | LOG_NDELAY, LOG_DAEMON);
    use_syslog = true;
}

void log_set_level(enum log_level level)
{
    current = level;
}

enum log_level log_get_level(void)
{
    return current;
}

bool log_enabled(enum log_level level)
{
    return level <= current;
}

int log_parse_level(const char *s, enum log_level *out)
{
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

const char *log_level_name(enum log_level level)
{
    return names[level];
}

#define LOG_LINE 4096
#define LOG_VALUE 2048

/* States with suppressed lines whose summary is not written yet. */
static struct log_ratelimit *pending;

/* Append n bytes of s to the line, each unsafe byte as \xNN; stops before
 * an escape that would not fit under cap. Returns the new length. */
static size_t put_escaped(char *line, size_t len, size_t cap, const char *s,
                          size_t n)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            if (len + 4 > cap)
                break;
            line[len++] = '\\';
            line[len++] = 'x';
            line[len++] = hex[c >> 4];
            line[len++] = hex[c & 15];
        } else {
            if (len + 1 > cap)
                break;
            line[len++] = (char)c;
        }
    }
    return len;
}

/* Append a value: escaped, and quoted when it is empty or has a space, a
 * quote or an equals sign (what a reader would take as a field boundary). */
static size_t put_value(char *line, size_t len, size_t cap, const char *v,
                        size_t n)
{
    bool quote = n == 0;

    for (size_t i = 0; i < n && !quote; i++)
        quote = v[i] == ' ' || v[i] == '"' || v[i] == '=';
    if (!quote)
        return put_escaped(line, len, cap, v, n);
    if (len + 2 > cap)
        return len;
    line[len++] = '"';
    len = put_escaped(line, len, cap - 1, v, n);
    line[len++] = '"';
    return len;
}

/* Length of the conversion spec at p (p[0] == '%'), conversion included. */
static size_t spec_len(const char *p)
{
    size_t i = 1;

    i += strspn(p + i, "-+ #0'");
    i += p[i] == '*' ? 1 : strspn(p + i, "0123456789");
    if (p[i] == '.') {
        i++;
        i += p[i] == '*' ? 1 : strspn(p + i, "0123456789");
    }
    i += strspn(p + i, "hljztL");
    return p[i] != '\0' ? i + 1 : i;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
/* snprintf one conversion spec f (NUL-terminated) taking its arguments
 * from ap, the '*' width and precision first, as printf would. */
#define CONV(T)                                                                \
    do {                                                                       \
        T v_ = va_arg(*ap, T);                                                 \
        r = nstar == 0   ? snprintf(out, cap, f, v_)                           \
            : nstar == 1 ? snprintf(out, cap, f, star[0], v_)                  \
                         : snprintf(out, cap, f, star[0], star[1], v_);        \
    } while (0)

static size_t conv(char *out, size_t cap, const char *f, va_list *ap)
{
    size_t n = strlen(f);
    char c = f[n - 1];
    const char *mod = f + strcspn(f, "hljztL");
    int star[2] = {0, 0}, nstar = 0, r = 0;

    for (const char *s = f; s < mod; s++)
        if (*s == '*' && nstar < 2)
            star[nstar++] = va_arg(*ap, int);
    if (strchr("di", c) != NULL) {
        if (strncmp(mod, "ll", 2) == 0)
            CONV(long long);
        else if (*mod == 'l')
            CONV(long);
        else if (*mod == 'j')
            CONV(intmax_t);
        else if (*mod == 'z')
            CONV(ssize_t);
        else if (*mod == 't')
            CONV(ptrdiff_t);
        else
            CONV(int);
    } else if (strchr("ouxX", c) != NULL) {
        if (strncmp(mod, "ll", 2) == 0)
            CONV(unsigned long long);
        else if (*mod == 'l')
            CONV(unsigned long);
        else if (*mod == 'j')
            CONV(uintmax_t);
        else if (*mod == 'z')
            CONV(size_t);
        else if (*mod == 't')
            CONV(ptrdiff_t);
        else
            CONV(unsigned);
    } else if (strchr("fFeEgGaA", c) != NULL) {
        if (*mod == 'L')
            CONV(long double);
        else
            CONV(double);
    } else if (c == 'c') {
        CONV(int);
    } else if (c == 's' || c == 'p') {
        CONV(const void *);
    } else if (c == 'n') {
        (void)va_arg(*ap, void *); /* never written through */
    }
    if (r < 0)
        return 0;
    return (size_t)r < cap ? (size_t)r : cap - 1;
}
#undef CONV
#pragma GCC diagnostic pop

/* Expand the format text [p, end) into out (truncated to cap - 1 bytes). */
static size_t expand(char *out, size_t cap, const char *p, const char *end,
                     va_list *ap)
{
    size_t len = 0;

    while (p < end) {
        char f[64];
        size_t n;

        if (*p != '%' || p[1] == '%') {
            if (len + 1 < cap)
                out[len++] = *p;
            p += *p == '%' ? 2 : 1;
            continue;
        }
        n = spec_len(p);
        /* A spec this long is not ours; the compiler checked the rest. */
        if (n >= sizeof(f))
            break;
        memcpy(f, p, n);
        f[n] = '\0';
        len += conv(out + len, cap - len, f, ap);
        p += n;
    }
    out[len] = '\0';
    return len;
}

/* Append fmt's fields: ` key=VALUE` or ` VALUE` per space-separated token,
 * each value expanded, escaped and quoted here. */
static size_t put_fields(char *line, size_t len, size_t cap, const char *fmt,
                         va_list *ap)
{
    char val[LOG_VALUE];
    const char *p = fmt;

    while (*p != '\0') {
        const char *tok = p, *end = p;
        bool spec = false;
        size_t key = 0, n;

        if (*p == ' ') {
            p++;
            continue;
        }
        /* The token ends at a space outside conversion specs; its key is
         * the literal text up to an '=' that comes before any spec. */
        while (*end != '\0' && *end != ' ') {
            if (*end == '%') {
                end += end[1] == '%' ? 2 : spec_len(end);
                spec = true;
                continue;
            }
            if (*end == '=' && !spec && key == 0)
                key = (size_t)(end + 1 - tok);
            end++;
        }
        n = expand(val, sizeof(val), tok + key, end, ap);
        p = end;
        if (key == 0 && n == 0)
            continue;
        if (len + 2 > cap)
            break;
        line[len++] = ' ';
        len = put_escaped(line, len, cap, tok, key);
        len = put_value(line, len, cap, val, n);
    }
    return len;
}

void log_vmsg(enum log_level level, const char *event, const char *fmt,
              va_list ap)
{
    /* Room for the newline (or syslog's NUL) after cap bytes. */
    char line[LOG_LINE];
    size_t len, cap = sizeof(line) - 1;
    struct timeval tv;
    struct tm tm;
    va_list aq;

    if (!log_enabled(level))
        return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    len += (size_t)snprintf(line + len, sizeof(line) - len,
                            ".%03ldZ level=%s msg=\"", (long)tv.tv_usec / 1000,
                            names[level]);
    len = put_escaped(line, len, cap - 1, event, strlen(event));
    line[len++] = '"';
    va_copy(aq, ap);
    len = put_fields(line, len, cap, fmt, &aq);
    va_end(aq);
    if (use_syslog) {
        static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
        line[len] = '\0';
        /* syslog stamps its own time: skip ours. */
        syslog(prio[level], "%s", strchr(line, ' ') + 1);
        return;
    }
    line[len++] = '\n';
    /* One write per line so concurrent writers never interleave lines. */
    (void)!write(STDERR_FILENO, line, len);
}

void log_msg(enum log_level level, const char *event, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(level, event, fmt, ap);
    va_end(ap);
}

/* Write rl's summary line and forget the count. */
static void summarise(struct log_ratelimit *rl)
{
    log_msg(rl->level, rl->event, "suppressed=%lu window_ms=%d", rl->suppressed,
            LOG_RATELIMIT_MS);
    rl->suppressed = 0;
}

bool log_ratelimit_pass(struct log_ratelimit *rl, uint64_t now_ms)
{
    if (now_ms < rl->window || now_ms - rl->window >= LOG_RATELIMIT_MS) {
        if (rl->suppressed > 0)
            summarise(rl);
        rl->window = now_ms;
        rl->lines = 0;
    }
    if (rl->lines < LOG_RATELIMIT_BURST) {
        rl->lines++;
        return true;
    }
    rl->suppressed++;
    if (!rl->listed) {
        rl->listed = true;
        rl->next = pending;
        pending = rl;
    }
    return false;
}

int64_t log_ratelimit_flush(uint64_t now_ms)
{
    struct log_ratelimit **pp = &pending;
    int64_t next = -1;

    while (*pp != NULL) {
        struct log_ratelimit *rl = *pp;
        uint64_t end = rl->window + LOG_RATELIMIT_MS;

        if (rl->suppressed > 0 && now_ms < end) {
            if (next < 0 || (int64_t)(end - now_ms) < next)
                next = (int64_t)(end - now_ms);
            pp = &rl->next;
            continue;
        }
        if (rl->suppressed > 0)
            summarise(rl);
        *pp = rl->next;
        rl->next = NULL;
        rl->listed = false;
    }
    return next;
}
