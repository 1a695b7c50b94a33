/*
 * lmstore.c - the memory store and the tracker's fast path over it.
 * `core.mstore` makes a store: a userdata owning a bnc_mstore_t (mstore.c),
 * freed by __gc and __close, with get, cas, apply, scan, count, bytes.
 * `core.recorder` makes t:record's one-call path over such a store (its
 * health counts are buffered by lhealth.c). No call below holds malloc'd
 * memory while Lua may raise: argument checks come first.
 */
#include <string.h>
#include "address.h"
#include "lbnc.h"

/* The address is the registry key of the store's metatable (as for params:
 * no name is interned per call). */
static const char mstore_key = 'm';

static void mstore_mt(lua_State *L);

static lmstore *check_mstore(lua_State *L) {
  lmstore *u = bnc_l_checkudata(L, 1, &mstore_key, MSTORE_MT);
  if (!u->m) luaL_argerror(L, 1, "store is closed");
  return u;
}

/* mstore([value_size]) -> store; value_size defaults to a record's size. */
static int l_mstore(lua_State *L) {
  lua_Integer vs = lua_isnoneornil(L, 1) ? BNC_RECORD_SIZE : bnc_checkinteger(L, 1);
  lmstore *u;
  luaL_argcheck(L, vs >= 1 && vs <= 255, 1, "value size out of range 1..255");
  mstore_mt(L);
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
  const bnc_params_t *p = bnc_l_checkudata(L, 3, &bnc_l_params_key, PARAMS_MT);
  bnc_event_in_t ev;
  bnc_decision_t d;
  char msg[128];
  const char *why;
  bnc_l_read_event(L, 4, &ev);
  luaL_checkstack(L, 10, NULL);
  if (bnc_mstore_vsize(u->m) != BNC_RECORD_SIZE) luaL_argerror(L, 1, "store does not hold records");
  why = mstore_step(L, u->m, k, kl, p, &ev, &d, msg, sizeof msg);
  if (why) {
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
  }
  bnc_l_push_fields(L, &d);
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

/* Registers the memory store's metatable (once per state; later calls
 * only look it up). Its methods hold the decision's names as upvalue 1. */
static void mstore_mt(lua_State *L) {
  if (luaL_newmetatable(L, MSTORE_MT)) {              /* mt */
    int i;
    lua_pushlightuserdata(L, (void *)&mstore_key);
    lua_pushvalue(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
    luaL_newlibtable(L, mstore_methods);              /* mt, methods */
    lua_createtable(L, NAME__COUNT, 0);               /* mt, methods, names */
    for (i = 0; i < NAME__COUNT; i++) {
      lua_pushstring(L, bnc_l_name_of(i));
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

/* ---- the tracker's fast path ---- */
/* t:record over the memory store in one C call. A C API call costs about
 * what a VM instruction does, and reading a field or building a table
 * costs about the same from C as from Lua; what pays is doing in one call
 * what would take several (normalize, classify a reply, floor, apply,
 * type checks), the health counts (buffered below) and the work between
 * them. So the decision's fields come back as values and t:record builds
 * the table. Only the common case is handled: for any other the function
 * declines before any side effect and t:record's Lua code runs as before,
 * with its own checks and errors. */

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
    bnc_l_compile(L, u->rs);
    ok = bnc_l_classify_reply(u->rs, s, len, text, sizeof text, cmd, cl, &rhost, &rhl, &r,
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
 *   cause, key, event type, permanent (a block's: boolean; else nil)
 *   [, domain, count, health bucket, health index]
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
  if (!h) h = bnc_hb_make(L);
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
    if (lua_type(L, RS_COUNT) != LUA_TNUMBER || !(t >= 1 && t <= 1e9) ||
        t != (lua_Number)(lua_Integer)t)
      return 0;
  }
  /* health labels longer than t:record takes: it says so */
  if ((ev_field(L, RU_CAMPAIGN) == LUA_TSTRING && bnc_rawlen(L, -1) > BNC_LABEL_MAX) ||
      (ev_field(L, RU_SENDER) == LUA_TSTRING && bnc_rawlen(L, -1) > BNC_LABEL_MAX))
    return 0;
  lua_pop(L, 2);
  ev.permanent = ev.transient = 0;
  if (ev.type == BNC_EV_SOFT || ev.type == BNC_EV_HARD || ev.type == BNC_EV_BLOCK) {
    /* soft and hard step by it; a block's decision tells it */
    if (classified) lua_pushboolean(L, cl.permanent);                 /* RS_PERMANENT */
    else if (ev_field(L, RU_PERMANENT) > LUA_TBOOLEAN) return 0;   /* t:record refuses it */
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
    e = bnc_hb_slot(h, HK_DOMAIN, dom, dlen);
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
      if (e->kind == HK_NONE) bnc_hb_new(h, e, HK_DOMAIN, dom, dlen, h->newest);
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
  /* dead domains (bounce.tracker): a hostunknown or notaccept hard bounce
   * marks its domain, a delivery lifts a mark, under the key "@" .. domain
   * (key + amp: the normalized address's "@domain"); t:record's Lua code
   * does both */
  if (ev.type == BNC_EV_HARD && (ev.reason == BNC_R_HOSTUNKNOWN || ev.reason == BNC_R_NOTACCEPT) &&
      !ev.transient)
    goto decline;
  if (ev.type == BNC_EV_DELIVERED && bnc_mstore_get(u->m, key + amp, dlen + 1)) goto decline;
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
        bnc_hb_count(L, h, hb, hi, dom, dlen, e && e->kind ? e : NULL, RS_CAMPAIGN, RS_SENDER))
      hi = 0;
    else
      bnc_hb_hand_scopes(L, h, dom, dlen, RS_CAMPAIGN, RS_SENDER);
  }
  push_nm(L, NAME_ACTION + d.action);
  push_nm(L, NAME_STATE + d.state);
  push_nm(L, NAME_REASON + (((unsigned)d.reason < BNC_R__COUNT) ? d.reason : 0));
  lua_pushinteger(L, (lua_Integer)d.attempts);
  lua_pushinteger(L, (lua_Integer)ev.at);
  bnc_l_push_time(L, d.retry_at);
  bnc_l_push_time(L, d.since);
  bnc_l_push_time(L, d.expires_at);
  if (d.cause) push_nm(L, NAME_CAUSE + d.cause); else lua_pushnil(L);
  lua_pushvalue(L, RS_KEY);
  lua_pushvalue(L, RS_TYPE);
  if (ev.type == BNC_EV_BLOCK) lua_pushboolean(L, ev.permanent); else lua_pushnil(L);
  if (!hi) return 12;
  if (lua_isnil(L, RS_DOMAIN)) lua_pushlstring(L, dom, dlen); else lua_pushvalue(L, RS_DOMAIN);
  if (lua_isnil(L, RS_COUNT)) lua_pushinteger(L, 1); else lua_pushvalue(L, RS_COUNT);
  lua_pushinteger(L, hb);
  lua_pushinteger(L, hi);
  return 16;
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
  if (op == 1) bnc_hb_hand_all(L, h);
  else if (op == 2) {
    size_t dlen;
    const char *dom = luaL_checklstring(L, 2, &dlen);
    bnc_hb_hand_scopes(L, h, dom, dlen, 3, 4);
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
  bnc_l_params_mt(L);
  mstore_mt(L);
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
  for (i = 0; i < NAME__COUNT; i++) lua_pushstring(L, bnc_l_name_of(i));
  for (i = 1; i < RU__COUNT; i++) lua_pushvalue(L, 7 + i);   /* upvalue i is at 7 + i */
  lua_pushcclosure(L, l_health, RU__COUNT - 1);       /* the same upvalues */
  lua_insert(L, 8);
  lua_pushcclosure(L, l_record, RU__COUNT - 1);
  lua_insert(L, 8);                                   /* record, health */
  return 2;
}


static const luaL_Reg mstore_funcs[] = {
  { "mstore", l_mstore }, { "recorder", l_recorder }, { NULL, NULL }
};

void bnc_open_mstore(lua_State *L) {
  mstore_mt(L);
  luaL_setfuncs(L, mstore_funcs, 0);
}
