/*
 * bench_message.c - throughput of the C message parser on one core: every
 * bounce message of the corpus through bnc_message_parse (built-in rules),
 * as bounce.parse does it minus the Lua tables.
 *   bench_message [RUNS] [SECONDS_PER_RUN] [CORPUS_DIR]
 * The messages are the files named in CORPUS_DIR/labels.jsonl (default: the
 * CORPUS variable, else ../shared/corpus), read into memory first. Prints the
 * median messages/s of RUNS runs (wall time on an idle core, like bench_core).
 * With BENCH_PASSES=N set, it makes exactly N untimed passes instead: a fixed
 * amount of work for instruction counts, which hold still on a shared machine
 * where wall time does not:
 *   BENCH_PASSES=1 valgrind --tool=callgrind build/bench/bench_message
 *   callgrind_annotate --inclusive=yes callgrind.out.* | grep bnc_message_parse
 * (inclusive instructions of bnc_message_parse / messages = per message).
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench.h"
#include "classify.h"
#include "message.h"

typedef struct { char **buf; size_t *len; size_t n, cap, max; } msgs_t;

/* Reads a whole file into a malloc'd buffer; NULL on failure. */
static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  long n;
  if (!f) return NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
      (buf = malloc((size_t)n + 1)) != NULL) {
    *len = fread(buf, 1, (size_t)n, f);
  }
  fclose(f);
  return buf;
}

/* Loads every file named by a "file": "..." field of dir/labels.jsonl. */
static int load(const char *dir, msgs_t *ms) {
  char path[4096], line[1 << 16];
  FILE *f;
  snprintf(path, sizeof path, "%s/labels.jsonl", dir);
  if (!(f = fopen(path, "rb"))) return -1;
  memset(ms, 0, sizeof *ms);
  while (fgets(line, sizeof line, f)) {
    char *p = strstr(line, "\"file\""), *q;
    if (!p || !(p = strchr(p + 6, '"')) || !(q = strchr(p + 1, '"'))) continue;
    *q = '\0';
    if (ms->n == ms->cap) {
      ms->cap = ms->cap ? 2 * ms->cap : 256;
      ms->buf = realloc(ms->buf, ms->cap * sizeof *ms->buf);
      ms->len = realloc(ms->len, ms->cap * sizeof *ms->len);
      if (!ms->buf || !ms->len) { fclose(f); return -1; }
    }
    snprintf(path, sizeof path, "%s/%s", dir, p + 1);
    if (!(ms->buf[ms->n] = slurp(path, &ms->len[ms->n]))) {
      fprintf(stderr, "bench_message: cannot read %s\n", path);
      fclose(f);
      return -1;
    }
    if (ms->len[ms->n] > ms->max) ms->max = ms->len[ms->n];
    ms->n++;
  }
  fclose(f);
  return 0;
}

static volatile unsigned sink;  /* keeps the work from being optimized out */

/* One timed run: passes over all messages until `seconds` elapsed;
 * messages/s. *results gets the recipients of one pass. */
static double run(const msgs_t *ms, const bnc_ruleset_t *rs, char *arena, size_t cap,
                  bnc_message_t *m, double seconds, size_t *results) {
  size_t done = 0, i;
  double t0 = bench_now(), t;
  do {
    *results = 0;
    for (i = 0; i < ms->n; i++) {
      size_t need = BNC_MSG_ARENA(ms->len[i]);  /* what bounce.parse gives */
      if (bnc_message_parse(ms->buf[i], ms->len[i], rs, NULL, 0, arena, need < cap ? need : cap, m) != BNC_OK)
        continue;
      *results += m->nrcpt;
      sink += (unsigned)m->rcpt[0].cls.reason;
    }
    done += ms->n;
    t = bench_now() - t0;
  } while (t < seconds);
  return (double)done / t;
}

int main(int argc, char **argv) {
  msgs_t ms;
  bnc_ruleset_t *rs;
  bnc_message_t *m;
  char *arena;
  size_t cap, results = 0;
  int runs = argc > 1 ? atoi(argv[1]) : 5, k;
  double secs = argc > 2 ? atof(argv[2]) : 0.5, *rate;
  const char *dir = argc > 3 ? argv[3] : getenv("CORPUS");
  if (!dir || !*dir) dir = "../shared/corpus";
  if (runs < 1) {
    fprintf(stderr, "usage: %s [RUNS] [SECONDS_PER_RUN] [CORPUS_DIR]\n", argv[0]);
    return 2;
  }
  if (load(dir, &ms) != 0 || ms.n == 0) {
    fprintf(stderr, "bench_message: no messages from %s/labels.jsonl\n", dir);
    return 1;
  }
  rs = bnc_ruleset_new(1);
  if (!rs || bnc_ruleset_compile(rs) != BNC_OK) return 1;
  cap = BNC_MSG_ARENA(ms.max);
  arena = malloc(cap);
  m = malloc(sizeof *m);
  rate = malloc((size_t)runs * sizeof *rate);
  if (!arena || !m || !rate) return 1;
  if (getenv("BENCH_PASSES")) {                /* fixed work, untimed */
    int passes = atoi(getenv("BENCH_PASSES"));
    size_t i;
    for (k = 0; k < passes; k++)
      for (i = 0, results = 0; i < ms.n; i++) {
        size_t need = BNC_MSG_ARENA(ms.len[i]);
        if (bnc_message_parse(ms.buf[i], ms.len[i], rs, NULL, 0, arena, need < cap ? need : cap, m) == BNC_OK)
          results += m->nrcpt;
      }
    printf("bnc_message_parse: %d passes over %zu messages (%zu results), untimed\n", passes, ms.n, results);
    bnc_ruleset_free(rs);
    return 0;
  }
  run(&ms, rs, arena, cap, m, 0.2, &results);  /* warm-up */
  for (k = 0; k < runs; k++) rate[k] = run(&ms, rs, arena, cap, m, secs, &results);
  printf("bnc_message_parse %.0f messages/s (median of %d, %zu messages, %zu results)\n",
         bench_median(rate, runs), runs, ms.n, results);
  bnc_ruleset_free(rs);
  return 0;
}
