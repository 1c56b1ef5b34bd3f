/* SPDX-License-Identifier: MIT */
/* log.h: one-line-per-event leveled logger on stderr, safe for untrusted text.
 */
#ifndef RESTANZA_LOG_H
#define RESTANZA_LOG_H

#include <stdbool.h>
#include <stdarg.h>
#include <stdint.h>

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
 * Write `level=L msg="EVENT" FIELDS`. FIELDS is fmt with its conversions
 * expanded, by convention space-separated `key=%s` pairs. The logger quotes
 * and escapes each value itself: within the text after a `key=` (or a
 * token without one), `"`, `\`, control characters and bytes >= 0x7f are
 * written as \xNN, and the value is wrapped in double quotes when it is
 * empty or contains a space, `"` or `=`. So no value can forge a field or
 * a line; callers never quote. A token that expands to nothing is left out.
 */
void log_msg(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(enum log_level level, const char *event, const char *fmt,
              va_list ap) __attribute__((format(printf, 3, 0)));

/*
 * Flood control for one call site (static storage: the logger keeps a list
 * of them). At most LOG_RATELIMIT_BURST lines pass per LOG_RATELIMIT_MS
 * window; the rest are counted, and one line `msg="EVENT" suppressed=N
 * window_ms=W` at the state's level says how many when the window ends
 * (written by the next log_ratelimit_pass() or log_ratelimit_flush()).
 */
#define LOG_RATELIMIT_BURST 5
#define LOG_RATELIMIT_MS 1000
struct log_ratelimit {
    enum log_level level;
    const char *event; /* of the summary line */
    uint64_t window;   /* start of the current window, ms */
    unsigned lines;    /* passed in the window */
    unsigned long suppressed;
    bool listed; /* on the logger's list of states with a summary due */
    struct log_ratelimit *next;
};
#define LOG_RATELIMIT_INIT(lvl, ev)                                            \
    {                                                                          \
        .level = (lvl), .event = (ev)                                          \
    }

/* Whether one more line of rl may be written at now_ms (a monotonic clock,
 * e.g. loop_clock_ms()); false counts it as suppressed. */
bool log_ratelimit_pass(struct log_ratelimit *rl, uint64_t now_ms);
/* Write the summaries of windows ended by now_ms; returns ms until the next
 * one is due, or -1 when none is (a loop prepare hook's answer). */
int64_t log_ratelimit_flush(uint64_t now_ms);

#define log_error(ev, ...) log_msg(LOG_LEVEL_ERROR, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_msg(LOG_LEVEL_WARN, ev, __VA_ARGS__)
#define log_info(ev, ...) log_msg(LOG_LEVEL_INFO, ev, __VA_ARGS__)
#define log_debug(ev, ...)                                                     \
    do {                                                                       \
        if (log_enabled(LOG_LEVEL_DEBUG))                                      \
            log_msg(LOG_LEVEL_DEBUG, ev, __VA_ARGS__);                         \
    } while (0)

#endif
