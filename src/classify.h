/*
 * classify.h - rule sets and the classifier: a parsed reply in, a reason, a
 * type and the name of the deciding rule out.
 *
 * A rule is data: a phrase (case-insensitive; '*' separates fragments that
 * must appear in that order), the reason it implies, and optional conditions
 * on the reply code, the enhanced status, the remote host and the SMTP
 * command. A rule set holds the built-in rules plus the rules a user adds at
 * run time (tried first, in the order added) and compiles all phrases into
 * one matcher. Order is priority: the first rule that matches decides.
 *
 * Decision order: a 2xx code is `delivered`; else the first matching text
 * rule; else the enhanced status registry; else the basic code; else
 * `undefined`. Then context: a recipient-level reason given in answer to DATA
 * (after the server accepted RCPT TO) is a content filter's, `filtered`.
 */
#ifndef BNC_CLASSIFY_H
#define BNC_CLASSIFY_H

#include <stddef.h>
#include "reason.h"
#include "reply.h"

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
} bnc_rule_def_t;

/* The built-in rules, in priority order (src/rules.c). */
extern const bnc_rule_def_t bnc_builtin_rules[];
extern const size_t bnc_builtin_rules_count;

typedef struct bnc_ruleset bnc_ruleset_t;

typedef struct {
  bnc_reason_t reason;
  bnc_type_t type;
  int permanent;          /* 1 or 0 */
  int rule;               /* index into the rule set, or -1 */
  char source[16];        /* "text", "status", "code", "context", "default" */
  int context_changed;    /* the command turned the text's reason into another */
} bnc_class_t;

/* New rule set, with the built-in rules when builtin is non-zero. */
bnc_ruleset_t *bnc_ruleset_new(int builtin);
void bnc_ruleset_free(bnc_ruleset_t *rs);
/* Adds a user rule (copied) ahead of the built-in ones, after earlier user
 * rules. Returns BNC_OK, or BNC_EINVAL with a message in err. */
int bnc_ruleset_add(bnc_ruleset_t *rs, const bnc_rule_def_t *def,
                    char *err, size_t errlen);
/* Removes every user rule. */
void bnc_ruleset_clear_user(bnc_ruleset_t *rs);
/* Compiles the matcher when rules changed; BNC_OK or BNC_ENOMEM. */
int bnc_ruleset_compile(bnc_ruleset_t *rs);
size_t bnc_ruleset_count(const bnc_ruleset_t *rs);
/* A number that changes whenever rules are added or cleared (for caches of
 * rule names kept by callers). */
unsigned bnc_ruleset_generation(const bnc_ruleset_t *rs);
const bnc_rule_def_t *bnc_ruleset_get(const bnc_ruleset_t *rs, size_t i);
/* Display name of rule i ("text:user unknown" when it has none). Writes to
 * buf (NUL-terminated, truncated to cap) and returns buf. */
const char *bnc_ruleset_rule_name(const bnc_ruleset_t *rs, size_t i,
                                  char *buf, size_t cap);
/* Whether rule i was added by the user. */
int bnc_ruleset_is_user(const bnc_ruleset_t *rs, size_t i);

/* Classifies a parsed reply whose joined text is text[0..tlen). rhost, when
 * not NULL, overrides the remote host found in the reply. The rule set must
 * be compiled. */
void bnc_classify(const bnc_ruleset_t *rs, const bnc_reply_t *r,
                  const char *text, size_t tlen,
                  const char *rhost, size_t rhost_len, bnc_class_t *out);

/* One reply of a batch: the arguments of bnc_classify, and its result. */
typedef struct {
  const bnc_reply_t *reply;
  const char *text;
  size_t tlen;
  const char *rhost;      /* NULL: the reply's own */
  size_t rhost_len;
  bnc_class_t out;
} bnc_batch_item_t;

/* Classifies n replies as n calls of bnc_classify would, into items[i].out;
 * faster, because the texts are scanned together (bnc_matcher_scan_many),
 * 16 at a time. The rule set must be compiled. No allocation: a rule set
 * with more than 64 multi-fragment rules takes the one-by-one path. */
void bnc_classify_batch(const bnc_ruleset_t *rs, bnc_batch_item_t *items, size_t n);

/* Checks a rule set: for each rule, whether its example is decided by it,
 * and whether an earlier rule always shadows it (its phrase and conditions
 * cover this one's). Calls report(ud, index, shadowing_index_or_-1, what)
 * for every problem and returns the number of problems. */
typedef void (*bnc_check_fn)(void *ud, size_t rule, long other, const char *what);
size_t bnc_ruleset_check(const bnc_ruleset_t *rs, bnc_check_fn report, void *ud);

#endif
