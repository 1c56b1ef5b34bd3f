/* SPDX-License-Identifier: MIT */
/* hmac.h: HMAC-SHA256 for the webhook signature (libcrypto adapter). */
#ifndef RESTANZA_HMAC_H
#define RESTANZA_HMAC_H

#include <stdbool.h>
#include <stddef.h>

#define HMAC_SHA256_LEN 32
/* Lowercase hex digest plus the NUL. */
#define HMAC_SHA256_HEX_LEN (2 * HMAC_SHA256_LEN + 1)

/* out = HMAC-SHA256(key, data); 0, or -1 (logged) on a library failure. */
int hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                unsigned char out[HMAC_SHA256_LEN]);

/* Same, as lowercase hex into hex (NUL-terminated). 0 or -1. */
int hmac_sha256_hex(const void *key, size_t key_len, const void *data,
                    size_t len, char hex[HMAC_SHA256_HEX_LEN]);

#endif
