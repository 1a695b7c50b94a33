/*
 * mime.c - the layers around a bounce's parts: RFC 5322 header blocks
 * (lookup in one pass, unfolding, bounds), RFC 2045-2047 (Content-Type and
 * its parameters, base64 and quoted-printable bodies, encoded words in a
 * Subject, text in legacy charsets read as UTF-8) and the MIME walk itself: nested multiparts read once each,
 * within the depth and part bounds of message.h. Each leaf goes to its
 * reader by media type: delivery-status and feedback-report parts and the
 * returned message to dsn.c, text parts into the context for the readers
 * that come after the walk; attachments are never decoded.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "charset.h"
#include "msg.h"

/* ---- headers ----------------------------------------------------------- */

/* Finds header `name` in the block [*pos, end), starting at *pos (a line
 * start). Returns its raw value (folded lines included) and moves *pos past
 * it, so that repeated calls return every occurrence. */
int bnc_msg_header_next(const char **pos, const char *end, const char *name, bnc_str_t *val) {
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
bnc_str_t bnc_msg_unfold(ctx_t *c, bnc_str_t v) {
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

bnc_str_t bnc_msg_header(ctx_t *c, const char *p, const char *end, const char *name) {
  bnc_str_t v = { NULL, 0 };
  if (bnc_msg_header_next(&p, end, name, &v)) return bnc_msg_unfold(c, v);
  return v;
}

/* Whether a header name can be looked up by scan_headers: no white space
 * or ':' (a line's name ends at the first of these), 1..127 bytes. */
int bnc_msg_plain_name(bnc_str_t name) {
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
 * starts (after the empty line). n <= 32; names are bnc_msg_plain_name()s; nocr: the
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
 * went on over folded lines: every line takes the same branches, so they
 * are predicted, whatever the header names. */
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

const char *bnc_msg_scan_headers(const char *p, const char *end, const bnc_str_t *names, size_t n,
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
bnc_str_t bnc_msg_hval(ctx_t *c, const bnc_str_t *raw, unsigned long folded, size_t i) {
  bnc_str_t v;
  if ((folded >> i) & 1) return bnc_msg_unfold(c, raw[i]);
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
 * arena: a word in a legacy charset (charset.h) as UTF-8, others as their
 * bytes (UTF-8 itself, charsets not known here). White space between two
 * encoded words is dropped. */
bnc_str_t bnc_msg_decode_words(ctx_t *c, bnc_str_t v) {
  size_t i = 0, n = 0, last_word_end = (size_t)-1, cap;
  char *o, word[512];
  if (!v.p || !bnc_msg_ifind(v.p, v.n, "=?")) return v;
  cap = 3 * v.n;                 /* a word's bytes in UTF-8: at most 3 per byte */
  if (!(o = arena_take(c, cap))) return v;
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
          {   /* the word's bytes, then as UTF-8 when its charset is a legacy one */
            int cs = bnc_charset_find(v.p + i + 2, q1 - i - 2);
            size_t k = enc == 'b' ? bnc_base64_decode(v.p + q3, e - q3, word, sizeof word)
                                  : qp(v.p + q3, e - q3, word, sizeof word, 1);
            if (cs == BNC_CS_NONE && k > cap - n) k = cap - n;
            if (cs != BNC_CS_NONE && bnc_charset_to_utf8(cs, word, k, NULL, 0) <= cap - n)
              n += bnc_charset_to_utf8(cs, word, k, o + n, cap - n);
            else if (k <= cap - n) {
              memcpy(o + n, word, k);
              n += k;
            }
          }
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

/* A text part's decoded body b as UTF-8, when its charset (the charset=
 * value cs) is a legacy one, or when undeclared (or US-ASCII) it holds
 * ISO-2022-JP's shift sequences; else b. Into the arena: b when full. */
static bnc_str_t text_utf8(ctx_t *c, bnc_str_t b, bnc_str_t cs) {
  int id = cs.p ? bnc_charset_find(cs.p, cs.n) : BNC_CS_NONE;
  size_t n, need, avail;
  char *o;
  if (id == BNC_CS_NONE && (!cs.p || bnc_ieq(cs.p, cs.n, "us-ascii")) && memchr(b.p, 0x1b, b.n) &&
      bnc_charset_sniff_jis(b.p, b.n))
    id = BNC_CS_ISO2022JP;
  if (id == BNC_CS_NONE) return b;
  /* one pass into a bound that holds most texts (ISO-2022-JP: 2 bytes to
   * 3; mostly ASCII otherwise); a second only when it did not: the first
   * counted the whole size (charset.h: it writes what fits) */
  avail = c->cap - c->used;
  n = b.n + b.n / 2 + 16 < avail ? b.n + b.n / 2 + 16 : avail;
  o = c->p + c->used;
  need = bnc_charset_to_utf8(id, b.p, b.n, o, n);
  if (need > n) {
    if (need > avail) { c->m->warnings |= BNC_MSG_W_ARENA; return b; }
    bnc_charset_to_utf8(id, b.p, b.n, o, need);
  }
  c->used += need;
  return mkstr(o, need);
}

static void leaf(ctx_t *c, bnc_str_t type, bnc_str_t cte, bnc_str_t cs, const char *p, const char *end) {
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
  if (ds) { c->have_dsn = 1; bnc_msg_read_dsn(c, b.p, b.p + b.n, nocr); }
  else if (fb) bnc_msg_read_feedback(c, b.p, b.p + b.n, nocr);
  else if (orig) {
    if (msg && c->ninner < sizeof c->inner / sizeof c->inner[0] && !bnc_ieq(sub.p, sub.n, "global-headers")) {
      c->inner_nocr[c->ninner] = (unsigned char)nocr;
      c->inner[c->ninner++] = b;
    }
    bnc_msg_read_original(c, b.p, b.p + b.n, nocr);
  }
  else if (c->ntexts < sizeof c->texts / sizeof c->texts[0]) {
    bnc_str_t u = text_utf8(c, b, cs);
    if (u.p != b.p) nocr = !memchr(u.p, '\r', u.n);
    c->texts_nocr[c->ntexts] = (unsigned char)nocr;
    c->texts[c->ntexts++] = u;
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
    leaf(c, mkstr("text/plain", 10), mkstr(NULL, 0), mkstr(NULL, 0), p, end);  /* read it as text */
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
  else leaf(c, mkstr("text/plain", 10), mkstr(NULL, 0), mkstr(NULL, 0), body, end);  /* never opened: text */
}

/* The body [body, end) of a MIME entity whose Content-Type and
 * Content-Transfer-Encoding values (unfolded, in this order) are given: a
 * multipart or a leaf. */
void bnc_msg_entity(ctx_t *c, const char *body, const char *end, int depth, bnc_str_t deftype,
                   bnc_str_t ct, bnc_str_t cte) {
  bnc_str_t type = ct.p ? media_type(ct) : deftype;
  cte = trim(cte);
  if (bnc_iprefix(type.p, type.n, "multipart/")) {
    bnc_str_t rt = param(ct, "report-type");
    if (rt.p && bnc_ieq(rt.p, rt.n, "feedback-report")) c->have_fb = 1;
    multipart(c, body, end, depth, param(ct, "boundary"), type);
  } else {
    leaf(c, type, cte, param(ct, "charset"), body, end);
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
  bnc_msg_scan_headers(p, end, MIME_NAMES, 2, raw, &fold, &body, c->in_nocr);   /* walk stays in the input */
  ct = bnc_msg_hval(c, raw, fold, 0);
  cte = bnc_msg_hval(c, raw, fold, 1);
  bnc_msg_entity(c, body, end, depth, deftype, ct, cte);
}

