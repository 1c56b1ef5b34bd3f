/* SPDX-License-Identifier: MIT */
/* test_json.c: unit tests for the strict JSON parser and typed getters. */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static char err[256];

static json_object *parse(const char *text)
{
    return json_parse(text, strlen(text), 0, err, sizeof(err));
}

/* text must be rejected with a reason containing `why`. */
static void reject(const char *text, const char *why)
{
    json_object *o = parse(text);

    ck_assert_msg(o == NULL, "accepted: %s", text);
    ck_assert_msg(strstr(err, why) != NULL, "%s: reason '%s' lacks '%s'", text,
                  err, why);
}

/* text must parse and print back as `compact`. */
static void accept(const char *text, const char *compact)
{
    json_object *o = parse(text);
    char *s;

    ck_assert_msg(o != NULL, "rejected %s: %s", text, err);
    s = json_to_string(o);
    ck_assert_str_eq(s, compact);
    free(s);
    json_object_put(o);
}

START_TEST(test_parse_accepts_rfc8259_values)
{
    accept("{\"a\":1}", "{\"a\":1}");
    accept(" \t\r\n{ \"a\" : [ 1 , -2.5e3 , true , false , null ] } \n",
           "{\"a\":[1,-2.5e3,true,false,null]}");
    accept("123", "123");
    accept("-0", "0");
    accept("\"x\"", "\"x\"");
    accept("[]", "[]");
    accept("{}", "{}");
    accept("\"\\u00e9\\ud83d\\ude00\"", "\"é😀\"");
    accept("9223372036854775807", "9223372036854775807");
    accept("-9223372036854775808", "-9223372036854775808");
}
END_TEST

/* json-c would turn a lone surrogate escape into U+FFFD without a word. */
START_TEST(test_parse_rejects_lone_surrogate_escapes)
{
    reject("\"\\ud800\"", "lone high surrogate \\ud800");
    reject("\"a\\uD83Db\"", "lone high surrogate");
    reject("\"\\ud800\\u0041\"", "lone high surrogate");
    reject("\"\\ud800\\ud800\"", "lone high surrogate");
    reject("\"\\udc00\"", "lone low surrogate \\udc00");
    reject("\"\\ude00\\ud83d\"", "lone low surrogate");
    reject("{\"\\udfff\":1}", "lone low surrogate");
    reject("[\"\\ud83d\"]", "lone high surrogate");
    accept("\"\\ud83d\\ude00\\uD800\\uDC00\"", "\"\xf0\x9f\x98\x80"
                                               "\xf0\x90\x80\x80\"");
}
END_TEST

START_TEST(test_parse_rejects_trailing_garbage)
{
    reject("{\"a\":1}x", "trailing");
    reject("{} {}", "trailing");
    reject("123 4", "trailing");
    reject("", "end of input");
    reject("   ", "end of input");
}
END_TEST

START_TEST(test_parse_rejects_non_json_that_json_c_accepts)
{
    reject("{'a':1}", "double-quoted key");
    reject("['a']", "unexpected character");
    reject("NaN", "unexpected character");
    reject("Infinity", "unexpected character");
    reject("-Infinity", "bad number");
    reject("1.", "bad fraction");
    reject(".5", "unexpected character");
    reject("01", "leading zero");
    reject("1e", "bad exponent");
    reject("[1,]", "unexpected character");
    reject("{\"a\":1,}", "double-quoted key");
    reject("/*c*/{}", "unexpected character");
    reject("{\"a\" 1}", "expected ':'");
    reject("[1 2]", "expected ','");
    reject("tru", "unexpected character");
    reject("\"a\tb\"", "control character");
    reject("\"\\x\"", "bad escape");
    reject("\"\\u12\"", "bad \\u escape");
    reject("\"abc", "unterminated");
}
END_TEST

START_TEST(test_parse_rejects_duplicate_keys)
{
    reject("{\"a\":1,\"a\":2}", "duplicate key \"a\"");
    /* An escaped spelling is the same key. */
    reject("{\"a\":1,\"\\u0061\":2}", "duplicate key");
    reject("{\"x\":{\"b\":1,\"c\":2,\"b\":3}}", "duplicate key \"b\"");
    reject("[{\"k\":1},{\"k\":2,\"k\":3}]", "duplicate key");
    /* Same key in sibling objects is fine. */
    accept("[{\"k\":1},{\"k\":2}]", "[{\"k\":1},{\"k\":2}]");
    accept("{\"a\":1,\"ab\":2,\"b\":3}", "{\"a\":1,\"ab\":2,\"b\":3}");
}
END_TEST

START_TEST(test_parse_rejects_many_keys_with_one_duplicate_quickly)
{
    size_t n = 20000, len = 0;
    char *text = malloc(n * 16 + 32);

    len += (size_t)sprintf(text + len, "{");
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(text + len, "\"k%zu\":0,", i);
    len += (size_t)sprintf(text + len, "\"k7\":1}");
    ck_assert_ptr_null(json_parse(text, len, 0, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "duplicate key \"k7\""));
    free(text);
}
END_TEST

START_TEST(test_parse_rejects_out_of_range_integers)
{
    reject("9223372036854775808", "integer out of range");
    reject("-9223372036854775809", "integer out of range");
    reject("{\"n\":99999999999999999999}", "integer out of range");
    accept("1e30", "1e30");
}
END_TEST

START_TEST(test_parse_rejects_invalid_utf8_and_nul)
{
    reject("\"\xff\"", "utf-8");
    reject("\"\xc0\xaf\"", "utf-8");
    ck_assert_ptr_null(json_parse("{}\0", 3, 0, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "NUL"));
}
END_TEST

START_TEST(test_parse_enforces_depth_limit)
{
    char deep[200];

    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    ck_assert_ptr_null(json_parse(deep, 130, 0, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "nesting deeper than 64"));
    /* 64 levels are fine with the default. */
    {
        json_object *o = json_parse(deep + 1, 128, 0, err, sizeof(err));
        ck_assert_msg(o != NULL, "%s", err);
        json_object_put(o);
    }
    ck_assert_ptr_null(json_parse("[[1]]", 5, 1, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "nesting deeper than 1"));
}
END_TEST

START_TEST(test_parse_null_is_null_with_empty_reason)
{
    strcpy(err, "stale");
    ck_assert_ptr_null(json_parse(" null ", 6, 0, err, sizeof(err)));
    ck_assert_str_eq(err, "");
    ck_assert_ptr_null(json_parse("nul", 3, 0, err, sizeof(err)));
    ck_assert_str_ne(err, "");
}
END_TEST

START_TEST(test_parse_without_error_buffer)
{
    ck_assert_ptr_null(json_parse("{", 1, 0, NULL, 0));
}
END_TEST

START_TEST(test_getters_never_coerce)
{
    json_object *o =
        parse("{\"s\":\"123\",\"i\":123,\"b\":true,\"d\":1.0,\"n\":null,"
              "\"o\":{},\"a\":[],\"z\":\"a\\u0000b\",\"big\":"
              "9223372036854775807}");
    int64_t i = 0;
    bool b = false;

    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(json_get_string(o, "s"), "123");
    ck_assert_ptr_null(json_get_string(o, "i"));
    ck_assert_ptr_null(json_get_string(o, "n"));
    ck_assert_ptr_null(json_get_string(o, "missing"));
    ck_assert_ptr_null(json_get_string(o, "z"));
    ck_assert_int_eq(json_get_int64(o, "i", &i), 0);
    ck_assert_int_eq(i, 123);
    ck_assert_int_eq(json_get_int64(o, "big", &i), 0);
    ck_assert(i == INT64_MAX);
    ck_assert_int_eq(json_get_int64(o, "s", &i), -1);
    ck_assert_int_eq(json_get_int64(o, "d", &i), -1);
    ck_assert_int_eq(json_get_int64(o, "b", &i), -1);
    ck_assert_int_eq(json_get_bool(o, "b", &b), 0);
    ck_assert(b);
    ck_assert_int_eq(json_get_bool(o, "i", &b), -1);
    ck_assert_int_eq(json_get_bool(o, "s", &b), -1);
    ck_assert_ptr_nonnull(json_get_object(o, "o"));
    ck_assert_ptr_null(json_get_object(o, "a"));
    ck_assert_ptr_nonnull(json_get_array(o, "a"));
    ck_assert_ptr_null(json_get_array(o, "o"));
    /* A non-object container has no keys. */
    ck_assert_ptr_null(json_get_string(json_get_array(o, "a"), "s"));
    ck_assert_ptr_null(json_get_string(NULL, "s"));
    json_object_put(o);
}
END_TEST

START_TEST(test_is_int64_rejects_uint64_above_int64)
{
    json_object *u = json_object_new_uint64((uint64_t)INT64_MAX + 1);
    json_object *m = json_object_new_int64(INT64_MAX);

    ck_assert(!json_is_int64(u));
    ck_assert(json_is_int64(m));
    ck_assert(!json_is_int64(NULL));
    json_object_put(u);
    json_object_put(m);
}
END_TEST

START_TEST(test_to_string_is_compact_without_slash_escapes)
{
    json_object *o = parse("{ \"url\" : \"https://x/y\", \"a\" : [ 1 ] }");
    char *s = json_to_string(o);

    ck_assert_str_eq(s, "{\"url\":\"https://x/y\",\"a\":[1]}");
    free(s);
    s = json_to_string(NULL);
    ck_assert_str_eq(s, "null");
    free(s);
    json_object_put(o);
}
END_TEST

static Suite *json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_parse_accepts_rfc8259_values);
    tcase_add_test(tc, test_parse_rejects_trailing_garbage);
    tcase_add_test(tc, test_parse_rejects_non_json_that_json_c_accepts);
    tcase_add_test(tc, test_parse_rejects_duplicate_keys);
    tcase_add_test(tc, test_parse_rejects_many_keys_with_one_duplicate_quickly);
    tcase_add_test(tc, test_parse_rejects_out_of_range_integers);
    tcase_add_test(tc, test_parse_rejects_invalid_utf8_and_nul);
    tcase_add_test(tc, test_parse_rejects_lone_surrogate_escapes);
    tcase_add_test(tc, test_parse_enforces_depth_limit);
    tcase_add_test(tc, test_parse_null_is_null_with_empty_reason);
    tcase_add_test(tc, test_parse_without_error_buffer);
    tcase_add_test(tc, test_getters_never_coerce);
    tcase_add_test(tc, test_is_int64_rejects_uint64_above_int64);
    tcase_add_test(tc, test_to_string_is_compact_without_slash_escapes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(json_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
