/*
 * lverp.c - VERP return paths: `core.verp_decode` reads the recipient out
 * of one, `core.verp_find` finds one in a message (verp.c).
 */
#include "verp.h"
#include "lbnc.h"

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

static const luaL_Reg verp_funcs[] = {
  { "verp_decode", l_verp_decode }, { "verp_find", l_verp_find }, { NULL, NULL }
};

void bnc_open_verp(lua_State *L) {
  luaL_setfuncs(L, verp_funcs, 0);
}
