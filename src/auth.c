/* SPDX-License-Identifier: MIT */
/* auth.c: the one Authorization check shared by every HTTP route. */
#include "config.h"

#include "auth.h"
#include "auth_priv.h"

#include <string.h>
#include <strings.h>

#include "httpd.h"
#include "log.h"
#include "loop.h"

static const struct {
    unsigned status;
    const char *text;
} denials[] = {
    [AUTH_DENY_MISSING] = {401, AUTH_TEXT_MISSING},
    [AUTH_DENY_WRONG] = {403, AUTH_TEXT_WRONG},
    [AUTH_DENY_MALFORMED] = {403, AUTH_TEXT_MALFORMED},
};

enum auth_scheme auth_scheme(const char *header, const char **cred)
{
    size_t len;
    enum auth_scheme s;

    *cred = "";
    if (header == NULL)
        return AUTH_SCHEME_NONE;
    len = strcspn(header, " \t");
    if (len == 6 && strncasecmp(header, "Bearer", 6) == 0)
        s = AUTH_SCHEME_BEARER;
    else if (len == 5 && strncasecmp(header, "Basic", 5) == 0)
        s = AUTH_SCHEME_BASIC;
    else
        s = AUTH_SCHEME_OTHER;
    *cred = header + len + strspn(header + len, " \t");
    return s;
}

bool auth_secret_equal(const char *presented, const char *expected)
{
    size_t la = strlen(presented), lb = strlen(expected);
    unsigned char diff = la != lb;

    /* Walk the expected secret's full length whatever was presented. */
    for (size_t i = 0; i < lb; i++)
        diff |= (unsigned char)(expected[i] ^ (i < la ? presented[i] : 0));
    return diff == 0;
}

unsigned auth_denial_status(enum auth_denial d)
{
    return denials[d].status;
}

const char *auth_denial_text(enum auth_denial d)
{
    return denials[d].text;
}

void auth_deny(struct httpd_request *req, enum auth_denial d,
               const char *challenge)
{
    if (denials[d].status == 401)
        httpd_add_header(req, "WWW-Authenticate", challenge);
    httpd_error(req, denials[d].status, "auth", "not-authorized",
                denials[d].text);
}

bool auth_require_bearer(struct httpd_request *req, const char *token,
                         const char *what)
{
    static struct log_ratelimit wrong_log =
        LOG_RATELIMIT_INIT(LOG_LEVEL_WARN, "wrong bearer token");
    const char *cred;

    if (auth_scheme(httpd_request_header(req, "Authorization"), &cred) !=
            AUTH_SCHEME_BEARER ||
        *cred == '\0') {
        auth_deny(req, AUTH_DENY_MISSING, AUTH_CHALLENGE_BEARER);
        return false;
    }
    if (!auth_secret_equal(cred, token)) {
        if (log_ratelimit_pass(&wrong_log, loop_clock_ms()))
            log_warn("wrong bearer token", "token=%s path=%s", what,
                     httpd_request_path(req));
        auth_deny(req, AUTH_DENY_WRONG, AUTH_CHALLENGE_BEARER);
        return false;
    }
    return true;
}
