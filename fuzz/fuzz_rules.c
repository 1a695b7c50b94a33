/*
 * fuzz_rules.c - libFuzzer target: user rules as a policy file would give
 * them (bnc_ruleset_add: validation, phrase fragments, conditions), the
 * matcher built from them, the shadowing check, and a classification.
 *
 * Input layout, fields separated by '\n': a count byte (1..4 rules), then
 * per rule pattern, reason, code, status, rhost, command (an empty field is
 * "not set"; a one-byte reason picks a valid reason name), then the reply.
 * The rule set has no built-in rules, so each run compiles a small matcher.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "classify.h"
#include "reason.h"
#include "reply.h"

#define NFIELDS 6

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Copies the next '\n'-terminated field of [*p, e) into a new string. */
static char *field(const char **p, const char *e) {
  const char *nl = memchr(*p, '\n', (size_t)(e - *p));
  size_t n = nl ? (size_t)(nl - *p) : (size_t)(e - *p);
  char *s = malloc(n + 1);
  if (!s) abort();
  memcpy(s, *p, n);
  s[n] = '\0';
  *p += n + (nl ? 1 : 0);
  return s;
}

static void on_problem(void *ud, size_t rule, long other, const char *what) {
  size_t *n = ud;
  if (!what || other >= (long)rule) abort();   /* shadowed by an earlier rule */
  (*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p = (const char *)data, *e = p + size;
  char *f[4][NFIELDS];
  int nrules, i, j, added = 0;
  bnc_ruleset_t *rs;
  char err[256], *text;
  bnc_reply_t r;
  bnc_class_t c;
  size_t problems = 0, len;

  if (size < 1) return 0;
  nrules = 1 + p[0] % 4;
  p++;
  rs = bnc_ruleset_new(0);
  if (!rs) return 0;
  for (i = 0; i < nrules; i++) {
    bnc_rule_def_t d;
    for (j = 0; j < NFIELDS; j++) f[i][j] = field(&p, e);
    memset(&d, 0, sizeof d);
    d.pattern = f[i][0];
    d.reason = strlen(f[i][1]) == 1
      ? bnc_reason_name((bnc_reason_t)((unsigned char)f[i][1][0] % BNC_R__COUNT)) : f[i][1];
    d.code = f[i][2][0] ? f[i][2] : NULL;
    d.status = f[i][3][0] ? f[i][3] : NULL;
    d.rhost = f[i][4][0] ? f[i][4] : NULL;
    d.command = f[i][5][0] ? f[i][5] : NULL;
    err[0] = '\0';
    if (bnc_ruleset_add(rs, &d, err, sizeof err) == BNC_OK) added++;
    else if (!err[0] || !memchr(err, '\0', sizeof err)) abort();  /* a message */
  }
  for (i = 0; i < nrules; i++)   /* the rule set keeps copies */
    for (j = 0; j < NFIELDS; j++) { memset(f[i][j], 'x', strlen(f[i][j])); free(f[i][j]); }
  if ((size_t)added != bnc_ruleset_count(rs)) abort();
  if (bnc_ruleset_compile(rs) == BNC_OK) {
    bnc_ruleset_check(rs, on_problem, &problems);
    len = (size_t)(e - p);
    text = malloc(len + 1);
    if (text && bnc_reply_parse(p, len, text, len + 1, &r) == BNC_OK) {
      bnc_classify(rs, &r, text, r.text_len, NULL, 0, &c);
      if (c.rule >= (int)bnc_ruleset_count(rs)) abort();
      if ((int)c.reason < 0 || c.reason >= BNC_R__COUNT) abort();
    }
    free(text);
  }
  bnc_ruleset_free(rs);
  return 0;
}
