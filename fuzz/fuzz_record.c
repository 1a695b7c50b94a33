/*
 * fuzz_record.c - the record decoder on any bytes: it must never read out
 * of bounds, and whatever it accepts must re-encode to the same bytes and
 * survive every event.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../test/params.h"
#include "history.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Random bytes seldom carry a valid checksum: also encode the input's bytes
 * as raw fields, so decoding reaches the field checks and the steps. */
static void raw_fields(const uint8_t *d, size_t size) {
  bnc_record_t r, back;
  unsigned char out[BNC_RECORD_SIZE];
  if (size < 26) return;
  memset(&r, 0, sizeof r);   /* padding too: records are compared with memcmp */
  r.state = d[0]; r.cause = d[1]; r.last_event = d[2]; r.last_reason = d[3];
  r.soft_count = (uint16_t)(d[4] | d[5] << 8);
  r.block_count = (uint16_t)(d[6] | d[7] << 8);
  r.bounces = (uint16_t)(d[8] | d[9] << 8);
  memcpy(&r.last_at, d + 10, 4);
  memcpy(&r.t1, d + 14, 4);
  memcpy(&r.t2, d + 18, 4);
  memcpy(&r.last_soft_at, d + 22, 4);
  bnc_record_encode(&r, out);
  if (bnc_record_decode(out, sizeof out, &back) == BNC_REC_OK) {
    bnc_params_t p;
    int e;
    if (memcmp(&back, &r, sizeof r) != 0) abort();
    test_params(&p);
    for (e = BNC_EV_SENT; e < BNC_EV__COUNT; e++) {
      bnc_record_t x = back;
      bnc_event_in_t ev;
      bnc_decision_t dd;
      ev.type = e; ev.reason = d[3]; ev.at = (int64_t)r.last_at + (d[5] & 3) * 86400;
      if (ev.at < 1 || ev.at > 0xFFFFFFFFLL) ev.at = 1;
      ev.rand = 0.25; ev.permanent = d[4] & 1; ev.transient = (d[4] >> 1) & 1;
      if (bnc_history_step(&x, &ev, &p, &dd) != 0) abort();
      bnc_record_encode(&x, out);
      if (bnc_record_decode(out, sizeof out, &back) != BNC_REC_OK) abort();
      back = x;
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  bnc_record_t r;
  unsigned char out[BNC_RECORD_SIZE];
  char msg[128];
  int rc = bnc_record_decode(data, size, &r), e;
  bnc_params_t p;
  raw_fields(data, size);
  if (rc != BNC_REC_OK) {
    bnc_record_error(rc, data, size, msg, sizeof msg);
    if (!bnc_record_is_clean(&r)) abort();   /* a failed decode leaves nothing half-read */
    return 0;
  }
  bnc_record_encode(&r, out);
  if (size != BNC_RECORD_SIZE || memcmp(out, data, size) != 0) abort();
  test_params(&p);
  for (e = BNC_EV_SENT; e < BNC_EV__COUNT; e++) {
    bnc_record_t x = r, back;
    bnc_event_in_t ev;
    bnc_decision_t d;
    ev.type = e; ev.reason = data[5] % 40; ev.at = r.last_at ? r.last_at : 1;
    ev.rand = 0.5; ev.permanent = data[6] & 1; ev.transient = (data[6] >> 1) & 1;
    if (bnc_history_step(&x, &ev, &p, &d) != 0) abort();
    bnc_record_encode(&x, out);
    if (bnc_record_decode(out, sizeof out, &back) != BNC_REC_OK) abort();
  }
  return 0;
}
