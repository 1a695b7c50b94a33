/*
 * address.c - normalised recipient addresses (see address.h). One pass,
 * no allocation.
 */
#include <string.h>
#include "address.h"

static int space(unsigned char c) { return c == ' ' || (c >= 9 && c <= 13); }

/* Bytes that may not appear in an unquoted address (besides '@'). */
static int bad(unsigned char c, int domain) {
  if (c <= 32 || c == 127 || c == '<' || c == '>' || c == '"') return 1;
  if (!domain) return 0;
  return c == '(' || c == ')' || c == '[' || c == ']' || c == '\\' || c == ',' ||
         c == ';' || c == ':';
}

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c; }

const char *bnc_address_normalize(const char *s, size_t len, int case_sensitive,
                                  char *out, size_t *olen, size_t *at) {
  size_t b = 0, e = len, i, a = (size_t)-1;
  while (b < e && space((unsigned char)s[b])) b++;
  while (e > b && space((unsigned char)s[e - 1])) e--;
  if (b < e && s[b] == '<') {
    if (s[e - 1] != '>') return "expected local@domain";
    b++; e--;
    while (b < e && space((unsigned char)s[b])) b++;
    while (e > b && space((unsigned char)s[e - 1])) e--;
  }
  if (e - b > BNC_ADDRESS_MAX) return "longer than RFC 5321 allows";
  for (i = b; i < e; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '@') {
      if (a != (size_t)-1) return "expected local@domain";
      a = i - b;
    } else if (bad(c, a != (size_t)-1)) {
      return "expected local@domain";
    }
    out[i - b] = (a == (size_t)-1 && case_sensitive) ? (char)c : lower((char)c);
  }
  *olen = e - b;
  if (a == (size_t)-1 || a == 0 || a + 1 == *olen) return "expected local@domain";
  if (a > 64) return "longer than RFC 5321 allows";
  if (out[a + 1] == '.' || out[*olen - 1] == '.' ||
      memchr(out + a + 1, '.', *olen - a - 1) != NULL) {
    const char *d = out + a + 1;
    size_t n = *olen - a - 1, j;
    if (d[0] == '.' || d[n - 1] == '.') return "empty label in domain";
    for (j = 0; j + 1 < n; j++)
      if (d[j] == '.' && d[j + 1] == '.') return "empty label in domain";
  }
  *at = a;
  return NULL;
}
