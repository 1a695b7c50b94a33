/*
 * test_history.c - the state machine, the record codec and the memory
 * store's table, in plain C.
 */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "address.h"
#include "verp.h"
#include "history.h"
#include "params.h"
#include "mstore.h"
#include "reason.h"
#include "record.h"

#define T0 1795000000   /* 2026-11-18 */
#define H 3600
#define D 86400

static bnc_decision_t ev(bnc_record_t *r, const bnc_params_t *p, int type, int reason, int64_t at) {
  bnc_event_in_t e;
  bnc_decision_t d;
  e.type = type; e.reason = reason; e.at = at; e.rand = 0; e.permanent = 0; e.transient = 0;
  CHECK_INT(bnc_history_step(r, &e, p, &d), 0);
  return d;
}

/* Round-trips through the codec, as a store would. */
static void roundtrip(bnc_record_t *r) {
  unsigned char b[BNC_RECORD_SIZE];
  bnc_record_t back;
  bnc_record_encode(r, b);
  CHECK_INT(bnc_record_decode(b, sizeof b, &back), BNC_REC_OK);
  CHECK(memcmp(&back, r, sizeof back) == 0);
  *r = back;
}

static void test_soft_backoff_and_count(void) {
  bnc_params_t p;
  bnc_record_t r;
  bnc_decision_t d;
  test_params(&p);
  bnc_record_init(&r);
  d = ev(&r, &p, BNC_EV_SOFT, BNC_R_MAILBOXFULL, T0);
  CHECK_INT(d.action, BNC_ACT_RETRY);
  CHECK_INT(d.state, BNC_ST_BOUNCING);
  CHECK_INT(d.retry_at, T0 + 600);
  CHECK_INT(d.attempts, 1);
  CHECK(d.changed);
  roundtrip(&r);
  d = ev(&r, &p, BNC_EV_SOFT, BNC_R_MAILBOXFULL, T0 + 700);
  CHECK_INT(d.retry_at, T0 + 700 + 1800);
  d = ev(&r, &p, BNC_EV_SOFT, BNC_R_MAILBOXFULL, T0 + 3000);
  CHECK_INT(d.retry_at, T0 + 3000 + 7200);
  d = ev(&r, &p, BNC_EV_SOFT, BNC_R_MAILBOXFULL, T0 + 4 * H);
  CHECK_INT(d.retry_at, T0 + 4 * H + 28800);
  roundtrip(&r);
  d = ev(&r, &p, BNC_EV_SOFT, BNC_R_MAILBOXFULL, T0 + 13 * H);
  CHECK_INT(d.action, BNC_ACT_SUPPRESS);
  CHECK_INT(d.cause, BNC_CAUSE_SOFT_EXHAUSTED);
  CHECK_INT(d.since, T0 + 13 * H);
  CHECK_INT(d.expires_at, T0 + 13 * H + 30 * D);
  CHECK_INT(d.attempts, 5);
  CHECK_INT(d.reason, BNC_R_MAILBOXFULL);
}

static void test_soft_window_and_staleness(void) {
  bnc_params_t p;
  bnc_record_t r;
  bnc_decision_t d;
  test_params(&p);
  p.max_attempts = 100;
  bnc_record_init(&r);
  ev(&r, &p, BNC_EV_SOFT, BNC_R_SYSTEMERROR, T0);
  ev(&r, &p, BNC_EV_SOFT, BNC_R_SYSTEMERROR, T0 + 30 * H);
  d = ev(&r, &p, BNC_EV_SOFT, BNC_R_SYSTEMERROR, T0 + 60 * H);
  CHECK_INT(d.action, BNC_ACT_RETRY);
  d = ev(&r, &p, BNC_EV_SOFT, BNC_R_SYSTEMERROR, T0 + 72 * H);
  CHECK_INT(d.action, BNC_ACT_SUPPRESS);
  CHECK_INT(d.cause, BNC_CAUSE_SOFT_EXHAUSTED);
  /* a bounce 73 h after the first is past the 72 h window: the streak goes on
   * (reset_after 30 d) and is window old */
  bnc_record_init(&r);
  ev(&r, &p, BNC_EV_SOFT, BNC_R_SYSTEMERROR, T0);
  d = ev(&r, &p, BNC_EV_SOFT, BNC_R_SYSTEMERROR, T0 + 73 * H);
  CHECK_INT(d.action, BNC_ACT_SUPPRESS);
  CHECK_INT(d.attempts, 2);
  /* reset_after without a soft bounce ends the streak; just before, it goes on */
  bnc_record_init(&r);
  ev(&r, &p, BNC_EV_SOFT, BNC_R_SYSTEMERROR, T0);
  d = ev(&r, &p, BNC_EV_SOFT, BNC_R_SYSTEMERROR, T0 + 30 * D);
  CHECK_INT(d.action, BNC_ACT_RETRY);
  CHECK_INT(d.attempts, 1);
  CHECK_INT(r.t1, T0 + 30 * D);
  /* weekly soft bounces with no window: counted to max_attempts */
  p.window = 0;
  p.max_attempts = 5;
  bnc_record_init(&r);
  {
    int w;
    for (w = 0; w < 4; w++) {
      d = ev(&r, &p, BNC_EV_SOFT, BNC_R_MAILBOXFULL, T0 + w * 7 * D);
      CHECK_INT(d.action, BNC_ACT_RETRY);
      CHECK_INT(d.attempts, (unsigned)w + 1);
    }
    d = ev(&r, &p, BNC_EV_SOFT, BNC_R_MAILBOXFULL, T0 + 28 * D);
    CHECK_INT(d.action, BNC_ACT_SUPPRESS);
    CHECK_INT(d.attempts, 5);
  }
  /* window 0 and reset_after 0: no limit in time */
  p.max_attempts = 100;
  p.reset_after = 0;
  bnc_record_init(&r);
  ev(&r, &p, BNC_EV_SOFT, BNC_R_SYSTEMERROR, T0);
  d = ev(&r, &p, BNC_EV_SOFT, BNC_R_SYSTEMERROR, T0 + 400 * D);
  CHECK_INT(d.action, BNC_ACT_RETRY);
  CHECK_INT(d.attempts, 2);
}

static void test_permanent_soft(void) {
  bnc_params_t p;
  bnc_record_t r;
  bnc_decision_t d;
  bnc_event_in_t e;
  test_params(&p);
  p.permanent_max_attempts = 2;
  bnc_record_init(&r);
  ev(&r, &p, BNC_EV_SOFT, BNC_R_MAILBOXFULL, T0);
  e.type = BNC_EV_SOFT; e.reason = BNC_R_MAILBOXFULL; e.at = T0 + 60; e.rand = 0; e.permanent = 1; e.transient = 0;
  bnc_history_step(&r, &e, &p, &d);
  CHECK_INT(d.action, BNC_ACT_SUPPRESS);
}

static void test_delivery_resets(void) {
  bnc_params_t p;
  bnc_record_t r;
  bnc_decision_t d;
  test_params(&p);
  bnc_record_init(&r);
  ev(&r, &p, BNC_EV_SOFT, BNC_R_MAILBOXFULL, T0);
  ev(&r, &p, BNC_EV_SOFT, BNC_R_MAILBOXFULL, T0 + H);
  d = ev(&r, &p, BNC_EV_DELIVERED, BNC_R_UNDEFINED, T0 + 2 * H);
  CHECK_INT(d.action, BNC_ACT_SEND);
  CHECK_INT(d.state, BNC_ST_ACTIVE);
  CHECK_INT(d.attempts, 0);
  CHECK_INT(d.reason, BNC_R_DELIVERED);
  d = ev(&r, &p, BNC_EV_SOFT, BNC_R_MAILBOXFULL, T0 + 3 * H);
  CHECK_INT(d.attempts, 1);
  CHECK_INT(d.retry_at, T0 + 3 * H + 600);
}

static void test_hard_complaint_block(void) {
  bnc_params_t p;
  bnc_record_t r;
  bnc_decision_t d;
  int i;
  test_params(&p);
  bnc_record_init(&r);
  d = ev(&r, &p, BNC_EV_HARD, BNC_R_USERUNKNOWN, T0);
  CHECK_INT(d.action, BNC_ACT_SUPPRESS);
  CHECK_INT(d.cause, BNC_CAUSE_HARD);
  CHECK_INT(d.expires_at, 0);  /* forever */
  d = ev(&r, &p, BNC_EV_DELIVERED, BNC_R_UNDEFINED, T0 + 10 * 365 * D);
  CHECK_INT(d.action, BNC_ACT_SUPPRESS);
  CHECK(!d.changed);
  bnc_record_init(&r);
  for (i = 0; i < 50; i++) {
    d = ev(&r, &p, BNC_EV_BLOCK, BNC_R_BLOCKED, T0 + i * D);
    if (d.action != BNC_ACT_HOLD || d.state != BNC_ST_ACTIVE) break;
  }
  CHECK_INT(i, 50);
  CHECK_INT(d.retry_at, T0 + 49 * D + 14400);  /* the last step repeats */
  bnc_record_init(&r);
  d = ev(&r, &p, BNC_EV_BLOCK, BNC_R_BLOCKED, T0);
  CHECK_INT(d.retry_at, T0 + 900);
  d = ev(&r, &p, BNC_EV_SENT, BNC_R_UNDEFINED, T0 + 60);
  CHECK_INT(d.action, BNC_ACT_HOLD);
  CHECK(!d.changed);
  d = ev(&r, &p, BNC_EV_SENT, BNC_R_UNDEFINED, T0 + 900);
  CHECK_INT(d.action, BNC_ACT_SEND);
  bnc_record_init(&r);
  d = ev(&r, &p, BNC_EV_COMPLAINT, BNC_R_UNDEFINED, T0);
  CHECK_INT(d.cause, BNC_CAUSE_COMPLAINT);
  CHECK_INT(d.reason, BNC_R_FEEDBACK);
  CHECK_INT(d.expires_at, 0);
}

static void test_transient_hard(void) {
  bnc_params_t p;
  bnc_record_t r;
  bnc_event_in_t e;
  bnc_decision_t d;
  test_params(&p);
  bnc_record_init(&r);
  memset(&e, 0, sizeof e);
  e.type = BNC_EV_HARD; e.reason = BNC_R_USERUNKNOWN; e.at = T0; e.transient = 1;
  /* default: retried as a soft bounce, counted in the streak */
  CHECK_INT(bnc_event_effective(&e, &p), BNC_EV_SOFT);
  CHECK_INT(bnc_history_step(&r, &e, &p, &d), 0);
  CHECK_INT(d.action, BNC_ACT_RETRY);
  CHECK_INT(d.state, BNC_ST_BOUNCING);
  CHECK_INT(d.attempts, 1);
  CHECK_INT(d.reason, BNC_R_USERUNKNOWN);
  CHECK_INT(r.last_event, BNC_EV_SOFT);
  /* "suppress": the hard bounce its reason says */
  p.hard_transient = BNC_TRANSIENT_SUPPRESS;
  CHECK_INT(bnc_event_effective(&e, &p), BNC_EV_HARD);
  e.at = T0 + 60;
  CHECK_INT(bnc_history_step(&r, &e, &p, &d), 0);
  CHECK_INT(d.action, BNC_ACT_SUPPRESS);
  CHECK_INT(d.cause, BNC_CAUSE_HARD);
  /* a hard bounce that is not transient suppresses under either setting */
  p.hard_transient = BNC_TRANSIENT_SOFT;
  bnc_record_init(&r);
  e.transient = 0;
  CHECK_INT(bnc_history_step(&r, &e, &p, &d), 0);
  CHECK_INT(d.cause, BNC_CAUSE_HARD);
  /* the setting is checked */
  p.hard_transient = 2;
  CHECK(bnc_params_check(&p) != NULL);
}

static void test_retention_and_upgrade(void) {
  bnc_params_t p;
  bnc_record_t r;
  bnc_decision_t d;
  test_params(&p);
  p.max_attempts = 1;
  bnc_record_init(&r);
  d = ev(&r, &p, BNC_EV_SOFT, BNC_R_MAILBOXFULL, T0);
  CHECK_INT(d.cause, BNC_CAUSE_SOFT_EXHAUSTED);
  /* a hard bounce makes the 30-day suppression permanent */
  d = ev(&r, &p, BNC_EV_HARD, BNC_R_USERUNKNOWN, T0 + D);
  CHECK_INT(d.cause, BNC_CAUSE_HARD);
  CHECK_INT(d.expires_at, 0);
  CHECK_INT(d.since, T0 + D);
  /* nothing shortens it */
  d = ev(&r, &p, BNC_EV_SOFT, BNC_R_MAILBOXFULL, T0 + 2 * D);
  CHECK_INT(d.cause, BNC_CAUSE_HARD);
  CHECK(!d.changed);
  /* soft_exhausted ends after 30 days: the next event sees a clean record */
  bnc_record_init(&r);
  ev(&r, &p, BNC_EV_SOFT, BNC_R_MAILBOXFULL, T0);
  d = ev(&r, &p, BNC_EV_CHECK, BNC_R_UNDEFINED, T0 + 30 * D - 1);
  CHECK_INT(d.action, BNC_ACT_SUPPRESS);
  d = ev(&r, &p, BNC_EV_SENT, BNC_R_UNDEFINED, T0 + 30 * D);
  CHECK_INT(d.action, BNC_ACT_SEND);
  CHECK(d.expired);
  CHECK(bnc_record_is_clean(&r));
  /* release */
  ev(&r, &p, BNC_EV_HARD, BNC_R_USERUNKNOWN, T0);
  d = ev(&r, &p, BNC_EV_RELEASE, BNC_R_UNDEFINED, T0 + 1);
  CHECK_INT(d.action, BNC_ACT_SEND);
  CHECK(d.changed);
  CHECK(bnc_record_is_clean(&r));
  /* manual suppression */
  p.retention[BNC_CAUSE_MANUAL] = 7 * D;
  d = ev(&r, &p, BNC_EV_SUPPRESS, BNC_R_UNDEFINED, T0);
  CHECK_INT(d.cause, BNC_CAUSE_MANUAL);
  CHECK_INT(d.expires_at, T0 + 7 * D);
}

static void test_bad_events(void) {
  bnc_params_t p;
  bnc_record_t r;
  bnc_decision_t d;
  bnc_event_in_t e;
  test_params(&p);
  bnc_record_init(&r);
  memset(&e, 0, sizeof e);
  e.type = 99; e.at = T0;
  CHECK_INT(bnc_history_step(&r, &e, &p, &d), -4);
  e.type = BNC_EV_SOFT; e.at = 0;
  CHECK_INT(bnc_history_step(&r, &e, &p, &d), -4);
  CHECK(bnc_record_is_clean(&r));
  CHECK(bnc_params_check(&p) == NULL);
  p.soft_steps = 0;
  CHECK(bnc_params_check(&p) != NULL);
}

static void test_codec_errors(void) {
  bnc_params_t p;
  bnc_record_t r, back;
  unsigned char b[BNC_RECORD_SIZE + 1];
  char msg[128];
  size_t i;
  test_params(&p);
  bnc_record_init(&r);
  ev(&r, &p, BNC_EV_SOFT, BNC_R_MAILBOXFULL, T0);
  bnc_record_encode(&r, b);
  CHECK(b[0] == BNC_RECORD_MAGIC && b[1] == BNC_RECORD_VERSION);
  CHECK_INT(bnc_record_decode(b, BNC_RECORD_SIZE - 1, &back), BNC_REC_ESIZE);
  CHECK_INT(bnc_record_decode(b, BNC_RECORD_SIZE + 1, &back), BNC_REC_ESIZE);
  CHECK_INT(bnc_record_decode(b, 0, &back), BNC_REC_EMAGIC);
  CHECK_STR(bnc_record_error(BNC_REC_ESIZE, b, 31, msg, sizeof msg),
            "record truncated or padded: 31 bytes, expected 32");
  /* every single-bit flip is caught */
  {
    size_t missed = 0;
    for (i = 0; i < BNC_RECORD_SIZE * 8; i++) {
      b[i / 8] ^= (unsigned char)(1u << (i % 8));
      if (bnc_record_decode(b, BNC_RECORD_SIZE, &back) == BNC_REC_OK) missed++;
      b[i / 8] ^= (unsigned char)(1u << (i % 8));
    }
    CHECK_INT(missed, 0);
  }
  CHECK_INT(bnc_record_decode(b, BNC_RECORD_SIZE, &back), BNC_REC_OK);
  b[1] = 2;
  CHECK_INT(bnc_record_decode(b, BNC_RECORD_SIZE, &back), BNC_REC_EVERSION);
  CHECK_STR(bnc_record_error(BNC_REC_EVERSION, b, BNC_RECORD_SIZE, msg, sizeof msg),
            "record version 2 is not supported (this build reads version 1)");
  b[1] = 1;
  b[0] = 'x';
  CHECK_INT(bnc_record_decode(b, BNC_RECORD_SIZE, &back), BNC_REC_EMAGIC);
  CHECK(bnc_record_is_clean(&back));
  /* a sound checksum over an impossible state */
  r.state = 7;
  bnc_record_encode(&r, b);
  CHECK_INT(bnc_record_decode(b, BNC_RECORD_SIZE, &back), BNC_REC_EFIELD);
}

static void test_mstore(void) {
  bnc_mstore_t *m = bnc_mstore_new(BNC_RECORD_SIZE);
  unsigned char v[BNC_RECORD_SIZE];
  char key[64];
  const char *k;
  size_t kl, i, n = 20000;
  const unsigned char *got;
  CHECK(m != NULL);
  {
    size_t bad = 0;
    for (i = 0; i < n; i++) {
      memset(v, (int)(i & 0xFF), sizeof v);
      sprintf(key, "user%lu@example%lu.com", (unsigned long)i, (unsigned long)(i % 97));
      if (bnc_mstore_put(m, key, strlen(key), v) != BNC_OK) bad++;
    }
    CHECK_INT(bad, 0);
  }
  CHECK_INT(bnc_mstore_count(m), n);
  {
    size_t gone = 0;
    for (i = 0; i < n; i += 2) {
      sprintf(key, "user%lu@example%lu.com", (unsigned long)i, (unsigned long)(i % 97));
      gone += (size_t)bnc_mstore_del(m, key, strlen(key));
    }
    CHECK_INT(gone, n / 2);
  }
  CHECK_INT(bnc_mstore_count(m), n / 2);
  {
    size_t bad = 0;
    for (i = 0; i < n; i++) {
      sprintf(key, "user%lu@example%lu.com", (unsigned long)i, (unsigned long)(i % 97));
      got = bnc_mstore_get(m, key, strlen(key));
      if (i % 2 == 0 ? got != NULL : (got == NULL || got[0] != (unsigned char)(i & 0xFF))) bad++;
    }
    CHECK_INT(bad, 0);
  }
  /* refill: the arena compacts the deleted keys' bytes */
  memset(v, 7, sizeof v);
  for (i = 0; i < n; i += 2) {
    sprintf(key, "again%lu@example.org", (unsigned long)i);
    if (bnc_mstore_put(m, key, strlen(key), v) != BNC_OK) break;
  }
  CHECK_INT(i, n);
  CHECK_INT(bnc_mstore_count(m), n);
  got = bnc_mstore_get(m, "again0@example.org", 18);
  CHECK(got && got[0] == 7);
  got = bnc_mstore_get(m, "user1@example1.com", 18);
  CHECK(got && got[0] == 1);
  /* a scan from the end may delete as it goes */
  for (i = bnc_mstore_count(m); i > 0; i--) {
    bnc_mstore_at(m, i - 1, &k, &kl);
    memcpy(key, k, kl);
    if (bnc_mstore_del(m, key, kl) != 1) break;
  }
  CHECK_INT(i, 0);
  CHECK_INT(bnc_mstore_count(m), 0);
  CHECK_INT(bnc_mstore_put(m, "", 0, v), BNC_EINVAL);
  bnc_mstore_free(m);
}

/* Enough deleted keys to make the arena compact, and the keys that stay. */
static void test_mstore_compaction(void) {
  bnc_mstore_t *m = bnc_mstore_new(8);
  unsigned char v[8];
  char key[64];
  size_t i, n = 200000, bad = 0;
  for (i = 0; i < n; i++) {
    int len = sprintf(key, "someone.%lu@example.com", (unsigned long)i);
    memcpy(v, &i, sizeof v < sizeof i ? sizeof v : sizeof i);
    if (bnc_mstore_put(m, key, (size_t)len, v) != BNC_OK) bad++;
  }
  for (i = 0; i < n; i++) {
    int len = sprintf(key, "someone.%lu@example.com", (unsigned long)i);
    if (i % 100 && !bnc_mstore_del(m, key, (size_t)len)) bad++;
  }
  for (i = 0; i < n; i++) {
    int len = sprintf(key, "other.%lu@example.net", (unsigned long)i);
    if (bnc_mstore_put(m, key, (size_t)len, v) != BNC_OK) bad++;
  }
  for (i = 0; i < n; i += 100) {
    size_t got = 0;
    int len = sprintf(key, "someone.%lu@example.com", (unsigned long)i);
    const unsigned char *p = bnc_mstore_get(m, key, (size_t)len);
    if (p) memcpy(&got, p, sizeof v < sizeof got ? sizeof v : sizeof got);
    if (!p || got != i) bad++;
  }
  CHECK_INT(bad, 0);
  CHECK_INT(bnc_mstore_count(m), n + n / 100);
  /* live keys ~ 5 MB; without compaction the arena would hold ~10 MB */
  CHECK(bnc_mstore_bytes(m) < (size_t)14 << 20);
  bnc_mstore_free(m);
}

static const char *norm(const char *in, int cs, char *out) {
  size_t n, at;
  const char *why = bnc_address_normalize(in, strlen(in), cs, out, &n, &at);
  if (why) return why;
  out[n] = 0;
  return out;
}

static void test_addresses(void) {
  char out[BNC_ADDRESS_MAX + 1];
  CHECK_STR(norm(" <Bob.Smith@Example.COM> ", 0, out), "bob.smith@example.com");
  CHECK_STR(norm("Bob@Example.COM", 1, out), "Bob@example.com");
  CHECK_STR(norm("a+tag@sub.example.org", 0, out), "a+tag@sub.example.org");
  CHECK_STR(norm("no-at-sign", 0, out), "expected local@domain");
  CHECK_STR(norm("a@b@c", 0, out), "expected local@domain");
  CHECK_STR(norm("@example.com", 0, out), "expected local@domain");
  CHECK_STR(norm("a@", 0, out), "expected local@domain");
  CHECK_STR(norm("a b@example.com", 0, out), "expected local@domain");
  CHECK_STR(norm("<a@example.com", 0, out), "expected local@domain");
  CHECK_STR(norm("a@exa(mple).com", 0, out), "expected local@domain");
  CHECK_STR(norm("a@example..com", 0, out), "empty label in domain");
  CHECK_STR(norm("a@.example.com", 0, out), "empty label in domain");
  CHECK_STR(norm("a@example.com.", 0, out), "empty label in domain");
  CHECK_STR(norm("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com", 0, out),
            "longer than RFC 5321 allows");
  /* quoted local parts: kept with their quotes, unquoted when a dot-atom says the same */
  CHECK_STR(norm("\"Neko....Nyaan....\"@LibSisimai.org", 0, out), "\"neko....nyaan....\"@libsisimai.org");
  CHECK_STR(norm("<\"A B\"@Example.com>", 1, out), "\"A B\"@example.com");
  CHECK_STR(norm("\"a@b\\\"c\"@example.com", 0, out), "\"a@b\\\"c\"@example.com");
  CHECK_STR(norm("\"Ann.Lee\"@example.com", 0, out), "ann.lee@example.com");
  CHECK_STR(norm("\".ann\"@example.com", 0, out), "\".ann\"@example.com");
  CHECK_STR(norm("\"\"@example.com", 0, out), "expected local@domain");
  CHECK_STR(norm("\"ann@example.com", 0, out), "unterminated quoted local part");
  CHECK_STR(norm("\"ann\"x@example.com", 0, out), "expected local@domain");
  CHECK_STR(norm("\"ann\"", 0, out), "expected local@domain");
  CHECK_STR(norm("\"a\tb\"@example.com", 0, out), "bad quoted local part");
  CHECK_STR(norm("\"ab\\", 0, out), "bad quoted local part");
  CHECK_STR(norm("\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa b\"@example.com", 0, out),
            "longer than RFC 5321 allows");
  CHECK_STR(norm("\"a b\"@exa mple.com", 0, out), "expected local@domain");
}

static const char *verp_decode(const char *in, char *out) {
  size_t n;
  const char *why = bnc_verp_decode(in, strlen(in), "bounces+", 8, out, BNC_ADDRESS_MAX, &n);
  if (why) return why;
  out[n] = 0;
  return out;
}

static void test_verp(void) {
  char out[BNC_ADDRESS_MAX + 1], big[BNC_VERP_SCAN + 64];
  size_t n;
  CHECK_STR(verp_decode("bounces+ann=example.org@mail.example.com", out), "ann@example.org");
  CHECK_STR(verp_decode(" <Bounces+a=b=example.org@h> ", out), "a=b@example.org");
  CHECK_STR(verp_decode("bounces+ann@h", out), "no local=domain after the prefix");
  CHECK_STR(verp_decode("bounces+=x@h", out), "no local=domain after the prefix");
  CHECK_STR(verp_decode("bounces+x=@h", out), "no local=domain after the prefix");
  CHECK_STR(verp_decode("bounce+x=y@h", out), "no such prefix");
  CHECK_STR(verp_decode("bounces+x=y", out), "not an address");
  CHECK_STR(verp_decode("bounces+a b=y@h", out), "not an address");
  {
    const char *m = "Received: by mx; for <bounces+bob=example.net@h.example>;\n\nx";
    CHECK(bnc_verp_find(m, strlen(m), "bounces+", 8, out, sizeof out, &n) == 1);
    CHECK(n == 15 && memcmp(out, "bob@example.net", 15) == 0);
    m = "To: xbounces+bob=example.net@h.example\n";   /* inside a word */
    CHECK(bnc_verp_find(m, strlen(m), "bounces+", 8, out, sizeof out, &n) == 0);
    /* past the scanned head */
    memset(big, 'x', sizeof big);
    memcpy(big + BNC_VERP_SCAN - 4, " bounces+a=b@h", 14);
    CHECK(bnc_verp_find(big, sizeof big, "bounces+", 8, out, sizeof out, &n) == 0);
    memcpy(big + BNC_VERP_SCAN - 40, " bounces+a=b@h", 14);
    CHECK(bnc_verp_find(big, sizeof big, "bounces+", 8, out, sizeof out, &n) == 1);
  }
}

int main(void) {
  test_soft_backoff_and_count();
  test_soft_window_and_staleness();
  test_transient_hard();
  test_permanent_soft();
  test_delivery_resets();
  test_hard_complaint_block();
  test_retention_and_upgrade();
  test_bad_events();
  test_codec_errors();
  test_mstore();
  test_mstore_compaction();
  test_addresses();
  test_verp();
  return DONE();
}
