/* SPDX-License-Identifier: MIT */
/* httpd.h: the HTTP server (libmicrohttpd adapter): routes, limits, parking. */
#ifndef RESTANZA_HTTPD_H
#define RESTANZA_HTTPD_H

#include <stdbool.h>
#include <stddef.h>

struct loop;
struct conf;
struct httpd;
struct httpd_request;
struct json_object;

/* Handles a request whose body has been read in full. It answers with
 * httpd_respond() now, or parks the request with httpd_park(). */
typedef void (*httpd_handler)(struct httpd_request *req, void *arg);
/* A parked request goes away without our answer (client gone, shutdown):
 * the owner forgets req; it must not be used after this returns. */
typedef void (*httpd_abort_cb)(struct httpd_request *req, void *arg);

/* Listen as configured; NULL (logged) when the socket cannot be opened. */
struct httpd *httpd_new(struct loop *loop, const struct conf *conf);
/* Parked requests get 503 first. */
void httpd_free(struct httpd *h);

/*
 * Route METHOD PATH to handler. With prefix, PATH matches itself and
 * everything below PATH/ (httpd_request_rest() gives the remainder).
 * name labels the route in metrics; it must live forever.
 */
void httpd_route(struct httpd *h, const char *method, const char *path,
                 bool prefix, const char *name, httpd_handler handler,
                 void *arg);

/* Stop accepting connections and answer every parked request with 503. */
void httpd_shutdown(struct httpd *h);
size_t httpd_parked(const struct httpd *h);
/* Client connections open now (at most http.max_connections). */
size_t httpd_connections(const struct httpd *h);

/* Borrowed views, valid until the request is answered. */
const char *httpd_request_method(const struct httpd_request *req);
const char *httpd_request_path(const struct httpd_request *req);
/* The part of the path after a prefix route's PATH/, or "" */
const char *httpd_request_rest(const struct httpd_request *req);
const char *httpd_request_header(const struct httpd_request *req,
                                 const char *name);
const char *httpd_request_query(const struct httpd_request *req,
                                const char *name);
/* One URL query parameter (borrowed); value is NULL for a bare "?flag".
 * Returning false stops the walk. */
typedef bool (*httpd_query_fn)(const char *key, const char *value, void *arg);
/* Call fn for every URL query parameter, in order. */
void httpd_request_query_each(const struct httpd_request *req,
                              httpd_query_fn fn, void *arg);
const char *httpd_request_body(const struct httpd_request *req, size_t *len);
/* True when the peer is on a loopback address. */
bool httpd_request_loopback(const struct httpd_request *req);

/* Add a header to the coming response (copied). */
void httpd_add_header(struct httpd_request *req, const char *name,
                      const char *value);
/* Answer (body copied). Exactly one answer per request. */
void httpd_respond(struct httpd_request *req, unsigned status,
                   const char *content_type, const char *body, size_t len);
/* Answer with obj as application/json; takes the reference to obj. */
void httpd_respond_json(struct httpd_request *req, unsigned status,
                        struct json_object *obj);
/* Answer with the JSON error shape of the REST API:
 * {"type":"error","error":{"type":T,"condition":C,"text":X},"code":N} */
void httpd_error(struct httpd_request *req, unsigned status, const char *type,
                 const char *condition, const char *text);

/* The answer a request got (borrowed), or status 0 when it went away
 * unanswered. */
typedef void (*httpd_answer_cb)(unsigned status, const char *content_type,
                                const char *body, size_t len, void *arg);
/* Call cb once with the request's answer, right after httpd_respond(). */
void httpd_on_answer(struct httpd_request *req, httpd_answer_cb cb, void *arg);

/* Park the request until httpd_respond(); abort runs if it goes away. */
void httpd_park(struct httpd_request *req, httpd_abort_cb abort_cb, void *arg);

/* Bytes a stream buffers for its client at most: a client that does not
 * read is disconnected past it (logged). */
#define HTTPD_STREAM_BUFFER_MAX (1u << 20)

/* A response of unknown length written as it comes (Server-Sent Events). */
struct httpd_stream;
/* The stream's buffer is empty: the owner may write more (pulled, so that
 * a long replay is read a page at a time). */
typedef void (*httpd_stream_want_cb)(struct httpd_stream *s, void *arg);
/* The stream went away without httpd_stream_end() (client gone, shutdown):
 * the owner forgets s; it must not be used after this returns. */
typedef void (*httpd_stream_close_cb)(struct httpd_stream *s, void *arg);

/*
 * Answer req with status 200 and a body written by httpd_stream_write()
 * until httpd_stream_end(). NULL (req unanswered) when as many streams as
 * half of http.max_connections are open, or while shutting down.
 */
struct httpd_stream *httpd_stream_start(struct httpd_request *req,
                                        const char *content_type,
                                        httpd_stream_want_cb want,
                                        httpd_stream_close_cb close_cb,
                                        void *arg);
/* Queue data (copied). False when that would pass HTTPD_STREAM_BUFFER_MAX:
 * the connection is closed then and the owner forgets s (close_cb does not
 * run). */
bool httpd_stream_write(struct httpd_stream *s, const char *data, size_t len);
/* Bytes written and not yet handed to the socket. */
size_t httpd_stream_buffered(const struct httpd_stream *s);
/* The body ends once the buffer is sent; the owner forgets s. */
void httpd_stream_end(struct httpd_stream *s);
size_t httpd_streams(const struct httpd *h);

#endif
