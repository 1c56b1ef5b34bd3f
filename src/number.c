/* SPDX-License-Identifier: MIT */
/* number.c: strict decimal numbers from text. */
#include "config.h"

#include "number.h"

#include <limits.h>

bool number_parse(const char *s, unsigned long long *out)
{
    unsigned long long v = 0;

    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (*s < '0' || *s > '9' || v > (ULLONG_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}
