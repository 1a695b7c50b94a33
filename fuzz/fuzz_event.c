/*
 * fuzz_event.c - the state machine on any sequence of events under any
 * params: every step must succeed, keep the record's invariants and give a
 * decision consistent with the record; every record must round-trip
 * through the codec.
 *
 * Input: 16 bytes of params, then 6 bytes per event: type, reason, time
 * step (2 bytes, minutes; 0xFFFF jumps a year), rand, flags.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../test/params.h"
#include "history.h"
#include "reason.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok) { if (!ok) abort(); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  bnc_params_t p;
  bnc_record_t r, back;
  int64_t at = 1795132800;
  size_t i;
  unsigned j;
  if (size < 16) return 0;
  test_params(&p);
  p.max_attempts = 1u + data[0] % 20;
  p.permanent_max_attempts = 1u + data[1] % p.max_attempts;
  p.window = data[2] ? (uint32_t)data[2] * 3600u : 0;
  p.soft_steps = 1u + data[3] % 8;
  for (j = 0; j < p.soft_steps; j++) p.soft_backoff[j] = (uint32_t)data[4 + j % 4] * 60u;
  p.block_steps = 1u + data[8] % 4;
  for (j = 0; j < p.block_steps; j++) p.block_backoff[j] = (uint32_t)data[9 + j % 2] * 300u;
  p.soft_jitter = (data[11] % 11) / 10.0;
  p.block_jitter = (data[12] % 11) / 10.0;
  for (j = 1; j < BNC_CAUSE__COUNT; j++)
    p.retention[j] = (data[13 + j % 3] & 0x80) ? BNC_FOREVER : (int64_t)(data[13 + j % 3]) * 86400;
  check(bnc_params_check(&p) == NULL);
  bnc_record_init(&r);
  for (i = 16; i + 6 <= size; i += 6) {
    bnc_event_in_t ev;
    bnc_decision_t d;
    unsigned char out[BNC_RECORD_SIZE];
    unsigned step = (unsigned)data[i + 2] | ((unsigned)data[i + 3] << 8);
    at += step == 0xFFFF ? 365 * 86400 : (int64_t)step * 60;
    if (at > 0xFFFFFFFFLL) return 0;
    ev.type = 1 + data[i] % (BNC_EV__COUNT - 1);
    ev.reason = data[i + 1] % (BNC_R__COUNT + 3);   /* some out of range */
    ev.at = at;
    ev.rand = data[i + 4] / 256.0;
    ev.permanent = data[i + 5] & 1;
    ev.transient = (data[i + 5] >> 1) & 1;
    check(bnc_history_step(&r, &ev, &p, &d) == 0);
    check(r.state < BNC_ST__COUNT && r.cause < BNC_CAUSE__COUNT && r.last_reason < BNC_R__COUNT);
    check((r.state == BNC_ST_SUPPRESSED) == (r.cause != BNC_CAUSE_NONE));
    check(d.state == r.state && d.cause == r.cause);
    check((d.action == BNC_ACT_SUPPRESS) == (r.state == BNC_ST_SUPPRESSED));
    if (d.action == BNC_ACT_RETRY || d.action == BNC_ACT_HOLD) check(d.retry_at >= at);
    if (d.action == BNC_ACT_SUPPRESS) check(d.expires_at == 0 || d.expires_at >= at);
    if (ev.type == BNC_EV_BLOCK) check(d.action == BNC_ACT_HOLD || d.action == BNC_ACT_SUPPRESS);
    if (ev.type == BNC_EV_CHECK || ev.type == BNC_EV_SENT) check(!d.changed || d.expired);
    if (r.state != BNC_ST_SUPPRESSED) check(r.soft_count < p.max_attempts || p.max_attempts == 0);
    bnc_record_encode(&r, out);
    check(bnc_record_decode(out, sizeof out, &back) == BNC_REC_OK);
    check(memcmp(&back, &r, sizeof r) == 0);
  }
  return 0;
}
