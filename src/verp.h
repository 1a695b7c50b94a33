/*
 * verp.h - VERP return paths: a return path that carries the recipient,
 * prefix + local=domain @ host ("bounces+ann=example.org@mail.example.com",
 * as Postfix, qmail and Exim write it). Reading one back gives the
 * recipient a bounce is about, whatever the bounce itself says.
 */
#ifndef BNC_VERP_H
#define BNC_VERP_H

#include <stddef.h>
#include "address.h"   /* BNC_ADDRESS_MAX: the longest recipient */

/* bnc_verp_decode reads one such address (angle brackets allowed; the
 * prefix compared without regard to case) into out: the recipient, split at the last '=' (a domain holds none); returns NULL, or
 * what is wrong. bnc_verp_find looks through the first BNC_VERP_SCAN bytes
 * of a message for the first address that starts with the prefix (after
 * white space, '<', ':', ',', '(' or a quote) and decodes: the bounce's To
 * or Delivered-To, a Received line's "for <...>", the returned message's
 * Return-Path. Returns 1 and fills out, or 0. out holds at least cap
 * bytes; nothing is NUL-terminated. */
#define BNC_VERP_SCAN ((size_t)256 * 1024)
const char *bnc_verp_decode(const char *s, size_t len, const char *prefix, size_t plen,
                            char *out, size_t cap, size_t *olen);
int bnc_verp_find(const char *s, size_t len, const char *prefix, size_t plen,
                  char *out, size_t cap, size_t *olen);

#endif
