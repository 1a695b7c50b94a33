/*
 * history.c - the state machine of history.h. Every rule is one small
 * function; bnc_history_step dispatches on the event.
 */
#include <string.h>
#include "history.h"
#include "reason.h"
#include "bnc.h"

#define MAX_TIME 0xFFFFFFFFu

static const char *const ACTIONS[BNC_ACT__COUNT] = { "send", "retry", "suppress", "hold" };

const char *bnc_action_name(int a) {
  return (a >= 0 && a < BNC_ACT__COUNT) ? ACTIONS[a] : NULL;
}

const char *bnc_params_check(const bnc_params_t *p) {
  int i;
  if (p->max_attempts < 1 || p->permanent_max_attempts < 1)
    return "max_attempts must be at least 1";
  if (p->soft_steps < 1 || p->soft_steps > BNC_BACKOFF_MAX) return "soft backoff needs 1..100 steps";
  if (p->block_steps < 1 || p->block_steps > BNC_BACKOFF_MAX) return "block backoff needs 1..100 steps";
  if (!(p->soft_jitter >= 0 && p->soft_jitter <= 1) || !(p->block_jitter >= 0 && p->block_jitter <= 1))
    return "jitter must be within 0..1";
  if (p->hard_transient != BNC_TRANSIENT_SOFT && p->hard_transient != BNC_TRANSIENT_SUPPRESS)
    return "hard_transient must be soft or suppress";
  for (i = 1; i < BNC_CAUSE__COUNT; i++)
    if (p->retention[i] < BNC_FOREVER) return "retention must be -1 (forever) or >= 0 seconds";
  return NULL;
}

/* t + d, clamped to the 32-bit range of the record (0 stays "none"). */
static uint32_t later(int64_t t, int64_t d) {
  int64_t v = t + d;
  if (v < 1) return 1;
  return v > (int64_t)MAX_TIME ? MAX_TIME : (uint32_t)v;
}

static uint16_t inc16(uint16_t v) { return v == 0xFFFF ? v : (uint16_t)(v + 1); }

/* Delay of step n (1-based) of a backoff list, the last step repeating,
 * spread by jitter: d * (1 + jitter * (2 * rand - 1)), rounded, at least 1
 * (bounce.policy's delay() says the same). */
static int64_t delay(const uint32_t *steps, uint32_t nsteps, unsigned n,
                     double jitter, double rand) {
  double d = steps[(n == 0 ? 1 : (n > nsteps ? nsteps : n)) - 1];
  if (jitter > 0) {
    d *= 1 + jitter * (2 * rand - 1);
    d = (double)(int64_t)(d + 0.5);
    if (d < 1) d = 1;
  }
  return (int64_t)d;
}

/* Records the event as the last change; an event without a reason takes the
 * one its type implies (delivered, feedback). */
static void touch(bnc_record_t *r, const bnc_event_in_t *ev) {
  int reason = ((unsigned)ev->reason < BNC_R__COUNT) ? ev->reason : BNC_R_UNDEFINED;
  if (reason == BNC_R_UNDEFINED && ev->type == BNC_EV_DELIVERED) reason = BNC_R_DELIVERED;
  if (reason == BNC_R_UNDEFINED && ev->type == BNC_EV_COMPLAINT) reason = BNC_R_FEEDBACK;
  r->last_event = (uint8_t)ev->type;
  r->last_reason = (uint8_t)reason;
  r->last_at = (uint32_t)ev->at;
}

/* Suppresses for cause c, or keeps a suppression that lasts longer. */
static void suppress(bnc_record_t *r, const bnc_event_in_t *ev, const bnc_params_t *p,
                     int c, bnc_decision_t *d) {
  int64_t keep = p->retention[c];
  uint32_t expires = keep == BNC_FOREVER ? 0 : later(ev->at, keep);
  if (r->state == BNC_ST_SUPPRESSED) {
    /* 0 is forever: the current one lasts at least as long, keep it. */
    if (r->t2 == 0 || (expires != 0 && expires <= r->t2)) return;
  }
  touch(r, ev);
  r->state = BNC_ST_SUPPRESSED;
  r->cause = (uint8_t)c;
  r->t1 = (uint32_t)ev->at;
  r->t2 = expires;
  d->changed = 1;
}

static void on_soft(bnc_record_t *r, const bnc_event_in_t *ev, const bnc_params_t *p,
                    bnc_decision_t *d) {
  int64_t at = ev->at;
  if (r->state == BNC_ST_SUPPRESSED) return;
  if (r->soft_count == 0 ||
      (p->reset_after && at - (int64_t)r->last_soft_at >= p->reset_after)) {
    r->soft_count = 0;
    r->t1 = (uint32_t)at;
  }
  r->soft_count = inc16(r->soft_count);
  r->bounces = inc16(r->bounces);
  r->last_soft_at = (uint32_t)at;
  d->changed = 1;
  if (r->soft_count >= (ev->permanent ? p->permanent_max_attempts : p->max_attempts) ||
      (p->window && at - (int64_t)r->t1 >= p->window)) {
    suppress(r, ev, p, BNC_CAUSE_SOFT_EXHAUSTED, d);
    return;
  }
  touch(r, ev);
  r->state = BNC_ST_BOUNCING;
  r->t2 = later(at, delay(p->soft_backoff, p->soft_steps, r->soft_count,
                                    p->soft_jitter, ev->rand));
}

static void on_block(bnc_record_t *r, const bnc_event_in_t *ev, const bnc_params_t *p,
                     bnc_decision_t *d) {
  if (r->state == BNC_ST_SUPPRESSED) return;
  r->block_count = inc16(r->block_count);
  r->bounces = inc16(r->bounces);
  touch(r, ev);
  r->t2 = later(ev->at, delay(p->block_backoff, p->block_steps, r->block_count,
                              p->block_jitter, ev->rand));
  d->changed = 1;
}

static void on_delivered(bnc_record_t *r, const bnc_event_in_t *ev, bnc_decision_t *d) {
  if (r->state == BNC_ST_SUPPRESSED) return;
  r->state = BNC_ST_ACTIVE;
  r->soft_count = 0;
  r->block_count = 0;
  r->t1 = r->t2 = 0;
  touch(r, ev);
  d->changed = 1;
}

/* The action a record implies at time at, for events that leave it as is. */
static int standing(const bnc_record_t *r, int64_t at) {
  if (r->state == BNC_ST_SUPPRESSED) return BNC_ACT_SUPPRESS;
  if (r->t2 && at < (int64_t)r->t2)
    return r->last_event == BNC_EV_BLOCK ? BNC_ACT_HOLD : BNC_ACT_RETRY;
  return BNC_ACT_SEND;
}

int bnc_event_effective(const bnc_event_in_t *ev, const bnc_params_t *p) {
  if (ev->type == BNC_EV_HARD && ev->transient && p->hard_transient == BNC_TRANSIENT_SOFT)
    return BNC_EV_SOFT;
  return ev->type;
}

int bnc_history_step(bnc_record_t *rec, const bnc_event_in_t *ev,
                     const bnc_params_t *p, bnc_decision_t *d) {
  bnc_record_t *r = rec;
  bnc_event_in_t eff;
  int type;
  if (ev->type <= BNC_EV_NONE || ev->type >= BNC_EV__COUNT) return BNC_EINVAL;
  if (ev->at < 1 || ev->at > (int64_t)MAX_TIME) return BNC_EINVAL;
  memset(d, 0, sizeof *d);
  type = bnc_event_effective(ev, p);
  if (type != ev->type) {   /* a transient hard bounce, stepped as the soft one it is */
    eff = *ev;
    eff.type = type;
    eff.permanent = 0;
    ev = &eff;
  }
  if (r->state == BNC_ST_SUPPRESSED && r->t2 && ev->at >= (int64_t)r->t2) {
    bnc_record_init(r);
    d->expired = 1;
    d->changed = 1;
  }
  switch (type) {
  case BNC_EV_SOFT: on_soft(r, ev, p, d); break;
  case BNC_EV_BLOCK: on_block(r, ev, p, d); break;
  case BNC_EV_DELIVERED: on_delivered(r, ev, d); break;
  case BNC_EV_HARD:
    if (r->state != BNC_ST_SUPPRESSED) r->bounces = inc16(r->bounces);
    suppress(r, ev, p, BNC_CAUSE_HARD, d);
    break;
  case BNC_EV_COMPLAINT: suppress(r, ev, p, BNC_CAUSE_COMPLAINT, d); break;
  case BNC_EV_UNSUBSCRIBE: suppress(r, ev, p, BNC_CAUSE_UNSUBSCRIBE, d); break;
  case BNC_EV_SUPPRESS: suppress(r, ev, p, BNC_CAUSE_MANUAL, d); break;
  case BNC_EV_RELEASE:
    if (!bnc_record_is_clean(r)) d->changed = 1;
    bnc_record_init(r);
    break;
  default: break;  /* sent, check */
  }
  if (type == BNC_EV_CHECK) d->changed = 0;  /* looking never writes */
  if (type == BNC_EV_BLOCK && r->state != BNC_ST_SUPPRESSED) d->action = BNC_ACT_HOLD;
  else if (type == BNC_EV_SOFT && r->state == BNC_ST_BOUNCING) d->action = BNC_ACT_RETRY;
  else d->action = standing(r, ev->at);
  d->state = r->state;
  d->cause = r->cause;
  d->reason = r->last_reason;
  d->attempts = r->soft_count;
  if (r->state == BNC_ST_SUPPRESSED) {
    d->since = r->t1;
    d->expires_at = r->t2;
  } else if (d->action == BNC_ACT_RETRY || d->action == BNC_ACT_HOLD) {
    d->retry_at = r->t2;
  }
  return 0;
}
