/*
 * lrules.c - rule sets as Lua objects: `core.new_rules`, the rule-set
 * metatable (add, clear, list, check, count, _handle) and the checks the
 * other binding files use (bnc_l_check_rules, bnc_l_new_rules). A rule set
 * is a userdata owning a bnc_ruleset_t (rules.c), freed by __gc and
 * __close.
 */
#include <string.h>
#include "lbnc.h"

lrules *bnc_l_check_rules(lua_State *L, int i) {
  lrules *u = luaL_checkudata(L, i, RULES_MT);
  if (!u->rs) luaL_argerror(L, i, "rule set is closed");
  return u;
}

/* Creates an empty userdata first, then the rule set: an allocation failure
 * leaves a userdata __gc can collect safely. */
lrules *bnc_l_new_rules(lua_State *L, int builtin) {
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
  bnc_l_new_rules(L, builtin);
  return 1;
}

static int rules_gc(lua_State *L) {
  lrules *u = luaL_checkudata(L, 1, RULES_MT);
  bnc_ruleset_free(u->rs);
  u->rs = NULL;
  return 0;
}

/* Reads an optional string field of the rule definition at index t; *nul
 * is set to k when the string holds a NUL byte. */
static const char *opt_field(lua_State *L, int t, const char *k, int required,
                             const char **nul) {
  const char *s;
  size_t len;
  lua_getfield(L, t, k);
  if (lua_isnil(L, -1) && !required) { lua_pop(L, 1); return NULL; }
  if (lua_type(L, -1) == LUA_TNUMBER && strcmp(k, "code") == 0)
    lua_tostring(L, -1);  /* code = 550 is accepted as "550" */
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_error(L, "bad argument #1 to 'add' (field '%s': string expected, got %s)",
               k, luaL_typename(L, -1));
  s = lua_tolstring(L, -1, &len);
  lua_pop(L, 1);  /* the string stays referenced by the table */
  if (strlen(s) != len) *nul = k;   /* C would see the string cut at the NUL */
  return s;
}

static int rules_add(lua_State *L) {
  lrules *u = bnc_l_check_rules(L, 1);
  bnc_rule_def_t d;
  char err[256];
  const char *nul = NULL;
  luaL_checktype(L, 2, LUA_TTABLE);
  memset(&d, 0, sizeof d);
  d.pattern = opt_field(L, 2, "pattern", 1, &nul);
  d.reason = opt_field(L, 2, "reason", 1, &nul);
  d.name = opt_field(L, 2, "name", 0, &nul);
  d.code = opt_field(L, 2, "code", 0, &nul);
  d.status = opt_field(L, 2, "status", 0, &nul);
  d.rhost = opt_field(L, 2, "rhost", 0, &nul);
  d.command = opt_field(L, 2, "command", 0, &nul);
  d.example = opt_field(L, 2, "example", 0, &nul);
  d.counter = opt_field(L, 2, "counter", 0, &nul);
  d.source = opt_field(L, 2, "source", 0, &nul);
  lua_getfield(L, 2, "final");
  if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
    luaL_error(L, "bad argument #1 to 'add' (field 'final': boolean expected, got %s)",
               luaL_typename(L, -1));
  d.final = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (nul) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: a NUL byte is not allowed", nul);
    return 2;
  }
  if (bnc_ruleset_add(u->rs, &d, err, sizeof err) != BNC_OK) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int rules_clear(lua_State *L) {
  bnc_ruleset_clear_user(bnc_l_check_rules(L, 1)->rs);
  return 0;
}

static void push_rule(lua_State *L, const bnc_ruleset_t *rs, size_t i) {
  const bnc_rule_def_t *d = bnc_ruleset_get(rs, i);
  char name[256];
  lua_createtable(L, 0, 10);
  bnc_l_set_str(L, "name", bnc_ruleset_rule_name(rs, i, name, sizeof name));
  bnc_l_set_str(L, "pattern", d->pattern);
  bnc_l_set_str(L, "reason", d->reason);
  bnc_l_set_str(L, "code", d->code);
  bnc_l_set_str(L, "status", d->status);
  bnc_l_set_str(L, "rhost", d->rhost);
  bnc_l_set_str(L, "command", d->command);
  bnc_l_set_str(L, "example", d->example);
  bnc_l_set_str(L, "counter", d->counter);
  bnc_l_set_str(L, "source", d->source ? d->source : "user");
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
  lrules *u = bnc_l_check_rules(L, 1);
  size_t i, n = bnc_ruleset_count(u->rs);
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    push_rule(L, u->rs, i);
    lua_rawseti(L, -2, (int)i + 1);
  }
  return 1;
}

static int rules_count(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)bnc_ruleset_count(bnc_l_check_rules(L, 1)->rs));
  return 1;
}

typedef struct { lua_State *L; const bnc_ruleset_t *rs; int n; } check_ctx;

static void on_problem(void *ud, size_t rule, long other, const char *what) {
  check_ctx *c = ud;
  lua_State *L = c->L;
  char name[256];
  lua_createtable(L, 0, 4);                       /* list, problem */
  bnc_l_set_str(L, "rule", bnc_ruleset_rule_name(c->rs, rule, name, sizeof name));
  lua_pushinteger(L, (lua_Integer)rule + 1);
  lua_setfield(L, -2, "index");
  if (other >= 0)
    bnc_l_set_str(L, "other", bnc_ruleset_rule_name(c->rs, (size_t)other, name, sizeof name));
  bnc_l_set_str(L, "problem", what);
  lua_rawseti(L, -2, ++c->n);
}

static int rules_check(lua_State *L) {
  lrules *u = bnc_l_check_rules(L, 1);
  check_ctx c;
  bnc_l_compile(L, u->rs);
  c.L = L; c.rs = u->rs; c.n = 0;
  lua_newtable(L);
  luaL_checkstack(L, 4, NULL);
  bnc_ruleset_check(u->rs, on_problem, &c);
  return 1;
}
/* rules:_handle() -> light userdata of the bnc_ruleset_t (for the FFI) */
static int rules_handle(lua_State *L) {
  lua_pushlightuserdata(L, bnc_l_check_rules(L, 1)->rs);
  return 1;
}

static const luaL_Reg rules_methods[] = {
  { "add", rules_add }, { "clear", rules_clear }, { "list", rules_list },
  { "check", rules_check }, { "count", rules_count },
  { "_handle", rules_handle }, { NULL, NULL }
};

void bnc_open_rules(lua_State *L) {
  if (luaL_newmetatable(L, RULES_MT)) {               /* M, mt */
    luaL_newlib(L, rules_methods);                    /* M, mt, methods */
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
  lua_pop(L, 1);                                      /* M */
  lua_pushcfunction(L, rules_new);
  lua_setfield(L, -2, "new_rules");
}
