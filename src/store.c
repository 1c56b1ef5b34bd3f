/* SPDX-License-Identifier: MIT */
/* store.c: the SQLite adapter (the only file that includes sqlite3.h). */
#include "config.h"

#include "store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "loop.h"
#include "xmalloc.h"

/*
 * Schema migrations: MIGRATIONS[i] brings version i to i + 1. Append only;
 * a shipped step is never edited. The version is kept in schema_version.
 */
static const char *const MIGRATIONS[] = {
    /* 0 -> 1: key-value table and the event log. AUTOINCREMENT: an id is
     * never given twice, even after the newest events were pruned. */
    "CREATE TABLE kv (space TEXT NOT NULL, key TEXT NOT NULL,"
    " val BLOB NOT NULL, expires INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (space, key)) WITHOUT ROWID;"
    "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " ts INTEGER NOT NULL, kind TEXT NOT NULL, sender TEXT NOT NULL,"
    " stanza TEXT NOT NULL, state INTEGER NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0, next INTEGER NOT NULL DEFAULT 0,"
    " last_error TEXT);"
    "CREATE INDEX events_open ON events (state, id) WHERE state <> 1;",
    /* 1 -> 2: a sender's oldest undelivered event, for ordered delivery. */
    "CREATE INDEX events_sender ON events (sender, id) WHERE state = 0;",
};
#define STR_(x) #x
#define STR(x) STR_(x)
#define NMIGRATIONS ((int)(sizeof(MIGRATIONS) / sizeof(MIGRATIONS[0])))

enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_KV_PUT,
    ST_KV_GET,
    ST_KV_DEL,
    ST_KV_DEL_UPTO,
    ST_KV_EACH,
    ST_KV_EXPIRE,
    ST_EV_APPEND,
    ST_EV_UPDATE,
    ST_EV_EACH,
    ST_EV_EACH_PENDING,
    ST_EV_EACH_DEAD,
    ST_EV_GET,
    ST_EV_PRUNE,
    ST_EV_LAST,
    ST_EV_COUNT_PENDING,
    ST_EV_COUNT_DEAD,
    ST_EV_FIRST_PENDING,
    ST_EV_OLDEST_PENDING,
    ST_EV_SUPERSEDE,
    ST_COUNT
};

static const char *const SQL[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_KV_PUT] = "INSERT OR REPLACE INTO kv (space, key, val, expires)"
                  " VALUES (?1, ?2, ?3, ?4)",
    [ST_KV_GET] = "SELECT val FROM kv WHERE space = ?1 AND key = ?2"
                  " AND (expires = 0 OR expires > ?3)",
    [ST_KV_DEL] = "DELETE FROM kv WHERE space = ?1 AND key = ?2",
    [ST_KV_DEL_UPTO] = "DELETE FROM kv WHERE space = ?1 AND key <= ?2",
    [ST_KV_EACH] = "SELECT key, val, expires FROM kv WHERE space = ?1"
                   " AND (expires = 0 OR expires > ?2) ORDER BY key",
    [ST_KV_EXPIRE] = "DELETE FROM kv WHERE expires <> 0 AND expires <= ?1",
    [ST_EV_APPEND] = "INSERT INTO events (ts, kind, sender, stanza, state)"
                     " VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_EV_UPDATE] = "UPDATE events SET state = ?2, attempts = ?3,"
                     " next = ?4, last_error = ?5 WHERE id = ?1",
    [ST_EV_EACH] = "SELECT id, ts, kind, sender, stanza, state, attempts,"
                   " next, last_error FROM events WHERE id > ?1"
                   " ORDER BY id LIMIT ?2",
    /* The states are literals, not parameters: a bound state would
     * have SQLite prepare the statement again at every step with other
     * bindings (the partial indexes depend on its value). */
    [ST_EV_EACH_PENDING] = "SELECT id, ts, kind, sender, stanza, state,"
                           " attempts, next, last_error FROM events"
                           " WHERE state = 0 AND id > ?1 ORDER BY id LIMIT ?2",
    [ST_EV_EACH_DEAD] = "SELECT id, ts, kind, sender, stanza, state,"
                        " attempts, next, last_error FROM events"
                        " WHERE state = 2 AND id > ?1 ORDER BY id LIMIT ?2",
    [ST_EV_GET] = "SELECT id, ts, kind, sender, stanza, state, attempts,"
                  " next, last_error FROM events WHERE id = ?1",
    [ST_EV_PRUNE] = "DELETE FROM events WHERE state = 1 AND ts < ?1",
    [ST_EV_LAST] = "SELECT seq FROM sqlite_sequence WHERE name = 'events'",
    [ST_EV_COUNT_PENDING] = "SELECT count(*) FROM events WHERE state = 0",
    [ST_EV_COUNT_DEAD] = "SELECT count(*) FROM events WHERE state = 2",
    [ST_EV_FIRST_PENDING] = "SELECT id, ts, kind, sender, stanza, state,"
                            " attempts, next, last_error FROM events"
                            " WHERE state = 0 AND sender = ?1"
                            " ORDER BY id LIMIT 1",
    [ST_EV_OLDEST_PENDING] = "SELECT ts FROM events WHERE state = 0"
                             " ORDER BY id LIMIT 1",
    [ST_EV_SUPERSEDE] = "UPDATE events SET state = 1,"
                        " last_error = 'superseded by a newer presence'"
                        " WHERE state = 0 AND sender = ?1 AND id < ?2"
                        " AND id <> ?3",
};

struct listener {
    store_commit_cb cb;
    void *arg;
};

struct store {
    sqlite3 *db;
    char *path;
    struct loop *loop;
    sqlite3_stmt *st[ST_COUNT];
    bool in_tx;         /* a batch is open */
    bool urgent;        /* it has more than delivery outcomes (see begin) */
    uint64_t commit_ms; /* loop_clock_ms() of the last commit */
    bool tx_failed;     /* a write of the open batch failed: roll it back */
    bool failing;
    struct listener listeners[STORE_MAX_LISTENERS];
    size_t nlisteners;
};

/* Log a failed SQLite call once, with the database's message. */
static void fail(struct store *s, const char *what)
{
    log_error("store: database error", "op=%s path=%s error=%s", what, s->path,
              sqlite3_errmsg(s->db));
}

static int exec(struct store *s, const char *sql, const char *what)
{
    char *err = NULL;

    if (sqlite3_exec(s->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        log_error("store: cannot open", "path=%s op=%s error=%s", s->path, what,
                  err != NULL ? err : sqlite3_errmsg(s->db));
        sqlite3_free(err);
        return -1;
    }
    return 0;
}

/* The statement reset and with its bindings cleared, ready to bind. */
static sqlite3_stmt *stmt(struct store *s, enum stmt_id id)
{
    sqlite3_stmt *st = s->st[id];

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

/* Schema version from schema_version, creating the table when new. */
static int schema_version(struct store *s, int *version)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (exec(s,
             "CREATE TABLE IF NOT EXISTS schema_version"
             " (version INTEGER NOT NULL)",
             "schema") < 0)
        return -1;
    if (sqlite3_prepare_v2(s->db, "SELECT max(version) FROM schema_version", -1,
                           &st, NULL) != SQLITE_OK) {
        fail(s, "schema");
        return -1;
    }
    rc = sqlite3_step(st);
    *version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* Bring the schema to NMIGRATIONS in one transaction. */
static int migrate(struct store *s)
{
    int version = 0;
    char sql[96];

    if (exec(s, "BEGIN IMMEDIATE", "migrate") < 0)
        return -1;
    if (schema_version(s, &version) < 0)
        goto fail;
    if (version > NMIGRATIONS) {
        log_error("store: cannot open", "path=%s error=%s version=%d max=%d",
                  s->path, "written by a newer restanza", version, NMIGRATIONS);
        goto fail;
    }
    for (int v = version; v < NMIGRATIONS; v++) {
        if (exec(s, MIGRATIONS[v], "migrate") < 0)
            goto fail;
        log_info("store: schema migrated", "path=%s version=%d", s->path,
                 v + 1);
    }
    snprintf(sql, sizeof(sql),
             "DELETE FROM schema_version;"
             "INSERT INTO schema_version VALUES (%d)",
             NMIGRATIONS);
    if (exec(s, sql, "migrate") < 0 || exec(s, "COMMIT", "migrate") < 0)
        goto fail;
    return 0;
fail:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* Pragmas, read-only check, migrations and statements. */
static int setup(struct store *s, enum store_sync sync)
{
    /* journal_mode is the first read: a file that is not a database
     * fails here with "file is not a database". */
    if (exec(s, "PRAGMA journal_mode = WAL", "wal") < 0)
        return -1;
    if (sqlite3_db_readonly(s->db, "main") == 1) {
        log_error("store: cannot open", "path=%s error=%s", s->path,
                  "the file or its directory is read-only");
        return -1;
    }
    if (exec(s,
             sync == STORE_SYNC_FULL ? "PRAGMA synchronous = FULL"
                                     : "PRAGMA synchronous = NORMAL",
             "sync") < 0 ||
        exec(s, "PRAGMA foreign_keys = OFF", "pragma") < 0 ||
        exec(s, "PRAGMA cache_size = -" STR(STORE_CACHE_KIB), "pragma") < 0)
        return -1;
    sqlite3_busy_timeout(s->db, 1000);
    if (migrate(s) < 0)
        return -1;
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, SQL[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &s->st[i], NULL) != SQLITE_OK) {
            fail(s, "prepare");
            return -1;
        }
    }
    return 0;
}

struct store *store_open(const char *path, enum store_sync sync)
{
    struct store *s = xcalloc(1, sizeof(*s));
    int rc;

    s->path = xstrdup(path);
    rc = sqlite3_open_v2(
        path, &s->db,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        log_error("store: cannot open", "path=%s error=%s errno=%s", path,
                  s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc),
                  strerror(errno));
        store_free(s);
        return NULL;
    }
    sqlite3_extended_result_codes(s->db, 1);
    if (setup(s, sync) < 0) {
        store_free(s);
        return NULL;
    }
    log_info("store: open", "path=%s sync=%s", path,
             sync == STORE_SYNC_FULL ? "full" : "normal");
    return s;
}

/* Commit the open batch (or roll it back) and tell the listeners. */
static int commit(struct store *s)
{
    bool ok;

    if (!s->in_tx)
        return s->tx_failed ? -1 : 0;
    ok = !s->tx_failed;
    if (ok && sqlite3_step(stmt(s, ST_COMMIT)) != SQLITE_DONE) {
        fail(s, "commit");
        ok = false;
    }
    sqlite3_reset(s->st[ST_COMMIT]);
    if (!ok && !sqlite3_get_autocommit(s->db)) {
        sqlite3_step(stmt(s, ST_ROLLBACK));
        sqlite3_reset(s->st[ST_ROLLBACK]);
    }
    s->in_tx = false;
    s->tx_failed = false;
    s->urgent = false;
    s->commit_ms = loop_clock_ms();
    if (ok && s->failing)
        log_info("store: writes work again", "path=%s", s->path);
    s->failing = !ok;
    for (size_t i = 0; i < s->nlisteners; i++)
        s->listeners[i].cb(ok, s->listeners[i].arg);
    return ok ? 0 : -1;
}

int store_flush(struct store *s)
{
    return commit(s);
}

static int64_t on_prepare(void *arg)
{
    struct store *s = arg;
    uint64_t now, every;

    if (!s->in_tx)
        return -1;
    /* Group commit: under load the writes of the turns within
     * STORE_COMMIT_MS share one commit (a commit writes every page it
     * touched to the WAL); a lone write is committed at once. A batch of
     * delivery outcomes only waits longer: nothing waits for them, and
     * a crash before their commit means a repeat, which at-least-once
     * allows, while a drain touches pages all over the log. */
    every = s->urgent ? STORE_COMMIT_MS : STORE_COMMIT_LAZY_MS;
    now = loop_clock_ms();
    if (now < s->commit_ms + every)
        return (int64_t)(s->commit_ms + every - now);
    commit(s);
    /* A listener may have written again: that goes with the next batch. */
    return s->in_tx ? STORE_COMMIT_MS : -1;
}

int store_attach(struct store *s, struct loop *loop)
{
    if (loop_prepare_add(loop, on_prepare, s) < 0) {
        log_error("store: cannot hook into the loop", "path=%s", s->path);
        return -1;
    }
    s->loop = loop;
    return 0;
}

int store_on_commit(struct store *s, store_commit_cb cb, void *arg)
{
    if (s->nlisteners == STORE_MAX_LISTENERS)
        return -1;
    s->listeners[s->nlisteners++] = (struct listener){cb, arg};
    return 0;
}

void store_free(struct store *s)
{
    if (s == NULL)
        return;
    /* The listeners may be gone already: commit without telling them. */
    s->nlisteners = 0;
    if (s->in_tx)
        commit(s);
    if (s->loop != NULL)
        loop_prepare_del(s->loop, on_prepare, s);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

bool store_failing(const struct store *s)
{
    return s->failing;
}

const char *store_path(const struct store *s)
{
    return s->path;
}

int64_t store_disk_bytes(const struct store *s)
{
    struct stat st;
    int64_t total = 0;
    char *wal = xasprintf("%s-wal", s->path);

    if (stat(s->path, &st) == 0)
        total += st.st_size;
    if (stat(wal, &st) == 0)
        total += st.st_size;
    free(wal);
    return total;
}

/* Open the batch before a write; -1 when it cannot be. urgent: a write
 * that others wait for (a new event, a key); false for delivery outcomes
 * and housekeeping, which may wait for STORE_COMMIT_LAZY_MS. */
static int begin(struct store *s, bool urgent)
{
    s->urgent = s->urgent || urgent;
    if (s->in_tx)
        return s->tx_failed ? -1 : 0; /* the batch is lost: no more */
    if (sqlite3_step(stmt(s, ST_BEGIN)) != SQLITE_DONE) {
        fail(s, "begin");
        sqlite3_reset(s->st[ST_BEGIN]);
        s->failing = true;
        return -1;
    }
    sqlite3_reset(s->st[ST_BEGIN]);
    s->in_tx = true;
    return 0;
}

/* Run a write statement to completion inside the batch. */
static int write_step(struct store *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return 0;
    fail(s, what);
    s->tx_failed = true;
    s->failing = true;
    /* Some errors (disk full) roll the transaction back by themselves;
     * begin() refuses further writes until the commit point reports the
     * whole batch as lost. */
    return -1;
}

static int64_t now_unix(void)
{
    return (int64_t)time(NULL);
}

int store_kv_put(struct store *s, const char *space, const char *key,
                 const void *val, size_t len, int64_t expires_unix)
{
    sqlite3_stmt *st;

    if (begin(s, true) < 0)
        return -1;
    st = stmt(s, ST_KV_PUT);
    sqlite3_bind_text(st, 1, space, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 3, len > 0 ? val : "", len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, expires_unix);
    return write_step(s, st, "kv_put");
}

void *store_kv_get(struct store *s, const char *space, const char *key,
                   size_t *len)
{
    sqlite3_stmt *st = stmt(s, ST_KV_GET);
    char *copy = NULL;
    int rc;

    sqlite3_bind_text(st, 1, space, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now_unix());
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        const void *v = sqlite3_column_blob(st, 0);
        copy = xmalloc(n + 1);
        if (n > 0)
            memcpy(copy, v, n);
        copy[n] = '\0';
        if (len != NULL)
            *len = n;
    } else if (rc != SQLITE_DONE) {
        fail(s, "kv_get");
    }
    sqlite3_reset(st);
    return copy;
}

int store_kv_del(struct store *s, const char *space, const char *key)
{
    sqlite3_stmt *st;

    if (begin(s, true) < 0)
        return -1;
    st = stmt(s, ST_KV_DEL);
    sqlite3_bind_text(st, 1, space, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    return write_step(s, st, "kv_del");
}

int store_kv_del_upto(struct store *s, const char *space, const char *key)
{
    sqlite3_stmt *st;

    if (begin(s, true) < 0)
        return -1;
    st = stmt(s, ST_KV_DEL_UPTO);
    sqlite3_bind_text(st, 1, space, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    return write_step(s, st, "kv_del_upto");
}

int store_kv_each(struct store *s, const char *space, store_kv_cb cb, void *arg)
{
    sqlite3_stmt *st = stmt(s, ST_KV_EACH);
    int rc;

    sqlite3_bind_text(st, 1, space, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_unix());
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cb((const char *)sqlite3_column_text(st, 0),
               sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
               sqlite3_column_int64(st, 2), arg) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE)
        fail(s, "kv_each");
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int64_t store_kv_expire(struct store *s, int64_t now)
{
    sqlite3_stmt *st;

    if (begin(s, false) < 0)
        return -1;
    st = stmt(s, ST_KV_EXPIRE);
    sqlite3_bind_int64(st, 1, now);
    if (write_step(s, st, "kv_expire") < 0)
        return -1;
    return sqlite3_changes64(s->db);
}

int64_t store_event_append(struct store *s, int64_t ts_ms, const char *kind,
                           const char *sender, const char *stanza, int state)
{
    sqlite3_stmt *st;

    if (begin(s, true) < 0)
        return -1;
    st = stmt(s, ST_EV_APPEND);
    sqlite3_bind_int64(st, 1, ts_ms);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, sender, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, stanza, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, state);
    if (write_step(s, st, "event_append") < 0)
        return -1;
    return sqlite3_last_insert_rowid(s->db);
}

int store_event_update(struct store *s, int64_t id, int state,
                       unsigned attempts, int64_t next_ms,
                       const char *last_error)
{
    sqlite3_stmt *st;

    if (begin(s, false) < 0)
        return -1;
    st = stmt(s, ST_EV_UPDATE);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, state);
    sqlite3_bind_int64(st, 3, attempts);
    sqlite3_bind_int64(st, 4, next_ms);
    if (last_error != NULL)
        sqlite3_bind_text(st, 5, last_error, -1, SQLITE_STATIC);
    return write_step(s, st, "event_update");
}

static const char *text(sqlite3_stmt *st, int col)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    return t != NULL ? t : "";
}

/* Step st and hand each row to cb; the number of rows or -1. */
static int event_rows(struct store *s, sqlite3_stmt *st, store_event_cb cb,
                      void *arg, const char *what)
{
    int rc, n = 0;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_event e = {
            .id = sqlite3_column_int64(st, 0),
            .ts_ms = sqlite3_column_int64(st, 1),
            .kind = text(st, 2),
            .sender = text(st, 3),
            .stanza = text(st, 4),
            .state = sqlite3_column_int(st, 5),
            .attempts = (unsigned)sqlite3_column_int64(st, 6),
            .next_ms = sqlite3_column_int64(st, 7),
            .last_error = (const char *)sqlite3_column_text(st, 8),
        };
        n++;
        if (cb(&e, arg) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE)
        fail(s, what);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? n : -1;
}

int store_event_each(struct store *s, int64_t after, size_t limit, int state,
                     store_event_cb cb, void *arg)
{
    sqlite3_stmt *st;

    if (state >= 0 && state != STORE_EVENT_PENDING && state != STORE_EVENT_DEAD)
        return -1;
    st = stmt(s, state < 0                      ? ST_EV_EACH
                 : state == STORE_EVENT_PENDING ? ST_EV_EACH_PENDING
                                                : ST_EV_EACH_DEAD);
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int64(st, 2, limit == 0 ? -1 : (sqlite3_int64)limit);
    return event_rows(s, st, cb, arg, "event_each") < 0 ? -1 : 0;
}

int store_event_get(struct store *s, int64_t id, store_event_cb cb, void *arg)
{
    sqlite3_stmt *st = stmt(s, ST_EV_GET);

    sqlite3_bind_int64(st, 1, id);
    return event_rows(s, st, cb, arg, "event_get");
}

int64_t store_event_prune(struct store *s, int64_t before_ms)
{
    sqlite3_stmt *st;

    if (begin(s, false) < 0)
        return -1;
    st = stmt(s, ST_EV_PRUNE);
    sqlite3_bind_int64(st, 1, before_ms);
    if (write_step(s, st, "event_prune") < 0)
        return -1;
    return sqlite3_changes64(s->db);
}

/* The first column of a one-row query as an integer (0 for no row). */
static int64_t scalar(struct store *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;

    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        fail(s, what);
        v = -1;
    }
    sqlite3_reset(st);
    return v;
}

int64_t store_event_last_id(struct store *s)
{
    return scalar(s, stmt(s, ST_EV_LAST), "event_last_id");
}

int64_t store_event_count(struct store *s, int state)
{
    if (state != STORE_EVENT_PENDING && state != STORE_EVENT_DEAD)
        return -1;
    return scalar(s,
                  stmt(s, state == STORE_EVENT_PENDING ? ST_EV_COUNT_PENDING
                                                       : ST_EV_COUNT_DEAD),
                  "event_count");
}

int store_event_first_pending(struct store *s, const char *sender,
                              store_event_cb cb, void *arg)
{
    sqlite3_stmt *st = stmt(s, ST_EV_FIRST_PENDING);

    sqlite3_bind_text(st, 1, sender, -1, SQLITE_STATIC);
    return event_rows(s, st, cb, arg, "event_first_pending");
}

int store_event_supersede(struct store *s, const char *sender, int64_t id,
                          int64_t keep)
{
    sqlite3_stmt *st;

    if (begin(s, false) < 0)
        return -1;
    st = stmt(s, ST_EV_SUPERSEDE);
    sqlite3_bind_text(st, 1, sender, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, id);
    sqlite3_bind_int64(st, 3, keep);
    return write_step(s, st, "event_supersede");
}

int64_t store_event_oldest_pending_ms(struct store *s)
{
    return scalar(s, stmt(s, ST_EV_OLDEST_PENDING), "event_oldest");
}
