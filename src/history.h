/*
 * history.h - the per-address state machine: a pure transition
 * (record, event, params, time) -> (new record, decision).
 *
 * No clock, no I/O, no allocation: time and the policy's numbers come in as
 * arguments. The policy (Lua) resolves what applies to an address and a
 * reason into a bnc_params_t; this file only applies it.
 *
 * Rules:
 * - soft: counts a streak and schedules a retry by the backoff (step n for
 *   the n-th soft bounce, the last step repeating). The address is
 *   suppressed (soft_exhausted) when the streak reaches max_attempts or has
 *   lasted `window` seconds since its first soft bounce, whichever comes
 *   first. A streak ends with a delivery, or when no soft bounce came for
 *   `reset_after` seconds: the next soft bounce then starts a new one (a
 *   quiet address is not condemned by an old failure).
 * - A hard bounce said with a 4xx (transient: an address reason under a
 *   temporary code, such as a recipient still being verified) is a soft
 *   bounce when hard_transient is BNC_TRANSIENT_SOFT, a hard one otherwise.
 * - delivered ends the streak and the block count: active, clean counters.
 * - hard, complaint, unsubscribe (and a manual suppress) suppress at once,
 *   for their cause's retention. On an already suppressed address the
 *   suppression that lasts longer wins (a hard bounce turns a 30-day
 *   soft_exhausted suppression into a permanent one; nothing shortens one).
 * - block never suppresses: action hold, retry at now + block backoff.
 * - release makes the address clean and active.
 * - A suppression ends at its expiry: any event or check at or after it
 *   first resets the record to clean, then applies.
 * - sent changes nothing; it asks what stands in the way (a retry or hold
 *   time still ahead gives `retry`, a suppression gives `suppress`).
 * - Other events on a suppressed address leave it as it is.
 */
#ifndef BNC_HISTORY_H
#define BNC_HISTORY_H

#include <stdint.h>
#include "record.h"

#define BNC_BACKOFF_MAX 100
#define BNC_FOREVER (-1)

typedef enum { BNC_ACT_SEND = 0, BNC_ACT_RETRY, BNC_ACT_SUPPRESS, BNC_ACT_HOLD, BNC_ACT__COUNT } bnc_action_t;

typedef enum { BNC_TRANSIENT_SOFT = 0, BNC_TRANSIENT_SUPPRESS } bnc_transient_t;

/* What the policy says for one (domain, reason): plain numbers. */
typedef struct {
  uint32_t max_attempts;                  /* >= 1 */
  uint32_t permanent_max_attempts;        /* the same when the bounce was a 5xx; <= max */
  uint32_t window;                        /* seconds, 0 = no window */
  uint32_t reset_after;                   /* seconds without a soft bounce that end a streak */
  int hard_transient;                     /* bnc_transient_t: what a 4xx hard bounce is */
  uint32_t soft_backoff[BNC_BACKOFF_MAX]; /* seconds per attempt */
  uint32_t soft_steps;                    /* 1..BNC_BACKOFF_MAX */
  uint32_t block_backoff[BNC_BACKOFF_MAX];
  uint32_t block_steps;                   /* 1..BNC_BACKOFF_MAX */
  double soft_jitter, block_jitter;       /* 0..1: delay * (1 + jitter * (2 rand - 1)) */
  int64_t retention[BNC_CAUSE__COUNT];    /* seconds per cause; BNC_FOREVER */
} bnc_params_t;

typedef struct {
  int type;        /* bnc_event_t */
  int reason;      /* bnc_reason_t; out of range means "undefined" */
  int64_t at;      /* unix seconds, 1..UINT32_MAX */
  double rand;     /* uniform in [0, 1), used only when jitter > 0 */
  int permanent;   /* a soft bounce said with a 5xx: permanent_max_attempts applies */
  int transient;   /* a hard bounce said with a 4xx: hard_transient decides */
} bnc_event_in_t;

typedef struct {
  int action;          /* bnc_action_t */
  int state;           /* bnc_state_t after the event */
  int cause;           /* bnc_cause_t, NONE unless suppressed */
  int reason;          /* the reason behind the state (the record's last reason) */
  unsigned attempts;   /* soft bounces in the streak */
  uint32_t retry_at;   /* retry/hold: when; 0 otherwise */
  uint32_t expires_at; /* suppress: when it ends; 0 = forever */
  uint32_t since;      /* suppress: since when */
  int changed;         /* the record must be written back */
  int expired;         /* a suppression ended before this event applied */
} bnc_decision_t;

/* Checks a params struct; returns NULL or what is wrong. */
const char *bnc_params_check(const bnc_params_t *p);

/* The event type ev stands for under p: a transient hard bounce is soft
 * when the policy says so; any other event keeps its type. */
int bnc_event_effective(const bnc_event_in_t *ev, const bnc_params_t *p);

/* Applies ev to *rec (in place) under p. Returns BNC_OK, or BNC_EINVAL when
 * the event type or time is out of range (*rec untouched). */
int bnc_history_step(bnc_record_t *rec, const bnc_event_in_t *ev,
                     const bnc_params_t *p, bnc_decision_t *out);

const char *bnc_action_name(int a);

#endif
