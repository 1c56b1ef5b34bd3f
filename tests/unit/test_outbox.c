/* SPDX-License-Identifier: MIT */
/* test_outbox.c: unit tests for the outbox of unconfirmed stanzas. */
#include "config.h"

#include "outbox.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "store.h"

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

/* With the store: a new outbox on the same database gets what was not
 * confirmed, in order, with its numbers; confirmed rows are gone. */
START_TEST(test_store_keeps_unconfirmed_stanzas_for_the_next_start)
{
    char dir[] = "/tmp/test_outbox.XXXXXX", path[64], cmd[96];
    struct store *s;
    struct outbox *o;

    log_set_level(LOG_LEVEL_ERROR);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/r.db", dir);
    s = store_open(path, STORE_SYNC_NORMAL);
    ck_assert_ptr_nonnull(s);
    o = outbox_new();
    ck_assert_int_eq(outbox_set_store(o, s), 0);
    for (int i = 0; i < 12; i++)
        outbox_add(o, i % 2 ? "<odd/>" : "<even/>", i % 2 ? 6 : 7);
    ck_assert_uint_eq(outbox_confirm(o, 9), 9);
    outbox_free(o); /* as at a SIGKILL: nothing is deleted */
    ck_assert_int_eq(store_flush(s), 0);
    store_free(s);

    s = store_open(path, STORE_SYNC_NORMAL);
    ck_assert_ptr_nonnull(s);
    o = outbox_new();
    ck_assert_int_eq(outbox_set_store(o, s), 0);
    ck_assert_uint_eq(outbox_count(o), 3);
    ck_assert_uint_eq(outbox_confirmed(o), 9);
    ck_assert_uint_eq(outbox_last(o), 12);
    seen[0] = '\0';
    outbox_each(o, collect, NULL);
    ck_assert_str_eq(seen, "<odd/><even/><odd/>");
    ck_assert_uint_eq(outbox_add(o, "<n/>", 4), 13);
    ck_assert_uint_eq(outbox_confirm(o, 13), 4);
    outbox_free(o);
    ck_assert_int_eq(store_flush(s), 0);
    store_free(s);

    s = store_open(path, STORE_SYNC_NORMAL);
    o = outbox_new();
    ck_assert_int_eq(outbox_set_store(o, s), 0);
    ck_assert_uint_eq(outbox_count(o), 0);
    outbox_free(o);
    store_free(s);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
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
    tcase_add_test(tc, test_store_keeps_unconfirmed_stanzas_for_the_next_start);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}
