/*
 * fuzz_mstore.c - the memory store's table against a plain array model:
 * any sequence of puts, deletes and lookups over 512 keys must agree.
 * Input: 3 bytes per operation: op, key id (2 bytes).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NKEYS 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  bnc_mstore_t *m = bnc_mstore_new(4);
  unsigned char model[NKEYS][4];
  int present[NKEYS];
  size_t i, n = 0, j;
  if (!m) abort();
  memset(present, 0, sizeof present);
  for (i = 0; i + 3 <= size; i += 3) {
    unsigned id = (((unsigned)data[i + 1] << 8) | data[i + 2]) % NKEYS;
    char key[80];
    int len = snprintf(key, sizeof key, "k%u@%.*s", id, (int)(id % 60), /* lengths vary */
                       "example.com.example.com.example.com.example.com.example.com.e");
    const unsigned char *got;
    switch (data[i] % 3) {
    case 0:
      memcpy(model[id], data + i, 3);
      model[id][3] = (unsigned char)id;
      if (bnc_mstore_put(m, key, (size_t)len, model[id]) != BNC_OK) abort();
      if (!present[id]) n++;
      present[id] = 1;
      break;
    case 1:
      if (bnc_mstore_del(m, key, (size_t)len) != present[id]) abort();
      if (present[id]) n--;
      present[id] = 0;
      break;
    default:
      got = bnc_mstore_get(m, key, (size_t)len);
      if ((got != NULL) != present[id]) abort();
      if (got && memcmp(got, model[id], 4) != 0) abort();
    }
    if (bnc_mstore_count(m) != n) abort();
  }
  /* every entry reachable by scan and by lookup */
  for (j = 0; j < bnc_mstore_count(m); j++) {
    const char *k;
    size_t kl;
    const unsigned char *v = bnc_mstore_at(m, j, &k, &kl);
    if (!v || bnc_mstore_get(m, k, kl) != v) abort();
  }
  bnc_mstore_free(m);
  return 0;
}
