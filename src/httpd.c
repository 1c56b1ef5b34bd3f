/* SPDX-License-Identifier: MIT */
/* httpd.c: the HTTP server (libmicrohttpd adapter): the daemon in our loop,
 * routes, reading requests and dispatching them. */
#include "config.h"

#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "httpd_conn.h"
#include "httpd_internal.h"
#include "httpd_respond.h"
#include "httpd_stream.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "xmalloc.h"

#define TLS_FILE_MAX (1 << 20)
/* Bytes of an oversized body we read and drop before closing instead. */
#define DISCARD_MAX (1u << 20)
/*
 * Memory MHD gives each connection for the request line, the headers and
 * the read buffer: a header block of up to about 16 KiB fits (a larger one
 * gets MHD's own 431). MHD clears the whole pool after every request, so
 * its default of 32 KiB cost a 48 KiB memset per request (measured with
 * callgrind: half of all instructions on the POST /rest path).
 */
#define CONN_MEMORY (16u * 1024)

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char buf[512];
    size_t n;

    vsnprintf(buf, sizeof(buf), fmt, ap);
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    log_debug("libmicrohttpd", "text=%s", buf);
}

static void on_epoll(int fd, unsigned events, void *arg)
{
    struct httpd *h = arg;
    MHD_run(h->daemon);
}

static int64_t prepare(void *arg)
{
    struct httpd *h = arg;
    MHD_UNSIGNED_LONG_LONG t;

    if (h->daemon == NULL)
        return -1;
    if (h->resumed) {
        /* Without an internal thread MHD has no wake-up pipe: a resumed
         * connection stays stuck until somebody calls MHD_run(). */
        h->resumed = false;
        MHD_run(h->daemon);
    }
    if (MHD_get_timeout(h->daemon, &t) != MHD_YES)
        return -1;
    if (t == 0) {
        /* Due now (idle timeouts, buffered data): MHD's epoll fd does not
         * wake us for these, and MHD must run no later than t. */
        MHD_run(h->daemon);
        if (MHD_get_timeout(h->daemon, &t) != MHD_YES)
            return -1;
    }
    return t > INT64_MAX ? -1 : (int64_t)t;
}

static const struct httpd_route *find_route(struct httpd *h, const char *method,
                                            const char *path, bool *path_known)
{
    const struct httpd_route *best = NULL;

    *path_known = false;
    for (size_t i = 0; i < h->nroutes; i++) {
        const struct httpd_route *r = &h->routes[i];
        bool match = r->prefix ? strncmp(path, r->path, r->pathlen) == 0 &&
                                     (path[r->pathlen] == '\0' ||
                                      path[r->pathlen] == '/')
                               : strcmp(path, r->path) == 0;
        if (!match)
            continue;
        *path_known = true;
        if (strcmp(method, r->method) != 0)
            continue;
        if (best == NULL || r->pathlen > best->pathlen ||
            (!r->prefix && best->prefix))
            best = r;
    }
    return best;
}

/* The body is in: find the route and run its handler. */
static void dispatch(struct httpd_request *req)
{
    struct httpd *h = req->h;
    bool known;
    const struct httpd_route *r = find_route(h, req->method, req->path, &known);

    if (req->too_large) {
        req->route_name = "too_large";
        httpd_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "modify",
                    "resource-constraint", "Payload too large");
        return;
    }
    if (r == NULL) {
        req->route_name = "unknown";
        if (known) {
            char allow[128] = "";
            for (size_t i = 0; i < h->nroutes; i++) {
                bool k;
                if (find_route(h, h->routes[i].method, req->path, &k) ==
                        &h->routes[i] &&
                    strlen(allow) + 16 < sizeof(allow)) {
                    if (allow[0] != '\0')
                        strcat(allow, ", ");
                    strcat(allow, h->routes[i].method);
                }
            }
            httpd_add_header(req, "Allow", allow);
            httpd_error(req, MHD_HTTP_METHOD_NOT_ALLOWED, "cancel",
                        "not-allowed", "Method not allowed on this path");
        } else {
            httpd_error(req, MHD_HTTP_NOT_FOUND, "cancel", "item-not-found",
                        "No such route");
        }
        return;
    }
    req->route_name = r->name;
    req->rest = req->path + r->pathlen;
    if (*req->rest == '/')
        req->rest++;
    req->state = REQ_HANDLING;
    r->handler(req, r->arg);
    if (req->state == REQ_HANDLING) {
        log_error("handler returned without an answer", "route=%s", r->name);
        httpd_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "wait",
                    "internal-server-error", "No answer");
    }
}

static size_t content_length(struct MHD_Connection *conn, bool *present)
{
    const char *cl = MHD_lookup_connection_value(
        conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    char *end;
    unsigned long long v;

    *present = cl != NULL;
    if (cl == NULL)
        return 0;
    errno = 0;
    v = strtoull(cl, &end, 10);
    if (errno != 0 || end == cl || *end != '\0')
        return SIZE_MAX;
    return v > SIZE_MAX ? SIZE_MAX : (size_t)v;
}

/* MHD's first call for a request: its header is in. */
static enum MHD_Result request_begin(struct httpd *h,
                                     struct MHD_Connection *conn,
                                     const char *url, const char *method,
                                     void **req_cls)
{
    struct httpd_request *req;
    bool has_cl;
    size_t cl = content_length(conn, &has_cl);

    req = xcalloc(1, sizeof(*req));
    req->h = h;
    req->conn = conn;
    req->method = xstrdup(method);
    req->path = xstrdup(url);
    req->rest = "";
    req->tcp = httpd_conn_of(conn);
    *req_cls = req;
    if (has_cl && cl > h->conf->http.max_body) {
        /* Refuse before reading: MHD closes after the answer. */
        req->too_large = true;
        if (req->tcp != NULL)
            httpd_conn_arm(req->tcp, CONN_BUSY, 0);
        dispatch(req);
        return httpd_respond_queue(req);
    }
    /* The header is in; the body (if any) has its own time. */
    if (req->tcp != NULL)
        httpd_conn_arm(req->tcp, CONN_BODY, h->conf->http.body_timeout);
    return MHD_YES;
}

/* The next n bytes of the body: kept, or dropped past http.max_body. */
static enum MHD_Result request_upload(struct httpd_request *req,
                                      const char *upload, size_t n)
{
    if (req->too_large || req->body_len + n > req->h->conf->http.max_body) {
        /* MHD cannot answer in the middle of a body: drain it and
         * answer 413 at its end, but close the connection when the
         * body goes on (a chunked body may never end). */
        req->too_large = true;
        free(req->body);
        req->body = NULL;
        req->body_len = 0;
        req->discarded += n;
        if (req->discarded > DISCARD_MAX) {
            static struct log_ratelimit large_log = LOG_RATELIMIT_INIT(
                LOG_LEVEL_INFO, "http body too large, closing");
            if (log_ratelimit_pass(&large_log, loop_clock_ms()))
                log_info("http body too large, closing", "path=%s bytes=%zu",
                         req->path, req->discarded);
            return MHD_NO;
        }
        return MHD_YES;
    }
    req->body = xrealloc(req->body, req->body_len + n + 1);
    memcpy(req->body + req->body_len, upload, n);
    req->body_len += n;
    req->body[req->body_len] = '\0';
    return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *upload,
                                 size_t *upload_size, void **req_cls)
{
    struct httpd *h = cls;
    struct httpd_request *req = *req_cls;

    if (req == NULL)
        return request_begin(h, conn, url, method, req_cls);
    if (req->state == REQ_ANSWERED)
        return httpd_respond_queue(req);
    if (req->state != REQ_READING)
        return MHD_YES; /* parked or already queued: nothing to do */
    if (*upload_size > 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        return request_upload(req, upload, n);
    }
    /* Cut for lateness while its last bytes were arriving: the client
     * counts it as failed and may retry, so it must not be acted on. */
    if (req->tcp != NULL && req->tcp->cut)
        return MHD_NO;
    /* The request is in: from here only MHD's idle timeout (answer) or the
     * IQ deadline (parked) applies. */
    if (req->tcp != NULL)
        httpd_conn_arm(req->tcp, CONN_BUSY, 0);
    if (h->shutting_down) {
        /* The handlers' owners may be gone already (httpd_free runs MHD
         * once more after them). */
        req->route_name = "shutdown";
        httpd_add_header(req, "Retry-After", "5");
        httpd_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "wait",
                    "service-unavailable", "restanza is shutting down");
        return httpd_respond_queue(req);
    }
    dispatch(req);
    if (req->state == REQ_ANSWERED)
        return httpd_respond_queue(req);
    if (req->state == REQ_STREAM)
        return httpd_stream_queue(req);
    if (req->state == REQ_PARKED)
        MHD_suspend_connection(conn);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct httpd_request *req = *req_cls;

    if (req == NULL)
        return;
    if (req->state == REQ_PARKED) {
        /* Cannot happen while suspended, but stay safe. */
        httpd_respond_unpark(req);
        if (req->abort_cb != NULL)
            req->abort_cb(req, req->abort_arg);
    }
    if (req->answer_cb != NULL) {
        httpd_answer_cb cb = req->answer_cb;
        req->answer_cb = NULL;
        cb(0, NULL, NULL, 0, req->answer_arg); /* gone unanswered */
    }
    metrics_http(req->route_name != NULL ? req->route_name : "unknown",
                 req->status != 0 ? req->status : 0);
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        log_debug("http request ended early", "method=%s path=%s code=%d",
                  req->method, req->path, (int)toe);
    /* Kept alive: the next request may idle for http.timeout (MHD closes
     * the connection then), and its header gets header_timeout on top. */
    if (req->tcp != NULL)
        httpd_conn_arm(req->tcp, CONN_HEADER,
                       req->h->conf->http.timeout +
                           req->h->conf->http.header_timeout);
    httpd_respond_free_request(req);
    *req_cls = NULL;
}

static char *read_small_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (f == NULL)
        return NULL;
    buf = xmalloc(TLS_FILE_MAX + 2);
    n = fread(buf, 1, TLS_FILE_MAX + 1, f);
    fclose(f);
    if (n > TLS_FILE_MAX) {
        /* No PEM file is this large: refuse rather than cut it. */
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* The numeric http.listen address and port into ss; -1 (logged) when
 * the host is no numeric address. An IPv6 one adds MHD_USE_IPv6. */
static int listen_address(const struct conf *conf, struct sockaddr_storage *ss,
                          socklen_t *len, unsigned *flags)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, conf->http.listen_host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)conf->http.listen_port);
        *len = sizeof(*sin);
        return 0;
    }
    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET6, conf->http.listen_host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)conf->http.listen_port);
        *len = sizeof(*sin6);
        *flags |= MHD_USE_IPv6;
        return 0;
    }
    log_error("http.listen is not a numeric address", "host=%s",
              conf->http.listen_host);
    return -1;
}

/* With http.tls_cert: read the certificate and key into h and add
 * MHD_USE_TLS; -1 (logged, nothing kept) when TLS cannot be had. */
static int tls_load(struct httpd *h, const struct conf *conf, unsigned *flags)
{
    if (conf->http.tls_cert == NULL)
        return 0;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        log_error("libmicrohttpd was built without TLS", "");
        return -1;
    }
    h->tls_cert = read_small_file(conf->http.tls_cert);
    h->tls_key = read_small_file(conf->http.tls_key);
    if (h->tls_cert == NULL || h->tls_key == NULL) {
        log_error("cannot read TLS certificate or key", "cert=%s key=%s",
                  conf->http.tls_cert, conf->http.tls_key);
        free(h->tls_cert);
        free(h->tls_key);
        h->tls_cert = h->tls_key = NULL;
        return -1;
    }
    *flags |= MHD_USE_TLS;
    return 0;
}

struct httpd *httpd_new(struct loop *loop, const struct conf *conf)
{
    struct httpd *h = xcalloc(1, sizeof(*h));
    struct sockaddr_storage ss;
    socklen_t salen = 0;
    /* We accept connections ourselves (httpd_conn_on_listen) to refuse
     * those over max_connections with an answer rather than leave them waiting.
     */
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_TURBO |
                     MHD_USE_NO_LISTEN_SOCKET;
    const union MHD_DaemonInfo *info;

    h->loop = loop;
    h->conf = conf;
    h->epfd = -1;
    for (size_t i = 0; i < LINGER_MAX; i++)
        h->linger[i].fd = -1;
    h->listen_fd = -1;
    LIST_INIT(&h->conns);
    LIST_INIT(&h->parked);
    LIST_INIT(&h->streams);
    h->refusal_len = httpd_conn_refusal(h->refusal, sizeof(h->refusal));
    if (listen_address(conf, &ss, &salen, &flags) < 0 ||
        tls_load(h, conf, &flags) < 0) {
        free(h);
        return NULL;
    }
    h->listen_fd = httpd_conn_listen((struct sockaddr *)&ss, salen);
    if (h->listen_fd < 0) {
        log_error("cannot listen for HTTP", "listen=%s:%u error=%s",
                  conf->http.listen_host, conf->http.listen_port,
                  strerror(errno));
        goto fail;
    }
    errno = 0;
    h->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        h, MHD_OPTION_CONNECTION_LIMIT, (unsigned)conf->http.max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)conf->http.timeout,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_NOTIFY_CONNECTION, httpd_conn_on_notify, h,
        h->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, h->tls_cert,
        MHD_OPTION_HTTPS_MEM_KEY, h->tls_key, MHD_OPTION_END);
    if (h->daemon == NULL) {
        log_error("cannot start libmicrohttpd", "error=%s",
                  errno ? strerror(errno) : "see debug log");
        goto fail;
    }
    info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    h->epfd = info != NULL ? info->epoll_fd : -1;
    if (h->epfd < 0 || loop_fd_add(loop, h->epfd, LOOP_IN, on_epoll, h) < 0) {
        log_error("cannot watch libmicrohttpd's epoll fd", "");
        goto fail;
    }
    if (loop_fd_add(loop, h->listen_fd, LOOP_IN, httpd_conn_on_listen, h) < 0) {
        log_error("cannot watch the HTTP listening socket", "");
        loop_fd_del(loop, h->epfd);
        goto fail;
    }
    loop_prepare_add(loop, prepare, h);
    log_info("http listening", "listen=%s:%u tls=%s", conf->http.listen_host,
             conf->http.listen_port, h->tls_cert ? "yes" : "no");
    return h;
fail:
    if (h->daemon != NULL)
        MHD_stop_daemon(h->daemon);
    if (h->listen_fd >= 0)
        close(h->listen_fd);
    free(h->tls_cert);
    free(h->tls_key);
    free(h);
    return NULL;
}

void httpd_shutdown(struct httpd *h)
{
    struct httpd_request *req;
    struct httpd_stream *s;

    if (h->shutting_down)
        return;
    h->shutting_down = true;
    /* Stop accepting: new clients are refused by the kernel from now on. */
    loop_timer_cancel(h->loop, h->accept_pause);
    h->accept_pause = NULL;
    loop_fd_del(h->loop, h->listen_fd);
    close(h->listen_fd);
    h->listen_fd = -1;
    httpd_conn_linger_sweep(h, true);
    while ((req = LIST_FIRST(&h->parked)) != NULL) {
        httpd_abort_cb cb = req->abort_cb;
        httpd_respond_unpark(req);
        req->state = REQ_HANDLING;
        if (cb != NULL)
            cb(req, req->abort_arg);
        httpd_add_header(req, "Retry-After", "5");
        httpd_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "wait",
                    "service-unavailable", "restanza is shutting down");
        MHD_resume_connection(req->conn);
        h->resumed = true;
    }
    /* Streams end with what they have buffered. */
    LIST_FOREACH(s, &h->streams, link)
    {
        if (!s->detached) {
            s->detached = true;
            if (s->close_cb != NULL)
                s->close_cb(s, s->arg);
        }
        httpd_stream_end(s);
    }
}

size_t httpd_parked(const struct httpd *h)
{
    return h->nparked;
}

size_t httpd_connections(const struct httpd *h)
{
    return h->nconns;
}

void httpd_free(struct httpd *h)
{
    struct httpd_conn *c;

    if (h == NULL)
        return;
    httpd_shutdown(h);
    /* Let MHD hand the 503s to their clients before it stops. */
    MHD_run(h->daemon);
    loop_prepare_del(h->loop, prepare, h);
    loop_fd_del(h->loop, h->epfd);
    /* Closes every connection; httpd_conn_on_notify forgets each one. */
    MHD_stop_daemon(h->daemon);
    loop_timer_cancel(h->loop, h->sweep);
    while ((c = LIST_FIRST(&h->conns)) != NULL) {
        LIST_REMOVE(c, link);
        free(c);
    }
    free(h->tls_cert);
    free(h->tls_key);
    free(h);
}

void httpd_route(struct httpd *h, const char *method, const char *path,
                 bool prefix, const char *name, httpd_handler handler,
                 void *arg)
{
    if (h->nroutes == MAX_ROUTES) {
        log_error("too many routes", "path=%s", path);
        abort();
    }
    h->routes[h->nroutes++] = (struct httpd_route){
        .method = method,
        .path = path,
        .pathlen = strlen(path),
        .prefix = prefix,
        .name = name,
        .handler = handler,
        .arg = arg,
    };
}
