/*
 * idn.h - internationalised domain names: a domain written in Unicode
 * ("bücher.de") to the A-labels that go into DNS and SMTP
 * ("xn--bcher-kva.de"), by IDNA2008 (RFC 5890-5892) and Punycode (RFC 3492),
 * and back.
 *
 * What it does: splits at '.' and at the ideographic and fullwidth full
 * stops (U+3002, U+FF0E, U+FF61); lower-cases ASCII; lower-cases the
 * capitals of Latin (Latin-1, Extended-A, the regular pairs of Extended-B
 * and Extended Additional), Greek, Cyrillic and Armenian, maps fullwidth
 * letters, digits and hyphen to ASCII; checks each label holding anything
 * beyond ASCII against the hyphen rules (no leading or trailing '-', no "--"
 * in the third and fourth places) and LDH for its ASCII; encodes it
 * "xn--" + Punycode; checks that an "xn--" label given as such is canonical
 * Punycode of a valid label. ASCII labels are otherwise passed lower-cased.
 *
 * What it refuses, saying which code point and where, rather than guess:
 * invalid UTF-8; symbols, punctuation, spaces, controls, private use,
 * unassigned planes and compatibility forms (IDNA2008 DISALLOWED);
 * combining diacritical marks U+0300-U+036F (the letter must come
 * precomposed, NFC: this code carries no normalisation tables); capitals it
 * has no lower case for (the irregular part of Latin Extended-B, Georgian
 * Mtavruli, Cherokee, Greek Extended...); ZWJ and ZWNJ (their contextual
 * rule is not checked); labels over 63 bytes, domains over 253. ß and ς are
 * kept (IDNA2008, not the transitional mapping). The bidi rule (RFC 5893) is
 * not checked. No allocation, no I/O.
 */
#ifndef BNC_IDN_H
#define BNC_IDN_H

#include <stddef.h>
#include <stdint.h>

#define BNC_IDN_IN_MAX 1024       /* longest input considered, in bytes */
#define BNC_IDN_ASCII_MAX 254     /* room for any A-label domain (253) and a NUL */
#define BNC_IDN_UNICODE_MAX 1024  /* room for any domain as UTF-8 */

/* Where and why a conversion failed: the byte of the input, and the code
 * point there (0 when none applies). */
typedef struct {
  size_t pos;
  uint32_t cp;
} bnc_idn_err_t;

/* The A-label form of the domain s[0..len) into out (cap bytes; nothing is
 * NUL-terminated). Returns NULL and sets *olen, or the reason ("a combining
 * mark: write the letter precomposed (NFC)"...) and fills *err (may be
 * NULL). */
const char *bnc_idn_to_ascii(const char *s, size_t len, char *out, size_t cap, size_t *olen,
                             bnc_idn_err_t *err);

/* The Unicode form: as bnc_idn_to_ascii, then each A-label decoded to
 * UTF-8. */
const char *bnc_idn_to_unicode(const char *s, size_t len, char *out, size_t cap, size_t *olen,
                               bnc_idn_err_t *err);

/* The code point at s[*i] of s[0..n) (*i < n), strict UTF-8: no overlong
 * forms, surrogates or values beyond U+10FFFF; advances *i. Returns 1, or
 * 0 on invalid UTF-8 (*i unchanged). */
int bnc_utf8_next(const char *s, size_t n, size_t *i, uint32_t *cp);

#endif
