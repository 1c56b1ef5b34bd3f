/* SPDX-License-Identifier: MIT */
/* test_refresh.c: POST /roster_admin/refresh and GET
 * /roster_admin/refresh/{user} over a real loopback httpd, as
 * doc/rosters.md and SPEC §6 describe them: 401/403 before anything else,
 * 400 in the common shape for bad lists, 503 while XMPP is down, and with a
 * (fake) server connected the per-user outcome of a web app that cannot be
 * reached. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "component.h"
#include "fake_xmpp.h"
#include "conf.h"
#include "delegation.h"
#include "dispatch.h"
#include "httpc.h"
#include "httpd.h"
#include "log.h"
#include "loop.h"
#include "loop_priv.h"
#include "refresh.h"
#include "roster.h"

#define DEADLINE_MS 4000
#define STREAM_ID FAKE_STREAM_ID
#define SECRET "s3cret-component"
#define TOKEN "roster-token-0123456789"
#define PATH "/roster_admin/refresh"

struct fx {
    char domain[32], jid[32], secret[32], host[16], xmpp_host[16];
    char token[64], url[96];
    struct conf conf;
    struct loop *loop;
    struct fake fake;
    struct httpd *httpd;
    struct httpc *httpc;
    struct component *c;
    struct delegation *d;
    struct dispatch *dp;
    struct roster *roster;
    struct refresh *f;
    char base[64];
    int stopped;
};

struct result {
    int calls;
    long status;
    char *body;
};

/* Settings only. with_roster: roster.url on a port nothing listens on. */
static void fx_init(struct fx *fx, bool with_roster)
{
    memset(fx, 0, sizeof(*fx));
    strcpy(fx->host, "127.0.0.1");
    strcpy(fx->xmpp_host, "127.0.0.1");
    strcpy(fx->domain, "example.org");
    strcpy(fx->jid, "rest.example.org");
    strcpy(fx->secret, SECRET);
    fx->conf.server.domain = fx->domain;
    fx->conf.server.host = fx->xmpp_host;
    fx->conf.component.jid = fx->jid;
    fx->conf.component.secret = fx->secret;
    fx->conf.component.keepalive = 60;
    fx->conf.component.max_stanza_size = 65536;
    fx->conf.component.queue_max = 1 << 20;
    fx->conf.http.listen_host = fx->host;
    fx->conf.http.listen_port = fake_free_port();
    fx->conf.http.listen_loopback = true;
    fx->conf.http.max_body = 1024;
    fx->conf.http.max_connections = 16;
    fx->conf.http.timeout = 5;
    fx->conf.http.header_timeout = 5;
    fx->conf.http.body_timeout = 5;
    if (with_roster) {
        snprintf(fx->url, sizeof(fx->url), "http://127.0.0.1:%u/roster/%%s",
                 fake_free_port());
        strcpy(fx->token, TOKEN);
        fx->conf.roster.url = fx->url;
        fx->conf.roster.token = fx->token;
        fx->conf.roster.writer = CONF_WRITER_AUTO;
        fx->conf.roster.timeout = 2;
        fx->conf.roster.concurrency = 2;
    }
    log_set_level(getenv("UNIT_DEBUG") != NULL ? LOG_LEVEL_DEBUG
                                               : LOG_LEVEL_ERROR);
    fx->loop = loop_new();
    ck_assert_ptr_nonnull(fx->loop);
    fake_start(&fx->fake, fx->loop);
    fx->conf.server.port = fx->fake.port;
    snprintf(fx->base, sizeof(fx->base), "http://127.0.0.1:%u",
             fx->conf.http.listen_port);
}

static void fx_open(struct fx *fx)
{
    fx->httpd = httpd_new(fx->loop, &fx->conf);
    ck_assert_ptr_nonnull(fx->httpd);
    fx->httpc = httpc_new(fx->loop, 4);
    fx->c = component_new(fx->loop, &fx->conf);
    fx->d = delegation_new();
    fx->dp = dispatch_new(fx->c, fx->d, &fx->conf);
    fx->roster = roster_new(fx->loop, fx->c, fx->dp, fx->d, &fx->conf);
    fx->f = refresh_new(fx->httpd, fx->roster, &fx->conf);
}

static void on_stopped(void *arg)
{
    ((struct fx *)arg)->stopped++;
}

static void fx_stop(struct fx *fx)
{
    uint64_t end = loop_clock_ms() + DEADLINE_MS;

    refresh_free(fx->f);
    roster_free(fx->roster);
    dispatch_free(fx->dp);
    httpc_free(fx->httpc);
    httpd_free(fx->httpd);
    /* component_free() needs a stopped stream (see test_component.c). */
    component_stop(fx->c, on_stopped, fx);
    while (fx->stopped == 0 && loop_clock_ms() < end)
        ck_assert_int_eq(loop_run_once(fx->loop, 50), 0);
    ck_assert_int_eq(fx->stopped, 1);
    component_free(fx->c);
    delegation_free(fx->d);
    fake_stop(&fx->fake);
    loop_free(fx->loop);
}

static void connect_component(struct fx *fx)
{
    uint64_t end = loop_clock_ms() + DEADLINE_MS;

    component_start(fx->c);
    while (component_state(fx->c) != COMPONENT_CONNECTED &&
           loop_clock_ms() < end)
        ck_assert_int_eq(loop_run_once(fx->loop, 50), 0);
    ck_assert_int_eq(component_state(fx->c), COMPONENT_CONNECTED);
}

static void on_result(const struct httpc_response *resp, void *arg)
{
    struct result *r = arg;

    r->calls++;
    r->status = resp->status;
    r->body = strndup(resp->body, resp->len);
}

static void result_clear(struct result *r)
{
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* One request (POST when body is set); auth is the Authorization value or
 * NULL. Runs the loop until the answer is in. */
static void request(struct fx *fx, const char *path, const char *auth,
                    const char *body, struct result *r)
{
    char url[256], hdr[256];
    const char *headers[] = {"Content-Type: application/json", NULL, NULL};
    struct httpc_request req = {
        .url = url, .headers = headers, .timeout_ms = DEADLINE_MS};
    uint64_t end = loop_clock_ms() + DEADLINE_MS + 500;

    result_clear(r);
    snprintf(url, sizeof(url), "%s%s", fx->base, path);
    if (auth != NULL) {
        snprintf(hdr, sizeof(hdr), "Authorization: %s", auth);
        headers[1] = hdr;
    }
    if (body != NULL) {
        req.method = "POST";
        req.body = body;
        req.body_len = strlen(body);
    }
    ck_assert_ptr_nonnull(httpc_start(fx->httpc, &req, on_result, r));
    while (r->calls == 0 && loop_clock_ms() < end)
        ck_assert_int_eq(loop_run_once(fx->loop, 50), 0);
    ck_assert_int_eq(r->calls, 1);
}

static json_object *member(json_object *o, const char *key)
{
    json_object *v = NULL;

    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s in %s", key,
                  json_object_to_json_string(o));
    return v;
}

/* The refresh answer shape of doc/rosters.md; returns the parsed object. */
static json_object *answer(const struct result *r, const char *status,
                           int64_t updated, int64_t errors)
{
    json_object *o = json_tokener_parse(r->body);

    ck_assert_msg(o != NULL && json_object_is_type(o, json_type_object),
                  "not a JSON object: %s", r->body);
    ck_assert_str_eq(json_object_get_string(member(o, "status")), status);
    ck_assert(json_object_is_type(member(o, "message"), json_type_string));
    ck_assert(json_object_is_type(member(o, "updated"), json_type_int));
    ck_assert_int_eq(json_object_get_int64(member(o, "updated")), updated);
    ck_assert(json_object_is_type(member(o, "errors"), json_type_int));
    ck_assert_int_eq(json_object_get_int64(member(o, "errors")), errors);
    return o;
}

/* The common JSON error of an auth denial. */
static void check_auth_error(const struct result *r, long code)
{
    json_object *o = json_tokener_parse(r->body);
    json_object *e;

    ck_assert_int_eq(r->status, code);
    ck_assert_msg(o != NULL, "not JSON: %s", r->body);
    ck_assert_str_eq(json_object_get_string(member(o, "type")), "error");
    e = member(o, "error");
    ck_assert_str_eq(json_object_get_string(member(e, "type")), "auth");
    ck_assert_str_eq(json_object_get_string(member(e, "condition")),
                     "not-authorized");
    json_object_put(o);
}

START_TEST(test_without_roster_feature_there_is_no_route)
{
    struct fx fx;
    struct result r = {0};

    fx_init(&fx, false);
    fx_open(&fx);
    ck_assert_ptr_null(fx.roster);
    ck_assert_ptr_null(fx.f);
    request(&fx, PATH, "Bearer " TOKEN, "[\"alice\"]", &r);
    ck_assert_int_eq(r.status, 404);
    request(&fx, PATH "/alice", "Bearer " TOKEN, NULL, &r);
    ck_assert_int_eq(r.status, 404);
    result_clear(&r);
    fx_stop(&fx);
}
END_TEST

/* "401 without a token, 403 with a wrong one", whatever the body and
 * whether XMPP is up. */
START_TEST(test_auth_comes_first)
{
    struct fx fx;
    struct result r = {0};

    fx_init(&fx, true);
    fx_open(&fx);
    request(&fx, PATH, NULL, "[\"alice\"]", &r);
    check_auth_error(&r, 401);
    request(&fx, PATH, NULL, "not json", &r);
    check_auth_error(&r, 401);
    request(&fx, PATH, "Basic YWxpY2U6c2VjcmV0", "[\"alice\"]", &r);
    check_auth_error(&r, 401);
    request(&fx, PATH, "Bearer wrong-token-0123456789", "[\"alice\"]", &r);
    check_auth_error(&r, 403);
    request(&fx, PATH, "Bearer wrong-token-0123456789", "{}", &r);
    check_auth_error(&r, 403);
    request(&fx, PATH "/alice", NULL, NULL, &r);
    check_auth_error(&r, 401);
    request(&fx, PATH "/alice", "Bearer " TOKEN "x", NULL, &r);
    check_auth_error(&r, 403);
    result_clear(&r);
    fx_stop(&fx);
}
END_TEST

/* "400 (same JSON shape) for anything but an array of such strings"
 * (usernames or bare JIDs of server.domain), before readiness. */
START_TEST(test_bad_lists_are_400_in_the_answer_shape)
{
    static const char *const bodies[] = {
        "",
        "not json",
        "{}",
        "{\"users\":[\"alice\"]}",
        "\"alice\"",
        "[1]",
        "[\"alice\",null]",
        "[[\"alice\"]]",
        "[\"\"]",
        "[\"alice@other.org\"]",
        "[\"alice@example.org/phone\"]",
        "[\"alice\",\"bob@example.org\",\"carol@example.net\"]",
        "[\"alice\"",
    };
    struct fx fx;
    struct result r = {0};

    fx_init(&fx, true);
    fx_open(&fx);
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        json_object *o;
        request(&fx, PATH, "Bearer " TOKEN, bodies[i], &r);
        ck_assert_msg(r.status == 400, "body '%s' -> %ld", bodies[i], r.status);
        o = answer(&r, "error", 0, 0);
        json_object_put(o);
    }
    /* GET: a full JID or another domain's is no user of ours. */
    request(&fx, PATH "/alice@other.org", "Bearer " TOKEN, NULL, &r);
    ck_assert_int_eq(r.status, 400);
    json_object_put(answer(&r, "error", 0, 0));
    result_clear(&r);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_body_over_max_body_is_413)
{
    struct fx fx;
    struct result r = {0};
    char body[2048];
    size_t n = 0;

    fx_init(&fx, true);
    fx_open(&fx);
    body[n++] = '[';
    while (n < 1500)
        n += (size_t)snprintf(body + n, sizeof(body) - n, "\"user%zu\",", n);
    body[n - 1] = ']';
    body[n] = '\0';
    request(&fx, PATH, "Bearer " TOKEN, body, &r);
    ck_assert_int_eq(r.status, 413);
    result_clear(&r);
    fx_stop(&fx);
}
END_TEST

/* "503 while the XMPP stream is down": a good list, nobody connected. */
START_TEST(test_xmpp_down_is_503)
{
    struct fx fx;
    struct result r = {0};

    fx_init(&fx, true);
    fx_open(&fx);
    request(&fx, PATH, "Bearer " TOKEN, "[\"alice\", \"bob@example.org\"]", &r);
    ck_assert_int_eq(r.status, 503);
    json_object_put(answer(&r, "error", 0, 0));
    request(&fx, PATH "/alice", "Bearer " TOKEN, NULL, &r);
    ck_assert_int_eq(r.status, 503);
    json_object_put(answer(&r, "error", 0, 0));
    /* Nothing was fetched. */
    ck_assert_uint_eq(roster_in_flight(fx.roster), 0);
    result_clear(&r);
    fx_stop(&fx);
}
END_TEST

/* "[] gives 200 with zeros." */
START_TEST(test_empty_list_is_200_with_zeros)
{
    struct fx fx;
    struct result r = {0};

    fx_init(&fx, true);
    fx_open(&fx);
    connect_component(&fx);
    request(&fx, PATH, "Bearer " TOKEN, "[]", &r);
    ck_assert_int_eq(r.status, 200);
    json_object_put(answer(&r, "ok", 0, 0));
    result_clear(&r);
    fx_stop(&fx);
}
END_TEST

/* The web app cannot be reached: each user fails, is listed in "failed"
 * with a reason, and status is "error" because every user failed; the
 * answer is still 200. A username and its bare JID are the same user. */
START_TEST(test_unreachable_web_app_lists_every_user_as_failed)
{
    struct fx fx;
    struct result r = {0};
    json_object *o, *failed;

    fx_init(&fx, true);
    fx_open(&fx);
    connect_component(&fx);
    request(&fx, PATH, "Bearer " TOKEN,
            "[\"alice\", \"bob@example.org\", \"alice@example.org\"]", &r);
    ck_assert_int_eq(r.status, 200);
    o = answer(&r, "error", 0, 2);
    failed = member(o, "failed");
    ck_assert(json_object_is_type(failed, json_type_object));
    ck_assert_int_eq(json_object_object_length(failed), 2);
    ck_assert(json_object_is_type(member(failed, "alice"), json_type_string));
    ck_assert(json_object_is_type(member(failed, "bob"), json_type_string));
    ck_assert_int_gt(json_object_get_string_len(member(failed, "alice")), 0);
    ck_assert_str_eq(json_object_get_string(member(o, "message")),
                     "2 of 2 users failed");
    json_object_put(o);
    /* GET refreshes one user the same way. */
    request(&fx, PATH "/carol", "Bearer " TOKEN, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    o = answer(&r, "error", 0, 1);
    ck_assert(json_object_is_type(member(member(o, "failed"), "carol"),
                                  json_type_string));
    json_object_put(o);
    result_clear(&r);
    fx_stop(&fx);
}
END_TEST

/* refresh.h: requests still waiting when the endpoint is freed (shutdown)
 * are answered 503 at once, not left hanging. The web app here accepts
 * connections (backlog) and never answers. */
START_TEST(test_free_answers_waiting_requests_503)
{
    struct fx fx;
    struct result r = {0};
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    char url[256];
    const char *headers[] = {"Authorization: Bearer " TOKEN, NULL};
    struct httpc_request req = {.method = "POST",
                                .url = url,
                                .headers = headers,
                                .body = "[\"alice\"]",
                                .body_len = 9,
                                .timeout_ms = DEADLINE_MS};
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    uint64_t end;

    ck_assert_int_ge(lfd, 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
    ck_assert_int_eq(listen(lfd, 8), 0);
    fx_init(&fx, true);
    snprintf(fx.url, sizeof(fx.url), "http://127.0.0.1:%u/roster/%%s",
             ntohs(sin.sin_port));
    fx_open(&fx);
    connect_component(&fx);
    snprintf(url, sizeof(url), "%s%s", fx.base, PATH);
    ck_assert_ptr_nonnull(httpc_start(fx.httpc, &req, on_result, &r));
    end = loop_clock_ms() + DEADLINE_MS;
    while (httpd_parked(fx.httpd) == 0 && loop_clock_ms() < end)
        ck_assert_int_eq(loop_run_once(fx.loop, 50), 0);
    ck_assert_uint_eq(httpd_parked(fx.httpd), 1);
    ck_assert_int_eq(r.calls, 0);
    refresh_free(fx.f);
    fx.f = NULL;
    end = loop_clock_ms() + 1000;
    while (r.calls == 0 && loop_clock_ms() < end)
        ck_assert_int_eq(loop_run_once(fx.loop, 50), 0);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.status, 503);
    json_object_put(answer(&r, "error", 0, 0));
    result_clear(&r);
    fx_stop(&fx);
    close(lfd);
}
END_TEST

static Suite *refresh_suite(void)
{
    Suite *s = suite_create("refresh");
    TCase *tc = tcase_create("http");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_without_roster_feature_there_is_no_route);
    tcase_add_test(tc, test_auth_comes_first);
    tcase_add_test(tc, test_bad_lists_are_400_in_the_answer_shape);
    tcase_add_test(tc, test_body_over_max_body_is_413);
    tcase_add_test(tc, test_xmpp_down_is_503);
    tcase_add_test(tc, test_empty_list_is_200_with_zeros);
    tcase_add_test(tc, test_unreachable_web_app_lists_every_user_as_failed);
    tcase_add_test(tc, test_free_answers_waiting_requests_503);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(refresh_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}
