/*
 * reason.c - names of reasons and types, and the reason-to-type table.
 *
 * The table is the project's answer to "who must act": it is printed in the
 * README and checked by spec/unit/classify_spec.lua.
 */
#include <stddef.h>
#include <string.h>
#include "reason.h"

typedef struct {
  const char *name;
  unsigned char type;       /* bnc_type_t when permanent */
  unsigned char permanent;  /* permanent by nature (used without a code) */
} reason_info;

static const reason_info REASONS[BNC_R__COUNT] = {
  [BNC_R_UNDEFINED]       = { "undefined",       BNC_T_SOFT,  0 },
  [BNC_R_USERUNKNOWN]     = { "userunknown",     BNC_T_HARD,  1 },
  [BNC_R_HOSTUNKNOWN]     = { "hostunknown",     BNC_T_HARD,  1 },
  [BNC_R_HASMOVED]        = { "hasmoved",        BNC_T_HARD,  1 },
  [BNC_R_NOTACCEPT]       = { "notaccept",       BNC_T_HARD,  1 },
  [BNC_R_MAILBOXFULL]     = { "mailboxfull",     BNC_T_SOFT,  0 },
  [BNC_R_EXCEEDLIMIT]     = { "exceedlimit",     BNC_T_SOFT,  1 },
  [BNC_R_MESGTOOBIG]      = { "mesgtoobig",      BNC_T_SOFT,  1 },
  [BNC_R_SUSPEND]         = { "suspend",         BNC_T_SOFT,  1 },
  [BNC_R_EXPIRED]         = { "expired",         BNC_T_SOFT,  0 },
  [BNC_R_SYSTEMERROR]     = { "systemerror",     BNC_T_SOFT,  0 },
  [BNC_R_SYSTEMFULL]      = { "systemfull",      BNC_T_SOFT,  0 },
  [BNC_R_NETWORKERROR]    = { "networkerror",    BNC_T_SOFT,  0 },
  [BNC_R_MAILERERROR]     = { "mailererror",     BNC_T_SOFT,  1 },
  [BNC_R_TOOMANYCONN]     = { "toomanyconn",     BNC_T_BLOCK, 0 },
  [BNC_R_SPEEDING]        = { "speeding",        BNC_T_BLOCK, 0 },
  [BNC_R_BLOCKED]         = { "blocked",         BNC_T_BLOCK, 1 },
  [BNC_R_BADREPUTATION]   = { "badreputation",   BNC_T_BLOCK, 0 },
  [BNC_R_REQUIREPTR]      = { "requireptr",      BNC_T_BLOCK, 1 },
  [BNC_R_AUTHFAILURE]     = { "authfailure",     BNC_T_BLOCK, 1 },
  [BNC_R_SECURITYERROR]   = { "securityerror",   BNC_T_BLOCK, 1 },
  [BNC_R_SPAMDETECTED]    = { "spamdetected",    BNC_T_BLOCK, 1 },
  [BNC_R_VIRUSDETECTED]   = { "virusdetected",   BNC_T_BLOCK, 1 },
  [BNC_R_CONTENTERROR]    = { "contenterror",    BNC_T_BLOCK, 1 },
  [BNC_R_POLICYVIOLATION] = { "policyviolation", BNC_T_BLOCK, 1 },
  [BNC_R_NOTCOMPLIANTRFC] = { "notcompliantrfc", BNC_T_BLOCK, 1 },
  [BNC_R_NORELAYING]      = { "norelaying",      BNC_T_BLOCK, 1 },
  [BNC_R_REJECTED]        = { "rejected",        BNC_T_BLOCK, 1 },
  [BNC_R_FILTERED]        = { "filtered",        BNC_T_SOFT,  1 },
  [BNC_R_SYNTAXERROR]     = { "syntaxerror",     BNC_T_BLOCK, 1 },
  [BNC_R_FAILEDSTARTTLS]  = { "failedstarttls",  BNC_T_BLOCK, 1 },
  [BNC_R_ONHOLD]          = { "onhold",          BNC_T_SOFT,  0 },
  [BNC_R_DELIVERED]       = { "delivered",       BNC_T_DELIVERED, 0 },
  [BNC_R_FEEDBACK]        = { "feedback",        BNC_T_COMPLAINT, 0 },
  [BNC_R_VACATION]        = { "vacation",        BNC_T_AUTO_REPLY, 0 },
};

static const char *const TYPES[BNC_T__COUNT] = {
  "soft", "hard", "block", "delivered", "complaint", "auto_reply"
};

const char *bnc_reason_name(bnc_reason_t r) {
  return ((unsigned)r < BNC_R__COUNT) ? REASONS[r].name : "undefined";
}

int bnc_reason_find(const char *name, size_t len) {
  int i;
  for (i = 0; i < BNC_R__COUNT; i++)
    if (strlen(REASONS[i].name) == len && memcmp(REASONS[i].name, name, len) == 0)
      return i;
  return -1;
}

const char *bnc_type_name(bnc_type_t t) {
  return ((unsigned)t < BNC_T__COUNT) ? TYPES[t] : "soft";
}

bnc_type_t bnc_reason_type(bnc_reason_t r, int permanent) {
  if ((unsigned)r >= BNC_R__COUNT) return BNC_T_SOFT;
  /* A null MX or "does not accept mail" is only final when said with a 5xx;
   * the other dead-address reasons stay hard whatever the code (Postfix's
   * "450 4.1.1 user unknown" under soft_bounce still names a dead address),
   * and `permanent` is reported beside the type for policies that care. */
  if (r == BNC_R_NOTACCEPT && !permanent) return BNC_T_SOFT;
  return (bnc_type_t)REASONS[r].type;
}

int bnc_reason_permanent(bnc_reason_t r) {
  return ((unsigned)r < BNC_R__COUNT) ? REASONS[r].permanent : 0;
}
