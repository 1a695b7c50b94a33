/*
 * bench_history.c - figures for the history core (no pass/fail):
 *   transitions/s: bnc_history_step alone, and decode + step + encode (what
 *   one t:record does in C) over a realistic mix of events;
 *   memory store: bytes per address beyond the address itself at N
 *   addresses, by the table's own accounting and by RSS growth.
 *
 * usage: bench_history [RUNS [SECONDS [N...]]]   (default 5 0.5 1000000)
 *   e.g. bench_history 5 0.5 1000000 10000000
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench.h"
#include "../test/params.h"
#include "history.h"
#include "mstore.h"
#include "reason.h"
#include "record.h"

#define NREC 65536
#define NEV (1 << 20)

static uint32_t rng = 2463534242u;
static uint32_t xs(void) { rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5; return rng; }

/* A mix close to a sender's day: mostly sends and deliveries, a few
 * percent soft, hard, block; rare complaints. */
static int pick(void) {
  uint32_t r = xs() % 1000;
  if (r < 400) return BNC_EV_SENT;
  if (r < 850) return BNC_EV_DELIVERED;
  if (r < 930) return BNC_EV_SOFT;
  if (r < 960) return BNC_EV_HARD;
  if (r < 995) return BNC_EV_BLOCK;
  if (r < 998) return BNC_EV_COMPLAINT;
  return BNC_EV_RELEASE;
}

typedef struct { int type, reason; uint32_t rec; } ev_t;

static double median_rate(int runs, double secs, int coded, bnc_record_t *recs,
                          unsigned char (*blobs)[BNC_RECORD_SIZE], const ev_t *evs,
                          const bnc_params_t *p) {
  double rates[64] = { 0 };
  int k;
  if (runs < 1) runs = 1;
  for (k = 0; k < runs && k < 64; k++) {
    double t0 = bench_now(), t;
    size_t n = 0, i;
    unsigned long sink = 0;
    do {
      for (i = 0; i < NEV; i++) {
        bnc_event_in_t e;
        bnc_decision_t d;
        e.type = evs[i].type; e.reason = evs[i].reason;
        e.at = 1795132800 + (int64_t)(n + i) / 8; e.rand = 0; e.permanent = 0; e.transient = 0;
        if (coded) {
          bnc_record_t r;
          unsigned char *b = blobs[evs[i].rec];
          if (bnc_record_decode(b, BNC_RECORD_SIZE, &r) != BNC_REC_OK) bnc_record_init(&r);
          bnc_history_step(&r, &e, p, &d);
          if (d.changed) bnc_record_encode(&r, b);
        } else {
          bnc_history_step(&recs[evs[i].rec], &e, p, &d);
        }
        sink += (unsigned long)d.action;
      }
      n += NEV;
      t = bench_now() - t0;
    } while (t < secs);
    rates[k] = n / t;
    if (sink == 42) puts("");
  }
  return bench_median(rates, k);
}

static long rss_kb(void) {
  long pages = 0, res = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return -1;
  if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = -1;
  fclose(f);
  return res * 4;  /* 4 KiB pages */
}

static void memory(size_t n) {
  long before = rss_kb(), after;
  bnc_mstore_t *m = bnc_mstore_new(BNC_RECORD_SIZE);
  unsigned char v[BNC_RECORD_SIZE];
  char key[64];
  size_t i, keys;
  double t0, t, lookups;
  bnc_record_t r;
  bnc_record_init(&r);
  r.state = BNC_ST_BOUNCING;
  r.last_at = 1795132800;
  bnc_record_encode(&r, v);
  t0 = bench_now();
  for (i = 0; i < n; i++) {
    int len = sprintf(key, "user%lu.%lu@example%lu.com", (unsigned long)i,
                      (unsigned long)(i * 2654435761u % 100000), (unsigned long)(i % 5000));
    if (bnc_mstore_put(m, key, (size_t)len, v) != 0) { fprintf(stderr, "out of memory\n"); exit(1); }
  }
  t = bench_now() - t0;
  after = rss_kb();
  keys = bnc_mstore_key_bytes(m);
  t0 = bench_now();
  for (i = 0; i < n; i++) {
    size_t j = xs() % n;
    int len = sprintf(key, "user%lu.%lu@example%lu.com", (unsigned long)j,
                      (unsigned long)(j * 2654435761u % 100000), (unsigned long)(j % 5000));
    if (!bnc_mstore_get(m, key, (size_t)len)) { fprintf(stderr, "lost a key\n"); exit(1); }
  }
  lookups = n / (bench_now() - t0);
  printf("mstore %lu addresses: %.1f bytes/address beyond the address (table accounting), "
         "%.1f by RSS; keys %.1f bytes avg; %.0f inserts/s, %.0f lookups/s\n",
         (unsigned long)n, ((double)bnc_mstore_bytes(m) - (double)keys) / (double)n,
         ((after - before) * 1024.0 - (double)keys) / (double)n, (double)keys / (double)n,
         n / t, lookups);
  bnc_mstore_free(m);
}

int main(int argc, char **argv) {
  int runs = argc > 1 ? atoi(argv[1]) : 5;
  double secs = argc > 2 ? atof(argv[2]) : 0.5;
  static bnc_record_t recs[NREC];
  static unsigned char blobs[NREC][BNC_RECORD_SIZE];
  ev_t *evs = malloc(sizeof *evs * NEV);
  bnc_params_t p;
  size_t i;
  int a;
  if (!evs) return 1;
  test_params(&p);
  for (i = 0; i < NREC; i++) bnc_record_init(&recs[i]);
  for (i = 0; i < NEV; i++) {
    evs[i].type = pick();
    evs[i].reason = evs[i].type == BNC_EV_SOFT ? BNC_R_MAILBOXFULL
                  : evs[i].type == BNC_EV_HARD ? BNC_R_USERUNKNOWN
                  : evs[i].type == BNC_EV_BLOCK ? BNC_R_BLOCKED : BNC_R_UNDEFINED;
    evs[i].rec = xs() % NREC;
  }
  printf("transitions (step only): %.0f events/s\n",
         median_rate(runs, secs, 0, recs, blobs, evs, &p));
  printf("transitions (decode+step+encode): %.0f events/s\n",
         median_rate(runs, secs, 1, recs, blobs, evs, &p));
  free(evs);
  if (argc > 3) {
    for (a = 3; a < argc; a++) memory((size_t)strtoul(argv[a], NULL, 10));
  } else {
    memory(1000000);
  }
  return 0;
}
