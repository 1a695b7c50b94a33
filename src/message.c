/*
 * message.c - the entry point of the message parser (the contract is in
 * message.h) and what its files share: the search and line helpers, the
 * recipient records. bnc_message_parse reads the top-level headers once,
 * walks the MIME tree (mime.c, which hands reports to dsn.c), then decides
 * what kind of message it is, in this order: a feedback report, a delivery
 * report, DSN fields pasted into text, an SES notification (ses.c), a
 * plain-text bounce (families.c), a report that named no recipient, an
 * auto-reply (autoreply.c). The readers only fill in the fields they find;
 * once they are done, bnc_msg_finish (recipient.c) reads each record's
 * signals and decides it, once. A file per concern; this one only holds
 * them together.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "date.h"
#include "msg.h"

/* ---- text helpers ------------------------------------------------------- */

/* Case-insensitive search of needle (lower case) in s[0..n): the first
 * occurrence that fits whole in s[0..n). Linear for the short needles used
 * here (bounded by the needle length). Speed: a needle that opens with a
 * byte that has no case ('\n', '"', '=', '<', '-') is found with memchr,
 * which skips the bytes between candidates many at a time; a letter first is
 * looked for 8 positions at a time (a byte b is the letter c0 in either case
 * exactly when (b | 0x20) == c0, and a word of 8 such bytes shows whether any
 * equals c0 with the usual zero-byte test), and a candidate is checked with
 * the second byte too before the full compare. */
const char *bnc_msg_ifind(const char *s, size_t n, const char *needle) {
  size_t k = strlen(needle), i, j;
  int c0, c1;
  if (k == 0 || n < k) return NULL;
  c0 = (unsigned char)needle[0];
  if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z'))) {   /* a byte without case */
    const char *q = s, *last = s + (n - k);
    while (q <= last && (q = memchr(q, c0, (size_t)(last - q) + 1)) != NULL) {
      if (bnc_ieq_n(q, needle, k)) return q;
      q++;
    }
    return NULL;
  }
  if (k == 1) {
    for (i = 0; i < n; i++) if (bnc_lower((unsigned char)s[i]) == c0) return s + i;
    return NULL;
  }
  c1 = (unsigned char)needle[1];
  for (i = 0; i + k <= n;) {
    if (n - k - i >= 7) {              /* starts i..i+7 all fit: s[i..i+8) is readable */
      const unsigned long long ones = 0x0101010101010101ULL;
      unsigned long long w;
      memcpy(&w, s + i, 8);
      w = (w | ones * 0x20) ^ ones * (unsigned)c0;   /* a zero byte where c0 is */
      if (!((w - ones) & ~w & ones * 0x80)) { i += 8; continue; }
      for (j = i + 8; i < j; i++)
        if (bnc_lower((unsigned char)s[i]) == c0 && bnc_lower((unsigned char)s[i + 1]) == c1 &&
            bnc_ieq_n(s + i, needle, k)) return s + i;
      continue;
    }
    if (bnc_lower((unsigned char)s[i]) == c0 && bnc_lower((unsigned char)s[i + 1]) == c1 &&
        bnc_ieq_n(s + i, needle, k)) return s + i;
    i++;
  }
  return NULL;
}

bnc_msg_rcpt_t *bnc_msg_new_rcpt(ctx_t *c) {
  bnc_msg_rcpt_t *r;
  rec_t *rec;
  if (c->m->nrcpt >= BNC_MSG_RCPTS) { c->m->warnings |= BNC_MSG_W_RCPTS; return NULL; }
  rec = &c->rec[c->m->nrcpt];
  r = &c->m->rcpt[c->m->nrcpt++];
  memset(r, 0, sizeof *r);
  memset(rec, 0, sizeof *rec);
  rec->sig.rule = -1;
  rec->sig.report = rec->sig.diag_type = rec->sig.format = BNC_R_UNDEFINED;
  rec->sig.action = BNC_DSN_NONE;
  return r;
}

static int is_addr_char(int ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         (ch && strchr(".-_+=!#$%&'*/?^`{|}~", ch));
}

/* Finds an address in the line [p, e): returns its span. */
bnc_str_t bnc_msg_find_addr(const char *p, const char *e) {
  const char *at = memchr(p, '@', (size_t)(e - p));
  const char *s, *t;
  if (!at) return mkstr(NULL, 0);
  s = at;
  while (s > p && is_addr_char((unsigned char)s[-1])) s--;
  t = at + 1;
  while (t < e && is_addr_char((unsigned char)*t)) t++;
  while (t > at + 1 && t[-1] == '.') t--;
  if (s == at || t == at + 1) return mkstr(NULL, 0);
  return mkstr(s, (size_t)(t - s));
}

/* The comment in parentheses that v opens with (from == 0) or ends with
 * (from == 1), nested ones included: its length, or 0. */
static size_t comment_at(bnc_str_t v, int from_end) {
  size_t i, depth = 0;
  if (!v.n || v.p[from_end ? v.n - 1 : 0] != (from_end ? ')' : '(')) return 0;
  for (i = 0; i < v.n; i++) {
    char ch = v.p[from_end ? v.n - 1 - i : i];
    if (ch == '(' || ch == ')') depth += ch == (from_end ? ')' : '(') ? 1 : (size_t)-1;
    if (depth == 0) return i + 1;
  }
  return 0;
}

/* Strips the prefix pre (lower case) from v when it opens it. */
static int strip_prefix(bnc_str_t *v, const char *pre) {
  size_t k = strlen(pre);
  if (v->n <= k || !bnc_ieq_n(v->p, pre, k)) return 0;
  v->p += k;
  v->n -= k;
  return 1;
}

/* What MTAs write around an address in a recipient field, taken off in
 * rounds until nothing changes: white space; an address type ("rfc822;",
 * "RFC822; ", the part before a ';' that comes before the '@'); the
 * prefixes of gateways and links ("smtp:", "smtp=" as X.400 gateways write
 * it, "mailto:"); a display name and the angle brackets ("Ann <a@b>");
 * comments in parentheses before or after it; quotes around it (not those
 * of a quoted local part: "a b"@c keeps them); a '<' '[' or quote left in
 * front, punctuation left behind it (".,;:!?'\">", and ')' or ']' that
 * close nothing: a domain literal [192.0.2.1] keeps its bracket). A
 * substring of v; v itself when nothing of an address is left. */
bnc_str_t bnc_msg_clean_addr(bnc_str_t v) {
  bnc_str_t orig = v;
  int round;
  for (round = 0; round < 8 && v.n; round++) {
    bnc_str_t was = v;
    const char *at, *semi, *lt;
    size_t k;
    v = trim(v);
    if (!v.n) break;
    at = memchr(v.p, '@', v.n);
    semi = memchr(v.p, ';', v.n);
    if (semi && (!at || semi < at) && !memchr(v.p, '"', (size_t)(semi - v.p)) &&
        !memchr(v.p, '<', (size_t)(semi - v.p)))
      v = mkstr(semi + 1, (size_t)(v.p + v.n - semi - 1));
    else if (at && (lt = memchr(v.p, '<', (size_t)(at - v.p))) != NULL) {
      const char *gt = memchr(at, '>', (size_t)(v.p + v.n - at));
      while (memchr(lt + 1, '<', (size_t)(at - lt - 1))) lt = memchr(lt + 1, '<', (size_t)(at - lt - 1));
      v = mkstr(lt + 1, (size_t)((gt ? gt : v.p + v.n) - lt - 1));   /* "Ann <a@b> (x)" */
    } else if ((k = comment_at(v, 0)) != 0) v = mkstr(v.p + k, v.n - k);
    else if ((k = comment_at(v, 1)) != 0) v.n -= k;
    else if (strip_prefix(&v, "smtp:") || strip_prefix(&v, "smtp=") || strip_prefix(&v, "mailto:")) {}
    else if (v.n >= 2 && (v.p[0] == '"' || v.p[0] == '\'') && v.p[v.n - 1] == v.p[0] &&
             !(at && at > v.p + 1 && at[-1] == v.p[0]))
      v = mkstr(v.p + 1, v.n - 2);             /* "a@b", 'a@b' */
    else if (v.p[0] == '<' || v.p[0] == '[' ||
             ((v.p[0] == '"' || v.p[0] == '\'') && at && !memchr(v.p + 1, v.p[0], (size_t)(at - v.p - 1))))
      v = mkstr(v.p + 1, v.n - 1);
    else {
      char ch = v.p[v.n - 1];
      const char *lb = at ? memchr(at, '[', (size_t)(v.p + v.n - at)) : NULL;
      if (strchr(".,;:!?'\">", ch) || (ch == ')' && !memchr(v.p, '(', v.n)) || (ch == ']' && !lb)) v.n--;
    }
    if (v.p == was.p && v.n == was.n) break;
  }
  v = trim(v);
  return v.n ? v : trim(orig);
}

/* Whether the recipient a already has a record: plain-text bounces that say
 * it twice (Mail.ru's Russian and English texts) give one. Compared as
 * bnc_msg_clean_addr leaves them. */
int bnc_msg_seen(const ctx_t *c, bnc_str_t a) {
  size_t i;
  a = bnc_msg_clean_addr(a);
  for (i = 0; i < c->m->nrcpt; i++) {
    bnc_str_t b = bnc_msg_clean_addr(c->m->rcpt[i].rcpt);
    if (b.n == a.n && b.p && memcmp(b.p, a.p, a.n) == 0) return 1;
  }
  return 0;
}

/* Start of the paragraph around p (after the last blank line before it,
 * at most 2 KiB back) and its end (the next blank line). */
bnc_str_t bnc_msg_paragraph(const char *lo, const char *p, const char *end, int nocr) {
  const char *s = p, *e = p, *next;
  while (s > lo && p - s < 2048) {
    if (bnc_is_eol((unsigned char)s[-1])) {      /* a blank line ends in a CR or LF */
      if (s - lo >= 2 && s[-1] == '\n' && s[-2] == '\n') break;
      if (s - lo >= 2 && s[-1] == '\r' && s[-2] == '\r') break;
      if (s - lo >= 4 && s[-1] == '\n' && s[-2] == '\r' && s[-3] == '\n' && s[-4] == '\r') break;
    }
    s--;
  }
  while (s < p && bnc_is_eol((unsigned char)*s)) s++;
  while (e < end) {
    const char *le = line_end_lf(e, end, &next, nocr);
    if (le == e) break;
    e = next;
  }
  return mkstr(s, (size_t)(e - s));
}

/* Whether the line [q, e) (white space skipped) opens with a 4xx or 5xx
 * reply code followed by one of seps ("554 <a@b>... text"). */
int bnc_msg_opens_reply(const char *q, const char *e, const char *seps) {
  while (q < e && bnc_is_wsp((unsigned char)*q)) q++;
  return e - q >= 4 && (*q == '4' || *q == '5') && q[1] >= '0' && q[1] <= '9' && q[2] >= '0' &&
         q[2] <= '9' && strchr(seps, q[3]) != NULL;
}

/* The first line of [p, end) that opens with a reply code (see opens_reply),
 * from its code; NULL when none does. */
const char *bnc_msg_first_reply_line(const char *p, const char *end, const char *seps, int nocr) {
  const char *next;
  for (; p < end; p = next) {
    const char *e = line_end_lf(p, end, &next, nocr);
    if (bnc_msg_opens_reply(p, e, seps)) {
      while (bnc_is_wsp((unsigned char)*p)) p++;
      return p;
    }
  }
  return NULL;
}


/* ---- the entry point ---------------------------------------------------- */

static const bnc_str_t TOP_NAMES[T__COUNT] = {
  NAME("From"), NAME("X-Failed-Recipients"), NAME("Subject"), NAME("X-Mailer"),
  NAME("Auto-Submitted"), NAME("X-Autoreply"), NAME("X-Autorespond"), NAME("Precedence"),
  NAME("To"), NAME("Date"), NAME("In-Reply-To"), NAME("Content-Type"),
  NAME("Content-Transfer-Encoding")
};

/* A complaint: an RFC 5965 report, or Microsoft's JMRP (the bare returned
 * message, without the report part, the recipient in
 * X-HmXmrOriginalRecipient). Without a recipient, the returned message's
 * To is it. */
static int read_complaint(ctx_t *c, const top_t *top) {
  bnc_message_t *m = c->m;
  if (!c->have_fb && c->have_orig && top->subject.p &&
      bnc_msg_ifind(top->subject.p, top->subject.n, "complaint about message from")) {
    c->have_fb = 1;
    if (c->hm_rcpt.p && bnc_msg_new_rcpt(c)) m->rcpt[0].rcpt = c->hm_rcpt;
  }
  if (!c->have_fb) return 0;
  m->format = "arf";
  if (m->nrcpt == 0 && bnc_msg_new_rcpt(c)) m->rcpt[0].rcpt = m->to;
  bnc_msg_mark_all(c, BNC_R_FEEDBACK);
  return 1;
}

/* A delivery report: the records of its delivery-status part, else of DSN
 * fields pasted into a text part. */
static void read_report(ctx_t *c) {
  bnc_message_t *m = c->m;
  size_t i;
  for (i = 0; i < c->ntexts && m->nrcpt == 0; i++) {
    const char *at = bnc_msg_dsn_fields(c->texts[i]);
    if (at) bnc_msg_read_dsn(c, at + 1, c->texts[i].p + c->texts[i].n, c->texts_nocr[i]);
  }
  if (m->nrcpt) m->format = "rfc3464";
}

/* A delivery report that lists no recipient ("--- Delivery report
 * unavailable ---"), the message returned with it: its To failed, for a
 * reason the report does not give. */
static void read_unnamed(ctx_t *c) {
  bnc_message_t *m = c->m;
  bnc_str_t a;
  bnc_msg_rcpt_t *r;
  if (!c->have_dsn || !c->have_orig || !m->to.p) return;
  a = bnc_msg_find_addr(m->to.p, m->to.p + m->to.n);
  if (a.p && (r = bnc_msg_new_rcpt(c)) != NULL) {
    r->rcpt = a;
    m->format = "rfc3464";
    m->warnings |= BNC_MSG_W_NORCPT;
  }
}

/* How many message/rfc822 levels a report is looked for in: a bounce
 * forwarded as an attachment, handed on by a gateway, forwarded again. */
#define MSG_NEST 4

static void read_message(ctx_t *c, const char *buf, size_t len);

/* A message whose own parts hold no report (no delivery-status or
 * feedback-report part) may carry the bounce inside: a person forwarding it
 * as an attachment, a gateway or a quarantine handing it on as
 * message/rfc822 (RFC 2046 5.2.1). Each such part is read as a message of
 * its own, a level deeper (at most MSG_NEST); the first that gives records
 * is the answer; an auto-reply only when the outer message has no text of
 * its own (handed on as it was: a person forwarding a vacation notice with
 * a word of their own is not reporting one). Otherwise everything read inside is
 * dropped and the outer message is read as it stands. Returns 1 when an
 * inner message answered. */
static int read_inner(ctx_t *c) {
  bnc_message_t *m = c->m;
  unsigned char head[offsetof(bnc_message_t, rcpt)];   /* m up to its records */
  size_t parts = m->parts;
  unsigned warnings = m->warnings;
  ctx_t saved;
  size_t i, n = c->ninner;
  bnc_str_t inner[2];
  unsigned char nocr[2];
  if (c->have_dsn || c->have_fb || !n || c->nest >= MSG_NEST) return 0;
  memcpy(inner, c->inner, sizeof inner);
  memcpy(nocr, c->inner_nocr, sizeof nocr);
  memcpy(&saved, c, offsetof(ctx_t, cut));
  memcpy(head, m, sizeof head);
  for (i = 0; i < n; i++) {
    memset(c, 0, offsetof(ctx_t, cut));
    c->p = saved.p; c->cap = saved.cap; c->used = saved.used; c->m = m; c->rs = saved.rs;
    c->want = saved.want; c->nwant = saved.nwant; c->nest = saved.nest + 1;
    c->in_nocr = nocr[i];
    memset(m, 0, offsetof(bnc_message_t, rcpt));
    m->parts = parts;
    m->warnings = warnings;
    read_message(c, inner[i].p, inner[i].n);
    if (m->nrcpt && (saved.ntexts == 0 || !(m->format && !strcmp(m->format, "autoreply")))) return 1;
    m->nrcpt = 0;
    parts = m->parts;
    warnings |= m->warnings & ~(unsigned)BNC_MSG_W_NORCPT;
  }
  memcpy(c, &saved, offsetof(ctx_t, cut));
  memcpy(m, head, sizeof head);
  m->parts = parts;
  m->warnings = warnings;
  return 0;
}

/* One message [buf, buf + len): its headers, its MIME tree, then the
 * readers in order (the records are decided after, by the caller). */
static void read_message(ctx_t *c, const char *buf, size_t len) {
  const char *body;
  top_t top;
  bnc_message_t *out = c->m;
  bnc_msg_scan_headers(buf, buf + len, TOP_NAMES, T__COUNT, top.raw, &top.fold, &body, c->in_nocr);
  top.from = bnc_msg_hval(c, top.raw, top.fold, T_FROM);
  c->xfailed = bnc_msg_hval(c, top.raw, top.fold, T_XFAILED);
  c->bounce_to = bnc_msg_hval(c, top.raw, top.fold, T_TO);
  top.subject = bnc_msg_decode_words(c, bnc_msg_hval(c, top.raw, top.fold, T_SUBJECT));
  out->own_date = bnc_msg_hval(c, top.raw, top.fold, T_DATE);
  c->m->parts++;                       /* the walk of the whole message, its headers read above */
  bnc_msg_entity(c, body, buf + len, 0, mkstr("text/plain", 10),
                 bnc_msg_hval(c, top.raw, top.fold, T_CT), bnc_msg_hval(c, top.raw, top.fold, T_CTE));
  if (read_inner(c)) return;
  if (!read_complaint(c, &top)) {
    read_report(c);
    if (!out->nrcpt) bnc_msg_read_ses(c);
    if (c->have_fb) bnc_msg_mark_all(c, BNC_R_FEEDBACK);
    bnc_msg_read_family(c, &top);
    if (!out->nrcpt) read_unnamed(c);
    if (!out->nrcpt) bnc_msg_read_autoreply(c, &top);
  }
}

long long bnc_message_at(const bnc_message_t *m, size_t i, int *from) {
  const bnc_str_t *when[4];
  size_t k;
  int f = BNC_AT_NONE;
  long long at = -1;
  if (i < m->nrcpt) {
    when[0] = &m->rcpt[i].last_attempt; when[1] = &m->arrival_date;
    when[2] = &m->own_date; when[3] = &m->date;
    for (k = 0; k < 4 && at < 0; k++)
      if (when[k]->p && (at = bnc_date_parse(when[k]->p, when[k]->n)) >= 0) f = (int)k + 1;
  }
  if (from) *from = f;
  return at;
}

int bnc_message_parse(const char *buf, size_t len, const bnc_ruleset_t *rs,
                      const bnc_str_t *want, size_t nwant,
                      char *arena, size_t cap, bnc_message_t *out) {
  ctx_t c;
  size_t i;
  /* Everything but the recipient array (32 KiB: zeroing it cost as much as
   * parsing a short bounce); new_rcpt clears each record it hands out. */
  memset(out, 0, offsetof(bnc_message_t, rcpt));
  out->warnings = 0;
  out->parts = 0;
  if (len > BNC_MSG_MAX) return BNC_ETOOBIG;
  if (nwant > BNC_MSG_WANT) return BNC_EINVAL;
  for (i = 0; i < len && (bnc_is_wsp((unsigned char)buf[i]) || bnc_is_eol((unsigned char)buf[i])); i++) {}
  if (i == len) return BNC_EEMPTY;
  memset(&c, 0, offsetof(ctx_t, cut));
  c.p = arena; c.cap = cap; c.m = out; c.rs = rs; c.want = want; c.nwant = nwant;
  c.in_nocr = !memchr(buf, '\r', len);   /* one pass: most messages have LF line ends */
  read_message(&c, buf, len);
  bnc_msg_finish(&c);
  return out->nrcpt ? BNC_OK : BNC_ENOTBOUNCE;
}
