/* SPDX-License-Identifier: MIT */
/* idempotency.h: Idempotency-Key answers (SPEC §10): the first 2xx answer
 * of a key per caller, kept for a day in a bounded in-memory table. */
#ifndef RESTANZA_IDEMPOTENCY_H
#define RESTANZA_IDEMPOTENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDEMPOTENCY_KEY_MAX 128
#define IDEMPOTENCY_DIGEST_LEN 32
#define IDEMPOTENCY_TTL_MS (24ull * 3600 * 1000)

struct idempotency;
struct idempotency_entry;
struct idempotency_waiter;

/* An answer (borrowed). */
struct idempotency_answer {
    unsigned status;
    const char *content_type; /* may be NULL */
    const char *body;
    size_t len;
};

/* The first request's answer (NULL: it went away unanswered). */
typedef void (*idempotency_cb)(const struct idempotency_answer *a, void *arg);

enum idempotency_state {
    IDEMPOTENCY_NEW,      /* first use: *e is pending, the caller answers */
    IDEMPOTENCY_DONE,     /* answered before: replay idempotency_stored() */
    IDEMPOTENCY_PENDING,  /* the first is in progress: idempotency_wait() */
    IDEMPOTENCY_MISMATCH, /* the key was used with another request */
    IDEMPOTENCY_FULL,     /* max entries, all in progress */
};

/* At most max entries, each kept ttl_ms after its answer. */
struct idempotency *idempotency_new(size_t max, uint64_t ttl_ms);
/* Waiters of pending entries are called with NULL first. */
void idempotency_free(struct idempotency *t);

/* 1 to IDEMPOTENCY_KEY_MAX printable ASCII characters (0x20-0x7e). */
bool idempotency_key_valid(const char *key);

/*
 * Look the key up in scope (who asked: one namespace per token) for a
 * request whose content hashes to digest. *e is set for NEW, DONE and
 * PENDING. now is a millisecond clock.
 */
enum idempotency_state
idempotency_begin(struct idempotency *t, const char *scope, const char *key,
                  const unsigned char digest[IDEMPOTENCY_DIGEST_LEN],
                  uint64_t now, struct idempotency_entry **e);

/* The stored answer of a DONE entry (borrowed). */
const struct idempotency_answer *
idempotency_stored(const struct idempotency_entry *e);

/*
 * The first request of a NEW entry got its answer (a NULL a: none): the
 * waiters get it, and the entry is kept only for a 2xx (then a repeat gets
 * it again; otherwise the key can be used anew).
 */
void idempotency_finish(struct idempotency *t, struct idempotency_entry *e,
                        const struct idempotency_answer *a, uint64_t now);

/* Wait for a PENDING entry's answer; cb runs once unless unwaited. */
struct idempotency_waiter *idempotency_wait(struct idempotency_entry *e,
                                            idempotency_cb cb, void *arg);
void idempotency_unwait(struct idempotency_waiter *w);

/* The request digest an entry was made for (borrowed). */
const unsigned char *idempotency_digest(const struct idempotency_entry *e);

#endif
