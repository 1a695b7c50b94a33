/*
 * ldns.c - the binding of what verification needs from the core: DNS
 * queries built and answers parsed (dns.c), IDN domains (idn.c) and the
 * mailbox syntax check (mailbox.c). bnc_open_dns(L) adds the functions to
 * the module table on top of the stack. One C call per message or address;
 * the sockets are the Lua side's (bounce.dns).
 */
#include <string.h>
#include "bnc.h"
#include "dns.h"
#include "idn.h"
#include "lbnc.h"
#include "mailbox.h"

static const struct { const char *name; unsigned code; } TYPES[] = {
  { "A", BNC_DNS_A }, { "NS", BNC_DNS_NS }, { "CNAME", BNC_DNS_CNAME }, { "SOA", BNC_DNS_SOA },
  { "PTR", BNC_DNS_PTR }, { "MX", BNC_DNS_MX }, { "TXT", BNC_DNS_TXT }, { "AAAA", BNC_DNS_AAAA },
};

/* A query type given as a name ("MX") or a number 1..65535. */
static uint16_t check_qtype(lua_State *L, int i) {
  if (lua_type(L, i) == LUA_TSTRING) {
    const char *s = lua_tostring(L, i);
    size_t k;
    for (k = 0; k < sizeof TYPES / sizeof TYPES[0]; k++)
      if (strcmp(s, TYPES[k].name) == 0) return (uint16_t)TYPES[k].code;
    luaL_argerror(L, i, "unknown record type (A, AAAA, MX, CNAME, NS, PTR, SOA, TXT or a number)");
  } else {
    lua_Integer t = bnc_checkinteger(L, i);
    if (t < 1 || t > 65535) luaL_argerror(L, i, "record type 1..65535 expected");
    return (uint16_t)t;
  }
  return 0;
}

static uint16_t check_id(lua_State *L, int i) {
  lua_Integer id = bnc_checkinteger(L, i);
  if (id < 0 || id > 65535) luaL_argerror(L, i, "id 0..65535 expected");
  return (uint16_t)id;
}

/* syntax: wire, err = core.dns_query(id, name, qtype [, udp_size]) */
static int l_dns_query(lua_State *L) {
  unsigned char q[BNC_DNS_QUERY_MAX];
  size_t nlen, qlen;
  uint16_t id = check_id(L, 1);
  const char *name = luaL_checklstring(L, 2, &nlen);
  uint16_t qtype = check_qtype(L, 3);
  lua_Integer udp = lua_isnoneornil(L, 4) ? 0 : bnc_checkinteger(L, 4);
  if (udp < 0 || udp > 65535) luaL_argerror(L, 4, "udp_size 0..65535 expected");
  if (bnc_dns_query(id, name, nlen, qtype, (uint16_t)udp, q, sizeof q, &qlen) != BNC_OK) {
    lua_pushnil(L);
    lua_pushfstring(L, "not a domain name: '%s'", nlen > 300 ? "(too long)" : name);
    return 2;
  }
  lua_pushlstring(L, (const char *)q, qlen);
  return 1;
}

static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

/* Pushes the name at off as text (the parser has checked it). */
static void push_name(lua_State *L, const unsigned char *m, size_t len, size_t off) {
  char t[BNC_DNS_TEXT_MAX];
  int k = bnc_dns_name(m, len, off, t, sizeof t);
  lua_pushlstring(L, t, k < 0 ? 0 : (size_t)k);
}

static void set_name(lua_State *L, const char *k, const unsigned char *m, size_t len, size_t off) {
  push_name(L, m, len, off);
  lua_setfield(L, -2, k);
}

/* The TXT strings: a list `strings`, and `text`, them joined. */
static void set_txt(lua_State *L, const unsigned char *m, const bnc_dns_rr_t *r) {
  luaL_Buffer b;
  size_t q = r->rdata, end = r->rdata + r->rdlen;
  int k = 0;
  lua_newtable(L);                                   /* rr, strings */
  while (q < end) {
    size_t l = m[q];
    lua_pushlstring(L, (const char *)m + q + 1, l);
    lua_rawseti(L, -2, ++k);
    q += 1 + l;
  }
  lua_setfield(L, -2, "strings");
  luaL_buffinit(L, &b);
  for (q = r->rdata; q < end; q += 1 + (size_t)m[q]) luaL_addlstring(&b, (const char *)m + q + 1, m[q]);
  luaL_pushresult(&b);
  lua_setfield(L, -2, "text");
}

/* One record as a table: name, type, class, ttl and its type's fields. */
static void push_rr(lua_State *L, const unsigned char *m, size_t len, const bnc_dns_rr_t *r) {
  static const char *const SOA[] = { "serial", "refresh", "retry", "expire", "minimum" };
  const char *tname = bnc_dns_type_name(r->type);
  char a[48];
  int i;
  lua_createtable(L, 0, 6);
  set_name(L, "name", m, len, r->name);
  if (tname) lua_pushstring(L, tname); else lua_pushinteger(L, r->type);
  lua_setfield(L, -2, "type");
  set_int(L, "class", r->cls);
  set_int(L, "ttl", (lua_Integer)r->ttl);
  switch (r->type) {
  case BNC_DNS_A: case BNC_DNS_AAAA:
    bnc_dns_addr_text(m + r->rdata, r->rdlen, a);
    lua_pushstring(L, a);
    lua_setfield(L, -2, "address");
    break;
  case BNC_DNS_MX:
    set_int(L, "pref", r->pref);
    set_name(L, "host", m, len, r->target);
    break;
  case BNC_DNS_CNAME: case BNC_DNS_NS: case BNC_DNS_PTR:
    set_name(L, "target", m, len, r->target);
    break;
  case BNC_DNS_SOA:
    set_name(L, "mname", m, len, r->target);
    set_name(L, "rname", m, len, r->target2);
    for (i = 0; i < 5; i++) set_int(L, SOA[i], (lua_Integer)r->soa[i]);
    break;
  case BNC_DNS_TXT:
    set_txt(L, m, r);
    break;
  default:
    lua_pushlstring(L, (const char *)m + r->rdata, r->rdlen);
    lua_setfield(L, -2, "rdata");
  }
}

/* What kind of failure a code is, for the resolver: "mismatch" (not an
 * answer to this query: keep listening, it may be late or forged) or
 * "malformed" (an answer that cannot be read). */
static const char *failure_kind(int r) {
  return (r == BNC_DNS_EID || r == BNC_DNS_EQUESTION || r == BNC_DNS_ENOTRESP) ? "mismatch" : "malformed";
}

/* syntax: answer, err, kind = core.dns_parse(message, id, name, qtype)
 * answer: id, rcode, rcode_name, aa, tc, ra, edns, udp_size, answer,
 * authority, additional (lists of records), dropped, cut. */
static int l_dns_parse(lua_State *L) {
  static const char *const SECTIONS[] = { "answer", "authority", "additional" };
  bnc_dns_msg_t *msg;
  size_t len, nlen, i;
  const unsigned char *m = (const unsigned char *)luaL_checklstring(L, 1, &len);
  uint16_t id = check_id(L, 2);
  const char *name = luaL_checklstring(L, 3, &nlen);
  uint16_t qtype = check_qtype(L, 4);
  int r, s, count[3] = { 0, 0, 0 };
  const char *rname;
  msg = (bnc_dns_msg_t *)lua_newuserdata(L, sizeof *msg);   /* big: not on the C stack */
  r = bnc_dns_parse(m, len, id, name, nlen, qtype, msg);
  if (r != BNC_OK) {
    lua_pushnil(L);
    if (r == BNC_EINVAL) lua_pushfstring(L, "not a domain name: '%s'", nlen > 300 ? "(too long)" : name);
    else lua_pushfstring(L, "DNS answer: %s (at byte %d)", bnc_dns_strerror(r), (int)msg->err_off);
    lua_pushstring(L, failure_kind(r));
    return 3;
  }
  lua_createtable(L, 0, 14);                          /* ud, t */
  set_int(L, "id", msg->id);
  set_int(L, "rcode", msg->rcode);
  rname = bnc_dns_rcode_name(msg->rcode);
  if (rname) lua_pushstring(L, rname); else lua_pushfstring(L, "RCODE%d", msg->rcode);
  lua_setfield(L, -2, "rcode_name");
  lua_pushboolean(L, msg->aa); lua_setfield(L, -2, "aa");
  lua_pushboolean(L, msg->tc); lua_setfield(L, -2, "tc");
  lua_pushboolean(L, msg->ra); lua_setfield(L, -2, "ra");
  lua_pushboolean(L, msg->edns); lua_setfield(L, -2, "edns");
  if (msg->edns) set_int(L, "udp_size", msg->udp_size);
  set_int(L, "dropped", (lua_Integer)msg->dropped);
  set_int(L, "cut", (lua_Integer)msg->cut);
  for (s = 0; s < 3; s++) {
    lua_newtable(L);
    lua_setfield(L, -2, SECTIONS[s]);
  }
  for (i = 0; i < msg->nrr; i++) {
    const bnc_dns_rr_t *rr = &msg->rr[i];
    lua_getfield(L, -1, SECTIONS[rr->section]);      /* ud, t, list */
    push_rr(L, m, len, rr);
    lua_rawseti(L, -2, ++count[rr->section]);
    lua_pop(L, 1);
  }
  return 1;
}

/* Pushes nil and why with where it applies: "U+0301 at byte 4: ...".
 * (lua_pushfstring has no %X.) */
static int idn_fail(lua_State *L, const char *why, const bnc_idn_err_t *e) {
  char hex[9];
  int k = 0, d;
  lua_pushnil(L);
  if (!e->cp) {
    lua_pushfstring(L, "%s (at byte %d)", why, (int)e->pos);
    return 2;
  }
  for (d = 20; d >= 0; d -= 4)
    if ((e->cp >> d) & 15 || d < 16 || k > 0) hex[k++] = "0123456789ABCDEF"[(e->cp >> d) & 15];
  hex[k] = '\0';
  lua_pushfstring(L, "U+%s at byte %d: %s", hex, (int)e->pos, why);
  return 2;
}

/* syntax: ascii, err = core.idn_to_ascii(domain) */
static int l_idn_to_ascii(lua_State *L) {
  char out[BNC_IDN_ASCII_MAX];
  size_t len, olen;
  bnc_idn_err_t e = { 0, 0 };
  const char *s = luaL_checklstring(L, 1, &len);
  const char *why = bnc_idn_to_ascii(s, len, out, sizeof out, &olen, &e);
  if (why) return idn_fail(L, why, &e);
  lua_pushlstring(L, out, olen);
  return 1;
}

/* syntax: unicode, err = core.idn_to_unicode(domain) */
static int l_idn_to_unicode(lua_State *L) {
  char out[BNC_IDN_UNICODE_MAX];
  size_t len, olen;
  bnc_idn_err_t e = { 0, 0 };
  const char *s = luaL_checklstring(L, 1, &len);
  const char *why = bnc_idn_to_unicode(s, len, out, sizeof out, &olen, &e);
  if (why) return idn_fail(L, why, &e);
  lua_pushlstring(L, out, olen);
  return 1;
}

static void set_flag(lua_State *L, const char *k, int on) {
  if (!on) return;
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, k);
}

/* syntax: t, err, pos = core.mailbox(addr)
 * t: addr, local, domain, and quoted, utf8, idn, literal when so. */
static int l_mailbox(lua_State *L) {
  bnc_mailbox_t *mb;
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  mb = (bnc_mailbox_t *)lua_newuserdata(L, sizeof *mb);
  if (bnc_mailbox_check(s, len, mb)) {
    lua_pushnil(L);
    lua_pushstring(L, mb->why);
    lua_pushinteger(L, (lua_Integer)mb->pos);
    return 3;
  }
  lua_createtable(L, 0, 7);
  lua_pushlstring(L, mb->addr, mb->len);
  lua_setfield(L, -2, "addr");
  lua_pushlstring(L, mb->addr, mb->at);
  lua_setfield(L, -2, "local");
  lua_pushlstring(L, mb->addr + mb->at + 1, mb->len - mb->at - 1);
  lua_setfield(L, -2, "domain");
  set_flag(L, "quoted", mb->flags & BNC_MB_QUOTED);
  set_flag(L, "utf8", mb->flags & BNC_MB_UTF8);
  set_flag(L, "idn", mb->flags & BNC_MB_IDN);
  set_flag(L, "literal", mb->flags & BNC_MB_LITERAL);
  return 1;
}

static const luaL_Reg dns_funcs[] = {
  { "dns_query", l_dns_query },
  { "dns_parse", l_dns_parse },
  { "idn_to_ascii", l_idn_to_ascii },
  { "idn_to_unicode", l_idn_to_unicode },
  { "mailbox", l_mailbox },
  { NULL, NULL },
};

void bnc_open_dns(lua_State *L) {
  luaL_setfuncs(L, dns_funcs, 0);
  lua_pushinteger(L, BNC_DNS_MSG_MAX);
  lua_setfield(L, -2, "DNS_MSG_MAX");
}
