/*
 * sqlite_store.c - the SQLite store (see sqlite_store.h): schema and its
 * migrations, the prepared statements, compare-and-set, pages for scans
 * (of every row, or of a subset through its index), batches. Every
 * statement is reset (and its bindings cleared) as soon as its result has
 * been read, so no read transaction stays open between calls and WAL
 * checkpoints are never held back by an idle store.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "sqlite_store.h"
#include "record.h"
#include "reason.h"

/* The page queries come in pairs (first page, next pages) in the order of
 * bnc_sqlite_set_t, from Q_FIRST on. */
enum { Q_GET, Q_INSERT, Q_UPDATE, Q_DELETE, Q_COUNT, Q_FIRST, Q_AFTER, Q_SUP_FIRST, Q_SUP_AFTER,
       Q_BAD_FIRST, Q_BAD_AFTER, Q_EXPIRED, Q_BEGIN, Q_COMMIT, Q_ROLLBACK, Q_HEALTH_ADD,
       Q_HEALTH_READ, Q_HEALTH_PRUNE, Q__COUNT };

/* The record's columns, bound as ?2..?13 by bind_columns; ?14 is the blob. */
#define COLUMNS "state, cause, reason, since, expires, streak_start, attempts, blocks, " \
                "bounces, last_event, last_at, retry_at"

/* The health counts' columns, in the order of bnc_sqlite_health_add's. */
#define HEALTH_COLUMNS "sent, delivered, hard, soft, block, complaint, delayed"

static const char *const SQL[Q__COUNT] = {
  "SELECT record FROM records WHERE address = ?1",
  "INSERT INTO records (address, " COLUMNS ", record) VALUES "
  "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) "
  "ON CONFLICT (address) DO NOTHING",
  "UPDATE records SET state = ?2, cause = ?3, reason = ?4, since = ?5, expires = ?6, "
  "streak_start = ?7, attempts = ?8, blocks = ?9, bounces = ?10, last_event = ?11, "
  "last_at = ?12, retry_at = ?13, record = ?14 WHERE address = ?1 AND record = ?15",
  "DELETE FROM records WHERE address = ?1 AND record = ?2",
  "SELECT count(*) FROM records",
  "SELECT address, record FROM records ORDER BY address LIMIT ?1",
  "SELECT address, record FROM records WHERE address > ?1 ORDER BY address LIMIT ?2",
  /* The subsets' WHERE clauses are those of their partial indexes (SQLite
   * takes a partial index only for a query whose WHERE implies the index's),
   * with the literal 'suppressed', not a parameter, for the same reason. */
  "SELECT address, record FROM records WHERE state = 'suppressed' ORDER BY address LIMIT ?1",
  "SELECT address, record FROM records WHERE state = 'suppressed' AND address > ?1 "
  "ORDER BY address LIMIT ?2",
  "SELECT address, record FROM records WHERE state IS NULL ORDER BY address LIMIT ?1",
  "SELECT address, record FROM records WHERE state IS NULL AND address > ?1 "
  "ORDER BY address LIMIT ?2",
  /* the cursor is the row value (expires, address): one seek in the index */
  "SELECT address, record, expires FROM records WHERE expires <= ?1 "
  "AND (expires, address) > (?2, ?3) ORDER BY expires, address LIMIT ?4",
  "BEGIN IMMEDIATE",
  "COMMIT",
  "ROLLBACK",
  /* health counts: added to a bucket's row, which keeps the later expiry */
  "INSERT INTO health (scope, bucket, expires, " HEALTH_COLUMNS ") VALUES "
  "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (scope, bucket) DO UPDATE SET "
  "sent = sent + excluded.sent, delivered = delivered + excluded.delivered, "
  "hard = hard + excluded.hard, soft = soft + excluded.soft, block = block + excluded.block, "
  "complaint = complaint + excluded.complaint, delayed = delayed + excluded.delayed, "
  "expires = max(expires, excluded.expires)",
  "SELECT bucket, " HEALTH_COLUMNS " FROM health WHERE scope = ?1 AND bucket BETWEEN ?2 AND ?3",
  "DELETE FROM health WHERE expires <= ?1",
};

/* The table of versions 2 and 3, what `sqlite3 FILE .schema` shows. The
 * columns are decoded from the record on every write; they are NULL only
 * for a record that failed its check when an older file was migrated (kept
 * as it was, reported by the tracker when read). Times are unix seconds,
 * NULL when none. */
static const char SCHEMA_V2[] =
  "CREATE TABLE records (\n"
  "  address      TEXT PRIMARY KEY NOT NULL, -- normalised recipient address\n"
  "  state        TEXT,     -- active | bouncing | suppressed\n"
  "  cause        TEXT,     -- when suppressed: hard | soft_exhausted | complaint | unsubscribe | manual\n"
  "  reason       TEXT,     -- reason of the last change: userunknown, mailboxfull, ... or undefined\n"
  "  since        INTEGER,  -- suppressed since (unix seconds)\n"
  "  expires      INTEGER,  -- suppression ends (NULL: forever, or not suppressed)\n"
  "  streak_start INTEGER,  -- first failure of the current soft-bounce streak\n"
  "  attempts     INTEGER,  -- soft bounces in the current streak\n"
  "  blocks       INTEGER,  -- blocks since the last delivery\n"
  "  bounces      INTEGER,  -- failures of any kind, ever (saturates at 65535)\n"
  "  last_event   TEXT,     -- sent | delivered | soft | hard | block | complaint | ...\n"
  "  last_at      INTEGER,  -- time of the last change\n"
  "  retry_at     INTEGER,  -- next retry or end of a hold (not suppressed)\n"
  "  record       BLOB NOT NULL -- the record itself (bounce.core codec): the source of truth\n"
  ") WITHOUT ROWID";

/* Version 3 adds partial indexes, each holding the rows of one subset only
 * (a few percent of the table), so that expire and the suppression list
 * read what they need instead of every row, and a write costs an index
 * something only when its row enters, leaves or changes in that subset.
 * Each key is the filtered column, the primary key, then the record: a
 * page is one seek and a walk in order, read from the index alone (a
 * covering index; the copy of a 32-byte record in 1% of the rows costs
 * little). SQLite keeps them up to date itself, whichever program writes. */
static const char INDEXES_V3[] =
  "CREATE INDEX records_suppressed ON records (state, address, record) -- the suppression list\n"
  "  WHERE state = 'suppressed';\n"
  "CREATE INDEX records_expires ON records (expires, address, record) -- what expire deletes\n"
  "  WHERE expires IS NOT NULL;\n"
  "CREATE INDEX records_unchecked ON records (state, address, record) -- failed their check\n"
  "  WHERE state IS NULL";

/* Version 4 adds the health counts that trackers in several processes
 * share: one row per scope ("domain:NAME", "sender:NAME", "campaign:NAME")
 * and bucket (floor(time / bucket size), the size being 1/24 of the
 * policy's health window), dropped once `expires` has passed. */
static const char HEALTH_V4[] =
  "CREATE TABLE health (\n"
  "  scope     TEXT NOT NULL,    -- domain:NAME | sender:NAME | campaign:NAME\n"
  "  bucket    INTEGER NOT NULL, -- floor(unix seconds / bucket size)\n"
  "  expires   INTEGER NOT NULL, -- unix seconds after which the row is no longer read\n"
  "  sent      INTEGER NOT NULL DEFAULT 0,\n"
  "  delivered INTEGER NOT NULL DEFAULT 0,\n"
  "  hard      INTEGER NOT NULL DEFAULT 0,\n"
  "  soft      INTEGER NOT NULL DEFAULT 0,\n"
  "  block     INTEGER NOT NULL DEFAULT 0,\n"
  "  complaint INTEGER NOT NULL DEFAULT 0,\n"
  "  delayed   INTEGER NOT NULL DEFAULT 0,\n"
  "  PRIMARY KEY (scope, bucket)\n"
  ") WITHOUT ROWID;\n"
  "CREATE INDEX health_expires ON health (expires)";

/* Version 1 had the key and the blob only:
 *   CREATE TABLE records (address TEXT PRIMARY KEY NOT NULL, record BLOB NOT NULL) WITHOUT ROWID
 * Migration rebuilds the table with the columns decoded from each blob. */

/* The page queries by name, for bnc_sqlite_page_sql. */
static const struct { const char *name; int q; } PAGE_SQL[] = {
  { "scan", Q_FIRST }, { "scan_after", Q_AFTER }, { "suppressed", Q_SUP_FIRST },
  { "suppressed_after", Q_SUP_AFTER }, { "unchecked", Q_BAD_FIRST },
  { "unchecked_after", Q_BAD_AFTER }, { "expired", Q_EXPIRED },
};

struct bnc_sqlite {
  sqlite3 *db;
  sqlite3_stmt *q[Q__COUNT];
  sqlite3_stmt *held;   /* a statement whose row the caller is reading */
  char *path;
  char err[512];
};

static void seterr(bnc_sqlite_t *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->err, sizeof s->err, fmt, ap);
  va_end(ap);
}

/* An engine failure: "PATH: what sqlite says". */
static int dberr(bnc_sqlite_t *s) {
  seterr(s, "%s: %s", s->path, sqlite3_errmsg(s->db));
  return BNC_SQL_ERR;
}

/* Resets a statement and drops its bindings (they may point into the
 * caller's strings). */
static void done(sqlite3_stmt *st) {
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
}

void bnc_sqlite_release(bnc_sqlite_t *s) {
  if (s->held) {
    done(s->held);
    s->held = NULL;
  }
}

const char *bnc_sqlite_errmsg(const bnc_sqlite_t *s) { return s->err; }

/* The end of a series of binds, whose failures were OR-ed into `bad`: 0,
 * or BNC_SQL_ERR with the statement reset. A bind fails only on a value
 * too big or a wrong index; the statement must not run with a NULL instead. */
static int bound(bnc_sqlite_t *s, sqlite3_stmt *st, int bad) {
  if (!bad) return 0;
  dberr(s);
  done(st);
  return BNC_SQL_ERR;
}

static int exec(bnc_sqlite_t *s, const char *sql) {
  return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : dberr(s);
}

/* One integer from a one-row query (a PRAGMA): 0 or BNC_SQL_ERR. */
static int query_int(bnc_sqlite_t *s, const char *sql, int64_t *out) {
  sqlite3_stmt *st;
  int rc;
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return dberr(s);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return rc == SQLITE_ROW ? 0 : dberr(s);
}

/* The binds below return whether they failed (see bound). */
static int bind_time(sqlite3_stmt *st, int i, uint32_t t) {
  return (t ? sqlite3_bind_int64(st, i, t) : sqlite3_bind_null(st, i)) != SQLITE_OK;
}

static int bind_name(sqlite3_stmt *st, int i, const char *name) {
  return (name ? sqlite3_bind_text(st, i, name, -1, SQLITE_STATIC)
               : sqlite3_bind_null(st, i)) != SQLITE_OK;
}

/* Binds ?2..?13 from r (a decoded record), or NULLs when r is NULL. These
 * columns are what the indexes hold: every write of a record binds them
 * all from the record it writes. */
static int bind_columns(sqlite3_stmt *st, const bnc_record_t *r) {
  int sup, i, bad = 0;
  if (!r) {
    for (i = 2; i <= 13; i++) bad |= sqlite3_bind_null(st, i) != SQLITE_OK;
    return bad;
  }
  sup = r->state == BNC_ST_SUPPRESSED;
  bad |= bind_name(st, 2, bnc_state_name(r->state));
  bad |= bind_name(st, 3, r->cause ? bnc_cause_name(r->cause) : NULL);
  bad |= bind_name(st, 4, bnc_reason_name((bnc_reason_t)r->last_reason));
  bad |= bind_time(st, 5, sup ? r->t1 : 0);
  bad |= bind_time(st, 6, sup ? r->t2 : 0);
  bad |= bind_time(st, 7, sup ? 0 : r->t1);
  bad |= sqlite3_bind_int(st, 8, r->soft_count) != SQLITE_OK;
  bad |= sqlite3_bind_int(st, 9, r->block_count) != SQLITE_OK;
  bad |= sqlite3_bind_int(st, 10, r->bounces) != SQLITE_OK;
  bad |= bind_name(st, 11, r->last_event ? bnc_event_name(r->last_event) : NULL);
  bad |= bind_time(st, 12, r->last_at);
  bad |= bind_time(st, 13, sup ? 0 : r->t2);
  return bad;
}

/* Version 1 -> 2: the same rows, with their columns. A blob that fails its
 * check is carried over unchanged with NULL columns. */
static int migrate_v1(bnc_sqlite_t *s) {
  sqlite3_stmt *rd = NULL, *wr = NULL;
  int rc;
  if (exec(s, "ALTER TABLE records RENAME TO records_v1") || exec(s, SCHEMA_V2)) return BNC_SQL_ERR;
  if (sqlite3_prepare_v2(s->db, "SELECT address, record FROM records_v1", -1, &rd, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(s->db, SQL[Q_INSERT], -1, &wr, NULL) != SQLITE_OK) {
    rc = dberr(s);
    goto out;
  }
  while ((rc = sqlite3_step(rd)) == SQLITE_ROW) {
    bnc_record_t r;
    const void *b = sqlite3_column_blob(rd, 1);
    int ok = bnc_record_decode(b, (size_t)sqlite3_column_bytes(rd, 1), &r) == BNC_REC_OK;
    int bad = sqlite3_bind_value(wr, 1, sqlite3_column_value(rd, 0)) != SQLITE_OK;
    bad |= bind_columns(wr, ok ? &r : NULL);
    bad |= sqlite3_bind_value(wr, 14, sqlite3_column_value(rd, 1)) != SQLITE_OK;
    if (bound(s, wr, bad)) {
      rc = BNC_SQL_ERR;
      break;
    }
    rc = sqlite3_step(wr);
    done(wr);
    if (rc != SQLITE_DONE) break;
  }
  if (rc == SQLITE_DONE) rc = exec(s, "DROP TABLE records_v1");
  else if (rc != BNC_SQL_ERR) rc = dberr(s);   /* sqlite's codes are >= 0 */
out:
  sqlite3_finalize(rd);
  sqlite3_finalize(wr);
  return rc;
}

/* Brings the file to BNC_SQLITE_SCHEMA, in one transaction holding the
 * write lock (two processes opening a new file at once: one creates, the
 * other then sees the version). Only taken when the version is behind.
 * Each step builds on the one before: 0 (a new file) creates the table, 1
 * rebuilds it with the columns, then 2 -> 3 adds the indexes (read from the
 * rows in place: about a second per few million rows, once), 3 -> 4 the
 * table of health counts. */
static int migrate(bnc_sqlite_t *s, char *err, size_t cap) {
  int64_t v;
  int rc = 0;
  if (query_int(s, "PRAGMA user_version", &v)) goto fail;
  if (v == BNC_SQLITE_SCHEMA) return 0;
  if (v < BNC_SQLITE_SCHEMA && v >= 0) {
    /* again under the lock: another process may have migrated meanwhile */
    if (exec(s, "BEGIN IMMEDIATE") || query_int(s, "PRAGMA user_version", &v)) goto fail;
  }
  if (v > BNC_SQLITE_SCHEMA || v < 0) {
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    snprintf(err, cap, "cannot open %s: schema version %lld is newer than this build of bounce "
             "reads (%d)", s->path, (long long)v, BNC_SQLITE_SCHEMA);
    return BNC_SQL_ERR;
  }
  if (v == 0) rc = exec(s, SCHEMA_V2);
  else if (v == 1) rc = migrate_v1(s);
  if (rc == 0 && v < 3) rc = exec(s, INDEXES_V3);
  if (rc == 0 && v < 4) rc = exec(s, HEALTH_V4);
  if (rc == 0 && v < BNC_SQLITE_SCHEMA) {
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", BNC_SQLITE_SCHEMA);
    rc = exec(s, sql);
  }
  if (rc == 0 && exec(s, "COMMIT") == 0) return 0;
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);   /* if this fails, closing rolls back */
  snprintf(err, cap, "cannot open %s (upgrading its schema from version %lld to %d; the file was "
           "left as it was)", s->err, (long long)v, BNC_SQLITE_SCHEMA);
  return BNC_SQL_ERR;
fail:
  snprintf(err, cap, "cannot open %s", s->err);
  return BNC_SQL_ERR;
}

/* Pragmas and schema; 0 or BNC_SQL_ERR with the message in err. */
static int setup(bnc_sqlite_t *s, const bnc_sqlite_opts_t *o, char *err, size_t cap) {
  char sql[64];
  sqlite3_stmt *st;
  const char *mode;
  int64_t v;
  sqlite3_extended_result_codes(s->db, 1);
  sqlite3_busy_timeout(s->db, o->busy_timeout);
  if (sqlite3_db_readonly(s->db, "main") == 1) {
    snprintf(err, cap, "cannot open %s: the file is read-only (the store writes to it)", s->path);
    return BNC_SQL_ERR;
  }
  /* The first read: a file that is not a database says so here. */
  if (query_int(s, "PRAGMA user_version", &v)) goto fail;
  if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK) goto fail;
  if (sqlite3_step(st) != SQLITE_ROW) { sqlite3_finalize(st); goto fail; }
  mode = (const char *)sqlite3_column_text(st, 0);
  if (!mode || (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0)) {
    snprintf(err, cap, "cannot open %s: cannot use a WAL journal here (journal_mode is %s)",
             s->path, mode ? mode : "unknown");
    sqlite3_finalize(st);
    return BNC_SQL_ERR;
  }
  sqlite3_finalize(st);
  snprintf(sql, sizeof sql, "PRAGMA synchronous = %d", o->synchronous);
  if (exec(s, sql)) goto fail;
  return migrate(s, err, cap);
fail:
  dberr(s);
  snprintf(err, cap, "cannot open %s", s->err);
  return BNC_SQL_ERR;
}

bnc_sqlite_t *bnc_sqlite_open(const char *path, const bnc_sqlite_opts_t *o, char *err, size_t cap) {
  bnc_sqlite_t *s = calloc(1, sizeof *s);
  size_t n = strlen(path);
  int i;
  if (!s || !(s->path = malloc(n + 1))) {
    free(s);
    snprintf(err, cap, "cannot open %s: out of memory", path);
    return NULL;
  }
  memcpy(s->path, path, n + 1);
  if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                      SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    snprintf(err, cap, "cannot open %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
    bnc_sqlite_close(s);
    return NULL;
  }
  /* Switching a new file to WAL takes an exclusive lock for which SQLite
   * does not always wait (the busy handler is skipped where waiting could
   * deadlock): processes opening one new file at once see SQLITE_BUSY. The
   * setup is idempotent, so it is tried again within the busy timeout. */
  for (i = 0; setup(s, o, err, cap); i += 10) {
    if ((sqlite3_errcode(s->db) & 0xff) != SQLITE_BUSY || i >= o->busy_timeout) {
      bnc_sqlite_close(s);
      return NULL;
    }
    sqlite3_sleep(10);
  }
  for (i = 0; i < Q__COUNT; i++) {
    if (sqlite3_prepare_v3(s->db, SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &s->q[i], NULL) != SQLITE_OK) {
      snprintf(err, cap, "cannot open %s: %s", path, sqlite3_errmsg(s->db));
      bnc_sqlite_close(s);
      return NULL;
    }
  }
  return s;
}

void bnc_sqlite_close(bnc_sqlite_t *s) {
  int i;
  if (!s) return;
  for (i = 0; i < Q__COUNT; i++) sqlite3_finalize(s->q[i]);
  sqlite3_close_v2(s->db);   /* rolls back an open batch */
  free(s->path);
  free(s);
}

static int check_key(bnc_sqlite_t *s, size_t kl) {
  if (kl <= BNC_SQLITE_KEY_MAX) return 0;
  seterr(s, "%s: key too long (%lu bytes, at most %d)", s->path, (unsigned long)kl,
         BNC_SQLITE_KEY_MAX);
  return BNC_SQL_ERR;
}

int bnc_sqlite_get(bnc_sqlite_t *s, const char *k, size_t kl, const void **v, size_t *vl) {
  sqlite3_stmt *st = s->q[Q_GET];
  int rc;
  bnc_sqlite_release(s);
  if (check_key(s, kl)) return BNC_SQL_ERR;
  if (bound(s, st, sqlite3_bind_text(st, 1, k, (int)kl, SQLITE_STATIC) != SQLITE_OK))
    return BNC_SQL_ERR;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *v = sqlite3_column_blob(st, 0);
    *vl = (size_t)sqlite3_column_bytes(st, 0);
    if (!*v) *v = "";   /* an empty blob */
    s->held = st;
    return 1;
  }
  rc = rc == SQLITE_DONE ? 0 : dberr(s);
  done(st);
  return rc;
}

/* Runs a write statement whose parameters are bound: 1 when it changed a
 * row, 0 when its WHERE (or ON CONFLICT) left everything as it was. */
static int run_write(bnc_sqlite_t *s, sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  rc = rc == SQLITE_DONE ? sqlite3_changes(s->db) > 0 : dberr(s);
  done(st);
  return rc;
}

/* The key prefix under which bounce.tracker sets aside the bytes of a
 * record that failed its check: written as they are, columns NULL. */
#define ASIDE "@@corrupt:"

int bnc_sqlite_cas(bnc_sqlite_t *s, const char *k, size_t kl, const void *old, size_t ol,
                   const void *nw, size_t nl) {
  bnc_record_t r;
  const bnc_record_t *rp = &r;
  sqlite3_stmt *st;
  int bad;
  bnc_sqlite_release(s);
  if (check_key(s, kl)) return BNC_SQL_ERR;
  if (nw) {
    int rc = bnc_record_decode(nw, nl, &r);
    if (rc != BNC_REC_OK && kl > sizeof ASIDE - 1 && memcmp(k, ASIDE, sizeof ASIDE - 1) == 0) {
      rp = NULL;
    } else if (rc != BNC_REC_OK) {
      char why[160];
      seterr(s, "%s: refusing to write a bad record for %.*s: %s", s->path, (int)kl, k,
             bnc_record_error(rc, nw, nl, why, sizeof why));
      return BNC_SQL_BAD;
    }
  }
  if (old && ol > INT_MAX) return 0;   /* nothing stored is that long */
  if (!old && !nw) {                   /* "absent -> absent": true when absent */
    const void *v;
    size_t vl;
    int rc = bnc_sqlite_get(s, k, kl, &v, &vl);
    bnc_sqlite_release(s);
    return rc < 0 ? rc : !rc;
  }
  if (!old) {
    st = s->q[Q_INSERT];
    bad = bind_columns(st, rp);
    bad |= sqlite3_bind_blob(st, 14, nw, (int)nl, SQLITE_STATIC) != SQLITE_OK;
  } else if (!nw) {
    st = s->q[Q_DELETE];
    bad = sqlite3_bind_blob(st, 2, old, (int)ol, SQLITE_STATIC) != SQLITE_OK;
  } else {
    st = s->q[Q_UPDATE];
    bad = bind_columns(st, rp);
    bad |= sqlite3_bind_blob(st, 14, nw, (int)nl, SQLITE_STATIC) != SQLITE_OK;
    bad |= sqlite3_bind_blob(st, 15, old, (int)ol, SQLITE_STATIC) != SQLITE_OK;
  }
  bad |= sqlite3_bind_text(st, 1, k, (int)kl, SQLITE_STATIC) != SQLITE_OK;
  if (bound(s, st, bad)) return BNC_SQL_ERR;
  return run_write(s, st);
}

int bnc_sqlite_count(bnc_sqlite_t *s, int64_t *n) {
  sqlite3_stmt *st = s->q[Q_COUNT];
  int rc;
  bnc_sqlite_release(s);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *n = sqlite3_column_int64(st, 0);
  rc = rc == SQLITE_ROW ? 0 : dberr(s);
  done(st);
  return rc;
}

int bnc_sqlite_set_start(bnc_sqlite_t *s, bnc_sqlite_set_t set, const char *after, size_t al,
                         int limit) {
  sqlite3_stmt *st;
  int bad;
  bnc_sqlite_release(s);
  if ((int)set < 0 || set >= BNC_SQL__SETS) {
    seterr(s, "%s: no such set of rows (%d)", s->path, (int)set);
    return BNC_SQL_ERR;
  }
  st = s->q[Q_FIRST + 2 * (int)set + (after != NULL)];
  if (after) {
    if (check_key(s, al)) return BNC_SQL_ERR;
    bad = sqlite3_bind_text(st, 1, after, (int)al, SQLITE_STATIC) != SQLITE_OK;
    bad |= sqlite3_bind_int(st, 2, limit) != SQLITE_OK;
  } else {
    bad = sqlite3_bind_int(st, 1, limit) != SQLITE_OK;
  }
  if (bound(s, st, bad)) return BNC_SQL_ERR;
  s->held = st;
  return 0;
}

int bnc_sqlite_page_start(bnc_sqlite_t *s, const char *after, size_t al, int limit) {
  return bnc_sqlite_set_start(s, BNC_SQL_ALL, after, al, limit);
}

int bnc_sqlite_expired_start(bnc_sqlite_t *s, int64_t at, int64_t after_exp, const char *after,
                             size_t al, int limit) {
  sqlite3_stmt *st = s->q[Q_EXPIRED];
  int bad;
  bnc_sqlite_release(s);
  if (!after) {          /* (INT64_MIN, '') comes before every row */
    after_exp = INT64_MIN;
    after = "";
    al = 0;
  } else if (check_key(s, al)) {
    return BNC_SQL_ERR;
  }
  bad = sqlite3_bind_int64(st, 1, at) != SQLITE_OK;
  bad |= sqlite3_bind_int64(st, 2, after_exp) != SQLITE_OK;
  bad |= sqlite3_bind_text(st, 3, after, (int)al, SQLITE_STATIC) != SQLITE_OK;
  bad |= sqlite3_bind_int(st, 4, limit) != SQLITE_OK;
  if (bound(s, st, bad)) return BNC_SQL_ERR;
  s->held = st;
  return 0;
}

int64_t bnc_sqlite_page_expires(const bnc_sqlite_t *s) {
  return s->held == s->q[Q_EXPIRED] ? sqlite3_column_int64(s->held, 2) : 0;
}

const char *bnc_sqlite_page_sql(int i, const char **name) {
  if (i < 0 || i >= (int)(sizeof PAGE_SQL / sizeof PAGE_SQL[0])) return NULL;
  *name = PAGE_SQL[i].name;
  return SQL[PAGE_SQL[i].q];
}

int bnc_sqlite_page_next(bnc_sqlite_t *s, const char **k, size_t *kl, const void **v, size_t *vl) {
  sqlite3_stmt *st = s->held;
  int rc;
  if (!st) return 0;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *k = (const char *)sqlite3_column_text(st, 0);
    *kl = (size_t)sqlite3_column_bytes(st, 0);
    *v = sqlite3_column_blob(st, 1);
    *vl = (size_t)sqlite3_column_bytes(st, 1);
    if (!*k) *k = "";
    if (!*v) *v = "";
    return 1;
  }
  rc = rc == SQLITE_DONE ? 0 : dberr(s);
  bnc_sqlite_release(s);
  return rc;
}

int bnc_sqlite_in_batch(const bnc_sqlite_t *s) { return !sqlite3_get_autocommit(s->db); }

static int run(bnc_sqlite_t *s, int q) {
  int rc = sqlite3_step(s->q[q]);
  rc = rc == SQLITE_DONE ? 0 : dberr(s);
  done(s->q[q]);
  return rc;
}

int bnc_sqlite_begin(bnc_sqlite_t *s) {
  bnc_sqlite_release(s);
  if (bnc_sqlite_in_batch(s)) {
    seterr(s, "%s: a batch is already open", s->path);
    return BNC_SQL_ERR;
  }
  return run(s, Q_BEGIN);
}

int bnc_sqlite_commit(bnc_sqlite_t *s) {
  bnc_sqlite_release(s);
  if (!bnc_sqlite_in_batch(s)) {
    seterr(s, "%s: no batch is open (a failed write may have rolled it back)", s->path);
    return BNC_SQL_ERR;
  }
  return run(s, Q_COMMIT);
}

/* Rolling back when no batch is open does nothing: SQLite itself rolls a
 * batch back after some failures (a full disk), and a caller's cleanup
 * should not fail because of that. */
int bnc_sqlite_rollback(bnc_sqlite_t *s) {
  bnc_sqlite_release(s);
  if (!bnc_sqlite_in_batch(s)) return 0;
  return run(s, Q_ROLLBACK);
}

int bnc_sqlite_health_add(bnc_sqlite_t *s, const char *scope, size_t sl, int64_t bucket,
                          int64_t expires, const int64_t counts[BNC_SQLITE_HEALTH_KINDS]) {
  sqlite3_stmt *st = s->q[Q_HEALTH_ADD];
  int i, bad;
  bnc_sqlite_release(s);
  if (check_key(s, sl)) return BNC_SQL_ERR;
  bad = sqlite3_bind_text(st, 1, scope, (int)sl, SQLITE_STATIC) != SQLITE_OK;
  bad |= sqlite3_bind_int64(st, 2, bucket) != SQLITE_OK;
  bad |= sqlite3_bind_int64(st, 3, expires) != SQLITE_OK;
  for (i = 0; i < BNC_SQLITE_HEALTH_KINDS; i++)
    bad |= sqlite3_bind_int64(st, 4 + i, counts[i]) != SQLITE_OK;
  if (bound(s, st, bad)) return BNC_SQL_ERR;
  return run_write(s, st) < 0 ? BNC_SQL_ERR : 0;
}

int bnc_sqlite_health_start(bnc_sqlite_t *s, const char *scope, size_t sl, int64_t first,
                            int64_t last) {
  sqlite3_stmt *st = s->q[Q_HEALTH_READ];
  int bad;
  bnc_sqlite_release(s);
  if (check_key(s, sl)) return BNC_SQL_ERR;
  bad = sqlite3_bind_text(st, 1, scope, (int)sl, SQLITE_STATIC) != SQLITE_OK;
  bad |= sqlite3_bind_int64(st, 2, first) != SQLITE_OK;
  bad |= sqlite3_bind_int64(st, 3, last) != SQLITE_OK;
  if (bound(s, st, bad)) return BNC_SQL_ERR;
  s->held = st;
  return 0;
}

int bnc_sqlite_health_next(bnc_sqlite_t *s, int64_t *bucket,
                           int64_t counts[BNC_SQLITE_HEALTH_KINDS]) {
  sqlite3_stmt *st = s->held;
  int i, rc;
  if (st != s->q[Q_HEALTH_READ]) return 0;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *bucket = sqlite3_column_int64(st, 0);
    for (i = 0; i < BNC_SQLITE_HEALTH_KINDS; i++) counts[i] = sqlite3_column_int64(st, 1 + i);
    return 1;
  }
  rc = rc == SQLITE_DONE ? 0 : dberr(s);
  bnc_sqlite_release(s);
  return rc;
}

int bnc_sqlite_health_prune(bnc_sqlite_t *s, int64_t at, int64_t *gone) {
  sqlite3_stmt *st = s->q[Q_HEALTH_PRUNE];
  int rc;
  bnc_sqlite_release(s);
  if (bound(s, st, sqlite3_bind_int64(st, 1, at) != SQLITE_OK)) return BNC_SQL_ERR;
  rc = sqlite3_step(st);
  rc = rc == SQLITE_DONE ? 0 : dberr(s);
  if (rc == 0) *gone = sqlite3_changes(s->db);
  done(st);
  return rc;
}
