/* SPDX-License-Identifier: MIT */
/* test_utf8.c: unit tests for the strict UTF-8 / XML 1.0 Char checks. */
#include "config.h"

#include "utf8.h"
#include "utf8_priv.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* Valid when the whole byte string passes. */
static bool ok(const char *s, size_t len)
{
    return utf8_xml_valid(s, len);
}

START_TEST(test_ascii_and_xml_whitespace_are_valid)
{
    ck_assert(ok("hello, world", 12));
    ck_assert(ok("a\tb\nc\rd", 7));
    ck_assert(ok("", 0));
    ck_assert(utf8_xml_valid_str(NULL));
}
END_TEST

START_TEST(test_control_characters_and_nul_are_invalid)
{
    ck_assert(!ok("a\x01"
                  "b",
                  3));
    ck_assert(!ok("\x1f", 1));
    ck_assert(!ok("a\0b", 3));
    ck_assert_uint_eq(utf8_xml_prefix("ab\x0b"
                                      "cd",
                                      5),
                      2);
}
END_TEST

START_TEST(test_multibyte_characters_at_every_length_are_valid)
{
    ck_assert(ok("\xc3\xa9", 2));         /* U+00E9 */
    ck_assert(ok("\xe2\x82\xac", 3));     /* U+20AC */
    ck_assert(ok("\xed\x9f\xbf", 3));     /* U+D7FF, last before surrogates */
    ck_assert(ok("\xee\x80\x80", 3));     /* U+E000 */
    ck_assert(ok("\xef\xbf\xbd", 3));     /* U+FFFD */
    ck_assert(ok("\xf0\x9f\x98\x80", 4)); /* U+1F600 */
    ck_assert(ok("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
}
END_TEST

START_TEST(test_overlongs_surrogates_and_noncharacters_are_invalid)
{
    ck_assert(!ok("\xc0\xaf", 2));         /* overlong '/' */
    ck_assert(!ok("\xc1\xbf", 2));         /* overlong U+007F */
    ck_assert(!ok("\xe0\x80\xaf", 3));     /* overlong '/' */
    ck_assert(!ok("\xf0\x80\x80\xaf", 4)); /* overlong '/' */
    ck_assert(!ok("\xed\xa0\x80", 3));     /* U+D800 */
    ck_assert(!ok("\xed\xbf\xbf", 3));     /* U+DFFF */
    ck_assert(!ok("\xef\xbf\xbe", 3));     /* U+FFFE */
    ck_assert(!ok("\xef\xbf\xbf", 3));     /* U+FFFF */
    ck_assert(!ok("\xf4\x90\x80\x80", 4)); /* U+110000 */
    ck_assert(!ok("\xf8\x88\x80\x80\x80", 5));
    ck_assert(!ok("\xff", 1));
}
END_TEST

START_TEST(test_truncated_and_stray_continuation_bytes_are_invalid)
{
    ck_assert(!ok("\xc3", 1));
    ck_assert(!ok("\xe2\x82", 2));
    ck_assert(!ok("\xf0\x9f\x98", 3));
    ck_assert(!ok("\x80", 1));
    ck_assert(!ok("a\xc3(", 3));
    /* The prefix stops before the first bad sequence. */
    ck_assert_uint_eq(utf8_xml_prefix("ab\xe2\x82\xac\xe2\x82", 7), 5);
}
END_TEST

static Suite *utf8_suite(void)
{
    Suite *s = suite_create("utf8");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_ascii_and_xml_whitespace_are_valid);
    tcase_add_test(tc, test_control_characters_and_nul_are_invalid);
    tcase_add_test(tc, test_multibyte_characters_at_every_length_are_valid);
    tcase_add_test(tc, test_overlongs_surrogates_and_noncharacters_are_invalid);
    tcase_add_test(tc, test_truncated_and_stray_continuation_bytes_are_invalid);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(utf8_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}
