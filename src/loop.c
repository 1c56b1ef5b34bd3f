/* SPDX-License-Identifier: MIT */
/* loop.c: the event loop: file descriptors, timers, signals, one wait point. */
#include "config.h"

#include "loop.h"
#include "loop_priv.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "xmalloc.h"

struct watch {
    loop_fd_cb cb;
    void *arg;
    unsigned events;
    bool used;
};

struct loop_timer {
    uint64_t due;
    uint64_t seq; /* ties fire in the order they were added */
    size_t index; /* position in the heap */
    loop_timer_cb cb;
    void *arg;
};

struct sig {
    int signo;
    loop_signal_cb cb;
    void *arg;
};

struct hook {
    loop_prepare_cb cb;
    void *arg;
};

struct loop {
    int epfd;
    struct watch *watches; /* indexed by fd */
    size_t nwatches;
    struct loop_timer **heap;
    size_t nheap, capheap;
    uint64_t seq;
    int sigfd;
    sigset_t sigmask;
    struct sig sigs[8];
    size_t nsigs;
    struct hook hooks[LOOP_MAX_HOOKS];
    size_t nhooks;
    uint64_t now;
    bool quit;
};

uint64_t loop_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct loop *loop_new(void)
{
    struct loop *loop = xcalloc(1, sizeof(*loop));

    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        log_error("epoll_create1 failed", "error=%s", strerror(errno));
        free(loop);
        return NULL;
    }
    loop->sigfd = -1;
    sigemptyset(&loop->sigmask);
    loop->now = loop_clock_ms();
    return loop;
}

void loop_free(struct loop *loop)
{
    if (loop == NULL)
        return;
    while (loop->nheap > 0)
        loop_timer_cancel(loop, loop->heap[0]);
    if (loop->sigfd >= 0) {
        struct signalfd_siginfo si;
        /* A signal still pending would take its default action (death)
         * the moment it is unblocked: consume it first. */
        while (read(loop->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
            ;
        close(loop->sigfd);
        sigprocmask(SIG_UNBLOCK, &loop->sigmask, NULL);
    }
    close(loop->epfd);
    free(loop->watches);
    free(loop->heap);
    free(loop);
}

static uint32_t to_epoll(unsigned events)
{
    return ((events & LOOP_IN) ? EPOLLIN : 0u) |
           ((events & LOOP_OUT) ? EPOLLOUT : 0u);
}

int loop_fd_add(struct loop *loop, int fd, unsigned events, loop_fd_cb cb,
                void *arg)
{
    struct epoll_event ev = {.events = to_epoll(events), .data.fd = fd};

    if (fd < 0)
        return -1;
    if ((size_t)fd >= loop->nwatches) {
        size_t n = (size_t)fd + 64;
        loop->watches = xreallocarray(loop->watches, n, sizeof(struct watch));
        memset(loop->watches + loop->nwatches, 0,
               (n - loop->nwatches) * sizeof(struct watch));
        loop->nwatches = n;
    }
    if (loop->watches[fd].used) {
        log_error("fd watched twice", "fd=%d", fd);
        return -1;
    }
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        /* A reused number whose old registration survived in epoll. */
        if (errno != EEXIST ||
            epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0) {
            log_error("epoll_ctl add failed", "fd=%d error=%s", fd,
                      strerror(errno));
            return -1;
        }
    }
    loop->watches[fd] =
        (struct watch){.cb = cb, .arg = arg, .events = events, .used = true};
    return 0;
}

int loop_fd_mod(struct loop *loop, int fd, unsigned events)
{
    struct epoll_event ev = {.events = to_epoll(events), .data.fd = fd};

    if (!loop_fd_watched(loop, fd))
        return -1;
    if (loop->watches[fd].events == events)
        return 0;
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0) {
        log_error("epoll_ctl mod failed", "fd=%d error=%s", fd,
                  strerror(errno));
        return -1;
    }
    loop->watches[fd].events = events;
    return 0;
}

void loop_fd_del(struct loop *loop, int fd)
{
    if (!loop_fd_watched(loop, fd))
        return;
    /* Fails harmlessly (EBADF/ENOENT) when the fd was closed first. */
    (void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
    loop->watches[fd].used = false;
}

bool loop_fd_watched(const struct loop *loop, int fd)
{
    return fd >= 0 && (size_t)fd < loop->nwatches && loop->watches[fd].used;
}

/* Min-heap on (due, seq). */
static bool before(const struct loop_timer *a, const struct loop_timer *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void heap_set(struct loop *loop, size_t i, struct loop_timer *t)
{
    loop->heap[i] = t;
    t->index = i;
}

static void sift_up(struct loop *loop, size_t i)
{
    struct loop_timer *t = loop->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(t, loop->heap[parent]))
            break;
        heap_set(loop, i, loop->heap[parent]);
        i = parent;
    }
    heap_set(loop, i, t);
}

static void sift_down(struct loop *loop, size_t i)
{
    struct loop_timer *t = loop->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= loop->nheap)
            break;
        if (c + 1 < loop->nheap && before(loop->heap[c + 1], loop->heap[c]))
            c++;
        if (!before(loop->heap[c], t))
            break;
        heap_set(loop, i, loop->heap[c]);
        i = c;
    }
    heap_set(loop, i, t);
}

static void heap_remove(struct loop *loop, struct loop_timer *t)
{
    size_t i = t->index;
    struct loop_timer *last = loop->heap[--loop->nheap];

    if (i == loop->nheap)
        return;
    heap_set(loop, i, last);
    sift_down(loop, i);
    sift_up(loop, last->index);
}

struct loop_timer *loop_timer_add(struct loop *loop, uint64_t ms,
                                  loop_timer_cb cb, void *arg)
{
    struct loop_timer *t = xmalloc(sizeof(*t));

    *t = (struct loop_timer){
        .due = loop_clock_ms() + ms, .seq = loop->seq++, .cb = cb, .arg = arg};
    if (loop->nheap == loop->capheap) {
        loop->capheap = loop->capheap ? loop->capheap * 2 : 64;
        loop->heap =
            xreallocarray(loop->heap, loop->capheap, sizeof(*loop->heap));
    }
    loop->heap[loop->nheap] = t;
    t->index = loop->nheap++;
    sift_up(loop, t->index);
    return t;
}

void loop_timer_cancel(struct loop *loop, struct loop_timer *timer)
{
    if (timer == NULL)
        return;
    heap_remove(loop, timer);
    free(timer);
}

size_t loop_timer_count(const struct loop *loop)
{
    return loop->nheap;
}

static void on_signalfd(int fd, unsigned events, void *arg)
{
    struct loop *loop = arg;
    struct signalfd_siginfo si;

    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        for (size_t i = 0; i < loop->nsigs; i++)
            if (loop->sigs[i].signo == (int)si.ssi_signo)
                loop->sigs[i].cb((int)si.ssi_signo, loop->sigs[i].arg);
    }
}

int loop_signal_add(struct loop *loop, int signo, loop_signal_cb cb, void *arg)
{
    int fd;

    if (loop->nsigs == sizeof(loop->sigs) / sizeof(loop->sigs[0]))
        return -1;
    sigaddset(&loop->sigmask, signo);
    if (sigprocmask(SIG_BLOCK, &loop->sigmask, NULL) < 0)
        return -1;
    fd = signalfd(loop->sigfd, &loop->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
        log_error("signalfd failed", "error=%s", strerror(errno));
        return -1;
    }
    if (loop->sigfd < 0) {
        if (loop_fd_add(loop, fd, LOOP_IN, on_signalfd, loop) < 0) {
            close(fd);
            return -1;
        }
        loop->sigfd = fd;
    }
    loop->sigs[loop->nsigs++] = (struct sig){signo, cb, arg};
    return 0;
}

int loop_prepare_add(struct loop *loop, loop_prepare_cb cb, void *arg)
{
    if (loop->nhooks == LOOP_MAX_HOOKS)
        return -1;
    loop->hooks[loop->nhooks++] = (struct hook){cb, arg};
    return 0;
}

void loop_prepare_del(struct loop *loop, loop_prepare_cb cb, void *arg)
{
    for (size_t i = 0; i < loop->nhooks; i++) {
        if (loop->hooks[i].cb == cb && loop->hooks[i].arg == arg) {
            memmove(&loop->hooks[i], &loop->hooks[i + 1],
                    (loop->nhooks - i - 1) * sizeof(loop->hooks[0]));
            loop->nhooks--;
            return;
        }
    }
}

static void run_timers(struct loop *loop)
{
    uint64_t now = loop_clock_ms();
    /* Timers added by callbacks wait for the next round: no starvation. */
    uint64_t limit = loop->seq;

    while (loop->nheap > 0 && loop->heap[0]->due <= now &&
           loop->heap[0]->seq < limit) {
        struct loop_timer *t = loop->heap[0];
        heap_remove(loop, t);
        loop_timer_cb cb = t->cb;
        void *arg = t->arg;
        free(t);
        cb(arg);
    }
}

int loop_run_once(struct loop *loop, int64_t max_ms)
{
    struct epoll_event evs[64];
    int64_t wait = max_ms;
    int n;

    for (size_t i = 0; i < loop->nhooks; i++) {
        int64_t w = loop->hooks[i].cb(loop->hooks[i].arg);
        if (w >= 0 && (wait < 0 || w < wait))
            wait = w;
    }
    if (loop->nheap > 0) {
        uint64_t now = loop_clock_ms();
        int64_t w =
            loop->heap[0]->due > now ? (int64_t)(loop->heap[0]->due - now) : 0;
        if (wait < 0 || w < wait)
            wait = w;
    }
    if (wait > 60000 || wait < 0)
        wait = 60000;
    if (loop->quit)
        wait = 0;
    n = epoll_wait(loop->epfd, evs, 64, (int)wait);
    loop->now = loop_clock_ms();
    if (n < 0) {
        if (errno == EINTR)
            return 0;
        log_error("epoll_wait failed", "error=%s", strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        int fd = evs[i].data.fd;
        unsigned ev = 0;
        if (!loop_fd_watched(loop, fd))
            continue; /* removed by an earlier callback in this round */
        if (evs[i].events & EPOLLIN)
            ev |= LOOP_IN;
        if (evs[i].events & EPOLLOUT)
            ev |= LOOP_OUT;
        if (evs[i].events & (EPOLLERR | EPOLLHUP))
            ev |= LOOP_ERR;
        loop->watches[fd].cb(fd, ev, loop->watches[fd].arg);
    }
    run_timers(loop);
    return 0;
}

int loop_run(struct loop *loop)
{
    loop->quit = false;
    while (!loop->quit) {
        if (loop_run_once(loop, -1) < 0)
            return -1;
    }
    return 0;
}

void loop_quit(struct loop *loop)
{
    loop->quit = true;
}

uint64_t loop_now(const struct loop *loop)
{
    return loop->now;
}
