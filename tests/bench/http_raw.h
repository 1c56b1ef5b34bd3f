/* SPDX-License-Identifier: MIT */
/* http_raw.h: the minimal HTTP/1.1 server side shared by the bench sinks
 * (sink.c, evtool.c): a connection buffer, "is a whole request in it",
 * send everything, and drop the request once answered. Not a parser for
 * anything but restanza's own requests. */
#ifndef HTTP_RAW_H
#define HTTP_RAW_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define HTTP_RAW_BUFSZ (256 * 1024)

struct http_conn {
    char *buf;
    size_t len;
    int continued;
};

static int http_send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) { /* tiny answers: rarely happens */
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
            continue;
        }
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* 1 when c->buf starts with a whole request (*hlen header bytes, *clen body
 * bytes), 0 when more must be read (a 100 Continue is sent if asked), -1 to
 * close the connection. */
static int http_request_ready(int fd, struct http_conn *c, size_t *hlen,
                              size_t *clen)
{
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    int expect = 0;

    if (end == NULL)
        return 0;
    *hlen = (size_t)(end - c->buf) + 4;
    *clen = 0;
    for (char *l = memchr(c->buf, '\n', *hlen); l && l < end;
         l = memchr(l + 1, '\n', (size_t)(end - l))) {
        if (strncasecmp(l + 1, "Content-Length:", 15) == 0)
            *clen = strtoul(l + 16, NULL, 10);
        else if (strncasecmp(l + 1, "Expect:", 7) == 0)
            expect = 1;
    }
    if (c->len >= *hlen + *clen)
        return 1;
    if (expect && !c->continued) {
        c->continued = 1;
        if (http_send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0)
            return -1;
    }
    return *hlen + *clen > HTTP_RAW_BUFSZ ? -1 : 0;
}

/* The request of hlen + clen bytes was answered: drop it from c->buf. */
static void http_consume(struct http_conn *c, size_t hlen, size_t clen)
{
    memmove(c->buf, c->buf + hlen + clen, c->len - hlen - clen);
    c->len -= hlen + clen;
    c->continued = 0;
}

#endif
