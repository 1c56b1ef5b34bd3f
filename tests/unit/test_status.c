/* SPDX-License-Identifier: MIT */
/* test_status.c: GET /status and GET /metrics as SPEC §7 and restanza(8)
 * describe them, over a real loopback httpd in one loop. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fake_xmpp.h"
#include "component.h"
#include "conf.h"
#include "delegation.h"
#include "dispatch.h"
#include "httpc.h"
#include "httpd.h"
#include "log.h"
#include "loop.h"
#include "loop_priv.h"
#include "metrics.h"
#include "roster.h"
#include "status.h"
#include "status_priv.h"

#define DEADLINE_MS 3000
#define ADMIN_TOKEN "admin-token-0123456789"

/* One loop with the status routes on a free loopback port and a client. */
struct fx {
    char host[16], domain[32], jid[32], secret[16], xmpp_host[16];
    char token[64], roster_url[64];
    struct conf conf;
    struct loop *loop;
    struct httpd *httpd;
    struct httpc *httpc;
    struct component *c;
    struct delegation *d;
    struct dispatch *dp;
    struct roster *roster;
    struct status *s;
    char base[64];
};

struct result {
    int calls;
    long status;
    char *content_type;
    char *body;
};

/* Settings only: a component that is never started (so "disconnected"). */
static void fx_init(struct fx *fx)
{
    memset(fx, 0, sizeof(*fx));
    strcpy(fx->host, "127.0.0.1");
    strcpy(fx->xmpp_host, "127.0.0.1");
    strcpy(fx->domain, "example.org");
    strcpy(fx->jid, "rest.example.org");
    strcpy(fx->secret, "s3cret");
    fx->conf.server.domain = fx->domain;
    fx->conf.server.host = fx->xmpp_host;
    fx->conf.server.port = 5347;
    fx->conf.component.jid = fx->jid;
    fx->conf.component.secret = fx->secret;
    fx->conf.component.keepalive = 60;
    fx->conf.component.max_stanza_size = 65536;
    fx->conf.component.queue_max = 1 << 20;
    fx->conf.http.listen_host = fx->host;
    fx->conf.http.listen_port = fake_free_port();
    fx->conf.http.listen_loopback = true;
    fx->conf.http.max_body = 4096;
    fx->conf.http.max_connections = 37;
    fx->conf.http.timeout = 2;
    fx->conf.http.header_timeout = 5;
    fx->conf.http.body_timeout = 5;
    fx->conf.webhook.queue_max = 123;
    fx->conf.roster.timeout = 2;
    fx->conf.roster.concurrency = 2;
    fx->conf.log.level =
        getenv("UNIT_DEBUG") != NULL ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR;
    log_set_level(fx->conf.log.level);
    snprintf(fx->base, sizeof(fx->base), "http://127.0.0.1:%u",
             fx->conf.http.listen_port);
}

static void fx_open(struct fx *fx)
{
    fx->loop = loop_new();
    ck_assert_ptr_nonnull(fx->loop);
    fx->httpd = httpd_new(fx->loop, &fx->conf);
    ck_assert_ptr_nonnull(fx->httpd);
    fx->httpc = httpc_new(fx->loop, 4);
    fx->c = component_new(fx->loop, &fx->conf);
    fx->d = delegation_new();
    fx->dp = dispatch_new(fx->c, fx->d, &fx->conf);
    fx->roster = roster_new(fx->loop, fx->c, fx->dp, fx->d, &fx->conf);
    fx->s = status_new(fx->httpd, fx->c, fx->d, &fx->conf);
    status_set_roster(fx->s, fx->roster);
}

static void fx_stop(struct fx *fx)
{
    status_free(fx->s);
    roster_free(fx->roster);
    dispatch_free(fx->dp);
    httpc_free(fx->httpc);
    httpd_free(fx->httpd);
    component_free(fx->c);
    delegation_free(fx->d);
    loop_free(fx->loop);
}

static void on_result(const struct httpc_response *resp, void *arg)
{
    struct result *r = arg;

    r->calls++;
    r->status = resp->status;
    r->content_type =
        resp->content_type != NULL ? strdup(resp->content_type) : NULL;
    r->body = strndup(resp->body, resp->len);
}

static void result_clear(struct result *r)
{
    free(r->content_type);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* GET path with an optional Authorization header; runs the loop until
 * the answer is in. */
static void get(struct fx *fx, const char *path, const char *auth,
                struct result *r)
{
    char url[256], hdr[256];
    const char *headers[] = {hdr, NULL};
    struct httpc_request req = {.url = url, .timeout_ms = 2000};
    uint64_t end = loop_clock_ms() + DEADLINE_MS;

    result_clear(r);
    snprintf(url, sizeof(url), "%s%s", fx->base, path);
    if (auth != NULL) {
        snprintf(hdr, sizeof(hdr), "Authorization: %s", auth);
        req.headers = headers;
    }
    ck_assert_ptr_nonnull(httpc_start(fx->httpc, &req, on_result, r));
    while (r->calls == 0 && loop_clock_ms() < end)
        ck_assert_int_eq(loop_run_once(fx->loop, 100), 0);
    ck_assert_int_eq(r->calls, 1);
}

/* The member at a dotted path ("xmpp.state"), which must exist. */
static json_object *at(json_object *root, const char *path)
{
    char buf[128], *save = NULL;
    json_object *o = root;

    snprintf(buf, sizeof(buf), "%s", path);
    for (char *k = strtok_r(buf, ".", &save); k != NULL;
         k = strtok_r(NULL, ".", &save)) {
        json_object *next = NULL;
        ck_assert_msg(json_object_is_type(o, json_type_object) &&
                          json_object_object_get_ex(o, k, &next),
                      "no member %s in %s", path,
                      json_object_to_json_string(root));
        o = next;
    }
    return o;
}

static const char *str_at(json_object *root, const char *path)
{
    json_object *o = at(root, path);

    ck_assert_msg(json_object_is_type(o, json_type_string), "%s not a string",
                  path);
    return json_object_get_string(o);
}

static int64_t int_at(json_object *root, const char *path)
{
    json_object *o = at(root, path);

    ck_assert_msg(json_object_is_type(o, json_type_int), "%s not an integer",
                  path);
    return json_object_get_int64(o);
}

static json_object *parse(const char *text)
{
    json_object *o = json_tokener_parse(text);

    ck_assert_msg(o != NULL && json_object_is_type(o, json_type_object),
                  "not a JSON object: %s", text);
    return o;
}

/* What SPEC §7 and restanza(8) promise of a component that never
 * connected, whatever else is configured. */
static void check_disconnected_document(struct fx *fx, json_object *st,
                                        time_t t0, time_t t1)
{
    int64_t since;

    ck_assert_str_eq(str_at(st, "version"), PACKAGE_VERSION);
    ck_assert_str_eq(str_at(st, "xmpp.state"), "disconnected");
    ck_assert_str_eq(str_at(st, "xmpp.component"), "rest.example.org");
    ck_assert_str_eq(str_at(st, "xmpp.server"), "127.0.0.1:5347");
    ck_assert_str_eq(str_at(st, "xmpp.domain"), "example.org");
    since = int_at(st, "xmpp.since");
    ck_assert_int_ge(since, (int64_t)t0);
    ck_assert_int_le(since, (int64_t)t1);
    /* Never failed: no text yet (null, not a missing member). */
    ck_assert(json_object_is_type(at(st, "xmpp.last_error"), json_type_null));
    ck_assert_int_eq(int_at(st, "xmpp.reconnects"), 0);
    ck_assert_int_eq(int_at(st, "xmpp.pending_iqs"), 0);
    /* "Both are empty while disconnected." */
    ck_assert(json_object_is_type(at(st, "delegations"), json_type_object));
    ck_assert_int_eq(json_object_object_length(at(st, "delegations")), 0);
    ck_assert(json_object_is_type(at(st, "privileges"), json_type_object));
    ck_assert_int_eq(json_object_object_length(at(st, "privileges")), 0);
    /* SPEC: "webhook": {"queued": N, "in_flight": N}, even with none. */
    ck_assert_int_eq(int_at(st, "webhook.queued"), 0);
    ck_assert_int_eq(int_at(st, "webhook.in_flight"), 0);
    ck_assert_int_eq(int_at(st, "http.parked"), 0);
    (void)fx;
}

START_TEST(test_status_json_of_a_disconnected_component)
{
    struct fx fx;
    time_t t0 = time(NULL), t1;
    json_object *st, *unused;
    size_t len = 0;
    char *text;

    fx_init(&fx);
    fx_open(&fx);
    text = status_json(fx.s, &len);
    t1 = time(NULL);
    ck_assert_uint_eq(len, strlen(text));
    st = parse(text);
    check_disconnected_document(&fx, st, t0, t1);
    /* No roster feature configured: no roster object. */
    ck_assert(!json_object_object_get_ex(st, "roster", &unused));
    json_object_put(st);
    free(text);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_status_json_with_roster_shows_its_window)
{
    struct fx fx;
    time_t t0 = time(NULL), t1;
    json_object *st;
    char *text;

    fx_init(&fx);
    strcpy(fx.roster_url, "http://127.0.0.1:1/roster/%s");
    strcpy(fx.token, "roster-token-0123456789");
    fx.conf.roster.url = fx.roster_url;
    fx.conf.roster.token = fx.token;
    fx.conf.roster.writer = CONF_WRITER_API;
    fx_open(&fx);
    ck_assert_ptr_nonnull(fx.roster);
    text = status_json(fx.s, NULL);
    t1 = time(NULL);
    st = parse(text);
    check_disconnected_document(&fx, st, t0, t1);
    /* doc/rosters.md: roster.in_flight, in_flight_peak, window (32) and
     * window_now; restanza.conf(5): the writer in use. */
    ck_assert_str_eq(str_at(st, "roster.writer"), "ejabberd-api");
    ck_assert_int_eq(int_at(st, "roster.cached_users"), 0);
    ck_assert_int_eq(int_at(st, "roster.last_sync"), 0);
    ck_assert_int_eq(int_at(st, "roster.in_flight"), 0);
    ck_assert_int_eq(int_at(st, "roster.in_flight_peak"), 0);
    ck_assert_int_eq(int_at(st, "roster.window"), 32);
    ck_assert_int_eq(int_at(st, "roster.window_now"), 32);
    json_object_put(st);
    free(text);
    fx_stop(&fx);
}
END_TEST

/* The route serves the same document, as JSON, open on loopback. */
START_TEST(test_get_status_on_loopback_without_token_is_200_json)
{
    struct fx fx;
    struct result r = {0};
    time_t t0 = time(NULL);
    json_object *st;

    fx_init(&fx);
    fx_open(&fx);
    get(&fx, "/status", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(r.content_type);
    ck_assert_str_eq(r.content_type, "application/json");
    st = parse(r.body);
    check_disconnected_document(&fx, st, t0, time(NULL));
    json_object_put(st);
    result_clear(&r);
    fx_stop(&fx);
}
END_TEST

/* The value of a sample line "name value" in a Prometheus text, or -1. */
static long long sample(const char *text, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, name, n) == 0 && p[n] == ' ')
            return atoll(p + n + 1);
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return -1;
}

START_TEST(test_get_metrics_gauges_reflect_conf_and_state)
{
    struct fx fx;
    struct result r = {0};

    fx_init(&fx);
    fx_open(&fx);
    get(&fx, "/metrics", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    /* "Prometheus text format (version 0.0.4)". */
    ck_assert_ptr_nonnull(r.content_type);
    ck_assert_ptr_nonnull(strstr(r.content_type, "text/plain"));
    ck_assert_ptr_nonnull(strstr(r.content_type, "version=0.0.4"));
    ck_assert_int_eq(sample(r.body, "restanza_xmpp_connected"), 0);
    ck_assert_int_eq(sample(r.body, "restanza_iq_pending"), 0);
    ck_assert_int_eq(sample(r.body, "restanza_http_parked"), 0);
    ck_assert_int_eq(sample(r.body, "restanza_http_max_connections"), 37);
    ck_assert_int_eq(sample(r.body, "restanza_webhook_queued"), 0);
    ck_assert_int_eq(sample(r.body, "restanza_webhook_in_flight"), 0);
    ck_assert_int_eq(sample(r.body, "restanza_webhook_queue_max"), 123);
    /* This very request holds a connection. */
    ck_assert_int_ge(sample(r.body, "restanza_http_connections"), 1);
    result_clear(&r);
    fx_stop(&fx);
}
END_TEST

/* Every family restanza(8) documents under GET /metrics (a ".B restanza_"
 * line) is served, with its # TYPE line. */
START_TEST(test_get_metrics_serves_every_family_of_the_man_page)
{
    struct fx fx;
    struct result r = {0};
    char path[1024], line[512];
    const char *data = getenv("UNIT_DATA");
    FILE *f;
    bool in_metrics = false;
    int families = 0;

    ck_assert_ptr_nonnull(data);
    snprintf(path, sizeof(path), "%s/../../../doc/restanza.8", data);
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fx_init(&fx);
    fx_open(&fx);
    get(&fx, "/metrics", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    while (fgets(line, sizeof(line), f) != NULL) {
        char name[128], want[160];
        if (strncmp(line, ".SS ", 4) == 0) {
            in_metrics = strncmp(line, ".SS GET /metrics", 16) == 0;
            continue;
        }
        if (!in_metrics || sscanf(line, ".B %127[a-z_]", name) != 1 ||
            strncmp(name, "restanza_", 9) != 0)
            continue;
        snprintf(want, sizeof(want), "# TYPE %s ", name);
        ck_assert_msg(strstr(r.body, want) != NULL,
                      "restanza(8) documents %s, /metrics lacks it", name);
        families++;
    }
    fclose(f);
    /* The section was found and is not trivially short. */
    ck_assert_int_ge(families, 10);
    result_clear(&r);
    fx_stop(&fx);
}
END_TEST

/* With http.admin_token set both routes need "Authorization: Bearer":
 * 401 with no usable credentials, 403 with a wrong token (restanza.conf(5),
 * doc/security.md); the denial is the common JSON error. */
START_TEST(test_admin_token_guards_status_and_metrics)
{
    static const char *const paths[] = {"/status", "/metrics"};
    struct fx fx;
    struct result r = {0};
    char admin[64];

    fx_init(&fx);
    strcpy(admin, ADMIN_TOKEN);
    fx.conf.http.admin_token = admin;
    fx_open(&fx);
    for (size_t i = 0; i < 2; i++) {
        json_object *e;

        get(&fx, paths[i], NULL, &r);
        ck_assert_int_eq(r.status, 401);
        e = parse(r.body);
        ck_assert_str_eq(str_at(e, "type"), "error");
        ck_assert_str_eq(str_at(e, "error.type"), "auth");
        ck_assert_str_eq(str_at(e, "error.condition"), "not-authorized");
        ck_assert_int_eq(int_at(e, "code"), 401);
        json_object_put(e);
        /* Not a bearer token: as good as none. */
        get(&fx, paths[i], "Basic YWRtaW46" ADMIN_TOKEN, &r);
        ck_assert_int_eq(r.status, 401);
        get(&fx, paths[i], "Bearer", &r);
        ck_assert_int_eq(r.status, 401);
        get(&fx, paths[i], "Bearer wrong-token-0123456789", &r);
        ck_assert_int_eq(r.status, 403);
        e = parse(r.body);
        ck_assert_str_eq(str_at(e, "error.condition"), "not-authorized");
        json_object_put(e);
        /* A prefix of the token is not the token. */
        get(&fx, paths[i], "Bearer admin-token", &r);
        ck_assert_int_eq(r.status, 403);
        get(&fx, paths[i], "Bearer " ADMIN_TOKEN, &r);
        ck_assert_int_eq(r.status, 200);
        /* The scheme is case-insensitive (RFC 7235 2.1). */
        get(&fx, paths[i], "bearer " ADMIN_TOKEN, &r);
        ck_assert_int_eq(r.status, 200);
    }
    result_clear(&r);
    fx_stop(&fx);
}
END_TEST

/* The routes are GET only. */
START_TEST(test_post_to_status_is_405)
{
    struct fx fx;
    struct result r = {0};
    struct httpc_request req = {
        .method = "POST", .body = "{}", .body_len = 2, .timeout_ms = 2000};
    char url[128];
    uint64_t end;

    fx_init(&fx);
    fx_open(&fx);
    snprintf(url, sizeof(url), "%s/status", fx.base);
    req.url = url;
    ck_assert_ptr_nonnull(httpc_start(fx.httpc, &req, on_result, &r));
    end = loop_clock_ms() + DEADLINE_MS;
    while (r.calls == 0 && loop_clock_ms() < end)
        ck_assert_int_eq(loop_run_once(fx.loop, 100), 0);
    ck_assert_int_eq(r.status, 405);
    result_clear(&r);
    fx_stop(&fx);
}
END_TEST

static Suite *status_suite(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("document");

    tcase_add_test(tc, test_status_json_of_a_disconnected_component);
    tcase_add_test(tc, test_status_json_with_roster_shows_its_window);
    suite_add_tcase(s, tc);

    tc = tcase_create("http");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_get_status_on_loopback_without_token_is_200_json);
    tcase_add_test(tc, test_get_metrics_gauges_reflect_conf_and_state);
    tcase_add_test(tc, test_get_metrics_serves_every_family_of_the_man_page);
    tcase_add_test(tc, test_admin_token_guards_status_and_metrics);
    tcase_add_test(tc, test_post_to_status_is_405);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(status_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}
