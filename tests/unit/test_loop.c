/* SPDX-License-Identifier: MIT */
/* test_loop.c: unit tests for the event loop: timers, fds, signals, hooks. */
#include "config.h"

#include "loop.h"
#include "loop_priv.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Timer callbacks append their tag here. */
static int order[32];
static size_t norder;

struct tagged {
    struct loop *loop;
    int tag;
    struct loop_timer *victim; /* cancelled by the callback when set */
    bool add_child;            /* the callback adds a 0 ms timer tagged +100 */
    bool quit;                 /* the callback calls loop_quit() */
};

static void on_timer(void *arg)
{
    struct tagged *t = arg;

    ck_assert_uint_lt(norder, sizeof(order) / sizeof(order[0]));
    order[norder++] = t->tag;
    if (t->victim != NULL)
        loop_timer_cancel(t->loop, t->victim);
    if (t->add_child) {
        struct tagged *child = malloc(sizeof(*child));
        ck_assert_ptr_nonnull(child);
        *child = (struct tagged){.loop = t->loop, .tag = t->tag + 100};
        loop_timer_add(t->loop, 0, on_timer, child);
    }
    if (t->quit)
        loop_quit(t->loop);
    if (t->tag >= 100)
        free(t);
}

/* Run rounds until n timers fired (each round waits at most 1 s). */
static void run_until_fired(struct loop *loop, size_t n)
{
    for (int round = 0; round < 50 && norder < n; round++)
        ck_assert_int_eq(loop_run_once(loop, 1000), 0);
    ck_assert_uint_eq(norder, n);
}

static struct loop *new_loop(void)
{
    struct loop *loop = loop_new();

    ck_assert_ptr_nonnull(loop);
    norder = 0;
    memset(order, 0, sizeof(order));
    return loop;
}

/* What an fd callback saw. */
struct fd_seen {
    int calls;
    int fd;
    unsigned events;
    struct loop *loop;
    int del_fd; /* fd removed by the callback, or -1 */
    bool quit;
};

static void on_fd(int fd, unsigned events, void *arg)
{
    struct fd_seen *seen = arg;

    seen->calls++;
    seen->fd = fd;
    seen->events = events;
    if (seen->del_fd >= 0)
        loop_fd_del(seen->loop, seen->del_fd);
    if (seen->quit)
        loop_quit(seen->loop);
}

static void make_pipe(int p[2])
{
    ck_assert_int_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
}

static void drain(int fd)
{
    char buf[64];

    while (read(fd, buf, sizeof(buf)) > 0)
        ;
}

START_TEST(test_timers_fire_in_deadline_order)
{
    struct loop *loop = new_loop();
    struct tagged a = {.loop = loop, .tag = 1}, b = {.loop = loop, .tag = 2},
                  c = {.loop = loop, .tag = 3};

    /* Deadlines are taken from the clock at each add: the gaps are wide so
     * that a stall between two adds on a loaded machine cannot reorder
     * them (c would need a 500 ms stall to fall behind a). */
    loop_timer_add(loop, 1000, on_timer, &a);
    loop_timer_add(loop, 20, on_timer, &b);
    loop_timer_add(loop, 500, on_timer, &c);
    ck_assert_uint_eq(loop_timer_count(loop), 3);
    run_until_fired(loop, 3);
    ck_assert_int_eq(order[0], 2);
    ck_assert_int_eq(order[1], 3);
    ck_assert_int_eq(order[2], 1);
    ck_assert_uint_eq(loop_timer_count(loop), 0);
    loop_free(loop);
}
END_TEST

START_TEST(test_timer_ties_fire_in_insertion_order)
{
    struct loop *loop = new_loop();
    struct tagged t[10];

    for (int i = 0; i < 10; i++) {
        t[i] = (struct tagged){.loop = loop, .tag = i};
        loop_timer_add(loop, 0, on_timer, &t[i]);
    }
    ck_assert_int_eq(loop_run_once(loop, 1000), 0);
    ck_assert_uint_eq(norder, 10);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(order[i], i);
    loop_free(loop);
}
END_TEST

START_TEST(test_timer_ties_after_heap_reshuffle_keep_insertion_order)
{
    struct loop *loop = new_loop();
    struct tagged late = {.loop = loop, .tag = 99}, t[8];
    struct loop_timer *h[8];

    /* Interleave cancellations so that ties pass through heap moves. */
    loop_timer_add(loop, 50, on_timer, &late);
    for (int i = 0; i < 8; i++) {
        t[i] = (struct tagged){.loop = loop, .tag = i};
        h[i] = loop_timer_add(loop, 0, on_timer, &t[i]);
    }
    loop_timer_cancel(loop, h[0]);
    loop_timer_cancel(loop, h[5]);
    ck_assert_int_eq(loop_run_once(loop, 1000), 0);
    ck_assert_uint_eq(norder, 6);
    ck_assert_int_eq(order[0], 1);
    ck_assert_int_eq(order[1], 2);
    ck_assert_int_eq(order[2], 3);
    ck_assert_int_eq(order[3], 4);
    ck_assert_int_eq(order[4], 6);
    ck_assert_int_eq(order[5], 7);
    run_until_fired(loop, 7);
    ck_assert_int_eq(order[6], 99);
    loop_free(loop);
}
END_TEST

START_TEST(test_cancelled_timer_never_fires)
{
    struct loop *loop = new_loop();
    struct tagged a = {.loop = loop, .tag = 1}, b = {.loop = loop, .tag = 2},
                  c = {.loop = loop, .tag = 3};
    struct loop_timer *hb;

    loop_timer_add(loop, 0, on_timer, &a);
    hb = loop_timer_add(loop, 0, on_timer, &b);
    loop_timer_add(loop, 0, on_timer, &c);
    loop_timer_cancel(loop, hb);
    ck_assert_uint_eq(loop_timer_count(loop), 2);
    ck_assert_int_eq(loop_run_once(loop, 1000), 0);
    ck_assert_uint_eq(norder, 2);
    ck_assert_int_eq(order[0], 1);
    ck_assert_int_eq(order[1], 3);
    ck_assert_int_eq(loop_run_once(loop, 20), 0);
    ck_assert_uint_eq(norder, 2);
    loop_free(loop);
}
END_TEST

START_TEST(test_cancel_null_timer_is_a_no_op)
{
    struct loop *loop = new_loop();

    loop_timer_cancel(loop, NULL);
    ck_assert_uint_eq(loop_timer_count(loop), 0);
    loop_free(loop);
}
END_TEST

START_TEST(test_timer_cancelled_by_earlier_callback_in_same_round)
{
    struct loop *loop = new_loop();
    struct tagged a = {.loop = loop, .tag = 1}, b = {.loop = loop, .tag = 2};

    /* Both due in this round; a runs first and cancels b. */
    loop_timer_add(loop, 0, on_timer, &a);
    a.victim = loop_timer_add(loop, 0, on_timer, &b);
    ck_assert_int_eq(loop_run_once(loop, 1000), 0);
    ck_assert_uint_eq(norder, 1);
    ck_assert_int_eq(order[0], 1);
    ck_assert_uint_eq(loop_timer_count(loop), 0);
    loop_free(loop);
}
END_TEST

START_TEST(test_timer_added_from_callback_fires_on_a_later_round)
{
    struct loop *loop = new_loop();
    struct tagged a = {.loop = loop, .tag = 1, .add_child = true};

    loop_timer_add(loop, 0, on_timer, &a);
    ck_assert_int_eq(loop_run_once(loop, 1000), 0);
    ck_assert_uint_eq(norder, 1);
    ck_assert_int_eq(order[0], 1);
    ck_assert_uint_eq(loop_timer_count(loop), 1);
    ck_assert_int_eq(loop_run_once(loop, 1000), 0);
    ck_assert_uint_eq(norder, 2);
    ck_assert_int_eq(order[1], 101);
    ck_assert_uint_eq(loop_timer_count(loop), 0);
    loop_free(loop);
}
END_TEST

START_TEST(test_timer_does_not_fire_before_its_deadline)
{
    struct loop *loop = new_loop();
    struct tagged a = {.loop = loop, .tag = 1};
    uint64_t start = loop_clock_ms();

    loop_timer_add(loop, 80, on_timer, &a);
    ck_assert_int_eq(loop_run_once(loop, 0), 0);
    ck_assert_uint_eq(norder, 0);
    run_until_fired(loop, 1);
    ck_assert_uint_ge(loop_clock_ms() - start, 80);
    loop_free(loop);
}
END_TEST

START_TEST(test_loop_free_releases_pending_timers)
{
    struct loop *loop = new_loop();
    struct tagged a = {.loop = loop, .tag = 1};

    loop_timer_add(loop, 100000, on_timer, &a);
    loop_timer_add(loop, 200000, on_timer, &a);
    loop_free(loop);
    ck_assert_uint_eq(norder, 0);
}
END_TEST

START_TEST(test_free_null_loop_is_a_no_op)
{
    loop_free(NULL);
}
END_TEST

START_TEST(test_pipe_read_end_reports_in_when_data_arrives)
{
    struct loop *loop = new_loop();
    struct fd_seen seen = {.loop = loop, .del_fd = -1};
    int p[2];

    make_pipe(p);
    ck_assert_int_eq(loop_fd_add(loop, p[0], LOOP_IN, on_fd, &seen), 0);
    ck_assert(loop_fd_watched(loop, p[0]));
    ck_assert_int_eq(loop_run_once(loop, 0), 0);
    ck_assert_int_eq(seen.calls, 0);

    ck_assert_int_eq(write(p[1], "x", 1), 1);
    ck_assert_int_eq(loop_run_once(loop, 1000), 0);
    ck_assert_int_eq(seen.calls, 1);
    ck_assert_int_eq(seen.fd, p[0]);
    ck_assert_uint_eq(seen.events, LOOP_IN);

    /* Level-triggered: still readable until drained. */
    ck_assert_int_eq(loop_run_once(loop, 0), 0);
    ck_assert_int_eq(seen.calls, 2);
    drain(p[0]);
    ck_assert_int_eq(loop_run_once(loop, 0), 0);
    ck_assert_int_eq(seen.calls, 2);

    loop_fd_del(loop, p[0]);
    ck_assert(!loop_fd_watched(loop, p[0]));
    close(p[0]);
    close(p[1]);
    loop_free(loop);
}
END_TEST

START_TEST(test_pipe_write_end_reports_out_at_once)
{
    struct loop *loop = new_loop();
    struct fd_seen seen = {.loop = loop, .del_fd = -1};
    int p[2];

    make_pipe(p);
    ck_assert_int_eq(loop_fd_add(loop, p[1], LOOP_OUT, on_fd, &seen), 0);
    ck_assert_int_eq(loop_run_once(loop, 1000), 0);
    ck_assert_int_eq(seen.calls, 1);
    ck_assert_int_eq(seen.fd, p[1]);
    ck_assert_uint_eq(seen.events, LOOP_OUT);
    loop_fd_del(loop, p[1]);
    close(p[0]);
    close(p[1]);
    loop_free(loop);
}
END_TEST

START_TEST(test_closed_writer_reports_err_on_reader)
{
    struct loop *loop = new_loop();
    struct fd_seen seen = {.loop = loop, .del_fd = -1};
    int p[2];

    make_pipe(p);
    ck_assert_int_eq(loop_fd_add(loop, p[0], LOOP_IN, on_fd, &seen), 0);
    close(p[1]);
    ck_assert_int_eq(loop_run_once(loop, 1000), 0);
    ck_assert_int_eq(seen.calls, 1);
    ck_assert_uint_eq(seen.events, LOOP_ERR);
    loop_fd_del(loop, p[0]);
    close(p[0]);
    loop_free(loop);
}
END_TEST

START_TEST(test_fd_mod_switches_the_events_watched)
{
    struct loop *loop = new_loop();
    struct fd_seen seen = {.loop = loop, .del_fd = -1};
    int p[2];

    make_pipe(p);
    ck_assert_int_eq(loop_fd_add(loop, p[1], 0, on_fd, &seen), 0);
    ck_assert_int_eq(loop_run_once(loop, 0), 0);
    ck_assert_int_eq(seen.calls, 0);

    ck_assert_int_eq(loop_fd_mod(loop, p[1], LOOP_OUT), 0);
    ck_assert_int_eq(loop_run_once(loop, 1000), 0);
    ck_assert_int_eq(seen.calls, 1);
    ck_assert_uint_eq(seen.events, LOOP_OUT);

    ck_assert_int_eq(loop_fd_mod(loop, p[1], LOOP_OUT), 0); /* unchanged */
    ck_assert_int_eq(loop_fd_mod(loop, p[1], LOOP_IN), 0);
    ck_assert_int_eq(loop_run_once(loop, 0), 0);
    ck_assert_int_eq(seen.calls, 1);

    ck_assert_int_eq(loop_fd_mod(loop, p[1], LOOP_IN | LOOP_OUT), 0);
    ck_assert_int_eq(loop_run_once(loop, 1000), 0);
    ck_assert_int_eq(seen.calls, 2);
    ck_assert_uint_eq(seen.events, LOOP_OUT);

    loop_fd_del(loop, p[1]);
    close(p[0]);
    close(p[1]);
    loop_free(loop);
}
END_TEST

START_TEST(test_fd_mod_of_unwatched_fd_fails)
{
    struct loop *loop = new_loop();
    int p[2];

    make_pipe(p);
    ck_assert_int_eq(loop_fd_mod(loop, p[0], LOOP_IN), -1);
    ck_assert_int_eq(loop_fd_mod(loop, -1, LOOP_IN), -1);
    ck_assert_int_eq(loop_fd_mod(loop, 100000, LOOP_IN), -1);
    close(p[0]);
    close(p[1]);
    loop_free(loop);
}
END_TEST

START_TEST(test_fd_add_twice_or_negative_fails)
{
    struct loop *loop = new_loop();
    struct fd_seen seen = {.loop = loop, .del_fd = -1};
    int p[2];

    make_pipe(p);
    ck_assert_int_eq(loop_fd_add(loop, -1, LOOP_IN, on_fd, &seen), -1);
    ck_assert_int_eq(loop_fd_add(loop, p[0], LOOP_IN, on_fd, &seen), 0);
    ck_assert_int_eq(loop_fd_add(loop, p[0], LOOP_OUT, on_fd, &seen), -1);
    ck_assert(loop_fd_watched(loop, p[0]));
    ck_assert(!loop_fd_watched(loop, p[1]));
    ck_assert(!loop_fd_watched(loop, -1));
    loop_fd_del(loop, p[0]);
    close(p[0]);
    close(p[1]);
    loop_free(loop);
}
END_TEST

START_TEST(test_fd_add_of_a_closed_fd_fails)
{
    struct loop *loop = new_loop();
    struct fd_seen seen = {.loop = loop, .del_fd = -1};
    int p[2];

    make_pipe(p);
    close(p[0]);
    close(p[1]);
    ck_assert_int_eq(loop_fd_add(loop, p[0], LOOP_IN, on_fd, &seen), -1);
    ck_assert(!loop_fd_watched(loop, p[0]));
    loop_free(loop);
}
END_TEST

START_TEST(test_fd_del_of_closed_fd_is_harmless_and_number_reusable)
{
    struct loop *loop = new_loop();
    struct fd_seen old = {.loop = loop, .del_fd = -1};
    struct fd_seen fresh = {.loop = loop, .del_fd = -1};
    int p[2], q[2], closed;

    make_pipe(p);
    ck_assert_int_eq(loop_fd_add(loop, p[0], LOOP_IN, on_fd, &old), 0);
    closed = p[0];
    close(p[0]);
    loop_fd_del(loop, closed);
    ck_assert(!loop_fd_watched(loop, closed));
    loop_fd_del(loop, closed); /* twice, and unknown numbers, too */
    loop_fd_del(loop, 100000);
    loop_fd_del(loop, -1);

    /* The kernel hands out the lowest free number: the one just closed. */
    make_pipe(q);
    ck_assert_int_eq(q[0], closed);
    ck_assert_int_eq(loop_fd_add(loop, q[0], LOOP_IN, on_fd, &fresh), 0);
    ck_assert_int_eq(write(q[1], "y", 1), 1);
    ck_assert_int_eq(loop_run_once(loop, 1000), 0);
    ck_assert_int_eq(fresh.calls, 1);
    ck_assert_int_eq(fresh.fd, closed);
    ck_assert_uint_eq(fresh.events, LOOP_IN);
    ck_assert_int_eq(old.calls, 0);

    loop_fd_del(loop, q[0]);
    close(q[0]);
    close(q[1]);
    close(p[1]);
    loop_free(loop);
}
END_TEST

START_TEST(test_fd_removed_by_earlier_callback_is_not_dispatched)
{
    struct loop *loop = new_loop();
    struct fd_seen a = {.loop = loop}, b = {.loop = loop};
    int p[2], q[2];

    make_pipe(p);
    make_pipe(q);
    /* Whichever runs first removes the other. */
    a.del_fd = q[0];
    b.del_fd = p[0];
    ck_assert_int_eq(loop_fd_add(loop, p[0], LOOP_IN, on_fd, &a), 0);
    ck_assert_int_eq(loop_fd_add(loop, q[0], LOOP_IN, on_fd, &b), 0);
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    ck_assert_int_eq(write(q[1], "x", 1), 1);
    ck_assert_int_eq(loop_run_once(loop, 1000), 0);
    ck_assert_int_eq(a.calls + b.calls, 1);
    loop_fd_del(loop, p[0]);
    loop_fd_del(loop, q[0]);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
    loop_free(loop);
}
END_TEST

/* What a signal callback saw. */
struct sig_seen {
    int calls;
    int signo;
};

static void on_signal(int signo, void *arg)
{
    struct sig_seen *seen = arg;

    seen->calls++;
    seen->signo = signo;
}

START_TEST(test_raised_signal_is_delivered_through_the_loop)
{
    struct loop *loop = new_loop();
    struct sig_seen usr1 = {0}, usr2 = {0};

    ck_assert_int_eq(loop_signal_add(loop, SIGUSR1, on_signal, &usr1), 0);
    ck_assert_int_eq(loop_signal_add(loop, SIGUSR2, on_signal, &usr2), 0);
    ck_assert_int_eq(raise(SIGUSR1), 0);
    /* Blocked: nothing happens until the loop reads the signalfd. */
    ck_assert_int_eq(usr1.calls, 0);
    ck_assert_int_eq(loop_run_once(loop, 1000), 0);
    ck_assert_int_eq(usr1.calls, 1);
    ck_assert_int_eq(usr1.signo, SIGUSR1);
    ck_assert_int_eq(usr2.calls, 0);

    ck_assert_int_eq(raise(SIGUSR2), 0);
    ck_assert_int_eq(loop_run_once(loop, 1000), 0);
    ck_assert_int_eq(usr1.calls, 1);
    ck_assert_int_eq(usr2.calls, 1);
    ck_assert_int_eq(usr2.signo, SIGUSR2);
    loop_free(loop);
}
END_TEST

START_TEST(test_loop_free_unblocks_its_signals)
{
    struct loop *loop = new_loop();
    struct sig_seen usr1 = {0};
    sigset_t mask;

    ck_assert_int_eq(loop_signal_add(loop, SIGUSR1, on_signal, &usr1), 0);
    ck_assert_int_eq(sigprocmask(SIG_BLOCK, NULL, &mask), 0);
    ck_assert_int_eq(sigismember(&mask, SIGUSR1), 1);
    loop_free(loop);
    ck_assert_int_eq(sigprocmask(SIG_BLOCK, NULL, &mask), 0);
    ck_assert_int_eq(sigismember(&mask, SIGUSR1), 0);
}
END_TEST

START_TEST(test_loop_free_discards_signals_still_pending)
{
    /*
     * A SIGHUP/SIGTERM that arrives after loop_run() returned but before
     * loop_free() must not get its default action (death by signal) when
     * loop_free() unblocks it. Run in a child so the runner survives.
     */
    pid_t pid = fork();
    int status;

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct loop *loop = loop_new();
        struct sig_seen hup = {0};

        if (loop == NULL || loop_signal_add(loop, SIGHUP, on_signal, &hup) < 0)
            _exit(2);
        raise(SIGHUP);
        loop_free(loop);
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(!WIFSIGNALED(status), "child killed by signal %d",
                  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

/* A prepare hook that counts its calls and allows `limit` ms. */
struct hook_state {
    int calls;
    int64_t limit;
};

static int64_t on_prepare(void *arg)
{
    struct hook_state *h = arg;

    h->calls++;
    return h->limit;
}

START_TEST(test_prepare_hook_bounds_the_wait)
{
    struct loop *loop = new_loop();
    struct hook_state h = {.limit = 30};
    uint64_t start, elapsed;

    ck_assert_int_eq(loop_prepare_add(loop, on_prepare, &h), 0);
    start = loop_clock_ms();
    ck_assert_int_eq(loop_run_once(loop, -1), 0);
    elapsed = loop_clock_ms() - start;
    ck_assert_int_eq(h.calls, 1);
    ck_assert_uint_ge(elapsed, 30);
    ck_assert_uint_lt(elapsed, 2000);
    loop_prepare_del(loop, on_prepare, &h);
    loop_free(loop);
}
END_TEST

START_TEST(test_shortest_prepare_hook_wins_and_minus_one_allows_any)
{
    struct loop *loop = new_loop();
    struct hook_state any = {.limit = -1}, slow = {.limit = 5000},
                      fast = {.limit = 20};
    uint64_t start, elapsed;

    ck_assert_int_eq(loop_prepare_add(loop, on_prepare, &any), 0);
    ck_assert_int_eq(loop_prepare_add(loop, on_prepare, &slow), 0);
    ck_assert_int_eq(loop_prepare_add(loop, on_prepare, &fast), 0);
    start = loop_clock_ms();
    ck_assert_int_eq(loop_run_once(loop, 10000), 0);
    elapsed = loop_clock_ms() - start;
    ck_assert_uint_ge(elapsed, 20);
    ck_assert_uint_lt(elapsed, 2000);
    ck_assert_int_eq(any.calls, 1);
    ck_assert_int_eq(slow.calls, 1);
    ck_assert_int_eq(fast.calls, 1);

    /* Removing the fast one: max_ms is the bound again. */
    loop_prepare_del(loop, on_prepare, &fast);
    start = loop_clock_ms();
    ck_assert_int_eq(loop_run_once(loop, 40), 0);
    elapsed = loop_clock_ms() - start;
    ck_assert_uint_ge(elapsed, 40);
    ck_assert_uint_lt(elapsed, 2000);
    ck_assert_int_eq(fast.calls, 1);
    ck_assert_int_eq(any.calls, 2);
    loop_prepare_del(loop, on_prepare, &any);
    loop_prepare_del(loop, on_prepare, &slow);
    loop_free(loop);
}
END_TEST

START_TEST(test_prepare_hooks_are_limited)
{
    struct loop *loop = new_loop();
    struct hook_state h[LOOP_MAX_HOOKS + 1];

    for (int i = 0; i < LOOP_MAX_HOOKS; i++) {
        h[i] = (struct hook_state){.limit = -1};
        ck_assert_int_eq(loop_prepare_add(loop, on_prepare, &h[i]), 0);
    }
    ck_assert_int_eq(loop_prepare_add(loop, on_prepare, &h[LOOP_MAX_HOOKS]),
                     -1);
    ck_assert_int_eq(loop_run_once(loop, 0), 0);
    for (int i = 0; i < LOOP_MAX_HOOKS; i++)
        ck_assert_int_eq(h[i].calls, 1);
    for (int i = 0; i < LOOP_MAX_HOOKS; i++)
        loop_prepare_del(loop, on_prepare, &h[i]);
    loop_free(loop);
}
END_TEST

START_TEST(test_timer_deadline_bounds_the_wait)
{
    struct loop *loop = new_loop();
    struct tagged a = {.loop = loop, .tag = 1};
    uint64_t start = loop_clock_ms(), elapsed;

    loop_timer_add(loop, 25, on_timer, &a);
    ck_assert_int_eq(loop_run_once(loop, -1), 0);
    elapsed = loop_clock_ms() - start;
    ck_assert_uint_eq(norder, 1);
    ck_assert_uint_ge(elapsed, 25);
    ck_assert_uint_lt(elapsed, 2000);
    loop_free(loop);
}
END_TEST

START_TEST(test_loop_now_is_refreshed_at_each_wake_up)
{
    struct loop *loop = new_loop();
    uint64_t before = loop_now(loop), after;

    ck_assert_uint_le(before, loop_clock_ms());
    ck_assert_int_eq(loop_run_once(loop, 20), 0);
    after = loop_now(loop);
    ck_assert_uint_ge(after, before + 20);
    ck_assert_uint_le(after, loop_clock_ms());
    loop_free(loop);
}
END_TEST

START_TEST(test_loop_quit_from_timer_ends_loop_run)
{
    struct loop *loop = new_loop();
    struct tagged a = {.loop = loop, .tag = 1}, b = {.loop = loop, .tag = 2},
                  c = {.loop = loop, .tag = 3, .quit = true},
                  never = {.loop = loop, .tag = 4};

    loop_timer_add(loop, 0, on_timer, &a);
    loop_timer_add(loop, 10, on_timer, &b);
    loop_timer_add(loop, 20, on_timer, &c);
    loop_timer_add(loop, 100000, on_timer, &never);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_uint_eq(norder, 3);
    ck_assert_int_eq(order[0], 1);
    ck_assert_int_eq(order[1], 2);
    ck_assert_int_eq(order[2], 3);
    ck_assert_uint_eq(loop_timer_count(loop), 1);
    loop_free(loop);
}
END_TEST

START_TEST(test_loop_quit_from_fd_callback_ends_loop_run)
{
    struct loop *loop = new_loop();
    struct fd_seen seen = {.loop = loop, .del_fd = -1, .quit = true};
    int p[2];

    make_pipe(p);
    ck_assert_int_eq(loop_fd_add(loop, p[1], LOOP_OUT, on_fd, &seen), 0);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_int_eq(seen.calls, 1);
    loop_fd_del(loop, p[1]);
    close(p[0]);
    close(p[1]);
    loop_free(loop);
}
END_TEST

START_TEST(test_loop_run_can_be_restarted_after_quit)
{
    struct loop *loop = new_loop();
    struct tagged a = {.loop = loop, .tag = 1, .quit = true},
                  b = {.loop = loop, .tag = 2, .quit = true};

    loop_timer_add(loop, 0, on_timer, &a);
    ck_assert_int_eq(loop_run(loop), 0);
    loop_timer_add(loop, 10, on_timer, &b);
    ck_assert_int_eq(loop_run(loop), 0);
    ck_assert_uint_eq(norder, 2);
    ck_assert_int_eq(order[1], 2);
    loop_free(loop);
}
END_TEST

static Suite *loop_suite(void)
{
    Suite *s = suite_create("loop");
    TCase *tc = tcase_create("timers");

    tcase_add_test(tc, test_timers_fire_in_deadline_order);
    tcase_add_test(tc, test_timer_ties_fire_in_insertion_order);
    tcase_add_test(tc,
                   test_timer_ties_after_heap_reshuffle_keep_insertion_order);
    tcase_add_test(tc, test_cancelled_timer_never_fires);
    tcase_add_test(tc, test_cancel_null_timer_is_a_no_op);
    tcase_add_test(tc, test_timer_cancelled_by_earlier_callback_in_same_round);
    tcase_add_test(tc, test_timer_added_from_callback_fires_on_a_later_round);
    tcase_add_test(tc, test_timer_does_not_fire_before_its_deadline);
    tcase_add_test(tc, test_loop_free_releases_pending_timers);
    tcase_add_test(tc, test_free_null_loop_is_a_no_op);
    suite_add_tcase(s, tc);

    tc = tcase_create("fds");
    tcase_add_test(tc, test_pipe_read_end_reports_in_when_data_arrives);
    tcase_add_test(tc, test_pipe_write_end_reports_out_at_once);
    tcase_add_test(tc, test_closed_writer_reports_err_on_reader);
    tcase_add_test(tc, test_fd_mod_switches_the_events_watched);
    tcase_add_test(tc, test_fd_mod_of_unwatched_fd_fails);
    tcase_add_test(tc, test_fd_add_twice_or_negative_fails);
    tcase_add_test(tc, test_fd_add_of_a_closed_fd_fails);
    tcase_add_test(tc,
                   test_fd_del_of_closed_fd_is_harmless_and_number_reusable);
    tcase_add_test(tc, test_fd_removed_by_earlier_callback_is_not_dispatched);
    suite_add_tcase(s, tc);

    tc = tcase_create("signals");
    tcase_add_test(tc, test_raised_signal_is_delivered_through_the_loop);
    tcase_add_test(tc, test_loop_free_unblocks_its_signals);
    tcase_add_test(tc, test_loop_free_discards_signals_still_pending);
    suite_add_tcase(s, tc);

    tc = tcase_create("waiting");
    tcase_add_test(tc, test_prepare_hook_bounds_the_wait);
    tcase_add_test(tc,
                   test_shortest_prepare_hook_wins_and_minus_one_allows_any);
    tcase_add_test(tc, test_prepare_hooks_are_limited);
    tcase_add_test(tc, test_timer_deadline_bounds_the_wait);
    tcase_add_test(tc, test_loop_now_is_refreshed_at_each_wake_up);
    tcase_add_test(tc, test_loop_quit_from_timer_ends_loop_run);
    tcase_add_test(tc, test_loop_quit_from_fd_callback_ends_loop_run);
    tcase_add_test(tc, test_loop_run_can_be_restarted_after_quit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(loop_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}
