/* SPDX-License-Identifier: MIT */
/* rest_auth.h: who a /rest caller is: a bearer token or the component's
 * Basic credentials. */
#ifndef RESTANZA_REST_AUTH_H
#define RESTANZA_REST_AUTH_H

#include <stdbool.h>

struct rest_job;

/* True when j's request carries credentials we accept (j->auth set);
 * otherwise it is answered 401 or 403 and false returned. */
bool rest_auth_check(struct rest_job *j);

/*
 * Decode HTTP Basic credentials (the base64 after "Basic "): 0 with
 * *user and *secret set (caller frees both), -1 when not base64 of
 * "user:secret" without NUL bytes.
 */
int rest_auth_parse_basic(const char *b64, char **user, char **secret);

#endif
