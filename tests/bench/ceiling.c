/* SPDX-License-Identifier: MIT */
/* ceiling.c: the raw XEP-0114 ceiling. Connects as the component, then
 * pushes chat messages to one client as fast as the server reads them
 * (blocking writes: the server's TCP window is the only brake) for SECONDS.
 *
 *   ceiling HOST PORT COMPONENT_JID SECRET TO SECONDS [PER_WRITE]
 *   -> "sent N seconds S"   (delivery is counted at the client, c2s drain)
 * PER_WRITE messages go in each write (default 1000, about 90 KiB).
 */
#include "xmpp_raw.h"

#include <stdint.h>
#include <sys/time.h>

/* A small SHA-1 (FIPS 180-1), enough for the handshake. */
static void sha1(const unsigned char *msg, size_t len, unsigned char out[20])
{
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476,
                     0xC3D2E1F0};
    size_t total = ((len + 8) / 64 + 1) * 64;
    unsigned char *m = calloc(1, total);
    uint64_t bits = (uint64_t)len * 8;

    memcpy(m, msg, len);
    m[len] = 0x80;
    for (int i = 0; i < 8; i++)
        m[total - 1 - i] = (unsigned char)(bits >> (8 * i));
    for (size_t off = 0; off < total; off += 64) {
        uint32_t w[80], a, b, c, d, e, f, k, t;
        for (int i = 0; i < 16; i++)
            w[i] = (uint32_t)m[off + 4 * i] << 24 |
                   (uint32_t)m[off + 4 * i + 1] << 16 |
                   (uint32_t)m[off + 4 * i + 2] << 8 | m[off + 4 * i + 3];
        for (int i = 16; i < 80; i++) {
            t = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
            w[i] = t << 1 | t >> 31;
        }
        a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; i++) {
            if (i < 20)
                f = (b & c) | (~b & d), k = 0x5A827999;
            else if (i < 40)
                f = b ^ c ^ d, k = 0x6ED9EBA1;
            else if (i < 60)
                f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
            else
                f = b ^ c ^ d, k = 0xCA62C1D6;
            t = (a << 5 | a >> 27) + f + e + k + w[i];
            e = d, d = c, c = b << 30 | b >> 2, b = a, a = t;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
    }
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++)
            out[4 * i + j] = (unsigned char)(h[i] >> (24 - 8 * j));
    free(m);
}

int main(int argc, char **argv)
{
    char buf[2048], id[256], *p, *q, sink[1 << 16];
    unsigned char dig[20];
    double seconds, t0, end;
    long sent = 0;
    int fd;

    if (argc != 7 && argc != 8) {
        fprintf(stderr, "usage: ceiling HOST PORT COMPONENT SECRET TO SECONDS [PER_WRITE]\n");
        return 2;
    }
    fd = tcp_connect(argv[1], atoi(argv[2]));
    snprintf(buf, sizeof(buf),
             "<?xml version='1.0'?><stream:stream to='%s' "
             "xmlns='jabber:component:accept' "
             "xmlns:stream='http://etherx.jabber.org/streams'>", argv[3]);
    send_str(fd, buf);
    /* the stream header: find its id */
    for (;;) {
        ssize_t r = read(fd, rx + rxlen, sizeof(rx) - 1 - rxlen);
        if (r <= 0)
            die("stream header");
        rxlen += (size_t)r;
        rx[rxlen] = '\0';
        if ((p = strstr(rx, "<stream:stream")) && strchr(p, '>') &&
            (q = strstr(p, " id=")) && q < strchr(p, '>'))
            break;
    }
    q += 5;
    size_t n = strcspn(q, "'\"");
    snprintf(id, sizeof(id), "%.*s%s", (int)n, q, argv[4]);
    sha1((unsigned char *)id, strlen(id), dig);
    p = buf + sprintf(buf, "<handshake>");
    for (int i = 0; i < 20; i++)
        p += sprintf(p, "%02x", dig[i]);
    sprintf(p, "</handshake>");
    send_str(fd, buf);
    wait_for(fd, "<handshake");

    /* Batches of `per` messages per write: large writes, as restanza's
     * own (up to 256 KiB), so the server reads as much per system call. */
    int per = argc > 7 ? atoi(argv[7]) : 1000;
    if (per < 1 || per > 4000)
        per = 1000;
    char *batch = malloc((size_t)per * 256);
    size_t blen = 0;
    for (int i = 0; i < per; i++)
        blen += (size_t)sprintf(batch + blen,
                                "<message from='ceiling@%s' to='%s' "
                                "type='chat'><body>bench</body></message>",
                                argv[3], argv[5]);
    seconds = atof(argv[6]);
    t0 = now_mono();
    end = t0 + seconds;
    while (now_mono() < end) {
        write_all(fd, batch, blen);
        sent += per;
        while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
            ; /* the server has nothing to say; don't let it block */
    }
    printf("sent %ld seconds %.3f start %.6f\n", sent, now_mono() - t0, t0);
    fflush(stdout);
    send_str(fd, "</stream:stream>");
    /* wait for the server's close so that nothing unread turns into a RST */
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    while (read(fd, sink, sizeof(sink)) > 0)
        ;
    close(fd);
    return 0;
}
