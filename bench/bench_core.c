/*
 * bench_core.c - throughput of the C core on one core: every line of a file
 * through bnc_reply_parse + bnc_classify (built-in rules), as
 * bounce.classify does it minus the Lua table.
 *   bench_core FILE [RUNS] [SECONDS_PER_RUN]
 * Prints the median replies/s of RUNS runs, the same for parsing alone, and
 * for parse + bnc_classify_batch over groups of BATCH lines (what a caller
 * with many replies at hand, such as a log reader, can use).
 *   bench_core FILE --passes N [MODE]
 * makes exactly N untimed passes of one mode (0 parse, 1 parse+classify, the
 * default, 2 batches) and prints nothing: a fixed amount of work for
 * instruction counts (bench/icount.sh, `make icount`).
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench.h"
#include "classify.h"
#include "reply.h"

typedef struct { char **line; size_t *len; size_t n, max; } lines_t;

static int read_lines(const char *path, lines_t *ls) {
  FILE *f = fopen(path, "rb");
  char buf[1 << 16];
  size_t cap = 0;
  if (!f) return -1;
  memset(ls, 0, sizeof *ls);
  while (fgets(buf, sizeof buf, f)) {
    size_t n = strcspn(buf, "\r\n");
    if (n == 0) continue;
    if (ls->n == cap) {
      cap = cap ? 2 * cap : 256;
      ls->line = realloc(ls->line, cap * sizeof *ls->line);
      ls->len = realloc(ls->len, cap * sizeof *ls->len);
      if (!ls->line || !ls->len) return -1;
    }
    ls->line[ls->n] = malloc(n);
    if (!ls->line[ls->n]) return -1;
    memcpy(ls->line[ls->n], buf, n);
    ls->len[ls->n] = n;
    if (n > ls->max) ls->max = n;
    ls->n++;
  }
  fclose(f);
  return 0;
}

static volatile unsigned sink;  /* keeps the work from being optimized out */

#define BATCH 16

/* The batch mode's buffers: a text buffer, a reply and an item per slot. */
typedef struct {
  char *text[BATCH];
  bnc_reply_t reply[BATCH];
  bnc_batch_item_t item[BATCH];
} batch_t;

/* Parses lines [i0, i0 + n) into b and classifies them in one batch. */
static void run_batch(const lines_t *ls, const bnc_ruleset_t *rs, batch_t *b,
                      size_t i0, size_t n) {
  size_t i, k = 0;
  for (i = i0; i < i0 + n; i++) {
    bnc_reply_t *r = &b->reply[k];
    bnc_batch_item_t *it = &b->item[k];
    if (bnc_reply_parse(ls->line[i], ls->len[i], b->text[k], ls->max + 1, r) != BNC_OK)
      continue;
    it->reply = r;
    it->text = b->text[k];
    it->tlen = r->text_len;
    it->rhost = r->rhost_len ? ls->line[i] + r->rhost_off : NULL;
    it->rhost_len = r->rhost_len;
    k++;
  }
  bnc_classify_batch(rs, b->item, k);
  for (i = 0; i < k; i++) sink += (unsigned)b->item[i].out.reason;
}

/* One timed run: passes over all lines until `seconds` elapsed; replies/s.
 * mode 0 parses, 1 parses and classifies, 2 does that in batches. */
static double run(const lines_t *ls, const bnc_ruleset_t *rs, char *text,
                  batch_t *b, double seconds, int classify) {
  size_t done = 0, i;
  double t0 = bench_now(), t;
  int passes = seconds < 0 ? (int)-seconds : 0;   /* negative: -N untimed passes */
  do {
    if (classify == 2) {
      for (i = 0; i < ls->n; i += BATCH)
        run_batch(ls, rs, b, i, ls->n - i < BATCH ? ls->n - i : BATCH);
    } else for (i = 0; i < ls->n; i++) {
      bnc_reply_t r;
      bnc_class_t c;
      if (bnc_reply_parse(ls->line[i], ls->len[i], text, ls->max + 1, &r) != BNC_OK) continue;
      if (classify) {
        const char *rh = r.rhost_len ? ls->line[i] + r.rhost_off : NULL;
        bnc_classify(rs, &r, text, r.text_len, rh, r.rhost_len, &c);
        sink += (unsigned)c.reason;
      } else {
        sink += (unsigned)r.code;
      }
    }
    done += ls->n;
    t = passes ? 0 : bench_now() - t0;
  } while (passes ? --passes > 0 : t < seconds);
  return t > 0 ? (double)done / t : 0;
}

int main(int argc, char **argv) {
  lines_t ls;
  bnc_ruleset_t *rs;
  char *text;
  batch_t b;
  int passes = argc > 3 && strcmp(argv[2], "--passes") == 0 ? atoi(argv[3]) : 0;
  int runs = passes ? 1 : argc > 2 ? atoi(argv[2]) : 5, k, mode;
  double secs = !passes && argc > 3 ? atof(argv[3]) : 0.5;
  double *rate;
  static const char *label[] = { "parse", "parse+classify", "batch parse+classify" };
  if (argc < 2 || runs < 1) {
    fprintf(stderr, "usage: %s FILE [RUNS] [SECONDS_PER_RUN] | FILE --passes N [MODE]\n",
            argv[0]);
    return 2;
  }
  if (read_lines(argv[1], &ls) != 0 || ls.n == 0) {
    fprintf(stderr, "bench_core: cannot read lines from %s\n", argv[1]);
    return 1;
  }
  rs = bnc_ruleset_new(1);
  if (!rs || bnc_ruleset_compile(rs) != BNC_OK) return 1;
  text = malloc(ls.max + 1);
  rate = malloc((size_t)runs * sizeof *rate);
  if (!text || !rate) return 1;
  for (k = 0; k < BATCH; k++)
    if (!(b.text[k] = malloc(ls.max + 1))) return 1;
  if (passes > 0) {
    mode = argc > 4 ? atoi(argv[4]) : 1;
    if (mode < 0 || mode > 2) mode = 1;
    run(&ls, rs, text, &b, -(double)passes, mode);
    for (k = 0; k < BATCH; k++) free(b.text[k]);
    bnc_ruleset_free(rs);
    return 0;
  }
  run(&ls, rs, text, &b, 0.2, 1);  /* warm-up */
  for (mode = 0; mode < 3; mode++) {
    for (k = 0; k < runs; k++) rate[k] = run(&ls, rs, text, &b, secs, mode);
    printf("%s %.0f replies/s (median of %d, %zu lines)\n",
           label[mode], bench_median(rate, runs), runs, ls.n);
  }
  for (k = 0; k < BATCH; k++) free(b.text[k]);
  bnc_ruleset_free(rs);
  return 0;
}
