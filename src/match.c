/*
 * match.c - the Aho-Corasick automaton behind the text rules.
 *
 * Build: phrases go into a trie whose edges are byte classes; a breadth-first
 * pass sets failure links and fills the whole transition table, so the scan
 * does one table load per byte and never backtracks (linear in the text).
 * Each state lists the ids of every phrase that ends there, its own and those
 * reached through failure links, sorted ascending, so a caller that wants the
 * lowest id can stop early.
 */
#include <stdlib.h>
#include <string.h>
#include "match.h"
#include "reply.h"

#define SPACE_CLASS 1

typedef struct { char *s; size_t len; uint32_t id; } phrase;

struct bnc_matcher {
  phrase *ph; size_t nph, cph;
  unsigned char cls[256];
  size_t ncls;
  int32_t *delta;        /* nstates * ncls: row offset of the target */
  uint32_t hot;          /* row offsets >= hot are states with hits */
  uint32_t *hit_off;     /* first hit of each state */
  uint16_t *hit_n;       /* number of hits of each state */
  uint32_t *hits;
  size_t nstates;
};

static int is_ws(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

size_t bnc_matcher_normalize(const char *src, size_t len, char *dst) {
  size_t i, n = 0;
  int space = 0;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)src[i];
    if (is_ws(c)) {
      if (!space) dst[n++] = ' ';
      space = 1;
      continue;
    }
    space = 0;
    dst[n++] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
  }
  return n;
}

bnc_matcher_t *bnc_matcher_new(void) {
  return calloc(1, sizeof(bnc_matcher_t));
}

static void drop_automaton(bnc_matcher_t *m) {
  free(m->delta); free(m->hit_off); free(m->hit_n); free(m->hits);
  m->delta = NULL; m->hit_off = NULL; m->hit_n = NULL; m->hits = NULL;
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
  for (i = 'A'; i <= 'Z'; i++) m->cls[i] = m->cls[i + 32];
  for (i = 0; i < 256; i++) if (is_ws((unsigned char)i)) m->cls[i] = SPACE_CLASS;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

typedef struct { uint32_t id; int32_t next; } own_hit;

/* Moves hit_off and hit_n to the new state numbers perm[old]; 0 without memory. */
static int remap_hits(bnc_matcher_t *m, const int32_t *perm) {
  uint32_t *off = malloc(m->nstates * sizeof *off);
  uint16_t *n = malloc(m->nstates * sizeof *n);
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
  int32_t *own = NULL, *fail = NULL, *queue = NULL;
  unsigned char *label = NULL;
  own_hit *oh = NULL;
  size_t nc, ns = 1;
  drop_automaton(m);
  make_classes(m);
  nc = m->ncls;
  for (i = 0; i < m->nph; i++) cap += m->ph[i].len;
  if (cap > 0x3fffffff / nc) return BNC_ENOMEM;
  m->delta = calloc(cap * nc, sizeof(int32_t));
  own = malloc(cap * sizeof *own);
  fail = calloc(cap, sizeof *fail);
  queue = malloc(cap * sizeof *queue);
  label = calloc(cap, 1);
  oh = malloc((m->nph + 1) * sizeof *oh);
  if (!m->delta || !own || !fail || !queue || !oh || !label) goto nomem;
  own[0] = -1;
  for (i = 0; i < m->nph; i++) {                 /* the trie */
    int32_t s = 0;
    for (j = 0; j < m->ph[i].len; j++) {
      unsigned char c = m->cls[(unsigned char)m->ph[i].s[j]];
      int32_t *t = &m->delta[(size_t)s * nc + c];
      if (*t == 0) { *t = (int32_t)ns; own[ns] = -1; label[ns] = c; ns++; }
      s = *t;
    }
    oh[nh].id = m->ph[i].id; oh[nh].next = own[s]; own[s] = (int32_t)nh++;
  }
  for (i = 0; i < nc; i++) {                     /* depth one */
    int32_t v = m->delta[i];
    if (v) { fail[v] = 0; queue[qt++] = v; }
  }
  while (qh < qt) {                              /* failure links, full table */
    int32_t u = queue[qh++];
    for (i = 0; i < nc; i++) {
      int32_t *t = &m->delta[(size_t)u * nc + i];
      int32_t f = m->delta[(size_t)fail[u] * nc + i];
      if (*t) { fail[*t] = f; queue[qt++] = *t; }
      else *t = f;
    }
  }
  /* White space collapses inside the automaton: a state entered by a space
   * stays put on more spaces. Root is entered by a space too when no phrase
   * prefix fits; a clone of it (state ns) takes those transitions so that
   * it can loop on spaces while root proper does not. */
  memcpy(&m->delta[ns * nc], &m->delta[0], nc * sizeof(int32_t));
  label[ns] = SPACE_CLASS;
  own[ns] = -1;
  ns++;
  for (i = 0; i < ns; i++) {
    int32_t *t = &m->delta[i * nc + SPACE_CLASS];
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
  /* Renumber the states, those without hits first (root stays 0), and
   * encode each transition as the row offset of its target: the scan needs
   * no multiply, no shift and no flag test on its chain of loads; a target
   * at or above m->hot has hits. */
  {
    int32_t *perm = own, *nd;     /* own is no longer needed */
    size_t lo = 0, hi = 0, k;
    for (i = 0; i < ns; i++) if (!m->hit_n[i]) lo++;
    m->hot = (uint32_t)(lo * nc);
    for (i = 0, k = 0; i < ns; i++) {
      if (m->hit_n[i]) perm[i] = (int32_t)(lo + hi++);
      else perm[i] = (int32_t)k++;
    }
    nd = malloc(ns * nc * sizeof *nd);
    if (!nd || !remap_hits(m, perm)) { free(nd); goto nomem; }
    for (i = 0; i < ns * nc; i++)
      nd[(size_t)perm[i / nc] * nc + i % nc] = (int32_t)((size_t)perm[m->delta[i]] * nc);
    free(m->delta);
    m->delta = nd;
  }
  free(own); free(fail); free(queue); free(oh); free(label);
  return BNC_OK;
nomem:
  free(own); free(fail); free(queue); free(oh); free(label);
  drop_automaton(m);
  return BNC_ENOMEM;
}

/* Reports the ids of the state behind transition v; 1 when told to stop.
 * Kept out of line so the scan loop keeps its variables in registers. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int report(const bnc_matcher_t *m, size_t v, size_t end,
                  bnc_hit_fn fn, void *ud) {
  size_t st = v / m->ncls, k, hn = m->hit_n[st];
  const uint32_t *h = m->hits + m->hit_off[st];
  for (k = 0; k < hn; k++) {
    int r = fn(ud, h[k], end);
    if (r == 1) break;
    if (r == 2) return 1;
  }
  return 0;
}

void bnc_matcher_scan(const bnc_matcher_t *m, const char *s, size_t n,
                      bnc_hit_fn fn, void *ud) {
  const int32_t *delta = m->delta;
  const unsigned char *cls = m->cls;
  const unsigned char *p = (const unsigned char *)s, *e = p + n;
  const size_t hot = m->hot;
  size_t v, u;
  if (!delta) return;
  v = (size_t)delta[SPACE_CLASS];                /* the leading frame space */
  while (p < e) {
    unsigned c = cls[*p++];
    const int32_t *col = delta + c;              /* off the chain of loads */
#if defined(__GNUC__)
    __asm__("" : "+r"(col));   /* keeps the compiler from folding c back into v */
#endif
    u = v;
    v = (size_t)(uint32_t)col[v];
    /* a space loop reports nothing: the phrase was reported on entry */
    if (v >= hot && (v != u || c != SPACE_CLASS) &&
        report(m, v, (size_t)(p - (const unsigned char *)s), fn, ud)) return;
  }
  u = v;
  v = (size_t)(uint32_t)delta[v + SPACE_CLASS];  /* the closing frame space */
  if (v >= hot && v != u) report(m, v, n + 1, fn, ud);
}

size_t bnc_matcher_states(const bnc_matcher_t *m) {
  return m->nstates;
}
