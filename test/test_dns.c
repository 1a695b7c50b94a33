/*
 * test_dns.c - DNS queries and answers (dns.c) in plain C: answers built
 * byte by byte here, as a server or an attacker would send them.
 */
#include <string.h>
#include "check.h"
#include "bnc.h"
#include "dns.h"

/* ---- a message builder ------------------------------------------------- */

static unsigned char m[70000];
static size_t n;

static void b8(unsigned v) { m[n++] = (unsigned char)v; }
static void b16(unsigned v) { b8(v >> 8); b8(v & 0xFF); }
static void b32(unsigned long v) { b16((unsigned)(v >> 16)); b16((unsigned)(v & 0xFFFF)); }
static void bytes(const char *s, size_t k) { memcpy(m + n, s, k); n += k; }
/* "example.org" as labels and the root */
static void name(const char *s) {
  while (*s) {
    const char *d = strchr(s, '.');
    size_t k = d ? (size_t)(d - s) : strlen(s);
    b8((unsigned)k);
    bytes(s, k);
    s += k + (d ? 1 : 0);
  }
  b8(0);
}
static void ptr(unsigned off) { b16(0xC000 | off); }
static void header(unsigned id, unsigned flags, unsigned qd, unsigned an, unsigned ns, unsigned ar) {
  n = 0;
  b16(id); b16(flags); b16(qd); b16(an); b16(ns); b16(ar);
}
static void question(const char *q, unsigned type) { name(q); b16(type); b16(1); }
/* the fixed part of a record after its owner name; returns where RDLENGTH is */
static size_t rr(unsigned type, unsigned long ttl, unsigned rdlen) {
  size_t at;
  b16(type); b16(1); b32(ttl);
  at = n;
  b16(rdlen);
  return at;
}
static void fix_rdlen(size_t at) {
  size_t len = n - at - 2;
  m[at] = (unsigned char)(len >> 8);
  m[at + 1] = (unsigned char)len;
}

static bnc_dns_msg_t msg;

static int parse(unsigned id, const char *q, unsigned type) {
  return bnc_dns_parse(m, n, (uint16_t)id, q, strlen(q), (uint16_t)type, &msg);
}

static char text[BNC_DNS_TEXT_MAX];
static const char *name_at(size_t off) {
  if (bnc_dns_name(m, n, off, text, sizeof text) < 0) return "(bad)";
  return text;
}

/* ---- queries ---------------------------------------------------------- */

static void test_query(void) {
  unsigned char q[BNC_DNS_QUERY_MAX];
  size_t len = 0;
  static const unsigned char want[] = {
    0xBE, 0xEF, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
    7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'o', 'r', 'g', 0, 0, 15, 0, 1 };
  CHECK_INT(bnc_dns_query(0xBEEF, "Example.org.", 12, BNC_DNS_MX, 0, q, sizeof q, &len), BNC_OK);
  CHECK_INT(len, sizeof want);
  CHECK(memcmp(q, want, sizeof want) == 0);
  CHECK_INT(bnc_dns_query(1, "example.org", 11, BNC_DNS_A, 1232, q, sizeof q, &len), BNC_OK);
  CHECK_INT(len, sizeof want + 11);
  CHECK_INT(q[11], 1);                                /* ARCOUNT */
  CHECK_INT(q[sizeof want + 2], BNC_DNS_OPT);
  CHECK_INT((q[sizeof want + 3] << 8) | q[sizeof want + 4], 1232);
  CHECK_INT(bnc_dns_query(1, "_dmarc.example.org", 18, BNC_DNS_TXT, 0, q, sizeof q, &len), BNC_OK);
  CHECK_INT(bnc_dns_query(1, "", 0, BNC_DNS_A, 0, q, sizeof q, &len), BNC_EINVAL);
  CHECK_INT(bnc_dns_query(1, ".", 1, BNC_DNS_A, 0, q, sizeof q, &len), BNC_EINVAL);
  CHECK_INT(bnc_dns_query(1, "a..b", 4, BNC_DNS_A, 0, q, sizeof q, &len), BNC_EINVAL);
  CHECK_INT(bnc_dns_query(1, "a b.org", 7, BNC_DNS_A, 0, q, sizeof q, &len), BNC_EINVAL);
  CHECK_INT(bnc_dns_query(1, "bücher.de", 10, BNC_DNS_A, 0, q, sizeof q, &len), BNC_EINVAL);
  CHECK_INT(bnc_dns_query(1, "example.org", 11, BNC_DNS_A, 0, q, 20, &len), BNC_ETOOBIG);
  {
    char big[300];
    memset(big, 'a', 64);
    memcpy(big + 64, ".org", 5);
    CHECK_INT(bnc_dns_query(1, big, 68, BNC_DNS_A, 0, q, sizeof q, &len), BNC_EINVAL);   /* label of 64 */
    memset(big, 'a', 254);
    big[63] = big[127] = big[191] = '.';
    CHECK_INT(bnc_dns_query(1, big, 254, BNC_DNS_A, 0, q, sizeof q, &len), BNC_EINVAL);  /* name of 254 */
    CHECK_INT(bnc_dns_query(1, big, 253, BNC_DNS_A, 0, q, sizeof q, &len), BNC_OK);
  }
}

/* ---- answers ---------------------------------------------------------- */

/* example.org MX: 10 mx1.example.org, 20 mx2.example.net; mx1's A in the
 * additional section, names compressed as servers do. */
static size_t build_mx(unsigned id) {
  size_t at, mx1;
  header(id, 0x8180, 1, 2, 0, 1);
  question("example.org", BNC_DNS_MX);             /* the name at offset 12 */
  ptr(12); at = rr(BNC_DNS_MX, 300, 0); b16(10);
  mx1 = n; b8(3); bytes("mx1", 3); ptr(12); fix_rdlen(at);
  ptr(12); at = rr(BNC_DNS_MX, 0x80000001ul, 0); b16(20); name("mx2.example.net"); fix_rdlen(at);
  ptr((unsigned)mx1); rr(BNC_DNS_A, 60, 4); b8(192); b8(0); b8(2); b8(1);
  return mx1;
}

static void test_mx_answer(void) {
  char a[64];
  size_t mx1 = build_mx(0x1234);
  CHECK_INT(parse(0x1234, "example.org", BNC_DNS_MX), BNC_OK);
  CHECK_INT(msg.rcode, 0);
  CHECK_INT(msg.ra, 1);
  CHECK_INT(msg.nrr, 3);
  CHECK_INT(msg.rr[0].type, BNC_DNS_MX);
  CHECK_INT(msg.rr[0].pref, 10);
  CHECK_INT(msg.rr[0].ttl, 300);
  CHECK_STR(name_at(msg.rr[0].name), "example.org");
  CHECK_STR(name_at(msg.rr[0].target), "mx1.example.org");
  CHECK_INT(msg.rr[1].pref, 20);
  CHECK_INT(msg.rr[1].ttl, 0);                        /* top bit set: 0 (RFC 2181 8) */
  CHECK_STR(name_at(msg.rr[1].target), "mx2.example.net");
  CHECK_INT(msg.rr[2].section, BNC_DNS_ADDITIONAL);
  CHECK_STR(name_at(msg.rr[2].name), "mx1.example.org");
  CHECK_INT(m[msg.rr[2].name], 0xC0);                 /* its owner: a pointer to mx1's label */
  CHECK_INT(m[msg.rr[2].name + 1], mx1);
  bnc_dns_addr_text(m + msg.rr[2].rdata, 4, a);
  CHECK_STR(a, "192.0.2.1");
  /* the question is compared without regard to case */
  CHECK_INT(parse(0x1234, "EXAMPLE.Org.", BNC_DNS_MX), BNC_OK);
}

static void test_not_the_answer(void) {
  build_mx(0x1234);
  CHECK_INT(parse(0x4321, "example.org", BNC_DNS_MX), BNC_DNS_EID);
  CHECK_INT(parse(0x1234, "example.com", BNC_DNS_MX), BNC_DNS_EQUESTION);
  CHECK_INT(parse(0x1234, "example.org", BNC_DNS_A), BNC_DNS_EQUESTION);
  CHECK_INT(parse(0x1234, "mx1.example.org", BNC_DNS_MX), BNC_DNS_EQUESTION);
  CHECK_INT(parse(0x1234, "not a name", BNC_DNS_MX), BNC_EINVAL);
  m[2] &= 0x7F;                                        /* QR clear: a query */
  CHECK_INT(parse(0x1234, "example.org", BNC_DNS_MX), BNC_DNS_ENOTRESP);
  build_mx(0x1234);
  m[2] |= 0x10;                                        /* opcode 2 (STATUS) */
  CHECK_INT(parse(0x1234, "example.org", BNC_DNS_MX), BNC_DNS_ENOTRESP);
  header(0x1234, 0x8180, 2, 0, 0, 0);                  /* two questions */
  question("example.org", BNC_DNS_MX);
  question("example.org", BNC_DNS_MX);
  CHECK_INT(parse(0x1234, "example.org", BNC_DNS_MX), BNC_DNS_EQUESTION);
  header(0x1234, 0x8180, 1, 0, 0, 0);                  /* class CH */
  name("example.org"); b16(BNC_DNS_MX); b16(3);
  CHECK_INT(parse(0x1234, "example.org", BNC_DNS_MX), BNC_DNS_EQUESTION);
}

static void test_no_question(void) {
  header(7, 0x8182, 0, 0, 0, 0);                       /* SERVFAIL, no question */
  CHECK_INT(parse(7, "example.org", BNC_DNS_MX), BNC_OK);
  CHECK_INT(msg.rcode, 2);
  CHECK_STR(bnc_dns_rcode_name(msg.rcode), "SERVFAIL");
  header(7, 0x8180, 0, 1, 0, 0);                       /* NOERROR without a question */
  CHECK_INT(parse(7, "example.org", BNC_DNS_MX), BNC_DNS_EQUESTION);
  n = 11;
  CHECK_INT(parse(7, "example.org", BNC_DNS_MX), BNC_DNS_ESHORT);
}

static void test_compression_attacks(void) {
  /* the question's name is a pointer to itself */
  header(1, 0x8180, 1, 0, 0, 0);
  ptr(12); b16(BNC_DNS_MX); b16(1);
  CHECK_INT(parse(1, "example.org", BNC_DNS_MX), BNC_DNS_ENAME);
  CHECK_INT(msg.err_off, 12);
  /* two names pointing at each other: 12 -> label, pointer to 18 -> pointer to 12 */
  header(1, 0x8180, 1, 1, 0, 0);
  question("example.org", BNC_DNS_MX);                 /* 12..29 */
  {
    size_t a = n;                                      /* an owner: label "x", pointer to b */
    size_t b = a + 4;
    b8(1); b8('x'); ptr((unsigned)b);                  /* forward: refused */
    ptr((unsigned)a);                                  /* b: back to a */
    rr(BNC_DNS_A, 1, 4); b32(0);
    CHECK_INT(parse(1, "example.org", BNC_DNS_MX), BNC_DNS_ENAME);
  }
  /* a pointer back into the middle of its own run of labels */
  header(1, 0x8180, 1, 1, 0, 0);
  question("example.org", BNC_DNS_MX);
  {
    size_t a = n;
    b8(1); b8('a'); b8(1); b8('b'); ptr((unsigned)a + 2);   /* b -> b -> b ... */
    rr(BNC_DNS_A, 1, 4); b32(0);
    CHECK_INT(parse(1, "example.org", BNC_DNS_MX), BNC_DNS_ENAME);
  }
  /* reserved label types 01 and 10 */
  header(1, 0x8180, 1, 1, 0, 0);
  question("example.org", BNC_DNS_MX);
  b8(0x41); rr(BNC_DNS_A, 1, 4); b32(0);
  CHECK_INT(parse(1, "example.org", BNC_DNS_MX), BNC_DNS_ENAME);
  /* a name over 255 bytes made of pointers to earlier labels, each legal:
   * the labels sit in the RDATA of a record of unknown type, and the next
   * record's owner points at the last of them */
  header(1, 0x8180, 1, 2, 0, 0);
  question("example.org", BNC_DNS_MX);
  {
    size_t prev = 12, i, at;
    ptr(12); at = rr(99, 1, 0);
    for (i = 0; i < 4; i++) {                          /* each adds a 60-byte label */
      size_t here = n;
      char lab[60];
      memset(lab, 'a' + (int)i, sizeof lab);
      b8(60); bytes(lab, 60); ptr((unsigned)prev);
      prev = here;
    }
    fix_rdlen(at);
    ptr((unsigned)prev); rr(BNC_DNS_A, 1, 4); b32(0);
    CHECK_INT(parse(1, "example.org", BNC_DNS_MX), BNC_DNS_ENAME);
    m[7] = 1;                                          /* 3 labels + example.org: 196 bytes, legal */
    n = at + 2 + 3 * 63;
    m[at] = 0; m[at + 1] = 3 * 63;
    CHECK_INT(parse(1, "example.org", BNC_DNS_MX), BNC_OK);
    CHECK_INT(bnc_dns_name(m, n, at + 2 + 2 * 63, text, sizeof text), 60 * 3 + 3 + 11);
  }
}

static void test_truncation(void) {
  size_t full;
  build_mx(9);
  full = n;
  n = full - 2;                                        /* cut inside the last record */
  CHECK_INT(parse(9, "example.org", BNC_DNS_MX), BNC_DNS_ESHORT);
  m[2] |= 0x02;                                        /* TC: the sender cut it */
  CHECK_INT(parse(9, "example.org", BNC_DNS_MX), BNC_OK);
  CHECK_INT(msg.tc, 1);
  CHECK_INT(msg.nrr, 2);
  CHECK_INT(msg.cut, 1);
  n = 20;                                              /* cut inside the question, TC set */
  CHECK_INT(parse(9, "example.org", BNC_DNS_MX), BNC_OK);
  CHECK_INT(msg.nrr, 0);
  m[2] &= (unsigned char)~0x02;
  CHECK_INT(parse(9, "example.org", BNC_DNS_MX), BNC_DNS_ESHORT);
  /* counts that promise more records than the message holds */
  build_mx(9);
  m[7] = 5;
  CHECK_INT(parse(9, "example.org", BNC_DNS_MX), BNC_DNS_ESHORT);
}

static void test_nxdomain_soa(void) {
  size_t at, soa;
  header(5, 0x8183, 1, 0, 1, 0);
  question("nope.example.org", BNC_DNS_MX);           /* "example.org" at 17 */
  ptr(17); soa = n; at = rr(BNC_DNS_SOA, 3600, 0);
  name("ns.example.org"); b8(5); bytes("admin", 5); ptr(17);
  b32(2026120401ul); b32(7200); b32(900); b32(1209600); b32(60);
  fix_rdlen(at);
  CHECK_INT(parse(5, "nope.example.org", BNC_DNS_MX), BNC_OK);
  CHECK_STR(bnc_dns_rcode_name(msg.rcode), "NXDOMAIN");
  CHECK_INT(msg.nrr, 1);
  CHECK_INT(msg.rr[0].section, BNC_DNS_AUTHORITY);
  CHECK_INT(msg.rr[0].type, BNC_DNS_SOA);
  CHECK_STR(name_at(msg.rr[0].target), "ns.example.org");
  CHECK_STR(name_at(msg.rr[0].target2), "admin.example.org");
  CHECK_INT(msg.rr[0].soa[0], 2026120401ul);
  CHECK_INT(msg.rr[0].soa[4], 60);
  /* an SOA one byte short of its 20 numbers */
  m[soa + 9] = (unsigned char)(m[soa + 9] - 1);
  n--;
  CHECK_INT(parse(5, "nope.example.org", BNC_DNS_MX), BNC_DNS_ERDATA);
}

static void test_rdata_checks(void) {
  size_t at;
  header(3, 0x8180, 1, 1, 0, 0);
  question("example.org", BNC_DNS_A);
  ptr(12); rr(BNC_DNS_A, 1, 5); b32(0); b8(0);
  CHECK_INT(parse(3, "example.org", BNC_DNS_A), BNC_DNS_ERDATA);
  header(3, 0x8180, 1, 1, 0, 0);
  question("example.org", BNC_DNS_AAAA);
  ptr(12); rr(BNC_DNS_AAAA, 1, 4); b32(0);
  CHECK_INT(parse(3, "example.org", BNC_DNS_AAAA), BNC_DNS_ERDATA);
  /* an MX whose exchange runs past its RDLENGTH */
  header(3, 0x8180, 1, 1, 0, 0);
  question("example.org", BNC_DNS_MX);
  ptr(12); rr(BNC_DNS_MX, 1, 5); b16(10); name("mx.example.org");
  CHECK_INT(parse(3, "example.org", BNC_DNS_MX), BNC_DNS_ERDATA);
  /* an MX with bytes left after its exchange */
  header(3, 0x8180, 1, 1, 0, 0);
  question("example.org", BNC_DNS_MX);
  ptr(12); at = rr(BNC_DNS_MX, 1, 0); b16(10); ptr(12); b8(0); fix_rdlen(at);
  CHECK_INT(parse(3, "example.org", BNC_DNS_MX), BNC_DNS_ERDATA);
  /* RDLENGTH beyond the message */
  header(3, 0x8180, 1, 1, 0, 0);
  question("example.org", BNC_DNS_MX);
  ptr(12); rr(BNC_DNS_MX, 1, 400); b16(10); ptr(12);
  CHECK_INT(parse(3, "example.org", BNC_DNS_MX), BNC_DNS_ESHORT);
  /* a null MX (RFC 7505): preference 0, the root */
  header(3, 0x8180, 1, 1, 0, 0);
  question("example.org", BNC_DNS_MX);
  ptr(12); rr(BNC_DNS_MX, 1, 3); b16(0); b8(0);
  CHECK_INT(parse(3, "example.org", BNC_DNS_MX), BNC_OK);
  CHECK_STR(name_at(msg.rr[0].target), "");
  /* an unknown type is kept, unread */
  header(3, 0x8180, 1, 1, 0, 0);
  question("example.org", BNC_DNS_MX);
  ptr(12); rr(99, 1, 3); b8(1); b8(2); b8(3);
  CHECK_INT(parse(3, "example.org", BNC_DNS_MX), BNC_OK);
  CHECK_INT(msg.rr[0].type, 99);
  CHECK_INT(msg.rr[0].rdlen, 3);
  CHECK(bnc_dns_type_name(99) == NULL);
}

static void test_txt(void) {
  size_t at, i;
  header(4, 0x8180, 1, 1, 0, 0);
  question("example.org", BNC_DNS_TXT);
  ptr(12); at = rr(BNC_DNS_TXT, 1, 0);
  for (i = 0; i < 250; i++) {                          /* 64,000 bytes of TXT: huge but well formed */
    char s[255];
    memset(s, 'x', sizeof s);
    b8(255); bytes(s, 255);
  }
  fix_rdlen(at);
  CHECK_INT(parse(4, "example.org", BNC_DNS_TXT), BNC_OK);
  CHECK_INT(msg.rr[0].rdlen, 64000);
  m[at + 2 + 256 * 249] = 0;                            /* a short last string: bytes left over */
  CHECK_INT(parse(4, "example.org", BNC_DNS_TXT), BNC_DNS_ERDATA);
  header(4, 0x8180, 1, 1, 0, 0);
  question("example.org", BNC_DNS_TXT);
  ptr(12); rr(BNC_DNS_TXT, 1, 4); b8(5); bytes("abc", 3);
  CHECK_INT(parse(4, "example.org", BNC_DNS_TXT), BNC_DNS_ERDATA);
  header(4, 0x8180, 1, 1, 0, 0);
  question("example.org", BNC_DNS_TXT);
  ptr(12); rr(BNC_DNS_TXT, 1, 0);
  CHECK_INT(parse(4, "example.org", BNC_DNS_TXT), BNC_DNS_ERDATA);
  CHECK_INT(bnc_dns_parse(m, BNC_DNS_MSG_MAX + 1, 4, "example.org", 11, BNC_DNS_TXT, &msg), BNC_ETOOBIG);
}

static void test_opt(void) {
  header(6, 0x8180, 1, 0, 0, 1);
  question("example.org", BNC_DNS_MX);
  b8(0); b16(BNC_DNS_OPT); b16(1232); b32(0x01000000ul); b16(0);   /* extended RCODE 1 << 4 */
  CHECK_INT(parse(6, "example.org", BNC_DNS_MX), BNC_OK);
  CHECK_INT(msg.edns, 1);
  CHECK_INT(msg.udp_size, 1232);
  CHECK_INT(msg.rcode, 16);
  CHECK_STR(bnc_dns_rcode_name(msg.rcode), "BADVERS");
  CHECK_INT(msg.nrr, 0);                               /* OPT is not a record to keep */
  header(6, 0x8180, 1, 0, 0, 2);
  question("example.org", BNC_DNS_MX);
  b8(0); b16(BNC_DNS_OPT); b16(1232); b32(0); b16(0);
  b8(0); b16(BNC_DNS_OPT); b16(1232); b32(0); b16(0);
  CHECK_INT(parse(6, "example.org", BNC_DNS_MX), BNC_DNS_EOPT);
  header(6, 0x8180, 1, 1, 0, 0);
  question("example.org", BNC_DNS_MX);
  b8(0); b16(BNC_DNS_OPT); b16(1232); b32(0); b16(0);
  CHECK_INT(parse(6, "example.org", BNC_DNS_MX), BNC_DNS_EOPT);
}

static void test_record_bound(void) {
  size_t i;
  header(8, 0x8180, 1, 300, 0, 0);
  question("example.org", BNC_DNS_A);
  for (i = 0; i < 300; i++) {
    ptr(12); rr(BNC_DNS_A, 1, 4); b32((unsigned long)i);
  }
  CHECK_INT(parse(8, "example.org", BNC_DNS_A), BNC_OK);
  CHECK_INT(msg.nrr, BNC_DNS_RR_MAX);
  CHECK_INT(msg.dropped, 300 - BNC_DNS_RR_MAX);
  /* 200 TXT records, then 3 MX: the MX records take the last TXTs' places */
  header(8, 0x8180, 1, 203, 0, 0);
  question("example.org", BNC_DNS_MX);
  for (i = 0; i < 200; i++) {
    ptr(12); rr(BNC_DNS_TXT, 1, 2); b8(1); b8('t');
  }
  for (i = 0; i < 3; i++) {
    ptr(12); rr(BNC_DNS_MX, 1, 4); b16((unsigned)(10 * (i + 1))); ptr(12);
  }
  CHECK_INT(parse(8, "example.org", BNC_DNS_MX), BNC_OK);
  CHECK_INT(msg.nrr, BNC_DNS_RR_MAX);
  CHECK_INT(msg.dropped, 203 - BNC_DNS_RR_MAX);
  CHECK_INT(msg.rr[BNC_DNS_RR_MAX - 3].type, BNC_DNS_MX);
  CHECK_INT(msg.rr[BNC_DNS_RR_MAX - 1].pref, 30);
  CHECK_INT(msg.rr[BNC_DNS_RR_MAX - 4].type, BNC_DNS_TXT);
}

static void test_text(void) {
  static const unsigned char v6a[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
  static const unsigned char v6b[16] = { 0 };
  static const unsigned char v6c[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1 };
  static const unsigned char v6d[16] = { 0, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4 };
  static const unsigned char v6e[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
  static const unsigned char v4[4] = { 10, 0, 200, 255 };
  char t[64];
  size_t at;
  bnc_dns_addr_text(v6a, 16, t); CHECK_STR(t, "2001:db8::1");
  bnc_dns_addr_text(v6b, 16, t); CHECK_STR(t, "::");
  bnc_dns_addr_text(v6c, 16, t); CHECK_STR(t, "2001:db8:0:1:1:1:1:1");   /* one zero group stays */
  bnc_dns_addr_text(v6d, 16, t); CHECK_STR(t, "1::2:0:0:3:4");            /* the first of equal runs */
  bnc_dns_addr_text(v6e, 16, t); CHECK_STR(t, "::1");
  bnc_dns_addr_text(v4, 4, t); CHECK_STR(t, "10.0.200.255");
  /* labels holding a dot or a space are escaped, letters lower-cased */
  header(2, 0x8180, 1, 1, 0, 0);
  question("example.org", BNC_DNS_CNAME);
  ptr(12); at = rr(BNC_DNS_CNAME, 1, 0); b8(4); bytes("A.b ", 4); ptr(12); fix_rdlen(at);
  CHECK_INT(parse(2, "example.org", BNC_DNS_CNAME), BNC_OK);
  CHECK_STR(name_at(msg.rr[0].target), "a\\046b\\032.example.org");
  CHECK(bnc_dns_name(m, n, msg.rr[0].target, t, 10) == -1);               /* too small */
  CHECK_STR(bnc_dns_strerror(BNC_DNS_ENAME),
            "malformed name (compression loop or forward pointer, bad label, over 255 bytes)");
}

int main(void) {
  test_query();
  test_mx_answer();
  test_not_the_answer();
  test_no_question();
  test_compression_attacks();
  test_truncation();
  test_nxdomain_soa();
  test_rdata_checks();
  test_txt();
  test_opt();
  test_record_bound();
  test_text();
  return DONE();
}
