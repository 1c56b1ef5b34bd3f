/* SPDX-License-Identifier: MIT */
/* test_component.c: the XEP-0114 connection against a fake server on a
 * loopback socket driven by the same loop: handshake, refusal, reconnect,
 * and what component_send refuses. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "component.h"
#include "fake_xmpp.h"
#include "conf.h"
#include "iq.h"
#include "log.h"
#include "loop.h"
#include "loop_priv.h"
#include "stanza.h"

#define DEADLINE_MS 4000
#define STREAM_ID FAKE_STREAM_ID
#define SECRET "s3cret-component"

struct fx {
    char domain[32], jid[32], secret[32], host[16];
    struct conf conf;
    struct loop *loop;
    struct fake fake;
    struct component *c;
    enum component_state states[16];
    int nstates;
    int rooms;
    int stopped;
};

/* Lower-case hex SHA-1 of the stream id and the secret (XEP-0114 §3). */
static void expected_digest(char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    const char *text = STREAM_ID SECRET;

    ck_assert_int_eq(
        EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha1(), NULL), 1);
    ck_assert_uint_eq(mdlen, 20);
    for (unsigned i = 0; i < mdlen; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

static void on_state(enum component_state state, void *arg)
{
    struct fx *fx = arg;

    if (fx->nstates < 16)
        fx->states[fx->nstates++] = state;
}

static void on_room(void *arg)
{
    ((struct fx *)arg)->rooms++;
}

static void on_stopped(void *arg)
{
    ((struct fx *)arg)->stopped++;
}

static void fx_init(struct fx *fx)
{
    memset(fx, 0, sizeof(*fx));
    strcpy(fx->domain, "example.org");
    strcpy(fx->jid, "rest.example.org");
    strcpy(fx->secret, SECRET);
    strcpy(fx->host, "127.0.0.1");
    fx->conf.server.domain = fx->domain;
    fx->conf.server.host = fx->host;
    fx->conf.component.jid = fx->jid;
    fx->conf.component.secret = fx->secret;
    fx->conf.component.keepalive = 60;
    fx->conf.component.max_stanza_size = 512;
    fx->conf.component.queue_max = 1 << 20;
    log_set_level(getenv("UNIT_DEBUG") != NULL ? LOG_LEVEL_DEBUG
                                               : LOG_LEVEL_ERROR);
    fx->loop = loop_new();
    ck_assert_ptr_nonnull(fx->loop);
    fake_start(&fx->fake, fx->loop);
    fx->conf.server.port = fx->fake.port;
}

static void fx_open(struct fx *fx)
{
    fx->c = component_new(fx->loop, &fx->conf);
    ck_assert_ptr_nonnull(fx->c);
    component_on_state(fx->c, on_state, fx);
    component_on_room(fx->c, on_room, fx);
}

/* Stop the stream, wait for the callback, free everything. */
static void fx_stop(struct fx *fx)
{
    uint64_t end = loop_clock_ms() + DEADLINE_MS;
    int before = fx->stopped;

    component_stop(fx->c, on_stopped, fx);
    while (fx->stopped == before && loop_clock_ms() < end)
        ck_assert_int_eq(loop_run_once(fx->loop, 50), 0);
    ck_assert_int_eq(fx->stopped, before + 1);
    component_free(fx->c);
    fake_stop(&fx->fake);
    loop_free(fx->loop);
}

/* Run the loop until the component is in state (or the deadline). */
static bool run_until_state(struct fx *fx, enum component_state state)
{
    uint64_t end = loop_clock_ms() + DEADLINE_MS;

    while (component_state(fx->c) != state && loop_clock_ms() < end)
        ck_assert_int_eq(loop_run_once(fx->loop, 50), 0);
    return component_state(fx->c) == state;
}

/* Run the loop until the fake server received needle (or the deadline). */
static bool run_until_received(struct fx *fx, const char *needle)
{
    uint64_t end = loop_clock_ms() + DEADLINE_MS;

    while (strstr(fx->fake.in, needle) == NULL && loop_clock_ms() < end)
        ck_assert_int_eq(loop_run_once(fx->loop, 50), 0);
    return strstr(fx->fake.in, needle) != NULL;
}

static void run_for(struct fx *fx, uint64_t ms)
{
    uint64_t end = loop_clock_ms() + ms;

    while (loop_clock_ms() < end)
        ck_assert_int_eq(loop_run_once(fx->loop, 20), 0);
}

static void connect_ok(struct fx *fx)
{
    fx_open(fx);
    component_start(fx->c);
    ck_assert_msg(run_until_state(fx, COMPONENT_CONNECTED), "not connected: %s",
                  component_last_error(fx->c));
}

/* A message to alice with body text; caller releases. */
static xmpp_stanza_t *message(struct fx *fx, const char *body)
{
    xmpp_ctx_t *ctx = component_ctx(fx->c);
    xmpp_stanza_t *m = xmpp_message_new(ctx, "chat", "alice@example.org", "m1");

    xmpp_stanza_set_from(m, "rest.example.org");
    ck_assert_int_eq(xmpp_message_set_body(m, body), XMPP_EOK);
    return m;
}

/* SPEC §7: "connected"|"connecting"|"disconnected". */
START_TEST(test_state_names_are_the_status_words)
{
    ck_assert_str_eq(component_state_name(COMPONENT_CONNECTED), "connected");
    ck_assert_str_eq(component_state_name(COMPONENT_CONNECTING), "connecting");
    ck_assert_str_eq(component_state_name(COMPONENT_DISCONNECTED),
                     "disconnected");
}
END_TEST

START_TEST(test_new_component_is_disconnected_and_refuses_sends)
{
    struct fx fx;
    xmpp_stanza_t *m;

    fx_init(&fx);
    fx_open(&fx);
    ck_assert_int_eq(component_state(fx.c), COMPONENT_DISCONNECTED);
    ck_assert_str_eq(component_jid(fx.c), "rest.example.org");
    {
        char want[64];
        snprintf(want, sizeof(want), "127.0.0.1:%u", fx.fake.port);
        ck_assert_str_eq(component_server(fx.c), want);
    }
    ck_assert_ptr_null(component_last_error(fx.c));
    ck_assert_uint_eq(component_reconnects(fx.c), 0);
    ck_assert(!component_has_room(fx.c));
    m = message(&fx, "hello");
    ck_assert_int_eq(component_send(fx.c, m), -1);
    ck_assert_int_eq(component_send_refusal(fx.c),
                     COMPONENT_REFUSED_DISCONNECTED);
    ck_assert_str_eq(component_refusal_name(component_send_refusal(fx.c)),
                     "disconnected");
    xmpp_stanza_release(m);
    /* Nothing was attempted: the fake server saw no connection. */
    run_for(&fx, 100);
    ck_assert_int_eq(fx.fake.accepted, 0);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_handshake_carries_sha1_of_stream_id_and_secret)
{
    struct fx fx;
    char want[41];

    fx_init(&fx);
    connect_ok(&fx);
    expected_digest(want);
    ck_assert_str_eq(fx.fake.digest, want);
    /* connecting, then connected, and nothing else. */
    ck_assert_int_eq(fx.nstates, 2);
    ck_assert_int_eq(fx.states[0], COMPONENT_CONNECTING);
    ck_assert_int_eq(fx.states[1], COMPONENT_CONNECTED);
    ck_assert_ptr_null(component_last_error(fx.c));
    ck_assert(component_has_room(fx.c));
    fx_stop(&fx);
}
END_TEST

/* restanza(8): last_error carries the server's condition and text. */
START_TEST(test_refused_handshake_sets_last_error_and_retries)
{
    struct fx fx;
    uint64_t end;

    fx_init(&fx);
    fx.fake.refuse = true;
    fx_open(&fx);
    component_start(fx.c);
    end = loop_clock_ms() + DEADLINE_MS;
    while (component_last_error(fx.c) == NULL && loop_clock_ms() < end)
        ck_assert_int_eq(loop_run_once(fx.loop, 50), 0);
    ck_assert_int_eq(component_state(fx.c), COMPONENT_DISCONNECTED);
    ck_assert_ptr_nonnull(component_last_error(fx.c));
    ck_assert_str_eq(component_last_error(fx.c),
                     "not-authorized: Given token does not match calculated "
                     "token");
    /* Reconnects count established streams only. */
    ck_assert_uint_eq(component_reconnects(fx.c), 0);
    /* It tries again (first backoff about a second), still refused. */
    end = loop_clock_ms() + DEADLINE_MS;
    while (fx.fake.accepted < 2 && loop_clock_ms() < end)
        ck_assert_int_eq(loop_run_once(fx.loop, 50), 0);
    ck_assert_int_eq(fx.fake.accepted, 2);
    ck_assert_int_eq(fx.fake.handshakes_ok, 0);
    fx_stop(&fx);
}
END_TEST

START_TEST(test_stream_closed_by_server_reconnects)
{
    struct fx fx;

    fx_init(&fx);
    connect_ok(&fx);
    fake_write_all(fx.fake.fd, "</stream:stream>");
    fake_close(&fx.fake);
    ck_assert(run_until_state(&fx, COMPONENT_DISCONNECTED));
    /* README: the server ended an established stream: "stream closed". */
    ck_assert_ptr_nonnull(component_last_error(fx.c));
    ck_assert_str_eq(component_last_error(fx.c), "stream closed");
    ck_assert_uint_eq(component_reconnects(fx.c), 1);
    ck_assert(!component_has_room(fx.c));
    /* Back by itself, and last_error is null again once connected. */
    ck_assert(run_until_state(&fx, COMPONENT_CONNECTED));
    ck_assert_int_eq(fx.fake.accepted, 2);
    ck_assert_int_eq(fx.fake.handshakes_ok, 2);
    ck_assert_ptr_null(component_last_error(fx.c));
    fx_stop(&fx);
}
END_TEST

START_TEST(test_sent_stanza_reaches_the_server)
{
    struct fx fx;
    xmpp_stanza_t *m;

    fx_init(&fx);
    connect_ok(&fx);
    m = message(&fx, "hello over the wire");
    ck_assert_int_eq(component_send(fx.c, m), 0);
    ck_assert_int_eq(component_send_refusal(fx.c), COMPONENT_REFUSED_NONE);
    xmpp_stanza_release(m);
    ck_assert(run_until_received(&fx, "hello over the wire"));
    ck_assert_ptr_nonnull(strstr(fx.fake.in, "alice@example.org"));
    fx_stop(&fx);
}
END_TEST

/* component.max_stanza_size counts serialized bytes: a body of 200 '&'
 * is 1000 bytes of XML (restanza(8): "counted on the serialized XML"). */
START_TEST(test_stanza_over_max_stanza_size_is_refused_unsent)
{
    struct fx fx;
    char body[201];
    xmpp_stanza_t *m;

    fx_init(&fx);
    connect_ok(&fx);
    memset(body, '&', 200);
    body[200] = '\0';
    m = message(&fx, body);
    ck_assert_int_eq(component_send(fx.c, m), -1);
    ck_assert_int_eq(component_send_refusal(fx.c), COMPONENT_REFUSED_TOO_LARGE);
    ck_assert_str_eq(component_refusal_name(component_send_refusal(fx.c)),
                     "too-large");
    xmpp_stanza_release(m);
    /* A small one still goes, and only it arrives. */
    m = message(&fx, "small");
    ck_assert_int_eq(component_send(fx.c, m), 0);
    xmpp_stanza_release(m);
    ck_assert(run_until_received(&fx, "small"));
    ck_assert_ptr_null(strstr(fx.fake.in, "&amp;"));
    ck_assert_int_eq(component_state(fx.c), COMPONENT_CONNECTED);
    fx_stop(&fx);
}
END_TEST

/* A character XML 1.0 does not allow would make the server close the
 * stream: refused, the stream stays up. */
START_TEST(test_invalid_characters_are_refused_unsent)
{
    struct fx fx;
    xmpp_stanza_t *m;

    fx_init(&fx);
    connect_ok(&fx);
    m = message(&fx, "bell \x07 here");
    ck_assert_int_eq(component_send(fx.c, m), -1);
    ck_assert_int_eq(component_send_refusal(fx.c), COMPONENT_REFUSED_INVALID);
    ck_assert_str_eq(component_refusal_name(component_send_refusal(fx.c)),
                     "invalid-characters");
    xmpp_stanza_release(m);
    m = message(&fx, "bad utf-8 \xc3\x28");
    ck_assert_int_eq(component_send(fx.c, m), -1);
    ck_assert_int_eq(component_send_refusal(fx.c), COMPONENT_REFUSED_INVALID);
    xmpp_stanza_release(m);
    m = message(&fx, "after");
    ck_assert_int_eq(component_send(fx.c, m), 0);
    xmpp_stanza_release(m);
    ck_assert(run_until_received(&fx, "after"));
    ck_assert_ptr_null(strstr(fx.fake.in, "bell"));
    ck_assert_ptr_null(strstr(fx.fake.in, "bad utf-8"));
    fx_stop(&fx);
}
END_TEST

/* component.queue_max bounds what waits to be written: past it sends are
 * refused (queue-full) until the loop drains it, then room is announced. */
START_TEST(test_queue_max_bounds_pending_bytes)
{
    struct fx fx;
    xmpp_stanza_t *m;
    int sent = 0, refused = 0;
    uint64_t end;

    fx_init(&fx);
    fx.conf.component.queue_max = 1000;
    connect_ok(&fx);
    m = message(&fx, "a stanza of some hundred bytes, give or take a few");
    /* Without the loop running nothing is written out. */
    for (int i = 0; i < 50; i++) {
        if (component_send(fx.c, m) == 0) {
            sent++;
        } else {
            ck_assert_int_eq(component_send_refusal(fx.c),
                             COMPONENT_REFUSED_QUEUE_FULL);
            refused++;
        }
    }
    xmpp_stanza_release(m);
    ck_assert_int_gt(sent, 0);
    ck_assert_int_gt(refused, 0);
    /* At most queue_max bytes plus the one stanza that crossed it. */
    ck_assert_int_le(sent * 100, 1000 + 200);
    ck_assert_str_eq(component_refusal_name(COMPONENT_REFUSED_QUEUE_FULL),
                     "queue-full");
    ck_assert(!component_has_room(fx.c));
    component_want_room(fx.c);
    end = loop_clock_ms() + DEADLINE_MS;
    while (fx.rooms == 0 && loop_clock_ms() < end)
        ck_assert_int_eq(loop_run_once(fx.loop, 50), 0);
    ck_assert_int_eq(fx.rooms, 1);
    ck_assert(component_has_room(fx.c));
    fx_stop(&fx);
}
END_TEST

START_TEST(test_stop_closes_the_stream_and_calls_back)
{
    struct fx fx;
    uint64_t end;

    fx_init(&fx);
    connect_ok(&fx);
    component_stop(fx.c, on_stopped, &fx);
    /* The fake server answers the close; the component calls back. */
    ck_assert(run_until_received(&fx, "</stream:stream>"));
    end = loop_clock_ms() + DEADLINE_MS;
    while (fx.stopped == 0 && loop_clock_ms() < end)
        ck_assert_int_eq(loop_run_once(fx.loop, 50), 0);
    ck_assert_int_eq(fx.stopped, 1);
    ck_assert_int_eq(component_state(fx.c), COMPONENT_DISCONNECTED);
    /* Stopped means no reconnect. */
    run_for(&fx, 1500);
    ck_assert_int_eq(fx.fake.accepted, 1);
    fx_stop(&fx);
}
END_TEST

/* main.c may free a component whose stream is still open (a second signal,
 * the stop deadline): the release must not run handlers into freed state
 * (ASan and valgrind watch this one). */
START_TEST(test_free_with_the_stream_open_is_clean)
{
    struct fx fx;

    fx_init(&fx);
    connect_ok(&fx);
    ck_assert_int_eq(component_state(fx.c), COMPONENT_CONNECTED);
    component_free(fx.c);
    fake_stop(&fx.fake);
    loop_free(fx.loop);
}
END_TEST

/* The confirmation pings the fake server received: their ids and how many
 * messages came before each. Complete stanzas are taken out of the fake's
 * input, so that it never holds more than a pass's worth. */
struct pings {
    char id[16][32];
    int before[16];
    int n, messages;
};

static void take_pings(struct fx *fx, struct pings *pg)
{
    char *in = fx->fake.in, *p = in, *done = in;

    for (;;) {
        char *m = strstr(p, "</message>"), *q = strstr(p, "</iq>");
        char *end = m != NULL && (q == NULL || m < q) ? m : q;
        if (end == NULL)
            break;
        if (end == m) {
            pg->messages++;
            done = p = m + strlen("</message>");
            continue;
        }
        *q = '\0';
        char *iq = strstr(p, "<iq"), *id = iq ? strstr(iq, "id=") : NULL;
        ck_assert_ptr_nonnull(id);
        ck_assert_int_lt(pg->n, 16);
        sscanf(id + 4, "%31[^'\"]", pg->id[pg->n]);
        pg->before[pg->n++] = pg->messages;
        done = p = q + strlen("</iq>");
    }
    fx->fake.inlen = strlen(done);
    memmove(in, done, fx->fake.inlen + 1);
}

static void on_confirmed(uint64_t seq, void *arg)
{
    *(uint64_t *)arg = seq;
}

/* What dispatch.c does with replies in the daemon. */
static void on_reply(xmpp_stanza_t *st, void *arg)
{
    struct fx *fx = arg;

    iq_handle(component_iqs(fx->c), st);
}

/* SPEC §10: while confirmation pings are unanswered, another follows every
 * 64 KiB (1/64 of a 1 MiB queue_max, at least 64 KiB) instead of one per
 * round trip; an answer confirms every stanza before its ping. */
START_TEST(test_confirmation_pings_follow_every_step_of_bytes)
{
    struct fx fx;
    struct pings pg = {0};
    char body[301], reply[200];
    uint64_t seq, confirmed = 0, end;
    xmpp_stanza_t *m;

    fx_init(&fx);
    connect_ok(&fx);
    component_on_confirm(fx.c, on_confirmed, &confirmed);
    component_on_stanza(fx.c, on_reply, &fx);
    memset(body, 'b', 300);
    body[300] = '\0';
    m = message(&fx, body);
    for (int pass = 0; pass < 40; pass++) { /* 800 stanzas, ~330 KB */
        for (int i = 0; i < 20; i++)
            ck_assert_int_eq(component_send_tracked(fx.c, m, &seq), 0);
        for (int i = 0; i < 5; i++) {
            ck_assert_int_eq(loop_run_once(fx.loop, 5), 0);
            take_pings(&fx, &pg);
        }
    }
    xmpp_stanza_release(m);
    end = loop_clock_ms() + DEADLINE_MS;
    while (pg.messages < 800 && loop_clock_ms() < end) {
        ck_assert_int_eq(loop_run_once(fx.loop, 20), 0);
        take_pings(&fx, &pg);
    }
    ck_assert_int_eq(pg.messages, 800);
    /* One after the first pass, then one per 64 KiB: 5 or 6 (one per
     * round trip would be 1). */
    ck_assert_int_ge(pg.n, 4);
    ck_assert_int_le(pg.n, 7);
    ck_assert_uint_eq(component_unconfirmed(fx.c), 800);
    snprintf(reply, sizeof(reply),
             "<iq type='result' id='%s' from='example.org' "
             "to='rest.example.org'/>",
             pg.id[1]);
    fake_write_all(fx.fake.fd, reply);
    end = loop_clock_ms() + DEADLINE_MS;
    while (confirmed == 0 && loop_clock_ms() < end)
        ck_assert_int_eq(loop_run_once(fx.loop, 20), 0);
    ck_assert_uint_eq(confirmed, (uint64_t)pg.before[1]);
    ck_assert_uint_eq(component_unconfirmed(fx.c), 800 - pg.before[1]);
    fx_stop(&fx);
}
END_TEST

static Suite *component_suite(void)
{
    Suite *s = suite_create("component");
    TCase *tc = tcase_create("offline");

    tcase_add_test(tc, test_state_names_are_the_status_words);
    tcase_add_test(tc, test_new_component_is_disconnected_and_refuses_sends);
    suite_add_tcase(s, tc);

    tc = tcase_create("fake-server");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_handshake_carries_sha1_of_stream_id_and_secret);
    tcase_add_test(tc, test_refused_handshake_sets_last_error_and_retries);
    tcase_add_test(tc, test_stream_closed_by_server_reconnects);
    tcase_add_test(tc, test_sent_stanza_reaches_the_server);
    tcase_add_test(tc, test_stanza_over_max_stanza_size_is_refused_unsent);
    tcase_add_test(tc, test_invalid_characters_are_refused_unsent);
    tcase_add_test(tc, test_queue_max_bounds_pending_bytes);
    tcase_add_test(tc, test_stop_closes_the_stream_and_calls_back);
    tcase_add_test(tc, test_free_with_the_stream_open_is_clean);
    tcase_add_test(tc, test_confirmation_pings_follow_every_step_of_bytes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(component_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}
