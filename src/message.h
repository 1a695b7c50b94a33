/*
 * message.h - bounce message parsing: one message in, one classified result
 * per recipient out.
 *
 * Reads RFC 5322 headers (folded lines, LF/CRLF/CR line ends, RFC 2047
 * encoded words in Subject), MIME (nested multiparts, base64, quoted-
 * printable, text in legacy charsets as UTF-8), RFC 3464/6522 delivery-status parts, RFC 5965 feedback reports,
 * RFC 3834 auto-replies, Microsoft JMRP complaints (the returned message
 * without a report part), Amazon SES notifications (JSON through SNS:
 * bounce, complaint, delivery), and the plain-text bounces of these
 * families, each chosen by one piece of evidence in the message (a From,
 * Subject, X-Mailer or X-Failed-Recipients substring, or a body marker):
 * postfix, qmail, exim, sendmail, dragonfly (dma), opensmtpd, gmail,
 * googlegroups, exchange (5.5-2003 NDRs), zoho, mailru, gmx, yandex, ezweb
 * and kddi (au), domino, notes (Lotus Notes), imailserver, yahoo, sendgrid,
 * courier, apachejames (also Verizon's gateway), trendmicro (InterScan), x3
 * ("Technical details:" notices); sendmail includes V5 session transcripts.
 * A tag "[RCPT_TO]" / "[BODY]" ending a diagnostic names the command, and an
 * expiry notice quoting the last reply ("<421 4.4.2 ...>") takes its code
 * and status. Each recipient is read once (its Diagnostic-Code, else the
 * Status field, through bnc_reply_parse; the command, the Action, the
 * Diagnostic-Code type, the human-readable part) and decided once by
 * bnc_decide (classify.h), whose order its cls.source and cls.rule report.
 * A bounce that states no enhanced status gets a pseudo status
 * (pseudo_status, Sisimai's X.0.9NN convention) from its reason.
 * The parser's files are listed in msg.h.
 *
 * Ownership: the caller owns everything. Results go into a bnc_message_t and
 * their strings point either into the input buffer or into an arena the
 * caller provides (a plain byte buffer). Nothing is allocated; the input and
 * the arena must outlive the result. When the arena is full, the parser
 * skips what it can no longer store and sets BNC_MSG_W_ARENA. Only
 * rcpt[0..nrcpt) are written: the records past nrcpt are left as they were
 * (clearing all BNC_MSG_RCPTS of them cost as much as parsing a bounce).
 *
 * Bounds, checked before work: the message is at most BNC_MSG_MAX bytes;
 * MIME nesting at most BNC_MSG_DEPTH levels and BNC_MSG_PARTS parts in all
 * (deeper or further parts are skipped with a warning); a decoded part is
 * read up to BNC_MSG_DECODE_MAX bytes; a header value is kept up to
 * BNC_MSG_VALUE_MAX bytes; at most BNC_MSG_RCPTS recipients. Every level of
 * MIME reads its bytes once, so the time is linear in len (times the depth
 * bound at worst). No clock, no I/O.
 */
#ifndef BNC_MESSAGE_H
#define BNC_MESSAGE_H

#include <stddef.h>
#include "classify.h"
#include "reply.h"

#define BNC_MSG_MAX        ((size_t)64 << 20)   /* input bytes */
#define BNC_MSG_DEPTH      16                   /* MIME nesting levels */
#define BNC_MSG_PARTS      512                  /* MIME parts in all */
#define BNC_MSG_DECODE_MAX ((size_t)1 << 20)    /* decoded bytes read per part */
#define BNC_MSG_VALUE_MAX  ((size_t)64 << 10)   /* bytes kept per header value */
#define BNC_MSG_RCPTS      128                  /* recipients per message */
#define BNC_MSG_WANT       16                   /* extra original headers */

/* Suggested arena size for a message of len bytes: enough for ordinary
 * bounces (decoded parts, unfolded values, reply texts). A smaller arena is
 * safe: what no longer fits is skipped and BNC_MSG_W_ARENA is set. */
#define BNC_MSG_ARENA(len) (2 * ((len) < BNC_MSG_DECODE_MAX * 4 ? (len) : BNC_MSG_DECODE_MAX * 4) + 65536)

/* Return codes beyond bnc.h's. */
#define BNC_ENOTBOUNCE -5  /* no DSN, report, auto-reply or known bounce text */

/* Warnings (bits of bnc_message_t.warnings): the result is best effort. */
#define BNC_MSG_W_DEPTH    1u   /* MIME nested deeper than BNC_MSG_DEPTH */
#define BNC_MSG_W_PARTS    2u   /* more than BNC_MSG_PARTS parts */
#define BNC_MSG_W_BOUNDARY 4u   /* a multipart without boundary, or never closed */
#define BNC_MSG_W_ARENA    8u   /* the arena was full */
#define BNC_MSG_W_RCPTS   16u   /* more than BNC_MSG_RCPTS recipients */
#define BNC_MSG_W_TRUNC   32u   /* a part or value was cut at its bound */
#define BNC_MSG_W_NORCPT  64u   /* the report named no recipient: the returned
                                   message's To was taken */

/* A string: n bytes at p (not NUL-terminated); p is NULL when absent. */
typedef struct { const char *p; size_t n; } bnc_str_t;

typedef struct {
  bnc_str_t rcpt;          /* Final-Recipient address (type prefix removed) */
  bnc_str_t orig_rcpt;     /* Original-Recipient */
  bnc_str_t action;        /* "failed", "delayed", "delivered", ... (lower case as given) */
  bnc_str_t status;        /* the reply's enhanced status (may point into reply.status
                              below: do not copy the struct), else the Status field */
  bnc_str_t diag;          /* Diagnostic-Code, unfolded, type prefix kept */
  bnc_str_t rhost;         /* Remote-MTA (type prefix removed), else from the reply */
  bnc_str_t last_attempt;  /* Last-Attempt-Date */
  bnc_str_t will_retry;    /* Will-Retry-Until */
  bnc_str_t text;          /* the reply text as bnc_reply_parse joined it */
  bnc_reply_t reply;       /* the parsed diagnostic (status filled from Status) */
  bnc_class_t cls;         /* the classification */
  int delayed;             /* Action: delayed (a notice, not a failure) */
  int bad_mailbox;         /* the reporting MTA's own category says the
                              mailbox does not exist (PowerMTA) */
  char pseudo_status[8];   /* when the bounce states no enhanced status: the
                              reason as a pseudo status in the X.0.9NN
                              convention of Sisimai ("5.0.911" userunknown,
                              "4.0.947" expired; class 4 when the text says
                              the failure is temporary); else "" */
} bnc_msg_rcpt_t;

typedef struct {
  const char *format;      /* "rfc3464", "arf", "autoreply", or a family name */
  bnc_str_t reporting_mta, arrival_date;
  bnc_str_t feedback_type, source_ip;            /* ARF */
  bnc_str_t message_id, from, to, subject, date; /* the original message */
  bnc_str_t own_date;      /* the bounce's own Date header (of the message
                              that was read as the bounce, when nested) */
  bnc_str_t want[BNC_MSG_WANT];                  /* headers the caller named */
  size_t nrcpt;
  bnc_msg_rcpt_t rcpt[BNC_MSG_RCPTS];
  unsigned warnings;       /* BNC_MSG_W_* */
  size_t parts;            /* MIME parts seen */
} bnc_message_t;

/* Parses buf[0..len). rs is a compiled rule set. want[0..nwant) names extra
 * headers of the original message to return (nwant <= BNC_MSG_WANT; the
 * value of want[i] lands in out->want[i]). arena[0..cap) receives decoded
 * text (BNC_MSG_ARENA(len) bytes suggested). Returns BNC_OK (nrcpt >=
 * 1), BNC_EEMPTY (nothing but white space), BNC_ETOOBIG (len >
 * BNC_MSG_MAX), BNC_EINVAL (nwant too large) or BNC_ENOTBOUNCE. */
int bnc_message_parse(const char *buf, size_t len, const bnc_ruleset_t *rs,
                      const bnc_str_t *want, size_t nwant,
                      char *arena, size_t cap, bnc_message_t *out);

/* Where bnc_message_at found the date. */
#define BNC_AT_NONE          0   /* no date at all (returns -1) */
#define BNC_AT_LAST_ATTEMPT  1   /* the record's Last-Attempt-Date */
#define BNC_AT_ARRIVAL       2   /* the report's Arrival-Date */
#define BNC_AT_DATE          3   /* the bounce's own Date header */
#define BNC_AT_ORIGINAL_DATE 4   /* the returned message's Date header */

/* When recipient i of a parsed message failed, in seconds since the epoch:
 * its Last-Attempt-Date, else the report's Arrival-Date, else the bounce's
 * own Date header (a report without dates, a plain-text bounce), else the
 * returned message's Date: a backlog from 2015 is dated 2015, not when it
 * is read. The first of them that parses is taken; *from (may be NULL)
 * receives BNC_AT_* for it. -1 (BNC_AT_NONE) when none parses or i is out
 * of range. */
long long bnc_message_at(const bnc_message_t *m, size_t i, int *from);

/* Decoders, exposed for tests: write at most cap bytes to out and return
 * the count. Invalid input is skipped (base64) or kept literally (QP). */
size_t bnc_base64_decode(const char *in, size_t len, char *out, size_t cap);
size_t bnc_qp_decode(const char *in, size_t len, char *out, size_t cap);

#endif
