/*
 * fuzz_reply.c - libFuzzer target: any bytes through bnc_reply_parse and
 * bnc_classify, as bounce.classify does them.
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
  } else if (rc != BNC_EEMPTY && rc != BNC_ETOOBIG) {
    abort();
  }
  free(text);
  return 0;
}
