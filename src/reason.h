/*
 * reason.h - the reason vocabulary (Sisimai's names) and who must act on each.
 *
 * A reason says why a delivery failed; a type says who must act: the address
 * is dead (hard), try later (soft), the receiver refuses the sender or its
 * message (block), it was delivered, or it is not a bounce at all (complaint,
 * auto_reply). The tables are static const; nothing here allocates.
 */
#ifndef BNC_REASON_H
#define BNC_REASON_H

#include <stddef.h>

typedef enum {
  BNC_R_UNDEFINED = 0,
  BNC_R_USERUNKNOWN, BNC_R_HOSTUNKNOWN, BNC_R_HASMOVED, BNC_R_NOTACCEPT,
  BNC_R_MAILBOXFULL, BNC_R_EXCEEDLIMIT, BNC_R_MESGTOOBIG, BNC_R_SUSPEND,
  BNC_R_EXPIRED, BNC_R_SYSTEMERROR, BNC_R_SYSTEMFULL, BNC_R_NETWORKERROR,
  BNC_R_MAILERERROR, BNC_R_TOOMANYCONN, BNC_R_SPEEDING, BNC_R_BLOCKED,
  BNC_R_BADREPUTATION, BNC_R_REQUIREPTR, BNC_R_AUTHFAILURE,
  BNC_R_SECURITYERROR, BNC_R_SPAMDETECTED, BNC_R_VIRUSDETECTED,
  BNC_R_CONTENTERROR, BNC_R_POLICYVIOLATION, BNC_R_NOTCOMPLIANTRFC,
  BNC_R_NORELAYING, BNC_R_REJECTED, BNC_R_FILTERED, BNC_R_SYNTAXERROR,
  BNC_R_FAILEDSTARTTLS, BNC_R_ONHOLD, BNC_R_DELIVERED, BNC_R_FEEDBACK,
  BNC_R_VACATION,
  BNC_R__COUNT
} bnc_reason_t;

typedef enum {
  BNC_T_SOFT = 0, BNC_T_HARD, BNC_T_BLOCK, BNC_T_DELIVERED,
  BNC_T_COMPLAINT, BNC_T_AUTO_REPLY,
  BNC_T__COUNT
} bnc_type_t;

/* Name of a reason ("userunknown"); "undefined" for out-of-range values. */
const char *bnc_reason_name(bnc_reason_t r);
/* Reason for a name of len bytes; -1 when the name is not a known reason. */
int bnc_reason_find(const char *name, size_t len);
/* Name of a type ("hard", "soft", ...). */
const char *bnc_type_name(bnc_type_t t);
/* Who must act for reason r; permanent says whether the failure was a 5xx
 * (it only matters for notaccept, which is hard only when permanent). */
bnc_type_t bnc_reason_type(bnc_reason_t r, int permanent);
/* Whether a reason is permanent by nature when no code or status says so. */
int bnc_reason_permanent(bnc_reason_t r);

#endif
