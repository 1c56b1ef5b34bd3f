/* SPDX-License-Identifier: MIT */
/* xmpp_raw.h: tiny blocking-socket helpers shared by the bench tools
 * (c2s.c, ceiling.c). Not a parser: waits for known substrings. */
#ifndef XMPP_RAW_H
#define XMPP_RAW_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char rx[1 << 16];
static size_t rxlen;

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "%s: %s\n", what, errno ? strerror(errno) : "failed");
    if (rxlen > 0)
        fprintf(stderr, "last input: %.*s\n", (int)(rxlen > 600 ? 600 : rxlen),
                rx);
    exit(1);
}

static int tcp_connect(const char *host, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    if (fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("write");
        p += w;
        n -= (size_t)w;
    }
}

static void send_str(int fd, const char *s)
{
    write_all(fd, s, strlen(s));
}

/* Read until rx contains needle; drop everything up to and including it. */
static void wait_for(int fd, const char *needle)
{
    for (;;) {
        char *hit;
        rx[rxlen] = '\0';
        if ((hit = strstr(rx, needle)) != NULL) {
            size_t used = (size_t)(hit - rx) + strlen(needle);
            memmove(rx, rx + used, rxlen - used);
            rxlen -= used;
            return;
        }
        if (strstr(rx, "stream:error") != NULL || strstr(rx, "<failure") != NULL)
            die(needle);
        if (rxlen >= sizeof(rx) - 1) { /* keep the tail */
            memmove(rx, rx + rxlen / 2, rxlen - rxlen / 2);
            rxlen -= rxlen / 2;
        }
        ssize_t r = read(fd, rx + rxlen, sizeof(rx) - 1 - rxlen);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            die(needle);
        rxlen += (size_t)r;
    }
}

#endif
