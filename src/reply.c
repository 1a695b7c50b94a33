/*
 * reply.c - turns the bytes of an SMTP reply or bounce diagnostic into code,
 * enhanced status, text, remote host and command.
 *
 * The parse is a single forward walk over the lines. Every search is bounded
 * by the input (or a fixed window), so the cost is linear in len whatever the
 * bytes are: NULs, invalid UTF-8 and megabyte lines are ordinary input.
 */
#include <stdint.h>
#include <string.h>
#include "ascii.h"
#include "reply.h"

#define IS_DIGIT(c) ((unsigned char)((c) - '0') < 10)
#define IS_ALPHA(c) ((unsigned char)(((c) | 0x20) - 'a') < 26)

/* A basic code at p: three digits 200..599 followed by the end, a space, a
 * dash, or punctuation that cannot continue a number. Returns it or 0. */
static int code_at(const char *p, size_t n) {
  int code;
  if (n < 3 || !IS_DIGIT(p[0]) || !IS_DIGIT(p[1]) || !IS_DIGIT(p[2])) return 0;
  code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
  if (code < 200 || code > 599) return 0;
  if (n > 3 && (IS_DIGIT(p[3]) || IS_ALPHA(p[3]) || p[3] == '.' ||
                p[3] == '@' || p[3] == '_'))
    return 0;
  return code;
}

/* An enhanced status at p: class 2/4/5, subject 0..7 (one digit), detail
 * 0..999. Returns its length (5..7) and fills r, or 0. */
static size_t status_at(const char *p, size_t n, bnc_reply_t *r) {
  size_t i = 0;
  int detail = 0, nd = 0;
  if (n < 5 || (p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.' ||
      p[2] < '0' || p[2] > '7' || p[3] != '.' || !IS_DIGIT(p[4]))
    return 0;
  for (i = 4; i < n && IS_DIGIT(p[i]); i++) {
    if (++nd > 3) return 0;
    detail = detail * 10 + (p[i] - '0');
  }
  /* "5.1.1.2" or "5.1.10x" is not a status */
  if (i < n && (IS_DIGIT(p[i]) || IS_ALPHA(p[i]) || p[i] == '@' ||
                (p[i] == '.' && i + 1 < n && IS_DIGIT(p[i + 1]))))
    return 0;
  if (r) {
    r->st_class = p[0] - '0';
    r->st_subject = p[2] - '0';
    r->st_detail = detail;
    memcpy(r->status, p, i);
    r->status[i] = '\0';
  }
  return i;
}

/* The byte before a number found inside text must not glue it to a word,
 * another number, an IP address or a version. */
static int boundary_before(const char *buf, size_t at) {
  unsigned char c;
  if (at == 0) return 1;
  c = (unsigned char)buf[at - 1];
  return !(IS_DIGIT(c) || IS_ALPHA(c) || c == '.' || c == '_' || c == '/' ||
           c == '=' || c == '&' || c == '?' || c == '%' || c == '+');
}

static const struct { const char *name; bnc_command_t cmd; } COMMANDS[] = {
  { "CONNECT", BNC_CMD_CONNECT }, { "HELO", BNC_CMD_HELO },
  { "EHLO", BNC_CMD_HELO }, { "STARTTLS", BNC_CMD_STARTTLS },
  { "AUTH", BNC_CMD_AUTH }, { "MAIL", BNC_CMD_MAIL },
  { "RCPT", BNC_CMD_RCPT }, { "DATA", BNC_CMD_DATA },
  { "BDAT", BNC_CMD_DATA },
};

/* Phrases that name the command a reply answered, in the wording of
 * Postfix, Exim, sendmail and qmail. Searched in a bounded window. */
#define P(s) s, sizeof(s) - 1
static const struct { const char *phrase; size_t len; bnc_command_t cmd; } CMD_PHRASES[] = {
  { P("in reply to end of data"), BNC_CMD_DATA },
  { P("in reply to data"), BNC_CMD_DATA },
  { P("in reply to rcpt"), BNC_CMD_RCPT },
  { P("in reply to mail"), BNC_CMD_MAIL },
  { P("in reply to ehlo"), BNC_CMD_HELO },
  { P("in reply to helo"), BNC_CMD_HELO },
  { P("in reply to starttls"), BNC_CMD_STARTTLS },
  { P("in reply to auth"), BNC_CMD_AUTH },
  { P("in reply to initial greeting"), BNC_CMD_CONNECT },
  { P("after end of data"), BNC_CMD_DATA },
  { P("after data"), BNC_CMD_DATA },
  { P("after rcpt"), BNC_CMD_RCPT },
  { P("after mail from"), BNC_CMD_MAIL },
  { P("after initial connection"), BNC_CMD_CONNECT },
  { P("after pipelined end of data"), BNC_CMD_DATA },
  { P("after pipelined data"), BNC_CMD_DATA },
  { P("after pipelined rcpt"), BNC_CMD_RCPT },
  { P("after pipelined mail from"), BNC_CMD_MAIL },
  { P("after ehlo"), BNC_CMD_HELO },
  { P("after helo"), BNC_CMD_HELO },
  { P("after starttls"), BNC_CMD_STARTTLS },
  { P("while performing the helo handshake"), BNC_CMD_HELO },
  { P("while performing the ehlo handshake"), BNC_CMD_HELO },
  { P("for text command"), BNC_CMD_DATA },
  { P("for rcpt to command"), BNC_CMD_RCPT },
  { P("for mail from command"), BNC_CMD_MAIL },
};
#undef P

/* Command phrases sit at the end (Postfix's "(in reply to RCPT TO command)")
 * or near the start (Exim's "SMTP error ... after RCPT TO") of a text; only
 * there are they looked for, so the cost does not grow with the text. */
#define CMD_HEAD 160

const char *bnc_command_name(bnc_command_t c) {
  static const char *const names[BNC_CMD__COUNT] = {
    NULL, "CONNECT", "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA"
  };
  return ((unsigned)c < BNC_CMD__COUNT) ? names[c] : NULL;
}

bnc_command_t bnc_command_find(const char *name, size_t len) {
  size_t i, j;
  for (i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++) {
    const char *k = COMMANDS[i].name;
    if (strlen(k) != len) continue;
    for (j = 0; j < len && (name[j] & ~0x20) == k[j]; j++) {}
    if (j == len) return COMMANDS[i].cmd;
  }
  return BNC_CMD_NONE;
}

/* The command a sendmail transcript line ">>> RCPT TO:<...>" sent, or
 * BNC_CMD_NONE for one the decision has no use for (QUIT, RSET, NOOP). */
static bnc_command_t transcript_command(const char *p, size_t n) {
  size_t i;
  if (n >= 1 && p[0] == '.' && (n == 1 || bnc_is_wsp(p[1])))
    return BNC_CMD_DATA;     /* the end of the data: its reply is DATA's */
  for (i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++) {
    size_t m = strlen(COMMANDS[i].name);
    if (n >= m && bnc_command_find(p, m) == COMMANDS[i].cmd &&
        (n == m || !IS_ALPHA(p[m])))
      return COMMANDS[i].cmd;
  }
  return BNC_CMD_NONE;
}

/* The commands of a transcript that await their replies, oldest first: a
 * client that pipelines sends MAIL, RCPT and DATA before it reads the first
 * reply, and each reply answers the oldest command still unanswered
 * (RFC 2920 section 3.1). Older commands than the last PENDING are dropped. */
#define PENDING 8
typedef struct {
  bnc_command_t cmd[PENDING];
  unsigned head, n;
} pending_t;

static void pending_push(pending_t *q, bnc_command_t c) {
  if (q->n == PENDING) { q->head = (q->head + 1) % PENDING; q->n--; }
  q->cmd[(q->head + q->n++) % PENDING] = c;
}

/* The command the reply that starts now answers; `none` when no command is
 * waiting (the reply then keeps what was known). */
static bnc_command_t pending_pop(pending_t *q, bnc_command_t none) {
  bnc_command_t c;
  if (q->n == 0) return none;
  c = q->cmd[q->head];
  q->head = (q->head + 1) % PENDING;
  q->n--;
  return c;
}

/* Skips a Diagnostic-Code type such as "smtp;" or "X-Postfix;". */
static size_t skip_diag_type(const char *p, size_t n) {
  size_t i = 0;
  if (n == 0 || !IS_ALPHA(p[0])) return 0;
  while (i < n && i < 24 && (IS_ALPHA(p[i]) || IS_DIGIT(p[i]) || p[i] == '-'))
    i++;
  if (i < n && p[i] == ';') {
    i++;
    while (i < n && bnc_is_wsp(p[i])) i++;
    return i;
  }
  return 0;
}

/* Reads a host name token at p (letters, digits, dots, dashes); *dots
 * says whether it holds a dot. */
static size_t host_token(const char *p, size_t n, int *dots) {
  size_t i = 0;
  *dots = 0;
  for (; i < n; i++) {
    if (p[i] == '.') *dots = 1;
    else if (!IS_ALPHA(p[i]) && !IS_DIGIT(p[i]) && p[i] != '-' && p[i] != '_') break;
  }
  return i;
}

/* Recognises an MTA wrapper at the start of a line and returns how many
 * bytes it takes: "host H[ip] said: ", "H[ip] said: ", "Remote host said: ",
 * "Server H[ip] failed with: ", "host H [ip]: ". Only these shapes count,
 * so a reply that merely contains "said:" keeps its text. Sets the host. */
static size_t skip_wrapper(const char *buf, size_t start, size_t eol,
                           bnc_reply_t *r) {
  const char *p = buf + start;
  size_t n = eol - start, h = 0, hl, e;
  int host_kw = 0, dots;
  if (bnc_iprefix_lc(p, n, "remote host said:")) {
    e = 17;
    while (e < n && bnc_is_wsp(p[e])) e++;
    return e;
  }
  if (bnc_iprefix_lc(p, n, "host ")) { h = 5; host_kw = 1; }
  else if (bnc_iprefix_lc(p, n, "server ")) h = 7;
  hl = host_token(p + h, n - h, &dots);
  if (hl == 0 || !dots) return 0;
  e = h + hl;
  while (e < n && bnc_is_wsp(p[e])) e++;
  if (e < n && p[e] == '[') {
    while (e < n && p[e] != ']') e++;
    if (e == n) return 0;
    e++;
  }
  if (bnc_iprefix_lc(p + e, n - e, " said:")) e += 6;
  else if (bnc_iprefix_lc(p + e, n - e, "said:")) e += 5;
  else if (bnc_iprefix_lc(p + e, n - e, " failed with:")) e += 13;
  else if (host_kw && e < n && p[e] == ':') e += 1;
  else if (!(host_kw && e == n)) return 0;      /* Exim: "host H [ip]" alone */
  r->rhost_off = start + h;
  r->rhost_len = hl;
  while (e < n && bnc_is_wsp(p[e])) e++;
  return e;
}

/* Appends src[0..n) to text, separating lines by one space. */
static void append(char *text, size_t *tl, const char *src, size_t n) {
  while (n > 0 && (bnc_is_wsp(src[n - 1]) || src[n - 1] == '\r')) n--;
  if (n == 0) return;
  if (*tl > 0) text[(*tl)++] = ' ';
  memcpy(text + *tl, src, n);
  *tl += n;
}

/* The first ASCII digit in t[i..n), or n. Eight bytes at a time: with
 * y = bytes ^ '0', a digit is a byte of y below 10, and "some byte below
 * 10" is ((y - 0x0a..0a) & ~y & 0x80..80) != 0 (exact for "some", though
 * not for which: the bytes are then read one by one). */
static size_t next_digit(const char *t, size_t i, size_t n) {
  const uint64_t ones = 0x0101010101010101u;
  while (i + 8 <= n) {
    uint64_t y;
    memcpy(&y, t + i, 8);
    y ^= ones * '0';
    if ((y - ones * 10) & ~y & ones * 0x80) break;
    i += 8;
  }
  while (i < n && !IS_DIGIT(t[i])) i++;
  return i;
}

/* Whether the number at t[i] stands where a reply is quoted: at the start,
 * or after the punctuation that introduces a quote (": 550", "'550",
 * "(550", "[550", "<550", "=550", "#550"). A number inside prose ("a
 * message of 452 lines") is not a code. */
static int quoted_at(const char *t, size_t i) {
  while (i > 0 && bnc_is_wsp(t[i - 1])) i--;
  if (i == 0) return 1;
  switch (t[i - 1]) {
    case ':': case '\'': case '"': case '(': case '[': case '<': case '=': case '#':
      return 1;
    default:
      return 0;
  }
}

/* Searches text for the first basic code and status not glued to other
 * tokens, when no line started with them. A status is found from its first
 * dot (memchr). A code is found by a walk over the digits: the first one
 * that its own status follows ("... returned 550 5.1.1 ...") wins, else
 * the first quoted one (quoted_at) or continued one ("550-..."). A code
 * that opened a line of the input was taken before this search. */
static void find_inside(const char *t, size_t n, bnc_reply_t *r) {
  size_t i;
  int bare = 0;
  if (!r->st_class) {
    const char *p = t, *end = t + n;
    while ((p = memchr(p, '.', (size_t)(end - p))) != NULL) {
      i = (size_t)(p - t);
      p++;
      if (i > 0 && boundary_before(t, i - 1) && status_at(t + i - 1, n - i + 1, r)) break;
    }
  }
  if (r->code) return;
  for (i = next_digit(t, 0, n); i < n; i = next_digit(t, i + 1, n)) {
    int code;
    if (!boundary_before(t, i)) continue;
    /* a group of an IPv6 address ("2001:db8:220:6d::1") is no code */
    if (i > 0 && t[i - 1] == ':' && i + 3 < n && t[i + 3] == ':') { i += 2; continue; }
    if (status_at(t + i, n - i, NULL)) { i += 4; continue; }
    code = code_at(t + i, n - i);
    if (code) {
      size_t j = i + 3;
      if (j < n && (t[j] == ' ' || t[j] == '-') && j + 1 < n && t[j + 1] - '0' == code / 100 &&
          status_at(t + j + 1, n - j - 1, NULL)) {
        r->code = code;
        return;
      }
      /* "550-" continues a reply: no number of prose is written so */
      if (!bare && (quoted_at(t, i) || (j < n && t[j] == '-'))) bare = code;
    }
    while (i + 1 < n && IS_DIGIT(t[i + 1])) i++;
  }
  r->code = bare;
}

/* Whether a command phrase starts at t[i]; sets the command. Cheapest
 * tests first: the lead letter, then the word boundary before it (most
 * candidates sit inside a word), then the lead, then the phrases that
 * share its first letter. */
static int phrase_at(const char *t, size_t n, size_t i, bnc_reply_t *r) {
  /* every phrase opens with one of four leads: compare that first */
  static const char *const lead[] = { "in reply to ", "after ", "while performing ", "for " };
  static const size_t lead_len[] = { 12, 6, 17, 4 };
  size_t k;
  int c = bnc_lower((unsigned char)t[i]);
  int l = c == 'i' ? 0 : c == 'a' ? 1 : c == 'w' ? 2 : c == 'f' ? 3 : -1;
  if (l < 0 || (i > 0 && (IS_ALPHA(t[i - 1]) || IS_DIGIT(t[i - 1])))) return 0;
  if (lead_len[l] > n - i || !bnc_ieq_lc(t + i, lead[l], lead_len[l])) return 0;
  for (k = 0; k < sizeof CMD_PHRASES / sizeof CMD_PHRASES[0]; k++)
    if (CMD_PHRASES[k].phrase[0] == c && CMD_PHRASES[k].len <= n - i &&
        bnc_ieq_lc(t + i, CMD_PHRASES[k].phrase, CMD_PHRASES[k].len)) {
      r->command = CMD_PHRASES[k].cmd;
      return 1;
    }
  return 0;
}

/* The "not like" phrases of dma ("did not like our RCPT TO") and qmail
 * ("does not like recipient"), found from their rare 'k' so that the common
 * case costs one memchr. Returns the command or BNC_CMD_NONE. */
static bnc_command_t find_not_like(const char *t, size_t n) {
  static const struct { const char *after; bnc_command_t cmd; } A[] = {
    { "our rcpt", BNC_CMD_RCPT }, { "our mail", BNC_CMD_MAIL }, { "our data", BNC_CMD_DATA },
    { "our final data", BNC_CMD_DATA },
    { "recipient", BNC_CMD_RCPT }, { "sender", BNC_CMD_MAIL },
  };
  const char *p = t, *end = t + n;
  while (p < end && (p = memchr(p, 'k', (size_t)(end - p))) != NULL) {
    size_t j = (size_t)(p++ - t), k;
    if (j < 10 || !bnc_ieq_lc(t + j - 6, "not like ", 9) || j + 3 > n) continue;
    if (!bnc_ieq_lc(t + j - 10, "did ", 4) && !(j >= 11 && bnc_ieq_lc(t + j - 11, "does ", 5))) continue;
    for (k = 0; k < sizeof A / sizeof A[0]; k++)
      if (bnc_iprefix_lc(t + j + 3, n - j - 3, A[k].after)) return A[k].cmd;
  }
  return BNC_CMD_NONE;
}

/* The first 'f' or 'F' in t[i..n), or n; eight bytes at a time, as
 * next_digit: with y = (bytes | 0x20) ^ 'f', an 'f' is a zero byte of y. */
static size_t next_f(const char *t, size_t i, size_t n) {
  const uint64_t ones = 0x0101010101010101u;
  while (i + 8 <= n) {
    uint64_t y;
    memcpy(&y, t + i, 8);
    y = (y | ones * 0x20) ^ (ones * 'f');
    if ((y - ones) & ~y & ones * 0x80) break;
    i += 8;
  }
  while (i < n && (t[i] | 0x20) != 'f') i++;
  return i;
}

/* Finds a command phrase near the start of the text, where Exim and
 * Postfix put "after RCPT TO", "while performing the HELO handshake" and
 * "for TEXT command"; else dma's and qmail's "not like" phrases. MTAs
 * write these words in lower case, so only a lower-case lead letter counts.
 * Each of the three leads holds an f, at a fixed place: "for " at 0,
 * "after " at 1, "while performing " at 9. So one walk over the f's (a
 * rare letter) finds every candidate; the earliest phrase wins. */
static void find_command_head(const char *t, size_t n, bnc_reply_t *r) {
  static const struct { char lead; size_t at; } LEADS[] = { { 'f', 0 }, { 'a', 1 }, { 'w', 9 } };
  size_t head = n < CMD_HEAD ? n : CMD_HEAD, best = head, j, k;
  size_t lim = head + 9 < n ? head + 9 : n;
  bnc_command_t cmd = BNC_CMD_NONE;
  /* an f at j starts nothing before j - 9: stop once that is past best */
  for (j = next_f(t, 0, lim); j < lim && j < best + 9; j = next_f(t, j + 1, lim)) {
    for (k = 0; k < sizeof LEADS / sizeof LEADS[0]; k++) {
      size_t i = j - LEADS[k].at;
      bnc_reply_t tmp;
      if (j < LEADS[k].at || i >= best || t[i] != LEADS[k].lead) continue;
      tmp.command = BNC_CMD_NONE;
      if (phrase_at(t, n, i, &tmp)) { best = i; cmd = tmp.command; }
    }
  }
  r->command = cmd != BNC_CMD_NONE ? cmd : find_not_like(t, head);
}

/* Removes a trailing "(in reply to X command)" that Postfix appends, and
 * takes the command from it. Only texts ending in ')' are looked at. */
static size_t strip_in_reply(const char *t, size_t n, bnc_reply_t *r) {
  size_t e = n, i, stop;
  while (e > 0 && bnc_is_wsp(t[e - 1])) e--;
  if (e == 0 || t[e - 1] != ')') return n;
  stop = e < 64 ? 0 : e - 64;
  for (i = e; i > stop; i--) {
    if (t[i - 1] == '(' && e - i >= 12 && bnc_ieq_lc(t + i, "in reply to ", 12)) {
      bnc_reply_t tmp;
      tmp.command = BNC_CMD_NONE;
      if (phrase_at(t, e, i, &tmp) && r->command == BNC_CMD_NONE)
        r->command = tmp.command;
      i--;
      while (i > 0 && bnc_is_wsp(t[i - 1])) i--;
      return i;
    }
  }
  return n;
}

/* Removes the line prefixes of a multi-line reply that reached us on one
 * line: a Diagnostic-Code unfolded by the bounce's writer keeps them inside
 * the text ("... is receiving mail at a rate that 550-5.2.1 prevents
 * additional ...", the last line "550 5.2.1 https://..."), where they split
 * the phrases rules look for. A prefix is the reply's own code after a
 * space, then '-' (a continuation) or ' ' and the reply's own status (the
 * last line: with no status, "550 " may be a number of the text and
 * stays). Only called for replies whose first line was a continuation, so
 * one-line replies pay nothing. Compacts text in place; returns its new
 * length. */
static size_t strip_continuations(char *t, size_t n, const bnc_reply_t *r) {
  size_t i = 0, o = 0, sl = r->st_class ? strlen(r->status) : 0;
  const char c0 = (char)('0' + r->code / 100);
  while (i < n) {
    const char *p = memchr(t + i, c0, n - i);
    size_t j = p ? (size_t)(p - t) : n, k = j + 4;
    int own_status;
    memmove(t + o, t + i, j - i);
    o += j - i;
    i = j;
    if (i == n) break;
    own_status = sl && n >= k + sl && memcmp(t + k, r->status, sl) == 0 &&
                 (k + sl == n || t[k + sl] == ' ');
    if (i > 0 && t[i - 1] == ' ' && n >= k && code_at(t + i, n - i) == r->code &&
        (t[i + 3] == '-' || (t[i + 3] == ' ' && own_status))) {
      if (own_status) k += sl;
      while (k < n && t[k] == ' ') k++;
      i = k;                                  /* drop "550-5.2.1 " */
    } else {
      t[o++] = t[i++];
    }
  }
  while (o > 0 && t[o - 1] == ' ') o--;
  return o;
}

/* Whether the code at buf[s] ends as a reply code does: the end of the
 * line, a space, or the dash of a continuation. */
static int code_ends(const char *buf, size_t s, size_t eol) {
  return s + 3 == eol || buf[s + 3] == ' ' || buf[s + 3] == '-';
}

/* Forgets the reply read so far: a positive one (a greeting, an EHLO
 * answer, a 250 to MAIL FROM) that another reply follows. */
static void drop_reply(bnc_reply_t *r, size_t *tl) {
  *tl = 0;
  r->code = 0;
  r->st_class = r->st_subject = r->st_detail = 0;
  memset(r->status, 0, sizeof r->status);
}

int bnc_reply_parse(const char *buf, size_t len, char *text, size_t cap,
                    bnc_reply_t *r) {
  size_t pos = 0, tl = 0, first = 1;
  int leading = 0;   /* the text opened with its code */
  int multi = 0;     /* ... and that line was a continuation ("550-...") */
  /* A text may hold several replies: a session transcript, a greeting's
   * "220-" lines before the refusal. The answer is the first reply that is
   * not positive (4xx, 5xx): a positive reply is dropped when another one
   * follows, and once a refusal is read, the positive replies after it (221
   * to QUIT) and the commands sent after it (DATA after a refused RCPT) are
   * not its own. */
  int final_line = 0;  /* the current reply's last line had no dash */
  int sent = 0;        /* a command was sent since the current reply began */
  int line_code = 0;   /* the first code that opened a line but not the text */
  bnc_command_t line_cmd = BNC_CMD_NONE;  /* ... and the command it answered */
  pending_t q;
  memset(r, 0, sizeof *r);
  memset(&q, 0, sizeof q);
  if (len > BNC_REPLY_MAX) return BNC_ETOOBIG;
  if (cap < len) return BNC_EINVAL;
  while (pos < len) {
    size_t eol = pos, s;
    int code;
    const char *nl = memchr(buf + pos, '\n', len - pos);
    eol = nl ? (size_t)(nl - buf) : len;
    if (eol > pos && buf[eol - 1] == '\r') eol--;   /* CRLF */
    s = pos;
    pos = nl ? (size_t)(nl - buf) + 1 : len;
    while (s < eol && bnc_is_wsp(buf[s])) s++;
    if (first && s < eol) s += skip_diag_type(buf + s, eol - s);
    /* Exim puts its wrapper on the line after "SMTP error from ...:" */
    if ((first || (!r->code && !r->rhost_len)) && s < eol)
      s += skip_wrapper(buf, s, eol, r);
    if (eol - s >= 4 && memcmp(buf + s, ">>> ", 4) == 0) {
      /* the command we sent is not part of the reply */
      if (r->code < 400) {
        pending_push(&q, transcript_command(buf + s + 4, eol - s - 4));
        sent = 1;
      }
      continue;
    } else if (eol - s >= 4 && memcmp(buf + s, "<<< ", 4) == 0) {
      s += 4;
    }
    code = code_at(buf + s, eol - s);
    if (code && !code_ends(buf, s, eol)) code = 0;
    if (code && r->code && (code != r->code || final_line || sent)) {
      if (r->code >= 400 && code < 400) continue;   /* after the refusal */
      if (r->code < 400) {
        drop_reply(r, &tl);
        leading = multi = 0;
      }
    }
    /* Exim's lead-in: "SMTP error from remote mail server after end of
     * data:", the reply on the lines below it. The lead-in names the
     * command; the reply's text starts after it. */
    if (code && tl > 0 && !r->code && text[tl - 1] == ':') {
      if (r->command == BNC_CMD_NONE) find_command_head(text, tl, r);
      tl = 0;
    }
    if (code && (tl == 0 || code == r->code)) {
      bnc_reply_t st;
      size_t sl;
      if (!r->code) {
        r->code = code;
        r->command = pending_pop(&q, r->command);
        sent = 0;
      }
      if (tl == 0) {
        leading = 1;
        multi = s + 3 < eol && buf[s + 3] == '-';
      }
      final_line = !(s + 3 < eol && buf[s + 3] == '-');
      s += (s + 3 < eol) ? 4 : 3;
      while (s < eol && bnc_is_wsp(buf[s])) s++;
      /* The first status goes straight into r (whose status is all zero
       * until then), not through st and a copy: a 12-byte read right after
       * the byte writes of status_at stalls the store forwarding. */
      if (!r->st_class) {
        sl = status_at(buf + s, eol - s, r);
      } else {
        memset(&st, 0, sizeof st);
        sl = status_at(buf + s, eol - s, &st);
        if (sl && strcmp(st.status, r->status) != 0) sl = 0;
      }
      if (sl) {
        s += sl;
        while (s < eol && bnc_is_wsp(buf[s])) s++;
      }
    } else if (tl == 0 && !r->st_class) {
      size_t sl = status_at(buf + s, eol - s, r);  /* "5.1.1 text" */
      if (sl && (s + sl == eol || bnc_is_wsp(buf[s + sl]))) {
        s += sl;
        while (s < eol && bnc_is_wsp(buf[s])) s++;
      } else if (sl) {
        memset(r->status, 0, sizeof r->status);
        r->st_class = r->st_subject = r->st_detail = 0;
      }
    } else if (code && !line_code) {
      line_code = code;   /* a reply after words that end without ':' */
      line_cmd = q.n ? q.cmd[q.head] : BNC_CMD_NONE;
    }
    if (s < eol) first = 0;
    append(text, &tl, buf + s, eol - s);
  }
  /* commands no reply answered: the last one sent is the stage */
  if (!r->code && q.n > 0) r->command = q.cmd[(q.head + q.n - 1) % PENDING];
  if (!r->code && line_code) {
    r->code = line_code;
    if (line_cmd != BNC_CMD_NONE) r->command = line_cmd;
  }
  if (multi) tl = strip_continuations(text, tl, r);
  find_inside(text, tl, r);
  tl = strip_in_reply(text, tl, r);
  /* wrapper phrases come before the code: a reply that opens with its
   * code has none */
  if (r->command == BNC_CMD_NONE && !leading) find_command_head(text, tl, r);
  r->text_len = tl;
  if (tl == 0 && r->code == 0 && r->st_class == 0) return BNC_EEMPTY;
  return BNC_OK;
}

int bnc_reply_permanent(const bnc_reply_t *r) {
  if (r->code) return r->code >= 500;
  if (r->st_class) return r->st_class == 5;
  return -1;
}
