/* SPDX-License-Identifier: MIT */
/* fake_xmpp.h: a component server for unit tests that speaks just enough
 * XEP-0114 (stream header, handshake, stanzas), driven by the test's loop. */
#ifndef RESTANZA_FAKE_XMPP_H
#define RESTANZA_FAKE_XMPP_H

#include <stdbool.h>
#include <stddef.h>

struct loop;

#define FAKE_STREAM_ID "fake-stream-4711"

struct fake {
    struct loop *loop;
    int lfd, fd;
    unsigned port;
    bool refuse;       /* answer the handshake with not-authorized */
    int accepted;      /* connections accepted */
    int handshakes_ok; /* handshakes answered with <handshake/> */
    char digest[64];   /* what the last handshake carried */
    char in[65536];    /* bytes received after the handshake */
    size_t inlen;
    char hdr[4096]; /* bytes before the handshake was complete */
    size_t hdrlen;
    int phase; /* 0: want stream header, 1: want handshake, 2: open */
};

/* Listen on a loopback port (f->port) served by loop; one client at a
 * time. */
void fake_start(struct fake *f, struct loop *loop);
void fake_stop(struct fake *f);
/* Drop the client connection, if any. */
void fake_close(struct fake *f);
/* A loopback TCP port nothing listens on now (for servers under test). */
unsigned fake_free_port(void);
/* Write all of s to fd (non-blocking: retries on EAGAIN). */
void fake_write_all(int fd, const char *s);

#endif
