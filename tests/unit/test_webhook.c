/* SPDX-License-Identifier: MIT */
/* test_webhook.c: the webhook's pure parts and the HMAC adapter. */
#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmac.h"
#include "webhook.h"
#include "webhook_priv.h"

START_TEST(test_url_placeholders_are_percent_encoded)
{
    char *u = webhook_expand_url("http://h/x/{kind}/{type}?to={to}&f={from}",
                                 "message", "chat", "bot@rest.localhost",
                                 "alice@localhost/a b&c");

    ck_assert_str_eq(u, "http://h/x/message/chat?to=bot%40rest%2Elocalhost"
                        "&f=alice%40localhost%2Fa%20b%26c");
    free(u);
}
END_TEST

/* Hostile values stay inside their segment: every '.', '/', '?', '#',
 * '%' and '\\' is encoded, so the path has exactly the template's segments
 * and none of them is "." or "..". */
START_TEST(test_url_values_never_form_dot_segments)
{
    static const struct {
        const char *type, *to, *from, *want;
    } cases[] = {
        {"..", "a@b", "c@d/e",
         "http://h/hook/message/%2E%2E/a%40b/c%40d%2Fe?x=1"},
        {".", ".", ".", "http://h/hook/message/%2E/%2E/%2E?x=1"},
        {"../../admin", "x@y/../z", "u@v/..",
         "http://h/hook/message/%2E%2E%2F%2E%2E%2Fadmin/x%40y%2F%2E%2E%2Fz/"
         "u%40v%2F%2E%2E?x=1"},
        {"%2e%2E", "a?b#c", "..\\..",
         "http://h/hook/message/%252e%252E/a%3Fb%23c/%2E%2E%5C%2E%2E?x=1"},
        {"...", "a.b", "./.",
         "http://h/hook/message/%2E%2E%2E/a%2Eb/%2E%2F%2E?x=1"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *u = webhook_expand_url("http://h/hook/{kind}/{type}/{to}/"
                                     "{from}?x=1",
                                     "message", cases[i].type, cases[i].to,
                                     cases[i].from);
        ck_assert_str_eq(u, cases[i].want);
        free(u);
    }
}
END_TEST

START_TEST(test_url_missing_values_expand_to_empty)
{
    char *u = webhook_expand_url("http://h/{kind}/{type}/{to}", "presence",
                                 NULL, NULL, NULL);

    ck_assert_str_eq(u, "http://h/presence//");
    free(u);
}
END_TEST

START_TEST(test_url_unknown_braces_are_kept)
{
    char *u = webhook_expand_url("http://h/{x}{kind}{", "iq", "get", "a", "b");

    ck_assert_str_eq(u, "http://h/{x}iq{");
    free(u);
}
END_TEST

/* One entry of the documented status -> stanza error mapping. */
struct doc_error {
    char type[32], cond[64];
};

/*
 * Read the "HTTP status → stanza error:" paragraph of doc/webhook.md into
 * doc[100..599] (status 0: "anything else"). Entries are separated by ';',
 * each "N, N, ... type/condition" or "anything else type/condition".
 * Returns how many statuses the paragraph names.
 */
static int read_doc_errors(struct doc_error doc[600])
{
    static const char head[] = "HTTP status \xe2\x86\x92 stanza error:";
    char path[1024], line[1024], para[4096] = "";
    const char *data = getenv("UNIT_DATA");
    bool in = false;
    int named = 0;
    char *save = NULL;
    FILE *f;

    ck_assert_ptr_nonnull(data);
    snprintf(path, sizeof(path), "%s/../../../doc/webhook.md", data);
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (!in && strncmp(line, head, strlen(head)) == 0) {
            in = true;
            strcat(para, line + strlen(head));
        } else if (in) {
            if (line[0] == '\n')
                break;
            ck_assert_uint_lt(strlen(para) + strlen(line), sizeof(para));
            strcat(para, line);
        }
    }
    fclose(f);
    ck_assert_msg(in, "no mapping paragraph in %s", path);
    for (char *p = para; *p != '\0'; p++)
        if (*p == '\n' || *p == '.')
            *p = ' ';
    for (char *e = strtok_r(para, ";", &save); e != NULL;
         e = strtok_r(NULL, ";", &save)) {
        char *slash = strrchr(e, '/'), *sp, *end;
        struct doc_error de;
        ck_assert_ptr_nonnull(slash);
        /* The last word is type/condition. */
        end = e + strlen(e);
        while (end > e && end[-1] == ' ')
            *--end = '\0';
        sp = strrchr(e, ' ');
        ck_assert_ptr_nonnull(sp);
        *slash = '\0';
        snprintf(de.type, sizeof(de.type), "%s", sp + 1);
        snprintf(de.cond, sizeof(de.cond), "%s", slash + 1);
        *sp = '\0';
        if (strstr(e, "anything else") != NULL) {
            doc[0] = de;
            continue;
        }
        for (char *n = e; *n != '\0';) {
            long status = strtol(n, &end, 10);
            if (end == n) {
                n++;
                continue;
            }
            ck_assert_int_ge(status, 100);
            ck_assert_int_le(status, 599);
            doc[status] = de;
            named++;
            n = end;
        }
    }
    ck_assert_msg(doc[0].type[0] != '\0', "no \"anything else\" entry");
    return named;
}

/* The expectations come from doc/webhook.md, not from a copy of the code's
 * table: the code and the documentation cannot drift apart. */
START_TEST(test_http_error_mapping_is_the_documented_one)
{
    static struct doc_error doc[600];
    int named = read_doc_errors(doc);

    /* The paragraph names 29 statuses (Prosody's net/http/errors.lua). */
    ck_assert_int_eq(named, 29);
    ck_assert_str_eq(doc[0].type, "cancel");
    ck_assert_str_eq(doc[0].cond, "undefined-condition");
    for (long status = 100; status <= 599; status++) {
        const struct doc_error *want =
            doc[status].type[0] != '\0' ? &doc[status] : &doc[0];
        const char *type = NULL, *cond = NULL;
        webhook_http_error(status, &type, &cond);
        ck_assert_msg(strcmp(type, want->type) == 0 &&
                          strcmp(cond, want->cond) == 0,
                      "%ld -> %s/%s, doc/webhook.md says %s/%s", status, type,
                      cond, want->type, want->cond);
    }
}
END_TEST

/* A few rows spelled out, so a doc edit that breaks the parser above (or
 * rewrites the mapping) is noticed: these are the ones mod_rest users see
 * most. */
START_TEST(test_http_error_common_statuses)
{
    static const struct {
        long status;
        const char *type, *cond;
    } cases[] = {
        {400, "modify", "bad-request"},
        {404, "cancel", "item-not-found"},
        {500, "wait", "internal-server-error"},
        {503, "cancel", "service-unavailable"},
        {418, "cancel", "undefined-condition"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *type, *cond;
        webhook_http_error(cases[i].status, &type, &cond);
        ck_assert_msg(strcmp(type, cases[i].type) == 0 &&
                          strcmp(cond, cases[i].cond) == 0,
                      "%ld -> %s/%s", cases[i].status, type, cond);
    }
}
END_TEST

/* mod_rest's error text is Prosody's status line, code included. */
START_TEST(test_status_text_is_the_status_line)
{
    static const struct {
        long status;
        const char *text;
    } cases[] = {
        {404, "404 Not Found"},
        {503, "503 Service Unavailable"},
        {422, "422 Unprocessable Entity"},
        {418, "418 I'm a teapot"},
        {302, "302 Found"},
        {499, "499 Unassigned"},
        {599, "599 Unassigned"},
    };
    char buf[64];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        webhook_status_text(cases[i].status, buf, sizeof(buf));
        ck_assert_str_eq(buf, cases[i].text);
    }
}
END_TEST

START_TEST(test_errors_and_results_are_never_answered)
{
    ck_assert_int_eq(
        webhook_decide("message", "error", false, 500, true, false),
        WEBHOOK_REPLY_NONE);
    ck_assert_int_eq(webhook_decide("iq", "result", false, 200, false, true),
                     WEBHOOK_REPLY_NONE);
    ck_assert_int_eq(webhook_decide("presence", "error", true, 0, true, false),
                     WEBHOOK_REPLY_NONE);
}
END_TEST

START_TEST(test_202_and_204_mean_done)
{
    ck_assert_int_eq(webhook_decide("message", "chat", false, 202, true, false),
                     WEBHOOK_REPLY_NONE);
    ck_assert_int_eq(webhook_decide("presence", NULL, false, 204, true, false),
                     WEBHOOK_REPLY_NONE);
    ck_assert_int_eq(webhook_decide("message", "chat", true, 202, true, false),
                     WEBHOOK_REPLY_RECEIPT);
    ck_assert_int_eq(webhook_decide("iq", "get", false, 204, true, false),
                     WEBHOOK_REPLY_EMPTY);
    /* Even with a stanza body: 202 means accepted, nothing more. */
    ck_assert_int_eq(webhook_decide("message", "chat", false, 202, false, true),
                     WEBHOOK_REPLY_NONE);
}
END_TEST

START_TEST(test_stanza_body_becomes_the_reply_whatever_the_status)
{
    ck_assert_int_eq(webhook_decide("message", "chat", false, 200, false, true),
                     WEBHOOK_REPLY_BODY);
    ck_assert_int_eq(webhook_decide("iq", "set", false, 400, false, true),
                     WEBHOOK_REPLY_BODY);
}
END_TEST

START_TEST(test_2xx_without_stanza)
{
    /* SPEC §5 fix: an empty 2xx on a message/presence sends nothing. */
    ck_assert_int_eq(webhook_decide("message", "chat", false, 200, true, false),
                     WEBHOOK_REPLY_NONE);
    ck_assert_int_eq(webhook_decide("message", NULL, true, 200, true, false),
                     WEBHOOK_REPLY_RECEIPT);
    ck_assert_int_eq(webhook_decide("iq", "get", false, 200, true, false),
                     WEBHOOK_REPLY_EMPTY);
    /* mod_rest's st.reply() for an unparseable non-empty body. */
    ck_assert_int_eq(
        webhook_decide("message", "chat", false, 200, false, false),
        WEBHOOK_REPLY_EMPTY);
}
END_TEST

START_TEST(test_other_statuses_are_errors)
{
    ck_assert_int_eq(
        webhook_decide("message", "chat", false, 404, false, false),
        WEBHOOK_REPLY_ERROR);
    ck_assert_int_eq(webhook_decide("iq", "get", false, 500, true, false),
                     WEBHOOK_REPLY_ERROR);
    ck_assert_int_eq(webhook_decide("presence", NULL, false, 301, true, false),
                     WEBHOOK_REPLY_ERROR);
}
END_TEST

/* RFC 4231 test cases 1, 2, 4, 6 and 7 (HMAC-SHA-256). */
START_TEST(test_hmac_sha256_rfc4231_vectors)
{
    unsigned char key1[20], key4[25], key6[131], data4[50];
    char hex[HMAC_SHA256_HEX_LEN];

    memset(key1, 0x0b, sizeof(key1));
    ck_assert_int_eq(hmac_sha256_hex(key1, sizeof(key1), "Hi There", 8, hex),
                     0);
    ck_assert_str_eq(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da7"
                          "26e9376c2e32cff7");

    ck_assert_int_eq(
        hmac_sha256_hex("Jefe", 4, "what do ya want for nothing?", 28, hex), 0);
    ck_assert_str_eq(hex, "5bdcc146bf60754e6a042426089575c75a003f089d273983"
                          "9dec58b964ec3843");

    for (size_t i = 0; i < sizeof(key4); i++)
        key4[i] = (unsigned char)(i + 1);
    memset(data4, 0xcd, sizeof(data4));
    ck_assert_int_eq(
        hmac_sha256_hex(key4, sizeof(key4), data4, sizeof(data4), hex), 0);
    ck_assert_str_eq(hex, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f807"
                          "7a2e3ff46729665b");

    memset(key6, 0xaa, sizeof(key6));
    ck_assert_int_eq(
        hmac_sha256_hex(key6, sizeof(key6),
                        "Test Using Larger Than Block-Size Key - Hash Key "
                        "First",
                        54, hex),
        0);
    ck_assert_str_eq(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c514"
                          "0546040f0ee37f54");

    const char *d7 = "This is a test using a larger than block-size key and "
                     "a larger than block-size data. The key needs to be "
                     "hashed before being used by the HMAC algorithm.";
    ck_assert_int_eq(hmac_sha256_hex(key6, sizeof(key6), d7, strlen(d7), hex),
                     0);
    ck_assert_str_eq(hex, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f071393"
                          "8a7f51535c3a35e2");
}
END_TEST

static Suite *webhook_suite(void)
{
    Suite *s = suite_create("webhook");
    TCase *tc = tcase_create("url");

    tcase_add_test(tc, test_url_placeholders_are_percent_encoded);
    tcase_add_test(tc, test_url_values_never_form_dot_segments);
    tcase_add_test(tc, test_url_missing_values_expand_to_empty);
    tcase_add_test(tc, test_url_unknown_braces_are_kept);
    suite_add_tcase(s, tc);

    tc = tcase_create("mapping");
    tcase_add_test(tc, test_http_error_mapping_is_the_documented_one);
    tcase_add_test(tc, test_http_error_common_statuses);
    tcase_add_test(tc, test_errors_and_results_are_never_answered);
    tcase_add_test(tc, test_202_and_204_mean_done);
    tcase_add_test(tc, test_stanza_body_becomes_the_reply_whatever_the_status);
    tcase_add_test(tc, test_2xx_without_stanza);
    tcase_add_test(tc, test_other_statuses_are_errors);
    tcase_add_test(tc, test_status_text_is_the_status_line);
    suite_add_tcase(s, tc);

    tc = tcase_create("hmac");
    tcase_add_test(tc, test_hmac_sha256_rfc4231_vectors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(webhook_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}
