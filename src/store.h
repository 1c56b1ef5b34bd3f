/* SPDX-License-Identifier: MIT */
/* store.h: the SQLite store: event log, key-value table, batched commits. */
#ifndef RESTANZA_STORE_H
#define RESTANZA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct store;

/*
 * Writes are not committed one by one: the first write opens a transaction
 * and the end of the loop turn (a prepare hook, see store_attach) commits
 * it, so a burst of stanzas costs one commit; under load, at most one
 * commit every STORE_COMMIT_MS (the turns in between join the batch, and
 * the loop waits no longer than that), or every STORE_COMMIT_LAZY_MS for a
 * batch of delivery outcomes only. A caller that must be durable
 * before it answers calls store_flush(). After a failed commit everything
 * written since the previous commit is rolled back: the commit listeners
 * are told so, and the next write starts a new transaction.
 */

/* Group commit: a batch is committed this long after the previous commit
 * at the latest (ms); one of delivery outcomes only (store_event_update,
 * store_event_prune, store_kv_expire) after STORE_COMMIT_LAZY_MS. */
#define STORE_COMMIT_MS 20
#define STORE_COMMIT_LAZY_MS 1000
/* SQLite's page cache (KiB): holds the pages a batch touches, so that a
 * large backlog is read and written without spilling. */
#define STORE_CACHE_KIB 8192

/* store.sync values. */
enum store_sync {
    STORE_SYNC_NORMAL, /* WAL, fsync at checkpoints */
    STORE_SYNC_FULL,   /* fsync every commit */
};

/*
 * Open (create) the database at path, switch it to WAL and bring the
 * schema to the current version. NULL, with one clear log line naming the
 * path and the reason, when it cannot be read and written (read-only or
 * missing directory, not a database, newer schema). The caller owns the
 * result.
 */
struct store *store_open(const char *path, enum store_sync sync);
/* Commit what is pending, detach from the loop and close; NULL is a no-op.
 */
void store_free(struct store *s);

/* Commit at the end of every loop turn from now on (borrowed loop). */
int store_attach(struct store *s, struct loop *loop);

/* Commit now; 0 when everything written so far is on disk (or nothing was
 * pending), -1 when it was rolled back. */
int store_flush(struct store *s);

/* Called after each commit attempt that had writes: ok false = rolled
 * back. At most STORE_MAX_LISTENERS. */
#define STORE_MAX_LISTENERS 4
typedef void (*store_commit_cb)(bool ok, void *arg);
int store_on_commit(struct store *s, store_commit_cb cb, void *arg);

/* Whether the last commit (or write) failed and none succeeded since. */
bool store_failing(const struct store *s);
/* Size of the database and its WAL in bytes. */
int64_t store_disk_bytes(const struct store *s);
const char *store_path(const struct store *s);

/* ---- key-value table (for anyone: space separates the users) ---- */

/*
 * Insert or replace space/key with a copy of len bytes of val. expires_unix
 * (seconds since the epoch; 0 = never) after which get no longer returns it
 * and store_kv_expire deletes it. 0 or -1.
 */
int store_kv_put(struct store *s, const char *space, const char *key,
                 const void *val, size_t len, int64_t expires_unix);
/* A malloc'd copy (NUL-terminated one byte past *len) or NULL when absent,
 * expired or on error. len may be NULL. */
void *store_kv_get(struct store *s, const char *space, const char *key,
                   size_t *len);
/* 0 (also when absent) or -1. */
int store_kv_del(struct store *s, const char *space, const char *key);
/* Delete every key of space up to key included (byte order); 0 or -1. */
int store_kv_del_upto(struct store *s, const char *space, const char *key);
/* Call cb for every unexpired entry of space in key order (values
 * borrowed for the call); cb returns nonzero to stop. 0 or -1. */
typedef int (*store_kv_cb)(const char *key, const void *val, size_t len,
                           int64_t expires_unix, void *arg);
int store_kv_each(struct store *s, const char *space, store_kv_cb cb,
                  void *arg);
/* Delete every entry expired at now_unix; the count or -1. */
int64_t store_kv_expire(struct store *s, int64_t now_unix);

/* ---- the event log (events.c) ---- */

enum store_event_state {
    STORE_EVENT_PENDING = 0,   /* to deliver (or being delivered) */
    STORE_EVENT_DELIVERED = 1, /* done, kept for /events until retention */
    STORE_EVENT_DEAD = 2,      /* retries exhausted: a dead letter */
};

/* One row; strings borrowed from the store for a callback's duration. */
struct store_event {
    int64_t id;
    int64_t ts_ms; /* unix ms when logged */
    const char *kind;
    const char *sender; /* ordering key: bare JID (message), full (else) */
    const char *stanza; /* the stanza as XML */
    int state;
    unsigned attempts;
    int64_t next_ms; /* unix ms of the next attempt */
    const char *last_error;
};

/* Append; the new event id (> 0) or -1. */
int64_t store_event_append(struct store *s, int64_t ts_ms, const char *kind,
                           const char *sender, const char *stanza, int state);
/* Record a delivery outcome. last_error may be NULL. 0 or -1. */
int store_event_update(struct store *s, int64_t id, int state,
                       unsigned attempts, int64_t next_ms,
                       const char *last_error);
typedef int (*store_event_cb)(const struct store_event *e, void *arg);
/* Events with id > after, ascending, at most limit (0 = all), of the given
 * state (STORE_EVENT_PENDING, STORE_EVENT_DEAD, or -1: any); cb returns
 * nonzero to stop. 0 or -1. */
int store_event_each(struct store *s, int64_t after, size_t limit, int state,
                     store_event_cb cb, void *arg);
/* One event through cb; 1 found, 0 absent, -1 error. */
int store_event_get(struct store *s, int64_t id, store_event_cb cb, void *arg);
/* Delete delivered events logged before before_ms; the count or -1. */
int64_t store_event_prune(struct store *s, int64_t before_ms);
/* The highest id ever given (0 for none), or -1. */
int64_t store_event_last_id(struct store *s);
/* The oldest pending event of sender through cb; 1, 0 none, -1 error. */
/* Mark sender's pending events older than id, except keep, delivered
 * (a newer presence replaces them); 0 or -1. */
int store_event_supersede(struct store *s, const char *sender, int64_t id,
                          int64_t keep);
int store_event_first_pending(struct store *s, const char *sender,
                              store_event_cb cb, void *arg);
/* ts_ms of the oldest pending event, 0 for none, -1 on error. */
int64_t store_event_oldest_pending_ms(struct store *s);
/* How many events are in state (STORE_EVENT_PENDING or STORE_EVENT_DEAD);
 * -1 on error. */
int64_t store_event_count(struct store *s, int state);

#endif
