/*
 * dns.c - DNS queries built and answers parsed (see dns.h): the wire format
 * of RFC 1035 with EDNS0 (RFC 6891), the name compression rules, and the
 * checks that make a forged, truncated or hostile answer an error code
 * rather than a read out of bounds or an endless walk. No I/O, no
 * allocation: the caller owns every buffer.
 */
#include <string.h>
#include "ascii.h"
#include "bnc.h"
#include "dns.h"

static uint16_t get16(const unsigned char *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t get32(const unsigned char *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)(v >> 8); p[1] = (unsigned char)v; }

/* ---- names ------------------------------------------------------------ */

/* Walks the name at off. A compression pointer must point before the start
 * of the run of labels it ends (the name's start, or the previous
 * pointer's target), so runs start ever earlier and the walk ends; the
 * whole name stays within 255 bytes. Sets *end (the byte after the name as
 * written here: after its root label or its first pointer). If w is not
 * NULL the name is copied there uncompressed, ASCII lower-cased (at most
 * BNC_DNS_NAME_MAX bytes) and *wlen set. */
static int name_walk(const unsigned char *m, size_t len, size_t off, size_t *end,
                     unsigned char *w, size_t *wlen) {
  size_t p = off, run = off, total = 0;
  int jumped = 0;
  for (;;) {
    unsigned c;
    if (p >= len) return BNC_DNS_ESHORT;
    c = m[p];
    if (c == 0) {
      if (!jumped) *end = p + 1;
      if (w) { w[total] = 0; *wlen = total + 1; }
      return BNC_OK;
    }
    if ((c & 0xC0) == 0xC0) {
      size_t q;
      if (p + 1 >= len) return BNC_DNS_ESHORT;
      q = ((size_t)(c & 0x3F) << 8) | m[p + 1];
      if (q >= run) return BNC_DNS_ENAME;
      if (!jumped) { *end = p + 2; jumped = 1; }
      p = run = q;
      continue;
    }
    if (c & 0xC0) return BNC_DNS_ENAME;      /* 01, 10: extended and reserved label types */
    if (total + 1 + c + 1 > BNC_DNS_NAME_MAX) return BNC_DNS_ENAME;
    if (p + 1 + c > len) return BNC_DNS_ESHORT;
    if (w) {
      size_t i;
      w[total] = (unsigned char)c;
      for (i = 1; i <= c; i++) w[total + i] = (unsigned char)bnc_lower(m[p + i]);
    }
    total += 1 + c;
    p += 1 + c;
  }
}

static int host_char(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_';
}

/* A name as text into wire form, lower-cased: LDH and '_' labels of 1..63
 * bytes, an optional final dot, at most 253 bytes. Returns the wire length
 * or 0 when it is not a name. */
static size_t encode_name(const char *s, size_t n, unsigned char *w) {
  size_t i, o = 0, lab = 0;
  if (n > 0 && s[n - 1] == '.') n--;
  if (n == 0 || n > 253) return 0;
  for (i = 0; i <= n; i++) {
    if (i == n || s[i] == '.') {
      size_t k = i - lab;
      if (k == 0 || k > 63) return 0;
      w[o++] = (unsigned char)k;
      while (lab < i) w[o++] = (unsigned char)bnc_lower((unsigned char)s[lab++]);
      lab = i + 1;
    } else if (!host_char((unsigned char)s[i])) {
      return 0;
    }
  }
  w[o++] = 0;
  return o;
}

int bnc_dns_name(const unsigned char *m, size_t len, size_t off, char *out, size_t cap) {
  unsigned char w[BNC_DNS_NAME_MAX];
  size_t end, wl, i = 0, o = 0;
  if (name_walk(m, len, off, &end, w, &wl) != BNC_OK) return -1;
  while (w[i]) {
    size_t k = w[i++], j;
    if (o > 0) {
      if (o + 1 >= cap) return -1;
      out[o++] = '.';
    }
    for (j = 0; j < k; j++, i++) {
      unsigned c = w[i];
      if (host_char((int)c)) {
        if (o + 1 >= cap) return -1;
        out[o++] = (char)c;
      } else {
        if (o + 4 >= cap) return -1;
        out[o++] = '\\';
        out[o++] = (char)('0' + c / 100);
        out[o++] = (char)('0' + c / 10 % 10);
        out[o++] = (char)('0' + c % 10);
      }
    }
  }
  if (o >= cap) return -1;
  out[o] = '\0';
  return (int)o;
}

/* ---- queries ---------------------------------------------------------- */

int bnc_dns_query(uint16_t id, const char *name, size_t nlen, uint16_t qtype,
                  uint16_t udp_size, unsigned char *out, size_t cap, size_t *olen) {
  unsigned char w[BNC_DNS_NAME_MAX];
  size_t wl = encode_name(name, nlen, w), n;
  if (wl == 0) return BNC_EINVAL;
  n = 12 + wl + 4 + (udp_size ? 11 : 0);
  if (n > cap) return BNC_ETOOBIG;
  memset(out, 0, n);
  put16(out, id);
  put16(out + 2, 0x0100);                       /* a standard query, recursion desired */
  put16(out + 4, 1);
  put16(out + 10, udp_size ? 1 : 0);
  memcpy(out + 12, w, wl);
  put16(out + 12 + wl, qtype);
  put16(out + 14 + wl, 1);                      /* class IN */
  if (udp_size) {                               /* OPT: root name, type 41, class = size */
    unsigned char *o = out + 16 + wl;
    put16(o + 1, BNC_DNS_OPT);
    put16(o + 3, udp_size);
  }
  *olen = n;
  return BNC_OK;
}

/* ---- answers ---------------------------------------------------------- */

/* A name inside RDATA that must end exactly at rdend (or, with exact 0,
 * within it): sets *end. A name running out of the message is bad RDATA. */
static int rdata_name(const unsigned char *m, size_t len, size_t off, size_t rdend,
                      int exact, size_t *end) {
  int r = name_walk(m, len, off, end, NULL, NULL);
  if (r == BNC_DNS_ESHORT) return BNC_DNS_ERDATA;
  if (r != BNC_OK) return r;
  if (exact ? *end != rdend : *end > rdend) return BNC_DNS_ERDATA;
  return BNC_OK;
}

/* Checks the RDATA of rr (at rr->rdata, rr->rdlen bytes) by its type and
 * fills the fields that type has. */
static int check_rdata(const unsigned char *m, size_t len, bnc_dns_rr_t *rr) {
  size_t rd = rr->rdata, rdend = rd + rr->rdlen, end, q;
  int r;
  switch (rr->type) {
  case BNC_DNS_A: return rr->rdlen == 4 ? BNC_OK : BNC_DNS_ERDATA;
  case BNC_DNS_AAAA: return rr->rdlen == 16 ? BNC_OK : BNC_DNS_ERDATA;
  case BNC_DNS_MX:
    if (rr->rdlen < 3) return BNC_DNS_ERDATA;
    rr->pref = get16(m + rd);
    rr->target = (uint16_t)(rd + 2);
    return rdata_name(m, len, rd + 2, rdend, 1, &end);
  case BNC_DNS_CNAME: case BNC_DNS_NS: case BNC_DNS_PTR:
    rr->target = (uint16_t)rd;
    return rdata_name(m, len, rd, rdend, 1, &end);
  case BNC_DNS_SOA:
    rr->target = (uint16_t)rd;
    if ((r = rdata_name(m, len, rd, rdend, 0, &end)) != BNC_OK) return r;
    rr->target2 = (uint16_t)end;
    if ((r = rdata_name(m, len, end, rdend, 0, &end)) != BNC_OK) return r;
    if (rdend - end != 20) return BNC_DNS_ERDATA;
    for (q = 0; q < 5; q++) rr->soa[q] = get32(m + end + 4 * q);
    return BNC_OK;
  case BNC_DNS_TXT:                             /* one or more <length><bytes> strings */
    if (rr->rdlen == 0) return BNC_DNS_ERDATA;
    for (q = rd; q < rdend; q += 1 + (size_t)m[q]) {}
    return q == rdend ? BNC_OK : BNC_DNS_ERDATA;
  default: return BNC_OK;
  }
}

/* The OPT pseudo-record: once, in the additional section, owned by the
 * root; its TTL carries the upper 8 bits of the RCODE. */
static int read_opt(const unsigned char *m, size_t owner, uint16_t cls, uint32_t rawttl,
                    int section, bnc_dns_msg_t *out) {
  if (section != BNC_DNS_ADDITIONAL || out->edns || m[owner] != 0) return BNC_DNS_EOPT;
  out->edns = 1;
  out->udp_size = cls;
  out->rcode |= (int)(rawttl >> 24) << 4;
  return BNC_OK;
}

/* The records an answer to qtype is read for: those of qtype, CNAMEs and
 * SOAs (the chain and the negative TTL), addresses (glue). */
static int wanted(const bnc_dns_rr_t *r, uint16_t qtype) {
  return r->type == qtype || r->type == BNC_DNS_CNAME || r->type == BNC_DNS_SOA ||
         r->type == BNC_DNS_A || r->type == BNC_DNS_AAAA;
}

/* Keeps rr while there is room; when full, a wanted record takes the place
 * of the last kept one that is not (*others counts those), so that 60 KB of
 * TXT cannot push out the MX records behind it. */
static void keep(bnc_dns_msg_t *out, const bnc_dns_rr_t *rr, uint16_t qtype, size_t *others) {
  size_t i;
  if (out->nrr < BNC_DNS_RR_MAX) {
    out->rr[out->nrr++] = *rr;
    if (!wanted(rr, qtype)) (*others)++;
    return;
  }
  out->dropped++;
  if (*others == 0 || !wanted(rr, qtype)) return;
  for (i = out->nrr; i-- > 0;) {
    if (!wanted(&out->rr[i], qtype)) {
      memmove(out->rr + i, out->rr + i + 1, (out->nrr - i - 1) * sizeof out->rr[0]);
      out->rr[out->nrr - 1] = *rr;
      (*others)--;
      return;
    }
  }
}

static int parse_rr(const unsigned char *m, size_t len, size_t *pp, int section, uint16_t qtype,
                    size_t *others, bnc_dns_msg_t *out) {
  size_t p = *pp, end, rd;
  uint32_t rawttl;
  bnc_dns_rr_t rr;
  int r = name_walk(m, len, p, &end, NULL, NULL);
  if (r != BNC_OK) { out->err_off = p; return r; }
  if (end + 10 > len) { out->err_off = end; return BNC_DNS_ESHORT; }
  memset(&rr, 0, sizeof rr);
  rr.name = (uint16_t)p;
  rr.section = (uint8_t)section;
  rr.type = get16(m + end);
  rr.cls = get16(m + end + 2);
  rawttl = get32(m + end + 4);
  rr.ttl = rawttl & 0x80000000u ? 0 : rawttl;
  rr.rdlen = get16(m + end + 8);
  rd = end + 10;
  if (rd + rr.rdlen > len) { out->err_off = rd; return BNC_DNS_ESHORT; }
  rr.rdata = (uint16_t)rd;
  if (rr.type == BNC_DNS_OPT) {
    r = read_opt(m, p, rr.cls, rawttl, section, out);
  } else {
    r = check_rdata(m, len, &rr);
  }
  if (r != BNC_OK) { out->err_off = rd; return r; }
  if (rr.type != BNC_DNS_OPT) keep(out, &rr, qtype, others);
  *pp = rd + rr.rdlen;
  return BNC_OK;
}

/* The question: one, for the name and type asked, class IN. None is
 * accepted only beside an error RCODE (servers drop it on FORMERR and
 * some SERVFAIL or REFUSED answers). */
static int check_question(const unsigned char *m, size_t len, size_t *pp, const unsigned char *qw,
                          size_t qwl, uint16_t qtype, bnc_dns_msg_t *out) {
  unsigned char w[BNC_DNS_NAME_MAX];
  size_t end, wl;
  int r;
  if (out->qdcount == 0) {
    if ((out->rcode & 15) != 0) return BNC_OK;
    out->err_off = 4;
    return BNC_DNS_EQUESTION;
  }
  if (out->qdcount > 1) { out->err_off = 4; return BNC_DNS_EQUESTION; }
  r = name_walk(m, len, *pp, &end, w, &wl);
  if (r != BNC_OK) { out->err_off = *pp; return r; }
  if (end + 4 > len) { out->err_off = end; return BNC_DNS_ESHORT; }
  out->qtype = get16(m + end);
  out->qclass = get16(m + end + 2);
  if (wl != qwl || memcmp(w, qw, wl) != 0 || out->qtype != qtype || out->qclass != 1) {
    out->err_off = *pp;
    return BNC_DNS_EQUESTION;
  }
  *pp = end + 4;
  return BNC_OK;
}

int bnc_dns_parse(const unsigned char *m, size_t len, uint16_t id, const char *name,
                  size_t nlen, uint16_t qtype, bnc_dns_msg_t *out) {
  unsigned char qw[BNC_DNS_NAME_MAX];
  size_t qwl, p = 12, total, i, others = 0;
  int r;
  memset(out, 0, offsetof(bnc_dns_msg_t, rr));
  if (len > BNC_DNS_MSG_MAX) return BNC_ETOOBIG;
  if ((qwl = encode_name(name, nlen, qw)) == 0) return BNC_EINVAL;
  if (len < 12) { out->err_off = len; return BNC_DNS_ESHORT; }
  out->id = get16(m);
  out->flags = get16(m + 2);
  out->qr = out->flags >> 15;
  out->opcode = (out->flags >> 11) & 15;
  out->aa = (out->flags >> 10) & 1;
  out->tc = (out->flags >> 9) & 1;
  out->rd = (out->flags >> 8) & 1;
  out->ra = (out->flags >> 7) & 1;
  out->rcode = out->flags & 15;
  out->qdcount = get16(m + 4);
  out->ancount = get16(m + 6);
  out->nscount = get16(m + 8);
  out->arcount = get16(m + 10);
  if (!out->qr || out->opcode != 0) { out->err_off = 2; return BNC_DNS_ENOTRESP; }
  if (out->id != id) return BNC_DNS_EID;
  if ((r = check_question(m, len, &p, qw, qwl, qtype, out)) != BNC_OK) {
    if (r == BNC_DNS_ESHORT && out->tc) return BNC_OK;
    return r;
  }
  total = (size_t)out->ancount + out->nscount + out->arcount;
  for (i = 0; i < total; i++) {
    int section = i < out->ancount ? BNC_DNS_ANSWER
                : i < (size_t)out->ancount + out->nscount ? BNC_DNS_AUTHORITY : BNC_DNS_ADDITIONAL;
    r = parse_rr(m, len, &p, section, qtype, &others, out);
    if (r == BNC_DNS_ESHORT && out->tc) {       /* cut by the sender: keep what came whole */
      out->cut = total - i;
      return BNC_OK;
    }
    if (r != BNC_OK) return r;
  }
  return BNC_OK;
}

/* ---- text ------------------------------------------------------------- */

static char *put_dec(char *o, unsigned v) {
  if (v >= 100) *o++ = (char)('0' + v / 100);
  if (v >= 10) *o++ = (char)('0' + v / 10 % 10);
  *o++ = (char)('0' + v % 10);
  return o;
}

static char *put_hex(char *o, unsigned v) {
  static const char hex[] = "0123456789abcdef";
  int shift, started = 0;
  for (shift = 12; shift >= 0; shift -= 4) {
    unsigned d = (v >> shift) & 15;
    if (d || started || shift == 0) { *o++ = hex[d]; started = 1; }
  }
  return o;
}

int bnc_dns_addr_text(const unsigned char *a, size_t n, char *out) {
  char *o = out;
  if (n == 4) {
    size_t i;
    for (i = 0; i < 4; i++) {
      if (i) *o++ = '.';
      o = put_dec(o, a[i]);
    }
  } else if (n == 16) {
    int best = -1, bestn = 1, i;
    for (i = 0; i < 8; i++) {                   /* the longest run of zero groups, 2 or more */
      int k = i;
      while (k < 8 && a[2 * k] == 0 && a[2 * k + 1] == 0) k++;
      if (k - i > bestn) { best = i; bestn = k - i; }
      if (k > i) i = k - 1;
    }
    for (i = 0; i < 8; i++) {
      if (i == best) {
        *o++ = ':';
        *o++ = ':';
        i += bestn - 1;
        continue;
      }
      if (i > 0 && i != best + bestn) *o++ = ':';
      o = put_hex(o, get16(a + 2 * i));
    }
  }
  *o = '\0';
  return (int)(o - out);
}

const char *bnc_dns_strerror(int code) {
  switch (code) {
  case BNC_OK: return "ok";
  case BNC_EINVAL: return "not a domain name";
  case BNC_ETOOBIG: return "message too long";
  case BNC_DNS_ESHORT: return "message ends inside the header, the question or a record";
  case BNC_DNS_ENOTRESP: return "not a response to a standard query";
  case BNC_DNS_EID: return "the id is not the query's";
  case BNC_DNS_EQUESTION: return "the question is not the one asked";
  case BNC_DNS_ENAME: return "malformed name (compression loop or forward pointer, bad label, over 255 bytes)";
  case BNC_DNS_ERDATA: return "record data does not fit its length or its type";
  case BNC_DNS_EOPT: return "misplaced or repeated OPT record";
  default: return "unknown error";
  }
}

const char *bnc_dns_rcode_name(int rcode) {
  static const char *const names[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
                                       "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH",
                                       "NOTZONE" };
  if (rcode >= 0 && rcode < (int)(sizeof names / sizeof names[0])) return names[rcode];
  if (rcode == 16) return "BADVERS";
  return NULL;
}

const char *bnc_dns_type_name(unsigned type) {
  switch (type) {
  case BNC_DNS_A: return "A";
  case BNC_DNS_NS: return "NS";
  case BNC_DNS_CNAME: return "CNAME";
  case BNC_DNS_SOA: return "SOA";
  case BNC_DNS_PTR: return "PTR";
  case BNC_DNS_MX: return "MX";
  case BNC_DNS_TXT: return "TXT";
  case BNC_DNS_AAAA: return "AAAA";
  case BNC_DNS_OPT: return "OPT";
  default: return NULL;
  }
}
