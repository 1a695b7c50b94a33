/*
 * ses.c - Amazon SES notifications mailed through SNS: a text part that is
 * the JSON of a bounce, complaint or delivery notification. One record per
 * recipient object ("bouncedRecipients", "complainedRecipients", the
 * delivery's "recipients"), with the action, status and diagnostic code SES
 * gives, and the bounce type SES gives (ses.h) as what the format implies
 * when the recipient's own fields say nothing. The notification is read as
 * it comes, or as the escaped "Message" string of an SNS envelope, its keys
 * spaced and ordered as the writer liked ("notificationType", or
 * "eventType" for event publishing). Only the keys named here are read, by
 * search (a notification's recipient objects hold no nested braces): not a
 * JSON parser. Values are unescaped.
 */
#include <stddef.h>
#include <string.h>
#include "msg.h"
#include "ses.h"

/* SES's bounce types and subtypes (ses.h). */
static const bnc_ses_type_t SES_TYPES[] = {
  { "Undetermined", "Undetermined", BNC_T_SOFT, BNC_R_UNDEFINED },
  { "Permanent", "General", BNC_T_HARD, BNC_R_UNDEFINED },
  { "Permanent", "NoEmail", BNC_T_HARD, BNC_R_USERUNKNOWN },
  { "Permanent", "Suppressed", BNC_T_HARD, BNC_R_USERUNKNOWN },
  { "Permanent", "OnAccountSuppressionList", BNC_T_HARD, BNC_R_USERUNKNOWN },
  { "Transient", "General", BNC_T_SOFT, BNC_R_UNDEFINED },
  { "Transient", "MailboxFull", BNC_T_SOFT, BNC_R_MAILBOXFULL },
  { "Transient", "MessageTooLarge", BNC_T_SOFT, BNC_R_MESGTOOBIG },
  { "Transient", "ContentRejected", BNC_T_BLOCK, BNC_R_CONTENTERROR },
  { "Transient", "AttachmentRejected", BNC_T_BLOCK, BNC_R_CONTENTERROR },
};

static int same(const char *s, size_t n, const char *name) {
  return strlen(name) == n && memcmp(s, name, n) == 0;
}

const bnc_ses_type_t *bnc_ses_bounce(const char *bt, size_t btn, const char *st, size_t stn) {
  const bnc_ses_type_t *general = NULL;
  size_t i;
  if (!st) { st = "General"; stn = 7; }
  for (i = 0; i < sizeof SES_TYPES / sizeof SES_TYPES[0]; i++) {
    if (!same(bt, btn, SES_TYPES[i].bounce_type)) continue;
    if (same(st, stn, SES_TYPES[i].subtype)) return &SES_TYPES[i];
    if (!strcmp(SES_TYPES[i].subtype, "General")) general = &SES_TYPES[i];
  }
  return general;
}

/* Where the value of "key" starts in the JSON text [p, end): after the
 * quoted key (compared without regard to case), white space, ':' and white
 * space, as any JSON writer may space them; NULL when absent. key is lower
 * case, without its quotes. */
static const char *json_value(const char *p, const char *end, const char *key) {
  size_t k = strlen(key);
  const char *q = p;
  while (q < end && (q = memchr(q, '"', (size_t)(end - q))) != NULL) {
    const char *v = q + 1 + k;
    if ((size_t)(end - q) > k + 1 && v < end && *v == '"' && bnc_ieq_n(q + 1, key, k)) {
      for (v++; v < end && (bnc_is_wsp((unsigned char)*v) || bnc_is_eol((unsigned char)*v)); v++) {}
      if (v < end && *v == ':') {
        for (v++; v < end && (bnc_is_wsp((unsigned char)*v) || bnc_is_eol((unsigned char)*v)); v++) {}
        return v;
      }
    }
    q++;
  }
  return NULL;
}

/* The string value of "key" in [p, end) (escapes kept), or none. */
static bnc_str_t json_raw(const char *p, const char *end, const char *key) {
  const char *v = json_value(p, end, key), *q;
  if (!v || *v != '"') return mkstr(NULL, 0);
  for (q = ++v; q < end && *q != '"'; q++) if (*q == '\\') q++;
  return q < end ? mkstr(v, (size_t)(q - v)) : mkstr(NULL, 0);
}

static int hex4(const char *p) {
  int i, v = 0;
  for (i = 0; i < 4; i++) {
    int ch = bnc_lower((unsigned char)p[i]);
    if (ch >= '0' && ch <= '9') v = v * 16 + ch - '0';
    else if (ch >= 'a' && ch <= 'f') v = v * 16 + ch - 'a' + 10;
    else return -1;
  }
  return v;
}

/* A JSON string's content s (escapes kept) unescaped into the arena
 * (\uXXXX as UTF-8, surrogate pairs joined); s itself when it has no
 * escape or the arena is full. */
static bnc_str_t json_unescape(ctx_t *c, bnc_str_t s) {
  size_t i, n = 0;
  char *o;
  if (!s.p || !memchr(s.p, '\\', s.n) || !(o = arena_take(c, s.n))) return s;
  for (i = 0; i < s.n; i++) {
    unsigned long u;
    if (s.p[i] != '\\' || i + 1 >= s.n) { o[n++] = s.p[i]; continue; }
    switch (s.p[++i]) {
      case 'n': o[n++] = '\n'; continue;
      case 't': o[n++] = '\t'; continue;
      case 'r': o[n++] = '\r'; continue;
      case 'b': case 'f': o[n++] = ' '; continue;
      case 'u': break;
      default: o[n++] = s.p[i]; continue;       /* \" \\ \/ */
    }
    if (i + 4 >= s.n || hex4(s.p + i + 1) < 0) { o[n++] = 'u'; continue; }
    u = (unsigned long)hex4(s.p + i + 1);
    i += 4;
    if (u >= 0xd800 && u < 0xdc00 && i + 6 < s.n && s.p[i + 1] == '\\' && s.p[i + 2] == 'u' &&
        hex4(s.p + i + 3) >= 0xdc00 && hex4(s.p + i + 3) < 0xe000) {
      u = 0x10000 + ((u - 0xd800) << 10) + ((unsigned long)hex4(s.p + i + 3) - 0xdc00);
      i += 6;
    }
    /* UTF-8 of u takes at most 4 bytes, the escape it came from at least 6 */
    if (u < 0x80) o[n++] = (char)u;
    else if (u < 0x800) { o[n++] = (char)(0xc0 | (u >> 6)); o[n++] = (char)(0x80 | (u & 0x3f)); }
    else if (u < 0x10000) {
      o[n++] = (char)(0xe0 | (u >> 12)); o[n++] = (char)(0x80 | ((u >> 6) & 0x3f));
      o[n++] = (char)(0x80 | (u & 0x3f));
    } else {
      o[n++] = (char)(0xf0 | (u >> 18)); o[n++] = (char)(0x80 | ((u >> 12) & 0x3f));
      o[n++] = (char)(0x80 | ((u >> 6) & 0x3f)); o[n++] = (char)(0x80 | (u & 0x3f));
    }
  }
  return mkstr(o, n);
}

/* The string value of "key", unescaped. */
static bnc_str_t json_str(ctx_t *c, const char *p, const char *end, const char *key) {
  return json_unescape(c, json_raw(p, end, key));
}

/* The list that is the value of "key" ('[' on), or NULL. */
static const char *json_list(const char *p, const char *end, const char *key) {
  const char *v = json_value(p, end, key);
  return v && *v == '[' ? v : NULL;
}

/* Reads an SES bounce, complaint or delivery notification: one record per
 * recipient object of the list that follows `list` ("bouncedRecipients":[
 * ...]). Objects of these lists hold no nested braces. */
static void read_notification(ctx_t *c, bnc_str_t t) {
  const char *end = t.p + t.n, *p, *le;
  bnc_str_t type = json_raw(t.p, end, "notificationtype");
  int bounce, complaint;
  if (!type.p) type = json_raw(t.p, end, "eventtype");   /* SES event publishing */
  bounce = type.p && bnc_ieq(type.p, type.n, "bounce");
  complaint = type.p && bnc_ieq(type.p, type.n, "complaint");
  if (!bounce && !complaint && !(type.p && bnc_ieq(type.p, type.n, "delivery"))) return;
  if (bounce || complaint) {
    const bnc_ses_type_t *kind = NULL;
    if (bounce) {
      bnc_str_t bt = json_raw(t.p, end, "bouncetype"), st = json_raw(t.p, end, "bouncesubtype");
      if (bt.p) kind = bnc_ses_bounce(bt.p, bt.n, st.p, st.n);
    }
    p = json_list(t.p, end, bounce ? "bouncedrecipients" : "complainedrecipients");
    le = p ? memchr(p, ']', (size_t)(end - p)) : NULL;
    if (complaint) {
      c->have_fb = 1;
      c->m->feedback_type = json_str(c, t.p, end, "complaintfeedbacktype");
    }
    while (p && le && (p = memchr(p, '{', (size_t)(le - p))) != NULL) {
      const char *oe = memchr(p, '}', (size_t)(le - p));
      bnc_str_t a;
      bnc_msg_rcpt_t *r;
      if (!oe) break;
      a = json_str(c, p, oe, "emailaddress");
      if (a.p && (r = bnc_msg_new_rcpt(c)) != NULL) {
        r->rcpt = a;
        if (bounce) {
          r->action = json_str(c, p, oe, "action");
          r->status = json_str(c, p, oe, "status");
          r->diag = json_str(c, p, oe, "diagnosticcode");
          if (kind) bnc_msg_rec(c, r)->sig.format = kind->reason;
        }
      }
      p = oe + 1;
    }
  } else {                                     /* "delivery":{"recipients":["a", ...] */
    const char *d = json_value(t.p, end, "delivery");
    bnc_str_t resp = d ? json_str(c, d, end, "smtpresponse") : mkstr(NULL, 0);
    p = d ? json_list(d, end, "recipients") : NULL;
    le = p ? memchr(p, ']', (size_t)(end - p)) : NULL;
    while (p && le && (p = memchr(p, '"', (size_t)(le - p))) != NULL && p + 1 < le) {
      const char *q = memchr(p + 1, '"', (size_t)(le - p - 1));
      bnc_msg_rcpt_t *r;
      if (!q) break;
      if (q > p + 1 && memchr(p + 1, '@', (size_t)(q - p - 1)) && (r = bnc_msg_new_rcpt(c)) != NULL) {
        r->rcpt = mkstr(p + 1, (size_t)(q - p - 1));
        r->action = mkstr("delivered", 9);
        r->diag = resp;
      }
      p = q + 1;
    }
  }
}

/* Whether the JSON object [p, end) is an SES notification (its type key in
 * the first 4 KiB, wherever the writer put it). */
static int is_notification(const char *p, const char *end) {
  size_t n = (size_t)(end - p) < 4096 ? (size_t)(end - p) : 4096;
  return json_raw(p, p + n, "notificationtype").p || json_raw(p, p + n, "eventtype").p;
}

void bnc_msg_read_ses(ctx_t *c) {
  size_t i;
  for (i = 0; i < c->ntexts && c->m->nrcpt == 0 && !c->have_fb; i++) {
    const char *q = c->texts[i].p, *qe = q + c->texts[i].n;
    while (q < qe && (bnc_is_wsp((unsigned char)*q) || bnc_is_eol((unsigned char)*q))) q++;
    if (q >= qe || *q != '{') continue;
    if (is_notification(q, qe)) {
      read_notification(c, mkstr(q, (size_t)(qe - q)));
    } else if (json_raw(q, qe, "type").p) {
      /* an SNS envelope ({"Type":"Notification", ..., "Message":"{\"notificationType\":...}"}):
       * the notification is the Message string, escaped */
      bnc_str_t msg = json_str(c, q, qe, "message"), in = trim(msg);
      if (in.p && *in.p == '{' && is_notification(in.p, in.p + in.n)) read_notification(c, in);
    }
    if (c->m->nrcpt) c->m->format = "amazonses";
  }
}
