/*
 * address.h - the tracker's key for a recipient: the address normalised.
 *
 * Trims white space and one pair of angle brackets, checks the shape
 * (local@domain, local part 1..64 bytes, whole address at most 254, no empty
 * domain label, no white space, controls or specials that cannot appear
 * unquoted), lower-cases the domain and writes it in A-labels when it has
 * anything beyond ASCII ("bücher.de" -> "xn--bcher-kva.de", idn.h; a domain
 * it refuses makes the address invalid), so both forms are one key;
 * lower-cases the local part unless the caller
 * asks for case-sensitive local parts (RFC 5321 allows them; almost no
 * mailbox provider uses them). A quoted local part ("a b"@example.org,
 * RFC 5321 4.1.2) is kept with its quotes and quoted pairs; one that a
 * dot-atom could say ("ann"@example.org) loses its quotes, so the two
 * spellings are one key.
 */
#ifndef BNC_ADDRESS_H
#define BNC_ADDRESS_H

#include <stddef.h>

#define BNC_ADDRESS_MAX 254

/* Normalises s[0..len) into out (at least BNC_ADDRESS_MAX bytes). Returns
 * NULL and sets *olen and *at (offset of the '@' in out); or returns what
 * is wrong ("expected local@domain", ...). */
const char *bnc_address_normalize(const char *s, size_t len, int case_sensitive,
                                  char *out, size_t *olen, size_t *at);

#endif
