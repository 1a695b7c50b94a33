/*
 * families.c - plain-text bounces, the part that grows most: the table of
 * MTA families and their readers. A family is chosen by one piece of
 * evidence (a substring of From, Subject, X-Mailer or X-Failed-Recipients,
 * or of the first 4 KiB of a text part), never by trying every reader; its
 * reader then pulls recipients and diagnostics out of the text parts. When
 * no family is named, or its reader finds nothing, but From or Subject say
 * the message is a failure, the loose reader takes the first address and
 * the paragraph that explains it.
 *
 * Adding a family: one entry in FAMILIES (its name, where its evidence is,
 * the evidence, its reader, the phrases the reader needs and the reason its
 * bounces mean when their text says nothing), and a reader below when none
 * of the existing ones fits. A reader makes records with bnc_msg_new_rcpt
 * and fills rcpt and diag; what the diagnostic means is decided later, for
 * every format alike (recipient.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "msg.h"

/* ---- the table ---------------------------------------------------------- */

enum { EV_BODY, EV_FROM, EV_SUBJECT, EV_XMAILER, EV_XFAILED };

typedef struct family family_t;

/* A reader: the recipients and diagnostics of text part t (nocr: t holds no
 * CR) into c, as the records of family f. */
typedef void family_reader(ctx_t *c, const family_t *f, bnc_str_t t, int nocr);

struct family {
  const char *name;
  int where;             /* EV_*: where the evidence is */
  const char *marker;    /* lower-case substring that is the evidence */
  family_reader *read;
  const char *rcpt_at;   /* read_marked, read_markpara: the phrase the address follows */
  const char *diag_at;   /* ... and the phrase that opens the diagnostic */
  bnc_reason_t reason;   /* what the family's bounces mean when the text says nothing */
};

/* The readers, below the table. */
static family_reader read_lines, read_block, read_marked, read_markpara, read_addrtext,
                     read_inline, read_fields, read_sendmail;

/* Order matters: the first family whose evidence is present wins; markers
 * that name the software come before looser subjects. */
static const family_t FAMILIES[] = {
  /* a Google Group refusing a post names the group in X-Failed-Recipients */
  { "googlegroups", EV_XFAILED, "@googlegroups.com", read_lines, NULL, NULL, BNC_R_REJECTED },
  /* Mail.ru, GMX and Yandex run Exim-like texts under their own sender addresses */
  { "mailru",    EV_FROM, "@corp.mail.ru", read_lines, NULL, NULL, BNC_R_UNDEFINED },
  { "mailru",    EV_FROM, "@mail.ru", read_lines, NULL, NULL, BNC_R_UNDEFINED },
  { "gmx",       EV_FROM, "gmx.", read_lines, NULL, NULL, BNC_R_UNDEFINED },
  { "yandex",    EV_FROM, "mailer-daemon@yandex.", read_lines, NULL, NULL, BNC_R_UNDEFINED },
  /* Yahoo! Mail: "<a@b>:" and "Remote host said: ..." below it */
  { "yahoo",     EV_BODY, "sorry, we were unable to deliver your message to the following",
    read_lines, NULL, NULL, BNC_R_UNDEFINED },
  { "yahoo",     EV_FROM, "mailer-daemon@yahoo", read_lines, NULL, NULL, BNC_R_UNDEFINED },
  { "sendgrid",  EV_BODY, "automatically generated message from sendgrid", read_fields, NULL, NULL,
    BNC_R_UNDEFINED },
  { "courier",   EV_BODY, "running the courier mail server", read_block, NULL, NULL,
    BNC_R_UNDEFINED },
  { "postfix",   EV_BODY, "this is the mail system at host", read_lines, NULL, NULL, BNC_R_UNDEFINED },
  { "qmail",     EV_BODY, "this is the qmail-send program", read_lines, NULL, NULL, BNC_R_UNDEFINED },
  /* Zoho writes Exim's preamble, then "a@b Invalid Address, ERROR_CODE :550, ..."
   * (a marker of 14 bytes or more: the shortest sets how far nset_scan jumps) */
  { "zoho",      EV_BODY, ", error_code :", read_addrtext, NULL, NULL, BNC_R_UNDEFINED },
  { "exim",      EV_BODY, "this message was created automatically by mail delivery software",
    read_lines, NULL, NULL, BNC_R_UNDEFINED },
  { "dragonfly", EV_BODY, "dragonfly mail agent", read_marked, "error delivering your mail to",
    "did not like our", BNC_R_UNDEFINED },
  { "opensmtpd", EV_BODY, "this is the mailer-daemon, please do not reply", read_lines, NULL, NULL,
    BNC_R_UNDEFINED },
  { "gmail",     EV_FROM, "mailer-daemon@google", read_marked, "delivery to the following recipient",
    "technical details of", BNC_R_UNDEFINED },
  { "gmail",     EV_BODY, "delivery to the following recipient failed", read_marked,
    "delivery to the following recipient", "technical details", BNC_R_UNDEFINED },
  /* a notice with "Delivery to the following recipients failed permanently"
   * (some write "Delevery") and the reply under "Technical details:" ("SMTP:RCPT host H: 553 ...") */
  { "x3",        EV_BODY, "to the following recipients failed permanently", read_markpara,
    "to the following recipients", "technical details:", BNC_R_UNDEFINED },
  /* the same notice when it gave up: "... was aborted after 5.0 hour(s)" */
  { "x3",        EV_BODY, "to the following recipients was aborted after", read_markpara,
    "to the following recipients", "technical details:", BNC_R_EXPIRED },
  { "sendmail",  EV_BODY, "----- transcript of session follows -----", read_sendmail, NULL, NULL,
    BNC_R_UNDEFINED },
  /* Apache James (Verizon's vtext gateway runs it): the reply in the
   * paragraph after "Error message below:", the recipient after "RCPT TO:" */
  { "apachejames", EV_BODY, "error message below:", read_markpara, "rcpt to:",
    "error message below:", BNC_R_UNDEFINED },
  /* Trend Micro InterScan */
  { "trendmicro", EV_BODY, "from interscan messaging security", read_markpara,
    "unable to deliver message to", "unable to deliver message to", BNC_R_UNDEFINED },
  /* Exchange 5.5/2000/2003: "a@b on DATE" and the NDR text indented below */
  { "exchange",  EV_BODY, "did not reach the following recipient", read_lines, NULL, NULL,
    BNC_R_UNDEFINED },
  /* au (KDDI) EZweb: a recipient "rejected by a remote mail server" with no
   * further word is the receiver's domain filter refusing the message */
  { "ezweb",     EV_BODY, "each of the following recipients was rejected by a remote", read_lines,
    NULL, NULL, BNC_R_FILTERED },
  /* au one net (KDDI, dion.ne.jp) */
  { "kddi",      EV_BODY, "could not be delivered to: <", read_marked, "could not be delivered to:",
    "could not be delivered to:", BNC_R_UNDEFINED },
  /* HCL (IBM, Lotus) Domino and Lotus Notes */
  { "domino",    EV_BODY, "was not delivered to:", read_marked, "was not delivered to:", "because:",
    BNC_R_UNDEFINED },
  { "notes",     EV_BODY, "------- failure reasons", read_marked, "------- failure reasons",
    "------- failure reasons", BNC_R_UNDEFINED },
  /* Ipswitch IMail: "Unknown user: a@b" */
  { "imailserver", EV_XMAILER, "<smtp32 v", read_inline, NULL, NULL, BNC_R_UNDEFINED },
  { "postfix",   EV_SUBJECT, "undelivered mail returned to sender", read_lines, NULL, NULL,
    BNC_R_UNDEFINED },
  { "exim",      EV_SUBJECT, "mail delivery failed", read_lines, NULL, NULL, BNC_R_UNDEFINED },
  { "qmail",     EV_SUBJECT, "failure notice", read_lines, NULL, NULL, BNC_R_UNDEFINED },
  { "sendmail",  EV_SUBJECT, "returned mail:", read_lines, NULL, NULL, BNC_R_UNDEFINED },
  { "exchange",  EV_SUBJECT, "undeliverable:", read_lines, NULL, NULL, BNC_R_UNDEFINED },
  { NULL, 0, NULL, NULL, NULL, NULL, BNC_R_UNDEFINED }
};

/* ---- shared by the readers ------------------------------------------------ */

/* A set of at most NSET_MAX needles (lower case, at least 2 bytes each) looked
 * for in one pass, Wu-Manber style: the window is as long as the shortest
 * needle, and the two bytes at its end (case folded, hashed) say how far it
 * can move before any needle could end there; only where that is 0 are the
 * needles whose window ends in the same two bytes (by hash) compared. The
 * marker lists here have shortest needles of 14 to 22 bytes, so the window
 * moves about 10 bytes per look: the texts are not
 * read byte by byte once per needle but about one byte in ten, once. */
#define NSET_HASH(a, b) ((((unsigned)bnc_lower(a) << 5) ^ (unsigned)bnc_lower(b)) & 1023u)
#define NSET_HASH_LC(a, b) ((((unsigned)(a) << 5) ^ (unsigned)(b)) & 1023u)   /* a, b lower case */
#define NSET_NONE ((size_t)-1)
/* Prepares ns for the needles nd[0..k) (k <= NSET_MAX, each 2..255 bytes). */
static void nset_init(nset_t *ns, const char *const *nd, size_t k) {
  size_t j, q, m = 255;
  ns->k = k;
  ns->maxlen = 0;
  for (j = 0; j < k; j++) {
    ns->nd[j] = nd[j];
    ns->len[j] = strlen(nd[j]);
    if (ns->len[j] < m) m = ns->len[j];
    if (ns->len[j] > ns->maxlen) ns->maxlen = ns->len[j];
  }
  ns->m = m;
  /* the needles are lower case: their bytes are hashed without folding */
  for (j = 0; j < k; j++)
    ns->tail[j] = (unsigned short)NSET_HASH_LC((unsigned char)nd[j][m - 2], (unsigned char)nd[j][m - 1]);
  memset(ns->shift, (int)(m - 1), sizeof ns->shift);
  for (j = 0; j < k; j++) {
    const unsigned char *b = (const unsigned char *)nd[j];
    for (q = 0; q + 2 <= m; q++) {               /* blocks of the first m bytes */
      unsigned h = NSET_HASH_LC(b[q], b[q + 1]);
      if (ns->shift[h] > m - 2 - q) ns->shift[h] = (unsigned char)(m - 2 - q);
    }
  }
}

/* pos[j] receives the offset of the first occurrence of needle j that fits
 * whole in s[0..n) (what ifind finds), or NSET_NONE. Returns the bit set of
 * the needles found. With `first`, it stops once past the first occurrence
 * found plus twice the longest needle: needles that occur only later are
 * reported as absent (see text_cut for why that is enough there). */
static unsigned long nset_scan(const nset_t *ns, const char *s, size_t n, size_t *pos, int first) {
  size_t i = 0, j, m = ns->m, at = NSET_NONE;
  unsigned long found = 0, all = ns->k >= 32 ? 0xffffffffUL : (1UL << ns->k) - 1;
  for (j = 0; j < ns->k; j++) pos[j] = NSET_NONE;
  while (i + m <= n && found != all) {
    unsigned h = NSET_HASH((unsigned char)s[i + m - 2], (unsigned char)s[i + m - 1]), sh = ns->shift[h];
    if (sh) { i += sh; continue; }
    if (first && at != NSET_NONE && i > at + 2 * ns->maxlen) break;
    for (j = 0; j < ns->k; j++)      /* only the needles whose window ends in this block */
      if (ns->tail[j] == h && !((found >> j) & 1) && i + ns->len[j] <= n &&
          bnc_ieq_n(s + i, ns->nd[j], ns->len[j])) {
        pos[j] = i;
        found |= 1UL << j;
        if (at == NSET_NONE) at = i;
      }
    i++;
  }
  return found;
}


/* Where the copy of the returned message starts in a plain-text bounce:
 * each mark in turn is looked for before the cut found so far. One pass
 * finds every mark's first occurrence; a mark then counts when it fits
 * before the cut so far, which is what the search limited to the cut found.
 * The pass stops 2 x the longest mark past the first mark found (at x): the
 * cut ends before x + longest whatever follows; a mark first found beyond
 * x + 2 x longest can set the cut only while it lies past every nearer
 * mark's end, to a place that still lies past them, so it changes none of
 * their tests, and a nearer mark decides the cut. */
static size_t text_cut(ctx_t *c, bnc_str_t t) {
  static const char *const marks[] = {
    "----- original message", "below this line is a copy", "this is a copy of the message",
    "message headers follow", "header of the original message", "original message follows",
    "------ the original message", "returned message", "----- unsent message follows"
  };
  enum { NMARKS = sizeof marks / sizeof marks[0] };
  size_t n = t.n, i, pos[NMARKS];
  if (!c->cut_ready) { nset_init(&c->cut, marks, NMARKS); c->cut_ready = 1; }
  if (!t.p || !nset_scan(&c->cut, t.p, t.n, pos, 1)) return n;
  for (i = 0; i < NMARKS; i++)
    if (pos[i] != NSET_NONE && pos[i] + c->cut.len[i] <= n) n = pos[i];
  return n;
}

/* ---- the readers ------------------------------------------------------------ */

/* Whether the line [q, e) (white space skipped) opens with a recipient:
 * `<a@b>:`, `"a@b":`, `a@b`, `Recipient: <a@b>` (EZweb), `a@b on DATE`
 * (Exchange). Returns the address; *ds receives where the rest starts. */
static bnc_str_t addr_line(const char *p, const char *q, const char *e, const char **ds) {
  bnc_str_t a, none = { NULL, 0 };
  const char *ae;
  if (e - q > 11 && bnc_iprefix(q, (size_t)(e - q), "recipient: ")) q += 11;
  if (q >= e || !(*q == '<' || *q == '"' || q - p <= 8) || !memchr(q, '@', (size_t)(e - q)))
    return none;
  a = bnc_msg_find_addr(q, e);
  if (!a.p || !(a.p == q || a.p == q + 1)) return none;
  ae = a.p + a.n;
  if ((*q == '<' || *q == '"') && a.p == q + 1 && ae < e && (*ae == '>' || *ae == '"')) ae++;
  if (ae + 4 <= e && bnc_iprefix(ae, (size_t)(e - ae), " on ")) { *ds = e; return a; }
  if (!(ae == e || *ae == ':' || (*ae == '>' && ae + 1 <= e))) return none;
  *ds = ae < e && (*ae == ':' || *ae == '>') ? ae + 1 : ae;
  while (*ds < e && (**ds == ':' || bnc_is_wsp((unsigned char)**ds))) (*ds)++;
  return a;
}

/* Whether a and b are one address once cleaned. */
static int same_addr(bnc_str_t a, bnc_str_t b) {
  a = bnc_msg_clean_addr(a);
  b = bnc_msg_clean_addr(b);
  return a.n == b.n && bnc_ieq_n(a.p, b.p, a.n);
}

/* Address lines (`<a@b>:`, `a@b`, `Recipient: <a@b>`, `a@b on DATE`), each
 * followed by the diagnostic: lines indented deeper, or the rest of its own
 * line; else the lines up to a blank one or the next address line. With
 * block, every line up to a blank one. A record whose diagnostic has no
 * code, no status and no words a rule knows was no recipient line after
 * all (a line of the preamble that names an address), and is dropped. */
static void address_lines(ctx_t *c, bnc_str_t t, int block, int nocr) {
  const char *p = t.p, *end = t.p + t.n, *next;
  while (p < end) {
    const char *e = line_end_lf(p, end, &next, nocr);
    const char *q = p, *ds = NULL;
    bnc_str_t a;
    while (q < e && bnc_is_wsp((unsigned char)*q)) q++;
    a = addr_line(p, q, e, &ds);
    if (a.p) {
      const char *de = e, *n2 = next;
      bnc_msg_rcpt_t *r;
      while (!block && n2 < end) {              /* lines indented deeper */
        const char *e2, *nn, *w = n2;
        while (w < end && bnc_is_wsp((unsigned char)*w)) w++;
        if (w - n2 <= q - p) break;
        e2 = line_end_lf(n2, end, &nn, nocr);
        if (w >= e2) break;
        de = e2; n2 = nn;
      }
      if (block) ds = de;                       /* the address line says nothing more */
      if (n2 == next) {
        /* nothing indented below: the lines up to a blank one or another
         * recipient's line (re-wrapped replies go on at the margin; a line
         * that names the same address again is part of its reply:
         * "<a@b>: host H said: 550 5.1.1" then "<a@b>: Recipient address rejected") */
        int k;
        for (k = 0; k < 32 && n2 < end; k++) {
          const char *nn, *e2 = line_end_lf(n2, end, &nn, nocr), *w = n2, *x;
          bnc_str_t b;
          while (w < e2 && bnc_is_wsp((unsigned char)*w)) w++;
          if (e2 == n2 || w == e2) break;
          b = addr_line(n2, w, e2, &x);
          if (b.p && !same_addr(a, b)) break;
          if (ds >= de) ds = n2;
          de = e2; n2 = nn;
        }
      }
      if (de > ds && !bnc_msg_seen(c, a) && (r = bnc_msg_new_rcpt(c)) != NULL) {
        r->rcpt = a;
        r->diag = trim(mkstr(ds, (size_t)(de - ds)));
        bnc_msg_gather(c, r);
        if (r->reply.code == 0 && r->reply.st_class == 0 && bnc_msg_rec(c, r)->sig.rule < 0) c->m->nrcpt--;
      }
      next = n2;
    }
    p = next;
  }
}

/* The plain-text bounces of Postfix, qmail, Exim and their kin. */
static void read_lines(ctx_t *c, const family_t *f, bnc_str_t t, int nocr) {
  (void)f;
  address_lines(c, t, 0, nocr);
}

/* Courier: the host line under the address, then a transcript at the
 * margin: the diagnostic is every line up to a blank one. */
static void read_block(ctx_t *c, const family_t *f, bnc_str_t t, int nocr) {
  (void)f;
  address_lines(c, t, 1, nocr);
}

/* Lines that open with an address and go on with its diagnostic (Zoho:
 * "a@b Invalid Address, ERROR_CODE :550, ERROR_CODE :5.1.1 ..."). */
static void read_addrtext(ctx_t *c, const family_t *f, bnc_str_t t, int nocr) {
  const char *p = t.p, *end = t.p + t.n, *next;
  (void)f;
  while (p < end) {
    const char *e = line_end_lf(p, end, &next, nocr), *q = p;
    bnc_str_t a;
    bnc_msg_rcpt_t *r;
    while (q < e && bnc_is_wsp((unsigned char)*q)) q++;
    a = bnc_msg_find_addr(q, e);
    if (a.p == q && a.p + a.n < e && bnc_is_wsp((unsigned char)a.p[a.n]) && !bnc_msg_seen(c, a) &&
        (r = bnc_msg_new_rcpt(c)) != NULL) {
      r->rcpt = a;
      r->diag = trim(mkstr(a.p + a.n, (size_t)(e - a.p - a.n)));
    }
    p = next;
  }
}

/* Lines "diagnostic: a@b" (IMail): the line naming the address is the
 * diagnostic. Stops at the copy of the returned message. */
static void read_inline(ctx_t *c, const family_t *f, bnc_str_t t, int nocr) {
  static const char *const SUMMARY[] = { "to:", "cc:", "bcc:", "from:", "reply-to:" };
  const char *p = t.p, *end = t.p + text_cut(c, t), *next;
  (void)f;
  while (p < end) {
    const char *e = line_end_lf(p, end, &next, nocr), *q = p;
    bnc_str_t a = bnc_msg_find_addr(p, e);
    bnc_msg_rcpt_t *r;
    size_t k;
    int summary = 0;
    while (q < e && bnc_is_wsp((unsigned char)*q)) q++;
    for (k = 0; k < sizeof SUMMARY / sizeof SUMMARY[0]; k++)   /* the notice's summary of the message */
      if (bnc_iprefix(q, (size_t)(e - q), SUMMARY[k])) summary = 1;
    if (summary || !a.p || a.p == p || bnc_msg_seen(c, a)) { p = next; continue; }
    if (memchr(p, ':', (size_t)(a.p - p)) && (r = bnc_msg_new_rcpt(c)) != NULL) {
      r->rcpt = a;                                /* "Unknown user: a@b" */
      r->diag = trim(mkstr(p, (size_t)(e - p)));
    } else if (bnc_msg_ifind(p, (size_t)(a.p - p), "undeliverable to ") && (r = bnc_msg_new_rcpt(c)) != NULL) {
      /* "undeliverable to a@b", then "Body of message generated response:" and
       * the reply's lines */
      const char *d = next, *de;
      while (d < end) {                           /* past blank lines and "...:" ones */
        bnc_str_t l = trim(mkstr(d, (size_t)(line_end_lf(d, end, &de, nocr) - d)));
        if (l.n && l.p[l.n - 1] != ':') break;
        d = de;
      }
      r->rcpt = a;
      r->diag = d < end ? bnc_msg_paragraph(d, d, end, nocr) : mkstr(NULL, 0);   /* its lines, for the reply parser */
    }
    p = next;
  }
}

/* One recipient after the phrase f->rcpt_at (within 512 bytes), its
 * diagnostic from the phrase f->diag_at on (looked for after the
 * recipient; with para, anywhere in the text): with para, the rest of that
 * phrase's paragraph; else up to 2 KiB, both before the copy of the
 * returned message. */
static void marked(ctx_t *c, const family_t *f, bnc_str_t t, int nocr, int para) {
  const char *end = t.p + text_cut(c, t), *at = bnc_msg_ifind(t.p, (size_t)(end - t.p), f->rcpt_at), *d;
  bnc_str_t a;
  bnc_msg_rcpt_t *r;
  if (!at) return;
  a = bnc_msg_find_addr(at, at + 512 < end ? at + 512 : end);
  d = bnc_msg_ifind(para ? t.p : at, (size_t)(end - (para ? t.p : at)), f->diag_at);
  if (!a.p || !d || !(r = bnc_msg_new_rcpt(c))) return;
  r->rcpt = a;
  if (para) {                           /* the rest of the phrase's paragraph, blank lines
                                           right after the phrase skipped */
    const char *q = d + strlen(f->diag_at);
    while (q < end && (bnc_is_wsp((unsigned char)*q) || bnc_is_eol((unsigned char)*q))) q++;
    r->diag = bnc_msg_unfold(c, bnc_msg_paragraph(q, q, end, nocr));
  } else {
    r->diag = trim(mkstr(d, (size_t)(end - d) < 2048 ? (size_t)(end - d) : 2048));
  }
}

/* Gmail, Domino, Notes, KDDI, DragonFly: the diagnostic runs from its
 * phrase to the end of the notice. */
static void read_marked(ctx_t *c, const family_t *f, bnc_str_t t, int nocr) {
  marked(c, f, t, nocr, 0);
}

/* "Technical details:" notices, Apache James, InterScan: the diagnostic is
 * the paragraph after its phrase. */
static void read_markpara(ctx_t *c, const family_t *f, bnc_str_t t, int nocr) {
  marked(c, f, t, nocr, 1);
}

/* SendGrid: "id:<a@b> : ip : host:[ip] : diagnostic"; the fields are
 * separated by " : ", the diagnostic is the last one. */
static void read_fields(ctx_t *c, const family_t *f, bnc_str_t t, int nocr) {
  const char *p = t.p, *end = t.p + text_cut(c, t), *next;
  (void)f;
  while (p < end) {
    const char *e = line_end_lf(p, end, &next, nocr), *lt = memchr(p, '<', (size_t)(e - p)), *ds = NULL, *q;
    bnc_str_t a;
    bnc_msg_rcpt_t *r;
    p = next;
    if (!lt || !(a = bnc_msg_find_addr(lt, e)).p || a.p != lt + 1 || a.p + a.n >= e || a.p[a.n] != '>') continue;
    for (q = a.p + a.n; (q = bnc_msg_ifind(q, (size_t)(e - q), " : ")) != NULL; q += 3) ds = q + 3;
    if (ds && !bnc_msg_seen(c, a) && (r = bnc_msg_new_rcpt(c)) != NULL) {
      r->rcpt = a;
      r->diag = trim(mkstr(ds, (size_t)(e - ds)));
    }
  }
}

/* A sendmail session transcript without the list of failed addresses (V5
 * sendmail): "554 <a@b>... text" names a recipient; the text is its
 * diagnostic when it carries the remote reply ("550 Host unknown"), else
 * the last ">>> command" / "<<< reply" exchange before it is
 * ("554 <a@b>... Remote protocol error" after a refused MAIL FROM). */
static void read_session(ctx_t *c, bnc_str_t t, int nocr) {
  const char *end = t.p + text_cut(c, t), *next, *cmd = NULL, *rep_e = NULL;
  const char *p = bnc_msg_ifind(t.p, (size_t)(end - t.p), "transcript of session follows");
  while (p && p < end) {
    const char *e = line_end_lf(p, end, &next, nocr), *q = p;
    while (q < e && bnc_is_wsp((unsigned char)*q)) q++;
    if (bnc_iprefix(q, (size_t)(e - q), "while talking to")) cmd = rep_e = NULL;
    else if (bnc_iprefix(q, (size_t)(e - q), ">>> ")) { cmd = q; rep_e = NULL; }
    else if (bnc_iprefix(q, (size_t)(e - q), "<<< ")) { if (!cmd) cmd = q; rep_e = e; }
    else if (e - q > 6 && (*q == '4' || *q == '5') && q[1] >= '0' && q[1] <= '9' && q[2] >= '0' &&
             q[2] <= '9' && q[3] == ' ' && q[4] == '<') {
      bnc_str_t a = bnc_msg_find_addr(q + 5, e);
      const char *x = a.p ? a.p + a.n : NULL;
      bnc_msg_rcpt_t *r;
      if (a.p == q + 5 && e - x > 5 && memcmp(x, ">...", 4) == 0 && !bnc_msg_seen(c, a) && (r = bnc_msg_new_rcpt(c)) != NULL) {
        x += 4;
        while (x < e && bnc_is_wsp((unsigned char)*x)) x++;
        r->rcpt = a;
        if (e - x >= 4 && x[0] >= '2' && x[0] <= '5' && x[1] >= '0' && x[1] <= '9' && x[2] >= '0' &&
            x[2] <= '9' && (x[3] == ' ' || x[3] == '-'))
          r->diag = trim(mkstr(x, (size_t)(e - x)));
        else if (cmd && rep_e)
          r->diag = trim(mkstr(cmd, (size_t)(rep_e - cmd)));
        else
          r->diag = trim(mkstr(q, (size_t)(e - q)));
      }
    }
    p = next;
  }
}

/* sendmail: the list of failed addresses, else (V5) the session transcript. */
static void read_sendmail(ctx_t *c, const family_t *f, bnc_str_t t, int nocr) {
  (void)f;
  address_lines(c, t, 0, nocr);
  if (c->m->nrcpt == 0) read_session(c, t, nocr);
}

/* ---- the loose reader ------------------------------------------------------- */

/* Whether [p, e) holds a 4xx or 5xx reply code framed as a word ("[550 5.1.1");
 * p[-1] must be readable (p follows an address on its line). */
static int code_inside(const char *p, const char *e) {
  for (; e - p >= 4; p++)
    if ((*p == '4' || *p == '5') && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
        (p[3] == ' ' || p[3] == '-') &&
        (p[-1] == ' ' || p[-1] == '[' || p[-1] == '(' || p[-1] == ':')) return 1;
  return 0;
}

/* Whether the line [p, e) that names address a also says why it failed:
 *   "... rejected recipient <a@b> (...). It responded as follows: [550 ..."
 *   "User's mailbox is full: <a@b>"      (a cause of two words or more, ':')
 *   "a@b [User unknown]"                  (a cause in brackets after it)
 *   "pipe to |/usr/bin/prog a@b"          (Exim: the program it was piped to) */
static int line_says_why(const char *p, bnc_str_t a, const char *e) {
  bnc_str_t before = trim(mkstr(p, (size_t)(a.p - p)));
  bnc_str_t after = trim(mkstr(a.p + a.n, (size_t)(e - a.p - (ptrdiff_t)a.n)));
  if (code_inside(a.p + a.n, e)) return 1;
  if (before.n && before.p[before.n - 1] == '<') before = trim(mkstr(before.p, before.n - 1));
  if (before.n > 4 && before.p[before.n - 1] == ':' && memchr(before.p, ' ', before.n - 1) &&
      !bnc_msg_ifind(before.p, before.n, "following")) return 1;     /* a cause, not the list's heading */
  if (after.n && after.p[0] == '>') after = trim(mkstr(after.p + 1, after.n - 1));
  if (after.n > 5 && after.p[0] == '[' && after.p[after.n - 1] == ']') return 1;
  {   /* "a@b <c@d>: malformed address: ..." */
    const char *colon = after.n ? memchr(after.p, ':', after.n) : NULL;
    bnc_str_t why = colon ? trim(mkstr(colon + 1, (size_t)(after.p + after.n - colon - 1))) : after;
    if (colon && why.n > 8 && memchr(why.p, ' ', why.n)) return 1;
  }
  return before.n > 9 && bnc_iprefix(before.p, before.n, "pipe to |");
}

/* s cut short before stop (when stop falls inside it). */
static bnc_str_t clip(bnc_str_t s, const char *stop) {
  if (stop && s.p && stop > s.p && stop < s.p + s.n) s.n = (size_t)(stop - s.p);
  return trim(s);
}

/* Whether b is the sender: the bounce's To, the returned message's From. */
static int is_sender(const ctx_t *c, bnc_str_t b) {
  const bnc_str_t *v[2];
  int i;
  v[0] = &c->bounce_to; v[1] = &c->m->from;
  for (i = 0; i < 2; i++) {
    bnc_str_t s = v[i]->p ? bnc_msg_find_addr(v[i]->p, v[i]->p + v[i]->n) : *v[i];
    if (s.p && same_addr(s, b)) return 1;
  }
  return 0;
}

/* The next line in [p, end) that opens another recipient's part of a
 * loose text: it names an address other than a (not one with a record
 * already) and either ends as a lead-in does ("Your message to b@c could
 * not be delivered for the following reason:"), or says why itself
 * (line_says_why), or opens with the address ("b@c: 552 ..."). Its start,
 * or NULL; *who receives the address. */
static const char *next_leadin(const ctx_t *c, const char *p, const char *end, bnc_str_t a, int nocr,
                               bnc_str_t *who) {
  const char *next;
  for (; p < end; p = next) {
    const char *e = line_end_lf(p, end, &next, nocr), *q = p, *x;
    bnc_str_t b = bnc_msg_find_addr(p, e), l = trim(mkstr(p, (size_t)(e - p)));
    if (!b.p || same_addr(a, b) || is_sender(c, b)) continue;
    while (q < e && bnc_is_wsp((unsigned char)*q)) q++;
    if (l.p[l.n - 1] == ':' || line_says_why(p, b, e) || addr_line(p, q, e, &x).p) {
      if (who) *who = b;
      return p;
    }
  }
  return NULL;
}

/* Recipients after the loose reader's first, each from its line at p
 * (next_leadin) to the next one: the diagnostic is its own line when that
 * says why, else the first paragraph below that holds a reply line, else
 * the first paragraph below it; never past the next recipient's line. */
static void loose_more(ctx_t *c, const char *p, const char *end, int nocr) {
  int k;
  for (k = 0; p && p < end && k < BNC_MSG_RCPTS; k++) {
    bnc_str_t b = { NULL, 0 }, none = { NULL, 0 }, d = { NULL, 0 };
    const char *next, *e, *stop;
    bnc_msg_rcpt_t *r;
    next_leadin(c, p, end, none, nocr, &b);
    e = line_end_lf(p, end, &next, nocr);
    stop = next_leadin(c, next, end, b, nocr, NULL);
    if (line_says_why(p, b, e) && trim(mkstr(p, (size_t)(e - p))).p[trim(mkstr(p, (size_t)(e - p))).n - 1] != ':') {
      d = trim(mkstr(p, (size_t)(e - p)));
    } else {
      const char *lim = stop ? stop : end, *q = bnc_msg_first_reply_line(next, lim, " -.", nocr);
      if (!q) {
        q = next;
        while (q < lim && (bnc_is_eol((unsigned char)*q) || bnc_is_wsp((unsigned char)*q))) q++;
      }
      if (q < lim) d = clip(bnc_msg_paragraph(q, q, lim, nocr), stop);
      if (!d.p) {                                 /* "b@c: 552 ..." on one line */
        bnc_str_t a2 = bnc_msg_find_addr(p, e);
        d = trim(mkstr(a2.p + a2.n, (size_t)(e - a2.p - a2.n)));
        while (d.n && (*d.p == ':' || *d.p == '>')) d = trim(mkstr(d.p + 1, d.n - 1));
      }
    }
    if (d.p && d.n && !bnc_msg_seen(c, b) && (r = bnc_msg_new_rcpt(c)) != NULL) {
      r->rcpt = b;
      r->diag = bnc_msg_unfold(c, d);
    }
    p = stop;
  }
}

/* Last resort for a message with evidence of a failure but no reader that
 * found anything: the first address of the text (before the copy of the
 * returned message) is the recipient, and the first paragraph after it that
 * holds an SMTP code, else the paragraph after the address, the diagnostic. */
static void read_loose(ctx_t *c, bnc_str_t t, int nocr) {
  const char *end = t.p + text_cut(c, t), *p = t.p, *next, *diag = NULL, *after = NULL, *aline = NULL;
  bnc_str_t a = { NULL, 0 };
  bnc_msg_rcpt_t *r;
  const char *list = bnc_msg_ifind(t.p, (size_t)(end - t.p), "following address");
  if (!list) list = bnc_msg_ifind(t.p, (size_t)(end - t.p), "following recipient");
  if (list) p = list;          /* the listed addresses, not the sender the preamble names */
  while (p < end) {
    const char *e = line_end_lf(p, end, &next, nocr), *q = p;
    if (!a.p) {
      a = bnc_msg_find_addr(p, e);
      if (a.p) {
        after = next;
        /* "... rejected recipient <a@b> (...). It responded as follows: [550 ...": the
         * line that names the address quotes the reply itself */
        if (line_says_why(p, a, e)) aline = p;
        p = next;
        continue;
      }
    } else {
      if (bnc_msg_opens_reply(q, e, " -.")) {
        while (bnc_is_wsp((unsigned char)*q)) q++;
        diag = q;
        break;
      }
    }
    p = next;
  }
  if (c->xfailed.p) {                         /* the MTA said whom it failed */
    bnc_str_t x = bnc_msg_find_addr(c->xfailed.p, c->xfailed.p + c->xfailed.n);
    if (x.p) a = x;
  }
  if (!a.p && end < t.p + t.n) {
    /* the notice names no address ("421 example.com (smtp)... Deferred"): the
     * copy of the message that follows it does, in its To field, and the
     * notice's first reply line is the diagnostic */
    const char *to = bnc_msg_ifind(end, (size_t)(t.p + t.n - end) < 8192 ? (size_t)(t.p + t.n - end) : 8192, "\nto:");
    if (to) diag = bnc_msg_first_reply_line(t.p, end, " ", nocr);
    if (diag) a = bnc_msg_find_addr(to + 4, line_end_lf(to + 1, t.p + t.n, &next, nocr));
    if (!a.p) return;
  }
  if (!a.p || !(r = bnc_msg_new_rcpt(c))) return;
  if (!diag && aline) diag = aline;
  if (!diag && list) diag = bnc_msg_first_reply_line(t.p, list, " ", nocr);   /* "because of\n550 ...\nThe following" */
  if (!diag) {
    while (after && after < end && bnc_is_eol((unsigned char)*after)) after++;
    diag = after;
  }
  r->rcpt = a;
  {
    const char *stop = after ? next_leadin(c, after, end, a, nocr, NULL) : NULL;
    if (stop && diag && diag >= stop) {   /* that reply is the next recipient's */
      diag = after;
      while (diag < stop && (bnc_is_eol((unsigned char)*diag) || bnc_is_wsp((unsigned char)*diag))) diag++;
      if (diag >= stop) diag = NULL;
    }
    if (diag && diag < end) r->diag = bnc_msg_unfold(c, clip(bnc_msg_paragraph(diag, diag, end, nocr), stop));
    if (stop && !c->xfailed.p) loose_more(c, stop, end, nocr);
  }
}

/* ---- the evidence, and the reading ---------------------------------------- */

enum { NFAMILIES = sizeof FAMILIES / sizeof FAMILIES[0] };

/* have[i] = whether family i's body marker is in the first 4 KiB of a text
 * part: the markers in one pass per text (nset_scan), NSET_MAX at a time. */
static void body_evidence(const ctx_t *c, unsigned char *have) {
  const char *nd[NSET_MAX];
  size_t fam[NSET_MAX], pos[NSET_MAX], i = 0, j, t;
  nset_t ns;
  while (i < NFAMILIES) {
    size_t k = 0;
    for (; FAMILIES[i].name && k < NSET_MAX; i++)
      if (FAMILIES[i].where == EV_BODY) { fam[k] = i; nd[k++] = FAMILIES[i].marker; }
    if (!FAMILIES[i].name) i = NFAMILIES;
    if (!k) break;
    nset_init(&ns, nd, k);
    for (t = 0; t < c->ntexts; t++) {
      unsigned long found = nset_scan(&ns, c->texts[t].p, c->texts[t].n > 4096 ? 4096 : c->texts[t].n, pos, 0);
      for (j = 0; j < k; j++) if ((found >> j) & 1) have[fam[j]] = 1;
    }
  }
}

/* The first family of the table whose evidence the message holds, or NULL. */
static const family_t *family_of(const ctx_t *c, const top_t *top, bnc_str_t xmailer) {
  const family_t *f;
  unsigned char body[NFAMILIES];
  int scanned = 0;
  for (f = FAMILIES; f->name; f++) {
    const bnc_str_t *v = f->where == EV_FROM ? &top->from : f->where == EV_SUBJECT ? &top->subject :
                         f->where == EV_XMAILER ? &xmailer : f->where == EV_XFAILED ? &c->xfailed : NULL;
    if (v && v->p && bnc_msg_ifind(v->p, v->n, f->marker)) return f;
    if (!v && !scanned) {                        /* first body marker: all at once */
      memset(body, 0, sizeof body);
      body_evidence(c, body);
      scanned = 1;
    }
    if (!v && body[f - FAMILIES]) return f;
  }
  return NULL;
}

/* Whether the line [p, e) looks like a header field: a name of printable
 * bytes without spaces, then ':'. */
static int header_line(const char *p, const char *e) {
  const char *q = p;
  while (q < e && *q > ' ' && *q < 127 && *q != ':') q++;
  return q > p && q < e && *q == ':';
}

/* The copy of the returned message in a plain-text bounce, after its mark
 * ("----- Original message -----", "Below this line is a copy ..."): its
 * headers are read as a returned message's (its Date dates a bounce that
 * states no date of its own). Within 8 lines after the mark's line. */
static void text_original(ctx_t *c, bnc_str_t t, int nocr) {
  size_t cut = text_cut(c, t);
  const char *p = t.p + cut, *end = t.p + t.n, *next;
  int k;
  if (cut >= t.n || c->have_orig) return;
  line_end_lf(p, end, &next, nocr);
  for (p = next, k = 0; p < end && k < 8; p = next, k++) {
    const char *e = line_end_lf(p, end, &next, nocr);
    if (header_line(p, e)) { bnc_msg_read_original(c, p, end, nocr); return; }
  }
}

/* Whether a plain-text notice is a delay warning, not a failure: its
 * Subject speaks of a delay ("Warning: message ... delayed 24 hours",
 * "Delayed Mail (still being retried)", "Delivery Status Notification
 * (Delay)"), or its text (before the returned message) says the delivery
 * goes on, in the words the MTAs' warning templates use (Exim, Postfix,
 * sendmail, Exchange): "has not yet been delivered", "will continue to
 * attempt", "this is a warning only". A failure says it gave up ("has not
 * been delivered", "permanent error") and matches none of them. */
static int delay_warning(ctx_t *c, const top_t *top) {
  static const char *const SAY[] = {
    "has not yet been delivered", "have not yet been delivered", "not yet been delivered to",
    "will continue to attempt", "will continue trying", "delivery attempts will continue",
    "will be retried until", "will keep trying until", "will retry until",
    "this is a warning only", "this is a warning message only", "warning message only",
    "you do not need to resend", "delivery to the following recipients has been delayed",
    "delivery to the following recipient has been delayed", "has been delayed"
  };
  enum { NSAY = sizeof SAY / sizeof SAY[0] };
  size_t i, pos[NSAY];
  nset_t ns;
  if (top->subject.p && bnc_msg_ifind(top->subject.p, top->subject.n, "delay")) return 1;
  nset_init(&ns, SAY, NSAY);               /* the phrases in one pass per text */
  for (i = 0; i < c->ntexts; i++) {
    size_t n = text_cut(c, c->texts[i]);
    if (nset_scan(&ns, c->texts[i].p, n > 4096 ? 4096 : n, pos, 1)) return 1;
  }
  return 0;
}

void bnc_msg_read_family(ctx_t *c, const top_t *top) {
  bnc_message_t *m = c->m;
  int made = m->nrcpt == 0;                    /* the records will be this reader's */
  const family_t *f = m->nrcpt || c->have_fb ? NULL
                     : family_of(c, top, bnc_msg_hval(c, top->raw, top->fold, T_XMAILER));
  size_t i;
  if (f) {
    for (i = 0; i < c->ntexts && m->nrcpt == 0; i++) f->read(c, f, c->texts[i], c->texts_nocr[i]);
    if (m->nrcpt) m->format = f->name;
  }
  if (!m->nrcpt && (f || bnc_msg_failure_evidence(top->from, top->subject))) {
    /* lines that open with the recipients, each with its reply, as the
     * families write them; else the loose reader */
    for (i = 0; i < c->ntexts && m->nrcpt == 0; i++)
      address_lines(c, mkstr(c->texts[i].p, text_cut(c, c->texts[i])), 0, c->texts_nocr[i]);
    for (i = 0; i < c->ntexts && m->nrcpt == 0; i++) read_loose(c, c->texts[i], c->texts_nocr[i]);
    if (m->nrcpt) m->format = f ? f->name : "unknown";
  }
  for (i = 0; f && i < m->nrcpt; i++) c->rec[i].sig.format = f->reason;   /* when the text says nothing */
  if (made && m->nrcpt && delay_warning(c, top))       /* the notice's records are delays, not failures */
    for (i = 0; i < m->nrcpt; i++)
      if (!m->rcpt[i].action.p) {             /* also for records a reader gathered already */
        m->rcpt[i].action = mkstr("delayed", 7);
        m->rcpt[i].delayed = 1;
        c->rec[i].sig.action = BNC_DSN_DELAYED;
      }
  for (i = 0; m->nrcpt && !c->have_orig && i < c->ntexts; i++) text_original(c, c->texts[i], c->texts_nocr[i]);
}
