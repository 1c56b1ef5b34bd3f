/* SPDX-License-Identifier: MIT */
/* test_doctor.c: unit tests for the --doctor checklist (facts in, lines out).
 */
#include "config.h"

#include "doctor.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_priv.h"
#include "log.h"
#include "strmap.h"
#include "xmalloc.h"

#define BASE                                                                   \
    "[server]\ndomain = example.org\n"                                         \
    "[component]\njid = rest.example.org\nsecret = s3cret\n"

static struct strmap *privs;
static struct strmap *nss;
static struct doctor_facts facts;
static struct conf *conf;
static struct doctor_report *rep;
static char marker;

static void setup(void)
{
    privs = strmap_new(free);
    nss = strmap_new(NULL);
    memset(&facts, 0, sizeof(facts));
    facts.connected = true;
    snprintf(facts.server, sizeof(facts.server), "127.0.0.1:5347");
    facts.privileges = privs;
    facts.namespaces = nss;
}

static void teardown(void)
{
    doctor_free(rep);
    rep = NULL;
    conf_free(conf);
    conf = NULL;
    strmap_free(privs);
    strmap_free(nss);
}

static void use_conf(const char *extra)
{
    char *text = xasprintf("%s%s", BASE, extra);

    conf = conf_parse(text, strlen(text), "test.conf", stderr);
    free(text);
    ck_assert_ptr_nonnull(conf);
}

static void grant(const char *access, const char *type)
{
    strmap_set(privs, access, xstrdup(type));
}

static void prosody(void)
{
    snprintf(facts.priv_ns, sizeof(facts.priv_ns), "urn:xmpp:privilege:2");
}

static void ejabberd(void)
{
    snprintf(facts.priv_ns, sizeof(facts.priv_ns), "urn:xmpp:privilege:1");
}

/* The line whose check is `check` (the n-th such, from 0), or fail. */
static const struct doctor_line *line_n(const char *check, int n)
{
    for (size_t i = 0; i < rep->n; i++)
        if (strcmp(rep->lines[i].check, check) == 0 && n-- == 0)
            return &rep->lines[i];
    ck_abort_msg("no line '%s'", check);
    return NULL;
}

static const struct doctor_line *line(const char *check)
{
    return line_n(check, 0);
}

static bool has_line(const char *check)
{
    for (size_t i = 0; i < rep->n; i++)
        if (strcmp(rep->lines[i].check, check) == 0)
            return true;
    return false;
}

static void run(void)
{
    rep = doctor_check(conf, &facts);
}

START_TEST(test_healthy_prosody_has_no_warn_or_fail)
{
    use_conf("[roster]\nurl = http://127.0.0.1:1/r/%s\ntoken = "
             "0123456789abcdef\n[webhook]\nurl = http://127.0.0.1:1/h\n");
    prosody();
    grant("roster", "both");
    grant("message", "outgoing");
    grant("presence", "managed_entity");
    strmap_set(nss, "urn:example:x", &marker);
    facts.webhook.ran = true;
    facts.webhook.status = 200;
    facts.roster_app.ran = true;
    facts.roster_app.status = 200;
    facts.roster_app.body_is_object = true;
    run();
    ck_assert_uint_eq(doctor_count(rep, DOCTOR_WARN), 0);
    ck_assert_uint_eq(doctor_count(rep, DOCTOR_FAIL), 0);
    ck_assert_str_eq(line("server")->text,
                     "Prosody (software not told (XEP-0092), privilege ns "
                     "urn:xmpp:privilege:2)");
    ck_assert_str_eq(line("delegation")->text,
                     "urn:example:x served by the webhook");
}
END_TEST

START_TEST(test_refused_handshake_fails_with_secret_fix_and_skips_xmpp)
{
    use_conf("");
    facts.connected = false;
    snprintf(facts.last_error, sizeof(facts.last_error),
             "not-authorized: handshake refused");
    run();
    ck_assert_int_eq(line("handshake")->level, DOCTOR_FAIL);
    ck_assert_ptr_nonnull(strstr(line("handshake")->fix, "component.secret"));
    ck_assert(!has_line("privilege roster"));
    ck_assert_uint_eq(doctor_count(rep, DOCTOR_FAIL), 1);
}
END_TEST

START_TEST(test_unreachable_server_names_the_port_settings)
{
    use_conf("");
    facts.connected = false;
    snprintf(facts.last_error, sizeof(facts.last_error),
             "connection failed or closed");
    run();
    ck_assert_ptr_nonnull(strstr(line("handshake")->fix, "server.port"));
    ck_assert_str_eq(line("handshake")->text,
                     "no stream to 127.0.0.1:5347: connection failed or "
                     "closed");
}
END_TEST

START_TEST(test_privilege_writer_without_roster_both_fails)
{
    use_conf("[roster]\nurl = http://127.0.0.1:1/r/%s\ntoken = "
             "0123456789abcdef\nwriter = privilege\n");
    prosody();
    grant("roster", "set");
    run();
    ck_assert_int_eq(line("privilege roster")->level, DOCTOR_FAIL);
}
END_TEST

START_TEST(test_auto_writer_without_roster_privilege_warns_none)
{
    use_conf("[roster]\nurl = http://127.0.0.1:1/r/%s\ntoken = "
             "0123456789abcdef\n");
    prosody();
    run();
    ck_assert_int_eq(line("privilege roster")->level, DOCTOR_WARN);
    ck_assert_int_eq(doctor_effective_writer(conf, &facts), CONF_WRITER_NONE);
}
END_TEST

START_TEST(test_ejabberd_with_privilege_writer_fails_with_api_fix)
{
    use_conf("[roster]\nurl = http://127.0.0.1:1/r/%s\ntoken = "
             "0123456789abcdef\n");
    ejabberd();
    grant("roster", "both");
    run();
    ck_assert_int_eq(doctor_server_kind(&facts), DOCTOR_SERVER_EJABBERD);
    ck_assert_int_eq(doctor_effective_writer(conf, &facts),
                     CONF_WRITER_PRIVILEGE);
    ck_assert_int_eq(line("quirk ejabberd roster")->level, DOCTOR_FAIL);
    ck_assert_ptr_nonnull(
        strstr(line("quirk ejabberd roster")->fix, "ejabberd-api"));
}
END_TEST

START_TEST(test_ejabberd_api_writer_has_no_quirk_and_checks_the_api)
{
    use_conf("[roster]\nurl = http://127.0.0.1:1/r/%s\ntoken = "
             "0123456789abcdef\nwriter = ejabberd-api\napi_url = "
             "http://127.0.0.1:2/api\napi_user = admin@example.org\n"
             "api_password = pw\n");
    ejabberd();
    grant("roster", "both");
    facts.api.ran = true;
    facts.api.status = 401;
    run();
    ck_assert(!has_line("quirk ejabberd roster"));
    ck_assert_int_eq(line("privilege roster")->level, DOCTOR_OK);
    ck_assert_int_eq(line("ejabberd api")->level, DOCTOR_FAIL);
}
END_TEST

START_TEST(test_newer_ejabberd_version_only_warns)
{
    use_conf("[roster]\nurl = http://127.0.0.1:1/r/%s\ntoken = "
             "0123456789abcdef\n");
    snprintf(facts.software, sizeof(facts.software), "ejabberd");
    snprintf(facts.version, sizeof(facts.version), "24.02");
    grant("roster", "both");
    run();
    ck_assert_int_eq(line("quirk ejabberd roster")->level, DOCTOR_WARN);
}
END_TEST

START_TEST(test_prosody_roster_delegation_warns_about_pushes)
{
    use_conf("[roster]\nurl = http://127.0.0.1:1/r/%s\ntoken = "
             "0123456789abcdef\n");
    prosody();
    grant("roster", "both");
    strmap_set(nss, "jabber:iq:roster", &marker);
    run();
    ck_assert_int_eq(line("quirk prosody roster delegation")->level,
                     DOCTOR_WARN);
    ck_assert_int_eq(line("delegation")->level, DOCTOR_OK);
}
END_TEST

START_TEST(test_delegations_without_their_feature_fail)
{
    use_conf("");
    ejabberd();
    strmap_set(nss, "jabber:iq:roster", &marker);
    strmap_set(nss, "urn:example:x", &marker);
    run();
    ck_assert_int_eq(line_n("delegation", 0)->level, DOCTOR_FAIL);
    ck_assert_ptr_nonnull(strstr(line_n("delegation", 0)->text, "roster.url"));
    ck_assert_int_eq(line_n("delegation", 1)->level, DOCTOR_FAIL);
    ck_assert_ptr_nonnull(
        strstr(line_n("delegation", 1)->text, "feature-not-implemented"));
}
END_TEST

START_TEST(test_send_as_user_token_needs_message_privilege)
{
    use_conf("[rest]\ntokens = 0123456789abcdef alice@example.org\n");
    prosody();
    run();
    ck_assert_int_eq(line("privilege message")->level, DOCTOR_FAIL);
    doctor_free(rep);
    grant("message", "outgoing");
    run();
    ck_assert_int_eq(line("privilege message")->level, DOCTOR_OK);
}
END_TEST

START_TEST(test_bot_token_does_not_need_message_privilege)
{
    use_conf("[rest]\ntokens = 0123456789abcdef bot@rest.example.org\n");
    prosody();
    run();
    ck_assert_int_eq(line("privilege message")->level, DOCTOR_OK);
}
END_TEST

START_TEST(test_login_sync_without_presence_privilege_warns)
{
    use_conf("[roster]\nurl = http://127.0.0.1:1/r/%s\ntoken = "
             "0123456789abcdef\n");
    prosody();
    grant("roster", "both");
    run();
    ck_assert_int_eq(line("privilege presence")->level, DOCTOR_WARN);
}
END_TEST

START_TEST(test_prosody_mam_permission_is_a_known_quirk)
{
    use_conf("");
    prosody();
    grant("iq:urn:xmpp:mam:2", "get");
    run();
    ck_assert_int_eq(line("quirk prosody mam")->level, DOCTOR_WARN);
}
END_TEST

START_TEST(test_unreachable_webhook_fails_and_5xx_warns)
{
    use_conf("[webhook]\nurl = http://127.0.0.1:1/h\n");
    facts.webhook.ran = true;
    facts.webhook.failed = true;
    snprintf(facts.webhook.error, sizeof(facts.webhook.error),
             "Couldn't connect to server");
    run();
    ck_assert_int_eq(line("webhook")->level, DOCTOR_FAIL);
    ck_assert_str_eq(line("webhook")->text,
                     "OPTIONS http://127.0.0.1:1/h: Couldn't connect to "
                     "server");
    doctor_free(rep);
    facts.webhook.failed = false;
    facts.webhook.status = 503;
    run();
    ck_assert_int_eq(line("webhook")->level, DOCTOR_WARN);
}
END_TEST

START_TEST(test_roster_app_answers_are_judged)
{
    use_conf("[roster]\nurl = http://127.0.0.1:1/r/%s\ntoken = "
             "0123456789abcdef\nwriter = none\n");
    facts.roster_app.ran = true;
    facts.roster_app.status = 200;
    run();
    ck_assert_int_eq(line("roster app")->level, DOCTOR_FAIL);
    doctor_free(rep);
    facts.roster_app.status = 404;
    run();
    ck_assert_int_eq(line("roster app")->level, DOCTOR_OK);
    doctor_free(rep);
    facts.roster_app.status = 403;
    run();
    ck_assert_int_eq(line("roster app")->level, DOCTOR_FAIL);
}
END_TEST

START_TEST(test_print_shows_levels_fixes_and_summary)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    use_conf("");
    facts.connected = false;
    snprintf(facts.last_error, sizeof(facts.last_error), "host-unknown: x");
    run();
    doctor_print(rep, f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "FAIL  handshake: no stream to "
                                      "127.0.0.1:5347: host-unknown: x\n"
                                      "      fix: the server has no "));
    ck_assert_ptr_nonnull(strstr(buf, "\n1 OK, 0 WARN, 1 FAIL\n"));
    free(buf);
}
END_TEST

static Suite *doctor_suite(void)
{
    Suite *s = suite_create("doctor");
    TCase *tc = tcase_create("checks");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_healthy_prosody_has_no_warn_or_fail);
    tcase_add_test(tc,
                   test_refused_handshake_fails_with_secret_fix_and_skips_xmpp);
    tcase_add_test(tc, test_unreachable_server_names_the_port_settings);
    tcase_add_test(tc, test_privilege_writer_without_roster_both_fails);
    tcase_add_test(tc, test_auto_writer_without_roster_privilege_warns_none);
    tcase_add_test(tc, test_ejabberd_with_privilege_writer_fails_with_api_fix);
    tcase_add_test(tc,
                   test_ejabberd_api_writer_has_no_quirk_and_checks_the_api);
    tcase_add_test(tc, test_newer_ejabberd_version_only_warns);
    tcase_add_test(tc, test_prosody_roster_delegation_warns_about_pushes);
    tcase_add_test(tc, test_delegations_without_their_feature_fail);
    tcase_add_test(tc, test_send_as_user_token_needs_message_privilege);
    tcase_add_test(tc, test_bot_token_does_not_need_message_privilege);
    tcase_add_test(tc, test_login_sync_without_presence_privilege_warns);
    tcase_add_test(tc, test_prosody_mam_permission_is_a_known_quirk);
    tcase_add_test(tc, test_unreachable_webhook_fails_and_5xx_warns);
    tcase_add_test(tc, test_roster_app_answers_are_judged);
    tcase_add_test(tc, test_print_shows_levels_fixes_and_summary);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(doctor_suite());
    int failed;

    log_set_level(LOG_LEVEL_ERROR);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}
