/*
 * verp.c - VERP return paths (see verp.h). One pass, no allocation.
 */
#include <string.h>
#include "ascii.h"
#include "verp.h"

const char *bnc_verp_decode(const char *s, size_t len, const char *prefix, size_t plen,
                            char *out, size_t cap, size_t *olen) {
  size_t b = 0, e = len, at, eq, i;
  while (b < e && bnc_is_space((unsigned char)s[b])) b++;
  while (e > b && bnc_is_space((unsigned char)s[e - 1])) e--;
  if (b < e && s[b] == '<' && s[e - 1] == '>') { b++; e--; }
  for (at = e; at > b && s[at - 1] != '@'; at--) {}
  if (at == b) return "not an address";
  at--;                                              /* s[at] == '@' */
  if (at - b < plen || !bnc_ieq_n(s + b, prefix, plen)) return "no such prefix";
  b += plen;
  for (eq = at; eq > b && s[eq - 1] != '='; eq--) {}
  if (eq == b || eq - 1 == b || eq == at) return "no local=domain after the prefix";
  eq--;                                              /* s[eq] == '=' */
  if (at - b > cap) return "longer than RFC 5321 allows";
  for (i = b; i < at; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= 32 || c == 127 || c == '<' || c == '>') return "not an address";
    out[i - b] = (char)c;
  }
  out[eq - b] = '@';
  *olen = at - b;
  return NULL;
}

/* Bytes that end the address token find reads: white space, brackets,
 * quotes and the separators of header fields. */
static int verp_stop(unsigned char c) {
  return c <= 32 || c == 127 || c == '<' || c == '>' || c == '"' || c == '\'' || c == '(' ||
         c == ')' || c == ',' || c == ';' || c == ':';
}

int bnc_verp_find(const char *s, size_t len, const char *prefix, size_t plen,
                  char *out, size_t cap, size_t *olen) {
  size_t n = len < BNC_VERP_SCAN ? len : BNC_VERP_SCAN, i;
  char lo, up;
  if (plen == 0) return 0;
  lo = (char)bnc_lower((unsigned char)prefix[0]);
  up = (char)bnc_upper((unsigned char)lo);
  for (i = 0; i + plen <= n; i++) {
    size_t e, at = 0;
    if ((s[i] != lo && s[i] != up) || !bnc_ieq_n(s + i, prefix, plen)) continue;
    if (i > 0 && !verp_stop((unsigned char)s[i - 1])) continue;
    for (e = i + plen; e < n && !verp_stop((unsigned char)s[e]); e++)
      if (s[e] == '@') at = e;
    if (at && at + 1 < e && e - i <= BNC_ADDRESS_MAX &&
        !bnc_verp_decode(s + i, e - i, prefix, plen, out, cap, olen))
      return 1;
    i = e > i ? e - 1 : i;                           /* the token is spent */
  }
  return 0;
}
