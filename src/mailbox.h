/*
 * mailbox.h - an address checked as RFC 5321 writes a mailbox (4.1.2),
 * with RFC 6531's UTF-8 local parts and IDN domains (idn.h), for the
 * pre-send verification.
 *
 * Local part: a dot-string (atoms of RFC 5322 atext or UTF-8, joined by
 * single dots) or a quoted string (qtextSMTP, UTF-8 and quoted pairs of
 * printable ASCII), at most 64 bytes (4.5.3.1.1). Domain: labels of
 * letters, digits and '-' (not first or last; no "--" in the third and
 * fourth places unless an A-label), 1-63 bytes, at least two labels, a
 * top-level label that is not all digits, at most 253 bytes once in
 * A-labels; or an address literal, [IPv4] or [IPv6:...]. The whole address
 * at most 254 bytes (a path of 256 with its brackets, 4.5.3.1.3). Leading
 * and trailing white space and one pair of angle brackets are dropped.
 * Stricter than the tracker's key (address.h), which must accept any
 * address a bounce names; this says whether mail can be sent to it.
 */
#ifndef BNC_MAILBOX_H
#define BNC_MAILBOX_H

#include <stddef.h>

#define BNC_MAILBOX_MAX 254
#define BNC_MAILBOX_IN_MAX 4096       /* longer input is refused before it is read */

#define BNC_MB_QUOTED  1u   /* the local part stays a quoted string */
#define BNC_MB_UTF8    2u   /* the local part holds UTF-8: needs SMTPUTF8 (RFC 6531) */
#define BNC_MB_IDN     4u   /* the domain came with U-labels, now A-labels */
#define BNC_MB_LITERAL 8u   /* an address literal */

typedef struct {
  char addr[BNC_MAILBOX_MAX + 1];  /* NUL-terminated: the local part (unquoted when a
                                      dot-string says the same), '@', the domain
                                      lower-cased in A-labels */
  size_t len, at;                  /* its length; the offset of its '@' */
  unsigned flags;                  /* BNC_MB_* */
  size_t pos;                      /* on failure: the byte of the input at fault */
  char why[160];                   /* on failure: what is wrong */
} bnc_mailbox_t;

/* Checks s[0..len). Returns NULL with out filled, or out->why. */
const char *bnc_mailbox_check(const char *s, size_t len, bnc_mailbox_t *out);

#endif
