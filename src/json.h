/* SPDX-License-Identifier: MIT */
/* json.h: strict JSON parsing and non-coercing typed getters over json-c. */
#ifndef RESTANZA_JSON_H
#define RESTANZA_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* Nesting limit used when a caller passes max_depth <= 0. */
#define JSON_DEFAULT_DEPTH 64

/*
 * Parse exactly one RFC 8259 JSON value from text[0..len). Stricter than
 * json-c's own strict mode: rejects single-quoted strings, NaN/Infinity,
 * "1.", leading zeros, comments, control characters in strings, NUL bytes,
 * invalid UTF-8, \u escapes of lone surrogates (json-c would silently make
 * them U+FFFD), duplicate object keys, integers outside int64 (json-c would
 * clamp them silently), nesting deeper than max_depth, and anything but
 * whitespace after the value. Returns a new reference (json_object_put) or
 * NULL with a one-line reason in err (when errlen > 0). json-c represents
 * the JSON value null as NULL too: then err is the empty string.
 */
json_object *json_parse(const char *text, size_t len, int max_depth, char *err,
                        size_t errlen);

/* Free the parser json_parse keeps between calls (at exit). */
void json_parse_release(void);

/*
 * Typed getters on obj[key]; none coerces ("123" is not 123, 1 is not true).
 * A missing key, JSON null, a non-object obj or a wrong type all count as
 * absent. Returned pointers are borrowed from obj.
 */
/* The string, or NULL unless a JSON string without embedded NUL bytes. */
const char *json_get_string(json_object *obj, const char *key);
/* 0 and *out set when a JSON boolean, else -1. */
int json_get_bool(json_object *obj, const char *key, bool *out);
/* 0 and *out set when a JSON integer that fits int64_t, else -1. */
int json_get_int64(json_object *obj, const char *key, int64_t *out);
json_object *json_get_object(json_object *obj, const char *key);
json_object *json_get_array(json_object *obj, const char *key);

/* True when text[0..len) is UTF-8 without overlongs or surrogates. */
bool json_utf8_valid(const char *text, size_t len);

/* True when obj is a JSON integer representable as int64_t. */
bool json_is_int64(json_object *obj);

/* Compact text without "\/" escaping; caller frees with free(). */
char *json_to_string(json_object *obj);

/* Value of one hex digit, or -1 (also used to decode forms). */
int json_hexval(char c);

#endif
