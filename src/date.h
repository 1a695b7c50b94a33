/*
 * date.h - RFC 5322 dates ("Sat, 21 Jun 2014 18:35:16 +0000 (UTC)") as
 * seconds since the epoch: the Arrival-Date and Last-Attempt-Date of a
 * delivery report, the Date of a message.
 */
#ifndef BNC_DATE_H
#define BNC_DATE_H

#include <stddef.h>

/* Seconds since the epoch of the date s[0..n): two-digit years and the
 * obsolete zone names accepted, the latter as UTC; -1 when it is not one. */
long long bnc_date_parse(const char *s, size_t n);

#endif
