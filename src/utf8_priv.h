/* SPDX-License-Identifier: MIT */
/* utf8_priv.h: what utf8.c exports for its unit tests only. */
#ifndef RESTANZA_UTF8_PRIV_H
#define RESTANZA_UTF8_PRIV_H

#include "utf8.h"

/*
 * Length of the longest prefix of s[0..len) that is strict UTF-8 (no
 * overlong forms, no surrogates, nothing above U+10FFFF) made only of XML
 * 1.0 Chars (#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
 * [#x10000-#x10FFFF]). Equals len when all of s is valid.
 */
size_t utf8_xml_prefix(const char *s, size_t len);

#endif
