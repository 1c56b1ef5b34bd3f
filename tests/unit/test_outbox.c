/* SPDX-License-Identifier: MIT */
/* test_outbox.c: unit tests for the outbox of unconfirmed stanzas. */
#include "config.h"

#include "outbox.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static char seen[256];

static int collect(uint64_t seq, const char *xml, size_t len, void *arg)
{
    (void)seq;
    (void)arg;
    strncat(seen, xml, len);
    return 0;
}

START_TEST(test_confirm_drops_oldest_up_to_seq_and_each_walks_the_rest)
{
    struct outbox *o = outbox_new();

    ck_assert_uint_eq(outbox_add(o, "<a/>", 4), 1);
    ck_assert_uint_eq(outbox_add(o, "<b/>", 4), 2);
    ck_assert_uint_eq(outbox_add(o, "<c/>", 4), 3);
    ck_assert_uint_eq(outbox_bytes(o), 12);
    ck_assert_uint_eq(outbox_confirm(o, 2), 2);
    ck_assert_uint_eq(outbox_confirmed(o), 2);
    ck_assert_uint_eq(outbox_count(o), 1);
    ck_assert_uint_eq(outbox_bytes(o), 4);
    seen[0] = '\0';
    outbox_each(o, collect, NULL);
    ck_assert_str_eq(seen, "<c/>");
    ck_assert_uint_eq(outbox_confirm(o, 1), 0); /* old news */
    ck_assert_uint_eq(outbox_confirmed(o), 2);
    ck_assert_uint_eq(outbox_add(o, "<d/>", 4), 4);
    ck_assert_uint_eq(outbox_confirm(o, 99), 2);
    ck_assert_uint_eq(outbox_confirmed(o), 4);
    ck_assert_uint_eq(outbox_count(o), 0);
    outbox_add(o, "<e/>", 4); /* freed with the outbox */
    outbox_free(o);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("outbox");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc,
                   test_confirm_drops_oldest_up_to_seq_and_each_walks_the_rest);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}
