/*
 * charset.h - legacy charsets read as UTF-8: the single-byte ones mail
 * still carries (ISO-8859-1..16, windows-1250..1258, KOI8-R/U, IBM 866 and
 * 850, Mac Roman) and the Japanese ones (ISO-2022-JP, Shift_JIS with
 * code page 932's extensions, EUC-JP). The tables come from
 * tools/gen_charsets.py (src/charset_tables.h). So the parser's rules and
 * readers see text, not a charset's bytes: an address is never found
 * inside a kanji's two bytes, and one Japanese wording is one rule whatever
 * the charset it came in. Pure functions: no allocation, no state.
 */
#ifndef BNC_CHARSET_H
#define BNC_CHARSET_H

#include <stddef.h>

/* The multi-byte kinds (single-byte charsets are 0..CS_NSINGLE-1). */
#define BNC_CS_NONE      -1   /* UTF-8, US-ASCII, or a charset not known here: bytes kept */
#define BNC_CS_ISO2022JP 1000
#define BNC_CS_SJIS      1001
#define BNC_CS_EUCJP     1002

/* The charset a charset= value or an RFC 2047 word names (quotes, case,
 * '-', '_', ' ' and '.' aside), or BNC_CS_NONE. */
int bnc_charset_find(const char *name, size_t n);

/* Whether the bytes s[0..n) hold ISO-2022-JP's shift into JIS X 0208
 * (ESC $ B or ESC $ @): text that says what it is without a label. */
int bnc_charset_sniff_jis(const char *s, size_t n);

/* s[0..n) in charset cs, as UTF-8 into out[0..cap): returns the bytes the
 * whole text takes, all of them written when that is at most cap (out
 * NULL: nothing is written, the size to take is returned).
 * What cs cannot map becomes U+FFFD; line ends are kept. At most 3 bytes
 * per input byte. */
size_t bnc_charset_to_utf8(int cs, const char *s, size_t n, char *out, size_t cap);

#endif
