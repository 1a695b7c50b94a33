/*
 * idn.c - domains between their Unicode and A-label forms (see idn.h): a
 * strict UTF-8 decoder, one sorted table of code point ranges saying how
 * each is mapped or why it is refused, the label rules of IDNA2008, and
 * RFC 3492's Punycode both ways, every step bounded by the 63-byte label.
 */
#include <string.h>
#include "ascii.h"
#include "idn.h"

#define LABEL_MAX 63                 /* bytes of a label, and so code points */
#define CP_MAX 0x10FFFFu

/* ---- UTF-8 ------------------------------------------------------------ */

int bnc_utf8_next(const char *s, size_t n, size_t *i, uint32_t *cp) {
  const unsigned char *u = (const unsigned char *)s;
  size_t k = *i, len, j;
  uint32_t c = u[k], min;
  if (c < 0x80) { *cp = c; *i = k + 1; return 1; }
  if (c >= 0xC2 && c <= 0xDF) { len = 2; c &= 0x1F; min = 0x80; }
  else if (c >= 0xE0 && c <= 0xEF) { len = 3; c &= 0x0F; min = 0x800; }
  else if (c >= 0xF0 && c <= 0xF4) { len = 4; c &= 0x07; min = 0x10000; }
  else return 0;
  if (n - k < len) return 0;
  for (j = 1; j < len; j++) {
    if ((u[k + j] & 0xC0) != 0x80) return 0;
    c = (c << 6) | (u[k + j] & 0x3F);
  }
  if (c < min || c > CP_MAX || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  *cp = c;
  *i = k + len;
  return 1;
}

static size_t utf8_put(uint32_t c, char *o) {
  if (c < 0x80) { o[0] = (char)c; return 1; }
  if (c < 0x800) { o[0] = (char)(0xC0 | (c >> 6)); o[1] = (char)(0x80 | (c & 0x3F)); return 2; }
  if (c < 0x10000) {
    o[0] = (char)(0xE0 | (c >> 12));
    o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    o[2] = (char)(0x80 | (c & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | (c >> 18));
  o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
  o[3] = (char)(0x80 | (c & 0x3F));
  return 4;
}

/* ---- the mapping table ------------------------------------------------ */

enum { K_KEEP, K_ADD, K_EVEN, K_ODD, K_SET, K_BAD, K_MARK, K_CASE };

typedef struct {
  uint32_t lo, hi;
  unsigned char kind;
  int32_t arg;       /* K_ADD: the offset; K_SET: the code point */
} range_t;

/* Sorted, non-overlapping; a code point in no range is kept as it is.
 * K_EVEN: an even code point is a capital whose small letter follows it
 * (K_ODD: an odd one). */
static const range_t RANGES[] = {
  { 0x0080, 0x00BF, K_BAD, 0 },     { 0x00C0, 0x00D6, K_ADD, 32 },    { 0x00D7, 0x00D7, K_BAD, 0 },
  { 0x00D8, 0x00DE, K_ADD, 32 },    { 0x00F7, 0x00F7, K_BAD, 0 },     { 0x0100, 0x012F, K_EVEN, 0 },
  { 0x0130, 0x0130, K_CASE, 0 },    { 0x0132, 0x0133, K_BAD, 0 },     { 0x0134, 0x0137, K_EVEN, 0 },
  { 0x0139, 0x0148, K_ODD, 0 },     { 0x0149, 0x0149, K_BAD, 0 },     { 0x014A, 0x0177, K_EVEN, 0 },
  { 0x0178, 0x0178, K_SET, 0xFF },  { 0x0179, 0x017E, K_ODD, 0 },     { 0x017F, 0x017F, K_BAD, 0 },
  { 0x0180, 0x01CC, K_CASE, 0 },    { 0x01CD, 0x01DC, K_ODD, 0 },     { 0x01DE, 0x01EF, K_EVEN, 0 },
  { 0x01F1, 0x01F7, K_CASE, 0 },    { 0x01F8, 0x021F, K_EVEN, 0 },    { 0x0220, 0x0221, K_CASE, 0 },
  { 0x0222, 0x0233, K_EVEN, 0 },    { 0x023A, 0x024F, K_CASE, 0 },    { 0x02B0, 0x02FF, K_BAD, 0 },
  { 0x0300, 0x036F, K_MARK, 0 },    { 0x0370, 0x0373, K_EVEN, 0 },    { 0x0374, 0x0375, K_BAD, 0 },
  { 0x0376, 0x0377, K_EVEN, 0 },    { 0x0378, 0x037A, K_BAD, 0 },     { 0x037E, 0x0385, K_BAD, 0 },
  { 0x0386, 0x0386, K_SET, 0x3AC }, { 0x0387, 0x0387, K_BAD, 0 },     { 0x0388, 0x038A, K_ADD, 37 },
  { 0x038B, 0x038B, K_BAD, 0 },     { 0x038C, 0x038C, K_SET, 0x3CC }, { 0x038D, 0x038D, K_BAD, 0 },
  { 0x038E, 0x038F, K_ADD, 63 },    { 0x0391, 0x03A1, K_ADD, 32 },    { 0x03A2, 0x03A2, K_BAD, 0 },
  { 0x03A3, 0x03AB, K_ADD, 32 },    { 0x03CF, 0x03E1, K_CASE, 0 },    { 0x03E2, 0x03EF, K_EVEN, 0 },
  { 0x03F0, 0x03FF, K_CASE, 0 },    { 0x0400, 0x040F, K_ADD, 80 },    { 0x0410, 0x042F, K_ADD, 32 },
  { 0x0460, 0x0481, K_EVEN, 0 },    { 0x0482, 0x0489, K_BAD, 0 },     { 0x048A, 0x04BF, K_EVEN, 0 },
  { 0x04C0, 0x04C0, K_SET, 0x4CF }, { 0x04C1, 0x04CE, K_ODD, 0 },     { 0x04D0, 0x052F, K_EVEN, 0 },
  { 0x0530, 0x0530, K_BAD, 0 },     { 0x0531, 0x0556, K_ADD, 48 },    { 0x0557, 0x0560, K_BAD, 0 },
  { 0x0587, 0x058F, K_BAD, 0 },     { 0x05BE, 0x05BE, K_BAD, 0 },     { 0x05C0, 0x05C0, K_BAD, 0 },
  { 0x05C3, 0x05C3, K_BAD, 0 },     { 0x05C6, 0x05C6, K_BAD, 0 },     { 0x05F3, 0x05F4, K_BAD, 0 },
  { 0x0600, 0x060F, K_BAD, 0 },     { 0x061B, 0x061F, K_BAD, 0 },     { 0x066A, 0x066D, K_BAD, 0 },
  { 0x06D4, 0x06D4, K_BAD, 0 },     { 0x06DD, 0x06DE, K_BAD, 0 },     { 0x06E9, 0x06E9, K_BAD, 0 },
  { 0x0964, 0x0965, K_BAD, 0 },     { 0x0E3F, 0x0E3F, K_BAD, 0 },     { 0x10A0, 0x10CD, K_CASE, 0 },
  { 0x10FB, 0x10FC, K_BAD, 0 },     { 0x115F, 0x1160, K_BAD, 0 },     { 0x13A0, 0x13F5, K_CASE, 0 },
  { 0x1680, 0x1680, K_BAD, 0 },     { 0x17B4, 0x17B5, K_BAD, 0 },     { 0x180B, 0x180E, K_BAD, 0 },
  { 0x1C80, 0x1C88, K_BAD, 0 },     { 0x1C90, 0x1CBF, K_CASE, 0 },    { 0x1D2C, 0x1D6A, K_BAD, 0 },
  { 0x1D78, 0x1D78, K_BAD, 0 },     { 0x1D9B, 0x1DBF, K_BAD, 0 },     { 0x1DC0, 0x1DFF, K_MARK, 0 },
  { 0x1E00, 0x1E95, K_EVEN, 0 },    { 0x1E9A, 0x1E9B, K_BAD, 0 },     { 0x1E9E, 0x1E9E, K_SET, 0xDF },
  { 0x1EA0, 0x1EFF, K_EVEN, 0 },    { 0x1F00, 0x1FFF, K_CASE, 0 },    { 0x2000, 0x2BFF, K_BAD, 0 },
  { 0x2C00, 0x2C2F, K_CASE, 0 },    { 0x2C60, 0x2CFF, K_CASE, 0 },    { 0x2D6F, 0x2D70, K_BAD, 0 },
  { 0x2E00, 0x2FFF, K_BAD, 0 },     { 0x3000, 0x3004, K_BAD, 0 },     { 0x3008, 0x3029, K_BAD, 0 },
  { 0x302E, 0x303F, K_BAD, 0 },     { 0x309B, 0x309C, K_BAD, 0 },     { 0x30A0, 0x30A0, K_BAD, 0 },
  { 0x30FB, 0x30FB, K_BAD, 0 },     { 0x3130, 0x319F, K_BAD, 0 },     { 0x31C0, 0x31EF, K_BAD, 0 },
  { 0x3200, 0x33FF, K_BAD, 0 },     { 0x4DC0, 0x4DFF, K_BAD, 0 },     { 0xA490, 0xA4CF, K_BAD, 0 },
  { 0xA4FE, 0xA4FF, K_BAD, 0 },     { 0xA640, 0xA66D, K_EVEN, 0 },    { 0xA66E, 0xA67F, K_BAD, 0 },
  { 0xA680, 0xA69B, K_EVEN, 0 },    { 0xA69C, 0xA69D, K_BAD, 0 },     { 0xA700, 0xA7FF, K_CASE, 0 },
  { 0xAB5C, 0xAB5F, K_BAD, 0 },     { 0xAB70, 0xABBF, K_BAD, 0 },     { 0xD800, 0xDFFF, K_BAD, 0 },
  { 0xE000, 0xFE1F, K_BAD, 0 },     { 0xFE20, 0xFE2F, K_MARK, 0 },    { 0xFE30, 0xFF0C, K_BAD, 0 },
  { 0xFF0D, 0xFF0D, K_SET, '-' },   { 0xFF0E, 0xFF0F, K_BAD, 0 },     { 0xFF10, 0xFF19, K_ADD, '0' - 0xFF10 },
  { 0xFF1A, 0xFF20, K_BAD, 0 },     { 0xFF21, 0xFF3A, K_ADD, 'a' - 0xFF21 },
  { 0xFF3B, 0xFF40, K_BAD, 0 },     { 0xFF41, 0xFF5A, K_ADD, 'a' - 0xFF41 },
  { 0xFF5B, 0xFFFF, K_BAD, 0 },     { 0x10400, 0x10427, K_CASE, 0 },  { 0x104B0, 0x104D3, K_CASE, 0 },
  { 0x10C80, 0x10CB2, K_CASE, 0 },  { 0x118A0, 0x118BF, K_CASE, 0 },  { 0x16E40, 0x16E5F, K_CASE, 0 },
  { 0x1D000, 0x1FFFF, K_BAD, 0 },   { 0x2F800, 0x2FFFF, K_BAD, 0 },   { 0x40000, 0x10FFFF, K_BAD, 0 },
};

static const char WHY_BAD[] = "not allowed in a domain name (IDNA2008)";
static const char WHY_MARK[] = "a combining mark: write the letter precomposed (NFC)";
static const char WHY_CASE[] = "a letter whose lower case is not known here";

static const char WHY_CTRL[] = "a control character or space";

#define NO_CP 0xFFFFFFFFu

/* The code point c as it goes into a label (lower-cased, fullwidth forms
 * made ASCII), or NO_CP with *why set when it cannot go into one. */
static uint32_t map_cp(uint32_t c, const char **why) {
  size_t lo = 0, hi = sizeof RANGES / sizeof RANGES[0];
  if (c <= 32 || c == 127) { *why = WHY_CTRL; return NO_CP; }
  if (c < 0x80) return (uint32_t)bnc_lower((int)c);
  if ((c & 0xFFFE) == 0xFFFE || (c >= 0xFDD0 && c <= 0xFDEF)) { *why = WHY_BAD; return NO_CP; }
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    const range_t *r = &RANGES[mid];
    if (c < r->lo) hi = mid;
    else if (c > r->hi) lo = mid + 1;
    else {
      switch (r->kind) {
      case K_ADD: return (uint32_t)((int32_t)c + r->arg);
      case K_EVEN: return (c & 1) ? c : c + 1;
      case K_ODD: return (c & 1) ? c + 1 : c;
      case K_SET: return (uint32_t)r->arg;
      case K_BAD: *why = WHY_BAD; return NO_CP;
      case K_MARK: *why = WHY_MARK; return NO_CP;
      case K_CASE: *why = WHY_CASE; return NO_CP;
      default: return c;
      }
    }
  }
  return c;
}

/* ---- Punycode (RFC 3492 6) -------------------------------------------- */

enum { BASE = 36, TMIN = 1, TMAX = 26, SKEW = 38, DAMP = 700, INITIAL_BIAS = 72, INITIAL_N = 128 };

static uint32_t adapt(uint32_t delta, uint32_t numpoints, int first) {
  uint32_t k = 0;
  delta = first ? delta / DAMP : delta / 2;
  delta += delta / numpoints;
  while (delta > ((BASE - TMIN) * TMAX) / 2) {
    delta /= BASE - TMIN;
    k += BASE;
  }
  return k + (BASE - TMIN + 1) * delta / (delta + SKEW);
}

static uint32_t threshold(uint32_t k, uint32_t bias) {
  return k <= bias ? TMIN : k >= bias + TMAX ? TMAX : k - bias;
}

static char digit_char(uint32_t d) { return (char)(d < 26 ? 'a' + d : '0' + (d - 26)); }

static uint32_t digit_value(unsigned char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= '0' && c <= '9') return c - '0' + 26;
  return BASE;
}

/* Encodes cp[0..n) into out (cap bytes). Returns the length, or 0 when it
 * does not fit (or would overflow, which 63 code points cannot). */
static size_t puny_encode(const uint32_t *cp, size_t n, char *out, size_t cap) {
  uint32_t nn = INITIAL_N, delta = 0, bias = INITIAL_BIAS, h, b = 0;
  size_t o = 0, j;
  for (j = 0; j < n; j++) {
    if (cp[j] < 0x80) {
      if (o >= cap) return 0;
      out[o++] = (char)cp[j];
      b++;
    }
  }
  h = b;
  if (b > 0) {
    if (o >= cap) return 0;
    out[o++] = '-';
  }
  while (h < n) {
    uint32_t m = 0xFFFFFFFFu;
    for (j = 0; j < n; j++)
      if (cp[j] >= nn && cp[j] < m) m = cp[j];
    if (m - nn > (0xFFFFFFFFu - delta) / (h + 1)) return 0;
    delta += (m - nn) * (h + 1);
    nn = m;
    for (j = 0; j < n; j++) {
      if (cp[j] < nn && ++delta == 0) return 0;
      if (cp[j] == nn) {
        uint32_t q = delta, k;
        for (k = BASE;; k += BASE) {
          uint32_t t = threshold(k, bias);
          if (q < t) break;
          if (o >= cap) return 0;
          out[o++] = digit_char(t + (q - t) % (BASE - t));
          q = (q - t) / (BASE - t);
        }
        if (o >= cap) return 0;
        out[o++] = digit_char(q);
        bias = adapt(delta, h + 1, h == b);
        delta = 0;
        h++;
      }
    }
    delta++;
    nn++;
  }
  return o;
}

/* Decodes in[0..len) into cp (cap code points). Returns 1 and sets *n, or
 * 0 on anything that is not Punycode of code points beyond ASCII. */
static int puny_decode(const char *in, size_t len, uint32_t *cp, size_t cap, size_t *n) {
  uint32_t nn = INITIAL_N, i = 0, bias = INITIAL_BIAS;
  size_t o = 0, d = 0, p, j;
  for (j = 0; j < len; j++)
    if (in[j] == '-') d = j + 1;                 /* just past the last delimiter */
  if (d > 0) {
    if (d - 1 > cap) return 0;
    for (j = 0; j + 1 < d; j++) {
      if ((unsigned char)in[j] >= 0x80) return 0;
      cp[o++] = (unsigned char)in[j];
    }
  }
  for (p = d; p < len;) {
    uint32_t oldi = i, w = 1, k;
    for (k = BASE;; k += BASE) {
      uint32_t dv, t;
      if (p >= len) return 0;
      dv = digit_value((unsigned char)in[p++]);
      if (dv >= BASE || dv > (0xFFFFFFFFu - i) / w) return 0;
      i += dv * w;
      t = threshold(k, bias);
      if (dv < t) break;
      if (w > 0xFFFFFFFFu / (BASE - t)) return 0;
      w *= BASE - t;
    }
    bias = adapt(i - oldi, (uint32_t)o + 1, oldi == 0);
    if (i / (o + 1) > CP_MAX - nn) return 0;
    nn += i / (uint32_t)(o + 1);
    i %= (uint32_t)(o + 1);
    if (nn < 0x80 || nn > CP_MAX || (nn >= 0xD800 && nn <= 0xDFFF) || o >= cap) return 0;
    memmove(cp + i + 1, cp + i, (o - i) * sizeof cp[0]);
    cp[i++] = nn;
    o++;
  }
  *n = o;
  return 1;
}

/* ---- labels ----------------------------------------------------------- */

static const char *fail(bnc_idn_err_t *err, const char *why, size_t pos, uint32_t cp) {
  if (err) { err->pos = pos; err->cp = cp; }
  return why;
}

static int ldh(uint32_t c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

/* The rules a label beyond ASCII must meet (RFC 5891 4.2.3.1, 5.4): LDH for
 * its ASCII, no hyphen first or last, none in both the third and fourth
 * places. pos[] gives each code point's byte (NULL: all at base). */
static const char *ulabel_rules(const uint32_t *cp, size_t n, const size_t *pos, size_t base,
                                bnc_idn_err_t *err) {
  size_t j;
  for (j = 0; j < n; j++)
    if (cp[j] < 0x80 && !ldh(cp[j]))
      return fail(err, "only letters, digits and '-' may stand beside non-ASCII letters",
                  pos ? pos[j] : base, cp[j]);
  if (cp[0] == '-' || cp[n - 1] == '-')
    return fail(err, "a label may not start or end with '-'", base, '-');
  if (n >= 4 && cp[2] == '-' && cp[3] == '-')
    return fail(err, "'-' in the third and fourth places is reserved (xn--)", base, '-');
  return NULL;
}

/* An "xn--" label (lower-cased) must be the canonical Punycode of a valid
 * label with something beyond ASCII. */
static const char *check_alabel(const char *lab, size_t n, size_t base, bnc_idn_err_t *err) {
  uint32_t cp[LABEL_MAX];
  char again[LABEL_MAX];
  size_t k, j, m;
  int wide = 0;
  if (!puny_decode(lab + 4, n - 4, cp, LABEL_MAX, &k) || k == 0)
    return fail(err, "an xn-- label that is not Punycode", base, 0);
  for (j = 0; j < k; j++) {
    const char *why = NULL;
    if (cp[j] >= 0x80) wide = 1;
    if (map_cp(cp[j], &why) != cp[j])
      return fail(err, why ? why : "an xn-- label holding a capital", base, cp[j]);
  }
  if (!wide) return fail(err, "an xn-- label that decodes to ASCII only", base, 0);
  {
    const char *why = ulabel_rules(cp, k, NULL, base, err);
    if (why) return why;
  }
  m = puny_encode(cp, k, again, sizeof again);
  if (m != n - 4 || memcmp(again, lab + 4, m) != 0)
    return fail(err, "an xn-- label not in canonical form", base, 0);
  return NULL;
}

/* One label s[b..e) appended at out[*o] (cap bytes in all). */
static const char *label_to_ascii(const char *s, size_t b, size_t e, char *out, size_t cap,
                                  size_t *o, bnc_idn_err_t *err) {
  uint32_t cp[LABEL_MAX];
  size_t pos[LABEL_MAX], n = 0, i = b, j, room, w;
  int ascii = 1;
  while (i < e) {
    size_t at = i;
    uint32_t c, m;
    const char *why = NULL;
    if (!bnc_utf8_next(s, e, &i, &c)) return fail(err, "invalid UTF-8", at, 0);
    if (n == LABEL_MAX) return fail(err, "a label longer than 63 bytes", b, 0);
    if ((m = map_cp(c, &why)) == NO_CP) return fail(err, why, at, c);
    if (m >= 0x80) ascii = 0;
    pos[n] = at;
    cp[n++] = m;
  }
  room = cap - *o;
  if (ascii) {
    if (n > room) return fail(err, "longer than 253 bytes", b, 0);
    for (j = 0; j < n; j++) out[*o + j] = (char)cp[j];
    if (n >= 4 && memcmp(out + *o, "xn--", 4) == 0) {
      const char *why = check_alabel(out + *o, n, b, err);
      if (why) return why;
    }
    *o += n;
    return NULL;
  }
  {
    const char *why = ulabel_rules(cp, n, pos, b, err);
    if (why) return why;
  }
  if (room < 5) return fail(err, "longer than 253 bytes", b, 0);
  memcpy(out + *o, "xn--", 4);
  w = puny_encode(cp, n, out + *o + 4, room - 4 < LABEL_MAX - 4 ? room - 4 : LABEL_MAX - 4);
  if (w == 0) {
    if (room - 4 < LABEL_MAX - 4) return fail(err, "longer than 253 bytes", b, 0);
    return fail(err, "a label longer than 63 bytes as an A-label", b, 0);
  }
  *o += 4 + w;
  return NULL;
}

/* The length of the label separator at s[i] ('.', or U+3002, U+FF0E,
 * U+FF61 in UTF-8), 0 when there is none. */
static size_t separator(const char *s, size_t n, size_t i) {
  const unsigned char *u = (const unsigned char *)s + i;
  if (u[0] == '.') return 1;
  if (n - i < 3) return 0;
  if (u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x82) return 3;
  if (u[0] == 0xEF && ((u[1] == 0xBC && u[2] == 0x8E) || (u[1] == 0xBD && u[2] == 0xA1))) return 3;
  return 0;
}

const char *bnc_idn_to_ascii(const char *s, size_t len, char *out, size_t cap, size_t *olen,
                             bnc_idn_err_t *err) {
  size_t o = 0, b = 0, i;
  if (cap > 253) cap = 253;
  if (len == 0) return fail(err, "an empty domain", 0, 0);
  if (len > BNC_IDN_IN_MAX) return fail(err, "longer than 253 bytes", 0, 0);
  for (i = 0;; ) {
    size_t sep = i < len ? separator(s, len, i) : 0;
    const char *why;
    if (i < len && sep == 0) { i++; continue; }
    if (i == b) return fail(err, "an empty label", b, 0);
    if (o > 0) {
      if (o >= cap) return fail(err, "longer than 253 bytes", b, 0);
      out[o++] = '.';
    }
    if ((why = label_to_ascii(s, b, i, out, cap, &o, err)) != NULL) return why;
    if (i >= len) break;
    i += sep;
    b = i;
  }
  *olen = o;
  return NULL;
}

const char *bnc_idn_to_unicode(const char *s, size_t len, char *out, size_t cap, size_t *olen,
                               bnc_idn_err_t *err) {
  char a[BNC_IDN_ASCII_MAX];
  size_t alen, i = 0, o = 0;
  const char *why = bnc_idn_to_ascii(s, len, a, sizeof a, &alen, err);
  if (why) return why;
  while (i < alen) {
    size_t e = i;
    while (e < alen && a[e] != '.') e++;
    if (o > 0) {
      if (o >= cap) return fail(err, "longer than the output buffer", 0, 0);
      out[o++] = '.';
    }
    if (e - i >= 4 && memcmp(a + i, "xn--", 4) == 0) {
      uint32_t cp[LABEL_MAX];
      size_t k, j;
      if (!puny_decode(a + i + 4, e - i - 4, cp, LABEL_MAX, &k))
        return fail(err, "an xn-- label that is not Punycode", 0, 0);
      for (j = 0; j < k; j++) {
        if (cap - o < 4) return fail(err, "longer than the output buffer", 0, 0);
        o += utf8_put(cp[j], out + o);
      }
    } else {
      if (cap - o < e - i) return fail(err, "longer than the output buffer", 0, 0);
      memcpy(out + o, a + i, e - i);
      o += e - i;
    }
    i = e + 1;
  }
  *olen = o;
  return NULL;
}
