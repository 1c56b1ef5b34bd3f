/* SPDX-License-Identifier: MIT */
/* loop.h: the event loop: file descriptors, timers, signals, one wait point. */
#ifndef RESTANZA_LOOP_H
#define RESTANZA_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct loop_timer;

#define LOOP_IN 1u
#define LOOP_OUT 2u
#define LOOP_ERR 4u /* error or hang-up; always reported */

typedef void (*loop_fd_cb)(int fd, unsigned events, void *arg);
typedef void (*loop_timer_cb)(void *arg);
typedef void (*loop_signal_cb)(int signo, void *arg);
/* Runs before each wait; returns the longest wait it allows, in ms (-1: any).
 */
typedef int64_t (*loop_prepare_cb)(void *arg);

struct loop *loop_new(void);
/* Frees the loop; every fd, timer, signal and hook must be gone already. */
void loop_free(struct loop *loop);

/* Watch fd for events (LOOP_IN/LOOP_OUT); one watcher per fd. 0 or -1. */
int loop_fd_add(struct loop *loop, int fd, unsigned events, loop_fd_cb cb,
                void *arg);
int loop_fd_mod(struct loop *loop, int fd, unsigned events);
/* Stop watching fd; harmless if the fd is already closed or unknown. */
void loop_fd_del(struct loop *loop, int fd);
bool loop_fd_watched(const struct loop *loop, int fd);

/* One-shot timer after ms milliseconds; the handle is valid until it fires
 * (the loop frees it after cb returns) or is cancelled. */
struct loop_timer *loop_timer_add(struct loop *loop, uint64_t ms,
                                  loop_timer_cb cb, void *arg);
/* Cancel and free; NULL is a no-op. */
void loop_timer_cancel(struct loop *loop, struct loop_timer *timer);

/* Deliver signo through the loop (blocked and read via signalfd). */
int loop_signal_add(struct loop *loop, int signo, loop_signal_cb cb, void *arg);

/* Call cb before every wait. At most LOOP_MAX_HOOKS. */
#define LOOP_MAX_HOOKS 8
int loop_prepare_add(struct loop *loop, loop_prepare_cb cb, void *arg);
void loop_prepare_del(struct loop *loop, loop_prepare_cb cb, void *arg);

/* Run until loop_quit(); 0 on a requested stop, -1 on a fatal error. */
int loop_run(struct loop *loop);
void loop_quit(struct loop *loop);

/* Monotonic milliseconds, cached at each wake-up. */
uint64_t loop_now(const struct loop *loop);
/* Fresh monotonic milliseconds. */
uint64_t loop_clock_ms(void);

#endif
