/*
 * lmessage.c - `core.parse`: a whole message (message.c) in one C call,
 * its results as a list of tables; `core.ses_bounce`: the SES bounce types
 * the message reader uses (ses.h), for the webhook.
 *
 * parse(message [, opts]) -> list of results | nil, err. The result struct
 * and the arena live in a userdata (collected by the GC), so nothing
 * malloc'd is held while Lua may raise; argument checks come first.
 * Upvalues: 1 the default rule set, 2 the result keys and names (a list of
 * strings made once, MK_*), 3 a spare buffer (userdata or false).
 * Speed: the buffer (33 KiB of result plus the arena) is kept between
 * calls instead of two fresh userdata per message, which cost more in
 * malloc and GC than the tables; keys and names are pushed from the list
 * with lua_rawgeti instead of being looked up as C strings (strlen, the
 * API string cache's strcmp) for every field of every result.
 */
#include <stddef.h>
#include <string.h>
#include "date.h"
#include "lbnc.h"
#include "message.h"
#include "ses.h"
#include "verp.h"

enum {
  MK_RCPT = 1, MK_ORIGINAL_RCPT, MK_ACTION, MK_STATUS, MK_PSEUDO_STATUS, MK_CODE, MK_TEXT,
  MK_DIAGNOSTIC, MK_REASON, MK_TYPE, MK_PERMANENT, MK_RULE, MK_DELAYED, MK_RHOST, MK_COMMAND,
  MK_VERP_RCPT, MK_AT, MK_AT_FROM,
  MK_LAST_ATTEMPT_DATE, MK_WILL_RETRY_UNTIL, MK_REPORTING_MTA, MK_ARRIVAL_DATE,
  MK_FEEDBACK_TYPE, MK_SOURCE_IP, MK_MESSAGE_ID, MK_FROM, MK_TO, MK_SUBJECT, MK_DATE,
  MK_FORMAT, MK_HEADERS, MK_WARNINGS, MK_FAILED, MK_NONE, MK_REASONS
};
#define MK_TYPES (MK_REASONS + BNC_R__COUNT)
#define MK_COUNT (MK_TYPES + BNC_T__COUNT)
static const char *const MSG_KEYS[] = {
  "rcpt", "original_rcpt", "action", "status", "pseudo_status", "code", "text", "diagnostic",
  "reason", "type", "permanent", "rule", "delayed", "rhost", "command", "verp_rcpt", "at", "at_from",
  "last_attempt_date",
  "will_retry_until", "reporting_mta", "arrival_date", "feedback_type", "source_ip",
  "message_id", "from", "to", "subject", "date", "format", "headers", "warnings",
  "failed", "none"
};
#define UV_MKEYS lua_upvalueindex(2)
#define UV_MBUF lua_upvalueindex(3)

/* The parse buffer: the result, then the arena. */
typedef struct { bnc_message_t m; size_t cap; char arena[]; } msgbuf;

/* Buffers up to this arena size are kept for the next call (bigger ones,
 * for messages over ~480 KiB, are made per call and left to the GC). */
#define MSG_KEEP ((size_t)1 << 20)

/* The list MK_*: keys, "failed", "none", reason names, type names. */
static void msg_keys(lua_State *L) {
  int i;
  lua_createtable(L, MK_COUNT, 0);
  for (i = 0; i < (int)(sizeof MSG_KEYS / sizeof MSG_KEYS[0]); i++) {
    lua_pushstring(L, MSG_KEYS[i]);
    lua_rawseti(L, -2, MK_RCPT + i);
  }
  for (i = 0; i < BNC_R__COUNT; i++) {
    lua_pushstring(L, bnc_reason_name((bnc_reason_t)i));
    lua_rawseti(L, -2, MK_REASONS + i);
  }
  for (i = 0; i < BNC_T__COUNT; i++) {
    lua_pushstring(L, bnc_type_name((bnc_type_t)i));
    lua_rawseti(L, -2, MK_TYPES + i);
  }
}

/* res[key] = the value on top of the stack (popped); res at -2 before. */
static void msg_set(lua_State *L, int key) {
  lua_rawgeti(L, UV_MKEYS, key);                       /* res, v, k */
  lua_insert(L, -2);                                   /* res, k, v */
  lua_rawset(L, -3);                                   /* res */
}

static void msg_str(lua_State *L, int key, bnc_str_t s) {
  if (!s.p) return;
  lua_pushlstring(L, s.p, s.n);
  msg_set(L, key);
}

static void msg_name(lua_State *L, int key, int name) {
  lua_rawgeti(L, UV_MKEYS, name);
  msg_set(L, key);
}

static void msg_int(lua_State *L, int key, lua_Integer v) {
  lua_pushinteger(L, v);
  msg_set(L, key);
}

/* Reads opts.headers (a list of up to BNC_MSG_WANT strings) into want. */
static size_t msg_want(lua_State *L, int opts, bnc_str_t *want) {
  size_t i, n;
  if (lua_isnil(L, opts)) return 0;
  luaL_checktype(L, opts, LUA_TTABLE);
  lua_getfield(L, opts, "headers");                   /* headers */
  if (lua_isnil(L, -1)) { lua_pop(L, 1); return 0; }
  if (lua_type(L, -1) != LUA_TTABLE)
    luaL_error(L, "bad argument #2 to 'parse' (field 'headers': table expected, got %s)",
               luaL_typename(L, -1));
  n = bnc_rawlen(L, -1);
  if (n > BNC_MSG_WANT)
    luaL_error(L, "bad argument #2 to 'parse' (field 'headers': more than %d names)", BNC_MSG_WANT);
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, -1, (int)i + 1);                   /* headers, name */
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "bad argument #2 to 'parse' (field 'headers[%d]': string expected, got %s)",
                 (int)i + 1, luaL_typename(L, -1));
    want[i].p = lua_tolstring(L, -1, &want[i].n);      /* kept alive by opts */
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return n;
}

/* The number of fields msg_push sets in recipient r's table. */
static int msg_nfields(const bnc_message_t *m, const bnc_msg_rcpt_t *r) {
  const bnc_str_t *s[] = { &r->rcpt, &r->orig_rcpt, &r->status, &r->text, &r->diag, &r->rhost,
                           &r->last_attempt, &r->will_retry, &m->reporting_mta, &m->arrival_date,
                           &m->feedback_type, &m->source_ip, &m->message_id, &m->from, &m->to,
                           &m->subject, &m->date };
  int n = 7, i;   /* action, reason, type, permanent, delayed, format, headers */
  for (i = 0; i < (int)(sizeof s / sizeof s[0]); i++) n += s[i]->p != NULL;
  n += r->pseudo_status[0] != 0;
  n += r->reply.code != 0;
  n += r->reply.command != BNC_CMD_NONE;
  n += r->cls.rule >= 0;
  n += m->warnings != 0;
  n += 1 + !(r->last_attempt.p || m->arrival_date.p);  /* at, at_from, when a date parses: a hint */
  return n;
}

/* Pushes the list of results: one table per recipient; verp (when not
 * NULL) is the recipient the bounce's VERP address names. */
static void msg_push(lua_State *L, const bnc_message_t *m, const bnc_str_t *want, size_t nwant,
                     const bnc_ruleset_t *rs, bnc_str_t verp) {
  size_t i, j;
  lua_createtable(L, (int)m->nrcpt, 0);                /* list */
  for (i = 0; i < m->nrcpt; i++) {
    const bnc_msg_rcpt_t *r = &m->rcpt[i];
    lua_createtable(L, 0, msg_nfields(m, r) + (verp.p != NULL));   /* list, res */
    msg_str(L, MK_RCPT, r->rcpt);
    msg_str(L, MK_VERP_RCPT, verp);
    msg_str(L, MK_ORIGINAL_RCPT, r->orig_rcpt);
    if (r->action.p) msg_str(L, MK_ACTION, r->action);
    else if (r->cls.type == BNC_T_COMPLAINT || r->cls.type == BNC_T_AUTO_REPLY) msg_name(L, MK_ACTION, MK_NONE);
    else msg_name(L, MK_ACTION, MK_FAILED);
    msg_str(L, MK_STATUS, r->status);
    if (r->pseudo_status[0]) {
      lua_pushstring(L, r->pseudo_status);
      msg_set(L, MK_PSEUDO_STATUS);
    }
    if (r->reply.code) msg_int(L, MK_CODE, r->reply.code);
    msg_str(L, MK_TEXT, r->text);
    msg_str(L, MK_DIAGNOSTIC, r->diag);
    msg_name(L, MK_REASON, MK_REASONS + (int)r->cls.reason);
    msg_name(L, MK_TYPE, MK_TYPES + (int)r->cls.type);
    lua_pushboolean(L, r->cls.permanent);
    msg_set(L, MK_PERMANENT);
    if (r->cls.rule >= 0) {
      char name[256];
      const char *nm = bnc_ruleset_rule_name(rs, (size_t)r->cls.rule, name, sizeof name);
      if (nm && r->cls.context_changed) {
        /* the rule's reason gave way to the context, as bounce.classify
         * says it: the command the reply answered, or a relayed "user
         * unknown" that nothing ties to the address */
        bnc_command_t cmd = r->reply.command;
        if (cmd == BNC_CMD_NONE || cmd == BNC_CMD_RCPT) lua_pushstring(L, "context:relayed<");
        else lua_pushfstring(L, "context:%s<", bnc_command_name(cmd));
        lua_pushstring(L, nm);
        lua_concat(L, 2);
        msg_set(L, MK_RULE);
      } else if (nm) {
        lua_pushstring(L, nm);
        msg_set(L, MK_RULE);
      }
    }
    lua_pushboolean(L, r->delayed);
    msg_set(L, MK_DELAYED);
    msg_str(L, MK_RHOST, r->rhost);
    if (r->reply.command != BNC_CMD_NONE) {
      lua_pushstring(L, bnc_command_name(r->reply.command));
      msg_set(L, MK_COMMAND);
    }
    {
      int from;
      long long at = bnc_message_at(m, i, &from);
      if (at >= 0) msg_int(L, MK_AT, (lua_Integer)at);
      /* at_from only when a Date header gave it: a report's own dates are the usual case */
      if (from == BNC_AT_DATE || from == BNC_AT_ORIGINAL_DATE) {
        lua_pushstring(L, from == BNC_AT_DATE ? "date" : "original-date");
        msg_set(L, MK_AT_FROM);
      }
    }
    msg_str(L, MK_LAST_ATTEMPT_DATE, r->last_attempt);
    msg_str(L, MK_WILL_RETRY_UNTIL, r->will_retry);
    msg_str(L, MK_REPORTING_MTA, m->reporting_mta);
    msg_str(L, MK_ARRIVAL_DATE, m->arrival_date);
    msg_str(L, MK_FEEDBACK_TYPE, m->feedback_type);
    msg_str(L, MK_SOURCE_IP, m->source_ip);
    msg_str(L, MK_MESSAGE_ID, m->message_id);
    msg_str(L, MK_FROM, m->from);
    msg_str(L, MK_TO, m->to);
    msg_str(L, MK_SUBJECT, m->subject);
    msg_str(L, MK_DATE, m->date);
    if (m->format) {
      lua_pushstring(L, m->format);
      msg_set(L, MK_FORMAT);
    }
    lua_createtable(L, 0, (int)nwant);                 /* list, res, headers */
    for (j = 0; j < nwant; j++)
      if (m->want[j].p) {
        lua_pushlstring(L, want[j].p, want[j].n);
        lua_pushlstring(L, m->want[j].p, m->want[j].n);
        lua_rawset(L, -3);
      }
    msg_set(L, MK_HEADERS);                            /* list, res */
    if (m->warnings) msg_int(L, MK_WARNINGS, (lua_Integer)m->warnings);
    lua_rawseti(L, -2, (int)i + 1);                    /* list */
  }
}

/* A buffer with an arena of at least cap bytes, on top of the stack: the
 * kept one when it is big enough (taken out of UV_MBUF while in use, so
 * that a parse run from a finalizer during this one makes its own), else a
 * new one. */
static msgbuf *msg_buffer(lua_State *L, size_t cap) {
  msgbuf *b = lua_touserdata(L, UV_MBUF);
  if (b && b->cap >= cap) {
    lua_pushvalue(L, UV_MBUF);
    lua_pushboolean(L, 0);
    lua_replace(L, UV_MBUF);
    return b;
  }
  if (cap <= MSG_KEEP && cap < MSG_KEEP / 2) cap = MSG_KEEP / 2 < 2 * cap ? MSG_KEEP / 2 : 2 * cap;
  b = lua_newuserdata(L, offsetof(msgbuf, arena) + cap);
  b->cap = cap;
  return b;
}

/* opts.verp at index i: the local-part prefix of VERP return paths
 * ("bounces+"), or NULL when absent; raises when it is no such prefix. */
static const char *verp_prefix(lua_State *L, int i, const char *fname, size_t *n) {
  const char *p;
  size_t k;
  lua_getfield(L, i, "verp");
  if (lua_isnil(L, -1)) { lua_pop(L, 1); return NULL; }
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_error(L, "bad argument #%d to '%s' (field 'verp': string expected, got %s)", i, fname,
               luaL_typename(L, -1));
  p = lua_tolstring(L, -1, n);                        /* kept alive by opts */
  lua_pop(L, 1);
  for (k = 0; k < *n; k++)
    if (p[k] == '@' || p[k] == '<' || p[k] == '>' || (unsigned char)p[k] <= 32 || p[k] == 127) break;
  if (*n == 0 || *n > 64 || k < *n)
    luaL_error(L, "bad argument #%d to '%s' (field 'verp': a local-part prefix such as "
               "'bounces+' expected)", i, fname);
  return p;
}

static int l_parse(lua_State *L) {
  size_t len, nwant;
  const char *s = luaL_checklstring(L, 1, &len);
  bnc_str_t want[BNC_MSG_WANT];
  bnc_ruleset_t *rs = ((lrules *)lua_touserdata(L, lua_upvalueindex(1)))->rs;
  msgbuf *b;
  int rc;
  const char *vp = NULL;
  size_t vpl = 0, vl = 0;
  char vbuf[BNC_ADDRESS_MAX];
  bnc_str_t verp = { NULL, 0 };
  lua_settop(L, 2);
  nwant = msg_want(L, 2, want);
  if (!lua_isnil(L, 2)) vp = verp_prefix(L, 2, "parse", &vpl);
  bnc_l_compile(L, rs);                                      /* rules added since */
  if (len > BNC_MSG_MAX) {
    lua_pushnil(L);
    lua_pushfstring(L, "message too long: %d bytes (limit %d)", (int)len, (int)BNC_MSG_MAX);
    return 2;
  }
  b = msg_buffer(L, BNC_MSG_ARENA(len));               /* msg, opts, buf */
  rc = bnc_message_parse(s, len, rs, want, nwant, b->arena, BNC_MSG_ARENA(len), &b->m);
  if (rc != BNC_OK) {
    lua_pushnil(L);
    if (rc == BNC_EEMPTY) lua_pushliteral(L, "empty message: nothing but white space");
    else lua_pushliteral(L, "not a bounce: no delivery-status part, feedback report, "
                            "auto-reply or known bounce text found");
  } else {
    if (vp && bnc_verp_find(s, len, vp, vpl, vbuf, sizeof vbuf, &vl)) {
      verp.p = vbuf;
      verp.n = vl;
    }
    msg_push(L, &b->m, want, nwant, rs, verp);         /* msg, opts, buf, list */
  }
  if (b->cap <= MSG_KEEP) {                            /* kept for the next call */
    lua_pushvalue(L, 3);
    lua_replace(L, UV_MBUF);
  }
  return rc == BNC_OK ? 1 : 2;
}

/* ses_bounce(bounce_type [, subtype]) -> type, reason | nil: what SES's
 * bounceType and bounceSubType say (ses.h), for bounce.webhooks. */
static int l_ses_bounce(lua_State *L) {
  size_t btn, stn = 0;
  const char *bt = luaL_checklstring(L, 1, &btn);
  const char *st = luaL_optlstring(L, 2, NULL, &stn);
  const bnc_ses_type_t *k = bnc_ses_bounce(bt, btn, st, stn);
  if (!k) return 0;
  lua_pushstring(L, bnc_type_name(k->type));
  lua_pushstring(L, bnc_reason_name(k->reason));
  return 2;
}

void bnc_open_message(lua_State *L) {
  lua_pushcfunction(L, l_ses_bounce);
  lua_setfield(L, -2, "ses_bounce");
  lua_getfield(L, -1, "default_rules");               /* M, rules */
  msg_keys(L);                                        /* M, rules, keys */
  lua_pushboolean(L, 0);                              /* M, rules, keys, no buffer yet */
  lua_pushcclosure(L, l_parse, 3);                    /* M, parse */
  lua_setfield(L, -2, "parse");
}
