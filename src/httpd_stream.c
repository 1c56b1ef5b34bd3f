/* SPDX-License-Identifier: MIT */
/* httpd_stream.c: HTTP responses of unknown length written as they come
 * (Server-Sent Events), pulled by libmicrohttpd. */
#include "config.h"

#include "httpd_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "httpd_internal.h"
#include "log.h"
#include "xmalloc.h"

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

    LIST_REMOVE(s, link);
    h->nstreams--;
    if (!s->detached && s->close_cb != NULL)
        s->close_cb(s, s->arg);
    log_debug("http stream closed", "peer=%s", s->peer);
    free(s->buf);
    free(s);
}

/* Hand the stream to MHD; from here its free callback owns it. */
enum MHD_Result httpd_stream_queue(struct httpd_request *req)
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
    LIST_INSERT_HEAD(&h->streams, s, link);
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

size_t httpd_streams(const struct httpd *h)
{
    return h->nstreams;
}
