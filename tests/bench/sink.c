/* SPDX-License-Identifier: MIT */
/* sink.c: a fast keep-alive HTTP endpoint for the benchmarks (one thread,
 * epoll). Answers POST with 202 and counts them (webhook sink), OPTIONS with
 * 200, and GET /contacts/<user> with a generated roster (roster web app):
 * NCONTACTS contacts c<i>@DOMAIN for users whose name starts with "big",
 * one contact (c0@DOMAIN) for everyone else.
 *
 *   sink [NCONTACTS [DOMAIN]]
 *   prints "port P" once listening on 127.0.0.1 (ephemeral port); on SIGUSR1
 *   prints "posts N gets G first T0 last T" (CLOCK_MONOTONIC seconds).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_raw.h"

#define MAXFD 65536

static struct http_conn *conns[MAXFD];
static volatile sig_atomic_t report;
static long posts, gets;
static double first, last;
static int ncontacts = 1;
static const char *domain = "localhost";
static char *big_body, small_body[256];
static size_t big_len, small_len;

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_usr1(int s) { (void)s; report = 1; }

static void drop(int ep, int fd)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    if (conns[fd]) {
        free(conns[fd]->buf);
        free(conns[fd]);
        conns[fd] = NULL;
    }
}

/* Handle every complete request in c->buf; -1 to close. */
static int serve(int fd, struct http_conn *c)
{
    for (;;) {
        size_t hlen, clen;
        int ready = http_request_ready(fd, c, &hlen, &clen);
        if (ready <= 0)
            return ready;
        if (strncmp(c->buf, "POST ", 5) == 0) {
            static const char r[] =
                "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";
            double t = now_mono();
            if (posts++ == 0)
                first = t;
            last = t;
            if (http_send_all(fd, r, sizeof(r) - 1) < 0)
                return -1;
        } else if (strncmp(c->buf, "GET ", 4) == 0) {
            char head[160];
            int big = strncmp(c->buf + 4, "/contacts/big", 13) == 0;
            const char *body = big ? big_body : small_body;
            size_t blen = big ? big_len : small_len;
            int n = snprintf(head, sizeof(head),
                             "HTTP/1.1 200 OK\r\nContent-Type: "
                             "application/json\r\nContent-Length: %zu\r\n\r\n",
                             blen);
            gets++;
            if (http_send_all(fd, head, (size_t)n) < 0 ||
                http_send_all(fd, body, blen) < 0)
                return -1;
        } else {
            static const char r[] =
                "HTTP/1.1 200 OK\r\nAccept: application/xmpp+xml\r\n"
                "Content-Length: 0\r\n\r\n";
            if (http_send_all(fd, r, sizeof(r) - 1) < 0)
                return -1;
        }
        http_consume(c, hlen, clen);
    }
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sa);
    struct epoll_event ev, evs[256];
    struct sigaction act = {0};
    int ls, ep, one = 1;

    if (argc > 1)
        ncontacts = atoi(argv[1]);
    if (argc > 2)
        domain = argv[2];
    big_body = malloc((size_t)ncontacts * 96 + 16);
    big_len = 0;
    big_body[big_len++] = '{';
    for (int i = 0; i < ncontacts; i++)
        big_len += (size_t)sprintf(big_body + big_len,
                                   "%s\"c%d@%s\": {\"name\": \"C %d\", "
                                   "\"groups\": [\"Bench\"]}",
                                   i ? ", " : "", i, domain, i);
    big_body[big_len++] = '}';
    small_len = (size_t)snprintf(small_body, sizeof(small_body),
                                 "{\"c0@%s\": {\"name\": \"C 0\", "
                                 "\"groups\": [\"Bench\"]}}", domain);

    act.sa_handler = on_usr1;
    sigaction(SIGUSR1, &act, NULL);
    signal(SIGPIPE, SIG_IGN);
    ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 4096) < 0) {
        perror("sink: listen");
        return 1;
    }
    getsockname(ls, (struct sockaddr *)&sa, &sl);
    printf("port %d\n", ntohs(sa.sin_port));
    fflush(stdout);
    ep = epoll_create1(0);
    ev.events = EPOLLIN;
    ev.data.fd = ls;
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    for (;;) {
        int n = epoll_wait(ep, evs, 256, 50); /* 50 ms: see SIGUSR1 */
        if (report) {
            report = 0;
            printf("posts %ld gets %ld first %.6f last %.6f\n", posts, gets,
                   first, last);
            fflush(stdout);
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                int c;
                while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (c >= MAXFD) {
                        close(c);
                        continue;
                    }
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    conns[c] = calloc(1, sizeof(struct http_conn));
                    conns[c]->buf = malloc(HTTP_RAW_BUFSZ);
                    ev.events = EPOLLIN;
                    ev.data.fd = c;
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                }
                continue;
            }
            struct http_conn *c = conns[fd];
            for (;;) {
                ssize_t r = recv(fd, c->buf + c->len, HTTP_RAW_BUFSZ - c->len, 0);
                if (r > 0) {
                    c->len += (size_t)r;
                    if (serve(fd, c) < 0 || c->len == HTTP_RAW_BUFSZ) {
                        drop(ep, fd);
                        break;
                    }
                    continue;
                }
                if (r < 0 && (errno == EAGAIN || errno == EINTR))
                    break;
                drop(ep, fd);
                break;
            }
        }
    }
}
