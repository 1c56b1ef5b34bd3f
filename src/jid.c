/* SPDX-License-Identifier: MIT */
/* jid.c: JID parsing and validation (RFC 7622, ASCII-strict domainparts). */
#include "config.h"

#include "jid.h"

#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

bool jid_domain_valid(const char *s)
{
    size_t len = strlen(s), label = 0;

    if (len == 0 || len > JID_PART_MAX)
        return false;
    if (s[0] == '[') /* IPv6 literal */
        return s[len - 1] == ']' &&
               strspn(s + 1, "0123456789abcdefABCDEF:.") == len - 2 && len > 2;
    for (const char *p = s; *p != '\0'; p++) {
        char c = *p;
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
        if (++label > 63)
            return false;
    }
    return label > 0 || len > 1; /* a trailing dot is allowed once */
}

/* RFC 7622 forbids these in a localpart (plus space and control chars). */
static bool localpart_valid(const char *s, size_t len)
{
    if (len == 0 || len > JID_PART_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f || strchr("\"&'/:<>@", c) != NULL)
            return false;
    }
    return true;
}

static bool resource_valid(const char *s, size_t len)
{
    if (len == 0 || len > JID_PART_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

int jid_parse(const char *s, struct jid *out)
{
    const char *slash = strchr(s, '/');
    size_t head = slash != NULL ? (size_t)(slash - s) : strlen(s);
    const char *at = memchr(s, '@', head);
    const char *dom = at != NULL ? at + 1 : s;
    size_t dlen = (size_t)(s + head - dom);
    char *domain;

    if (at != NULL && !localpart_valid(s, (size_t)(at - s)))
        return -1;
    if (slash != NULL && !resource_valid(slash + 1, strlen(slash + 1)))
        return -1;
    /* RFC 7622 §3.2: a trailing dot is not part of the domain. */
    if (dlen > 1 && dom[dlen - 1] == '.') {
        dlen--;
        if (dom[dlen - 1] == '.')
            return -1;
    }
    domain = xstrndup(dom, dlen);
    if (!jid_domain_valid(domain)) {
        free(domain);
        return -1;
    }
    out->domain = domain;
    out->local = at != NULL ? xstrndup(s, (size_t)(at - s)) : NULL;
    out->resource = slash != NULL ? xstrdup(slash + 1) : NULL;
    return 0;
}

void jid_clear(struct jid *jid)
{
    free(jid->local);
    free(jid->domain);
    free(jid->resource);
    memset(jid, 0, sizeof(*jid));
}

bool jid_valid(const char *s)
{
    struct jid j;

    if (jid_parse(s, &j) < 0)
        return false;
    jid_clear(&j);
    return true;
}

char *jid_bare(const char *s)
{
    struct jid j;
    char *bare;

    if (jid_parse(s, &j) < 0)
        return NULL;
    bare = j.local != NULL ? xasprintf("%s@%s", j.local, j.domain)
                           : xstrdup(j.domain);
    jid_clear(&j);
    return bare;
}

char *jid_domain(const char *s)
{
    struct jid j;
    char *d;

    if (jid_parse(s, &j) < 0)
        return NULL;
    d = j.domain;
    j.domain = NULL;
    jid_clear(&j);
    return d;
}
