/*
 * lbnc.h - what the binding files (src/l*.c) share, and nothing of the core:
 * the export macro, the rule-set, params and memory-store userdata with
 * their metatable names and checks, the name tables the history functions
 * push, the tracker fast path's upvalues and health buffer, and each
 * file's bnc_open_*(L). Included only by binding files (it includes the
 * Lua headers through compat.h); the core never sees it.
 *
 * Every bnc_open_*(L) adds its functions to the module table on top of the
 * stack and leaves the stack as it found it. luaopen_bounce_core
 * (lbounce.c) calls them in order.
 */
#ifndef BNC_LBNC_H
#define BNC_LBNC_H

#include <stddef.h>
#include <stdint.h>
#include "compat.h"
#include "classify.h"
#include "history.h"
#include "mstore.h"
#include "reason.h"
#include "record.h"
#include "reply.h"

/* The only symbols a module exports are its luaopen_* entry points (the
 * build hides everything else with -fvisibility=hidden). */
#if defined(__GNUC__)
#define BNC_EXPORT __attribute__((visibility("default")))
#else
#define BNC_EXPORT
#endif

/* ---- rule sets (lrules.c) ---- */

#define RULES_MT "bounce.rules"

/* A rule set userdata: rs is NULL once closed. */
typedef struct { bnc_ruleset_t *rs; } lrules;

/* The rule set at i (raises when it is none or closed). */
lrules *bnc_l_check_rules(lua_State *L, int i);
/* Pushes a new rule set (with the built-in rules when builtin). */
lrules *bnc_l_new_rules(lua_State *L, int builtin);

/* Compiles rules added since the last call (raises on memory). */
static inline void bnc_l_compile(lua_State *L, bnc_ruleset_t *rs) {
  if (bnc_ruleset_compile(rs) != BNC_OK) luaL_error(L, "not enough memory");
}

/* t[k] = v on the table on top, for a non-NULL v. */
static inline void bnc_l_set_str(lua_State *L, const char *k, const char *v) {
  if (!v) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

/* Pushes a time, or nil for 0 (none). */
static inline void bnc_l_push_time(lua_State *L, uint32_t t) {
  if (t) lua_pushinteger(L, (lua_Integer)t); else lua_pushnil(L);
}

/* ---- classification (lclassify.c) ---- */

/* Parses reply s into r (its text into text, cap >= len + 1) and
 * classifies it under rs, as bounce.classify does: cmd (NULL, or cl bytes)
 * is the command it answered, *rhost (NULL, or *rhl bytes) the remote
 * host, else the one the reply names (*rhost is then set to it). Returns
 * BNC_OK, what bnc_reply_parse returned, or BNC_EINVAL for an unknown
 * command. rs is compiled. */
int bnc_l_classify_reply(const bnc_ruleset_t *rs, const char *s, size_t len, char *text,
                         size_t cap, const char *cmd, size_t cl, const char **rhost,
                         size_t *rhl, bnc_reply_t *r, bnc_class_t *c);

/* ---- policy parameters (lpolicy.c) ---- */

#define PARAMS_MT "bounce.params"

/* Registry key (its address) of the params metatable, beside PARAMS_MT. */
extern const char bnc_l_params_key;

/* Registers the params metatable (once per state; later calls only look). */
void bnc_l_params_mt(lua_State *L);

/* Number field k of the table at t (absent: def; required when def < -1),
 * checked to lie in lo..hi; errors name the function 'params'. */
lua_Number bnc_l_num_field(lua_State *L, int t, const char *k, lua_Number def, lua_Number lo,
                           lua_Number hi);

/* The userdata at i when its metatable is the one under the registry key
 * key (compared by address: no name is interned per call), else raises as
 * luaL_checkudata(L, i, tname) does. */
static inline void *bnc_l_checkudata(lua_State *L, int i, const void *key, const char *tname) {
  void *p = lua_touserdata(L, i);
  if (p && lua_getmetatable(L, i)) {                  /* mt */
    int same;
    lua_pushlightuserdata(L, (void *)key);
    lua_rawget(L, LUA_REGISTRYINDEX);                 /* mt, expected */
    same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (same) return p;
  }
  return luaL_checkudata(L, i, tname);                /* raises the usual message */
}

/* ---- records and the state machine (lrecord.c) ---- */

/* Name tables for the decision's fields: actions, states, causes, reasons
 * in one numbering. The memory store's methods and the fast path hold the
 * names as upvalues (interned once, not on every event). */
#define NAME_ACTION 0
#define NAME_STATE (NAME_ACTION + BNC_ACT__COUNT)
#define NAME_CAUSE (NAME_STATE + BNC_ST__COUNT)
#define NAME_REASON (NAME_CAUSE + BNC_CAUSE__COUNT)
#define NAME__COUNT (NAME_REASON + BNC_R__COUNT)

/* Name i (NAME_*). */
const char *bnc_l_name_of(int i);

/* Reads event arguments at i.. : event, reason, at [, rand [, permanent]]. */
void bnc_l_read_event(lua_State *L, int i, bnc_event_in_t *ev);

/* Pushes the 8 decision fields: action, state, reason, attempts,
 * retry_at, expires_at, since, cause (names from upvalue 1 when it is the
 * name table, else interned). */
void bnc_l_push_fields(lua_State *L, const bnc_decision_t *d);

/* ---- the memory store (lmstore.c) ---- */

#define MSTORE_MT "bounce.mstore"

/* A memory store userdata: m is NULL once closed. */
typedef struct { bnc_mstore_t *m; } lmstore;

/* ---- the tracker's fast path (lmstore.c, its health buffer lhealth.c) ---- */

/* Upvalues of the functions core.recorder makes. Field and value names are
 * upvalues of their own: pushing one (and lua_rawget) is half the cost of
 * lua_getfield, which looks a C string up in the string cache, or of
 * lua_rawgeti from a table of names. */
enum { RU_STATE = 1,  /* the fstate userdata (below) */
       RU_EVENTS,     /* event type -> code: the tracker's table */
       RU_REASONS,    /* reason name -> code */
       RU_HEALTH,     /* event code -> health counter index */
       RU_PARAMS_MT, RU_STORE, RU_CLOCK,
       RU_DCACHE,     /* domain -> reason or "" -> params, set by health("ctx") */
       RU_HAND,       /* the tracker's function that counts what the buffer hands over */
       RU_RULES,      /* the rule set replies are classified with (bounce.classify's) */
       RU_RCPT, RU_REPLY, RU_TYPE, RU_REASON, RU_COUNT, RU_PERMANENT, RU_AT, RU_CAMPAIGN,
       RU_SENDER, RU_EMPTY, RU_DOMAIN, RU_RHOST, RU_COMMAND,
       RU_NAMES,      /* NAME__COUNT names for push_nm */
       RU__COUNT = RU_NAMES + NAME__COUNT };

/* The health buffer of the fast path: one entry per scope (kind and name)
 * holding the counts of one bucket (see lhealth.c). */
#define HB_SLOTS 2048                  /* a power of two */
#define HB_MAX (HB_SLOTS / 4 * 3)      /* entries; past it new scopes are counted at once */
#define HB_NAME 64                     /* longer names are counted at once */
#define BNC_LABEL_MAX 256              /* bytes of a campaign or sender label (t:record) */
#define HB_KINDS 7                     /* health kinds: sent ... complaint, delayed */

enum { HK_NONE = 0, HK_DOMAIN, HK_CAMPAIGN, HK_SENDER };   /* HK_NONE: a free slot */

typedef struct {
  lua_Integer b;                       /* the bucket of the counts */
  const bnc_params_t *p0;              /* a domain's params for events without reason */
  uint32_t hash;
  uint32_t n[HB_KINDS];
  unsigned char kind, len;
  char name[HB_NAME];
} hb_entry;

typedef struct {
  lua_Integer newest;                  /* the newest bucket an entry was made for */
  size_t count;                        /* entries in use */
  hb_entry e[HB_SLOTS];
} hbuf;

/* What the fast path reads on every event, in one userdata: the store's
 * memory (upvalue RU_STORE keeps it alive), the buffer's (its user value
 * does) and the policy's settings the tracker gives with health("ctx"). */
typedef struct {
  lmstore *store;
  hbuf *h;             /* NULL until the first event */
  lua_Number length;   /* health bucket length; 0: no health */
  int cs;              /* case-sensitive local parts */
} fstate;

/* These run inside the fast path's closures: they read its upvalues. */
hb_entry *bnc_hb_slot(hbuf *h, int kind, const char *s, size_t len);
void bnc_hb_new(hbuf *h, hb_entry *e, int kind, const char *s, size_t len, lua_Integer b);
void bnc_hb_hand_all(lua_State *L, hbuf *h);
void bnc_hb_hand_scopes(lua_State *L, hbuf *h, const char *dom, size_t dlen, int camp, int snd);
int bnc_hb_count(lua_State *L, hbuf *h, lua_Integer b, int hi, const char *dom, size_t dlen,
                 hb_entry *de, int camp, int snd);
hbuf *bnc_hb_make(lua_State *L);

/* ---- each binding file's functions, added to the module table ---- */

void bnc_open_rules(lua_State *L);      /* lrules.c: new_rules, the rule-set metatable */
void bnc_open_classify(lua_State *L);   /* lclassify.c: classify, reasons, ..., _ffi */
void bnc_open_policy(lua_State *L);     /* lpolicy.c: params */
void bnc_open_record(lua_State *L);     /* lrecord.c: step, decode_record, ... */
void bnc_open_mstore(lua_State *L);     /* lmstore.c: mstore, recorder */
void bnc_open_address(lua_State *L);    /* laddress.c: normalize_address */
void bnc_open_message(lua_State *L);    /* lmessage.c: parse, ses_bounce */
void bnc_open_verp(lua_State *L);       /* lverp.c: verp_decode, verp_find */
void bnc_open_dns(lua_State *L);        /* ldns.c: DNS, IDN, mailbox syntax */
void bnc_open_pattern(lua_State *L);    /* lpattern.c: pattern_funcs (bounded matching) */
void bnc_open_memory(lua_State *L);     /* lmemory.c: memory_guard */

#endif
