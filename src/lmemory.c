/*
 * lmemory.c - a memory bound for the policy sandbox: `core.memory_guard()`
 * returns a guard whose enter(limit, churn) puts an accounting allocator in
 * front of the state's own (lua_setallocf) and leave() takes it away. While
 * it is in place, an allocation that would make the memory in use grow by
 * more than `limit` bytes since enter(), or the bytes allocated since then
 * pass `churn`, is refused: Lua raises "not enough memory" where it was
 * asked for, in 5.1, 5.3, 5.4 and LuaJIT alike, so one `s = s .. s` too
 * many stops at once instead of taking gigabytes. Frees and shrinks always
 * pass. Memory allocated under the guard is freed later by the same
 * allocator underneath, so nothing is owned by the guard itself.
 */
#include "lbnc.h"

#define GUARD_MT "bounce.memory_guard"

typedef struct {
  lua_Alloc f;              /* the allocator underneath, while entered */
  void *ud;
  long long net;            /* growth of the memory in use since enter() */
  long long peak;           /* the highest net */
  long long total;          /* bytes allocated since enter() */
  long long limit, churn;
  int on;                   /* entered */
  int refused;              /* an allocation was refused since enter() */
  int pending;              /* ... and none has succeeded since */
} mguard;

static void *guard_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  mguard *g = (mguard *)ud;
  size_t old = ptr ? osize : 0;        /* 5.4 passes a type tag as osize for new blocks */
  void *r;
  if (nsize > old) {
    long long grow = (long long)(nsize - old);
    if (g->net + grow > g->limit || g->total + grow > g->churn) {
      g->refused = g->pending = 1;
      return NULL;
    }
    r = g->f(g->ud, ptr, osize, nsize);
    if (r) {
      g->pending = 0;
      g->net += grow;
      g->total += grow;
      if (g->net > g->peak) g->peak = g->net;
    }
    return r;
  }
  r = g->f(g->ud, ptr, osize, nsize);
  if (nsize == 0 || r) g->net -= (long long)(old - nsize);
  return r;
}

static mguard *check_guard(lua_State *L) {
  return (mguard *)luaL_checkudata(L, 1, GUARD_MT);
}

/* g:enter(limit, churn): limits in bytes. Raises when a guard is already
 * in place (guards do not nest). */
static int l_enter(lua_State *L) {
  mguard *g = check_guard(L);
  lua_Number limit = luaL_checknumber(L, 2), churn = luaL_checknumber(L, 3);
  void *ud;
  lua_Alloc f = lua_getallocf(L, &ud);
  luaL_argcheck(L, limit >= 0 && limit < 9e15, 2, "bytes expected");
  luaL_argcheck(L, churn >= 0 && churn < 9e15, 3, "bytes expected");
  if (f == guard_alloc) return luaL_error(L, "a memory guard is already in place");
  g->f = f;
  g->ud = ud;
  g->net = g->peak = g->total = 0;
  g->limit = (long long)limit;
  g->churn = (long long)churn;
  g->refused = g->pending = 0;
  g->on = 1;
  lua_setallocf(L, guard_alloc, g);
  return 0;
}

static void guard_off(lua_State *L, mguard *g) {
  if (!g->on) return;
  lua_setallocf(L, g->f, g->ud);
  g->on = 0;
}

/* g:leave() -> refused, pending, peak growth, bytes allocated: whether an
 * allocation was refused, whether the last refusal was the last allocation
 * tried (Lua 5.4 retries one after an emergency collection, which may then
 * pass). Idempotent. */
static int l_leave(lua_State *L) {
  mguard *g = check_guard(L);
  guard_off(L, g);
  lua_pushboolean(L, g->refused);
  lua_pushboolean(L, g->pending);
  lua_pushnumber(L, (lua_Number)g->peak);
  lua_pushnumber(L, (lua_Number)g->total);
  return 4;
}

static int l_gc(lua_State *L) {
  guard_off(L, check_guard(L));
  return 0;
}

static const luaL_Reg guard_methods[] = {
  { "enter", l_enter }, { "leave", l_leave }, { NULL, NULL }
};

/* memory_guard() -> a guard, not in place. */
static int l_memory_guard(lua_State *L) {
  mguard *g = (mguard *)lua_newuserdata(L, sizeof *g);
  g->f = NULL;
  g->ud = NULL;
  g->net = g->peak = g->total = g->limit = g->churn = 0;
  g->on = g->refused = g->pending = 0;
  luaL_getmetatable(L, GUARD_MT);
  lua_setmetatable(L, -2);
  return 1;
}

static const luaL_Reg memory_funcs[] = { { "memory_guard", l_memory_guard }, { NULL, NULL } };

void bnc_open_memory(lua_State *L) {
  if (luaL_newmetatable(L, GUARD_MT)) {               /* M, mt */
    lua_newtable(L);
    luaL_setfuncs(L, guard_methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);                                      /* M */
  luaL_setfuncs(L, memory_funcs, 0);
}
