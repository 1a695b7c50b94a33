/*
 * message.c - bounce message parsing (see message.h for the contract).
 *
 * Owns: header lookup and unfolding, MIME walking, transfer decoding,
 * RFC 2047 words, the delivery-status / feedback-report readers, the
 * auto-reply test and the table of plain-text bounce families. It hands each
 * recipient's diagnostic to the reply parser and the classifier.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "ascii.h"
#include "message.h"

/* ---- small string helpers --------------------------------------------- */

/* Case-insensitive search of needle (lower case) in s[0..n): the first
 * occurrence that fits whole in s[0..n). Linear for the short needles used
 * here (bounded by the needle length). Speed: a needle that opens with a
 * byte that has no case ('\n', '"', '=', '<', '-') is found with memchr,
 * which skips the bytes between candidates many at a time; a letter first is
 * looked for 8 positions at a time (a byte b is the letter c0 in either case
 * exactly when (b | 0x20) == c0, and a word of 8 such bytes shows whether any
 * equals c0 with the usual zero-byte test), and a candidate is checked with
 * the second byte too before the full compare. */
static const char *ifind(const char *s, size_t n, const char *needle) {
  size_t k = strlen(needle), i, j;
  int c0, c1;
  if (k == 0 || n < k) return NULL;
  c0 = (unsigned char)needle[0];
  if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z'))) {   /* a byte without case */
    const char *q = s, *last = s + (n - k);
    while (q <= last && (q = memchr(q, c0, (size_t)(last - q) + 1)) != NULL) {
      if (bnc_ieq_n(q, needle, k)) return q;
      q++;
    }
    return NULL;
  }
  if (k == 1) {
    for (i = 0; i < n; i++) if (bnc_lower((unsigned char)s[i]) == c0) return s + i;
    return NULL;
  }
  c1 = (unsigned char)needle[1];
  for (i = 0; i + k <= n;) {
    if (n - k - i >= 7) {              /* starts i..i+7 all fit: s[i..i+8) is readable */
      const unsigned long long ones = 0x0101010101010101ULL;
      unsigned long long w;
      memcpy(&w, s + i, 8);
      w = (w | ones * 0x20) ^ ones * (unsigned)c0;   /* a zero byte where c0 is */
      if (!((w - ones) & ~w & ones * 0x80)) { i += 8; continue; }
      for (j = i + 8; i < j; i++)
        if (bnc_lower((unsigned char)s[i]) == c0 && bnc_lower((unsigned char)s[i + 1]) == c1 &&
            bnc_ieq_n(s + i, needle, k)) return s + i;
      continue;
    }
    if (bnc_lower((unsigned char)s[i]) == c0 && bnc_lower((unsigned char)s[i + 1]) == c1 &&
        bnc_ieq_n(s + i, needle, k)) return s + i;
    i++;
  }
  return NULL;
}

/* A set of at most 32 needles (lower case, at least 2 bytes each) looked
 * for in one pass, Wu-Manber style: the window is as long as the shortest
 * needle, and the two bytes at its end (case folded, hashed) say how far it
 * can move before any needle could end there; only where that is 0 are the
 * needles whose window ends in the same two bytes (by hash) compared. The
 * marker lists here have shortest needles of 14 to 22 bytes, so the window
 * moves about 10 bytes per look: the texts are not
 * read byte by byte once per needle but about one byte in ten, once. */
#define NSET_MAX 32
#define NSET_HASH(a, b) ((((unsigned)bnc_lower(a) << 5) ^ (unsigned)bnc_lower(b)) & 1023u)
#define NSET_HASH_LC(a, b) ((((unsigned)(a) << 5) ^ (unsigned)(b)) & 1023u)   /* a, b lower case */
#define NSET_NONE ((size_t)-1)
typedef struct nset {
  const char *nd[NSET_MAX];
  size_t len[NSET_MAX], k, m, maxlen;
  unsigned short tail[NSET_MAX];   /* hash of needle j's bytes m-2, m-1 */
  unsigned char shift[1024];
} nset_t;

/* Prepares ns for the needles nd[0..k) (k <= NSET_MAX, each 2..255 bytes). */
static void nset_init(nset_t *ns, const char *const *nd, size_t k) {
  size_t j, q, m = 255;
  ns->k = k;
  ns->maxlen = 0;
  for (j = 0; j < k; j++) {
    ns->nd[j] = nd[j];
    ns->len[j] = strlen(nd[j]);
    if (ns->len[j] < m) m = ns->len[j];
    if (ns->len[j] > ns->maxlen) ns->maxlen = ns->len[j];
  }
  ns->m = m;
  /* the needles are lower case: their bytes are hashed without folding */
  for (j = 0; j < k; j++)
    ns->tail[j] = (unsigned short)NSET_HASH_LC((unsigned char)nd[j][m - 2], (unsigned char)nd[j][m - 1]);
  memset(ns->shift, (int)(m - 1), sizeof ns->shift);
  for (j = 0; j < k; j++) {
    const unsigned char *b = (const unsigned char *)nd[j];
    for (q = 0; q + 2 <= m; q++) {               /* blocks of the first m bytes */
      unsigned h = NSET_HASH_LC(b[q], b[q + 1]);
      if (ns->shift[h] > m - 2 - q) ns->shift[h] = (unsigned char)(m - 2 - q);
    }
  }
}

/* pos[j] receives the offset of the first occurrence of needle j that fits
 * whole in s[0..n) (what ifind finds), or NSET_NONE. Returns the bit set of
 * the needles found. With `first`, it stops once past the first occurrence
 * found plus twice the longest needle: needles that occur only later are
 * reported as absent (see text_cut for why that is enough there). */
static unsigned long nset_scan(const nset_t *ns, const char *s, size_t n, size_t *pos, int first) {
  size_t i = 0, j, m = ns->m, at = NSET_NONE;
  unsigned long found = 0, all = ns->k >= 32 ? 0xffffffffUL : (1UL << ns->k) - 1;
  for (j = 0; j < ns->k; j++) pos[j] = NSET_NONE;
  while (i + m <= n && found != all) {
    unsigned h = NSET_HASH((unsigned char)s[i + m - 2], (unsigned char)s[i + m - 1]), sh = ns->shift[h];
    if (sh) { i += sh; continue; }
    if (first && at != NSET_NONE && i > at + 2 * ns->maxlen) break;
    for (j = 0; j < ns->k; j++)      /* only the needles whose window ends in this block */
      if (ns->tail[j] == h && !((found >> j) & 1) && i + ns->len[j] <= n &&
          bnc_ieq_n(s + i, ns->nd[j], ns->len[j])) {
        pos[j] = i;
        found |= 1UL << j;
        if (at == NSET_NONE) at = i;
      }
    i++;
  }
  return found;
}

static bnc_str_t mkstr(const char *p, size_t n) { bnc_str_t s; s.p = p; s.n = n; return s; }

static bnc_str_t trim(bnc_str_t s) {
  while (s.n && (bnc_is_wsp((unsigned char)*s.p) || bnc_is_eol((unsigned char)*s.p))) { s.p++; s.n--; }
  while (s.n && (bnc_is_wsp((unsigned char)s.p[s.n - 1]) || bnc_is_eol((unsigned char)s.p[s.n - 1]))) s.n--;
  if (!s.n) s.p = NULL;
  return s;
}

/* First CR or LF in [p, end), or end. Speed: memchr finds a byte many at a
 * time, but looking for LF to the end of a message that has none (CR line
 * ends) would read the rest of it for every line; so it looks in chunks of
 * 256 bytes: LF first, then CR before it (a CRLF line stops at its CR).
 * Every byte is read at most twice: linear whatever the line ends. */
static const char *eol_find(const char *p, const char *end) {
  while (p < end) {
    size_t n = (size_t)(end - p) < 256 ? (size_t)(end - p) : 256;
    const char *lf = memchr(p, '\n', n);
    const char *cr = memchr(p, '\r', lf ? (size_t)(lf - p) : n);
    if (cr) return cr;
    if (lf) return lf;
    p += n;
  }
  return end;
}

/* End of the line starting at p (first CR or LF, or end), and the start of
 * the next line in *next (after LF, CRLF or CR). */
static const char *line_end(const char *p, const char *end, const char **next) {
  const char *e = eol_find(p, end);
  *next = e;
  if (e < end) *next = (*e == '\r' && e + 1 < end && e[1] == '\n') ? e + 2 : e + 1;
  return e;
}

/* line_end for a buffer known to hold no CR (nocr): the next LF ends the
 * line, one memchr instead of two. Most messages have LF line ends, and
 * whether one has a CR at all is checked once (ctx_t.in_nocr). */
static const char *line_end_lf(const char *p, const char *end, const char **next, int nocr) {
  const char *e;
  if (!nocr) return line_end(p, end, next);
  e = memchr(p, '\n', (size_t)(end - p));
  if (!e) { *next = end; return end; }
  *next = e + 1;
  return e;
}

/* ---- the arena --------------------------------------------------------- */

typedef struct {
  char *p;
  size_t cap, used;
  bnc_message_t *m;
  const bnc_ruleset_t *rs;
  const bnc_str_t *want;
  size_t nwant;
  int have_orig, have_fb, have_dsn;
  bnc_str_t xfailed;      /* X-Failed-Recipients of the bounce */
  bnc_str_t hm_rcpt;      /* X-HmXmrOriginalRecipient of a returned message (JMRP) */
  bnc_str_t texts[4];     /* decoded text/plain bodies, in order */
  size_t ntexts;
  unsigned char texts_nocr[4];  /* texts[i] holds no CR */
  int in_nocr;            /* the input holds no CR */
  struct nset *cut;       /* text_cut's marks, prepared on first use ... */
  int cut_ready;          /* ... (the set lives in bnc_message_parse's frame) */
} ctx_t;

static char *arena_take(ctx_t *c, size_t n) {
  char *r;
  if (n > c->cap - c->used) { c->m->warnings |= BNC_MSG_W_ARENA; return NULL; }
  r = c->p + c->used;
  c->used += n;
  return r;
}

/* ---- headers ----------------------------------------------------------- */

/* Finds header `name` in the block [*pos, end), starting at *pos (a line
 * start). Returns its raw value (folded lines included) and moves *pos past
 * it, so that repeated calls return every occurrence. */
static int header_next(const char **pos, const char *end, const char *name, bnc_str_t *val) {
  const char *p = *pos, *next;
  size_t k = strlen(name);
  while (p < end) {
    const char *e = line_end(p, end, &next);
    if (!bnc_is_wsp((unsigned char)*p) && bnc_iprefix(p, (size_t)(e - p), name)) {
      const char *q = p + k;
      while (q < e && bnc_is_wsp((unsigned char)*q)) q++;
      if (q < e && *q == ':') {
        const char *vs = q + 1, *ve = e;
        while (next < end && bnc_is_wsp((unsigned char)*next)) {  /* folded lines */
          ve = line_end(next, end, &next);
        }
        *val = mkstr(vs, (size_t)(ve - vs));
        *pos = next;
        return 1;
      }
    }
    p = next;
  }
  *pos = end;
  return 0;
}

/* Unfolds a raw value: line breaks and the white space after them become one
 * space; trimmed; kept up to BNC_MSG_VALUE_MAX bytes. Values without line
 * breaks are returned as they are (pointing into the input). */
static bnc_str_t unfold(ctx_t *c, bnc_str_t v) {
  size_t i, n = 0;
  char *o;
  v = trim(v);
  if (v.n > BNC_MSG_VALUE_MAX) { v.n = BNC_MSG_VALUE_MAX; c->m->warnings |= BNC_MSG_W_TRUNC; }
  if (!v.p || (!memchr(v.p, '\n', v.n) && !memchr(v.p, '\r', v.n))) return v;
  if (!(o = arena_take(c, v.n))) return v;
  for (i = 0; i < v.n; i++) {
    unsigned char ch = (unsigned char)v.p[i];
    if (bnc_is_eol(ch)) {
      while (i + 1 < v.n && (bnc_is_eol((unsigned char)v.p[i + 1]) || bnc_is_wsp((unsigned char)v.p[i + 1]))) i++;
      o[n++] = ' ';
    } else {
      o[n++] = (char)ch;
    }
  }
  return mkstr(o, n);
}

static bnc_str_t header(ctx_t *c, const char *p, const char *end, const char *name) {
  bnc_str_t v = { NULL, 0 };
  if (header_next(&p, end, name, &v)) return unfold(c, v);
  return v;
}

#define NAME(s) { s, sizeof s - 1 }

/* Whether a header name can be looked up by scan_headers: no white space
 * or ':' (a line's name ends at the first of these), 1..127 bytes. */
static int plain_name(bnc_str_t name) {
  size_t i;
  if (name.n == 0 || name.n > 127) return 0;
  for (i = 0; i < name.n; i++)
    if (bnc_is_wsp((unsigned char)name.p[i]) || name.p[i] == ':' || name.p[i] == '\0') return 0;
  return 1;
}

/* One pass over the header block that starts at p (up to the first empty
 * line, or end): raw[i] receives the raw value of the first header called
 * names[i] (folded lines included), exactly what header_next returns, or
 * {NULL, 0}; bit i of *folded is set when that value goes on over folded
 * lines. Returns the end of the block; *body receives where the body
 * starts (after the empty line). n <= 32; names are plain_name()s; nocr: the
 * block holds no CR (line_end_lf). Speed: a block
 * is read once for all the names a reader wants (10 for a DSN record, 20
 * for a returned message), not once per name; the values are unfolded by
 * the caller, in its own order, so the arena fills as before. A line's
 * name is the bytes before its first white space or ':', which is then
 * compared whole: the same test as header_next's prefix compare followed by
 * optional white space and ':', for names without white space or ':'.
 * Speed: most lines name no wanted header (Received, DKIM-Signature, ...).
 * The wanted names of 4 bytes or more are bucketed by their first four
 * bytes (case folded, hashed to one of 64: byh), which tell apart the
 * names that share a first word (X-..., Content-..., Re...); shorter names
 * ("To") are candidates on every line. A line is compared only with its
 * candidates, by prefix: its name is names[i] exactly when its first n
 * bytes are names[i] (which holds no white space or ':') and white space or
 * ':' follows. Other lines cost the line end and one look-up. The
 * candidates are visited by their set bits (bit_index), and a value is
 * stored when its line is matched, written again at its end only when it
 * went on over folded lines: the branches taken per line hold still, which
 * mispredicted branches (not instructions) made the cost of. */
static unsigned head4(const char *p) {
  uint32_t x;
  memcpy(&x, p, 4);
  /* | 0x20 folds the letters and keeps equal bytes equal: names equal but
   * for case hash alike (others may collide, the compare tells them apart) */
  return (unsigned)((uint32_t)((x | 0x20202020u) * 0x9E3779B1u) >> 26);
}

/* The index of the one set bit of b (b a power of 2 below 2^32), by a de
 * Bruijn multiply: portable C99, no branch. */
static unsigned bit_index(uint32_t b) {
  static const unsigned char DB[32] = {
    0, 1, 28, 2, 29, 14, 24, 3, 30, 22, 20, 15, 25, 17, 4, 8,
    31, 27, 13, 23, 21, 19, 16, 7, 26, 12, 18, 6, 11, 5, 10, 9
  };
  return DB[(uint32_t)(b * 0x077CB531u) >> 27];
}

static const char *scan_headers(const char *p, const char *end, const bnc_str_t *names, size_t n,
                                bnc_str_t *raw, unsigned long *folded, const char **body, int nocr) {
  const char *next, *vs = NULL, *ve = NULL;
  int fold = 0;             /* the open header went on over folded lines */
  uint32_t want = n >= 32 ? 0xffffffffu : ((uint32_t)1 << n) - 1, cur = 0;  /* not found yet; the open header */
  uint32_t byh[64];         /* the names (bits) of 4 bytes or more, by head4 */
  uint32_t every = 0;       /* the names of 1 to 3 bytes: candidates on every line */
  uint32_t fd = 0;          /* *folded */
  size_t i;
  memset(byh, 0, sizeof byh);
  for (i = 0; i < n; i++) {
    raw[i] = mkstr(NULL, 0);
    if (names[i].n < 4) every |= (uint32_t)1 << i;
    else byh[head4(names[i].p)] |= (uint32_t)1 << i;
  }
  *body = end;
  while (p < end) {
    const char *e = line_end_lf(p, end, &next, nocr);
    if (e == p) { *body = next; break; }
    if (bnc_is_wsp((unsigned char)*p)) {          /* a folded line continues the open header */
      if (cur) { ve = e; fold = 1; }
    } else {
      uint32_t cand = every, b;
      if (fold) {                               /* the open header's value ends at ve */
        fd |= cur;
        for (b = cur; b; b &= b - 1) raw[bit_index(b & (0u - b))].n = (size_t)(ve - vs);
      }
      fold = 0;
      cur = 0;
      if (e - p >= 4) cand |= byh[head4(p)];
      for (cand &= want; cand; cand &= cand - 1) {
        size_t k;
        const char *q;
        i = bit_index(cand & (0u - cand));
        k = names[i].n;
        q = p + k;
        if ((size_t)(e - p) <= k || !(*q == ':' || bnc_is_wsp((unsigned char)*q)) || !bnc_ieq_n(p, names[i].p, k))
          continue;
        while (q < e && bnc_is_wsp((unsigned char)*q)) q++;
        if (q < e && *q == ':') {
          cur |= (uint32_t)1 << i;
          vs = q + 1;
          ve = e;
          raw[i] = mkstr(vs, (size_t)(ve - vs));
        }
      }
      want &= ~cur;
    }
    p = next;
  }
  if (fold) {
    uint32_t b;
    fd |= cur;
    for (b = cur; b; b &= b - 1) raw[bit_index(b & (0u - b))].n = (size_t)(ve - vs);
  }
  *folded = fd;
  return p < end ? p : end;
}

/* The value raw[i] of a scan_headers pass, unfolded. Speed: a value that
 * did not go on over folded lines lies within one line and holds no line
 * break (bit i of folded clear): it is only trimmed and bounded, as unfold
 * would, without looking for line breaks in it. */
static bnc_str_t hval(ctx_t *c, const bnc_str_t *raw, unsigned long folded, size_t i) {
  bnc_str_t v;
  if ((folded >> i) & 1) return unfold(c, raw[i]);
  v = trim(raw[i]);
  if (v.n > BNC_MSG_VALUE_MAX) { v.n = BNC_MSG_VALUE_MAX; c->m->warnings |= BNC_MSG_W_TRUNC; }
  return v;
}

/* Value of parameter `name` in a Content-Type value (quotes removed).
 * Speed: memchr goes from ';' to ';'. */
static bnc_str_t param(bnc_str_t v, const char *name) {
  size_t i = 0, k = strlen(name);
  const char *semi;
  while (v.p && i < v.n && (semi = memchr(v.p + i, ';', v.n - i)) != NULL) {
    size_t j = (size_t)(semi - v.p) + 1;
    while (j < v.n && bnc_is_wsp((unsigned char)v.p[j])) j++;
    if (bnc_iprefix(v.p + j, v.n - j, name) && j + k < v.n && v.p[j + k] == '=') {
      size_t s = j + k + 1, e;
      if (s < v.n && v.p[s] == '"') {
        e = ++s;
        while (e < v.n && v.p[e] != '"') e++;
      } else {
        e = s;
        while (e < v.n && v.p[e] != ';' && !bnc_is_wsp((unsigned char)v.p[e])) e++;
      }
      return mkstr(v.p + s, e - s);
    }
    i = (size_t)(semi - v.p) + 1;
  }
  return mkstr(NULL, 0);
}

/* The media type of a Content-Type value ("multipart/report"). */
static bnc_str_t media_type(bnc_str_t v) {
  size_t n = 0;
  while (v.p && n < v.n && v.p[n] != ';' && !bnc_is_wsp((unsigned char)v.p[n])) n++;
  return mkstr(v.p, n);
}

/* ---- decoders ---------------------------------------------------------- */

static int b64val(int ch) {
  if (ch >= 'A' && ch <= 'Z') return ch - 'A';
  if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9') return ch - '0' + 52;
  if (ch == '+' || ch == '-') return 62;
  if (ch == '/' || ch == '_') return 63;
  return -1;
}

size_t bnc_base64_decode(const char *in, size_t len, char *out, size_t cap) {
  size_t i, n = 0;
  unsigned acc = 0;
  int bits = 0;
  for (i = 0; i < len && n < cap; i++) {
    int v = b64val((unsigned char)in[i]);
    if (in[i] == '=') break;
    if (v < 0) continue;
    acc = ((acc << 6) | (unsigned)v) & 0xffffffu;
    bits += 6;
    if (bits >= 8) { bits -= 8; out[n++] = (char)((acc >> bits) & 0xff); }
  }
  return n;
}

static int hexval(int ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  ch = bnc_lower(ch);
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  return -1;
}

/* Quoted-printable; `underscore` turns '_' into a space (RFC 2047 Q).
 * Speed: in a body (no underscore rule) the bytes up to the next '=' are
 * copied as they are, found with memchr and moved with memcpy; only the
 * '=' goes through the loop below, which decides as it always did. */
static size_t qp(const char *in, size_t len, char *out, size_t cap, int underscore) {
  size_t i, n = 0;
  for (i = 0; i < len && n < cap; i++) {
    char ch = in[i];
    if (!underscore && ch != '=') {
      const char *eq = memchr(in + i, '=', len - i);
      size_t run = (eq ? (size_t)(eq - in) : len) - i;
      if (run > cap - n) run = cap - n;
      memcpy(out + n, in + i, run);
      n += run;
      i += run;
      if (i >= len || n >= cap) break;
      ch = in[i];                                      /* an '=' */
    }
    if (ch == '=' && i + 2 < len && hexval((unsigned char)in[i + 1]) >= 0 &&
        hexval((unsigned char)in[i + 2]) >= 0) {
      out[n++] = (char)(hexval((unsigned char)in[i + 1]) * 16 + hexval((unsigned char)in[i + 2]));
      i += 2;
    } else if (ch == '=' && i + 1 < len && bnc_is_eol((unsigned char)in[i + 1])) {
      i++;                                             /* soft line break */
      if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n') i++;
    } else if (ch == '=' && i + 1 == len) {
      break;
    } else {
      out[n++] = (underscore && ch == '_') ? ' ' : ch;
    }
  }
  return n;
}

size_t bnc_qp_decode(const char *in, size_t len, char *out, size_t cap) {
  return qp(in, len, out, cap, 0);
}

/* Decodes RFC 2047 encoded words (=?cs?B?...?= / =?cs?Q?...?=) into the
 * arena; the bytes are kept in their charset. White space between two
 * encoded words is dropped. */
static bnc_str_t decode_words(ctx_t *c, bnc_str_t v) {
  size_t i = 0, n = 0, last_word_end = (size_t)-1;
  char *o;
  if (!v.p || !ifind(v.p, v.n, "=?")) return v;
  if (!(o = arena_take(c, v.n))) return v;
  while (i < v.n) {
    if (v.p[i] == '=' && i + 1 < v.n && v.p[i + 1] == '?') {
      size_t q1 = i + 2, q2, q3, e;
      while (q1 < v.n && v.p[q1] != '?' && !bnc_is_wsp((unsigned char)v.p[q1])) q1++;
      q2 = q1 + 2;
      if (q1 + 2 < v.n && v.p[q1] == '?' && v.p[q1 + 2] == '?') {
        int enc = bnc_lower((unsigned char)v.p[q1 + 1]);
        q3 = q2 + 1;
        e = q3;
        while (e + 1 < v.n && !(v.p[e] == '?' && v.p[e + 1] == '=')) e++;
        if (e + 1 < v.n && (enc == 'b' || enc == 'q')) {
          if (last_word_end != (size_t)-1) {   /* drop the space between words */
            size_t k = last_word_end;
            int only_ws = 1;
            for (; k < i; k++) if (!bnc_is_wsp((unsigned char)v.p[k]) && !bnc_is_eol((unsigned char)v.p[k])) only_ws = 0;
            if (only_ws) n -= i - last_word_end;
          }
          n += enc == 'b' ? bnc_base64_decode(v.p + q3, e - q3, o + n, v.n - n)
                          : qp(v.p + q3, e - q3, o + n, v.n - n, 1);
          i = e + 2;
          last_word_end = i;
          continue;
        }
      }
    }
    o[n++] = v.p[i++];
  }
  return mkstr(o, n);
}

/* ---- delivery-status, feedback-report ---------------------------------- */

/* "rfc822; a@b" -> "a@b"; also strips <> around an address. */
static bnc_str_t after_type(bnc_str_t v) {
  const char *semi;
  if (!v.p) return v;
  semi = memchr(v.p, ';', v.n);
  if (semi) v = mkstr(semi + 1, v.n - (size_t)(semi + 1 - v.p));
  v = trim(v);
  if (v.n >= 2 && v.p[0] == '<' && v.p[v.n - 1] == '>') v = mkstr(v.p + 1, v.n - 2);
  return v;
}

static void classify_rcpt(ctx_t *c, bnc_msg_rcpt_t *r);

static bnc_msg_rcpt_t *new_rcpt(ctx_t *c) {
  bnc_msg_rcpt_t *r;
  if (c->m->nrcpt >= BNC_MSG_RCPTS) { c->m->warnings |= BNC_MSG_W_RCPTS; return NULL; }
  r = &c->m->rcpt[c->m->nrcpt++];
  memset(r, 0, sizeof *r);
  return r;
}

/* A delivery-status body: the per-message block, then one block per
 * recipient, separated by empty lines. */
/* The host of a Remote-MTA value, without what some MTAs append to it
 * ("mx.example.jp (TCP|192.0.2.1|25)", "mx.example.jp. (192.0.2.1, the
 * server for the domain ...)") or the root's final dot. */
static bnc_str_t host_only(bnc_str_t v) {
  size_t k = 0;
  while (k < v.n && !bnc_is_wsp((unsigned char)v.p[k]) && v.p[k] != '(') k++;
  if (k > 1 && v.p[k - 1] == '.') k--;
  v.n = k;
  return v.n ? v : mkstr(NULL, 0);
}

static void read_dsn(ctx_t *c, const char *p, const char *end, int nocr) {
  enum { RMTA, ARRIVAL, FINAL, ORIG, ACTION, STATUS, DIAG, REMOTE, LAST, RETRY, PMTA, NDSN };
  static const bnc_str_t names[NDSN] = {
    NAME("Reporting-MTA"), NAME("Arrival-Date"), NAME("Final-Recipient"), NAME("Original-Recipient"),
    NAME("Action"), NAME("Status"), NAME("Diagnostic-Code"), NAME("Remote-MTA"),
    NAME("Last-Attempt-Date"), NAME("Will-Retry-Until"), NAME("X-PowerMTA-BounceCategory")
  };
  int first = 1;
  while (p < end) {
    const char *body;
    bnc_str_t raw[NDSN];
    unsigned long fold;
    while (p < end && bnc_is_eol((unsigned char)*p)) p++;   /* blank lines between blocks */
    if (p >= end) break;
    scan_headers(p, end, names, NDSN, raw, &fold, &body, nocr);
    if (first) {
      bnc_str_t v = hval(c, raw, fold, RMTA);
      if (v.p && !c->m->reporting_mta.p) c->m->reporting_mta = after_type(v);
      v = hval(c, raw, fold, ARRIVAL);
      if (v.p && !c->m->arrival_date.p) c->m->arrival_date = v;
    }
    {
      bnc_str_t fr = hval(c, raw, fold, FINAL);
      bnc_str_t orr = hval(c, raw, fold, ORIG);
      if (fr.p || orr.p) {
        bnc_msg_rcpt_t *r = new_rcpt(c);
        if (!r) return;
        r->rcpt = after_type(fr.p ? fr : orr);
        r->orig_rcpt = after_type(orr);
        r->action = hval(c, raw, fold, ACTION);
        r->status = after_type(hval(c, raw, fold, STATUS));
        r->diag = hval(c, raw, fold, DIAG);
        r->rhost = host_only(after_type(hval(c, raw, fold, REMOTE)));
        r->last_attempt = hval(c, raw, fold, LAST);
        r->will_retry = hval(c, raw, fold, RETRY);
        {
          bnc_str_t cat = trim(hval(c, raw, fold, PMTA));
          r->bad_mailbox = cat.n == 11 && bnc_ieq_n(cat.p, "bad-mailbox", 11);
        }
        classify_rcpt(c, r);
      }
    }
    first = 0;
    p = body;
  }
}

static void read_feedback(ctx_t *c, const char *p, const char *end, int nocr) {
  static const bnc_str_t names[2] = { NAME("Feedback-Type"), NAME("Source-IP") };
  const char *he, *body, *pos;
  bnc_str_t v, raw[2];
  unsigned long fold;
  he = scan_headers(p, end, names, 2, raw, &fold, &body, nocr);
  c->have_fb = 1;
  c->m->feedback_type = hval(c, raw, fold, 0);
  c->m->source_ip = hval(c, raw, fold, 1);
  pos = p;
  while (header_next(&pos, he, "Original-Rcpt-To", &v)) {
    bnc_msg_rcpt_t *r = new_rcpt(c);
    if (!r) return;
    r->rcpt = after_type(unfold(c, v));
  }
}

/* Headers of the returned original message. */
static void read_original(ctx_t *c, const char *p, const char *end, int nocr) {
  enum { MSGID, FROM, TO, SUBJECT, DATE, HMRCPT, NORIG };
  bnc_str_t names[NORIG + BNC_MSG_WANT] = {
    NAME("Message-ID"), NAME("From"), NAME("To"), NAME("Subject"), NAME("Date"),
    NAME("X-HmXmrOriginalRecipient")
  };
  bnc_str_t raw[NORIG + BNC_MSG_WANT];
  unsigned long fold;
  size_t slot[BNC_MSG_WANT], n = NORIG, i;
  const char *body, *he;
  if (c->have_orig) return;
  c->have_orig = 1;
  for (i = 0; i < c->nwant; i++) {       /* the caller's names join the scan when they can */
    slot[i] = 0;
    if (plain_name(c->want[i])) { slot[i] = n; names[n++] = c->want[i]; }
  }
  he = scan_headers(p, end, names, n, raw, &fold, &body, nocr);
  c->m->message_id = hval(c, raw, fold, MSGID);
  c->m->from = hval(c, raw, fold, FROM);
  c->m->to = hval(c, raw, fold, TO);
  c->m->subject = decode_words(c, hval(c, raw, fold, SUBJECT));
  c->m->date = hval(c, raw, fold, DATE);
  c->hm_rcpt = hval(c, raw, fold, HMRCPT);
  for (i = 0; i < c->nwant; i++) {
    char name[128];
    size_t k = c->want[i].n < sizeof name - 1 ? c->want[i].n : sizeof name - 1;
    if (slot[i]) { c->m->want[i] = hval(c, raw, fold, slot[i]); continue; }
    memcpy(name, c->want[i].p, k);   /* others: the name as a C string, one pass each */
    name[k] = '\0';
    if (k && !memchr(name, '\0', k)) c->m->want[i] = header(c, p, he, name);
  }
}

/* ---- MIME -------------------------------------------------------------- */

static void walk(ctx_t *c, const char *p, const char *end, int depth, bnc_str_t deftype);

/* Decodes a leaf body per its transfer encoding, up to BNC_MSG_DECODE_MAX
 * bytes; identity encodings are returned in place. */
static bnc_str_t decode_body(ctx_t *c, const char *p, const char *end, bnc_str_t cte, int *decoded) {
  size_t n = (size_t)(end - p);
  int b64 = cte.p && bnc_ieq(cte.p, cte.n, "base64");
  int isqp = cte.p && bnc_ieq(cte.p, cte.n, "quoted-printable");
  char *o;
  *decoded = b64 || isqp;
  if (!b64 && !isqp) {
    if (n > BNC_MSG_DECODE_MAX) { n = BNC_MSG_DECODE_MAX; c->m->warnings |= BNC_MSG_W_TRUNC; }
    return mkstr(p, n);
  }
  if (n > BNC_MSG_DECODE_MAX * 4 / 3 + 4) { n = BNC_MSG_DECODE_MAX * 4 / 3 + 4; c->m->warnings |= BNC_MSG_W_TRUNC; }
  if (!(o = arena_take(c, n))) return mkstr(NULL, 0);
  n = b64 ? bnc_base64_decode(p, n, o, n) : qp(p, n, o, n, 0);
  return mkstr(o, n);
}

static void leaf(ctx_t *c, bnc_str_t type, bnc_str_t cte, const char *p, const char *end) {
  bnc_str_t b;
  int nocr;
  /* the subtype is compared after the top-level type, once */
  int msg = type.n > 8 && bnc_ieq_n(type.p, "message/", 8), text = !msg && bnc_iprefix(type.p, type.n, "text/");
  bnc_str_t sub = msg ? mkstr(type.p + 8, type.n - 8) : text ? mkstr(type.p + 5, type.n - 5) : type;
  int ds = msg && (bnc_ieq(sub.p, sub.n, "delivery-status") || bnc_ieq(sub.p, sub.n, "global-delivery-status"));
  int fb = msg && bnc_ieq(sub.p, sub.n, "feedback-report");
  int orig = msg ? bnc_ieq(sub.p, sub.n, "rfc822") || bnc_ieq(sub.p, sub.n, "global") ||
                   bnc_ieq(sub.p, sub.n, "global-headers")
                 : text && bnc_ieq(sub.p, sub.n, "rfc822-headers");
  if (!ds && !fb && !orig && !text) return;   /* attachments are never decoded */
  b = decode_body(c, p, end, cte, &nocr);
  if (!b.p) return;
  /* in place: a part of the input; decoded: look for a CR once */
  nocr = nocr ? !memchr(b.p, '\r', b.n) : c->in_nocr;
  if (ds) { c->have_dsn = 1; read_dsn(c, b.p, b.p + b.n, nocr); }
  else if (fb) read_feedback(c, b.p, b.p + b.n, nocr);
  else if (orig) read_original(c, b.p, b.p + b.n, nocr);
  else if (c->ntexts < sizeof c->texts / sizeof c->texts[0]) {
    c->texts_nocr[c->ntexts] = (unsigned char)nocr;
    c->texts[c->ntexts++] = b;
  }
}

/* Whether the line [p, e) is the delimiter --boundary (1) or the close
 * delimiter --boundary-- (2). */
static int delimiter(const char *p, const char *e, bnc_str_t bd) {
  size_t n = (size_t)(e - p);
  if (n < bd.n + 2 || p[0] != '-' || p[1] != '-' || memcmp(p + 2, bd.p, bd.n) != 0) return 0;
  if (n >= bd.n + 4 && p[bd.n + 2] == '-' && p[bd.n + 3] == '-') return 2;
  return 1;
}

static void multipart(ctx_t *c, const char *body, const char *end, int depth, bnc_str_t bd,
                      bnc_str_t subtype) {
  const char *start = NULL, *next, *p = body, *q;
  bnc_str_t def = mkstr(bnc_ieq(subtype.p, subtype.n, "multipart/digest") ? "message/rfc822" : "text/plain",
                        bnc_ieq(subtype.p, subtype.n, "multipart/digest") ? 14 : 10);
  if (!bd.p || bd.n == 0 || bd.n > 200) {
    c->m->warnings |= BNC_MSG_W_BOUNDARY;
    leaf(c, mkstr("text/plain", 10), mkstr(NULL, 0), p, end);  /* read it as text */
    return;
  }
  /* Delimiters are lines that open with "--" and the boundary: that string
   * (pat, L bytes) is looked for with a Horspool skip table, which moves by
   * up to L bytes per look (boundaries run 20 to 70 bytes); an occurrence
   * counts only at a line start: the body start, or after CR or LF (the
   * line starts of line_end). Every occurrence is found, in order. */
  {
    unsigned char skip[256];
    char pat[204];
    size_t L = bd.n + 2, i;
    pat[0] = pat[1] = '-';
    memcpy(pat + 2, bd.p, bd.n);
    memset(skip, (int)L, sizeof skip);
    for (i = 0; i + 1 < L; i++) skip[(unsigned char)pat[i]] = (unsigned char)(L - 1 - i);
    q = p;
    while ((size_t)(end - q) >= L) {
      int d = 0;
      /* the line start is tested before the compare: pat holds no line
       * break (an unfolded value), so compares at line starts read each
       * byte about once, whatever the input */
      if (q[L - 1] != pat[L - 1] || !(q == body || bnc_is_eol((unsigned char)q[-1])) ||
          memcmp(q, pat, L - 1) != 0) {
        q += skip[(unsigned char)q[L - 1]];
        continue;
      }
      {
        const char *e = line_end_lf(q, end, &next, c->in_nocr);
        d = delimiter(q, e, bd);
      }
      if (d) {
        if (start) walk(c, start, q, depth + 1, def);
        if (d == 2) return;
        start = next;
        q = next;
      } else {
        q++;
      }
    }
  }
  c->m->warnings |= BNC_MSG_W_BOUNDARY;         /* never closed: the rest is the last part */
  if (start) walk(c, start, end, depth + 1, def);
  else leaf(c, mkstr("text/plain", 10), mkstr(NULL, 0), body, end);  /* never opened: text */
}

/* The body [body, end) of a MIME entity whose Content-Type and
 * Content-Transfer-Encoding values (unfolded, in this order) are given: a
 * multipart or a leaf. */
static void entity(ctx_t *c, const char *body, const char *end, int depth, bnc_str_t deftype,
                   bnc_str_t ct, bnc_str_t cte) {
  bnc_str_t type = ct.p ? media_type(ct) : deftype;
  cte = trim(cte);
  if (bnc_iprefix(type.p, type.n, "multipart/")) {
    bnc_str_t rt = param(ct, "report-type");
    if (rt.p && bnc_ieq(rt.p, rt.n, "feedback-report")) c->have_fb = 1;
    multipart(c, body, end, depth, param(ct, "boundary"), type);
  } else {
    leaf(c, type, cte, body, end);
  }
}

static const bnc_str_t MIME_NAMES[2] = { NAME("Content-Type"), NAME("Content-Transfer-Encoding") };

/* One MIME entity [p, end): headers, then a multipart or a leaf body. */
static void walk(ctx_t *c, const char *p, const char *end, int depth, bnc_str_t deftype) {
  const char *body;
  bnc_str_t raw[2], ct, cte;
  unsigned long fold;
  if (depth > BNC_MSG_DEPTH) { c->m->warnings |= BNC_MSG_W_DEPTH; return; }
  if (c->m->parts >= BNC_MSG_PARTS) { c->m->warnings |= BNC_MSG_W_PARTS; return; }
  c->m->parts++;
  scan_headers(p, end, MIME_NAMES, 2, raw, &fold, &body, c->in_nocr);   /* walk stays in the input */
  ct = hval(c, raw, fold, 0);
  cte = hval(c, raw, fold, 1);
  entity(c, body, end, depth, deftype, ct, cte);
}

/* ---- classification ---------------------------------------------------- */

/* The command named by a tag at the end of the text: Yahoo! Mail writes
 * "Remote host said: 550 ... [RCPT_TO]" ("[BODY]" after DATA). */
static int tail_command(bnc_str_t t) {
  static const struct { const char *tag; int cmd; } T[] = {
    { "[rcpt_to]", BNC_CMD_RCPT }, { "[mail_from]", BNC_CMD_MAIL }, { "[body]", BNC_CMD_DATA },
    { "[data]", BNC_CMD_DATA }
  };
  size_t i, k;
  t = trim(t);
  if (!t.n || t.p[t.n - 1] != ']') return BNC_CMD_NONE;
  for (i = 0; i < sizeof T / sizeof T[0]; i++) {
    k = strlen(T[i].tag);
    if (t.n >= k && bnc_ieq_n(t.p + t.n - k, T[i].tag, k)) return T[i].cmd;
  }
  return BNC_CMD_NONE;
}

/* Bounce wordings that name the stage in their own words: qmail's "most
 * progress was RCPT TO response" and the "SMTP:RCPT host H:" of some
 * gateways' technical details. Looked for in the first 160 bytes, in this
 * order of precedence: "most progress was rcpt", "smtp:rcpt ", "smtp:data ",
 * "smtp:mail ". Speed: the three "smtp:" words are found together by their
 * ':' (memchr), not by three searches. */
static int stage_words(bnc_str_t t) {
  size_t n = t.n < 160 ? t.n : 160;
  const char *p = t.p, *end = t.p + n, *q;
  int data = 0, mail = 0;
  if (ifind(p, n, "most progress was rcpt")) return BNC_CMD_RCPT;
  for (q = p; q < end && (q = memchr(q, ':', (size_t)(end - q))) != NULL; q++) {
    if (q - p < 4 || end - q < 6 || !bnc_ieq_n(q - 4, "smtp", 4) || q[5] != ' ')
      continue;
    if (bnc_ieq_n(q + 1, "rcpt", 4)) return BNC_CMD_RCPT;
    if (bnc_ieq_n(q + 1, "data", 4)) data = 1;
    if (bnc_ieq_n(q + 1, "mail", 4)) mail = 1;
  }
  return data ? BNC_CMD_DATA : mail ? BNC_CMD_MAIL : BNC_CMD_NONE;
}

/* The enhanced status of reply `from` becomes that of `to`. */
static void take_status(bnc_reply_t *to, const bnc_reply_t *from) {
  to->st_class = from->st_class;
  to->st_subject = from->st_subject;
  to->st_detail = from->st_detail;
  memcpy(to->status, from->status, sizeof from->status);
}

/* A give-up notice that quotes the last reply of the remote host at its end
 * (Amazon SES: "554 4.4.7 Message expired: ... <421 4.4.2 Connection timed
 * out>"): the quoted reply's code and status are what the remote host said;
 * the reason stays the notice's. */
static void last_reply(bnc_msg_rcpt_t *r) {
  bnc_str_t t = trim(r->text);
  const char *lt;
  bnc_reply_t in;
  char tmp[64];
  if (t.n < 8 || t.p[t.n - 1] != '>' || !(lt = memchr(t.p, '<', t.n))) return;
  while (memchr(lt + 1, '<', (size_t)(t.p + t.n - lt - 1))) lt = memchr(lt + 1, '<', (size_t)(t.p + t.n - lt - 1));
  if (lt[1] < '4' || lt[1] > '5' || (size_t)(t.p + t.n - lt) > sizeof tmp) return;
  if (bnc_reply_parse(lt + 1, (size_t)(t.p + t.n - lt - 2), tmp, sizeof tmp, &in) != BNC_OK || !in.code ||
      !in.st_class) return;
  r->reply.code = in.code;
  take_status(&r->reply, &in);
}

/* A notice whose own status is a generic one (detail 0: "5.1.0 - Unknown
 * address error 550-'5.2.2 <a@b>... Mailbox Full'") quoting the remote
 * reply: the quoted reply's status, of the same class, is the precise one. */
static void inner_status(bnc_msg_rcpt_t *r) {
  const char *t = r->text.p, *end = t + r->text.n, *p = t;
  while (end - p >= 10 && (p = memchr(p, '\'', (size_t)(end - p))) != NULL) {
    const char *q = ++p;
    bnc_reply_t in;
    char tmp[64];
    size_t n;
    if (q - t < 5 || !(q[-2] == '-' || q[-2] == ' ') || !(q[-5] == '4' || q[-5] == '5')) continue;
    n = (size_t)(end - q) < sizeof tmp ? (size_t)(end - q) : sizeof tmp;
    if (bnc_reply_parse(q, n, tmp, sizeof tmp, &in) == BNC_OK && in.st_class == r->reply.st_class &&
        in.st_detail != 0) {
      take_status(&r->reply, &in);
      return;
    }
  }
}

/* sendmail's transcript reports a program's exit status N in a reply line
 * of its own ("554 5.3.0 unknown mailer error 255"): when the Status field
 * is generic, that line's status and code are the precise ones. */
static void exit_reply(const ctx_t *c, bnc_msg_rcpt_t *r, bnc_str_t n) {
  size_t i;
  if (n.n == 0 || n.n > 4) return;
  for (i = 0; i < c->ntexts; i++) {
    const char *p = c->texts[i].p, *end = p + c->texts[i].n, *next;
    for (; p < end; p = next) {
      const char *e = line_end_lf(p, end, &next, c->texts_nocr[i]);
      bnc_reply_t in;
      char tmp[256];
      bnc_str_t l = trim(mkstr(p, (size_t)(e - p)));
      if (l.n < 12 || l.n >= sizeof tmp || (l.p[0] != '4' && l.p[0] != '5') ||
          l.p[l.n - n.n - 1] != ' ' || memcmp(l.p + l.n - n.n, n.p, n.n) != 0) continue;
      if (bnc_reply_parse(l.p, l.n, tmp, sizeof tmp, &in) == BNC_OK && in.code &&
          in.st_class == r->reply.st_class) {
        r->reply.code = in.code;
        take_status(&r->reply, &in);
        return;
      }
    }
  }
}

/* The reason an "X-Unix; N" diagnostic gives: N is the exit status of the
 * program the mail was handed to, read as sysexits.h defines it (67 no
 * such user, 68 no such host, 64-78 a fault of the local system); any other
 * status is the program's own failure. */
static bnc_reason_t unix_exit_reason(bnc_str_t v) {
  int n = 0;
  size_t i = 0;
  v = trim(v);
  while (i < v.n && i < 4 && v.p[i] >= '0' && v.p[i] <= '9') n = n * 10 + (v.p[i++] - '0');
  if (i == 0 || i < v.n) return BNC_R_MAILERERROR;
  if (n == 67) return BNC_R_USERUNKNOWN;
  if (n == 68) return BNC_R_HOSTUNKNOWN;
  return n >= 64 && n <= 78 ? BNC_R_SYSTEMERROR : BNC_R_MAILERERROR;
}

static void classify_rcpt(ctx_t *c, bnc_msg_rcpt_t *r) {
  bnc_str_t d = r->diag;
  char *text;
  const char *rh = r->rhost.p;
  size_t rhl = r->rhost.n;
  if (r->status.p == r->reply.status) {         /* classified before: keep the status */
    char *st = arena_take(c, r->status.n);
    if (st) memcpy(st, r->status.p, r->status.n);
    r->status = mkstr(st, st ? r->status.n : 0);
  }
  memset(&r->reply, 0, sizeof r->reply);
  r->delayed = r->action.p && bnc_iprefix(r->action.p, r->action.n, "delayed");
  if (d.p && (text = arena_take(c, d.n + 1)) != NULL &&
      bnc_reply_parse(d.p, d.n, text, d.n + 1, &r->reply) == BNC_OK) {
    r->text = mkstr(text, r->reply.text_len);
  } else {
    memset(&r->reply, 0, sizeof r->reply);
    r->text = mkstr(NULL, 0);
  }
  if (r->status.p) {                            /* "5.1.1 (comment)" -> "5.1.1" */
    size_t k = 0;
    while (k < r->status.n && !bnc_is_wsp((unsigned char)r->status.p[k]) && r->status.p[k] != '(') k++;
    r->status.n = k;
  }
  if (r->status.p && r->status.n && r->status.n < 12) {
    /* The diagnostic's own status is the more precise one (a Status field
     * often says only 5.0.0 or 4.4.7); the field fills in when it has none. */
    bnc_reply_t s;
    char tmp[16];
    if (bnc_reply_parse(r->status.p, r->status.n, tmp, sizeof tmp, &s) == BNC_OK && s.st_class &&
        (!r->reply.st_class || (r->reply.st_class == s.st_class && r->reply.st_subject == 0 &&
                                 s.st_subject != 0))) {
      take_status(&r->reply, &s);
    }
  }
  /* "X-Unix; 255": the exit status of a program the mail was piped to, not a
   * reply code (it would read as a 2xx) */
  if (d.n > 7 && bnc_ieq_n(d.p, "x-unix;", 7)) r->reply.code = 0;
  if (!rh && r->reply.rhost_len && r->text.p) { rh = d.p + r->reply.rhost_off; rhl = r->reply.rhost_len; }
  if (r->reply.command == BNC_CMD_NONE && r->text.p) r->reply.command = tail_command(r->text);
  if (r->reply.command == BNC_CMD_NONE && d.p) r->reply.command = stage_words(d);
  bnc_classify(c->rs, &r->reply, r->text.p ? r->text.p : "", r->text.n, rh, rhl, &r->cls);
  if (r->cls.reason == BNC_R_EXPIRED && r->text.p) last_reply(r);
  if (r->reply.st_class && r->reply.st_detail == 0 && r->text.p) inner_status(r);
  if (d.n > 7 && bnc_ieq_n(d.p, "x-unix;", 7) && r->cls.rule < 0 && r->cls.type != BNC_T_DELIVERED) {
    r->cls.reason = unix_exit_reason(mkstr(d.p + 7, d.n - 7));
    r->cls.type = bnc_reason_type(r->cls.reason, r->cls.permanent);
    strcpy(r->cls.source, "type");
    if (r->reply.st_subject == 0 && r->reply.st_detail == 0) exit_reply(c, r, trim(mkstr(d.p + 7, d.n - 7)));
  }
  if (!r->rhost.p && rh) r->rhost = mkstr(rh, rhl);
  if (r->reply.st_class) r->status = mkstr(r->reply.status, strlen(r->reply.status));
  else if (r->status.p && !r->status.n) r->status = mkstr(NULL, 0);
  if (r->action.p && (bnc_iprefix(r->action.p, r->action.n, "delivered") ||
                      bnc_iprefix(r->action.p, r->action.n, "relayed") ||
                      bnc_iprefix(r->action.p, r->action.n, "expanded"))) {
    r->cls.reason = BNC_R_DELIVERED;
    r->cls.type = BNC_T_DELIVERED;
    r->cls.permanent = 0;
  }
}

/* Sets reason and type for records that are not failures. */
static void mark_all(ctx_t *c, bnc_reason_t reason, bnc_type_t type) {
  size_t i;
  for (i = 0; i < c->m->nrcpt; i++) {
    bnc_msg_rcpt_t *r = &c->m->rcpt[i];
    memset(&r->cls, 0, sizeof r->cls);
    r->cls.reason = reason;
    r->cls.type = type;
    r->cls.rule = -1;
    strcpy(r->cls.source, "format");
  }
}

/* ---- plain-text families ----------------------------------------------- */

/* A family is chosen by one piece of evidence: a substring of a top-level
 * header (From, Subject, X-Mailer, X-Failed-Recipients) or of the first
 * 4 KiB of a text part. Its reader then pulls recipients and diagnostics
 * out of the text. */
enum { EV_BODY, EV_FROM, EV_SUBJECT, EV_XMAILER, EV_XFAILED };
enum {
  RD_LINES,     /* address lines (`<a@b>:`, `a@b`, `Recipient: <a@b>`, `a@b on DATE`)
                   followed by indented lines, or the rest of the line */
  RD_MARKED,    /* one recipient after rcpt_at; the diagnostic from diag_at to
                   the end of its paragraph */
  RD_ADDRTEXT,  /* lines that open with an address and go on with the diagnostic */
  RD_INLINE,    /* lines "diagnostic: a@b": the line naming the address is it */
  RD_BLOCK,     /* RD_LINES, but the diagnostic is every line up to a blank one
                   (Courier: the host line, then a transcript at the margin) */
  RD_FIELDS,    /* lines "id:<a@b> : ip : host : diagnostic" (SendGrid) */
  RD_MARKPARA,  /* RD_MARKED, the diagnostic the rest of diag_at's paragraph */
  RD_SESSION    /* RD_LINES, else a sendmail session transcript whose lines
                   "554 <a@b>... text" name the recipients (V5 sendmail) */
};

typedef struct {
  const char *name;
  int where;             /* EV_*: where the evidence is */
  const char *marker;    /* lower-case substring that is the evidence */
  int reader;            /* RD_* */
  const char *rcpt_at;   /* RD_MARKED: the phrase the address follows */
  const char *diag_at;   /* RD_MARKED: the phrase that opens the diagnostic */
  bnc_reason_t reason;   /* what the family's bounces mean when the text says nothing */
} family_t;

/* Order matters: the first family whose evidence is present wins; markers
 * that name the software come before looser subjects. */
static const family_t FAMILIES[] = {
  /* a Google Group refusing a post names the group in X-Failed-Recipients */
  { "googlegroups", EV_XFAILED, "@googlegroups.com", RD_LINES, NULL, NULL, BNC_R_REJECTED },
  /* Mail.ru, GMX and Yandex run Exim-like texts under their own sender addresses */
  { "mailru",    EV_FROM, "@corp.mail.ru", RD_LINES, NULL, NULL, BNC_R_UNDEFINED },
  { "mailru",    EV_FROM, "@mail.ru", RD_LINES, NULL, NULL, BNC_R_UNDEFINED },
  { "gmx",       EV_FROM, "gmx.", RD_LINES, NULL, NULL, BNC_R_UNDEFINED },
  { "yandex",    EV_FROM, "mailer-daemon@yandex.", RD_LINES, NULL, NULL, BNC_R_UNDEFINED },
  /* Yahoo! Mail: "<a@b>:" and "Remote host said: ..." below it */
  { "yahoo",     EV_BODY, "sorry, we were unable to deliver your message to the following",
    RD_LINES, NULL, NULL, BNC_R_UNDEFINED },
  { "yahoo",     EV_FROM, "mailer-daemon@yahoo", RD_LINES, NULL, NULL, BNC_R_UNDEFINED },
  { "sendgrid",  EV_BODY, "automatically generated message from sendgrid", RD_FIELDS, NULL, NULL,
    BNC_R_UNDEFINED },
  { "courier",   EV_BODY, "running the courier mail server", RD_BLOCK, NULL, NULL,
    BNC_R_UNDEFINED },
  { "postfix",   EV_BODY, "this is the mail system at host", RD_LINES, NULL, NULL, BNC_R_UNDEFINED },
  { "qmail",     EV_BODY, "this is the qmail-send program", RD_LINES, NULL, NULL, BNC_R_UNDEFINED },
  /* Zoho writes Exim's preamble, then "a@b Invalid Address, ERROR_CODE :550, ..."
   * (a marker of 14 bytes or more: the shortest sets how far nset_scan jumps) */
  { "zoho",      EV_BODY, ", error_code :", RD_ADDRTEXT, NULL, NULL, BNC_R_UNDEFINED },
  { "exim",      EV_BODY, "this message was created automatically by mail delivery software",
    RD_LINES, NULL, NULL, BNC_R_UNDEFINED },
  { "dragonfly", EV_BODY, "dragonfly mail agent", RD_MARKED, "error delivering your mail to",
    "did not like our", BNC_R_UNDEFINED },
  { "opensmtpd", EV_BODY, "this is the mailer-daemon, please do not reply", RD_LINES, NULL, NULL,
    BNC_R_UNDEFINED },
  { "gmail",     EV_FROM, "mailer-daemon@google", RD_MARKED, "delivery to the following recipient",
    "technical details of", BNC_R_UNDEFINED },
  { "gmail",     EV_BODY, "delivery to the following recipient failed", RD_MARKED,
    "delivery to the following recipient", "technical details", BNC_R_UNDEFINED },
  /* a notice with "Delivery to the following recipients failed permanently"
   * (some write "Delevery") and the reply under "Technical details:" ("SMTP:RCPT host H: 553 ...") */
  { "x3",        EV_BODY, "to the following recipients failed permanently", RD_MARKPARA,
    "to the following recipients", "technical details:", BNC_R_UNDEFINED },
  /* the same notice when it gave up: "... was aborted after 5.0 hour(s)" */
  { "x3",        EV_BODY, "to the following recipients was aborted after", RD_MARKPARA,
    "to the following recipients", "technical details:", BNC_R_EXPIRED },
  { "sendmail",  EV_BODY, "----- transcript of session follows -----", RD_SESSION, NULL, NULL,
    BNC_R_UNDEFINED },
  /* Apache James (Verizon's vtext gateway runs it): the reply in the
   * paragraph after "Error message below:", the recipient after "RCPT TO:" */
  { "apachejames", EV_BODY, "error message below:", RD_MARKPARA, "rcpt to:",
    "error message below:", BNC_R_UNDEFINED },
  /* Trend Micro InterScan */
  { "trendmicro", EV_BODY, "from interscan messaging security", RD_MARKPARA,
    "unable to deliver message to", "unable to deliver message to", BNC_R_UNDEFINED },
  /* Exchange 5.5/2000/2003: "a@b on DATE" and the NDR text indented below */
  { "exchange",  EV_BODY, "did not reach the following recipient", RD_LINES, NULL, NULL,
    BNC_R_UNDEFINED },
  /* au (KDDI) EZweb: a recipient "rejected by a remote mail server" with no
   * further word is the receiver's domain filter refusing the message */
  { "ezweb",     EV_BODY, "each of the following recipients was rejected by a remote", RD_LINES,
    NULL, NULL, BNC_R_FILTERED },
  /* au one net (KDDI, dion.ne.jp) */
  { "kddi",      EV_BODY, "could not be delivered to: <", RD_MARKED, "could not be delivered to:",
    "could not be delivered to:", BNC_R_UNDEFINED },
  /* HCL (IBM, Lotus) Domino and Lotus Notes */
  { "domino",    EV_BODY, "was not delivered to:", RD_MARKED, "was not delivered to:", "because:",
    BNC_R_UNDEFINED },
  { "notes",     EV_BODY, "------- failure reasons", RD_MARKED, "------- failure reasons",
    "------- failure reasons", BNC_R_UNDEFINED },
  /* Ipswitch IMail: "Unknown user: a@b" */
  { "imailserver", EV_XMAILER, "<smtp32 v", RD_INLINE, NULL, NULL, BNC_R_UNDEFINED },
  { "postfix",   EV_SUBJECT, "undelivered mail returned to sender", RD_LINES, NULL, NULL,
    BNC_R_UNDEFINED },
  { "exim",      EV_SUBJECT, "mail delivery failed", RD_LINES, NULL, NULL, BNC_R_UNDEFINED },
  { "qmail",     EV_SUBJECT, "failure notice", RD_LINES, NULL, NULL, BNC_R_UNDEFINED },
  { "sendmail",  EV_SUBJECT, "returned mail:", RD_LINES, NULL, NULL, BNC_R_UNDEFINED },
  { "exchange",  EV_SUBJECT, "undeliverable:", RD_LINES, NULL, NULL, BNC_R_UNDEFINED },
  { NULL, 0, NULL, 0, NULL, NULL, BNC_R_UNDEFINED }
};

static int is_addr_char(int ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         (ch && strchr(".-_+=!#$%&'*/?^`{|}~", ch));
}

/* Finds an address in the line [p, e): returns its span. */
static bnc_str_t find_addr(const char *p, const char *e) {
  const char *at = memchr(p, '@', (size_t)(e - p));
  const char *s, *t;
  if (!at) return mkstr(NULL, 0);
  s = at;
  while (s > p && is_addr_char((unsigned char)s[-1])) s--;
  t = at + 1;
  while (t < e && is_addr_char((unsigned char)*t)) t++;
  while (t > at + 1 && t[-1] == '.') t--;
  if (s == at || t == at + 1) return mkstr(NULL, 0);
  return mkstr(s, (size_t)(t - s));
}

/* Whether the recipient a already has a record: plain-text bounces that say
 * it twice (Mail.ru's Russian and English texts) give one. */
static int seen(const ctx_t *c, bnc_str_t a) {
  size_t i;
  for (i = 0; i < c->m->nrcpt; i++) {
    bnc_str_t b = c->m->rcpt[i].rcpt;
    if (b.n == a.n && b.p && memcmp(b.p, a.p, a.n) == 0) return 1;
  }
  return 0;
}

/* Whether the line [q, e) (white space skipped) opens with a recipient:
 * `<a@b>:`, `"a@b":`, `a@b`, `Recipient: <a@b>` (EZweb), `a@b on DATE`
 * (Exchange). Returns the address; *ds receives where the rest starts. */
static bnc_str_t addr_line(const char *p, const char *q, const char *e, const char **ds) {
  bnc_str_t a, none = { NULL, 0 };
  const char *ae;
  if (e - q > 11 && bnc_iprefix(q, (size_t)(e - q), "recipient: ")) q += 11;
  if (q >= e || !(*q == '<' || *q == '"' || q - p <= 8) || !memchr(q, '@', (size_t)(e - q)))
    return none;
  a = find_addr(q, e);
  if (!a.p || !(a.p == q || a.p == q + 1)) return none;
  ae = a.p + a.n;
  if ((*q == '<' || *q == '"') && a.p == q + 1 && ae < e && (*ae == '>' || *ae == '"')) ae++;
  if (ae + 4 <= e && bnc_iprefix(ae, (size_t)(e - ae), " on ")) { *ds = e; return a; }
  if (!(ae == e || *ae == ':' || (*ae == '>' && ae + 1 <= e))) return none;
  *ds = ae < e && (*ae == ':' || *ae == '>') ? ae + 1 : ae;
  while (*ds < e && (**ds == ':' || bnc_is_wsp((unsigned char)**ds))) (*ds)++;
  return a;
}

/* Generic reader of the plain-text bounces of Postfix, qmail, Exim and
 * their kin: a line naming an address followed by indented lines or the
 * rest of its own line holding the diagnostic; else the lines up to a blank
 * one or the next address line. */
static void read_text(ctx_t *c, bnc_str_t t, int block, int nocr) {
  const char *p = t.p, *end = t.p + t.n, *next;
  while (p < end) {
    const char *e = line_end_lf(p, end, &next, nocr);
    const char *q = p, *ds = NULL;
    bnc_str_t a;
    while (q < e && bnc_is_wsp((unsigned char)*q)) q++;
    a = addr_line(p, q, e, &ds);
    if (a.p) {
      const char *de = e, *n2 = next;
      bnc_msg_rcpt_t *r;
      while (!block && n2 < end) {              /* lines indented deeper */
        const char *e2, *nn, *w = n2;
        while (w < end && bnc_is_wsp((unsigned char)*w)) w++;
        if (w - n2 <= q - p) break;
        e2 = line_end_lf(n2, end, &nn, nocr);
        if (w >= e2) break;
        de = e2; n2 = nn;
      }
      if (block) ds = de;                       /* the address line says nothing more */
      if (ds >= de && n2 == next) {             /* the lines up to a blank or address one */
        int k;
        for (k = 0; k < 32 && n2 < end; k++) {
          const char *nn, *e2 = line_end_lf(n2, end, &nn, nocr), *w = n2, *x;
          while (w < e2 && bnc_is_wsp((unsigned char)*w)) w++;
          if (e2 == n2 || addr_line(n2, w, e2, &x).p) break;
          if (ds >= de) ds = n2;
          de = e2; n2 = nn;
        }
      }
      if (de > ds && !seen(c, a) && (r = new_rcpt(c)) != NULL) {
        r->rcpt = a;
        r->diag = trim(mkstr(ds, (size_t)(de - ds)));
        classify_rcpt(c, r);
        if (r->reply.code == 0 && r->reply.st_class == 0 && r->cls.rule < 0) c->m->nrcpt--;
      }
      next = n2;
    }
    p = next;
  }
}

/* Lines that open with an address and go on with its diagnostic (Zoho:
 * "a@b Invalid Address, ERROR_CODE :550, ERROR_CODE :5.1.1 ..."). */
static void read_addrtext(ctx_t *c, bnc_str_t t, int nocr) {
  const char *p = t.p, *end = t.p + t.n, *next;
  while (p < end) {
    const char *e = line_end_lf(p, end, &next, nocr), *q = p;
    bnc_str_t a;
    bnc_msg_rcpt_t *r;
    while (q < e && bnc_is_wsp((unsigned char)*q)) q++;
    a = find_addr(q, e);
    if (a.p == q && a.p + a.n < e && bnc_is_wsp((unsigned char)a.p[a.n]) && !seen(c, a) &&
        (r = new_rcpt(c)) != NULL) {
      r->rcpt = a;
      r->diag = trim(mkstr(a.p + a.n, (size_t)(e - a.p - a.n)));
      classify_rcpt(c, r);
    }
    p = next;
  }
}

/* Lines "diagnostic: a@b" (IMail): the line naming the address is the
 * diagnostic. Stops at the copy of the returned message. */
static size_t text_cut(ctx_t *c, bnc_str_t t);
static bnc_str_t paragraph(const char *lo, const char *p, const char *end, int nocr);
static void read_inline(ctx_t *c, bnc_str_t t, int nocr) {
  static const char *const SUMMARY[] = { "to:", "cc:", "bcc:", "from:", "reply-to:" };
  const char *p = t.p, *end = t.p + text_cut(c, t), *next;
  while (p < end) {
    const char *e = line_end_lf(p, end, &next, nocr), *q = p;
    bnc_str_t a = find_addr(p, e);
    bnc_msg_rcpt_t *r;
    size_t k;
    int summary = 0;
    while (q < e && bnc_is_wsp((unsigned char)*q)) q++;
    for (k = 0; k < sizeof SUMMARY / sizeof SUMMARY[0]; k++)   /* the notice's summary of the message */
      if (bnc_iprefix(q, (size_t)(e - q), SUMMARY[k])) summary = 1;
    if (summary || !a.p || a.p == p || seen(c, a)) { p = next; continue; }
    if (memchr(p, ':', (size_t)(a.p - p)) && (r = new_rcpt(c)) != NULL) {
      r->rcpt = a;                                /* "Unknown user: a@b" */
      r->diag = trim(mkstr(p, (size_t)(e - p)));
      classify_rcpt(c, r);
    } else if (ifind(p, (size_t)(a.p - p), "undeliverable to ") && (r = new_rcpt(c)) != NULL) {
      /* "undeliverable to a@b", then "Body of message generated response:" and
       * the reply's lines */
      const char *d = next, *de;
      while (d < end) {                           /* past blank lines and "...:" ones */
        bnc_str_t l = trim(mkstr(d, (size_t)(line_end_lf(d, end, &de, nocr) - d)));
        if (l.n && l.p[l.n - 1] != ':') break;
        d = de;
      }
      r->rcpt = a;
      r->diag = d < end ? paragraph(d, d, end, nocr) : mkstr(NULL, 0);   /* its lines, for the reply parser */
      classify_rcpt(c, r);
    }
    p = next;
  }
}

/* Start of the paragraph around p (after the last blank line before it,
 * at most 2 KiB back) and its end (the next blank line). */
static bnc_str_t paragraph(const char *lo, const char *p, const char *end, int nocr) {
  const char *s = p, *e = p, *next;
  while (s > lo && p - s < 2048) {
    if (bnc_is_eol((unsigned char)s[-1])) {      /* a blank line ends in a CR or LF */
      if (s - lo >= 2 && s[-1] == '\n' && s[-2] == '\n') break;
      if (s - lo >= 2 && s[-1] == '\r' && s[-2] == '\r') break;
      if (s - lo >= 4 && s[-1] == '\n' && s[-2] == '\r' && s[-3] == '\n' && s[-4] == '\r') break;
    }
    s--;
  }
  while (s < p && bnc_is_eol((unsigned char)*s)) s++;
  while (e < end) {
    const char *le = line_end_lf(e, end, &next, nocr);
    if (le == e) break;
    e = next;
  }
  return mkstr(s, (size_t)(e - s));
}

/* Reader for families that name one recipient after a phrase and give the
 * diagnostic from another phrase to the end of its paragraph (before the
 * copy of the returned message). */
static void read_marked(ctx_t *c, const family_t *f, bnc_str_t t, int nocr) {
  const char *end = t.p + text_cut(c, t), *at = ifind(t.p, (size_t)(end - t.p), f->rcpt_at), *d;
  bnc_str_t a;
  bnc_msg_rcpt_t *r;
  if (!at) return;
  a = find_addr(at, at + 512 < end ? at + 512 : end);
  d = ifind(f->reader == RD_MARKPARA ? t.p : at, (size_t)(end - (f->reader == RD_MARKPARA ? t.p : at)),
            f->diag_at);
  if (!a.p || !d || !(r = new_rcpt(c))) return;
  r->rcpt = a;
  if (f->reader == RD_MARKPARA) {       /* the rest of the phrase's paragraph, blank lines
                                           right after the phrase skipped */
    const char *q = d + strlen(f->diag_at);
    while (q < end && (bnc_is_wsp((unsigned char)*q) || bnc_is_eol((unsigned char)*q))) q++;
    r->diag = unfold(c, paragraph(q, q, end, nocr));
  } else {
    r->diag = trim(mkstr(d, (size_t)(end - d) < 2048 ? (size_t)(end - d) : 2048));
  }
  classify_rcpt(c, r);
}

/* SendGrid: "id:<a@b> : ip : host:[ip] : diagnostic"; the fields are
 * separated by " : ", the diagnostic is the last one. */
static void read_fields(ctx_t *c, bnc_str_t t, int nocr) {
  const char *p = t.p, *end = t.p + text_cut(c, t), *next;
  while (p < end) {
    const char *e = line_end_lf(p, end, &next, nocr), *lt = memchr(p, '<', (size_t)(e - p)), *ds = NULL, *q;
    bnc_str_t a;
    bnc_msg_rcpt_t *r;
    p = next;
    if (!lt || !(a = find_addr(lt, e)).p || a.p != lt + 1 || a.p + a.n >= e || a.p[a.n] != '>') continue;
    for (q = a.p + a.n; (q = ifind(q, (size_t)(e - q), " : ")) != NULL; q += 3) ds = q + 3;
    if (ds && !seen(c, a) && (r = new_rcpt(c)) != NULL) {
      r->rcpt = a;
      r->diag = trim(mkstr(ds, (size_t)(e - ds)));
      classify_rcpt(c, r);
    }
  }
}

/* A sendmail session transcript without the list of failed addresses (V5
 * sendmail): "554 <a@b>... text" names a recipient; the text is its
 * diagnostic when it carries the remote reply ("550 Host unknown"), else
 * the last ">>> command" / "<<< reply" exchange before it is
 * ("554 <a@b>... Remote protocol error" after a refused MAIL FROM). */
static void read_session(ctx_t *c, bnc_str_t t, int nocr) {
  const char *end = t.p + text_cut(c, t), *next, *cmd = NULL, *rep_e = NULL;
  const char *p = ifind(t.p, (size_t)(end - t.p), "transcript of session follows");
  while (p && p < end) {
    const char *e = line_end_lf(p, end, &next, nocr), *q = p;
    while (q < e && bnc_is_wsp((unsigned char)*q)) q++;
    if (bnc_iprefix(q, (size_t)(e - q), "while talking to")) cmd = rep_e = NULL;
    else if (bnc_iprefix(q, (size_t)(e - q), ">>> ")) { cmd = q; rep_e = NULL; }
    else if (bnc_iprefix(q, (size_t)(e - q), "<<< ")) { if (!cmd) cmd = q; rep_e = e; }
    else if (e - q > 6 && (*q == '4' || *q == '5') && q[1] >= '0' && q[1] <= '9' && q[2] >= '0' &&
             q[2] <= '9' && q[3] == ' ' && q[4] == '<') {
      bnc_str_t a = find_addr(q + 5, e);
      const char *x = a.p ? a.p + a.n : NULL;
      bnc_msg_rcpt_t *r;
      if (a.p == q + 5 && e - x > 5 && memcmp(x, ">...", 4) == 0 && !seen(c, a) && (r = new_rcpt(c)) != NULL) {
        x += 4;
        while (x < e && bnc_is_wsp((unsigned char)*x)) x++;
        r->rcpt = a;
        if (e - x >= 4 && x[0] >= '2' && x[0] <= '5' && x[1] >= '0' && x[1] <= '9' && x[2] >= '0' &&
            x[2] <= '9' && (x[3] == ' ' || x[3] == '-'))
          r->diag = trim(mkstr(x, (size_t)(e - x)));
        else if (cmd && rep_e)
          r->diag = trim(mkstr(cmd, (size_t)(rep_e - cmd)));
        else
          r->diag = trim(mkstr(q, (size_t)(e - q)));
        classify_rcpt(c, r);
      }
    }
    p = next;
  }
}

/* Where the copy of the returned message starts in a plain-text bounce:
 * each mark in turn is looked for before the cut found so far. One pass
 * finds every mark's first occurrence; a mark then counts when it fits
 * before the cut so far, which is what the search limited to the cut found.
 * The pass stops 2 x the longest mark past the first mark found (at x): the
 * cut ends before x + longest whatever follows; a mark first found beyond
 * x + 2 x longest can set the cut only while it lies past every nearer
 * mark's end, to a place that still lies past them, so it changes none of
 * their tests, and a nearer mark decides the cut. */
static size_t text_cut(ctx_t *c, bnc_str_t t) {
  static const char *const marks[] = {
    "----- original message", "below this line is a copy", "this is a copy of the message",
    "message headers follow", "header of the original message", "original message follows",
    "------ the original message", "returned message", "----- unsent message follows"
  };
  enum { NMARKS = sizeof marks / sizeof marks[0] };
  size_t n = t.n, i, pos[NMARKS];
  if (!c->cut_ready) { nset_init(c->cut, marks, NMARKS); c->cut_ready = 1; }
  if (!t.p || !nset_scan(c->cut, t.p, t.n, pos, 1)) return n;
  for (i = 0; i < NMARKS; i++)
    if (pos[i] != NSET_NONE && pos[i] + c->cut->len[i] <= n) n = pos[i];
  return n;
}

/* Last resort for a message with evidence of a failure but no reader that
 * found anything: the first address of the text (before the copy of the
 * returned message) is the recipient, and the first paragraph after it that
 * holds an SMTP code, else the paragraph after the address, the diagnostic. */
/* Whether the line [q, e) (white space skipped) opens with a 4xx or 5xx
 * reply code followed by one of seps ("554 <a@b>... text"). */
static int opens_reply(const char *q, const char *e, const char *seps) {
  while (q < e && bnc_is_wsp((unsigned char)*q)) q++;
  return e - q >= 4 && (*q == '4' || *q == '5') && q[1] >= '0' && q[1] <= '9' && q[2] >= '0' &&
         q[2] <= '9' && strchr(seps, q[3]) != NULL;
}

/* The first line of [p, end) that opens with a reply code (see opens_reply),
 * from its code; NULL when none does. */
static const char *first_reply_line(const char *p, const char *end, const char *seps, int nocr) {
  const char *next;
  for (; p < end; p = next) {
    const char *e = line_end_lf(p, end, &next, nocr);
    if (opens_reply(p, e, seps)) {
      while (bnc_is_wsp((unsigned char)*p)) p++;
      return p;
    }
  }
  return NULL;
}

/* Whether [p, e) holds a 4xx or 5xx reply code framed as a word ("[550 5.1.1");
 * p[-1] must be readable (p follows an address on its line). */
static int code_inside(const char *p, const char *e) {
  for (; e - p >= 4; p++)
    if ((*p == '4' || *p == '5') && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
        (p[3] == ' ' || p[3] == '-') &&
        (p[-1] == ' ' || p[-1] == '[' || p[-1] == '(' || p[-1] == ':')) return 1;
  return 0;
}

/* Whether the line [p, e) that names address a also says why it failed:
 *   "... rejected recipient <a@b> (...). It responded as follows: [550 ..."
 *   "User's mailbox is full: <a@b>"      (a cause of two words or more, ':')
 *   "a@b [User unknown]"                  (a cause in brackets after it)
 *   "pipe to |/usr/bin/prog a@b"          (Exim: the program it was piped to) */
static int line_says_why(const char *p, bnc_str_t a, const char *e) {
  bnc_str_t before = trim(mkstr(p, (size_t)(a.p - p)));
  bnc_str_t after = trim(mkstr(a.p + a.n, (size_t)(e - a.p - (ptrdiff_t)a.n)));
  if (code_inside(a.p + a.n, e)) return 1;
  if (before.n && before.p[before.n - 1] == '<') before = trim(mkstr(before.p, before.n - 1));
  if (before.n > 4 && before.p[before.n - 1] == ':' && memchr(before.p, ' ', before.n - 1) &&
      !ifind(before.p, before.n, "following")) return 1;     /* a cause, not the list's heading */
  if (after.n && after.p[0] == '>') after = trim(mkstr(after.p + 1, after.n - 1));
  if (after.n > 5 && after.p[0] == '[' && after.p[after.n - 1] == ']') return 1;
  {   /* "a@b <c@d>: malformed address: ..." */
    const char *colon = after.n ? memchr(after.p, ':', after.n) : NULL;
    bnc_str_t why = colon ? trim(mkstr(colon + 1, (size_t)(after.p + after.n - colon - 1))) : after;
    if (colon && why.n > 8 && memchr(why.p, ' ', why.n)) return 1;
  }
  return before.n > 9 && bnc_iprefix(before.p, before.n, "pipe to |");
}

static void read_loose(ctx_t *c, bnc_str_t t, int nocr) {
  const char *end = t.p + text_cut(c, t), *p = t.p, *next, *diag = NULL, *after = NULL, *aline = NULL;
  bnc_str_t a = { NULL, 0 };
  bnc_msg_rcpt_t *r;
  const char *list = ifind(t.p, (size_t)(end - t.p), "following address");
  if (!list) list = ifind(t.p, (size_t)(end - t.p), "following recipient");
  if (list) p = list;          /* the listed addresses, not the sender the preamble names */
  while (p < end) {
    const char *e = line_end_lf(p, end, &next, nocr), *q = p;
    if (!a.p) {
      a = find_addr(p, e);
      if (a.p) {
        after = next;
        /* "... rejected recipient <a@b> (...). It responded as follows: [550 ...": the
         * line that names the address quotes the reply itself */
        if (line_says_why(p, a, e)) aline = p;
        p = next;
        continue;
      }
    } else {
      if (opens_reply(q, e, " -.")) {
        while (bnc_is_wsp((unsigned char)*q)) q++;
        diag = q;
        break;
      }
    }
    p = next;
  }
  if (c->xfailed.p) {                         /* the MTA said whom it failed */
    bnc_str_t x = find_addr(c->xfailed.p, c->xfailed.p + c->xfailed.n);
    if (x.p) a = x;
  }
  if (!a.p && end < t.p + t.n) {
    /* the notice names no address ("421 example.com (smtp)... Deferred"): the
     * copy of the message that follows it does, in its To field, and the
     * notice's first reply line is the diagnostic */
    const char *to = ifind(end, (size_t)(t.p + t.n - end) < 8192 ? (size_t)(t.p + t.n - end) : 8192, "\nto:");
    if (to) diag = first_reply_line(t.p, end, " ", nocr);
    if (diag) a = find_addr(to + 4, line_end_lf(to + 1, t.p + t.n, &next, nocr));
    if (!a.p) return;
  }
  if (!a.p || !(r = new_rcpt(c))) return;
  if (!diag && aline) diag = aline;
  if (!diag && list) diag = first_reply_line(t.p, list, " ", nocr);   /* "because of\n550 ...\nThe following" */
  if (!diag) {
    while (after && after < end && bnc_is_eol((unsigned char)*after)) after++;
    diag = after;
  }
  r->rcpt = a;
  if (diag && diag < end) r->diag = unfold(c, paragraph(diag, diag, end, nocr));
  classify_rcpt(c, r);
}

/* ---- Amazon SES notifications (JSON through SNS) ------------------------- */

/* The string value of "key" in the JSON text [p, end) (escapes kept), or
 * none. key is lower case and quoted: "\"status\":\"". */
static bnc_str_t json_str(const char *p, const char *end, const char *key) {
  const char *v = ifind(p, (size_t)(end - p), key), *q;
  if (!v) return mkstr(NULL, 0);
  v += strlen(key);
  for (q = v; q < end && *q != '"'; q++) if (*q == '\\') q++;
  return q < end ? mkstr(v, (size_t)(q - v)) : mkstr(NULL, 0);
}

/* Reads an SES bounce, complaint or delivery notification: one record per
 * recipient object of the list that follows `list` ("bouncedRecipients":[
 * ...]). Objects of these lists hold no nested braces. */
static void read_ses(ctx_t *c, bnc_str_t t) {
  const char *end = t.p + t.n, *p, *le;
  bnc_str_t type = json_str(t.p, end, "\"notificationtype\":\"");
  int bounce = type.p && bnc_ieq(type.p, type.n, "bounce");
  int complaint = type.p && bnc_ieq(type.p, type.n, "complaint");
  if (!bounce && !complaint && !(type.p && bnc_ieq(type.p, type.n, "delivery"))) return;
  if (bounce || complaint) {
    p = ifind(t.p, t.n, bounce ? "\"bouncedrecipients\":[" : "\"complainedrecipients\":[");
    le = p ? memchr(p, ']', (size_t)(end - p)) : NULL;
    if (complaint) {
      c->have_fb = 1;
      c->m->feedback_type = json_str(t.p, end, "\"complaintfeedbacktype\":\"");
    }
    while (p && le && (p = memchr(p, '{', (size_t)(le - p))) != NULL) {
      const char *oe = memchr(p, '}', (size_t)(le - p));
      bnc_str_t a;
      bnc_msg_rcpt_t *r;
      if (!oe) break;
      a = json_str(p, oe, "\"emailaddress\":\"");
      if (a.p && (r = new_rcpt(c)) != NULL) {
        r->rcpt = a;
        if (bounce) {
          r->action = json_str(p, oe, "\"action\":\"");
          r->status = json_str(p, oe, "\"status\":\"");
          r->diag = json_str(p, oe, "\"diagnosticcode\":\"");
          classify_rcpt(c, r);
        }
      }
      p = oe + 1;
    }
  } else {                                     /* "delivery":{"recipients":["a", ...] */
    const char *d = ifind(t.p, t.n, "\"delivery\":{");
    bnc_str_t resp = d ? json_str(d, end, "\"smtpresponse\":\"") : mkstr(NULL, 0);
    p = d ? ifind(d, (size_t)(end - d), "\"recipients\":[") : NULL;
    le = p ? memchr(p, ']', (size_t)(end - p)) : NULL;
    while (p && le && (p = memchr(p, '"', (size_t)(le - p))) != NULL && p + 1 < le) {
      const char *q = memchr(p + 1, '"', (size_t)(le - p - 1));
      bnc_msg_rcpt_t *r;
      if (!q) break;
      if (q > p + 1 && memchr(p + 1, '@', (size_t)(q - p - 1)) && (r = new_rcpt(c)) != NULL) {
        r->rcpt = mkstr(p + 1, (size_t)(q - p - 1));
        r->action = mkstr("delivered", 9);
        r->diag = resp;
        classify_rcpt(c, r);
      }
      p = q + 1;
    }
  }
}

/* The top-level headers a family's evidence may be in. */
typedef struct { bnc_str_t from, subject, xmailer; } top_t;

/* The families (bits: index in FAMILIES) whose body marker is in the first
 * 4 KiB of a text part: all markers in one pass per text (nset_scan). */
static unsigned long body_evidence(const ctx_t *c) {
  const char *nd[NSET_MAX];
  size_t fam[NSET_MAX], pos[NSET_MAX], k = 0, i, j;
  unsigned long have = 0;
  nset_t ns;
  for (i = 0; FAMILIES[i].name && k < NSET_MAX; i++)
    if (FAMILIES[i].where == EV_BODY) { fam[k] = i; nd[k++] = FAMILIES[i].marker; }
  nset_init(&ns, nd, k);
  for (i = 0; i < c->ntexts; i++) {
    unsigned long found = nset_scan(&ns, c->texts[i].p, c->texts[i].n > 4096 ? 4096 : c->texts[i].n, pos, 0);
    for (j = 0; j < k; j++) if ((found >> j) & 1) have |= 1UL << fam[j];
  }
  return have;
}

static const family_t *family_of(const top_t *h, const ctx_t *c) {
  const family_t *f;
  unsigned long body = 0;
  int scanned = 0;
  for (f = FAMILIES; f->name; f++) {
    const bnc_str_t *v = f->where == EV_FROM ? &h->from : f->where == EV_SUBJECT ? &h->subject :
                         f->where == EV_XMAILER ? &h->xmailer : f->where == EV_XFAILED ? &c->xfailed : NULL;
    if (v && v->p && ifind(v->p, v->n, f->marker)) return f;
    if (!v && !scanned) { body = body_evidence(c); scanned = 1; }   /* first body marker: all at once */
    if (!v && ((body >> (f - FAMILIES)) & 1)) return f;
  }
  return NULL;
}

/* A DSN's Diagnostic-Code is often missing, or drops the SMTP command the
 * reply answered ("in reply to end of DATA command"), which the
 * human-readable part keeps: the paragraph of the text part that names the
 * recipient then becomes the diagnostic, or supplies the command, and the
 * reply is classified again (a recipient-level refusal after DATA is a
 * filter's). */
static void refine_command(ctx_t *c, bnc_msg_rcpt_t *r) {
  size_t i;
  if ((r->diag.p && r->reply.command != BNC_CMD_NONE) || !r->rcpt.p || r->rcpt.n < 3 || r->rcpt.n > 256)
    return;
  for (i = 0; i < c->ntexts; i++) {
    bnc_str_t t = c->texts[i], para = { NULL, 0 }, first = { NULL, 0 };
    const char *at = NULL, *q = t.p, *end = t.p + t.n;
    char *tmp;
    bnc_reply_t rep;
    int tries = 0;
    for (;;) {                         /* the paragraphs that name it, at most 4 */
      at = NULL;
      while (q + r->rcpt.n <= end && (q = memchr(q, r->rcpt.p[0], (size_t)(end - q - (ptrdiff_t)r->rcpt.n + 1))) != NULL) {
        if (memcmp(q, r->rcpt.p, r->rcpt.n) == 0) { at = q; break; }
        q++;
      }
      if (!at) break;
      para = paragraph(t.p, at, end, c->texts_nocr[i]);
      if (para.n > 4096) para.n = 4096;
      if (!r->diag.p) {                /* no Diagnostic-Code: the text's paragraph is it, */
        if (first_reply_line(para.p, para.p + para.n, " -", c->texts_nocr[i])) { first = para; break; }  /* the first holding a reply, */
        if (!first.p) first = para;                           /* else the first */
        if (++tries == 4) break;
        q = para.p + para.n > at + r->rcpt.n ? para.p + para.n : at + r->rcpt.n;
        continue;
      }
      if (!(tmp = arena_take(c, para.n + 1))) return;
      if (bnc_reply_parse(para.p, para.n, tmp, para.n + 1, &rep) == BNC_OK && rep.command != BNC_CMD_NONE &&
          !(tries && r->reply.st_subject == 1)) {
        const char *rh = r->rhost.p;
        r->reply.command = rep.command;
        bnc_classify(c->rs, &r->reply, r->text.p ? r->text.p : "", r->text.n, rh, r->rhost.n, &r->cls);
        return;
      }
      /* the list of failed addresses names no command; a transcript further
       * on may ("... while talking to H: >>> DATA <<< 550 ... a@b"), unless
       * the status already speaks of the address (X.1.x): then the
       * transcript's command must not turn it into a filter's refusal */
      if (++tries == 4 || !(r->cls.reason == BNC_R_USERUNKNOWN || r->cls.reason == BNC_R_HOSTUNKNOWN ||
                            r->cls.reason == BNC_R_HASMOVED)) return;   /* the command changes no other */
      q = para.p + para.n > at + r->rcpt.n ? para.p + para.n : at + r->rcpt.n;
    }
    if (!r->diag.p && first.p) {
      r->diag = unfold(c, first);
      classify_rcpt(c, r);
      return;
    }
    if (tries) return;
  }
}

/* ---- auto-replies ------------------------------------------------------ */

/* Words of a From or Subject that say the message reports a failure. */
static const char *const FAILURE_WORDS[] = {
  "mailer-daemon", "postmaster", "post_master", "mail delivery", "undeliver", "delivery status",
  "failure", "returned mail", "delivery fail", "not delivered", "rejected", "nondeliver", NULL
};

static int failure_evidence(const ctx_t *c, bnc_str_t from, bnc_str_t subject) {
  int i;
  (void)c;
  for (i = 0; FAILURE_WORDS[i]; i++)
    if ((subject.p && ifind(subject.p, subject.n, FAILURE_WORDS[i])) ||
        (from.p && ifind(from.p, from.n, FAILURE_WORDS[i]))) return 1;
  return 0;
}

/* Where DSN fields pasted into a text start: the first "\nFinal-Recipient:",
 * else the first "\nReporting-MTA:" (the LF before it). Speed: one pass over
 * the line starts for both, not one search each. */
static const char *dsn_fields(bnc_str_t t) {
  const char *q = t.p, *end = t.p + t.n, *rmta = NULL;
  while (q < end && (q = memchr(q, '\n', (size_t)(end - q))) != NULL) {
    size_t left = (size_t)(end - q);
    if (left >= 17 && bnc_ieq_n(q + 1, "final-recipient:", 16)) return q;
    if (!rmta && left >= 15 && bnc_ieq_n(q + 1, "reporting-mta:", 14)) rmta = q;
    q++;
  }
  return rmta;
}

/* The top-level headers the entry point reads, scanned once (raw values). */
enum { T_FROM, T_XFAILED, T_SUBJECT, T_XMAILER, T_AUTOSUB, T_XAUTOREPLY, T_XAUTORESPOND,
       T_PRECEDENCE, T_TO, T_DATE, T_INREPLYTO, T_CT, T_CTE, T__COUNT };
static const bnc_str_t TOP_NAMES[T__COUNT] = {
  NAME("From"), NAME("X-Failed-Recipients"), NAME("Subject"), NAME("X-Mailer"),
  NAME("Auto-Submitted"), NAME("X-Autoreply"), NAME("X-Autorespond"), NAME("Precedence"),
  NAME("To"), NAME("Date"), NAME("In-Reply-To"), NAME("Content-Type"),
  NAME("Content-Transfer-Encoding")
};

static int is_autoreply(ctx_t *c, const bnc_str_t *raw, unsigned long fold, bnc_str_t subject) {
  static const char *const subjects[] = {
    "auto:", "automatic reply", "autoreply", "auto-reply", "auto reply", "out of office",
    "out of the office", "vacation", "away until", "away from", "abwesenheitsnotiz", NULL
  };
  bnc_str_t v = hval(c, raw, fold, T_AUTOSUB), from = hval(c, raw, fold, T_FROM);
  int i;
  if (failure_evidence(c, from, subject)) return 0;  /* bounces are auto-submitted too */
  if (v.p && bnc_iprefix(v.p, v.n, "auto-replied")) return 1;
  if (hval(c, raw, fold, T_XAUTOREPLY).p || hval(c, raw, fold, T_XAUTORESPOND).p) return 1;
  v = hval(c, raw, fold, T_PRECEDENCE);
  if (v.p && bnc_ieq(v.p, v.n, "auto_reply")) return 1;
  for (i = 0; subject.p && subjects[i]; i++)
    if (ifind(subject.p, subject.n, subjects[i])) return 1;
  return 0;
}

/* ---- pseudo status ---------------------------------------------------- */

/* The detail of a reason in the X.0.9NN pseudo-status convention (Sisimai's
 * internal codes, which labelled corpora and Sisimai users expect), or 0 for
 * records that are not failures. */
static int pseudo_detail(bnc_reason_t r) {
  static const struct { bnc_reason_t r; short d; } T[] = {
    { BNC_R_UNDEFINED, 900 }, { BNC_R_ONHOLD, 901 }, { BNC_R_SYNTAXERROR, 902 },
    { BNC_R_NORELAYING, 909 }, { BNC_R_FILTERED, 910 }, { BNC_R_USERUNKNOWN, 911 },
    { BNC_R_HOSTUNKNOWN, 912 }, { BNC_R_HASMOVED, 916 }, { BNC_R_REJECTED, 918 },
    { BNC_R_SUSPEND, 921 }, { BNC_R_MAILBOXFULL, 922 }, { BNC_R_EXCEEDLIMIT, 923 },
    { BNC_R_SYSTEMERROR, 930 }, { BNC_R_SYSTEMFULL, 931 }, { BNC_R_NOTACCEPT, 932 },
    { BNC_R_MESGTOOBIG, 934 }, { BNC_R_MAILERERROR, 939 }, { BNC_R_NETWORKERROR, 944 },
    { BNC_R_TOOMANYCONN, 945 }, { BNC_R_SPEEDING, 946 }, { BNC_R_EXPIRED, 947 },
    { BNC_R_CONTENTERROR, 960 }, { BNC_R_SECURITYERROR, 970 }, { BNC_R_BLOCKED, 971 },
    { BNC_R_VIRUSDETECTED, 971 }, { BNC_R_POLICYVIOLATION, 972 }, { BNC_R_REQUIREPTR, 973 },
    { BNC_R_NOTCOMPLIANTRFC, 974 }, { BNC_R_BADREPUTATION, 975 }, { BNC_R_AUTHFAILURE, 976 },
    { BNC_R_FAILEDSTARTTLS, 977 }, { BNC_R_SPAMDETECTED, 980 },
  };
  size_t i;
  for (i = 0; i < sizeof T / sizeof T[0]; i++) if (T[i].r == r) return T[i].d;
  return 0;
}

/* Fills pseudo_status for a failure whose bounce stated no enhanced status.
 * The class is 4 when the reply code is 4xx, or, without a code, when the
 * diagnostic calls the failure temporary or Exim expired it (its retry
 * rules time out on temporary failures); else 5. */
/* "User unknown" relayed in a bounce is trusted as a dead address only with
 * evidence that it is about the address: the reply answered RCPT TO, or its
 * enhanced status speaks of the address (X.1.x), or the wording is the
 * receiving system's own ("final" rules), or the bounce was written by the
 * mailbox host itself (IMail, Domino, Notes) or says so in a vendor field
 * (PowerMTA's bad-mailbox). Filtering gateways answer "user unknown" to
 * mail they will not take, after DATA or at a stage the bounce does not
 * name: without such evidence the refusal is `filtered` (soft: the tracker
 * suppresses after the soft-bounce limit, not at the first bounce). A live
 * reply classified on its own keeps its text's reason: its caller knows the
 * command and passes it (opts.command). */
static int mailbox_host(const char *format) {
  static const char *const HOSTS[] = { "imailserver", "domino", "notes" };
  size_t i;
  for (i = 0; format && i < sizeof HOSTS / sizeof HOSTS[0]; i++)
    if (!strcmp(format, HOSTS[i])) return 1;
  return 0;
}

static void confirm_dead(ctx_t *c, bnc_msg_rcpt_t *r) {
  const bnc_rule_def_t *d;
  if (r->cls.reason != BNC_R_USERUNKNOWN || r->cls.rule < 0 || r->bad_mailbox) return;
  d = bnc_ruleset_get(c->rs, (size_t)r->cls.rule);
  if (!d || d->final || r->reply.command == BNC_CMD_RCPT || r->reply.st_subject == 1 ||
      mailbox_host(c->m->format)) return;
  r->cls.reason = BNC_R_FILTERED;
  r->cls.type = bnc_reason_type(BNC_R_FILTERED, r->cls.permanent);
  strcpy(r->cls.source, "context");
  r->cls.context_changed = 1;
}

/* A failure whose diagnostic no rule, status or code reads is `onhold`: the
 * bounce said something, nobody here knows what (Sisimai's sense);
 * `undefined` stays for a failure that came with no words at all. */
static void hold_unread(bnc_msg_rcpt_t *r) {
  size_t i;
  if (r->cls.reason != BNC_R_UNDEFINED || r->cls.type != BNC_T_SOFT || r->delayed ||
      strcmp(r->cls.source, "default") != 0 || !r->text.p)
    return;
  for (i = 0; i < r->text.n; i++) {
    unsigned char ch = (unsigned char)r->text.p[i] | 0x20;
    if (ch >= 'a' && ch <= 'z') {
      r->cls.reason = BNC_R_ONHOLD;
      return;
    }
  }
}

static void set_pseudo(bnc_msg_rcpt_t *r, int exim) {
  int d = pseudo_detail(r->cls.reason), cls = 5;
  if (r->status.p || !d || r->cls.type == BNC_T_DELIVERED || r->cls.type == BNC_T_COMPLAINT ||
      r->cls.type == BNC_T_AUTO_REPLY) return;
  if (r->reply.code) cls = r->reply.code / 100;
  else if (r->diag.p && (ifind(r->diag.p, r->diag.n, "temporar") ||
                         ifind(r->diag.p, r->diag.n, "persistent"))) cls = 4;
  else if (exim && r->cls.reason == BNC_R_EXPIRED) cls = 4;   /* Exim gave up retrying
                                                                 temporary failures */
  if (cls != 4) cls = 5;
  r->pseudo_status[0] = (char)('0' + cls);
  memcpy(r->pseudo_status + 1, ".0.", 3);
  r->pseudo_status[4] = (char)('0' + d / 100);
  r->pseudo_status[5] = (char)('0' + d / 10 % 10);
  r->pseudo_status[6] = (char)('0' + d % 10);
  r->pseudo_status[7] = '\0';
}

/* ---- dates ------------------------------------------------------------ */

static const char *skip_ws(const char *p, const char *e) {
  while (p < e && (bnc_is_wsp((unsigned char)*p) || *p == ',')) p++;
  return p;
}

static const char *num(const char *p, const char *e, int maxd, long *v) {
  int d = 0;
  *v = 0;
  while (p < e && d < maxd && *p >= '0' && *p <= '9') { *v = *v * 10 + (*p++ - '0'); d++; }
  return d ? p : NULL;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static long days_from_civil(long y, long m, long d) {
  long era, yoe, doy, doe;
  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

long long bnc_date_parse(const char *s, size_t n) {
  static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
  const char *p, *e;
  long day, mon = -1, year, hh, mm, ss = 0, zone = 0, i;
  if (!s) return -1;
  e = s + n;
  p = skip_ws(s, e);
  if (p < e && !(*p >= '0' && *p <= '9')) {          /* day name */
    while (p < e && !bnc_is_wsp((unsigned char)*p) && *p != ',') p++;
    p = skip_ws(p, e);
  }
  if (!(p = num(p, e, 2, &day)) || (p = skip_ws(p, e)) + 3 > e) return -1;
  for (i = 0; i < 12; i++)
    if (bnc_lower((unsigned char)p[0]) == months[3 * i] && bnc_lower((unsigned char)p[1]) == months[3 * i + 1] &&
        bnc_lower((unsigned char)p[2]) == months[3 * i + 2]) mon = i + 1;
  if (mon < 0) return -1;
  while (p < e && !bnc_is_wsp((unsigned char)*p)) p++;
  if (!(p = num(skip_ws(p, e), e, 4, &year))) return -1;
  if (year < 50) year += 2000; else if (year < 1000) year += 1900;
  if (!(p = num(skip_ws(p, e), e, 2, &hh)) || p >= e || *p != ':' || !(p = num(p + 1, e, 2, &mm))) return -1;
  if (p < e && *p == ':' && !(p = num(p + 1, e, 2, &ss))) return -1;
  p = skip_ws(p, e);
  if (p < e && (*p == '+' || *p == '-')) {
    long z;
    const char *q = num(p + 1, e, 4, &z);
    if (q) zone = (*p == '-' ? -1 : 1) * ((z / 100) * 3600 + (z % 100) * 60);
  }
  if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) return -1;
  return (long long)days_from_civil(year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss - zone;
}

/* ---- the entry point --------------------------------------------------- */

int bnc_message_parse(const char *buf, size_t len, const bnc_ruleset_t *rs,
                      const bnc_str_t *want, size_t nwant,
                      char *arena, size_t cap, bnc_message_t *out) {
  ctx_t c;
  nset_t cutset;
  const char *body;
  bnc_str_t from, subject, raw[T__COUNT];
  unsigned long fold;
  top_t top;
  size_t i;
  /* Everything but the recipient array (32 KiB: zeroing it cost as much as
   * parsing a short bounce); new_rcpt clears each record it hands out. */
  memset(out, 0, offsetof(bnc_message_t, rcpt));
  out->warnings = 0;
  out->parts = 0;
  if (len > BNC_MSG_MAX) return BNC_ETOOBIG;
  if (nwant > BNC_MSG_WANT) return BNC_EINVAL;
  for (i = 0; i < len && (bnc_is_wsp((unsigned char)buf[i]) || bnc_is_eol((unsigned char)buf[i])); i++) {}
  if (i == len) return BNC_EEMPTY;
  memset(&c, 0, sizeof c);
  c.p = arena; c.cap = cap; c.m = out; c.rs = rs; c.want = want; c.nwant = nwant;
  c.cut = &cutset;

  c.in_nocr = !memchr(buf, '\r', len);   /* one pass: most messages have LF line ends */
  scan_headers(buf, buf + len, TOP_NAMES, T__COUNT, raw, &fold, &body, c.in_nocr);
  from = hval(&c, raw, fold, T_FROM);
  c.xfailed = hval(&c, raw, fold, T_XFAILED);
  subject = decode_words(&c, hval(&c, raw, fold, T_SUBJECT));
  c.m->parts++;                       /* walk() of the whole message, its headers read above */
  {
    bnc_str_t ct = hval(&c, raw, fold, T_CT), cte = hval(&c, raw, fold, T_CTE);
    entity(&c, body, buf + len, 0, mkstr("text/plain", 10), ct, cte);
  }

  /* Microsoft's JMRP: a complaint as the bare returned message, without the
   * report part, the recipient in X-HmXmrOriginalRecipient */
  if (!c.have_fb && c.have_orig && subject.p && ifind(subject.p, subject.n, "complaint about message from")) {
    c.have_fb = 1;
    if (c.hm_rcpt.p && new_rcpt(&c)) out->rcpt[0].rcpt = c.hm_rcpt;
  }
  if (c.have_fb) {
    out->format = "arf";
    if (out->nrcpt == 0 && new_rcpt(&c)) out->rcpt[0].rcpt = out->to;
    mark_all(&c, BNC_R_FEEDBACK, BNC_T_COMPLAINT);
  } else if (out->nrcpt > 0) {
    out->format = "rfc3464";
    for (i = 0; i < out->nrcpt; i++)
      if (out->rcpt[i].cls.type != BNC_T_DELIVERED) refine_command(&c, &out->rcpt[i]);
  } else {
    const family_t *f;
    for (i = 0; i < c.ntexts && out->nrcpt == 0; i++) {   /* DSN fields pasted into text */
      const char *at = dsn_fields(c.texts[i]);
      if (at) read_dsn(&c, at + 1, c.texts[i].p + c.texts[i].n, c.texts_nocr[i]);
    }
    if (out->nrcpt) {
      out->format = "rfc3464";
      for (i = 0; i < out->nrcpt; i++)
        if (out->rcpt[i].cls.type != BNC_T_DELIVERED) refine_command(&c, &out->rcpt[i]);
    }
    for (i = 0; i < c.ntexts && out->nrcpt == 0 && !c.have_fb; i++) {  /* SES via SNS */
      const char *q = c.texts[i].p, *qe = q + c.texts[i].n;
      while (q < qe && (bnc_is_wsp((unsigned char)*q) || bnc_is_eol((unsigned char)*q))) q++;
      if (q < qe && *q == '{' && ifind(q, (size_t)(qe - q) < 64 ? (size_t)(qe - q) : 64, "\"notificationtype\":"))
        read_ses(&c, mkstr(q, (size_t)(qe - q)));
      if (out->nrcpt) out->format = "amazonses";
    }
    if (c.have_fb) mark_all(&c, BNC_R_FEEDBACK, BNC_T_COMPLAINT);
    top.from = from; top.subject = subject; top.xmailer = hval(&c, raw, fold, T_XMAILER);
    f = out->nrcpt || c.have_fb ? NULL : family_of(&top, &c);
    if (f) {
      for (i = 0; i < c.ntexts && out->nrcpt == 0; i++) {
        bnc_str_t t = c.texts[i];
        int nocr = c.texts_nocr[i];
        if (f->reader == RD_MARKED || f->reader == RD_MARKPARA) read_marked(&c, f, t, nocr);
        else if (f->reader == RD_ADDRTEXT) read_addrtext(&c, t, nocr);
        else if (f->reader == RD_INLINE) read_inline(&c, t, nocr);
        else if (f->reader == RD_FIELDS) read_fields(&c, t, nocr);
        else read_text(&c, t, f->reader == RD_BLOCK, nocr);
        if (f->reader == RD_SESSION && out->nrcpt == 0) read_session(&c, t, nocr);
      }
      if (out->nrcpt) out->format = f->name;
    }
    if (!out->nrcpt && (f || failure_evidence(&c, from, subject))) {
      for (i = 0; i < c.ntexts && out->nrcpt == 0; i++) read_loose(&c, c.texts[i], c.texts_nocr[i]);
      if (out->nrcpt) out->format = f ? f->name : "unknown";
    }
    for (i = 0; f && f->reason != BNC_R_UNDEFINED && i < out->nrcpt; i++) {
      bnc_msg_rcpt_t *r = &out->rcpt[i];
      if (r->cls.reason == BNC_R_UNDEFINED) {
        r->cls.reason = f->reason;
        r->cls.type = bnc_reason_type(f->reason, r->cls.permanent);
        strcpy(r->cls.source, "format");
      }
    }
    if (!out->nrcpt && c.have_dsn && c.have_orig && out->to.p) {
      /* a delivery report that lists no recipient ("--- Delivery report
       * unavailable ---"), the message returned with it: its To failed, for
       * a reason the report does not give */
      bnc_str_t a = find_addr(out->to.p, out->to.p + out->to.n);
      bnc_msg_rcpt_t *r;
      if (a.p && (r = new_rcpt(&c)) != NULL) {
        r->rcpt = a;
        classify_rcpt(&c, r);
        out->format = "rfc3464";
        out->warnings |= BNC_MSG_W_NORCPT;
      }
    }
    if (!out->nrcpt && is_autoreply(&c, raw, fold, subject)) {
      out->format = "autoreply";
      if (new_rcpt(&c)) {
        bnc_str_t a = from.p ? find_addr(from.p, from.p + from.n) : from;
        out->rcpt[0].rcpt = a;
      }
      if (!c.have_orig) {           /* the reply itself is what the caller sent to */
        out->subject = subject;
        out->to = hval(&c, raw, fold, T_TO);
        out->date = hval(&c, raw, fold, T_DATE);
        out->message_id = hval(&c, raw, fold, T_INREPLYTO);
      }
      mark_all(&c, BNC_R_VACATION, BNC_T_AUTO_REPLY);
    }
  }
  for (i = 0; i < out->nrcpt; i++) confirm_dead(&c, &out->rcpt[i]);
  for (i = 0; i < out->nrcpt; i++) {
    hold_unread(&out->rcpt[i]);
    set_pseudo(&out->rcpt[i], out->format && !strcmp(out->format, "exim"));
  }
  return out->nrcpt ? BNC_OK : BNC_ENOTBOUNCE;
}
