/*
 * lpattern.c - string.find, match, gmatch and gsub for the policy sandbox,
 * matched by pattern.c under a step budget: `core.pattern_funcs()` returns
 * a fresh set of the four functions sharing one budget, and a `budget`
 * function that sets it. A pattern that would backtrack for ever (or a
 * replacement that would copy for ever) stops with an error once the
 * steps run out, where Lua's own functions, which run in C where no
 * instruction hook reaches, would never return.
 *
 * The functions behave as Lua 5.4's under every VM (init beyond the end
 * gives nil, '%' before a non-digit in a replacement is an error, gmatch
 * takes an init), apart from the budget.
 */
#include <string.h>
#include "pattern.h"
#include "lbnc.h"

/* The budget the functions of one set share (their upvalue 1). */
typedef struct {
  unsigned long left;    /* steps left */
  unsigned long total;   /* what budget() last set, for messages */
} pbudget;

static pbudget *get_budget(lua_State *L) {
  return (pbudget *)lua_touserdata(L, lua_upvalueindex(1));
}

/* Raises for a failed match: out of steps, a malformed or too complex pattern. */
static int pat_fail(lua_State *L, const pbudget *b, bnc_pat_status_t st, const char *err) {
  if (st == BNC_PAT_BUDGET)
    return luaL_error(L, "pattern matching ran out of steps (a policy run may take %d)",
                      (int)b->total);
  return luaL_error(L, "%s", err ? err : "malformed pattern");
}

/* Spends n steps of b for copying (gsub's output); raises when they run out. */
static void pay_copy(lua_State *L, pbudget *b, size_t bytes) {
  unsigned long n = 1 + (unsigned long)(bytes / 16);
  if (b->left < n) {
    b->left = 0;
    pat_fail(L, b, BNC_PAT_BUDGET, NULL);
  }
  b->left -= n;
}

/* One attempt at offset at, under b. */
static bnc_pat_status_t try_at(pbudget *b, bnc_pat_t *m, const char *s, size_t ls, size_t at,
                               const char *p, size_t lp, size_t *e) {
  bnc_pat_status_t st;
  m->budget = b->left;
  st = bnc_pat_match(m, s, ls, at, p, lp, e);
  b->left = m->budget;
  return st;
}

/* Pushes capture i of m (the whole match s[ms..me) when the pattern has none). */
static void push_capture(lua_State *L, const bnc_pat_t *m, const char *s, int i, size_t ms,
                         size_t me) {
  if (i >= m->level) {
    if (i != 0) luaL_error(L, "invalid capture index %%%d", i + 1);
    lua_pushlstring(L, s + ms, me - ms);
  } else if (m->cap[i].len == BNC_PAT_UNFINISHED) {
    luaL_error(L, "unfinished capture");
  } else if (m->cap[i].len == BNC_PAT_POSITION) {
    lua_pushinteger(L, (lua_Integer)m->cap[i].start + 1);
  } else {
    lua_pushlstring(L, s + m->cap[i].start, m->cap[i].len);
  }
}

/* Pushes every capture (or the whole match when whole and there is none);
 * returns how many. */
static int push_captures(lua_State *L, const bnc_pat_t *m, const char *s, size_t ms, size_t me,
                         int whole) {
  int i, n = (m->level == 0 && whole) ? 1 : m->level;
  luaL_checkstack(L, n, "too many captures");
  for (i = 0; i < n; i++) push_capture(L, m, s, i, ms, me);
  return n;
}

/* A 1-based position argument, negative counting from the end, as an
 * offset clamped to 0.. (ls + 1 means past the end). */
static size_t start_offset(lua_State *L, int arg, size_t ls) {
  lua_Integer pos = luaL_optinteger(L, arg, 1);
  if (pos > 0) return (size_t)pos - 1;
  if (pos == 0) return 0;
  if ((size_t)-pos > ls) return 0;
  return ls - (size_t)-pos;
}

static int find_aux(lua_State *L, int find) {
  pbudget *b = get_budget(L);
  size_t ls, lp, at, e;
  const char *s = luaL_checklstring(L, 1, &ls), *p = luaL_checklstring(L, 2, &lp);
  int anchor;
  bnc_pat_t m;
  at = start_offset(L, 3, ls);
  if (at > ls) { lua_pushnil(L); return 1; }
  if (find && (lua_toboolean(L, 4) || !bnc_pat_has_specials(p, lp))) {
    size_t pos;
    int r = bnc_pat_find_plain(&b->left, s, ls, at, p, lp, &pos);
    if (r < 0) return pat_fail(L, b, BNC_PAT_BUDGET, NULL);
    if (r == 0) { lua_pushnil(L); return 1; }
    lua_pushinteger(L, (lua_Integer)pos + 1);
    lua_pushinteger(L, (lua_Integer)(pos + lp));
    return 2;
  }
  anchor = lp > 0 && *p == '^';
  if (anchor) { p++; lp--; }
  for (;;) {
    bnc_pat_status_t st = try_at(b, &m, s, ls, at, p, lp, &e);
    if (st == BNC_PAT_MATCH) {
      if (!find) return push_captures(L, &m, s, at, e, 1);
      lua_pushinteger(L, (lua_Integer)at + 1);
      lua_pushinteger(L, (lua_Integer)e);
      return push_captures(L, &m, s, at, e, 0) + 2;
    }
    if (st != BNC_PAT_NOMATCH) return pat_fail(L, b, st, m.err);
    if (anchor || at >= ls) break;
    at++;
  }
  lua_pushnil(L);
  return 1;
}

/* find(s, pattern [, init [, plain]]) */
static int l_find(lua_State *L) { return find_aux(L, 1); }

/* match(s, pattern [, init]) */
static int l_match(lua_State *L) { return find_aux(L, 0); }

/* The iterator's position (upvalue 4 of the iterator). */
typedef struct {
  size_t pos;       /* where the next attempt starts */
  size_t last;      /* end of the last match, or (size_t)-1 */
} gstate;

/* Upvalues: budget, s, pattern, gstate. */
static int gmatch_next(lua_State *L) {
  pbudget *b = get_budget(L);
  size_t ls, lp, e;
  const char *s = lua_tolstring(L, lua_upvalueindex(2), &ls);
  const char *p = lua_tolstring(L, lua_upvalueindex(3), &lp);
  gstate *g = (gstate *)lua_touserdata(L, lua_upvalueindex(4));
  bnc_pat_t m;
  for (; g->pos <= ls; g->pos++) {
    bnc_pat_status_t st = try_at(b, &m, s, ls, g->pos, p, lp, &e);
    if (st == BNC_PAT_MATCH && e != g->last) {
      size_t start = g->pos;
      g->pos = g->last = e;
      return push_captures(L, &m, s, start, e, 1);
    }
    if (st != BNC_PAT_MATCH && st != BNC_PAT_NOMATCH) return pat_fail(L, b, st, m.err);
  }
  return 0;
}

/* gmatch(s, pattern [, init]) */
static int l_gmatch(lua_State *L) {
  size_t ls;
  gstate *g;
  luaL_checklstring(L, 1, &ls);
  luaL_checkstring(L, 2);
  lua_settop(L, 3);
  lua_pushvalue(L, lua_upvalueindex(1));              /* s, p, init, budget */
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);                                /* ..., budget, s, p */
  g = (gstate *)lua_newuserdata(L, sizeof *g);        /* ..., budget, s, p, g */
  g->pos = start_offset(L, 3, ls);
  if (g->pos > ls + 1) g->pos = ls + 1;
  g->last = (size_t)-1;
  lua_pushcclosure(L, gmatch_next, 4);
  return 1;
}

/* Appends the string replacement r for the match s[ms..me). */
static void add_string(lua_State *L, luaL_Buffer *buf, pbudget *b, const bnc_pat_t *m,
                       const char *s, size_t ms, size_t me, const char *r, size_t lr) {
  size_t i;
  pay_copy(L, b, lr);
  for (i = 0; i < lr; i++) {
    if (r[i] != '%') { luaL_addchar(buf, r[i]); continue; }
    i++;
    if (i < lr && r[i] == '%') {
      luaL_addchar(buf, '%');
    } else if (i < lr && r[i] >= '0' && r[i] <= '9') {
      if (r[i] == '0') {
        pay_copy(L, b, me - ms);
        luaL_addlstring(buf, s + ms, me - ms);
      } else {
        push_capture(L, m, s, r[i] - '1', ms, me);
        pay_copy(L, b, bnc_rawlen(L, -1));
        luaL_addvalue(buf);
      }
    } else {
      luaL_error(L, "invalid use of '%%' in replacement string");
    }
  }
}

/* Appends the value a table or function replacement gives for the match. */
static void add_lookup(lua_State *L, luaL_Buffer *buf, pbudget *b, const bnc_pat_t *m,
                       const char *s, size_t ms, size_t me) {
  if (lua_type(L, 3) == LUA_TFUNCTION) {
    int n;
    lua_pushvalue(L, 3);
    n = push_captures(L, m, s, ms, me, 1);
    lua_call(L, n, 1);
  } else {
    push_capture(L, m, s, 0, ms, me);
    lua_gettable(L, 3);
  }
  if (!lua_toboolean(L, -1)) {                        /* keep the match */
    lua_pop(L, 1);
    pay_copy(L, b, me - ms);
    luaL_addlstring(buf, s + ms, me - ms);
    return;
  }
  if (!lua_isstring(L, -1))
    luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
  pay_copy(L, b, bnc_rawlen(L, -1));
  luaL_addvalue(buf);
}

/* gsub(s, pattern, repl [, n]) */
static int l_gsub(lua_State *L) {
  pbudget *b = get_budget(L);
  size_t ls, lp, lr = 0, at = 0, last = (size_t)-1, e;
  const char *s = luaL_checklstring(L, 1, &ls), *p = luaL_checklstring(L, 2, &lp);
  const char *r = NULL;
  int tr = lua_type(L, 3), anchor;
  lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1), n = 0;
  luaL_Buffer buf;
  bnc_pat_t m;
  luaL_argcheck(L, tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION
                || tr == LUA_TTABLE, 3, "string/function/table expected");
  if (tr == LUA_TNUMBER || tr == LUA_TSTRING) r = lua_tolstring(L, 3, &lr);
  anchor = lp > 0 && *p == '^';
  if (anchor) { p++; lp--; }
  luaL_buffinit(L, &buf);
  while (n < max) {
    bnc_pat_status_t st = try_at(b, &m, s, ls, at, p, lp, &e);
    if (st != BNC_PAT_MATCH && st != BNC_PAT_NOMATCH) return pat_fail(L, b, st, m.err);
    if (st == BNC_PAT_MATCH && e != last) {
      n++;
      if (r) add_string(L, &buf, b, &m, s, at, e, r, lr);
      else add_lookup(L, &buf, b, &m, s, at, e);
      at = last = e;
    } else if (at < ls) {
      luaL_addchar(&buf, s[at++]);
    } else {
      break;
    }
    if (anchor) break;
  }
  pay_copy(L, b, ls - at);
  luaL_addlstring(&buf, s + at, ls - at);
  luaL_pushresult(&buf);
  lua_pushinteger(L, n);
  return 2;
}

/* budget(steps) -> the steps that were left. Sets the steps the set's
 * functions may spend from now on, together. */
static int l_budget(lua_State *L) {
  pbudget *b = get_budget(L);
  lua_Number n = luaL_checknumber(L, 1);
  luaL_argcheck(L, n >= 0 && n <= 2e9, 1, "steps 0..2e9 expected");
  lua_pushnumber(L, (lua_Number)b->left);
  b->left = b->total = (unsigned long)n;
  return 1;
}

static const luaL_Reg set_funcs[] = {
  { "find", l_find }, { "match", l_match }, { "gmatch", l_gmatch }, { "gsub", l_gsub },
  { "budget", l_budget }, { NULL, NULL }
};

/* pattern_funcs() -> { find, match, gmatch, gsub, budget }, a budget of 0
 * until budget() sets one. */
static int l_pattern_funcs(lua_State *L) {
  pbudget *b;
  lua_createtable(L, 0, 5);                           /* t */
  b = (pbudget *)lua_newuserdata(L, sizeof *b);       /* t, budget */
  b->left = b->total = 0;
  luaL_setfuncs(L, set_funcs, 1);                     /* t */
  return 1;
}

static const luaL_Reg pattern_funcs[] = { { "pattern_funcs", l_pattern_funcs }, { NULL, NULL } };

void bnc_open_pattern(lua_State *L) {
  luaL_setfuncs(L, pattern_funcs, 0);
}
