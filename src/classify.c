/*
 * classify.c - rule sets (built-in plus user rules), their compilation into
 * one matcher, the classification of a parsed reply, and the rule checks.
 *
 * Matcher ids are (rule index << 3 | fragment index), so the ascending ids a
 * position reports are rules in priority order and the scan keeps only the
 * best (lowest) complete rule so far.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ascii.h"
#include "classify.h"
#include "match.h"
#include "status.h"

#define MAX_FRAGS 8
#define NO_RULE ((size_t)-1)
#define MULTI_STACK 256

typedef struct {
  bnc_rule_def_t def;    /* strings owned when user */
  int user;
  bnc_reason_t reason;
  int code_lo, code_hi;  /* 0 when no condition */
  size_t status_len, rhost_len;
  bnc_command_t command;
  int nfrag;
  int multi;             /* index among multi-fragment rules, or -1 */
  size_t flen[MAX_FRAGS];
} rule_rt;

struct bnc_ruleset {
  rule_rt *rules;
  size_t n, cap, nuser, nmulti;
  bnc_matcher_t *m;
  int dirty;
  int uses_command;      /* some rule has a command condition (set by compile) */
  unsigned generation;   /* bumped whenever the rules change */
};

static char *dup_str(const char *s) {
  size_t n;
  char *d;
  if (!s) return NULL;
  n = strlen(s) + 1;
  d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static void free_def(rule_rt *r) {
  if (!r->user) return;
  free((char *)r->def.name); free((char *)r->def.pattern);
  free((char *)r->def.reason); free((char *)r->def.code);
  free((char *)r->def.status); free((char *)r->def.rhost);
  free((char *)r->def.command); free((char *)r->def.example);
}

static int fail(char *err, size_t errlen, const char *fmt, const char *a) {
  if (err && errlen) snprintf(err, errlen, fmt, a ? a : "");
  return BNC_EINVAL;
}

/* Validates def and fills the run-time fields of r (strings not copied). */
static int prepare(rule_rt *r, const bnc_rule_def_t *def, char *err, size_t errlen) {
  const char *p, *q;
  int reason;
  memset(r, 0, sizeof *r);
  r->def = *def;
  if (!def->pattern || !def->pattern[0])
    return fail(err, errlen, "pattern: expected a non-empty string%s", NULL);
  if (!def->reason || (reason = bnc_reason_find(def->reason, strlen(def->reason))) < 0)
    return fail(err, errlen, "reason: unknown reason '%s'", def->reason);
  r->reason = (bnc_reason_t)reason;
  if (def->code && def->code[0]) {
    size_t k, n = strlen(def->code);
    int lo = 0, span = 1;
    if (n > 3 || def->code[0] < '2' || def->code[0] > '5')
      return fail(err, errlen, "code: expected 2..5, 20..59 or 200..599, got '%s'", def->code);
    for (k = 0; k < n; k++) {
      if (def->code[k] < '0' || def->code[k] > '9')
        return fail(err, errlen, "code: expected digits, got '%s'", def->code);
      lo = lo * 10 + (def->code[k] - '0');
    }
    for (k = n; k < 3; k++) { lo *= 10; span *= 10; }
    r->code_lo = lo;
    r->code_hi = lo + span - 1;
  }
  if (def->status && def->status[0]) {
    r->status_len = strlen(def->status);
    if (r->status_len > 11 || (def->status[0] != '2' && def->status[0] != '4' &&
                               def->status[0] != '5'))
      return fail(err, errlen, "status: expected a status prefix like '5.7.', got '%s'",
                  def->status);
  }
  if (def->rhost && def->rhost[0]) r->rhost_len = strlen(def->rhost);
  if (def->command && def->command[0]) {
    r->command = bnc_command_find(def->command, strlen(def->command));
    if (r->command == BNC_CMD_NONE)
      return fail(err, errlen, "command: expected CONNECT, HELO, STARTTLS, AUTH, "
                  "MAIL, RCPT or DATA, got '%s'", def->command);
  }
  for (p = def->pattern; ; p = q + 1) {
    q = strchr(p, '*');
    if (!q) q = p + strlen(p);
    if (r->nfrag == MAX_FRAGS)
      return fail(err, errlen, "pattern: at most 8 fragments, got '%s'", def->pattern);
    r->nfrag++;
    if (!*q) break;
  }
  r->multi = -1;
  return BNC_OK;
}

static int grow(bnc_ruleset_t *rs) {
  if (rs->n == rs->cap) {
    size_t c = rs->cap ? rs->cap * 2 : 256;
    rule_rt *nr = realloc(rs->rules, c * sizeof *nr);
    if (!nr) return BNC_ENOMEM;
    rs->rules = nr; rs->cap = c;
  }
  return BNC_OK;
}

bnc_ruleset_t *bnc_ruleset_new(int builtin) {
  bnc_ruleset_t *rs = calloc(1, sizeof *rs);
  size_t i;
  if (!rs) return NULL;
  rs->dirty = 1;
  for (i = 0; builtin && i < bnc_builtin_rules_count; i++) {
    if (grow(rs) != BNC_OK) { bnc_ruleset_free(rs); return NULL; }
    /* built-in rules are checked by spec and test; a bad one is skipped */
    if (prepare(&rs->rules[rs->n], &bnc_builtin_rules[i], NULL, 0) == BNC_OK)
      rs->n++;
  }
  return rs;
}

void bnc_ruleset_free(bnc_ruleset_t *rs) {
  size_t i;
  if (!rs) return;
  for (i = 0; i < rs->n; i++) free_def(&rs->rules[i]);
  free(rs->rules);
  bnc_matcher_free(rs->m);
  free(rs);
}

int bnc_ruleset_add(bnc_ruleset_t *rs, const bnc_rule_def_t *def,
                    char *err, size_t errlen) {
  rule_rt r;
  bnc_rule_def_t *d = &r.def;
  int rc = prepare(&r, def, err, errlen);
  if (rc != BNC_OK) return rc;
  if (grow(rs) != BNC_OK) return fail(err, errlen, "out of memory%s", NULL);
  d->name = dup_str(def->name); d->pattern = dup_str(def->pattern);
  d->reason = dup_str(def->reason); d->code = dup_str(def->code);
  d->status = dup_str(def->status); d->rhost = dup_str(def->rhost);
  d->command = dup_str(def->command); d->example = dup_str(def->example);
  r.user = 1;
  if (!d->pattern || !d->reason || (def->name && !d->name) ||
      (def->code && !d->code) || (def->status && !d->status) ||
      (def->rhost && !d->rhost) || (def->command && !d->command) ||
      (def->example && !d->example)) {
    free_def(&r);
    return fail(err, errlen, "out of memory%s", NULL);
  }
  memmove(rs->rules + rs->nuser + 1, rs->rules + rs->nuser,
          (rs->n - rs->nuser) * sizeof *rs->rules);
  rs->rules[rs->nuser++] = r;
  rs->n++;
  rs->dirty = 1;
  rs->generation++;
  return BNC_OK;
}

void bnc_ruleset_clear_user(bnc_ruleset_t *rs) {
  size_t i;
  for (i = 0; i < rs->nuser; i++) free_def(&rs->rules[i]);
  memmove(rs->rules, rs->rules + rs->nuser, (rs->n - rs->nuser) * sizeof *rs->rules);
  rs->n -= rs->nuser;
  rs->nuser = 0;
  rs->dirty = 1;
  rs->generation++;
}

int bnc_ruleset_compile(bnc_ruleset_t *rs) {
  size_t i;
  bnc_matcher_t *m;
  if (!rs->dirty && rs->m) return BNC_OK;
  m = bnc_matcher_new();
  if (!m) return BNC_ENOMEM;
  rs->nmulti = 0;
  rs->uses_command = 0;
  for (i = 0; i < rs->n; i++) {
    rule_rt *r = &rs->rules[i];
    if (r->command != BNC_CMD_NONE) rs->uses_command = 1;
    const char *p = r->def.pattern, *q;
    int f = 0;
    r->multi = r->nfrag > 1 ? (int)rs->nmulti++ : -1;
    for (;; p = q + 1, f++) {
      size_t len;
      q = strchr(p, '*');
      len = q ? (size_t)(q - p) : strlen(p);
      r->flen[f] = bnc_matcher_add(m, p, len, (uint32_t)(i << 3 | (size_t)f));
      if (r->flen[f] == (size_t)-1) { bnc_matcher_free(m); return BNC_ENOMEM; }
      if (!q) break;
    }
  }
  if (bnc_matcher_build(m) != BNC_OK) { bnc_matcher_free(m); return BNC_ENOMEM; }
  bnc_matcher_free(rs->m);
  rs->m = m;
  rs->dirty = 0;
  return BNC_OK;
}

size_t bnc_ruleset_count(const bnc_ruleset_t *rs) { return rs->n; }

unsigned bnc_ruleset_generation(const bnc_ruleset_t *rs) { return rs->generation; }

const bnc_rule_def_t *bnc_ruleset_get(const bnc_ruleset_t *rs, size_t i) {
  return i < rs->n ? &rs->rules[i].def : NULL;
}

int bnc_ruleset_is_user(const bnc_ruleset_t *rs, size_t i) {
  return i < rs->n && rs->rules[i].user;
}

const char *bnc_ruleset_rule_name(const bnc_ruleset_t *rs, size_t i,
                                  char *buf, size_t cap) {
  const bnc_rule_def_t *d = bnc_ruleset_get(rs, i);
  if (!cap) return buf;
  if (!d) buf[0] = '\0';
  else if (d->name) snprintf(buf, cap, "%s", d->name);
  else snprintf(buf, cap, "text:%s", d->pattern);
  return buf;
}

/* ---- classification ---------------------------------------------------- */

typedef struct {
  const bnc_ruleset_t *rs;
  const bnc_reply_t *r;
  const char *text;
  size_t tlen;
  const char *rhost;
  size_t rhost_len;
  size_t best;
  unsigned char *next;   /* per multi rule: next fragment expected */
  size_t *last;          /* per multi rule: end of the previous fragment */
} scan_ctx;

static int host_matches(const char *h, size_t hl, const char *want, size_t wl) {
  size_t i;
  if (wl > hl) return 0;
  for (i = 0; i < wl; i++)
    if (bnc_lower((unsigned char)h[hl - wl + i]) != bnc_lower((unsigned char)want[i])) return 0;
  return wl == hl || h[hl - wl - 1] == '.' || want[0] == '.';
}

static int conditions_hold(const rule_rt *rule, const scan_ctx *c) {
  const bnc_reply_t *r = c->r;
  if (rule->code_lo && (r->code < rule->code_lo || r->code > rule->code_hi)) return 0;
  if (rule->status_len && strncmp(r->status, rule->def.status, rule->status_len) != 0)
    return 0;
  if (rule->rhost_len &&
      !host_matches(c->rhost, c->rhost_len, rule->def.rhost, rule->rhost_len))
    return 0;
  if (rule->command && rule->command != r->command) return 0;
  return 1;
}

static int is_ws(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Where a phrase of flen normalized bytes that ends at raw offset end
 * starts in the raw text t[0..n) (framed by spaces): walks back, counting a
 * run of white space as one byte. */
static size_t raw_start(const char *t, size_t n, size_t end, size_t flen) {
  size_t j = end;
  while (flen > 0) {
    if (j == 0) return 0;          /* the leading frame space */
    j--;
    if (j == n || is_ws((unsigned char)t[j]))
      while (j > 0 && is_ws((unsigned char)t[j - 1])) j--;
    flen--;
  }
  return j;
}

static int on_hit(void *ud, uint32_t id, size_t end) {
  scan_ctx *c = ud;
  size_t ri = id >> 3;
  int f = (int)(id & 7);
  const rule_rt *rule;
  if (ri >= c->best) return 1;  /* ids ascend: nothing better at this spot */
  rule = &c->rs->rules[ri];
  if (!conditions_hold(rule, c)) return 0;
  if (rule->multi < 0) {
    c->best = ri;
    return ri == 0 ? 2 : 1;
  }
  if (c->next[rule->multi] == f &&
      (f == 0 || raw_start(c->text, c->tlen, end, rule->flen[f]) >= c->last[rule->multi])) {
    c->last[rule->multi] = end;
    if (++c->next[rule->multi] == rule->nfrag) c->best = ri;
  }
  return 0;
}

/* Sets up c for a scan of text; next and last hold rs->nmulti entries, next
 * cleared by the caller. */
static void ctx_init(scan_ctx *c, const bnc_ruleset_t *rs, const bnc_reply_t *r,
                     const char *text, size_t tlen, const char *rhost,
                     size_t rhost_len, unsigned char *next, size_t *last) {
  c->rs = rs; c->r = r; c->rhost = rhost; c->rhost_len = rhost_len;
  c->text = text; c->tlen = tlen;
  c->best = NO_RULE;
  c->next = next; c->last = last;
}

static size_t scan_rules(const bnc_ruleset_t *rs, const bnc_reply_t *r,
                         const char *text, size_t tlen,
                         const char *rhost, size_t rhost_len) {
  unsigned char next_s[MULTI_STACK];
  size_t last_s[MULTI_STACK];
  scan_ctx c;
  if (rs->nmulti > MULTI_STACK) {
    unsigned char *next = calloc(rs->nmulti, 1);
    size_t *last = calloc(rs->nmulti, sizeof *last);
    if (next && last) {              /* calloc cleared next */
      ctx_init(&c, rs, r, text, tlen, rhost, rhost_len, next, last);
    } else {                            /* degrade to single-phrase rules */
      ctx_init(&c, rs, r, text, tlen, rhost, rhost_len, next_s, last_s);
      memset(next_s, 0xff, sizeof next_s);
    }
    bnc_matcher_scan(rs->m, text, tlen, on_hit, &c);
    free(next); free(last);
    return c.best;
  }
  memset(next_s, 0, rs->nmulti);
  ctx_init(&c, rs, r, text, tlen, rhost, rhost_len, next_s, last_s);
  bnc_matcher_scan(rs->m, text, tlen, on_hit, &c);
  return c.best;
}

static int recipient_level(bnc_reason_t r) {
  return r == BNC_R_USERUNKNOWN || r == BNC_R_HOSTUNKNOWN || r == BNC_R_HASMOVED;
}

/* A 2xx is delivered whatever its text says: no scan. */
static int delivered(const bnc_reply_t *r) {
  return (r->code >= 200 && r->code < 300) || (!r->code && r->st_class == 2);
}

int bnc_classify_scan(const bnc_ruleset_t *rs, const bnc_reply_t *r, const char *text, size_t tlen,
                      const char *rhost, size_t rhost_len) {
  size_t best;
  if (delivered(r)) return -1;
  if (!rhost) {
    rhost = text;   /* rhost offsets point into the input, not the text */
    rhost_len = 0;
  }
  best = scan_rules(rs, r, text, tlen, rhost, rhost_len);
  return best == NO_RULE ? -1 : (int)best;
}

int bnc_ruleset_uses_command(const bnc_ruleset_t *rs) { return rs->uses_command; }

/* The registry's reason for the reply's status. "4.4.4 unable to route"
 * (hostunknown said as temporary) is a DNS hiccup, not a dead domain. */
static bnc_reason_t status_reason(const bnc_reply_t *r) {
  bnc_reason_t why = bnc_status_reason(r->st_subject, r->st_detail);
  return why == BNC_R_HOSTUNKNOWN && r->st_class == 4 ? BNC_R_NETWORKERROR : why;
}

/* What decided, as bnc_class_t.source names it. */
enum { BY_TEXT, BY_STATUS, BY_TYPE, BY_CODE, BY_DEFAULT, BY_CONTEXT, BY_FORMAT, BY_ACTION };
static const char BY_NAME[][8] = {   /* 8 bytes each: copied whole */
  "text", "status", "type", "code", "default", "context", "format", "action"
};

/* What the reply gives, in the decision's order; *by names the step. */
static inline bnc_reason_t reply_says(const bnc_ruleset_t *rs, const bnc_signals_t *s, int *by) {
  const bnc_reply_t *r = s->reply;
  bnc_reason_t why;
  *by = BY_TEXT;                                      /* the words a rule knows */
  if (s->rule >= 0) return rs->rules[s->rule].reason;
  *by = BY_STATUS;                                    /* a specific status: X.Y.Z, Z > 0 */
  if (r->st_class && r->st_detail && (why = status_reason(r)) != BNC_R_UNDEFINED) return why;
  *by = BY_TYPE;                                      /* the Diagnostic-Code's type */
  if (s->diag_type != BNC_R_UNDEFINED) return s->diag_type;
  *by = BY_STATUS;                                    /* a generic status: X.Y.0 */
  if (r->st_class && !r->st_detail && (why = status_reason(r)) != BNC_R_UNDEFINED) return why;
  *by = BY_CODE;                                      /* the basic code */
  if (r->code && (why = bnc_code_reason(r->code)) != BNC_R_UNDEFINED) return why;
  *by = BY_DEFAULT;
  return BNC_R_UNDEFINED;
}

bnc_reason_t bnc_reply_says(const bnc_ruleset_t *rs, const bnc_signals_t *s) {
  int by;
  return reply_says(rs, s, &by);
}

/* Whether text[0..n) holds a letter: words, not only codes and numbers. */
static int has_words(const char *text, size_t n) {
  size_t i;
  for (i = 0; text && i < n; i++) {
    unsigned char ch = (unsigned char)text[i] | 0x20;
    if (ch >= 'a' && ch <= 'z') return 1;
  }
  return 0;
}

/* Whether the deciding text rule is the receiver's own final wording. */
static int final_rule(const bnc_ruleset_t *rs, const bnc_signals_t *s, int by) {
  return by == BY_TEXT && rs->rules[s->rule].def.final;
}

/* The decision (see classify.h for the order). Inlined into its callers:
 * in bnc_classify's copy the signals a live reply lacks are constants, and
 * the steps that only bounces need fold away. */
#if defined(__GNUC__)
#define DECIDE_INLINE inline __attribute__((always_inline))
#else
#define DECIDE_INLINE inline
#endif
static DECIDE_INLINE void decide(const bnc_ruleset_t *rs, const bnc_signals_t *s, bnc_class_t *out) {
  const bnc_reply_t *r = s->reply;
  int perm = bnc_reply_permanent(r), by;
  bnc_reason_t why;
  memset(out, 0, sizeof *out);
  out->rule = -1;
  /* No failure: the message is a complaint or an auto-reply, the DSN says
   * the mail went on, or the reply is a 2xx. */
  if (s->report != BNC_R_UNDEFINED) {
    why = s->report;
    by = BY_FORMAT;
    perm = 0;
  } else if (s->action == BNC_DSN_DELIVERED) {
    why = BNC_R_DELIVERED;
    by = BY_ACTION;
    perm = 0;
  } else if (delivered(r)) {
    why = BNC_R_DELIVERED;
    by = r->code ? BY_CODE : BY_STATUS;
  } else {
    /* What the reply gives: a text rule, the registry, the Diagnostic-Code
     * type, the basic code. */
    why = reply_says(rs, s, &by);
    if (by == BY_TEXT) out->rule = s->rule;
    /* The stage: the server had accepted the recipient and refused later,
     * a filter, not a dead address (unless the rule is the receiver's own
     * final wording); refused at MAIL FROM, the sender was rejected. */
    if (r->command == BNC_CMD_DATA && recipient_level(why) && !final_rule(rs, s, by)) {
      why = BNC_R_FILTERED;
      out->context_changed = 1;
    } else if (r->command == BNC_CMD_MAIL && perm != 0 &&
               (recipient_level(why) || why == BNC_R_UNDEFINED)) {
      why = BNC_R_REJECTED;   /* a refusal of MAIL FROM that says no more */
      out->context_changed = 1;
    }
    /* A "user unknown" that a bounce relays is a dead address only with
     * evidence that it is about the address: it answered RCPT TO, its
     * status speaks of the address (X.1.x), the wording is the receiver's
     * own (a final rule), or the bounce comes from the mailbox host.
     * Filtering gateways answer "user unknown" to mail they refuse: without
     * such evidence it is `filtered`, soft (the tracker suppresses after the
     * soft-bounce limit, not at the first bounce). */
    if ((s->flags & BNC_SIG_RELAYED) && why == BNC_R_USERUNKNOWN && by == BY_TEXT &&
        !(s->flags & BNC_SIG_MAILBOX) && r->command != BNC_CMD_RCPT && r->st_subject != 1 &&
        !final_rule(rs, s, by)) {
      why = BNC_R_FILTERED;
      by = BY_CONTEXT;
      out->context_changed = 1;
    }
    /* Nothing spoke: what the bounce's format implies; else, for a bounce's
     * words that no rule, status or code reads, `onhold` (the bounce said
     * something, nothing here knows what); `undefined` for no words. */
    if (why == BNC_R_UNDEFINED) {
      if (s->format != BNC_R_UNDEFINED) {
        why = s->format;
        by = BY_FORMAT;
      } else if (by == BY_DEFAULT && (s->flags & BNC_SIG_RELAYED) && s->action != BNC_DSN_DELAYED &&
                 has_words(s->text, s->tlen)) {
        why = BNC_R_ONHOLD;
      }
    }
  }
  out->reason = why;
  out->permanent = perm >= 0 ? perm : bnc_reason_permanent(why);
  out->type = bnc_reason_type(why, out->permanent);
  memcpy(out->source, BY_NAME[by], sizeof BY_NAME[by]);
}

void bnc_decide(const bnc_ruleset_t *rs, const bnc_signals_t *s, bnc_class_t *out) {
  decide(rs, s, out);
}

/* The signals of a live reply: the reply and its best rule, nothing else. */
static void live_signals(bnc_signals_t *s, const bnc_reply_t *r, const char *text, size_t tlen,
                         int rule) {
  s->reply = r;
  s->text = text;
  s->tlen = tlen;
  s->rule = rule;
  s->report = BNC_R_UNDEFINED;
  s->action = BNC_DSN_NONE;
  s->diag_type = BNC_R_UNDEFINED;
  s->format = BNC_R_UNDEFINED;
  s->flags = 0;
}

void bnc_classify(const bnc_ruleset_t *rs, const bnc_reply_t *r,
                  const char *text, size_t tlen,
                  const char *rhost, size_t rhost_len, bnc_class_t *out) {
  bnc_signals_t s;
  live_signals(&s, r, text, tlen, bnc_classify_scan(rs, r, text, tlen, rhost, rhost_len));
  decide(rs, &s, out);
}

/* Replies per round of bnc_classify_batch, and the multi-fragment rules a
 * round keeps state for on the stack; more rules than that take the
 * one-by-one path. */
#define BATCH 16
#define BATCH_MULTI 64

void bnc_classify_batch(const bnc_ruleset_t *rs, bnc_batch_item_t *items, size_t n) {
  size_t i0, i;
  if (rs->nmulti > BATCH_MULTI) {
    for (i = 0; i < n; i++)
      bnc_classify(rs, items[i].reply, items[i].text, items[i].tlen, items[i].rhost,
                   items[i].rhost_len, &items[i].out);
    return;
  }
  for (i0 = 0; i0 < n; i0 += BATCH) {
    scan_ctx c[BATCH];
    unsigned char next[BATCH][BATCH_MULTI];
    size_t last[BATCH][BATCH_MULTI];
    const char *texts[BATCH];
    size_t lens[BATCH], k = 0, m = n - i0 < BATCH ? n - i0 : BATCH;
    void *uds[BATCH];
    for (i = 0; i < m; i++) {
      const bnc_batch_item_t *it = &items[i0 + i];
      const char *rh = it->rhost ? it->rhost : it->text;
      memset(next[i], 0, rs->nmulti);
      ctx_init(&c[i], rs, it->reply, it->text, it->tlen, rh, it->rhost ? it->rhost_len : 0,
               next[i], last[i]);
      if (delivered(it->reply)) continue;
      texts[k] = it->text; lens[k] = it->tlen; uds[k] = &c[i];
      k++;
    }
    bnc_matcher_scan_many(rs->m, k, texts, lens, on_hit, uds);
    for (i = 0; i < m; i++) {
      const bnc_batch_item_t *it = &items[i0 + i];
      bnc_signals_t s;
      live_signals(&s, it->reply, it->text, it->tlen, c[i].best == NO_RULE ? -1 : (int)c[i].best);
      decide(rs, &s, &items[i0 + i].out);
    }
  }
}

/* ---- checks ------------------------------------------------------------ */

static int covers(const rule_rt *a, const rule_rt *b) {
  if (a->code_lo && (!b->code_lo || b->code_lo < a->code_lo || b->code_hi > a->code_hi))
    return 0;
  if (a->status_len && (b->status_len < a->status_len ||
                        strncmp(a->def.status, b->def.status, a->status_len) != 0))
    return 0;
  if (a->rhost_len && (!b->rhost_len || !host_matches(b->def.rhost, b->rhost_len,
                                                       a->def.rhost, a->rhost_len)))
    return 0;
  if (a->command && a->command != b->command) return 0;
  return 1;
}

/* Whether the single phrase of a occurs inside the pattern of b, so that any
 * text matching b contains it. */
static int phrase_inside(const rule_rt *a, const rule_rt *b) {
  size_t la = strlen(a->def.pattern), lb = strlen(b->def.pattern);
  char *na = malloc(la + 1), *nb = malloc(lb + 1);
  const char *p, *q;
  int found = 0;
  if (na && nb) {
    na[bnc_matcher_normalize(a->def.pattern, la, na)] = '\0';
    for (p = b->def.pattern; !found; p = q + 1) {
      size_t n;
      q = strchr(p, '*');
      n = q ? (size_t)(q - p) : strlen(p);
      nb[bnc_matcher_normalize(p, n, nb)] = '\0';
      found = strstr(nb, na) != NULL;
      if (!q) break;
    }
  }
  free(na); free(nb);
  return found;
}

size_t bnc_ruleset_check(const bnc_ruleset_t *rs, bnc_check_fn report, void *ud) {
  size_t i, j, problems = 0;
  char msg[160];
  for (j = 0; j < rs->n; j++) {
    const rule_rt *b = &rs->rules[j];
    for (i = 0; i < j; i++) {
      const rule_rt *a = &rs->rules[i];
      if (a->nfrag == 1 && covers(a, b) && phrase_inside(a, b)) {
        report(ud, j, (long)i, "can never win: an earlier rule always matches first");
        problems++;
        break;
      }
    }
    if (b->def.example) {
      size_t len = strlen(b->def.example);
      char *text = malloc(len + 1);
      bnc_reply_t r;
      bnc_class_t c;
      if (!text) continue;
      if (bnc_reply_parse(b->def.example, len, text, len, &r) != BNC_OK) {
        report(ud, j, -1, "example is empty");
        problems++;
      } else {
        bnc_classify(rs, &r, text, r.text_len, b->def.example + r.rhost_off,
                     r.rhost_len, &c);
        if (c.rule != (int)j) {
          snprintf(msg, sizeof msg, "example is decided by %s (%s), not by this rule",
                   c.rule >= 0 ? "another rule" : c.source, bnc_reason_name(c.reason));
          report(ud, j, c.rule, msg);
          problems++;
        }
      }
      free(text);
    }
  }
  return problems;
}
