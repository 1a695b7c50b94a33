/*
 * autoreply.c - auto-replies (RFC 3834: Auto-Submitted: auto-replied, and
 * the common X-Autoreply, X-Autorespond, Precedence: auto_reply and
 * out-of-office subjects) and the words of a From or Subject that say a
 * message reports a failure instead, since bounces are auto-submitted too.
 * An auto-reply gives one record, its sender, and stands for the message it
 * answers when no copy of that message came with it.
 */
#include <stddef.h>
#include <string.h>
#include "msg.h"

/* Words of a From or Subject that say the message reports a failure. */
static const char *const FAILURE_WORDS[] = {
  "mailer-daemon", "postmaster", "post_master", "mail delivery", "undeliver", "delivery status",
  "failure", "returned mail", "delivery fail", "not delivered", "rejected", "nondeliver", NULL
};

int bnc_msg_failure_evidence(bnc_str_t from, bnc_str_t subject) {
  int i;
  for (i = 0; FAILURE_WORDS[i]; i++)
    if ((subject.p && bnc_msg_ifind(subject.p, subject.n, FAILURE_WORDS[i])) ||
        (from.p && bnc_msg_ifind(from.p, from.n, FAILURE_WORDS[i]))) return 1;
  return 0;
}

static int is_autoreply(ctx_t *c, const top_t *top) {
  static const char *const subjects[] = {
    "auto:", "automatic reply", "autoreply", "auto-reply", "auto reply", "out of office",
    "out of the office", "vacation", "away until", "away from", "abwesenheitsnotiz", NULL
  };
  bnc_str_t v = bnc_msg_hval(c, top->raw, top->fold, T_AUTOSUB), subject = top->subject;
  int i;
  if (bnc_msg_failure_evidence(top->from, subject)) return 0;  /* bounces are auto-submitted too */
  if (v.p && bnc_iprefix(v.p, v.n, "auto-replied")) return 1;
  if (bnc_msg_hval(c, top->raw, top->fold, T_XAUTOREPLY).p ||
      bnc_msg_hval(c, top->raw, top->fold, T_XAUTORESPOND).p) return 1;
  v = bnc_msg_hval(c, top->raw, top->fold, T_PRECEDENCE);
  if (v.p && bnc_ieq(v.p, v.n, "auto_reply")) return 1;
  for (i = 0; subject.p && subjects[i]; i++)
    if (bnc_msg_ifind(subject.p, subject.n, subjects[i])) return 1;
  return 0;
}

int bnc_msg_read_autoreply(ctx_t *c, const top_t *top) {
  bnc_message_t *m = c->m;
  if (!is_autoreply(c, top)) return 0;
  m->format = "autoreply";
  if (bnc_msg_new_rcpt(c)) {
    bnc_str_t from = top->from;
    m->rcpt[0].rcpt = from.p ? bnc_msg_find_addr(from.p, from.p + from.n) : from;
  }
  if (!c->have_orig) {           /* the reply itself is what the caller sent to */
    m->subject = top->subject;
    m->to = bnc_msg_hval(c, top->raw, top->fold, T_TO);
    m->date = bnc_msg_hval(c, top->raw, top->fold, T_DATE);
    m->message_id = bnc_msg_hval(c, top->raw, top->fold, T_INREPLYTO);
  }
  bnc_msg_mark_all(c, BNC_R_VACATION);
  return 1;
}
