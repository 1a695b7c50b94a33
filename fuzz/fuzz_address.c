/*
 * fuzz_address.c - address normalisation and VERP decoding on any bytes: no
 * reads out of bounds; an accepted address is a fixed point (normalising it
 * again gives it back), no longer than its input unless its domain was
 * beyond ASCII (A-labels are longer), whose '@' at the reported offset is
 * the only one outside a quoted local part; a decoded VERP recipient fits its buffer and
 * holds the '@' that replaced the last '='.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "address.h"
#include "verp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void verp(const char *s, size_t n) {
  char out[BNC_ADDRESS_MAX];
  size_t olen = 0;
  static const char prefix[] = "bounces+";
  if (!bnc_verp_decode(s, n, prefix, sizeof prefix - 1, out, sizeof out, &olen)) {
    if (olen < 3 || olen > sizeof out || !memchr(out, '@', olen)) abort();
  }
  olen = 0;
  if (bnc_verp_find(s, n, prefix, sizeof prefix - 1, out, sizeof out, &olen)) {
    if (olen < 3 || olen > sizeof out || !memchr(out, '@', olen)) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char out[BNC_ADDRESS_MAX + 2], again[BNC_ADDRESS_MAX + 2];
  size_t olen, at, olen2, at2, i;
  int cs = size > 0 && (data[0] & 1);
  verp((const char *)data, size);
  if (bnc_address_normalize((const char *)data, size, cs, out, &olen, &at) != NULL) return 0;
  /* only a domain beyond ASCII may grow (into its A-labels) */
  for (i = 0; i < size && !(data[i] & 0x80); i++) {}
  if ((i == size && olen > size) || olen > BNC_ADDRESS_MAX || at == 0 || out[at] != '@') abort();
  if (memchr(out + at + 1, '@', olen - at - 1)) abort();
  if (memchr(out, '@', at) && !(out[0] == '"' && out[at - 1] == '"')) abort();
  if (bnc_address_normalize(out, olen, cs, again, &olen2, &at2) != NULL) abort();
  if (olen2 != olen || at2 != at || memcmp(out, again, olen) != 0) abort();
  return 0;
}
