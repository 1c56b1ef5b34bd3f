/* SPDX-License-Identifier: MIT */
/* utf8.c: strict UTF-8 and XML 1.0 character checks for text from outside. */
#include "config.h"

#include "utf8.h"
#include "utf8_priv.h"

#include <stdint.h>
#include <string.h>

/* XML 1.0 production [2] Char, for a decoded code point. */
static bool xml_char(uint32_t cp)
{
    if (cp < 0x20)
        return cp == 0x9 || cp == 0xA || cp == 0xD;
    if (cp <= 0xD7FF)
        return true;
    if (cp < 0xE000)
        return false; /* surrogates */
    if (cp <= 0xFFFD)
        return true;
    return cp >= 0x10000 && cp <= 0x10FFFF;
}

size_t utf8_xml_prefix(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        unsigned char c = p[i];
        uint32_t cp, min;
        size_t n;

        if (c < 0x80) {
            if (!xml_char(c))
                return i;
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            n = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return i; /* continuation byte or 0xF8..0xFF */
        }
        if (len - i < n)
            return i;
        for (size_t k = 1; k < n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        /* An overlong form decodes below the minimum of its length. */
        if (cp < min || !xml_char(cp))
            return i;
        i += n;
    }
    return i;
}

bool utf8_xml_valid(const char *s, size_t len)
{
    return utf8_xml_prefix(s, len) == len;
}

bool utf8_xml_valid_str(const char *s)
{
    return s == NULL || utf8_xml_valid(s, strlen(s));
}
