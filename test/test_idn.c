/*
 * test_idn.c - IDN domains to A-labels and back (idn.c), and the syntax
 * check of addresses for verification (mailbox.c), in plain C.
 */
#include <string.h>
#include "check.h"
#include "idn.h"
#include "mailbox.h"

static char buf[BNC_IDN_UNICODE_MAX + 1];

/* The A-label form of s, or "ERR: why". */
static const char *ascii(const char *s) {
  size_t n;
  bnc_idn_err_t e;
  const char *why = bnc_idn_to_ascii(s, strlen(s), buf, sizeof buf, &n, &e);
  if (why) {
    strcpy(buf, "ERR: ");
    strncat(buf, why, sizeof buf - 6);
    return buf;
  }
  buf[n] = '\0';
  return buf;
}

static const char *unicode(const char *s) {
  size_t n;
  const char *why = bnc_idn_to_unicode(s, strlen(s), buf, sizeof buf, &n, NULL);
  if (why) return why;
  buf[n] = '\0';
  return buf;
}

static void test_examples(void) {
  CHECK_STR(ascii("bücher.de"), "xn--bcher-kva.de");
  CHECK_STR(ascii("BÜCHER.DE"), "xn--bcher-kva.de");
  CHECK_STR(ascii("xn--bcher-kva.de"), "xn--bcher-kva.de");
  CHECK_STR(ascii("XN--BCHER-KVA.De"), "xn--bcher-kva.de");
  CHECK_STR(ascii("münchen.de"), "xn--mnchen-3ya.de");
  CHECK_STR(ascii("пример.рф"), "xn--e1afmkfd.xn--p1ai");
  CHECK_STR(ascii("ПРИМЕР.РФ"), "xn--e1afmkfd.xn--p1ai");
  CHECK_STR(ascii("例え.テスト"), "xn--r8jz45g.xn--zckzah");
  CHECK_STR(ascii("straße.de"), "xn--strae-oqa.de");          /* IDNA2008 keeps ß */
  CHECK_STR(ascii("Example.COM"), "example.com");
  CHECK_STR(ascii("例え。テスト"), "xn--r8jz45g.xn--zckzah");   /* ideographic full stop */
  CHECK_STR(ascii("ｅｘａｍｐｌｅ．ｃｏｍ"), "example.com");  /* fullwidth forms */
  CHECK_STR(unicode("xn--bcher-kva.de"), "bücher.de");
  CHECK_STR(unicode("XN--E1AFMKFD.xn--p1ai"), "пример.рф");
  CHECK_STR(unicode("example.org"), "example.org");
}

/* RFC 3492 7.1's sample strings (lower-cased, as IDNA does). */
static void test_rfc3492_samples(void) {
  CHECK_STR(ascii("他们为什么不说中文"), "xn--ihqwcrb4cv8a8dqg056pqjye");
  CHECK_STR(ascii("למההםפשוטלאמדבריםעברית"), "xn--4dbcagdahymbxekheh6e0a7fei0b");
  CHECK_STR(ascii("Pročprostěnemluvíčesky"), "xn--proprostnemluvesky-uyb24dma41a");
  CHECK_STR(ascii("почемужеонинеговорятпорусски"), "xn--b1abfaaepdrnnbgefbadotcwatmq2g4l");
  CHECK_STR(ascii("PorquénopuedensimplementehablarenEspañol"),
            "xn--porqunopuedensimplementehablarenespaol-fmd56a");
  CHECK_STR(ascii("TạisaohọkhôngthểchỉnóitiếngViệt"), "xn--tisaohkhngthchnitingvit-kjcr8268qyxafd2f1b9g");
  CHECK_STR(ascii("なぜみんな日本語を話してくれないのか"), "xn--n8jok5ay5dzabd5bym9f0cm5685rrjetr6pdxa");
  CHECK_STR(unicode("xn--n8jok5ay5dzabd5bym9f0cm5685rrjetr6pdxa"), "なぜみんな日本語を話してくれないのか");
  CHECK_STR(unicode("xn--tisaohkhngthchnitingvit-kjcr8268qyxafd2f1b9g"), "tạisaohọkhôngthểchỉnóitiếngviệt");
}

static void test_refusals(void) {
  size_t n;
  bnc_idn_err_t e;
  const char *in = "cafe\xcc\x81" ".fr";   /* e + U+0301: not NFC */
  CHECK_STR(bnc_idn_to_ascii(in, strlen(in), buf, sizeof buf, &n, &e),
            "a combining mark: write the letter precomposed (NFC)");
  CHECK_INT(e.cp, 0x301);
  CHECK_INT(e.pos, 4);
  CHECK_STR(ascii("a..b"), "ERR: an empty label");
  CHECK_STR(ascii("example.org."), "ERR: an empty label");
  CHECK_STR(ascii(""), "ERR: an empty domain");
  CHECK_STR(ascii("\xff.de"), "ERR: invalid UTF-8");
  CHECK_STR(ascii("\xc0\xaf.de"), "ERR: invalid UTF-8");            /* overlong '/' */
  CHECK_STR(ascii("\xed\xa0\x80.de"), "ERR: invalid UTF-8");        /* a surrogate */
  CHECK_STR(ascii("a\xe2\x98\x83.de"), "ERR: not allowed in a domain name (IDNA2008)");  /* snowman */
  CHECK_STR(ascii("\xf0\x9f\x98\x80.de"), "ERR: not allowed in a domain name (IDNA2008)");  /* emoji */
  CHECK_STR(ascii("a\xe2\x80\x8d" "b\xc3\xbc.de"), "ERR: not allowed in a domain name (IDNA2008)");  /* ZWJ */
  CHECK_STR(ascii("-bücher.de"), "ERR: a label may not start or end with '-'");
  CHECK_STR(ascii("ab--ü.de"), "ERR: '-' in the third and fourth places is reserved (xn--)");
  CHECK_STR(ascii("b_ü.de"), "ERR: only letters, digits and '-' may stand beside non-ASCII letters");
  CHECK_STR(ascii("xn--bcher-kv.de"), "ERR: an xn-- label that is not Punycode");
  CHECK_STR(ascii("xn--abc-.de"), "ERR: an xn-- label that decodes to ASCII only");
  CHECK_STR(ascii("\xc4\xb0stanbul.tr"), "ERR: a letter whose lower case is not known here");  /* İ */
  /* 63 bytes of label is the most; a U-label whose A-label would be longer fails */
  CHECK_STR(ascii("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.de"),
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.de");
  CHECK_STR(ascii("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.de"),
            "ERR: a label longer than 63 bytes");
  CHECK_STR(ascii("üüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüü.de"),
            "ERR: a label longer than 63 bytes as an A-label");
}

static void test_long_domain(void) {
  char d[300];
  size_t i;
  for (i = 0; i < 4; i++) memcpy(d + i * 64, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.", 64);
  d[253] = '\0';                                   /* 253 bytes, the most */
  d[252] = 'b';
  CHECK_INT(strlen(ascii(d)), 253);
  d[253] = 'b';
  d[254] = '\0';
  CHECK_STR(ascii(d), "ERR: longer than 253 bytes");
}

/* The normalised address, or "ERR: why". */
static char mb_out[400];
static const char *mailbox(const char *s) {
  bnc_mailbox_t m;
  const char *why = bnc_mailbox_check(s, strlen(s), &m);
  if (why) {
    strcpy(mb_out, "ERR: ");
    strncat(mb_out, why, sizeof mb_out - 6);
    return mb_out;
  }
  CHECK_INT(strlen(m.addr), m.len);
  CHECK(m.addr[m.at] == '@');
  strcpy(mb_out, m.addr);
  return mb_out;
}

static unsigned mb_flags(const char *s) {
  bnc_mailbox_t m;
  return bnc_mailbox_check(s, strlen(s), &m) ? 0xFFFF : m.flags;
}

static void test_mailbox(void) {
  CHECK_STR(mailbox("ann@example.org"), "ann@example.org");
  CHECK_STR(mailbox("  <Ann.Lee@Example.ORG>  "), "Ann.Lee@example.org");
  CHECK_STR(mailbox("idn@bücher.de"), "idn@xn--bcher-kva.de");
  CHECK_INT(mb_flags("idn@bücher.de"), BNC_MB_IDN);
  CHECK_STR(mailbox("jöhn@example.org"), "jöhn@example.org");
  CHECK_INT(mb_flags("jöhn@example.org"), BNC_MB_UTF8);
  CHECK_STR(mailbox("\"ann\"@example.org"), "ann@example.org");
  CHECK_STR(mailbox("\"a b\"@example.org"), "\"a b\"@example.org");
  CHECK_INT(mb_flags("\"a b\"@example.org"), BNC_MB_QUOTED);
  CHECK_STR(mailbox("\"neko..nyaan\"@example.org"), "\"neko..nyaan\"@example.org");
  CHECK_STR(mailbox("\"a\\\"b\"@example.org"), "\"a\\\"b\"@example.org");
  CHECK_STR(mailbox("a+tag/x=y!#$%&'*^_`{|}~-@example.org"), "a+tag/x=y!#$%&'*^_`{|}~-@example.org");
  CHECK_STR(mailbox("a@[192.0.2.1]"), "a@[192.0.2.1]");
  CHECK_STR(mailbox("a@[ipv6:2001:DB8::1]"), "a@[IPv6:2001:db8::1]");
  CHECK_STR(mailbox("a@[IPv6:::ffff:192.0.2.1]"), "a@[IPv6:::ffff:192.0.2.1]");
  CHECK_INT(mb_flags("a@[192.0.2.1]"), BNC_MB_LITERAL);

  CHECK_STR(mailbox(""), "ERR: an empty address");
  CHECK_STR(mailbox("annexample.org"), "ERR: no '@': expected local@domain");
  CHECK_STR(mailbox("@example.org"), "ERR: an empty local part");
  CHECK_STR(mailbox("ann@"), "ERR: nothing after '@'");
  CHECK_STR(mailbox(".ann@example.org"), "ERR: the local part starts with '.'");
  CHECK_STR(mailbox("ann.@example.org"), "ERR: the local part ends with '.' (at byte 3)");
  CHECK_STR(mailbox("a..nn@example.org"), "ERR: '..' in the local part (at byte 1)");
  CHECK_STR(mailbox("a nn@example.org"), "ERR: white space in the local part (at byte 1; it would need quotes)");
  CHECK_STR(mailbox("a(b)@example.org"), "ERR: '(' in the local part (at byte 1) must be quoted");
  CHECK_STR(mailbox("a@b@example.org"), "ERR: a second '@' (at byte 3)");
  CHECK_STR(mailbox("\"ann@example.org"), "ERR: an unterminated quoted local part (from byte 0)");
  CHECK_STR(mailbox("\"\"@example.org"), "ERR: an empty quoted local part");
  CHECK_STR(mailbox("\"a\"b@example.org"), "ERR: no '@' after the quoted local part (at byte 3)");
  CHECK_STR(mailbox("ann@localhost"), "ERR: a domain of one label ('localhost'): mail needs a dot, as in example.com");
  CHECK_STR(mailbox("ann@192.0.2.1"),
            "ERR: a top-level domain of digits only (an IP address goes in brackets: [192.0.2.1])");
  CHECK_STR(mailbox("ann@exa_mple.org"), "ERR: '_' in the domain (at byte 7): letters, digits, '-' and '.' only");
  CHECK_STR(mailbox("ann@-example.org"), "ERR: a domain label that starts or ends with '-' ('-example')");
  CHECK_STR(mailbox("ann@ex--ample.org"),
            "ERR: a domain label with '--' in its third and fourth places ('ex--ample'; reserved, as in xn--)");
  CHECK_STR(mailbox("ann@example..org"), "ERR: domain: an empty label (at byte 12)");
  CHECK_STR(mailbox("ann@cafe\xcc\x81" ".fr"),
            "ERR: domain: U+0301 at byte 8: a combining mark: write the letter precomposed (NFC)");
  CHECK_STR(mailbox("a@[300.1.1.1]"), "ERR: an address literal that is neither [IPv4] nor [IPv6:...] (at byte 2)");
  CHECK_STR(mailbox("a@[IPv6:1::2::3]"), "ERR: an address literal that is neither [IPv4] nor [IPv6:...] (at byte 2)");
  CHECK_STR(mailbox("a@[192.0.2.1"), "ERR: an address literal without its closing ']'");
  CHECK_STR(mailbox("<ann@example.org"), "ERR: a '<' without its '>'");
  CHECK_STR(mailbox("a\x01@example.org"), "ERR: a control character (0x01) at byte 1");
  CHECK_STR(mailbox("\xff@example.org"), "ERR: invalid UTF-8 at byte 0");
}

static void test_mailbox_limits(void) {
  char s[400];
  memset(s, 'a', 64);
  strcpy(s + 64, "@example.org");
  CHECK_STR(mailbox(s), s);                         /* 64 bytes of local part */
  memset(s, 'a', 65);
  strcpy(s + 65, "@example.org");
  CHECK_STR(mailbox(s), "ERR: a local part longer than 64 bytes (RFC 5321 4.5.3.1.1)");
  /* 64 + 1 + 189 = 254 bytes, the most */
  memset(s, 'a', 64);
  s[64] = '@';
  memset(s + 65, 'b', 189);
  s[65 + 60] = s[65 + 120] = s[65 + 180] = '.';
  s[254] = '\0';
  CHECK_INT(strlen(mailbox(s)), 254);
  s[254] = 'c';
  s[255] = '\0';
  CHECK_STR(mailbox(s), "ERR: longer than 254 bytes (RFC 5321 4.5.3.1.3)");
}

int main(void) {
  test_examples();
  test_rfc3492_samples();
  test_refusals();
  test_long_domain();
  test_mailbox();
  test_mailbox_limits();
  return DONE();
}
