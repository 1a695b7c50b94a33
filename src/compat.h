/*
 * compat.h - the whole difference between Lua 5.1/LuaJIT and 5.3/5.4, as
 * static shims. Nothing else in the project tests LUA_VERSION_NUM.
 */
#ifndef BNC_COMPAT_H
#define BNC_COMPAT_H

#include "lua.h"
#include "lauxlib.h"

#if LUA_VERSION_NUM < 502
/* Lua 5.1 and LuaJIT. LuaJIT's headers declare luaL_setfuncs, but plain Lua
 * 5.1 has no such symbol: a module built with LuaJIT's headers (the 5.1 rock
 * OpenResty users build) must load in lua5.1 too, where luarocks' bin/bounce
 * runs it. So the shim is used whatever the headers declare. */
static inline void bnc_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
  luaL_checkstack(L, nup, "too many upvalues");
  for (; l->name; l++) {
    int i;
    for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}
#define luaL_setfuncs bnc_setfuncs
#ifndef luaL_newlib
#define luaL_newlibtable(L, l) lua_createtable(L, 0, sizeof(l) / sizeof((l)[0]) - 1)
#define luaL_newlib(L, l) (luaL_newlibtable(L, l), luaL_setfuncs(L, l, 0))
#endif
#endif

#if LUA_VERSION_NUM >= 502
#define bnc_rawlen(L, i) lua_rawlen(L, i)
#else
#define bnc_rawlen(L, i) lua_objlen(L, i)
#endif

#if LUA_VERSION_NUM >= 502
#define bnc_setuservalue(L, i) lua_setuservalue(L, i)
#else
#define bnc_setuservalue(L, i) lua_setfenv(L, i)
#endif

/* luaL_testudata appeared in 5.2; LuaJIT 2.1 has it, plain 5.1 does not. */
static inline void *bnc_testudata(lua_State *L, int i, const char *tname) {
  void *p = lua_touserdata(L, i);
  if (p && lua_getmetatable(L, i)) {
    luaL_getmetatable(L, tname);
    if (!lua_rawequal(L, -1, -2)) p = NULL;
    lua_pop(L, 2);
    return p;
  }
  return NULL;
}

/* Integers above 2^53 do not survive a 5.1 double; times and counters in
 * this project stay far below it. */
static inline lua_Integer bnc_checkinteger(lua_State *L, int i) {
  lua_Number n = luaL_checknumber(L, i);
  lua_Integer v = (lua_Integer)n;
  if ((lua_Number)v != n) luaL_argerror(L, i, "number has no integer representation");
  return v;
}

#endif
