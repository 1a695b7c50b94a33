/*
 * sqlite_store.h - the SQLite store: one row per address in a file that
 * several processes share safely (WAL journal, busy timeout, atomic
 * compare-and-set), with the record blob as the source of truth and columns
 * decoded from it (state, cause, reason, times, counters) for people and
 * their queries, and partial indexes for the subsets that maintenance reads
 * (the suppressed rows, the suppressions that end, the rows that failed
 * their check). The schema is versioned with PRAGMA user_version and
 * migrated on open.
 *
 * Plain C over libsqlite3, no Lua: src/lsqlite.c is its binding. A store is
 * used by one thread at a time (one connection per process or worker).
 */
#ifndef BNC_SQLITE_STORE_H
#define BNC_SQLITE_STORE_H

#include <stddef.h>
#include <stdint.h>

/* The schema this build writes; older files are migrated on open, newer
 * ones refused. 1: (address, record) only; 2: the decoded columns too;
 * 3: the indexes of the suppression list and of expiry; 4: the table of
 * health counts. */
#define BNC_SQLITE_SCHEMA 4

/* Longest key accepted (bytes); addresses are at most 254. */
#define BNC_SQLITE_KEY_MAX 4096

/* Return codes besides 0 and 1 (which mean "no"/"yes" where a function
 * answers a question). The message is in bnc_sqlite_errmsg(). */
#define BNC_SQL_ERR -1   /* the engine failed (busy too long, I/O, full disk...) */
#define BNC_SQL_BAD -2   /* the record to write fails its check: nothing written */

typedef struct bnc_sqlite bnc_sqlite_t;

typedef struct {
  int busy_timeout;  /* ms to wait for another process's lock (default 5000) */
  int synchronous;   /* 0 off, 1 normal (the default), 2 full, 3 extra */
} bnc_sqlite_opts_t;

/* Opens (creating it when missing) the store at path: WAL journal, busy
 * timeout, schema created or migrated. NULL on failure, with a message
 * naming the path in err (NUL-terminated, truncated to cap). */
bnc_sqlite_t *bnc_sqlite_open(const char *path, const bnc_sqlite_opts_t *o, char *err, size_t cap);
/* Rolls back an open batch, finalizes everything, closes the file. */
void bnc_sqlite_close(bnc_sqlite_t *s);
/* The message of the last BNC_SQL_ERR or BNC_SQL_BAD. */
const char *bnc_sqlite_errmsg(const bnc_sqlite_t *s);

/* The record under key: 1 (*v, *vl set; valid until bnc_sqlite_release or
 * the next call on s), 0 when there is none, BNC_SQL_ERR. The bytes are
 * returned as stored, even when they are not a sound record. */
int bnc_sqlite_get(bnc_sqlite_t *s, const char *k, size_t kl, const void **v, size_t *vl);
void bnc_sqlite_release(bnc_sqlite_t *s);

/* Compare-and-set: if the value under key is old (NULL: none), make it new
 * (NULL: delete). 1 when done, 0 when the value was something else,
 * BNC_SQL_BAD when new is not a sound record, BNC_SQL_ERR. Atomic across
 * processes: one statement whose WHERE clause is the comparison. */
int bnc_sqlite_cas(bnc_sqlite_t *s, const char *k, size_t kl, const void *old, size_t ol,
                   const void *nw, size_t nl);

/* Number of records into *n: 0 or BNC_SQL_ERR. */
int bnc_sqlite_count(bnc_sqlite_t *s, int64_t *n);

/* A page of records in key order, after key `after` (NULL: from the
 * first): bnc_sqlite_page_start, then bnc_sqlite_page_next until it returns
 * 0 (no more in this page) or BNC_SQL_ERR; pointers are valid until the
 * next call on s. bnc_sqlite_release ends the page (and its read). */
int bnc_sqlite_page_start(bnc_sqlite_t *s, const char *after, size_t al, int limit);
int bnc_sqlite_page_next(bnc_sqlite_t *s, const char **k, size_t *kl, const void **v, size_t *vl);

/* The rows a page can be limited to, in key order: every row; the
 * suppressed ones (state 'suppressed'); the unchecked ones, whose record
 * failed its check when an older file was migrated (NULL columns: the
 * store's only rows known not to be sound records). Each subset is read
 * through its own partial index, so its cost follows the subset, not the
 * table. */
typedef enum { BNC_SQL_ALL = 0, BNC_SQL_SUPPRESSED, BNC_SQL_UNCHECKED, BNC_SQL__SETS } bnc_sqlite_set_t;

/* bnc_sqlite_page_start limited to a subset: 0 or BNC_SQL_ERR. */
int bnc_sqlite_set_start(bnc_sqlite_t *s, bnc_sqlite_set_t set, const char *after, size_t al,
                         int limit);
/* A page of the suppressions that ended at or before `at` (the column
 * `expires`; forever is NULL and never ends), in (expires, key) order after
 * the row (after_exp, after); after NULL starts from the first (after_exp
 * is then ignored). Read with bnc_sqlite_page_next, then
 * bnc_sqlite_page_expires for the row's expiry: with its key, the cursor
 * of the next page. Through the index records_expires. */
int bnc_sqlite_expired_start(bnc_sqlite_t *s, int64_t at, int64_t after_exp, const char *after,
                             size_t al, int limit);
/* The expiry of the row bnc_sqlite_page_next just returned from a page of
 * bnc_sqlite_expired_start (0 for other pages). */
int64_t bnc_sqlite_page_expires(const bnc_sqlite_t *s);

/* The read queries of pages, for people and tests to EXPLAIN: the i-th
 * (from 0) into *name ("scan", "scan_after", "suppressed", ...), NULL past
 * the last. */
const char *bnc_sqlite_page_sql(int i, const char **name);

/* Batches: one transaction taking the write lock at once (BEGIN IMMEDIATE,
 * so two writers never deadlock upgrading a read). 0 or BNC_SQL_ERR; begin
 * inside a batch and commit/rollback outside one are errors. */
int bnc_sqlite_begin(bnc_sqlite_t *s);
int bnc_sqlite_commit(bnc_sqlite_t *s);
int bnc_sqlite_rollback(bnc_sqlite_t *s);
/* Whether a batch is open. */
int bnc_sqlite_in_batch(const bnc_sqlite_t *s);

/* Health counts shared by trackers in several processes: sent, delivered,
 * hard, soft, block, complaint, delayed, per scope and bucket. */
#define BNC_SQLITE_HEALTH_KINDS 7

/* Adds counts to the row (scope, bucket), creating it; the row may be
 * dropped after `expires` (the later of its old and new expiry holds).
 * 0 or BNC_SQL_ERR. */
int bnc_sqlite_health_add(bnc_sqlite_t *s, const char *scope, size_t sl, int64_t bucket,
                          int64_t expires, const int64_t counts[BNC_SQLITE_HEALTH_KINDS]);
/* The rows of a scope whose bucket is in first..last: bnc_sqlite_health_start,
 * then bnc_sqlite_health_next until it returns 0 (no more) or BNC_SQL_ERR
 * (1: *bucket and counts set). Any other call on s ends the read. */
int bnc_sqlite_health_start(bnc_sqlite_t *s, const char *scope, size_t sl, int64_t first,
                            int64_t last);
int bnc_sqlite_health_next(bnc_sqlite_t *s, int64_t *bucket,
                           int64_t counts[BNC_SQLITE_HEALTH_KINDS]);
/* Deletes the rows whose expiry is at or before `at`; how many into *gone.
 * 0 or BNC_SQL_ERR. */
int bnc_sqlite_health_prune(bnc_sqlite_t *s, int64_t at, int64_t *gone);

#endif
