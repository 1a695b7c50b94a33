/*
 * bench.h - what the C benchmarks share: a monotonic clock and the median
 * of a run's rates. Header-only; each bench_*.c is its own program.
 */
#ifndef BNC_BENCH_H
#define BNC_BENCH_H

#include <stdlib.h>
#include <time.h>

/* Seconds on the monotonic clock (callers define _POSIX_C_SOURCE). */
static double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The median of v[0..n) (n > 0); sorts v. */
static double bench_median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
  return v[n / 2];
}

#endif
