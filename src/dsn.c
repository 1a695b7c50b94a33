/*
 * dsn.c - the machine-readable parts of a bounce: RFC 3464 (and RFC 6533
 * global) delivery-status bodies, one record per recipient block with its
 * fields as given (Final-Recipient, Action, Status, Diagnostic-Code,
 * Remote-MTA, the dates, PowerMTA's bounce category); RFC 5965 feedback
 * reports (the feedback type, the source IP, Original-Rcpt-To); the headers
 * of the returned original message (message/rfc822, text/rfc822-headers),
 * with the names the caller asked for; and DSN fields pasted into a text
 * part. Reading only: what the fields mean is recipient.c's business.
 */
#include <stddef.h>
#include <string.h>
#include "msg.h"

/* "rfc822; a@b" -> "a@b"; also strips <> around an address. */
static bnc_str_t after_type(bnc_str_t v) {
  const char *semi;
  if (!v.p) return v;
  semi = memchr(v.p, ';', v.n);
  if (semi) v = mkstr(semi + 1, v.n - (size_t)(semi + 1 - v.p));
  v = trim(v);
  if (v.n >= 2 && v.p[0] == '<' && v.p[v.n - 1] == '>') v = mkstr(v.p + 1, v.n - 2);
  return v;
}

/* The host of a Remote-MTA value, without what some MTAs append to it
 * ("mx.example.jp (TCP|192.0.2.1|25)", "mx.example.jp. (192.0.2.1, the
 * server for the domain ...)") or the root's final dot. */
static bnc_str_t host_only(bnc_str_t v) {
  size_t k = 0;
  while (k < v.n && !bnc_is_wsp((unsigned char)v.p[k]) && v.p[k] != '(') k++;
  if (k > 1 && v.p[k - 1] == '.') k--;
  v.n = k;
  return v.n ? v : mkstr(NULL, 0);
}

/* A Diagnostic-Code whose reply goes on over lines that are not folded
 * (nullmailer writes a multi-line reply as it came: "SMTP; 550-5.7.1 ..."
 * then "550-5.7.1 ..." lines at the margin, up to "550 5.7.1 ..."): the
 * value with those lines, up to `stop`, as lines (the reply parser reads
 * them as the reply's lines). raw is the field's raw value on one line. */
static bnc_str_t diag_lines(bnc_str_t raw, const char *stop, int nocr) {
  bnc_str_t v = trim(raw);
  const char *semi, *q, *p, *next, *end;
  int k;
  if (!v.p) return v;
  semi = memchr(v.p, ';', v.n < 16 ? v.n : 16);
  q = semi ? semi + 1 : v.p;
  while (q < v.p + v.n && bnc_is_wsp((unsigned char)*q)) q++;
  if (v.p + v.n - q < 4 || (q[0] != '4' && q[0] != '5') || q[1] < '0' || q[1] > '9' || q[2] < '0' ||
      q[2] > '9' || q[3] != '-')
    return v;
  line_end_lf(raw.p, stop, &next, nocr);
  end = v.p + v.n;
  for (p = next, k = 0; p < stop && k < 64; p = next, k++) {
    const char *e = line_end_lf(p, stop, &next, nocr);
    if (e - p < 4 || memcmp(p, q, 3) != 0 || (p[3] != '-' && p[3] != ' ')) break;
    end = e;
    if (p[3] == ' ') break;                  /* the reply's last line */
  }
  return mkstr(v.p, (size_t)(end - v.p));
}

/* A delivery-status body: the per-message block, then one block per
 * recipient, separated by empty lines. */
void bnc_msg_read_dsn(ctx_t *c, const char *p, const char *end, int nocr) {
  enum { RMTA, ARRIVAL, FINAL, ORIG, ACTION, STATUS, DIAG, REMOTE, LAST, RETRY, PMTA, NDSN };
  static const bnc_str_t names[NDSN] = {
    NAME("Reporting-MTA"), NAME("Arrival-Date"), NAME("Final-Recipient"), NAME("Original-Recipient"),
    NAME("Action"), NAME("Status"), NAME("Diagnostic-Code"), NAME("Remote-MTA"),
    NAME("Last-Attempt-Date"), NAME("Will-Retry-Until"), NAME("X-PowerMTA-BounceCategory")
  };
  int first = 1;
  while (p < end) {
    const char *body;
    bnc_str_t raw[NDSN];
    unsigned long fold;
    while (p < end && bnc_is_eol((unsigned char)*p)) p++;   /* blank lines between blocks */
    if (p >= end) break;
    bnc_msg_scan_headers(p, end, names, NDSN, raw, &fold, &body, nocr);
    if (first) {
      bnc_str_t v = bnc_msg_hval(c, raw, fold, RMTA);
      if (v.p && !c->m->reporting_mta.p) c->m->reporting_mta = after_type(v);
      v = bnc_msg_hval(c, raw, fold, ARRIVAL);
      if (v.p && !c->m->arrival_date.p) c->m->arrival_date = v;
    }
    {
      bnc_str_t fr = bnc_msg_hval(c, raw, fold, FINAL);
      bnc_str_t orr = bnc_msg_hval(c, raw, fold, ORIG);
      if (fr.p || orr.p) {
        bnc_msg_rcpt_t *r = bnc_msg_new_rcpt(c);
        if (!r) return;
        r->rcpt = after_type(fr.p ? fr : orr);
        r->orig_rcpt = after_type(orr);
        r->action = bnc_msg_hval(c, raw, fold, ACTION);
        r->status = after_type(bnc_msg_hval(c, raw, fold, STATUS));
        r->diag = (fold >> DIAG) & 1 ? bnc_msg_hval(c, raw, fold, DIAG) : diag_lines(raw[DIAG], body, nocr);
        if (r->diag.n > BNC_MSG_VALUE_MAX) { r->diag.n = BNC_MSG_VALUE_MAX; c->m->warnings |= BNC_MSG_W_TRUNC; }
        r->rhost = host_only(after_type(bnc_msg_hval(c, raw, fold, REMOTE)));
        r->last_attempt = bnc_msg_hval(c, raw, fold, LAST);
        r->will_retry = bnc_msg_hval(c, raw, fold, RETRY);
        {
          bnc_str_t cat = trim(bnc_msg_hval(c, raw, fold, PMTA));
          r->bad_mailbox = cat.n == 11 && bnc_ieq_n(cat.p, "bad-mailbox", 11);
        }
        bnc_msg_rec(c, r)->from_dsn = 1;
      }
    }
    first = 0;
    p = body;
  }
}

/* A feedback-report body: its fields, one record per Original-Rcpt-To. */
void bnc_msg_read_feedback(ctx_t *c, const char *p, const char *end, int nocr) {
  static const bnc_str_t names[2] = { NAME("Feedback-Type"), NAME("Source-IP") };
  const char *he, *body, *pos;
  bnc_str_t v, raw[2];
  unsigned long fold;
  he = bnc_msg_scan_headers(p, end, names, 2, raw, &fold, &body, nocr);
  c->have_fb = 1;
  c->m->feedback_type = bnc_msg_hval(c, raw, fold, 0);
  c->m->source_ip = bnc_msg_hval(c, raw, fold, 1);
  pos = p;
  while (bnc_msg_header_next(&pos, he, "Original-Rcpt-To", &v)) {
    bnc_msg_rcpt_t *r = bnc_msg_new_rcpt(c);
    if (!r) return;
    r->rcpt = after_type(bnc_msg_unfold(c, v));
  }
}

/* Headers of the returned original message. */
void bnc_msg_read_original(ctx_t *c, const char *p, const char *end, int nocr) {
  enum { MSGID, FROM, TO, SUBJECT, DATE, HMRCPT, NORIG };
  bnc_str_t names[NORIG + BNC_MSG_WANT] = {
    NAME("Message-ID"), NAME("From"), NAME("To"), NAME("Subject"), NAME("Date"),
    NAME("X-HmXmrOriginalRecipient")
  };
  bnc_str_t raw[NORIG + BNC_MSG_WANT];
  unsigned long fold;
  size_t slot[BNC_MSG_WANT], n = NORIG, i;
  const char *body, *he;
  if (c->have_orig) return;
  c->have_orig = 1;
  for (i = 0; i < c->nwant; i++) {       /* the caller's names join the scan when they can */
    slot[i] = 0;
    if (bnc_msg_plain_name(c->want[i])) { slot[i] = n; names[n++] = c->want[i]; }
  }
  he = bnc_msg_scan_headers(p, end, names, n, raw, &fold, &body, nocr);
  c->m->message_id = bnc_msg_hval(c, raw, fold, MSGID);
  c->m->from = bnc_msg_hval(c, raw, fold, FROM);
  c->m->to = bnc_msg_hval(c, raw, fold, TO);
  c->m->subject = bnc_msg_decode_words(c, bnc_msg_hval(c, raw, fold, SUBJECT));
  c->m->date = bnc_msg_hval(c, raw, fold, DATE);
  c->hm_rcpt = bnc_msg_hval(c, raw, fold, HMRCPT);
  for (i = 0; i < c->nwant; i++) {
    char name[128];
    size_t k = c->want[i].n < sizeof name - 1 ? c->want[i].n : sizeof name - 1;
    if (slot[i]) { c->m->want[i] = bnc_msg_hval(c, raw, fold, slot[i]); continue; }
    memcpy(name, c->want[i].p, k);   /* others: the name as a C string, one pass each */
    name[k] = '\0';
    if (k && !memchr(name, '\0', k)) c->m->want[i] = bnc_msg_header(c, p, he, name);
  }
}

/* Where DSN fields pasted into a text start: the first "\nFinal-Recipient:",
 * else the first "\nReporting-MTA:" (the LF before it). Speed: one pass over
 * the line starts for both, not one search each. */
const char *bnc_msg_dsn_fields(bnc_str_t t) {
  const char *q = t.p, *end = t.p + t.n, *rmta = NULL;
  while (q < end && (q = memchr(q, '\n', (size_t)(end - q))) != NULL) {
    size_t left = (size_t)(end - q);
    if (left >= 17 && bnc_ieq_n(q + 1, "final-recipient:", 16)) return q;
    if (!rmta && left >= 15 && bnc_ieq_n(q + 1, "reporting-mta:", 14)) rmta = q;
    q++;
  }
  return rmta;
}

