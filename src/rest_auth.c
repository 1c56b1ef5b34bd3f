/* SPDX-License-Identifier: MIT */
/* rest_auth.c: who a /rest caller is: a bearer token or the component's
 * Basic credentials. */
#include "config.h"

#include "rest_auth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "conf.h"
#include "httpd.h"
#include "rest_error.h"
#include "rest_internal.h"
#include "xmalloc.h"

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int rest_auth_parse_basic(const char *b64, char **user, char **secret)
{
    size_t len, n = 0;
    unsigned acc = 0;
    int bits = 0;
    char *out, *colon;

    while (*b64 == ' ' || *b64 == '\t')
        b64++;
    len = strlen(b64);
    while (len > 0 && (b64[len - 1] == ' ' || b64[len - 1] == '\t'))
        len--;
    /* Padding is optional, but only at the end and at most two. */
    for (size_t pad = 0; len > 0 && b64[len - 1] == '=' && pad < 2; pad++)
        len--;
    if (len == 0 || len % 4 == 1)
        return -1;
    out = xmalloc(len * 3 / 4 + 1);
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)b64[i]);
        if (v < 0) {
            free(out);
            return -1;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[n] = '\0';
    colon = memchr(out, ':', n);
    if (colon == NULL || strlen(out) != n) {
        free(out);
        return -1;
    }
    *user = xstrndup(out, (size_t)(colon - out));
    *secret = xstrdup(colon + 1);
    free(out);
    return 0;
}

/* True when the request carries credentials we accept; answers otherwise. */
bool rest_auth_check(struct rest_job *j)
{
    const struct conf *conf = j->r->conf;
    const char *cred;

    switch (auth_scheme(httpd_request_header(j->req, "Authorization"), &cred)) {
    case AUTH_SCHEME_BEARER: {
        size_t match = conf->rest.ntokens;
        /* Check every token so the time spent tells nothing. */
        for (size_t i = 0; i < conf->rest.ntokens; i++) {
            bool eq = auth_secret_equal(cred, conf->rest.tokens[i].token);
            if (eq && match == conf->rest.ntokens)
                match = i;
        }
        if (*cred == '\0') {
            rest_error_fail(j, RE_NOAUTHZ);
            return false;
        }
        if (match == conf->rest.ntokens) {
            rest_error_fail(j, RE_UNAUTHZ);
            return false;
        }
        j->auth.pattern = conf->rest.tokens[match].pattern;
        j->auth.scope = conf->rest.tokens[match].token;
        return true;
    }
    case AUTH_SCHEME_BASIC: {
        char *user, *secret;
        bool ok;

        if (rest_auth_parse_basic(cred, &user, &secret) < 0) {
            rest_error_fail(j, RE_MALFORMAUTHZ);
            return false;
        }
        /* Both comparisons run whatever the first one says. */
        ok = auth_secret_equal(secret, conf->component.secret);
        ok = (strcasecmp(user, conf->component.jid) == 0) & ok;
        free(user);
        free(secret);
        if (!ok) {
            rest_error_fail(j, RE_UNAUTHZ);
            return false;
        }
        j->auth.pattern = NULL;
        j->auth.scope = "\n basic"; /* no token can hold a newline */
        return true;
    }
    default:
        rest_error_fail(j, RE_NOAUTHZ);
        return false;
    }
}
