/* SPDX-License-Identifier: MIT */
/* loop_priv.h: what loop.c exports for its unit tests only. */
#ifndef RESTANZA_LOOP_PRIV_H
#define RESTANZA_LOOP_PRIV_H

#include "loop.h"

/* Timers pending now. */
size_t loop_timer_count(const struct loop *loop);

/* Run one iteration, waiting at most max_ms. */
int loop_run_once(struct loop *loop, int64_t max_ms);

#endif
