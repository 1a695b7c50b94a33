/*
 * charset.c - legacy charsets to UTF-8 (the contract is in charset.h).
 * The tables are generated (charset_tables.h); the decoders here walk the
 * bytes: one table look-up per byte for the single-byte charsets, the JIS
 * grid for ISO-2022-JP (escape sequences switch the set), Shift_JIS (lead
 * and trail byte to row and cell) and EUC-JP (each byte less 0xA0).
 */
#include <stddef.h>
#include <string.h>
#include "charset.h"
#include "charset_tables.h"

int bnc_charset_find(const char *name, size_t n) {
  char key[32];
  size_t i, k = 0;
  for (i = 0; i < n && k < sizeof key - 1; i++) {
    unsigned char ch = (unsigned char)name[i];
    if (ch == '-' || ch == '_' || ch == ' ' || ch == '.' || ch == '"' || ch == '\'') continue;
    key[k++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
  }
  if (i < n || k < 3) return BNC_CS_NONE;
  key[k] = '\0';
  if (!strcmp(key, "usascii") || !strcmp(key, "utf8")) return BNC_CS_NONE;   /* most mail */
  for (i = 0; i < sizeof CS_NAMES / sizeof CS_NAMES[0]; i++)
    if (!strcmp(CS_NAMES[i].name, key)) return CS_NAMES[i].cs;
  return BNC_CS_NONE;
}

int bnc_charset_sniff_jis(const char *s, size_t n) {
  const char *p = s, *end = s + n;
  while (end - p >= 3 && (p = memchr(p, 0x1b, (size_t)(end - p - 2))) != NULL) {
    if (p[1] == '$' && (p[2] == 'B' || p[2] == '@')) return 1;
    p++;
  }
  return 0;
}

/* Writes code point u as UTF-8 at out + n when it fits; returns its size. */
static size_t put(unsigned u, char *out, size_t n, size_t cap) {
  size_t k = u < 0x80 ? 1 : u < 0x800 ? 2 : 3;
  if (!out || n + k > cap) return k;
  if (k == 1) out[n] = (char)u;
  else if (k == 2) { out[n] = (char)(0xc0 | (u >> 6)); out[n + 1] = (char)(0x80 | (u & 0x3f)); }
  else {
    out[n] = (char)(0xe0 | (u >> 12));
    out[n + 1] = (char)(0x80 | ((u >> 6) & 0x3f));
    out[n + 2] = (char)(0x80 | (u & 0x3f));
  }
  return k;
}

/* The grid's cell at row (0-based: JIS row row+1) and col, or U+FFFD. */
static unsigned jis(unsigned row, unsigned col) {
  unsigned u = row < 120 && col < 94 ? CS_JIS[row * 94 + col] : 0;
  return u ? u : 0xFFFD;
}

/* The ASCII bytes of s[0..n) that stand for themselves, copied to out + o
 * (when out): their count. Speed: most of a mail's text is ASCII, copied
 * in runs rather than through put() byte by byte. */
static size_t ascii_run(const unsigned char *s, size_t n, char *out, size_t o, size_t cap, int stop_esc) {
  size_t k = 0;
  while (k < n && s[k] < 0x80 && !(stop_esc && s[k] == 0x1b)) k++;
  if (out && o + k <= cap) memcpy(out + o, s, k);
  return k;
}

static size_t iso2022jp(const unsigned char *s, size_t n, char *out, size_t cap) {
  size_t i, o = 0;
  enum { ASCII, KANJI, KANA, OTHER } set = ASCII;
  for (i = 0; i < n; i++) {
    unsigned b;
    if (set == ASCII) {
      size_t k = ascii_run(s + i, n - i, out, o, cap, 1);
      o += k;
      i += k;
      if (i >= n) break;
    }
    b = s[i];
    if (b == 0x1b && i + 2 < n) {
      if (s[i + 1] == '$' && (s[i + 2] == 'B' || s[i + 2] == '@')) { set = KANJI; i += 2; continue; }
      if (s[i + 1] == '(' && (s[i + 2] == 'B' || s[i + 2] == 'J')) { set = ASCII; i += 2; continue; }
      if (s[i + 1] == '(' && s[i + 2] == 'I') { set = KANA; i += 2; continue; }
      if (s[i + 1] == '$' && s[i + 2] == '(' && i + 3 < n) { set = OTHER; i += 3; continue; }
    }
    if (b == '\r' || b == '\n') { set = ASCII; o += put(b, out, o, cap); continue; }   /* RFC 1468: lines end in ASCII */
    if (set == ASCII || b < 0x21 || b > 0x7e) o += put(b < 0x80 ? b : 0xFFFD, out, o, cap);
    else if (set == KANA) o += put(b <= 0x5f ? 0xff40 + b : 0xFFFD, out, o, cap);
    else if (i + 1 < n && s[i + 1] >= 0x21 && s[i + 1] <= 0x7e) {
      o += put(set == KANJI ? jis(b - 0x21, (unsigned)s[i + 1] - 0x21) : 0xFFFD, out, o, cap);
      i++;
    } else o += put(0xFFFD, out, o, cap);
  }
  return o;
}

static size_t sjis(const unsigned char *s, size_t n, char *out, size_t cap) {
  size_t i, o = 0;
  for (i = 0; i < n; i++) {
    unsigned b, t, row, col;
    size_t k = ascii_run(s + i, n - i, out, o, cap, 0);
    o += k;
    i += k;
    if (i >= n) break;
    b = s[i];
    if (b >= 0xa1 && b <= 0xdf) { o += put(0xff61 + b - 0xa1, out, o, cap); continue; }
    if (!((b >= 0x81 && b <= 0x9f) || (b >= 0xe0 && b <= 0xfc)) || i + 1 >= n) {
      o += put(0xFFFD, out, o, cap);
      continue;
    }
    t = s[i + 1];
    if (t < 0x40 || t == 0x7f || t > 0xfc) { o += put(0xFFFD, out, o, cap); continue; }
    i++;
    row = (b <= 0x9f ? b - 0x81 : b - 0xe0 + 31) * 2;
    if (t >= 0x9f) { row++; col = t - 0x9f; }
    else col = t - 0x40 - (t > 0x7f);
    o += put(jis(row, col), out, o, cap);
  }
  return o;
}

static size_t eucjp(const unsigned char *s, size_t n, char *out, size_t cap) {
  size_t i, o = 0;
  for (i = 0; i < n; i++) {
    unsigned b;
    size_t k = ascii_run(s + i, n - i, out, o, cap, 0);
    o += k;
    i += k;
    if (i >= n) break;
    b = s[i];
    if (b == 0x8e && i + 1 < n && s[i + 1] >= 0xa1 && s[i + 1] <= 0xdf) {
      o += put(0xff61 + s[i + 1] - 0xa1, out, o, cap);
      i++;
    } else if (b == 0x8f && i + 2 < n) {            /* JIS X 0212: not in the grid */
      o += put(0xFFFD, out, o, cap);
      i += 2;
    } else if (b >= 0xa1 && b <= 0xfe && i + 1 < n && s[i + 1] >= 0xa1 && s[i + 1] <= 0xfe) {
      o += put(jis(b - 0xa1, (unsigned)s[i + 1] - 0xa1), out, o, cap);
      i++;
    } else o += put(0xFFFD, out, o, cap);
  }
  return o;
}

size_t bnc_charset_to_utf8(int cs, const char *s, size_t n, char *out, size_t cap) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i, o = 0;
  if (cs == BNC_CS_ISO2022JP) return iso2022jp(u, n, out, cap);
  if (cs == BNC_CS_SJIS) return sjis(u, n, out, cap);
  if (cs == BNC_CS_EUCJP) return eucjp(u, n, out, cap);
  if (cs < 0 || cs >= CS_NSINGLE) {                  /* bytes as they are */
    if (out) memcpy(out, s, n < cap ? n : cap);
    return n;
  }
  for (i = 0; i < n; i++) {
    size_t k = ascii_run(u + i, n - i, out, o, cap, 0);
    o += k;
    i += k;
    if (i < n) o += put(CS_SINGLE[cs][u[i] - 0x80], out, o, cap);
  }
  return o;
}
