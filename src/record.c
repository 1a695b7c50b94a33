/*
 * record.c - the record codec (see record.h for the layout) and the names
 * of states, causes and events.
 */
#include <stdio.h>
#include <string.h>
#include "record.h"
#include "reason.h"

static const char *const STATES[BNC_ST__COUNT] = { "active", "bouncing", "suppressed" };
static const char *const CAUSES[BNC_CAUSE__COUNT] = {
  "none", "hard", "soft_exhausted", "complaint", "unsubscribe", "manual"
};
static const char *const EVENTS[BNC_EV__COUNT] = {
  "none", "sent", "delivered", "soft", "hard", "block", "complaint",
  "unsubscribe", "release", "suppress", "check"
};

const char *bnc_state_name(int s) {
  return (s >= 0 && s < BNC_ST__COUNT) ? STATES[s] : NULL;
}
const char *bnc_cause_name(int c) {
  return (c >= 0 && c < BNC_CAUSE__COUNT) ? CAUSES[c] : NULL;
}
const char *bnc_event_name(int e) {
  return (e >= 0 && e < BNC_EV__COUNT) ? EVENTS[e] : NULL;
}

static int find(const char *const *names, int n, const char *s, size_t len) {
  int i;
  for (i = 0; i < n; i++)
    if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0) return i;
  return -1;
}
int bnc_event_find(const char *name, size_t len) { return find(EVENTS, BNC_EV__COUNT, name, len); }
int bnc_cause_find(const char *name, size_t len) { return find(CAUSES, BNC_CAUSE__COUNT, name, len); }

void bnc_record_init(bnc_record_t *r) { memset(r, 0, sizeof *r); }

int bnc_record_is_clean(const bnc_record_t *r) {
  bnc_record_t z;
  bnc_record_init(&z);
  return r->state == z.state && r->cause == z.cause && r->last_event == z.last_event &&
         r->last_reason == z.last_reason && r->soft_count == 0 && r->block_count == 0 &&
         r->bounces == 0 && r->last_at == 0 && r->t1 == 0 && r->t2 == 0 &&
         r->last_soft_at == 0;
}

static void put16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
  p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}
static uint16_t get16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* FNV-1a, 32 bits: enough to catch storage corruption; not a MAC. Four
 * bytes a round (every record is read and written on each event): the
 * same hash, fewer loop steps. */
static uint32_t fnv1a(const unsigned char *p, size_t n) {
  uint32_t h = 2166136261u;
  for (; n >= 4; p += 4, n -= 4) {
    h = (h ^ p[0]) * 16777619u;
    h = (h ^ p[1]) * 16777619u;
    h = (h ^ p[2]) * 16777619u;
    h = (h ^ p[3]) * 16777619u;
  }
  while (n--) { h ^= *p++; h *= 16777619u; }
  return h;
}

void bnc_record_encode(const bnc_record_t *r, unsigned char out[BNC_RECORD_SIZE]) {
  out[0] = BNC_RECORD_MAGIC;
  out[1] = BNC_RECORD_VERSION;
  out[2] = r->state;
  out[3] = r->cause;
  out[4] = r->last_event;
  out[5] = r->last_reason;
  put16(out + 6, r->soft_count);
  put32(out + 8, r->last_at);
  put32(out + 12, r->t1);
  put32(out + 16, r->t2);
  put32(out + 20, r->last_soft_at);
  put16(out + 24, r->block_count);
  put16(out + 26, r->bounces);
  put32(out + 28, fnv1a(out, 28));
}

/* The invariants every encoded record keeps: fields in range, a cause only
 * when suppressed, an expiry only when suppressed or a retry time. */
static int valid(const bnc_record_t *r) {
  if (r->state >= BNC_ST__COUNT || r->cause >= BNC_CAUSE__COUNT) return 0;
  if (r->last_event >= BNC_EV__COUNT || r->last_event == BNC_EV_CHECK) return 0;
  if (r->last_reason >= BNC_R__COUNT) return 0;
  if ((r->state == BNC_ST_SUPPRESSED) != (r->cause != BNC_CAUSE_NONE)) return 0;
  return 1;
}

int bnc_record_decode(const void *buf, size_t len, bnc_record_t *r) {
  const unsigned char *p = buf;
  bnc_record_init(r);
  /* Magic, then version, then size: a future version may change the size. */
  if (len == 0 || p[0] != BNC_RECORD_MAGIC) return BNC_REC_EMAGIC;
  if (len < 2) return BNC_REC_ESIZE;
  if (p[1] != BNC_RECORD_VERSION) return BNC_REC_EVERSION;
  if (len != BNC_RECORD_SIZE) return BNC_REC_ESIZE;
  if (get32(p + 28) != fnv1a(p, 28)) return BNC_REC_ECHECKSUM;
  r->state = p[2];
  r->cause = p[3];
  r->last_event = p[4];
  r->last_reason = p[5];
  r->soft_count = get16(p + 6);
  r->last_at = get32(p + 8);
  r->t1 = get32(p + 12);
  r->t2 = get32(p + 16);
  r->last_soft_at = get32(p + 20);
  r->block_count = get16(p + 24);
  r->bounces = get16(p + 26);
  if (!valid(r)) { bnc_record_init(r); return BNC_REC_EFIELD; }
  return BNC_REC_OK;
}

const char *bnc_record_error(int rc, const void *buf, size_t len, char *msg, size_t cap) {
  const unsigned char *p = buf;
  switch (rc) {
  case BNC_REC_OK: snprintf(msg, cap, "no error"); break;
  case BNC_REC_ESIZE:
    snprintf(msg, cap, "record truncated or padded: %lu bytes, expected %d",
             (unsigned long)len, BNC_RECORD_SIZE);
    break;
  case BNC_REC_EMAGIC:
    if (len == 0) snprintf(msg, cap, "empty record");
    else snprintf(msg, cap, "not a bounce record (first byte 0x%02x, expected 0x%02x)",
                  p[0], BNC_RECORD_MAGIC);
    break;
  case BNC_REC_EVERSION:
    snprintf(msg, cap, "record version %d is not supported (this build reads version %d)",
             p[1], BNC_RECORD_VERSION);
    break;
  case BNC_REC_ECHECKSUM: snprintf(msg, cap, "checksum mismatch (record corrupt)"); break;
  default: snprintf(msg, cap, "field out of range (record corrupt)"); break;
  }
  return msg;
}
