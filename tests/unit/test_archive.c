/* SPDX-License-Identifier: MIT */
/* test_archive.c: unit tests for the archive's parameters, result and page
 * mapping and error statuses. */
#include "config.h"

#include "archive.h"
#include "archive_priv.h"
#include "rest_build.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static xmpp_ctx_t *ctx;

static xmpp_stanza_t *xml(const char *s)
{
    xmpp_stanza_t *st = rest_build_parse_xml(ctx, s, strlen(s));
    ck_assert_ptr_nonnull(st);
    return st;
}

static void setup(void)
{
    xmpp_initialize();
    ctx = xmpp_ctx_new(NULL, NULL);
}

static void teardown(void)
{
    xmpp_ctx_free(ctx);
    xmpp_shutdown();
}

START_TEST(test_params_take_the_documented_keys_and_an_integer_max)
{
    json_object *p = json_object_new_object();

    ck_assert_int_eq(archive_params_add(p, "with", "bob@example.org"), 0);
    ck_assert_int_eq(archive_params_add(p, "before", ""), 0);
    ck_assert_int_eq(archive_params_add(p, "max", "25"), 0);
    ck_assert_str_eq(json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN),
                     "{\"with\":\"bob@example.org\",\"before\":\"\","
                     "\"max\":25}");
    ck_assert_int_eq(archive_params_add(p, "maxx", "2"), -1);
    ck_assert_int_eq(archive_params_add(p, "queryid", "q"), -1);
    ck_assert_int_eq(archive_params_add(p, "max", "two"), -1);
    ck_assert_int_eq(archive_params_add(p, "max", "-1"), -1);
    ck_assert_int_eq(archive_params_add(p, "max", "2x"), -1);
    ck_assert_int_eq(archive_params_add(p, "max", "100001"), -1);
    ck_assert_int_eq(archive_params_add(p, "max", ""), -1);
    json_object_put(p);
}
END_TEST

START_TEST(test_result_entry_has_id_stamp_and_the_message)
{
    xmpp_stanza_t *r =
        xml("<result xmlns='urn:xmpp:mam:2' queryid='q' id='A1'>"
            "<forwarded xmlns='urn:xmpp:forward:0'>"
            "<delay xmlns='urn:xmpp:delay' stamp='2026-12-06T03:58:55Z'/>"
            "<message xmlns='jabber:client' to='bob@example.org' "
            "from='alice@example.org/x' type='chat' id='m1'><body>hi</body>"
            "</message></forwarded></result>");
    json_object *e = archive_result_entry(r), *m;

    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(json_object_get_string(json_object_object_get(e, "id")),
                     "A1");
    ck_assert_str_eq(json_object_get_string(json_object_object_get(e, "stamp")),
                     "2026-12-06T03:58:55Z");
    m = json_object_object_get(e, "message");
    ck_assert_str_eq(json_object_get_string(json_object_object_get(m, "body")),
                     "hi");
    ck_assert_str_eq(json_object_get_string(json_object_object_get(m, "from")),
                     "alice@example.org/x");
    json_object_put(e);
    xmpp_stanza_release(r);
    r = xml("<result xmlns='urn:xmpp:mam:2' id='A2'/>");
    ck_assert_ptr_null(archive_result_entry(r));
    xmpp_stanza_release(r);
}
END_TEST

START_TEST(test_page_is_the_rsm_cursor)
{
    xmpp_stanza_t *f =
        xml("<fin xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/"
            "protocol/rsm'><count>3</count><first>A1</first><last>A2</last>"
            "</set></fin>");
    json_object *p = archive_page(f);

    ck_assert_str_eq(json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN),
                     "{\"first\":\"A1\",\"last\":\"A2\",\"count\":3,"
                     "\"complete\":false}");
    json_object_put(p);
    xmpp_stanza_release(f);
    f = xml("<fin xmlns='urn:xmpp:mam:2' complete='true'/>");
    p = archive_page(f);
    ck_assert_str_eq(json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN),
                     "{\"complete\":true}");
    json_object_put(p);
    xmpp_stanza_release(f);
}
END_TEST

START_TEST(test_error_statuses)
{
    ck_assert_uint_eq(archive_error_status("internal-server-error", true), 502);
    ck_assert_uint_eq(archive_error_status("forbidden", true), 403);
    ck_assert_uint_eq(archive_error_status("service-unavailable", true), 502);
    ck_assert_uint_eq(archive_error_status("item-not-found", true), 502);
    ck_assert_uint_eq(archive_error_status("item-not-found", false), 404);
    ck_assert_uint_eq(archive_error_status("bad-request", false), 400);
    ck_assert_uint_eq(archive_error_status("remote-server-timeout", false),
                      504);
    ck_assert_uint_eq(archive_error_status("feature-not-implemented", false),
                      502);
    ck_assert_uint_eq(archive_error_status(NULL, false), 502);
}
END_TEST

static Suite *archive_suite(void)
{
    Suite *s = suite_create("archive");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_params_take_the_documented_keys_and_an_integer_max);
    tcase_add_test(tc, test_result_entry_has_id_stamp_and_the_message);
    tcase_add_test(tc, test_page_is_the_rsm_cursor);
    tcase_add_test(tc, test_error_statuses);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(archive_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}
