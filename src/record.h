/*
 * record.h - the per-address history record and its codec.
 *
 * A record is what the tracker remembers about one address: its state, the
 * current soft-bounce streak, the suppression (cause, since, expiry) and the
 * last event. Stores keep it as an opaque blob of BNC_RECORD_SIZE bytes:
 * fixed layout, little-endian, a magic byte, a version byte and an FNV-1a
 * checksum, so a corrupt or foreign blob is reported, never silently reset.
 *
 * Times are unix seconds in 32 bits (until 2106); 0 means "none". Two time
 * fields change meaning with the state, which keeps the blob at 32 bytes:
 * t1 is the streak start (active/bouncing) or the suppression time
 * (suppressed); t2 is the next retry (active/bouncing) or the expiry
 * (suppressed, 0 = forever).
 *
 * Layout (v1): 0 magic 0xB5 | 1 version | 2 state | 3 cause | 4 last event |
 * 5 last reason | 6-7 soft count | 8 last_at | 12 t1 | 16 t2 |
 * 20 last_soft_at | 24-25 block count | 26-27 bounces | 28 checksum of 0..27.
 */
#ifndef BNC_RECORD_H
#define BNC_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define BNC_RECORD_SIZE 32
#define BNC_RECORD_MAGIC 0xB5
#define BNC_RECORD_VERSION 1

typedef enum { BNC_ST_ACTIVE = 0, BNC_ST_BOUNCING, BNC_ST_SUPPRESSED, BNC_ST__COUNT } bnc_state_t;

typedef enum {
  BNC_CAUSE_NONE = 0, BNC_CAUSE_HARD, BNC_CAUSE_SOFT_EXHAUSTED, BNC_CAUSE_COMPLAINT,
  BNC_CAUSE_UNSUBSCRIBE, BNC_CAUSE_MANUAL, BNC_CAUSE__COUNT
} bnc_cause_t;

/* Events of the state machine. BNC_EV_SUPPRESS is a manual suppression;
 * BNC_EV_CHECK only looks (lazy expiry included) and never changes a record. */
typedef enum {
  BNC_EV_NONE = 0, BNC_EV_SENT, BNC_EV_DELIVERED, BNC_EV_SOFT, BNC_EV_HARD,
  BNC_EV_BLOCK, BNC_EV_COMPLAINT, BNC_EV_UNSUBSCRIBE, BNC_EV_RELEASE,
  BNC_EV_SUPPRESS, BNC_EV_CHECK, BNC_EV__COUNT
} bnc_event_t;

typedef struct {
  uint8_t state;         /* bnc_state_t */
  uint8_t cause;         /* bnc_cause_t, NONE unless suppressed */
  uint8_t last_event;    /* bnc_event_t of the last change, NONE for a new record */
  uint8_t last_reason;   /* bnc_reason_t of the last change */
  uint16_t soft_count;   /* soft bounces in the current streak (saturates) */
  uint16_t block_count;  /* blocks since the last delivery (saturates) */
  uint16_t bounces;      /* failures of any kind, ever (saturates) */
  uint32_t last_at;      /* time of the last change */
  uint32_t t1;           /* streak start, or suppressed since */
  uint32_t t2;           /* next retry, or expiry (0 = forever) */
  uint32_t last_soft_at; /* time of the last soft bounce */
} bnc_record_t;

/* Decoding errors; bnc_record_error() names them. */
#define BNC_REC_OK         0
#define BNC_REC_ESIZE     -1   /* truncated or too long */
#define BNC_REC_EMAGIC    -2   /* not a record of this library */
#define BNC_REC_EVERSION  -3   /* a version this build does not read */
#define BNC_REC_ECHECKSUM -4   /* bytes changed after encoding */
#define BNC_REC_EFIELD    -5   /* checksum fine, a field out of range */

/* A clean record: active, no history. */
void bnc_record_init(bnc_record_t *r);
/* Whether r is clean (equivalent to no record at all). */
int bnc_record_is_clean(const bnc_record_t *r);
/* Writes exactly BNC_RECORD_SIZE bytes to out. */
void bnc_record_encode(const bnc_record_t *r, unsigned char out[BNC_RECORD_SIZE]);
/* Decodes buf[0..len) into *r. Returns BNC_REC_OK or an error code; on error
 * *r is a clean record. */
int bnc_record_decode(const void *buf, size_t len, bnc_record_t *r);
/* Describes a decoding error of buf[0..len) into msg (NUL-terminated,
 * truncated to cap), e.g. "checksum mismatch (record corrupt)". */
const char *bnc_record_error(int rc, const void *buf, size_t len, char *msg, size_t cap);

/* Names: "active", "soft_exhausted", "delivered"...; NULL when out of range
 * (the NONE cause and event have names "none"). */
const char *bnc_state_name(int s);
const char *bnc_cause_name(int c);
const char *bnc_event_name(int e);
/* Lookup by name of len bytes; -1 when unknown. */
int bnc_event_find(const char *name, size_t len);
int bnc_cause_find(const char *name, size_t len);

#endif
