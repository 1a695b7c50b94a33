/*
 * fuzz_pattern.c - the bounded pattern matcher (pattern.c) on any pattern
 * and subject: no read out of bounds, every call ends within its budget,
 * and a match ends inside the subject with its captures inside it too.
 * The first byte says where the pattern ends and the subject begins.
 */
#include <stdint.h>
#include <stdlib.h>
#include "pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p, *s;
  size_t plen, slen, at, end = 0;
  bnc_pat_t m;
  int i;
  if (size < 1) return 0;
  plen = data[0];
  if (plen > size - 1) plen = size - 1;
  p = (const char *)data + 1;
  s = p + plen;
  slen = size - 1 - plen;
  m.budget = 200000;
  for (at = 0; at <= slen; at++) {
    bnc_pat_status_t st = bnc_pat_match(&m, s, slen, at, p, plen, &end);
    if (st == BNC_PAT_MATCH) {
      if (end < at || end > slen || m.level < 0 || m.level > BNC_PAT_MAXCAPS) abort();
      for (i = 0; i < m.level; i++) {
        size_t len = m.cap[i].len;
        if (m.cap[i].start > slen) abort();
        if (len != BNC_PAT_POSITION && len != BNC_PAT_UNFINISHED && m.cap[i].start + len > slen) abort();
      }
    }
    if (st == BNC_PAT_MALFORMED || st == BNC_PAT_COMPLEX) { if (!m.err) abort(); break; }
    if (st == BNC_PAT_BUDGET) { if (m.budget != 0) abort(); break; }
  }
  return 0;
}
