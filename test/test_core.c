/*
 * test_core.c - C unit tests of the reply parser, the matcher and the
 * classifier, without Lua.
 */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "classify.h"
#include "match.h"
#include "reply.h"
#include "rules.h"

static char textbuf[1 << 21];

static int parse(const char *s, bnc_reply_t *r) {
  return bnc_reply_parse(s, strlen(s), textbuf, sizeof textbuf, r);
}

static const char *text_of(const bnc_reply_t *r) {
  textbuf[r->text_len] = '\0';
  return textbuf;
}

static void test_single_line(void) {
  bnc_reply_t r;
  CHECK_INT(parse("550 5.1.1 <a@example.org>: User unknown", &r), BNC_OK);
  CHECK_INT(r.code, 550);
  CHECK_STR(r.status, "5.1.1");
  CHECK_INT(r.st_class, 5);
  CHECK_INT(r.st_subject, 1);
  CHECK_INT(r.st_detail, 1);
  CHECK_STR(text_of(&r), "<a@example.org>: User unknown");
  CHECK_INT(bnc_reply_permanent(&r), 1);
}

static void test_multi_line(void) {
  bnc_reply_t r;
  const char *s = "550-5.1.1 The email account that you tried to reach does\r\n"
                  "550-5.1.1 not exist. Please try\r\n"
                  "550 5.1.1 double-checking. gsmtp\r\n";
  CHECK_INT(parse(s, &r), BNC_OK);
  CHECK_INT(r.code, 550);
  CHECK_STR(r.status, "5.1.1");
  CHECK_STR(text_of(&r), "The email account that you tried to reach does not exist. "
                         "Please try double-checking. gsmtp");
  /* LF only, and 100 continuation lines */
  {
    char *big = malloc(100 * 20 + 1), *p = big;
    int i;
    for (i = 0; i < 100; i++) p += sprintf(p, "451%c4.3.0 line %02d\n", i == 99 ? ' ' : '-', i);
    CHECK_INT(parse(big, &r), BNC_OK);
    CHECK_INT(r.code, 451);
    CHECK_STR(r.status, "4.3.0");
    CHECK(strncmp(text_of(&r), "line 00 line 01", 15) == 0);
    CHECK(strstr(text_of(&r), "line 99") != NULL);
    CHECK(strstr(text_of(&r), "451") == NULL);
    free(big);
  }
  /* the same reply unfolded onto one line by a bounce's writer: the line
   * prefixes inside the text go, so phrases that spanned lines match */
  CHECK_INT(parse("smtp; 550-5.1.1 The email account that you tried to reach does 550-5.1.1 "
                  "not exist. Please try 550 5.1.1 double-checking. gsmtp", &r), BNC_OK);
  CHECK_STR(r.status, "5.1.1");
  CHECK_STR(text_of(&r), "The email account that you tried to reach does not exist. "
                         "Please try double-checking. gsmtp");
  /* without a status, continuations only; a number of the text stays, and
   * so do another code, another status, and a code glued to a word */
  CHECK_INT(parse("452-Mailbox full 452-try later 452 kept 452 MB x452-y 451-z", &r), BNC_OK);
  CHECK_STR(text_of(&r), "Mailbox full try later 452 kept 452 MB x452-y 451-z");
  CHECK_INT(parse("550-5.2.1 a 550 5.2.10 b 550 5.2.1c 550 5.2.1", &r), BNC_OK);
  CHECK_STR(text_of(&r), "a 550 5.2.10 b 550 5.2.1c");
  /* a one-line reply keeps its text whole */
  CHECK_INT(parse("550 5.1.1 user unknown 550-5.1.1 x", &r), BNC_OK);
  CHECK_STR(text_of(&r), "user unknown 550-5.1.1 x");
}

static void test_status_inside(void) {
  bnc_reply_t r;
  CHECK_INT(parse("Sorry, I couldn't find any host named x.example. (#5.1.2)", &r), BNC_OK);
  CHECK_INT(r.code, 0);
  CHECK_STR(r.status, "5.1.2");
  CHECK_INT(parse("Delivery failed (5.7.1) policy", &r), BNC_OK);
  CHECK_STR(r.status, "5.7.1");
  CHECK_INT(parse("deferred [4.7.0] try later", &r), BNC_OK);
  CHECK_STR(r.status, "4.7.0");
  /* an IP address or a version is not a status */
  CHECK_INT(parse("connect to 192.0.2.1.25: timed out", &r), BNC_OK);
  CHECK_STR(r.status, "");
  CHECK_INT(parse("Exim 4.96.2 says no", &r), BNC_OK);
  CHECK_STR(r.status, "");
  /* subject above 7 and class 3 are not statuses */
  CHECK_INT(parse("550 5.8.1 x", &r), BNC_OK);
  CHECK_STR(r.status, "");
  CHECK_INT(parse("550 3.1.1 x", &r), BNC_OK);
  CHECK_STR(r.status, "");
  CHECK_INT(parse("550 5.7.606 Access denied", &r), BNC_OK);
  CHECK_STR(r.status, "5.7.606");
  CHECK_INT(r.st_detail, 606);
  CHECK_INT(parse("550 5.7.1000 x", &r), BNC_OK);
  CHECK_STR(r.status, "");
}

static void test_wrappers(void) {
  bnc_reply_t r;
  const char *s = "host mx.example.com[192.0.2.1] said: 550 5.1.1 <a@example.com>: "
                  "Recipient address rejected (in reply to RCPT TO command)";
  CHECK_INT(parse(s, &r), BNC_OK);
  CHECK_INT(r.code, 550);
  CHECK_STR(r.status, "5.1.1");
  CHECK_INT(r.rhost_len, 14);
  CHECK(strncmp(s + r.rhost_off, "mx.example.com", 14) == 0);
  CHECK_INT(r.command, BNC_CMD_RCPT);
  CHECK_STR(text_of(&r), "<a@example.com>: Recipient address rejected");

  CHECK_INT(parse("smtp; 550 5.7.1 denied", &r), BNC_OK);
  CHECK_INT(r.code, 550);
  CHECK_STR(text_of(&r), "denied");
  CHECK_INT(parse("X-Postfix; host mx.example.net[192.0.2.2] said: 452 4.2.2 "
                  "mailbox full (in reply to end of DATA command)", &r), BNC_OK);
  CHECK_INT(r.code, 452);
  CHECK_INT(r.command, BNC_CMD_DATA);
  CHECK_STR(text_of(&r), "mailbox full");

  s = "host mx.example.jp [192.0.2.222]: 550 5.1.1 <k@example.jp>... User Unknown";
  CHECK_INT(parse(s, &r), BNC_OK);
  CHECK_INT(r.code, 550);
  CHECK(r.rhost_len == 13 && strncmp(s + r.rhost_off, "mx.example.jp", 13) == 0);

  CHECK_INT(parse(">>> RCPT To:<k@example.org>\n<<< 550 5.1.1 No such user", &r), BNC_OK);
  CHECK_INT(r.command, BNC_CMD_RCPT);
  CHECK_INT(r.code, 550);
  CHECK_STR(text_of(&r), "No such user");

  CHECK_INT(parse("Remote host said: 550 5.7.606 Access denied", &r), BNC_OK);
  CHECK_INT(r.code, 550);
  CHECK_INT(r.rhost_len, 0);

  /* "said:" inside a reply is not a wrapper */
  CHECK_INT(parse("550 5.7.1 Our server said: no", &r), BNC_OK);
  CHECK_INT(r.code, 550);
  CHECK_INT(r.rhost_len, 0);
  CHECK_STR(text_of(&r), "Our server said: no");
  s = "450 4.1.1 <a@example.org>: Recipient address rejected: undeliverable address: "
      "host mx.example.org[192.0.2.3] said: 550 5.1.1 no such user";
  CHECK_INT(parse(s, &r), BNC_OK);
  CHECK_INT(r.code, 450);
  CHECK_STR(r.status, "4.1.1");

  /* Exim: the wrapper on the second line, the command in the first */
  s = "SMTP error from remote mail server after RCPT TO:<a@example.org>:\n"
      "    host mx.example.org [192.0.2.4]: 550 5.1.1 <a@example.org>: no such user";
  CHECK_INT(parse(s, &r), BNC_OK);
  CHECK_INT(r.code, 550);
  CHECK_STR(r.status, "5.1.1");
  CHECK_INT(r.command, BNC_CMD_RCPT);
  CHECK(r.rhost_len == 14 && strncmp(s + r.rhost_off, "mx.example.org", 14) == 0);
  /* Exim 4.8x and later: the host alone, the lead-in, the reply below */
  s = "host gmail-smtp-in.l.google.com [192.0.2.6]\n"
      "    SMTP error from remote mail server after pipelined RCPT TO:<a@example.org>:\n"
      "    550-5.1.1 The email account that you tried to reach does not exist. Please try\n"
      "    550 5.1.1  double-checking. gsmtp";
  CHECK_INT(parse(s, &r), BNC_OK);
  CHECK_INT(r.code, 550);
  CHECK_STR(r.status, "5.1.1");
  CHECK_INT(r.command, BNC_CMD_RCPT);
  CHECK(r.rhost_len == 26 && strncmp(s + r.rhost_off, "gmail-smtp-in.l.google.com", 26) == 0);
  CHECK_STR(text_of(&r), "The email account that you tried to reach does not exist. "
                         "Please try double-checking. gsmtp");
  CHECK_INT(parse("SMTP error from remote mail server after end of data:\n554 5.7.0 spam", &r),
            BNC_OK);
  CHECK_INT(r.command, BNC_CMD_DATA);
  CHECK_STR(text_of(&r), "spam");
  /* a number that opens a line after other text is no lead-in's reply
   * unless that text ends with a colon */
  CHECK_INT(parse("Quota: 95% used.\n550 5.2.2 full", &r), BNC_OK);
  CHECK_STR(text_of(&r), "Quota: 95% used. 550 5.2.2 full");
  CHECK_INT(r.code, 550);
  CHECK_INT(parse("mx.example.org [192.0.2.5] did not like our final DATA:\n550 5.7.1 no", &r),
            BNC_OK);
  CHECK_INT(r.command, BNC_CMD_DATA);

  /* dma, qmail and GMX name the command in their own words */
  CHECK_INT(parse("mx.example.org [192.0.2.5] did not like our RCPT TO:\n550 5.2.1 no", &r), BNC_OK);
  CHECK_INT(r.command, BNC_CMD_RCPT);
  CHECK_INT(parse("192.0.2.5 does not like recipient.\nRemote host said: 550 no such user", &r),
            BNC_OK);
  CHECK_INT(r.command, BNC_CMD_RCPT);
  CHECK_INT(parse("SMTP error from remote server after RCPT command:\nhost: mx.example.org\n"
                  "5.1.1 <a@example.org>... User unknown", &r), BNC_OK);
  CHECK_INT(r.command, BNC_CMD_RCPT);
  /* a group of an IPv6 address is no reply code */
  CHECK_INT(parse("The recipient server did not accept our requests to connect. "
                  "[(0) example.org. [2001:db8:220:6d::1]:25: socket error]", &r), BNC_OK);
  CHECK_INT(r.code, 0);
}

static void test_disagreement(void) {
  bnc_reply_t r;
  CHECK_INT(parse("550 4.2.2 mailbox full", &r), BNC_OK);
  CHECK_INT(r.code, 550);
  CHECK_STR(r.status, "4.2.2");
  CHECK_INT(bnc_reply_permanent(&r), 1);   /* the basic code decides */
  CHECK_INT(parse("4.4.1 no answer from host", &r), BNC_OK);
  CHECK_INT(bnc_reply_permanent(&r), 0);   /* the status, without code */
  CHECK_INT(parse("no code at all", &r), BNC_OK);
  CHECK_INT(bnc_reply_permanent(&r), -1);
}

static void test_hostile(void) {
  bnc_reply_t r;
  size_t n = 1 << 20, i;
  char *big = malloc(n);
  CHECK_INT(parse("", &r), BNC_EEMPTY);
  CHECK_INT(parse(" \r\n\t ", &r), BNC_EEMPTY);
  CHECK_INT(parse("550", &r), BNC_OK);
  CHECK_INT(r.code, 550);
  CHECK_INT(r.text_len, 0);
  CHECK_INT(parse("650 5.1.1 out of range code", &r), BNC_OK);
  CHECK_INT(r.code, 0);
  CHECK_INT(parse("199 nope", &r), BNC_OK);
  CHECK_INT(r.code, 0);
  /* NUL bytes are ordinary bytes */
  CHECK_INT(bnc_reply_parse("550 5.1.1 a\0b", 13, textbuf, sizeof textbuf, &r), BNC_OK);
  CHECK_INT(r.code, 550);
  CHECK_INT(r.text_len, 3);
  /* a megabyte line of invalid UTF-8 with a code at the end */
  for (i = 0; i < n; i++) big[i] = (char)(0x80 | (i & 0x7f));
  memcpy(big + n - 10, " 550 5.1.1", 10);
  CHECK_INT(bnc_reply_parse(big, n, textbuf, sizeof textbuf, &r), BNC_OK);
  CHECK_STR(r.status, "5.1.1");
  CHECK_INT(bnc_reply_parse(big, BNC_REPLY_MAX + 1, textbuf, sizeof textbuf, &r), BNC_ETOOBIG);
  CHECK_INT(bnc_reply_parse(big, 100, textbuf, 10, &r), BNC_EINVAL);
  free(big);
}

typedef struct { uint32_t ids[16]; size_t ends[16]; int n; } hits;

static int collect(void *ud, uint32_t id, size_t end) {
  hits *h = ud;
  if (h->n < 16) { h->ids[h->n] = id; h->ends[h->n] = end; h->n++; }
  return 0;
}

static void test_matcher(void) {
  bnc_matcher_t *m = bnc_matcher_new();
  hits h;
  CHECK_INT(bnc_matcher_add(m, "User  Unknown", 13, 7), 12);
  CHECK_INT(bnc_matcher_add(m, "unknown", 7, 3), 7);
  CHECK_INT(bnc_matcher_add(m, " ", 1, 9), 0);   /* empty after normalizing */
  CHECK_INT(bnc_matcher_build(m), BNC_OK);
  memset(&h, 0, sizeof h);
  bnc_matcher_scan(m, "550 USER\r\n\tunknown here", 23, collect, &h);
  CHECK_INT(h.n, 2);
  CHECK_INT(h.ids[0], 3);                         /* ascending ids */
  CHECK_INT(h.ids[1], 7);
  memset(&h, 0, sizeof h);
  bnc_matcher_scan(m, "no match", 8, collect, &h);
  CHECK_INT(h.n, 0);
  bnc_matcher_free(m);
}

/* A long text is scanned in four parts at once from guessed states
 * (match.c, scan_split); bnc_matcher_scan_many with one text scans it in one
 * lane. Both must report the same hits in the same order, and honour "skip
 * the rest here" (1) and "stop" (2) alike: over random texts of a small
 * alphabet, dense with matches at every offset, with phrases longer than
 * the parts' warm-up so that guesses go wrong. */
typedef struct { uint32_t id[4096]; size_t end[4096]; size_t n, stop_at; } hitlog;

static int log_hit(void *ud, uint32_t id, size_t end) {
  hitlog *h = ud;
  if (h->n < 4096) { h->id[h->n] = id; h->end[h->n] = end; }
  h->n++;
  if (h->stop_at && h->n == h->stop_at) return 2;
  return id % 5 == 0 ? 1 : 0;   /* some phrases skip the rest of their position */
}

static void test_matcher_split(void) {
  static const char *const phrases[] = {
    "ab", "ba b", "aab", "b a", "abba", "a  b", "bbb", "a",
    "bbbbbbbbbbbbbbbbbbbbbbbb", "abababababababababab", "a b a b a b a b a b a b a",
    "baaaaaaaaaaaaaaaaaaaaaab", " ab", "ba ", "b"
  };
  static const char alphabet[] = "aAbB \t\n";
  static char text[400];
  static hitlog a, b;
  bnc_matcher_t *m = bnc_matcher_new();
  uint32_t seed = 12345;
  size_t i, k, len, bad = 0, runs = 0;
  for (i = 0; i < sizeof phrases / sizeof phrases[0]; i++)
    bnc_matcher_add(m, phrases[i], strlen(phrases[i]), (uint32_t)i + 1);
  CHECK_INT(bnc_matcher_build(m), BNC_OK);
  for (k = 0; k < 3000; k++) {
    const char *ss[1];
    size_t ns[1];
    void *uds[1];
    int mode = (int)(k % 3);
    len = 32 + k % 360;
    for (i = 0; i < len; i++) {
      seed = seed * 1103515245u + 12345u;
      /* runs of one letter now and then: long phrases match, guesses fail */
      text[i] = (k % 7 == 0 && i % 40 < 30) ? 'b' : alphabet[(seed >> 16) % 7];
    }
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.stop_at = b.stop_at = mode == 2 ? 1 + k % 23 : 0;
    bnc_matcher_scan(m, text, len, log_hit, &a);
    ss[0] = text; ns[0] = len; uds[0] = &b;
    bnc_matcher_scan_many(m, 1, ss, ns, log_hit, uds);
    runs++;
    if (a.n != b.n || memcmp(a.id, b.id, (a.n < 4096 ? a.n : 4096) * sizeof a.id[0]) != 0 ||
        memcmp(a.end, b.end, (a.n < 4096 ? a.n : 4096) * sizeof a.end[0]) != 0) {
      if (!bad) fprintf(stderr, "split scan differs on text %lu (%lu bytes): %lu hits, one lane %lu\n",
                        (unsigned long)k, (unsigned long)len, (unsigned long)a.n, (unsigned long)b.n);
      bad++;
    }
  }
  CHECK_INT(bad, 0);
  CHECK_INT(runs, 3000);
  bnc_matcher_free(m);
}

static const char *classify(bnc_ruleset_t *rs, const char *s, bnc_class_t *c) {
  bnc_reply_t r;
  static char name[256];
  CHECK_INT(parse(s, &r), BNC_OK);
  bnc_classify(rs, &r, textbuf, r.text_len, r.rhost_len ? s + r.rhost_off : NULL,
               r.rhost_len, c);
  return c->rule >= 0 ? bnc_ruleset_rule_name(rs, (size_t)c->rule, name, sizeof name)
                      : c->source;
}

static void test_classify(void) {
  bnc_ruleset_t *rs = bnc_ruleset_new(1);
  bnc_class_t c;
  bnc_rule_def_t d;
  char err[128];
  CHECK_INT(bnc_ruleset_compile(rs), BNC_OK);

  classify(rs, "250 2.0.0 OK", &c);
  CHECK_INT(c.reason, BNC_R_DELIVERED);
  CHECK_INT(c.type, BNC_T_DELIVERED);

  classify(rs, "550 5.0.0 <x@example.org>... User unknown", &c);   /* text beats code */
  CHECK_INT(c.reason, BNC_R_USERUNKNOWN);
  CHECK_INT(c.type, BNC_T_HARD);
  CHECK_STR(c.source, "text");

  classify(rs, "452 4.2.2 Mailbox full", &c);
  CHECK_INT(c.reason, BNC_R_MAILBOXFULL);
  CHECK_INT(c.type, BNC_T_SOFT);
  CHECK_INT(c.permanent, 0);

  classify(rs, "550 5.1.2 zzz", &c);                              /* registry */
  CHECK_INT(c.reason, BNC_R_HOSTUNKNOWN);
  CHECK_STR(c.source, "status");

  classify(rs, "551 zzz", &c);                                    /* bare code */
  CHECK_INT(c.reason, BNC_R_HASMOVED);
  CHECK_STR(c.source, "code");

  classify(rs, "zzz", &c);
  CHECK_INT(c.reason, BNC_R_UNDEFINED);
  CHECK_INT(c.type, BNC_T_SOFT);

  /* the same words after DATA come from a filter, not a dead address */
  classify(rs, "host mx.example.org[192.0.2.1] said: 550 5.1.1 User unknown "
               "(in reply to end of DATA command)", &c);
  CHECK_INT(c.reason, BNC_R_FILTERED);
  CHECK_INT(c.context_changed, 1);
  CHECK(c.type != BNC_T_HARD);

  /* a user rule wins over the built-in ones, with its conditions */
  memset(&d, 0, sizeof d);
  d.name = "acme-frozen"; d.pattern = "account*frozen"; d.reason = "suspend";
  d.code = "55"; d.example = "550 Account is frozen";
  CHECK_INT(bnc_ruleset_add(rs, &d, err, sizeof err), BNC_OK);
  CHECK_INT(bnc_ruleset_compile(rs), BNC_OK);
  CHECK_STR(classify(rs, "550 account of user unknown is frozen", &c), "acme-frozen");
  CHECK_INT(c.reason, BNC_R_SUSPEND);
  /* the condition on the code holds it back for a 4xx ... */
  classify(rs, "450 account of user unknown is frozen", &c);
  CHECK(c.reason != BNC_R_SUSPEND);
  /* ... and fragments must come in order */
  classify(rs, "550 frozen account", &c);
  CHECK(c.reason != BNC_R_SUSPEND);

  d.pattern = "x"; d.reason = "nosuchreason";
  CHECK_INT(bnc_ruleset_add(rs, &d, err, sizeof err), BNC_EINVAL);
  CHECK(strstr(err, "nosuchreason") != NULL);
  d.reason = "blocked"; d.code = "650";
  CHECK_INT(bnc_ruleset_add(rs, &d, err, sizeof err), BNC_EINVAL);
  CHECK(strstr(err, "code") != NULL);

  bnc_ruleset_clear_user(rs);
  CHECK_INT(bnc_ruleset_compile(rs), BNC_OK);
  classify(rs, "550 account is frozen", &c);
  CHECK(c.reason != BNC_R_SUSPEND);
  bnc_ruleset_free(rs);
}

typedef struct { int n; size_t rule; long other; } problems;

static void on_problem(void *ud, size_t rule, long other, const char *what) {
  problems *p = ud;
  (void)what;
  p->n++; p->rule = rule; p->other = other;
}

static void test_checks(void) {
  bnc_ruleset_t *rs = bnc_ruleset_new(0);
  bnc_rule_def_t d;
  problems p;
  char err[128];
  memset(&d, 0, sizeof d);
  d.pattern = "unknown"; d.reason = "userunknown"; d.example = "550 unknown";
  CHECK_INT(bnc_ruleset_add(rs, &d, err, sizeof err), BNC_OK);
  d.pattern = "host unknown"; d.reason = "hostunknown"; d.example = "550 host unknown";
  CHECK_INT(bnc_ruleset_add(rs, &d, err, sizeof err), BNC_OK);
  CHECK_INT(bnc_ruleset_compile(rs), BNC_OK);
  memset(&p, 0, sizeof p);
  /* "host unknown" always contains "unknown", which comes first */
  CHECK(bnc_ruleset_check(rs, on_problem, &p) >= 1);
  CHECK_INT(p.rule, 1);
  CHECK_INT(p.other, 0);
  bnc_ruleset_free(rs);

  rs = bnc_ruleset_new(1);
  CHECK_INT(bnc_ruleset_compile(rs), BNC_OK);
  memset(&p, 0, sizeof p);
  CHECK_INT(bnc_ruleset_check(rs, on_problem, &p), 0);   /* built-ins are clean */
  bnc_ruleset_free(rs);
}

/* bnc_classify_batch decides exactly as one bnc_classify call per reply:
 * over every built-in rule's example (texts of all lengths), in batches of
 * every size around the lane and block widths, with a user rule in front. */
static void test_batch(void) {
  enum { MAXN = 2048, TEXT = 1024 };
  static bnc_reply_t replies[MAXN];
  static char texts[MAXN][TEXT];
  static bnc_batch_item_t items[MAXN];
  static bnc_class_t one[MAXN];
  static const size_t sizes[] = { 1, 2, 3, 4, 5, 15, 16, 17, 33, MAXN };
  bnc_ruleset_t *rs = bnc_ruleset_new(1);
  bnc_rule_def_t d;
  char err[128];
  size_t n = 0, i, k, bad = 0;
  memset(&d, 0, sizeof d);
  d.pattern = "mailbox*frozen";
  d.reason = "suspend";
  d.example = "550 mailbox is frozen";
  CHECK_INT(bnc_ruleset_add(rs, &d, err, sizeof err), BNC_OK);
  CHECK_INT(bnc_ruleset_compile(rs), BNC_OK);
  for (i = 0; i < bnc_builtin_rules_count && n < MAXN; i++) {
    const char *ex = bnc_builtin_rules[i].example;
    if (!ex || bnc_reply_parse(ex, strlen(ex), texts[n], TEXT, &replies[n]) != BNC_OK) continue;
    bnc_classify(rs, &replies[n], texts[n], replies[n].text_len, NULL, 0, &one[n]);
    n++;
  }
  CHECK(n > 100);
  for (k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    size_t size = sizes[k] < n ? sizes[k] : n, start;
    for (start = 0; start < n; start += size) {
      size_t m = n - start < size ? n - start : size;
      for (i = 0; i < m; i++) {
        bnc_batch_item_t *it = &items[i];
        memset(it, 0, sizeof *it);
        it->reply = &replies[start + i];
        it->text = texts[start + i];
        it->tlen = replies[start + i].text_len;
      }
      bnc_classify_batch(rs, items, m);
      for (i = 0; i < m; i++) {
        const bnc_class_t *a = &one[start + i], *b = &items[i].out;
        if (a->reason != b->reason || a->type != b->type || a->permanent != b->permanent ||
            a->rule != b->rule || strcmp(a->source, b->source) != 0 ||
            a->context_changed != b->context_changed) bad++;
      }
    }
  }
  CHECK_INT(bad, 0);
  bnc_ruleset_free(rs);
}

/* bnc_decide: each step of the order in classify.h, given the signals a
 * bounce message adds to a reply. */
static bnc_class_t decided;
static bnc_reply_t dreply;
static bnc_signals_t dsig;

/* Signals for reply s as a bounce relays it (nothing else known yet). */
static bnc_signals_t *signals(const bnc_ruleset_t *rs, const char *s) {
  CHECK_INT(parse(s, &dreply), BNC_OK);
  memset(&dsig, 0, sizeof dsig);
  dsig.reply = &dreply;
  dsig.text = textbuf;
  dsig.tlen = dreply.text_len;
  dsig.rule = bnc_classify_scan(rs, &dreply, textbuf, dreply.text_len, NULL, 0);
  dsig.report = dsig.diag_type = dsig.format = BNC_R_UNDEFINED;
  dsig.flags = BNC_SIG_RELAYED;
  return &dsig;
}

static const char *decide_name(const bnc_ruleset_t *rs) {
  bnc_decide(rs, &dsig, &decided);
  return bnc_reason_name(decided.reason);
}

static void test_decide(void) {
  bnc_ruleset_t *rs = bnc_ruleset_new(1);
  bnc_signals_t *s;
  CHECK_INT(bnc_ruleset_compile(rs), BNC_OK);

  /* what is no failure comes first, whatever the reply says */
  s = signals(rs, "550 5.1.1 user unknown");
  s->report = BNC_R_FEEDBACK;
  CHECK_STR(decide_name(rs), "feedback");
  CHECK_INT(decided.type, BNC_T_COMPLAINT);
  CHECK_INT(decided.rule, -1);
  s = signals(rs, "550 5.1.1 user unknown");
  s->action = BNC_DSN_DELIVERED;                    /* Action: relayed */
  CHECK_STR(decide_name(rs), "delivered");
  CHECK_STR(decided.source, "action");
  CHECK_INT(decided.rule, -1);                      /* the rule did not decide */

  /* text rule, then a specific status, then the Diagnostic-Code type */
  s = signals(rs, "550 5.2.2 <a@example.org>: user unknown");
  dreply.command = BNC_CMD_RCPT;
  CHECK_STR(decide_name(rs), "userunknown");
  CHECK_STR(decided.source, "text");
  s = signals(rs, "5.2.2 zzz");
  s->diag_type = BNC_R_SYSTEMERROR;
  CHECK_STR(decide_name(rs), "mailboxfull");
  CHECK_STR(decided.source, "status");
  s = signals(rs, "5.3.0 zzz");                     /* X-Unix; 255 with a generic status */
  s->diag_type = BNC_R_MAILERERROR;
  CHECK_STR(decide_name(rs), "mailererror");
  CHECK_STR(decided.source, "type");
  s = signals(rs, "5.3.0 zzz");                     /* the generic status, then */
  CHECK_STR(decide_name(rs), "systemerror");
  CHECK_STR(decided.source, "status");
  s = signals(rs, "552 zzz");                       /* the basic code */
  CHECK_STR(decide_name(rs), "mailboxfull");
  CHECK_STR(decided.source, "code");
  CHECK_INT(bnc_reply_says(rs, s), BNC_R_MAILBOXFULL);

  /* the stage: after DATA a dead-address reason is a filter's ... */
  s = signals(rs, "550 5.1.1 <a@example.org>: user unknown");
  dreply.command = BNC_CMD_DATA;
  CHECK_STR(decide_name(rs), "filtered");
  CHECK_INT(decided.context_changed, 1);
  CHECK(decided.rule >= 0);                         /* the rule that gave way */
  CHECK_INT(bnc_reply_says(rs, s), BNC_R_USERUNKNOWN);   /* before the stage */
  s = signals(rs, "550 5.1.1 <a@example.org>: user unknown");
  dreply.command = BNC_CMD_MAIL;                    /* ... after MAIL FROM the sender's */
  CHECK_STR(decide_name(rs), "rejected");

  /* a relayed "user unknown" needs evidence that ties it to the address */
  s = signals(rs, "550 sorry, user unknown");
  CHECK_STR(decide_name(rs), "filtered");
  CHECK_STR(decided.source, "context");
  s = signals(rs, "550 sorry, user unknown");
  dreply.command = BNC_CMD_RCPT;
  CHECK_STR(decide_name(rs), "userunknown");
  s = signals(rs, "550 sorry, user unknown");
  s->flags |= BNC_SIG_MAILBOX;
  CHECK_STR(decide_name(rs), "userunknown");
  s = signals(rs, "550 sorry, user unknown");
  s->flags = 0;                                     /* a live reply keeps its text's reason */
  CHECK_STR(decide_name(rs), "userunknown");

  /* nothing spoke: the format's reason, else onhold for words, else undefined */
  s = signals(rs, "zzz qqq");
  s->format = BNC_R_EXPIRED;
  CHECK_STR(decide_name(rs), "expired");
  CHECK_STR(decided.source, "format");
  CHECK_INT(decided.permanent, 0);                  /* by the reason's nature */
  s = signals(rs, "zzz qqq");
  s->format = BNC_R_FILTERED;
  CHECK_STR(decide_name(rs), "filtered");
  CHECK_INT(decided.permanent, 1);
  s = signals(rs, "zzz qqq");
  CHECK_STR(decide_name(rs), "onhold");
  s = signals(rs, "zzz qqq");
  s->action = BNC_DSN_DELAYED;                      /* a delay notice naming no cause: */
  CHECK_STR(decide_name(rs), "expired");            /* queued too long, not an unread failure */
  CHECK_STR(decided.source, "action");
  s = signals(rs, "452 4.2.2 zzz qqq");
  s->action = BNC_DSN_DELAYED;                      /* a specific status names the cause */
  CHECK_STR(decide_name(rs), "mailboxfull");
  s = signals(rs, "4.0.0 zzz qqq");
  s->action = BNC_DSN_FAILED;                       /* given up on a temporary failure */
  CHECK_STR(decide_name(rs), "expired");
  CHECK_STR(decided.source, "action");
  s = signals(rs, "5.0.0 zzz qqq");
  s->action = BNC_DSN_FAILED;                       /* a permanent one is no expiry */
  CHECK_STR(decide_name(rs), "onhold");
  s = signals(rs, "550 12345");
  CHECK_STR(decide_name(rs), "undefined");          /* no words at all */
  s = signals(rs, "zzz qqq");
  s->flags = 0;
  CHECK_STR(decide_name(rs), "undefined");          /* bnc_classify keeps undefined */

  /* bnc_classify is bnc_decide with nothing but the reply */
  {
    bnc_class_t c;
    s = signals(rs, "550 sorry, user unknown");
    s->flags = 0;
    bnc_decide(rs, s, &decided);
    bnc_classify(rs, &dreply, textbuf, dreply.text_len, NULL, 0, &c);
    CHECK(memcmp(&c, &decided, sizeof c) == 0);
  }
  bnc_ruleset_free(rs);
}

/* Several replies in one text: the refusal is the answer, with the command
 * it answered, whatever positive replies come before or after it. */
static void test_transcripts(void) {
  bnc_reply_t r;
  const char *s =
    "... while talking to mx.example.net.:\n"
    "<<< 220-mx.example.net ESMTP Service ready\n"
    "<<< 220 mx.example.net No UCE\n"
    ">>> EHLO mta.example.org\n"
    "<<< 250-mx.example.net Hello mta.example.org [192.0.2.10]\n"
    "<<< 250-ENHANCEDSTATUSCODES\n"
    "<<< 250 SIZE 52428800\n"
    ">>> MAIL From:<a@example.org> SIZE=1234\n"
    "<<< 250 2.1.0 <a@example.org>... Sender ok\n"
    ">>> RCPT To:<b@example.net>\n"
    "<<< 250 2.1.5 <b@example.net>... Recipient ok\n"
    ">>> RCPT To:<c@example.net>\n"
    "<<< 550 5.1.1 <c@example.net>... User unknown\n"
    ">>> DATA\n"
    "<<< 503 5.0.0 Need RCPT (recipient)\n"
    ">>> QUIT\n"
    "<<< 221 2.0.0 mx.example.net closing connection\n";
  CHECK_INT(parse(s, &r), BNC_OK);
  CHECK_INT(r.code, 550);
  CHECK_STR(r.status, "5.1.1");
  CHECK_INT(r.command, BNC_CMD_RCPT);   /* not the DATA sent after it */
  CHECK(strncmp(text_of(&r), "<c@example.net>... User unknown", 31) == 0);
  CHECK(strstr(text_of(&r), "Sender ok") == NULL);
  CHECK(strstr(text_of(&r), "closing") == NULL);
  /* pipelined (RFC 2920): each reply answers the oldest command unanswered */
  CHECK_INT(parse(">>> MAIL From:<a@example.org>\n>>> RCPT To:<b@example.net>\n>>> DATA\n"
                  "<<< 250 2.1.0 Ok\n<<< 554 5.7.1 <b@example.net>: Relay access denied\n"
                  "<<< 554 5.5.1 Error: no valid recipients\n", &r), BNC_OK);
  CHECK_INT(r.code, 554);
  CHECK_STR(r.status, "5.7.1");
  CHECK_INT(r.command, BNC_CMD_RCPT);
  /* the reply to the end of the data is DATA's */
  CHECK_INT(parse(">>> DATA\n<<< 354 End data with <CR><LF>.<CR><LF>\n>>> .\n"
                  "<<< 554 5.7.1 Message rejected as spam\n", &r), BNC_OK);
  CHECK_INT(r.code, 554);
  CHECK_INT(r.command, BNC_CMD_DATA);
  CHECK_STR(text_of(&r), "Message rejected as spam");
  /* a greeting's continuation before the refusal, no transcript marks */
  CHECK_INT(parse("220-mx.example.net ESMTP\n554 5.7.1 Service unavailable; Client host "
                  "[192.0.2.7] blocked using zen.spamhaus.org", &r), BNC_OK);
  CHECK_INT(r.code, 554);
  CHECK_STR(r.status, "5.7.1");
  CHECK(strncmp(text_of(&r), "Service unavailable;", 20) == 0);
  CHECK_INT(parse("250 2.1.5 Ok\n550 5.1.1 No such user", &r), BNC_OK);
  CHECK_INT(r.code, 550);
  CHECK_STR(text_of(&r), "No such user");
  /* a positive reply alone stays what it is */
  CHECK_INT(parse("250 2.0.0 Ok: queued as 4B1C2", &r), BNC_OK);
  CHECK_INT(r.code, 250);
  CHECK_STR(r.status, "2.0.0");
  /* a refusal then the client's own summary line: both are text */
  CHECK_INT(parse("<<< 550 5.7.1 Rejected\n554 5.0.0 Service unavailable", &r), BNC_OK);
  CHECK_INT(r.code, 550);
  CHECK_STR(text_of(&r), "Rejected 554 5.0.0 Service unavailable");
  /* a second refusal with the same code continues the first's text */
  CHECK_INT(parse(">>> RCPT To:<c@example.net>\n<<< 550 5.1.1 User unknown\n"
                  "550 5.1.1 <c@example.net>... User unknown", &r), BNC_OK);
  CHECK_INT(r.command, BNC_CMD_RCPT);
  CHECK_INT(r.code, 550);
  /* a command with no reply shown is still the stage */
  CHECK_INT(parse("... while talking to mx.example.net.:\n>>> DATA\n", &r), BNC_OK);
  CHECK_INT(r.command, BNC_CMD_DATA);
}

/* Codes inside text: a number is a reply code when its status follows it,
 * when it opens a line, or where a reply is quoted; not inside prose. */
static void test_codes_in_text(void) {
  bnc_reply_t r;
  CHECK_INT(parse("The message of 452 lines could not be delivered", &r), BNC_OK);
  CHECK_INT(r.code, 0);
  CHECK_INT(parse("Delivery failed after 421 attempts: host said 550 5.1.1 no such user", &r),
            BNC_OK);
  CHECK_INT(r.code, 550);
  CHECK_INT(parse("Remote Server returned '554 5.7.1 Access denied'", &r), BNC_OK);
  CHECK_INT(r.code, 554);
  CHECK_INT(parse("The error that the other server returned was: 550 No such user", &r), BNC_OK);
  CHECK_INT(r.code, 550);
  CHECK_INT(parse("5.3.0 - Other mail system problem 550-'Unknown user a@example.net'", &r),
            BNC_OK);
  CHECK_INT(r.code, 550);
  CHECK_STR(r.status, "5.3.0");
  /* a line of the input that opens with a code, after words on the line before */
  CHECK_INT(parse("192.0.2.1 does not like recipient.\nRemote host said: 552 disk quota exceeded",
                  &r), BNC_OK);
  CHECK_INT(r.code, 552);
  /* a status of the other class does not make a number a code */
  CHECK_INT(parse("the queue holds 550 4.2.2 messages", &r), BNC_OK);
  CHECK_INT(r.code, 0);
}

int main(void) {
  test_single_line();
  test_multi_line();
  test_status_inside();
  test_wrappers();
  test_transcripts();
  test_codes_in_text();
  test_disagreement();
  test_hostile();
  test_matcher();
  test_matcher_split();
  test_classify();
  test_checks();
  test_batch();
  test_decide();
  return DONE();
}
