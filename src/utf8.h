/* SPDX-License-Identifier: MIT */
/* utf8.h: strict UTF-8 and XML 1.0 character checks for text from outside. */
#ifndef RESTANZA_UTF8_H
#define RESTANZA_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Length of the longest prefix of s[0..len) that is strict UTF-8 (no
 * overlong forms, no surrogates, nothing above U+10FFFF) made only of XML
 * 1.0 Chars (#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
 * [#x10000-#x10FFFF]). Equals len when all of s is valid.
 */
size_t utf8_xml_prefix(const char *s, size_t len);

/* True when all of s[0..len) is valid (see utf8_xml_prefix). */
bool utf8_xml_valid(const char *s, size_t len);

/* The same for a NUL-terminated string; NULL counts as valid. */
bool utf8_xml_valid_str(const char *s);

#endif
