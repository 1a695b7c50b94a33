/*
 * status.c - what an enhanced status or a bare reply code implies on its
 * own: the whole IANA "SMTP Enhanced Status Codes" registry (X.0.0 to
 * X.7.30, RFC 3463 and the RFCs that added codes since) and the basic codes
 * of RFC 5321, RFC 4954 and RFC 7504.
 *
 * Used only when no rule decided: the text of a reply is more specific than
 * its code (servers use 5.7.1 or 550 for a hundred different causes), and
 * the codes a provider gives a meaning of its own (Microsoft's 5.4.1 and
 * 5.7.5xx-7xx, Gmail's 5.7.30) are in the provider code tables
 * (src/providers.c). Each reason follows the registry's description; where
 * bounce's vocabulary has a closer word it is said next to the entry.
 */
#include <stddef.h>
#include "status.h"

typedef struct {
  unsigned char subject;
  unsigned short detail;
  unsigned char reason;
  const char *what;
  const char *rfc;
} status_entry;

/* The registry, by subject then detail. X.1.10 (RFC 7505 null MX) and
 * X.3.2 (RFC 7504 pairs 5.3.2 with 521 "does not accept mail") are
 * `notaccept`: bounce's name for a host that takes no mail. The classifier
 * reads a class 4 status whose reason is a dead host as a network error (a
 * DNS answer that may change) and a class 4 notaccept as a system error (a
 * host shut down for now). */
static const status_entry STATUS[] = {
  { 0, 0, BNC_R_UNDEFINED, "other or undefined status", "RFC 3463" },
  { 1, 0, BNC_R_UNDEFINED, "other address status", "RFC 3463" },
  { 1, 1, BNC_R_USERUNKNOWN, "bad destination mailbox address", "RFC 3463" },
  { 1, 2, BNC_R_HOSTUNKNOWN, "bad destination system address", "RFC 3463" },
  { 1, 3, BNC_R_USERUNKNOWN, "bad destination mailbox address syntax", "RFC 3463" },
  { 1, 4, BNC_R_USERUNKNOWN, "destination mailbox address ambiguous", "RFC 3463" },
  { 1, 5, BNC_R_UNDEFINED, "destination address valid", "RFC 3463" },
  { 1, 6, BNC_R_HASMOVED, "destination mailbox has moved, no forwarding address", "RFC 3463" },
  { 1, 7, BNC_R_REJECTED, "bad sender's mailbox address syntax", "RFC 3463" },
  { 1, 8, BNC_R_REJECTED, "bad sender's system address", "RFC 3463" },
  { 1, 9, BNC_R_UNDEFINED, "message relayed to non-compliant mailer", "RFC 3886" },
  { 1, 10, BNC_R_NOTACCEPT, "recipient address has null MX", "RFC 7505, RFC 7504" },
  { 2, 0, BNC_R_UNDEFINED, "other or undefined mailbox status", "RFC 3463" },
  { 2, 1, BNC_R_SUSPEND, "mailbox disabled, not accepting messages", "RFC 3463" },
  { 2, 2, BNC_R_MAILBOXFULL, "mailbox full", "RFC 3463" },
  { 2, 3, BNC_R_EXCEEDLIMIT, "message length exceeds administrative limit", "RFC 3463" },
  { 2, 4, BNC_R_SYSTEMERROR, "mailing list expansion problem", "RFC 3463" },
  { 3, 0, BNC_R_SYSTEMERROR, "other or undefined mail system status", "RFC 3463" },
  { 3, 1, BNC_R_SYSTEMFULL, "mail system full", "RFC 3463" },
  { 3, 2, BNC_R_NOTACCEPT, "system not accepting network messages", "RFC 3463, RFC 7504" },
  { 3, 3, BNC_R_SYSTEMERROR, "system not capable of selected features", "RFC 3463" },
  { 3, 4, BNC_R_MESGTOOBIG, "message too big for system", "RFC 3463" },
  { 3, 5, BNC_R_SYSTEMERROR, "system incorrectly configured", "RFC 3463" },
  { 3, 6, BNC_R_UNDEFINED, "requested priority was changed", "RFC 6710" },
  { 4, 0, BNC_R_NETWORKERROR, "other or undefined network or routing status", "RFC 3463" },
  { 4, 1, BNC_R_NETWORKERROR, "no answer from host", "RFC 3463" },
  { 4, 2, BNC_R_NETWORKERROR, "bad connection", "RFC 3463" },
  { 4, 3, BNC_R_NETWORKERROR, "directory server failure", "RFC 3463" },
  { 4, 4, BNC_R_HOSTUNKNOWN, "unable to route", "RFC 3463" },
  { 4, 5, BNC_R_NETWORKERROR, "mail system congestion", "RFC 3463" },
  { 4, 6, BNC_R_NETWORKERROR, "routing loop detected", "RFC 3463" },
  { 4, 7, BNC_R_EXPIRED, "delivery time expired", "RFC 3463" },
  { 5, 0, BNC_R_UNDEFINED, "other or undefined protocol status", "RFC 3463" },
  { 5, 1, BNC_R_SYNTAXERROR, "invalid command", "RFC 3463" },
  { 5, 2, BNC_R_SYNTAXERROR, "syntax error", "RFC 3463" },
  { 5, 3, BNC_R_SYNTAXERROR, "too many recipients", "RFC 3463" },
  { 5, 4, BNC_R_SYNTAXERROR, "invalid command arguments", "RFC 3463" },
  { 5, 5, BNC_R_SYNTAXERROR, "wrong protocol version", "RFC 3463" },
  { 5, 6, BNC_R_SECURITYERROR, "authentication exchange line is too long", "RFC 4954" },
  { 6, 0, BNC_R_CONTENTERROR, "other or undefined media error", "RFC 3463" },
  { 6, 1, BNC_R_CONTENTERROR, "media not supported", "RFC 3463" },
  { 6, 2, BNC_R_CONTENTERROR, "conversion required and prohibited", "RFC 3463" },
  { 6, 3, BNC_R_CONTENTERROR, "conversion required but not supported", "RFC 3463" },
  { 6, 4, BNC_R_CONTENTERROR, "conversion with loss performed", "RFC 3463" },
  { 6, 5, BNC_R_CONTENTERROR, "conversion failed", "RFC 3463" },
  { 6, 6, BNC_R_SYSTEMERROR, "message content not available", "RFC 4468" },
  { 6, 7, BNC_R_CONTENTERROR, "non-ASCII addresses not permitted for that sender/recipient", "RFC 6531" },
  { 6, 8, BNC_R_CONTENTERROR, "UTF-8 string reply is required, but not permitted by the SMTP client", "RFC 6531" },
  { 6, 9, BNC_R_CONTENTERROR, "UTF-8 header message cannot be transferred to one or more recipients", "RFC 6531" },
  { 6, 10, BNC_R_CONTENTERROR, "UTF-8 string reply required (deprecated duplicate of X.6.8)", "RFC 6531" },
  { 7, 0, BNC_R_SECURITYERROR, "other or undefined security status", "RFC 3463" },
  { 7, 1, BNC_R_REJECTED, "delivery not authorized, message refused", "RFC 3463" },
  { 7, 2, BNC_R_REJECTED, "mailing list expansion prohibited", "RFC 3463" },
  { 7, 3, BNC_R_SECURITYERROR, "security conversion required but not possible", "RFC 3463" },
  { 7, 4, BNC_R_SECURITYERROR, "security features not supported", "RFC 3463" },
  { 7, 5, BNC_R_SECURITYERROR, "cryptographic failure", "RFC 3463" },
  { 7, 6, BNC_R_SECURITYERROR, "cryptographic algorithm not supported", "RFC 3463" },
  { 7, 7, BNC_R_SECURITYERROR, "message integrity failure", "RFC 3463" },
  { 7, 8, BNC_R_SECURITYERROR, "authentication credentials invalid", "RFC 4954" },
  { 7, 9, BNC_R_SECURITYERROR, "authentication mechanism is too weak", "RFC 4954" },
  { 7, 10, BNC_R_SECURITYERROR, "encryption needed", "RFC 5248" },
  { 7, 11, BNC_R_SECURITYERROR, "encryption required for requested authentication mechanism", "RFC 4954" },
  { 7, 12, BNC_R_SECURITYERROR, "a password transition is needed", "RFC 4954" },
  { 7, 13, BNC_R_SECURITYERROR, "user account disabled", "RFC 5248" },
  { 7, 14, BNC_R_SECURITYERROR, "trust relationship required", "RFC 5248" },
  { 7, 15, BNC_R_POLICYVIOLATION, "priority level is too low", "RFC 6710" },
  { 7, 16, BNC_R_MESGTOOBIG, "message is too big for the specified priority", "RFC 6710" },
  { 7, 17, BNC_R_HASMOVED, "mailbox owner has changed", "RFC 7293" },
  { 7, 18, BNC_R_HASMOVED, "domain owner has changed", "RFC 7293" },
  { 7, 19, BNC_R_UNDEFINED, "RRVS test cannot be completed", "RFC 7293" },
  { 7, 20, BNC_R_AUTHFAILURE, "no passing DKIM signature found", "RFC 7372, RFC 6376" },
  { 7, 21, BNC_R_AUTHFAILURE, "no acceptable DKIM signature found", "RFC 7372, RFC 6376" },
  { 7, 22, BNC_R_AUTHFAILURE, "no valid author-matched DKIM signature found", "RFC 7372, RFC 6376" },
  { 7, 23, BNC_R_AUTHFAILURE, "SPF validation failed", "RFC 7372, RFC 7208" },
  { 7, 24, BNC_R_AUTHFAILURE, "SPF validation error", "RFC 7372, RFC 7208" },
  { 7, 25, BNC_R_REQUIREPTR, "reverse DNS validation failed", "RFC 7372" },
  { 7, 26, BNC_R_AUTHFAILURE, "multiple authentication checks failed", "RFC 7372" },
  { 7, 27, BNC_R_REJECTED, "sender address has null MX", "RFC 7505" },
  { 7, 28, BNC_R_SPAMDETECTED, "mail flood detected", "draft-levine-mailbomb-header" },
  { 7, 29, BNC_R_AUTHFAILURE, "ARC validation failure", "RFC 8617" },
  { 7, 30, BNC_R_FAILEDSTARTTLS, "REQUIRETLS support required", "RFC 8689" },
};

/* Subject -> first entry, from the table's order; filled on first use
 * would need state, so the subjects' starts are fixed here and checked by
 * test/test_core.c. */
static const unsigned char SUBJECT_AT[9] = { 0, 1, 12, 17, 24, 32, 39, 50, 81 };

static const status_entry *lookup(int subject, int detail) {
  size_t i;
  if (subject < 0 || subject > 7) return NULL;
  for (i = SUBJECT_AT[subject]; i < SUBJECT_AT[subject + 1]; i++)
    if (STATUS[i].detail == detail) return &STATUS[i];
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

const char *bnc_status_rfc(int subject, int detail) {
  const status_entry *e = lookup(subject, detail);
  return e ? e->rfc : NULL;
}

size_t bnc_status_count(void) { return sizeof STATUS / sizeof STATUS[0]; }

bnc_reason_t bnc_code_reason(int code) {
  switch (code) {
    case 421: case 451: return BNC_R_SYSTEMERROR;
    case 452: return BNC_R_SYSTEMFULL;
    case 432: case 530: case 534: case 535:     /* RFC 4954 authentication */
      return BNC_R_SECURITYERROR;
    case 538: return BNC_R_FAILEDSTARTTLS;      /* encryption required */
    case 454: return BNC_R_SECURITYERROR;      /* RFC 4954 temporary AUTH failure */
    case 500: case 501: case 502: case 503: case 504: case 455: case 555:
      return BNC_R_SYNTAXERROR;
    case 521: case 556: return BNC_R_NOTACCEPT;  /* RFC 7504 */
    case 551: return BNC_R_HASMOVED;            /* user not local */
    case 552: return BNC_R_MAILBOXFULL;         /* exceeded storage */
    default: return BNC_R_UNDEFINED;
  }
}
