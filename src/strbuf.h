/* SPDX-License-Identifier: MIT */
/* strbuf.h: text appended to a malloc'd buffer (the /metrics and /status
 * renderers, URL templates). */
#ifndef RESTANZA_STRBUF_H
#define RESTANZA_STRBUF_H

#include <stddef.h>

/* Append printf-formatted text to *buf (malloc'd, *len bytes, may start
 * NULL/0), keeping it NUL-terminated; the caller frees *buf. */
void strbuf_appendf(char **buf, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
