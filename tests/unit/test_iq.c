/* SPDX-License-Identifier: MIT */
/* test_iq.c: unit tests for the table of outgoing IQs and their deadlines. */
#include "config.h"

#include "iq.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loop.h"
#include "loop_priv.h"
#include "stanza.h"
#include "strmap.h"

static xmpp_ctx_t *ctx;
static struct loop *loop;
static struct iq_table *table;

static void setup(void)
{
    xmpp_initialize();
    ctx = xmpp_ctx_new(NULL, NULL);
    ck_assert_ptr_nonnull(ctx);
    loop = loop_new();
    ck_assert_ptr_nonnull(loop);
    table = iq_table_new(loop);
    ck_assert_ptr_nonnull(table);
}

static void teardown(void)
{
    /* Records live on test stacks: nothing may be left to call back. */
    ck_assert_uint_eq(iq_pending(table), 0);
    iq_table_free(table);
    table = NULL;
    ck_assert_uint_eq(loop_timer_count(loop), 0);
    loop_free(loop);
    loop = NULL;
    xmpp_ctx_free(ctx);
    ctx = NULL;
    xmpp_shutdown();
}

/* What one callback saw; the record is the callback's arg. */
struct rec {
    int calls;
    enum iq_outcome outcome;
    xmpp_stanza_t *reply;
    char reply_id[32];
    /* Side effects run from the callback. */
    const char *untrack;    /* id to untrack */
    void *untracked_arg;    /* what iq_untrack returned */
    const char *track;      /* id to track anew */
    struct rec *track_with; /* arg for that new IQ */
};

static void on_iq(enum iq_outcome outcome, xmpp_stanza_t *reply, void *arg)
{
    struct rec *r = arg;

    r->calls++;
    r->outcome = outcome;
    r->reply = reply;
    if (reply != NULL)
        snprintf(r->reply_id, sizeof(r->reply_id), "%s",
                 stanza_attr(reply, ATTR_ID));
    if (r->untrack != NULL)
        r->untracked_arg = iq_untrack(table, r->untrack);
    if (r->track != NULL)
        ck_assert_int_eq(iq_track(table, r->track, "peer.example", 60000, on_iq,
                                  r->track_with),
                         0);
}

static xmpp_stanza_t *reply_iq(const char *type, const char *id,
                               const char *from)
{
    char xml[256];
    xmpp_stanza_t *st;

    if (from != NULL)
        snprintf(xml, sizeof(xml),
                 "<iq type='%s' id='%s' from='%s' to='rest.example.org'/>",
                 type, id, from);
    else
        snprintf(xml, sizeof(xml),
                 "<iq type='%s' id='%s' to='rest.example.org'/>", type, id);
    st = xmpp_stanza_new_from_string(ctx, xml);
    ck_assert_ptr_nonnull(st);
    return st;
}

/* Offer a reply and release it; returns what iq_handle said. */
static bool offer(const char *type, const char *id, const char *from)
{
    xmpp_stanza_t *st = reply_iq(type, id, from);
    bool handled = iq_handle(table, st);

    xmpp_stanza_release(st);
    return handled;
}

START_TEST(test_reply_from_peer_calls_back_once_with_reply)
{
    struct rec r = {0};
    xmpp_stanza_t *st = reply_iq("result", "q1", "user@example.org/res");

    ck_assert_int_eq(
        iq_track(table, "q1", "user@example.org/res", 5000, on_iq, &r), 0);
    ck_assert_uint_eq(iq_pending(table), 1);
    ck_assert_uint_eq(loop_timer_count(loop), 1);
    ck_assert(iq_handle(table, st));
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.outcome, IQ_REPLY);
    ck_assert_ptr_eq(r.reply, st);
    ck_assert_str_eq(r.reply_id, "q1");
    ck_assert_uint_eq(iq_pending(table), 0);
    ck_assert_uint_eq(loop_timer_count(loop), 0);

    /* The same reply again answers nothing. */
    ck_assert(!iq_handle(table, st));
    ck_assert_int_eq(r.calls, 1);
    xmpp_stanza_release(st);
}
END_TEST

START_TEST(test_error_reply_also_counts_as_reply)
{
    struct rec r = {0};

    ck_assert_int_eq(iq_track(table, "q2", "example.org", 5000, on_iq, &r), 0);
    ck_assert(offer("error", "q2", "example.org"));
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.outcome, IQ_REPLY);
    ck_assert_str_eq(r.reply_id, "q2");
}
END_TEST

START_TEST(test_reply_from_another_jid_is_ignored)
{
    struct rec r = {0};

    ck_assert_int_eq(
        iq_track(table, "q3", "user@example.org/res", 5000, on_iq, &r), 0);
    ck_assert(!offer("result", "q3", "mallory@example.org/res"));
    ck_assert(!offer("result", "q3", "user@example.org"));
    ck_assert(!offer("result", "q3", "user@example.org/other"));
    ck_assert(!offer("result", "q3", "example.org"));
    ck_assert(!offer("result", "q3", NULL));
    ck_assert_int_eq(r.calls, 0);
    ck_assert_uint_eq(iq_pending(table), 1);
    ck_assert_uint_eq(loop_timer_count(loop), 1);

    ck_assert(offer("result", "q3", "user@example.org/res"));
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.outcome, IQ_REPLY);
    ck_assert_uint_eq(iq_pending(table), 0);
}
END_TEST

START_TEST(test_reply_with_unknown_or_missing_id_is_not_ours)
{
    struct rec r = {0};
    xmpp_stanza_t *no_id;

    ck_assert_int_eq(iq_track(table, "q4", "example.org", 5000, on_iq, &r), 0);
    ck_assert(!offer("result", "q5", "example.org"));
    ck_assert(!offer("result", "Q4", "example.org"));
    no_id = xmpp_stanza_new_from_string(
        ctx, "<iq type='result' from='example.org'/>");
    ck_assert_ptr_nonnull(no_id);
    ck_assert(!iq_handle(table, no_id));
    xmpp_stanza_release(no_id);
    ck_assert_int_eq(r.calls, 0);
    ck_assert_uint_eq(iq_pending(table), 1);
    ck_assert_ptr_eq(iq_untrack(table, "q4"), &r);
}
END_TEST

START_TEST(test_deadline_passes_with_timeout_outcome)
{
    struct rec r = {0};
    uint64_t start = loop_clock_ms();

    /* 500 ms: long enough that a busy machine does not pass the deadline
     * before the first look, which must find it still pending. */
    ck_assert_int_eq(iq_track(table, "t1", "example.org", 500, on_iq, &r), 0);
    ck_assert_int_eq(loop_run_once(loop, 0), 0);
    ck_assert_int_eq(r.calls, 0);
    for (int i = 0; i < 20 && r.calls == 0; i++)
        ck_assert_int_eq(loop_run_once(loop, 1000), 0);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.outcome, IQ_TIMEOUT);
    ck_assert_ptr_null(r.reply);
    ck_assert_uint_ge(loop_clock_ms() - start, 500);
    ck_assert_uint_eq(iq_pending(table), 0);
    ck_assert_uint_eq(loop_timer_count(loop), 0);

    /* A late reply finds nobody waiting. */
    ck_assert(!offer("result", "t1", "example.org"));
    ck_assert_int_eq(r.calls, 1);
}
END_TEST

START_TEST(test_only_the_expired_iq_times_out)
{
    struct rec fast = {0}, slow = {0};

    ck_assert_int_eq(iq_track(table, "fast", "example.org", 10, on_iq, &fast),
                     0);
    ck_assert_int_eq(
        iq_track(table, "slow", "example.org", 60000, on_iq, &slow), 0);
    for (int i = 0; i < 20 && fast.calls == 0; i++)
        ck_assert_int_eq(loop_run_once(loop, 1000), 0);
    ck_assert_int_eq(fast.calls, 1);
    ck_assert_int_eq(fast.outcome, IQ_TIMEOUT);
    ck_assert_int_eq(slow.calls, 0);
    ck_assert_uint_eq(iq_pending(table), 1);
    ck_assert(offer("result", "slow", "example.org"));
    ck_assert_int_eq(slow.calls, 1);
    ck_assert_int_eq(slow.outcome, IQ_REPLY);
}
END_TEST

START_TEST(test_fail_all_calls_every_callback_once)
{
    struct rec r[3] = {{0}};

    ck_assert_int_eq(iq_track(table, "a", "example.org", 5000, on_iq, &r[0]),
                     0);
    ck_assert_int_eq(iq_track(table, "b", "example.org", 5000, on_iq, &r[1]),
                     0);
    ck_assert_int_eq(iq_track(table, "c", "example.org", 5000, on_iq, &r[2]),
                     0);
    iq_fail_all(table, IQ_DISCONNECTED);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(r[i].calls, 1);
        ck_assert_int_eq(r[i].outcome, IQ_DISCONNECTED);
        ck_assert_ptr_null(r[i].reply);
    }
    ck_assert_uint_eq(iq_pending(table), 0);
    ck_assert_uint_eq(loop_timer_count(loop), 0);
    iq_fail_all(table, IQ_DISCONNECTED);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(r[i].calls, 1);
}
END_TEST

START_TEST(test_fail_all_survives_callback_untracking_another_id)
{
    /* Whichever of a/b fails first untracks the other one. */
    struct rec a = {.untrack = "b"}, b = {.untrack = "a"}, c = {0};

    ck_assert_int_eq(iq_track(table, "a", "example.org", 5000, on_iq, &a), 0);
    ck_assert_int_eq(iq_track(table, "b", "example.org", 5000, on_iq, &b), 0);
    ck_assert_int_eq(iq_track(table, "c", "example.org", 5000, on_iq, &c), 0);
    iq_fail_all(table, IQ_DISCONNECTED);

    ck_assert_int_eq(a.calls + b.calls, 1);
    if (a.calls == 1) {
        ck_assert_ptr_eq(a.untracked_arg, &b);
        ck_assert_int_eq(a.outcome, IQ_DISCONNECTED);
    } else {
        ck_assert_ptr_eq(b.untracked_arg, &a);
        ck_assert_int_eq(b.outcome, IQ_DISCONNECTED);
    }
    ck_assert_int_eq(c.calls, 1);
    ck_assert_int_eq(c.outcome, IQ_DISCONNECTED);
    ck_assert_uint_eq(iq_pending(table), 0);
    ck_assert_uint_eq(loop_timer_count(loop), 0);
}
END_TEST

START_TEST(test_fail_all_callback_untracking_an_already_failed_id)
{
    /* Each untracks the other: the second one finds it already gone. */
    struct rec a = {.untrack = "c"}, c = {.untrack = "a"};
    struct rec *first, *second;

    ck_assert_int_eq(iq_track(table, "a", "example.org", 5000, on_iq, &a), 0);
    ck_assert_int_eq(iq_track(table, "c", "example.org", 5000, on_iq, &c), 0);
    iq_fail_all(table, IQ_DISCONNECTED);
    first = a.calls == 1 ? &a : &c;
    second = first == &a ? &c : &a;
    ck_assert_int_eq(first->calls, 1);
    ck_assert_int_eq(second->calls, 0);
    ck_assert_ptr_eq(first->untracked_arg, second);
    ck_assert_uint_eq(iq_pending(table), 0);
}
END_TEST

START_TEST(test_iq_tracked_by_a_failing_callback_stays_pending)
{
    struct rec later = {0};
    struct rec a = {.track = "retry", .track_with = &later};

    ck_assert_int_eq(iq_track(table, "a", "example.org", 5000, on_iq, &a), 0);
    iq_fail_all(table, IQ_DISCONNECTED);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(later.calls, 0);
    ck_assert_uint_eq(iq_pending(table), 1);
    ck_assert(offer("result", "retry", "peer.example"));
    ck_assert_int_eq(later.calls, 1);
    ck_assert_int_eq(later.outcome, IQ_REPLY);
}
END_TEST

START_TEST(test_callback_may_track_the_same_id_again)
{
    struct rec again = {0};
    struct rec first = {.track = "same", .track_with = &again};

    ck_assert_int_eq(
        iq_track(table, "same", "peer.example", 5000, on_iq, &first), 0);
    ck_assert(offer("result", "same", "peer.example"));
    ck_assert_int_eq(first.calls, 1);
    ck_assert_uint_eq(iq_pending(table), 1);
    ck_assert(offer("result", "same", "peer.example"));
    ck_assert_int_eq(first.calls, 1);
    ck_assert_int_eq(again.calls, 1);
    ck_assert_uint_eq(iq_pending(table), 0);
}
END_TEST

START_TEST(test_duplicate_id_is_refused)
{
    struct rec first = {0}, second = {0};

    ck_assert_int_eq(iq_track(table, "dup", "example.org", 5000, on_iq, &first),
                     0);
    ck_assert_int_eq(
        iq_track(table, "dup", "other.example", 5000, on_iq, &second), -1);
    ck_assert_uint_eq(iq_pending(table), 1);
    ck_assert_uint_eq(loop_timer_count(loop), 1);
    /* The first registration is intact: same peer, same callback arg. */
    ck_assert(!offer("result", "dup", "other.example"));
    ck_assert(offer("result", "dup", "example.org"));
    ck_assert_int_eq(first.calls, 1);
    ck_assert_int_eq(second.calls, 0);
}
END_TEST

START_TEST(test_untrack_returns_arg_and_never_calls_back)
{
    struct rec r = {0};

    ck_assert_int_eq(iq_track(table, "u1", "example.org", 10, on_iq, &r), 0);
    ck_assert_ptr_eq(iq_untrack(table, "u1"), &r);
    ck_assert_uint_eq(iq_pending(table), 0);
    ck_assert_uint_eq(loop_timer_count(loop), 0);
    ck_assert_ptr_null(iq_untrack(table, "u1"));
    ck_assert_ptr_null(iq_untrack(table, "never"));

    /* Past the old deadline, after a reply and a failure: still silent. */
    ck_assert_int_eq(loop_run_once(loop, 30), 0);
    ck_assert(!offer("result", "u1", "example.org"));
    iq_fail_all(table, IQ_DISCONNECTED);
    ck_assert_int_eq(r.calls, 0);
}
END_TEST

START_TEST(test_untrack_of_null_arg_returns_null)
{
    ck_assert_int_eq(iq_track(table, "n1", "example.org", 5000, on_iq, NULL),
                     0);
    ck_assert_ptr_null(iq_untrack(table, "n1"));
    ck_assert_uint_eq(iq_pending(table), 0);
}
END_TEST

START_TEST(test_table_free_shuts_down_every_pending_iq)
{
    struct iq_table *own = iq_table_new(loop);
    struct rec r[2] = {{0}};

    ck_assert_int_eq(iq_track(own, "s1", "example.org", 5000, on_iq, &r[0]), 0);
    ck_assert_int_eq(iq_track(own, "s2", "example.org", 5000, on_iq, &r[1]), 0);
    ck_assert_uint_eq(loop_timer_count(loop), 2);
    iq_table_free(own);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(r[i].calls, 1);
        ck_assert_int_eq(r[i].outcome, IQ_SHUTDOWN);
        ck_assert_ptr_null(r[i].reply);
    }
    ck_assert_uint_eq(loop_timer_count(loop), 0);
    iq_table_free(NULL);
}
END_TEST

START_TEST(test_new_ids_are_unique_over_100k)
{
    struct strmap *seen = strmap_new(NULL);
    char id[24];

    for (unsigned i = 0; i < 100000; i++) {
        memset(id, 0, sizeof(id));
        iq_new_id(table, id, sizeof(id));
        ck_assert_uint_gt(strlen(id), 0);
        ck_assert_uint_lt(strlen(id), sizeof(id));
        ck_assert_msg(strmap_get(seen, id) == NULL, "id %s repeated", id);
        strmap_set(seen, id, seen);
    }
    ck_assert_uint_eq(strmap_count(seen), 100000);
    strmap_free(seen);
}
END_TEST

START_TEST(test_new_id_can_be_tracked_and_answered)
{
    struct rec r = {0};
    char id[24];

    iq_new_id(table, id, sizeof(id));
    ck_assert_int_eq(iq_track(table, id, "example.org", 5000, on_iq, &r), 0);
    ck_assert(offer("result", id, "example.org"));
    ck_assert_int_eq(r.calls, 1);
    ck_assert_str_eq(r.reply_id, id);
}
END_TEST

START_TEST(test_assigned_id_replaces_a_caller_id_that_is_pending)
{
    struct rec mine = {0}, theirs = {0};
    char pending[32];
    xmpp_stanza_t *iq;
    char *given;

    /* One of our own IQs waits; a caller sends an IQ with the same id. */
    iq_new_id(table, pending, sizeof(pending));
    ck_assert_int_eq(
        iq_track(table, pending, "example.org", 5000, on_iq, &mine), 0);
    iq = xmpp_stanza_new_from_string(
        ctx, "<iq type='get' to='user@example.org/r'><ping "
             "xmlns='urn:xmpp:ping'/></iq>");
    ck_assert_ptr_nonnull(iq);
    xmpp_stanza_set_id(iq, pending);
    given = iq_assign_id(table, iq);
    ck_assert_str_eq(given, pending);
    ck_assert_str_ne(stanza_attr(iq, ATTR_ID), pending);
    ck_assert_int_eq(iq_track(table, stanza_attr(iq, ATTR_ID),
                              "user@example.org/r", 5000, on_iq, &theirs),
                     0);
    /* Each reply completes its own IQ only. */
    ck_assert(offer("result", stanza_attr(iq, ATTR_ID), "user@example.org/r"));
    ck_assert_int_eq(theirs.calls, 1);
    ck_assert_int_eq(mine.calls, 0);
    ck_assert(offer("result", pending, "example.org"));
    ck_assert_int_eq(mine.calls, 1);
    free(given);
    xmpp_stanza_release(iq);
}
END_TEST

START_TEST(test_assigned_ids_differ_for_the_same_caller_id)
{
    xmpp_stanza_t *a = xmpp_stanza_new_from_string(ctx, "<iq id='x'/>");
    xmpp_stanza_t *b = xmpp_stanza_new_from_string(ctx, "<iq id='x'/>");
    xmpp_stanza_t *none = xmpp_stanza_new_from_string(ctx, "<iq/>");
    char *ga = iq_assign_id(table, a), *gb = iq_assign_id(table, b);

    ck_assert_str_eq(ga, "x");
    ck_assert_str_eq(gb, "x");
    ck_assert_str_ne(stanza_attr(a, ATTR_ID), stanza_attr(b, ATTR_ID));
    ck_assert_ptr_null(iq_assign_id(table, none));
    ck_assert_ptr_nonnull(stanza_attr(none, ATTR_ID));
    free(ga);
    free(gb);
    xmpp_stanza_release(a);
    xmpp_stanza_release(b);
    xmpp_stanza_release(none);
}
END_TEST

START_TEST(test_reply_with_id_maps_back_to_the_caller_id)
{
    xmpp_stanza_t *wire = reply_iq("result", "r0000001", "example.org");
    xmpp_stanza_t *back = iq_reply_with_id(wire, "caller-1");
    xmpp_stanza_t *same = iq_reply_with_id(wire, NULL);

    ck_assert_str_eq(stanza_attr(back, ATTR_ID), "caller-1");
    ck_assert_str_eq(stanza_attr(back, ATTR_FROM), "example.org");
    ck_assert_str_eq(stanza_attr(same, ATTR_ID), "r0000001");
    ck_assert_str_eq(stanza_attr(wire, ATTR_ID), "r0000001");
    xmpp_stanza_release(back);
    xmpp_stanza_release(same);
    xmpp_stanza_release(wire);
}
END_TEST

START_TEST(test_peer_is_compared_normalised)
{
    struct rec a = {0}, b = {0};

    /* Sent to an unnormalised address, answered from the normalised one. */
    ck_assert_int_eq(
        iq_track(table, "n1", "User@EXAMPLE.org./Res", 5000, on_iq, &a), 0);
    ck_assert(!offer("result", "n1", "user@example.org/res"));
    ck_assert(offer("result", "n1", "user@example.org/Res"));
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(iq_track(table, "n2", "LOCALHOST", 5000, on_iq, &b), 0);
    ck_assert(!offer("result", "n2", "localhost/x"));
    ck_assert(offer("result", "n2", "localhost"));
    ck_assert_int_eq(b.calls, 1);
}
END_TEST

static Suite *iq_suite(void)
{
    Suite *s = suite_create("iq");
    TCase *tc = tcase_create("replies");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_reply_from_peer_calls_back_once_with_reply);
    tcase_add_test(tc, test_error_reply_also_counts_as_reply);
    tcase_add_test(tc, test_reply_from_another_jid_is_ignored);
    tcase_add_test(tc, test_reply_with_unknown_or_missing_id_is_not_ours);
    tcase_add_test(tc, test_callback_may_track_the_same_id_again);
    tcase_add_test(tc, test_duplicate_id_is_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("deadlines");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_deadline_passes_with_timeout_outcome);
    tcase_add_test(tc, test_only_the_expired_iq_times_out);
    suite_add_tcase(s, tc);

    tc = tcase_create("failure");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_fail_all_calls_every_callback_once);
    tcase_add_test(tc, test_fail_all_survives_callback_untracking_another_id);
    tcase_add_test(tc, test_fail_all_callback_untracking_an_already_failed_id);
    tcase_add_test(tc, test_iq_tracked_by_a_failing_callback_stays_pending);
    tcase_add_test(tc, test_untrack_returns_arg_and_never_calls_back);
    tcase_add_test(tc, test_untrack_of_null_arg_returns_null);
    tcase_add_test(tc, test_table_free_shuts_down_every_pending_iq);
    suite_add_tcase(s, tc);

    tc = tcase_create("ids");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_new_ids_are_unique_over_100k);
    tcase_add_test(tc, test_new_id_can_be_tracked_and_answered);
    tcase_add_test(tc, test_assigned_id_replaces_a_caller_id_that_is_pending);
    tcase_add_test(tc, test_assigned_ids_differ_for_the_same_caller_id);
    tcase_add_test(tc, test_reply_with_id_maps_back_to_the_caller_id);
    tcase_add_test(tc, test_peer_is_compared_normalised);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(iq_suite());
    int failed;

    /* Foreign replies are logged as warnings; keep the output to results. */
    log_set_level(LOG_LEVEL_ERROR);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}
