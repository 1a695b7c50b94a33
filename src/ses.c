/*
 * ses.c - Amazon SES notifications mailed through SNS: a text part that is
 * the JSON of a bounce, complaint or delivery notification. One record per
 * recipient object ("bouncedRecipients", "complainedRecipients", the
 * delivery's "recipients"), with the action, status and diagnostic code SES
 * gives, and the bounce type SES gives (ses.h) as what the format implies
 * when the recipient's own fields say nothing. Only the keys named here
 * are read, by search (a notification's recipient objects hold no nested
 * braces): not a JSON parser.
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

/* The string value of "key" in the JSON text [p, end) (escapes kept), or
 * none. key is lower case and quoted: "\"status\":\"". */
static bnc_str_t json_str(const char *p, const char *end, const char *key) {
  const char *v = bnc_msg_ifind(p, (size_t)(end - p), key), *q;
  if (!v) return mkstr(NULL, 0);
  v += strlen(key);
  for (q = v; q < end && *q != '"'; q++) if (*q == '\\') q++;
  return q < end ? mkstr(v, (size_t)(q - v)) : mkstr(NULL, 0);
}

/* Reads an SES bounce, complaint or delivery notification: one record per
 * recipient object of the list that follows `list` ("bouncedRecipients":[
 * ...]). Objects of these lists hold no nested braces. */
static void read_notification(ctx_t *c, bnc_str_t t) {
  const char *end = t.p + t.n, *p, *le;
  bnc_str_t type = json_str(t.p, end, "\"notificationtype\":\"");
  int bounce = type.p && bnc_ieq(type.p, type.n, "bounce");
  int complaint = type.p && bnc_ieq(type.p, type.n, "complaint");
  if (!bounce && !complaint && !(type.p && bnc_ieq(type.p, type.n, "delivery"))) return;
  if (bounce || complaint) {
    const bnc_ses_type_t *kind = NULL;
    if (bounce) {
      bnc_str_t bt = json_str(t.p, end, "\"bouncetype\":\""), st = json_str(t.p, end, "\"bouncesubtype\":\"");
      if (bt.p) kind = bnc_ses_bounce(bt.p, bt.n, st.p, st.n);
    }
    p = bnc_msg_ifind(t.p, t.n, bounce ? "\"bouncedrecipients\":[" : "\"complainedrecipients\":[");
    le = p ? memchr(p, ']', (size_t)(end - p)) : NULL;
    if (complaint) {
      c->have_fb = 1;
      c->m->feedback_type = json_str(t.p, end, "\"complaintfeedbacktype\":\"");
    }
    while (p && le && (p = memchr(p, '{', (size_t)(le - p))) != NULL) {
      const char *oe = memchr(p, '}', (size_t)(le - p));
      bnc_str_t a;
      bnc_msg_rcpt_t *r;
      if (!oe) break;
      a = json_str(p, oe, "\"emailaddress\":\"");
      if (a.p && (r = bnc_msg_new_rcpt(c)) != NULL) {
        r->rcpt = a;
        if (bounce) {
          r->action = json_str(p, oe, "\"action\":\"");
          r->status = json_str(p, oe, "\"status\":\"");
          r->diag = json_str(p, oe, "\"diagnosticcode\":\"");
          if (kind) bnc_msg_rec(c, r)->sig.format = kind->reason;
        }
      }
      p = oe + 1;
    }
  } else {                                     /* "delivery":{"recipients":["a", ...] */
    const char *d = bnc_msg_ifind(t.p, t.n, "\"delivery\":{");
    bnc_str_t resp = d ? json_str(d, end, "\"smtpresponse\":\"") : mkstr(NULL, 0);
    p = d ? bnc_msg_ifind(d, (size_t)(end - d), "\"recipients\":[") : NULL;
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


void bnc_msg_read_ses(ctx_t *c) {
  size_t i;
  for (i = 0; i < c->ntexts && c->m->nrcpt == 0 && !c->have_fb; i++) {
    const char *q = c->texts[i].p, *qe = q + c->texts[i].n;
    while (q < qe && (bnc_is_wsp((unsigned char)*q) || bnc_is_eol((unsigned char)*q))) q++;
    if (q < qe && *q == '{' && bnc_msg_ifind(q, (size_t)(qe - q) < 64 ? (size_t)(qe - q) : 64, "\"notificationtype\":"))
      read_notification(c, mkstr(q, (size_t)(qe - q)));
    if (c->m->nrcpt) c->m->format = "amazonses";
  }
}
