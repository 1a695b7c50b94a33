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
#define MAX_ALTS 32
#define NO_RULE ((size_t)-1)
#define MULTI_STACK 256
/* Matcher ids: (ADVICE_N + rule index) << ID_SHIFT | fragment or
 * alternative; ids below ADVICE_N << ID_SHIFT are the advice leads. */
#define ID_SHIFT 5

/* A status condition: class (0: either of 4 and 5), subject (-1: any) and
 * the range of details (lo > hi: any). */
typedef struct {
  int on, cls, subject, lo, hi;
} status_cond;

typedef struct {
  bnc_rule_def_t def;    /* strings owned when user */
  int user;
  int wording;           /* source "wording": not read inside advice */
  bnc_reason_t reason;
  int code_lo, code_hi;  /* 0 when no condition */
  status_cond st;
  size_t rhost_len;
  bnc_command_t command;
  int nfrag;             /* fragments ('*'), or 1 for alternatives ('|'); 0 for a
                            rule keyed on its status alone (no pattern) */
  int nalt;              /* alternatives, 1 when none */
  int multi;             /* index among multi-fragment rules, or -1 */
  unsigned short flen[MAX_ALTS];  /* normalized length per fragment or alternative */
} rule_rt;

struct bnc_ruleset {
  rule_rt *rules;
  size_t n, cap, nuser, nmulti;
  size_t *keyed[8];      /* per status subject: the rules keyed on a status
                            alone, in priority order (set by compile) */
  size_t nkeyed[8];
  int keyed_lo[8];       /* the lowest detail any of them takes */
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
  free((char *)r->def.source); free((char *)r->def.counter);
}

static int fail(char *err, size_t errlen, const char *fmt, const char *a) {
  if (err && errlen) snprintf(err, errlen, fmt, a ? a : "");
  return BNC_EINVAL;
}

/* Reads a number of 1..3 digits at *p; -1 when none. */
static int read_num(const char **p) {
  int v = 0, n = 0;
  while (**p >= '0' && **p <= '9' && n < 4) { v = v * 10 + (**p - '0'); (*p)++; n++; }
  return n == 0 || n > 3 ? -1 : v;
}

/* Parses a status condition: "5", "5.7", "5.7." (a class or subject), "5.1.1"
 * (one status), "5.7.606-649" (a range of details); 'X' for the class
 * takes 4 and 5 alike. Returns 0 when malformed. */
static int parse_status_cond(const char *s, status_cond *c) {
  const char *p = s;
  memset(c, 0, sizeof *c);
  c->on = 1;
  c->subject = -1;
  c->lo = 1;
  c->hi = 0;
  if (*p == 'X' || *p == 'x') c->cls = 0;
  else if (*p == '2' || *p == '4' || *p == '5') c->cls = *p - '0';
  else return 0;
  p++;
  if (!*p) return 1;
  if (*p++ != '.') return 0;
  if (!*p) return 1;
  if (*p < '0' || *p > '7') return 0;
  c->subject = *p++ - '0';
  if (!*p) return 1;
  if (*p++ != '.') return 0;
  if (!*p) return 1;
  if ((c->lo = read_num(&p)) < 0) return 0;
  c->hi = c->lo;
  if (*p == '-') {
    p++;
    if ((c->hi = read_num(&p)) < c->lo) return 0;
  }
  return *p == '\0';
}

static int status_holds(const status_cond *c, const bnc_reply_t *r) {
  if (!r->st_class) return 0;
  if (c->cls ? r->st_class != c->cls : r->st_class == 2) return 0;
  if (c->subject >= 0 && r->st_subject != c->subject) return 0;
  if (c->lo <= c->hi && (r->st_detail < c->lo || r->st_detail > c->hi)) return 0;
  return 1;
}

/* Validates def and fills the run-time fields of r (strings not copied). */
static int prepare(rule_rt *r, const bnc_rule_def_t *def, char *err, size_t errlen) {
  const char *p, *q;
  int reason;
  memset(r, 0, sizeof *r);
  r->def = *def;
  if (!def->pattern)
    return fail(err, errlen, "pattern: expected a string%s", NULL);
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
  if (def->status && def->status[0] && !parse_status_cond(def->status, &r->st))
    return fail(err, errlen, "status: expected '5.7.', '5.1.1', 'X.7.606-649' or the like, "
                "got '%s'", def->status);
  if (def->rhost && def->rhost[0]) r->rhost_len = strlen(def->rhost);
  if (def->command && def->command[0]) {
    r->command = bnc_command_find(def->command, strlen(def->command));
    if (r->command == BNC_CMD_NONE)
      return fail(err, errlen, "command: expected CONNECT, HELO, STARTTLS, AUTH, "
                  "MAIL, RCPT or DATA, got '%s'", def->command);
  }
  r->wording = def->source && strcmp(def->source, "wording") == 0;
  r->nalt = 1;
  r->multi = -1;
  if (!def->pattern[0]) {      /* a code table entry: a status and nothing else */
    if (!r->st.on || r->st.subject < 0)
      return fail(err, errlen, "pattern: expected a non-empty string (or a status "
                  "condition naming a subject, such as 'X.7.606-649')%s", NULL);
    return BNC_OK;
  }
  for (p = def->pattern; *p && (*p == '*' || *p == '|' || *p == ' '); p++) {}
  if (!*p)      /* nothing but wildcards: it would decide every reply */
    return fail(err, errlen, "pattern: expected some text besides '*', '|' and spaces, "
                "got '%s'", def->pattern);
  for (p = def->pattern; (p = strchr(p, '|')) != NULL; p++) r->nalt++;
  if (r->nalt > 1 && strchr(def->pattern, '*'))
    return fail(err, errlen, "pattern: '|' alternatives cannot hold '*' fragments, got '%s'",
                def->pattern);
  if (r->nalt > MAX_ALTS)
    return fail(err, errlen, "pattern: at most 32 alternatives, got '%s'", def->pattern);
  for (p = def->pattern; r->nalt == 1; p = q + 1) {
    q = strchr(p, '*');
    if (!q) q = p + strlen(p);
    if (r->nfrag == MAX_FRAGS)
      return fail(err, errlen, "pattern: at most 8 fragments, got '%s'", def->pattern);
    r->nfrag++;
    if (!*q) break;
  }
  if (r->nalt > 1) r->nfrag = 1;
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

static int add_builtin(bnc_ruleset_t *rs, const bnc_rule_def_t *defs, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (grow(rs) != BNC_OK) return BNC_ENOMEM;
    /* built-in rules are checked by spec and test; a bad one is skipped */
    if (prepare(&rs->rules[rs->n], &defs[i], NULL, 0) == BNC_OK) rs->n++;
  }
  return BNC_OK;
}

bnc_ruleset_t *bnc_ruleset_new(int builtin) {
  bnc_ruleset_t *rs = calloc(1, sizeof *rs);
  if (!rs) return NULL;
  rs->dirty = 1;
  if (builtin && (add_builtin(rs, bnc_builtin_rules, bnc_builtin_rules_count) != BNC_OK ||
                  add_builtin(rs, bnc_provider_rules, bnc_provider_rules_count) != BNC_OK ||
                  add_builtin(rs, bnc_generic_rules, bnc_generic_rules_count) != BNC_OK)) {
    bnc_ruleset_free(rs);
    return NULL;
  }
  return rs;
}

void bnc_ruleset_free(bnc_ruleset_t *rs) {
  size_t i;
  if (!rs) return;
  for (i = 0; i < rs->n; i++) free_def(&rs->rules[i]);
  free(rs->rules);
  for (i = 0; i < 8; i++) free(rs->keyed[i]);
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
  d->source = dup_str(def->source); d->counter = dup_str(def->counter);
  r.user = 1;
  if (!d->pattern || !d->reason || (def->name && !d->name) ||
      (def->code && !d->code) || (def->status && !d->status) ||
      (def->rhost && !d->rhost) || (def->command && !d->command) ||
      (def->example && !d->example) || (def->source && !d->source) ||
      (def->counter && !d->counter)) {
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

/* Leads of advice: what a reply tells the sender to do or why the receiver
 * acts, not what failed. A general-wording rule found inside the clause
 * that such a lead opens is not read ("Please set up SPF records",
 * "To protect our users from spam, mail from your domain has been rate
 * limited"). An imperative runs to the end of its sentence (or a colon, or a
 * cause: "Please contact your provider since its network is on our block
 * list"); a purpose clause also ends at a comma. */
enum { ADV_SENTENCE, ADV_PURPOSE };
static const struct { const char *lead; int kind; } ADVICE[] = {
  { " please ", ADV_SENTENCE }, { " kindly ", ADV_SENTENCE },
  { " see ", ADV_SENTENCE }, { " visit ", ADV_SENTENCE }, { " refer to ", ADV_SENTENCE },
  { " for more information", ADV_SENTENCE }, { " for more details", ADV_SENTENCE },
  { " for further information", ADV_SENTENCE }, { " learn more", ADV_SENTENCE },
  { " read more", ADV_SENTENCE }, { " if you ", ADV_SENTENCE },
  { " to protect ", ADV_PURPOSE }, { " to reduce ", ADV_PURPOSE },
  { " in order to ", ADV_PURPOSE }, { " to prevent ", ADV_PURPOSE },
};
#define ADVICE_N (sizeof ADVICE / sizeof ADVICE[0])

int bnc_ruleset_compile(bnc_ruleset_t *rs) {
  size_t i;
  bnc_matcher_t *m;
  if (!rs->dirty && rs->m) return BNC_OK;
  m = bnc_matcher_new();
  if (!m) return BNC_ENOMEM;
  rs->nmulti = 0;
  rs->uses_command = 0;
  for (i = 0; i < ADVICE_N; i++)
    if (bnc_matcher_add(m, ADVICE[i].lead, strlen(ADVICE[i].lead), (uint32_t)(i << ID_SHIFT)) ==
        (size_t)-1) {
      bnc_matcher_free(m);
      return BNC_ENOMEM;
    }
  for (i = 0; i < 8; i++) {
    free(rs->keyed[i]);
    rs->keyed[i] = NULL;
    rs->nkeyed[i] = 0;
    rs->keyed_lo[i] = 1000;
  }
  for (i = 0; i < rs->n; i++) {
    rule_rt *r = &rs->rules[i];
    const char *p = r->def.pattern, *q;
    int f = 0;
    char sep = r->nalt > 1 ? '|' : '*';
    if (r->command != BNC_CMD_NONE) rs->uses_command = 1;
    if (r->nfrag == 0) {
      size_t *k = realloc(rs->keyed[r->st.subject], (rs->nkeyed[r->st.subject] + 1) * sizeof *k);
      if (!k) { bnc_matcher_free(m); return BNC_ENOMEM; }
      k[rs->nkeyed[r->st.subject]++] = i;
      rs->keyed[r->st.subject] = k;
      if (r->st.lo > r->st.hi) rs->keyed_lo[r->st.subject] = 0;
      else if (r->st.lo < rs->keyed_lo[r->st.subject]) rs->keyed_lo[r->st.subject] = r->st.lo;
      continue;
    }
    r->multi = r->nfrag > 1 ? (int)rs->nmulti++ : -1;
    for (;; p = q + 1, f++) {
      size_t len, fl;
      q = strchr(p, sep);
      len = q ? (size_t)(q - p) : strlen(p);
      fl = bnc_matcher_add(m, p, len, (uint32_t)((ADVICE_N + i) << ID_SHIFT | (size_t)f));
      if (fl == (size_t)-1) { bnc_matcher_free(m); return BNC_ENOMEM; }
      r->flen[f] = (unsigned short)(fl > 0xffff ? 0xffff : fl);
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
  size_t advice_end;     /* where the last advice lead ends (matcher offset) ... */
  int advice;            /* ... its ADVICE index, or -1 when none was seen */
  size_t advised;        /* the best rule found only inside advice: it decides
                            when nothing outside advice does */
} scan_ctx;

static int host_matches(const char *h, size_t hl, const char *want, size_t wl) {
  if (wl > hl) return 0;
  if (!bnc_ieq_n(h + hl - wl, want, wl)) return 0;
  return wl == hl || h[hl - wl - 1] == '.' || want[0] == '.';
}

static int conditions_hold(const rule_rt *rule, const scan_ctx *c) {
  const bnc_reply_t *r = c->r;
  if (rule->code_lo && (r->code < rule->code_lo || r->code > rule->code_hi)) return 0;
  if (rule->st.on && !status_holds(&rule->st, r)) return 0;
  if (rule->rhost_len &&
      !host_matches(c->rhost, c->rhost_len, rule->def.rhost, rule->rhost_len))
    return 0;
  if (rule->command && rule->command != r->command) return 0;
  return 1;
}

/* Where a phrase of flen normalized bytes that ends at raw offset end
 * starts in the raw text t[0..n) (framed by spaces): walks back, counting a
 * run of white space as one byte. */
static size_t raw_start(const char *t, size_t n, size_t end, size_t flen) {
  size_t j = end;
  while (flen > 0) {
    if (j == 0) return 0;          /* the leading frame space */
    j--;
    if (j == n || bnc_is_space((unsigned char)t[j]))
      while (j > 0 && bnc_is_space((unsigned char)t[j - 1])) j--;
    flen--;
  }
  return j;
}

/* Whether t[from..to) ends the advice clause that starts at from: a
 * sentence end, a colon, a cause ("because", "since", "due to"), and for a
 * purpose clause a comma. */
static int clause_ended(const char *t, size_t n, size_t from, size_t to, int kind) {
  size_t i;
  for (i = from + 1; i < to; i++) {
    char ch = t[i];
    if ((ch == '.' || ch == '!' || ch == '?' || ch == ':') &&
        (i + 1 >= n || bnc_is_space((unsigned char)t[i + 1])))
      return 1;
    if (ch == ';' || (ch == ',' && kind == ADV_PURPOSE)) return 1;
    if (bnc_is_space((unsigned char)ch) && i + 1 < to) {
      const char *w = t + i + 1;
      size_t left = to - i - 1;
      if ((left >= 8 && bnc_lower((unsigned char)w[0]) == 'b' && bnc_iprefix_lc(w, left, "because ")) ||
          (left >= 6 && bnc_lower((unsigned char)w[0]) == 's' && bnc_iprefix_lc(w, left, "since ")) ||
          (left >= 7 && bnc_lower((unsigned char)w[0]) == 'd' && bnc_iprefix_lc(w, left, "due to ")))
        return 1;
    }
  }
  return 0;
}

static int on_hit(void *ud, uint32_t id, size_t end) {
  scan_ctx *c = ud;
  size_t ri = id >> ID_SHIFT;
  int f = (int)(id & ((1u << ID_SHIFT) - 1));
  const rule_rt *rule;
  if (ri < ADVICE_N) {          /* an advice lead: ids below every rule's */
    c->advice_end = end;
    c->advice = (int)ri;
    return 0;
  }
  ri -= ADVICE_N;
  if (ri >= c->best) return 1;  /* ids ascend: nothing better at this spot */
  rule = &c->rs->rules[ri];
  if (!conditions_hold(rule, c)) return 0;
  if (rule->wording && c->advice >= 0) {
    size_t at = raw_start(c->text, c->tlen, end, rule->flen[f]);
    size_t from = raw_start(c->text, c->tlen, c->advice_end, strlen(ADVICE[c->advice].lead));
    if (at >= from && !clause_ended(c->text, c->tlen, from, at, ADVICE[c->advice].kind)) {
      if (ri < c->advised && rule->multi < 0) c->advised = ri;
      return 0;                 /* said inside advice */
    }
  }
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
  c->advice = -1;
  c->advice_end = 0;
  c->advised = NO_RULE;
}

/* The best rule of a finished scan: the one found outside advice, else
 * the one found inside it ("Please use the SMTP server of your ISP" says
 * the reason when nothing else does); and a rule keyed on the status alone
 * (a provider's code table) that comes before it. */
static size_t scan_best(const scan_ctx *c) {
  size_t best = c->best != NO_RULE ? c->best : c->advised, k;
  const bnc_reply_t *r = c->r;
  if (r->st_class && r->st_detail >= c->rs->keyed_lo[r->st_subject]) {
    const size_t *kk = c->rs->keyed[r->st_subject];
    for (k = 0; k < c->rs->nkeyed[r->st_subject] && kk[k] < best; k++) {
      const rule_rt *rule = &c->rs->rules[kk[k]];
      if ((rule->st.lo > rule->st.hi || (rule->st.lo <= r->st_detail && r->st_detail <= rule->st.hi)) &&
          conditions_hold(rule, c))
        return kk[k];
    }
  }
  return best;
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
    return scan_best(&c);
  }
  memset(next_s, 0, rs->nmulti);
  ctx_init(&c, rs, r, text, tlen, rhost, rhost_len, next_s, last_s);
  bnc_matcher_scan(rs->m, text, tlen, on_hit, &c);
  return scan_best(&c);
}

static int recipient_level(bnc_reason_t r) {
  return r == BNC_R_USERUNKNOWN || r == BNC_R_HOSTUNKNOWN || r == BNC_R_HASMOVED;
}

/* Reasons about a recipient's mailbox: no server knows them before RCPT. */
static int mailbox_level(bnc_reason_t r) {
  return r == BNC_R_MAILBOXFULL || r == BNC_R_SUSPEND || r == BNC_R_EXCEEDLIMIT;
}

/* A stage before any recipient was named: the greeting, HELO, STARTTLS,
 * AUTH (the sending host) or MAIL FROM (the sender). */
static int before_rcpt(bnc_command_t c) {
  return c == BNC_CMD_CONNECT || c == BNC_CMD_HELO || c == BNC_CMD_STARTTLS ||
         c == BNC_CMD_AUTH || c == BNC_CMD_MAIL;
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
 * (hostunknown said as temporary) is a DNS hiccup, not a dead domain;
 * "4.3.2 system not accepting network messages" a host down for now. */
static bnc_reason_t status_reason(const bnc_reply_t *r) {
  bnc_reason_t why = bnc_status_reason(r->st_subject, r->st_detail);
  if (r->st_class == 4 && why == BNC_R_HOSTUNKNOWN) return BNC_R_NETWORKERROR;
  if (r->st_class == 4 && why == BNC_R_NOTACCEPT) return BNC_R_SYSTEMERROR;
  return why;
}

/* What decided, as bnc_class_t.source names it. */
enum { BY_TEXT, BY_STATUS, BY_TYPE, BY_CODE, BY_DEFAULT, BY_CONTEXT, BY_FORMAT, BY_ACTION };
static const char BY_NAME[][8] = {   /* 8 bytes each: copied whole */
  "text", "status", "type", "code", "default", "context", "format", "action"
};

/* What the reply gives, in the decision's order; *by names the step. The
 * DSN's Action speaks where the reply names no cause: a delay notice (RFC
 * 3464 2.3.3 "delayed": not yet delivered, still retrying) is about a
 * message that stays in the queue too long, `expired`, before a generic
 * status; a failure (Action: failed) with nothing but a temporary code or
 * status was retried until the MTA gave up, `expired` too, when neither a
 * status nor the basic code says more. */
static inline bnc_reason_t reply_says(const bnc_ruleset_t *rs, const bnc_signals_t *s, int *by) {
  const bnc_reply_t *r = s->reply;
  bnc_reason_t why;
  *by = BY_TEXT;                                      /* the words a rule knows */
  if (s->rule >= 0) return rs->rules[s->rule].reason;
  *by = BY_STATUS;                                    /* a specific status: X.Y.Z, Z > 0 */
  if (r->st_class && r->st_detail && (why = status_reason(r)) != BNC_R_UNDEFINED) return why;
  *by = BY_TYPE;                                      /* the Diagnostic-Code's type */
  if (s->diag_type != BNC_R_UNDEFINED) return s->diag_type;
  *by = BY_ACTION;                                    /* a delay notice */
  if (s->action == BNC_DSN_DELAYED) return BNC_R_EXPIRED;
  *by = BY_STATUS;                                    /* a generic status: X.Y.0 */
  if (r->st_class && !r->st_detail && (why = status_reason(r)) != BNC_R_UNDEFINED) return why;
  *by = BY_CODE;                                      /* the basic code */
  if (r->code && (why = bnc_code_reason(r->code)) != BNC_R_UNDEFINED) return why;
  *by = BY_ACTION;                                    /* given up on a temporary failure */
  if (s->action == BNC_DSN_FAILED && bnc_reply_permanent(r) == 0) return BNC_R_EXPIRED;
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
     * final wording). Before RCPT TO no recipient was named: an address or
     * mailbox reason, or none, is about the sender (RFC 5321 3.3: MAIL FROM
     * names the sender, the greeting and HELO the sending host). */
    if (r->command == BNC_CMD_DATA && recipient_level(why) && !final_rule(rs, s, by)) {
      why = BNC_R_FILTERED;
      out->context_changed = 1;
    } else if (before_rcpt(r->command) &&
               (recipient_level(why) || mailbox_level(why) ||
                (why == BNC_R_UNDEFINED && perm != 0))) {
      why = r->command == BNC_CMD_MAIL ? BNC_R_REJECTED : BNC_R_BLOCKED;
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
      size_t best = scan_best(&c[i]);
      live_signals(&s, it->reply, it->text, it->tlen, best == NO_RULE ? -1 : (int)best);
      decide(rs, &s, &items[i0 + i].out);
    }
  }
}

/* ---- checks ------------------------------------------------------------ */

/* Whether every status that b's condition takes, a's takes too. */
static int status_covers(const status_cond *a, const status_cond *b) {
  if (!b->on) return 0;
  if (a->cls && a->cls != b->cls) return 0;
  if (a->subject >= 0 && a->subject != b->subject) return 0;
  if (a->lo <= a->hi && (b->lo > b->hi || b->lo < a->lo || b->hi > a->hi)) return 0;
  return 1;
}

static int covers(const rule_rt *a, const rule_rt *b) {
  if (a->code_lo && (!b->code_lo || b->code_lo < a->code_lo || b->code_hi > a->code_hi))
    return 0;
  if (a->st.on && !status_covers(&a->st, &b->st)) return 0;
  if (a->rhost_len && (!b->rhost_len || !host_matches(b->def.rhost, b->rhost_len,
                                                       a->def.rhost, a->rhost_len)))
    return 0;
  if (a->command && a->command != b->command) return 0;
  return 1;
}

/* Whether some alternative of a's single-fragment pattern, normalized,
 * occurs in the normalized text nt. na is scratch of strlen(pattern)+1. */
static int some_alt_in(const rule_rt *a, const char *nt, char *na) {
  const char *p = a->def.pattern, *q;
  char sep = a->nalt > 1 ? '|' : '\0';
  for (;; p = q + 1) {
    size_t n;
    q = sep ? strchr(p, sep) : NULL;
    n = q ? (size_t)(q - p) : strlen(p);
    na[bnc_matcher_normalize(p, n, na)] = '\0';
    if (na[0] && strstr(nt, na)) return 1;
    if (!q) return 0;
  }
}

/* Whether any text that matches b's pattern holds a phrase of a (a single
 * fragment, or alternatives): a fragment of b holds one, or, for b's
 * alternatives, each of them does. */
static int phrase_inside(const rule_rt *a, const rule_rt *b) {
  size_t la = strlen(a->def.pattern), lb = strlen(b->def.pattern);
  char *na = malloc(la + 1), *nb = malloc(lb + 1);
  const char *p, *q;
  int found = 0, all = b->nalt > 1;
  char sep = all ? '|' : '*';
  if (na && nb) {
    found = all;
    for (p = b->def.pattern; ; p = q + 1) {
      size_t n;
      int in;
      q = strchr(p, sep);
      n = q ? (size_t)(q - p) : strlen(p);
      nb[bnc_matcher_normalize(p, n, nb)] = '\0';
      in = some_alt_in(a, nb, na);
      if (all && !in) { found = 0; break; }
      if (!all && in) { found = 1; break; }
      if (!q) break;
    }
  }
  free(na); free(nb);
  return found;
}

/* Parses and classifies s under rs as a live reply into *c; 0 when empty. */
static int try_reply(const bnc_ruleset_t *rs, const char *s, bnc_class_t *c) {
  size_t len = strlen(s);
  char *text = malloc(len + 1);
  bnc_reply_t r;
  int ok = 0;
  if (!text) return -1;
  if (bnc_reply_parse(s, len, text, len, &r) == BNC_OK) {
    bnc_classify(rs, &r, text, r.text_len, s + r.rhost_off, r.rhost_len, c);
    ok = 1;
  }
  free(text);
  return ok;
}

/* Whether the normalized text of s holds some phrase of rule b (every
 * fragment of a multi-fragment one): a counter-example must be a near miss,
 * or its check could not fail. */
static int holds_phrase(const rule_rt *b, const char *s) {
  size_t ls = strlen(s), lp = strlen(b->def.pattern);
  char *ns = malloc(ls + 1), *np = malloc(lp + 1);
  int ok = 0;
  if (ns && np) {
    ns[bnc_matcher_normalize(s, ls, ns)] = '\0';
    if (b->nalt > 1) {
      ok = some_alt_in(b, ns, np);
    } else {
      const char *p, *q, *from = ns;
      ok = 1;
      for (p = b->def.pattern; ok; p = q + 1) {
        size_t n;
        const char *hit;
        char *t = np;
        q = strchr(p, '*');
        n = q ? (size_t)(q - p) : strlen(p);
        np[bnc_matcher_normalize(p, n, np)] = '\0';
        while (*t == ' ') t++;                  /* boundaries aside */
        if (*t && t[strlen(t) - 1] == ' ') t[strlen(t) - 1] = '\0';
        hit = strstr(from, t);
        if (!hit) ok = 0;
        else from = hit + strlen(t);
        if (!q) break;
      }
    }
  }
  free(ns); free(np);
  return ok;
}

size_t bnc_ruleset_check(const bnc_ruleset_t *rs, bnc_check_fn report, void *ud) {
  size_t i, j, problems = 0;
  char msg[160];
  for (j = 0; j < rs->n; j++) {
    const rule_rt *b = &rs->rules[j];
    bnc_class_t c;
    int ok;
    for (i = 0; i < j; i++) {
      const rule_rt *a = &rs->rules[i];
      if (a->nfrag == 1 && covers(a, b) && phrase_inside(a, b)) {
        report(ud, j, (long)i, "can never win: an earlier rule always matches first");
        problems++;
        break;
      }
    }
    if (b->def.example) {
      ok = try_reply(rs, b->def.example, &c);
      if (ok == 0) {
        report(ud, j, -1, "example is empty");
        problems++;
      } else if (ok > 0 && (c.rule != (int)j || c.context_changed)) {
        snprintf(msg, sizeof msg, "example is decided by %s (%s), not by this rule",
                 c.rule >= 0 && !c.context_changed ? "another rule" : c.source,
                 bnc_reason_name(c.reason));
        report(ud, j, c.rule, msg);
        problems++;
      }
    }
    if (!b->user && b->wording && !b->def.counter) {
      report(ud, j, -1, "a general-wording rule needs a counter-example");
      problems++;
    }
    if (b->def.counter) {
      if (!holds_phrase(b, b->def.counter)) {
        report(ud, j, -1, "counter-example does not hold the rule's phrase");
        problems++;
      }
      ok = try_reply(rs, b->def.counter, &c);
      if (ok > 0 && c.rule == (int)j && !c.context_changed) {
        snprintf(msg, sizeof msg, "counter-example is decided by this rule (%s)",
                 bnc_reason_name(c.reason));
        report(ud, j, (long)j, msg);
        problems++;
      }
    }
  }
  return problems;
}
