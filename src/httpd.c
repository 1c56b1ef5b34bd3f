/* SPDX-License-Identifier: MIT */
/* httpd.c: the HTTP server (libmicrohttpd adapter): routes, limits, parking. */
#include "config.h"

#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "json.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "xmalloc.h"

#define MAX_ROUTES 32
#define MAX_HEADERS 8
#define TLS_FILE_MAX (1 << 20)
/* Bytes of an oversized body we read and drop before closing instead. */
#define DISCARD_MAX (1u << 20)
/* Connections accepted per wake-up of the listening socket. */
/*
 * Memory MHD gives each connection for the request line, the headers and
 * the read buffer: a header block of up to about 16 KiB fits (a larger one
 * gets MHD's own 431). MHD clears the whole pool after every request, so
 * its default of 32 KiB cost a 48 KiB memset per request (measured with
 * callgrind: half of all instructions on the POST /rest path).
 */
#define CONN_MEMORY (16u * 1024)
#define ACCEPT_BATCH 64
/* Pause after accept() ran out of descriptors or memory, in ms. */
#define ACCEPT_PAUSE_MS 100
/* Refused connections kept open to drain after their 503, and for how
 * long: closing with unread data would reset the connection and a client
 * still sending its request could lose the answer. */
#define LINGER_MAX 32
#define LINGER_MS 1000
/* Lines per second of one kind of connection-limit log line. */
#define LOG_BURST 5

struct route {
    const char *method;
    const char *path;
    size_t pathlen;
    bool prefix;
    const char *name;
    httpd_handler handler;
    void *arg;
};

enum req_state {
    REQ_READING,  /* headers in, body arriving */
    REQ_HANDLING, /* inside the handler */
    REQ_PARKED,   /* suspended, waiting for httpd_respond */
    REQ_ANSWERED, /* response stored, not yet queued */
    REQ_QUEUED,   /* handed to MHD */
    REQ_STREAM,   /* answered with a stream, not yet queued */
};

/* What a connection is waiting for, and so which deadline applies. */
enum conn_phase {
    CONN_HEADER, /* the next request's header: http.header_timeout */
    CONN_BODY,   /* the rest of the request: http.body_timeout */
    CONN_BUSY,   /* handled, parked or answering: MHD's idle timeout only */
};

/* One TCP connection that MHD manages (its socket context). */
struct httpd_conn {
    struct httpd *h;
    int fd;
    enum conn_phase phase;
    uint64_t deadline; /* loop_clock_ms() time, 0 for none */
    uint64_t since;    /* when that deadline was set */
    bool cut;          /* shut down for lateness, MHD not done with it yet */
    char peer[INET6_ADDRSTRLEN + 8];
    struct httpd_conn *prev, *next;
};

/* At most LOG_BURST lines a second; the next line counts the rest. */
struct ratelimit {
    uint64_t window; /* start of the current second */
    unsigned lines;
    unsigned suppressed;
};

struct httpd_request {
    struct httpd *h;
    struct MHD_Connection *conn;
    char *method;
    char *path;
    const char *rest;
    const char *route_name;
    char *body;
    size_t body_len;
    bool too_large;
    size_t discarded; /* bytes dropped after too_large */
    enum req_state state;
    unsigned status;
    char *resp_type;
    char *resp_body;
    size_t resp_len;
    char *headers[MAX_HEADERS][2];
    size_t nheaders;
    httpd_abort_cb abort_cb;
    void *abort_arg;
    httpd_answer_cb answer_cb; /* sees the answer once (idempotency) */
    void *answer_arg;
    struct httpd_request *prev, *next; /* list of parked requests */
    struct httpd_conn *tcp;            /* its connection, NULL if unknown */
    struct httpd_stream *stream;       /* REQ_STREAM: its body */
};

/*
 * A streamed body. MHD pulls it through stream_read(): what is buffered,
 * or nothing after suspending the connection; a write resumes it. The
 * response's free callback (the connection is done) frees it.
 */
struct httpd_stream {
    struct httpd *h;
    struct MHD_Connection *conn;
    char *buf;
    size_t off, len, cap; /* unsent bytes are buf[off..len) */
    bool suspended;       /* by stream_read, for want of data */
    bool ended;           /* EOF once the buffer is sent */
    bool failed;          /* over the bound: close the connection */
    bool detached;        /* the owner forgot it */
    httpd_stream_want_cb want;
    httpd_stream_close_cb close_cb;
    void *arg;
    char peer[INET6_ADDRSTRLEN + 8];
    struct httpd_stream *prev, *next;
};

struct httpd {
    struct loop *loop;
    const struct conf *conf;
    struct MHD_Daemon *daemon;
    int epfd;
    int listen_fd; /* ours: MHD gets each connection from us */
    struct loop_timer *accept_pause;
    struct httpd_conn *conns; /* every connection MHD holds */
    size_t nconns;
    struct loop_timer *sweep; /* fires at sweep_due, the first deadline */
    uint64_t sweep_due;
    struct ratelimit refused_log, slow_log, accept_log;
    char refusal[512]; /* the 503 sent to connections over the limit */
    size_t refusal_len;
    struct {
        int fd;         /* a refused socket being drained, -1 if free */
        uint64_t until; /* loop_clock_ms() time it is closed at */
    } linger[LINGER_MAX];
    size_t nlinger;
    struct loop_timer *linger_timer; /* for the first of the untils */
    struct route routes[MAX_ROUTES];
    size_t nroutes;
    struct httpd_request *parked;
    size_t nparked;
    struct httpd_stream *streams; /* every stream MHD has not freed */
    size_t nstreams;
    bool shutting_down;
    bool resumed; /* MHD_resume_connection() since the last MHD_run() */
    char *tls_cert, *tls_key;
};

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

/* Whether a rate-limited line may go out now; *suppressed gets the number
 * of lines held back since the last one that went out. */
static bool ratelimit_pass(struct ratelimit *r, uint64_t now,
                           unsigned *suppressed)
{
    if (now - r->window >= 1000) {
        r->window = now;
        r->lines = 0;
    }
    if (r->lines == LOG_BURST) {
        r->suppressed++;
        return false;
    }
    r->lines++;
    *suppressed = r->suppressed;
    r->suppressed = 0;
    return true;
}

/* "addr:port" or "[addr]:port" of a peer, for logs. */
static void format_peer(const struct sockaddr *sa, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";

    if (sa != NULL && sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s->sin_addr, host, sizeof(host));
        snprintf(out, cap, "%s:%u", host, (unsigned)ntohs(s->sin_port));
    } else if (sa != NULL && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof(host));
        snprintf(out, cap, "[%s]:%u", host, (unsigned)ntohs(s->sin6_port));
    } else {
        snprintf(out, cap, "unknown");
    }
}

/* The JSON error shape of the REST API into out; its length, or 0. */
static size_t error_body(char *out, size_t cap, unsigned status,
                         const char *type, const char *condition,
                         const char *esc_text)
{
    int n = snprintf(out, cap,
                     "{\"type\":\"error\",\"error\":{\"type\":\"%s\","
                     "\"condition\":\"%s\",\"text\":\"%s\"},\"code\":%u}\n",
                     type, condition, esc_text, status);

    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* The whole HTTP answer for a connection over max_connections. */
static size_t refusal(char *out, size_t cap)
{
    char body[256];
    size_t n =
        error_body(body, sizeof(body), 503, "wait", "resource-constraint",
                   "Too many connections, retry later");
    int m = snprintf(out, cap,
                     "HTTP/1.1 503 Service Unavailable\r\n"
                     "Content-Type: application/json\r\n"
                     "Content-Length: %zu\r\n"
                     "Retry-After: 1\r\n"
                     "Connection: close\r\n\r\n%s",
                     n, body);

    return m > 0 && (size_t)m < cap ? (size_t)m : 0;
}

static void on_sweep(void *arg);

/* Make the sweep timer fire at due (loop_clock_ms() time). */
static void sweep_arm(struct httpd *h, uint64_t due)
{
    uint64_t now = loop_clock_ms();

    loop_timer_cancel(h->loop, h->sweep);
    h->sweep_due = due;
    h->sweep = loop_timer_add(h->loop, due > now ? due - now : 0, on_sweep, h);
}

/* Move a connection to phase, with a deadline secs from now (0: none). */
static void conn_arm(struct httpd_conn *c, enum conn_phase phase, unsigned secs)
{
    struct httpd *h = c->h;

    if (c->cut)
        return;
    c->phase = phase;
    c->deadline = 0;
    if (secs == 0)
        return;
    /* The time of this wake-up: a few ms early at worst, and cheap. */
    c->since = loop_now(h->loop);
    c->deadline = c->since + (uint64_t)secs * 1000u;
    /* Later deadlines wait for the sweep that comes first. */
    if (h->sweep == NULL || c->deadline < h->sweep_due)
        sweep_arm(h, c->deadline);
}

/* Cut a connection whose request is late. MHD reads end-of-file, closes
 * the socket and frees the connection itself: the fd stays MHD's. */
static void conn_expire(struct httpd_conn *c, uint64_t now)
{
    struct httpd *h = c->h;
    bool header = c->phase == CONN_HEADER;
    unsigned suppressed, limit = (unsigned)((c->deadline - c->since) / 1000u);

    c->cut = true;
    c->deadline = 0;
    if (shutdown(c->fd, SHUT_RDWR) < 0)
        log_debug("shutdown of a late HTTP connection failed",
                  "peer=%s error=%s", c->peer, strerror(errno));
    metrics_inc(header ? METRIC_HTTP_HEADER_TIMEOUTS
                       : METRIC_HTTP_BODY_TIMEOUTS);
    if (ratelimit_pass(&h->slow_log, now, &suppressed))
        log_info(header ? "http request header too slow, closing"
                        : "http request body too slow, closing",
                 "peer=%s limit_s=%u suppressed=%u", c->peer, limit,
                 suppressed);
}

/* Close the connections past their deadline; wait for the next one. */
static void on_sweep(void *arg)
{
    struct httpd *h = arg;
    uint64_t now = loop_clock_ms(), next = 0;

    h->sweep = NULL; /* the loop frees a timer that fired */
    for (struct httpd_conn *c = h->conns; c != NULL; c = c->next) {
        if (c->deadline == 0)
            continue;
        if (c->deadline <= now)
            conn_expire(c, now);
        else if (next == 0 || c->deadline < next)
            next = c->deadline;
    }
    if (next != 0)
        sweep_arm(h, next);
}

/* The connection MHD serves req on (our socket context), or NULL. */
static struct httpd_conn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci != NULL ? ci->socket_context : NULL;
}

/* MHD took or dropped a connection: track it for deadlines and the limit. */
static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct httpd *h = cls;
    struct httpd_conn *c = *socket_context;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fd =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *addr =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

        c = xcalloc(1, sizeof(*c));
        c->h = h;
        c->fd = fd != NULL ? fd->connect_fd : -1;
        format_peer(addr != NULL ? addr->client_addr : NULL, c->peer,
                    sizeof(c->peer));
        c->next = h->conns;
        if (h->conns != NULL)
            h->conns->prev = c;
        h->conns = c;
        h->nconns++;
        *socket_context = c;
        if (c->fd >= 0)
            conn_arm(c, CONN_HEADER, h->conf->http.header_timeout);
        return;
    }
    if (c == NULL)
        return;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    h->nconns--;
    free(c);
    *socket_context = NULL;
}

static void linger_close(struct httpd *h, size_t i)
{
    loop_fd_del(h->loop, h->linger[i].fd);
    close(h->linger[i].fd);
    h->linger[i].fd = -1;
    h->nlinger--;
}

static void on_linger_timer(void *arg);

/* Close the lingering sockets whose time is up (all when `all`), then wait
 * for the next one. */
static void linger_sweep(struct httpd *h, bool all)
{
    uint64_t now = loop_clock_ms(), next = 0;

    loop_timer_cancel(h->loop, h->linger_timer);
    h->linger_timer = NULL;
    for (size_t i = 0; i < LINGER_MAX && h->nlinger > 0; i++) {
        if (h->linger[i].fd < 0)
            continue;
        if (all || h->linger[i].until <= now)
            linger_close(h, i);
        else if (next == 0 || h->linger[i].until < next)
            next = h->linger[i].until;
    }
    if (next != 0)
        h->linger_timer =
            loop_timer_add(h->loop, next - now, on_linger_timer, h);
}

static void on_linger_timer(void *arg)
{
    struct httpd *h = arg;

    h->linger_timer = NULL; /* the loop frees a timer that fired */
    linger_sweep(h, false);
}

/* Drop what a refused client still sends; close at its end of file. */
static void on_linger(int fd, unsigned events, void *arg)
{
    struct httpd *h = arg;
    char scratch[4096];
    ssize_t n;

    (void)events;
    while ((n = recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT)) > 0)
        ;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    for (size_t i = 0; i < LINGER_MAX; i++)
        if (h->linger[i].fd == fd) {
            linger_close(h, i);
            break;
        }
}

/* Answer a connection over max_connections with a fixed 503: it never
 * reaches MHD. The socket then lingers a moment (at most LINGER_MAX of
 * them, LINGER_MS) so that the answer is not lost to a reset. */
static void refuse(struct httpd *h, int fd, const struct sockaddr *sa)
{
    char peer[INET6_ADDRSTRLEN + 8], scratch[4096];
    unsigned suppressed;
    bool sent = false;

    /* Read what the client has sent so far: closing a socket with unread
     * data sends a reset, which some clients see before our answer. */
    for (int i = 0; i < 4; i++)
        if (recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT) <= 0)
            break;
    /* A fresh socket's send buffer takes the short answer at once. TLS
     * would need a handshake first: that client just sees the close. */
    if (h->tls_cert == NULL) {
        if (send(fd, h->refusal, h->refusal_len, MSG_NOSIGNAL | MSG_DONTWAIT) <
            0)
            log_debug("cannot send the 503 to a refused connection", "error=%s",
                      strerror(errno));
        else
            sent = true;
    }
    if (sent && h->nlinger < LINGER_MAX && shutdown(fd, SHUT_WR) == 0 &&
        loop_fd_add(h->loop, fd, LOOP_IN, on_linger, h) == 0) {
        for (size_t i = 0; i < LINGER_MAX; i++)
            if (h->linger[i].fd < 0) {
                h->linger[i].fd = fd;
                h->linger[i].until = loop_clock_ms() + LINGER_MS;
                break;
            }
        if (h->nlinger++ == 0)
            h->linger_timer =
                loop_timer_add(h->loop, LINGER_MS, on_linger_timer, h);
    } else {
        close(fd);
    }
    metrics_inc(METRIC_HTTP_REFUSED);
    if (ratelimit_pass(&h->refused_log, loop_clock_ms(), &suppressed)) {
        format_peer(sa, peer, sizeof(peer));
        log_warn("http connection over max_connections, refused",
                 "peer=%s open=%zu limit=%u suppressed=%u", peer, h->nconns,
                 h->conf->http.max_connections, suppressed);
    }
}

static void on_accept_resume(void *arg)
{
    struct httpd *h = arg;

    h->accept_pause = NULL; /* the loop frees a timer that fired */
    if (h->listen_fd >= 0)
        loop_fd_mod(h->loop, h->listen_fd, LOOP_IN);
}

/* New clients: MHD gets them up to max_connections, the others a 503. */
static void on_listen(int fd, unsigned events, void *arg)
{
    struct httpd *h = arg;

    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        unsigned suppressed;
        int c = accept4(fd, (struct sockaddr *)&ss, &len,
                        SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (c < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (c < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                      errno == ENOMEM)) {
            /* The socket stays readable: stop watching it for a moment
             * rather than spin. */
            if (ratelimit_pass(&h->accept_log, loop_clock_ms(), &suppressed))
                log_error("cannot accept HTTP connections, pausing",
                          "error=%s open=%zu suppressed=%u", strerror(errno),
                          h->nconns, suppressed);
            loop_fd_mod(h->loop, fd, 0);
            loop_timer_cancel(h->loop, h->accept_pause);
            h->accept_pause =
                loop_timer_add(h->loop, ACCEPT_PAUSE_MS, on_accept_resume, h);
            return;
        }
        if (c < 0) {
            /* Network errors of the pending connection (accept(2)): it is
             * gone, the next one may be fine. */
            log_debug("accept failed", "error=%s", strerror(errno));
            continue;
        }
        if (h->nconns >= h->conf->http.max_connections) {
            refuse(h, c, (struct sockaddr *)&ss);
            continue;
        }
        /* MHD owns c from here, and closes it if it fails. */
        if (MHD_add_connection(h->daemon, c, (struct sockaddr *)&ss, len) !=
                MHD_YES &&
            ratelimit_pass(&h->accept_log, loop_clock_ms(), &suppressed))
            log_warn("libmicrohttpd did not take a connection",
                     "error=%s suppressed=%u", strerror(errno), suppressed);
    }
}

/* A non-blocking listening TCP socket on sa, or -1 with errno set. */
static int listen_on(const struct sockaddr *sa, socklen_t len)
{
    int one = 1, e;
    int fd =
        socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    /* As libmicrohttpd did: restart at once, IPv6 only on an IPv6 address. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
        (sa->sa_family != AF_INET6 ||
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == 0) &&
        bind(fd, sa, len) == 0 && listen(fd, 1024) == 0)
        return fd;
    e = errno;
    close(fd);
    errno = e;
    return -1;
}

static void unlink_parked(struct httpd_request *req)
{
    struct httpd *h = req->h;

    if (req->prev != NULL)
        req->prev->next = req->next;
    else if (h->parked == req)
        h->parked = req->next;
    if (req->next != NULL)
        req->next->prev = req->prev;
    req->prev = req->next = NULL;
    h->nparked--;
}

static void request_free(struct httpd_request *req)
{
    free(req->method);
    free(req->path);
    free(req->body);
    free(req->resp_type);
    free(req->resp_body);
    for (size_t i = 0; i < req->nheaders; i++) {
        free(req->headers[i][0]);
        free(req->headers[i][1]);
    }
    free(req);
}

/* Hand the stored answer to MHD. */
static enum MHD_Result queue(struct httpd_request *req)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        req->resp_len, req->resp_body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    if (r == NULL)
        return MHD_NO;
    if (req->resp_type != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                req->resp_type);
    for (size_t i = 0; i < req->nheaders; i++)
        MHD_add_response_header(r, req->headers[i][0], req->headers[i][1]);
    ret = MHD_queue_response(req->conn, req->status, r);
    MHD_destroy_response(r);
    req->state = REQ_QUEUED;
    return ret;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max);
static void stream_free(void *cls);

/* Hand the stream to MHD; from here its free callback owns it. */
static enum MHD_Result queue_stream(struct httpd_request *req)
{
    struct httpd_stream *s = req->stream;
    struct MHD_Response *r = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, 4096, stream_read, s, stream_free);
    enum MHD_Result ret;

    req->state = REQ_QUEUED;
    req->stream = NULL;
    if (r == NULL) {
        stream_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, req->resp_type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    for (size_t i = 0; i < req->nheaders; i++)
        MHD_add_response_header(r, req->headers[i][0], req->headers[i][1]);
    ret = MHD_queue_response(req->conn, req->status, r);
    MHD_destroy_response(r); /* frees s now if MHD did not take it */
    return ret;
}

static const struct route *find_route(struct httpd *h, const char *method,
                                      const char *path, bool *path_known)
{
    const struct route *best = NULL;

    *path_known = false;
    for (size_t i = 0; i < h->nroutes; i++) {
        const struct route *r = &h->routes[i];
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
    const struct route *r = find_route(h, req->method, req->path, &known);

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

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *upload,
                                 size_t *upload_size, void **req_cls)
{
    struct httpd *h = cls;
    struct httpd_request *req = *req_cls;

    if (req == NULL) {
        bool has_cl;
        size_t cl = content_length(conn, &has_cl);
        req = xcalloc(1, sizeof(*req));
        req->h = h;
        req->conn = conn;
        req->method = xstrdup(method);
        req->path = xstrdup(url);
        req->rest = "";
        req->tcp = conn_of(conn);
        *req_cls = req;
        if (has_cl && cl > h->conf->http.max_body) {
            /* Refuse before reading: MHD closes after the answer. */
            req->too_large = true;
            if (req->tcp != NULL)
                conn_arm(req->tcp, CONN_BUSY, 0);
            dispatch(req);
            return queue(req);
        }
        /* The header is in; the body (if any) has its own time. */
        if (req->tcp != NULL)
            conn_arm(req->tcp, CONN_BODY, h->conf->http.body_timeout);
        return MHD_YES;
    }
    if (req->state == REQ_ANSWERED)
        return queue(req);
    if (req->state != REQ_READING)
        return MHD_YES; /* parked or already queued: nothing to do */
    if (*upload_size > 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (req->too_large || req->body_len + n > h->conf->http.max_body) {
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
                    log_info("http body too large, closing",
                             "path=%s bytes=%zu", req->path, req->discarded);
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
    /* Cut for lateness while its last bytes were arriving: the client
     * counts it as failed and may retry, so it must not be acted on. */
    if (req->tcp != NULL && req->tcp->cut)
        return MHD_NO;
    /* The request is in: from here only MHD's idle timeout (answer) or the
     * IQ deadline (parked) applies. */
    if (req->tcp != NULL)
        conn_arm(req->tcp, CONN_BUSY, 0);
    if (h->shutting_down) {
        /* The handlers' owners may be gone already (httpd_free runs MHD
         * once more after them). */
        req->route_name = "shutdown";
        httpd_add_header(req, "Retry-After", "5");
        httpd_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "wait",
                    "service-unavailable", "restanza is shutting down");
        return queue(req);
    }
    dispatch(req);
    if (req->state == REQ_ANSWERED)
        return queue(req);
    if (req->state == REQ_STREAM)
        return queue_stream(req);
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
        unlink_parked(req);
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
        conn_arm(req->tcp, CONN_HEADER,
                 req->h->conf->http.timeout +
                     req->h->conf->http.header_timeout);
    request_free(req);
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

struct httpd *httpd_new(struct loop *loop, const struct conf *conf)
{
    struct httpd *h = xcalloc(1, sizeof(*h));
    struct sockaddr_in sin = {0};
    struct sockaddr_in6 sin6 = {0};
    struct sockaddr *sa;
    socklen_t salen;
    /* We accept connections ourselves (on_listen) to refuse those over
     * max_connections with an answer rather than leave them waiting. */
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
    h->refusal_len = refusal(h->refusal, sizeof(h->refusal));
    if (inet_pton(AF_INET, conf->http.listen_host, &sin.sin_addr) == 1) {
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)conf->http.listen_port);
        sa = (struct sockaddr *)&sin;
        salen = sizeof(sin);
    } else if (inet_pton(AF_INET6, conf->http.listen_host, &sin6.sin6_addr) ==
               1) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons((uint16_t)conf->http.listen_port);
        sa = (struct sockaddr *)&sin6;
        salen = sizeof(sin6);
        flags |= MHD_USE_IPv6;
    } else {
        log_error("http.listen is not a numeric address", "host=%s",
                  conf->http.listen_host);
        free(h);
        return NULL;
    }
    if (conf->http.tls_cert != NULL) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            log_error("libmicrohttpd was built without TLS", "");
            free(h);
            return NULL;
        }
        h->tls_cert = read_small_file(conf->http.tls_cert);
        h->tls_key = read_small_file(conf->http.tls_key);
        if (h->tls_cert == NULL || h->tls_key == NULL) {
            log_error("cannot read TLS certificate or key", "cert=%s key=%s",
                      conf->http.tls_cert, conf->http.tls_key);
            free(h->tls_cert);
            free(h->tls_key);
            free(h);
            return NULL;
        }
        flags |= MHD_USE_TLS;
    }
    h->listen_fd = listen_on(sa, salen);
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
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
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
    if (loop_fd_add(loop, h->listen_fd, LOOP_IN, on_listen, h) < 0) {
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
    if (h->shutting_down)
        return;
    h->shutting_down = true;
    /* Stop accepting: new clients are refused by the kernel from now on. */
    loop_timer_cancel(h->loop, h->accept_pause);
    h->accept_pause = NULL;
    loop_fd_del(h->loop, h->listen_fd);
    close(h->listen_fd);
    h->listen_fd = -1;
    linger_sweep(h, true);
    while (h->parked != NULL) {
        struct httpd_request *req = h->parked;
        httpd_abort_cb cb = req->abort_cb;
        unlink_parked(req);
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
    for (struct httpd_stream *s = h->streams; s != NULL; s = s->next) {
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

size_t httpd_streams(const struct httpd *h)
{
    return h->nstreams;
}

size_t httpd_connections(const struct httpd *h)
{
    return h->nconns;
}

void httpd_free(struct httpd *h)
{
    if (h == NULL)
        return;
    httpd_shutdown(h);
    /* Let MHD hand the 503s to their clients before it stops. */
    MHD_run(h->daemon);
    loop_prepare_del(h->loop, prepare, h);
    loop_fd_del(h->loop, h->epfd);
    /* Closes every connection; on_connection forgets each one. */
    MHD_stop_daemon(h->daemon);
    loop_timer_cancel(h->loop, h->sweep);
    while (h->conns != NULL) {
        struct httpd_conn *c = h->conns;
        h->conns = c->next;
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
    h->routes[h->nroutes++] = (struct route){
        .method = method,
        .path = path,
        .pathlen = strlen(path),
        .prefix = prefix,
        .name = name,
        .handler = handler,
        .arg = arg,
    };
}

const char *httpd_request_method(const struct httpd_request *req)
{
    return req->method;
}

const char *httpd_request_path(const struct httpd_request *req)
{
    return req->path;
}

const char *httpd_request_rest(const struct httpd_request *req)
{
    return req->rest;
}

const char *httpd_request_header(const struct httpd_request *req,
                                 const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *httpd_request_query(const struct httpd_request *req,
                                const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* Adapts httpd_query_fn to libmicrohttpd's iterator. */
struct query_walk {
    httpd_query_fn fn;
    void *arg;
};

static enum MHD_Result query_walk_one(void *cls, enum MHD_ValueKind kind,
                                      const char *key, const char *value)
{
    struct query_walk *qw = cls;

    (void)kind;
    return qw->fn(key, value, qw->arg) ? MHD_YES : MHD_NO;
}

void httpd_request_query_each(const struct httpd_request *req,
                              httpd_query_fn fn, void *arg)
{
    struct query_walk qw = {fn, arg};

    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_walk_one,
                              &qw);
}

const char *httpd_request_body(const struct httpd_request *req, size_t *len)
{
    if (len != NULL)
        *len = req->body_len;
    return req->body != NULL ? req->body : "";
}

bool httpd_request_loopback(const struct httpd_request *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;

    if (sa == NULL)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
        return (ntohl(s->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
        return IN6_IS_ADDR_LOOPBACK(&s->sin6_addr) ||
               (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr) &&
                s->sin6_addr.s6_addr[12] == 127);
    }
    return false;
}

void httpd_add_header(struct httpd_request *req, const char *name,
                      const char *value)
{
    if (req->nheaders == MAX_HEADERS) {
        log_error("too many response headers", "name=%s", name);
        return;
    }
    req->headers[req->nheaders][0] = xstrdup(name);
    req->headers[req->nheaders][1] = xstrdup(value);
    req->nheaders++;
}

void httpd_respond(struct httpd_request *req, unsigned status,
                   const char *content_type, const char *body, size_t len)
{
    bool was_parked = req->state == REQ_PARKED;

    if (req->state != REQ_HANDLING && req->state != REQ_PARKED &&
        req->state != REQ_READING) {
        log_error("second answer to one HTTP request", "path=%s", req->path);
        return;
    }
    req->status = status;
    req->resp_type = content_type != NULL ? xstrdup(content_type) : NULL;
    req->resp_body = xmalloc(len + 1);
    memcpy(req->resp_body, body, len);
    req->resp_len = len;
    req->state = REQ_ANSWERED;
    if (was_parked) {
        unlink_parked(req);
        MHD_resume_connection(req->conn);
        req->h->resumed = true;
    }
    if (req->answer_cb != NULL) {
        httpd_answer_cb cb = req->answer_cb;
        req->answer_cb = NULL;
        cb(status, req->resp_type, req->resp_body, len, req->answer_arg);
    }
}

void httpd_on_answer(struct httpd_request *req, httpd_answer_cb cb, void *arg)
{
    req->answer_cb = cb;
    req->answer_arg = arg;
}

/* Append s to the buffer as JSON string content. */
static size_t json_escape(char *out, size_t cap, const char *s)
{
    size_t n = 0;

    for (; *s != '\0' && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
    return n;
}

void httpd_respond_json(struct httpd_request *req, unsigned status,
                        struct json_object *obj)
{
    char *text = json_to_string(obj);

    httpd_respond(req, status, "application/json", text, strlen(text));
    free(text);
    json_object_put(obj);
}

void httpd_error(struct httpd_request *req, unsigned status, const char *type,
                 const char *condition, const char *text)
{
    char esc[1024], body[1400];
    size_t n;

    json_escape(esc, sizeof(esc), text != NULL ? text : "");
    n = error_body(body, sizeof(body), status, type, condition, esc);
    httpd_respond(req, status, "application/json", body, n);
}

void httpd_park(struct httpd_request *req, httpd_abort_cb abort_cb, void *arg)
{
    struct httpd *h = req->h;

    if (h->shutting_down) {
        /* The owner forgets req first, as for any parked request. */
        if (abort_cb != NULL)
            abort_cb(req, arg);
        httpd_add_header(req, "Retry-After", "5");
        httpd_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "wait",
                    "service-unavailable", "restanza is shutting down");
        return;
    }
    req->state = REQ_PARKED;
    req->abort_cb = abort_cb;
    req->abort_arg = arg;
    req->next = h->parked;
    if (h->parked != NULL)
        h->parked->prev = req;
    h->parked = req;
    h->nparked++;
}

/* Let MHD pull again from a stream that stream_read() suspended. */
static void stream_wake(struct httpd_stream *s)
{
    if (!s->suspended)
        return;
    s->suspended = false;
    MHD_resume_connection(s->conn);
    s->h->resumed = true;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct httpd_stream *s = cls;
    size_t n;

    (void)pos;
    if (s->off == s->len && !s->detached && !s->failed && s->want != NULL)
        s->want(s, s->arg); /* may write */
    if (s->failed)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (s->off < s->len) {
        n = s->len - s->off < max ? s->len - s->off : max;
        memcpy(buf, s->buf + s->off, n);
        s->off += n;
        if (s->off == s->len)
            s->off = s->len = 0;
        return (ssize_t)n;
    }
    if (s->ended)
        return MHD_CONTENT_READER_END_OF_STREAM;
    /* Nothing to send: sleep until a write (MHD would call again at once). */
    MHD_suspend_connection(s->conn);
    s->suspended = true;
    return 0;
}

/* MHD is done with the response: the client is gone or the body ended. */
static void stream_free(void *cls)
{
    struct httpd_stream *s = cls;
    struct httpd *h = s->h;

    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        h->streams = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    h->nstreams--;
    if (!s->detached && s->close_cb != NULL)
        s->close_cb(s, s->arg);
    log_debug("http stream closed", "peer=%s", s->peer);
    free(s->buf);
    free(s);
}

struct httpd_stream *httpd_stream_start(struct httpd_request *req,
                                        const char *content_type,
                                        httpd_stream_want_cb want,
                                        httpd_stream_close_cb close_cb,
                                        void *arg)
{
    struct httpd *h = req->h;
    size_t max = h->conf->http.max_connections / 2;
    struct httpd_stream *s;

    if (req->state != REQ_HANDLING || h->shutting_down ||
        h->nstreams >= (max > 0 ? max : 1))
        return NULL;
    s = xcalloc(1, sizeof(*s));
    s->h = h;
    s->conn = req->conn;
    s->want = want;
    s->close_cb = close_cb;
    s->arg = arg;
    if (req->tcp != NULL)
        snprintf(s->peer, sizeof(s->peer), "%s", req->tcp->peer);
    else
        snprintf(s->peer, sizeof(s->peer), "unknown");
    s->next = h->streams;
    if (h->streams != NULL)
        h->streams->prev = s;
    h->streams = s;
    h->nstreams++;
    req->stream = s;
    req->status = MHD_HTTP_OK;
    req->resp_type = xstrdup(content_type);
    req->state = REQ_STREAM;
    return s;
}

bool httpd_stream_write(struct httpd_stream *s, const char *data, size_t len)
{
    size_t have = s->len - s->off;

    if (s->failed || s->ended)
        return false;
    if (have + len > HTTPD_STREAM_BUFFER_MAX) {
        log_warn("http stream client does not read, closing",
                 "peer=%s buffered=%zu", s->peer, have);
        s->failed = true;
        s->detached = true;
        free(s->buf);
        s->buf = NULL;
        s->off = s->len = s->cap = 0;
        stream_wake(s);
        return false;
    }
    if (s->off > 0) {
        memmove(s->buf, s->buf + s->off, have);
        s->off = 0;
        s->len = have;
    }
    if (s->len + len > s->cap) {
        size_t cap = s->cap > 0 ? s->cap : 4096;
        while (cap < s->len + len)
            cap *= 2;
        s->buf = xrealloc(s->buf, cap);
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    stream_wake(s);
    return true;
}

size_t httpd_stream_buffered(const struct httpd_stream *s)
{
    return s->len - s->off;
}

void httpd_stream_end(struct httpd_stream *s)
{
    s->detached = true;
    s->ended = true;
    stream_wake(s);
}
