/* SPDX-License-Identifier: MIT */
/* hmac.c: HMAC-SHA256 for the webhook signature (libcrypto adapter). */
#include "config.h"

#include "hmac.h"

#include <string.h>

#include <limits.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "log.h"

int hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                unsigned char out[HMAC_SHA256_LEN])
{
    static const unsigned char empty = 0;
    unsigned int n = 0;

    /* OpenSSL rejects a NULL key even with length 0. */
    if (key_len == 0)
        key = &empty;
    if (data == NULL)
        data = &empty;
    if (key_len > (size_t)INT_MAX ||
        HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &n) == NULL ||
        n != HMAC_SHA256_LEN) {
        log_error("hmac failed", "len=%zu", len);
        return -1;
    }
    return 0;
}

int hmac_sha256_hex(const void *key, size_t key_len, const void *data,
                    size_t len, char hex[HMAC_SHA256_HEX_LEN])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char mac[HMAC_SHA256_LEN];

    if (hmac_sha256(key, key_len, data, len, mac) < 0)
        return -1;
    for (size_t i = 0; i < HMAC_SHA256_LEN; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 0xf];
    }
    hex[2 * HMAC_SHA256_LEN] = '\0';
    return 0;
}
