/* SPDX-License-Identifier: MIT */
/* httpd_internal.h: what the httpd*.c files share: the server, its
 * connections, requests and streams. Not for other modules; the only
 * header besides httpd*.c that includes microhttpd.h. */
#ifndef RESTANZA_HTTPD_INTERNAL_H
#define RESTANZA_HTTPD_INTERNAL_H

#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "httpd.h"

struct conf;
struct loop;
struct loop_timer;

#define MAX_ROUTES 32
#define MAX_HEADERS 8
/* Refused connections kept open to drain after their 503, and for how
 * long: closing with unread data would reset the connection and a client
 * still sending its request could lose the answer. */
#define LINGER_MAX 32
#define LINGER_MS 1000

/* One httpd_route(). */
struct httpd_route {
    const char *method;
    const char *path;
    size_t pathlen;
    bool prefix;
    const char *name;
    httpd_handler handler;
    void *arg;
};

/* Where a request is in its life. */
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
    LIST_ENTRY(httpd_conn) link; /* h->conns */
};

/* At most LOG_BURST lines a second; the next line counts the rest. */
struct httpd_ratelimit {
    uint64_t window; /* start of the current second */
    unsigned lines;
    unsigned suppressed;
};

/* One HTTP request (MHD's request context). */
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
    LIST_ENTRY(httpd_request) link; /* h->parked while parked */
    struct httpd_conn *tcp;         /* its connection, NULL if unknown */
    struct httpd_stream *stream;    /* REQ_STREAM: its body */
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
    LIST_ENTRY(httpd_stream) link; /* h->streams */
};

/* The server. */
struct httpd {
    struct loop *loop;
    const struct conf *conf;
    struct MHD_Daemon *daemon;
    int epfd;
    int listen_fd; /* ours: MHD gets each connection from us */
    struct loop_timer *accept_pause;
    LIST_HEAD(httpd_conns, httpd_conn) conns; /* every one MHD holds */
    size_t nconns;
    struct loop_timer *sweep; /* fires at sweep_due, the first deadline */
    uint64_t sweep_due;
    struct httpd_ratelimit refused_log, slow_log, accept_log;
    char refusal[512]; /* the 503 sent to connections over the limit */
    size_t refusal_len;
    struct {
        int fd;         /* a refused socket being drained, -1 if free */
        uint64_t until; /* loop_clock_ms() time it is closed at */
    } linger[LINGER_MAX];
    size_t nlinger;
    struct loop_timer *linger_timer; /* for the first of the untils */
    struct httpd_route routes[MAX_ROUTES];
    size_t nroutes;
    LIST_HEAD(httpd_parked, httpd_request) parked;
    size_t nparked;
    /* every stream MHD has not freed */
    LIST_HEAD(httpd_streams, httpd_stream) streams;
    size_t nstreams;
    bool shutting_down;
    bool resumed; /* MHD_resume_connection() since the last MHD_run() */
    char *tls_cert, *tls_key;
};

#endif
