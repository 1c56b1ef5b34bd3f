/* SPDX-License-Identifier: MIT */
/* test_strmap.c: unit tests for the open-addressing string map. */
#include "config.h"

#include "strmap.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Values the map handed to free_value, in order. */
static void *freed[64];
static size_t nfreed;

static void record_free(void *value)
{
    ck_assert_uint_lt(nfreed, sizeof(freed) / sizeof(freed[0]));
    freed[nfreed++] = value;
}

/* Fresh map with record_free and an empty record. */
static struct strmap *recording_map(void)
{
    nfreed = 0;
    memset(freed, 0, sizeof(freed));
    return strmap_new(record_free);
}

static void *num(uintptr_t n)
{
    return (void *)n;
}

START_TEST(test_new_map_is_empty_and_finds_nothing)
{
    struct strmap *map = strmap_new(NULL);
    size_t pos = 0;
    const char *key = NULL;
    void *value = NULL;

    ck_assert_uint_eq(strmap_count(map), 0);
    ck_assert_ptr_null(strmap_get(map, "a"));
    ck_assert_ptr_null(strmap_take(map, "a"));
    ck_assert(!strmap_del(map, "a"));
    ck_assert(!strmap_next(map, &pos, &key, &value));
    ck_assert_ptr_null(key);
    strmap_free(map);
}
END_TEST

START_TEST(test_free_null_is_a_no_op)
{
    strmap_free(NULL);
}
END_TEST

START_TEST(test_set_then_get_returns_the_value)
{
    struct strmap *map = strmap_new(NULL);
    int a, b;

    strmap_set(map, "alpha", &a);
    strmap_set(map, "beta", &b);
    ck_assert_uint_eq(strmap_count(map), 2);
    ck_assert_ptr_eq(strmap_get(map, "alpha"), &a);
    ck_assert_ptr_eq(strmap_get(map, "beta"), &b);
    ck_assert_ptr_null(strmap_get(map, "gamma"));
    ck_assert_ptr_null(strmap_get(map, "alph"));
    ck_assert_ptr_null(strmap_get(map, "alphaa"));
    strmap_free(map);
}
END_TEST

START_TEST(test_empty_string_is_a_valid_key)
{
    struct strmap *map = strmap_new(NULL);
    int a;

    strmap_set(map, "", &a);
    ck_assert_uint_eq(strmap_count(map), 1);
    ck_assert_ptr_eq(strmap_get(map, ""), &a);
    ck_assert(strmap_del(map, ""));
    ck_assert_ptr_null(strmap_get(map, ""));
    strmap_free(map);
}
END_TEST

START_TEST(test_key_is_copied)
{
    struct strmap *map = strmap_new(NULL);
    char key[] = "mutable";
    int a;

    strmap_set(map, key, &a);
    key[0] = 'M';
    ck_assert_ptr_eq(strmap_get(map, "mutable"), &a);
    ck_assert_ptr_null(strmap_get(map, "Mutable"));
    strmap_free(map);
}
END_TEST

START_TEST(test_set_existing_key_replaces_and_frees_old_value)
{
    struct strmap *map = recording_map();

    strmap_set(map, "k", num(1));
    strmap_set(map, "k", num(2));
    ck_assert_uint_eq(strmap_count(map), 1);
    ck_assert_ptr_eq(strmap_get(map, "k"), num(2));
    ck_assert_uint_eq(nfreed, 1);
    ck_assert_ptr_eq(freed[0], num(1));
    strmap_free(map);
    ck_assert_uint_eq(nfreed, 2);
    ck_assert_ptr_eq(freed[1], num(2));
}
END_TEST

START_TEST(test_set_same_value_again_does_not_free_it)
{
    struct strmap *map = recording_map();

    strmap_set(map, "k", num(7));
    strmap_set(map, "k", num(7));
    ck_assert_uint_eq(nfreed, 0);
    ck_assert_uint_eq(strmap_count(map), 1);
    ck_assert_ptr_eq(strmap_get(map, "k"), num(7));
    strmap_free(map);
    ck_assert_uint_eq(nfreed, 1);
}
END_TEST

START_TEST(test_map_frees_owned_heap_values)
{
    /* With free() as the free function: ASan/valgrind catch leaks. */
    struct strmap *map = strmap_new(free);

    strmap_set(map, "a", strdup("one"));
    strmap_set(map, "a", strdup("two"));
    strmap_set(map, "b", strdup("three"));
    ck_assert_str_eq(strmap_get(map, "a"), "two");
    ck_assert(strmap_del(map, "b"));
    strmap_set(map, "c", strdup("four"));
    strmap_clear(map);
    strmap_set(map, "d", strdup("five"));
    strmap_free(map);
}
END_TEST

START_TEST(test_take_removes_without_freeing)
{
    struct strmap *map = recording_map();

    strmap_set(map, "a", num(1));
    strmap_set(map, "b", num(2));
    ck_assert_ptr_eq(strmap_take(map, "a"), num(1));
    ck_assert_uint_eq(nfreed, 0);
    ck_assert_uint_eq(strmap_count(map), 1);
    ck_assert_ptr_null(strmap_get(map, "a"));
    ck_assert_ptr_null(strmap_take(map, "a"));
    ck_assert_ptr_eq(strmap_get(map, "b"), num(2));
    strmap_free(map);
    ck_assert_uint_eq(nfreed, 1);
    ck_assert_ptr_eq(freed[0], num(2));
}
END_TEST

START_TEST(test_del_frees_value_and_reports_presence)
{
    struct strmap *map = recording_map();

    strmap_set(map, "a", num(1));
    strmap_set(map, "b", num(2));
    ck_assert(strmap_del(map, "a"));
    ck_assert_uint_eq(nfreed, 1);
    ck_assert_ptr_eq(freed[0], num(1));
    ck_assert_uint_eq(strmap_count(map), 1);
    ck_assert_ptr_null(strmap_get(map, "a"));
    ck_assert(!strmap_del(map, "a"));
    ck_assert(!strmap_del(map, "zzz"));
    ck_assert_uint_eq(nfreed, 1);
    strmap_free(map);
}
END_TEST

START_TEST(test_without_free_function_values_are_left_alone)
{
    struct strmap *map = strmap_new(NULL);
    int a, b, c;

    strmap_set(map, "a", &a);
    strmap_set(map, "a", &b);
    strmap_set(map, "c", &c);
    ck_assert(strmap_del(map, "a"));
    strmap_clear(map);
    strmap_free(map);
}
END_TEST

START_TEST(test_clear_frees_every_value_and_map_stays_usable)
{
    struct strmap *map = recording_map();
    uintptr_t sum = 0;

    for (uintptr_t i = 1; i <= 20; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%u", (unsigned)i);
        strmap_set(map, key, num(i));
    }
    strmap_clear(map);
    ck_assert_uint_eq(nfreed, 20);
    for (size_t i = 0; i < nfreed; i++)
        sum += (uintptr_t)freed[i];
    ck_assert_uint_eq(sum, 210);
    ck_assert_uint_eq(strmap_count(map), 0);
    ck_assert_ptr_null(strmap_get(map, "k1"));

    strmap_set(map, "k1", num(99));
    ck_assert_uint_eq(strmap_count(map), 1);
    ck_assert_ptr_eq(strmap_get(map, "k1"), num(99));
    strmap_free(map);
    ck_assert_uint_eq(nfreed, 21);
    ck_assert_ptr_eq(freed[20], num(99));
}
END_TEST

START_TEST(test_grows_to_ten_thousand_keys)
{
    struct strmap *map = strmap_new(NULL);
    char key[32];

    for (uintptr_t i = 0; i < 10000; i++) {
        snprintf(key, sizeof(key), "key-%u", (unsigned)i);
        strmap_set(map, key, num(i + 1));
        ck_assert_uint_eq(strmap_count(map), i + 1);
    }
    for (uintptr_t i = 0; i < 10000; i++) {
        snprintf(key, sizeof(key), "key-%u", (unsigned)i);
        ck_assert_ptr_eq(strmap_get(map, key), num(i + 1));
    }
    for (unsigned i = 10000; i < 11000; i++) {
        snprintf(key, sizeof(key), "key-%u", i);
        ck_assert_ptr_null(strmap_get(map, key));
    }
    strmap_free(map);
}
END_TEST

START_TEST(test_delete_keeps_later_keys_in_probe_chains_reachable)
{
    struct strmap *map = strmap_new(NULL);
    char key[32];

    for (uintptr_t i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "p%u", (unsigned)i);
        strmap_set(map, key, num(i + 1));
    }
    for (unsigned i = 0; i < 2000; i += 2) {
        snprintf(key, sizeof(key), "p%u", i);
        ck_assert(strmap_del(map, key));
    }
    ck_assert_uint_eq(strmap_count(map), 1000);
    for (uintptr_t i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "p%u", (unsigned)i);
        if (i % 2 == 0)
            ck_assert_ptr_null(strmap_get(map, key));
        else
            ck_assert_ptr_eq(strmap_get(map, key), num(i + 1));
    }
    /* Re-inserted keys land in freed slots and everything stays found. */
    for (uintptr_t i = 0; i < 2000; i += 2) {
        snprintf(key, sizeof(key), "p%u", (unsigned)i);
        strmap_set(map, key, num(i + 5000));
    }
    ck_assert_uint_eq(strmap_count(map), 2000);
    for (uintptr_t i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "p%u", (unsigned)i);
        ck_assert_ptr_eq(strmap_get(map, key),
                         num(i % 2 == 0 ? i + 5000 : i + 1));
    }
    strmap_free(map);
}
END_TEST

START_TEST(test_churn_of_distinct_keys_does_not_clog_the_table)
{
    /*
     * 200k set/del pairs of distinct keys through a map that never holds
     * more than 8: without tombstone reuse or a same-size rehash the table
     * would fill with tombstones and lookups would never terminate.
     */
    struct strmap *map = recording_map();
    char key[32];

    for (uintptr_t i = 0; i < 8; i++) {
        snprintf(key, sizeof(key), "stay%u", (unsigned)i);
        strmap_set(map, key, num(i + 1));
    }
    for (unsigned i = 0; i < 200000; i++) {
        snprintf(key, sizeof(key), "churn%u", i);
        strmap_set(map, key, num(100));
        ck_assert_uint_eq(strmap_count(map), 9);
        ck_assert(strmap_del(map, key));
        nfreed = 0;
    }
    ck_assert_uint_eq(strmap_count(map), 8);
    for (uintptr_t i = 0; i < 8; i++) {
        snprintf(key, sizeof(key), "stay%u", (unsigned)i);
        ck_assert_ptr_eq(strmap_get(map, key), num(i + 1));
    }
    ck_assert_ptr_null(strmap_get(map, "churn0"));
    ck_assert_ptr_null(strmap_get(map, "never"));
    strmap_free(map);
}
END_TEST

/* The keys of map in iteration order, joined with spaces; caller frees. */
static char *iteration_order(const struct strmap *map)
{
    size_t pos = 0, len = 0, cap = 16;
    char *out = malloc(cap);
    const char *key;

    ck_assert_ptr_nonnull(out);
    out[0] = '\0';
    while (strmap_next(map, &pos, &key, NULL)) {
        size_t k = strlen(key);
        while (len + k + 2 > cap) {
            cap *= 2;
            out = realloc(out, cap);
            ck_assert_ptr_nonnull(out);
        }
        memcpy(out + len, key, k);
        len += k;
        out[len++] = ' ';
        out[len] = '\0';
    }
    return out;
}

START_TEST(test_reinserted_key_takes_back_its_deleted_slot)
{
    /*
     * Delete one key and set it again, for each of 1000 keys: with
     * tombstone reuse every key lands where it was, so the iteration order
     * never changes (1000 keys stay under the growth threshold).
     */
    struct strmap *map = strmap_new(NULL);
    char key[32], *before, *after;

    for (uintptr_t i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "r%u", (unsigned)i);
        strmap_set(map, key, num(i + 1));
    }
    before = iteration_order(map);
    for (uintptr_t i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "r%u", (unsigned)i);
        ck_assert(strmap_del(map, key));
        strmap_set(map, key, num(i + 1));
    }
    after = iteration_order(map);
    /* Not ck_assert_str_eq: a 6 kB message is too long for Check. */
    ck_assert_msg(strcmp(after, before) == 0,
                  "iteration order changed by delete and re-insert");
    ck_assert_uint_eq(strmap_count(map), 1000);
    free(before);
    free(after);
    strmap_free(map);
}
END_TEST

START_TEST(test_take_then_set_same_key_reuses_its_place)
{
    struct strmap *map = strmap_new(NULL);

    for (unsigned round = 0; round < 100000; round++) {
        strmap_set(map, "same", num(round + 1));
        ck_assert_ptr_eq(strmap_take(map, "same"), num(round + 1));
    }
    ck_assert_uint_eq(strmap_count(map), 0);
    ck_assert_ptr_null(strmap_get(map, "same"));
    strmap_free(map);
}
END_TEST

START_TEST(test_iteration_visits_every_key_once)
{
    struct strmap *map = strmap_new(NULL);
    static unsigned char seen[3000];
    size_t pos = 0, visits = 0;
    const char *key;
    void *value;
    char buf[32];

    memset(seen, 0, sizeof(seen));
    for (uintptr_t i = 0; i < 3000; i++) {
        snprintf(buf, sizeof(buf), "it%u", (unsigned)i);
        strmap_set(map, buf, num(i + 1));
    }
    /* Remove a third so that iteration must step over deleted slots. */
    for (unsigned i = 0; i < 3000; i += 3) {
        snprintf(buf, sizeof(buf), "it%u", i);
        ck_assert(strmap_del(map, buf));
    }
    while (strmap_next(map, &pos, &key, &value)) {
        unsigned n;
        ck_assert_int_eq(sscanf(key, "it%u", &n), 1);
        ck_assert_uint_lt(n, 3000);
        ck_assert_uint_ne(n % 3, 0);
        ck_assert_ptr_eq(value, num(n + 1));
        ck_assert_uint_eq(seen[n], 0);
        seen[n] = 1;
        visits++;
    }
    ck_assert_uint_eq(visits, 2000);
    ck_assert_uint_eq(visits, strmap_count(map));
    /* Once at the end it stays at the end. */
    ck_assert(!strmap_next(map, &pos, &key, &value));
    strmap_free(map);
}
END_TEST

START_TEST(test_iteration_accepts_null_value_pointer)
{
    struct strmap *map = strmap_new(NULL);
    size_t pos = 0;
    const char *key = NULL;

    strmap_set(map, "only", num(1));
    ck_assert(strmap_next(map, &pos, &key, NULL));
    ck_assert_str_eq(key, "only");
    ck_assert(!strmap_next(map, &pos, &key, NULL));
    strmap_free(map);
}
END_TEST

START_TEST(test_sorted_keys_are_in_strcmp_order_and_null_terminated)
{
    struct strmap *map = strmap_new(NULL);
    static const char *const in[] = {"b", "a", "c", "aa", "B", "", "a0"};
    const char **keys;

    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
        strmap_set(map, in[i], num(i + 1));
    ck_assert(strmap_del(map, "c"));
    keys = strmap_sorted_keys(map);
    ck_assert_str_eq(keys[0], "");
    ck_assert_str_eq(keys[1], "B");
    ck_assert_str_eq(keys[2], "a");
    ck_assert_str_eq(keys[3], "a0");
    ck_assert_str_eq(keys[4], "aa");
    ck_assert_str_eq(keys[5], "b");
    ck_assert_ptr_null(keys[6]);
    /* The keys are the map's own, borrowed. */
    ck_assert_ptr_eq(strmap_get(map, keys[5]), num(1));
    free(keys);
    strmap_free(map);
}
END_TEST

START_TEST(test_sorted_keys_of_empty_map_is_just_null)
{
    struct strmap *map = strmap_new(NULL);
    const char **keys = strmap_sorted_keys(map);

    ck_assert_ptr_null(keys[0]);
    free(keys);
    strmap_set(map, "x", num(1));
    ck_assert(strmap_del(map, "x"));
    keys = strmap_sorted_keys(map);
    ck_assert_ptr_null(keys[0]);
    free(keys);
    strmap_free(map);
}
END_TEST

static Suite *strmap_suite(void)
{
    Suite *s = suite_create("strmap");
    TCase *tc = tcase_create("basics");

    tcase_add_test(tc, test_new_map_is_empty_and_finds_nothing);
    tcase_add_test(tc, test_free_null_is_a_no_op);
    tcase_add_test(tc, test_set_then_get_returns_the_value);
    tcase_add_test(tc, test_empty_string_is_a_valid_key);
    tcase_add_test(tc, test_key_is_copied);
    suite_add_tcase(s, tc);

    tc = tcase_create("ownership");
    tcase_add_test(tc, test_set_existing_key_replaces_and_frees_old_value);
    tcase_add_test(tc, test_set_same_value_again_does_not_free_it);
    tcase_add_test(tc, test_map_frees_owned_heap_values);
    tcase_add_test(tc, test_take_removes_without_freeing);
    tcase_add_test(tc, test_del_frees_value_and_reports_presence);
    tcase_add_test(tc, test_without_free_function_values_are_left_alone);
    tcase_add_test(tc, test_clear_frees_every_value_and_map_stays_usable);
    suite_add_tcase(s, tc);

    tc = tcase_create("growth");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_grows_to_ten_thousand_keys);
    tcase_add_test(tc, test_delete_keeps_later_keys_in_probe_chains_reachable);
    tcase_add_test(tc, test_churn_of_distinct_keys_does_not_clog_the_table);
    tcase_add_test(tc, test_reinserted_key_takes_back_its_deleted_slot);
    tcase_add_test(tc, test_take_then_set_same_key_reuses_its_place);
    suite_add_tcase(s, tc);

    tc = tcase_create("iteration");
    tcase_add_test(tc, test_iteration_visits_every_key_once);
    tcase_add_test(tc, test_iteration_accepts_null_value_pointer);
    tcase_add_test(tc,
                   test_sorted_keys_are_in_strcmp_order_and_null_terminated);
    tcase_add_test(tc, test_sorted_keys_of_empty_map_is_just_null);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(strmap_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}
