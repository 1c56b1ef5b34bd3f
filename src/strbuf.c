/* SPDX-License-Identifier: MIT */
/* strbuf.c: text appended to a malloc'd buffer. */
#include "config.h"

#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>

#include "xmalloc.h"

/* Measure, grow, then format: one vsnprintf pass each. */
void strbuf_appendf(char **buf, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    *buf = xrealloc(*buf, *len + (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(*buf + *len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *len += (size_t)n;
}
