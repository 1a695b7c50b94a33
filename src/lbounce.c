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
  d.pattern = opt_field(L, 2, "pattern", 1);
  d.reason = opt_field(L, 2, "reason", 1);
  d.name = opt_field(L, 2, "name", 0);
  d.code = opt_field(L, 2, "code", 0);
  d.status = opt_field(L, 2, "status", 0);
  d.rhost = opt_field(L, 2, "rhost", 0);
  d.command = opt_field(L, 2, "command", 0);
  d.example = opt_field(L, 2, "example", 0);
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
  lua_pushboolean(L, bnc_ruleset_is_user(rs, i));
  lua_setfield(L, -2, "user");
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
    lua_getfield(L, 2, "rules");
    if (!lua_isnil(L, -1)) {
      lrules *u = bnc_testudata(L, -1, RULES_MT);
      if (!u || !u->rs)
        luaL_error(L, "bad argument #2 to 'classify' (field 'rules': rule set expected)");
      rs = u->rs;
    } else {
      rs = ((lrules *)lua_touserdata(L, lua_upvalueindex(UV_RULES)))->rs;
    }
    lua_pop(L, 1);
  } else {
    rs = ((lrules *)lua_touserdata(L, lua_upvalueindex(UV_RULES)))->rs;
  }
  compile(L, rs);
  text = scratch(L, len + 1);
  rc = bnc_reply_parse(s, len, text, len + 1, &r);
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
  if (cmd) {
    bnc_command_t k = bnc_command_find(cmd, cl);
    if (k == BNC_CMD_NONE)
      luaL_error(L, "bad argument #2 to 'classify' (field 'command': unknown command '%s')", cmd);
    r.command = k;
  }
  if (!rhost && r.rhost_len) { rhost = s + r.rhost_off; rhl = r.rhost_len; }
  bnc_classify(rs, &r, text, r.text_len, rhost, rhl, &c);

  lua_createtable(L, 0, 10);
  if (r.code) { lua_pushinteger(L, r.code); lua_setfield(L, -2, "code"); }
  if (r.st_class) { lua_pushstring(L, r.status); lua_setfield(L, -2, "status"); }
  lua_pushlstring(L, text, r.text_len);
  lua_setfield(L, -2, "text");
  lua_pushstring(L, bnc_reason_name(c.reason));
  lua_setfield(L, -2, "reason");
  lua_pushstring(L, bnc_type_name(c.type));
  lua_setfield(L, -2, "type");
  lua_pushboolean(L, c.permanent);
  lua_setfield(L, -2, "permanent");
  if (c.rule >= 0) {
    const bnc_rule_def_t *d = bnc_ruleset_get(rs, (size_t)c.rule);
    if (c.context_changed)
      lua_pushfstring(L, "context:%s<", r.command == BNC_CMD_DATA ? "DATA" : "MAIL");
    if (d->name) lua_pushstring(L, d->name);   /* a stable pointer: cached */
    else lua_pushfstring(L, "text:%s", d->pattern);
    if (c.context_changed) lua_concat(L, 2);
  } else if (c.source[0] == 's' && r.st_class) {
    lua_pushfstring(L, "%sstatus:%s", c.context_changed ? "context:" : "", r.status);
  } else if (c.source[0] == 'c' && c.source[1] == 'o' && r.code) {
    lua_pushfstring(L, "%scode:%d", c.context_changed ? "context:" : "", r.code);
  } else {
    lua_pushstring(L, c.source);
  }
  lua_setfield(L, -2, "rule");
  if (rhost) { lua_pushlstring(L, rhost, rhl); lua_setfield(L, -2, "rhost"); }
  if (r.command) { lua_pushstring(L, bnc_command_name(r.command)); lua_setfield(L, -2, "command"); }
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
/* ---- end history ---- */

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
  { NULL, NULL }
};

#if defined(__GNUC__)
#define BNC_EXPORT __attribute__((visibility("default")))
#else
#define BNC_EXPORT
#endif

BNC_EXPORT int luaopen_bounce_core(lua_State *L);

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
  luaL_setfuncs(L, core_funcs, 2);                    /* M */
  luaL_setfuncs(L, history_funcs, 0);
  lua_pushliteral(L, BNC_VERSION);
  lua_setfield(L, -2, "_VERSION");
  lua_pushinteger(L, (lua_Integer)BNC_REPLY_MAX);
  lua_setfield(L, -2, "REPLY_MAX");
  lua_pushlightuserdata(L, (void *)&FFI_API);
  lua_setfield(L, -2, "_ffi");
  return 1;
}
