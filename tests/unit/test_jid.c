/* SPDX-License-Identifier: MIT */
/* test_jid.c: unit tests for JID parsing, validation and normalisation. */
#include "config.h"

#include "jid.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* n copies of c followed by suffix; caller frees. */
static char *repeat(char c, size_t n, const char *suffix)
{
    size_t slen = strlen(suffix);
    char *s = malloc(n + slen + 1);

    ck_assert_ptr_nonnull(s);
    memset(s, c, n);
    memcpy(s + n, suffix, slen + 1);
    return s;
}

/* A domain of exactly len bytes made of labels of at most 50 letters. */
static char *domain_of_length(size_t len)
{
    char *s = malloc(len + 1);
    size_t label = 0;

    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < len; i++) {
        /* A dot after 50 letters, but never first or last. */
        if (label == 50 && i + 1 < len) {
            s[i] = '.';
            label = 0;
        } else {
            s[i] = 'a';
            label++;
        }
    }
    s[len] = '\0';
    return s;
}

START_TEST(test_domain_accepts_hostnames_and_ip_literals)
{
    static const char *const good[] = {"example.org",
                                       "localhost",
                                       "a",
                                       "EXAMPLE.Org",
                                       "a-b_c.example",
                                       "xn--bcher-kva.example",
                                       "1.2.3.4",
                                       "0",
                                       "example.org.",
                                       "[::1]",
                                       "[2001:db8::1]",
                                       "[::ffff:192.0.2.1]",
                                       "[FE80::1]",
                                       "muc.example.org"};

    for (size_t i = 0; i < ARRAY_LEN(good); i++)
        ck_assert_msg(jid_domain_valid(good[i]), "rejected \"%s\"", good[i]);
}
END_TEST

START_TEST(test_domain_rejects_malformed_names)
{
    static const char *const bad[] = {"",
                                      ".",
                                      "..",
                                      ".example.org",
                                      "example..org",
                                      "example.org..",
                                      "exa mple.org",
                                      "exam@ple.org",
                                      "example/org",
                                      "example.org:5222",
                                      "b\xc3\xbc"
                                      "cher.example",
                                      "ex\tample",
                                      "[::1",
                                      "::1]",
                                      "[]",
                                      "[::g]",
                                      "[::1]x",
                                      "x[::1]",
                                      "example,org",
                                      "exa\"mple",
                                      "exa'mple",
                                      "exa<mple",
                                      "\x7f"};

    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        ck_assert_msg(!jid_domain_valid(bad[i]), "accepted \"%s\"", bad[i]);
}
END_TEST

START_TEST(test_domain_label_limit_is_63)
{
    char *ok = repeat('a', 63, ".example");
    char *too_long = repeat('a', 64, ".example");
    char *alone = repeat('b', 64, "");

    ck_assert(jid_domain_valid(ok));
    ck_assert(!jid_domain_valid(too_long));
    ck_assert(!jid_domain_valid(alone));
    free(ok);
    free(too_long);
    free(alone);
}
END_TEST

START_TEST(test_domain_length_limit_is_1023)
{
    char *ok = domain_of_length(JID_PART_MAX);
    char *too_long = domain_of_length(JID_PART_MAX + 1);
    char *with_dot;

    ck_assert_uint_eq(strlen(ok), 1023);
    ck_assert_uint_eq(strlen(too_long), 1024);
    ck_assert(jid_domain_valid(ok));
    ck_assert(!jid_domain_valid(too_long));
    /* A trailing dot counts against the limit. */
    with_dot = malloc(JID_PART_MAX + 2);
    ck_assert_ptr_nonnull(with_dot);
    memcpy(with_dot, ok, JID_PART_MAX);
    memcpy(with_dot + JID_PART_MAX, ".", 2);
    ck_assert(!jid_domain_valid(with_dot));
    free(with_dot);
    free(ok);
    free(too_long);
}
END_TEST

START_TEST(test_valid_accepts_bare_full_and_domain_jids)
{
    static const char *const good[] = {
        "user@example.org",
        "user@example.org/res",
        "example.org",
        "example.org/res",
        "user@[::1]/r",
        "j\xc3\xbcrgen@example.org",
        "a.b-c_d+e=f!g#h$i%j*k@example.org",
        "user@example.org/with space/and@at and /slash",
        "user@example.org/\xe2\x98\x83",
        "user@example.org/\"&'<>:"};

    for (size_t i = 0; i < ARRAY_LEN(good); i++)
        ck_assert_msg(jid_valid(good[i]), "rejected \"%s\"", good[i]);
}
END_TEST

START_TEST(test_localpart_with_forbidden_chars_is_rejected)
{
    static const char *const bad[] = {"a\"b@example.org",
                                      "a&b@example.org",
                                      "a'b@example.org",
                                      "a:b@example.org",
                                      "a<b@example.org",
                                      "a>b@example.org",
                                      "a b@example.org",
                                      "a\tb@example.org",
                                      "a\x01"
                                      "b@example.org",
                                      "a\x7f"
                                      "b@example.org",
                                      "@example.org",
                                      "a@b@example.org",
                                      "@example.org/r"};

    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        ck_assert_msg(!jid_valid(bad[i]), "accepted \"%s\"", bad[i]);
}
END_TEST

START_TEST(test_slash_before_at_starts_the_resource)
{
    struct jid j;

    ck_assert_int_eq(jid_parse("a/b@example.org", &j), 0);
    ck_assert_ptr_null(j.local);
    ck_assert_str_eq(j.domain, "a");
    ck_assert_str_eq(j.resource, "b@example.org");
    jid_clear(&j);
}
END_TEST

START_TEST(test_bad_resources_are_rejected)
{
    static const char *const bad[] = {"user@example.org/",
                                      "example.org/",
                                      "user@example.org/a\nb",
                                      "user@example.org/\x01",
                                      "user@example.org/a\x7f",
                                      "/res",
                                      "user@/res"};

    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        ck_assert_msg(!jid_valid(bad[i]), "accepted \"%s\"", bad[i]);
}
END_TEST

START_TEST(test_bad_domains_make_the_jid_invalid)
{
    static const char *const bad[] = {"",
                                      "user@",
                                      "user@.org",
                                      "user@exa mple.org",
                                      "user@example..org/r",
                                      "user@[::1/r",
                                      "user@b\xc3\xbc"
                                      "cher.example"};

    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        ck_assert_msg(!jid_valid(bad[i]), "accepted \"%s\"", bad[i]);
}
END_TEST

START_TEST(test_localpart_and_resource_limits_are_1023)
{
    char *local_ok = repeat('u', JID_PART_MAX, "@example.org");
    char *local_long = repeat('u', JID_PART_MAX + 1, "@example.org");
    char *res_ok, *res_long;

    res_ok = malloc(strlen("u@example.org/") + JID_PART_MAX + 2);
    res_long = malloc(strlen("u@example.org/") + JID_PART_MAX + 2);
    ck_assert_ptr_nonnull(res_ok);
    ck_assert_ptr_nonnull(res_long);
    strcpy(res_ok, "u@example.org/");
    memset(res_ok + 14, 'r', JID_PART_MAX);
    res_ok[14 + JID_PART_MAX] = '\0';
    strcpy(res_long, res_ok);
    strcat(res_long, "r");

    ck_assert(jid_valid(local_ok));
    ck_assert(!jid_valid(local_long));
    ck_assert(jid_valid(res_ok));
    ck_assert(!jid_valid(res_long));
    free(local_ok);
    free(local_long);
    free(res_ok);
    free(res_long);
}
END_TEST

START_TEST(test_parse_splits_full_jid)
{
    struct jid j;

    ck_assert_int_eq(jid_parse("juliet@capulet.example/balcony/1", &j), 0);
    ck_assert_str_eq(j.local, "juliet");
    ck_assert_str_eq(j.domain, "capulet.example");
    ck_assert_str_eq(j.resource, "balcony/1");
    jid_clear(&j);
    ck_assert_ptr_null(j.local);
    ck_assert_ptr_null(j.domain);
    ck_assert_ptr_null(j.resource);
}
END_TEST

START_TEST(test_parse_leaves_absent_parts_null)
{
    struct jid j;

    ck_assert_int_eq(jid_parse("capulet.example", &j), 0);
    ck_assert_ptr_null(j.local);
    ck_assert_str_eq(j.domain, "capulet.example");
    ck_assert_ptr_null(j.resource);
    jid_clear(&j);

    ck_assert_int_eq(jid_parse("romeo@montague.example", &j), 0);
    ck_assert_str_eq(j.local, "romeo");
    ck_assert_str_eq(j.domain, "montague.example");
    ck_assert_ptr_null(j.resource);
    jid_clear(&j);

    ck_assert_int_eq(jid_parse("montague.example/r", &j), 0);
    ck_assert_ptr_null(j.local);
    ck_assert_str_eq(j.domain, "montague.example");
    ck_assert_str_eq(j.resource, "r");
    jid_clear(&j);
}
END_TEST

START_TEST(test_parse_failure_leaves_out_untouched)
{
    char a, b, c;
    struct jid j = {.local = &a, .domain = &b, .resource = &c};

    ck_assert_int_eq(jid_parse("bad user@example.org", &j), -1);
    ck_assert_int_eq(jid_parse("user@example.org/", &j), -1);
    ck_assert_int_eq(jid_parse("user@-bad..", &j), -1);
    ck_assert_ptr_eq(j.local, &a);
    ck_assert_ptr_eq(j.domain, &b);
    ck_assert_ptr_eq(j.resource, &c);
}
END_TEST

START_TEST(test_bare_drops_the_resource)
{
    char *s;

    s = jid_bare("User@Example.org/res/x");
    ck_assert_str_eq(s, "user@example.org");
    free(s);
    s = jid_bare("user@example.org");
    ck_assert_str_eq(s, "user@example.org");
    free(s);
    s = jid_bare("example.org/res");
    ck_assert_str_eq(s, "example.org");
    free(s);
    s = jid_bare("example.org");
    ck_assert_str_eq(s, "example.org");
    free(s);
}
END_TEST

START_TEST(test_bare_and_domain_of_invalid_jid_are_null)
{
    ck_assert_ptr_null(jid_bare(""));
    ck_assert_ptr_null(jid_bare("a b@example.org/r"));
    ck_assert_ptr_null(jid_bare("user@example.org/"));
    ck_assert_ptr_null(jid_domain(""));
    ck_assert_ptr_null(jid_domain("user@"));
    ck_assert_ptr_null(jid_domain("user@exa mple.org"));
}
END_TEST

START_TEST(test_domain_extracts_the_domainpart)
{
    char *s;

    s = jid_domain("user@example.org/res");
    ck_assert_str_eq(s, "example.org");
    free(s);
    s = jid_domain("example.org");
    ck_assert_str_eq(s, "example.org");
    free(s);
    s = jid_domain("user@[::1]");
    ck_assert_str_eq(s, "[::1]");
    free(s);
    s = jid_domain("muc.example.org/nick@with.at");
    ck_assert_str_eq(s, "muc.example.org");
    free(s);
}
END_TEST

/* s normalised must be want (NULL: invalid after prep). */
static void assert_normal(const char *s, const char *want)
{
    char *n = jid_normalize(s);

    if (want == NULL)
        ck_assert_msg(n == NULL, "\"%s\" normalised to \"%s\"", s, n);
    else
        ck_assert_msg(n != NULL && strcmp(n, want) == 0,
                      "\"%s\" normalised to \"%s\", want \"%s\"", s,
                      n ? n : "(null)", want);
    free(n);
}

START_TEST(test_nodeprep_folds_the_localpart)
{
    assert_normal("ALICE@localhost", "alice@localhost");
    assert_normal("Alice@localhost/Res", "alice@localhost/Res");
    /* Full-width letters (NFKC), sharp s (case folding to "ss"). */
    assert_normal("\xef\xbc\xaa\xef\xbd\x95liet@example.org",
                  "juliet@example.org");
    assert_normal("Stra\xc3\x9f"
                  "e@example.org",
                  "strasse@example.org");
    assert_normal("\xc3\x85NGSTR\xc3\x96M@example.org",
                  "\xc3\xa5ngstr\xc3\xb6m@example.org");
    /* A soft hyphen maps to nothing. */
    assert_normal("al\xc2\xadice@example.org", "alice@example.org");
}
END_TEST

START_TEST(test_nameprep_folds_the_domain_and_drops_a_trailing_dot)
{
    assert_normal("LOCALHOST", "localhost");
    assert_normal("localhost.", "localhost");
    assert_normal("LOCALHOST.", "localhost");
    assert_normal("bot@REST.LocalHost./x", "bot@rest.localhost/x");
    assert_normal("\xef\xbd\x85xample.org", "example.org");
    assert_normal("user@[FE80::1]", "user@[fe80::1]");
    assert_normal("localhost..", NULL);
    /* A full-width dot becomes a second trailing dot after prep. */
    assert_normal("localhost\xef\xbc\x8e", NULL);
    assert_normal("exa\xef\xbc\x8emple", "exa.mple");
}
END_TEST

START_TEST(test_resourceprep_keeps_case_but_maps_compatibility_forms)
{
    assert_normal("a@b/Res", "a@b/Res");
    assert_normal("a@b/with space/and@at", "a@b/with space/and@at");
    assert_normal("a@b/\xef\xac\x81le", "a@b/file"); /* U+FB01 ligature */
    assert_normal("a@b/x\xc2\xady", "a@b/xy");
}
END_TEST

START_TEST(test_parts_prohibited_after_prep_are_invalid)
{
    /* Full-width @ and solidus become ASCII, which nodeprep prohibits. */
    assert_normal("a\xef\xbc\xa0"
                  "b@example.org",
                  NULL);
    assert_normal("a\xef\xbc\x8f"
                  "b@example.org",
                  NULL);
    /* No-break space (C.1.2), a soft hyphen alone (empty after mapping). */
    assert_normal("a\xc2\xa0"
                  "b@example.org",
                  NULL);
    assert_normal("\xc2\xad@example.org", NULL);
    assert_normal("a@example.org/\xc2\xad", NULL);
    /* A non-ASCII control (C.2.2) in the resource; RTL mixed with LTR. */
    assert_normal("a@example.org/x\xc2\x85", NULL);
    assert_normal("a@example.org/\xd7\x90"
                  "a",
                  NULL);
    /* Invalid UTF-8 never reaches the profile. */
    assert_normal("a\xff@example.org", NULL);
    assert_normal("a@example.org/\xc0\xaf", NULL);
}
END_TEST

/* n copies of U+3300 (3 bytes, 12 after NFKC) then suffix; caller frees. */
static char *squared_apaato(size_t n, const char *suffix)
{
    char *s = malloc(3 * n + strlen(suffix) + 1);

    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < n; i++)
        memcpy(s + 3 * i, "\xe3\x8c\x80", 3);
    strcpy(s + 3 * n, suffix);
    return s;
}

START_TEST(test_parts_longer_than_1023_bytes_after_prep_are_invalid)
{
    char *ok = squared_apaato(85, "@example.org");       /* 1020 bytes */
    char *too_long = squared_apaato(86, "@example.org"); /* 1032 bytes */
    char *res = squared_apaato(86, "");
    char *full = malloc(strlen(res) + sizeof("a@example.org/"));
    char *n;

    ck_assert_ptr_nonnull(full);
    n = jid_normalize(ok);
    ck_assert_ptr_nonnull(n);
    ck_assert_uint_eq(strlen(n), 1020 + strlen("@example.org"));
    ck_assert(!jid_valid(too_long));
    strcpy(full, "a@example.org/");
    strcat(full, res);
    ck_assert(!jid_valid(full));
    free(n);
    free(full);
    free(res);
    free(too_long);
    free(ok);
}
END_TEST

START_TEST(test_equal_compares_normalised_forms)
{
    ck_assert(jid_equal("ALICE@LOCALHOST./r", "alice@localhost/r"));
    ck_assert(jid_equal("localhost", "LOCALHOST"));
    ck_assert(!jid_equal("alice@localhost/R", "alice@localhost/r"));
    ck_assert(!jid_equal("alice@localhost", "alice@localhost/r"));
    ck_assert(!jid_equal("a b@localhost", "a b@localhost"));
    ck_assert(!jid_equal(NULL, "localhost"));
}
END_TEST

/* The ASCII fast path must give what libidn gives: identity for plain
 * lower-case ASCII, folding and refusals still applied. */
START_TEST(test_ascii_fast_path_agrees_with_stringprep)
{
    static const char *const same[] = {
        "alice@localhost",
        "a.b-c_d~e!f@x.example/Res Ource",
        "bot@rest.localhost/A/B@C",
        "localhost/x",
    };
    static const char *const refused[] = {
        "a'b@localhost",        "a\"b@localhost", "a&b@localhost",
        "a<b@localhost",        "a b@localhost",  "alice@local host",
        "alice@localhost/\x01",
    };

    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        char *n = jid_normalize(same[i]);
        ck_assert_ptr_nonnull(n);
        ck_assert_str_eq(n, same[i]);
        free(n);
    }
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        ck_assert_msg(jid_normalize(refused[i]) == NULL, "%s", refused[i]);
    {
        char *n = jid_normalize("Alice@LocalHost/Res");
        ck_assert_str_eq(n, "alice@localhost/Res");
        free(n);
    }
}
END_TEST

static Suite *jid_suite(void)
{
    Suite *s = suite_create("jid");
    TCase *tc = tcase_create("domain");

    tcase_add_test(tc, test_domain_accepts_hostnames_and_ip_literals);
    tcase_add_test(tc, test_domain_rejects_malformed_names);
    tcase_add_test(tc, test_domain_label_limit_is_63);
    tcase_add_test(tc, test_domain_length_limit_is_1023);
    suite_add_tcase(s, tc);

    tc = tcase_create("valid");
    tcase_add_test(tc, test_valid_accepts_bare_full_and_domain_jids);
    tcase_add_test(tc, test_localpart_with_forbidden_chars_is_rejected);
    tcase_add_test(tc, test_slash_before_at_starts_the_resource);
    tcase_add_test(tc, test_bad_resources_are_rejected);
    tcase_add_test(tc, test_bad_domains_make_the_jid_invalid);
    tcase_add_test(tc, test_localpart_and_resource_limits_are_1023);
    suite_add_tcase(s, tc);

    tc = tcase_create("parse");
    tcase_add_test(tc, test_parse_splits_full_jid);
    tcase_add_test(tc, test_parse_leaves_absent_parts_null);
    tcase_add_test(tc, test_parse_failure_leaves_out_untouched);
    tcase_add_test(tc, test_bare_drops_the_resource);
    tcase_add_test(tc, test_bare_and_domain_of_invalid_jid_are_null);
    tcase_add_test(tc, test_domain_extracts_the_domainpart);
    suite_add_tcase(s, tc);

    tc = tcase_create("normalise");
    tcase_add_test(tc, test_nodeprep_folds_the_localpart);
    tcase_add_test(tc, test_nameprep_folds_the_domain_and_drops_a_trailing_dot);
    tcase_add_test(tc,
                   test_resourceprep_keeps_case_but_maps_compatibility_forms);
    tcase_add_test(tc, test_parts_prohibited_after_prep_are_invalid);
    tcase_add_test(tc,
                   test_parts_longer_than_1023_bytes_after_prep_are_invalid);
    tcase_add_test(tc, test_equal_compares_normalised_forms);
    tcase_add_test(tc, test_ascii_fast_path_agrees_with_stringprep);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(jid_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}
