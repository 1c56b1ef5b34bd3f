/* SPDX-License-Identifier: MIT */
/* strmap.c: a hash map from strings to pointers (open addressing). */
#include "config.h"

#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

struct slot {
    char *key; /* NULL: empty; TOMBSTONE: deleted */
    void *value;
    uint32_t hash;
};

struct strmap {
    struct slot *slots;
    size_t cap; /* power of two */
    size_t count;
    size_t used; /* count + tombstones */
    strmap_free_fn free_value;
};

static char tombstone_mark;
#define TOMBSTONE (&tombstone_mark)

/* FNV-1a: short keys, no adversarial pressure beyond our own bounds. */
static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

struct strmap *strmap_new(strmap_free_fn free_value)
{
    struct strmap *map = xcalloc(1, sizeof(*map));
    map->free_value = free_value;
    return map;
}

void strmap_clear(struct strmap *map)
{
    for (size_t i = 0; i < map->cap; i++) {
        struct slot *s = &map->slots[i];
        if (s->key != NULL && s->key != TOMBSTONE) {
            if (map->free_value != NULL)
                map->free_value(s->value);
            free(s->key);
        }
        s->key = NULL;
    }
    map->count = map->used = 0;
}

void strmap_free(struct strmap *map)
{
    if (map == NULL)
        return;
    strmap_clear(map);
    free(map->slots);
    free(map);
}

static struct slot *strmap_find(const struct strmap *map, const char *key,
                                uint32_t h)
{
    if (map->cap == 0)
        return NULL;
    for (size_t i = h & (map->cap - 1);; i = (i + 1) & (map->cap - 1)) {
        struct slot *s = &map->slots[i];
        if (s->key == NULL)
            return NULL;
        if (s->key != TOMBSTONE && s->hash == h && strcmp(s->key, key) == 0)
            return s;
    }
}

static void grow(struct strmap *map)
{
    struct slot *old = map->slots;
    size_t oldcap = map->cap;

    map->cap =
        oldcap == 0 ? 16 : (map->count * 2 >= oldcap ? oldcap * 2 : oldcap);
    map->slots = xcalloc(map->cap, sizeof(*map->slots));
    map->used = map->count;
    for (size_t i = 0; i < oldcap; i++) {
        if (old[i].key == NULL || old[i].key == TOMBSTONE)
            continue;
        size_t j = old[i].hash & (map->cap - 1);
        while (map->slots[j].key != NULL)
            j = (j + 1) & (map->cap - 1);
        map->slots[j] = old[i];
    }
    free(old);
}

void strmap_set(struct strmap *map, const char *key, void *value)
{
    uint32_t h = hash_str(key);
    struct slot *s = strmap_find(map, key, h);

    if (s != NULL) {
        if (map->free_value != NULL && s->value != value)
            map->free_value(s->value);
        s->value = value;
        return;
    }
    if ((map->used + 1) * 4 > map->cap * 3)
        grow(map);
    size_t i = h & (map->cap - 1);
    while (map->slots[i].key != NULL && map->slots[i].key != TOMBSTONE)
        i = (i + 1) & (map->cap - 1);
    if (map->slots[i].key == NULL)
        map->used++;
    map->slots[i].key = xstrdup(key);
    map->slots[i].value = value;
    map->slots[i].hash = h;
    map->count++;
}

void *strmap_get(const struct strmap *map, const char *key)
{
    struct slot *s = strmap_find(map, key, hash_str(key));
    return s != NULL ? s->value : NULL;
}

void *strmap_take(struct strmap *map, const char *key)
{
    struct slot *s = strmap_find(map, key, hash_str(key));
    void *value;

    if (s == NULL)
        return NULL;
    value = s->value;
    free(s->key);
    s->key = TOMBSTONE;
    s->value = NULL;
    map->count--;
    return value;
}

bool strmap_del(struct strmap *map, const char *key)
{
    struct slot *s = strmap_find(map, key, hash_str(key));

    if (s == NULL)
        return false;
    void *value = strmap_take(map, key);
    if (map->free_value != NULL)
        map->free_value(value);
    return true;
}

size_t strmap_count(const struct strmap *map)
{
    return map->count;
}

bool strmap_next(const struct strmap *map, size_t *pos, const char **key,
                 void **value)
{
    for (; *pos < map->cap; (*pos)++) {
        struct slot *s = &map->slots[*pos];
        if (s->key != NULL && s->key != TOMBSTONE) {
            *key = s->key;
            if (value != NULL)
                *value = s->value;
            (*pos)++;
            return true;
        }
    }
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **strmap_sorted_keys(const struct strmap *map)
{
    const char **keys = xcalloc(map->count + 1, sizeof(*keys));
    size_t pos = 0, n = 0;
    const char *k;

    while (strmap_next(map, &pos, &k, NULL))
        keys[n++] = k;
    qsort(keys, n, sizeof(*keys), cmp_str);
    return keys;
}
