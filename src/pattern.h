/*
 * pattern.h - Lua's pattern language (the one of string.find, match, gmatch
 * and gsub) matched under a step budget, for code that must end in bounded
 * time whatever pattern and subject it is handed (policy files).
 *
 * The language is Lua 5.4's: single-character classes (. %a %c %d %g %l %p
 * %s %u %w %x and their upper-case complements, %x escapes, [sets] with
 * ranges and ^), the quantifiers * + - ?, %bxy, %f[set], back-references
 * %1-%9, captures and position captures (), and the anchors ^ (handled by
 * the caller, as Lua does) and $. Classes follow the C library's ctype in
 * the "C" locale. Every call to the matching step, every character a
 * quantifier or %b scans and every byte a back-reference compares costs one
 * step; when the budget runs out the match stops with BNC_PAT_BUDGET, so the
 * catastrophic backtracking of "a*a*a*a*b" costs at most the budget.
 *
 * No allocation, no I/O; the subject and pattern are (pointer, length) and
 * need not be NUL-terminated.
 */
#ifndef BNC_PATTERN_H
#define BNC_PATTERN_H

#include <stddef.h>

#define BNC_PAT_MAXCAPS 32
#define BNC_PAT_MAXDEPTH 200          /* nesting of the matcher's recursion */

/* A capture's len: still open, or a position capture (). */
#define BNC_PAT_UNFINISHED ((size_t)-1)
#define BNC_PAT_POSITION ((size_t)-2)

typedef enum {
  BNC_PAT_MATCH = 0,     /* matched: *end set, captures in m->cap[0..m->level) */
  BNC_PAT_NOMATCH,       /* no match at this position */
  BNC_PAT_MALFORMED,     /* the pattern is wrong: m->err says how */
  BNC_PAT_BUDGET,        /* m->budget ran out */
  BNC_PAT_COMPLEX        /* recursion deeper than BNC_PAT_MAXDEPTH, or too many captures */
} bnc_pat_status_t;

typedef struct {
  size_t start;          /* offset in the subject */
  size_t len;            /* bytes, or BNC_PAT_UNFINISHED / BNC_PAT_POSITION */
} bnc_pat_cap_t;

typedef struct {
  unsigned long budget;  /* steps left: the caller sets it, the matcher spends it */
  int level;             /* captures after a match */
  bnc_pat_cap_t cap[BNC_PAT_MAXCAPS];
  const char *err;       /* a static message when MALFORMED or COMPLEX */
  /* private */
  const char *src, *src_end, *p_end;
  int depth;
  bnc_pat_status_t status;
} bnc_pat_t;

/* Match pattern p[0..plen) (without a leading '^': the caller strips it and
 * calls once instead of at every position) against s[0..slen) starting at
 * offset at <= slen. On BNC_PAT_MATCH *end is the offset just past the
 * match. m->budget is read and decreased; the rest of *m is set here. */
bnc_pat_status_t bnc_pat_match(bnc_pat_t *m, const char *s, size_t slen, size_t at,
                               const char *p, size_t plen, size_t *end);

/* Does p hold any special character (so a plain search will not do)? */
int bnc_pat_has_specials(const char *p, size_t plen);

/* Plain search of needle in s from offset at, spending one step per
 * candidate position and one per 16 bytes compared. Returns 1 and the
 * offset in *pos when found, 0 when not, -1 when the budget ran out. */
int bnc_pat_find_plain(unsigned long *budget, const char *s, size_t slen, size_t at,
                       const char *needle, size_t nlen, size_t *pos);

#endif
