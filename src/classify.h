/*
 * classify.h - rule sets and the classifier: what is known about a failure
 * in, a reason, a type and the name of what decided out.
 *
 * A rule is data: a phrase (case-insensitive; '*' separates fragments that
 * must appear in that order, '|' separates alternatives of one fragment),
 * the reason it implies, optional conditions on the reply code, the
 * enhanced status ("5.7." a subject, "5.1.1" one code, "X.7.606-649" a range
 * of details in either class), the remote host and the SMTP command, and
 * where its meaning comes from (source). A general-wording rule is not
 * read inside advice ("Please set up SPF records", "To protect our users
 * from spam, ..."): the sentence, or the purpose clause, that such a lead
 * opens tells the sender what to do, not what failed. A rule set holds the built-in rules plus the rules a user adds at
 * run time (tried first, in the order added) and compiles all phrases into
 * one matcher. Order is priority: the first rule that matches decides.
 *
 * One decision for live replies and bounce messages alike (bnc_decide), in
 * this order: what is no failure (a complaint, an auto-reply, Action:
 * delivered, a 2xx); then the reason the reply gives: the first matching
 * rule (provider and MTA wordings, then the provider code tables, then
 * general wording and generic words), the enhanced-status registry for a
 * specific status (X.Y.Z, Z > 0), the type of a DSN's Diagnostic-Code
 * (X-Unix: the exit status), a delay notice (Action: delayed, RFC 3464:
 * still queued, `expired`), the registry for a generic status (X.Y.0),
 * the basic code, a failure with nothing but a temporary code or status
 * (Action: failed: retried until the MTA gave up, `expired`); then the
 * stage: a
 * reason about the address given in answer to DATA (after the server
 * accepted RCPT TO) is a content filter's, `filtered`; an address or
 * mailbox reason given before RCPT TO is about the sender: in answer to MAIL
 * FROM `rejected`, to the greeting, HELO, STARTTLS or AUTH `blocked`; then,
 * for a reply a bounce
 * relays, the evidence that ties a "user unknown" to the address; last, what
 * the bounce's format implies, else `onhold` for words nothing here reads,
 * else `undefined`. A live reply (bnc_classify) brings only the reply.
 */
#ifndef BNC_CLASSIFY_H
#define BNC_CLASSIFY_H

#include <stddef.h>
#include "reason.h"
#include "reply.h"
#include "rules.h"

typedef struct bnc_ruleset bnc_ruleset_t;

typedef struct {
  bnc_reason_t reason;
  bnc_type_t type;
  int permanent;          /* 1 or 0 */
  int rule;               /* index into the rule set, or -1 */
  char source[16];        /* what decided: see bnc_decide */
  int context_changed;    /* the stage, or the lack of evidence in a bounce, turned
                             the reply's reason into another (rule still names
                             the text rule that gave way) */
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

/* Whether some rule of rs has a command condition (so that the best rule
 * of a text can change once the command is known). rs is compiled. */
int bnc_ruleset_uses_command(const bnc_ruleset_t *rs);

/* The DSN's Action for a recipient, as the decision reads it. */
typedef enum {
  BNC_DSN_NONE = 0,   /* no Action field */
  BNC_DSN_FAILED,
  BNC_DSN_DELAYED,    /* a warning: the failure is not final */
  BNC_DSN_DELIVERED   /* delivered, relayed or expanded: no failure */
} bnc_dsn_action_t;

/* bnc_signals_t.flags */
#define BNC_SIG_RELAYED 1u  /* the reply comes relayed in a bounce message, not
                               live: a "user unknown" needs evidence that ties
                               it to the address, and words that nothing reads
                               are `onhold` */
#define BNC_SIG_MAILBOX 2u  /* such evidence: the bounce comes from the
                               mailbox's own host, or a field of the reporting
                               MTA says the mailbox does not exist */

/* Everything known about one recipient's failure when it is decided. */
typedef struct {
  const bnc_reply_t *reply;  /* code, enhanced status, command */
  const char *text;          /* the reply's joined text (NULL: none), tlen bytes */
  size_t tlen;
  int rule;                  /* the best text rule (bnc_classify_scan), or -1 */
  bnc_reason_t report;       /* BNC_R_FEEDBACK or BNC_R_VACATION when the message
                                is a complaint or an auto-reply; else
                                BNC_R_UNDEFINED */
  bnc_dsn_action_t action;       /* the DSN's Action */
  bnc_reason_t diag_type;    /* what the Diagnostic-Code type implies (X-Unix: the
                                exit status), or BNC_R_UNDEFINED */
  bnc_reason_t format;       /* what the bounce format implies when nothing else
                                speaks (a family's own reason), or BNC_R_UNDEFINED */
  unsigned flags;            /* BNC_SIG_* */
} bnc_signals_t;

/* The best text rule for a reply whose joined text is text[0..tlen) and
 * whose remote host is rhost[0..rhost_len) (NULL: none): the first rule of
 * rs whose phrase is in the text and whose conditions hold; -1 when none, or
 * when the reply is a 2xx (nothing to explain). The rule set must be
 * compiled. */
int bnc_classify_scan(const bnc_ruleset_t *rs, const bnc_reply_t *r, const char *text, size_t tlen,
                      const char *rhost, size_t rhost_len);

/* The reason the reply itself gives, before the stage and the evidence
 * adjust it: the text rule, the registry, the Diagnostic-Code type, the
 * basic code (the middle steps of bnc_decide); BNC_R_UNDEFINED when none
 * speaks. */
bnc_reason_t bnc_reply_says(const bnc_ruleset_t *rs, const bnc_signals_t *s);

/* Decides s into *out, in the order at the top of this file; out->source
 * names what decided ("text", "status", "type", "code", "context",
 * "format", "action", "default"), out->rule the text rule when one did. */
void bnc_decide(const bnc_ruleset_t *rs, const bnc_signals_t *s, bnc_class_t *out);

/* Classifies a live reply: bnc_classify_scan, then bnc_decide with nothing
 * but the reply. Its joined text is text[0..tlen). rhost, when not NULL,
 * overrides the remote host found in the reply. The rule set must be
 * compiled. */
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
