/*
 * ascii.h - byte helpers of the parsers: ASCII case folding and the
 * comparisons built on it. Mail's keywords (header names, SMTP verbs, MIME
 * types) are ASCII and compared without regard to case (RFC 5322 1.2.2,
 * RFC 2045 5.1); bytes beyond ASCII are compared as they are.
 * Header-only: static inline, so each parser gets its own inlined copy.
 */
#ifndef BNC_ASCII_H
#define BNC_ASCII_H

#include <stddef.h>
#include <string.h>

static inline int bnc_lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
static inline int bnc_upper(int c) { return c >= 'a' && c <= 'z' ? c - 32 : c; }
/* Blanks inside a line (RFC 5234 WSP), line ends, and both with VT and FF
 * (what C's isspace says in the C locale, whatever the locale is). */
static inline int bnc_is_wsp(int c) { return c == ' ' || c == '\t'; }
static inline int bnc_is_eol(int c) { return c == '\r' || c == '\n'; }
static inline int bnc_is_space(int c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Whether a[0..an) is the C string b ignoring ASCII case. b is walked to its
 * NUL as it is compared (no strlen first): most calls differ at once. */
static inline int bnc_ieq(const char *a, size_t an, const char *b) {
  size_t i;
  for (i = 0; i < an; i++)
    if (!b[i] || bnc_lower((unsigned char)a[i]) != bnc_lower((unsigned char)b[i])) return 0;
  return b[an] == '\0';
}

/* Whether a[0..an) opens with the C string b ignoring ASCII case. */
static inline int bnc_iprefix(const char *a, size_t an, const char *b) {
  size_t i;
  for (i = 0; b[i]; i++)
    if (i >= an || bnc_lower((unsigned char)a[i]) != bnc_lower((unsigned char)b[i])) return 0;
  return 1;
}

/* The same two with a needle known to be lower case (a literal of the
 * parsers): only a is folded, and the needle's length is taken first. */
static inline int bnc_ieq_lc(const char *a, const char *lc, size_t k) {
  size_t i;
  for (i = 0; i < k; i++)
    if (bnc_lower((unsigned char)a[i]) != lc[i]) return 0;
  return 1;
}

static inline int bnc_iprefix_lc(const char *a, size_t an, const char *lc) {
  size_t k = strlen(lc);
  return k <= an && bnc_ieq_lc(a, lc, k);
}

/* Whether a[0..k) equals b[0..k) ignoring ASCII case. Equal words of 8
 * bytes are passed whole (the bytes often agree in case too), the rest
 * compared folded. */
static inline int bnc_ieq_n(const char *a, const char *b, size_t k) {
  size_t i = 0;
  for (; k - i >= 8; i += 8) {
    unsigned long long x, y;
    memcpy(&x, a + i, 8);
    memcpy(&y, b + i, 8);
    if (x != y) break;
  }
  for (; i < k; i++)
    if (a[i] != b[i] && bnc_lower((unsigned char)a[i]) != bnc_lower((unsigned char)b[i])) return 0;
  return 1;
}

#endif
