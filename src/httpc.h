/* SPDX-License-Identifier: MIT */
/* httpc.h: the HTTP client (libcurl multi adapter): async requests in our loop.
 */
#ifndef RESTANZA_HTTPC_H
#define RESTANZA_HTTPC_H

#include <stddef.h>

struct loop;
struct httpc;
struct httpc_transfer;

enum httpc_error {
    HTTPC_OK,          /* a response arrived (any status) */
    HTTPC_E_CONNECT,   /* name resolution or connection failed */
    HTTPC_E_TIMEOUT,   /* connect or total timeout */
    HTTPC_E_TOO_LARGE, /* response body over max_response */
    HTTPC_E_OTHER,     /* protocol or local failure */
    HTTPC_E_SHUTDOWN,  /* the client is being freed */
};

struct httpc_request {
    const char *method; /* NULL: GET, or POST when body is set */
    const char *url;
    const char *const *headers; /* "Name: value", NULL-terminated, or NULL */
    const char *body;           /* copied */
    size_t body_len;
    unsigned timeout_ms;         /* total; required (> 0) */
    unsigned connect_timeout_ms; /* 0: min(timeout, 5 s) */
    size_t max_response;         /* bytes of body kept; 0: 1 MiB */
};

struct httpc_response {
    enum httpc_error error;
    const char *error_text;   /* for logs */
    long status;              /* 0 when no response */
    const char *content_type; /* or NULL */
    const char *accept;       /* the response's Accept header, or NULL */
    const char *body;         /* NUL-terminated, len bytes */
    size_t len;
    double seconds; /* total time */
};

/* Called once per request; everything in resp is borrowed for the call. */
typedef void (*httpc_cb)(const struct httpc_response *resp, void *arg);

/* max_connections caps concurrent connections (and so fds). */
struct httpc *httpc_new(struct loop *loop, unsigned max_connections);
/* Calls each pending callback with HTTPC_E_SHUTDOWN, then frees. */
void httpc_free(struct httpc *c);

/* Start a request; NULL (logged, cb not called) when it cannot start. */
struct httpc_transfer *httpc_start(struct httpc *c,
                                   const struct httpc_request *req, httpc_cb cb,
                                   void *arg);
/* Abort a request; its callback is not called. */
void httpc_cancel(struct httpc *c, struct httpc_transfer *t);

/* Percent-encode s for a URL template: only ALPHA, DIGIT, '-', '_' and '~'
 * are kept ('.' is encoded, so no dot segment can form); caller frees. */
char *httpc_escape(const char *s);

#endif
