/*
 * recipient.c - one recipient, from the fields its reader found to its
 * result, once. bnc_msg_gather reads the fields into the signals of
 * classify.h: the diagnostic parsed as a reply (once), the Status field,
 * the command from wherever the bounce states it, the DSN's Action and
 * Diagnostic-Code type, the human-readable part of a delivery report (which
 * supplies a diagnostic or a command the DSN fields lack), the best text
 * rule. bnc_msg_finish then decides each record once (bnc_decide, with
 * every signal at hand) and sets the fields that follow from the decision:
 * the code and status the remote host said, the pseudo status.
 */
#include <stddef.h>
#include <string.h>
#include "msg.h"

/* ---- what the fields say -------------------------------------------------- */

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

/* The Action field as the decision reads it (RFC 3464 2.3.3). */
static bnc_dsn_action_t action_of(bnc_str_t a) {
  if (!a.p) return BNC_DSN_NONE;
  if (bnc_iprefix(a.p, a.n, "delayed")) return BNC_DSN_DELAYED;
  if (bnc_iprefix(a.p, a.n, "delivered") || bnc_iprefix(a.p, a.n, "relayed") ||
      bnc_iprefix(a.p, a.n, "expanded")) return BNC_DSN_DELIVERED;
  return BNC_DSN_FAILED;
}

/* A 2xx reply, or a 2.x.x status without a code: a delivery. */
static int is_2xx(const bnc_reply_t *r) {
  return (r->code >= 200 && r->code < 300) || (!r->code && r->st_class == 2);
}

static int recipient_level(bnc_reason_t r) {
  return r == BNC_R_USERUNKNOWN || r == BNC_R_HOSTUNKNOWN || r == BNC_R_HASMOVED;
}

/* ---- the human-readable part of a delivery report ------------------------- */

/* A DSN's Diagnostic-Code is often missing, or drops the SMTP command the
 * reply answered ("in reply to end of DATA command"), which the
 * human-readable part keeps, in the paragraph that names the recipient.
 * next_paragraph() walks those paragraphs, at most 4, in the first text
 * part that names the recipient at all; each is cut to 4 KiB. */
typedef struct {
  const bnc_msg_rcpt_t *r;
  size_t part;             /* the text part being read */
  const char *q;           /* where the next search starts in it */
  int found;               /* the part named the recipient */
  int tries;               /* paragraphs returned from this part */
} paras_t;

static int rcpt_searchable(const bnc_msg_rcpt_t *r) {
  return r->rcpt.p && r->rcpt.n >= 3 && r->rcpt.n <= 256;
}

/* Whether [p, e) holds a (searchable, case as written). */
static int line_names(const char *p, const char *e, bnc_str_t a) {
  const char *q = p;
  while ((size_t)(e - q) >= a.n && (q = memchr(q, a.p[0], (size_t)(e - q) - a.n + 1)) != NULL) {
    if (memcmp(q, a.p, a.n) == 0) return 1;
    q++;
  }
  return 0;
}

/* Whether the line [p, e) names a recipient of the report other than r. */
static int names_other(const ctx_t *c, const bnc_msg_rcpt_t *r, const char *p, const char *e) {
  size_t i;
  for (i = 0; i < c->m->nrcpt; i++) {
    const bnc_msg_rcpt_t *o = &c->m->rcpt[i];
    if (o != r && rcpt_searchable(o) && !(o->rcpt.n == r->rcpt.n && !memcmp(o->rcpt.p, r->rcpt.p, r->rcpt.n)) &&
        line_names(p, e, o->rcpt)) return 1;
  }
  return 0;
}

/* Whether [p, end) holds a line of a session transcript (">>> ", "<<< ",
 * "... while talking to"). */
static int transcript_lines(const char *p, const char *end, int nocr) {
  const char *next;
  for (; p < end; p = next) {
    const char *e = line_end_lf(p, end, &next, nocr), *q = p;
    while (q < e && bnc_is_wsp((unsigned char)*q)) q++;
    if (e - q >= 4 && (!memcmp(q, ">>> ", 4) || !memcmp(q, "<<< ", 4) || !memcmp(q, "... ", 4))) return 1;
  }
  return 0;
}

/* A paragraph that lists several of the report's recipients line after
 * line ("a@b: 550 ...", "c@d: 552 ..."; Exim's and OpenSMTPD's lists),
 * cut to r's own lines: from r's first line (from the line after the last
 * one before it that names another recipient when the lines between are
 * a transcript's: the session's replies before "<a@b>... Deferred" are
 * r's) to the next line after r's that names another recipient and not r. A paragraph that names no
 * other recipient is returned whole. */
static bnc_str_t own_lines(const ctx_t *c, const bnc_msg_rcpt_t *r, bnc_str_t para, int nocr) {
  const char *p = para.p, *end = para.p + para.n, *next, *from = para.p;
  int seen = 0;
  if (c->m->nrcpt < 2) return para;
  for (; p < end; p = next) {
    const char *e = line_end_lf(p, end, &next, nocr);
    int mine = line_names(p, e, r->rcpt);
    if (!seen && mine) {
      seen = 1;
      if (!transcript_lines(from, p, nocr)) from = p;   /* a list: r's block opens at its line */
    } else if (!mine && names_other(c, r, p, e)) {
      if (seen) return mkstr(from, (size_t)(p - from));
      from = next;
    }
  }
  return seen ? mkstr(from, (size_t)(end - from)) : para;
}

/* The next paragraph that names it, into *para (its text part's nocr in
 * *nocr), cut to its own lines (own_lines); 0 when there is none, or when a
 * part that named it is done. */
static int next_paragraph(const ctx_t *c, paras_t *w, bnc_str_t *para, int *nocr) {
  bnc_str_t a = w->r->rcpt;
  for (; w->part < c->ntexts; w->part++) {
    bnc_str_t t = c->texts[w->part];
    const char *end = t.p + t.n, *q = w->q ? w->q : t.p, *at = NULL;
    if (w->tries < 4) {
      while (q + a.n <= end && (q = memchr(q, a.p[0], (size_t)(end - q - (ptrdiff_t)a.n + 1))) != NULL) {
        if (memcmp(q, a.p, a.n) == 0) { at = q; break; }
        q++;
      }
    }
    if (at) {
      *nocr = c->texts_nocr[w->part];
      *para = bnc_msg_paragraph(t.p, at, end, *nocr);
      if (para->n > 4096) para->n = 4096;
      w->q = para->p + para->n > at + a.n ? para->p + para->n : at + a.n;
      w->found = 1;
      w->tries++;
      *para = own_lines(c, w->r, *para, *nocr);
      return 1;
    }
    if (w->found) return 0;          /* only the first part that names it */
    w->q = NULL;
  }
  return 0;
}

/* ---- session transcripts ---------------------------------------------------- */

/* Where the reply on line [p, e) starts: after white space and the "<<< "
 * that marks a server's line in a transcript (*marked says whether it had
 * one); its code in *code (0: the line opens no reply code). */
static const char *reply_at(const char *p, const char *e, int *marked, int *code) {
  while (p < e && bnc_is_wsp((unsigned char)*p)) p++;
  *marked = e - p >= 4 && memcmp(p, "<<< ", 4) == 0;
  if (*marked) p += 4;
  while (p < e && bnc_is_wsp((unsigned char)*p)) p++;
  *code = 0;
  if (e - p >= 3 && p[0] >= '1' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
      (e - p == 3 || p[3] == ' ' || p[3] == '-'))
    *code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
  return p;
}

/* The reply whose first line starts at p, every line of it ("550-..." up
 * to "550 ..."), each without its white space and "<<< " mark, joined by
 * LF, into the arena (at most 4 KiB); {NULL, 0} when p opens no reply. */
static bnc_str_t whole_reply(ctx_t *c, const char *p, const char *end, int nocr) {
  char buf[4096];
  size_t n = 0;
  int code0 = 0, k;
  const char *next;
  char *o;
  for (k = 0; p < end && k < 64; k++, p = next) {
    const char *e = line_end_lf(p, end, &next, nocr);
    int marked, code;
    const char *q = reply_at(p, e, &marked, &code);
    if (!code || (code0 && code != code0) || n + (size_t)(e - q) + 1 > sizeof buf) break;
    code0 = code;
    if (n) buf[n++] = '\n';
    memcpy(buf + n, q, (size_t)(e - q));
    n += (size_t)(e - q);
    if (e - q == 3 || q[3] == ' ') break;          /* its last line */
  }
  if (!n || !(o = arena_take(c, n))) return mkstr(NULL, 0);
  memcpy(o, buf, n);
  return mkstr(o, n);
}

/* In a transcript of the session ([p, end): ">>> command" and "<<< reply"
 * lines), the refusal: the first server line with a 4xx or 5xx code. The
 * positive replies before it (the greeting's "220-" lines, "250 ok" to EHLO,
 * MAIL and other recipients) are not the failure. Its line, or NULL; *cmd
 * receives the ">>> " line before it (NULL when there is none). */
static const char *transcript_failure(const char *p, const char *end, int nocr, const char **cmd) {
  const char *next;
  *cmd = NULL;
  for (; p < end; p = next) {
    const char *e = line_end_lf(p, end, &next, nocr), *q = p;
    int marked, code;
    while (q < e && bnc_is_wsp((unsigned char)*q)) q++;
    if (e - q >= 4 && memcmp(q, ">>> ", 4) == 0) { *cmd = q; continue; }
    reply_at(p, e, &marked, &code);
    if (marked && code >= 400) return p;
  }
  return NULL;
}

/* The first line of a text part that opens with s (the first line of a
 * reply, as a Diagnostic-Code cut it) after white space or "<<< ", or
 * NULL; *part receives the part's index. */
static const char *line_with(const ctx_t *c, bnc_str_t s, size_t *part) {
  size_t i;
  for (i = 0; i < c->ntexts && s.n >= 8; i++) {
    const char *t = c->texts[i].p, *end = t + c->texts[i].n, *q = t;
    while ((size_t)(end - q) >= s.n && (q = memchr(q, s.p[0], (size_t)(end - q) - s.n + 1)) != NULL) {
      if (memcmp(q, s.p, s.n) == 0) {
        const char *ls = q, *x;
        int marked, code;
        while (ls > t && !bnc_is_eol((unsigned char)ls[-1])) ls--;
        if (reply_at(ls, line_end_lf(ls, end, &x, c->texts_nocr[i]), &marked, &code) == q) {
          *part = i;
          return ls;
        }
      }
      q++;
    }
  }
  return NULL;
}

/* A Diagnostic-Code cut to the first line of a reply of several lines
 * ("SMTP; 550-5.7.1 [192.0.2.1] Our system has detected that", as sendmail
 * writes it): the whole reply, from the text part that has it (a session
 * transcript, a quoted reply), when one does; else d. */
static bnc_str_t complete_diag(ctx_t *c, bnc_str_t d) {
  bnc_str_t v = d, w;
  const char *semi = d.p ? memchr(d.p, ';', d.n < 16 ? d.n : 16) : NULL, *at;
  int marked, code;
  size_t part;
  if (semi) v = trim(mkstr(semi + 1, (size_t)(d.p + d.n - semi - 1)));
  if (!v.p || v.n < 12 || memchr(v.p, '\n', v.n) || memchr(v.p, '\r', v.n)) return d;
  reply_at(v.p, v.p + v.n, &marked, &code);
  if (code < 400 || v.p[3] != '-') return d;
  if (!(at = line_with(c, v, &part))) return d;
  w = whole_reply(c, at, c->texts[part].p + c->texts[part].n, c->texts_nocr[part]);
  return w.n > v.n ? w : d;
}

/* Whether the Diagnostic-Code d says nothing: absent, or a type alone
 * ("SMTP; "). */
static int diag_empty(bnc_str_t d) {
  const char *semi;
  d = trim(d);
  if (!d.p) return 1;
  semi = memchr(d.p, ';', d.n);
  return semi && !trim(mkstr(semi + 1, (size_t)(d.p + d.n - semi - 1))).p && (size_t)(semi - d.p) < 16;
}

/* No Diagnostic-Code: the first of those paragraphs that holds a reply
 * line, else the first of them, is the diagnostic. */
static bnc_str_t text_diagnostic(ctx_t *c, const bnc_msg_rcpt_t *r) {
  paras_t w = { NULL, 0, NULL, 0, 0 };
  bnc_str_t para, first = { NULL, 0 };
  int nocr;
  w.r = r;
  while (next_paragraph(c, &w, &para, &nocr)) {
    const char *cmd, *fail = transcript_failure(para.p, para.p + para.n, nocr, &cmd);
    if (fail) {                       /* a transcript: its refusal, the command before it */
      bnc_str_t rep = whole_reply(c, fail, para.p + para.n, nocr);
      char *o;
      size_t k = cmd ? (size_t)(line_end_lf(cmd, para.p + para.n, &fail, nocr) - cmd) : 0;
      if (!rep.p) break;
      if (!k || !(o = arena_take(c, k + 1 + rep.n))) return rep;
      memcpy(o, cmd, k);
      o[k] = '\n';
      memcpy(o + k + 1, rep.p, rep.n);
      return mkstr(o, k + 1 + rep.n);
    }
    if (bnc_msg_first_reply_line(para.p, para.p + para.n, " -", nocr)) { first = para; break; }
    if (!first.p) first = para;
  }
  return first.p ? bnc_msg_unfold(c, first) : first;
}

/* A Diagnostic-Code without the command: the first of those paragraphs
 * whose reply states one. A later paragraph (a transcript further on:
 * "... while talking to H: >>> DATA <<< 550 ... a@b") is read only while
 * the command could change the reason (the reply speaks of the address),
 * and not when the status already speaks of the address (X.1.x): then the
 * transcript's command must not turn it into a filter's refusal. */
static bnc_command_t text_command(ctx_t *c, const bnc_msg_rcpt_t *r, const bnc_signals_t *s) {
  paras_t w = { NULL, 0, NULL, 0, 0 };
  bnc_str_t para;
  int nocr;
  w.r = r;
  while (next_paragraph(c, &w, &para, &nocr)) {
    char tmp[4097];
    bnc_reply_t rep;
    const char *cmd, *fail = transcript_failure(para.p, para.p + para.n, nocr, &cmd);
    if (fail && cmd) {                /* a transcript: the command its refusal answered */
      const char *x;
      para = mkstr(cmd, (size_t)(line_end_lf(fail, para.p + para.n, &x, nocr) - cmd));
    }
    if (bnc_reply_parse(para.p, para.n, tmp, sizeof tmp, &rep) == BNC_OK && rep.command != BNC_CMD_NONE &&
        !(w.tries > 1 && r->reply.st_subject == 1))
      return rep.command;
    if (w.tries == 1 && !recipient_level(bnc_reply_says(c->rs, s))) break;
  }
  return BNC_CMD_NONE;
}

/* ---- gathering the signals ------------------------------------------------ */

/* The Status field, "5.1.1 (comment)" cut to "5.1.1", parsed into *st;
 * whether it holds a status. */
static int status_field(bnc_msg_rcpt_t *r, bnc_reply_t *st) {
  size_t k = 0;
  char tmp[16];
  if (!r->status.p) return 0;
  while (k < r->status.n && !bnc_is_wsp((unsigned char)r->status.p[k]) && r->status.p[k] != '(') k++;
  r->status.n = k;
  return k && k < 12 && bnc_reply_parse(r->status.p, k, tmp, sizeof tmp, st) == BNC_OK && st->st_class;
}

/* The diagnostic parsed as a reply, once (its joined text into the arena),
 * with what the bounce adds to it: the Status field st (NULL: none), the
 * precise status a generic one quotes, the Diagnostic-Code type, the remote
 * host, the command from the bounce's own words. */
static void read_reply(ctx_t *c, bnc_msg_rcpt_t *r, bnc_signals_t *s, const bnc_reply_t *st) {
  bnc_str_t d = r->diag;
  char *text;
  memset(&r->reply, 0, sizeof r->reply);
  if (d.p && (text = arena_take(c, d.n + 1)) != NULL &&
      bnc_reply_parse(d.p, d.n, text, d.n + 1, &r->reply) == BNC_OK) {
    r->text = mkstr(text, r->reply.text_len);
  } else {
    memset(&r->reply, 0, sizeof r->reply);
    r->text = mkstr(NULL, 0);
  }
  /* The diagnostic's own status is the more precise one (a Status field
   * often says only 5.0.0 or 4.4.7); the field fills in when it has none. */
  if (st && (!r->reply.st_class || (r->reply.st_class == st->st_class && r->reply.st_subject == 0 &&
                                     st->st_subject != 0)))
    take_status(&r->reply, st);
  if (r->reply.st_class && r->reply.st_detail == 0 && r->text.p) inner_status(r);
  /* "X-Unix; 255": the exit status of a program the mail was piped to, not a
   * reply code (it would read as a 2xx) */
  if (d.n > 7 && bnc_ieq_n(d.p, "x-unix;", 7)) {
    r->reply.code = 0;
    s->diag_type = unix_exit_reason(mkstr(d.p + 7, d.n - 7));
  }
  if (!r->rhost.p && r->reply.rhost_len && r->text.p) r->rhost = mkstr(d.p + r->reply.rhost_off, r->reply.rhost_len);
  if (r->reply.command == BNC_CMD_NONE && r->text.p) r->reply.command = tail_command(r->text);
  if (r->reply.command == BNC_CMD_NONE && d.p) r->reply.command = stage_words(d);
  s->text = r->text.p;
  s->tlen = r->text.n;
}

/* The best text rule for r's reply (none for a record that is no failure). */
static void scan(const ctx_t *c, const bnc_msg_rcpt_t *r, bnc_signals_t *s) {
  if (s->report == BNC_R_UNDEFINED && s->action != BNC_DSN_DELIVERED)
    s->rule = bnc_classify_scan(c->rs, &r->reply, r->text.p ? r->text.p : "", r->text.n, r->rhost.p,
                                r->rhost.n);
}

void bnc_msg_gather(ctx_t *c, bnc_msg_rcpt_t *r) {
  rec_t *rec = bnc_msg_rec(c, r);
  bnc_signals_t *s = &rec->sig;
  bnc_reply_t st;
  int have_st, had_diag = r->diag.p != NULL, readable;
  if (rec->gathered) return;
  rec->gathered = 1;
  if (r->rcpt.p) r->rcpt = bnc_msg_clean_addr(r->rcpt);
  if (r->orig_rcpt.p) r->orig_rcpt = bnc_msg_clean_addr(r->orig_rcpt);
  s->reply = &r->reply;
  s->action = action_of(r->action);
  r->delayed = s->action == BNC_DSN_DELAYED;
  have_st = status_field(r, &st);
  /* a delivery report's own records: its human-readable part supplies what
   * the DSN fields lack */
  readable = rec->from_dsn && s->report == BNC_R_UNDEFINED && rcpt_searchable(r) &&
             s->action != BNC_DSN_DELIVERED;
  if (readable && had_diag && diag_empty(r->diag)) had_diag = 0;
  if (readable && !had_diag && !(have_st && is_2xx(&st))) {
    bnc_str_t d = text_diagnostic(c, r);
    if (d.p || !r->diag.p) r->diag = d;
  }
  if (readable && had_diag) r->diag = complete_diag(c, r->diag);
  read_reply(c, r, s, have_st ? &st : NULL);
  scan(c, r, s);
  if (readable && had_diag && r->reply.command == BNC_CMD_NONE && !is_2xx(&r->reply)) {
    r->reply.command = text_command(c, r, s);
    if (r->reply.command != BNC_CMD_NONE && bnc_ruleset_uses_command(c->rs))
      scan(c, r, s);                    /* a rule may hold now that did not before */
  }
}

/* ---- deciding, and the fields that follow ---------------------------------- */

/* The formats whose bounces come from the mailbox's own host: their "user
 * unknown" is about the address. */
static int mailbox_host(const char *format) {
  static const char *const HOSTS[] = { "imailserver", "domino", "notes" };
  size_t i;
  for (i = 0; format && i < sizeof HOSTS / sizeof HOSTS[0]; i++)
    if (!strcmp(format, HOSTS[i])) return 1;
  return 0;
}

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

/* Whether the diagnostic is the reporting MTA's own (an RFC 3464
 * diagnostic-type other than "smtp": "X-Unix", "X-Postfix"), not a remote
 * server's reply it relays: a local delivery's "user unknown" is about the
 * address. */
static int own_words(const bnc_msg_rcpt_t *r) {
  return r->diag.p && r->diag.n > 2 && bnc_ieq_n(r->diag.p, "x-", 2);
}

void bnc_msg_mark_all(ctx_t *c, bnc_reason_t report) {
  size_t i;
  for (i = 0; i < c->m->nrcpt; i++) c->rec[i].sig.report = report;
}

void bnc_msg_finish(ctx_t *c) {
  bnc_message_t *m = c->m;
  int mailbox = mailbox_host(m->format), exim = m->format && !strcmp(m->format, "exim");
  size_t i;
  for (i = 0; i < m->nrcpt; i++) {
    bnc_msg_rcpt_t *r = &m->rcpt[i];
    bnc_signals_t *s = &c->rec[i].sig;
    bnc_msg_gather(c, r);
    s->flags = BNC_SIG_RELAYED | (mailbox || r->bad_mailbox || own_words(r) ? BNC_SIG_MAILBOX : 0u);
    bnc_decide(c->rs, s, &r->cls);
    /* a notice marked delayed whose own words say the message expired
     * (OpenSMTPD's "Envelope expired") is the final one: no retry follows */
    if (r->delayed && r->cls.reason == BNC_R_EXPIRED && r->cls.rule >= 0 && r->text.p &&
        bnc_msg_ifind(r->text.p, r->text.n, "expired"))
      r->delayed = 0;
    /* the code and status shown are what the remote host said, where the
     * notice quotes it; the reason stays the notice's */
    if (r->cls.reason == BNC_R_EXPIRED && r->text.p) last_reply(r);
    if (!strcmp(r->cls.source, "type") && r->reply.st_subject == 0 && r->reply.st_detail == 0)
      exit_reply(c, r, trim(mkstr(r->diag.p + 7, r->diag.n - 7)));
    if (r->reply.st_class) r->status = mkstr(r->reply.status, strlen(r->reply.status));
    else if (r->status.p && !r->status.n) r->status = mkstr(NULL, 0);
    set_pseudo(r, exim);
  }
}
