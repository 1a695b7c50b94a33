/*
 * status.c - what a status or a bare reply code implies on its own.
 *
 * Used only when no text rule decided: the text of a reply is more specific
 * than its code (servers use 5.7.1 or 550 for a hundred different causes).
 */
#include <stddef.h>
#include "status.h"

typedef struct {
  unsigned char subject;
  unsigned short detail_lo, detail_hi;
  unsigned char reason;
  const char *what;
} status_entry;

/* Sorted by subject, then detail; the first range that holds a detail wins.
 * Descriptions are ours, after RFC 3463, RFC 4954 and RFC 5248 (AUTH and
 * encryption), RFC 7505 (null MX), RFC 7372 (email authentication), RFC 8689
 * (REQUIRETLS) and the Microsoft extensions (5.1.90, 5.2.12x, 5.3.190,
 * 5.4.11, 5.4.14, 5.4.62, 5.4.3xx, 5.6.11, 5.7.51, 5.7.124, 5.7.13x,
 * 5.7.32x, 5.7.5x-7xx), which only Exchange Online sends. Two readings follow
 * Sisimai rather than the RFC wording: X.2.0 is a filter's refusal and X.5.3
 * (too many recipients) counts as too many connections. */
static const status_entry STATUS[] = {
  { 0, 0, 0, BNC_R_UNDEFINED, "other or undefined status" },
  { 1, 0, 0, BNC_R_UNDEFINED, "other address status" },
  { 1, 1, 1, BNC_R_USERUNKNOWN, "bad destination mailbox address" },
  { 1, 2, 2, BNC_R_HOSTUNKNOWN, "bad destination system address" },
  { 1, 3, 3, BNC_R_USERUNKNOWN, "bad destination mailbox address syntax" },
  { 1, 4, 4, BNC_R_UNDEFINED, "destination mailbox address ambiguous" },
  { 1, 5, 5, BNC_R_UNDEFINED, "destination address valid" },
  { 1, 6, 6, BNC_R_HASMOVED, "destination mailbox has moved" },
  { 1, 7, 7, BNC_R_REJECTED, "bad sender's mailbox address syntax" },
  { 1, 8, 8, BNC_R_REJECTED, "bad sender's system address" },
  { 1, 9, 9, BNC_R_UNDEFINED, "message relayed to non-compliant mailer" },
  { 1, 10, 10, BNC_R_NOTACCEPT, "recipient address has null MX" },
  { 1, 90, 90, BNC_R_SPEEDING, "daily recipient limit reached (Microsoft)" },
  { 2, 0, 0, BNC_R_FILTERED, "other or undefined mailbox status" },
  { 2, 1, 1, BNC_R_SUSPEND, "mailbox disabled, not accepting messages" },
  { 2, 2, 2, BNC_R_MAILBOXFULL, "mailbox full" },
  { 2, 3, 3, BNC_R_EXCEEDLIMIT, "message length exceeds administrative limit" },
  { 2, 4, 4, BNC_R_SYSTEMERROR, "mailing list expansion problem" },
  { 2, 121, 122, BNC_R_SPEEDING, "recipient's hourly receive limit exceeded (Microsoft)" },
  { 3, 0, 0, BNC_R_SYSTEMERROR, "other or undefined mail system status" },
  { 3, 1, 1, BNC_R_SYSTEMFULL, "mail system full" },
  { 3, 2, 2, BNC_R_NOTACCEPT, "system not accepting network messages" },
  { 3, 3, 3, BNC_R_CONTENTERROR, "system not capable of selected features" },
  { 3, 4, 4, BNC_R_MESGTOOBIG, "message too big for system" },
  { 3, 5, 5, BNC_R_SYSTEMERROR, "system incorrectly configured" },
  { 3, 6, 6, BNC_R_UNDEFINED, "requested priority was changed" },
  { 3, 190, 190, BNC_R_SYSTEMERROR, "journaling to Microsoft 365 not supported (Microsoft)" },
  { 4, 0, 0, BNC_R_NETWORKERROR, "other or undefined network or routing status" },
  { 4, 1, 1, BNC_R_NETWORKERROR, "no answer from host" },
  { 4, 2, 2, BNC_R_NETWORKERROR, "bad connection" },
  { 4, 3, 3, BNC_R_SYSTEMERROR, "directory server failure" },
  { 4, 4, 4, BNC_R_HOSTUNKNOWN, "unable to route" },
  { 4, 5, 5, BNC_R_SYSTEMFULL, "mail system congestion" },
  { 4, 6, 6, BNC_R_NETWORKERROR, "routing loop detected" },
  { 4, 7, 7, BNC_R_EXPIRED, "delivery time expired" },
  { 4, 11, 11, BNC_R_NETWORKERROR, "agent-generated message loop (Microsoft)" },
  { 4, 14, 14, BNC_R_NETWORKERROR, "hop count exceeded (Microsoft)" },
  { 4, 62, 62, BNC_R_NETWORKERROR, "message sent to the wrong region (Microsoft)" },
  { 4, 300, 300, BNC_R_EXPIRED, "message expired (Microsoft)" },
  { 4, 301, 309, BNC_R_NETWORKERROR, "DNS or connection failure (Microsoft)" },
  { 4, 310, 310, BNC_R_HOSTUNKNOWN, "the domain does not exist in DNS (Microsoft)" },
  { 4, 311, 399, BNC_R_NETWORKERROR, "DNS or connection failure (Microsoft)" },
  { 5, 0, 0, BNC_R_SYNTAXERROR, "other or undefined protocol status" },
  { 5, 1, 2, BNC_R_SYNTAXERROR, "invalid command or syntax error" },
  { 5, 3, 3, BNC_R_TOOMANYCONN, "too many recipients" },
  { 5, 4, 5, BNC_R_SYNTAXERROR, "invalid command arguments or protocol version" },
  { 5, 6, 6, BNC_R_SYNTAXERROR, "authentication exchange line too long" },
  { 6, 0, 10, BNC_R_CONTENTERROR, "media or content conversion problem" },
  { 6, 11, 11, BNC_R_NOTCOMPLIANTRFC, "bare line feeds or invalid characters (Microsoft)" },
  { 7, 0, 0, BNC_R_SECURITYERROR, "other or undefined security status" },
  { 7, 1, 1, BNC_R_REJECTED, "delivery not authorized, message refused" },
  { 7, 2, 2, BNC_R_REJECTED, "mailing list expansion prohibited" },
  { 7, 3, 9, BNC_R_SECURITYERROR, "security, encryption or authentication failure" },
  { 7, 10, 11, BNC_R_FAILEDSTARTTLS, "encryption needed (use STARTTLS)" },
  { 7, 12, 12, BNC_R_SECURITYERROR, "a password transition is needed" },
  { 7, 13, 13, BNC_R_SUSPEND, "user account disabled" },
  { 7, 14, 14, BNC_R_SECURITYERROR, "trust relationship required" },
  { 7, 15, 15, BNC_R_REJECTED, "priority level is too low" },
  { 7, 16, 16, BNC_R_MESGTOOBIG, "message is too big for the specified priority" },
  { 7, 17, 18, BNC_R_HASMOVED, "mailbox or domain owner has changed" },
  { 7, 19, 19, BNC_R_SECURITYERROR, "RRVS test cannot be completed" },
  { 7, 20, 24, BNC_R_AUTHFAILURE, "DKIM or SPF validation failed" },
  { 7, 25, 25, BNC_R_REQUIREPTR, "reverse DNS validation failed" },
  { 7, 26, 26, BNC_R_AUTHFAILURE, "multiple authentication checks failed" },
  { 7, 27, 27, BNC_R_REJECTED, "sender address has null MX" },
  { 7, 28, 28, BNC_R_SPEEDING, "mail flood detected" },
  { 7, 29, 29, BNC_R_AUTHFAILURE, "ARC validation failure" },
  { 7, 30, 30, BNC_R_FAILEDSTARTTLS, "REQUIRETLS support required" },
  { 7, 51, 51, BNC_R_BLOCKED, "sending IP or certificate not allowed by the connector (Microsoft)" },
  { 7, 57, 57, BNC_R_SECURITYERROR, "client not authenticated to send (Microsoft)" },
  { 7, 64, 64, BNC_R_NORELAYING, "relay access denied for the tenant (Microsoft)" },
  { 7, 124, 124, BNC_R_FILTERED, "sender not in the group's allowed senders (Microsoft)" },
  { 7, 133, 136, BNC_R_SECURITYERROR, "sender not authenticated for the recipient (Microsoft)" },
  { 7, 321, 321, BNC_R_FAILEDSTARTTLS, "destination does not offer STARTTLS (Microsoft)" },
  { 7, 322, 325, BNC_R_SECURITYERROR,
    "destination certificate, DANE or DNSSEC validation failed (Microsoft)" },
  { 7, 501, 503, BNC_R_SPAMDETECTED, "access denied, spam abuse detected (Microsoft)" },
  { 7, 509, 509, BNC_R_AUTHFAILURE, "sending domain fails DMARC (Microsoft)" },
  { 7, 510, 511, BNC_R_BLOCKED, "sender or IPv6 sending refused (Microsoft)" },
  { 7, 512, 512, BNC_R_NOTCOMPLIANTRFC, "message not RFC 5322 compliant (Microsoft)" },
  { 7, 506, 507, BNC_R_BLOCKED, "bad HELO, or sending IP refused by the recipient (Microsoft)" },
  { 7, 508, 508, BNC_R_SPEEDING, "sending IPv6 range over its limits (Microsoft)" },
  { 7, 513, 513, BNC_R_BLOCKED, "client host blocked (Microsoft)" },
  { 7, 606, 649, BNC_R_BLOCKED, "access denied, banned sending IP (Microsoft)" },
  { 7, 650, 699, BNC_R_BADREPUTATION, "rate limited for IP reputation (Microsoft)" },
  { 7, 700, 750, BNC_R_BLOCKED, "tenant or sending domain blocked (Microsoft)" },
};

static const status_entry *lookup(int subject, int detail) {
  size_t i;
  for (i = 0; i < sizeof STATUS / sizeof STATUS[0]; i++) {
    const status_entry *e = &STATUS[i];
    if (e->subject == subject && detail >= e->detail_lo && detail <= e->detail_hi)
      return e;
  }
  return NULL;
}

bnc_reason_t bnc_status_reason(int subject, int detail) {
  const status_entry *e = lookup(subject, detail);
  return e ? (bnc_reason_t)e->reason : BNC_R_UNDEFINED;
}

const char *bnc_status_describe(int subject, int detail) {
  const status_entry *e = lookup(subject, detail);
  return e ? e->what : NULL;
}

bnc_reason_t bnc_code_reason(int code) {
  switch (code) {
    case 421: case 451: return BNC_R_SYSTEMERROR;
    case 452: return BNC_R_SYSTEMFULL;
    case 432: case 530: case 534: case 535:     /* RFC 4954 authentication */
      return BNC_R_SECURITYERROR;
    case 538: return BNC_R_FAILEDSTARTTLS;      /* encryption required */
    case 500: case 501: case 502: case 503: case 504: case 555:
      return BNC_R_SYNTAXERROR;
    case 521: case 556: return BNC_R_NOTACCEPT;  /* RFC 7504 */
    case 551: return BNC_R_HASMOVED;            /* user not local */
    case 552: return BNC_R_MAILBOXFULL;         /* exceeded storage */
    default: return BNC_R_UNDEFINED;
  }
}
