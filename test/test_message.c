/*
 * test_message.c - C unit tests of the message parser: DSN, ARF,
 * auto-replies, plain-text bounces, decoders and hostile inputs.
 */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "classify.h"
#include "date.h"
#include "message.h"
#include "charset.h"
#include "ses.h"

static bnc_ruleset_t *rules;
static bnc_message_t msg;

static int parse_n(const char *s, size_t n) {
  size_t cap = BNC_MSG_ARENA(n);
  static char *arena;
  static size_t have;
  if (cap > have) { free(arena); arena = malloc(cap); have = cap; }
  if (!arena) return BNC_ENOMEM;
  return bnc_message_parse(s, n, rules, NULL, 0, arena, cap, &msg);
}

static int parse(const char *s) { return parse_n(s, strlen(s)); }

static int str_is(bnc_str_t s, const char *want) {
  return s.p && s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
}

#define DSN_HEAD \
  "From: MAILER-DAEMON@mx.example.com\r\n" \
  "Subject: Undelivered Mail Returned to Sender\r\n" \
  "Content-Type: multipart/report; report-type=delivery-status;\r\n" \
  "\tboundary=\"BB\"\r\n\r\n"

static void test_dsn_two_recipients(void) {
  const char *m = DSN_HEAD
    "--BB\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n"
    "--BB\r\nContent-Type: message/delivery-status\r\n\r\n"
    "Reporting-MTA: dns; mx.example.com\r\nArrival-Date: Sat, 21 Jun 2014 18:34:34 +0000\r\n\r\n"
    "Final-Recipient: rfc822; ann@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    "Remote-MTA: dns; mx.example.org\r\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <ann@example.org>:\r\n    User unknown\r\n\r\n"
    "Final-Recipient: rfc822; bob@example.org\r\nAction: delayed\r\nStatus: 4.2.2\r\n"
    "Diagnostic-Code: smtp; 452 4.2.2 Mailbox full\r\n\r\n"
    "--BB\r\nContent-Type: text/rfc822-headers\r\n\r\n"
    "Message-ID: <1@example.com>\r\nFrom: me@example.com\r\nTo: ann@example.org\r\n"
    "Subject: =?UTF-8?B?aGVsbG8=?= =?UTF-8?Q?_world?=\r\n\r\n"
    "--BB--\r\n";
  CHECK_INT(parse(m), BNC_OK);
  CHECK_STR(msg.format, "rfc3464");
  CHECK_INT(msg.nrcpt, 2);
  CHECK(str_is(msg.reporting_mta, "mx.example.com"));
  CHECK(str_is(msg.rcpt[0].rcpt, "ann@example.org"));
  CHECK(str_is(msg.rcpt[0].status, "5.1.1"));
  CHECK(str_is(msg.rcpt[0].rhost, "mx.example.org"));
  CHECK(str_is(msg.rcpt[0].diag, "smtp; 550 5.1.1 <ann@example.org>: User unknown"));
  CHECK_INT(msg.rcpt[0].reply.code, 550);
  CHECK_STR(bnc_reason_name(msg.rcpt[0].cls.reason), "userunknown");
  CHECK_INT(msg.rcpt[0].cls.type, BNC_T_HARD);
  CHECK_INT(msg.rcpt[1].delayed, 1);
  CHECK_STR(bnc_reason_name(msg.rcpt[1].cls.reason), "mailboxfull");
  CHECK(str_is(msg.message_id, "<1@example.com>"));
  CHECK(str_is(msg.subject, "hello world"));
}

static void test_status_fallback_and_line_ends(void) {
  /* bare CR line ends, no Diagnostic-Code: the Status field decides */
  const char *m = "Content-Type: multipart/report; boundary=x\r\r--x\r"
    "Content-Type: message/delivery-status\r\r"
    "Reporting-MTA: dns; a.example\r\rFinal-Recipient: rfc822; c@example.org\rAction: failed\r"
    "Status: 5.1.2\r\r--x--\r";
  CHECK_INT(parse(m), BNC_OK);
  CHECK_INT(msg.nrcpt, 1);
  CHECK_STR(bnc_reason_name(msg.rcpt[0].cls.reason), "hostunknown");
  CHECK(str_is(msg.rcpt[0].status, "5.1.2"));
}

static void test_base64_and_qp_parts(void) {
  const char *m = "Content-Type: multipart/report; boundary=q\n\n--q\n"
    "Content-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n"
    /* "Final-Recipient: rfc822; d@example.org\nAction: failed\nStatus: 5.2.2\n" */
    "RmluYWwtUmVjaXBpZW50OiByZmM4MjI7IGRAZXhhbXBsZS5vcmcKQWN0aW9uOiBmYWlsZWQKU3Rh\n"
    "dHVzOiA1LjIuMgo=\n--q\nContent-Type: message/rfc822\nContent-Transfer-Encoding: quoted-printable\n\n"
    "Subject: caf=C3=A9 =\nlatte\n\n--q--\n";
  char out[64];
  CHECK_INT(parse(m), BNC_OK);
  CHECK(str_is(msg.rcpt[0].rcpt, "d@example.org"));
  CHECK_STR(bnc_reason_name(msg.rcpt[0].cls.reason), "mailboxfull");
  CHECK(str_is(msg.subject, "caf\xc3\xa9 latte"));
  CHECK_INT(bnc_base64_decode("aGk*!=", 6, out, sizeof out), 2);
  CHECK_INT(bnc_qp_decode("a=ZZb=4", 7, out, sizeof out), 7);   /* invalid kept as is */
}

static void test_arf(void) {
  const char *m = "Content-Type: multipart/report; report-type=feedback-report; boundary=f\n\n"
    "--f\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nSource-IP: 192.0.2.1\n"
    "Original-Rcpt-To: eve@example.org\n\n--f\nContent-Type: message/rfc822\n\n"
    "From: me@example.com\nSubject: offer\n\nbody\n--f--\n";
  CHECK_INT(parse(m), BNC_OK);
  CHECK_STR(msg.format, "arf");
  CHECK(str_is(msg.feedback_type, "abuse"));
  CHECK(str_is(msg.source_ip, "192.0.2.1"));
  CHECK(str_is(msg.rcpt[0].rcpt, "eve@example.org"));
  CHECK_INT(msg.rcpt[0].cls.type, BNC_T_COMPLAINT);
}

static void test_autoreply_and_plain_text(void) {
  CHECK_INT(parse("From: Kim <kim@example.org>\nAuto-Submitted: auto-replied\n"
                  "Subject: Out of office\n\nBack on Monday.\n"), BNC_OK);
  CHECK_STR(msg.format, "autoreply");
  CHECK(str_is(msg.rcpt[0].rcpt, "kim@example.org"));
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_VACATION);
  CHECK_INT(parse("From: MAILER-DAEMON@a.example\nSubject: failure notice\n\n"
                  "Hi. This is the qmail-send program at a.example.\n\n"
                  "<x@example.org>:\n192.0.2.1 does not like recipient.\n"
                  "Remote host said: 550 5.1.1 no such user\n\n"), BNC_OK);
  CHECK_STR(msg.format, "qmail");
  CHECK(str_is(msg.rcpt[0].rcpt, "x@example.org"));
  CHECK_INT(msg.rcpt[0].cls.type, BNC_T_HARD);
  CHECK_INT(parse("Subject: hello\n\nJust a letter.\n"), BNC_ENOTBOUNCE);
  CHECK_INT(parse(" \r\n "), BNC_EEMPTY);
}

static void test_dates(void) {
  const char *d = "Sat, 21 Jun 2014 18:35:16 +0000 (UTC)";
  CHECK(bnc_date_parse(d, strlen(d)) == 1403375716LL);
  d = "21 Jun 14 20:35:16 +0200";
  CHECK(bnc_date_parse(d, strlen(d)) == 1403375716LL);
  d = "yesterday";
  CHECK(bnc_date_parse(d, strlen(d)) == -1);
}

/* Legacy charsets to UTF-8: each kind, names, and a buffer too small. */
static void test_charsets(void) {
  char out[64];
  size_t n;
  const char *jis = "a\033$B0!\033(Bz";             /* a, U+4E9C, z */
  const char *sjis = "a\x88\x9f\xb1z";              /* a, U+4E9C, half-width katakana a, z */
  const char *euc = "\xb0\xa1\x8e\xb1";            /* U+4E9C, half-width a */
  CHECK_INT(bnc_charset_find("ISO-8859-1", 10), 0);
  CHECK_INT(bnc_charset_find("\"Shift_JIS\"", 11), BNC_CS_SJIS);
  CHECK_INT(bnc_charset_find("utf-8", 5), BNC_CS_NONE);
  CHECK_INT(bnc_charset_find("x-unknown", 9), BNC_CS_NONE);
  n = bnc_charset_to_utf8(BNC_CS_ISO2022JP, jis, strlen(jis), out, sizeof out);
  CHECK(n == 5 && memcmp(out, "a\xe4\xba\x9cz", 5) == 0);
  n = bnc_charset_to_utf8(BNC_CS_SJIS, sjis, strlen(sjis), out, sizeof out);
  CHECK(n == 8 && memcmp(out, "a\xe4\xba\x9c\xef\xbd\xb1z", 8) == 0);
  n = bnc_charset_to_utf8(BNC_CS_EUCJP, euc, strlen(euc), out, sizeof out);
  CHECK(n == 6 && memcmp(out, "\xe4\xba\x9c\xef\xbd\xb1", 6) == 0);
  n = bnc_charset_to_utf8(bnc_charset_find("koi8-r", 6), "\xe1", 1, out, sizeof out);   /* U+0410 */
  CHECK(n == 2 && memcmp(out, "\xd0\x90", 2) == 0);
  n = bnc_charset_to_utf8(bnc_charset_find("windows-1252", 12), "\x81\x80", 2, out, sizeof out);
  CHECK(n == 6 && memcmp(out, "\xef\xbf\xbd\xe2\x82\xac", 6) == 0);   /* unmapped, euro */
  CHECK(bnc_charset_to_utf8(BNC_CS_ISO2022JP, jis, strlen(jis), out, 3) == 5);   /* the size, beyond cap */
  CHECK(bnc_charset_to_utf8(BNC_CS_ISO2022JP, jis, strlen(jis), NULL, 0) == 5);
  CHECK(bnc_charset_sniff_jis(jis, strlen(jis)) && !bnc_charset_sniff_jis("a\033(Bz", 5));
}

/* bnc_message_at: the report's dates, else the bounce's Date, else the
 * returned message's. */
static void test_message_at(void) {
  int from = -1;
  const char *plain =
    "From: MAILER-DAEMON@mx.example.net\nSubject: Undelivered Mail Returned to Sender\n"
    "Date: Tue, 10 Mar 2015 08:00:00 +0100\n\n"
    "This is the mail system at host mx.example.net.\n\n"
    "<ann@example.org>: host mx.example.org[192.0.2.1] said: 550 5.1.1 user unknown\n\n"
    "--- Below this line is a copy of the message.\n\nFrom: news@example.com\n"
    "Date: Mon, 09 Mar 2015 10:00:00 +0000\n";
  CHECK_INT(parse(plain), BNC_OK);
  CHECK(bnc_message_at(&msg, 0, &from) == 1425970800LL);
  CHECK_INT(from, BNC_AT_DATE);
  CHECK(str_is(msg.date, "Mon, 09 Mar 2015 10:00:00 +0000"));
  CHECK(bnc_message_at(&msg, 1, &from) == -1);
  CHECK_INT(from, BNC_AT_NONE);
  plain = "From: MAILER-DAEMON@mx.example.net\nSubject: Undelivered Mail Returned to Sender\n\n"
    "This is the mail system at host mx.example.net.\n\n"
    "<ann@example.org>: host mx.example.org[192.0.2.1] said: 550 5.1.1 user unknown\n\n"
    "--- Below this line is a copy of the message.\n\nFrom: news@example.com\n"
    "Date: Mon, 09 Mar 2015 10:00:00 +0000\n";
  CHECK_INT(parse(plain), BNC_OK);
  CHECK(bnc_message_at(&msg, 0, &from) == 1425895200LL);
  CHECK_INT(from, BNC_AT_ORIGINAL_DATE);
}

static void test_hostile(void) {
  size_t n = 1000 * 64, i, k = 0;
  char *m = malloc(n + 64);
  /* 1000 nested multiparts */
  for (i = 0; i < 1000; i++)
    k += (size_t)sprintf(m + k, "Content-Type: multipart/mixed; boundary=b%zu\n\n--b%zu\n", i, i);
  CHECK_INT(parse_n(m, k), BNC_ENOTBOUNCE);
  CHECK(msg.warnings & BNC_MSG_W_DEPTH);
  /* no boundary, and a boundary that never closes */
  CHECK_INT(parse("Content-Type: multipart/report\n\n--x\nFinal-Recipient: a@b\n"), BNC_OK);
  CHECK(msg.warnings & BNC_MSG_W_BOUNDARY);     /* read as text: best effort */
  CHECK_INT(parse("Content-Type: multipart/report; boundary=x\n\n--x\n"
                  "Content-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@example.org\n"
                  "Action: failed\nStatus: 5.1.1\n"), BNC_OK);
  CHECK(msg.warnings & BNC_MSG_W_BOUNDARY);
  /* NUL bytes */
  memcpy(m, "Subject: x\0y\n\n\0\0\0", 17);
  CHECK_INT(parse_n(m, 17), BNC_ENOTBOUNCE);
  free(m);
  CHECK_INT(bnc_message_parse("x", BNC_MSG_MAX + 1, rules, NULL, 0, NULL, 0, &msg), BNC_ETOOBIG);
}

/* One hand-written bounce per family added with the table of evidence. */
static void test_families(void) {
  /* Exchange 5.5-2003: "a@b on DATE", the NDR text indented below */
  CHECK_INT(parse("From: System Administrator <postmaster@corp.example>\n"
                  "Subject: Undeliverable: lunch\n\nYour message\n\n  To: lee@corp.example\n"
                  "  Subject: lunch\n\ndid not reach the following recipient(s):\n\n"
                  "lee@corp.example on Tue, 3 Mar 2009 10:00:00 +0100\n"
                  "    The recipient name is not recognized\n"
                  "    MSEXCH:IMS:CORP:SITE:HOST 0 (000C05A6) Unknown Recipient\n"), BNC_OK);
  CHECK_STR(msg.format, "exchange");
  CHECK(str_is(msg.rcpt[0].rcpt, "lee@corp.example"));
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_USERUNKNOWN);
  CHECK_STR(msg.rcpt[0].pseudo_status, "5.0.911");
  /* Domino: the reason in the paragraph after "because:" */
  CHECK_INT(parse("From: Postmaster@lotus.example\nSubject: DELIVERY FAILURE: User Pat\n\n"
                  "Your message\n\n  Subject: plans\n\nwas not delivered to:\n\n"
                  "  pat@lotus.example\n\nbecause:\n\n"
                  "  User Pat (pat@lotus.example) not listed in Domino Directory\n"), BNC_OK);
  CHECK_STR(msg.format, "domino");
  CHECK(str_is(msg.rcpt[0].rcpt, "pat@lotus.example"));
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_USERUNKNOWN);
  /* au (KDDI) EZweb: "Recipient: <a@b>" and a transcript */
  CHECK_INT(parse("From: Postmaster@ezweb.example\nSubject: Mail System Error - Returned Mail\n\n"
                  "Each of the following recipients was rejected by a remote\nmail server.\n"
                  "    Recipient: <kei@ezweb.example>\n    >>> RCPT TO:<kei@ezweb.example>\n"
                  "    <<< 550 <kei@ezweb.example>: User unknown\n"), BNC_OK);
  CHECK_STR(msg.format, "ezweb");
  CHECK(str_is(msg.rcpt[0].rcpt, "kei@ezweb.example"));
  CHECK_INT(msg.rcpt[0].reply.command, BNC_CMD_RCPT);
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_USERUNKNOWN);
  /* au one net (KDDI) */
  CHECK_INT(parse("From: no-reply@mail.dion.example\nSubject: error\n\n"
                  "Your mail sent on: Thu, 5 Mar 2015 10:00:00 +0900\n"
                  "     Could not be delivered to: <aki@dion.example>\n"
                  "     As their mailbox is full.\n"), BNC_OK);
  CHECK_STR(msg.format, "kddi");
  CHECK(str_is(msg.rcpt[0].rcpt, "aki@dion.example"));
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_MAILBOXFULL);
  /* IMail: "diagnostic: a@b" lines, found by X-Mailer */
  CHECK_INT(parse("From: Postmaster <postmaster@imail.example>\nSubject: Undeliverable Mail\n"
                  "X-Mailer: <SMTP32 v8.22>\n\nInvalid final delivery userid: "
                  "ron@imail.example\nOriginal message follows.\n\nTo: ron@imail.example\n"), BNC_OK);
  CHECK_STR(msg.format, "imailserver");
  CHECK(str_is(msg.rcpt[0].rcpt, "ron@imail.example"));
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_USERUNKNOWN);
  /* Zoho: an address, then the diagnostic on the same line */
  CHECK_INT(parse("From: mailer-daemon@mail.zoho.example\nSubject: Undelivered Mail Returned to "
                  "Sender\n\nThis message was created automatically by mail delivery software.\n\n"
                  "max@example.org Invalid Address, ERROR_CODE :550, ERROR_CODE :5.2.2 "
                  "<max@example.org>... Mailbox full\n"), BNC_OK);
  CHECK_STR(msg.format, "zoho");
  CHECK(str_is(msg.rcpt[0].rcpt, "max@example.org"));
  CHECK(str_is(msg.rcpt[0].status, "5.2.2"));
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_MAILBOXFULL);
  /* Mail.ru: the same Exim text in two languages gives one record */
  CHECK_INT(parse("From: mailer-daemon@corp.mail.ru\nSubject: Mail delivery failed\n\n"
                  "  ivan@example.org\n    SMTP error from remote mail server after RCPT TO:"
                  "<ivan@example.org>:\n    host mx.example.org [192.0.2.9]: 550 5.1.1 No such user\n\n"
                  "This message was created automatically by mail delivery software.\n\n"
                  "  ivan@example.org\n    SMTP error from remote mail server after RCPT TO:"
                  "<ivan@example.org>:\n    host mx.example.org [192.0.2.9]: 550 5.1.1 No such user\n"),
            BNC_OK);
  CHECK_STR(msg.format, "mailru");
  CHECK_INT((int)msg.nrcpt, 1);
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_USERUNKNOWN);
  /* GMX: "\"a@b\":" lines, each followed by its own unindented diagnostic */
  CHECK_INT(parse("From: MAILER-DAEMON@mail.gmx.example\nSubject: Mail delivery failed\n\n"
                  "\"una@example.org\":\nSMTP error from remote server after RCPT command:\n"
                  "host: mx.example.org\n5.1.1 <una@example.org>... User unknown\n"
                  "\"dos@example.org\":\nSMTP error from remote server after RCPT command:\n"
                  "host: mx.example.org\n5.2.2 <dos@example.org>... Mailbox full\n"), BNC_OK);
  CHECK_STR(msg.format, "gmx");
  CHECK_INT((int)msg.nrcpt, 2);
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_USERUNKNOWN);
  CHECK_INT(msg.rcpt[1].cls.reason, BNC_R_MAILBOXFULL);
  /* Yahoo! Mail: "<a@b>:" then "Remote host said:", the command as a tag */
  CHECK_INT(parse("From: MAILER-DAEMON@yahoo.example\nSubject: Failure Notice\n\n"
                  "Sorry, we were unable to deliver your message to the following address.\n\n"
                  "<noor@example.org>:\nRemote host said: 550 5.1.1 <noor@example.org>: no such "
                  "mailbox [RCPT_TO]\n\n--- Below this line is a copy of the message.\n"), BNC_OK);
  CHECK_STR(msg.format, "yahoo");
  CHECK(str_is(msg.rcpt[0].rcpt, "noor@example.org"));
  CHECK_INT(msg.rcpt[0].reply.code, 550);
  CHECK_INT(msg.rcpt[0].reply.command, BNC_CMD_RCPT);
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_USERUNKNOWN);
  /* SendGrid: "id:<a@b> : ip : host : reply" */
  CHECK_INT(parse("From: Mail Delivery System <apps@sendgrid.example>\nSubject: Undelivered\n\n"
                  "This is an automatically generated message from SendGrid.\n\n"
                  "Our attempt to hand your message over failed.\n\n"
                  "q7:123:<ines@example.org> : 198.51.100.4 : mx.example.org:[198.51.100.9] : "
                  "552 5.2.2 <ines@example.org>: quota exceeded\n"), BNC_OK);
  CHECK_STR(msg.format, "sendgrid");
  CHECK(str_is(msg.rcpt[0].rcpt, "ines@example.org"));
  CHECK(str_is(msg.rcpt[0].status, "5.2.2"));
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_MAILBOXFULL);
  /* Courier: "<a@b>:", the host, then the transcript at the margin */
  CHECK_INT(parse("From: MAILER-DAEMON@courier.example\nSubject: NOTICE: mail delivery status.\n\n"
                  "This is a delivery status notification from courier.example,\n"
                  "running the Courier mail server, version 1.1.\n\n"
                  "Your message to the following recipients cannot be delivered:\n\n"
                  "<ode@example.org>:\n    mx.example.org [192.0.2.5]:\n"
                  ">>> RCPT TO:<ode@example.org>\n<<< 550 5.1.1 <ode@example.org>: unknown user\n\n"
                  "The original message follows as a separate attachment.\n"), BNC_OK);
  CHECK_STR(msg.format, "courier");
  CHECK(str_is(msg.rcpt[0].rcpt, "ode@example.org"));
  CHECK_INT(msg.rcpt[0].reply.command, BNC_CMD_RCPT);
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_USERUNKNOWN);
  /* Apache James: the reply after "Error message below:" */
  CHECK_INT(parse("From: postmaster@james.example\nSubject: Re: hello\n\n"
                  "Error: Invalid user address\n\nError message below:\n"
                  "550 - Requested action not taken: no such user here\n\nMessage details:\n"
                  "  RCPT TO: ida@example.org\n  Size (in bytes): 480\n"), BNC_OK);
  CHECK_STR(msg.format, "apachejames");
  CHECK(str_is(msg.rcpt[0].rcpt, "ida@example.org"));
  CHECK_INT(msg.rcpt[0].reply.code, 550);
  /* the notice names no stage and no status: a gateway's "no such user" */
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_FILTERED);
  /* V5 sendmail: the session transcript names each recipient */
  CHECK_INT(parse("From: MAILER-DAEMON@old.example\nSubject: Returned mail: unknown host\n\n"
                  "   ----- Transcript of session follows -----\n"
                  "While talking to mx.example.net:\n>>> MAIL From:<me@old.example>\n"
                  "<<< 550 relaying denied\n554 <una@example.net>... Remote protocol error\n"
                  "554 <dos@example.com>... 550 Host unknown\n\n"
                  "   ----- Unsent message follows -----\nSubject: hi\n"), BNC_OK);
  CHECK_STR(msg.format, "sendmail");
  CHECK_INT((int)msg.nrcpt, 2);
  CHECK_INT(msg.rcpt[0].reply.code, 550);
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_NORELAYING);
  CHECK(str_is(msg.rcpt[1].rcpt, "dos@example.com"));
  CHECK_INT(msg.rcpt[1].cls.reason, BNC_R_HOSTUNKNOWN);
  /* Amazon SES notifications through SNS: bounce, complaint, delivery */
  CHECK_INT(parse("From: SES <no-reply@sns.amazonaws.example>\nSubject: AWS Notification Message\n\n"
                  "{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":\"Permanent\","
                  "\"bouncedRecipients\":[{\"emailAddress\":\"sam@example.org\",\"action\":\"failed\","
                  "\"status\":\"5.1.1\",\"diagnosticCode\":\"smtp; 550 5.1.1 user unknown\"}]}}\n"), BNC_OK);
  CHECK_STR(msg.format, "amazonses");
  CHECK(str_is(msg.rcpt[0].rcpt, "sam@example.org"));
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_USERUNKNOWN);
  /* no diagnostic: the bounce type says what the recipient's fields do not */
  CHECK_INT(parse("From: SES <no-reply@sns.amazonaws.example>\n\n"
                  "{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":\"Transient\","
                  "\"bounceSubType\":\"MessageTooLarge\",\"bouncedRecipients\":[{\"emailAddress\":"
                  "\"sam@example.org\"}]}}\n"), BNC_OK);
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_MESGTOOBIG);
  CHECK_STR(msg.rcpt[0].cls.source, "format");
  {
    const bnc_ses_type_t *k = bnc_ses_bounce("Permanent", 9, "NoEmail", 7);
    CHECK(k && k->type == BNC_T_HARD && k->reason == BNC_R_USERUNKNOWN);
    k = bnc_ses_bounce("Transient", 9, "Unheard", 7);             /* the type's General */
    CHECK(k && k->type == BNC_T_SOFT && k->reason == BNC_R_UNDEFINED);
    CHECK(bnc_ses_bounce("Undetermined", 12, NULL, 0) == NULL);  /* it has no General */
    CHECK(bnc_ses_bounce("permanent", 9, NULL, 0) == NULL);      /* names compared exactly */
  }
  CHECK_INT(parse("From: SES <no-reply@sns.amazonaws.example>\n\n{\"notificationType\":\"Complaint\","
                  "\"complaint\":{\"complainedRecipients\":[{\"emailAddress\":\"sue@example.org\"}],"
                  "\"complaintFeedbackType\":\"abuse\"}}\n"), BNC_OK);
  CHECK_INT(msg.rcpt[0].cls.type, BNC_T_COMPLAINT);
  CHECK(str_is(msg.feedback_type, "abuse"));
  CHECK_INT(parse("From: SES <no-reply@sns.amazonaws.example>\n\n{\"notificationType\":\"Delivery\","
                  "\"delivery\":{\"recipients\":[\"tom@example.org\"],"
                  "\"smtpResponse\":\"250 2.6.0 Message received\"}}\n"), BNC_OK);
  CHECK_INT(msg.rcpt[0].cls.type, BNC_T_DELIVERED);
  /* Microsoft JMRP: a complaint without the report part */
  CHECK_INT(parse("From: staff@hotmail.example\nSubject: complaint about message from 192.0.2.7\n"
                  "Content-Type: multipart/mixed; boundary=\"j\"\n\n--j\n"
                  "Content-Type: message/rfc822\n\nX-HmXmrOriginalRecipient: viv@example.org\n"
                  "From: news@example.com\nSubject: offer\n\nHi\n--j--\n"), BNC_OK);
  CHECK_STR(msg.format, "arf");
  CHECK(str_is(msg.rcpt[0].rcpt, "viv@example.org"));
  CHECK_INT(msg.rcpt[0].cls.type, BNC_T_COMPLAINT);
}

/* "User unknown" relayed in a bounce is a dead address when something ties
 * it to the address: the RCPT TO stage, an X.1.x status, the receiver's own
 * wording or vendor field; with nothing (a stage the bounce does not name,
 * a status of 5.0.0) or after DATA (the recipient had been accepted) it is
 * a filter's refusal. */
#define UNKNOWN_DSN(status, diag, extra) \
  DSN_HEAD "--BB\r\nContent-Type: message/delivery-status\r\n\r\n" \
  "Reporting-MTA: dns; mx.example.com\r\n\r\n" \
  "Final-Recipient: rfc822; al@example.org\r\nAction: failed\r\nStatus: " status "\r\n" \
  extra "Diagnostic-Code: smtp; " diag "\r\n--BB--\r\n"
static void test_unknown_by_context(void) {
  CHECK_INT(parse(UNKNOWN_DSN("5.0.0", "550 Unknown user al@example.org", "")), BNC_OK);
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_FILTERED);
  CHECK_INT(msg.rcpt[0].cls.type, BNC_T_SOFT);
  CHECK_STR(msg.rcpt[0].cls.source, "context");
  CHECK_INT(parse(UNKNOWN_DSN("5.1.1", "550 Unknown user al@example.org", "")), BNC_OK);
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_USERUNKNOWN);
  CHECK_INT(parse(UNKNOWN_DSN("5.0.0", "550 5.1.1 Unknown user al@example.org", "")), BNC_OK);
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_USERUNKNOWN);
  CHECK_INT(parse(UNKNOWN_DSN("5.2.1", "550 5.2.1 <al@example.org>... User Unknown",
                              "X-PowerMTA-BounceCategory: bad-mailbox\r\n")), BNC_OK);
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_USERUNKNOWN);
  CHECK_INT(parse(UNKNOWN_DSN("5.2.1", "550 5.2.1 <al@example.org>... User Unknown",
                              "X-PowerMTA-BounceCategory: policy-related\r\n")), BNC_OK);
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_FILTERED);
  /* the receiver's own wording (a final rule) needs no stage */
  CHECK_INT(parse(UNKNOWN_DSN("5.0.0", "550 User al@example.org not listed in Domino Directory", "")),
            BNC_OK);
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_USERUNKNOWN);
  /* the Remote-MTA names the host without what MTAs append to it */
  CHECK_INT(parse(UNKNOWN_DSN("5.0.0", "550 <al@ezweb.ne.jp>: User unknown",
                              "Remote-MTA: dns; lsean.ezweb.ne.jp. (192.0.2.8, the server for the "
                              "domain ezweb.ne.jp.)\r\n")), BNC_OK);
  CHECK(str_is(msg.rcpt[0].rhost, "lsean.ezweb.ne.jp"));
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_USERUNKNOWN);
  CHECK_INT(parse(DSN_HEAD "--BB\r\nContent-Type: message/delivery-status\r\n\r\n"
                  "Reporting-MTA: dns; mx.example.com\r\n\r\n"
                  "Final-Recipient: rfc822; al@example.org\r\nAction: failed\r\nStatus: 5.0.0\r\n"
                  "Diagnostic-Code: smtp; 550 Unknown user al@example.org (in reply to end of DATA "
                  "command)\r\n--BB--\r\n"), BNC_OK);
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_FILTERED);
  CHECK_INT(parse(DSN_HEAD "--BB\r\nContent-Type: message/delivery-status\r\n\r\n"
                  "Reporting-MTA: dns; mx.example.com\r\n\r\n"
                  "Final-Recipient: rfc822; al@example.org\r\nAction: failed\r\nStatus: 5.0.0\r\n"
                  "Diagnostic-Code: smtp; 550 Unknown user al@example.org (in reply to RCPT TO "
                  "command)\r\n--BB--\r\n"), BNC_OK);
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_USERUNKNOWN);
  CHECK_STR(msg.rcpt[0].pseudo_status, "");
}

/* Bounces that bend the formats: each read for what it says. */
static void test_odd_shapes(void) {
  /* multipart/report whose boundary never appears: the body is read as text,
   * the pasted DSN fields give the recipient, the transcript the reason */
  CHECK_INT(parse("From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>\n"
                  "Subject: Returned mail: Service unavailable\n"
                  "Content-Type: multipart/report; report-type=delivery-status; boundary=\"ZZ\"\n\n"
                  "   ----- The following addresses had permanent fatal errors -----\n<al@example.net>\n\n"
                  "   ----- Transcript of session follows -----\nmail.local: unknown user: al\n"
                  "554 <al@example.net>... Service unavailable\n\n"
                  "Reporting-MTA: dns; mx.example.net\n\nFinal-Recipient: RFC822; <al@example.net>\n"
                  "Action: failed\nStatus: 5.5.0\n"), BNC_OK);
  CHECK_STR(msg.format, "rfc3464");
  CHECK(str_is(msg.rcpt[0].rcpt, "al@example.net"));
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_USERUNKNOWN);
  CHECK(msg.warnings & BNC_MSG_W_BOUNDARY);
  /* a report that lists nobody ("Delivery report unavailable"): the returned message's To */
  CHECK_INT(parse(DSN_HEAD "--BB\r\nContent-Type: text/plain\r\n\r\n"
                  "\t--- Delivery report unavailable ---\r\n\r\n"
                  "--BB\r\nContent-Type: message/delivery-status\r\n\r\n"
                  "Reporting-MTA: dns; mx.example.com\r\nArrival-Date: Mon, 16 Dec 2019 14:12:15 +0100\r\n\r\n"
                  "--BB\r\nContent-Type: message/rfc822\r\n\r\nFrom: me@example.com\r\n"
                  "To: Ann <ann@example.fr>\r\nSubject: hi\r\n\r\nhello\r\n--BB--\r\n"), BNC_OK);
  CHECK_INT((int)msg.nrcpt, 1);
  CHECK(str_is(msg.rcpt[0].rcpt, "ann@example.fr"));
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_UNDEFINED);
  CHECK(msg.warnings & BNC_MSG_W_NORCPT);
  /* a generic status of the notice, the precise one of the reply it quotes */
  CHECK_INT(parse(UNKNOWN_DSN("5.0.0", "5.1.0 - Unknown address error 550-'5.2.2 <al@example.org>... "
                              "Mailbox Full' (delivery attempts: 0)", "")), BNC_OK);
  CHECK(str_is(msg.rcpt[0].status, "5.2.2"));
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_MAILBOXFULL);
  /* "X-Unix; N" is a program's exit status, not a 2xx reply */
  CHECK_INT(parse(DSN_HEAD "--BB\r\nContent-Type: message/delivery-status\r\n\r\n"
                  "Reporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; al@example.org\r\n"
                  "Action: failed\r\nStatus: 5.0.0\r\nDiagnostic-Code: X-Unix; 255\r\n--BB--\r\n"), BNC_OK);
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_MAILERERROR);
  CHECK_INT(msg.rcpt[0].reply.code, 0);
  /* with sendmail's transcript, its reply line for that exit status is the precise one */
  CHECK_INT(parse(DSN_HEAD "--BB\r\nContent-Type: text/plain\r\n\r\n"
                  "   ----- Transcript of session follows -----\r\nconnect failed: too many clients\r\n"
                  "554 5.3.0 unknown mailer error 255\r\n\r\n"
                  "--BB\r\nContent-Type: message/delivery-status\r\n\r\n"
                  "Reporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; al@example.org\r\n"
                  "Action: failed\r\nStatus: 5.0.0\r\nDiagnostic-Code: X-Unix; 255\r\n--BB--\r\n"), BNC_OK);
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_MAILERERROR);
  CHECK_INT(msg.rcpt[0].reply.code, 554);
  CHECK(str_is(msg.rcpt[0].status, "5.3.0"));
  CHECK_INT(parse(DSN_HEAD "--BB\r\nContent-Type: message/delivery-status\r\n\r\n"
                  "Reporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; al@example.org\r\n"
                  "Action: failed\r\nStatus: 5.3.0\r\nDiagnostic-Code: X-Unix; 77\r\n--BB--\r\n"), BNC_OK);
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_SYSTEMERROR);
  CHECK_INT(parse(DSN_HEAD "--BB\r\nContent-Type: message/delivery-status\r\n\r\n"
                  "Reporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; al@example.org\r\n"
                  "Action: failed\r\nStatus: 5.0.0\r\nDiagnostic-Code: X-Unix; 67\r\n--BB--\r\n"), BNC_OK);
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_USERUNKNOWN);
  /* V5 sendmail naming no address: the To of the unsent copy, the transcript's reply */
  CHECK_INT(parse("From: MAILER-DAEMON@old.example\nSubject: Returned mail: Deferred\n\n"
                  "   ----- Transcript of session follows -----\n"
                  "421 example.com (smtp)... Deferred: Connection timed out during user open with example.com\n"
                  "   ----- Unsent message follows -----\nFrom: me@old.example\nTo: bo@example.com\n"
                  "Subject: hi\n\nhello\n"), BNC_OK);
  CHECK(str_is(msg.rcpt[0].rcpt, "bo@example.com"));
  CHECK_INT(msg.rcpt[0].reply.code, 421);
  /* a line that names the address and says why, after the list's heading,
   * not the sender the preamble names */
  CHECK_INT(parse("From: MAILER-DAEMON@mx.example.jp\nSubject: Returned Mail: User unknown\n\n"
                  "The original message was received at Thu, 29 Apr 2010 23:34:45 +0900\n"
                  "from me@example.jp\n\n---The following addresses had delivery errors---\n\n"
                  "cy@example.co.jp [User unknown]\n"), BNC_OK);
  CHECK(str_is(msg.rcpt[0].rcpt, "cy@example.co.jp"));
  CHECK(msg.rcpt[0].text.p && strstr(msg.rcpt[0].text.p, "User unknown"));
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_FILTERED);   /* no stage, no status */
  CHECK_INT(parse("From: MAILER-DAEMON@mx.example.jp\nSubject: Returned mail\n\n"
                  "   ----- The following addresses had permanent fatal errors -----\n"
                  "User's mailbox is full: <di@example.jp>\nUnable to deliver mail.\n"), BNC_OK);
  CHECK(str_is(msg.rcpt[0].rcpt, "di@example.jp"));
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_MAILBOXFULL);
  CHECK_INT(parse("From: postmaster@mm.example.com\nSubject: Undeliverable: hi\n\nYour message:\n"
                  "   From:    me@example.com\n\nCould not be delivered because of\n\n550 5.1.1 User unknown\n\n"
                  "The following recipients were affected: \n    ed@example.com\n"), BNC_OK);
  CHECK(str_is(msg.rcpt[0].rcpt, "ed@example.com"));
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_USERUNKNOWN);
  CHECK(str_is(msg.rcpt[0].status, "5.1.1"));
  /* dma at the start of the text: "did not like our RCPT TO" names the stage */
  CHECK_INT(parse("From: MAILER-DAEMON@dma.example\nSubject: Mail delivery failed\n\n"
                  "This is the DragonFly Mail Agent v0.11 at dma.example.\n\n"
                  "There was an error delivering your mail to <fi@example.org>.\n\n"
                  "mx.example.org [192.0.2.1] did not like our RCPT TO:\n"
                  "550 5.2.1 <fi@example.org>: Recipient address rejected: User unknown\n\n"
                  "Original message follows.\n"), BNC_OK);
  CHECK_INT(msg.rcpt[0].reply.command, BNC_CMD_RCPT);
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_USERUNKNOWN);
  /* IMail: "undeliverable to a@b", the reply after "...generated response:";
   * the notice's own To line is not a recipient */
  CHECK_INT(parse("From: Postmaster <postmaster@imail.example>\nX-Mailer: <SMTP32 v8.22>\n"
                  "Subject: Undeliverable Mail\n\nTo: me@example.com \nSubject: Undeliverable Mail \n\n"
                  "undeliverable to gu@example.jp \n\nBody of message generated response: \n\n"
                  "550-REJECTED - Blacklisted URL in message. (example.com) \n550 See http://example.net\n"), BNC_OK);
  CHECK_STR(msg.format, "imailserver");
  CHECK_INT((int)msg.nrcpt, 1);
  CHECK(str_is(msg.rcpt[0].rcpt, "gu@example.jp"));
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_SPAMDETECTED);
}

/* Each recipient is read once and decided once, with every signal at hand:
 * what the human-readable part adds, the precise status, the Action, the
 * family's own reason. */
static void test_one_pass(void) {
  static const char *const dsn_no_command =
    DSN_HEAD "--BB\r\nContent-Type: text/plain\r\n\r\n"
    "<al@example.org>: host mx.example.org[192.0.2.1] said: 550 zq content refused\r\n"
    "    (in reply to end of DATA command)\r\n\r\n"
    "--BB\r\nContent-Type: message/delivery-status\r\n\r\n"
    "Reporting-MTA: dns; mx.example.com\r\n\r\n"
    "Final-Recipient: rfc822; al@example.org\r\nAction: failed\r\nStatus: 5.0.0\r\n"
    "Diagnostic-Code: smtp; 550 zq content refused\r\n--BB--\r\n";
  bnc_ruleset_t *rs = bnc_ruleset_new(1);
  bnc_rule_def_t d;
  char err[128], arena[1 << 16];
  memset(&d, 0, sizeof d);
  d.pattern = "zq content refused";
  d.reason = "spamdetected";
  d.command = "DATA";
  CHECK_INT(bnc_ruleset_add(rs, &d, err, sizeof err), BNC_OK);
  CHECK_INT(bnc_ruleset_compile(rs), BNC_OK);
  /* the command only the human-readable part states: a rule on it holds */
  CHECK_INT(bnc_message_parse(dsn_no_command, strlen(dsn_no_command), rs, NULL, 0, arena, sizeof arena,
                              &msg), BNC_OK);
  CHECK_INT(msg.rcpt[0].reply.command, BNC_CMD_DATA);
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_SPAMDETECTED);
  CHECK_INT(msg.rcpt[0].cls.rule, 0);
  /* without that rule the same record is undecided words, read once */
  CHECK_INT(parse(dsn_no_command), BNC_OK);
  CHECK_INT(msg.rcpt[0].reply.command, BNC_CMD_DATA);
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_ONHOLD);
  bnc_ruleset_free(rs);
  /* the precise status a generic notice quotes decides, not only shows */
  CHECK_INT(parse(UNKNOWN_DSN("5.0.0", "5.0.0 - error 550-'5.2.2 <al@example.org>... zq' (attempts: 0)", "")),
            BNC_OK);
  CHECK(str_is(msg.rcpt[0].status, "5.2.2"));
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_MAILBOXFULL);
  CHECK_STR(msg.rcpt[0].cls.source, "status");
  /* Action: relayed decides: no failure, and no rule claims it */
  CHECK_INT(parse(DSN_HEAD "--BB\r\nContent-Type: message/delivery-status\r\n\r\n"
                  "Reporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; al@example.org\r\n"
                  "Action: relayed\r\nStatus: 5.0.0\r\nDiagnostic-Code: smtp; 550 user unknown\r\n--BB--\r\n"),
            BNC_OK);
  CHECK_INT(msg.rcpt[0].cls.type, BNC_T_DELIVERED);
  CHECK_STR(msg.rcpt[0].cls.source, "action");
  CHECK_INT(msg.rcpt[0].cls.rule, -1);
  /* a family's own reason, without a code: permanent by that reason's nature */
  CHECK_INT(parse("From: Postmaster@ezweb.example\nSubject: Mail System Error - Returned Mail\n\n"
                  "Each of the following recipients was rejected by a remote\nmail server.\n"
                  "    Recipient: <kei@ezweb.example>\n    zq\n"), BNC_OK);
  CHECK_STR(msg.format, "ezweb");
  CHECK_INT(msg.rcpt[0].cls.reason, BNC_R_FILTERED);
  CHECK_STR(msg.rcpt[0].cls.source, "format");
  CHECK_INT(msg.rcpt[0].cls.permanent, 1);
}

int main(void) {
  rules = bnc_ruleset_new(1);
  if (!rules || bnc_ruleset_compile(rules) != BNC_OK) return 1;
  test_dsn_two_recipients();
  test_status_fallback_and_line_ends();
  test_base64_and_qp_parts();
  test_arf();
  test_autoreply_and_plain_text();
  test_dates();
  test_message_at();
  test_charsets();
  test_hostile();
  test_families();
  test_unknown_by_context();
  test_odd_shapes();
  test_one_pass();
  bnc_ruleset_free(rules);
  return DONE();
}
