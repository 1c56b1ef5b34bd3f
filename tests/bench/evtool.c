/* SPDX-License-Identifier: MIT */
/* evtool.c: the two ends of the event-log benchmarks (tests/bench/events.py).
 * Commands come on stdin, one a line; answers go to stdout.
 *
 *   evtool feed
 *       A fake XMPP server for restanza's component connection (XEP-0114,
 *       the handshake is accepted unchecked): prints "port P", then
 *       "connected" once restanza is in. "go N SENDERS" sends N chat
 *       messages to bot@<component>, message i from s<i % SENDERS>@feed/r
 *       with body "evb <i / SENDERS>", as fast as restanza reads them, and
 *       prints "sent N seconds S start T0 end T1"; "stat" prints "fed N"
 *       (messages written so far). IQ gets and sets from restanza (its
 *       keepalive pings) are answered with an empty result, the rest is
 *       dropped. "quit" (or EOF) ends.
 *
 *   evtool sink
 *       A fast keep-alive webhook (one thread, epoll): prints "port P".
 *       "down": POSTs are answered 503; "up" (the start): 202. A message
 *       is known by its sender (the from's localpart) and the number at
 *       the end of its body. "stat" prints "posts P new N dup D gap G
 *       refused R senders K first T0 last T1": N messages taken once, D
 *       repeats of one taken before, G taken out of their sender's order
 *       (a later number came first); T0/T1: monotonic seconds of the first
 *       and last new one. Up to about 2 M messages. "reset" zeroes the counts
 *       and forgets the messages. "quit" (or EOF) ends.
 * Times are CLOCK_MONOTONIC seconds, comparable between the two.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_raw.h"

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int listen_any(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sa);
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, 4096) < 0) {
        perror("evtool: listen");
        exit(1);
    }
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    printf("port %d\n", ntohs(sa.sin_port));
    fflush(stdout);
    return fd;
}

/* One line from stdin when one is complete (non-blocking); NULL if none,
 * "quit" at EOF. */
static char *stdin_line(void)
{
    static char buf[512];
    static size_t len;
    static char line[512];
    char *nl;

    for (;;) {
        if ((nl = memchr(buf, '\n', len)) != NULL) {
            size_t n = (size_t)(nl - buf);
            memcpy(line, buf, n);
            line[n] = '\0';
            memmove(buf, nl + 1, len - n - 1);
            len -= n + 1;
            return line;
        }
        ssize_t r = read(0, buf + len, sizeof(buf) - 1 - len);
        if (r == 0)
            return strcpy(line, "quit");
        if (r < 0)
            return NULL;
        len += (size_t)r;
    }
}

/* ---- feed: the fake XMPP server ---- */

/* The value of attribute name in the start tag [tag, end), or "". */
static void attr(const char *tag, const char *end, const char *name, char *out,
                 size_t size)
{
    size_t nl = strlen(name);

    out[0] = '\0';
    for (const char *p = tag + 1; p + nl + 2 < end; p++)
        if (p[-1] == ' ' && strncmp(p, name, nl) == 0 && p[nl] == '=' &&
            (p[nl + 1] == '\'' || p[nl + 1] == '"')) {
            const char *v = p + nl + 2,
                       *q = memchr(v, p[nl + 1], (size_t)(end - v));
            if (q != NULL)
                snprintf(out, size, "%.*s", (int)(q - v), v);
            return;
        }
}

/* IQ results not written yet: they go between two messages. */
static char pend[1 << 16];
static size_t pendlen;

/* Answer every IQ get/set restanza sent (its keepalive pings, disco) with
 * an empty result (into pend); drop the rest. What is kept (an unfinished start
 * tag) stays at the start of in; its length is returned. */
static size_t answer_iqs(char *in, size_t len)
{
    char *p = in, *end = in + len;

    in[len] = '\0';
    while ((p = strstr(p, "<iq ")) != NULL) {
        char *gt = memchr(p, '>', (size_t)(end - p));
        char type[16], id[128], from[256], to[256], out[800];
        if (gt == NULL) {
            len = (size_t)(end - p);
            memmove(in, p, len);
            return len;
        }
        attr(p, gt, "type", type, sizeof(type));
        attr(p, gt, "id", id, sizeof(id));
        attr(p, gt, "from", from, sizeof(from));
        attr(p, gt, "to", to, sizeof(to));
        if ((strcmp(type, "get") == 0 || strcmp(type, "set") == 0) &&
            pendlen + sizeof(out) < sizeof(pend)) {
            int n = snprintf(out, sizeof(out),
                             "<iq type='result' id='%s' from='%s' to='%s'/>",
                             id, to, from);
            memcpy(pend + pendlen, out, (size_t)n);
            pendlen += (size_t)n;
        }
        p = gt;
    }
    /* keep a tail that may be the start of "<iq " */
    len = len < 3 ? len : 3;
    memmove(in, end - len, len);
    return len;
}

static int feed(void)
{
    static char in[1 << 16];
    size_t inlen = 0;
    char comp[256] = "", hdr[512], *p, *out = NULL;
    int ls = listen_any(), fd = -1, phase = 0;
    long n = 0, senders = 1, next = 0;
    size_t olen = 0, ooff = 0;
    double t0 = 0;

    fcntl(0, F_SETFL, O_NONBLOCK);
    signal(SIGPIPE, SIG_IGN);
    for (;;) {
        struct pollfd pf[2] = {{.fd = 0, .events = POLLIN},
                               {.fd = fd >= 0 ? fd : ls, .events = POLLIN}};
        if (fd >= 0 && (ooff < olen || next < n || pendlen > 0))
            pf[1].events |= POLLOUT;
        if (poll(pf, 2, 1000) < 0 && errno != EINTR)
            return 1;
        if (pf[0].revents) {
            char *l;
            while ((l = stdin_line()) != NULL) {
                if (strcmp(l, "quit") == 0)
                    return 0;
                if (strcmp(l, "stat") == 0) {
                    printf("fed %ld\n", next);
                    fflush(stdout);
                }
                if (sscanf(l, "go %ld %ld", &n, &senders) == 2 && senders > 0) {
                    next = 0;
                    t0 = now_mono();
                }
            }
        }
        if (fd < 0) {
            if (pf[1].revents & POLLIN) {
                int one = 1;
                fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
                if (fd >= 0)
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            }
            continue;
        }
        if (pf[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r;
            while ((r = read(fd, in + inlen, sizeof(in) - 1 - inlen)) > 0) {
                inlen += (size_t)r;
                in[inlen] = '\0';
                if (phase == 0 && (p = strstr(in, "<stream:stream")) &&
                    strchr(p, '>')) {
                    char *to = strstr(p, "to='");
                    if (to == NULL)
                        to = strstr(p, "to=\"");
                    if (to != NULL)
                        snprintf(comp, sizeof(comp), "%.*s",
                                 (int)strcspn(to + 4, "'\""), to + 4);
                    snprintf(hdr, sizeof(hdr),
                             "<?xml version='1.0'?><stream:stream "
                             "xmlns:stream='http://etherx.jabber.org/streams' "
                             "xmlns='jabber:component:accept' from='%s' "
                             "id='evtool'>",
                             comp);
                    if (write(fd, hdr, strlen(hdr)) < 0)
                        return 1;
                    phase = 1;
                    inlen = 0;
                } else if (phase == 1 && strstr(in, "</handshake>")) {
                    if (write(fd, "<handshake/>", 12) < 0)
                        return 1;
                    phase = 2;
                    inlen = 0;
                    printf("connected\n");
                    fflush(stdout);
                } else if (phase == 2) {
                    inlen = answer_iqs(in, inlen);
                } else if (inlen > sizeof(in) / 2) {
                    inlen = 0;
                }
            }
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                fprintf(stderr, "evtool feed: restanza closed the stream\n");
                close(fd);
                fd = -1;
                phase = 0;
                inlen = 0;
                continue;
            }
        }
        if (phase != 2)
            continue;
        /* Refill the out buffer with up to 64 KiB of messages. */
        if (ooff == olen && (next < n || pendlen > 0)) {
            if (out == NULL)
                out = malloc(1 << 18);
            memcpy(out, pend, pendlen);
            olen = pendlen;
            ooff = pendlen = 0;
            while (next < n && olen < (1 << 16)) {
                olen += (size_t)sprintf(
                    out + olen,
                    "<message from='s%ld@feed/r' to='bot@%s' type='chat' "
                    "id='e%ld'><body>evb %ld</body></message>",
                    next % senders, comp, next, next / senders);
                next++;
            }
        }
        while (ooff < olen) {
            ssize_t w = write(fd, out + ooff, olen - ooff);
            if (w <= 0)
                break;
            ooff += (size_t)w;
        }
        if (ooff == olen && next == n && n > 0) {
            double t1 = now_mono();
            printf("sent %ld seconds %.3f start %.6f end %.6f\n", n, t1 - t0,
                   t0, t1);
            fflush(stdout);
            n = next = 0;
        }
    }
}

/* ---- sink: the webhook ---- */

#define MAXFD 65536
#define SLOTS (1 << 18) /* senders tracked: well above what the bench uses */

struct slot {
    char key[40];
    long next;
};

static struct http_conn *conns[MAXFD];
static struct slot *slots;
/* (sender slot + 1) << 32 | number of every message seen: repeats */
#define SEEN (1u << 22)
static uint64_t *seen;
static long posts, fresh, dups, gaps, refused, nkeys;
static double first, last;
static int down;

static struct slot *slot_of(const char *k, size_t n)
{
    uint32_t h = 2166136261u;

    if (n >= sizeof(slots[0].key))
        n = sizeof(slots[0].key) - 1;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 16777619u;
    for (uint32_t i = h % SLOTS;; i = (i + 1) % SLOTS) {
        struct slot *s = &slots[i];
        if (s->key[0] == '\0') {
            memcpy(s->key, k, n);
            s->key[n] = '\0';
            nkeys++;
            return s;
        }
        if (strncmp(s->key, k, n) == 0 && s->key[n] == '\0')
            return s;
    }
}

/* The sender and number of a delivered message (XML or JSON body). */
static void account(const char *b, size_t n)
{
    const char *from, *at, *body, *end, *d;
    long seq = 0;

    from = memmem(b, n, "from=", 5);
    if (from != NULL)
        from += 6;
    else if ((from = memmem(b, n, "\"from\":", 7)) != NULL)
        from += 7 + strspn(from + 7, " \"");
    body = memmem(b, n, "<body>", 6);
    if (body != NULL)
        body += 6;
    else if ((body = memmem(b, n, "\"body\":", 7)) != NULL)
        body += 7 + strspn(body + 7, " \"");
    if (from == NULL || body == NULL ||
        (at = memchr(from, '@', (size_t)(b + n - from))) == NULL)
        return;
    end = body + strcspn(body, "<\"");
    for (d = end; d > body && d[-1] >= '0' && d[-1] <= '9'; d--)
        ;
    if (d == end)
        return;
    for (; d < end; d++)
        seq = seq * 10 + (*d - '0');
    struct slot *s = slot_of(from, (size_t)(at - from));
    uint64_t k = (uint64_t)(s - slots + 1) << 32 | (uint32_t)seq;
    uint32_t i = (uint32_t)((k * 0x9E3779B97F4A7C15ull) >> 42) % SEEN;
    for (; seen[i] != 0; i = (i + 1) % SEEN)
        if (seen[i] == k) {
            dups++; /* a repeat */
            return;
        }
    seen[i] = k;
    fresh++;
    last = now_mono();
    if (first == 0)
        first = last;
    if (seq != s->next)
        gaps++; /* a later one came first, or this one comes late */
    if (seq >= s->next)
        s->next = seq + 1;
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
            static const char ok[] =
                "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";
            static const char no[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                     "Content-Length: 0\r\n\r\n";
            posts++;
            if (down)
                refused++;
            else
                account(c->buf + hlen, clen);
            if (down ? http_send_all(fd, no, sizeof(no) - 1)
                     : http_send_all(fd, ok, sizeof(ok) - 1))
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

static int sink(void)
{
    struct epoll_event ev, evs[256];
    int ls = listen_any(), ep = epoll_create1(0), one = 1;

    slots = calloc(SLOTS, sizeof(*slots));
    seen = calloc(SEEN, sizeof(*seen));
    signal(SIGPIPE, SIG_IGN);
    fcntl(0, F_SETFL, O_NONBLOCK);
    ev.events = EPOLLIN;
    ev.data.fd = ls;
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    ev.data.fd = 0;
    epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == 0) {
                char *l;
                while ((l = stdin_line()) != NULL) {
                    if (strcmp(l, "quit") == 0)
                        return 0;
                    if (strcmp(l, "down") == 0)
                        down = 1;
                    else if (strcmp(l, "up") == 0)
                        down = 0;
                    else if (strcmp(l, "reset") == 0) {
                        posts = fresh = dups = gaps = refused = nkeys = 0;
                        first = last = 0;
                        memset(slots, 0, SLOTS * sizeof(*slots));
                        memset(seen, 0, SEEN * sizeof(*seen));
                    } else if (strcmp(l, "stat") == 0) {
                        printf("posts %ld new %ld dup %ld gap %ld refused %ld "
                               "senders %ld first %.6f last %.6f\n",
                               posts, fresh, dups, gaps, refused, nkeys, first,
                               last);
                        fflush(stdout);
                    }
                }
                continue;
            }
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

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "feed") == 0)
        return feed();
    if (argc == 2 && strcmp(argv[1], "sink") == 0)
        return sink();
    fprintf(stderr, "usage: evtool feed|sink (commands on stdin)\n");
    return 2;
}
