/*
 * ses.h - what Amazon SES's bounce types say: a bounce notification's
 * bounceType and bounceSubType (Permanent/NoEmail, Transient/MailboxFull,
 * ...), as the type and the reason bounce gives them. One table, read by
 * the message parser for a notification that arrives by mail (ses.c) and
 * by the webhook for one that arrives over HTTP (bounce.webhooks, through
 * core.ses_bounce). The names come from SES's documentation of the
 * notification contents ("Bounce types"); they are compared exactly.
 */
#ifndef BNC_SES_H
#define BNC_SES_H

#include <stddef.h>
#include "reason.h"

typedef struct {
  const char *bounce_type;   /* "Permanent", "Transient", "Undetermined" */
  const char *subtype;       /* "General", "NoEmail", ... */
  bnc_type_t type;           /* who must act: hard, soft or block */
  bnc_reason_t reason;       /* BNC_R_UNDEFINED when the subtype says no more
                                than the type */
} bnc_ses_type_t;

/* The entry for bounceType bt[0..btn) and bounceSubType st[0..stn) (st
 * NULL: none given, read as "General"). A subtype the table does not hold
 * takes its bounce type's General entry; NULL when there is none, or the
 * bounce type is not one of SES's. */
const bnc_ses_type_t *bnc_ses_bounce(const char *bt, size_t btn, const char *st, size_t stn);

#endif
