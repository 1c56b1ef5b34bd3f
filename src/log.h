/* SPDX-License-Identifier: MIT */
/* log.h: one-line-per-event leveled logger on stderr, safe for untrusted text.
 */
#ifndef RESTANZA_LOG_H
#define RESTANZA_LOG_H

#include <stdbool.h>
#include <stdarg.h>

enum log_level {
    LOG_LEVEL_ERROR,
    LOG_LEVEL_WARN,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG,
};

/* From now on write to syslog (daemon facility) instead of stderr. */
void log_use_syslog(void);

/* Set the most verbose level that is written. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
bool log_enabled(enum log_level level);

/* Parse "error", "warn", "info" or "debug"; 0 on success, -1 otherwise. */
int log_parse_level(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);

/*
 * Write `level=L msg="EVENT" FIELDS` where FIELDS is the printf-style
 * expansion of fmt (by convention `key=value` pairs). Control characters and
 * bytes >= 0x7f in the result are written as \xNN, so untrusted text cannot
 * forge log lines.
 */
void log_msg(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(enum log_level level, const char *event, const char *fmt,
              va_list ap) __attribute__((format(printf, 3, 0)));

#define log_error(ev, ...) log_msg(LOG_LEVEL_ERROR, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_msg(LOG_LEVEL_WARN, ev, __VA_ARGS__)
#define log_info(ev, ...) log_msg(LOG_LEVEL_INFO, ev, __VA_ARGS__)
#define log_debug(ev, ...)                                                     \
    do {                                                                       \
        if (log_enabled(LOG_LEVEL_DEBUG))                                      \
            log_msg(LOG_LEVEL_DEBUG, ev, __VA_ARGS__);                         \
    } while (0)

#endif
