/* SPDX-License-Identifier: MIT */
/* test_auth.c: unit tests for the Authorization header parsing and the
 * constant-time secret compare. */
#include "config.h"

#include "auth.h"
#include "auth_priv.h"

#include <check.h>
#include <stdlib.h>

START_TEST(test_scheme_is_matched_without_case)
{
    const char *cred;

    ck_assert_int_eq(auth_scheme("Bearer abc", &cred), AUTH_SCHEME_BEARER);
    ck_assert_str_eq(cred, "abc");
    ck_assert_int_eq(auth_scheme("bearer abc", &cred), AUTH_SCHEME_BEARER);
    ck_assert_int_eq(auth_scheme("BEARER\tabc", &cred), AUTH_SCHEME_BEARER);
    ck_assert_str_eq(cred, "abc");
    ck_assert_int_eq(auth_scheme("basic dXNlcjpwdw==", &cred),
                     AUTH_SCHEME_BASIC);
    ck_assert_str_eq(cred, "dXNlcjpwdw==");
}
END_TEST

START_TEST(test_other_and_missing_schemes_are_told_apart)
{
    const char *cred = "unset";

    ck_assert_int_eq(auth_scheme(NULL, &cred), AUTH_SCHEME_NONE);
    ck_assert_str_eq(cred, "");
    ck_assert_int_eq(auth_scheme("Digest x", &cred), AUTH_SCHEME_OTHER);
    /* A longer word that starts like a scheme is another scheme. */
    ck_assert_int_eq(auth_scheme("Bearerx abc", &cred), AUTH_SCHEME_OTHER);
    ck_assert_int_eq(auth_scheme("Bear abc", &cred), AUTH_SCHEME_OTHER);
}
END_TEST

START_TEST(test_credentials_after_blanks_and_empty_credentials)
{
    const char *cred;

    ck_assert_int_eq(auth_scheme("Bearer    tok", &cred), AUTH_SCHEME_BEARER);
    ck_assert_str_eq(cred, "tok");
    ck_assert_int_eq(auth_scheme("Bearer", &cred), AUTH_SCHEME_BEARER);
    ck_assert_str_eq(cred, "");
    ck_assert_int_eq(auth_scheme("Bearer   ", &cred), AUTH_SCHEME_BEARER);
    ck_assert_str_eq(cred, "");
}
END_TEST

START_TEST(test_secret_equal_only_for_the_exact_secret)
{
    ck_assert(auth_secret_equal("s3cret", "s3cret"));
    ck_assert(!auth_secret_equal("s3cre", "s3cret"));
    ck_assert(!auth_secret_equal("s3crett", "s3cret"));
    ck_assert(!auth_secret_equal("S3cret", "s3cret"));
    ck_assert(!auth_secret_equal("", "s3cret"));
    ck_assert(!auth_secret_equal("s3cret", ""));
    ck_assert(auth_secret_equal("", ""));
}
END_TEST

START_TEST(test_denials_have_their_status_and_text)
{
    ck_assert_uint_eq(auth_denial_status(AUTH_DENY_MISSING), 401);
    ck_assert_uint_eq(auth_denial_status(AUTH_DENY_WRONG), 403);
    ck_assert_uint_eq(auth_denial_status(AUTH_DENY_MALFORMED), 403);
    ck_assert_str_eq(auth_denial_text(AUTH_DENY_MISSING),
                     "No credentials provided");
    ck_assert_str_eq(auth_denial_text(AUTH_DENY_WRONG),
                     "Credentials not accepted");
}
END_TEST

static Suite *auth_suite(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_scheme_is_matched_without_case);
    tcase_add_test(tc, test_other_and_missing_schemes_are_told_apart);
    tcase_add_test(tc, test_credentials_after_blanks_and_empty_credentials);
    tcase_add_test(tc, test_secret_equal_only_for_the_exact_secret);
    tcase_add_test(tc, test_denials_have_their_status_and_text);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(auth_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}
