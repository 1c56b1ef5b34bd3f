/* SPDX-License-Identifier: MIT */
/* events.h: the durable event log: at-least-once delivery, /events routes. */
#ifndef RESTANZA_EVENTS_H
#define RESTANZA_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct store;
struct webhook;
struct httpd;
struct conf;
struct events;

/* Events delivered at once at most (in flight or waiting for a retry). */
#define EVENTS_MAX_ACTIVE 1024
/* Backoff of a failing delivery: first delay and cap, ms. */
#define EVENTS_BACKOFF_MIN_MS 1000
#define EVENTS_BACKOFF_MAX_MS 300000
/* No delivery done for this long (ms) and one failing: the webhook is
 * down. The first delivery done after that retries every waiting event at
 * once instead of at the end of its backoff. */
#define EVENTS_DOWN_MS 2000
/* While it is down, one waiting event is tried this often (ms) whatever
 * its backoff, to see it come back. */
#define EVENTS_PROBE_MS 2000
/* Events per GET /events page by default and at most. */
#define EVENTS_PAGE_DEFAULT 100
#define EVENTS_PAGE_MAX 1000
/* An event stream (text/event-stream) sends a comment this often, ms. */
#define EVENTS_KEEPALIVE_MS 15000
/* Bytes a stream reads ahead from the log into its buffer. */
#define EVENTS_STREAM_AHEAD (64 * 1024)

/*
 * Log what the webhook takes (w may be NULL: nothing is logged then),
 * deliver it at least once, serve /events and /events/dead. Everything is
 * borrowed and must outlive the result; NULL when s is NULL.
 */
struct events *events_new(struct loop *loop, struct store *s, struct webhook *w,
                          struct httpd *h, const struct conf *conf);
void events_free(struct events *e);

/* Figures for /status and /metrics (0 for NULL). */
struct events_stats {
    int64_t backlog;       /* undelivered, not dead */
    int64_t oldest_age_ms; /* age of the oldest undelivered, 0 if none */
    int64_t dead;          /* dead letters */
    uint64_t retries;      /* failed attempts retried since start */
    int64_t last_id;       /* highest event id */
    int64_t disk_bytes;    /* database + WAL */
    bool failing;          /* the last commit failed */
};
void events_stats(struct events *e, struct events_stats *out);

/* 1s, 2s, 4s ... capped at 5 min for attempt n (1-based), without jitter. */
uint64_t events_backoff_ms(unsigned attempt);

#endif
