/* SPDX-License-Identifier: MIT */
/* test_loopguard.c: own-domain matching and the per-peer reply budget. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "loopguard.h"

START_TEST(test_own_domain_matches_every_address_form)
{
    static const char *const own[] = {
        "rest.example.org",       "REST.Example.ORG",
        "rest.example.org.",      "bot@rest.example.org",
        "Bot@Rest.Example.Org/x", "rest.example.org/res@with/slash",
        "a@rest.example.org/..",  "@rest.example.org",
    };
    static const char *const other[] = {
        "example.org",
        "alice@example.org",
        "rest.example.org.evil",
        "xrest.example.org",
        "rest@example.org",
        "alice@example.org/rest.example.org",
        "alice@example.org/x@rest.example.org",
        "sub.rest.example.org",
        "",
    };

    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        ck_assert_msg(loopguard_own_domain(own[i], "rest.example.org"),
                      "%s is ours", own[i]);
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
        ck_assert_msg(!loopguard_own_domain(other[i], "rest.example.org"),
                      "%s is not ours", other[i]);
    ck_assert(!loopguard_own_domain(NULL, "rest.example.org"));
    ck_assert(loopguard_own_domain("bot@rest.example.org", "REST.example.org"));
}
END_TEST

START_TEST(test_budget_allows_a_burst_then_the_rate)
{
    struct loopguard *g = loopguard_new();
    uint64_t t = 10000;
    int allowed = 0;

    /* A ping-pong at full speed: the burst, then nothing in the same ms. */
    for (int i = 0; i < 1000; i++)
        allowed += loopguard_allow(g, "echo@example.org/bot", t);
    ck_assert_int_eq(allowed, LOOPGUARD_BURST);
    /* One second later: LOOPGUARD_RATE more, no more. */
    allowed = 0;
    for (int i = 0; i < 1000; i++)
        allowed += loopguard_allow(g, "echo@example.org/bot", t + 1000);
    ck_assert_int_eq(allowed, LOOPGUARD_RATE);
    loopguard_free(g);
}
END_TEST

START_TEST(test_budget_is_per_bare_jid_case_insensitive)
{
    struct loopguard *g = loopguard_new();
    uint64_t t = 5000;

    for (int i = 0; i < LOOPGUARD_BURST; i++)
        ck_assert(loopguard_allow(
            g, i % 2 ? "Echo@Example.org/a" : "echo@example.org/b", t));
    ck_assert(!loopguard_allow(g, "echo@example.org", t));
    ck_assert(!loopguard_allow(g, "ECHO@EXAMPLE.ORG/c", t));
    /* Someone else is not affected. */
    ck_assert(loopguard_allow(g, "alice@example.org/x", t));
    loopguard_free(g);
}
END_TEST

START_TEST(test_a_normal_conversation_is_never_limited)
{
    struct loopguard *g = loopguard_new();

    /* A reply every 250 ms for ten minutes stays well under the rate. */
    for (uint64_t t = 0; t < 600000; t += 250)
        ck_assert(loopguard_allow(g, "alice@example.org/phone", t + 1));
    loopguard_free(g);
}
END_TEST

START_TEST(test_many_peers_keep_memory_bounded_and_budgets_fair)
{
    struct loopguard *g = loopguard_new();
    char jid[64];

    /* One peer spends its budget... */
    for (int i = 0; i < LOOPGUARD_BURST; i++)
        ck_assert(loopguard_allow(g, "echo@example.org", 100));
    /* ...then many peers, each once, well past the table's size. */
    for (int i = 0; i < 3 * LOOPGUARD_PEERS_MAX; i++) {
        snprintf(jid, sizeof(jid), "u%d@example.org", i);
        ck_assert(loopguard_allow(g, jid, 100 + (uint64_t)i / 100));
    }
    /* Still spent within the first second if it was kept, or fresh if it
     * was forgotten: either way the guard answers, and a new peer gets a
     * full burst. */
    for (int i = 0; i < LOOPGUARD_BURST; i++)
        ck_assert(loopguard_allow(g, "fresh@example.org", 200));
    ck_assert(!loopguard_allow(g, "fresh@example.org", 200));
    loopguard_free(g);
}
END_TEST

START_TEST(test_reply_without_address_is_not_budgeted)
{
    struct loopguard *g = loopguard_new();

    for (int i = 0; i < 10 * LOOPGUARD_BURST; i++)
        ck_assert(loopguard_allow(g, NULL, 1));
    loopguard_free(g);
}
END_TEST

static Suite *loopguard_suite(void)
{
    Suite *s = suite_create("loopguard");
    TCase *tc = tcase_create("own_domain");

    tcase_add_test(tc, test_own_domain_matches_every_address_form);
    suite_add_tcase(s, tc);
    tc = tcase_create("budget");
    tcase_add_test(tc, test_budget_allows_a_burst_then_the_rate);
    tcase_add_test(tc, test_budget_is_per_bare_jid_case_insensitive);
    tcase_add_test(tc, test_a_normal_conversation_is_never_limited);
    tcase_add_test(tc, test_many_peers_keep_memory_bounded_and_budgets_fair);
    tcase_add_test(tc, test_reply_without_address_is_not_budgeted);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(loopguard_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}
