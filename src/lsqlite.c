/*
 * lsqlite.c - the Lua binding of the SQLite store: `bounce.sqlite`, for Lua
 * 5.1/LuaJIT, 5.3, 5.4. A separate module from bounce.core so that only
 * those who use it link libsqlite3.
 *
 * A store is a userdata owning a bnc_sqlite_t (sqlite_store.c), closed by
 * close(), __gc and __close. Its methods follow the store interface of
 * lua/bounce/store.lua (get, cas, count) plus batches and page readers (of
 * every row, of the suppressed ones, of those that failed their check, of
 * the suppressions that ended) and the rows of health counts;
 * lua/bounce/store/sqlite.lua adds scan(),
 * scan_suppressed(), scan_expired() and batch() over them and checks the
 * options. Caller mistakes raise; engine failures and records that fail
 * their check return nil, message.
 */
#include <string.h>
#include <sqlite3.h>
#include "bnc.h"
#include "lbnc.h"
#include "sqlite_store.h"

#define SQLITE_MT "bounce.sqlite"
#define PAGE_MAX 100000

typedef struct { bnc_sqlite_t *s; } lstore;

/* The names of bnc_sqlite_set_t, in its order. */
static const char *const SETS[] = { "all", "suppressed", "unchecked", NULL };

static lstore *check_store(lua_State *L) {
  lstore *u = luaL_checkudata(L, 1, SQLITE_MT);
  if (!u->s) luaL_argerror(L, 1, "store is closed");
  return u;
}

/* A string argument (numbers are not taken for keys or records). */
static const char *check_str(lua_State *L, int i, size_t *len) {
  luaL_checktype(L, i, LUA_TSTRING);
  return lua_tolstring(L, i, len);
}

/* A string or nil argument: NULL for nil. */
static const char *opt_str(lua_State *L, int i, size_t *len) {
  *len = 0;
  if (lua_isnoneornil(L, i)) return NULL;
  return check_str(L, i, len);
}

static int fail(lua_State *L, bnc_sqlite_t *s) {
  lua_pushnil(L);
  lua_pushstring(L, bnc_sqlite_errmsg(s));
  return 2;
}

/* open(path, busy_timeout_ms, synchronous) -> store | nil, err */
static int l_open(lua_State *L) {
  size_t len;
  const char *path = check_str(L, 1, &len);
  bnc_sqlite_opts_t o;
  char err[512];
  lstore *u;
  o.busy_timeout = (int)bnc_checkinteger(L, 2);
  o.synchronous = (int)bnc_checkinteger(L, 3);
  luaL_argcheck(L, o.busy_timeout >= 0, 2, "milliseconds >= 0 expected");
  luaL_argcheck(L, o.synchronous >= 0 && o.synchronous <= 3, 3, "0..3 expected");
  if (len == 0 || strlen(path) != len) {
    lua_pushnil(L);
    lua_pushfstring(L, "cannot open '%s': %s", path,
                    len ? "the path contains a NUL byte" : "empty path");
    return 2;
  }
  u = lua_newuserdata(L, sizeof *u);   /* safe to collect before it owns anything */
  u->s = NULL;
  luaL_getmetatable(L, SQLITE_MT);
  lua_setmetatable(L, -2);
  u->s = bnc_sqlite_open(path, &o, err, sizeof err);
  if (!u->s) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  return 1;
}

static int st_close(lua_State *L) {
  lstore *u = luaL_checkudata(L, 1, SQLITE_MT);
  bnc_sqlite_close(u->s);
  u->s = NULL;
  return 0;
}

/* get(key) -> blob | nil | nil, err */
static int st_get(lua_State *L) {
  lstore *u = check_store(L);
  size_t kl, vl;
  const char *k = check_str(L, 2, &kl);
  const void *v;
  int rc = bnc_sqlite_get(u->s, k, kl, &v, &vl);
  if (rc < 0) return fail(L, u->s);
  if (rc == 0) return 0;
  lua_pushlstring(L, (const char *)v, vl);
  bnc_sqlite_release(u->s);
  return 1;
}

/* cas(key, old|nil, new|nil [, ttl]) -> true | false | nil, err. ttl is
 * accepted for the interface and not used: the row keeps its expiry in the
 * `expires` column, and t:expire() deletes what retention lets go. */
static int st_cas(lua_State *L) {
  lstore *u = check_store(L);
  size_t kl, ol, nl;
  const char *k = check_str(L, 2, &kl);
  const char *old = opt_str(L, 3, &ol);
  const char *nw = opt_str(L, 4, &nl);
  int rc;
  if (!lua_isnoneornil(L, 5)) luaL_checknumber(L, 5);
  rc = bnc_sqlite_cas(u->s, k, kl, old, ol, nw, nl);
  if (rc < 0) return fail(L, u->s);
  lua_pushboolean(L, rc);
  return 1;
}

/* count() -> n | nil, err */
static int st_count(lua_State *L) {
  lstore *u = check_store(L);
  int64_t n;
  if (bnc_sqlite_count(u->s, &n) < 0) return fail(L, u->s);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

static int check_limit(lua_State *L, int i) {
  lua_Integer limit = bnc_checkinteger(L, i);
  luaL_argcheck(L, limit >= 1 && limit <= PAGE_MAX, i, "1..100000 expected");
  return (int)limit;
}

/* Copies the rows of the page just started into two new lists, keys and
 * values, left on the stack; *last gets the expiry of the last row of a
 * page of expired rows. 0 or BNC_SQL_ERR. The rows are copied before the
 * read ends, so nothing is held between calls. */
static int read_page(lua_State *L, bnc_sqlite_t *s, int limit, int64_t *last) {
  size_t kl, vl;
  const char *k;
  const void *v;
  int rc, n = 0;
  lua_createtable(L, limit, 0);                       /* keys */
  lua_createtable(L, limit, 0);                       /* keys, values */
  while ((rc = bnc_sqlite_page_next(s, &k, &kl, &v, &vl)) == 1) {
    n++;
    *last = bnc_sqlite_page_expires(s);
    lua_pushlstring(L, k, kl);
    lua_rawseti(L, -3, n);
    lua_pushlstring(L, (const char *)v, vl);
    lua_rawseti(L, -2, n);
  }
  return rc;
}

/* page(after|nil, limit [, set]) -> keys, values (lists, in key order, at
 * most limit long; empty at the end) | nil, err. set: "all" (the default),
 * "suppressed" or "unchecked" (see bnc_sqlite_set_t). */
static int st_page(lua_State *L) {
  lstore *u = check_store(L);
  size_t al;
  const char *after = opt_str(L, 2, &al);
  int limit = check_limit(L, 3);
  int set = luaL_checkoption(L, 4, "all", SETS);
  int64_t last;
  if (bnc_sqlite_set_start(u->s, (bnc_sqlite_set_t)set, after, al, limit) < 0 ||
      read_page(L, u->s, limit, &last) < 0)
    return fail(L, u->s);
  return 2;
}

/* page_expired(at, last|nil, after|nil, limit) -> keys, values, last | nil,
 * err: the suppressions that ended at or before at, in (expiry, key) order,
 * after the row (last, after); two nils start from the first. The third
 * result is the expiry of the page's last row (nil for an empty page): with
 * its key, where the next page starts. */
static int st_page_expired(lua_State *L) {
  lstore *u = check_store(L);
  size_t al;
  lua_Integer at = bnc_checkinteger(L, 2);
  lua_Integer after_exp = lua_isnoneornil(L, 3) ? 0 : bnc_checkinteger(L, 3);
  const char *after = opt_str(L, 4, &al);
  int limit = check_limit(L, 5);
  int64_t last = 0;
  luaL_argcheck(L, lua_isnoneornil(L, 3) == (after == NULL), 3,
                "the expiry and the key of a row, or two nils, expected");
  if (bnc_sqlite_expired_start(u->s, at, after_exp, after, al, limit) < 0 ||
      read_page(L, u->s, limit, &last) < 0)
    return fail(L, u->s);
  if (bnc_rawlen(L, -1) == 0) lua_pushnil(L);
  else lua_pushinteger(L, (lua_Integer)last);
  return 3;
}

static int batch_result(lua_State *L, lstore *u, int rc) {
  if (rc < 0) return fail(L, u->s);
  lua_pushboolean(L, 1);
  return 1;
}

static int st_begin(lua_State *L) {
  lstore *u = check_store(L);
  return batch_result(L, u, bnc_sqlite_begin(u->s));
}

static int st_commit(lua_State *L) {
  lstore *u = check_store(L);
  return batch_result(L, u, bnc_sqlite_commit(u->s));
}

static int st_rollback(lua_State *L) {
  lstore *u = check_store(L);
  return batch_result(L, u, bnc_sqlite_rollback(u->s));
}

static int st_in_batch(lua_State *L) {
  lua_pushboolean(L, bnc_sqlite_in_batch(check_store(L)->s));
  return 1;
}

/* health_row(scope, bucket, expires, sent, delivered, hard, soft, block,
 * complaint, delayed) -> true | nil, err: adds the counts to the row of
 * (scope, bucket). */
static int st_health_row(lua_State *L) {
  lstore *u = check_store(L);
  size_t sl;
  const char *scope = check_str(L, 2, &sl);
  int64_t bucket = (int64_t)bnc_checkinteger(L, 3), expires = (int64_t)bnc_checkinteger(L, 4);
  int64_t counts[BNC_SQLITE_HEALTH_KINDS];
  int i;
  for (i = 0; i < BNC_SQLITE_HEALTH_KINDS; i++) {
    counts[i] = (int64_t)bnc_checkinteger(L, 5 + i);
    luaL_argcheck(L, counts[i] >= 0, 5 + i, "count >= 0 expected");
  }
  return batch_result(L, u, bnc_sqlite_health_add(u->s, scope, sl, bucket, expires, counts));
}

/* health_rows(scope, first, last) -> { [bucket] = { 7 counts } } | nil, err:
 * the scope's rows whose bucket is in first..last. */
static int st_health_rows(lua_State *L) {
  lstore *u = check_store(L);
  size_t sl;
  const char *scope = check_str(L, 2, &sl);
  int64_t first = (int64_t)bnc_checkinteger(L, 3), last = (int64_t)bnc_checkinteger(L, 4);
  int64_t bucket, counts[BNC_SQLITE_HEALTH_KINDS];
  int i, rc;
  if (bnc_sqlite_health_start(u->s, scope, sl, first, last) < 0) return fail(L, u->s);
  lua_newtable(L);                                    /* rows */
  while ((rc = bnc_sqlite_health_next(u->s, &bucket, counts)) == 1) {
    lua_createtable(L, BNC_SQLITE_HEALTH_KINDS, 0);   /* rows, counts */
    for (i = 0; i < BNC_SQLITE_HEALTH_KINDS; i++) {
      lua_pushinteger(L, (lua_Integer)counts[i]);
      lua_rawseti(L, -2, i + 1);
    }
    lua_pushinteger(L, (lua_Integer)bucket);          /* rows, counts, bucket */
    lua_insert(L, -2);                                /* rows, bucket, counts */
    lua_rawset(L, -3);                                /* rows */
  }
  if (rc < 0) return fail(L, u->s);
  return 1;
}

/* health_prune(at) -> n | nil, err: deletes the rows that expired at or
 * before at. */
static int st_health_prune(lua_State *L) {
  lstore *u = check_store(L);
  int64_t gone = 0;
  if (bnc_sqlite_health_prune(u->s, (int64_t)bnc_checkinteger(L, 2), &gone) < 0) return fail(L, u->s);
  lua_pushinteger(L, (lua_Integer)gone);
  return 1;
}

static int st_tostring(lua_State *L) {
  lstore *u = luaL_checkudata(L, 1, SQLITE_MT);
  lua_pushfstring(L, "bounce.sqlite store (%s)", u->s ? "open" : "closed");
  return 1;
}

static const luaL_Reg methods[] = {
  { "get", st_get }, { "cas", st_cas }, { "count", st_count }, { "page", st_page },
  { "page_expired", st_page_expired },
  { "begin", st_begin }, { "commit", st_commit }, { "rollback", st_rollback },
  { "in_batch", st_in_batch }, { "health_row", st_health_row }, { "health_rows", st_health_rows },
  { "health_prune", st_health_prune }, { "close", st_close }, { NULL, NULL }
};

static const luaL_Reg funcs[] = { { "open", l_open }, { NULL, NULL } };

BNC_EXPORT int luaopen_bounce_sqlite(lua_State *L);

/* bounce.sqlite: { open, methods (the stores' method table, which
 * bounce.store.sqlite extends), SCHEMA, queries (the SQL of the page
 * readers by name, to EXPLAIN), sqlite_version, _VERSION }. */
BNC_EXPORT int luaopen_bounce_sqlite(lua_State *L) {
  const char *name, *sql;
  int i;
  luaL_newlib(L, funcs);                              /* M */
  if (luaL_newmetatable(L, SQLITE_MT)) {              /* M, mt */
    lua_pushcfunction(L, st_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, st_close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, st_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, SQLITE_MT);
    lua_setfield(L, -2, "__name");
    luaL_newlib(L, methods);                          /* M, mt, methods */
    lua_setfield(L, -2, "__index");                   /* M, mt */
  }
  lua_getfield(L, -1, "__index");                     /* M, mt, methods */
  lua_setfield(L, -3, "methods");                     /* M, mt */
  lua_pop(L, 1);                                      /* M */
  lua_pushinteger(L, BNC_SQLITE_SCHEMA);
  lua_setfield(L, -2, "SCHEMA");
  lua_newtable(L);                                    /* M, queries */
  for (i = 0; (sql = bnc_sqlite_page_sql(i, &name)) != NULL; i++) {
    lua_pushstring(L, sql);                           /* M, queries, sql */
    lua_setfield(L, -2, name);
  }
  lua_setfield(L, -2, "queries");                     /* M */
  lua_pushstring(L, sqlite3_libversion());
  lua_setfield(L, -2, "sqlite_version");
  lua_pushliteral(L, BNC_VERSION);
  lua_setfield(L, -2, "_VERSION");
  return 1;
}
