/*
 * lpolicy.c - a policy's numbers for the state machine: `core.params`
 * turns the table the Lua policy resolved for an address and a reason into
 * a bnc_params_t (history.h), a plain userdata (no resources) with the
 * metatable PARAMS_MT that step, apply and the fast path check.
 */
#include <string.h>
#include "lbnc.h"

/* The address is the registry key of the params metatable: checking a
 * userdata by a light userdata key avoids interning the metatable's name
 * on every call of the per-event functions. */
const char bnc_l_params_key = 'p';

void bnc_l_params_mt(lua_State *L) {
  if (luaL_newmetatable(L, PARAMS_MT)) {              /* mt */
    lua_pushliteral(L, PARAMS_MT);
    lua_setfield(L, -2, "__name");
    lua_pushlightuserdata(L, (void *)&bnc_l_params_key);
    lua_pushvalue(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
  }
  lua_pop(L, 1);
}

/* (lbnc.h) */
lua_Number bnc_l_num_field(lua_State *L, int t, const char *k, lua_Number def,
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
 * Seconds everywhere; retention -1 is forever. An absent key takes the
 * default policy's value (policies/default.lua, the one source of the
 * defaults): bounce.tracker.default_params(), made once per Lua state and
 * kept in the registry; its own call gives every key. */
static const char default_key = 'd';

static int make_default(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "bounce.tracker");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "default_params");
  lua_call(L, 0, 1);
  return 1;
}

static void default_params(lua_State *L, bnc_params_t *d) {
  bnc_params_t *p;
  lua_pushlightuserdata(L, (void *)&default_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  if (lua_isboolean(L, -1))                    /* false: being made, by this call */
    luaL_error(L, "params: the default policy leaves a key out");
  if (lua_isnil(L, -1)) {
    int st;
    lua_pop(L, 1);
    lua_pushlightuserdata(L, (void *)&default_key);
    lua_pushboolean(L, 0);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_pushcfunction(L, make_default);
    st = lua_pcall(L, 0, 1, 0);
    lua_pushlightuserdata(L, (void *)&default_key);
    if (st == 0 && lua_touserdata(L, -2)) lua_pushvalue(L, -2); else lua_pushnil(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
    if (st != 0) lua_error(L);
  }
  p = bnc_testudata(L, -1, PARAMS_MT);
  if (!p) luaL_error(L, "params: the default policy gave no params");
  *d = *p;
  lua_pop(L, 1);
}

/* Whether t holds every key params reads (permanent_max_attempts defaults
 * to max_attempts): then no default is needed. */
static int all_given(lua_State *L, int t, const char *const *keys) {
  int i;
  for (i = 0; keys[i]; i++) {
    int nil;
    lua_getfield(L, t, keys[i]);
    nil = lua_isnil(L, -1);
    lua_pop(L, 1);
    if (nil) return 0;
  }
  return 1;
}

static int l_params(lua_State *L) {
  static const char *const keys[] = {
    "max_attempts", "window", "reset_after", "hard_transient",
    "soft_backoff", "block_backoff", "soft_jitter", "block_jitter", "retention_hard",
    "retention_soft", "retention_complaint", "retention_unsubscribe", "retention_manual", NULL
  };
  static const char *const rk[BNC_CAUSE__COUNT] = {
    NULL, "retention_hard", "retention_soft", "retention_complaint",
    "retention_unsubscribe", "retention_manual"
  };
  bnc_params_t d, *p;
  int i;
  luaL_checktype(L, 1, LUA_TTABLE);
  bnc_l_params_mt(L);
  memset(&d, 0, sizeof d);
  if (!all_given(L, 1, keys)) default_params(L, &d);
  p = lua_newuserdata(L, sizeof *p);
  *p = d;
  luaL_getmetatable(L, PARAMS_MT);
  lua_setmetatable(L, -2);
  p->max_attempts = (uint32_t)bnc_l_num_field(L, 1, "max_attempts", d.max_attempts, 1, 65535);
  p->permanent_max_attempts = (uint32_t)bnc_l_num_field(L, 1, "permanent_max_attempts",
                                                  p->max_attempts, 1, 65535);
  if (p->permanent_max_attempts > p->max_attempts) p->permanent_max_attempts = p->max_attempts;
  p->window = (uint32_t)bnc_l_num_field(L, 1, "window", d.window, 0, 4294967295.0);
  p->reset_after = (uint32_t)bnc_l_num_field(L, 1, "reset_after", d.reset_after, 0, 4294967295.0);
  p->hard_transient = (int)bnc_l_num_field(L, 1, "hard_transient", d.hard_transient, 0, 1);
  p->soft_jitter = bnc_l_num_field(L, 1, "soft_jitter", d.soft_jitter, 0, 1);
  p->block_jitter = bnc_l_num_field(L, 1, "block_jitter", d.block_jitter, 0, 1);
  p->soft_steps = steps_field(L, 1, "soft_backoff", p->soft_backoff, d.soft_steps, d.soft_backoff);
  p->block_steps = steps_field(L, 1, "block_backoff", p->block_backoff, d.block_steps, d.block_backoff);
  for (i = 1; i < BNC_CAUSE__COUNT; i++)
    p->retention[i] = (int64_t)bnc_l_num_field(L, 1, rk[i], (lua_Number)d.retention[i], -1, 4294967295.0);
  return 1;
}

void bnc_open_policy(lua_State *L) {
  bnc_l_params_mt(L);
  lua_pushcfunction(L, l_params);
  lua_setfield(L, -2, "params");
}
