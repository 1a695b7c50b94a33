/*
 * status.h - the enhanced status code registry (RFC 3463 and the whole IANA
 * "SMTP Enhanced Status Codes" registry; provider extensions are in the
 * provider code tables) and the basic reply codes of RFC 5321, each with
 * the reason it implies when the text says nothing more specific.
 */
#ifndef BNC_STATUS_H
#define BNC_STATUS_H

#include <stddef.h>
#include "reason.h"

/* Reason implied by an enhanced status (subject, detail); the class does not
 * change the meaning. Returns BNC_R_UNDEFINED when the status is generic. */
bnc_reason_t bnc_status_reason(int subject, int detail);
/* Short description of subject.detail, or NULL when unregistered. */
const char *bnc_status_describe(int subject, int detail);
/* The RFC(s) that registered subject.detail ("RFC 3463"), or NULL. */
const char *bnc_status_rfc(int subject, int detail);
/* Number of registered subject.detail codes (81 for X.0.0 .. X.7.30). */
size_t bnc_status_count(void);
/* Reason implied by a basic reply code alone, or BNC_R_UNDEFINED. */
bnc_reason_t bnc_code_reason(int code);

#endif
