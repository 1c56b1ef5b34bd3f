/* SPDX-License-Identifier: MIT */
/* c2s.c: a raw XMPP client for the benchmarks (PLAIN over plain TCP on
 * loopback, no TLS), fast where slixmpp is the bottleneck.
 *
 *   c2s drain HOST PORT DOMAIN USER PASSWORD
 *       log in, send presence, print "ready", count incoming messages;
 *       on SIGUSR1 print "count N last T" (T: CLOCK_MONOTONIC of the last
 *       message, seconds); exit on SIGTERM.
 *   c2s blast HOST PORT DOMAIN USER PASSWORD TO COUNT
 *       log in, send COUNT chat messages to TO, close the stream and wait
 *       for the server's close; print "sent N seconds S".
 */
#include "xmpp_raw.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>

static volatile sig_atomic_t report, quit;

static void on_usr1(int s) { (void)s; report = 1; }
static void on_term(int s) { (void)s; quit = 1; }

static void b64(const unsigned char *in, size_t n, char *out)
{
    static const char t[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i, o = 0;
    for (i = 0; i + 2 < n; i += 3) {
        unsigned v = in[i] << 16 | in[i + 1] << 8 | in[i + 2];
        out[o++] = t[v >> 18]; out[o++] = t[v >> 12 & 63];
        out[o++] = t[v >> 6 & 63]; out[o++] = t[v & 63];
    }
    if (n - i == 1) {
        unsigned v = in[i] << 16;
        out[o++] = t[v >> 18]; out[o++] = t[v >> 12 & 63];
        out[o++] = '='; out[o++] = '=';
    } else if (n - i == 2) {
        unsigned v = in[i] << 16 | in[i + 1] << 8;
        out[o++] = t[v >> 18]; out[o++] = t[v >> 12 & 63];
        out[o++] = t[v >> 6 & 63]; out[o++] = '=';
    }
    out[o] = '\0';
}

static int login(const char *host, int port, const char *domain,
                 const char *user, const char *pass)
{
    int fd = tcp_connect(host, port);
    char buf[1024], enc[700];
    unsigned char plain[400];
    size_t n;

    snprintf(buf, sizeof(buf),
             "<?xml version='1.0'?><stream:stream to='%s' version='1.0' "
             "xmlns='jabber:client' "
             "xmlns:stream='http://etherx.jabber.org/streams'>", domain);
    send_str(fd, buf);
    wait_for(fd, "</stream:features>");
    n = (size_t)snprintf((char *)plain, sizeof(plain), "%c%s%c%s", 0, user, 0,
                         pass);
    b64(plain, n, enc);
    snprintf(buf, sizeof(buf),
             "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
             "mechanism='PLAIN'>%s</auth>", enc);
    send_str(fd, buf);
    wait_for(fd, "<success");
    snprintf(buf, sizeof(buf),
             "<stream:stream to='%s' version='1.0' xmlns='jabber:client' "
             "xmlns:stream='http://etherx.jabber.org/streams'>", domain);
    send_str(fd, buf);
    wait_for(fd, "</stream:features>");
    send_str(fd, "<iq type='set' id='b1'><bind "
                 "xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>bench"
                 "</resource></bind></iq>");
    wait_for(fd, "</iq>");
    send_str(fd, "<iq type='set' id='s1'><session "
                 "xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
    wait_for(fd, "s1");
    return fd;
}

static int drain(int fd)
{
    static const char tag[] = "</message>";
    const size_t tl = sizeof(tag) - 1;
    char buf[1 << 16];
    size_t keep = 0;
    long count = 0;
    double last = 0;
    struct sigaction sa = {0};

    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    send_str(fd, "<presence/>");
    /* what arrived after the session reply belongs to the count */
    keep = rxlen < sizeof(buf) ? rxlen : 0;
    memcpy(buf, rx, keep);
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        if (report) {
            report = 0;
            printf("count %ld last %.6f\n", count, last);
            fflush(stdout);
        }
        if (quit)
            return 0;
        /* a signal between the checks above and read() must not be lost */
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        ssize_t r = read(fd, buf + keep, sizeof(buf) - 1 - keep);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            fprintf(stderr, "c2s drain: connection closed\n");
            return 1;
        }
        size_t len = keep + (size_t)r;
        buf[len] = '\0';
        int found = 0;
        for (char *p = buf; (p = memmem(p, len - (size_t)(p - buf), tag, tl));
             p += tl)
            count++, found = 1;
        if (found)
            last = now_mono();
        keep = len < tl - 1 ? len : tl - 1;
        memmove(buf, buf + len - keep, keep);
    }
}

static int blast(int fd, const char *to, long count)
{
    char *chunk = malloc(1 << 20), sink[1 << 16];
    size_t used = 0;
    double t0 = now_mono();

    for (long i = 0; i < count; i++) {
        used += (size_t)sprintf(chunk + used,
                                "<message to='%s' type='chat' id='m%ld'>"
                                "<body>hook %ld</body></message>",
                                to, i, i);
        if (used > (1 << 20) - 1024 || i == count - 1) {
            write_all(fd, chunk, used);
            used = 0;
            while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
                ;
        }
    }
    send_str(fd, "</stream:stream>");
    rxlen = 0;
    wait_for(fd, "</stream:stream>");
    printf("sent %ld seconds %.3f\n", count, now_mono() - t0);
    close(fd);
    free(chunk);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 7 && strcmp(argv[1], "drain") == 0)
        return drain(login(argv[2], atoi(argv[3]), argv[4], argv[5], argv[6]));
    if (argc >= 9 && strcmp(argv[1], "blast") == 0)
        return blast(login(argv[2], atoi(argv[3]), argv[4], argv[5], argv[6]),
                     argv[7], atol(argv[8]));
    fprintf(stderr, "usage: c2s drain HOST PORT DOMAIN USER PASS\n"
                    "       c2s blast HOST PORT DOMAIN USER PASS TO COUNT\n");
    return 2;
}
