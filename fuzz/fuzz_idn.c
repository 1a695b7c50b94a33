/*
 * fuzz_idn.c - IDN domains (idn.c) and the mailbox syntax check
 * (mailbox.c) on any bytes: no read out of bounds; an accepted domain is
 * ASCII, at most 253 bytes, its own A-label form again, and its Unicode form
 * converts back to it; an accepted address is at most 254 bytes with its
 * '@' where reported, checks again to itself, and its domain (unless a
 * literal) is a fixed point of the IDN conversion.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "idn.h"
#include "mailbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void domain(const char *s, size_t n) {
  char a[BNC_IDN_ASCII_MAX], b[BNC_IDN_ASCII_MAX], u[BNC_IDN_UNICODE_MAX];
  size_t al, bl, ul, i;
  bnc_idn_err_t e;
  if (bnc_idn_to_ascii(s, n, a, sizeof a, &al, &e) != NULL) {
    if (e.pos > n) abort();
    return;
  }
  if (al == 0 || al > 253) abort();
  for (i = 0; i < al; i++)
    if ((unsigned char)a[i] >= 0x80 || (a[i] >= 'A' && a[i] <= 'Z')) abort();
  if (bnc_idn_to_ascii(a, al, b, sizeof b, &bl, &e) != NULL || bl != al || memcmp(a, b, al) != 0) abort();
  if (bnc_idn_to_unicode(a, al, u, sizeof u, &ul, &e) != NULL) abort();
  if (bnc_idn_to_ascii(u, ul, b, sizeof b, &bl, &e) != NULL || bl != al || memcmp(a, b, al) != 0) abort();
}

static void mailbox(const char *s, size_t n) {
  bnc_mailbox_t m, again;
  if (bnc_mailbox_check(s, n, &m) != NULL) {
    if (m.pos > n || strlen(m.why) >= sizeof m.why) abort();
    return;
  }
  if (m.len > BNC_MAILBOX_MAX || m.at == 0 || m.at > 64 || m.addr[m.at] != '@' || strlen(m.addr) != m.len) abort();
  if (bnc_mailbox_check(m.addr, m.len, &again) != NULL) abort();
  if (again.len != m.len || memcmp(again.addr, m.addr, m.len) != 0) abort();
  if (!(m.flags & BNC_MB_LITERAL)) {
    char a[BNC_IDN_ASCII_MAX];
    size_t al, dl = m.len - m.at - 1;
    if (bnc_idn_to_ascii(m.addr + m.at + 1, dl, a, sizeof a, &al, NULL) != NULL) abort();
    if (al != dl || memcmp(a, m.addr + m.at + 1, al) != 0) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  domain((const char *)data, size);
  mailbox((const char *)data, size);
  return 0;
}
