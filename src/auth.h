/* SPDX-License-Identifier: MIT */
/* auth.h: the one Authorization check shared by every HTTP route. */
#ifndef RESTANZA_AUTH_H
#define RESTANZA_AUTH_H

#include <stdbool.h>

struct httpd_request;

enum auth_scheme {
    AUTH_SCHEME_NONE,   /* no Authorization header */
    AUTH_SCHEME_BEARER, /* "Bearer" in any case (RFC 7235 2.1) */
    AUTH_SCHEME_BASIC,  /* "Basic" in any case */
    AUTH_SCHEME_OTHER,
};

/* Why a request is refused; each has one status and one text. */
enum auth_denial {
    AUTH_DENY_MISSING,   /* 401 + challenge: no credentials we can use */
    AUTH_DENY_WRONG,     /* 403: credentials not accepted */
    AUTH_DENY_MALFORMED, /* 403: credentials that cannot be decoded */
};

/* The texts of the denials (the REST error table uses them too). */
#define AUTH_TEXT_MISSING "No credentials provided"
#define AUTH_TEXT_WRONG "Credentials not accepted"
#define AUTH_TEXT_MALFORMED "Credentials malformed"

/* The challenge of routes that take a bearer token only. */
#define AUTH_CHALLENGE_BEARER "Bearer realm=\"restanza\""

/*
 * The scheme of an Authorization header value (NULL: NONE). *cred points
 * into header at the credentials, blanks skipped ("" when there are none).
 */
enum auth_scheme auth_scheme(const char *header, const char **cred);

/* Compare a presented secret or token with the expected one, in time that
 * depends only on the expected one's length. */
bool auth_secret_equal(const char *presented, const char *expected);

/*
 * Answer req with the denial in the common JSON error shape (type auth,
 * condition not-authorized); a 401 carries WWW-Authenticate: challenge.
 */
void auth_deny(struct httpd_request *req, enum auth_denial d,
               const char *challenge);

/*
 * For routes guarded by one bearer token: true when req's Authorization
 * carries it; otherwise req is answered (401 or 403) and false returned.
 * what names the token in the log line of a wrong one ("admin token").
 */
bool auth_require_bearer(struct httpd_request *req, const char *token,
                         const char *what);

#endif
