/* SPDX-License-Identifier: MIT */
/* test_rest.c: unit tests for the pure parts of the REST API. */
#include "config.h"

#include "rest.h"
#include "rest_auth.h"
#include "rest_build.h"
#include "rest_format.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "stanza.h"

START_TEST(test_media_type_ignores_parameters_and_case)
{
    ck_assert_int_eq(rest_format_media_type("application/json"), REST_JSON);
    ck_assert_int_eq(rest_format_media_type("Application/JSON; charset=utf-8"),
                     REST_JSON);
    ck_assert_int_eq(
        rest_format_media_type("application/xmpp+xml;charset=utf-8"), REST_XML);
    ck_assert_int_eq(
        rest_format_media_type("application/x-www-form-urlencoded"), REST_FORM);
    ck_assert_int_eq(rest_format_media_type("text/plain; charset=utf-8"),
                     REST_TEXT);
    ck_assert_int_eq(rest_format_media_type("text/html"), REST_UNSUPPORTED);
    ck_assert_int_eq(rest_format_media_type("application/jsonx"),
                     REST_UNSUPPORTED);
    ck_assert_int_eq(rest_format_media_type(""), REST_UNSUPPORTED);
    ck_assert_int_eq(rest_format_media_type(NULL), REST_UNSUPPORTED);
}
END_TEST

START_TEST(test_negotiate_first_supported_in_accept_then_content_type)
{
    ck_assert_int_eq(rest_format_negotiate(NULL, NULL, true), REST_XML);
    ck_assert_int_eq(rest_format_negotiate("*/*", NULL, true), REST_XML);
    ck_assert_int_eq(rest_format_negotiate("*/*", "application/json", true),
                     REST_JSON);
    ck_assert_int_eq(rest_format_negotiate("text/html, application/json;q=0.1, "
                                           "application/xmpp+xml",
                                           "application/xmpp+xml", true),
                     REST_JSON);
    ck_assert_int_eq(
        rest_format_negotiate("application/xmpp+xml", "application/json", true),
        REST_XML);
    ck_assert_int_eq(
        rest_format_negotiate("application/x-www-form-urlencoded", NULL, true),
        REST_FORM);
    /* Errors are never form encoded: the next choice wins. */
    ck_assert_int_eq(rest_format_negotiate("application/x-www-form-urlencoded, "
                                           "application/json",
                                           NULL, false),
                     REST_JSON);
    ck_assert_int_eq(rest_format_negotiate("text/plain", "text/plain", true),
                     REST_XML);
}
END_TEST

START_TEST(test_basic_credentials_decode)
{
    char *user, *secret;

    /* "rest.localhost:s3cr:et" */
    ck_assert_int_eq(rest_auth_parse_basic(
                         "cmVzdC5sb2NhbGhvc3Q6czNjcjpldA==", &user, &secret),
                     0);
    ck_assert_str_eq(user, "rest.localhost");
    ck_assert_str_eq(secret, "s3cr:et");
    free(user);
    free(secret);
    /* Without padding, blanks around. */
    ck_assert_int_eq(rest_auth_parse_basic(" YTpi ", &user, &secret), 0);
    ck_assert_str_eq(user, "a");
    ck_assert_str_eq(secret, "b");
    free(user);
    free(secret);
    ck_assert_int_eq(rest_auth_parse_basic("YTo", &user, &secret), 0);
    ck_assert_str_eq(user, "a");
    ck_assert_str_eq(secret, "");
    free(user);
    free(secret);
}
END_TEST

START_TEST(test_basic_credentials_reject_malformed)
{
    char *user = NULL, *secret = NULL;

    ck_assert_int_eq(rest_auth_parse_basic("", &user, &secret), -1);
    ck_assert_int_eq(rest_auth_parse_basic("!!!!", &user, &secret), -1);
    ck_assert_int_eq(rest_auth_parse_basic("YWJj", &user, &secret),
                     -1); /* abc */
    ck_assert_int_eq(rest_auth_parse_basic("Y", &user, &secret), -1);
    ck_assert_int_eq(rest_auth_parse_basic("YQA6Yg==", &user, &secret),
                     -1); /* NUL */
    ck_assert_ptr_null(user);
    ck_assert_ptr_null(secret);
}
END_TEST

START_TEST(test_jid_pattern_narrowing)
{
    ck_assert(rest_jid_matches("bot@rest.localhost/x", "bot@rest.localhost"));
    ck_assert(rest_jid_matches("bot@rest.localhost", "bot@rest.localhost"));
    ck_assert(rest_jid_matches("bot@REST.localhost", "bot@rest.localhost"));
    ck_assert(!rest_jid_matches("other@rest.localhost", "bot@rest.localhost"));
    ck_assert(!rest_jid_matches("rest.localhost", "bot@rest.localhost"));
    ck_assert(rest_jid_matches("any@rest.localhost/r", "rest.localhost"));
    ck_assert(rest_jid_matches("rest.localhost", "rest.localhost"));
    ck_assert(!rest_jid_matches("a@localhost", "rest.localhost"));
    ck_assert(rest_jid_matches("bot@rest.localhost/x", "bot@rest.localhost/x"));
    ck_assert(
        !rest_jid_matches("bot@rest.localhost/y", "bot@rest.localhost/x"));
    ck_assert(!rest_jid_matches("bot@rest.localhost", "bot@rest.localhost/x"));
    ck_assert(!rest_jid_matches("@@", "rest.localhost"));
}
END_TEST

START_TEST(test_timeout_header)
{
    unsigned v = 0;

    ck_assert_int_eq(rest_parse_timeout("2", 300, &v), 0);
    ck_assert_uint_eq(v, 2);
    ck_assert_int_eq(rest_parse_timeout("300", 300, &v), 0);
    ck_assert_uint_eq(v, 300);
    ck_assert_int_eq(rest_parse_timeout("301", 300, &v), 0);
    ck_assert_uint_eq(v, 300);
    ck_assert_int_eq(rest_parse_timeout("99999999999999999999999999", 300, &v),
                     0);
    ck_assert_uint_eq(v, 300);
    ck_assert_int_eq(rest_parse_timeout("0", 300, &v), -1);
    ck_assert_int_eq(rest_parse_timeout("", 300, &v), -1);
    ck_assert_int_eq(rest_parse_timeout("-1", 300, &v), -1);
    ck_assert_int_eq(rest_parse_timeout("1.5", 300, &v), -1);
    ck_assert_int_eq(rest_parse_timeout(" 2", 300, &v), -1);
    ck_assert_int_eq(rest_parse_timeout("2s", 300, &v), -1);
    ck_assert_int_eq(rest_parse_timeout(NULL, 300, &v), -1);
}
END_TEST

START_TEST(test_form_encode_keeps_flat_fields)
{
    json_object *o = json_object_new_object();
    json_object *arr = json_object_new_array();
    char *s;

    json_object_object_add(o, "kind", json_object_new_string("message"));
    json_object_object_add(o, "body", json_object_new_string("a b&c=d/é"));
    json_object_object_add(o, "n", json_object_new_int(5));
    json_object_object_add(o, "yes", json_object_new_boolean(1));
    json_object_object_add(o, "no", json_object_new_boolean(0));
    json_object_object_add(o, "list", arr);
    s = rest_format_form_encode(o);
    ck_assert_str_eq(s, "kind=message&body=a+b%26c%3Dd%2F%C3%A9&n=5&yes=true");
    free(s);
    json_object_put(o);
}
END_TEST

static xmpp_ctx_t *ctx;

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

static xmpp_stanza_t *xml(const char *s)
{
    return rest_build_parse_xml(ctx, s, strlen(s));
}

START_TEST(test_xml_body_one_element)
{
    xmpp_stanza_t *st = xml("  <message to='a@b' type='chat'><body>hi</body>"
                            "</message>\n");

    ck_assert_ptr_nonnull(st);
    ck_assert(stanza_is(st, "message"));
    ck_assert_str_eq(stanza_attr(st, "to"), "a@b");
    ck_assert_int_eq(stanza_element_count(st), 1);
    xmpp_stanza_release(st);
    st = xml("<message xmlns='jabber:client' to='a@b'/>");
    ck_assert_ptr_nonnull(st);
    ck_assert_str_eq(xmpp_stanza_get_ns(st), "jabber:client");
    xmpp_stanza_release(st);
}
END_TEST

START_TEST(test_xml_body_rejects_extras)
{
    ck_assert_ptr_null(xml(""));
    ck_assert_ptr_null(xml("   "));
    ck_assert_ptr_null(xml("hello"));
    ck_assert_ptr_null(xml("<?xml version='1.0'?><message to='a@b'/>"));
    ck_assert_ptr_null(xml("<!DOCTYPE m [<!ENTITY x 'y'>]><message/>"));
    ck_assert_ptr_null(xml("<!-- c --><message to='a@b'/>"));
    ck_assert_ptr_null(xml("<message to='a@b'/><message to='a@b'/>"));
    ck_assert_ptr_null(xml("<message to='a@b'/>garbage"));
    ck_assert_ptr_null(xml("<message to='a@b'>"));
    ck_assert_ptr_null(xml("<message to='a@b'><body>x</bod></message>"));
    ck_assert_ptr_null(
        xml("<message/></restanza-body-wrapper><restanza-body-wrapper>"));
    ck_assert_ptr_null(rest_build_parse_xml(ctx, "<a/>\0<b/>", 9));
}
END_TEST

static Suite *rest_suite(void)
{
    Suite *s = suite_create("rest");
    TCase *tc = tcase_create("pure");

    tcase_add_test(tc, test_media_type_ignores_parameters_and_case);
    tcase_add_test(tc,
                   test_negotiate_first_supported_in_accept_then_content_type);
    tcase_add_test(tc, test_basic_credentials_decode);
    tcase_add_test(tc, test_basic_credentials_reject_malformed);
    tcase_add_test(tc, test_jid_pattern_narrowing);
    tcase_add_test(tc, test_timeout_header);
    tcase_add_test(tc, test_form_encode_keeps_flat_fields);
    suite_add_tcase(s, tc);

    tc = tcase_create("xml");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_xml_body_one_element);
    tcase_add_test(tc, test_xml_body_rejects_extras);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(rest_suite());
    int failed;

    log_set_level(LOG_LEVEL_ERROR);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}
