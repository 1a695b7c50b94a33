/*
 * mailbox.c - the syntax check of an address for verification (see
 * mailbox.h): local part, domain (through idn.c), address literals, the
 * RFC 5321 length limits, and a reason naming the byte at fault. One pass
 * over the input, no allocation.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "ascii.h"
#include "idn.h"
#include "mailbox.h"

static const char *bad(bnc_mailbox_t *out, size_t pos, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out->why, sizeof out->why, fmt, ap);
  va_end(ap);
  out->pos = pos;
  out->addr[0] = '\0';
  out->len = out->at = 0;
  return out->why;
}

/* RFC 5322 atext: the bytes of a dot-string atom below 128. */
static int atext(unsigned char c) {
  return c > 32 && c < 127 && !strchr("()<>[]:;@\\,.\"", c);
}


/* Why byte c cannot stand unquoted in a local part. */
static const char *unquoted(bnc_mailbox_t *out, size_t pos, unsigned char c) {
  if (bnc_is_space(c)) return bad(out, pos, "white space in the local part (at byte %zu; it would need quotes)", pos);
  if (c < 32 || c == 127) return bad(out, pos, "a control character (0x%02X) at byte %zu", c, pos);
  return bad(out, pos, "'%c' in the local part (at byte %zu) must be quoted", c, pos);
}

/* Checks that s[0..n) is a dot-string (base: where it starts in the input);
 * returns NULL or what is wrong. */
static const char *dot_string(const char *s, size_t n, size_t base, bnc_mailbox_t *out) {
  size_t i = 0;
  if (n == 0) return bad(out, base, "an empty local part");
  if (s[0] == '.') return bad(out, base, "the local part starts with '.'");
  if (s[n - 1] == '.') return bad(out, base + n - 1, "the local part ends with '.' (at byte %zu)", base + n - 1);
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    if (c == '.' && s[i + 1] == '.') return bad(out, base + i, "'..' in the local part (at byte %zu)", base + i);
    if (c >= 0x80) {
      uint32_t cp;
      if (!bnc_utf8_next(s, n, &i, &cp)) return bad(out, base + i, "invalid UTF-8 at byte %zu", base + i);
      out->flags |= BNC_MB_UTF8;
      continue;
    }
    if (c != '.' && !atext(c)) return unquoted(out, base + i, c);
    i++;
  }
  return NULL;
}

/* The quoted local part at s[b] == '"' of s[0..e): checks it, writes it into
 * out->addr (without its quotes when a dot-string says the same) and sets
 * *next to the byte after the closing quote. */
static const char *quoted_local(const char *s, size_t b, size_t e, size_t *next, bnc_mailbox_t *out) {
  char plain[BNC_MAILBOX_IN_MAX];
  size_t i = b + 1, n = 0, len;
  while (i < e && s[i] != '"') {
    unsigned char c = (unsigned char)s[i];
    if (c == '\\') {
      unsigned char d = i + 1 < e ? (unsigned char)s[i + 1] : 0;
      if (d < 32 || d > 126)
        return bad(out, i, "a backslash before a byte that is not printable ASCII (at byte %zu)", i);
      plain[n++] = (char)d;
      i += 2;
    } else if (c >= 0x80) {
      size_t j = i;
      uint32_t cp;
      if (!bnc_utf8_next(s, e, &j, &cp)) return bad(out, i, "invalid UTF-8 at byte %zu", i);
      out->flags |= BNC_MB_UTF8;
      while (i < j) plain[n++] = s[i++];
    } else if (c < 32 || c == 127) {
      return bad(out, i, "a control character (0x%02X) at byte %zu", c, i);
    } else {
      plain[n++] = (char)c;
      i++;
    }
  }
  if (i >= e) return bad(out, b, "an unterminated quoted local part (from byte %zu)", b);
  if (n == 0) return bad(out, b, "an empty quoted local part");
  *next = i + 1;
  if (dot_string(plain, n, b, out) == NULL) {        /* "ann" is ann */
    if (n > 64) return bad(out, b, "a local part longer than 64 bytes (RFC 5321 4.5.3.1.1)");
    memcpy(out->addr, plain, n);
    out->at = n;
    return NULL;
  }
  len = i + 1 - b;
  if (len > 64) return bad(out, b, "a local part longer than 64 bytes (RFC 5321 4.5.3.1.1)");
  memcpy(out->addr, s + b, len);
  out->at = len;
  out->flags |= BNC_MB_QUOTED;
  return NULL;
}

/* 1..3 digits worth 0..255 at s[*i]. */
static int snum(const char *s, size_t e, size_t *i) {
  unsigned v = 0, k = 0;
  while (*i < e && k < 3 && s[*i] >= '0' && s[*i] <= '9') {
    v = v * 10 + (unsigned)(s[*i] - '0');
    (*i)++;
    k++;
  }
  return k > 0 && v <= 255 && !(*i < e && s[*i] >= '0' && s[*i] <= '9');
}

static int ipv4(const char *s, size_t b, size_t e) {
  size_t i = b, k;
  for (k = 0; k < 4; k++) {
    if (k > 0) {
      if (i >= e || s[i] != '.') return 0;
      i++;
    }
    if (!snum(s, e, &i)) return 0;
  }
  return i == e;
}

static int hexdig(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 5321 4.1.3 IPv6-addr: 8 groups, or at most 6 around one "::"; the
 * last two may be an IPv4 address. */
static int ipv6(const char *s, size_t b, size_t e) {
  size_t i = b, groups = 0;
  int gap = 0;
  if (e - b >= 2 && s[b] == ':' && s[b + 1] == ':') { gap = 1; i += 2; }
  else if (i < e && s[i] == ':') return 0;
  while (i < e) {
    size_t st = i, k = 0, dot;
    for (dot = i; dot < e && s[dot] != ':'; dot++)
      if (s[dot] == '.') break;
    if (dot < e && s[dot] == '.') {                 /* a trailing IPv4 address */
      if (!ipv4(s, st, e)) return 0;
      groups += 2;
      i = e;
      break;
    }
    while (i < e && k < 4 && hexdig((unsigned char)s[i])) {
      i++;
      k++;
    }
    if (k == 0 || (i < e && s[i] != ':')) return 0;
    groups++;
    if (i == e) break;
    i++;                                            /* ':' */
    if (i < e && s[i] == ':') {
      if (gap) return 0;
      gap = 1;
      i++;
    } else if (i == e) {
      return 0;                                     /* a single trailing ':' */
    }
  }
  return gap ? groups <= 6 : groups == 8;
}

/* The address literal s[d..e) (s[d] == '['), copied lower-cased with the
 * tag written "IPv6:". */
static const char *literal(const char *s, size_t d, size_t e, bnc_mailbox_t *out) {
  size_t j, o = out->at + 1;
  int ok;
  if (s[e - 1] != ']') return bad(out, e - 1, "an address literal without its closing ']'");
  if (e - d > 5 + 1 && bnc_iprefix(s + d + 1, e - d - 2, "IPv6:")) ok = ipv6(s, d + 6, e - 1);
  else ok = ipv4(s, d + 1, e - 1);
  if (!ok) return bad(out, d, "an address literal that is neither [IPv4] nor [IPv6:...] (at byte %zu)", d);
  if (o + (e - d) > BNC_MAILBOX_MAX) return bad(out, d, "longer than 254 bytes (RFC 5321 4.5.3.1.3)");
  for (j = d; j < e; j++) out->addr[o++] = (char)bnc_lower((unsigned char)s[j]);
  if (out->addr[out->at + 2] == 'i') memcpy(out->addr + out->at + 2, "IPv6", 4);
  out->len = o;
  out->flags |= BNC_MB_LITERAL;
  return NULL;
}

/* The rules on each A-label of a[0..n) beyond what idn.c checks. pos: where
 * the domain starts in the input, exact offsets when it was ASCII. */
static const char *labels(const char *a, size_t n, size_t pos, int exact, bnc_mailbox_t *out) {
  size_t i = 0, count = 0, last = 0;
  while (i < n) {
    size_t e = i, j;
    int digits = 1;
    while (e < n && a[e] != '.') e++;
    for (j = i; j < e; j++) {
      unsigned char c = (unsigned char)a[j];
      size_t at = exact ? pos + j : pos;
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
        if (bnc_is_space(c)) return bad(out, at, "white space in the domain (at byte %zu)", at);
        if (c < 32 || c == 127) return bad(out, at, "a control character (0x%02X) in the domain", c);
        return bad(out, at, "'%c' in the domain (at byte %zu): letters, digits, '-' and '.' only", c, at);
      }
      if (c < '0' || c > '9') digits = 0;
    }
    if (a[i] == '-' || a[e - 1] == '-')
      return bad(out, exact ? pos + i : pos, "a domain label that starts or ends with '-' ('%.*s')",
                 (int)(e - i), a + i);
    if (e - i >= 4 && a[i + 2] == '-' && a[i + 3] == '-' && !(a[i] == 'x' && a[i + 1] == 'n'))
      return bad(out, exact ? pos + i : pos, "a domain label with '--' in its third and fourth places "
                 "('%.*s'; reserved, as in xn--)", (int)(e - i), a + i);
    count++;
    last = digits;
    i = e + 1;
  }
  if (count < 2) return bad(out, pos, "a domain of one label ('%.*s'): mail needs a dot, as in example.com",
                            (int)n, a);
  if (last) return bad(out, pos, "a top-level domain of digits only (an IP address goes in brackets: [192.0.2.1])");
  return NULL;
}

static const char *domain(const char *s, size_t d, size_t e, bnc_mailbox_t *out) {
  char a[BNC_IDN_ASCII_MAX];
  size_t alen, j;
  bnc_idn_err_t err = { 0, 0 };
  const char *why;
  int ascii = 1;
  if (d == e) return bad(out, d, "nothing after '@'");
  if (s[d] == '[') return literal(s, d, e, out);
  for (j = d; j < e; j++) {
    if (s[j] == '@') return bad(out, j, "a second '@' (at byte %zu)", j);
    if ((unsigned char)s[j] >= 0x80) ascii = 0;
  }
  why = bnc_idn_to_ascii(s + d, e - d, a, sizeof a, &alen, &err);
  if (why) {
    if (err.cp) return bad(out, d + err.pos, "domain: U+%04X at byte %zu: %s", (unsigned)err.cp, d + err.pos, why);
    return bad(out, d + err.pos, "domain: %s (at byte %zu)", why, d + err.pos);
  }
  if ((why = labels(a, alen, d, ascii, out)) != NULL) return why;
  if (!ascii) out->flags |= BNC_MB_IDN;
  if (out->at + 1 + alen > BNC_MAILBOX_MAX) return bad(out, d, "longer than 254 bytes (RFC 5321 4.5.3.1.3)");
  memcpy(out->addr + out->at + 1, a, alen);
  out->len = out->at + 1 + alen;
  return NULL;
}

const char *bnc_mailbox_check(const char *s, size_t len, bnc_mailbox_t *out) {
  size_t b = 0, e = len, at;
  const char *why;
  out->len = out->at = 0;
  out->flags = 0;
  out->pos = 0;
  out->why[0] = '\0';
  out->addr[0] = '\0';
  if (len > BNC_MAILBOX_IN_MAX) return bad(out, 0, "longer than 254 bytes (RFC 5321 4.5.3.1.3)");
  while (b < e && bnc_is_space((unsigned char)s[b])) b++;
  while (e > b && bnc_is_space((unsigned char)s[e - 1])) e--;
  if (b < e && s[b] == '<') {
    if (s[e - 1] != '>') return bad(out, b, "a '<' without its '>'");
    b++;
    e--;
  }
  if (b == e) return bad(out, b, "an empty address");
  if (s[b] == '"') {
    if ((why = quoted_local(s, b, e, &at, out)) != NULL) return why;
    if (at >= e || s[at] != '@') return bad(out, at, "no '@' after the quoted local part (at byte %zu)", at);
  } else {
    const char *p = memchr(s + b, '@', e - b);
    if (!p) return bad(out, b, "no '@': expected local@domain");
    at = (size_t)(p - s);
    if ((why = dot_string(s + b, at - b, b, out)) != NULL) return why;
    if (at - b > 64) return bad(out, b, "a local part longer than 64 bytes (RFC 5321 4.5.3.1.1)");
    memcpy(out->addr, s + b, at - b);
    out->at = at - b;
  }
  out->addr[out->at] = '@';
  if ((why = domain(s, at + 1, e, out)) != NULL) return why;
  out->addr[out->len] = '\0';
  out->why[0] = '\0';                              /* a quoted part's trial may have left one */
  out->pos = 0;
  return NULL;
}
