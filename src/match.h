/*
 * match.h - one case-insensitive multi-phrase matcher (Aho-Corasick).
 *
 * All phrases of all rules compile into a single automaton over a reduced
 * alphabet (the bytes that occur in some phrase, ASCII letters folded, runs of
 * white space read as one space), so a text is scanned once whatever the
 * number of rules. Each phrase carries a 32-bit id chosen by the caller;
 * the ids reported for a position come in ascending order.
 */
#ifndef BNC_MATCH_H
#define BNC_MATCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct bnc_matcher bnc_matcher_t;

/* Called for every phrase found, with its id and the offset just past its
 * end in the scanned text (n + 1 for the closing frame space). Returns 0 to
 * go on with the ids of this position, 1 to skip the rest, 2 to stop. */
typedef int (*bnc_hit_fn)(void *ud, uint32_t id, size_t end);

bnc_matcher_t *bnc_matcher_new(void);
void bnc_matcher_free(bnc_matcher_t *m);
/* Adds a phrase (copied, normalized). Returns its normalized length, or 0
 * when it is empty after normalization, or (size_t)-1 when out of memory. */
size_t bnc_matcher_add(bnc_matcher_t *m, const char *p, size_t len, uint32_t id);
/* Builds the automaton; BNC_OK or BNC_ENOMEM. Adding after build rebuilds. */
int bnc_matcher_build(bnc_matcher_t *m);
/* Scans s[0..n) as if it were framed by spaces. */
void bnc_matcher_scan(const bnc_matcher_t *m, const char *s, size_t n,
                      bnc_hit_fn fn, void *ud);
/* Scans the k texts s[i][0..n[i]) as k calls of bnc_matcher_scan would,
 * reporting the hits of text i to fn(ud[i], ...), in the same order for
 * each text; the calls for different texts interleave. Faster than k calls:
 * the texts advance together, so their chains of loads overlap. */
void bnc_matcher_scan_many(const bnc_matcher_t *m, size_t k, const char *const *s,
                           const size_t *n, bnc_hit_fn fn, void *const *ud);
/* Normalizes src (fold case, collapse white space, trim) into dst, which
 * must hold len bytes; returns the length written. */
size_t bnc_matcher_normalize(const char *src, size_t len, char *dst);
/* Number of automaton states (for benchmarks and the rule report). */
size_t bnc_matcher_states(const bnc_matcher_t *m);

#endif
