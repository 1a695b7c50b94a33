/*
 * match.c - the Aho-Corasick automaton behind the text rules.
 *
 * Build: phrases go into a trie whose edges are byte classes; a breadth-first
 * pass sets failure links and fills the whole transition table, so the scan
 * does one table load per byte and never backtracks (linear in the text).
 * Each state lists the ids of every phrase that ends there, its own and those
 * reached through failure links, sorted ascending, so a caller that wants the
 * lowest id can stop early.
 *
 * Speed: that one load per byte depends on the previous one, so a scan is
 * bound by load latency, not by work. Two things shorten the wait: a dense
 * table (16-bit entries, column-major, states in breadth-first order; see
 * struct bnc_matcher) that keeps the hot part in the L1 cache, and
 * bnc_matcher_scan_many, which advances four texts in lockstep so that four
 * chains of loads are in flight at once. A single text long enough is cut
 * into four parts that advance in lockstep the same way (scan_split).
 */
#include <stdlib.h>
#include <string.h>
#include "ascii.h"
#include "match.h"
#include "bnc.h"

#define SPACE_CLASS 1

typedef struct { char *s; size_t len; uint32_t id; } phrase;

struct bnc_matcher {
  phrase *ph; size_t nph, cph;
  unsigned char cls[256];
  size_t ncls;
  /* The transition table, column-major: the target of state v on byte b
   * is tab[coff[b] + v]. States are numbered breadth first, so the states
   * a scan spends its time in (root and its near neighbours) sit together
   * at the start of each column: a few cache lines per byte class, where a
   * row-major table spreads every state over several lines. Entries are
   * state numbers, 16 bits wide while there are at most 65536 states (half
   * the memory of 32 bits), 32 bits beyond. */
  uint16_t *tab16;
  uint32_t *tab32;
  uint32_t coff[256];    /* per byte: where its class's column starts */
  const uint16_t *col16[256];  /* per byte: tab16 + coff, one load to the column */
  uint32_t space_off;    /* coff of white space */
  uint32_t hot;          /* states >= hot have hits */
  uint32_t *hit_off;     /* first hit of each state */
  uint16_t *hit_n;       /* number of hits of each state */
  uint32_t *hits;
  size_t nstates;
};

size_t bnc_matcher_normalize(const char *src, size_t len, char *dst) {
  size_t i, n = 0;
  int space = 0;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)src[i];
    if (bnc_is_space(c)) {
      if (!space) dst[n++] = ' ';
      space = 1;
      continue;
    }
    space = 0;
    dst[n++] = (char)bnc_lower(c);
  }
  return n;
}

bnc_matcher_t *bnc_matcher_new(void) {
  return calloc(1, sizeof(bnc_matcher_t));
}

static void drop_automaton(bnc_matcher_t *m) {
  free(m->tab16); free(m->tab32); free(m->hit_off); free(m->hit_n); free(m->hits);
  m->tab16 = NULL; m->tab32 = NULL; m->hit_off = NULL; m->hit_n = NULL; m->hits = NULL;
  m->nstates = 0;
}

void bnc_matcher_free(bnc_matcher_t *m) {
  size_t i;
  if (!m) return;
  for (i = 0; i < m->nph; i++) free(m->ph[i].s);
  free(m->ph);
  drop_automaton(m);
  free(m);
}

size_t bnc_matcher_add(bnc_matcher_t *m, const char *p, size_t len, uint32_t id) {
  char *s;
  size_t n;
  if (m->nph == m->cph) {
    size_t c = m->cph ? m->cph * 2 : 64;
    phrase *np = realloc(m->ph, c * sizeof *np);
    if (!np) return (size_t)-1;
    m->ph = np; m->cph = c;
  }
  s = malloc(len ? len : 1);
  if (!s) return (size_t)-1;
  n = bnc_matcher_normalize(p, len, s);
  if (n == 0 || (n == 1 && s[0] == ' ')) { free(s); return 0; }
  m->ph[m->nph].s = s;
  m->ph[m->nph].len = n;
  m->ph[m->nph].id = id;
  m->nph++;
  drop_automaton(m);
  return n;
}

/* Class 0 is "a byte no phrase uses", class 1 is white space. */
static void make_classes(bnc_matcher_t *m) {
  size_t i, j;
  memset(m->cls, 0, sizeof m->cls);
  m->ncls = 2;
  for (i = 0; i < m->nph; i++)
    for (j = 0; j < m->ph[i].len; j++) {
      unsigned char c = (unsigned char)m->ph[i].s[j];
      if (c != ' ' && m->cls[c] == 0) m->cls[c] = (unsigned char)m->ncls++;
    }
  for (i = 'A'; i <= 'Z'; i++) m->cls[i] = m->cls[bnc_lower((int)i)];
  for (i = 0; i < 256; i++) if (bnc_is_space((unsigned char)i)) m->cls[i] = SPACE_CLASS;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

typedef struct { uint32_t id; int32_t next; } own_hit;

/* Moves hit_off and hit_n to the new state numbers perm[old], below nnum
 * (numbers no state has get no hits); 0 without memory. */
static int remap_hits(bnc_matcher_t *m, const int32_t *perm, size_t nnum) {
  uint32_t *off = calloc(nnum, sizeof *off);
  uint16_t *n = calloc(nnum, sizeof *n);
  size_t i;
  if (!off || !n) { free(off); free(n); return 0; }
  for (i = 0; i < m->nstates; i++) {
    off[perm[i]] = m->hit_off[i];
    n[perm[i]] = m->hit_n[i];
  }
  free(m->hit_off); free(m->hit_n);
  m->hit_off = off; m->hit_n = n;
  return 1;
}

int bnc_matcher_build(bnc_matcher_t *m) {
  size_t i, j, cap = 2, total = 0, nh = 0, qh = 0, qt = 0;
  int32_t *own = NULL, *fail = NULL, *queue = NULL, *delta = NULL;
  unsigned char *label = NULL;
  own_hit *oh = NULL;
  size_t nc, ns = 1;
  drop_automaton(m);
  make_classes(m);
  nc = m->ncls;
  for (i = 0; i < m->nph; i++) cap += m->ph[i].len;
  if (cap > 0x3fffffff / nc) return BNC_ENOMEM;
  delta = calloc(cap * nc, sizeof(int32_t));
  own = malloc(cap * sizeof *own);
  fail = calloc(cap, sizeof *fail);
  queue = malloc(cap * sizeof *queue);
  label = calloc(cap, 1);
  oh = malloc((m->nph + 1) * sizeof *oh);
  if (!delta || !own || !fail || !queue || !oh || !label) goto nomem;
  own[0] = -1;
  for (i = 0; i < m->nph; i++) {                 /* the trie */
    int32_t s = 0;
    for (j = 0; j < m->ph[i].len; j++) {
      unsigned char c = m->cls[(unsigned char)m->ph[i].s[j]];
      int32_t *t = &delta[(size_t)s * nc + c];
      if (*t == 0) { *t = (int32_t)ns; own[ns] = -1; label[ns] = c; ns++; }
      s = *t;
    }
    oh[nh].id = m->ph[i].id; oh[nh].next = own[s]; own[s] = (int32_t)nh++;
  }
  for (i = 0; i < nc; i++) {                     /* depth one */
    int32_t v = delta[i];
    if (v) { fail[v] = 0; queue[qt++] = v; }
  }
  while (qh < qt) {                              /* failure links, full table */
    int32_t u = queue[qh++];
    for (i = 0; i < nc; i++) {
      int32_t *t = &delta[(size_t)u * nc + i];
      int32_t f = delta[(size_t)fail[u] * nc + i];
      if (*t) { fail[*t] = f; queue[qt++] = *t; }
      else *t = f;
    }
  }
  /* White space collapses inside the automaton: a state entered by a space
   * stays put on more spaces. Root is entered by a space too when no phrase
   * prefix fits; a clone of it (state ns) takes those transitions so that
   * it can loop on spaces while root proper does not. */
  memcpy(&delta[ns * nc], &delta[0], nc * sizeof(int32_t));
  label[ns] = SPACE_CLASS;
  own[ns] = -1;
  ns++;
  for (i = 0; i < ns; i++) {
    int32_t *t = &delta[i * nc + SPACE_CLASS];
    if (label[i] == SPACE_CLASS) *t = (int32_t)i;
    else if (*t == 0) *t = (int32_t)(ns - 1);
  }
  m->nstates = ns;
  m->hit_off = calloc(ns, sizeof *m->hit_off);
  m->hit_n = calloc(ns, sizeof *m->hit_n);
  if (!m->hit_off || !m->hit_n) goto nomem;
  /* hits(v) = own(v) + hits(fail(v)); states in BFS order see fail first */
  for (i = 0; i < qt; i++) {
    int32_t v = queue[i], k;
    size_t n = m->hit_n[fail[v]];
    for (k = own[v]; k >= 0; k = oh[k].next) n++;
    if (n > 0xffff) n = 0xffff;
    m->hit_n[v] = (uint16_t)n;
    total += n;
  }
  m->hits = malloc((total ? total : 1) * sizeof *m->hits);
  if (!m->hits) goto nomem;
  total = 0;
  for (i = 0; i < qt; i++) {
    int32_t v = queue[i], k;
    size_t n = 0, f = (size_t)fail[v];
    uint32_t *out = m->hits + total;
    m->hit_off[v] = (uint32_t)total;
    for (k = own[v]; k >= 0 && n < m->hit_n[v]; k = oh[k].next) out[n++] = oh[k].id;
    for (j = 0; j < m->hit_n[f] && n < m->hit_n[v]; j++)
      out[n++] = m->hits[m->hit_off[f] + j];
    qsort(out, n, sizeof *out, cmp_u32);
    total += n;
  }
  /* Renumber the states: those without hits first, in breadth-first order
   * (root, then its clone, then by depth), then those with hits, also
   * breadth first. A scan mostly moves among shallow states, which thus
   * share a few cache lines per column; a state at or above m->hot has
   * hits, one compare in the scan. The states with hits start at a power
   * of two when 16-bit entries still hold them all (numbers in the gap
   * belong to no state and are never entered): then a state has hits
   * exactly when it has that bit or a higher one, and the lockstep tests
   * four states with one compare of their OR. Then lay the table out
   * column-major. */
  {
    int32_t *perm = own;          /* own is no longer needed */
    size_t lo = 0, k, c, base, nnum;
    for (i = 0; i < ns; i++) if (!m->hit_n[i]) lo++;
    for (base = 1; base < lo; base <<= 1) {}
    if (ns > 0x10000 || base + (ns - lo) > 0x10000) base = lo;
    nnum = base + (ns - lo);
    m->hot = (uint32_t)base;
    perm[0] = 0;                  /* root and the clone have no hits */
    perm[ns - 1] = 1;
    for (i = 0, j = 2, k = base; i < qt; i++) {
      int32_t v = queue[i];
      perm[v] = (int32_t)(m->hit_n[v] ? k++ : j++);
    }
    if (!remap_hits(m, perm, nnum)) goto nomem;
    if (nnum <= 0x10000) m->tab16 = calloc(nnum * nc, sizeof *m->tab16);
    else m->tab32 = calloc(nnum * nc, sizeof *m->tab32);
    if (!m->tab16 && !m->tab32) goto nomem;
    for (i = 0; i < ns; i++)
      for (c = 0; c < nc; c++) {
        size_t to = (size_t)perm[delta[i * nc + c]], at = c * nnum + (size_t)perm[i];
        if (m->tab16) m->tab16[at] = (uint16_t)to;
        else m->tab32[at] = (uint32_t)to;
      }
    for (i = 0; i < 256; i++) {
      m->coff[i] = (uint32_t)(m->cls[i] * nnum);
      m->col16[i] = m->tab16 ? m->tab16 + m->coff[i] : NULL;
    }
    m->space_off = (uint32_t)(SPACE_CLASS * nnum);
  }
  free(own); free(fail); free(queue); free(oh); free(label); free(delta);
  return BNC_OK;
nomem:
  free(own); free(fail); free(queue); free(oh); free(label); free(delta);
  drop_automaton(m);
  return BNC_ENOMEM;
}

/* Reports the ids of state v; 1 when told to stop. Kept out of line so the
 * scan loop keeps its variables in registers. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int report(const bnc_matcher_t *m, size_t v, size_t end,
                  bnc_hit_fn fn, void *ud) {
  size_t k, hn = m->hit_n[v];
  const uint32_t *h = m->hits + m->hit_off[v];
  for (k = 0; k < hn; k++) {
    int r = fn(ud, h[k], end);
    if (r == 1) break;
    if (r == 2) return 1;
  }
  return 0;
}

/* The scan loop, once per entry width. Each byte costs one dependent load:
 * the column is found from the byte alone (off the chain of loads), and the
 * state indexes it. A white-space byte that leaves the state as it was (a
 * run of spaces) reports nothing: the phrase was reported on entry. */
#if defined(__GNUC__)
#define KEEP(x) __asm__("" : "+r"(x))   /* keeps the column add off the chain */
#else
#define KEEP(x) ((void)0)
#endif
#define DEFINE_SCAN(name, T, TAB)                                            \
static void name(const bnc_matcher_t *m, const unsigned char *s, size_t n,  \
                 bnc_hit_fn fn, void *ud) {                                 \
  const T *tab = m->TAB, *sp = tab + m->space_off;                          \
  const uint32_t *coff = m->coff;                                           \
  const unsigned char *p = s, *e = s + n;                                   \
  const size_t hot = m->hot;                                                \
  size_t v = sp[0], u;                    /* the leading frame space */     \
  while (p < e) {                                                           \
    const T *col = tab + coff[*p++];                                        \
    KEEP(col);                                                              \
    u = v;                                                                  \
    v = col[v];                                                             \
    if (v >= hot && (v != u || col != sp) &&                                \
        report(m, v, (size_t)(p - s), fn, ud)) return;                      \
  }                                                                         \
  u = v;                                                                    \
  v = sp[v];                              /* the closing frame space */     \
  if (v >= hot && v != u) report(m, v, n + 1, fn, ud);                      \
}
DEFINE_SCAN(scan16, uint16_t, tab16)
DEFINE_SCAN(scan32, uint32_t, tab32)

/* ---- several texts at once -------------------------------------------- */

/* One text being scanned in a lane: its bytes, the next one, the end, the
 * state, and whether a callback asked to stop. */
typedef struct {
  const unsigned char *s, *p, *e;
  size_t v;
  void *ud;
  int stopped;
} lane;

#define LANES 4

/* An idle lane scans these: NUL is in no phrase, so it stays at the root
 * and reports nothing, and the lockstep loop needs no test for it. */
static const unsigned char idle_bytes[256];

/* A lane's step led to state l->v, which has hits; reports them unless it
 * was a run of spaces (the state did not change on a space). Out of line:
 * the lane loop stays small. Returns 1 when the lane was told to stop. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int lane_hit(const bnc_matcher_t *m, lane *l, size_t u, const uint16_t *col,
                    bnc_hit_fn fn) {
  if (l->v == u && col == m->tab16 + m->space_off) return 0;
  if (!report(m, l->v, (size_t)(l->p - l->s), fn, l->ud)) return 0;
  l->stopped = 1;
  l->e = l->p;
  return 1;
}

/* Ends lane l (the closing frame space) and gives it the next text, or
 * makes it idle. */
static void lane_next(const bnc_matcher_t *m, lane *l, bnc_hit_fn fn,
                      const char *s, size_t n, void *ud) {
  if (l->s != idle_bytes) {
    size_t u = l->v, v = m->tab16[m->space_off + u];
    if (!l->stopped && v >= m->hot && v != u)
      report(m, v, (size_t)(l->e - l->s) + 1, fn, l->ud);
  }
  l->stopped = 0;
  l->ud = ud;
  l->v = m->tab16[m->space_off];         /* the leading frame space */
  if (s) {
    l->s = l->p = (const unsigned char *)s;
    l->e = l->s + n;
  } else {
    l->s = l->p = idle_bytes;
    l->e = idle_bytes + sizeof idle_bytes;
  }
}

/* Runs lane l alone to the end of its text: when it is the last one busy,
 * idle lanes beside it would only burn instructions. */
static void lane_alone(const bnc_matcher_t *m, lane *l, bnc_hit_fn fn) {
  const uint16_t *tab = m->tab16;
  const uint32_t *coff = m->coff;
  const size_t hot = m->hot;
  const unsigned char *p = l->p, *e = l->e;
  size_t v = l->v;
  while (p < e) {
    const uint16_t *col = tab + coff[*p++];
    size_t u = v;
    KEEP(col);
    v = col[u];
    if (v >= hot) {
      l->p = p; l->v = v;
      if (lane_hit(m, l, u, col, fn)) return;   /* stopped: p = e now */
    }
  }
  l->p = p; l->v = v;
}

/* One step of lane k inside the lockstep loop: the same load as the scan
 * loop above; a hit that stops the lane ends the round. */
#define STEP(k)                                                              \
  do {                                                                       \
    const uint16_t *col = tab + coff[*p##k++];                               \
    size_t u = v##k;                                                         \
    KEEP(col);                                                               \
    v##k = col[u];                                                           \
    if (v##k >= hot) {                                                       \
      L[k].p = p##k; L[k].v = v##k;                                          \
      stop |= lane_hit(m, &L[k], u, col, fn);                                \
    }                                                                        \
  } while (0)

void bnc_matcher_scan_many(const bnc_matcher_t *m, size_t k, const char *const *s,
                           const size_t *n, bnc_hit_fn fn, void *const *ud) {
  const uint16_t *tab = m->tab16;
  const uint32_t *coff = m->coff;
  const size_t hot = m->hot;
  lane L[LANES];
  size_t next = 0, i, busy = 0;
  if (!tab) {                      /* a huge automaton: one text at a time */
    for (i = 0; i < k; i++) bnc_matcher_scan(m, s[i], n[i], fn, ud[i]);
    return;
  }
  /* Four texts advance in lockstep, each with its own chain of dependent
   * loads: the CPU overlaps the four chains, where one text alone waits on
   * every load. A round runs until the shortest text ends; that lane then
   * takes the next text, or idles when none is left. */
  for (i = 0; i < LANES; i++) {
    L[i].s = idle_bytes;                 /* nothing to close yet */
    lane_next(m, &L[i], fn, NULL, 0, NULL);
  }
  for (;;) {
    const unsigned char *p0, *p1, *p2, *p3;
    size_t v0, v1, v2, v3, run = (size_t)-1, j;
    int stop = 0;
    for (i = 0, busy = 0; i < LANES; i++) {
      if (L[i].p == L[i].e || L[i].s == idle_bytes) {   /* ended or idle */
        if (next < k) { lane_next(m, &L[i], fn, s[next], n[next], ud[next]); next++; }
        else if (L[i].s != idle_bytes) lane_next(m, &L[i], fn, NULL, 0, NULL);
      }
      if (L[i].s != idle_bytes) {
        busy++;
        if ((size_t)(L[i].e - L[i].p) < run) run = (size_t)(L[i].e - L[i].p);
      }
    }
    if (!busy) break;
    if (busy == 1 && next == k) {        /* the last text: alone */
      for (i = 0; L[i].s == idle_bytes; i++) {}
      lane_alone(m, &L[i], fn);
      continue;
    }
    if (run > sizeof idle_bytes) run = sizeof idle_bytes;
    for (i = 0; i < LANES; i++)          /* idle lanes start over */
      if (L[i].s == idle_bytes) L[i].p = idle_bytes;
    p0 = L[0].p; p1 = L[1].p; p2 = L[2].p; p3 = L[3].p;
    v0 = L[0].v; v1 = L[1].v; v2 = L[2].v; v3 = L[3].v;
    for (j = 0; j < run && !stop; j++) {
      STEP(0); STEP(1); STEP(2); STEP(3);
    }
    /* a stopped lane has set its p = e itself */
    if (!L[0].stopped) { L[0].p = p0; L[0].v = v0; }
    if (!L[1].stopped) { L[1].p = p1; L[1].v = v1; }
    if (!L[2].stopped) { L[2].p = p2; L[2].v = v2; }
    if (!L[3].stopped) { L[3].p = p3; L[3].v = v3; }
  }
}
#undef STEP

/* ---- one text, several lanes ------------------------------------------ */

/* A single long text is cut into SPLIT_LANES parts scanned in lockstep, so
 * that one call gets the overlap bnc_matcher_scan_many gets from several
 * texts. A part other than the first starts from the root SPLIT_WARM bytes
 * before its own bytes: the state of the automaton depends only on the last
 * few bytes read (the longest suffix that is a phrase prefix), so it has
 * almost always caught up with the true state there. Whether it did is known
 * exactly once the part before has ended: same state at the same offset,
 * same run from there on. A part that guessed wrong is scanned again from
 * the true state, so the result never depends on the guess, only the speed
 * does. Hits are kept per part and reported part after part, in text order,
 * as a plain scan reports them. */
#define SPLIT_LANES 4
#define SPLIT_WARM 12
#define SPLIT_MIN 32           /* shorter texts: one lane is as fast */
#define PART_HITS 8
#define SPLIT_CHECKS 4         /* states a lane keeps to be checked */
#define SPLIT_CHECK_GAP 6      /* steps between them */
#if SPLIT_MIN < SPLIT_WARM + SPLIT_LANES
#error "every lane needs own bytes: SPLIT_MIN >= SPLIT_WARM + SPLIT_LANES"
#endif

typedef struct {
  size_t own;                  /* offset of its first own byte */
  size_t e;                    /* offset of the end of its bytes */
  size_t cp[SPLIT_CHECKS];     /* its state at own + c * SPLIT_CHECK_GAP: for
                                  part > 0, right or not */
  size_t nh;                   /* hits kept, in order */
  size_t he[PART_HITS + 1];    /* offset just past a hit's last byte */
  size_t hv[PART_HITS + 1];    /* the state it led to */
} part;

/* Keeps a hit of part P: state v, entered by the byte before offset end.
 * A white-space byte after another one (or after the leading frame space)
 * left the state as it was, and reports nothing, as in scan16: in this
 * automaton only white space enters a state whose own byte class is white
 * space, and such a state loops on it. Past PART_HITS, the one more hit
 * kept marks where the lockstep's work ends for this part. */
static void part_hit(const bnc_matcher_t *m, const unsigned char *s, part *P,
                     size_t end, size_t v) {
  if (m->cls[s[end - 1]] == SPACE_CLASS &&
      (end == 1 || m->cls[s[end - 2]] == SPACE_CLASS))
    return;
  if (P->nh > PART_HITS) return;
  P->he[P->nh] = end;
  P->hv[P->nh] = v;
  P->nh++;
}

/* Scans s[i..e) on from state v as scan16 does, reporting; returns the state
 * at e, or (size_t)-1 when a callback stopped the scan. */
static size_t run16(const bnc_matcher_t *m, const unsigned char *s, size_t i,
                    size_t e, size_t v, bnc_hit_fn fn, void *ud) {
  const uint16_t *tab = m->tab16, *sp = tab + m->space_off;
  const uint32_t *coff = m->coff;
  const size_t hot = m->hot;
  const unsigned char *p = s + i, *end = s + e;
  size_t u;
  while (p < end) {
    const uint16_t *col = tab + coff[*p++];
    KEEP(col);
    u = v;
    v = col[v];
    if (v >= hot && (v != u || col != sp) && report(m, v, (size_t)(p - s), fn, ud))
      return (size_t)-1;
  }
  return v;
}

/* The lockstep: in step j, lane k reads s[k * d + j]. Runs from step *pj
 * until a lane enters a state with hits, or step stop; v holds the four
 * states. Nothing is called inside, so that all of it stays in registers
 * (a spilled state would add a store and a load to its chain). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int lanes_run(const bnc_matcher_t *m, const unsigned char *s, size_t d,
                     size_t *pj, size_t stop, size_t *v) {
  const uint16_t *const *col = m->col16;
  const size_t hot = m->hot;
  const unsigned char *s2 = s + 2 * d;
  size_t j = *pj, v0 = v[0], v1 = v[1], v2 = v[2], v3 = v[3];
  int hit = 0;
  while (j < stop) {
    v0 = col[s[j]][v0];
    v1 = col[s[j + d]][v1];
    v2 = col[s2[j]][v2];
    v3 = col[s2[j + d]][v3];
    j++;
    /* the OR is at least hot when one of them is (exactly then when hot
     * is a power of two) */
    if ((v0 | v1 | v2 | v3) >= hot && (v0 >= hot || v1 >= hot || v2 >= hot || v3 >= hot)) {
      hit = 1;
      break;
    }
  }
  *pj = j;
  v[0] = v0; v[1] = v1; v[2] = v2; v[3] = v3;
  return hit;
}

static void scan_split(const bnc_matcher_t *m, const unsigned char *s, size_t n,
                       bnc_hit_fn fn, void *ud) {
  const uint16_t *sp = m->tab16 + m->space_off;
  const size_t hot = m->hot;
  /* Every lane reads len bytes in the lockstep (the last may have a few
   * more, read after it): lane 0 the first len, lane k > 0 SPLIT_WARM bytes
   * of the part before and len - SPLIT_WARM of its own, from k * d on. */
  const size_t len = (n + (SPLIT_LANES - 1) * SPLIT_WARM) / SPLIT_LANES;
  const size_t d = len - SPLIT_WARM;
  size_t v[SPLIT_LANES], j = 0, k, stop, w, ncp = 0;
  part P[SPLIT_LANES];
  for (k = 0; k < SPLIT_LANES; k++) {
    P[k].own = k ? k * d + SPLIT_WARM : 0;
    P[k].e = k + 1 < SPLIT_LANES ? k * d + len : n;
    P[k].nh = 0;
    v[k] = 0;                            /* the root: a guess */
  }
  v[0] = sp[0];                          /* the leading frame space */
  for (stop = SPLIT_WARM; ; ) {
    while (j < stop) {
      if (!lanes_run(m, s, d, &j, stop, v)) continue;
      /* after step j, lane k has read up to k * d + j; a lane k > 0 keeps
       * only hits past its warm-up */
      for (k = 0; k < SPLIT_LANES; k++)
        if (v[k] >= hot && (k == 0 || j > SPLIT_WARM)) part_hit(m, s, &P[k], k * d + j, v[k]);
    }
    if (stop == len) break;
    for (k = 1; k < SPLIT_LANES; k++) P[k].cp[ncp] = v[k];
    ncp++;
    stop = ncp < SPLIT_CHECKS && stop + SPLIT_CHECK_GAP < len ? stop + SPLIT_CHECK_GAP : len;
  }
  /* In text order: w is the true state at the start of part k. */
  for (k = 0, w = sp[0]; k < SPLIT_LANES; k++) {
    const part *q = &P[k];
    size_t at = q->own, c = 0, h;
    /* Lane k's states are right from the first checkpoint where its state
     * is the true one; up to there, scan again. Lane 0's always are. */
    if (k > 0)
      for (; c < ncp && q->cp[c] != w; c++) {
        size_t to = q->own + (c + 1) * SPLIT_CHECK_GAP;
        if (c + 1 == ncp) to = q->e;     /* no later checkpoint: to the end */
        w = run16(m, s, at, to, w, fn, ud);
        if (w == (size_t)-1) return;
        at = to;
      }
    if (at == q->e) continue;            /* scanned again to the end */
    if (q->nh > PART_HITS && q->he[PART_HITS] <= at) {
      w = run16(m, s, at, q->e, w, fn, ud);   /* what it kept is all behind */
    } else {
      for (h = 0; h < q->nh; h++)
        if (q->he[h] > at && report(m, q->hv[h], q->he[h], fn, ud)) return;
      if (q->nh > PART_HITS)             /* no room: on from the last hit kept */
        w = run16(m, s, q->he[PART_HITS], q->e, q->hv[PART_HITS], fn, ud);
      else if (k * d + len < q->e)       /* the last lane's few more bytes */
        w = run16(m, s, k * d + len, q->e, v[k], fn, ud);
      else
        w = v[k];
    }
    if (w == (size_t)-1) return;
  }
  {
    size_t u = w;
    w = sp[w];                           /* the closing frame space */
    if (w >= hot && w != u) report(m, w, n + 1, fn, ud);
  }
}

void bnc_matcher_scan(const bnc_matcher_t *m, const char *s, size_t n,
                      bnc_hit_fn fn, void *ud) {
  if (m->tab16) {
    if (n >= SPLIT_MIN) scan_split(m, (const unsigned char *)s, n, fn, ud);
    else scan16(m, (const unsigned char *)s, n, fn, ud);
  } else if (m->tab32) {
    scan32(m, (const unsigned char *)s, n, fn, ud);
  }
}

size_t bnc_matcher_states(const bnc_matcher_t *m) {
  return m->nstates;
}
