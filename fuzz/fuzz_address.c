/*
 * fuzz_address.c - address normalisation on any bytes: no reads out of
 * bounds, and an accepted address is a fixed point (normalising it again
 * gives it back) with exactly one '@' at the reported offset.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char out[BNC_ADDRESS_MAX + 2], again[BNC_ADDRESS_MAX + 2];
  size_t olen, at, olen2, at2;
  int cs = size > 0 && (data[0] & 1);
  if (bnc_address_normalize((const char *)data, size, cs, out, &olen, &at) != NULL) return 0;
  if (olen > size || olen > BNC_ADDRESS_MAX || out[at] != '@') abort();
  if (memchr(out, '@', at) || memchr(out + at + 1, '@', olen - at - 1)) abort();
  if (bnc_address_normalize(out, olen, cs, again, &olen2, &at2) != NULL) abort();
  if (olen2 != olen || at2 != at || memcmp(out, again, olen) != 0) abort();
  return 0;
}
