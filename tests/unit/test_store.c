/* SPDX-License-Identifier: MIT */
/* test_store.c: unit tests for the SQLite store (kv, event log, batches). */
#include "config.h"

#include "store.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "loop_priv.h"

static char dir[64];
static char path[128];

static void setup(void)
{
    log_set_level(LOG_LEVEL_ERROR);
    snprintf(dir, sizeof(dir), "/tmp/test_store.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/r.db", dir);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_kv_put_get_del_round_trip)
{
    struct store *s = store_open(path, STORE_SYNC_NORMAL);
    size_t len = 0;
    char *v;

    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(store_kv_put(s, "a", "k", "v\0x", 3, 0), 0);
    v = store_kv_get(s, "a", "k", &len);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(len, 3);
    ck_assert_mem_eq(v, "v\0x", 3);
    ck_assert_int_eq(v[3], '\0');
    free(v);
    /* Spaces are separate. */
    ck_assert_ptr_null(store_kv_get(s, "b", "k", NULL));
    ck_assert_int_eq(store_kv_put(s, "a", "k", "w", 1, 0), 0);
    v = store_kv_get(s, "a", "k", NULL);
    ck_assert_str_eq(v, "w");
    free(v);
    ck_assert_int_eq(store_kv_del(s, "a", "k"), 0);
    ck_assert_ptr_null(store_kv_get(s, "a", "k", NULL));
    ck_assert_int_eq(store_kv_del(s, "a", "absent"), 0);
    ck_assert_int_eq(store_flush(s), 0);
    store_free(s);
}
END_TEST

START_TEST(test_kv_del_upto_deletes_a_range_of_one_space)
{
    struct store *s = store_open(path, STORE_SYNC_NORMAL);
    const char *keys[] = {"001", "002", "003", "010"};
    char *v;

    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(store_kv_put(s, "o", keys[i], "x", 1, 0), 0);
        ck_assert_int_eq(store_kv_put(s, "p", keys[i], "y", 1, 0), 0);
    }
    ck_assert_int_eq(store_kv_del_upto(s, "o", "003"), 0);
    ck_assert_ptr_null(store_kv_get(s, "o", "001", NULL));
    ck_assert_ptr_null(store_kv_get(s, "o", "003", NULL));
    v = store_kv_get(s, "o", "010", NULL);
    ck_assert_ptr_nonnull(v);
    free(v);
    v = store_kv_get(s, "p", "001", NULL); /* another space stays */
    ck_assert_ptr_nonnull(v);
    free(v);
    ck_assert_int_eq(store_flush(s), 0);
    store_free(s);
}
END_TEST

static int collect(const char *key, const void *val, size_t len,
                   int64_t expires, void *arg)
{
    char *out = arg;
    strcat(out, key);
    strncat(out, val, len);
    strcat(out, ";");
    return strcmp(key, "stop") == 0;
}

START_TEST(test_kv_expired_entries_are_invisible_and_expire_deletes_them)
{
    struct store *s = store_open(path, STORE_SYNC_NORMAL);
    char out[128] = "";
    int64_t now = (int64_t)time(NULL);

    ck_assert_int_eq(store_kv_put(s, "x", "b", "2", 1, now + 3600), 0);
    ck_assert_int_eq(store_kv_put(s, "x", "a", "1", 1, 0), 0);
    ck_assert_int_eq(store_kv_put(s, "x", "old", "0", 1, now - 1), 0);
    ck_assert_int_eq(store_kv_put(s, "y", "z", "9", 1, 0), 0);
    ck_assert_ptr_null(store_kv_get(s, "x", "old", NULL));
    ck_assert_int_eq(store_kv_each(s, "x", collect, out), 0);
    ck_assert_str_eq(out, "a1;b2;");
    ck_assert_int_eq(store_kv_expire(s, now), 1);
    ck_assert_int_eq(store_kv_expire(s, now + 7200), 1);
    out[0] = '\0';
    ck_assert_int_eq(store_kv_each(s, "x", collect, out), 0);
    ck_assert_str_eq(out, "a1;");
    store_free(s);
}
END_TEST

START_TEST(test_data_survives_reopen_and_schema_is_not_migrated_twice)
{
    struct store *s = store_open(path, STORE_SYNC_FULL);
    char *v;

    ck_assert_int_eq(store_kv_put(s, "a", "k", "v", 1, 0), 0);
    ck_assert_int_eq(store_event_append(s, 1, "message", "a@b", "<m/>", 0), 1);
    store_free(s); /* commits what is pending */
    s = store_open(path, STORE_SYNC_NORMAL);
    ck_assert_ptr_nonnull(s);
    v = store_kv_get(s, "a", "k", NULL);
    ck_assert_str_eq(v, "v");
    free(v);
    ck_assert_int_eq(store_event_last_id(s), 1);
    store_free(s);
}
END_TEST

struct seen {
    int64_t ids[16];
    int n;
    char stanza[64];
    unsigned attempts;
    char error[32];
};

static int record(const struct store_event *e, void *arg)
{
    struct seen *seen = arg;
    seen->ids[seen->n++] = e->id;
    snprintf(seen->stanza, sizeof(seen->stanza), "%s %s %s", e->kind, e->sender,
             e->stanza);
    seen->attempts = e->attempts;
    snprintf(seen->error, sizeof(seen->error), "%s",
             e->last_error ? e->last_error : "-");
    return 0;
}

START_TEST(test_event_ids_increase_and_are_never_reused_after_prune)
{
    struct store *s = store_open(path, STORE_SYNC_NORMAL);
    struct seen seen = {0};

    ck_assert_int_eq(store_event_last_id(s), 0);
    for (int i = 1; i <= 5; i++)
        ck_assert_int_eq(
            store_event_append(s, i * 1000, "message", "a@b", "<m/>", 0), i);
    ck_assert_int_eq(
        store_event_update(s, 2, STORE_EVENT_DELIVERED, 1, 0, NULL), 0);
    ck_assert_int_eq(
        store_event_update(s, 5, STORE_EVENT_DELIVERED, 1, 0, NULL), 0);
    ck_assert_int_eq(store_event_update(s, 3, STORE_EVENT_DEAD, 7, 0, "503"),
                     0);
    ck_assert_int_eq(store_event_count(s, STORE_EVENT_PENDING), 2);
    ck_assert_int_eq(store_event_count(s, STORE_EVENT_DEAD), 1);
    /* Only delivered events older than the cut go. */
    ck_assert_int_eq(store_event_prune(s, 10000), 2);
    ck_assert_int_eq(store_event_each(s, 0, 0, -1, record, &seen), 0);
    ck_assert_int_eq(seen.n, 3);
    ck_assert_int_eq(seen.ids[0], 1);
    ck_assert_int_eq(seen.ids[1], 3);
    ck_assert_int_eq(seen.ids[2], 4);
    ck_assert_int_eq(store_event_append(s, 9, "presence", "c@d/r", "<p/>", 0),
                     6);
    ck_assert_int_eq(store_event_last_id(s), 6);
    memset(&seen, 0, sizeof(seen));
    ck_assert_int_eq(store_event_get(s, 3, record, &seen), 1);
    ck_assert_str_eq(seen.stanza, "message a@b <m/>");
    ck_assert_uint_eq(seen.attempts, 7);
    ck_assert_str_eq(seen.error, "503");
    ck_assert_int_eq(store_event_get(s, 2, record, &seen), 0);
    store_free(s);
}
END_TEST

START_TEST(test_event_each_pages_by_after_limit_and_state)
{
    struct store *s = store_open(path, STORE_SYNC_NORMAL);
    struct seen seen = {0};

    for (int i = 1; i <= 6; i++)
        store_event_append(s, i, "message", "a@b", "<m/>",
                           i % 2 ? STORE_EVENT_PENDING : STORE_EVENT_DEAD);
    ck_assert_int_eq(store_event_each(s, 2, 2, -1, record, &seen), 0);
    ck_assert_int_eq(seen.n, 2);
    ck_assert_int_eq(seen.ids[0], 3);
    ck_assert_int_eq(seen.ids[1], 4);
    memset(&seen, 0, sizeof(seen));
    ck_assert_int_eq(store_event_each(s, 0, 0, STORE_EVENT_DEAD, record, &seen),
                     0);
    ck_assert_int_eq(seen.n, 3);
    ck_assert_int_eq(seen.ids[2], 6);
    store_free(s);
}
END_TEST

static int commits_ok, commits_failed;

static void on_commit(bool ok, void *arg)
{
    (void)arg;
    if (ok)
        commits_ok++;
    else
        commits_failed++;
}

START_TEST(test_writes_of_a_loop_turn_are_committed_once_at_its_end)
{
    struct loop *loop = loop_new();
    struct store *s = store_open(path, STORE_SYNC_NORMAL);
    struct store *reader = store_open(path, STORE_SYNC_NORMAL);

    commits_ok = commits_failed = 0;
    ck_assert_int_eq(store_attach(s, loop), 0);
    ck_assert_int_eq(store_on_commit(s, on_commit, NULL), 0);
    for (int i = 0; i < 100; i++)
        store_event_append(s, i, "message", "a@b", "<m/>", 0);
    /* Not visible to another connection before the turn ends. */
    ck_assert_int_eq(store_event_last_id(reader), 0);
    ck_assert_int_eq(loop_run_once(loop, 0), 0);
    ck_assert_int_eq(commits_ok, 1);
    ck_assert_int_eq(store_event_last_id(reader), 100);
    /* A turn without writes commits nothing. */
    ck_assert_int_eq(loop_run_once(loop, 0), 0);
    ck_assert_int_eq(commits_ok, 1);
    ck_assert_int_eq(commits_failed, 0);
    ck_assert(!store_failing(s));
    ck_assert_int_gt(store_disk_bytes(s), 0);
    store_free(reader);
    store_free(s);
    loop_free(loop);
}
END_TEST

START_TEST(test_flush_makes_writes_visible_at_once)
{
    struct store *s = store_open(path, STORE_SYNC_NORMAL);
    struct store *reader = store_open(path, STORE_SYNC_NORMAL);
    char *v;

    ck_assert_int_eq(store_kv_put(s, "a", "k", "v", 1, 0), 0);
    ck_assert_int_eq(store_flush(s), 0);
    v = store_kv_get(reader, "a", "k", NULL);
    ck_assert_str_eq(v, "v");
    free(v);
    store_free(reader);
    store_free(s);
}
END_TEST

START_TEST(test_garbage_file_is_refused_at_open)
{
    FILE *f = fopen(path, "w");

    fputs("this is not a database, it is a file full of text\n", f);
    for (int i = 0; i < 200; i++)
        fputs("garbage garbage garbage garbage\n", f);
    fclose(f);
    ck_assert_ptr_null(store_open(path, STORE_SYNC_NORMAL));
}
END_TEST

START_TEST(test_missing_directory_is_refused_at_open)
{
    char bad[160];

    snprintf(bad, sizeof(bad), "%s/no/such/dir/r.db", dir);
    ck_assert_ptr_null(store_open(bad, STORE_SYNC_NORMAL));
    /* A directory where the file should be. */
    ck_assert_int_eq(mkdir(path, 0700), 0);
    ck_assert_ptr_null(store_open(path, STORE_SYNC_NORMAL));
}
END_TEST

START_TEST(test_a_newer_schema_is_refused)
{
    struct store *s = store_open(path, STORE_SYNC_NORMAL);
    char cmd[256];

    store_free(s);
    snprintf(cmd, sizeof(cmd),
             "sqlite3 '%s' 'UPDATE schema_version SET version = 99'", path);
    if (system(cmd) != 0)
        return; /* no sqlite3 shell: nothing to check here */
    ck_assert_ptr_null(store_open(path, STORE_SYNC_NORMAL));
}
END_TEST

START_TEST(test_free_null_is_a_no_op)
{
    store_free(NULL);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("kv");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_kv_put_get_del_round_trip);
    tcase_add_test(tc, test_kv_del_upto_deletes_a_range_of_one_space);
    tcase_add_test(
        tc, test_kv_expired_entries_are_invisible_and_expire_deletes_them);
    tcase_add_test(tc,
                   test_data_survives_reopen_and_schema_is_not_migrated_twice);
    tcase_add_test(tc, test_free_null_is_a_no_op);
    suite_add_tcase(s, tc);

    tc = tcase_create("events");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc,
                   test_event_ids_increase_and_are_never_reused_after_prune);
    tcase_add_test(tc, test_event_each_pages_by_after_limit_and_state);
    suite_add_tcase(s, tc);

    tc = tcase_create("batches");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc,
                   test_writes_of_a_loop_turn_are_committed_once_at_its_end);
    tcase_add_test(tc, test_flush_makes_writes_visible_at_once);
    suite_add_tcase(s, tc);

    tc = tcase_create("open");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_garbage_file_is_refused_at_open);
    tcase_add_test(tc, test_missing_directory_is_refused_at_open);
    tcase_add_test(tc, test_a_newer_schema_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(store_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}
