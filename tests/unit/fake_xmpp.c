/* SPDX-License-Identifier: MIT */
/* fake_xmpp.c: a component server for unit tests (see fake_xmpp.h). */
#include "config.h"

#include "fake_xmpp.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"

#define STREAM_ID FAKE_STREAM_ID

static void set_nonblock(int fd)
{
    ck_assert_int_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

unsigned fake_free_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    return ntohs(sin.sin_port);
}

void fake_write_all(int fd, const char *s)
{
    size_t n = strlen(s), off = 0;

    while (off < n) {
        ssize_t w = write(fd, s + off, n - off);
        ck_assert_msg(w > 0 || errno == EAGAIN, "write: %s", strerror(errno));
        if (w > 0)
            off += (size_t)w;
    }
}

void fake_close(struct fake *f)
{
    if (f->fd < 0)
        return;
    loop_fd_del(f->loop, f->fd);
    close(f->fd);
    f->fd = -1;
}

/* Advance the handshake with what arrived in hdr. */
static void fake_progress(struct fake *f)
{
    char *p, *end;

    if (f->phase == 0) {
        p = strstr(f->hdr, "<stream:stream");
        if (p == NULL || strchr(p, '>') == NULL)
            return;
        ck_assert_ptr_nonnull(strstr(f->hdr, "jabber:component:accept"));
        fake_write_all(f->fd, "<?xml version='1.0'?><stream:stream "
                              "xmlns:stream='http://etherx.jabber.org/streams' "
                              "xmlns='jabber:component:accept' "
                              "from='rest.example.org' id='" STREAM_ID "'>");
        f->hdrlen = 0;
        f->hdr[0] = '\0';
        f->phase = 1;
        return;
    }
    if (f->phase != 1 || (end = strstr(f->hdr, "</handshake>")) == NULL)
        return;
    p = strstr(f->hdr, "<handshake");
    ck_assert_msg(p != NULL && strchr(p, '>') != NULL, "handshake: %s", f->hdr);
    p = strchr(p, '>') + 1;
    snprintf(f->digest, sizeof(f->digest), "%.*s", (int)(end - p), p);
    if (f->refuse) {
        fake_write_all(
            f->fd, "<stream:error><not-authorized "
                   "xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text "
                   "xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Given token "
                   "does not match calculated token</text></stream:error>"
                   "</stream:stream>");
        fake_close(f);
        return;
    }
    fake_write_all(f->fd, "<handshake/>");
    f->handshakes_ok++;
    f->phase = 2;
    /* Anything after the handshake is stanza traffic. */
    end += strlen("</handshake>");
    f->inlen = strlen(end);
    memcpy(f->in, end, f->inlen + 1);
}

static void on_fake_conn(int fd, unsigned events, void *arg)
{
    struct fake *f = arg;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));

    (void)events;
    if (n == 0 || (n < 0 && errno != EAGAIN)) {
        fake_close(f);
        return;
    }
    if (n < 0)
        return;
    if (f->phase == 2) {
        ck_assert_uint_lt(f->inlen + (size_t)n, sizeof(f->in));
        memcpy(f->in + f->inlen, buf, (size_t)n);
        f->inlen += (size_t)n;
        f->in[f->inlen] = '\0';
        /* A server answers the close of the stream with its own. */
        if (strstr(f->in, "</stream:stream>") != NULL) {
            fake_write_all(f->fd, "</stream:stream>");
            fake_close(f);
        }
        return;
    }
    ck_assert_uint_lt(f->hdrlen + (size_t)n, sizeof(f->hdr));
    memcpy(f->hdr + f->hdrlen, buf, (size_t)n);
    f->hdrlen += (size_t)n;
    f->hdr[f->hdrlen] = '\0';
    fake_progress(f);
}

static void on_fake_accept(int lfd, unsigned events, void *arg)
{
    struct fake *f = arg;
    int fd = accept(lfd, NULL, NULL);

    (void)events;
    if (fd < 0)
        return;
    fake_close(f); /* one client at a time */
    set_nonblock(fd);
    f->fd = fd;
    f->accepted++;
    f->phase = 0;
    f->hdrlen = f->inlen = 0;
    f->hdr[0] = f->in[0] = '\0';
    ck_assert_int_eq(loop_fd_add(f->loop, fd, LOOP_IN, on_fake_conn, f), 0);
}

void fake_start(struct fake *f, struct loop *loop)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    int on = 1;

    memset(f, 0, sizeof(*f));
    f->loop = loop;
    f->fd = -1;
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(f->lfd, 0);
    setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(f->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(getsockname(f->lfd, (struct sockaddr *)&sin, &len), 0);
    ck_assert_int_eq(listen(f->lfd, 8), 0);
    set_nonblock(f->lfd);
    f->port = ntohs(sin.sin_port);
    ck_assert_int_eq(loop_fd_add(loop, f->lfd, LOOP_IN, on_fake_accept, f), 0);
}

void fake_stop(struct fake *f)
{
    fake_close(f);
    loop_fd_del(f->loop, f->lfd);
    close(f->lfd);
}
