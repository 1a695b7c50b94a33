/*
 * fuzz_reply.c - libFuzzer target: any bytes through bnc_reply_parse and
 * bnc_classify, as bounce.classify does them, and through bnc_decide as a
 * bounce relays the reply (with an Action and a Diagnostic-Code type the
 * input's first byte chooses).
 *
 * The rule set (built-in rules plus a few user rules with conditions) is
 * created once. Input layout: the reply, optionally followed by a NUL and a
 * remote host that overrides the one found in the reply. The checks below
 * are the contracts a caller relies on, so a violation aborts like a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "classify.h"
#include "reply.h"

static bnc_ruleset_t *rules;

static void add_rule(const char *pattern, const char *reason, const char *code,
                     const char *status, const char *rhost, const char *command) {
  bnc_rule_def_t d;
  char err[256];
  memset(&d, 0, sizeof d);
  d.pattern = pattern; d.reason = reason; d.code = code;
  d.status = status; d.rhost = rhost; d.command = command;
  if (bnc_ruleset_add(rules, &d, err, sizeof err) != BNC_OK) abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc; (void)argv;
  rules = bnc_ruleset_new(1);
  if (!rules) abort();
  add_rule("account*frozen", "suspend", NULL, NULL, NULL, NULL);
  add_rule("greylisted", "toomanyconn", "45", "4.7.", NULL, NULL);
  add_rule("no such mailbox here", "userunknown", "550", NULL, "example.org", "RCPT");
  add_rule("content rejected", "contenterror", NULL, NULL, NULL, "DATA");
  if (bnc_ruleset_compile(rules) != BNC_OK) abort();
  return 0;
}

/* The same reply as a bounce relays it: the decision may differ from the
 * live one (c) only by the steps a bounce adds. */
static void relayed(const bnc_reply_t *r, const char *text, const bnc_class_t *c, unsigned pick) {
  static const bnc_dsn_action_t actions[] = { BNC_DSN_NONE, BNC_DSN_FAILED, BNC_DSN_DELAYED,
                                              BNC_DSN_DELIVERED };
  bnc_signals_t s;
  bnc_class_t b;
  memset(&s, 0, sizeof s);
  s.reply = r;
  s.text = text;
  s.tlen = r->text_len;
  s.rule = c->rule;                             /* the live decision reports the scan's rule */
  s.report = s.format = BNC_R_UNDEFINED;
  s.action = actions[pick & 3];
  s.diag_type = (pick & 4) ? BNC_R_MAILERERROR : BNC_R_UNDEFINED;
  s.flags = BNC_SIG_RELAYED | ((pick & 8) ? BNC_SIG_MAILBOX : 0u);
  bnc_decide(rules, &s, &b);
  if (b.type != bnc_reason_type(b.reason, b.permanent)) abort();
  if (s.action == BNC_DSN_DELIVERED) {
    if (b.reason != BNC_R_DELIVERED || b.rule != -1) abort();
    return;
  }
  if (b.rule >= 0 && b.rule != s.rule) abort();
  if (s.diag_type == BNC_R_UNDEFINED && b.reason != c->reason &&
      !(b.reason == BNC_R_FILTERED && c->reason == BNC_R_USERUNKNOWN && !strcmp(b.source, "context")) &&
      !(b.reason == BNC_R_ONHOLD && c->reason == BNC_R_UNDEFINED) &&
      /* the DSN's Action where no rule speaks: a delay notice, or a failure
       * said with a temporary code only, is an expiry (classify.c) */
      !(b.reason == BNC_R_EXPIRED && c->rule < 0 &&
        (s.action == BNC_DSN_DELAYED || s.action == BNC_DSN_FAILED)))
    abort();
  if ((pick & 8) && s.diag_type == BNC_R_UNDEFINED && b.reason == BNC_R_FILTERED &&
      !strcmp(b.source, "context"))
    abort();                                      /* the mailbox host's word stands */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *buf = (const char *)data;
  const char *nul = memchr(buf, '\0', size);
  size_t len = nul ? (size_t)(nul - buf) : size;
  const char *rhost = NULL;
  size_t rhl = 0;
  char *text;
  bnc_reply_t r;
  bnc_class_t c;
  int rc;

  text = malloc(len + 1);
  if (!text) return 0;
  rc = bnc_reply_parse(buf, len, text, len + 1, &r);
  if (rc == BNC_OK) {
    if (r.text_len > len) abort();
    if (r.rhost_len && r.rhost_off + r.rhost_len > len) abort();
    if (r.code && (r.code < 200 || r.code > 599)) abort();
    if (r.st_class && r.st_class != 2 && r.st_class != 4 && r.st_class != 5) abort();
    if (memchr(r.status, '\0', sizeof r.status) == NULL) abort();
    if (nul) { rhost = nul + 1; rhl = size - len - 1; }
    else if (r.rhost_len) { rhost = buf + r.rhost_off; rhl = r.rhost_len; }
    bnc_classify(rules, &r, text, r.text_len, rhost, rhl, &c);
    if ((int)c.reason < 0 || c.reason >= BNC_R__COUNT) abort();
    if ((int)c.type < 0 || c.type >= BNC_T__COUNT) abort();
    if (c.rule >= (int)bnc_ruleset_count(rules)) abort();
    if (memchr(c.source, '\0', sizeof c.source) == NULL) abort();
    if (c.type != bnc_reason_type(c.reason, c.permanent)) abort();
    relayed(&r, text, &c, len ? (unsigned char)buf[0] : 0);
  } else if (rc != BNC_EEMPTY && rc != BNC_ETOOBIG) {
    abort();
  }
  free(text);
  return 0;
}
