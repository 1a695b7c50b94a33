/*
 * rules.c - the built-in text rules, in priority order (the first match wins).
 *
 * Each rule: { name, pattern, reason, code, status, rhost, command, example }.
 * Patterns are lower-case phrases matched case-insensitively with white space
 * collapsed; '*' separates fragments that must appear in that order. Every
 * rule carries an example reply that it must decide (spec/rules_spec.lua and
 * `bounce rules --check`), and no rule may be shadowed by an earlier one.
 *
 * Order: specific provider wordings first, then the reasons whose wording is
 * most specific (authentication, reverse DNS, blocklists, spam, virus, rate
 * limits), then mailbox conditions, then address conditions, then the
 * generic ones.
 */
#include <stddef.h>
#include "classify.h"

#define R(name, pat, reason, ex) { name, pat, reason, NULL, NULL, NULL, NULL, ex }
#define RC(name, pat, reason, code, status, ex) \
  { name, pat, reason, code, status, NULL, NULL, ex }

const bnc_rule_def_t bnc_builtin_rules[] = {
  R("gmail-disabled", "account that you tried to reach is disabled", "suspend",
    "550 5.2.1 The email account that you tried to reach is disabled."),
  R("gmail-notexist", "account that you tried to reach does not exist", "userunknown",
    "550 5.1.1 The email account that you tried to reach does not exist."),
  R("dmarc", "dmarc", "authfailure",
    "550 5.7.1 Email rejected per DMARC policy for example.org"),
  R("spf-fail", "spf", "authfailure",
    "550 5.7.26 The MAIL FROM domain has an SPF record with a hard fail"),
  R("rdns", "reverse dns", "requireptr", "554 5.7.1 Reverse DNS failed."),
  R("blocklist", "blocked using", "blocked",
    "554 5.7.1 Client host rejected: blocked using zen.spamhaus.org"),
  R("spam", "spam", "spamdetected", "550 5.7.1 Message rejected as spam"),
  R("virus", "virus", "virusdetected", "550 Virus Detected; Content Rejected"),
  R("mailbox-full", "mailbox full", "mailboxfull", "452 4.2.2 Mailbox full"),
  R("over-quota", "quota", "mailboxfull", "552 Error: disk quota exceeded"),
  R("relay-denied", "relay access denied", "norelaying",
    "554 5.7.1 <a@example.org>: Relay access denied"),
  R("user-unknown", "user unknown", "userunknown", "550 5.1.1 User unknown"),
  R("unknown-user", "unknown user", "userunknown", "550 Unknown user a@example.org"),
  R("no-such-user", "no such user", "userunknown", "550 No such user here"),
  R("host-unknown", "host unknown", "hostunknown", "550 Host unknown"),
};

const size_t bnc_builtin_rules_count =
  sizeof bnc_builtin_rules / sizeof bnc_builtin_rules[0];
