/* SPDX-License-Identifier: MIT */
/* httpd_conn.c: the HTTP server's connections: the listening socket, the
 * connection limit (503 and a short linger), header and body deadlines. */
#include "config.h"

#include "httpd_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "httpd_internal.h"
#include "httpd_respond.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "xmalloc.h"

/* Connections accepted per wake-up of the listening socket. */
#define ACCEPT_BATCH 64
/* Pause after accept() ran out of descriptors or memory, in ms. */
#define ACCEPT_PAUSE_MS 100
/* Lines per second of one kind of connection-limit log line. */
#define LOG_BURST 5

/* Whether a rate-limited line may go out now; *suppressed gets the number
 * of lines held back since the last one that went out. */
static bool ratelimit_pass(struct httpd_ratelimit *r, uint64_t now,
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

/* The whole HTTP answer for a connection over max_connections. */
size_t httpd_conn_refusal(char *out, size_t cap)
{
    char body[256];
    size_t n = httpd_respond_error_body(body, sizeof(body), 503, "wait",
                                        "resource-constraint",
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
void httpd_conn_arm(struct httpd_conn *c, enum conn_phase phase, unsigned secs)
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
    struct httpd_conn *c;

    h->sweep = NULL; /* the loop frees a timer that fired */
    LIST_FOREACH(c, &h->conns, link)
    {
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
struct httpd_conn *httpd_conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci != NULL ? ci->socket_context : NULL;
}

/* MHD took or dropped a connection: track it for deadlines and the limit. */
void httpd_conn_on_notify(void *cls, struct MHD_Connection *conn,
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
        LIST_INSERT_HEAD(&h->conns, c, link);
        h->nconns++;
        *socket_context = c;
        if (c->fd >= 0)
            httpd_conn_arm(c, CONN_HEADER, h->conf->http.header_timeout);
        return;
    }
    if (c == NULL)
        return;
    LIST_REMOVE(c, link);
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
void httpd_conn_linger_sweep(struct httpd *h, bool all)
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
    httpd_conn_linger_sweep(h, false);
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
void httpd_conn_on_listen(int fd, unsigned events, void *arg)
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
int httpd_conn_listen(const struct sockaddr *sa, socklen_t len)
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
