/*
 * rules.h - a rule as data, and the built-in rule tables: the text rules
 * and generic words of rules.c, the provider code tables of providers.c.
 * classify.h compiles them into a rule set; nothing here runs.
 *
 * A rule: a phrase (case-insensitive; '*' separates fragments that must
 * appear in that order, '|' separates alternatives of one fragment), the
 * reason it implies, optional conditions on the reply code, the enhanced
 * status, the remote host and the SMTP command, a reply it must decide,
 * and where its meaning comes from.
 */
#ifndef BNC_RULES_H
#define BNC_RULES_H

#include <stddef.h>

typedef struct {
  const char *name;      /* shown as `rule`; NULL: "text:" + pattern */
  const char *pattern;   /* phrase; '*' between ordered fragments */
  const char *reason;    /* a reason name */
  const char *code;      /* NULL, or code prefix: "5", "55", "550" */
  const char *status;    /* NULL, or status prefix: "5.7.", "5.1.1" */
  const char *rhost;     /* NULL, or remote host suffix: "google.com" */
  const char *command;   /* NULL, or "RCPT", "DATA", ... */
  const char *example;   /* a reply this rule must decide */
  int final;             /* the receiver's own "no such account": stays a dead
                            address even when it answered DATA (receivers
                            that check recipients at DATA), where other
                            recipient-level reasons become `filtered` */
  const char *source;    /* where the meaning comes from: "rfc:5321",
                            "provider:google", "mta:postfix", "wording"
                            (general wording); NULL for a user rule: "user" */
  const char *counter;   /* a reply this rule must not decide: the same words
                            in another sense (required of "wording" rules) */
} bnc_rule_def_t;

/* The built-in rules, in priority order: the text rules (src/rules.c), the
 * provider code tables (src/providers.c), the generic words (src/rules.c). */
extern const bnc_rule_def_t bnc_builtin_rules[];
extern const size_t bnc_builtin_rules_count;
extern const bnc_rule_def_t bnc_provider_rules[];
extern const size_t bnc_provider_rules_count;
extern const bnc_rule_def_t bnc_generic_rules[];
extern const size_t bnc_generic_rules_count;

#endif
