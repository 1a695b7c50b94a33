/*
 * lrecord.c - the record codec and the state machine over it: `step`
 * (one transition of history.c on a record blob), `decode_record`,
 * `encode_record`, `record_expiry` (record.c) and `history_info` (the
 * names and sizes the Lua side maps once). Also the readers and pushers of
 * events and decisions the memory store and the fast path share.
 */
#include <string.h>
#include "lbnc.h"

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

/* (lbnc.h) */
const char *bnc_l_name_of(int i) {
  if (i < NAME_STATE) return bnc_action_name(i - NAME_ACTION);
  if (i < NAME_CAUSE) return bnc_state_name(i - NAME_STATE);
  if (i < NAME_REASON) return bnc_cause_name(i - NAME_CAUSE);
  return bnc_reason_name((bnc_reason_t)(i - NAME_REASON));
}

static void push_name(lua_State *L, int i) {
  if (lua_type(L, lua_upvalueindex(1)) == LUA_TTABLE) lua_rawgeti(L, lua_upvalueindex(1), i + 1);
  else lua_pushstring(L, bnc_l_name_of(i));
}

/* (lbnc.h) */
void bnc_l_push_fields(lua_State *L, const bnc_decision_t *d) {
  push_name(L, NAME_ACTION + d->action);
  push_name(L, NAME_STATE + d->state);
  push_name(L, NAME_REASON + (((unsigned)d->reason < BNC_R__COUNT) ? d->reason : 0));
  lua_pushinteger(L, (lua_Integer)d->attempts);
  bnc_l_push_time(L, d->retry_at);
  bnc_l_push_time(L, d->expires_at);
  bnc_l_push_time(L, d->since);
  if (d->cause) push_name(L, NAME_CAUSE + d->cause); else lua_pushnil(L);
}

/* Pushes the decision fields and the blob to write (string), false (no
 * change) or "" (the record is clean: delete it). 9 values. */
static int push_decision(lua_State *L, const bnc_record_t *r, const bnc_decision_t *d) {
  bnc_l_push_fields(L, d);
  if (!d->changed) lua_pushboolean(L, 0);
  else if (bnc_record_is_clean(r)) lua_pushliteral(L, "");
  else {
    unsigned char out[BNC_RECORD_SIZE];
    bnc_record_encode(r, out);
    lua_pushlstring(L, (const char *)out, sizeof out);
  }
  return 9;
}

/* (lbnc.h) */
void bnc_l_read_event(lua_State *L, int i, bnc_event_in_t *ev) {
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
  const bnc_params_t *p = bnc_l_checkudata(L, 2, &bnc_l_params_key, PARAMS_MT);
  bnc_l_read_event(L, 3, &ev);
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
  bnc_l_set_str(L, "state", bnc_state_name(r.state));
  if (r.cause) bnc_l_set_str(L, "cause", bnc_cause_name(r.cause));
  if (r.last_event) bnc_l_set_str(L, "last_event", bnc_event_name(r.last_event));
  bnc_l_set_str(L, "reason", bnc_reason_name((bnc_reason_t)r.last_reason));
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
  return (uint32_t)bnc_l_num_field(L, 1, k, 0, 0, 4294967295.0);
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
  r.soft_count = (uint16_t)bnc_l_num_field(L, 1, "attempts", 0, 0, 65535);
  r.block_count = (uint16_t)bnc_l_num_field(L, 1, "blocks", 0, 0, 65535);
  r.bounces = (uint16_t)bnc_l_num_field(L, 1, "bounces", 0, 0, 65535);
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
  return 1;
}

static const luaL_Reg record_funcs[] = {
  { "history_info", l_history_info }, { "step", l_step }, { "decode_record", l_decode },
  { "encode_record", l_encode }, { "record_expiry", l_record_expiry }, { NULL, NULL }
};

void bnc_open_record(lua_State *L) {
  luaL_setfuncs(L, record_funcs, 0);
}
