/*
 * params.h - the state machine's numbers the C tests, benchmarks and fuzz
 * targets run with. The core has no defaults of its own: a policy gives
 * every number (policies/default.lua is the default one, which
 * core.params falls back on). These are that policy's values, written out
 * as a fixture: 5 attempts in 72h, a streak ends after 30d without a soft
 * bounce, a 4xx hard bounce is soft, backoff 10m 30m 2h 8h 24h, block 15m
 * 1h 4h, retention hard/complaint/unsubscribe/manual forever, soft 30d.
 */
#ifndef BNC_TEST_PARAMS_H
#define BNC_TEST_PARAMS_H

#include <string.h>
#include "history.h"

static inline void test_params(bnc_params_t *p) {
  static const uint32_t soft[] = { 600, 1800, 7200, 28800, 86400 };
  static const uint32_t block[] = { 900, 3600, 14400 };
  memset(p, 0, sizeof *p);
  p->max_attempts = 5;
  p->permanent_max_attempts = 5;
  p->window = 72 * 3600;
  p->reset_after = 30 * 86400;
  p->hard_transient = BNC_TRANSIENT_SOFT;
  memcpy(p->soft_backoff, soft, sizeof soft);
  p->soft_steps = 5;
  memcpy(p->block_backoff, block, sizeof block);
  p->block_steps = 3;
  p->retention[BNC_CAUSE_NONE] = 0;
  p->retention[BNC_CAUSE_HARD] = BNC_FOREVER;
  p->retention[BNC_CAUSE_SOFT_EXHAUSTED] = 30 * 86400;
  p->retention[BNC_CAUSE_COMPLAINT] = BNC_FOREVER;
  p->retention[BNC_CAUSE_UNSUBSCRIBE] = BNC_FOREVER;
  p->retention[BNC_CAUSE_MANUAL] = BNC_FOREVER;
}

#endif
