/* SPDX-License-Identifier: MIT */
/* utf8.h: strict UTF-8 and XML 1.0 character checks for text from outside. */
#ifndef RESTANZA_UTF8_H
#define RESTANZA_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when all of s[0..len) is valid (strict UTF-8 of XML 1.0 Chars: see
 * utf8_xml_prefix() in utf8_priv.h). */
bool utf8_xml_valid(const char *s, size_t len);

/* The same for a NUL-terminated string; NULL counts as valid. */
bool utf8_xml_valid_str(const char *s);

#endif
