/* SPDX-License-Identifier: MIT */
/* log.c: one-line-per-event leveled logger on stderr, safe for untrusted text.
 */
#include "config.h"

#include "log.h"

#include <stdio.h>
#include <string.h>
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

/* Append s to the line, escaping what could break it; returns new length. */
static size_t put_escaped(char *line, size_t len, size_t cap, const char *s,
                          bool quote)
{
    for (; *s != '\0' && len + 5 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c >= 0x7f || (quote && (c == '"' || c == '\\'))) {
            len += (size_t)snprintf(line + len, cap - len, "\\x%02x", c);
        } else {
            line[len++] = (char)c;
        }
    }
    return len;
}

void log_vmsg(enum log_level level, const char *event, const char *fmt,
              va_list ap)
{
    char fields[2048], line[4096];
    struct timeval tv;
    struct tm tm;
    size_t len;

    if (!log_enabled(level))
        return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    len += (size_t)snprintf(line + len, sizeof(line) - len,
                            ".%03ldZ level=%s msg=\"", (long)tv.tv_usec / 1000,
                            names[level]);
    len = put_escaped(line, len, sizeof(line) - 2, event, true);
    line[len++] = '"';
    vsnprintf(fields, sizeof(fields), fmt, ap);
    if (fields[0] != '\0') {
        line[len++] = ' ';
        len = put_escaped(line, len, sizeof(line) - 2, fields, false);
    }
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
