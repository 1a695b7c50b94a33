/*
 * pattern.c - Lua's pattern language under a step budget (see pattern.h):
 * a backtracking matcher over (pointer, length) strings in which every step
 * is paid for, and any failure (budget, malformed pattern, depth) stops all
 * pending backtracking at once through m->status.
 */
#include <ctype.h>
#include <string.h>
#include "ascii.h"
#include "pattern.h"

#define ESC '%'
#define SPECIALS "^$*+?.([%-"

typedef const char cc;

/* Spend one step; on the last one the whole match stops. */
static int pay(bnc_pat_t *m, unsigned long n) {
  if (m->budget < n) {
    m->budget = 0;
    m->status = BNC_PAT_BUDGET;
    return 0;
  }
  m->budget -= n;
  return 1;
}

static cc *bad(bnc_pat_t *m, const char *why) {
  if (m->status == BNC_PAT_MATCH) {
    m->status = BNC_PAT_MALFORMED;
    m->err = why;
  }
  return NULL;
}

/* The end of the single-character class at p (past a %x or a [set]). */
static cc *class_end(bnc_pat_t *m, cc *p) {
  char c = *p++;
  if (c == ESC) {
    if (p >= m->p_end) return bad(m, "malformed pattern (ends with '%')");
    return p + 1;
  }
  if (c == '[') {
    if (p < m->p_end && *p == '^') p++;
    do {                       /* the first character is a member, even ']' */
      if (p >= m->p_end) return bad(m, "malformed pattern (missing ']')");
      c = *p++;
      if (c == ESC && p < m->p_end) p++;
    } while (p >= m->p_end || *p != ']');
    return p + 1;
  }
  return p;
}

static int class_match(int c, int cl) {
  int r;
  switch (bnc_lower(cl)) {
    case 'a': r = isalpha(c); break;
    case 'c': r = iscntrl(c); break;
    case 'd': r = isdigit(c); break;
    case 'g': r = isgraph(c); break;
    case 'l': r = islower(c); break;
    case 'p': r = ispunct(c); break;
    case 's': r = isspace(c); break;
    case 'u': r = isupper(c); break;
    case 'w': r = isalnum(c); break;
    case 'x': r = isxdigit(c); break;
    default: return cl == c;
  }
  if (isupper(cl)) r = !r;
  return r != 0;
}

/* c against the set p[0] = '[' .. ec[0] = ']'. */
static int set_match(int c, cc *p, cc *ec) {
  int sig = 1;
  if (p[1] == '^') { sig = 0; p++; }
  while (++p < ec) {
    if (*p == ESC) {
      p++;
      if (class_match(c, (unsigned char)*p)) return sig;
    } else if (p + 2 < ec && p[1] == '-') {
      p += 2;
      if ((unsigned char)p[-2] <= c && c <= (unsigned char)*p) return sig;
    } else if ((unsigned char)*p == c) {
      return sig;
    }
  }
  return !sig;
}

static int single(bnc_pat_t *m, cc *s, cc *p, cc *ep) {
  int c;
  if (s >= m->src_end) return 0;
  c = (unsigned char)*s;
  switch (*p) {
    case '.': return 1;
    case ESC: return class_match(c, (unsigned char)p[1]);
    case '[': return set_match(c, p, ep - 1);
    default: return (unsigned char)*p == c;
  }
}

static cc *match(bnc_pat_t *m, cc *s, cc *p);

static cc *max_expand(bnc_pat_t *m, cc *s, cc *p, cc *ep) {
  size_t i = 0;
  while (single(m, s + i, p, ep)) {
    if (!pay(m, 1)) return NULL;
    i++;
  }
  for (;;) {
    cc *r = match(m, s + i, ep + 1);
    if (r || m->status != BNC_PAT_MATCH) return r;
    if (i == 0) return NULL;
    i--;
  }
}

static cc *min_expand(bnc_pat_t *m, cc *s, cc *p, cc *ep) {
  for (;;) {
    cc *r = match(m, s, ep + 1);
    if (r || m->status != BNC_PAT_MATCH) return r;
    if (!single(m, s, p, ep)) return NULL;
    if (!pay(m, 1)) return NULL;
    s++;
  }
}

static cc *open_capture(bnc_pat_t *m, cc *s, cc *p, size_t what) {
  cc *r;
  if (m->level >= BNC_PAT_MAXCAPS) {
    m->status = BNC_PAT_COMPLEX;
    m->err = "too many captures";
    return NULL;
  }
  m->cap[m->level].start = (size_t)(s - m->src);
  m->cap[m->level].len = what;
  m->level++;
  r = match(m, s, p);
  if (!r) m->level--;
  return r;
}

static cc *close_capture(bnc_pat_t *m, cc *s, cc *p) {
  int l;
  cc *r;
  for (l = m->level - 1; l >= 0; l--)
    if (m->cap[l].len == BNC_PAT_UNFINISHED) break;
  if (l < 0) return bad(m, "invalid pattern capture");
  m->cap[l].len = (size_t)(s - m->src) - m->cap[l].start;
  r = match(m, s, p);
  if (!r) m->cap[l].len = BNC_PAT_UNFINISHED;
  return r;
}

static cc *balance(bnc_pat_t *m, cc *s, cc *p) {
  int depth = 1;
  if (p + 1 >= m->p_end) return bad(m, "malformed pattern (missing arguments to '%b')");
  if (s >= m->src_end || *s != *p) return NULL;
  while (++s < m->src_end) {
    if (!pay(m, 1)) return NULL;
    if (*s == p[1]) {
      if (--depth == 0) return s + 1;
    } else if (*s == *p) {
      depth++;
    }
  }
  return NULL;
}

static cc *back_reference(bnc_pat_t *m, cc *s, int digit) {
  int l = digit - '1';
  size_t len;
  if (l < 0 || l >= m->level || m->cap[l].len == BNC_PAT_UNFINISHED)
    return bad(m, "invalid capture index in pattern");
  len = m->cap[l].len;
  if (len == BNC_PAT_POSITION) return NULL;
  if (!pay(m, 1 + len / 16)) return NULL;
  if ((size_t)(m->src_end - s) >= len && memcmp(m->src + m->cap[l].start, s, len) == 0)
    return s + len;
  return NULL;
}

static cc *frontier(bnc_pat_t *m, cc *s, cc **pp) {
  cc *p = *pp + 2, *ep;
  int prev, cur;
  if (p >= m->p_end || *p != '[') return bad(m, "missing '[' after '%f' in pattern");
  ep = class_end(m, p);
  if (!ep) return NULL;
  prev = s == m->src ? 0 : (unsigned char)s[-1];
  cur = s < m->src_end ? (unsigned char)*s : 0;
  *pp = ep;
  if (!set_match(prev, p, ep - 1) && set_match(cur, p, ep - 1)) return s;
  return NULL;
}

/* The matching step: s against the pattern from p to m->p_end. Returns the
 * end of the match, or NULL (m->status tells a failure from no match). */
static cc *match(bnc_pat_t *m, cc *s, cc *p) {
  cc *r = NULL;
  if (m->depth-- == 0) {
    m->status = BNC_PAT_COMPLEX;
    m->err = "pattern too complex";
    return NULL;
  }
  for (;;) {
    cc *ep;
    if (!pay(m, 1)) break;
    if (p >= m->p_end) { r = s; break; }
    if (*p == '(') {
      if (p + 1 < m->p_end && p[1] == ')') r = open_capture(m, s, p + 2, BNC_PAT_POSITION);
      else r = open_capture(m, s, p + 1, BNC_PAT_UNFINISHED);
      break;
    }
    if (*p == ')') { r = close_capture(m, s, p + 1); break; }
    if (*p == '$' && p + 1 == m->p_end) { r = s == m->src_end ? s : NULL; break; }
    if (*p == ESC && p + 1 < m->p_end && p[1] == 'b') {
      s = balance(m, s, p + 2);
      if (!s) break;
      p += 4;
      continue;
    }
    if (*p == ESC && p + 1 < m->p_end && p[1] == 'f') {
      s = frontier(m, s, &p);
      if (!s) break;
      continue;
    }
    if (*p == ESC && p + 1 < m->p_end && isdigit((unsigned char)p[1])) {
      s = back_reference(m, s, (unsigned char)p[1]);
      if (!s) break;
      p += 2;
      continue;
    }
    ep = class_end(m, p);
    if (!ep) break;
    if (!single(m, s, p, ep)) {
      if (ep < m->p_end && (*ep == '*' || *ep == '?' || *ep == '-')) { p = ep + 1; continue; }
      break;                                   /* r stays NULL: no match */
    }
    if (ep < m->p_end && *ep == '?') {
      r = match(m, s + 1, ep + 1);
      if (r || m->status != BNC_PAT_MATCH) break;
      p = ep + 1;
      continue;
    }
    if (ep < m->p_end && *ep == '+') { r = max_expand(m, s + 1, p, ep); break; }
    if (ep < m->p_end && *ep == '*') { r = max_expand(m, s, p, ep); break; }
    if (ep < m->p_end && *ep == '-') { r = min_expand(m, s, p, ep); break; }
    s++;
    p = ep;
  }
  m->depth++;
  return m->status == BNC_PAT_MATCH ? r : NULL;
}

bnc_pat_status_t bnc_pat_match(bnc_pat_t *m, const char *s, size_t slen, size_t at,
                               const char *p, size_t plen, size_t *end) {
  cc *r;
  m->src = s;
  m->src_end = s + slen;
  m->p_end = p + plen;
  m->level = 0;
  m->depth = BNC_PAT_MAXDEPTH;
  m->status = BNC_PAT_MATCH;
  m->err = NULL;
  r = match(m, s + at, p);
  if (m->status != BNC_PAT_MATCH) return m->status;
  if (!r) return BNC_PAT_NOMATCH;
  *end = (size_t)(r - s);
  return BNC_PAT_MATCH;
}

int bnc_pat_has_specials(const char *p, size_t plen) {
  size_t i;
  for (i = 0; i < plen; i++)
    if (p[i] != '\0' && strchr(SPECIALS, p[i])) return 1;
  return 0;
}

int bnc_pat_find_plain(unsigned long *budget, const char *s, size_t slen, size_t at,
                       const char *needle, size_t nlen, size_t *pos) {
  size_t i;
  unsigned long cost = 1 + (unsigned long)(nlen / 16);
  if (nlen == 0) { *pos = at; return 1; }
  if (at > slen || nlen > slen - at) return 0;
  for (i = at; i + nlen <= slen; i++) {
    const char *hit;
    if (*budget < cost) { *budget = 0; return -1; }
    *budget -= cost;
    hit = memchr(s + i, needle[0], slen - nlen + 1 - i);
    if (!hit) return 0;
    i = (size_t)(hit - s);
    if (memcmp(s + i, needle, nlen) == 0) { *pos = i; return 1; }
  }
  return 0;
}
