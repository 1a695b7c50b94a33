/*
 * mstore.c - the compact hash table of mstore.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mstore.h"
#include "bnc.h"

/* Entries and key bytes live in fixed-size blocks, never reallocated: no
 * copy and no doubled peak when the table grows, and at most one partly
 * used block of each kind. */
#define EBLOCK_BITS 14                 /* entries per block: 16384 */
#define EBLOCK (1u << EBLOCK_BITS)
#define ABLOCK_BITS 20                 /* arena block: 1 MiB */
#define ABLOCK (1u << ABLOCK_BITS)
#define ABLOCKS_MAX 4096               /* 32-bit key offsets: 4 GiB of keys */

struct bnc_mstore {
  uint32_t *slots;          /* entry number + 1, 0 = empty */
  size_t mask;              /* slot count - 1 (a power of two) */
  unsigned char **eblocks;  /* entry blocks of EBLOCK entries (hash, key offset) */
  size_t neblocks, eblocks_cap;
  size_t count, esize, vsize;
  unsigned char **ablocks;  /* arena blocks of ABLOCK bytes: length, key, value */
  size_t nablocks;
  size_t alen;              /* used bytes in the last arena block */
  size_t garbage, keys;     /* bytes of deleted keys; bytes of live keys */
};

#define E_HASH(e) (*(const uint32_t *)(const void *)(e))
#define E_KOFF(e) (*(const uint32_t *)(const void *)((e) + 4))

/* Eight bytes a round (a byte at a time was a long chain of multiplies for
 * 30-byte addresses); the hash never leaves the process, so byte order does
 * not matter. The final mix spreads every input bit into the low bits the
 * slots use. */
uint32_t bnc_mstore_hash(const char *s, size_t n, uint64_t seed) {
  uint64_t h = 0x9e3779b97f4a7c15u ^ seed, w;
  for (; n >= 8; s += 8, n -= 8) {
    memcpy(&w, s, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdu;
    h ^= h >> 32;
  }
  if (n) {
    w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xff51afd7ed558ccdu;
  }
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53u;
  h ^= h >> 29;
  return (uint32_t)h;
}

static unsigned char *entry(const bnc_mstore_t *m, size_t i) {
  return m->eblocks[i >> EBLOCK_BITS] + (i & (EBLOCK - 1)) * m->esize;
}

static const unsigned char *key_at(const bnc_mstore_t *m, uint32_t off) {
  return m->ablocks[off >> ABLOCK_BITS] + (off & (ABLOCK - 1));
}

/* The value sits right behind its key: a lookup that has compared the key
 * finds the value in the same cache line or the next. */
static unsigned char *value_at(const bnc_mstore_t *m, uint32_t off) {
  unsigned char *k = m->ablocks[off >> ABLOCK_BITS] + (off & (ABLOCK - 1));
  return k + 1 + k[0];
}

bnc_mstore_t *bnc_mstore_new(size_t vsize) {
  bnc_mstore_t *m;
  if (vsize < 1 || vsize > 255) return NULL;
  m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->vsize = vsize;
  m->esize = 8;             /* hash, key offset: the value lives in the arena */
  m->mask = 15;
  m->slots = calloc(m->mask + 1, sizeof *m->slots);
  m->ablocks = calloc(ABLOCKS_MAX, sizeof *m->ablocks);
  if (!m->slots || !m->ablocks) { free(m->slots); free(m->ablocks); free(m); return NULL; }
  return m;
}

static void free_blocks(unsigned char **b, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) free(b[i]);
}

void bnc_mstore_free(bnc_mstore_t *m) {
  if (!m) return;
  free(m->slots);
  if (m->eblocks) free_blocks(m->eblocks, m->neblocks);
  free(m->eblocks);
  free_blocks(m->ablocks, m->nablocks);
  free(m->ablocks);
  free(m);
}

size_t bnc_mstore_count(const bnc_mstore_t *m) { return m->count; }
size_t bnc_mstore_vsize(const bnc_mstore_t *m) { return m->vsize; }
size_t bnc_mstore_key_bytes(const bnc_mstore_t *m) { return m->keys; }
size_t bnc_mstore_bytes(const bnc_mstore_t *m) {
  return sizeof *m + (m->mask + 1) * sizeof *m->slots + ABLOCKS_MAX * sizeof *m->ablocks +
         m->eblocks_cap * sizeof *m->eblocks + m->neblocks * (size_t)EBLOCK * m->esize +
         m->nablocks * (size_t)ABLOCK;
}

static int same_key(const bnc_mstore_t *m, const unsigned char *e, uint32_t h,
                    const char *key, size_t klen) {
  const unsigned char *k;
  if (E_HASH(e) != h) return 0;
  k = key_at(m, E_KOFF(e));
  return k[0] == klen && memcmp(k + 1, key, klen) == 0;
}

/* Slot holding key, or the empty slot where it would go (*found = 0). */
static size_t probe(const bnc_mstore_t *m, uint32_t h, const char *key, size_t klen, int *found) {
  size_t s = h & m->mask;
  for (;; s = (s + 1) & m->mask) {
    uint32_t v = m->slots[s];
    if (v == 0) { *found = 0; return s; }
    if (same_key(m, entry(m, v - 1), h, key, klen)) { *found = 1; return s; }
  }
}

unsigned char *bnc_mstore_ref(bnc_mstore_t *m, const char *key, size_t klen) {
  int found;
  size_t s;
  if (klen == 0 || klen > BNC_MSTORE_KEY_MAX) return NULL;
  s = probe(m, bnc_mstore_hash(key, klen, klen), key, klen, &found);
  return found ? value_at(m, E_KOFF(entry(m, m->slots[s] - 1))) : NULL;
}

const unsigned char *bnc_mstore_get(const bnc_mstore_t *m, const char *key, size_t klen) {
  return bnc_mstore_ref((bnc_mstore_t *)m, key, klen);
}

/* Appends key (behind its length byte) and value (vsize bytes) to the
 * arena; the key's offset in *off. */
static int arena_add(bnc_mstore_t *m, const char *key, size_t klen,
                     const unsigned char *value, uint32_t *off) {
  unsigned char *b;
  if (m->nablocks == 0 || m->alen + klen + 1 + m->vsize > ABLOCK) {
    if (m->nablocks == ABLOCKS_MAX) return BNC_ENOMEM;
    b = malloc(ABLOCK);
    if (!b) return BNC_ENOMEM;
    m->ablocks[m->nablocks++] = b;
    m->alen = 0;
  }
  b = m->ablocks[m->nablocks - 1];
  b[m->alen] = (unsigned char)klen;
  memcpy(b + m->alen + 1, key, klen);
  memcpy(b + m->alen + 1 + klen, value, m->vsize);
  *off = (uint32_t)(((m->nablocks - 1) << ABLOCK_BITS) | m->alen);
  m->alen += klen + 1 + m->vsize;
  return BNC_OK;
}

/* Copies the live keys and values into fresh arena blocks, dropping
 * deleted ones. On failure the table is unchanged. */
static int compact(bnc_mstore_t *m) {
  bnc_mstore_t fresh;
  unsigned char **old = m->ablocks;
  size_t i, nold = m->nablocks;
  fresh.ablocks = calloc(ABLOCKS_MAX, sizeof *fresh.ablocks);
  if (!fresh.ablocks) return BNC_ENOMEM;
  fresh.nablocks = 0;
  fresh.alen = 0;
  fresh.vsize = m->vsize;
  for (i = 0; i < m->count; i++) {
    const unsigned char *k = key_at(m, E_KOFF(entry(m, i)));
    uint32_t off;
    if (arena_add(&fresh, (const char *)k + 1, k[0], k + 1 + k[0], &off) != BNC_OK) {
      free_blocks(fresh.ablocks, fresh.nablocks);
      free(fresh.ablocks);
      return BNC_ENOMEM;
    }
  }
  /* Every key copied: now repoint the entries (same order as above). */
  {
    size_t at = 0, blk = 0;
    for (i = 0; i < m->count; i++) {
      unsigned char *e = entry(m, i);
      size_t n = (size_t)key_at(m, E_KOFF(e))[0] + 1 + m->vsize;
      uint32_t off;
      if (at + n > ABLOCK) { blk++; at = 0; }
      off = (uint32_t)((blk << ABLOCK_BITS) | at);
      memcpy(e + 4, &off, 4);
      at += n;
    }
  }
  free_blocks(old, nold);
  free(old);
  m->ablocks = fresh.ablocks;
  m->nablocks = fresh.nablocks;
  m->alen = fresh.alen;
  m->garbage = 0;
  return BNC_OK;
}

static int grow_slots(bnc_mstore_t *m) {
  size_t n = (m->mask + 1) * 2, i;
  uint32_t *slots = calloc(n, sizeof *slots);
  if (!slots) return BNC_ENOMEM;
  for (i = 0; i < m->count; i++) {
    size_t s = E_HASH(entry(m, i)) & (n - 1);
    while (slots[s]) s = (s + 1) & (n - 1);
    slots[s] = (uint32_t)i + 1;
  }
  free(m->slots);
  m->slots = slots;
  m->mask = n - 1;
  return BNC_OK;
}

/* Room for entry number m->count: a new block when the last one is full. */
static int reserve_entry(bnc_mstore_t *m) {
  if (m->count < m->neblocks * (size_t)EBLOCK) return BNC_OK;
  if (m->count >= 0xFFFFFFFEu) return BNC_ENOMEM;
  if (m->neblocks == m->eblocks_cap) {
    size_t cap = m->eblocks_cap ? m->eblocks_cap * 2 : 8;
    unsigned char **b = realloc(m->eblocks, cap * sizeof *b);
    if (!b) return BNC_ENOMEM;
    m->eblocks = b;
    m->eblocks_cap = cap;
  }
  m->eblocks[m->neblocks] = malloc((size_t)EBLOCK * m->esize);
  if (!m->eblocks[m->neblocks]) return BNC_ENOMEM;
  m->neblocks++;
  return BNC_OK;
}

int bnc_mstore_put(bnc_mstore_t *m, const char *key, size_t klen, const unsigned char *value) {
  uint32_t h, off;
  size_t s;
  int found;
  unsigned char *e;
  if (klen == 0 || klen > BNC_MSTORE_KEY_MAX) return BNC_EINVAL;
  h = bnc_mstore_hash(key, klen, klen);
  s = probe(m, h, key, klen, &found);
  if (found) {
    memcpy(value_at(m, E_KOFF(entry(m, m->slots[s] - 1))), value, m->vsize);
    return BNC_OK;
  }
  /* Load stays at most 3/4; every allocation happens before any change. */
  if ((m->count + 1) * 4 > (m->mask + 1) * 3) {
    if (grow_slots(m) != BNC_OK) return BNC_ENOMEM;
    s = probe(m, h, key, klen, &found);
  }
  if (m->garbage > ABLOCK && m->garbage > m->keys + m->count * (1 + m->vsize))
    compact(m);  /* best effort */
  if (reserve_entry(m) != BNC_OK || arena_add(m, key, klen, value, &off) != BNC_OK)
    return BNC_ENOMEM;
  m->keys += klen;
  e = entry(m, m->count);
  memcpy(e, &h, 4);
  memcpy(e + 4, &off, 4);
  m->slots[s] = (uint32_t)++m->count;
  return BNC_OK;
}

/* Empties slot s and shifts later members of its cluster back, so every
 * key stays reachable from its home slot without tombstones. */
static void free_slot(bnc_mstore_t *m, size_t s) {
  size_t j = s;
  for (;;) {
    size_t k;
    j = (j + 1) & m->mask;
    if (m->slots[j] == 0) break;
    k = E_HASH(entry(m, m->slots[j] - 1)) & m->mask;
    /* Leave j where it is when its home k lies cyclically in (s, j]. */
    if (s <= j ? (s < k && k <= j) : (s < k || k <= j)) continue;
    m->slots[s] = m->slots[j];
    s = j;
  }
  m->slots[s] = 0;
}

int bnc_mstore_del(bnc_mstore_t *m, const char *key, size_t klen) {
  int found;
  size_t s, i, last;
  unsigned char *e;
  if (klen == 0 || klen > BNC_MSTORE_KEY_MAX) return 0;
  s = probe(m, bnc_mstore_hash(key, klen, klen), key, klen, &found);
  if (!found) return 0;
  i = m->slots[s] - 1;
  e = entry(m, i);
  m->garbage += (size_t)key_at(m, E_KOFF(e))[0] + 1 + m->vsize;
  m->keys -= key_at(m, E_KOFF(e))[0];
  free_slot(m, s);
  last = m->count - 1;
  if (i != last) {
    /* Move the last entry into the hole and repoint its slot. */
    unsigned char *l = entry(m, last);
    size_t t = E_HASH(l) & m->mask;
    while (m->slots[t] != last + 1) t = (t + 1) & m->mask;
    memcpy(e, l, m->esize);
    m->slots[t] = (uint32_t)i + 1;
  }
  m->count--;
  if (m->count == 0) {  /* keep one block of each kind for reuse */
    free_blocks(m->ablocks + 1, m->nablocks > 1 ? m->nablocks - 1 : 0);
    if (m->nablocks > 1) m->nablocks = 1;
    m->alen = 0;
    m->garbage = 0;
  }
  return 1;
}

const unsigned char *bnc_mstore_at(const bnc_mstore_t *m, size_t i,
                                   const char **key, size_t *klen) {
  const unsigned char *e, *k;
  if (i >= m->count) return NULL;
  e = entry(m, i);
  k = key_at(m, E_KOFF(e));
  *key = (const char *)k + 1;
  *klen = k[0];
  return k + 1 + k[0];
}
