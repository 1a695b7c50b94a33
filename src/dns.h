/*
 * dns.h - DNS messages (RFC 1035) without I/O: a query built into the
 * caller's buffer, an answer checked and parsed into the caller's struct.
 *
 * The parser trusts nothing: the answer must be a response to the query
 * (QR set, opcode QUERY, the query's id, the same question), every name is
 * walked under RFC 1035's bounds (labels of 63 bytes, names of 255, label
 * types 00 and 11 only) with compression pointers that must point before
 * the name's current run of labels, so a loop or a forward pointer is an
 * error, never a hang. Each record's RDATA must fit its length and, for the
 * types read here (A, AAAA, MX, CNAME, NS, PTR, SOA, TXT, OPT), its type's
 * layout. Records are kept as offsets into the message (names are expanded
 * on demand by bnc_dns_name, already known to be well formed), at most
 * BNC_DNS_RR_MAX of them; the rest are checked and counted in `dropped`,
 * and when the table is full a record of the type asked (or a CNAME, SOA,
 * A, AAAA) takes the place of the last kept record of another type.
 * A message with the TC bit set may end inside a record: what came whole
 * is kept and the caller asks again over TCP.
 */
#ifndef BNC_DNS_H
#define BNC_DNS_H

#include <stddef.h>
#include <stdint.h>

#define BNC_DNS_NAME_MAX 255      /* wire bytes of a name (RFC 1035 2.3.4) */
#define BNC_DNS_TEXT_MAX 1024     /* a name as text, \DDD escapes included, with its NUL */
#define BNC_DNS_MSG_MAX 65535     /* a message over TCP (2-byte length) */
#define BNC_DNS_QUERY_MAX 512     /* room for any query bnc_dns_query builds */
#define BNC_DNS_RR_MAX 128        /* records kept per message */

/* Record types read here; others are kept as raw RDATA. */
#define BNC_DNS_A      1
#define BNC_DNS_NS     2
#define BNC_DNS_CNAME  5
#define BNC_DNS_SOA    6
#define BNC_DNS_PTR   12
#define BNC_DNS_MX    15
#define BNC_DNS_TXT   16
#define BNC_DNS_AAAA  28
#define BNC_DNS_OPT   41

#define BNC_DNS_ANSWER     0
#define BNC_DNS_AUTHORITY  1
#define BNC_DNS_ADDITIONAL 2

/* Status codes of bnc_dns_parse and bnc_dns_query besides BNC_OK (see
 * bnc.h for BNC_EINVAL and BNC_ETOOBIG, which they also return). */
#define BNC_DNS_ESHORT    -10  /* ends inside the header, the question or a record */
#define BNC_DNS_ENOTRESP  -11  /* not a response to a standard query (QR, opcode) */
#define BNC_DNS_EID       -12  /* the id is not the query's */
#define BNC_DNS_EQUESTION -13  /* the question is not the one asked */
#define BNC_DNS_ENAME     -14  /* a malformed name: pointer loop or forward, bad label, over 255 bytes */
#define BNC_DNS_ERDATA    -15  /* RDATA that does not fit its length or its type */
#define BNC_DNS_EOPT      -16  /* a second OPT record, or one not in the additional section */

typedef struct {
  uint16_t type, cls;
  uint32_t ttl;            /* seconds; a value with the top bit set reads as 0 (RFC 2181 8) */
  uint8_t section;         /* BNC_DNS_ANSWER, _AUTHORITY, _ADDITIONAL */
  uint16_t name;           /* offset of the owner name */
  uint16_t rdata, rdlen;   /* offset and length of the RDATA */
  uint16_t target;         /* MX exchange; CNAME, NS, PTR target; SOA mname: offset of the name */
  uint16_t target2;        /* SOA rname */
  uint16_t pref;           /* MX preference */
  uint32_t soa[5];         /* SOA serial, refresh, retry, expire, minimum */
} bnc_dns_rr_t;

typedef struct {
  uint16_t id, flags;      /* flags: the header's second 16 bits as sent */
  int rcode;               /* the header's RCODE, extended by an OPT record's upper bits */
  int qr, opcode, aa, tc, rd, ra;
  uint16_t qdcount, ancount, nscount, arcount;
  uint16_t qtype, qclass;  /* the question, when there is one */
  int edns;                /* an OPT record was present */
  uint16_t udp_size;       /* its payload size */
  size_t nrr, dropped;     /* records kept in rr[], records checked but not kept */
  size_t cut;              /* with tc: records announced that did not fit */
  size_t err_off;          /* on error: the byte where reading stopped */
  bnc_dns_rr_t rr[BNC_DNS_RR_MAX];
} bnc_dns_msg_t;

/* Builds a recursive query (RD set) for name (text, LDH labels and '_', an
 * optional final dot; at most 253 bytes) and qtype into out (cap bytes,
 * BNC_DNS_QUERY_MAX is always enough). udp_size > 0 adds an EDNS0 OPT
 * record announcing that payload size (RFC 6891). Returns BNC_OK and sets
 * *olen; BNC_EINVAL for a name that is not one; BNC_ETOOBIG when out is too
 * small. */
int bnc_dns_query(uint16_t id, const char *name, size_t nlen, uint16_t qtype,
                  uint16_t udp_size, unsigned char *out, size_t cap, size_t *olen);

/* Parses the answer m[0..len) to the query (id, name, qtype). Returns BNC_OK
 * with out filled, or a BNC_DNS_E* code with out->err_off set. The RCODE is
 * the caller's to read (NXDOMAIN, SERVFAIL... parse fine); an answer
 * without a question is accepted only with a non-zero RCODE. */
int bnc_dns_parse(const unsigned char *m, size_t len, uint16_t id, const char *name,
                  size_t nlen, uint16_t qtype, bnc_dns_msg_t *out);

/* The name at offset off of a message bnc_dns_parse accepted, as text into
 * out (cap bytes, BNC_DNS_TEXT_MAX is always enough): labels joined by dots,
 * ASCII letters lower-cased, bytes other than letters, digits, '-' and '_'
 * written \DDD, no final dot; "" for the root. Returns its length, or -1
 * (a malformed name, or out too small). */
int bnc_dns_name(const unsigned char *m, size_t len, size_t off, char *out, size_t cap);

/* An address as text: 4 bytes dotted decimal, 16 bytes RFC 5952 (the
 * longest run of zero groups as ::). out holds at least 46 bytes. Returns
 * the length. */
int bnc_dns_addr_text(const unsigned char *a, size_t n, char *out);

/* What a status code of this file means ("compression pointer loop or
 * forward pointer in a name"...). */
const char *bnc_dns_strerror(int code);

/* The RCODE's mnemonic (NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP,
 * REFUSED, ..., BADVERS), or NULL when unassigned. */
const char *bnc_dns_rcode_name(int rcode);

/* The type's mnemonic for the types above, or NULL. */
const char *bnc_dns_type_name(unsigned type);

#endif
