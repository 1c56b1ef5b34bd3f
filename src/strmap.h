/* SPDX-License-Identifier: MIT */
/* strmap.h: a hash map from strings to pointers (open addressing). */
#ifndef RESTANZA_STRMAP_H
#define RESTANZA_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

struct strmap;
typedef void (*strmap_free_fn)(void *value);

/* free_value (may be NULL) is called on values the map drops. */
struct strmap *strmap_new(strmap_free_fn free_value);
void strmap_free(struct strmap *map);

/* Insert or replace; the key is copied, the value is owned by the map. */
void strmap_set(struct strmap *map, const char *key, void *value);
/* Borrowed value, or NULL. */
void *strmap_get(const struct strmap *map, const char *key);
/* Remove and return the value without freeing it (NULL if absent). */
void *strmap_take(struct strmap *map, const char *key);
/* Remove and free the value; true if it was there. */
bool strmap_del(struct strmap *map, const char *key);
void strmap_clear(struct strmap *map);
size_t strmap_count(const struct strmap *map);

/*
 * Iterate: start with *pos = 0; returns false at the end. The map must not
 * be changed during the iteration.
 */
bool strmap_next(const struct strmap *map, size_t *pos, const char **key,
                 void **value);

/* Keys in strcmp order, NULL-terminated; free the array (not the keys). */
const char **strmap_sorted_keys(const struct strmap *map);

#endif
