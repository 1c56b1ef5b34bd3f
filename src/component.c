/* SPDX-License-Identifier: MIT */
/* component.c: the XEP-0114 connection: connect, handshake, keepalive,
 * reconnect. */
#include "config.h"

#include "component.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "iq.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "outbox.h"
#include "stanza.h"
#include "xmalloc.h"

/* Reconnect delays: long after the server spoke to us (a refused handshake
 * or a conflict should not be hammered), short while nothing listens (a
 * refused TCP connect costs the server nothing, and the common cause is a
 * server restart that we want to notice within seconds). */
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 60000
#define BACKOFF_MAX_REFUSED_MS 2000
/* Retry delay while the server refuses us with `conflict`: another
 * instance holds the component (Prosody's hot standby, SPEC 12). */
#define STANDBY_RETRY_MS 1000
#define TICK_MS 1000
#define BACKSTOP_MS 20
/* Bytes handed to libstrophe at once. */
#define OUT_CHUNK (256 * 1024)
#define STOP_GRACE_MS 3000
/* A confirmation ping without an answer in this long is sent again. */
#define CONFIRM_TIMEOUT_MS 30000
/* Another confirmation ping goes out, while earlier ones are unanswered,
 * once this many tracked bytes (at least; or 1/64 of component.queue_max)
 * were queued after the last one: the server's answers then free the queue
 * in steps as it reads, not once per trip through the whole queue (a
 * request held for room waited that trip, seconds with 8 MiB queued). */
#define CONFIRM_STEP_MIN (64 * 1024)

struct component {
    struct loop *loop;
    const struct conf *conf;
    xmpp_ctx_t *ctx;
    xmpp_conn_t *conn;      /* current connection attempt, or NULL */
    xmpp_conn_t *dead_conn; /* released from the loop, not from a handler */
    int fd;
    int reserve; /* low descriptor kept for the next XMPP socket, or -1 */
    enum component_state state;
    time_t since;
    char last_error[512];
    char logged_error[512]; /* last reason logged at warn */
    char server[300];
    unsigned failures;
    bool stream_seen;   /* the server answered on this attempt */
    bool was_connected; /* this attempt reached the handshake */
    bool conflict;      /* the server refused us: component already bound */
    bool ping_outstanding;
    bool stopping;
    bool queue_full;  /* refusing sends until the queue drains */
    bool room_wanted; /* somebody waits for room in the queue */
    /* Serialized stanzas; out.buf[out_head..out.len) is not yet given to
     * libstrophe. */
    struct stanza_out out;
    size_t out_head;
    uint64_t refused;
    enum component_refusal refusal; /* of the last refused send */
    bool keep_reason; /* last_error set by us before ending the stream */
    uint64_t reconnects;
    unsigned sent_since_run;
    struct loop_timer *retry_timer, *tick_timer, *ping_timer, *release_timer,
        *stop_timer, *room_timer;
    component_room_cb room_cb;
    void *room_arg;
    /* Tracked stanzas written but not yet confirmed (SPEC §10). */
    struct outbox *outbox;
    unsigned confirms_out; /* confirmation pings in flight */
    uint64_t pinged_seq;   /* the last tracked stanza a ping follows */
    size_t unpinged;       /* tracked bytes queued since the last ping */
    struct loop_timer *confirm_timer;
    component_confirm_cb confirm_cb;
    void *confirm_arg;
    struct iq_table *iqs;
    component_stanza_cb stanza_cb;
    void *stanza_arg;
    component_state_cb state_cb;
    void *state_arg;
    component_stopped_cb stopped_cb;
    void *stopped_arg;
};

/* libstrophe's sockopt callback has no user data; there is one component
 * per process. */
static struct component *current;

static void schedule_connect(struct component *c);
static void reserve_low_fd(struct component *c);
static void on_tick(void *arg);
static void hand_over(struct component *c);
static int on_stanza(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud);
static int send_iq(struct component *c, xmpp_stanza_t *iq, uint64_t timeout_ms,
                   iq_cb cb, void *arg, bool force);
static void schedule_confirm(struct component *c);

static void *mem_alloc(size_t size, void *ud)
{
    return xmalloc(size);
}

static void mem_free(void *p, void *ud)
{
    free(p);
}

static void *mem_realloc(void *p, size_t size, void *ud)
{
    return xrealloc(p, size);
}

static const xmpp_mem_t memory = {mem_alloc, mem_free, mem_realloc, NULL};

/* libstrophe's own messages are details of ours: debug only. */
static void strophe_log(void *ud, xmpp_log_level_t level, const char *area,
                        const char *msg)
{
    log_debug("libstrophe", "area=%s text=%s", area, msg);
}

static const xmpp_log_t logger = {strophe_log, NULL};

static void check_room(struct component *c);

static void set_state(struct component *c, enum component_state state)
{
    if (c->state == state)
        return;
    c->state = state;
    c->since = time(NULL);
    check_room(c);
    if (c->state_cb != NULL)
        c->state_cb(state, c->state_arg);
}

static void release_dead(void *arg)
{
    struct component *c = arg;

    c->release_timer = NULL;
    if (c->dead_conn != NULL) {
        xmpp_conn_release(c->dead_conn);
        c->dead_conn = NULL;
    }
    reserve_low_fd(c);
}

/*
 * One pass of libstrophe: flush its queue, read what is there, run its
 * handlers and timers.
 *
 * xmpp_conn_send_queue_len() counts only our stanzas, and not one that is
 * half written: the stream header and handshake that libstrophe queues
 * itself stay invisible to prepare(). Before the handshake completes, up to
 * two more passes flush what the previous one queued (run_once writes
 * before it reads), and the tick comes every BACKSTOP_MS: with one extra
 * pass and the 1 s tick, a server that answered the stream header within
 * the same pass got our handshake a second late (13 of 130 connects in a
 * test run). A half-written stanza is flushed by the tick too, which runs
 * every BACKSTOP_MS after any output instead of every TICK_MS.
 */
static void run_strophe(struct component *c)
{
    bool sent = c->sent_since_run > 0;
    uint64_t next;

    c->sent_since_run = 0;
    hand_over(c);
    xmpp_run_once(c->ctx, 0);
    for (int i = 0;
         i < 2 && c->conn != NULL && c->state == COMPONENT_CONNECTING; i++)
        xmpp_run_once(c->ctx, 0);
    release_dead(c);
    if (c->conn == NULL)
        return;
    next = sent || c->sent_since_run > 0 || c->state == COMPONENT_CONNECTING
               ? BACKSTOP_MS
               : TICK_MS;
    if (c->tick_timer == NULL || next < TICK_MS) {
        loop_timer_cancel(c->loop, c->tick_timer);
        c->tick_timer = loop_timer_add(c->loop, next, on_tick, c);
    }
}

static void on_fd(int fd, unsigned events, void *arg)
{
    run_strophe(arg);
}

/* libstrophe runs its own timers (handshake timeout...) inside run_once. */
static void on_tick(void *arg)
{
    struct component *c = arg;

    c->tick_timer = NULL;
    if (c->conn != NULL)
        run_strophe(c);
}

/* Bytes accepted but not yet handed to libstrophe. */
static size_t out_pending(const struct component *c)
{
    return c->out.len - c->out_head;
}

/* Bytes that count against component.queue_max: not yet written, or
 * written and not yet confirmed. */
static size_t queue_used(const struct component *c)
{
    return out_pending(c) + outbox_bytes(c->outbox);
}

static void on_room(void *arg)
{
    struct component *c = arg;

    c->room_timer = NULL;
    if (c->room_cb != NULL)
        c->room_cb(c->room_arg);
}

/* Wake whoever waits for room, from a timer: never inside libstrophe. */
static void check_room(struct component *c)
{
    if (!c->room_wanted || c->room_timer != NULL)
        return;
    if (c->state == COMPONENT_CONNECTED &&
        queue_used(c) >= c->conf->component.queue_max)
        return;
    c->room_wanted = false;
    c->room_timer = loop_timer_add(c->loop, 0, on_room, c);
}

static void out_clear(struct component *c)
{
    c->out.len = 0;
    c->out_head = 0;
}

/* Hand libstrophe the next n pending bytes. It logs raw data with strlen():
 * terminate the piece we pass. */
static void send_raw_bytes(struct component *c, size_t n)
{
    char *p = c->out.buf + c->out_head;
    char saved = p[n];

    p[n] = '\0';
    xmpp_send_raw(c->conn, p, n);
    p[n] = saved;
    c->out_head += n;
    if (c->out_head == c->out.len) {
        out_clear(c);
    } else if (c->out_head >= c->out.cap / 2) {
        /* Compact now and then, not after every piece: under backlog the
         * buffer holds megabytes. */
        memmove(c->out.buf, p + n, c->out.len - c->out_head);
        c->out.len -= c->out_head;
        c->out_head = 0;
    }
}

/*
 * Give libstrophe what we queued, in one piece of at most OUT_CHUNK bytes,
 * once its own queue is empty. libstrophe writes each queued element with
 * its own send(): handing it stanzas one by one cost a system call each
 * and let the server read them one by one (measured: about 0.6 of the raw
 * component rate). Our buffer is the bounded queue (component.queue_max).
 */
static void hand_over(struct component *c)
{
    size_t n;

    if (out_pending(c) == 0 || c->state != COMPONENT_CONNECTED ||
        xmpp_conn_send_queue_len(c->conn) > 0)
        return;
    /* A cut inside a stanza is harmless: the bytes go out in order, and
     * component_stop() hands everything over before the stream closes. */
    n = out_pending(c) < OUT_CHUNK ? out_pending(c) : OUT_CHUNK;
    send_raw_bytes(c, n);
    check_room(c);
}

/* Before each wait: ask for POLLOUT only when there is something to write. */
static int64_t prepare(void *arg)
{
    struct component *c = arg;
    unsigned want = LOOP_IN;

    if (c->conn == NULL || c->fd < 0)
        return -1;
    hand_over(c);
    if (xmpp_conn_is_connecting(c->conn) ||
        xmpp_conn_send_queue_len(c->conn) > 0 || out_pending(c) > 0)
        want |= LOOP_OUT;
    loop_fd_mod(c->loop, c->fd, want);
    return TICK_MS;
}

static int refuse_socket(xmpp_conn_t *conn, void *sock)
{
    return -1;
}

static void ignore_event(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
                         xmpp_stream_error_t *se, void *ud)
{
}

/* TCP keepalive notices a dead peer even when no ping is due. */
static int set_keepalive(int fd, unsigned idle)
{
    int on = 1, idle_s = (int)idle, intvl = (int)(idle / 4 + 1), count = 4;

    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof(idle_s)) <
            0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl)) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count)) < 0)
        return -1;
    return 0;
}

/*
 * Keep a descriptor below FD_SETSIZE for the next XMPP socket: libstrophe
 * select()s on it, while HTTP clients and webhook transfers may take every
 * other number (C10k, SPEC 12). A number freed by libstrophe is taken back
 * here before anything else can accept or open.
 */
static void reserve_low_fd(struct component *c)
{
    int fd;

    if (c->reserve >= 0)
        return;
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        log_warn("cannot reserve a descriptor for the xmpp socket", "error=%s",
                 strerror(errno));
        return;
    }
    if (fd >= FD_SETSIZE) { /* no low number free now: retry later */
        close(fd);
        return;
    }
    c->reserve = fd;
}

/* Move libstrophe's new socket onto the reserved low descriptor. libstrophe
 * passes its own variable and uses the number we leave in it. */
static int move_to_reserve(struct component *c, int *sock)
{
    if (c->reserve < 0 || *sock == c->reserve)
        return 0;
    if (dup3(*sock, c->reserve, O_CLOEXEC) < 0) {
        log_error("cannot move the xmpp socket to a low descriptor",
                  "fd=%d reserve=%d error=%s", *sock, c->reserve,
                  strerror(errno));
        return -1;
    }
    close(*sock);
    *sock = c->reserve;
    c->reserve = -1; /* libstrophe owns and closes it now */
    return 0;
}

static int on_socket(xmpp_conn_t *conn, void *sock)
{
    struct component *c = current;
    int fd;

    if (move_to_reserve(c, sock) < 0)
        return -1;
    fd = *(int *)sock;
    /* libstrophe select()s on this fd: a number past FD_SETSIZE would
     * corrupt its stack, so refuse the socket instead. */
    if (fd >= FD_SETSIZE) {
        log_error("xmpp socket number too high for select()", "fd=%d limit=%d",
                  fd, FD_SETSIZE);
        return -1;
    }
    if (set_keepalive(fd, c->conf->component.keepalive) < 0)
        log_warn("cannot enable TCP keepalive", "fd=%d error=%s", fd,
                 strerror(errno));
    /* We write whole batches ourselves (hand_over): Nagle only held the
     * small confirmation ping back behind a delayed ACK (40 ms). */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int)) < 0)
        log_warn("cannot disable Nagle", "fd=%d error=%s", fd, strerror(errno));
    if (c->fd >= 0) /* an earlier candidate address that failed */
        loop_fd_del(c->loop, c->fd);
    c->fd = fd;
    if (loop_fd_add(c->loop, fd, LOOP_IN | LOOP_OUT, on_fd, c) < 0)
        return -1;
    return 0;
}

static const char *stream_condition(xmpp_stream_error_t *se)
{
    xmpp_stanza_t *cond;

    if (se == NULL || se->stanza == NULL)
        return "undefined-condition";
    for (cond = xmpp_stanza_get_children(se->stanza); cond != NULL;
         cond = xmpp_stanza_get_next(cond)) {
        const char *name = xmpp_stanza_get_name(cond);
        if (xmpp_stanza_is_tag(cond) && name != NULL &&
            strcmp(name, "text") != 0)
            return name;
    }
    return "undefined-condition";
}

static void on_ping_reply(enum iq_outcome outcome, xmpp_stanza_t *reply,
                          void *arg)
{
    struct component *c = arg;

    c->ping_outstanding = false;
    if (outcome == IQ_TIMEOUT && c->conn != NULL &&
        c->state == COMPONENT_CONNECTED) {
        log_warn("xmpp keepalive unanswered, reconnecting",
                 "server=%s "
                 "seconds=%u",
                 c->server, 2 * c->conf->component.keepalive);
        snprintf(c->last_error, sizeof(c->last_error),
                 "keepalive ping unanswered");
        c->keep_reason = true;
        /* A graceful close would wait for a peer that does not answer:
         * end the TCP connection, libstrophe sees EOF at once. */
        if (c->fd >= 0)
            shutdown(c->fd, SHUT_RDWR);
        else
            xmpp_disconnect(c->conn);
    }
}

static void on_ping_timer(void *arg)
{
    struct component *c = arg;
    unsigned ka = c->conf->component.keepalive;

    c->ping_timer = NULL;
    if (c->state != COMPONENT_CONNECTED)
        return;
    if (!c->ping_outstanding) {
        xmpp_stanza_t *iq =
            stanza_iq(c->ctx, "get", NULL, c->conf->component.jid,
                      c->conf->server.domain);
        stanza_add_element(iq, EL_PING, NS_PING);
        /* Any answer proves the stream alive; none in two intervals
         * means it is dead even if TCP has not noticed yet. */
        if (send_iq(c, iq, 2000ull * ka, on_ping_reply, c, true) == 0)
            c->ping_outstanding = true;
        xmpp_stanza_release(iq);
    }
    c->ping_timer = loop_timer_add(c->loop, 1000ull * ka, on_ping_timer, c);
}

/* A confirmation ping in flight: it follows tracked stanza seq. */
struct confirm_ping {
    struct component *c;
    uint64_t seq;
};

/* Tracked bytes queued after which another ping goes out while earlier
 * ones are unanswered. */
static size_t confirm_step(const struct component *c)
{
    size_t step = c->conf->component.queue_max / 64;

    return step > CONFIRM_STEP_MIN ? step : CONFIRM_STEP_MIN;
}

/* A ping is due: tracked stanzas follow the last one, and either none is
 * in flight or a step's worth of bytes was queued since. */
static bool confirm_due(const struct component *c)
{
    if (c->state != COMPONENT_CONNECTED ||
        outbox_last(c->outbox) <= c->pinged_seq)
        return false;
    return c->confirms_out == 0 || c->unpinged >= confirm_step(c);
}

/* The server answered a ping sent after a batch: the stream is ordered, so
 * it has read every stanza before it. */
static void on_confirm_reply(enum iq_outcome outcome, xmpp_stanza_t *reply,
                             void *arg)
{
    struct confirm_ping *p = arg;
    struct component *c = p->c;
    uint64_t seq = p->seq;
    size_t n;

    (void)reply;
    free(p);
    c->confirms_out--;
    if (outcome == IQ_SHUTDOWN || outcome == IQ_DISCONNECTED)
        return; /* resent on the next stream, then confirmed */
    if (outcome == IQ_REPLY) {
        n = outbox_confirm(c->outbox, seq);
        metrics_add(METRIC_OUTBOX_CONFIRMED, n);
        if (n > 0 && c->confirm_cb != NULL)
            c->confirm_cb(outbox_confirmed(c->outbox), c->confirm_arg);
        check_room(c);
    } else if (c->confirms_out == 0 &&
               c->pinged_seq > outbox_confirmed(c->outbox)) {
        /* Unanswered, and no later ping covers it: ping again. */
        c->pinged_seq = outbox_confirmed(c->outbox);
    }
    schedule_confirm(c);
}

static void on_confirm_timer(void *arg)
{
    struct component *c = arg;
    struct confirm_ping *p;
    xmpp_stanza_t *iq;

    c->confirm_timer = NULL;
    if (!confirm_due(c))
        return;
    iq = stanza_iq(c->ctx, "get", NULL, c->conf->component.jid,
                   c->conf->server.domain);
    stanza_add_element(iq, EL_PING, NS_PING);
    p = xmalloc(sizeof(*p));
    p->c = c;
    p->seq = outbox_last(c->outbox);
    if (send_iq(c, iq, CONFIRM_TIMEOUT_MS, on_confirm_reply, p, true) == 0) {
        c->confirms_out++;
        c->pinged_seq = p->seq;
        c->unpinged = 0;
    } else {
        free(p);
    }
    xmpp_stanza_release(iq);
}

/* A confirmation ping after the sends of this loop pass, if one is due. */
static void schedule_confirm(struct component *c)
{
    if (c->confirm_timer != NULL || !confirm_due(c))
        return;
    c->confirm_timer = loop_timer_add(c->loop, 0, on_confirm_timer, c);
}

/* Put one unconfirmed stanza back in the queue of the new stream. */
static int requeue(uint64_t seq, const char *xml, size_t len, void *arg)
{
    struct component *c = arg;

    (void)seq;
    if (c->out.len + len + 1 > c->out.cap) {
        c->out.cap = (c->out.len + len + 1) * 2;
        c->out.buf = xrealloc(c->out.buf, c->out.cap);
    }
    memcpy(c->out.buf + c->out.len, xml, len);
    c->out.len += len;
    c->out.buf[c->out.len] = '\0';
    return 0;
}

/* A new stream: what the last one did not confirm goes out first. */
static void resend_outbox(struct component *c)
{
    if (outbox_count(c->outbox) == 0)
        return;
    log_info("xmpp resending unconfirmed stanzas",
             "server=%s count=%zu "
             "bytes=%zu",
             c->server, outbox_count(c->outbox), outbox_bytes(c->outbox));
    metrics_add(METRIC_OUTBOX_RESENT, outbox_count(c->outbox));
    outbox_each(c->outbox, requeue, c);
    c->pinged_seq = outbox_confirmed(c->outbox);
    c->unpinged = outbox_bytes(c->outbox);
    c->sent_since_run++;
    schedule_confirm(c);
}

/* The stream is up: reset the failure state, resend, start pinging. */
static void on_connected(struct component *c)
{
    c->failures = 0;
    c->was_connected = true;
    c->last_error[0] = '\0';
    c->logged_error[0] = '\0';
    log_info("xmpp connected", "server=%s component=%s fd=%d", c->server,
             c->conf->component.jid, c->fd);
    set_state(c, COMPONENT_CONNECTED);
    resend_outbox(c);
    loop_timer_cancel(c->loop, c->ping_timer);
    c->ping_timer = loop_timer_add(
        c->loop, 1000ull * c->conf->component.keepalive, on_ping_timer, c);
}

/* Why the stream ended or never began, into c->last_error. */
static void note_end_reason(struct component *c, int error,
                            xmpp_stream_error_t *se)
{
    if (c->keep_reason) {
        c->keep_reason = false; /* we ended the stream, for last_error */
    } else if (se != NULL) {
        snprintf(c->last_error, sizeof(c->last_error), "%s%s%s",
                 stream_condition(se), se->text ? ": " : "",
                 se->text ? se->text : "");
        c->stream_seen = true;
    } else if (error != 0) {
        snprintf(c->last_error, sizeof(c->last_error), "%s", strerror(error));
    } else if (c->last_error[0] == '\0' || c->was_connected) {
        snprintf(c->last_error, sizeof(c->last_error), "%s",
                 c->was_connected ? "stream closed"
                                  : "connection failed or closed");
    }
    c->conflict = se != NULL && strcmp(stream_condition(se), "conflict") == 0;
    if (c->was_connected && c->last_error[0] != '\0' &&
        strcmp(c->last_error, "stream closed") == 0)
        c->stream_seen = true;
}

/* One log line per new reason; repetitions at debug. */
static void log_end(struct component *c, xmpp_stream_error_t *se)
{
    if (c->stopping) {
        log_info("xmpp stream closed", "server=%s", c->server);
    } else if (c->was_connected) {
        log_warn("xmpp disconnected", "server=%s reason=%s", c->server,
                 c->last_error);
    } else if (strcmp(c->last_error, c->logged_error) == 0) {
        /* A server that stays down or keeps refusing us would fill the
         * log: each new reason once, its repetitions at debug. */
        log_debug("xmpp connect failed again", "server=%s reason=%s attempt=%u",
                  c->server, c->last_error, c->failures + 1);
    } else if (c->conflict) {
        log_warn("xmpp component already connected elsewhere: standing by, "
                 "retrying every second",
                 "server=%s component=%s reason=%s", c->server,
                 c->conf->component.jid, c->last_error);
    } else if (se != NULL &&
               strcmp(stream_condition(se), "not-authorized") == 0) {
        log_error("xmpp handshake refused: check component.secret and the "
                  "server's component configuration",
                  "server=%s component=%s reason=%s", c->server,
                  c->conf->component.jid, c->last_error);
    } else {
        log_warn("xmpp connect failed", "server=%s reason=%s", c->server,
                 c->last_error);
    }
    snprintf(c->logged_error, sizeof(c->logged_error), "%s", c->last_error);
}

/* Stop a stopping component, or schedule the next attempt. */
static void after_end(struct component *c)
{
    if (c->stopping) {
        loop_timer_cancel(c->loop, c->stop_timer);
        c->stop_timer = NULL;
        if (c->stopped_cb != NULL) {
            component_stopped_cb cb = c->stopped_cb;
            c->stopped_cb = NULL;
            cb(c->stopped_arg);
        }
        return;
    }
    schedule_connect(c);
}

static void on_conn_event(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
                          xmpp_stream_error_t *se, void *ud)
{
    struct component *c = ud;

    if (conn != c->conn)
        return;
    if (event == XMPP_CONN_CONNECT) {
        on_connected(c);
        return;
    }
    if (event != XMPP_CONN_DISCONNECT && event != XMPP_CONN_FAIL)
        return;

    note_end_reason(c, error, se);
    log_end(c, se);
    if (c->fd >= 0)
        loop_fd_del(c->loop, c->fd);
    c->fd = -1;
    /* libstrophe has closed its socket: take the low number back. */
    reserve_low_fd(c);
    loop_timer_cancel(c->loop, c->ping_timer);
    c->ping_timer = NULL;
    c->ping_outstanding = false;
    if (out_pending(c) > 0)
        log_warn("stanzas not sent before the stream ended",
                 "server=%s bytes=%zu", c->server, out_pending(c));
    out_clear(c);
    check_room(c);
    /* We are inside libstrophe: release the conn from the loop. */
    c->dead_conn = c->conn;
    c->conn = NULL;
    if (c->release_timer == NULL)
        c->release_timer = loop_timer_add(c->loop, 0, release_dead, c);
    if (c->was_connected)
        c->reconnects++;
    metrics_inc(METRIC_XMPP_DISCONNECTS);
    set_state(c, COMPONENT_DISCONNECTED);
    iq_fail_all(c->iqs, IQ_DISCONNECTED);
    after_end(c);
}

/*
 * Open the component stream on a fresh conn.
 *
 * libstrophe 0.12.2 allocates its stream-management state only in
 * xmpp_connect_client(); xmpp_connect_component() leaves it NULL and the
 * first stanza after the handshake dereferences it (SIGSEGV), as does
 * disconnecting. So first start a client connection whose socket our
 * sockopt callback refuses: that allocates the state and fails before any
 * network traffic. Then connect the component on the same conn.
 * Guarded by the integration test that receives stanzas across a server
 * restart (tests/integration/test_foundation.py).
 */
static int connect_component(struct component *c)
{
    xmpp_conn_t *conn = xmpp_conn_new(c->ctx);
    const struct conf *conf = c->conf;

    xmpp_conn_set_jid(conn, conf->component.jid);
    xmpp_conn_set_pass(conn, conf->component.secret);
    xmpp_conn_set_sockopt_callback(conn, refuse_socket);
    (void)xmpp_connect_client(conn, "127.0.0.1", 1, ignore_event, NULL);
    xmpp_conn_set_sockopt_callback(conn, on_socket);
    xmpp_handler_add(conn, on_stanza, NULL, NULL, NULL, c);
    c->conn = conn;
    c->stream_seen = false;
    c->was_connected = false;
    set_state(c, COMPONENT_CONNECTING);
    if (xmpp_connect_component(conn, conf->server.host,
                               (unsigned short)conf->server.port, on_conn_event,
                               c) != XMPP_EOK) {
        snprintf(c->last_error, sizeof(c->last_error),
                 "cannot start connection to %s", c->server);
        log_warn("xmpp connect failed", "server=%s reason=%s", c->server,
                 c->last_error);
        if (c->fd >= 0)
            loop_fd_del(c->loop, c->fd);
        c->fd = -1;
        c->conn = NULL;
        xmpp_conn_release(conn);
        set_state(c, COMPONENT_DISCONNECTED);
        return -1;
    }
    if (c->tick_timer == NULL)
        c->tick_timer = loop_timer_add(c->loop, TICK_MS, on_tick, c);
    return 0;
}

static void on_retry(void *arg)
{
    struct component *c = arg;

    c->retry_timer = NULL;
    if (c->stopping || c->conn != NULL)
        return;
    log_debug("xmpp connecting", "server=%s attempt=%u", c->server,
              c->failures + 1);
    reserve_low_fd(c);
    if (connect_component(c) < 0)
        schedule_connect(c);
}

static void schedule_connect(struct component *c)
{
    uint64_t cap = c->stream_seen ? BACKOFF_MAX_MS : BACKOFF_MAX_REFUSED_MS;
    unsigned shift = c->failures < 6 ? c->failures : 6;
    uint64_t base = (uint64_t)BACKOFF_FIRST_MS << shift;
    uint64_t delay;

    if (base > cap)
        base = cap;
    /* Half fixed, half random: spreads a fleet restarting together. */
    delay = base / 2 + (uint64_t)random() % (base / 2 + 1);
    /* Hot standby: the active instance may die any moment; take over
     * within ~1 s (0.75-1.25 s) instead of backing off to a minute. */
    if (c->conflict)
        delay = STANDBY_RETRY_MS * 3 / 4 +
                (uint64_t)random() % (STANDBY_RETRY_MS / 2 + 1);
    c->failures++;
    loop_timer_cancel(c->loop, c->retry_timer);
    c->retry_timer = loop_timer_add(c->loop, delay, on_retry, c);
    log_debug("xmpp reconnect scheduled", "server=%s delay_ms=%llu attempt=%u",
              c->server, (unsigned long long)delay, c->failures);
}

static int on_stanza(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct component *c = ud;
    const char *name = xmpp_stanza_get_name(st);

    if (name == NULL)
        return 1;
    if (strcmp(name, EL_MESSAGE) == 0)
        metrics_inc(METRIC_STANZAS_IN_MESSAGE);
    else if (strcmp(name, EL_PRESENCE) == 0)
        metrics_inc(METRIC_STANZAS_IN_PRESENCE);
    else if (strcmp(name, EL_IQ) == 0)
        metrics_inc(METRIC_STANZAS_IN_IQ);
    else
        return 1;
    if (c->stanza_cb != NULL)
        c->stanza_cb(st, c->stanza_arg);
    return 1; /* keep the handler */
}

struct component *component_new(struct loop *loop, const struct conf *conf)
{
    struct component *c = xcalloc(1, sizeof(*c));

    xmpp_initialize();
    c->loop = loop;
    c->conf = conf;
    c->fd = -1;
    c->reserve = -1;
    reserve_low_fd(c);
    c->since = time(NULL);
    c->ctx = xmpp_ctx_new(&memory, &logger);
    c->iqs = iq_table_new(loop);
    c->outbox = outbox_new();
    snprintf(c->server, sizeof(c->server), "%s:%u", conf->server.host,
             conf->server.port);
    srandom((unsigned)loop_clock_ms());
    loop_prepare_add(loop, prepare, c);
    current = c;
    return c;
}

void component_free(struct component *c)
{
    if (c == NULL)
        return;
    /* The connections first, while everything their handlers may touch is
     * alive; with c->conn cleared on_conn_event ignores the release. */
    if (c->fd >= 0)
        loop_fd_del(c->loop, c->fd);
    if (c->conn != NULL) {
        xmpp_conn_t *conn = c->conn;
        c->conn = NULL;
        xmpp_conn_release(conn);
    }
    if (c->dead_conn != NULL)
        xmpp_conn_release(c->dead_conn);
    iq_table_free(c->iqs);
    loop_prepare_del(c->loop, prepare, c);
    loop_timer_cancel(c->loop, c->retry_timer);
    loop_timer_cancel(c->loop, c->tick_timer);
    loop_timer_cancel(c->loop, c->ping_timer);
    loop_timer_cancel(c->loop, c->release_timer);
    loop_timer_cancel(c->loop, c->stop_timer);
    loop_timer_cancel(c->loop, c->room_timer);
    loop_timer_cancel(c->loop, c->confirm_timer);
    if (c->outbox != NULL && outbox_count(c->outbox) > 0)
        log_warn("stanzas never confirmed by the server at exit", "count=%zu",
                 outbox_count(c->outbox));
    outbox_free(c->outbox);
    if (c->reserve >= 0)
        close(c->reserve);
    free(c->out.buf);
    xmpp_ctx_free(c->ctx);
    xmpp_shutdown();
    if (current == c)
        current = NULL;
    free(c);
}

void component_on_stanza(struct component *c, component_stanza_cb cb, void *arg)
{
    c->stanza_cb = cb;
    c->stanza_arg = arg;
}

void component_on_state(struct component *c, component_state_cb cb, void *arg)
{
    c->state_cb = cb;
    c->state_arg = arg;
}

void component_start(struct component *c)
{
    log_info("xmpp connecting", "server=%s component=%s", c->server,
             c->conf->component.jid);
    if (connect_component(c) < 0)
        schedule_connect(c);
}

/* The server did not close the stream in time: drop the socket. */
static void on_stop_timeout(void *arg)
{
    struct component *c = arg;
    component_stopped_cb cb = c->stopped_cb;

    c->stop_timer = NULL;
    c->stopped_cb = NULL;
    log_warn("xmpp stream did not close in time", "server=%s", c->server);
    if (cb != NULL)
        cb(c->stopped_arg);
}

void component_stop(struct component *c, component_stopped_cb cb, void *arg)
{
    c->stopping = true;
    loop_timer_cancel(c->loop, c->retry_timer);
    c->retry_timer = NULL;
    loop_timer_cancel(c->loop, c->ping_timer);
    c->ping_timer = NULL;
    if (c->conn == NULL) {
        cb(arg);
        return;
    }
    c->stopped_cb = cb;
    c->stopped_arg = arg;
    /* Everything we accepted goes out before </stream:stream>. */
    if (c->state == COMPONENT_CONNECTED && out_pending(c) > 0)
        send_raw_bytes(c, out_pending(c));
    c->stop_timer = loop_timer_add(c->loop, STOP_GRACE_MS, on_stop_timeout, c);
    xmpp_disconnect(c->conn);
}

static int comp_refuse(struct component *c, enum component_refusal why)
{
    c->refusal = why;
    return -1;
}

/* Refused for its content: count it and say so, with what it was. */
static int refuse_stanza(struct component *c, xmpp_stanza_t *st,
                         enum stanza_fault fault)
{
    static struct log_ratelimit rl =
        LOG_RATELIMIT_INIT(LOG_LEVEL_WARN, "stanzas refused before sending");
    const char *to = stanza_attr(st, ATTR_TO);
    const char *id = stanza_attr(st, ATTR_ID);

    if (fault == STANZA_FAULT_TOO_LARGE) {
        metrics_inc(METRIC_STANZAS_REFUSED_TOO_LARGE);
        if (log_ratelimit_pass(&rl, loop_clock_ms()))
            log_warn("stanza not sent: larger than the server accepts",
                     "kind=%s to=%s id=%s limit_bytes=%zu",
                     xmpp_stanza_get_name(st), to ? to : "-", id ? id : "-",
                     c->conf->component.max_stanza_size);
        return comp_refuse(c, COMPONENT_REFUSED_TOO_LARGE);
    }
    metrics_inc(METRIC_STANZAS_REFUSED_INVALID);
    if (log_ratelimit_pass(&rl, loop_clock_ms()))
        log_warn("stanza not sent: invalid UTF-8 or a character XML does "
                 "not allow",
                 "kind=%s to=%s id=%s", xmpp_stanza_get_name(st), to ? to : "-",
                 id ? id : "-");
    return comp_refuse(c, COMPONENT_REFUSED_INVALID);
}

/* Under overload every caller hits a full queue: say it once per episode,
 * not once per refused stanza. */
static bool queue_full(struct component *c)
{
    size_t max = c->conf->component.queue_max;

    if (queue_used(c) >= max) {
        if (!c->queue_full)
            log_warn("xmpp send queue full, refusing stanzas",
                     "server=%s limit_bytes=%zu", c->server, max);
        c->queue_full = true;
        c->refused++;
        metrics_inc(METRIC_STANZAS_REFUSED_QUEUE_FULL);
        return true;
    }
    if (c->queue_full && queue_used(c) < max / 2) {
        log_info("xmpp send queue drained", "server=%s refused=%llu", c->server,
                 (unsigned long long)c->refused);
        c->queue_full = false;
        c->refused = 0;
    }
    return false;
}

/*
 * The single point where stanzas go to the server: whatever the caller
 * built from outside input, the serializer refuses what the server would
 * close the stream on, and the size is checked on the serialized bytes
 * (escaping can make a body five times larger).
 */
static int queue_stanza(struct component *c, xmpp_stanza_t *st, bool force,
                        size_t *start)
{
    const char *name;
    enum stanza_fault fault;
    size_t before, len;

    c->refusal = COMPONENT_REFUSED_NONE;
    if (c->state != COMPONENT_CONNECTED || c->conn == NULL)
        return comp_refuse(c, COMPONENT_REFUSED_DISCONNECTED);
    /* Forced: our own pings, which must get through a full queue (the
     * confirmation ping is what empties it). */
    if (!force && queue_full(c))
        return comp_refuse(c, COMPONENT_REFUSED_QUEUE_FULL);
    before = c->out.len;
    if (start != NULL)
        *start = before;
    if (stanza_serialize_max(st, &c->out, c->conf->component.max_stanza_size,
                             &fault) < 0)
        return refuse_stanza(c, st, fault);
    len = c->out.len - before;
    if (log_enabled(LOG_LEVEL_DEBUG))
        log_debug("xmpp queued", "bytes=%zu", len);
    c->sent_since_run++;
    name = xmpp_stanza_get_name(st);
    if (name != NULL && strcmp(name, EL_MESSAGE) == 0)
        metrics_inc(METRIC_STANZAS_OUT_MESSAGE);
    else if (name != NULL && strcmp(name, EL_PRESENCE) == 0)
        metrics_inc(METRIC_STANZAS_OUT_PRESENCE);
    else
        metrics_inc(METRIC_STANZAS_OUT_IQ);
    return 0;
}

int component_send(struct component *c, xmpp_stanza_t *st)
{
    return queue_stanza(c, st, false, NULL);
}

int component_send_tracked(struct component *c, xmpp_stanza_t *st,
                           uint64_t *seq)
{
    size_t start;

    if (queue_stanza(c, st, false, &start) < 0)
        return -1;
    *seq = outbox_add(c->outbox, c->out.buf + start, c->out.len - start);
    c->unpinged += c->out.len - start;
    schedule_confirm(c);
    return 0;
}

bool component_has_room(const struct component *c)
{
    return c->state == COMPONENT_CONNECTED && c->conn != NULL &&
           queue_used(c) < c->conf->component.queue_max;
}

void component_on_room(struct component *c, component_room_cb cb, void *arg)
{
    c->room_cb = cb;
    c->room_arg = arg;
}

void component_on_confirm(struct component *c, component_confirm_cb cb,
                          void *arg)
{
    c->confirm_cb = cb;
    c->confirm_arg = arg;
}

int component_set_store(struct component *c, struct store *s)
{
    return outbox_set_store(c->outbox, s);
}

uint64_t component_unconfirmed(const struct component *c)
{
    return outbox_count(c->outbox);
}

void component_want_room(struct component *c)
{
    c->room_wanted = true;
    check_room(c);
}

enum component_refusal component_send_refusal(const struct component *c)
{
    return c->refusal;
}

const char *component_refusal_name(enum component_refusal r)
{
    switch (r) {
    case COMPONENT_REFUSED_NONE:
        return "none";
    case COMPONENT_REFUSED_DISCONNECTED:
        return "disconnected";
    case COMPONENT_REFUSED_QUEUE_FULL:
        return "queue-full";
    case COMPONENT_REFUSED_INVALID:
        return "invalid-characters";
    case COMPONENT_REFUSED_TOO_LARGE:
        return "too-large";
    case COMPONENT_REFUSED_ID:
        return "id-in-use";
    }
    return "unknown";
}

static int send_iq(struct component *c, xmpp_stanza_t *iq, uint64_t timeout_ms,
                   iq_cb cb, void *arg, bool force)
{
    char id[32];
    const char *to = stanza_attr(iq, ATTR_TO);

    if (c->state != COMPONENT_CONNECTED || to == NULL)
        return comp_refuse(c, COMPONENT_REFUSED_DISCONNECTED);
    if (stanza_attr(iq, ATTR_ID) == NULL) {
        iq_new_id(c->iqs, id, sizeof(id));
        xmpp_stanza_set_id(iq, id);
    }
    if (iq_track(c->iqs, stanza_attr(iq, ATTR_ID), to, timeout_ms, cb, arg) < 0)
        return comp_refuse(c, COMPONENT_REFUSED_ID);
    if (queue_stanza(c, iq, force, NULL) < 0) {
        iq_untrack(c->iqs, stanza_attr(iq, ATTR_ID));
        return -1;
    }
    return 0;
}

int component_send_iq(struct component *c, xmpp_stanza_t *iq,
                      uint64_t timeout_ms, iq_cb cb, void *arg)
{
    return send_iq(c, iq, timeout_ms, cb, arg, false);
}

xmpp_ctx_t *component_ctx(struct component *c)
{
    return c->ctx;
}

struct loop *component_loop(struct component *c)
{
    return c->loop;
}

struct iq_table *component_iqs(struct component *c)
{
    return c->iqs;
}

const char *component_jid(const struct component *c)
{
    return c->conf->component.jid;
}

enum component_state component_state(const struct component *c)
{
    return c->state;
}

const char *component_state_name(enum component_state state)
{
    switch (state) {
    case COMPONENT_CONNECTED:
        return "connected";
    case COMPONENT_CONNECTING:
        return "connecting";
    default:
        return "disconnected";
    }
}

const char *component_last_error(const struct component *c)
{
    return c->last_error[0] != '\0' ? c->last_error : NULL;
}

time_t component_since(const struct component *c)
{
    return c->since;
}

const char *component_server(const struct component *c)
{
    return c->server;
}

uint64_t component_reconnects(const struct component *c)
{
    return c->reconnects;
}
