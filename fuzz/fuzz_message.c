/*
 * fuzz_message.c - libFuzzer target: any bytes through bnc_message_parse, as
 * bounce.parse does them (built-in rules, two extra header names, an arena
 * of BNC_MSG_ARENA(size) bytes). The checks are the contracts a caller relies
 * on: every string of the result lies inside the input or the arena, and
 * each decision is whole (a type that follows from its reason, a source).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "classify.h"
#include "message.h"

static bnc_ruleset_t *rules;
static bnc_message_t msg;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc; (void)argv;
  rules = bnc_ruleset_new(1);
  if (!rules || bnc_ruleset_compile(rules) != BNC_OK) abort();
  return 0;
}

static void check_str(bnc_str_t s, const char *buf, size_t len, const char *arena, size_t cap) {
  if (!s.p) return;
  if (s.p >= buf && s.p + s.n <= buf + len) return;
  if (s.p >= arena && s.p + s.n <= arena + cap) return;
  if (s.n < 16) return;   /* short status strings live inside the result itself */
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const bnc_str_t want[2] = { { "X-Campaign", 10 }, { "List-Id", 7 } };
  const char *buf = (const char *)data;
  size_t cap = BNC_MSG_ARENA(size), i;
  char *arena = malloc(cap);
  int rc;
  if (!arena) return 0;
  rc = bnc_message_parse(buf, size, rules, want, 2, arena, cap, &msg);
  if (rc == BNC_OK) {
    if (msg.nrcpt < 1 || msg.nrcpt > BNC_MSG_RCPTS || !msg.format) abort();
    for (i = 0; i < msg.nrcpt; i++) {
      const bnc_msg_rcpt_t *r = &msg.rcpt[i];
      check_str(r->rcpt, buf, size, arena, cap);
      check_str(r->diag, buf, size, arena, cap);
      check_str(r->text, buf, size, arena, cap);
      check_str(r->rhost, buf, size, arena, cap);
      if ((int)r->cls.reason < 0 || r->cls.reason >= BNC_R__COUNT) abort();
      if ((int)r->cls.type < 0 || r->cls.type >= BNC_T__COUNT) abort();
      if (r->cls.type != bnc_reason_type(r->cls.reason, r->cls.permanent)) abort();
      if (r->cls.rule >= (int)bnc_ruleset_count(rules) || !r->cls.source[0]) abort();
      if (r->delayed && r->cls.reason == BNC_R_ONHOLD) abort();   /* a warning is not unread */
    }
    check_str(msg.subject, buf, size, arena, cap);
    check_str(msg.want[0], buf, size, arena, cap);
  } else if (rc != BNC_EEMPTY && rc != BNC_ENOTBOUNCE) {
    abort();
  }
  if (msg.parts > BNC_MSG_PARTS) abort();
  free(arena);
  return 0;
}
