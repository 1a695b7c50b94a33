/*
 * check.h - a minimal test harness for the C core: CHECK records a failure
 * with file and line and goes on; DONE() prints "N passed, N failed" (the
 * closing line CI reads) and returns the exit status.
 */
#ifndef BNC_CHECK_H
#define BNC_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond) do { \
    if (cond) check_passed++; \
    else { check_failed++; fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); } \
  } while (0)

#define CHECK_STR(got, want) do { \
    const char *g_ = (got), *w_ = (want); \
    if (g_ && w_ && strcmp(g_, w_) == 0) check_passed++; \
    else { check_failed++; fprintf(stderr, "%s:%d: %s: got '%s', want '%s'\n", __FILE__, __LINE__, \
                                   #got, g_ ? g_ : "(null)", w_ ? w_ : "(null)"); } \
  } while (0)

#define CHECK_INT(got, want) do { \
    long g_ = (long)(got), w_ = (long)(want); \
    if (g_ == w_) check_passed++; \
    else { check_failed++; fprintf(stderr, "%s:%d: %s: got %ld, want %ld\n", __FILE__, __LINE__, #got, g_, w_); } \
  } while (0)

#define DONE() (printf("%d passed, %d failed\n", check_passed, check_failed), check_failed ? 1 : 0)

#endif
