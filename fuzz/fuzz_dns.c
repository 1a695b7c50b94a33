/*
 * fuzz_dns.c - DNS answers on any bytes (dns.c): no read out of bounds and
 * no endless walk whatever the compression pointers, counts and lengths
 * say; an accepted answer keeps at most BNC_DNS_RR_MAX records, every one
 * inside the message with a name (and target) that expands, and an A or
 * AAAA of the right size. The first two bytes are taken as the query id so
 * that the id check lets the rest through; the question asked is
 * example.org MX, then the same bytes as an answer for A. The builder is
 * fed the input as a name too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "bnc.h"
#include "dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bnc_dns_msg_t msg;

static void expand(const uint8_t *m, size_t n, size_t off) {
  char t[BNC_DNS_TEXT_MAX];
  int k = bnc_dns_name(m, n, off, t, sizeof t);
  if (k < 0 || (size_t)k >= sizeof t || strlen(t) != (size_t)k) abort();
}

static void check(const uint8_t *m, size_t n) {
  size_t i;
  if (msg.nrr > BNC_DNS_RR_MAX) abort();
  for (i = 0; i < msg.nrr; i++) {
    const bnc_dns_rr_t *r = &msg.rr[i];
    if (r->name >= n || (size_t)r->rdata + r->rdlen > n || r->section > 2) abort();
    expand(m, n, r->name);
    if ((r->type == BNC_DNS_A && r->rdlen != 4) || (r->type == BNC_DNS_AAAA && r->rdlen != 16)) abort();
    if (r->type == BNC_DNS_A || r->type == BNC_DNS_AAAA) {
      char a[48];
      if (bnc_dns_addr_text(m + r->rdata, r->rdlen, a) <= 0) abort();
    }
    if (r->type == BNC_DNS_MX || r->type == BNC_DNS_CNAME || r->type == BNC_DNS_NS ||
        r->type == BNC_DNS_PTR || r->type == BNC_DNS_SOA) {
      if (r->target < r->rdata || r->target >= r->rdata + r->rdlen) abort();
      expand(m, n, r->target);
    }
    if (r->type == BNC_DNS_SOA) expand(m, n, r->target2);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint16_t id = size >= 2 ? (uint16_t)((data[0] << 8) | data[1]) : 0;
  unsigned char q[BNC_DNS_QUERY_MAX];
  size_t qlen;
  if (bnc_dns_parse(data, size, id, "example.org", 11, BNC_DNS_MX, &msg) == BNC_OK) check(data, size);
  if (bnc_dns_parse(data, size, id, "example.org.", 12, BNC_DNS_A, &msg) == BNC_OK) check(data, size);
  if (bnc_dns_query(id, (const char *)data, size, BNC_DNS_MX, 1232, q, sizeof q, &qlen) == BNC_OK) {
    /* a query the builder made parses back as its own question, once answered */
    q[2] |= 0x80;
    if (bnc_dns_parse(q, qlen, id, (const char *)data, size, BNC_DNS_MX, &msg) != BNC_OK) abort();
    if (msg.nrr != 0 || !msg.edns || msg.udp_size != 1232) abort();
  }
  return 0;
}
