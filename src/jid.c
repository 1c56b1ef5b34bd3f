/* SPDX-License-Identifier: MIT */
/* jid.c: JID parsing, validation and normalisation as the servers do it. */
#include "config.h"

#include "jid.h"

#include <stdlib.h>
#include <string.h>
#include <stringprep.h>

#include "utf8.h"
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

/*
 * One part through a stringprep profile (RFC 3920 nodeprep/resourceprep,
 * RFC 3491 nameprep), or NULL when the profile prohibits it. Unassigned
 * code points are allowed, as Prosody (non-strict) and ejabberd do. Both
 * servers refuse a part of 1024 bytes or more before and after prep.
 */
/*
 * True when the profile maps s[0..len) to itself and prohibits nothing in
 * it: printable ASCII without upper-case letters (nodeprep also without
 * the characters it prohibits; resourceprep keeps case and allows a
 * space). NFKC, the mapping tables and the bidi rules change no such
 * string, so the common case skips libidn (about 2 us a JID).
 */
static bool prep_is_identity(const char *s, size_t len, const char *profile)
{
    bool resource = strcmp(profile, "Resourceprep") == 0;
    bool node = strcmp(profile, "Nodeprep") == 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c > 0x7e || c < (resource ? 0x20 : 0x21))
            return false;
        if (!resource && c >= 'A' && c <= 'Z')
            return false;
        if (node && strchr("\"&'/:<>@", c) != NULL)
            return false;
    }
    return true;
}

static char *prep(const char *s, size_t len, const char *profile)
{
    char *in, *out = NULL;
    int rc;

    if (len == 0 || len > JID_PART_MAX || !utf8_xml_valid(s, len))
        return NULL;
    if (prep_is_identity(s, len, profile))
        return xstrndup(s, len);
    in = xstrndup(s, len);
    rc = stringprep_profile(in, &out, profile, 0);
    free(in);
    if (rc != STRINGPREP_OK) {
        free(out);
        return NULL;
    }
    if (*out == '\0' || strlen(out) > JID_PART_MAX) {
        free(out);
        return NULL;
    }
    return out;
}

/* The prepped domainpart of dom[0..dlen), or NULL (trailing dot dropped). */
static char *prep_domain(const char *dom, size_t dlen)
{
    char *domain;
    size_t n;

    /* RFC 7622 §3.2: a trailing dot is not part of the domain. */
    if (dlen > 1 && dom[dlen - 1] == '.')
        dlen--;
    domain = prep(dom, dlen, "Nameprep");
    if (domain == NULL)
        return NULL;
    /* Checked after prep: a full-width dot or letter maps to ASCII. */
    n = strlen(domain);
    if (domain[n - 1] == '.' || !jid_domain_valid(domain)) {
        free(domain);
        return NULL;
    }
    return domain;
}

int jid_parse(const char *s, struct jid *out)
{
    const char *slash = strchr(s, '/');
    size_t head = slash != NULL ? (size_t)(slash - s) : strlen(s);
    const char *at = memchr(s, '@', head);
    const char *dom = at != NULL ? at + 1 : s;
    struct jid j = {0};

    if (at != NULL) {
        j.local = prep(s, (size_t)(at - s), "Nodeprep");
        if (j.local == NULL || !localpart_valid(j.local, strlen(j.local)))
            goto fail;
    }
    if (slash != NULL) {
        j.resource = prep(slash + 1, strlen(slash + 1), "Resourceprep");
        if (j.resource == NULL ||
            !resource_valid(j.resource, strlen(j.resource)))
            goto fail;
    }
    j.domain = prep_domain(dom, (size_t)(s + head - dom));
    if (j.domain == NULL)
        goto fail;
    *out = j;
    return 0;
fail:
    jid_clear(&j);
    return -1;
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

char *jid_normalize(const char *s)
{
    struct jid j;
    char *n;

    if (jid_parse(s, &j) < 0)
        return NULL;
    n = xasprintf("%s%s%s%s%s", j.local ? j.local : "", j.local ? "@" : "",
                  j.domain, j.resource ? "/" : "",
                  j.resource ? j.resource : "");
    jid_clear(&j);
    return n;
}

bool jid_equal(const char *a, const char *b)
{
    char *na, *nb;
    bool eq;

    if (a == NULL || b == NULL)
        return false;
    if (strcmp(a, b) == 0)
        return jid_valid(a);
    na = jid_normalize(a);
    nb = jid_normalize(b);
    eq = na != NULL && nb != NULL && strcmp(na, nb) == 0;
    free(na);
    free(nb);
    return eq;
}
