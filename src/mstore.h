/*
 * mstore.h - the memory store's table: string keys (up to 255 bytes) to
 * fixed-size values, compact enough for ten million addresses.
 *
 * Open addressing with linear probing over an array of 32-bit entry
 * numbers; entries (hash, key offset) sit densely in blocks of 16384; keys
 * sit in 1 MiB arena blocks, each behind a length byte and followed by its
 * value, so a lookup that has compared the key has the value at hand. Blocks
 * are never reallocated, so growth copies nothing but the slot array. A
 * deletion moves the last entry into the hole and leaves the key's and
 * value's bytes as garbage, reclaimed by compacting the arena once garbage
 * outweighs live bytes. Per key: 8 bytes of entry, one length byte, the
 * value and 5.3 to 10.7 bytes of slots (load kept between 3/8 and 3/4),
 * i.e. 46-52 bytes beyond the key for 32-byte records. No Lua, no clock; the binding owns the table through
 * a userdata.
 */
#ifndef BNC_MSTORE_H
#define BNC_MSTORE_H

#include <stddef.h>
#include <stdint.h>
#include "bnc.h"

#define BNC_MSTORE_KEY_MAX 255

typedef struct bnc_mstore bnc_mstore_t;

/* A new, empty table for values of vsize bytes (1..255); NULL without memory. */
bnc_mstore_t *bnc_mstore_new(size_t vsize);
/* The table's hash of n bytes, for other in-process tables (seed: the
 * length, or the length mixed with what else tells keys apart). Not
 * stable across versions: never store it. */
uint32_t bnc_mstore_hash(const char *s, size_t n, uint64_t seed);
void bnc_mstore_free(bnc_mstore_t *m);
size_t bnc_mstore_count(const bnc_mstore_t *m);
size_t bnc_mstore_vsize(const bnc_mstore_t *m);
/* Bytes allocated for slots, entries and arena (capacity, not just use). */
size_t bnc_mstore_bytes(const bnc_mstore_t *m);
/* Bytes the keys themselves take in the arena (without length bytes). */
size_t bnc_mstore_key_bytes(const bnc_mstore_t *m);

/* The value stored under key, or NULL. Valid until the next change. */
const unsigned char *bnc_mstore_get(const bnc_mstore_t *m, const char *key, size_t klen);
/* The same, writable in place (vsize bytes). Valid until the next change. */
unsigned char *bnc_mstore_ref(bnc_mstore_t *m, const char *key, size_t klen);
/* Sets key to value (vsize bytes). BNC_OK, BNC_EINVAL (key too long or
 * empty) or BNC_ENOMEM (table unchanged). */
int bnc_mstore_put(bnc_mstore_t *m, const char *key, size_t klen, const unsigned char *value);
/* Removes key; returns 1 when it was there. */
int bnc_mstore_del(bnc_mstore_t *m, const char *key, size_t klen);
/* Entry i in 0..count-1: its key and value. Deleting entry i moves the last
 * entry into i, so a scan from the end down to 0 may delete as it goes. */
const unsigned char *bnc_mstore_at(const bnc_mstore_t *m, size_t i,
                                   const char **key, size_t *klen);

#endif
