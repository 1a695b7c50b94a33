/*
 * lclassify.c - one reply in, one table out: `core.classify`, the
 * vocabulary (`reasons`, `type_of`, `describe`) and the table of function
 * pointers LuaJIT's FFI path uses (`_ffi`). The reply is parsed
 * (reply.c) and classified (classify.c) in C; the module's default rule
 * set and a scratch buffer are upvalues of these functions, so two Lua
 * states never share configuration.
 */
#include <string.h>
#include "lbnc.h"
#include "status.h"

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

/* bounce.classify's parse and classification of one reply (lbnc.h). */
int bnc_l_classify_reply(const bnc_ruleset_t *rs, const char *s, size_t len, char *text,
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
  bnc_l_compile(L, rs);
  text = scratch(L, len + 1);
  rc = bnc_l_classify_reply(rs, s, len, text, len + 1, cmd, cl, &rhost, &rhl, &r, &c);
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

/* reasons() -> { {name=, type=, permanent_type=}, ... } in table order */
static int l_reasons(lua_State *L) {
  int i;
  lua_createtable(L, BNC_R__COUNT, 0);
  for (i = 0; i < BNC_R__COUNT; i++) {
    lua_createtable(L, 0, 3);
    bnc_l_set_str(L, "name", bnc_reason_name((bnc_reason_t)i));
    bnc_l_set_str(L, "type", bnc_type_name(bnc_reason_type((bnc_reason_t)i, 1)));
    bnc_l_set_str(L, "temporary_type", bnc_type_name(bnc_reason_type((bnc_reason_t)i, 0)));
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

static const luaL_Reg classify_funcs[] = {
  { "classify", l_classify },
  { "reasons", l_reasons }, { "type_of", l_type_of },
  { "describe", l_describe }, { NULL, NULL }
};

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

/* Adds classify, reasons, type_of, describe (upvalues: M.default_rules,
 * a scratch buffer, the UV_STRS table, a weak-keyed table of rule names),
 * REPLY_MAX and _ffi to the module table on top. */
void bnc_open_classify(lua_State *L) {
  lua_getfield(L, -1, "default_rules");               /* M, rules */
  lua_newuserdata(L, 256);                            /* M, rules, scratch */
  push_strings(L);                                    /* M, rules, scratch, strs */
  lua_newtable(L);                                    /* M, rules, scratch, strs, names */
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  luaL_setfuncs(L, classify_funcs, 4);                /* M */
  lua_pushinteger(L, (lua_Integer)BNC_REPLY_MAX);
  lua_setfield(L, -2, "REPLY_MAX");
  lua_pushlightuserdata(L, (void *)&FFI_API);
  lua_setfield(L, -2, "_ffi");
}
