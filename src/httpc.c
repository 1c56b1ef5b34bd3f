/* SPDX-License-Identifier: MIT */
/* httpc.c: the HTTP client (libcurl multi adapter): async requests in our loop.
 */
#include "config.h"

#include "httpc.h"
#include "httpc_priv.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include "log.h"
#include "loop.h"
#include "xmalloc.h"

#define DEFAULT_MAX_RESPONSE (1u << 20)
#define DEFAULT_CONNECT_MS 5000u

struct httpc_transfer {
    struct httpc *c;
    CURL *easy;
    struct curl_slist *headers;
    char *body; /* request body copy */
    char *resp;
    size_t resp_len, resp_max;
    bool too_large;
    char *accept; /* value of an Accept response header */
    char errbuf[CURL_ERROR_SIZE];
    httpc_cb cb;
    void *arg;
    LIST_ENTRY(httpc_transfer) link; /* c->list */
};

struct httpc {
    struct loop *loop;
    CURLM *multi;
    struct loop_timer *timer;
    LIST_HEAD(httpc_transfers, httpc_transfer) list;
    size_t active;
};

static void check_done(struct httpc *c);

static void unlink_transfer(struct httpc_transfer *t)
{
    LIST_REMOVE(t, link);
    t->c->active--;
}

static void transfer_free(struct httpc_transfer *t)
{
    curl_multi_remove_handle(t->c->multi, t->easy);
    curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    free(t->body);
    free(t->resp);
    free(t->accept);
    free(t);
}

static void on_socket_event(int fd, unsigned events, void *arg)
{
    struct httpc *c = arg;
    int running, mask = 0;

    if (events & LOOP_IN)
        mask |= CURL_CSELECT_IN;
    if (events & LOOP_OUT)
        mask |= CURL_CSELECT_OUT;
    if (events & LOOP_ERR)
        mask |= CURL_CSELECT_ERR;
    curl_multi_socket_action(c->multi, fd, mask, &running);
    check_done(c);
}

static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp,
                          void *socketp)
{
    struct httpc *c = userp;
    unsigned ev = 0;

    if (what == CURL_POLL_REMOVE) {
        loop_fd_del(c->loop, s);
        return 0;
    }
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        ev |= LOOP_IN;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        ev |= LOOP_OUT;
    if (loop_fd_watched(c->loop, s))
        return loop_fd_mod(c->loop, s, ev) < 0 ? -1 : 0;
    return loop_fd_add(c->loop, s, ev, on_socket_event, c) < 0 ? -1 : 0;
}

static void on_timer(void *arg)
{
    struct httpc *c = arg;
    int running;

    c->timer = NULL;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct httpc *c = userp;

    loop_timer_cancel(c->loop, c->timer);
    c->timer = NULL;
    if (timeout_ms >= 0)
        c->timer = loop_timer_add(c->loop, (uint64_t)timeout_ms, on_timer, c);
    return 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
    struct httpc_transfer *t = userp;
    size_t n = size * nmemb;

    /* CURLOPT_MAXFILESIZE misses bodies of unknown length: cap here. */
    if (t->resp_len + n > t->resp_max) {
        t->too_large = true;
        return 0;
    }
    t->resp = xrealloc(t->resp, t->resp_len + n + 1);
    memcpy(t->resp + t->resp_len, data, n);
    t->resp_len += n;
    t->resp[t->resp_len] = '\0';
    return n;
}

/* Keep the Accept header (the webhook probe negotiates with it). */
static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    struct httpc_transfer *t = userp;
    size_t n = size * nmemb, len = n;

    if (n > 7 && strncasecmp(data, "Accept:", 7) == 0) {
        const char *v = data + 7;
        len = n - 7;
        while (len > 0 && (*v == ' ' || *v == '\t')) {
            v++;
            len--;
        }
        while (len > 0 &&
               (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
            len--;
        free(t->accept);
        t->accept = xstrndup(v, len > 1024 ? 1024 : len);
    }
    return n;
}

static enum httpc_error classify(CURLcode rc, bool too_large)
{
    if (rc == CURLE_OK)
        return HTTPC_OK;
    if (too_large)
        return HTTPC_E_TOO_LARGE;
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return HTTPC_E_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return HTTPC_E_TIMEOUT;
    default:
        return HTTPC_E_OTHER;
    }
}

static void httpc_finish(struct httpc_transfer *t, CURLcode rc)
{
    struct httpc_response resp = {0};
    char *ctype = NULL;
    double secs = 0;

    resp.error = classify(rc, t->too_large);
    resp.error_text = rc == CURLE_OK ? ""
                      : t->too_large ? "response too large"
                      : t->errbuf[0] ? t->errbuf
                                     : curl_easy_strerror(rc);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &resp.status);
        curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ctype);
    }
    curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME, &secs);
    resp.content_type = ctype;
    resp.accept = t->accept;
    resp.body = t->resp != NULL ? t->resp : "";
    resp.len = t->resp_len;
    resp.seconds = secs;
    unlink_transfer(t);
    t->cb(&resp, t->arg);
    transfer_free(t);
}

static void check_done(struct httpc *c)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
        struct httpc_transfer *t;
        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        httpc_finish(t, msg->data.result);
    }
}

struct httpc *httpc_new(struct loop *loop, unsigned max_connections)
{
    struct httpc *c = xcalloc(1, sizeof(*c));
    static bool global_done;

    LIST_INIT(&c->list);
    if (!global_done) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        global_done = true;
    }
    c->loop = loop;
    c->multi = curl_multi_init();
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    /* Each connection is an fd; the total is part of the fd budget. */
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      (long)max_connections);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)max_connections);
    return c;
}

void httpc_free(struct httpc *c)
{
    struct httpc_transfer *t;

    if (c == NULL)
        return;
    while ((t = LIST_FIRST(&c->list)) != NULL) {
        struct httpc_response resp = {.error = HTTPC_E_SHUTDOWN,
                                      .error_text = "shutting down",
                                      .body = ""};
        unlink_transfer(t);
        t->cb(&resp, t->arg);
        transfer_free(t);
    }
    loop_timer_cancel(c->loop, c->timer);
    curl_multi_cleanup(c->multi);
    free(c);
}

struct httpc_transfer *httpc_start(struct httpc *c,
                                   const struct httpc_request *req, httpc_cb cb,
                                   void *arg)
{
    struct httpc_transfer *t = xcalloc(1, sizeof(*t));
    unsigned connect_ms = req->connect_timeout_ms;

    if (connect_ms == 0)
        connect_ms = req->timeout_ms < DEFAULT_CONNECT_MS ? req->timeout_ms
                                                          : DEFAULT_CONNECT_MS;
    t->c = c;
    t->cb = cb;
    t->arg = arg;
    t->resp_max = req->max_response ? req->max_response : DEFAULT_MAX_RESPONSE;
    t->easy = curl_easy_init();
    if (t->easy == NULL || req->timeout_ms == 0) {
        log_error("cannot start HTTP request", "url=%s", req->url);
        if (t->easy != NULL)
            curl_easy_cleanup(t->easy);
        free(t);
        return NULL;
    }
    curl_easy_setopt(t->easy, CURLOPT_URL, req->url);
    /* The URL goes out as the template built it: curl would resolve "/../"
     * and "/./" (RFC 3986 §5.2.4) and reach another path. */
    curl_easy_setopt(t->easy, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
    curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
    curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(t->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "restanza/" PACKAGE_VERSION);
    curl_easy_setopt(t->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    for (const char *const *h = req->headers; h != NULL && *h != NULL; h++)
        t->headers = curl_slist_append(t->headers, *h);
    if (req->body != NULL) {
        t->body = xmalloc(req->body_len + 1);
        memcpy(t->body, req->body, req->body_len);
        curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->body);
        curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)req->body_len);
        /* No "Expect: 100-continue" round trip for our small bodies. */
        t->headers = curl_slist_append(t->headers, "Expect:");
    }
    if (req->method != NULL)
        curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, req->method);
    if (req->method != NULL && strcmp(req->method, "OPTIONS") == 0)
        curl_easy_setopt(t->easy, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
    LIST_INSERT_HEAD(&c->list, t, link);
    c->active++;
    if (curl_multi_add_handle(c->multi, t->easy) != CURLM_OK) {
        log_error("cannot queue HTTP request", "url=%s", req->url);
        unlink_transfer(t);
        transfer_free(t);
        return NULL;
    }
    return t;
}

void httpc_cancel(struct httpc *c, struct httpc_transfer *t)
{
    if (t == NULL)
        return;
    unlink_transfer(t);
    transfer_free(t);
}

size_t httpc_active(const struct httpc *c)
{
    return c->active;
}

/* Everything but ALPHA, DIGIT, '-', '_' and '~' is encoded: '.' too, so
 * that no value, even "." or "..", can form a dot segment in a path. */
char *httpc_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = xmalloc(strlen(s) * 3 + 1), *p = out;

    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '~') {
            *p++ = (char)ch;
        } else {
            *p++ = '%';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 15];
        }
    }
    *p = '\0';
    return out;
}
