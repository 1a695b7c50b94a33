/*
 * address.c - normalised recipient addresses (see address.h). One pass,
 * no allocation.
 */
#include <string.h>
#include "ascii.h"
#include "address.h"
#include "idn.h"

/* Bytes that may not appear in an unquoted address (besides '@'). */
static int bad(unsigned char c, int domain) {
  if (c <= 32 || c == 127 || c == '<' || c == '>' || c == '"') return 1;
  if (!domain) return 0;
  return c == '(' || c == ')' || c == '[' || c == ']' || c == '\\' || c == ',' ||
         c == ';' || c == ':';
}


/* RFC 5322 atext: the bytes of a dot-atom local part besides '.'. */
static int atext(unsigned char c) {
  return c > 32 && c < 127 && !strchr("()<>[]:;@\\,.\"", c);
}

/* A quoted local part s[b..e) (s[b] == '"') into out: its closing quote
 * must come before the '@'. Returns what is wrong, or NULL and sets *ol
 * (bytes written) and *end (the byte after the closing quote). A quoted
 * string that a dot-atom could say ("ann"@x) loses its quotes, so both
 * spellings are one key (RFC 5321 4.1.2 prefers the dot-atom). */
static const char *quoted_local(const char *s, size_t b, size_t e, int cs, char *out,
                                size_t *ol, size_t *end) {
  size_t q = b + 1, o = 1, j;
  int atom = 1;
  out[0] = '"';
  while (q < e && s[q] != '"') {
    unsigned char c = (unsigned char)s[q];
    if (c == '\\') {                              /* quoted-pair */
      if (q + 1 >= e || (unsigned char)s[q + 1] < 32 || (unsigned char)s[q + 1] > 126)
        return "bad quoted local part";
      out[o++] = '\\';
      c = (unsigned char)s[q + 1];
      q++;
      atom = 0;
    } else if (c < 32 || c > 126) {
      return "bad quoted local part";
    } else if (!atext(c) && c != '.') {
      atom = 0;
    }
    out[o++] = cs ? (char)c : (char)bnc_lower((unsigned char)c);
    q++;
  }
  if (q >= e) return "unterminated quoted local part";
  out[o++] = '"';
  *end = q + 1;
  if (o == 2) return "expected local@domain";     /* "" */
  if (atom && out[1] != '.' && out[o - 2] != '.') {
    for (j = 1; j + 2 < o; j++)
      if (out[j] == '.' && out[j + 1] == '.') break;
    if (j + 2 >= o) {                               /* a dot-atom after all */
      memmove(out, out + 1, o - 2);
      o -= 2;
    }
  }
  *ol = o;
  return NULL;
}

const char *bnc_address_normalize(const char *s, size_t len, int case_sensitive,
                                  char *out, size_t *olen, size_t *at) {
  size_t b = 0, e = len, i, a = (size_t)-1, o = 0;
  unsigned hi = 0;   /* a byte beyond ASCII in the domain */
  unsigned lhi = 0;  /* one in the local part (or a quoted local part) */
  while (b < e && bnc_is_space((unsigned char)s[b])) b++;
  while (e > b && bnc_is_space((unsigned char)s[e - 1])) e--;
  if (b < e && s[b] == '<') {
    if (s[e - 1] != '>') return "expected local@domain";
    b++; e--;
    while (b < e && bnc_is_space((unsigned char)s[b])) b++;
    while (e > b && bnc_is_space((unsigned char)s[e - 1])) e--;
  }
  if (e - b > BNC_ADDRESS_MAX) return "longer than RFC 5321 allows";
  if (b < e && s[b] == '"') {
    const char *why = quoted_local(s, b, e, case_sensitive, out, &o, &i);
    if (why) return why;
    if (i >= e || s[i] != '@') return "expected local@domain";
    lhi = 1;
    a = o;
    out[o++] = '@';
    i++;
  } else {
    i = b;
  }
  for (; i < e; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '@') {
      if (a != (size_t)-1) return "expected local@domain";
      a = o;
    } else if (bad(c, a != (size_t)-1)) {
      return "expected local@domain";
    } else if (a != (size_t)-1) {
      hi |= c & 0x80u;
    } else {
      lhi |= c & 0x80u;
    }
    out[o++] = (a == (size_t)-1 && case_sensitive) ? (char)c : (char)bnc_lower((unsigned char)c);
  }
  *olen = o;
  if (a == (size_t)-1 || a == 0 || a + 1 == *olen) return "expected local@domain";
  if (a > 64) return "longer than RFC 5321 allows";
  if (lhi) {
    /* a local part beyond ASCII is UTF-8 (RFC 6531) or nothing: bytes that
     * are not would be stored, then shown as U+FFFD and never matched */
    size_t j = 0;
    uint32_t cp;
    while (j < a) {
      if ((unsigned char)out[j] < 0x80) { j++; continue; }
      if (!bnc_utf8_next(out, a, &j, &cp)) return "invalid UTF-8 in the local part";
    }
  }
  if (out[a + 1] == '.' || out[*olen - 1] == '.' ||
      memchr(out + a + 1, '.', *olen - a - 1) != NULL) {
    const char *d = out + a + 1;
    size_t n = *olen - a - 1, j;
    if (d[0] == '.' || d[n - 1] == '.') return "empty label in domain";
    for (j = 0; j + 1 < n; j++)
      if (d[j] == '.' && d[j + 1] == '.') return "empty label in domain";
  }
  if (hi) {
    /* one key whichever form the domain comes in: its A-labels (RFC 5890),
     * as SMTP and DNS name it; an ASCII domain skips this */
    char d[BNC_IDN_ASCII_MAX];
    size_t dl;
    const char *why = bnc_idn_to_ascii(out + a + 1, *olen - a - 1, d, sizeof d, &dl, NULL);
    if (why) return why;
    if (a + 1 + dl > BNC_ADDRESS_MAX) return "longer than RFC 5321 allows";
    memcpy(out + a + 1, d, dl);
    *olen = a + 1 + dl;
  }
  *at = a;
  return NULL;
}
