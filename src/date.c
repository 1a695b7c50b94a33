/*
 * date.c - RFC 5322 date-time (section 3.3, with the obsolete forms of 4.3)
 * to seconds since the epoch: an optional day name, day, month name, year,
 * hh:mm[:ss] and a numeric zone; what follows (a comment such as "(UTC)", an
 * obsolete zone name) is ignored, which reads those zones as UTC. Pure
 * arithmetic on the text: no clock, no locale, no time zone database.
 */
#include <stddef.h>
#include "ascii.h"
#include "date.h"

static const char *skip_ws(const char *p, const char *e) {
  while (p < e && (bnc_is_wsp((unsigned char)*p) || *p == ',')) p++;
  return p;
}

static const char *num(const char *p, const char *e, int maxd, long *v) {
  int d = 0;
  *v = 0;
  while (p < e && d < maxd && *p >= '0' && *p <= '9') { *v = *v * 10 + (*p++ - '0'); d++; }
  return d ? p : NULL;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static long days_from_civil(long y, long m, long d) {
  long era, yoe, doy, doe;
  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

long long bnc_date_parse(const char *s, size_t n) {
  static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
  const char *p, *e;
  long day, mon = -1, year, hh, mm, ss = 0, zone = 0, i;
  if (!s) return -1;
  e = s + n;
  p = skip_ws(s, e);
  if (p < e && !(*p >= '0' && *p <= '9')) {          /* day name */
    while (p < e && !bnc_is_wsp((unsigned char)*p) && *p != ',') p++;
    p = skip_ws(p, e);
  }
  if (!(p = num(p, e, 2, &day)) || (p = skip_ws(p, e)) + 3 > e) return -1;
  for (i = 0; i < 12; i++)
    if (bnc_lower((unsigned char)p[0]) == months[3 * i] && bnc_lower((unsigned char)p[1]) == months[3 * i + 1] &&
        bnc_lower((unsigned char)p[2]) == months[3 * i + 2]) mon = i + 1;
  if (mon < 0) return -1;
  while (p < e && !bnc_is_wsp((unsigned char)*p)) p++;
  if (!(p = num(skip_ws(p, e), e, 4, &year))) return -1;
  if (year < 50) year += 2000; else if (year < 1000) year += 1900;
  if (!(p = num(skip_ws(p, e), e, 2, &hh)) || p >= e || *p != ':' || !(p = num(p + 1, e, 2, &mm))) return -1;
  if (p < e && *p == ':' && !(p = num(p + 1, e, 2, &ss))) return -1;
  p = skip_ws(p, e);
  if (p < e && (*p == '+' || *p == '-')) {
    long z;
    const char *q = num(p + 1, e, 4, &z);
    if (q) zone = (*p == '-' ? -1 : 1) * ((z / 100) * 3600 + (z % 100) * 60);
  }
  if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) return -1;
  return (long long)days_from_civil(year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss - zone;
}

