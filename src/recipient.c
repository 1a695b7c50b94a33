/*
 * recipient.c - from one recipient's fields to its classification: the
 * diagnostic parsed as a reply, the Status field, the command and stage,
 * the DSN's human-readable part, then the reason and its adjustments, and
 * the pseudo status.
 */
#include <stddef.h>
#include <string.h>
#include "msg.h"

/* The command named by a tag at the end of the text: Yahoo! Mail writes
 * "Remote host said: 550 ... [RCPT_TO]" ("[BODY]" after DATA). */
static int tail_command(bnc_str_t t) {
  static const struct { const char *tag; int cmd; } T[] = {
    { "[rcpt_to]", BNC_CMD_RCPT }, { "[mail_from]", BNC_CMD_MAIL }, { "[body]", BNC_CMD_DATA },
    { "[data]", BNC_CMD_DATA }
  };
  size_t i, k;
  t = trim(t);
  if (!t.n || t.p[t.n - 1] != ']') return BNC_CMD_NONE;
  for (i = 0; i < sizeof T / sizeof T[0]; i++) {
    k = strlen(T[i].tag);
    if (t.n >= k && bnc_ieq_n(t.p + t.n - k, T[i].tag, k)) return T[i].cmd;
  }
  return BNC_CMD_NONE;
}

/* Bounce wordings that name the stage in their own words: qmail's "most
 * progress was RCPT TO response" and the "SMTP:RCPT host H:" of some
 * gateways' technical details. Looked for in the first 160 bytes, in this
 * order of precedence: "most progress was rcpt", "smtp:rcpt ", "smtp:data ",
 * "smtp:mail ". Speed: the three "smtp:" words are found together by their
 * ':' (memchr), not by three searches. */
static int stage_words(bnc_str_t t) {
  size_t n = t.n < 160 ? t.n : 160;
  const char *p = t.p, *end = t.p + n, *q;
  int data = 0, mail = 0;
  if (bnc_msg_ifind(p, n, "most progress was rcpt")) return BNC_CMD_RCPT;
  for (q = p; q < end && (q = memchr(q, ':', (size_t)(end - q))) != NULL; q++) {
    if (q - p < 4 || end - q < 6 || !bnc_ieq_n(q - 4, "smtp", 4) || q[5] != ' ')
      continue;
    if (bnc_ieq_n(q + 1, "rcpt", 4)) return BNC_CMD_RCPT;
    if (bnc_ieq_n(q + 1, "data", 4)) data = 1;
    if (bnc_ieq_n(q + 1, "mail", 4)) mail = 1;
  }
  return data ? BNC_CMD_DATA : mail ? BNC_CMD_MAIL : BNC_CMD_NONE;
}

/* The enhanced status of reply `from` becomes that of `to`. */
static void take_status(bnc_reply_t *to, const bnc_reply_t *from) {
  to->st_class = from->st_class;
  to->st_subject = from->st_subject;
  to->st_detail = from->st_detail;
  memcpy(to->status, from->status, sizeof from->status);
}

/* A give-up notice that quotes the last reply of the remote host at its end
 * (Amazon SES: "554 4.4.7 Message expired: ... <421 4.4.2 Connection timed
 * out>"): the quoted reply's code and status are what the remote host said;
 * the reason stays the notice's. */
static void last_reply(bnc_msg_rcpt_t *r) {
  bnc_str_t t = trim(r->text);
  const char *lt;
  bnc_reply_t in;
  char tmp[64];
  if (t.n < 8 || t.p[t.n - 1] != '>' || !(lt = memchr(t.p, '<', t.n))) return;
  while (memchr(lt + 1, '<', (size_t)(t.p + t.n - lt - 1))) lt = memchr(lt + 1, '<', (size_t)(t.p + t.n - lt - 1));
  if (lt[1] < '4' || lt[1] > '5' || (size_t)(t.p + t.n - lt) > sizeof tmp) return;
  if (bnc_reply_parse(lt + 1, (size_t)(t.p + t.n - lt - 2), tmp, sizeof tmp, &in) != BNC_OK || !in.code ||
      !in.st_class) return;
  r->reply.code = in.code;
  take_status(&r->reply, &in);
}

/* A notice whose own status is a generic one (detail 0: "5.1.0 - Unknown
 * address error 550-'5.2.2 <a@b>... Mailbox Full'") quoting the remote
 * reply: the quoted reply's status, of the same class, is the precise one. */
static void inner_status(bnc_msg_rcpt_t *r) {
  const char *t = r->text.p, *end = t + r->text.n, *p = t;
  while (end - p >= 10 && (p = memchr(p, '\'', (size_t)(end - p))) != NULL) {
    const char *q = ++p;
    bnc_reply_t in;
    char tmp[64];
    size_t n;
    if (q - t < 5 || !(q[-2] == '-' || q[-2] == ' ') || !(q[-5] == '4' || q[-5] == '5')) continue;
    n = (size_t)(end - q) < sizeof tmp ? (size_t)(end - q) : sizeof tmp;
    if (bnc_reply_parse(q, n, tmp, sizeof tmp, &in) == BNC_OK && in.st_class == r->reply.st_class &&
        in.st_detail != 0) {
      take_status(&r->reply, &in);
      return;
    }
  }
}

/* sendmail's transcript reports a program's exit status N in a reply line
 * of its own ("554 5.3.0 unknown mailer error 255"): when the Status field
 * is generic, that line's status and code are the precise ones. */
static void exit_reply(const ctx_t *c, bnc_msg_rcpt_t *r, bnc_str_t n) {
  size_t i;
  if (n.n == 0 || n.n > 4) return;
  for (i = 0; i < c->ntexts; i++) {
    const char *p = c->texts[i].p, *end = p + c->texts[i].n, *next;
    for (; p < end; p = next) {
      const char *e = line_end_lf(p, end, &next, c->texts_nocr[i]);
      bnc_reply_t in;
      char tmp[256];
      bnc_str_t l = trim(mkstr(p, (size_t)(e - p)));
      if (l.n < 12 || l.n >= sizeof tmp || (l.p[0] != '4' && l.p[0] != '5') ||
          l.p[l.n - n.n - 1] != ' ' || memcmp(l.p + l.n - n.n, n.p, n.n) != 0) continue;
      if (bnc_reply_parse(l.p, l.n, tmp, sizeof tmp, &in) == BNC_OK && in.code &&
          in.st_class == r->reply.st_class) {
        r->reply.code = in.code;
        take_status(&r->reply, &in);
        return;
      }
    }
  }
}

/* The reason an "X-Unix; N" diagnostic gives: N is the exit status of the
 * program the mail was handed to, read as sysexits.h defines it (67 no
 * such user, 68 no such host, 64-78 a fault of the local system); any other
 * status is the program's own failure. */
static bnc_reason_t unix_exit_reason(bnc_str_t v) {
  int n = 0;
  size_t i = 0;
  v = trim(v);
  while (i < v.n && i < 4 && v.p[i] >= '0' && v.p[i] <= '9') n = n * 10 + (v.p[i++] - '0');
  if (i == 0 || i < v.n) return BNC_R_MAILERERROR;
  if (n == 67) return BNC_R_USERUNKNOWN;
  if (n == 68) return BNC_R_HOSTUNKNOWN;
  return n >= 64 && n <= 78 ? BNC_R_SYSTEMERROR : BNC_R_MAILERERROR;
}

void bnc_msg_classify_rcpt(ctx_t *c, bnc_msg_rcpt_t *r) {
  bnc_str_t d = r->diag;
  char *text;
  const char *rh = r->rhost.p;
  size_t rhl = r->rhost.n;
  if (r->status.p == r->reply.status) {         /* classified before: keep the status */
    char *st = arena_take(c, r->status.n);
    if (st) memcpy(st, r->status.p, r->status.n);
    r->status = mkstr(st, st ? r->status.n : 0);
  }
  memset(&r->reply, 0, sizeof r->reply);
  r->delayed = r->action.p && bnc_iprefix(r->action.p, r->action.n, "delayed");
  if (d.p && (text = arena_take(c, d.n + 1)) != NULL &&
      bnc_reply_parse(d.p, d.n, text, d.n + 1, &r->reply) == BNC_OK) {
    r->text = mkstr(text, r->reply.text_len);
  } else {
    memset(&r->reply, 0, sizeof r->reply);
    r->text = mkstr(NULL, 0);
  }
  if (r->status.p) {                            /* "5.1.1 (comment)" -> "5.1.1" */
    size_t k = 0;
    while (k < r->status.n && !bnc_is_wsp((unsigned char)r->status.p[k]) && r->status.p[k] != '(') k++;
    r->status.n = k;
  }
  if (r->status.p && r->status.n && r->status.n < 12) {
    /* The diagnostic's own status is the more precise one (a Status field
     * often says only 5.0.0 or 4.4.7); the field fills in when it has none. */
    bnc_reply_t s;
    char tmp[16];
    if (bnc_reply_parse(r->status.p, r->status.n, tmp, sizeof tmp, &s) == BNC_OK && s.st_class &&
        (!r->reply.st_class || (r->reply.st_class == s.st_class && r->reply.st_subject == 0 &&
                                 s.st_subject != 0))) {
      take_status(&r->reply, &s);
    }
  }
  /* "X-Unix; 255": the exit status of a program the mail was piped to, not a
   * reply code (it would read as a 2xx) */
  if (d.n > 7 && bnc_ieq_n(d.p, "x-unix;", 7)) r->reply.code = 0;
  if (!rh && r->reply.rhost_len && r->text.p) { rh = d.p + r->reply.rhost_off; rhl = r->reply.rhost_len; }
  if (r->reply.command == BNC_CMD_NONE && r->text.p) r->reply.command = tail_command(r->text);
  if (r->reply.command == BNC_CMD_NONE && d.p) r->reply.command = stage_words(d);
  bnc_classify(c->rs, &r->reply, r->text.p ? r->text.p : "", r->text.n, rh, rhl, &r->cls);
  if (r->cls.reason == BNC_R_EXPIRED && r->text.p) last_reply(r);
  if (r->reply.st_class && r->reply.st_detail == 0 && r->text.p) inner_status(r);
  if (d.n > 7 && bnc_ieq_n(d.p, "x-unix;", 7) && r->cls.rule < 0 && r->cls.type != BNC_T_DELIVERED) {
    r->cls.reason = unix_exit_reason(mkstr(d.p + 7, d.n - 7));
    r->cls.type = bnc_reason_type(r->cls.reason, r->cls.permanent);
    strcpy(r->cls.source, "type");
    if (r->reply.st_subject == 0 && r->reply.st_detail == 0) exit_reply(c, r, trim(mkstr(d.p + 7, d.n - 7)));
  }
  if (!r->rhost.p && rh) r->rhost = mkstr(rh, rhl);
  if (r->reply.st_class) r->status = mkstr(r->reply.status, strlen(r->reply.status));
  else if (r->status.p && !r->status.n) r->status = mkstr(NULL, 0);
  if (r->action.p && (bnc_iprefix(r->action.p, r->action.n, "delivered") ||
                      bnc_iprefix(r->action.p, r->action.n, "relayed") ||
                      bnc_iprefix(r->action.p, r->action.n, "expanded"))) {
    r->cls.reason = BNC_R_DELIVERED;
    r->cls.type = BNC_T_DELIVERED;
    r->cls.permanent = 0;
  }
}

/* Sets reason and type for records that are not failures. */
void bnc_msg_mark_all(ctx_t *c, bnc_reason_t reason, bnc_type_t type) {
  size_t i;
  for (i = 0; i < c->m->nrcpt; i++) {
    bnc_msg_rcpt_t *r = &c->m->rcpt[i];
    memset(&r->cls, 0, sizeof r->cls);
    r->cls.reason = reason;
    r->cls.type = type;
    r->cls.rule = -1;
    strcpy(r->cls.source, "format");
  }
}

/* A DSN's Diagnostic-Code is often missing, or drops the SMTP command the
 * reply answered ("in reply to end of DATA command"), which the
 * human-readable part keeps: the paragraph of the text part that names the
 * recipient then becomes the diagnostic, or supplies the command, and the
 * reply is classified again (a recipient-level refusal after DATA is a
 * filter's). */
void bnc_msg_refine_command(ctx_t *c, bnc_msg_rcpt_t *r) {
  size_t i;
  if ((r->diag.p && r->reply.command != BNC_CMD_NONE) || !r->rcpt.p || r->rcpt.n < 3 || r->rcpt.n > 256)
    return;
  for (i = 0; i < c->ntexts; i++) {
    bnc_str_t t = c->texts[i], para = { NULL, 0 }, first = { NULL, 0 };
    const char *at = NULL, *q = t.p, *end = t.p + t.n;
    char *tmp;
    bnc_reply_t rep;
    int tries = 0;
    for (;;) {                         /* the paragraphs that name it, at most 4 */
      at = NULL;
      while (q + r->rcpt.n <= end && (q = memchr(q, r->rcpt.p[0], (size_t)(end - q - (ptrdiff_t)r->rcpt.n + 1))) != NULL) {
        if (memcmp(q, r->rcpt.p, r->rcpt.n) == 0) { at = q; break; }
        q++;
      }
      if (!at) break;
      para = bnc_msg_paragraph(t.p, at, end, c->texts_nocr[i]);
      if (para.n > 4096) para.n = 4096;
      if (!r->diag.p) {                /* no Diagnostic-Code: the text's paragraph is it, */
        if (bnc_msg_first_reply_line(para.p, para.p + para.n, " -", c->texts_nocr[i])) { first = para; break; }  /* the first holding a reply, */
        if (!first.p) first = para;                           /* else the first */
        if (++tries == 4) break;
        q = para.p + para.n > at + r->rcpt.n ? para.p + para.n : at + r->rcpt.n;
        continue;
      }
      if (!(tmp = arena_take(c, para.n + 1))) return;
      if (bnc_reply_parse(para.p, para.n, tmp, para.n + 1, &rep) == BNC_OK && rep.command != BNC_CMD_NONE &&
          !(tries && r->reply.st_subject == 1)) {
        const char *rh = r->rhost.p;
        r->reply.command = rep.command;
        bnc_classify(c->rs, &r->reply, r->text.p ? r->text.p : "", r->text.n, rh, r->rhost.n, &r->cls);
        return;
      }
      /* the list of failed addresses names no command; a transcript further
       * on may ("... while talking to H: >>> DATA <<< 550 ... a@b"), unless
       * the status already speaks of the address (X.1.x): then the
       * transcript's command must not turn it into a filter's refusal */
      if (++tries == 4 || !(r->cls.reason == BNC_R_USERUNKNOWN || r->cls.reason == BNC_R_HOSTUNKNOWN ||
                            r->cls.reason == BNC_R_HASMOVED)) return;   /* the command changes no other */
      q = para.p + para.n > at + r->rcpt.n ? para.p + para.n : at + r->rcpt.n;
    }
    if (!r->diag.p && first.p) {
      r->diag = bnc_msg_unfold(c, first);
      bnc_msg_classify_rcpt(c, r);
      return;
    }
    if (tries) return;
  }
}

/* ---- pseudo status ---------------------------------------------------- */

/* The detail of a reason in the X.0.9NN pseudo-status convention (Sisimai's
 * internal codes, which labelled corpora and Sisimai users expect), or 0 for
 * records that are not failures. */
static int pseudo_detail(bnc_reason_t r) {
  static const struct { bnc_reason_t r; short d; } T[] = {
    { BNC_R_UNDEFINED, 900 }, { BNC_R_ONHOLD, 901 }, { BNC_R_SYNTAXERROR, 902 },
    { BNC_R_NORELAYING, 909 }, { BNC_R_FILTERED, 910 }, { BNC_R_USERUNKNOWN, 911 },
    { BNC_R_HOSTUNKNOWN, 912 }, { BNC_R_HASMOVED, 916 }, { BNC_R_REJECTED, 918 },
    { BNC_R_SUSPEND, 921 }, { BNC_R_MAILBOXFULL, 922 }, { BNC_R_EXCEEDLIMIT, 923 },
    { BNC_R_SYSTEMERROR, 930 }, { BNC_R_SYSTEMFULL, 931 }, { BNC_R_NOTACCEPT, 932 },
    { BNC_R_MESGTOOBIG, 934 }, { BNC_R_MAILERERROR, 939 }, { BNC_R_NETWORKERROR, 944 },
    { BNC_R_TOOMANYCONN, 945 }, { BNC_R_SPEEDING, 946 }, { BNC_R_EXPIRED, 947 },
    { BNC_R_CONTENTERROR, 960 }, { BNC_R_SECURITYERROR, 970 }, { BNC_R_BLOCKED, 971 },
    { BNC_R_VIRUSDETECTED, 971 }, { BNC_R_POLICYVIOLATION, 972 }, { BNC_R_REQUIREPTR, 973 },
    { BNC_R_NOTCOMPLIANTRFC, 974 }, { BNC_R_BADREPUTATION, 975 }, { BNC_R_AUTHFAILURE, 976 },
    { BNC_R_FAILEDSTARTTLS, 977 }, { BNC_R_SPAMDETECTED, 980 },
  };
  size_t i;
  for (i = 0; i < sizeof T / sizeof T[0]; i++) if (T[i].r == r) return T[i].d;
  return 0;
}

/* Fills pseudo_status for a failure whose bounce stated no enhanced status.
 * The class is 4 when the reply code is 4xx, or, without a code, when the
 * diagnostic calls the failure temporary or Exim expired it (its retry
 * rules time out on temporary failures); else 5. */
/* "User unknown" relayed in a bounce is trusted as a dead address only with
 * evidence that it is about the address: the reply answered RCPT TO, or its
 * enhanced status speaks of the address (X.1.x), or the wording is the
 * receiving system's own ("final" rules), or the bounce was written by the
 * mailbox host itself (IMail, Domino, Notes) or says so in a vendor field
 * (PowerMTA's bad-mailbox). Filtering gateways answer "user unknown" to
 * mail they will not take, after DATA or at a stage the bounce does not
 * name: without such evidence the refusal is `filtered` (soft: the tracker
 * suppresses after the soft-bounce limit, not at the first bounce). A live
 * reply classified on its own keeps its text's reason: its caller knows the
 * command and passes it (opts.command). */
static int mailbox_host(const char *format) {
  static const char *const HOSTS[] = { "imailserver", "domino", "notes" };
  size_t i;
  for (i = 0; format && i < sizeof HOSTS / sizeof HOSTS[0]; i++)
    if (!strcmp(format, HOSTS[i])) return 1;
  return 0;
}

static void confirm_dead(ctx_t *c, bnc_msg_rcpt_t *r) {
  const bnc_rule_def_t *d;
  if (r->cls.reason != BNC_R_USERUNKNOWN || r->cls.rule < 0 || r->bad_mailbox) return;
  d = bnc_ruleset_get(c->rs, (size_t)r->cls.rule);
  if (!d || d->final || r->reply.command == BNC_CMD_RCPT || r->reply.st_subject == 1 ||
      mailbox_host(c->m->format)) return;
  r->cls.reason = BNC_R_FILTERED;
  r->cls.type = bnc_reason_type(BNC_R_FILTERED, r->cls.permanent);
  strcpy(r->cls.source, "context");
  r->cls.context_changed = 1;
}

/* A failure whose diagnostic no rule, status or code reads is `onhold`: the
 * bounce said something, nobody here knows what (Sisimai's sense);
 * `undefined` stays for a failure that came with no words at all. */
static void hold_unread(bnc_msg_rcpt_t *r) {
  size_t i;
  if (r->cls.reason != BNC_R_UNDEFINED || r->cls.type != BNC_T_SOFT || r->delayed ||
      strcmp(r->cls.source, "default") != 0 || !r->text.p)
    return;
  for (i = 0; i < r->text.n; i++) {
    unsigned char ch = (unsigned char)r->text.p[i] | 0x20;
    if (ch >= 'a' && ch <= 'z') {
      r->cls.reason = BNC_R_ONHOLD;
      return;
    }
  }
}

static void set_pseudo(bnc_msg_rcpt_t *r, int exim) {
  int d = pseudo_detail(r->cls.reason), cls = 5;
  if (r->status.p || !d || r->cls.type == BNC_T_DELIVERED || r->cls.type == BNC_T_COMPLAINT ||
      r->cls.type == BNC_T_AUTO_REPLY) return;
  if (r->reply.code) cls = r->reply.code / 100;
  else if (r->diag.p && (bnc_msg_ifind(r->diag.p, r->diag.n, "temporar") ||
                         bnc_msg_ifind(r->diag.p, r->diag.n, "persistent"))) cls = 4;
  else if (exim && r->cls.reason == BNC_R_EXPIRED) cls = 4;   /* Exim gave up retrying
                                                                 temporary failures */
  if (cls != 4) cls = 5;
  r->pseudo_status[0] = (char)('0' + cls);
  memcpy(r->pseudo_status + 1, ".0.", 3);
  r->pseudo_status[4] = (char)('0' + d / 100);
  r->pseudo_status[5] = (char)('0' + d / 10 % 10);
  r->pseudo_status[6] = (char)('0' + d % 10);
  r->pseudo_status[7] = '\0';
}


void bnc_msg_finish(ctx_t *c) {
  bnc_message_t *out = c->m;
  size_t i;
  for (i = 0; i < out->nrcpt; i++) confirm_dead(c, &out->rcpt[i]);
  for (i = 0; i < out->nrcpt; i++) {
    hold_unread(&out->rcpt[i]);
    set_pseudo(&out->rcpt[i], out->format && !strcmp(out->format, "exim"));
  }
}
