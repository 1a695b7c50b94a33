/*
 * test_pattern.c - the bounded pattern matcher (pattern.c): Lua's pattern
 * language on ordinary cases, and catastrophic backtracking stopped by the
 * step budget instead of running for ever.
 */
#include "check.h"
#include "pattern.h"

/* Match p anywhere in s (no '^' handling); returns the status, start and end. */
static bnc_pat_status_t find(const char *s, const char *p, unsigned long budget,
                             size_t *start, size_t *end) {
  bnc_pat_t m;
  size_t at, sl = strlen(s), pl = strlen(p);
  m.budget = budget;
  for (at = 0; at <= sl; at++) {
    bnc_pat_status_t st = bnc_pat_match(&m, s, sl, at, p, pl, end);
    if (st != BNC_PAT_NOMATCH) { *start = at; return st; }
  }
  return BNC_PAT_NOMATCH;
}

int main(void) {
  size_t a = 0, e = 0, pos = 0;
  bnc_pat_t m;
  unsigned long budget = 1000;
  CHECK_INT(find("user@example.com", "@(%w+)%.", 100000, &a, &e), BNC_PAT_MATCH);
  CHECK_INT(a, 4);
  CHECK_INT(e, 13);
  CHECK_INT(find("550 5.1.1 unknown", "%d%.%d+%.%d+", 100000, &a, &e), BNC_PAT_MATCH);
  CHECK_INT(a, 4);
  CHECK_INT(find("abc", "[%d]", 100000, &a, &e), BNC_PAT_NOMATCH);
  CHECK_INT(find("x(a(b)c)y", "%b()", 100000, &a, &e), BNC_PAT_MATCH);
  CHECK_INT(a, 1);
  CHECK_INT(e, 8);
  CHECK_INT(find("abab", "(ab)%1$", 100000, &a, &e), BNC_PAT_MATCH);
  CHECK_INT(find("abc", "[a", 100000, &a, &e), BNC_PAT_MALFORMED);
  CHECK_INT(find("abc", "a%", 100000, &a, &e), BNC_PAT_MALFORMED);
  /* 30 a's against ten a* and a b: exponential in Lua's own matcher */
  CHECK_INT(find("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "a*a*a*a*a*a*a*a*a*a*b", 1000000, &a, &e),
            BNC_PAT_BUDGET);
  m.budget = 100000;
  CHECK_INT(bnc_pat_match(&m, "a", 1, 0, "((((((((((((((((((((((((((((((((((a", 35, &e),
            BNC_PAT_COMPLEX);
  CHECK(bnc_pat_has_specials("a.b", 3));
  CHECK(!bnc_pat_has_specials("abc", 3));
  CHECK_INT(bnc_pat_find_plain(&budget, "hello world", 11, 0, "world", 5, &pos), 1);
  CHECK_INT(pos, 6);
  return DONE();
}
