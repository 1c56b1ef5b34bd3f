/* SPDX-License-Identifier: MIT */
/* test_idempotency.c: unit tests for the Idempotency-Key table. */
#include "config.h"

#include "idempotency.h"
#include "idempotency_priv.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static unsigned char d1[IDEMPOTENCY_DIGEST_LEN] = {1};
static unsigned char d2[IDEMPOTENCY_DIGEST_LEN] = {2};

static unsigned woken_status;
static int woken;

static void on_answer(const struct idempotency_answer *a, void *arg)
{
    (void)arg;
    woken++;
    woken_status = a != NULL ? a->status : 0;
}

static const struct idempotency_answer ok = {202, NULL, "", 0};
static const struct idempotency_answer bad = {503, "application/json", "{}", 2};

START_TEST(test_key_validity)
{
    char long_key[IDEMPOTENCY_KEY_MAX + 2];

    ck_assert(idempotency_key_valid("a"));
    ck_assert(idempotency_key_valid("order 42/x~"));
    ck_assert(!idempotency_key_valid(""));
    ck_assert(!idempotency_key_valid("tab\there"));
    ck_assert(!idempotency_key_valid("caf\xc3\xa9"));
    memset(long_key, 'k', sizeof(long_key));
    long_key[IDEMPOTENCY_KEY_MAX] = '\0';
    ck_assert(idempotency_key_valid(long_key));
    long_key[IDEMPOTENCY_KEY_MAX] = 'k';
    long_key[IDEMPOTENCY_KEY_MAX + 1] = '\0';
    ck_assert(!idempotency_key_valid(long_key));
}
END_TEST

START_TEST(test_2xx_is_replayed_per_scope_until_it_expires)
{
    struct idempotency *t = idempotency_new(10, 1000);
    struct idempotency_entry *e, *e2;

    ck_assert_int_eq(idempotency_begin(t, "tok1", "k", d1, 0, &e),
                     IDEMPOTENCY_NEW);
    ck_assert_int_eq(idempotency_begin(t, "tok1", "k", d1, 0, &e2),
                     IDEMPOTENCY_PENDING);
    ck_assert_ptr_eq(e, e2);
    idempotency_finish(t, e, &ok, 10);
    ck_assert_int_eq(idempotency_begin(t, "tok1", "k", d1, 500, &e2),
                     IDEMPOTENCY_DONE);
    ck_assert_uint_eq(idempotency_stored(e2)->status, 202);
    ck_assert_int_eq(idempotency_begin(t, "tok1", "k", d2, 500, &e2),
                     IDEMPOTENCY_MISMATCH);
    /* Another token has its own keys. */
    ck_assert_int_eq(idempotency_begin(t, "tok2", "k", d2, 500, &e2),
                     IDEMPOTENCY_NEW);
    idempotency_finish(t, e2, NULL, 500);
    /* A day (here 1 s) after the answer the key is new again. */
    ck_assert_int_eq(idempotency_begin(t, "tok1", "k", d2, 1010, &e2),
                     IDEMPOTENCY_NEW);
    idempotency_free(t);
}
END_TEST

START_TEST(test_error_answer_is_not_kept_and_waiters_get_it)
{
    struct idempotency *t = idempotency_new(10, 1000);
    struct idempotency_entry *e, *e2;
    struct idempotency_waiter *w;

    woken = 0;
    ck_assert_int_eq(idempotency_begin(t, "s", "k", d1, 0, &e),
                     IDEMPOTENCY_NEW);
    ck_assert_int_eq(idempotency_begin(t, "s", "k", d1, 0, &e2),
                     IDEMPOTENCY_PENDING);
    idempotency_wait(e2, on_answer, NULL);
    w = idempotency_wait(e2, on_answer, NULL);
    idempotency_unwait(w);
    idempotency_finish(t, e, &bad, 1);
    ck_assert_int_eq(woken, 1);
    ck_assert_uint_eq(woken_status, 503);
    ck_assert_uint_eq(idempotency_count(t), 0);
    ck_assert_int_eq(idempotency_begin(t, "s", "k", d1, 2, &e),
                     IDEMPOTENCY_NEW);
    idempotency_free(t); /* a pending entry's waiters hear NULL */
}
END_TEST

START_TEST(test_table_is_bounded_and_evicts_oldest_answers)
{
    struct idempotency *t = idempotency_new(3, 1000);
    struct idempotency_entry *e[3], *x;

    for (int i = 0; i < 2; i++) {
        char key[8] = {(char)('a' + i), 0};
        ck_assert_int_eq(idempotency_begin(t, "s", key, d1, 0, &e[i]),
                         IDEMPOTENCY_NEW);
        idempotency_finish(t, e[i], &ok, 0);
    }
    ck_assert_int_eq(idempotency_begin(t, "s", "c", d1, 0, &e[2]),
                     IDEMPOTENCY_NEW);
    /* Full: the oldest answer ("a") makes room, pending ones never. */
    ck_assert_int_eq(idempotency_begin(t, "s", "d", d1, 0, &x),
                     IDEMPOTENCY_NEW);
    ck_assert_uint_eq(idempotency_count(t), 3);
    ck_assert_int_eq(idempotency_begin(t, "s", "b", d1, 0, &x),
                     IDEMPOTENCY_DONE);
    ck_assert_int_eq(idempotency_begin(t, "s", "e", d1, 0, &x),
                     IDEMPOTENCY_NEW);
    ck_assert_int_eq(idempotency_begin(t, "s", "f", d1, 0, &x),
                     IDEMPOTENCY_FULL);
    idempotency_free(t);
}
END_TEST

static Suite *idempotency_suite(void)
{
    Suite *s = suite_create("idempotency");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_key_validity);
    tcase_add_test(tc, test_2xx_is_replayed_per_scope_until_it_expires);
    tcase_add_test(tc, test_error_answer_is_not_kept_and_waiters_get_it);
    tcase_add_test(tc, test_table_is_bounded_and_evicts_oldest_answers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(idempotency_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}
