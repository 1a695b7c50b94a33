/*
 * lhealth.c - the health counts of the tracker's fast path (lmstore.c).
 *
 * t:record counts each event in Lua tables (scope -> bucket -> 7 counts),
 * several table look-ups and writes per scope of an event. The fast path
 * adds to this buffer instead: one entry per scope (kind and
 * name) holding the counts of one bucket. An entry is handed to the
 * tracker's function (which counts as t:record does) when its scope gets
 * an event of another bucket or one the buffer does not take; all are
 * handed over when a newer bucket starts (so the buffer holds one bucket's
 * scopes, at most HB_MAX) and before anything reads the counters. A
 * scope's counts thus reach the counters in the order they came, grouped
 * by bucket: the counters end as if each event had been counted at once.
 * A domain's entry also remembers its params for events without a reason
 * (most events), saving the domain string and two dcache lookups; they are
 * forgotten with the dcache (health("ctx")) and when entries go. The
 * buffer is a plain userdata (~230 KB): no malloc, nothing to free.
 *
 * The functions run inside the fast path's closures and read their
 * upvalues (RU_*, lbnc.h).
 */
#include <string.h>
#include "lbnc.h"

static uint32_t hb_hash(int kind, const char *s, size_t n) {
  return bnc_mstore_hash(s, n, (uint64_t)n << 2 | (uint64_t)kind);
}

/* The entry of the scope, or the free slot where it goes. */
hb_entry *bnc_hb_slot(hbuf *h, int kind, const char *s, size_t len) {
  uint32_t hash = hb_hash(kind, s, len);
  size_t i = hash & (HB_SLOTS - 1);
  for (;; i = (i + 1) & (HB_SLOTS - 1)) {
    hb_entry *e = &h->e[i];
    if (e->kind == HK_NONE) { e->hash = hash; return e; }
    if (e->hash == hash && e->kind == kind && e->len == len && memcmp(e->name, s, len) == 0)
      return e;
  }
}

/* Makes the free slot e the entry of a scope, counts at 0. */
void bnc_hb_new(hbuf *h, hb_entry *e, int kind, const char *s, size_t len, lua_Integer b) {
  e->kind = (unsigned char)kind;
  e->len = (unsigned char)len;
  memcpy(e->name, s, len);
  e->b = b;
  e->p0 = NULL;
  h->count++;
}

/* Hands the entry's counts to the tracker (upvalue RU_HAND), one call per
 * kind counted: hand(kind, name, bucket, i, n). The counts are cleared
 * first: whatever happens in the calls, nothing is handed twice. */
static void hb_hand(lua_State *L, hb_entry *e) {
  uint32_t n[HB_KINDS];
  int i;
  memcpy(n, e->n, sizeof n);
  memset(e->n, 0, sizeof e->n);
  luaL_checkstack(L, 6, NULL);
  for (i = 0; i < HB_KINDS; i++) {
    if (!n[i]) continue;
    lua_pushvalue(L, lua_upvalueindex(RU_HAND));
    lua_pushvalue(L, lua_upvalueindex(e->kind == HK_DOMAIN ? RU_DOMAIN
                                      : e->kind == HK_CAMPAIGN ? RU_CAMPAIGN : RU_SENDER));
    lua_pushlstring(L, e->name, e->len);
    lua_pushinteger(L, e->b);
    lua_pushinteger(L, i + 1);
    lua_pushinteger(L, (lua_Integer)n[i]);
    lua_call(L, 5, 0);
  }
}

/* Hands over every entry, then empties the buffer. */
void bnc_hb_hand_all(lua_State *L, hbuf *h) {
  size_t i;
  if (!h->count) return;
  for (i = 0; i < HB_SLOTS; i++)
    if (h->e[i].kind != HK_NONE) hb_hand(L, &h->e[i]);
  memset(h->e, 0, sizeof h->e);
  h->count = 0;
}

/* A scope's name as the counters key it: a string as it is, a number as
 * tostring makes it. Returns 1 with the name (a string on the stack holds
 * it: slot i, the caller's own), 0 for nil, -1 for other values. */
static int scope_name(lua_State *L, int i, const char **s, size_t *len) {
  int t = lua_type(L, i);
  if (t == LUA_TNIL) return 0;
  if (t != LUA_TSTRING && t != LUA_TNUMBER) return -1;
  *s = lua_tolstring(L, i, len);   /* a number's slot becomes its string, as tostring gives */
  return 1;
}

/* The names of an event's scopes: the domain (bytes), the campaign and
 * the sender (stack slots camp, snd). r[k]: 1 a name, 0 none, -1 one only
 * tostring can tell. */
static void scope_names(lua_State *L, const char *dom, size_t dlen, int camp, int snd,
                        const char **s, size_t *len, int *r) {
  s[0] = dom;
  len[0] = dlen;
  r[0] = 1;
  r[1] = scope_name(L, camp, &s[1], &len[1]);
  r[2] = scope_name(L, snd, &s[2], &len[2]);
}

/* Before t:record counts an event's scopes at once, hands over what the
 * buffer holds for them; for a name it cannot tell, everything. */
void bnc_hb_hand_scopes(lua_State *L, hbuf *h, const char *dom, size_t dlen, int camp,
                           int snd) {
  const char *s[3];
  size_t len[3];
  int k, r[3];
  if (!h->count) return;
  scope_names(L, dom, dlen, camp, snd, s, len, r);
  for (k = 0; k < 3; k++) {
    if (r[k] < 0) { bnc_hb_hand_all(L, h); return; }
    if (r[k] > 0 && len[k] <= HB_NAME) {
      hb_entry *e = bnc_hb_slot(h, HK_DOMAIN + k, s[k], len[k]);
      if (e->kind != HK_NONE) hb_hand(L, e);
    }
  }
}

/* Counts one event of health kind hi in bucket b for its scopes. de is the
 * domain's entry when the caller has it (or NULL). Returns 1 when the
 * buffer took the event, 0 when t:record must count it at once (it then
 * finds nothing of these scopes in the buffer). */
int bnc_hb_count(lua_State *L, hbuf *h, lua_Integer b, int hi, const char *dom, size_t dlen,
                    hb_entry *de, int camp, int snd) {
  const char *s[3];
  size_t len[3];
  int k, r[3];
  if (b > h->newest) {   /* a newer bucket: the older ones go */
    bnc_hb_hand_all(L, h);
    h->newest = b;
    de = NULL;
  }
  scope_names(L, dom, dlen, camp, snd, s, len, r);
  for (k = 0; k < 3; k++)
    if (r[k] < 0 || (r[k] > 0 && len[k] > HB_NAME)) break;
  if (k < 3 || h->count + 3 > HB_MAX) {
    bnc_hb_hand_scopes(L, h, dom, dlen, camp, snd);
    return 0;
  }
  for (k = 0; k < 3; k++) {
    hb_entry *e;
    if (!r[k]) continue;
    e = (k == 0 && de) ? de : bnc_hb_slot(h, HK_DOMAIN + k, s[k], len[k]);
    if (e->kind == HK_NONE) {
      bnc_hb_new(h, e, HK_DOMAIN + k, s[k], len[k], b);
    } else if (e->b != b || e->n[hi - 1] == UINT32_MAX) {
      hb_hand(L, e);
      e->b = b;
    }
    e->n[hi - 1]++;
  }
  return 1;
}

/* Makes the buffer, on the first event (a tracker that records nothing
 * does not pay for it), kept alive by the state (upvalue RU_STATE) that
 * points to it. */
hbuf *bnc_hb_make(lua_State *L) {
  fstate *st = lua_touserdata(L, lua_upvalueindex(RU_STATE));
  hbuf *h;
  lua_createtable(L, 1, 0);                           /* t */
  h = lua_newuserdata(L, sizeof *h);                  /* t, buffer */
  memset(h, 0, sizeof *h);
  h->newest = -1;   /* buckets are >= 0 */
  lua_rawseti(L, -2, 1);                              /* t */
  bnc_setuservalue(L, lua_upvalueindex(RU_STATE));    /* (a table: Lua 5.1 wants one) */
  st->h = h;
  return h;
}
