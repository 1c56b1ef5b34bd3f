/* SPDX-License-Identifier: MIT */
/* test_roster.c: contact JSON parsing, server roster reading and the diff. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "roster.h"

static struct roster_list *parse(const char *json)
{
    char err[200] = "";
    struct roster_list *l = roster_list_parse("alice@example.org", json,
                                              strlen(json), err, sizeof(err));

    ck_assert_msg(l != NULL, "parse failed: %s", err);
    return l;
}

START_TEST(test_parse_groups_array_or_object_and_default_subscription)
{
    struct roster_list *l =
        parse("{\"Bob@Example.org\": {\"name\": \"Bob\", \"groups\": "
              "[\"Team\", \"A\", \"Team\"]},"
              " \"carol@example.org\": {\"groups\": {\"X\": true, \"Y\": "
              "false}, \"subscription\": \"to\"},"
              " \"dave@example.org\": {}}");

    ck_assert_uint_eq(l->n, 3);
    ck_assert_str_eq(l->items[0].jid, "bob@example.org");
    ck_assert_str_eq(l->items[0].name, "Bob");
    ck_assert_uint_eq(l->items[0].ngroups, 2);
    ck_assert_str_eq(l->items[0].groups[0], "A");
    ck_assert_str_eq(l->items[0].groups[1], "Team");
    ck_assert_int_eq(l->items[0].sub, ROSTER_SUB_BOTH);
    ck_assert_str_eq(l->items[1].jid, "carol@example.org");
    ck_assert_ptr_null(l->items[1].name);
    ck_assert_uint_eq(l->items[1].ngroups, 1);
    ck_assert_str_eq(l->items[1].groups[0], "X");
    ck_assert_int_eq(l->items[1].sub, ROSTER_SUB_TO);
    ck_assert_int_eq(l->items[2].sub, ROSTER_SUB_BOTH);
    ck_assert_uint_eq(l->items[2].ngroups, 0);
    roster_list_free(l);
}
END_TEST

START_TEST(test_parse_skips_invalid_entries)
{
    struct roster_list *l =
        parse("{\"not a jid@\": {}, \"x@example.org/res\": {},"
              " \"alice@example.org\": {},"
              " \"a@example.org\": {\"name\": 5},"
              " \"b@example.org\": {\"groups\": \"G\"},"
              " \"c@example.org\": {\"groups\": [1]},"
              " \"d@example.org\": {\"subscription\": \"remove\"},"
              " \"e@example.org\": [],"
              " \"ok@example.org\": {\"name\": \"\", \"groups\": []}}");

    ck_assert_uint_eq(l->n, 1);
    ck_assert_str_eq(l->items[0].jid, "ok@example.org");
    ck_assert_ptr_null(l->items[0].name);
    roster_list_free(l);
}
END_TEST

START_TEST(test_parse_rejects_non_objects)
{
    static const char *const bad[] = {"[]", "\"x\"", "null",
                                      "{",  "1",     "{\"a@b\": {}} x"};
    char err[200];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_ptr_null(roster_list_parse("alice@example.org", bad[i],
                                             strlen(bad[i]), err, sizeof(err)));
        ck_assert_str_ne(err, "");
    }
}
END_TEST

START_TEST(test_api_roster_merges_one_entry_per_group)
{
    const char *body =
        "[{\"jid\":\"bob@localhost\",\"nick\":\"Bob\",\"subscription\":"
        "\"both\",\"ask\":\"undefined\",\"group\":\"Work\"},"
        "{\"jid\":\"bob@localhost\",\"nick\":\"Bob\",\"subscription\":"
        "\"both\",\"ask\":\"undefined\",\"group\":\"Team\"},"
        "{\"jid\":\"carol@localhost\",\"nick\":\"\",\"subscription\":"
        "\"none\",\"ask\":\"undefined\",\"group\":\"\"}]";
    char err[100];
    struct roster_list *l = roster_list_from_api(body, strlen(body), err, 100);

    ck_assert_ptr_nonnull(l);
    ck_assert_uint_eq(l->n, 2);
    ck_assert_uint_eq(l->items[0].ngroups, 2);
    ck_assert_str_eq(l->items[0].groups[0], "Team");
    ck_assert_ptr_null(l->items[1].name);
    ck_assert_int_eq(l->items[1].sub, ROSTER_SUB_NONE);
    roster_list_free(l);
    ck_assert_ptr_null(roster_list_from_api("{}", 2, err, 100));
}
END_TEST

START_TEST(test_query_items_are_read)
{
    xmpp_ctx_t *ctx = xmpp_ctx_new(NULL, NULL);
    xmpp_stanza_t *q = xmpp_stanza_new_from_string(
        ctx, "<query xmlns='jabber:iq:roster'><item jid='Bob@example.org' "
             "name='Bob' subscription='both'><group>T</group></item>"
             "<item jid='carol@example.org' subscription='none' "
             "ask='subscribe'/></query>");
    struct roster_list *l = roster_list_from_query(q);
    xmpp_stanza_t *el;
    char *text;
    size_t len;

    ck_assert_uint_eq(l->n, 2);
    ck_assert_str_eq(l->items[0].jid, "bob@example.org");
    ck_assert_str_eq(l->items[0].groups[0], "T");
    ck_assert_int_eq(l->items[1].sub, ROSTER_SUB_NONE);
    el = roster_list_item_stanza(ctx, &l->items[0], false);
    xmpp_stanza_to_text(el, &text, &len);
    /* Attribute order is libstrophe's business. */
    ck_assert_ptr_nonnull(strstr(text, " name=\"Bob\""));
    ck_assert_ptr_nonnull(strstr(text, " subscription=\"both\""));
    ck_assert_ptr_nonnull(strstr(text, "><group>T</group></item>"));
    xmpp_free(ctx, text);
    xmpp_stanza_release(el);
    el = roster_list_item_stanza(ctx, &l->items[1], true);
    xmpp_stanza_to_text(el, &text, &len);
    ck_assert_str_eq(
        text, "<item jid=\"carol@example.org\" subscription=\"remove\"/>");
    xmpp_free(ctx, text);
    xmpp_stanza_release(el);
    roster_list_free(l);
    xmpp_stanza_release(q);
    xmpp_ctx_free(ctx);
}
END_TEST

START_TEST(test_diff_adds_changes_and_removes)
{
    struct roster_list *want =
        parse("{\"a@example.org\": {\"name\": \"A\"},"
              " \"b@example.org\": {\"name\": \"B2\"},"
              " \"c@example.org\": {\"groups\": [\"G2\"]},"
              " \"d@example.org\": {\"subscription\": \"from\"},"
              " \"e@example.org\": {\"name\": \"E\", \"groups\": [\"G\"]}}");
    struct roster_list *have = parse(
        "{\"b@example.org\": {\"name\": \"B\"},"
        " \"c@example.org\": {\"groups\": [\"G1\"]},"
        " \"d@example.org\": {},"
        " \"e@example.org\": {\"name\": \"E\", \"groups\": {\"G\": true}},"
        " \"z@example.org\": {}}");
    struct roster_change *ch;
    size_t n = roster_list_diff(want, have, &ch);

    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(ch[0].op, ROSTER_OP_SET);
    ck_assert_str_eq(ch[0].item->jid, "a@example.org");
    ck_assert_str_eq(ch[1].item->jid, "b@example.org");
    ck_assert_str_eq(ch[2].item->jid, "c@example.org");
    ck_assert_str_eq(ch[3].item->jid, "d@example.org");
    ck_assert_int_eq(ch[4].op, ROSTER_OP_REMOVE);
    ck_assert_str_eq(ch[4].item->jid, "z@example.org");
    free(ch);
    ck_assert_uint_eq(roster_list_diff(want, want, &ch), 0);
    ck_assert_ptr_null(ch);
    roster_list_free(want);
    roster_list_free(have);
}
END_TEST

static Suite *roster_suite(void)
{
    Suite *s = suite_create("roster");
    TCase *t = tcase_create("pure");

    tcase_add_test(t,
                   test_parse_groups_array_or_object_and_default_subscription);
    tcase_add_test(t, test_parse_skips_invalid_entries);
    tcase_add_test(t, test_parse_rejects_non_objects);
    tcase_add_test(t, test_api_roster_merges_one_entry_per_group);
    tcase_add_test(t, test_query_items_are_read);
    tcase_add_test(t, test_diff_adds_changes_and_removes);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(roster_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
