/*
 * lbounce.c - the Lua binding: `bounce.core`, for Lua 5.1/LuaJIT, 5.3, 5.4.
 *
 * The only file that includes Lua headers. One C call per reply: the reply
 * is parsed and classified in C and comes back as one table. Rule sets are
 * userdata owning a bnc_ruleset_t (freed by __gc and __close); the module's
 * default rule set and a scratch buffer are upvalues of its functions, so
 * two Lua states never share configuration.
 */
#include <string.h>
#include "compat.h"
#include "classify.h"
#include "reply.h"
#include "status.h"

#define RULES_MT "bounce.rules"
#define UV_RULES 1     /* the default rule set (userdata) */
#define UV_SCRATCH 2   /* a growable text buffer (userdata) */
#define UV_STRS 3      /* the result's keys and names, made once (table) */
#define UV_NAMES 4     /* rule set userdata -> its rule names (weak-keyed table) */

/* Indexes into the UV_STRS table: keys, then reason names, types, commands. */
enum { K_CODE = 1, K_STATUS, K_TEXT, K_REASON, K_TYPE, K_PERMANENT, K_RULE,
       K_RHOST, K_COMMAND, K_REASONS };
#define K_TYPES (K_REASONS + BNC_R__COUNT)
#define K_COMMANDS (K_TYPES + BNC_T__COUNT)
static const char *const KEYS[] = {
  "code", "status", "text", "reason", "type", "permanent", "rule", "rhost", "command"
};

typedef struct { bnc_ruleset_t *rs; } lrules;

/* ---- rule sets --------------------------------------------------------- */

static lrules *check_rules(lua_State *L, int i) {
  lrules *u = luaL_checkudata(L, i, RULES_MT);
  if (!u->rs) luaL_argerror(L, i, "rule set is closed");
  return u;
}

/* Creates an empty userdata first, then the rule set: an allocation failure
 * leaves a userdata __gc can collect safely. */
static lrules *new_rules(lua_State *L, int builtin) {
  lrules *u = lua_newuserdata(L, sizeof *u);
  u->rs = NULL;
  luaL_getmetatable(L, RULES_MT);
  lua_setmetatable(L, -2);
  u->rs = bnc_ruleset_new(builtin);
  if (!u->rs) luaL_error(L, "not enough memory");
  return u;
}

static int rules_new(lua_State *L) {
  int builtin = lua_isnoneornil(L, 1) ? 1 : lua_toboolean(L, 1);
  new_rules(L, builtin);
  return 1;
}

static int rules_gc(lua_State *L) {
  lrules *u = luaL_checkudata(L, 1, RULES_MT);
  bnc_ruleset_free(u->rs);
  u->rs = NULL;
  return 0;
}

/* Reads an optional string field of the rule definition at index t. */
static const char *opt_field(lua_State *L, int t, const char *k, int required) {
  const char *s;
  lua_getfield(L, t, k);
  if (lua_isnil(L, -1) && !required) { lua_pop(L, 1); return NULL; }
  if (lua_type(L, -1) == LUA_TNUMBER && strcmp(k, "code") == 0)
    lua_tostring(L, -1);  /* code = 550 is accepted as "550" */
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_error(L, "bad argument #1 to 'add' (field '%s': string expected, got %s)",
               k, luaL_typename(L, -1));
  s = lua_tostring(L, -1);
  lua_pop(L, 1);  /* the string stays referenced by the table */
  return s;
}

static int rules_add(lua_State *L) {
  lrules *u = check_rules(L, 1);
  bnc_rule_def_t d;
  char err[256];
  luaL_checktype(L, 2, LUA_TTABLE);
  memset(&d, 0, sizeof d);
  d.pattern = opt_field(L, 2, "pattern", 1);
  d.reason = opt_field(L, 2, "reason", 1);
  d.name = opt_field(L, 2, "name", 0);
  d.code = opt_field(L, 2, "code", 0);
  d.status = opt_field(L, 2, "status", 0);
  d.rhost = opt_field(L, 2, "rhost", 0);
  d.command = opt_field(L, 2, "command", 0);
  d.example = opt_field(L, 2, "example", 0);
  d.counter = opt_field(L, 2, "counter", 0);
  d.source = opt_field(L, 2, "source", 0);
  lua_getfield(L, 2, "final");
  if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
    luaL_error(L, "bad argument #1 to 'add' (field 'final': boolean expected, got %s)",
               luaL_typename(L, -1));
  d.final = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (bnc_ruleset_add(u->rs, &d, err, sizeof err) != BNC_OK) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int rules_clear(lua_State *L) {
  bnc_ruleset_clear_user(check_rules(L, 1)->rs);
  return 0;
}

static void set_str(lua_State *L, const char *k, const char *v) {
  if (!v) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

static void push_rule(lua_State *L, const bnc_ruleset_t *rs, size_t i) {
  const bnc_rule_def_t *d = bnc_ruleset_get(rs, i);
  char name[256];
  lua_createtable(L, 0, 10);
  set_str(L, "name", bnc_ruleset_rule_name(rs, i, name, sizeof name));
  set_str(L, "pattern", d->pattern);
  set_str(L, "reason", d->reason);
  set_str(L, "code", d->code);
  set_str(L, "status", d->status);
  set_str(L, "rhost", d->rhost);
  set_str(L, "command", d->command);
  set_str(L, "example", d->example);
  set_str(L, "counter", d->counter);
  set_str(L, "source", d->source ? d->source : "user");
  lua_pushboolean(L, bnc_ruleset_is_user(rs, i));
  lua_setfield(L, -2, "user");
  if (d->final) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "final");
  }
  lua_pushinteger(L, (lua_Integer)i + 1);
  lua_setfield(L, -2, "index");
}

static int rules_list(lua_State *L) {
  lrules *u = check_rules(L, 1);
  size_t i, n = bnc_ruleset_count(u->rs);
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    push_rule(L, u->rs, i);
    lua_rawseti(L, -2, (int)i + 1);
  }
  return 1;
}

static int rules_count(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)bnc_ruleset_count(check_rules(L, 1)->rs));
  return 1;
}

typedef struct { lua_State *L; const bnc_ruleset_t *rs; int n; } check_ctx;

static void on_problem(void *ud, size_t rule, long other, const char *what) {
  check_ctx *c = ud;
  lua_State *L = c->L;
  char name[256];
  lua_createtable(L, 0, 4);                       /* list, problem */
  set_str(L, "rule", bnc_ruleset_rule_name(c->rs, rule, name, sizeof name));
  lua_pushinteger(L, (lua_Integer)rule + 1);
  lua_setfield(L, -2, "index");
  if (other >= 0)
    set_str(L, "other", bnc_ruleset_rule_name(c->rs, (size_t)other, name, sizeof name));
  set_str(L, "problem", what);
  lua_rawseti(L, -2, ++c->n);
}

static void compile(lua_State *L, bnc_ruleset_t *rs) {
  if (bnc_ruleset_compile(rs) != BNC_OK) luaL_error(L, "not enough memory");
}

static int rules_check(lua_State *L) {
  lrules *u = check_rules(L, 1);
  check_ctx c;
  compile(L, u->rs);
  c.L = L; c.rs = u->rs; c.n = 0;
  lua_newtable(L);
  luaL_checkstack(L, 4, NULL);
  bnc_ruleset_check(u->rs, on_problem, &c);
  return 1;
}

/* ---- classify ---------------------------------------------------------- */

/* A scratch buffer of at least n bytes, kept as an upvalue userdata so no
 * malloc'd memory is held while Lua may raise. */
static char *scratch(lua_State *L, size_t n) {
  size_t have = bnc_rawlen(L, lua_upvalueindex(UV_SCRATCH));
  if (n <= have) return lua_touserdata(L, lua_upvalueindex(UV_SCRATCH));
  if (n < 2 * have) n = 2 * have;
  lua_newuserdata(L, n);
  lua_replace(L, lua_upvalueindex(UV_SCRATCH));
  return lua_touserdata(L, lua_upvalueindex(UV_SCRATCH));
}

static const char *opt_string(lua_State *L, int t, const char *k, size_t *len) {
  const char *s = NULL;
  lua_getfield(L, t, k);
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "bad argument #2 to 'classify' (field '%s': string expected, got %s)",
                 k, luaL_typename(L, -1));
    s = lua_tolstring(L, -1, len);
  }
  lua_pop(L, 1);  /* opts keeps the string alive during the call */
  return s;
}

#define STR(i) lua_rawgeti(L, lua_upvalueindex(UV_STRS), (i))

/* Pushes the reply's status string. Each is made once and kept in UV_STRS
 * under a key that its length, class, subject and detail make unique
 * ("5.1.1" and "5.1.01" differ in length): no string is hashed, interned
 * or collected per call. At most 3 x 3 x 8 x 1000 keys. */
static void push_status(lua_State *L, const bnc_reply_t *r) {
  int key = 1000000 + (int)strlen(r->status) * 100000 + r->st_class * 10000 +
            r->st_subject * 1000 + r->st_detail;
  STR(key);
  if (lua_type(L, -1) == LUA_TSTRING) return;
  lua_pop(L, 1);
  lua_pushstring(L, r->status);
  lua_pushvalue(L, -1);
  lua_rawseti(L, lua_upvalueindex(UV_STRS), key);
}

/* Pushes the name of rule i of rs, whose userdata is at stack index ud.
 * Names are made once and kept per rule set in UV_NAMES, in a table whose
 * slot 0 holds the rule set's generation: a change of rules drops them. */
static void push_rule_name(lua_State *L, int ud, const bnc_ruleset_t *rs, int i) {
  lua_Integer gen = (lua_Integer)bnc_ruleset_generation(rs);
  int fresh = 1;
  const bnc_rule_def_t *d;
  lua_pushvalue(L, ud);
  lua_rawget(L, lua_upvalueindex(UV_NAMES));          /* names | nil */
  if (lua_istable(L, -1)) {
    lua_rawgeti(L, -1, 0);                            /* names, gen */
    fresh = lua_type(L, -1) != LUA_TNUMBER || lua_tointeger(L, -1) != gen;
    lua_pop(L, 1);
  }
  if (fresh) {
    lua_pop(L, 1);
    lua_newtable(L);                                  /* names */
    lua_pushinteger(L, gen);
    lua_rawseti(L, -2, 0);
    lua_pushvalue(L, ud);
    lua_pushvalue(L, -2);
    lua_rawset(L, lua_upvalueindex(UV_NAMES));
  } else {
    lua_rawgeti(L, -1, i + 1);                        /* names, name | nil */
    if (!lua_isnil(L, -1)) { lua_remove(L, -2); return; }
    lua_pop(L, 1);
  }
  d = bnc_ruleset_get(rs, (size_t)i);
  if (d->name) lua_pushstring(L, d->name);
  else lua_pushfstring(L, "text:%s", d->pattern);    /* names, name */
  lua_pushvalue(L, -1);
  lua_rawseti(L, -3, i + 1);
  lua_remove(L, -2);                                  /* name */
}

/* Pushes "[context:]what:value" without lua_pushfstring's format parsing. */
static void push_source(lua_State *L, int context, const char *what, const char *v) {
  char buf[48];
  size_t n = 0, k;
  if (context) { memcpy(buf, "context:", 8); n = 8; }
  k = strlen(what); memcpy(buf + n, what, k); n += k;
  k = strlen(v); if (k > sizeof buf - n) k = sizeof buf - n;
  memcpy(buf + n, v, k); n += k;
  lua_pushlstring(L, buf, n);
}

/* Parses reply s into r (its text into text, cap >= len + 1) and
 * classifies it under rs, as bounce.classify does: cmd (NULL, or cl bytes)
 * is the command it answered, *rhost (NULL, or *rhl bytes) the remote
 * host, else the one the reply names (*rhost is then set to it). Returns
 * BNC_OK, what bnc_reply_parse returned, or BNC_EINVAL for an unknown
 * command. rs is compiled. */
static int classify_reply_text(const bnc_ruleset_t *rs, const char *s, size_t len, char *text,
                               size_t cap, const char *cmd, size_t cl, const char **rhost,
                               size_t *rhl, bnc_reply_t *r, bnc_class_t *c) {
  int rc = bnc_reply_parse(s, len, text, cap, r);
  if (rc != BNC_OK) return rc;
  if (cmd && (r->command = bnc_command_find(cmd, cl)) == BNC_CMD_NONE) return BNC_EINVAL;
  if (!*rhost && r->rhost_len) { *rhost = s + r->rhost_off; *rhl = r->rhost_len; }
  bnc_classify(rs, r, text, r->text_len, *rhost, *rhl, c);
  return BNC_OK;
}

/* classify(reply [, opts]) -> result | nil, err
 * opts: rhost (string), command (string), rules (rule set). */
static int l_classify(lua_State *L) {
  size_t len, rhl = 0, cl = 0;
  const char *s = luaL_checklstring(L, 1, &len);
  const char *rhost = NULL, *cmd = NULL;
  bnc_ruleset_t *rs;
  bnc_reply_t r;
  bnc_class_t c;
  char *text;
  int rc;
  lua_settop(L, 2);
  if (!lua_isnil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    rhost = opt_string(L, 2, "rhost", &rhl);
    cmd = opt_string(L, 2, "command", &cl);
    lua_getfield(L, 2, "rules");                      /* rules | nil */
    if (!lua_isnil(L, -1)) {
      lrules *u = bnc_testudata(L, -1, RULES_MT);
      if (!u || !u->rs)
        luaL_error(L, "bad argument #2 to 'classify' (field 'rules': rule set expected)");
      rs = u->rs;
    } else {
      lua_pop(L, 1);
      lua_pushvalue(L, lua_upvalueindex(UV_RULES));
      rs = ((lrules *)lua_touserdata(L, -1))->rs;
    }
  } else {
    lua_pushvalue(L, lua_upvalueindex(UV_RULES));
    rs = ((lrules *)lua_touserdata(L, -1))->rs;
  }                                                   /* reply, opts, rules */
  compile(L, rs);
  text = scratch(L, len + 1);
  rc = classify_reply_text(rs, s, len, text, len + 1, cmd, cl, &rhost, &rhl, &r, &c);
  if (rc == BNC_EINVAL)
    luaL_error(L, "bad argument #2 to 'classify' (field 'command': unknown command '%s')", cmd);
  if (rc == BNC_EEMPTY) {
    lua_pushnil(L);
    lua_pushliteral(L, "empty reply: no code, status or text");
    return 2;
  }
  if (rc != BNC_OK) {
    lua_pushnil(L);
    lua_pushfstring(L, "reply too long: %d bytes (limit %d)", (int)len, (int)BNC_REPLY_MAX);
    return 2;
  }

  /* Keys and names come from a table made at load time and are stored with
   * lua_rawset: no string is hashed or compared per call. */
  lua_createtable(L, 0, 5 + (r.code != 0) + (r.st_class != 0) + (rhost != NULL) +
                  (r.command != 0));
  if (r.code) { STR(K_CODE); lua_pushinteger(L, r.code); lua_rawset(L, -3); }
  if (r.st_class) { STR(K_STATUS); push_status(L, &r); lua_rawset(L, -3); }
  STR(K_TEXT); lua_pushlstring(L, text, r.text_len); lua_rawset(L, -3);
  STR(K_REASON); STR(K_REASONS + (int)c.reason); lua_rawset(L, -3);
  STR(K_TYPE); STR(K_TYPES + (int)c.type); lua_rawset(L, -3);
  STR(K_PERMANENT); lua_pushboolean(L, c.permanent); lua_rawset(L, -3);
  STR(K_RULE);
  if (c.rule >= 0) {
    if (c.context_changed)
      lua_pushfstring(L, "context:%s<", bnc_command_name(r.command) ? bnc_command_name(r.command)
                                                                     : "MAIL");
    push_rule_name(L, 3, rs, c.rule);
    if (c.context_changed) lua_concat(L, 2);
  } else if (c.source[0] == 's' && r.st_class) {
    push_source(L, c.context_changed, "status:", r.status);
  } else if (c.source[0] == 'c' && c.source[1] == 'o' && r.code) {
    char num[12];
    num[0] = (char)('0' + r.code / 100 % 10); num[1] = (char)('0' + r.code / 10 % 10);
    num[2] = (char)('0' + r.code % 10); num[3] = '\0';
    push_source(L, c.context_changed, "code:", num);
  } else {
    lua_pushstring(L, c.source);
  }
  lua_rawset(L, -3);
  if (rhost) { STR(K_RHOST); lua_pushlstring(L, rhost, rhl); lua_rawset(L, -3); }
  if (r.command) { STR(K_COMMAND); STR(K_COMMANDS + (int)r.command); lua_rawset(L, -3); }
  return 1;
}

/* ---- vocabulary -------------------------------------------------------- */

/* reasons() -> { {name=, type=, permanent_type=}, ... } in table order */
static int l_reasons(lua_State *L) {
  int i;
  lua_createtable(L, BNC_R__COUNT, 0);
  for (i = 0; i < BNC_R__COUNT; i++) {
    lua_createtable(L, 0, 3);
    set_str(L, "name", bnc_reason_name((bnc_reason_t)i));
    set_str(L, "type", bnc_type_name(bnc_reason_type((bnc_reason_t)i, 1)));
    set_str(L, "temporary_type", bnc_type_name(bnc_reason_type((bnc_reason_t)i, 0)));
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* type_of(reason [, permanent]) -> type | nil, err */
static int l_type_of(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  int r = bnc_reason_find(s, n);
  int perm = lua_isnoneornil(L, 2) ? 1 : lua_toboolean(L, 2);
  if (r < 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "unknown reason '%s'", s);
    return 2;
  }
  lua_pushstring(L, bnc_type_name(bnc_reason_type((bnc_reason_t)r, perm)));
  return 1;
}

/* describe(status) -> description, reason | nil, err */
static int l_describe(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  char *text = scratch(L, n + 1);
  bnc_reply_t r;
  const char *what;
  if (bnc_reply_parse(s, n, text, n + 1, &r) != BNC_OK || !r.st_class ||
      strcmp(r.status, s) != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "not an enhanced status code: '%s'", s);
    return 2;
  }
  what = bnc_status_describe(r.st_subject, r.st_detail);
  if (!what) {
    lua_pushnil(L);
    lua_pushfstring(L, "unregistered status code: '%s'", s);
    return 2;
  }
  lua_pushstring(L, what);
  lua_pushstring(L, bnc_reason_name(bnc_status_reason(r.st_subject, r.st_detail)));
  return 2;
}

/* ---- the FFI door (LuaJIT) -------------------------------------------- */

/* LuaJIT runs C API calls in its interpreter; through the FFI the same core
 * functions are compiled into traces. The module hands lua/bounce/init.lua a
 * table of function pointers (as a light userdata) instead of exporting
 * symbols; `abi` and the struct sizes let the Lua side check its cdefs. */
typedef struct {
  int abi;
  size_t reply_size, class_size;
  int (*parse)(const char *, size_t, char *, size_t, bnc_reply_t *);
  int (*compile)(bnc_ruleset_t *);
  void (*classify)(const bnc_ruleset_t *, const bnc_reply_t *, const char *,
                   size_t, const char *, size_t, bnc_class_t *);
  const bnc_rule_def_t *(*rule)(const bnc_ruleset_t *, size_t);
  unsigned (*generation)(const bnc_ruleset_t *);
} ffi_api;

static const ffi_api FFI_API = {
  1, sizeof(bnc_reply_t), sizeof(bnc_class_t),
  bnc_reply_parse, bnc_ruleset_compile, bnc_classify, bnc_ruleset_get,
  bnc_ruleset_generation,
};

/* rules:_handle() -> light userdata of the bnc_ruleset_t (for the FFI) */
static int rules_handle(lua_State *L) {
  lua_pushlightuserdata(L, check_rules(L, 1)->rs);
  return 1;
}

/* ---- history (issue 3) ---- */
/* The state machine, the record codec and the memory store's table. Params
 * are a plain userdata (no resources); the memory store is a userdata
 * owning a bnc_mstore_t (freed by __gc and __close). No call below holds
 * malloc'd memory while Lua may raise: argument checks come first. */
#include "address.h"
#include "history.h"
#include "mstore.h"
#include "record.h"

#define PARAMS_MT "bounce.params"
#define MSTORE_MT "bounce.mstore"

typedef struct { bnc_mstore_t *m; } lmstore;

static void history_mts(lua_State *L);

/* Registry keys (addresses) of the two metatables: checking a userdata by
 * a light userdata key avoids interning the metatable's name on every call
 * of the per-event functions. */
static const char params_key = 'p', mstore_key = 'm';

static void *fast_checkudata(lua_State *L, int i, const void *key, const char *tname) {
  void *p = lua_touserdata(L, i);
  if (p && lua_getmetatable(L, i)) {                  /* mt */
    int same;
    lua_pushlightuserdata(L, (void *)key);
    lua_rawget(L, LUA_REGISTRYINDEX);                 /* mt, expected */
    same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (same) return p;
  }
  return luaL_checkudata(L, i, tname);                /* raises the usual message */
}

/* Reads number field k of table t (absent: def; required when def < -1). */
static lua_Number num_field(lua_State *L, int t, const char *k, lua_Number def,
                            lua_Number lo, lua_Number hi) {
  lua_Number v;
  lua_getfield(L, t, k);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    if (def < -1) luaL_error(L, "bad argument #1 to 'params' (field '%s' missing)", k);
    return def;
  }
  if (lua_type(L, -1) != LUA_TNUMBER)
    luaL_error(L, "bad argument #1 to 'params' (field '%s': number expected, got %s)",
               k, luaL_typename(L, -1));
  v = lua_tonumber(L, -1);
  lua_pop(L, 1);
  if (!(v >= lo && v <= hi))
    luaL_error(L, "bad argument #1 to 'params' (field '%s': %f out of range %f..%f)",
               k, (double)v, (double)lo, (double)hi);
  return v;
}

/* Reads a list of seconds (or one number) into steps; returns the count. */
static uint32_t steps_field(lua_State *L, int t, const char *k, uint32_t *steps,
                            uint32_t n, const uint32_t *def) {
  uint32_t i;
  size_t len;
  lua_getfield(L, t, k);
  if (lua_isnil(L, -1)) { lua_pop(L, 1); memcpy(steps, def, n * sizeof *def); return n; }
  if (lua_type(L, -1) == LUA_TNUMBER) {
    lua_Number v = lua_tonumber(L, -1);
    if (!(v >= 0 && v <= 4294967295.0))
      luaL_error(L, "bad argument #1 to 'params' (field '%s': out of range)", k);
    steps[0] = (uint32_t)v;
    lua_pop(L, 1);
    return 1;
  }
  if (lua_type(L, -1) != LUA_TTABLE)
    luaL_error(L, "bad argument #1 to 'params' (field '%s': table expected, got %s)",
               k, luaL_typename(L, -1));
  len = bnc_rawlen(L, -1);
  if (len < 1) luaL_error(L, "bad argument #1 to 'params' (field '%s': empty list)", k);
  if (len > BNC_BACKOFF_MAX)
    luaL_error(L, "bad argument #1 to 'params' (field '%s': more than %d steps)", k, BNC_BACKOFF_MAX);
  for (i = 0; i < len; i++) {
    lua_Number v;
    lua_rawgeti(L, -1, (int)i + 1);
    v = lua_tonumber(L, -1);
    if (lua_type(L, -1) != LUA_TNUMBER || !(v >= 0 && v <= 4294967295.0))
      luaL_error(L, "bad argument #1 to 'params' (field '%s[%d]': seconds expected)", k, (int)i + 1);
    steps[i] = (uint32_t)v;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return (uint32_t)len;
}

/* params{ max_attempts=, permanent_max_attempts=, window= (0: none),
 *   reset_after= (0: never), hard_transient= (0 soft, 1 suppress),
 *   soft_backoff={...}, block_backoff={...}, soft_jitter=, block_jitter=,
 *   retention_hard=, retention_soft=, retention_complaint=,
 *   retention_unsubscribe=, retention_manual= } -> params userdata.
 * Seconds everywhere; retention -1 is forever; absent keys take defaults. */
static int l_params(lua_State *L) {
  static const char *const rk[BNC_CAUSE__COUNT] = {
    NULL, "retention_hard", "retention_soft", "retention_complaint",
    "retention_unsubscribe", "retention_manual"
  };
  bnc_params_t d, *p;
  int i;
  luaL_checktype(L, 1, LUA_TTABLE);
  bnc_params_default(&d);
  history_mts(L);
  p = lua_newuserdata(L, sizeof *p);
  *p = d;
  luaL_getmetatable(L, PARAMS_MT);
  lua_setmetatable(L, -2);
  p->max_attempts = (uint32_t)num_field(L, 1, "max_attempts", d.max_attempts, 1, 65535);
  p->permanent_max_attempts = (uint32_t)num_field(L, 1, "permanent_max_attempts",
                                                  p->max_attempts, 1, 65535);
  if (p->permanent_max_attempts > p->max_attempts) p->permanent_max_attempts = p->max_attempts;
  p->window = (uint32_t)num_field(L, 1, "window", d.window, 0, 4294967295.0);
  p->reset_after = (uint32_t)num_field(L, 1, "reset_after", d.reset_after, 0, 4294967295.0);
  p->hard_transient = (int)num_field(L, 1, "hard_transient", d.hard_transient, 0, 1);
  p->soft_jitter = num_field(L, 1, "soft_jitter", 0, 0, 1);
  p->block_jitter = num_field(L, 1, "block_jitter", 0, 0, 1);
  p->soft_steps = steps_field(L, 1, "soft_backoff", p->soft_backoff, d.soft_steps, d.soft_backoff);
  p->block_steps = steps_field(L, 1, "block_backoff", p->block_backoff, d.block_steps, d.block_backoff);
  for (i = 1; i < BNC_CAUSE__COUNT; i++)
    p->retention[i] = (int64_t)num_field(L, 1, rk[i], (lua_Number)d.retention[i], -1, 4294967295.0);
  return 1;
}

static int opt_code(lua_State *L, int i, int (*find)(const char *, size_t), int n,
                    int none, const char *what) {
  size_t len;
  const char *s;
  if (lua_isnoneornil(L, i)) return none;
  if (lua_type(L, i) == LUA_TNUMBER) {
    lua_Integer v = bnc_checkinteger(L, i);
    if (v < 0 || v >= n) luaL_argerror(L, i, lua_pushfstring(L, "unknown %s code", what));
    return (int)v;
  }
  s = luaL_checklstring(L, i, &len);
  {
    int c = find(s, len);
    if (c < 0) luaL_argerror(L, i, lua_pushfstring(L, "unknown %s '%s'", what, s));
    return c;
  }
}

static void push_time(lua_State *L, uint32_t t) {
  if (t) lua_pushinteger(L, (lua_Integer)t); else lua_pushnil(L);
}

/* Reads the blob at index i (nil or false: a new address) into *r.
 * Returns 1, or pushes nil, message and returns 0. */
static int read_record(lua_State *L, int i, bnc_record_t *r) {
  size_t len;
  const char *b;
  int rc;
  char msg[128];
  if (lua_isnoneornil(L, i) || (lua_type(L, i) == LUA_TBOOLEAN && !lua_toboolean(L, i))) {
    bnc_record_init(r);
    return 1;
  }
  b = luaL_checklstring(L, i, &len);
  rc = bnc_record_decode(b, len, r);
  if (rc == BNC_REC_OK) return 1;
  lua_pushnil(L);
  lua_pushstring(L, bnc_record_error(rc, b, len, msg, sizeof msg));
  return 0;
}

/* Name tables for push_name: the memory store's methods hold them as
 * upvalue 1 (interned once, not on every event); other callers intern. */
#define NAME_ACTION 0
#define NAME_STATE (NAME_ACTION + BNC_ACT__COUNT)
#define NAME_CAUSE (NAME_STATE + BNC_ST__COUNT)
#define NAME_REASON (NAME_CAUSE + BNC_CAUSE__COUNT)
#define NAME__COUNT (NAME_REASON + BNC_R__COUNT)

static const char *name_of(int i) {
  if (i < NAME_STATE) return bnc_action_name(i - NAME_ACTION);
  if (i < NAME_CAUSE) return bnc_state_name(i - NAME_STATE);
  if (i < NAME_REASON) return bnc_cause_name(i - NAME_CAUSE);
  return bnc_reason_name((bnc_reason_t)(i - NAME_REASON));
}

static void push_name(lua_State *L, int i) {
  if (lua_type(L, lua_upvalueindex(1)) == LUA_TTABLE) lua_rawgeti(L, lua_upvalueindex(1), i + 1);
  else lua_pushstring(L, name_of(i));
}

/* Pushes the 8 decision fields: action, state, reason, attempts,
 * retry_at, expires_at, since, cause. */
static void push_fields(lua_State *L, const bnc_decision_t *d) {
  push_name(L, NAME_ACTION + d->action);
  push_name(L, NAME_STATE + d->state);
  push_name(L, NAME_REASON + (((unsigned)d->reason < BNC_R__COUNT) ? d->reason : 0));
  lua_pushinteger(L, (lua_Integer)d->attempts);
  push_time(L, d->retry_at);
  push_time(L, d->expires_at);
  push_time(L, d->since);
  if (d->cause) push_name(L, NAME_CAUSE + d->cause); else lua_pushnil(L);
}

/* Pushes the decision fields and the blob to write (string), false (no
 * change) or "" (the record is clean: delete it). 9 values. */
static int push_decision(lua_State *L, const bnc_record_t *r, const bnc_decision_t *d) {
  push_fields(L, d);
  if (!d->changed) lua_pushboolean(L, 0);
  else if (bnc_record_is_clean(r)) lua_pushliteral(L, "");
  else {
    unsigned char out[BNC_RECORD_SIZE];
    bnc_record_encode(r, out);
    lua_pushlstring(L, (const char *)out, sizeof out);
  }
  return 9;
}

/* Reads event arguments at i.. : event, reason, at [, rand [, permanent]]. */
static void read_event(lua_State *L, int i, bnc_event_in_t *ev) {
  lua_Number at;
  ev->type = opt_code(L, i, bnc_event_find, BNC_EV__COUNT, -1, "event");
  if (ev->type <= BNC_EV_NONE) luaL_argerror(L, i, "event expected");
  ev->reason = opt_code(L, i + 1, bnc_reason_find, BNC_R__COUNT, BNC_R_UNDEFINED, "reason");
  at = luaL_checknumber(L, i + 2);
  if (!(at >= 1 && at <= 4294967295.0)) luaL_argerror(L, i + 2, "time out of range 1..2^32-1");
  ev->at = (int64_t)at;
  ev->rand = luaL_optnumber(L, i + 3, 0);
  luaL_argcheck(L, ev->rand >= 0 && ev->rand < 1, i + 3, "number in [0,1) expected");
  ev->permanent = lua_toboolean(L, i + 4);
  /* a hard bounce whose permanence is said to be false came with a 4xx */
  ev->transient = ev->type == BNC_EV_HARD && lua_type(L, i + 4) == LUA_TBOOLEAN &&
                  !ev->permanent;
}

/* step(blob|nil, params, event, reason|nil, at [, rand [, permanent]]) ->
 *   action, state, reason, attempts, retry_at, expires_at, since, cause, blob
 * | nil, err when the blob is not a sound record. */
static int l_step(lua_State *L) {
  bnc_record_t r;
  bnc_decision_t d;
  bnc_event_in_t ev;
  const bnc_params_t *p = fast_checkudata(L, 2, &params_key, PARAMS_MT);
  read_event(L, 3, &ev);
  if (!read_record(L, 1, &r)) return 2;
  bnc_history_step(&r, &ev, p, &d);
  return push_decision(L, &r, &d);
}

static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

/* decode(blob) -> table | nil, err. Times that are "none" are absent. */
static int l_decode(lua_State *L) {
  bnc_record_t r;
  luaL_checkstring(L, 1);
  if (!read_record(L, 1, &r)) return 2;
  lua_createtable(L, 0, 14);
  set_str(L, "state", bnc_state_name(r.state));
  if (r.cause) set_str(L, "cause", bnc_cause_name(r.cause));
  if (r.last_event) set_str(L, "last_event", bnc_event_name(r.last_event));
  set_str(L, "reason", bnc_reason_name((bnc_reason_t)r.last_reason));
  set_int(L, "attempts", r.soft_count);
  set_int(L, "blocks", r.block_count);
  set_int(L, "bounces", r.bounces);
  if (r.last_at) set_int(L, "last_at", r.last_at);
  if (r.last_soft_at) set_int(L, "last_soft_at", r.last_soft_at);
  if (r.state == BNC_ST_SUPPRESSED) {
    if (r.t1) set_int(L, "since", r.t1);
    if (r.t2) set_int(L, "expires_at", r.t2);
  } else {
    if (r.t1) set_int(L, "streak_start", r.t1);
    if (r.t2) set_int(L, "retry_at", r.t2);
  }
  return 1;
}

/* record_expiry(blob) -> false (not suppressed) | expires_at (0: forever)
 * | nil, err: what expire() needs, without building a table. */
static int l_record_expiry(lua_State *L) {
  bnc_record_t r;
  luaL_checkstring(L, 1);
  if (!read_record(L, 1, &r)) return 2;
  if (r.state != BNC_ST_SUPPRESSED) lua_pushboolean(L, 0);
  else lua_pushinteger(L, (lua_Integer)r.t2);
  return 1;
}

static uint32_t time_field(lua_State *L, const char *k) {
  return (uint32_t)num_field(L, 1, k, 0, 0, 4294967295.0);
}

static int name_field(lua_State *L, const char *k, int (*find)(const char *, size_t), int def) {
  size_t len;
  const char *s;
  int c;
  lua_getfield(L, 1, k);
  if (lua_isnil(L, -1)) { lua_pop(L, 1); return def; }
  s = lua_tolstring(L, -1, &len);
  c = s ? find(s, len) : -1;
  if (c < 0) luaL_error(L, "bad argument #1 to 'encode' (field '%s': unknown name)", k);
  lua_pop(L, 1);
  return c;
}

static int state_find(const char *s, size_t len) {
  int i;
  for (i = 0; i < BNC_ST__COUNT; i++)
    if (strlen(bnc_state_name(i)) == len && memcmp(bnc_state_name(i), s, len) == 0) return i;
  return -1;
}

/* encode(t) -> blob: the inverse of decode (for tests, tools, migrations). */
static int l_encode(lua_State *L) {
  bnc_record_t r;
  unsigned char out[BNC_RECORD_SIZE];
  luaL_checktype(L, 1, LUA_TTABLE);
  bnc_record_init(&r);
  r.state = (uint8_t)name_field(L, "state", state_find, BNC_ST_ACTIVE);
  r.cause = (uint8_t)name_field(L, "cause", bnc_cause_find, BNC_CAUSE_NONE);
  r.last_event = (uint8_t)name_field(L, "last_event", bnc_event_find, BNC_EV_NONE);
  r.last_reason = (uint8_t)name_field(L, "reason", bnc_reason_find, BNC_R_UNDEFINED);
  r.soft_count = (uint16_t)num_field(L, 1, "attempts", 0, 0, 65535);
  r.block_count = (uint16_t)num_field(L, 1, "blocks", 0, 0, 65535);
  r.bounces = (uint16_t)num_field(L, 1, "bounces", 0, 0, 65535);
  r.last_at = time_field(L, "last_at");
  r.last_soft_at = time_field(L, "last_soft_at");
  if (r.state == BNC_ST_SUPPRESSED) {
    r.t1 = time_field(L, "since");
    r.t2 = time_field(L, "expires_at");
  } else {
    r.t1 = time_field(L, "streak_start");
    r.t2 = time_field(L, "retry_at");
  }
  if ((r.state == BNC_ST_SUPPRESSED) != (r.cause != BNC_CAUSE_NONE) ||
      r.last_event == BNC_EV_CHECK)
    luaL_error(L, "bad argument #1 to 'encode' (a cause goes with state 'suppressed' only)");
  bnc_record_encode(&r, out);
  lua_pushlstring(L, (const char *)out, sizeof out);
  return 1;
}

/* ---- the memory store ---- */

static lmstore *check_mstore(lua_State *L) {
  lmstore *u = fast_checkudata(L, 1, &mstore_key, MSTORE_MT);
  if (!u->m) luaL_argerror(L, 1, "store is closed");
  return u;
}

/* mstore([value_size]) -> store; value_size defaults to a record's size. */
static int l_mstore(lua_State *L) {
  lua_Integer vs = lua_isnoneornil(L, 1) ? BNC_RECORD_SIZE : bnc_checkinteger(L, 1);
  lmstore *u;
  luaL_argcheck(L, vs >= 1 && vs <= 255, 1, "value size out of range 1..255");
  history_mts(L);
  u = lua_newuserdata(L, sizeof *u);
  u->m = NULL;
  luaL_getmetatable(L, MSTORE_MT);
  lua_setmetatable(L, -2);
  u->m = bnc_mstore_new((size_t)vs);
  if (!u->m) luaL_error(L, "not enough memory");
  return 1;
}

static int mstore_gc(lua_State *L) {
  lmstore *u = luaL_checkudata(L, 1, MSTORE_MT);
  bnc_mstore_free(u->m);
  u->m = NULL;
  return 0;
}

static const char *check_key(lua_State *L, int i, size_t *len) {
  const char *k = luaL_checklstring(L, i, len);
  luaL_argcheck(L, *len >= 1 && *len <= BNC_MSTORE_KEY_MAX, i, "key must be 1..255 bytes");
  return k;
}

/* store:get(key) -> blob | nil */
static int mstore_get(lua_State *L) {
  lmstore *u = check_mstore(L);
  size_t kl;
  const char *k = check_key(L, 2, &kl);
  const unsigned char *v = bnc_mstore_get(u->m, k, kl);
  if (!v) return 0;
  lua_pushlstring(L, (const char *)v, bnc_mstore_vsize(u->m));
  return 1;
}

/* store:cas(key, old|nil, new|nil [, ttl]) -> true | false (conflict) | nil, err.
 * new == nil deletes. The memory store keeps no ttl: the tracker expires. */
static int mstore_cas(lua_State *L) {
  lmstore *u = check_mstore(L);
  size_t kl, ol = 0, nl = 0, vs = bnc_mstore_vsize(u->m);
  const char *k = check_key(L, 2, &kl);
  const char *o = lua_isnil(L, 3) ? NULL : luaL_checklstring(L, 3, &ol);
  const char *n = lua_isnoneornil(L, 4) ? NULL : luaL_checklstring(L, 4, &nl);
  const unsigned char *cur = bnc_mstore_get(u->m, k, kl);
  if (n && nl != vs) {
    lua_pushnil(L);
    lua_pushfstring(L, "memory store holds values of %d bytes, got %d", (int)vs, (int)nl);
    return 2;
  }
  if (o ? !(cur && ol == vs && memcmp(cur, o, vs) == 0) : cur != NULL) {
    lua_pushboolean(L, 0);
    return 1;
  }
  if (!n) bnc_mstore_del(u->m, k, kl);
  else if (bnc_mstore_put(u->m, k, kl, (const unsigned char *)n) != BNC_OK) {
    lua_pushnil(L);
    lua_pushliteral(L, "memory store: not enough memory");
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* Reads the record under key (none: a clean record), applies ev under p
 * and writes the result back, in place when the key is there (a record
 * that became clean is deleted). Returns NULL, or what is wrong with the
 * stored record (then nothing is written; msg holds the text). Raises only
 * when the table cannot grow. */
static const char *mstore_step(lua_State *L, bnc_mstore_t *m, const char *k, size_t kl,
                               const bnc_params_t *p, const bnc_event_in_t *ev,
                               bnc_decision_t *d, char *msg, size_t cap) {
  bnc_record_t r;
  unsigned char *cur = bnc_mstore_ref(m, k, kl);
  int rc;
  if (!cur) bnc_record_init(&r);
  else if ((rc = bnc_record_decode(cur, BNC_RECORD_SIZE, &r)) != BNC_REC_OK)
    return bnc_record_error(rc, cur, BNC_RECORD_SIZE, msg, cap);
  bnc_history_step(&r, ev, p, d);
  if (!d->changed) return NULL;
  if (bnc_record_is_clean(&r)) {
    if (cur) bnc_mstore_del(m, k, kl);
  } else if (cur) {
    bnc_record_encode(&r, cur);   /* in place: no second lookup */
  } else {
    unsigned char out[BNC_RECORD_SIZE];
    bnc_record_encode(&r, out);
    if (bnc_mstore_put(m, k, kl, out) != BNC_OK) luaL_error(L, "not enough memory");
  }
  return NULL;
}

/* store:apply(key, params, event, reason, at [, rand [, permanent]]): get, step and write
 * in one call (the memory store is atomic within its Lua state). Returns
 * what step returns, the last value being true when the record changed. */
static int mstore_apply(lua_State *L) {
  lmstore *u = check_mstore(L);
  size_t kl;
  const char *k = check_key(L, 2, &kl);
  const bnc_params_t *p = fast_checkudata(L, 3, &params_key, PARAMS_MT);
  bnc_event_in_t ev;
  bnc_decision_t d;
  char msg[128];
  const char *why;
  read_event(L, 4, &ev);
  luaL_checkstack(L, 10, NULL);
  if (bnc_mstore_vsize(u->m) != BNC_RECORD_SIZE) luaL_argerror(L, 1, "store does not hold records");
  why = mstore_step(L, u->m, k, kl, p, &ev, &d, msg, sizeof msg);
  if (why) {
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
  }
  push_fields(L, &d);
  lua_pushboolean(L, d.changed);
  return 9;
}

/* Iterator step: upvalue 1 the store, 2 the next index (counting down). */
static int mstore_next(lua_State *L) {
  lmstore *u = lua_touserdata(L, lua_upvalueindex(1));
  lua_Integer i = lua_tointeger(L, lua_upvalueindex(2));
  const char *k;
  size_t kl;
  const unsigned char *v;
  if (!u->m) return 0;
  if (i > (lua_Integer)bnc_mstore_count(u->m)) i = (lua_Integer)bnc_mstore_count(u->m);
  if (i <= 0) return 0;
  v = bnc_mstore_at(u->m, (size_t)(i - 1), &k, &kl);
  lua_pushinteger(L, i - 1);
  lua_replace(L, lua_upvalueindex(2));
  lua_pushlstring(L, k, kl);
  lua_pushlstring(L, (const char *)v, bnc_mstore_vsize(u->m));
  return 2;
}

/* store:scan() -> iterator of key, blob. Deleting the key just returned
 * is safe; other changes during a scan may repeat or skip keys. */
static int mstore_scan(lua_State *L) {
  lmstore *u = check_mstore(L);
  lua_settop(L, 1);
  lua_pushinteger(L, (lua_Integer)bnc_mstore_count(u->m));
  lua_pushcclosure(L, mstore_next, 2);
  return 1;
}

static int mstore_count(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)bnc_mstore_count(check_mstore(L)->m));
  return 1;
}

/* store:bytes() -> bytes allocated, bytes of the keys themselves */
static int mstore_bytes(lua_State *L) {
  lmstore *u = check_mstore(L);
  lua_pushnumber(L, (lua_Number)bnc_mstore_bytes(u->m));
  lua_pushnumber(L, (lua_Number)bnc_mstore_key_bytes(u->m));
  return 2;
}

static const luaL_Reg mstore_methods[] = {
  { "get", mstore_get }, { "cas", mstore_cas }, { "apply", mstore_apply },
  { "scan", mstore_scan }, { "count", mstore_count }, { "bytes", mstore_bytes },
  { "close", mstore_gc }, { NULL, NULL }
};

/* Registers the metatables of this section (once per state; later calls
 * only look them up): history_funcs is all this section adds to luaopen. */
static void history_mts(lua_State *L) {
  if (luaL_newmetatable(L, PARAMS_MT)) {              /* mt */
    lua_pushliteral(L, PARAMS_MT);
    lua_setfield(L, -2, "__name");
    lua_pushlightuserdata(L, (void *)&params_key);
    lua_pushvalue(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, MSTORE_MT)) {              /* mt */
    int i;
    lua_pushlightuserdata(L, (void *)&mstore_key);
    lua_pushvalue(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
    luaL_newlibtable(L, mstore_methods);              /* mt, methods */
    lua_createtable(L, NAME__COUNT, 0);               /* mt, methods, names */
    for (i = 0; i < NAME__COUNT; i++) {
      lua_pushstring(L, name_of(i));
      lua_rawseti(L, -2, i + 1);
    }
    luaL_setfuncs(L, mstore_methods, 1);              /* mt, methods */
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, mstore_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, mstore_gc);
    lua_setfield(L, -2, "__close");
    lua_pushliteral(L, MSTORE_MT);
    lua_setfield(L, -2, "__name");
  }
  lua_pop(L, 1);
}

/* normalize_address(s [, case_sensitive]) -> key, domain | nil, err (also
 * for a non-string s, so callers check types off the hot path).
 * The input string itself comes back when it is already normal. */
static int l_normalize_address(lua_State *L) {
  size_t len, olen, at;
  const char *s;
  if (lua_type(L, 1) != LUA_TSTRING) {   /* the caller names its own argument */
    lua_pushnil(L);
    lua_pushfstring(L, "invalid address: string expected, got %s", luaL_typename(L, 1));
    return 2;
  }
  s = lua_tolstring(L, 1, &len);
  char out[BNC_ADDRESS_MAX + 2];
  const char *why = len > 1024 ? "longer than RFC 5321 allows"
    : bnc_address_normalize(s, len, lua_toboolean(L, 2), out, &olen, &at);
  if (why) {
    char shown[84];
    size_t n = len > 80 ? 80 : len;
    memcpy(shown, s, n);
    strcpy(shown + n, len > 80 ? "..." : "");
    lua_pushnil(L);
    lua_pushfstring(L, "invalid address '%s': %s", shown, why);
    return 2;
  }
  if (olen == len && memcmp(out, s, len) == 0) lua_settop(L, 1);
  else lua_pushlstring(L, out, olen);
  lua_pushlstring(L, out + at + 1, olen - at - 1);
  return 2;
}

/* ---- the tracker's fast path (issue 3) ---- */
/* t:record over the memory store in one C call. Measured on Lua 5.4
 * (callgrind): a C API call costs about what a VM instruction does
 * (reading a field ~95 instructions from C, ~65 from Lua) and a table
 * built from C costs as much as a Lua constructor; what pays is doing in
 * one call what took several (normalize, classify a reply, floor, apply,
 * type checks), the health counts (buffered below) and the work between
 * them. So the decision's fields come back as values and t:record builds
 * the table. Only the common case is handled: for any other the function
 * declines before any side effect and t:record's Lua code runs as before,
 * with its own checks and errors. */

/* Upvalues of the functions core.recorder makes. Field and value names are
 * upvalues of their own: pushing one (and lua_rawget) is half the cost of
 * lua_getfield, which looks a C string up in the string cache, or of
 * lua_rawgeti from a table of names. */
enum { RU_STATE = 1,  /* the fstate userdata (below) */
       RU_EVENTS,     /* event type -> code: the tracker's table */
       RU_REASONS,    /* reason name -> code */
       RU_HEALTH,     /* event code -> health counter index */
       RU_PARAMS_MT, RU_STORE, RU_CLOCK,
       RU_DCACHE,     /* domain -> reason or "" -> params, set by health("ctx") */
       RU_HAND,       /* the tracker's function that counts what the buffer hands over */
       RU_RULES,      /* the rule set replies are classified with (bounce.classify's) */
       RU_RCPT, RU_REPLY, RU_TYPE, RU_REASON, RU_COUNT, RU_PERMANENT, RU_AT, RU_CAMPAIGN,
       RU_SENDER, RU_EMPTY, RU_DOMAIN, RU_RHOST, RU_COMMAND,
       RU_NAMES,      /* NAME__COUNT names for push_nm */
       RU__COUNT = RU_NAMES + NAME__COUNT };
static const char *const RU_FIELDS[] = {
  "rcpt", "reply", "type", "reason", "count", "permanent", "at", "campaign", "sender", "",
  "domain", "rhost", "command"
};
typedef char ru_fits[RU__COUNT - 1 <= 255 ? 1 : -1];   /* a C closure has 255 upvalues */

/* Whether the value at i has the metatable at index mt. */
static int has_mt(lua_State *L, int i, int mt) {
  int same;
  if (!lua_getmetatable(L, i)) return 0;
  same = lua_rawequal(L, -1, mt);
  lua_pop(L, 1);
  return same;
}

/* A table without a metatable: reading its fields has no side effect, so a
 * declined event can be read again by t:record. */
static int plain_table(lua_State *L, int i) {
  if (lua_type(L, i) != LUA_TTABLE) return 0;
  if (!lua_getmetatable(L, i)) return 1;
  lua_pop(L, 1);
  return 0;
}

/* Pushes field RU_* k of the event (argument 1, a plain table); its type. */
static int ev_field(lua_State *L, int k) {
  lua_pushvalue(L, lua_upvalueindex(k));
  lua_rawget(L, 1);
  return lua_type(L, -1);
}

/* Pushes name i (NAME_*). */
static void push_nm(lua_State *L, int i) {
  lua_pushvalue(L, lua_upvalueindex(RU_NAMES + i));
}

/* ---- health counts of the fast path ----
 * t:record counts each event in Lua tables (scope -> bucket -> 6 counts):
 * ~1400 instructions an event on Lua 5.4 for a domain and a campaign. The
 * fast path adds to this buffer instead: one entry per scope (kind and
 * name) holding the counts of one bucket. An entry is handed to the
 * tracker's function (which counts as t:record does) when its scope gets
 * an event of another bucket or one the buffer does not take; all are
 * handed over when a newer bucket starts (so the buffer holds one bucket's
 * scopes, at most HB_MAX) and before anything reads the counters. A
 * scope's counts thus reach the counters in the order they came, grouped
 * by bucket: the counters end as if each event had been counted at once.
 * A domain's entry also remembers its params for events without a reason
 * (most events), saving the domain string and two dcache lookups; they are
 * forgotten with the dcache (health("ctx")) and when entries go. The
 * buffer is a plain userdata (~230 KB): no malloc, nothing to free. */
#define HB_SLOTS 2048                  /* a power of two */
#define HB_MAX (HB_SLOTS / 4 * 3)      /* entries; past it new scopes are counted at once */
#define HB_NAME 64                     /* longer names are counted at once */
#define HB_KINDS 6                     /* health kinds: sent ... complaint */

enum { HK_NONE = 0, HK_DOMAIN, HK_CAMPAIGN, HK_SENDER };   /* HK_NONE: a free slot */

typedef struct {
  lua_Integer b;                       /* the bucket of the counts */
  const bnc_params_t *p0;              /* a domain's params for events without reason */
  uint32_t hash;
  uint32_t n[HB_KINDS];
  unsigned char kind, len;
  char name[HB_NAME];
} hb_entry;

typedef struct {
  lua_Integer newest;                  /* the newest bucket an entry was made for */
  size_t count;                        /* entries in use */
  hb_entry e[HB_SLOTS];
} hbuf;

/* What the fast path reads on every event, in one userdata: the store's
 * memory (upvalue RU_STORE keeps it alive), the buffer's (its user value
 * does) and the policy's settings the tracker gives with health("ctx"). */
typedef struct {
  lmstore *store;
  hbuf *h;             /* NULL until the first event */
  lua_Number length;   /* health bucket length; 0: no health */
  int cs;              /* case-sensitive local parts */
} fstate;

static uint32_t hb_hash(int kind, const char *s, size_t n) {
  return bnc_mstore_hash(s, n, (uint64_t)n << 2 | (uint64_t)kind);
}

/* The entry of the scope, or the free slot where it goes. */
static hb_entry *hb_slot(hbuf *h, int kind, const char *s, size_t len) {
  uint32_t hash = hb_hash(kind, s, len);
  size_t i = hash & (HB_SLOTS - 1);
  for (;; i = (i + 1) & (HB_SLOTS - 1)) {
    hb_entry *e = &h->e[i];
    if (e->kind == HK_NONE) { e->hash = hash; return e; }
    if (e->hash == hash && e->kind == kind && e->len == len && memcmp(e->name, s, len) == 0)
      return e;
  }
}

/* Makes the free slot e the entry of a scope, counts at 0. */
static void hb_new(hbuf *h, hb_entry *e, int kind, const char *s, size_t len, lua_Integer b) {
  e->kind = (unsigned char)kind;
  e->len = (unsigned char)len;
  memcpy(e->name, s, len);
  e->b = b;
  e->p0 = NULL;
  h->count++;
}

/* Hands the entry's counts to the tracker (upvalue RU_HAND), one call per
 * kind counted: hand(kind, name, bucket, i, n). The counts are cleared
 * first: whatever happens in the calls, nothing is handed twice. */
static void hb_hand(lua_State *L, hb_entry *e) {
  uint32_t n[HB_KINDS];
  int i;
  memcpy(n, e->n, sizeof n);
  memset(e->n, 0, sizeof e->n);
  luaL_checkstack(L, 6, NULL);
  for (i = 0; i < HB_KINDS; i++) {
    if (!n[i]) continue;
    lua_pushvalue(L, lua_upvalueindex(RU_HAND));
    lua_pushvalue(L, lua_upvalueindex(e->kind == HK_DOMAIN ? RU_DOMAIN
                                      : e->kind == HK_CAMPAIGN ? RU_CAMPAIGN : RU_SENDER));
    lua_pushlstring(L, e->name, e->len);
    lua_pushinteger(L, e->b);
    lua_pushinteger(L, i + 1);
    lua_pushinteger(L, (lua_Integer)n[i]);
    lua_call(L, 5, 0);
  }
}

/* Hands over every entry, then empties the buffer. */
static void hb_hand_all(lua_State *L, hbuf *h) {
  size_t i;
  if (!h->count) return;
  for (i = 0; i < HB_SLOTS; i++)
    if (h->e[i].kind != HK_NONE) hb_hand(L, &h->e[i]);
  memset(h->e, 0, sizeof h->e);
  h->count = 0;
}

/* A scope's name as the counters key it: a string as it is, a number as
 * tostring makes it. Returns 1 with the name (a string on the stack holds
 * it: slot i, the caller's own), 0 for nil, -1 for other values. */
static int scope_name(lua_State *L, int i, const char **s, size_t *len) {
  int t = lua_type(L, i);
  if (t == LUA_TNIL) return 0;
  if (t != LUA_TSTRING && t != LUA_TNUMBER) return -1;
  *s = lua_tolstring(L, i, len);   /* a number's slot becomes its string, as tostring gives */
  return 1;
}

/* The names of an event's scopes: the domain (bytes), the campaign and
 * the sender (stack slots camp, snd). r[k]: 1 a name, 0 none, -1 one only
 * tostring can tell. */
static void scope_names(lua_State *L, const char *dom, size_t dlen, int camp, int snd,
                        const char **s, size_t *len, int *r) {
  s[0] = dom;
  len[0] = dlen;
  r[0] = 1;
  r[1] = scope_name(L, camp, &s[1], &len[1]);
  r[2] = scope_name(L, snd, &s[2], &len[2]);
}

/* Before t:record counts an event's scopes at once, hands over what the
 * buffer holds for them; for a name it cannot tell, everything. */
static void hb_hand_scopes(lua_State *L, hbuf *h, const char *dom, size_t dlen, int camp,
                           int snd) {
  const char *s[3];
  size_t len[3];
  int k, r[3];
  if (!h->count) return;
  scope_names(L, dom, dlen, camp, snd, s, len, r);
  for (k = 0; k < 3; k++) {
    if (r[k] < 0) { hb_hand_all(L, h); return; }
    if (r[k] > 0 && len[k] <= HB_NAME) {
      hb_entry *e = hb_slot(h, HK_DOMAIN + k, s[k], len[k]);
      if (e->kind != HK_NONE) hb_hand(L, e);
    }
  }
}

/* Counts one event of health kind hi in bucket b for its scopes. de is the
 * domain's entry when the caller has it (or NULL). Returns 1 when the
 * buffer took the event, 0 when t:record must count it at once (it then
 * finds nothing of these scopes in the buffer). */
static int hb_count(lua_State *L, hbuf *h, lua_Integer b, int hi, const char *dom, size_t dlen,
                    hb_entry *de, int camp, int snd) {
  const char *s[3];
  size_t len[3];
  int k, r[3];
  if (b > h->newest) {   /* a newer bucket: the older ones go */
    hb_hand_all(L, h);
    h->newest = b;
    de = NULL;
  }
  scope_names(L, dom, dlen, camp, snd, s, len, r);
  for (k = 0; k < 3; k++)
    if (r[k] < 0 || (r[k] > 0 && len[k] > HB_NAME)) break;
  if (k < 3 || h->count + 3 > HB_MAX) {
    hb_hand_scopes(L, h, dom, dlen, camp, snd);
    return 0;
  }
  for (k = 0; k < 3; k++) {
    hb_entry *e;
    if (!r[k]) continue;
    e = (k == 0 && de) ? de : hb_slot(h, HK_DOMAIN + k, s[k], len[k]);
    if (e->kind == HK_NONE) {
      hb_new(h, e, HK_DOMAIN + k, s[k], len[k], b);
    } else if (e->b != b || e->n[hi - 1] == UINT32_MAX) {
      hb_hand(L, e);
      e->b = b;
    }
    e->n[hi - 1]++;
  }
  return 1;
}

/* Makes the buffer, on the first event (a tracker that records nothing
 * does not pay for it), kept alive by the state (upvalue RU_STATE) that
 * points to it. */
static hbuf *hb_make(lua_State *L) {
  fstate *st = lua_touserdata(L, lua_upvalueindex(RU_STATE));
  hbuf *h;
  lua_createtable(L, 1, 0);                           /* t */
  h = lua_newuserdata(L, sizeof *h);                  /* t, buffer */
  memset(h, 0, sizeof *h);
  h->newest = -1;   /* buckets are >= 0 */
  lua_rawseti(L, -2, 1);                              /* t */
  bnc_setuservalue(L, lua_upvalueindex(RU_STATE));    /* (a table: Lua 5.1 wants one) */
  st->h = h;
  return h;
}

/* The longest reply the fast path classifies (on its stack); a longer one
 * goes the Lua way, which gives the same answer. */
#define FAST_REPLY_MAX 4096

/* Classifies the event's reply (the string at slot i) as t:record's Lua
 * path does with bounce.classify: with the event's rhost and command when
 * given. Returns 0 (and leaves the stack as it was) for what that path
 * would refuse or raise on: no rule set, a reply that is empty or too long
 * here, an rhost or command that is not a string, an unknown command. */
static int classify_reply(lua_State *L, int i, bnc_class_t *out) {
  char text[FAST_REPLY_MAX + 1];
  const char *s, *rhost = NULL, *cmd = NULL;
  size_t len, rhl = 0, cl = 0;
  lrules *u = lua_touserdata(L, lua_upvalueindex(RU_RULES));   /* checked by recorder */
  bnc_reply_t r;
  int ok = 0, th, tc;
  s = lua_tolstring(L, i, &len);
  if (!u || !u->rs || len > FAST_REPLY_MAX) return 0;
  th = ev_field(L, RU_RHOST);                          /* rhost, command */
  tc = ev_field(L, RU_COMMAND);
  if ((th == LUA_TNIL || th == LUA_TSTRING) && (tc == LUA_TNIL || tc == LUA_TSTRING)) {
    /* (the strings stay alive in the event table until the pop below) */
    if (th == LUA_TSTRING) rhost = lua_tolstring(L, -2, &rhl);
    if (tc == LUA_TSTRING) cmd = lua_tolstring(L, -1, &cl);
    compile(L, u->rs);
    ok = classify_reply_text(u->rs, s, len, text, sizeof text, cmd, cl, &rhost, &rhl, &r,
                             out) == BNC_OK;
  }
  lua_pop(L, 2);
  return ok;
}

/* Stack slots of l_record after its 2 arguments; nothing is popped. */
enum { RS_RCPT = 3, RS_REPLY, RS_TYPE, RS_CODE, RS_REASON, RS_RC, RS_COUNT, RS_PERMANENT,
       RS_NOW, RS_KEY, RS_DOMAIN, RS_ROW, RS_PARAMS, RS_CAMPAIGN, RS_SENDER, RS__NEXT };

/* record(ev, into), one of the functions core.recorder makes: t:record over
 * its store and clock, and the dcache and settings health("ctx") gave.
 * Returns
 *   action, state, reason, attempts, at, retry_at, since, expires_at,
 *   cause, key, event type [, domain, count, health bucket, health index]
 * (the last four only when t:record must count the event's health itself;
 * count as given, or 1), or declines: returns nothing, or false, now when
 * clock() was called first (t:record then uses that answer: the clock runs
 * once per event whichever path goes on). Declined: a closed store, an
 * event or `into` that is not a table without metatable, an address
 * t:record refuses, a reply classify_reply declines, an unknown type or reason, a count
 * that is not a whole number, `at` out of range, params not cached yet,
 * jitter to draw, a corrupt record. */
static int l_record(lua_State *L) {
  const fstate *st = lua_touserdata(L, lua_upvalueindex(RU_STATE));
  lmstore *u = st->store;
  hbuf *h = st->h;
  hb_entry *e;
  const bnc_params_t *p;
  const char *dom;
  size_t dlen;
  bnc_event_in_t ev;
  bnc_decision_t d;
  bnc_class_t cl;
  size_t len, olen, amp;
  const char *s;
  char key[BNC_ADDRESS_MAX + 2], msg[128];
  lua_Number t;
  lua_Integer hb = 0;
  int clocked = 0, hi = 0, classified = 0;
  lua_settop(L, 2);
  luaL_checkstack(L, RS__NEXT + 16, NULL);
  if (!u->m || bnc_mstore_vsize(u->m) != BNC_RECORD_SIZE) return 0;
  if (!h) h = hb_make(L);
  if (!plain_table(L, 1) || (lua_toboolean(L, 2) && !plain_table(L, 2))) return 0;
  if (ev_field(L, RU_RCPT) != LUA_TSTRING) return 0;                  /* RS_RCPT */
  s = lua_tolstring(L, RS_RCPT, &len);
  /* a reply decides type, reason and permanence, whatever else the event
   * says, as in t:record's Lua path */
  switch (ev_field(L, RU_REPLY)) {                                    /* RS_REPLY */
  case LUA_TNIL: break;
  case LUA_TSTRING:
    if (!classify_reply(L, RS_REPLY, &cl)) return 0;
    classified = 1;
    break;
  default: return 0;
  }
  if (classified) lua_pushstring(L, bnc_type_name(cl.type));          /* RS_TYPE */
  else ev_field(L, RU_TYPE);
  lua_pushvalue(L, RS_TYPE);
  lua_rawget(L, lua_upvalueindex(RU_EVENTS));                         /* RS_CODE */
  if (lua_type(L, RS_CODE) != LUA_TNUMBER) return 0;
  ev.type = (int)lua_tointeger(L, RS_CODE);
  ev.reason = 0;
  if (classified) push_nm(L, NAME_REASON + (int)cl.reason);           /* RS_REASON */
  else ev_field(L, RU_REASON);
  if (lua_isnil(L, RS_REASON)) {
    lua_pushnil(L);                                                   /* RS_RC */
  } else {
    lua_pushvalue(L, RS_REASON);
    lua_rawget(L, lua_upvalueindex(RU_REASONS));
    if (lua_type(L, RS_RC) != LUA_TNUMBER) return 0;
    ev.reason = (int)lua_tointeger(L, RS_RC);
  }
  if (ev_field(L, RU_COUNT) != LUA_TNIL) {   /* RS_COUNT: t:record counts it */
    t = lua_tonumber(L, RS_COUNT);
    if (lua_type(L, RS_COUNT) != LUA_TNUMBER || !(t >= 1 && t <= 9007199254740992.0) ||
        t != (lua_Number)(lua_Integer)t)
      return 0;
  }
  ev.permanent = ev.transient = 0;
  if (ev.type == BNC_EV_SOFT || ev.type == BNC_EV_HARD) {   /* only these read it */
    if (classified) lua_pushboolean(L, cl.permanent);                 /* RS_PERMANENT */
    else ev_field(L, RU_PERMANENT);
    ev.permanent = lua_toboolean(L, RS_PERMANENT);
    /* a hard bounce said with a 4xx (permanent false, not absent) */
    ev.transient = ev.type == BNC_EV_HARD && lua_type(L, RS_PERMANENT) == LUA_TBOOLEAN &&
                   !ev.permanent;
  } else {
    lua_pushnil(L);                                                   /* RS_PERMANENT */
  }
  /* the address before the clock: t:record refuses a bad one first */
  if (len > 1024 || bnc_address_normalize(s, len, st->cs, key, &olen, &amp)) return 0;
  if (ev_field(L, RU_AT) == LUA_TNIL) {                               /* RS_NOW */
    lua_pushvalue(L, lua_upvalueindex(RU_CLOCK));
    lua_call(L, 0, 1);
    lua_replace(L, RS_NOW);
    clocked = 1;
  } else if (lua_type(L, RS_NOW) != LUA_TNUMBER) {
    return 0;   /* t:record says what is wrong */
  }
  /* floor(at) must be in 1..2^32-1, as t:record and then apply require */
  t = lua_tonumber(L, RS_NOW);
  if (lua_type(L, RS_NOW) != LUA_TNUMBER || !(t >= 1 && t < 4294967296.0)) goto decline;
  ev.at = (int64_t)t;   /* t >= 1: truncation is floor */
  ev.rand = 0;
  if (olen == len && memcmp(key, s, len) == 0) lua_pushvalue(L, RS_RCPT);  /* RS_KEY */
  else lua_pushlstring(L, key, olen);
  dom = key + amp + 1;
  dlen = olen - amp - 1;
  /* params: the domain's entry in the buffer has them for events without
   * a reason (most events); else dcache[domain][reason or ""] */
  p = NULL;
  e = NULL;
  if (lua_isnil(L, RS_REASON) && dlen <= HB_NAME) {
    e = hb_slot(h, HK_DOMAIN, dom, dlen);
    if (e->kind != HK_NONE) p = e->p0;
    else if (h->count + 3 > HB_MAX) e = NULL;   /* no room to remember them */
  }
  if (p) {
    lua_settop(L, RS_PARAMS);                   /* RS_DOMAIN, RS_ROW, RS_PARAMS: nil */
  } else {
    lua_pushlstring(L, dom, dlen);                                    /* RS_DOMAIN */
    if (lua_type(L, lua_upvalueindex(RU_DCACHE)) != LUA_TTABLE) goto decline;
    lua_pushvalue(L, RS_DOMAIN);
    lua_rawget(L, lua_upvalueindex(RU_DCACHE));                       /* RS_ROW */
    if (lua_type(L, RS_ROW) != LUA_TTABLE) goto decline;
    lua_pushvalue(L, lua_isnil(L, RS_REASON) ? lua_upvalueindex(RU_EMPTY) : RS_REASON);
    lua_rawget(L, RS_ROW);                                            /* RS_PARAMS */
    if (lua_type(L, RS_PARAMS) != LUA_TUSERDATA ||
        !has_mt(L, RS_PARAMS, lua_upvalueindex(RU_PARAMS_MT)))
      goto decline;
    p = lua_touserdata(L, RS_PARAMS);
    if (e) {   /* dcache keeps them alive until health("ctx") forgets them */
      if (e->kind == HK_NONE) hb_new(h, e, HK_DOMAIN, dom, dlen, h->newest);
      e->p0 = p;
    }
  }
  if (bnc_event_effective(&ev, p) != ev.type) {
    /* a transient hard bounce the policy retries: a soft bounce, as t:record says */
    ev.type = BNC_EV_SOFT;
    ev.permanent = ev.transient = 0;
    lua_pushliteral(L, "soft");
    lua_replace(L, RS_TYPE);
  }
  if ((ev.type == BNC_EV_SOFT || ev.type == BNC_EV_BLOCK) &&
      (p->soft_jitter > 0 || p->block_jitter > 0))
    goto decline;   /* t:record draws the random number */
  if (mstore_step(L, u->m, key, olen, p, &ev, &d, msg, sizeof msg)) goto decline;
  /* the event's health: buffered, or left to t:record (hi set) */
  if (st->length > 0) {
    lua_rawgeti(L, lua_upvalueindex(RU_HEALTH), ev.type);
    hi = (int)lua_tointeger(L, -1);   /* 0: the event counts for no kind */
    lua_pop(L, 1);
  }
  if (hi) {
    /* the bucket as t:record computes it, floor(at / length): both are
     * positive, so truncation is floor */
    hb = (lua_Integer)((lua_Number)ev.at / st->length);
    ev_field(L, RU_CAMPAIGN);                                         /* RS_CAMPAIGN */
    ev_field(L, RU_SENDER);                                           /* RS_SENDER */
    if (lua_isnil(L, RS_COUNT) &&
        hb_count(L, h, hb, hi, dom, dlen, e && e->kind ? e : NULL, RS_CAMPAIGN, RS_SENDER))
      hi = 0;
    else
      hb_hand_scopes(L, h, dom, dlen, RS_CAMPAIGN, RS_SENDER);
  }
  push_nm(L, NAME_ACTION + d.action);
  push_nm(L, NAME_STATE + d.state);
  push_nm(L, NAME_REASON + (((unsigned)d.reason < BNC_R__COUNT) ? d.reason : 0));
  lua_pushinteger(L, (lua_Integer)d.attempts);
  lua_pushinteger(L, (lua_Integer)ev.at);
  push_time(L, d.retry_at);
  push_time(L, d.since);
  push_time(L, d.expires_at);
  if (d.cause) push_nm(L, NAME_CAUSE + d.cause); else lua_pushnil(L);
  lua_pushvalue(L, RS_KEY);
  lua_pushvalue(L, RS_TYPE);
  if (!hi) return 11;
  if (lua_isnil(L, RS_DOMAIN)) lua_pushlstring(L, dom, dlen); else lua_pushvalue(L, RS_DOMAIN);
  if (lua_isnil(L, RS_COUNT)) lua_pushinteger(L, 1); else lua_pushvalue(L, RS_COUNT);
  lua_pushinteger(L, hb);
  lua_pushinteger(L, hi);
  return 15;
decline:
  if (!clocked) return 0;
  lua_pushboolean(L, 0);
  lua_pushvalue(L, RS_NOW);
  return 2;
}

/* health(what, ...), the other function core.recorder makes, for the
 * tracker: "ctx", record, dcache, case_sensitive, bucket length (or false:
 * no health) sets what record reads of the policy; "all" hands over
 * everything the buffer holds (before the counters are read); "scopes",
 * domain, campaign, sender what it holds for an event's scopes (before
 * t:record counts them at once); "discard" drops it all (the counters were
 * reset). */
static int l_health(lua_State *L) {
  static const char *const ops[] = { "ctx", "all", "scopes", "discard", NULL };
  int op = luaL_checkoption(L, 1, NULL, ops);
  size_t i;
  fstate *st = lua_touserdata(L, lua_upvalueindex(RU_STATE));
  hbuf *h = st->h;
  lua_settop(L, 5);
  if (op == 0) {
    if (lua_tocfunction(L, 2) != l_record) luaL_argerror(L, 2, "record function expected");
    luaL_checktype(L, 3, LUA_TTABLE);
    st->cs = lua_toboolean(L, 4);
    st->length = lua_type(L, 5) == LUA_TNUMBER ? lua_tonumber(L, 5) : 0;
    lua_pushvalue(L, 3);
    lua_setupvalue(L, 2, RU_DCACHE);
    if (h)
      for (i = 0; i < HB_SLOTS; i++) h->e[i].p0 = NULL;   /* they came from the old dcache */
    return 0;
  }
  if (!h) return 0;
  if (op == 1) hb_hand_all(L, h);
  else if (op == 2) {
    size_t dlen;
    const char *dom = luaL_checklstring(L, 2, &dlen);
    hb_hand_scopes(L, h, dom, dlen, 3, 4);
  } else {
    memset(h->e, 0, sizeof h->e);
    h->count = 0;
  }
  return 0;
}

/* recorder(events, reasons, health, store, clock [, hand [, rules]]) -> record,
 * health (above), or nil when store is not a memory store. events maps an
 * event type to its code (the tracker's table, aliases included), reasons
 * a reason to its code, health an event code to its health counter index.
 * hand(kind, name, bucket, i, n) counts what the health buffer hands
 * over (nil: the tracker keeps no health); rules is the rule set replies
 * are classified with (nil: events with a reply are declined). record
 * declines every event until health("ctx", ...) has given it a dcache. */
static int l_recorder(lua_State *L) {
  int i;
  fstate *st;
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TTABLE);
  luaL_checktype(L, 5, LUA_TFUNCTION);
  if (!lua_isnoneornil(L, 6)) luaL_checktype(L, 6, LUA_TFUNCTION);
  if (!lua_isnoneornil(L, 7)) luaL_checkudata(L, 7, RULES_MT);
  lua_settop(L, 7);
  luaL_checkstack(L, 2 * RU__COUNT + 4, NULL);
  history_mts(L);
  luaL_getmetatable(L, MSTORE_MT);                    /* 8: mstore mt */
  if (lua_type(L, 4) != LUA_TUSERDATA || !has_mt(L, 4, 8)) return 0;
  lua_pop(L, 1);
  st = lua_newuserdata(L, sizeof *st);                /* RU_STATE */
  st->store = lua_touserdata(L, 4);
  st->h = NULL;
  st->length = 0;
  st->cs = 0;
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  luaL_getmetatable(L, PARAMS_MT);
  lua_pushvalue(L, 4);
  lua_pushvalue(L, 5);
  lua_pushboolean(L, 0);                              /* RU_DCACHE: none yet */
  lua_pushvalue(L, 6);                                /* RU_HAND */
  lua_pushvalue(L, 7);                                /* RU_RULES */
  for (i = RU_RCPT; i < RU_NAMES; i++) lua_pushstring(L, RU_FIELDS[i - RU_RCPT]);
  for (i = 0; i < NAME__COUNT; i++) lua_pushstring(L, name_of(i));
  for (i = 1; i < RU__COUNT; i++) lua_pushvalue(L, 7 + i);   /* upvalue i is at 7 + i */
  lua_pushcclosure(L, l_health, RU__COUNT - 1);       /* the same upvalues */
  lua_insert(L, 8);
  lua_pushcclosure(L, l_record, RU__COUNT - 1);
  lua_insert(L, 8);                                   /* record, health */
  return 2;
}

/* Names the Lua side maps to codes once: events and actions. */
static int l_history_info(lua_State *L) {
  int i;
  lua_createtable(L, 0, 4);
  lua_createtable(L, BNC_EV__COUNT, 0);
  for (i = 0; i < BNC_EV__COUNT; i++) { lua_pushstring(L, bnc_event_name(i)); lua_rawseti(L, -2, i + 1); }
  lua_setfield(L, -2, "events");
  lua_createtable(L, BNC_CAUSE__COUNT, 0);
  for (i = 0; i < BNC_CAUSE__COUNT; i++) { lua_pushstring(L, bnc_cause_name(i)); lua_rawseti(L, -2, i + 1); }
  lua_setfield(L, -2, "causes");
  set_int(L, "record_size", BNC_RECORD_SIZE);
  set_int(L, "record_version", BNC_RECORD_VERSION);
  set_int(L, "backoff_max", BNC_BACKOFF_MAX);
  history_mts(L);
  return 1;
}
/* ---- end history ---- */

/* ---- messages (issue 4) ---- */
/* parse(message [, opts]) -> list of results | nil, err. The result struct
 * and the arena live in a userdata (collected by the GC), so nothing
 * malloc'd is held while Lua may raise; argument checks come first.
 * Upvalues: 1 the default rule set, 2 the result keys and names (a list of
 * strings made once, MK_*), 3 a spare buffer (userdata or false).
 * Speed: the buffer (33 KiB of result plus the arena) is kept between
 * calls instead of two fresh userdata per message, which cost more in
 * malloc and GC than the tables; keys and names are pushed from the list
 * with lua_rawgeti instead of being looked up as C strings (strlen, the
 * API string cache's strcmp) for every field of every result. */
#include "message.h"
#include "ldns.h"

enum {
  MK_RCPT = 1, MK_ORIGINAL_RCPT, MK_ACTION, MK_STATUS, MK_PSEUDO_STATUS, MK_CODE, MK_TEXT,
  MK_DIAGNOSTIC, MK_REASON, MK_TYPE, MK_PERMANENT, MK_RULE, MK_DELAYED, MK_RHOST, MK_COMMAND,
  MK_VERP_RCPT, MK_AT,
  MK_LAST_ATTEMPT_DATE, MK_WILL_RETRY_UNTIL, MK_REPORTING_MTA, MK_ARRIVAL_DATE,
  MK_FEEDBACK_TYPE, MK_SOURCE_IP, MK_MESSAGE_ID, MK_FROM, MK_TO, MK_SUBJECT, MK_DATE,
  MK_FORMAT, MK_HEADERS, MK_WARNINGS, MK_FAILED, MK_NONE, MK_REASONS
};
#define MK_TYPES (MK_REASONS + BNC_R__COUNT)
#define MK_COUNT (MK_TYPES + BNC_T__COUNT)
static const char *const MSG_KEYS[] = {
  "rcpt", "original_rcpt", "action", "status", "pseudo_status", "code", "text", "diagnostic",
  "reason", "type", "permanent", "rule", "delayed", "rhost", "command", "verp_rcpt", "at",
  "last_attempt_date",
  "will_retry_until", "reporting_mta", "arrival_date", "feedback_type", "source_ip",
  "message_id", "from", "to", "subject", "date", "format", "headers", "warnings",
  "failed", "none"
};
#define UV_MKEYS lua_upvalueindex(2)
#define UV_MBUF lua_upvalueindex(3)

/* The parse buffer: the result, then the arena. */
typedef struct { bnc_message_t m; size_t cap; char arena[]; } msgbuf;

/* Buffers up to this arena size are kept for the next call (bigger ones,
 * for messages over ~480 KiB, are made per call and left to the GC). */
#define MSG_KEEP ((size_t)1 << 20)

/* The list MK_*: keys, "failed", "none", reason names, type names. */
static void msg_keys(lua_State *L) {
  int i;
  lua_createtable(L, MK_COUNT, 0);
  for (i = 0; i < (int)(sizeof MSG_KEYS / sizeof MSG_KEYS[0]); i++) {
    lua_pushstring(L, MSG_KEYS[i]);
    lua_rawseti(L, -2, MK_RCPT + i);
  }
  for (i = 0; i < BNC_R__COUNT; i++) {
    lua_pushstring(L, bnc_reason_name((bnc_reason_t)i));
    lua_rawseti(L, -2, MK_REASONS + i);
  }
  for (i = 0; i < BNC_T__COUNT; i++) {
    lua_pushstring(L, bnc_type_name((bnc_type_t)i));
    lua_rawseti(L, -2, MK_TYPES + i);
  }
}

/* res[key] = the value on top of the stack (popped); res at -2 before. */
static void msg_set(lua_State *L, int key) {
  lua_rawgeti(L, UV_MKEYS, key);                       /* res, v, k */
  lua_insert(L, -2);                                   /* res, k, v */
  lua_rawset(L, -3);                                   /* res */
}

static void msg_str(lua_State *L, int key, bnc_str_t s) {
  if (!s.p) return;
  lua_pushlstring(L, s.p, s.n);
  msg_set(L, key);
}

static void msg_name(lua_State *L, int key, int name) {
  lua_rawgeti(L, UV_MKEYS, name);
  msg_set(L, key);
}

static void msg_int(lua_State *L, int key, lua_Integer v) {
  lua_pushinteger(L, v);
  msg_set(L, key);
}

/* Reads opts.headers (a list of up to BNC_MSG_WANT strings) into want. */
static size_t msg_want(lua_State *L, int opts, bnc_str_t *want) {
  size_t i, n;
  if (lua_isnil(L, opts)) return 0;
  luaL_checktype(L, opts, LUA_TTABLE);
  lua_getfield(L, opts, "headers");                   /* headers */
  if (lua_isnil(L, -1)) { lua_pop(L, 1); return 0; }
  if (lua_type(L, -1) != LUA_TTABLE)
    luaL_error(L, "bad argument #2 to 'parse' (field 'headers': table expected, got %s)",
               luaL_typename(L, -1));
  n = bnc_rawlen(L, -1);
  if (n > BNC_MSG_WANT)
    luaL_error(L, "bad argument #2 to 'parse' (field 'headers': more than %d names)", BNC_MSG_WANT);
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, -1, (int)i + 1);                   /* headers, name */
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "bad argument #2 to 'parse' (field 'headers[%d]': string expected, got %s)",
                 (int)i + 1, luaL_typename(L, -1));
    want[i].p = lua_tolstring(L, -1, &want[i].n);      /* kept alive by opts */
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return n;
}

/* The number of fields msg_push sets in recipient r's table. */
static int msg_nfields(const bnc_message_t *m, const bnc_msg_rcpt_t *r) {
  const bnc_str_t *s[] = { &r->rcpt, &r->orig_rcpt, &r->status, &r->text, &r->diag, &r->rhost,
                           &r->last_attempt, &r->will_retry, &m->reporting_mta, &m->arrival_date,
                           &m->feedback_type, &m->source_ip, &m->message_id, &m->from, &m->to,
                           &m->subject, &m->date };
  int n = 7, i;   /* action, reason, type, permanent, delayed, format, headers */
  for (i = 0; i < (int)(sizeof s / sizeof s[0]); i++) n += s[i]->p != NULL;
  n += r->pseudo_status[0] != 0;
  n += r->reply.code != 0;
  n += r->reply.command != BNC_CMD_NONE;
  n += r->cls.rule >= 0;
  n += m->warnings != 0;
  n += (r->last_attempt.p || m->arrival_date.p);      /* at, when the date parses: a hint */
  return n;
}

/* Pushes the list of results: one table per recipient; verp (when not
 * NULL) is the recipient the bounce's VERP address names. */
static void msg_push(lua_State *L, const bnc_message_t *m, const bnc_str_t *want, size_t nwant,
                     const bnc_ruleset_t *rs, bnc_str_t verp) {
  size_t i, j;
  lua_createtable(L, (int)m->nrcpt, 0);                /* list */
  for (i = 0; i < m->nrcpt; i++) {
    const bnc_msg_rcpt_t *r = &m->rcpt[i];
    lua_createtable(L, 0, msg_nfields(m, r) + (verp.p != NULL));   /* list, res */
    msg_str(L, MK_RCPT, r->rcpt);
    msg_str(L, MK_VERP_RCPT, verp);
    msg_str(L, MK_ORIGINAL_RCPT, r->orig_rcpt);
    if (r->action.p) msg_str(L, MK_ACTION, r->action);
    else if (r->cls.type == BNC_T_COMPLAINT || r->cls.type == BNC_T_AUTO_REPLY) msg_name(L, MK_ACTION, MK_NONE);
    else msg_name(L, MK_ACTION, MK_FAILED);
    msg_str(L, MK_STATUS, r->status);
    if (r->pseudo_status[0]) {
      lua_pushstring(L, r->pseudo_status);
      msg_set(L, MK_PSEUDO_STATUS);
    }
    if (r->reply.code) msg_int(L, MK_CODE, r->reply.code);
    msg_str(L, MK_TEXT, r->text);
    msg_str(L, MK_DIAGNOSTIC, r->diag);
    msg_name(L, MK_REASON, MK_REASONS + (int)r->cls.reason);
    msg_name(L, MK_TYPE, MK_TYPES + (int)r->cls.type);
    lua_pushboolean(L, r->cls.permanent);
    msg_set(L, MK_PERMANENT);
    if (r->cls.rule >= 0) {
      char name[256];
      const char *nm = bnc_ruleset_rule_name(rs, (size_t)r->cls.rule, name, sizeof name);
      if (nm && r->cls.context_changed) {
        /* the rule's reason gave way to the context, as bounce.classify
         * says it: the command the reply answered, or a relayed "user
         * unknown" that nothing ties to the address */
        bnc_command_t cmd = r->reply.command;
        if (cmd == BNC_CMD_NONE || cmd == BNC_CMD_RCPT) lua_pushstring(L, "context:relayed<");
        else lua_pushfstring(L, "context:%s<", bnc_command_name(cmd));
        lua_pushstring(L, nm);
        lua_concat(L, 2);
        msg_set(L, MK_RULE);
      } else if (nm) {
        lua_pushstring(L, nm);
        msg_set(L, MK_RULE);
      }
    }
    lua_pushboolean(L, r->delayed);
    msg_set(L, MK_DELAYED);
    msg_str(L, MK_RHOST, r->rhost);
    if (r->reply.command != BNC_CMD_NONE) {
      lua_pushstring(L, bnc_command_name(r->reply.command));
      msg_set(L, MK_COMMAND);
    }
    {
      bnc_str_t when = r->last_attempt.p ? r->last_attempt : m->arrival_date;
      long long at = when.p ? bnc_date_parse(when.p, when.n) : -1;
      if (at >= 0) msg_int(L, MK_AT, (lua_Integer)at);
    }
    msg_str(L, MK_LAST_ATTEMPT_DATE, r->last_attempt);
    msg_str(L, MK_WILL_RETRY_UNTIL, r->will_retry);
    msg_str(L, MK_REPORTING_MTA, m->reporting_mta);
    msg_str(L, MK_ARRIVAL_DATE, m->arrival_date);
    msg_str(L, MK_FEEDBACK_TYPE, m->feedback_type);
    msg_str(L, MK_SOURCE_IP, m->source_ip);
    msg_str(L, MK_MESSAGE_ID, m->message_id);
    msg_str(L, MK_FROM, m->from);
    msg_str(L, MK_TO, m->to);
    msg_str(L, MK_SUBJECT, m->subject);
    msg_str(L, MK_DATE, m->date);
    if (m->format) {
      lua_pushstring(L, m->format);
      msg_set(L, MK_FORMAT);
    }
    lua_createtable(L, 0, (int)nwant);                 /* list, res, headers */
    for (j = 0; j < nwant; j++)
      if (m->want[j].p) {
        lua_pushlstring(L, want[j].p, want[j].n);
        lua_pushlstring(L, m->want[j].p, m->want[j].n);
        lua_rawset(L, -3);
      }
    msg_set(L, MK_HEADERS);                            /* list, res */
    if (m->warnings) msg_int(L, MK_WARNINGS, (lua_Integer)m->warnings);
    lua_rawseti(L, -2, (int)i + 1);                    /* list */
  }
}

/* A buffer with an arena of at least cap bytes, on top of the stack: the
 * kept one when it is big enough (taken out of UV_MBUF while in use, so
 * that a parse run from a finalizer during this one makes its own), else a
 * new one. */
static msgbuf *msg_buffer(lua_State *L, size_t cap) {
  msgbuf *b = lua_touserdata(L, UV_MBUF);
  if (b && b->cap >= cap) {
    lua_pushvalue(L, UV_MBUF);
    lua_pushboolean(L, 0);
    lua_replace(L, UV_MBUF);
    return b;
  }
  if (cap <= MSG_KEEP && cap < MSG_KEEP / 2) cap = MSG_KEEP / 2 < 2 * cap ? MSG_KEEP / 2 : 2 * cap;
  b = lua_newuserdata(L, offsetof(msgbuf, arena) + cap);
  b->cap = cap;
  return b;
}

/* opts.verp at index i: the local-part prefix of VERP return paths
 * ("bounces+"), or NULL when absent; raises when it is no such prefix. */
static const char *verp_prefix(lua_State *L, int i, const char *fname, size_t *n) {
  const char *p;
  size_t k;
  lua_getfield(L, i, "verp");
  if (lua_isnil(L, -1)) { lua_pop(L, 1); return NULL; }
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_error(L, "bad argument #%d to '%s' (field 'verp': string expected, got %s)", i, fname,
               luaL_typename(L, -1));
  p = lua_tolstring(L, -1, n);                        /* kept alive by opts */
  lua_pop(L, 1);
  for (k = 0; k < *n; k++)
    if (p[k] == '@' || p[k] == '<' || p[k] == '>' || (unsigned char)p[k] <= 32 || p[k] == 127) break;
  if (*n == 0 || *n > 64 || k < *n)
    luaL_error(L, "bad argument #%d to '%s' (field 'verp': a local-part prefix such as "
               "'bounces+' expected)", i, fname);
  return p;
}

static int l_parse(lua_State *L) {
  size_t len, nwant;
  const char *s = luaL_checklstring(L, 1, &len);
  bnc_str_t want[BNC_MSG_WANT];
  bnc_ruleset_t *rs = ((lrules *)lua_touserdata(L, lua_upvalueindex(1)))->rs;
  msgbuf *b;
  int rc;
  const char *vp = NULL;
  size_t vpl = 0, vl = 0;
  char vbuf[BNC_ADDRESS_MAX];
  bnc_str_t verp = { NULL, 0 };
  lua_settop(L, 2);
  nwant = msg_want(L, 2, want);
  if (!lua_isnil(L, 2)) vp = verp_prefix(L, 2, "parse", &vpl);
  compile(L, rs);                                      /* rules added since */
  if (len > BNC_MSG_MAX) {
    lua_pushnil(L);
    lua_pushfstring(L, "message too long: %d bytes (limit %d)", (int)len, (int)BNC_MSG_MAX);
    return 2;
  }
  b = msg_buffer(L, BNC_MSG_ARENA(len));               /* msg, opts, buf */
  rc = bnc_message_parse(s, len, rs, want, nwant, b->arena, BNC_MSG_ARENA(len), &b->m);
  if (rc != BNC_OK) {
    lua_pushnil(L);
    if (rc == BNC_EEMPTY) lua_pushliteral(L, "empty message: nothing but white space");
    else lua_pushliteral(L, "not a bounce: no delivery-status part, feedback report, "
                            "auto-reply or known bounce text found");
  } else {
    if (vp && bnc_verp_find(s, len, vp, vpl, vbuf, sizeof vbuf, &vl)) {
      verp.p = vbuf;
      verp.n = vl;
    }
    msg_push(L, &b->m, want, nwant, rs, verp);         /* msg, opts, buf, list */
  }
  if (b->cap <= MSG_KEEP) {                            /* kept for the next call */
    lua_pushvalue(L, 3);
    lua_replace(L, UV_MBUF);
  }
  return rc == BNC_OK ? 1 : 2;
}

/* verp_decode(addr, prefix) -> rcpt | nil, err; verp_find(message, prefix)
 * -> rcpt | nil. The checks of their arguments are bounce.verp's. */
static int l_verp_decode(lua_State *L) {
  size_t n, pl, ol;
  const char *s = luaL_checklstring(L, 1, &n), *p = luaL_checklstring(L, 2, &pl), *why;
  char out[BNC_ADDRESS_MAX];
  why = bnc_verp_decode(s, n, p, pl, out, sizeof out, &ol);
  if (why) {
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
  }
  lua_pushlstring(L, out, ol);
  return 1;
}

static int l_verp_find(lua_State *L) {
  size_t n, pl, ol;
  const char *s = luaL_checklstring(L, 1, &n), *p = luaL_checklstring(L, 2, &pl);
  char out[BNC_ADDRESS_MAX];
  if (!bnc_verp_find(s, n, p, pl, out, sizeof out, &ol)) return 0;
  lua_pushlstring(L, out, ol);
  return 1;
}

static const luaL_Reg message_funcs[] = {
  { "parse", l_parse }, { "verp_decode", l_verp_decode }, { "verp_find", l_verp_find },
  { NULL, NULL }
};
/* ---- end messages ---- */

static const luaL_Reg rules_methods[] = {
  { "add", rules_add }, { "clear", rules_clear }, { "list", rules_list },
  { "check", rules_check }, { "count", rules_count },
  { "_handle", rules_handle }, { NULL, NULL }
};

static const luaL_Reg core_funcs[] = {
  { "classify", l_classify }, { "new_rules", rules_new },
  { "reasons", l_reasons }, { "type_of", l_type_of },
  { "describe", l_describe }, { NULL, NULL }
};

/* Functions of the history state machine (issue 3), registered beside. */
static const luaL_Reg history_funcs[] = {
  { "history_info", l_history_info }, { "params", l_params }, { "step", l_step },
  { "decode_record", l_decode }, { "encode_record", l_encode }, { "mstore", l_mstore },
  { "record_expiry", l_record_expiry }, { "normalize_address", l_normalize_address },
  { "recorder", l_recorder }, { NULL, NULL }
};

#if defined(__GNUC__)
#define BNC_EXPORT __attribute__((visibility("default")))
#else
#define BNC_EXPORT
#endif

BNC_EXPORT int luaopen_bounce_core(lua_State *L);

/* The UV_STRS table: result keys, reason names, type names, command names. */
static void push_strings(lua_State *L) {
  int i;
  lua_createtable(L, K_COMMANDS + BNC_CMD__COUNT, 0);
  for (i = 0; i < (int)(sizeof KEYS / sizeof KEYS[0]); i++) {
    lua_pushstring(L, KEYS[i]);
    lua_rawseti(L, -2, K_CODE + i);
  }
  for (i = 0; i < BNC_R__COUNT; i++) {
    lua_pushstring(L, bnc_reason_name((bnc_reason_t)i));
    lua_rawseti(L, -2, K_REASONS + i);
  }
  for (i = 0; i < BNC_T__COUNT; i++) {
    lua_pushstring(L, bnc_type_name((bnc_type_t)i));
    lua_rawseti(L, -2, K_TYPES + i);
  }
  for (i = 1; i < BNC_CMD__COUNT; i++) {
    lua_pushstring(L, bnc_command_name((bnc_command_t)i));
    lua_rawseti(L, -2, K_COMMANDS + i);
  }
}

BNC_EXPORT int luaopen_bounce_core(lua_State *L) {
  lrules *def;
  if (luaL_newmetatable(L, RULES_MT)) {               /* mt */
    luaL_newlib(L, rules_methods);                    /* mt, methods */
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "__index");
    lua_pop(L, 1);
    lua_pushcfunction(L, rules_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, rules_gc);
    lua_setfield(L, -2, "__close");
    lua_pushliteral(L, RULES_MT);
    lua_setfield(L, -2, "__name");
  }
  lua_pop(L, 1);
  lua_newtable(L);                                    /* M */
  def = new_rules(L, 1);                              /* M, rules */
  compile(L, def->rs);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "default_rules");               /* M, rules */
  lua_newuserdata(L, 256);                            /* M, rules, scratch */
  push_strings(L);                                    /* M, rules, scratch, strs */
  lua_newtable(L);                                    /* M, rules, scratch, strs, names */
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  luaL_setfuncs(L, core_funcs, 4);                    /* M */
  luaL_setfuncs(L, history_funcs, 0);
  lua_getfield(L, -1, "default_rules"); msg_keys(L); lua_pushboolean(L, 0);
  luaL_setfuncs(L, message_funcs, 3);                 /* issue 4: rules, keys, buffer */
  lua_pushliteral(L, BNC_VERSION);
  lua_setfield(L, -2, "_VERSION");
  lua_pushinteger(L, (lua_Integer)BNC_REPLY_MAX);
  lua_setfield(L, -2, "REPLY_MAX");
  lua_pushlightuserdata(L, (void *)&FFI_API);
  lua_setfield(L, -2, "_ffi");
  bnc_open_dns(L);
  return 1;
}
