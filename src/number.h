/* SPDX-License-Identifier: MIT */
/* number.h: strict decimal numbers from text (configuration values, HTTP
 * headers, URL parameters). */
#ifndef RESTANZA_NUMBER_H
#define RESTANZA_NUMBER_H

#include <stdbool.h>

/* True with *out set when s is one or more decimal digits (no sign,
 * blanks or base prefix) whose value fits in an unsigned long long. */
bool number_parse(const char *s, unsigned long long *out);

#endif
