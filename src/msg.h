/*
 * msg.h - what the files of the message parser share, and nothing a caller
 * of message.h needs: the parse context (the arena, the parts found, the
 * records being filled), string and line helpers, and the functions each
 * file offers the others. The files, in the order a message meets them:
 *   message.c    the context, shared text helpers, the entry point
 *   mime.c       headers, MIME, transfer and RFC 2047 decoding
 *   dsn.c        delivery-status and feedback-report parts, the returned
 *                message's headers
 *   ses.c        Amazon SES notifications (JSON through SNS)
 *   families.c   plain-text bounces: the table of MTA families and readers
 *   autoreply.c  auto-replies and the words that say a message is a failure
 *   recipient.c  one recipient's fields read once, then decided once
 * The functions shared between them are named bnc_msg_*: not static, so
 * that the files can call each other, but not declared in message.h and
 * hidden from the module's exports (-fvisibility=hidden).
 */
#ifndef BNC_MSG_H
#define BNC_MSG_H

#include <stddef.h>
#include <string.h>
#include "ascii.h"
#include "classify.h"
#include "message.h"

/* ---- strings and lines ------------------------------------------------- */

static inline bnc_str_t mkstr(const char *p, size_t n) { bnc_str_t s; s.p = p; s.n = n; return s; }

/* s without white space or line breaks around it; {NULL, 0} when empty. */
static inline bnc_str_t trim(bnc_str_t s) {
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
static inline const char *eol_find(const char *p, const char *end) {
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
static inline const char *line_end(const char *p, const char *end, const char **next) {
  const char *e = eol_find(p, end);
  *next = e;
  if (e < end) *next = (*e == '\r' && e + 1 < end && e[1] == '\n') ? e + 2 : e + 1;
  return e;
}

/* line_end for a buffer known to hold no CR (nocr): the next LF ends the
 * line, one memchr instead of two. Most messages have LF line ends, and
 * whether one has a CR at all is checked once (ctx_t.in_nocr). */
static inline const char *line_end_lf(const char *p, const char *end, const char **next, int nocr) {
  const char *e;
  if (!nocr) return line_end(p, end, next);
  e = memchr(p, '\n', (size_t)(end - p));
  if (!e) { *next = end; return end; }
  *next = e + 1;
  return e;
}

/* A header name as a bnc_str_t initializer. */
#define NAME(s) { s, sizeof s - 1 }

/* A set of at most NSET_MAX lower-case needles looked for in one pass
 * (families.c: the family markers and the marks of a returned message). */
#define NSET_MAX 32
typedef struct nset {
  const char *nd[NSET_MAX];
  size_t len[NSET_MAX], k, m, maxlen;
  unsigned short tail[NSET_MAX];   /* hash of needle j's bytes m-2, m-1 */
  unsigned char shift[1024];
} nset_t;

/* ---- the context -------------------------------------------------------- */

/* The top-level headers of the message, read in one pass by the entry
 * point (raw values: bnc_msg_hval unfolds them when they are needed). */
enum { T_FROM, T_XFAILED, T_SUBJECT, T_XMAILER, T_AUTOSUB, T_XAUTOREPLY, T_XAUTORESPOND,
       T_PRECEDENCE, T_TO, T_DATE, T_INREPLYTO, T_CT, T_CTE, T__COUNT };

typedef struct {
  bnc_str_t raw[T__COUNT];
  unsigned long fold;      /* bit i: raw[i] goes on over folded lines */
  bnc_str_t from, subject; /* unfolded; the subject's RFC 2047 words decoded */
} top_t;

/* What the parser keeps per record beside its public fields. */
typedef struct {
  bnc_signals_t sig;       /* what bnc_decide reads, gathered once (recipient.c) */
  unsigned char from_dsn;  /* read from DSN fields: the report's human-readable
                              part may supply its diagnostic or its command */
  unsigned char gathered;  /* sig is complete */
} rec_t;

typedef struct ctx {
  char *p;                /* the arena: p[0..cap), p[0..used) taken */
  size_t cap, used;
  bnc_message_t *m;       /* the result being filled */
  const bnc_ruleset_t *rs;
  const bnc_str_t *want;  /* the caller's extra header names */
  size_t nwant;
  int have_orig, have_fb, have_dsn;   /* a returned message, a feedback report, a DSN part */
  bnc_str_t xfailed;      /* X-Failed-Recipients of the bounce */
  bnc_str_t bounce_to;    /* the bounce's To: the sender, never a recipient */
  bnc_str_t hm_rcpt;      /* X-HmXmrOriginalRecipient of a returned message (JMRP) */
  bnc_str_t texts[4];     /* decoded text/plain bodies, in order */
  size_t ntexts;
  unsigned char texts_nocr[4];  /* texts[i] holds no CR */
  int in_nocr;            /* the input holds no CR */
  int cut_ready;          /* cut is prepared (on first use: most messages never need it) */
  bnc_str_t inner[2];     /* bodies of message/rfc822 parts, in order: a bounce
                             forwarded or handed on may be one of them */
  unsigned char inner_nocr[2];
  size_t ninner;
  int nest;               /* how many message/rfc822 levels in: bounded by MSG_NEST */
  /* Not cleared with the rest (bnc_message_parse clears up to cut): */
  nset_t cut;             /* families.c: the marks of a returned message */
  rec_t rec[BNC_MSG_RCPTS];   /* beside m->rcpt[i]: rec[i], cleared by bnc_msg_new_rcpt */
} ctx_t;

static inline rec_t *bnc_msg_rec(ctx_t *c, const bnc_msg_rcpt_t *r) { return &c->rec[r - c->m->rcpt]; }

/* n bytes of the arena, or NULL (and BNC_MSG_W_ARENA) when it is full. */
static inline char *arena_take(ctx_t *c, size_t n) {
  char *r;
  if (n > c->cap - c->used) { c->m->warnings |= BNC_MSG_W_ARENA; return NULL; }
  r = c->p + c->used;
  c->used += n;
  return r;
}

/* ---- message.c: text helpers -------------------------------------------- */

/* Case-insensitive search of needle (lower case) in s[0..n): the first
 * occurrence that fits whole, or NULL. */
const char *bnc_msg_ifind(const char *s, size_t n, const char *needle);
/* A new, cleared recipient record, or NULL (BNC_MSG_W_RCPTS) when full. */
bnc_msg_rcpt_t *bnc_msg_new_rcpt(ctx_t *c);
/* The address of a recipient field without what MTAs write around it (an
 * address type, "smtp:"/"smtp="/"mailto:", a display name and angle
 * brackets, comments, quotes, trailing punctuation): a substring of v. */
bnc_str_t bnc_msg_clean_addr(bnc_str_t v);
/* Whether a record for the recipient a exists already. */
int bnc_msg_seen(const ctx_t *c, bnc_str_t a);
/* The first address in the line [p, e), or {NULL, 0}. */
bnc_str_t bnc_msg_find_addr(const char *p, const char *e);
/* The paragraph around p: from after the last blank line before it (at
 * most 2 KiB back, not before lo) to the next blank line. */
bnc_str_t bnc_msg_paragraph(const char *lo, const char *p, const char *end, int nocr);
/* Whether the line [q, e) opens (after white space) with a 4xx or 5xx code
 * followed by one of seps. */
int bnc_msg_opens_reply(const char *q, const char *e, const char *seps);
/* The first line of [p, end) that bnc_msg_opens_reply, from its code; NULL
 * when none does. */
const char *bnc_msg_first_reply_line(const char *p, const char *end, const char *seps, int nocr);

/* ---- mime.c: headers and MIME ------------------------------------------- */

/* One pass over the header block at p: raw[i] receives the raw value of the
 * first header called names[i] (n <= 32; names without white space or
 * ':'), bit i of *folded whether it goes on over folded lines. Returns the
 * end of the block; *body receives where the body starts. */
const char *bnc_msg_scan_headers(const char *p, const char *end, const bnc_str_t *names, size_t n,
                                 bnc_str_t *raw, unsigned long *folded, const char **body, int nocr);
/* raw[i] of a bnc_msg_scan_headers pass, unfolded and bounded. */
bnc_str_t bnc_msg_hval(ctx_t *c, const bnc_str_t *raw, unsigned long folded, size_t i);
/* The next header `name` in [*pos, end) (raw value), moving *pos past it. */
int bnc_msg_header_next(const char **pos, const char *end, const char *name, bnc_str_t *val);
/* The first header `name` in [p, end), unfolded. */
bnc_str_t bnc_msg_header(ctx_t *c, const char *p, const char *end, const char *name);
/* A raw value unfolded (line breaks and the white space after them become
 * one space), trimmed, bounded by BNC_MSG_VALUE_MAX. */
bnc_str_t bnc_msg_unfold(ctx_t *c, bnc_str_t v);
/* Whether bnc_msg_scan_headers can look name up. */
int bnc_msg_plain_name(bnc_str_t name);
/* v with its RFC 2047 encoded words decoded (legacy charsets as UTF-8). */
bnc_str_t bnc_msg_decode_words(ctx_t *c, bnc_str_t v);
/* The body [body, end) of a MIME entity with these Content-Type and
 * Content-Transfer-Encoding values: its parts go to the readers. */
void bnc_msg_entity(ctx_t *c, const char *body, const char *end, int depth, bnc_str_t deftype,
                    bnc_str_t ct, bnc_str_t cte);

/* ---- dsn.c: reports and the returned message ---------------------------- */

/* A message/delivery-status body: one record per recipient block. */
void bnc_msg_read_dsn(ctx_t *c, const char *p, const char *end, int nocr);
/* A message/feedback-report body: feedback type, source IP, recipients. */
void bnc_msg_read_feedback(ctx_t *c, const char *p, const char *end, int nocr);
/* The headers of the returned original message (the first one only). */
void bnc_msg_read_original(ctx_t *c, const char *p, const char *end, int nocr);
/* Where DSN fields pasted into a text start (the LF before them), or NULL. */
const char *bnc_msg_dsn_fields(bnc_str_t t);

/* ---- ses.c --------------------------------------------------------------- */

/* The text parts read as SES notifications, until one gives recipients. */
void bnc_msg_read_ses(ctx_t *c);

/* ---- families.c ----------------------------------------------------------- */

/* A plain-text bounce: the family its evidence names reads the text parts;
 * failing that, when there is evidence of a failure, the loose reader. */
void bnc_msg_read_family(ctx_t *c, const top_t *top);

/* ---- autoreply.c ---------------------------------------------------------- */

/* Whether From or Subject say the message reports a failure. */
int bnc_msg_failure_evidence(bnc_str_t from, bnc_str_t subject);
/* When the message is an auto-reply (RFC 3834 and common practice): its
 * record, and 1; else 0. */
int bnc_msg_read_autoreply(ctx_t *c, const top_t *top);

/* ---- recipient.c ---------------------------------------------------------- */

/* Reads record r's fields into its signals, once (the reply parsed, the
 * best rule found). A reader that needs to know whether a diagnostic reads
 * as a reply calls it; bnc_msg_finish does it for the others. */
void bnc_msg_gather(ctx_t *c, bnc_msg_rcpt_t *r);
/* Every record so far is part of a report that is no failure: BNC_R_FEEDBACK
 * (a complaint) or BNC_R_VACATION (an auto-reply). */
void bnc_msg_mark_all(ctx_t *c, bnc_reason_t report);
/* Each record gathered, decided once (bnc_decide), its result fields set. */
void bnc_msg_finish(ctx_t *c);

#endif
