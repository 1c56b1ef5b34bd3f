/* SPDX-License-Identifier: MIT */
/* test_http.c: the HTTP server and client adapters talking in one loop. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_xmpp.h"
#include "conf.h"
#include "httpc.h"
#include "httpc_priv.h"
#include "httpd.h"
#include "log.h"
#include "loop.h"
#include "loop_priv.h"
#include "metrics.h"
#include "metrics_priv.h"

/* Every wait in these tests ends by this many ms, so a bug fails fast. */
#define DEADLINE_MS 3000
#define MAX_BODY 1024
#define MAX_PORTS 64

#define ERR_404                                                                \
    "{\"type\":\"error\",\"error\":{\"type\":\"cancel\",\"condition\":"        \
    "\"item-not-found\",\"text\":\"No such route\"},\"code\":404}\n"
#define ERR_405                                                                \
    "{\"type\":\"error\",\"error\":{\"type\":\"cancel\",\"condition\":"        \
    "\"not-allowed\",\"text\":\"Method not allowed on this path\"},"           \
    "\"code\":405}\n"
#define ERR_413                                                                \
    "{\"type\":\"error\",\"error\":{\"type\":\"modify\",\"condition\":"        \
    "\"resource-constraint\",\"text\":\"Payload too large\"},\"code\":413}\n"
#define ERR_503_FULL                                                           \
    "{\"type\":\"error\",\"error\":{\"type\":\"wait\",\"condition\":"          \
    "\"resource-constraint\",\"text\":\"Too many connections, retry later\"}," \
    "\"code\":503}\n"
#define ERR_503                                                                \
    "{\"type\":\"error\",\"error\":{\"type\":\"wait\",\"condition\":"          \
    "\"service-unavailable\",\"text\":\"restanza is shutting down\"},"         \
    "\"code\":503}\n"

/* What an httpc callback saw (strings copied). */
struct result {
    int calls;
    enum httpc_error error;
    long status;
    char *content_type;
    char *body;
    size_t len;
    uint64_t at; /* loop_clock_ms() when the callback ran */
};

/* What the server side saw and did. */
struct server_seen {
    int calls;
    char rest[64];
    char *body;
    size_t body_len;
    bool loopback;
    struct httpd_request *parked; /* the request a handler parked */
    int aborts;
    size_t parked_in_timer;    /* httpd_parked() just before the late answer */
    unsigned ports[MAX_PORTS]; /* distinct client ports seen by h_ports */
    size_t nports;
};

/* One loop with a server on a free loopback port and a client. */
struct fx {
    char host[16];
    struct conf conf;
    struct loop *loop;
    struct httpd *httpd;
    struct httpc *httpc;
    unsigned port;
    char base[64];
    struct server_seen seen;
};

/* A raw TCP client driven by the loop: sends out, reads the reply. */
struct raw {
    struct loop *loop;
    int fd;
    const char *out;
    size_t outlen, sent;
    char in[32768];
    size_t inlen;
    bool eof;      /* read returned 0 */
    int err;       /* errno of a failed read or write, or 0 */
    bool complete; /* headers and Content-Length bytes of body are in */
    bool done;     /* complete, eof or err */
    uint64_t done_at;
};

/* A port on 127.0.0.1 that was free a moment ago. */
/* Settings only; fx_open() starts the server with them. */
static void fx_init(struct fx *fx)
{
    memset(fx, 0, sizeof(*fx));
    strcpy(fx->host, "127.0.0.1");
    fx->port = fake_free_port();
    fx->conf.http.listen_host = fx->host;
    fx->conf.http.listen_port = fx->port;
    fx->conf.http.listen_loopback = true;
    fx->conf.http.max_body = MAX_BODY;
    fx->conf.http.max_connections = 64;
    fx->conf.http.timeout = 2;
    fx->conf.http.header_timeout = 5;
    fx->conf.http.body_timeout = 5;
    /* UNIT_DEBUG=1 shows what the adapters log. */
    fx->conf.log.level =
        getenv("UNIT_DEBUG") != NULL ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN;
    log_set_level(fx->conf.log.level);
    snprintf(fx->base, sizeof(fx->base), "http://127.0.0.1:%u", fx->port);
}

static void fx_open(struct fx *fx)
{
    fx->loop = loop_new();
    ck_assert_ptr_nonnull(fx->loop);
    fx->httpd = httpd_new(fx->loop, &fx->conf);
    ck_assert_ptr_nonnull(fx->httpd);
    fx->httpc = httpc_new(fx->loop, 8);
    ck_assert_ptr_nonnull(fx->httpc);
}

static void fx_start(struct fx *fx)
{
    fx_init(fx);
    fx_open(fx);
}

static void fx_stop(struct fx *fx)
{
    httpc_free(fx->httpc);
    httpd_free(fx->httpd);
    /* Both adapters gave back every timer they took. */
    ck_assert_uint_eq(loop_timer_count(fx->loop), 0);
    loop_free(fx->loop);
    free(fx->seen.body);
}

/* Run the loop until *flag is set or the deadline passes; returns *flag. */
static bool run_until(struct loop *loop, const bool *flag, uint64_t ms)
{
    uint64_t end = loop_clock_ms() + ms;

    while (!*flag && loop_clock_ms() < end)
        ck_assert_int_eq(loop_run_once(loop, 100), 0);
    return *flag;
}

/* Same for "n parked requests". */
static bool run_until_parked(struct fx *fx, size_t n)
{
    uint64_t end = loop_clock_ms() + DEADLINE_MS;

    while (httpd_parked(fx->httpd) != n && loop_clock_ms() < end)
        ck_assert_int_eq(loop_run_once(fx->loop, 100), 0);
    return httpd_parked(fx->httpd) == n;
}

static char *dup_bytes(const char *s, size_t n)
{
    char *p = malloc(n + 1);

    ck_assert_ptr_nonnull(p);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void on_result(const struct httpc_response *resp, void *arg)
{
    struct result *r = arg;

    r->calls++;
    r->error = resp->error;
    r->status = resp->status;
    free(r->content_type);
    free(r->body);
    r->content_type =
        resp->content_type != NULL
            ? dup_bytes(resp->content_type, strlen(resp->content_type))
            : NULL;
    r->body = dup_bytes(resp->body, resp->len);
    r->len = resp->len;
    r->at = loop_clock_ms();
}

static void result_clear(struct result *r)
{
    free(r->content_type);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* Start a request and run the loop until its callback ran. */
static void fetch(struct fx *fx, const struct httpc_request *req,
                  struct result *r)
{
    uint64_t end = loop_clock_ms() + DEADLINE_MS;

    result_clear(r);
    ck_assert_ptr_nonnull(httpc_start(fx->httpc, req, on_result, r));
    while (r->calls == 0 && loop_clock_ms() < end)
        ck_assert_int_eq(loop_run_once(fx->loop, 100), 0);
    ck_assert_int_eq(r->calls, 1);
}

static void get(struct fx *fx, const char *path, struct result *r)
{
    char url[256];
    struct httpc_request req = {.url = url, .timeout_ms = 2000};

    snprintf(url, sizeof(url), "%s%s", fx->base, path);
    fetch(fx, &req, r);
}

/* Handlers. */

static void h_hello(struct httpd_request *req, void *arg)
{
    struct fx *fx = arg;

    fx->seen.calls++;
    fx->seen.loopback = httpd_request_loopback(req);
    httpd_respond(req, 200, "text/plain; charset=utf-8", "hello, world", 12);
}

static void h_echo(struct httpd_request *req, void *arg)
{
    struct fx *fx = arg;
    size_t len;
    const char *body = httpd_request_body(req, &len);

    fx->seen.calls++;
    free(fx->seen.body);
    fx->seen.body = dup_bytes(body, len);
    fx->seen.body_len = len;
    httpd_respond(req, 200, "application/octet-stream", body, len);
}

static void h_rest(struct httpd_request *req, void *arg)
{
    struct fx *fx = arg;
    const char *rest = httpd_request_rest(req);

    fx->seen.calls++;
    snprintf(fx->seen.rest, sizeof(fx->seen.rest), "%s", rest);
    httpd_respond(req, 200, "text/plain", rest, strlen(rest));
}

static void h_big(struct httpd_request *req, void *arg)
{
    size_t n = 100 * 1024;
    char *big = malloc(n);

    ck_assert_ptr_nonnull(big);
    memset(big, 'x', n);
    httpd_respond(req, 200, "text/plain", big, n);
    free(big);
}

/*
 * Server and client share this process: the client end of a connection is
 * one of our sockets whose peer is the server's port. Collect the local
 * ports of those, so a test can count distinct client connections.
 */
static void h_ports(struct httpd_request *req, void *arg)
{
    struct fx *fx = arg;

    fx->seen.calls++;
    for (int fd = 3; fd < 1024; fd++) {
        struct sockaddr_in peer, self;
        socklen_t plen = sizeof(peer), slen = sizeof(self);
        size_t k = 0;
        if (getpeername(fd, (struct sockaddr *)&peer, &plen) < 0 ||
            peer.sin_family != AF_INET || ntohs(peer.sin_port) != fx->port ||
            getsockname(fd, (struct sockaddr *)&self, &slen) < 0)
            continue;
        while (k < fx->seen.nports && fx->seen.ports[k] != ntohs(self.sin_port))
            k++;
        if (k == fx->seen.nports && k < MAX_PORTS)
            fx->seen.ports[fx->seen.nports++] = ntohs(self.sin_port);
    }
    httpd_respond(req, 200, "text/plain", "ok", 2);
}

static void on_abort(struct httpd_request *req, void *arg)
{
    struct fx *fx = arg;

    ck_assert_ptr_eq(req, fx->seen.parked);
    fx->seen.aborts++;
    fx->seen.parked = NULL;
}

static void h_park(struct httpd_request *req, void *arg)
{
    struct fx *fx = arg;

    fx->seen.calls++;
    fx->seen.parked = req;
    httpd_park(req, on_abort, fx);
}

static void late_answer(void *arg)
{
    struct fx *fx = arg;
    struct httpd_request *req = fx->seen.parked;

    ck_assert_ptr_nonnull(req);
    fx->seen.parked_in_timer = httpd_parked(fx->httpd);
    fx->seen.parked = NULL;
    httpd_respond(req, 200, "text/plain", "late", 4);
}

static void h_park_200ms(struct httpd_request *req, void *arg)
{
    struct fx *fx = arg;

    h_park(req, arg);
    loop_timer_add(fx->loop, 200, late_answer, fx);
}

/* The raw client. */

static void raw_finish(struct raw *r)
{
    r->done = true;
    r->done_at = loop_clock_ms();
    loop_fd_del(r->loop, r->fd);
}

/* True when the headers and as much body as Content-Length says are in. */
static bool raw_is_complete(const struct raw *r)
{
    const char *end = memmem(r->in, r->inlen, "\r\n\r\n", 4);
    const char *p;
    size_t head;

    if (end == NULL)
        return false;
    head = (size_t)(end - r->in) + 4;
    for (p = r->in; p < end; p++) {
        if ((p == r->in || p[-1] == '\n') &&
            strncasecmp(p, "Content-Length:", 15) == 0)
            return r->inlen >= head + strtoul(p + 15, NULL, 10);
    }
    return false;
}

static void on_raw(int fd, unsigned events, void *arg)
{
    struct raw *r = arg;

    if (r->sent < r->outlen) {
        ssize_t n =
            send(fd, r->out + r->sent, r->outlen - r->sent, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINPROGRESS) {
            r->err = errno;
            raw_finish(r);
            return;
        }
        if (n > 0)
            r->sent += (size_t)n;
        if (r->sent == r->outlen)
            loop_fd_mod(r->loop, fd, LOOP_IN);
        return;
    }
    if (!(events & (LOOP_IN | LOOP_ERR))) {
        loop_fd_mod(r->loop, fd, LOOP_IN);
        return;
    }
    for (;;) {
        ssize_t n = read(fd, r->in + r->inlen, sizeof(r->in) - 1 - r->inlen);
        if (n > 0) {
            r->inlen += (size_t)n;
            r->in[r->inlen] = '\0';
            if (raw_is_complete(r)) {
                r->complete = true;
                raw_finish(r);
                return;
            }
            continue;
        }
        if (n == 0) {
            r->eof = true;
            raw_finish(r);
        } else if (errno != EAGAIN) {
            r->err = errno;
            raw_finish(r);
        }
        return;
    }
}

/* Connect without blocking and send out (borrowed) through the loop. */
static void raw_start(struct raw *r, struct fx *fx, const char *out,
                      size_t outlen)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};

    memset(r, 0, sizeof(*r));
    r->loop = fx->loop;
    r->out = out;
    r->outlen = outlen;
    r->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ck_assert_int_ge(r->fd, 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)fx->port);
    if (connect(r->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        ck_assert_int_eq(errno, EINPROGRESS);
    ck_assert_int_eq(
        loop_fd_add(fx->loop, r->fd, LOOP_IN | LOOP_OUT, on_raw, r), 0);
}

/* Watch a finished raw client again, for what comes next (EOF). */
static void raw_rewatch(struct raw *r)
{
    r->done = r->complete = r->eof = false;
    r->err = 0;
    r->inlen = 0;
    r->in[0] = '\0';
    ck_assert_int_eq(loop_fd_add(r->loop, r->fd, LOOP_IN, on_raw, r), 0);
}

/* Run the loop until the server holds n connections. */
static bool run_until_connections(struct fx *fx, size_t n)
{
    uint64_t end = loop_clock_ms() + DEADLINE_MS;

    while (httpd_connections(fx->httpd) != n && loop_clock_ms() < end)
        ck_assert_int_eq(loop_run_once(fx->loop, 100), 0);
    return httpd_connections(fx->httpd) == n;
}

static void raw_close(struct raw *r)
{
    loop_fd_del(r->loop, r->fd);
    close(r->fd);
}

static int raw_status(const struct raw *r)
{
    int status = 0;

    if (sscanf(r->in, "HTTP/1.%*d %d ", &status) != 1)
        return 0;
    return status;
}

/* The value of header name in the reply, copied into buf ("" if absent). */
static const char *raw_header(const struct raw *r, const char *name, char *buf,
                              size_t cap)
{
    const char *end = strstr(r->in, "\r\n\r\n");
    size_t nlen = strlen(name);

    buf[0] = '\0';
    for (const char *p = strstr(r->in, "\r\n"); p != NULL && p < end;
         p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1;
            const char *eol = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            snprintf(buf, cap, "%.*s", (int)(eol - v), v);
            break;
        }
    }
    return buf;
}

static const char *raw_body(const struct raw *r)
{
    const char *end = strstr(r->in, "\r\n\r\n");

    return end != NULL ? end + 4 : "";
}

START_TEST(test_get_route_answers_with_body_and_content_type)
{
    struct fx fx;
    struct result r = {0};

    fx_start(&fx);
    httpd_route(fx.httpd, "GET", "/hello", false, "hello", h_hello, &fx);
    get(&fx, "/hello", &r);
    ck_assert_int_eq(r.error, HTTPC_OK);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.content_type, "text/plain; charset=utf-8");
    ck_assert_uint_eq(r.len, 12);
    ck_assert_str_eq(r.body, "hello, world");
    ck_assert_int_eq(fx.seen.calls, 1);
    result_clear(&r);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_unknown_path_is_404_with_json_error)
{
    struct fx fx;
    struct result r = {0};

    fx_start(&fx);
    httpd_route(fx.httpd, "GET", "/hello", false, "hello", h_hello, &fx);
    get(&fx, "/nope", &r);
    ck_assert_int_eq(r.error, HTTPC_OK);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(r.content_type, "application/json");
    ck_assert_str_eq(r.body, ERR_404);
    ck_assert_int_eq(fx.seen.calls, 0);
    result_clear(&r);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_wrong_method_is_405_with_allow_header)
{
    static const char out[] = "POST /x HTTP/1.1\r\nHost: a\r\n"
                              "Content-Length: 0\r\n\r\n";
    struct fx fx;
    struct raw raw;
    char allow[128];

    fx_start(&fx);
    httpd_route(fx.httpd, "GET", "/x", false, "x-get", h_hello, &fx);
    httpd_route(fx.httpd, "DELETE", "/x", false, "x-del", h_hello, &fx);
    httpd_route(fx.httpd, "POST", "/y", false, "y", h_hello, &fx);
    raw_start(&raw, &fx, out, sizeof(out) - 1);
    ck_assert(run_until(fx.loop, &raw.done, DEADLINE_MS));
    ck_assert_msg(raw.complete, "reply: %s", raw.in);
    ck_assert_int_eq(raw_status(&raw), 405);
    ck_assert_str_eq(raw_header(&raw, "Allow", allow, sizeof(allow)),
                     "GET, DELETE");
    ck_assert_str_eq(raw_body(&raw), ERR_405);
    ck_assert_int_eq(fx.seen.calls, 0);
    raw_close(&raw);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_post_body_reaches_handler_intact)
{
    static const char *const headers[] = {
        "Content-Type: application/octet-stream", NULL};
    struct fx fx;
    struct result r = {0};
    char body[1000];
    char url[128];
    struct httpc_request req = {.url = url,
                                .headers = headers,
                                .body = body,
                                .body_len = sizeof(body),
                                .timeout_ms = 2000};

    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (char)(i % 7 == 0 ? 0 : i * 31);
    fx_start(&fx);
    snprintf(url, sizeof(url), "%s/echo", fx.base);
    httpd_route(fx.httpd, "POST", "/echo", false, "echo", h_echo, &fx);
    fetch(&fx, &req, &r);
    ck_assert_int_eq(r.error, HTTPC_OK);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(fx.seen.calls, 1);
    ck_assert_uint_eq(fx.seen.body_len, sizeof(body));
    ck_assert(memcmp(fx.seen.body, body, sizeof(body)) == 0);
    ck_assert_uint_eq(r.len, sizeof(body));
    ck_assert(memcmp(r.body, body, sizeof(body)) == 0);
    result_clear(&r);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_body_over_max_body_with_content_length_is_413)
{
    static const char *const headers[] = {
        "Content-Type: application/octet-stream", NULL};
    struct fx fx;
    struct result r = {0};
    char body[MAX_BODY + 1];
    char url[128];
    struct httpc_request req = {.url = url,
                                .headers = headers,
                                .body = body,
                                .body_len = sizeof(body),
                                .timeout_ms = 2000};

    memset(body, 'b', sizeof(body));
    fx_start(&fx);
    snprintf(url, sizeof(url), "%s/echo", fx.base);
    httpd_route(fx.httpd, "POST", "/echo", false, "echo", h_echo, &fx);
    fetch(&fx, &req, &r);
    ck_assert_msg(r.error == HTTPC_OK, "error %d", (int)r.error);
    ck_assert_int_eq(r.status, 413);
    ck_assert_str_eq(r.content_type, "application/json");
    ck_assert_str_eq(r.body, ERR_413);
    ck_assert_int_eq(fx.seen.calls, 0);
    /* Exactly max_body is fine. */
    req.body_len = MAX_BODY;
    fetch(&fx, &req, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(fx.seen.body_len, MAX_BODY);
    result_clear(&r);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_chunked_body_over_max_body_is_413)
{
    static char out[4096];
    struct fx fx;
    struct raw raw;
    size_t n;

    n = (size_t)snprintf(out, sizeof(out),
                         "POST /echo HTTP/1.1\r\nHost: a\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n");
    /* Three chunks of 0x258 = 600 bytes: 1800 > MAX_BODY. */
    for (int i = 0; i < 3; i++) {
        n += (size_t)snprintf(out + n, sizeof(out) - n, "258\r\n");
        memset(out + n, 'c', 600);
        n += 600;
        n += (size_t)snprintf(out + n, sizeof(out) - n, "\r\n");
    }
    n += (size_t)snprintf(out + n, sizeof(out) - n, "0\r\n\r\n");
    fx_start(&fx);
    httpd_route(fx.httpd, "POST", "/echo", false, "echo", h_echo, &fx);
    raw_start(&raw, &fx, out, n);
    ck_assert(run_until(fx.loop, &raw.done, DEADLINE_MS));
    ck_assert_msg(raw.complete, "reply: %s", raw.in);
    ck_assert_int_eq(raw_status(&raw), 413);
    ck_assert_str_eq(raw_body(&raw), ERR_413);
    ck_assert_int_eq(fx.seen.calls, 0);
    raw_close(&raw);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_prefix_route_matches_itself_and_below_only)
{
    struct fx fx;
    struct result r = {0};

    fx_start(&fx);
    httpd_route(fx.httpd, "GET", "/rest", true, "rest", h_rest, &fx);
    get(&fx, "/rest/a/b", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "a/b");
    ck_assert_str_eq(fx.seen.rest, "a/b");
    get(&fx, "/rest", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "");
    ck_assert_str_eq(fx.seen.rest, "");
    ck_assert_int_eq(fx.seen.calls, 2);
    get(&fx, "/restx", &r);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(r.body, ERR_404);
    ck_assert_int_eq(fx.seen.calls, 2);
    result_clear(&r);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_parked_request_is_answered_later_from_a_timer)
{
    struct fx fx;
    struct result r = {0};
    char url[128];
    struct httpc_request req = {.url = url, .timeout_ms = 2000};
    uint64_t start;

    fx_start(&fx);
    snprintf(url, sizeof(url), "%s/slow", fx.base);
    httpd_route(fx.httpd, "GET", "/slow", false, "slow", h_park_200ms, &fx);
    start = loop_clock_ms();
    ck_assert_ptr_nonnull(httpc_start(fx.httpc, &req, on_result, &r));
    ck_assert(run_until_parked(&fx, 1));
    ck_assert_int_eq(r.calls, 0);
    while (r.calls == 0 && loop_clock_ms() < start + DEADLINE_MS)
        ck_assert_int_eq(loop_run_once(fx.loop, 100), 0);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_uint_eq(fx.seen.parked_in_timer, 1);
    ck_assert_uint_eq(httpd_parked(fx.httpd), 0);
    ck_assert_msg(r.error == HTTPC_OK,
                  "the late answer never reached the client (error %d)",
                  (int)r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "late");
    ck_assert_uint_ge(r.at - start, 200);
    ck_assert_int_eq(fx.seen.aborts, 0);
    result_clear(&r);
    fx_stop(&fx);
    ck_assert_int_eq(fx.seen.aborts, 0);
}
END_TEST

START_TEST(test_shutdown_answers_parked_with_503_and_stops_listening)
{
    static const char out[] = "GET /park HTTP/1.1\r\nHost: a\r\n\r\n";
    struct fx fx;
    struct raw raw;
    struct sockaddr_in sin = {.sin_family = AF_INET};
    char retry[32];
    int fd;

    fx_start(&fx);
    httpd_route(fx.httpd, "GET", "/park", false, "park", h_park, &fx);
    raw_start(&raw, &fx, out, sizeof(out) - 1);
    ck_assert(run_until_parked(&fx, 1));
    httpd_shutdown(fx.httpd);
    ck_assert_int_eq(fx.seen.aborts, 1);
    ck_assert_uint_eq(httpd_parked(fx.httpd), 0);
    ck_assert_msg(run_until(fx.loop, &raw.done, DEADLINE_MS),
                  "the 503 never reached the client");
    ck_assert_msg(raw.complete, "reply: %s", raw.in);
    ck_assert_int_eq(raw_status(&raw), 503);
    ck_assert_str_eq(raw_header(&raw, "Retry-After", retry, sizeof(retry)),
                     "5");
    ck_assert_str_eq(raw_body(&raw), ERR_503);

    /* Nothing listens any more. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)fx.port);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), -1);
    ck_assert_int_eq(errno, ECONNREFUSED);
    close(fd);

    raw_close(&raw);
    fx_stop(&fx);
    ck_assert_int_eq(fx.seen.aborts, 1);
}
END_TEST

START_TEST(test_idle_connection_is_closed_after_timeout)
{
    struct fx fx;
    struct raw raw;
    uint64_t start;

    fx_start(&fx);
    start = loop_clock_ms();
    raw_start(&raw, &fx, "", 0);
    ck_assert_msg(run_until(fx.loop, &raw.done, 4000),
                  "idle connection still open after 4 s");
    ck_assert(raw.eof || raw.err == ECONNRESET);
    ck_assert_uint_eq(raw.inlen, 0);
    ck_assert_uint_ge(raw.done_at - start, 1500);
    raw_close(&raw);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_httpc_total_timeout)
{
    struct fx fx;
    struct result r = {0};
    char url[128];
    struct httpc_request req = {.url = url, .timeout_ms = 300};
    uint64_t start;

    fx_start(&fx);
    snprintf(url, sizeof(url), "%s/park", fx.base);
    httpd_route(fx.httpd, "GET", "/park", false, "park", h_park, &fx);
    start = loop_clock_ms();
    fetch(&fx, &req, &r);
    ck_assert_int_eq(r.error, HTTPC_E_TIMEOUT);
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_ge(r.at - start, 250);
    ck_assert_uint_lt(r.at - start, 1000);
    ck_assert_uint_eq(httpd_parked(fx.httpd), 1);
    ck_assert_uint_eq(httpc_active(fx.httpc), 0);
    result_clear(&r);
    fx_stop(&fx);
    ck_assert_int_eq(fx.seen.aborts, 1);
}
END_TEST

START_TEST(test_httpc_response_over_max_response_is_too_large)
{
    struct fx fx;
    struct result r = {0};
    char url[128];
    struct httpc_request req = {
        .url = url, .timeout_ms = 2000, .max_response = 10 * 1024};

    fx_start(&fx);
    snprintf(url, sizeof(url), "%s/big", fx.base);
    httpd_route(fx.httpd, "GET", "/big", false, "big", h_big, &fx);
    fetch(&fx, &req, &r);
    ck_assert_int_eq(r.error, HTTPC_E_TOO_LARGE);
    ck_assert_uint_le(r.len, 10 * 1024);
    /* The same response fits under the default cap. */
    req.max_response = 0;
    fetch(&fx, &req, &r);
    ck_assert_int_eq(r.error, HTTPC_OK);
    ck_assert_uint_eq(r.len, 100 * 1024);
    result_clear(&r);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_httpc_connection_refused)
{
    struct fx fx;
    struct result r = {0};
    char url[128];
    struct httpc_request req = {.url = url, .timeout_ms = 2000};

    fx_start(&fx);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", fake_free_port());
    fetch(&fx, &req, &r);
    ck_assert_int_eq(r.error, HTTPC_E_CONNECT);
    ck_assert_int_eq(r.status, 0);
    result_clear(&r);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_httpc_reuses_connections)
{
    struct fx fx;
    struct result r = {0};

    fx_start(&fx);
    httpd_route(fx.httpd, "GET", "/ports", false, "ports", h_ports, &fx);
    for (int i = 0; i < 50; i++) {
        get(&fx, "/ports", &r);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, "ok");
    }
    ck_assert_int_eq(fx.seen.calls, 50);
    ck_assert_uint_eq(httpc_active(fx.httpc), 0);
    ck_assert_uint_ge(fx.seen.nports, 1);
    ck_assert_msg(fx.seen.nports <= 2, "%zu connections for 50 requests",
                  fx.seen.nports);
    result_clear(&r);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_httpc_free_calls_pending_callback_with_shutdown)
{
    struct fx fx;
    struct result r = {0};
    char url[128];
    struct httpc_request req = {.url = url, .timeout_ms = 2000};

    fx_start(&fx);
    snprintf(url, sizeof(url), "%s/park", fx.base);
    httpd_route(fx.httpd, "GET", "/park", false, "park", h_park, &fx);
    ck_assert_ptr_nonnull(httpc_start(fx.httpc, &req, on_result, &r));
    ck_assert(run_until_parked(&fx, 1));
    ck_assert_uint_eq(httpc_active(fx.httpc), 1);
    httpc_free(fx.httpc);
    fx.httpc = NULL;
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.error, HTTPC_E_SHUTDOWN);
    ck_assert_int_eq(r.status, 0);
    result_clear(&r);
    fx_stop(&fx);
    ck_assert_int_eq(fx.seen.aborts, 1);
}
END_TEST

START_TEST(test_httpc_escape_keeps_only_unreserved_but_the_dot)
{
    char *s = httpc_escape("a b/\xc3\xa4~");

    ck_assert_str_eq(s, "a%20b%2F%C3%A4~");
    free(s);
    s = httpc_escape("");
    ck_assert_str_eq(s, "");
    free(s);
    s = httpc_escape("AZaz09-._~?&=#%+");
    ck_assert_str_eq(s, "AZaz09-%2E_~%3F%26%3D%23%25%2B");
    free(s);
    s = httpc_escape("..");
    ck_assert_str_eq(s, "%2E%2E");
    free(s);
    s = httpc_escape("../..\\./");
    ck_assert_str_eq(s, "%2E%2E%2F%2E%2E%5C%2E%2F");
    free(s);
}
END_TEST

START_TEST(test_request_from_127_0_0_1_is_loopback)
{
    struct fx fx;
    struct result r = {0};

    fx_start(&fx);
    httpd_route(fx.httpd, "GET", "/hello", false, "hello", h_hello, &fx);
    get(&fx, "/hello", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(fx.seen.calls, 1);
    ck_assert(fx.seen.loopback);
    result_clear(&r);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_header_sent_too_slowly_is_cut_at_header_timeout)
{
    /* Idle for less than MHD's timeout (10 s), and never complete. */
    static const char out[] = "GET /hello HTTP/1.1\r\nHost: a\r\nX-Slow: a";
    struct fx fx;
    struct raw raw;
    uint64_t start;

    metrics_reset();
    fx_init(&fx);
    fx.conf.http.timeout = 10;
    fx.conf.http.header_timeout = 1;
    fx_open(&fx);
    httpd_route(fx.httpd, "GET", "/hello", false, "hello", h_hello, &fx);
    start = loop_clock_ms();
    raw_start(&raw, &fx, out, sizeof(out) - 1);
    ck_assert_msg(run_until(fx.loop, &raw.done, DEADLINE_MS),
                  "slow header still open after 3 s");
    ck_assert(raw.eof || raw.err == ECONNRESET);
    ck_assert_uint_eq(raw.inlen, 0);
    ck_assert_uint_ge(raw.done_at - start, 900);
    ck_assert_uint_le(raw.done_at - start, 1500);
    ck_assert_int_eq(fx.seen.calls, 0);
    ck_assert_uint_eq(metrics_get(METRIC_HTTP_HEADER_TIMEOUTS), 1);
    ck_assert_uint_eq(metrics_get(METRIC_HTTP_BODY_TIMEOUTS), 0);
    /* MHD let go of the connection it was cut from. */
    ck_assert(run_until_connections(&fx, 0));
    raw_close(&raw);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_body_sent_too_slowly_is_cut_at_body_timeout)
{
    static const char out[] = "POST /echo HTTP/1.1\r\nHost: a\r\n"
                              "Content-Length: 10\r\n\r\nabc";
    struct fx fx;
    struct raw raw;
    uint64_t start;

    metrics_reset();
    fx_init(&fx);
    fx.conf.http.timeout = 10;
    fx.conf.http.body_timeout = 1;
    fx_open(&fx);
    httpd_route(fx.httpd, "POST", "/echo", false, "echo", h_echo, &fx);
    start = loop_clock_ms();
    raw_start(&raw, &fx, out, sizeof(out) - 1);
    ck_assert_msg(run_until(fx.loop, &raw.done, DEADLINE_MS),
                  "slow body still open after 3 s");
    ck_assert(raw.eof || raw.err == ECONNRESET);
    ck_assert_uint_ge(raw.done_at - start, 900);
    ck_assert_uint_le(raw.done_at - start, 1500);
    ck_assert_int_eq(fx.seen.calls, 0);
    ck_assert_uint_eq(metrics_get(METRIC_HTTP_HEADER_TIMEOUTS), 0);
    ck_assert_uint_eq(metrics_get(METRIC_HTTP_BODY_TIMEOUTS), 1);
    ck_assert(run_until_connections(&fx, 0));
    raw_close(&raw);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_kept_alive_connection_idles_for_timeout_not_header_timeout)
{
    static const char out[] = "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n";
    struct fx fx;
    struct raw raw;
    uint64_t answered;

    metrics_reset();
    fx_init(&fx);
    fx.conf.http.timeout = 2;
    fx.conf.http.header_timeout = 1;
    fx_open(&fx);
    httpd_route(fx.httpd, "GET", "/hello", false, "hello", h_hello, &fx);
    raw_start(&raw, &fx, out, sizeof(out) - 1);
    ck_assert(run_until(fx.loop, &raw.done, DEADLINE_MS));
    ck_assert_msg(raw.complete, "reply: %s", raw.in);
    ck_assert_int_eq(raw_status(&raw), 200);
    answered = raw.done_at;
    /* Idle after an answer: MHD's idle timeout closes it, not ours. */
    raw_rewatch(&raw);
    ck_assert(run_until(fx.loop, &raw.done, 4000));
    ck_assert(raw.eof || raw.err == ECONNRESET);
    ck_assert_uint_ge(raw.done_at - answered, 1500);
    ck_assert_uint_eq(metrics_get(METRIC_HTTP_HEADER_TIMEOUTS), 0);
    raw_close(&raw);
    fx_stop(&fx);
}
END_TEST

/* The next header on a kept-alive connection has timeout + header_timeout
 * from the answer: dribbled a byte every 0.4 s (never idle for MHD), it is
 * cut then, not held forever. */
START_TEST(test_kept_alive_next_header_dribbled_is_cut)
{
    static const char out[] = "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n";
    static const char drip[] = "GET /hello HTTP/1.1\r\nHost: a\r\n"
                               "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaa";
    struct fx fx;
    struct raw raw;
    uint64_t answered, end, next = 0;
    size_t k = 0;

    metrics_reset();
    fx_init(&fx);
    fx.conf.http.timeout = 2;
    fx.conf.http.header_timeout = 1;
    fx_open(&fx);
    httpd_route(fx.httpd, "GET", "/hello", false, "hello", h_hello, &fx);
    raw_start(&raw, &fx, out, sizeof(out) - 1);
    ck_assert(run_until(fx.loop, &raw.done, DEADLINE_MS));
    ck_assert_int_eq(raw_status(&raw), 200);
    answered = raw.done_at;
    raw_rewatch(&raw);
    end = loop_clock_ms() + 8000;
    while (!raw.done && loop_clock_ms() < end) {
        if (loop_clock_ms() >= next && drip[k] != '\0') {
            (void)send(raw.fd, drip + k++, 1, MSG_NOSIGNAL);
            next = loop_clock_ms() + 400;
        }
        ck_assert_int_eq(loop_run_once(fx.loop, 100), 0);
    }
    ck_assert_msg(raw.done, "dribbled header still open after 8 s");
    ck_assert(raw.eof || raw.err == ECONNRESET);
    ck_assert_uint_ge(raw.done_at - answered, 2700);
    ck_assert_uint_le(raw.done_at - answered, 4500);
    ck_assert_int_eq(fx.seen.calls, 1);
    ck_assert_uint_eq(metrics_get(METRIC_HTTP_HEADER_TIMEOUTS), 1);
    raw_close(&raw);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_connection_over_max_connections_gets_503_and_close)
{
    static const char out[] = "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n";
    struct fx fx;
    struct raw idle[2], over, again;
    char buf[64];

    metrics_reset();
    fx_init(&fx);
    fx.conf.http.max_connections = 2;
    fx_open(&fx);
    httpd_route(fx.httpd, "GET", "/hello", false, "hello", h_hello, &fx);
    for (int i = 0; i < 2; i++)
        raw_start(&idle[i], &fx, "", 0);
    ck_assert(run_until_connections(&fx, 2));

    raw_start(&over, &fx, out, sizeof(out) - 1);
    ck_assert(run_until(fx.loop, &over.done, DEADLINE_MS));
    ck_assert_msg(over.complete, "reply: %s", over.in);
    ck_assert_int_eq(raw_status(&over), 503);
    ck_assert_str_eq(raw_header(&over, "Connection", buf, sizeof(buf)),
                     "close");
    ck_assert_str_eq(raw_header(&over, "Retry-After", buf, sizeof(buf)), "1");
    ck_assert_str_eq(raw_header(&over, "Content-Type", buf, sizeof(buf)),
                     "application/json");
    ck_assert_str_eq(raw_body(&over), ERR_503_FULL);
    /* ... and the connection ends there. */
    raw_rewatch(&over);
    ck_assert(run_until(fx.loop, &over.done, DEADLINE_MS));
    ck_assert(over.eof || over.err == ECONNRESET);
    ck_assert_int_eq(fx.seen.calls, 0);
    ck_assert_uint_eq(metrics_get(METRIC_HTTP_REFUSED), 1);
    ck_assert_uint_eq(httpd_connections(fx.httpd), 2);

    /* A slot frees up: the next client is served. */
    raw_close(&idle[0]);
    ck_assert(run_until_connections(&fx, 1));
    raw_start(&again, &fx, out, sizeof(out) - 1);
    ck_assert(run_until(fx.loop, &again.done, DEADLINE_MS));
    ck_assert_msg(again.complete, "reply: %s", again.in);
    ck_assert_int_eq(raw_status(&again), 200);
    ck_assert_int_eq(fx.seen.calls, 1);
    ck_assert_uint_eq(metrics_get(METRIC_HTTP_REFUSED), 1);
    raw_close(&again);
    raw_close(&over);
    raw_close(&idle[1]);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_free_answers_parked_with_503)
{
    static const char out[] = "GET /park HTTP/1.1\r\nHost: a\r\n\r\n";
    struct fx fx;
    struct raw raw;

    fx_start(&fx);
    httpd_route(fx.httpd, "GET", "/park", false, "park", h_park, &fx);
    raw_start(&raw, &fx, out, sizeof(out) - 1);
    ck_assert(run_until_parked(&fx, 1));
    httpd_free(fx.httpd);
    fx.httpd = NULL;
    ck_assert_int_eq(fx.seen.aborts, 1);
    ck_assert(run_until(fx.loop, &raw.done, DEADLINE_MS));
    ck_assert_msg(raw.complete, "reply: %s", raw.in);
    ck_assert_int_eq(raw_status(&raw), 503);
    ck_assert_str_eq(raw_body(&raw), ERR_503);
    raw_close(&raw);
    fx_stop(&fx);
}
END_TEST

/* Over the limit while still sending a large body: the client gets the
 * whole 503, not a reset in the middle of its write; the socket is closed
 * a moment later. */
START_TEST(test_refused_client_still_sending_gets_the_whole_503)
{
    static const char head[] = "POST /echo HTTP/1.1\r\nHost: a\r\n"
                               "Content-Length: 1048576\r\n\r\n";
    size_t len = sizeof(head) - 1 + 1048576;
    char *out = malloc(len);
    struct fx fx;
    struct raw idle, over;
    uint64_t answered;

    ck_assert_ptr_nonnull(out);
    memcpy(out, head, sizeof(head) - 1);
    memset(out + sizeof(head) - 1, 'x', 1048576);
    metrics_reset();
    fx_init(&fx);
    fx.conf.http.max_connections = 1;
    fx_open(&fx);
    httpd_route(fx.httpd, "POST", "/echo", false, "echo", h_echo, &fx);
    raw_start(&idle, &fx, "", 0);
    ck_assert(run_until_connections(&fx, 1));
    raw_start(&over, &fx, out, len);
    ck_assert(run_until(fx.loop, &over.done, DEADLINE_MS));
    ck_assert_msg(over.err == 0, "client error %d after %zu bytes", over.err,
                  over.sent);
    ck_assert_uint_eq(over.sent, len);
    ck_assert_msg(over.complete, "reply: %s", over.in);
    ck_assert_int_eq(raw_status(&over), 503);
    answered = over.done_at;
    raw_rewatch(&over);
    ck_assert(run_until(fx.loop, &over.done, DEADLINE_MS));
    ck_assert(over.eof || over.err == ECONNRESET);
    ck_assert_uint_le(over.done_at - answered, 2000);
    ck_assert_int_eq(fx.seen.calls, 0);
    raw_close(&over);
    raw_close(&idle);
    fx_stop(&fx);
    free(out);
}
END_TEST

static Suite *http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *server = tcase_create("server");
    TCase *client = tcase_create("client");

    tcase_add_test(server, test_get_route_answers_with_body_and_content_type);
    tcase_add_test(server, test_unknown_path_is_404_with_json_error);
    tcase_add_test(server, test_wrong_method_is_405_with_allow_header);
    tcase_add_test(server, test_post_body_reaches_handler_intact);
    tcase_add_test(server, test_body_over_max_body_with_content_length_is_413);
    tcase_add_test(server, test_chunked_body_over_max_body_is_413);
    tcase_add_test(server, test_prefix_route_matches_itself_and_below_only);
    tcase_add_test(server, test_parked_request_is_answered_later_from_a_timer);
    tcase_add_test(server,
                   test_shutdown_answers_parked_with_503_and_stops_listening);
    tcase_add_test(server, test_idle_connection_is_closed_after_timeout);
    tcase_add_test(server, test_free_answers_parked_with_503);
    tcase_add_test(server, test_request_from_127_0_0_1_is_loopback);
    tcase_add_test(server,
                   test_header_sent_too_slowly_is_cut_at_header_timeout);
    tcase_add_test(server, test_body_sent_too_slowly_is_cut_at_body_timeout);
    tcase_add_test(
        server,
        test_kept_alive_connection_idles_for_timeout_not_header_timeout);
    tcase_add_test(server, test_kept_alive_next_header_dribbled_is_cut);
    tcase_add_test(server,
                   test_refused_client_still_sending_gets_the_whole_503);
    tcase_add_test(server,
                   test_connection_over_max_connections_gets_503_and_close);
    /* The idle timeout takes 2 s; valgrind slows the rest down. */
    tcase_set_timeout(server, 30);
    suite_add_tcase(s, server);

    tcase_add_test(client, test_httpc_total_timeout);
    tcase_add_test(client, test_httpc_response_over_max_response_is_too_large);
    tcase_add_test(client, test_httpc_connection_refused);
    tcase_add_test(client, test_httpc_reuses_connections);
    tcase_add_test(client,
                   test_httpc_free_calls_pending_callback_with_shutdown);
    tcase_add_test(client, test_httpc_escape_keeps_only_unreserved_but_the_dot);
    tcase_set_timeout(client, 30);
    suite_add_tcase(s, client);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(http_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
