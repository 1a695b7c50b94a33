/*
 * reply.h - SMTP reply parsing: code, enhanced status, text, remote host and
 * the SMTP command the reply answered.
 *
 * Input is any bytes: a live reply (single or multi-line, LF or CRLF), or the
 * diagnostic text of a bounce (`smtp; 550 ...`, `host mx[ip] said: ...`,
 * sendmail `<<<`/`>>>` transcripts, codes inside the text such as `#5.1.1`).
 * One pass, linear time, no allocation: the joined text goes into a buffer
 * the caller owns, which must hold at least `len` bytes.
 */
#ifndef BNC_REPLY_H
#define BNC_REPLY_H

#include <stddef.h>
#include "bnc.h"

/* Largest reply or diagnostic text accepted, in bytes. */
#define BNC_REPLY_MAX ((size_t)16 << 20)

typedef enum {
  BNC_CMD_NONE = 0, BNC_CMD_CONNECT, BNC_CMD_HELO, BNC_CMD_STARTTLS,
  BNC_CMD_AUTH, BNC_CMD_MAIL, BNC_CMD_RCPT, BNC_CMD_DATA,
  BNC_CMD__COUNT
} bnc_command_t;

typedef struct {
  int code;              /* basic reply code 200..599, 0 when none was found */
  int st_class;          /* enhanced status class 2, 4 or 5; 0 when none */
  int st_subject;        /* 0..7 */
  int st_detail;         /* 0..999 */
  char status[12];       /* "5.1.1", or "" */
  size_t text_len;       /* bytes written to the caller's text buffer */
  size_t rhost_off;      /* remote host as an offset into the input ... */
  size_t rhost_len;      /* ... and its length; 0 when none */
  bnc_command_t command; /* the command the reply answered, when stated */
} bnc_reply_t;

/* Parses buf[0..len) into *out and the joined reply text into text[0..cap).
 * cap must be >= len. Returns BNC_OK, BNC_EEMPTY or BNC_ETOOBIG. */
int bnc_reply_parse(const char *buf, size_t len, char *text, size_t cap,
                    bnc_reply_t *out);

/* Name of a command ("RCPT"), or NULL for BNC_CMD_NONE. */
const char *bnc_command_name(bnc_command_t c);
/* Command for a case-insensitive name ("rcpt", "DATA", "connect"...). */
bnc_command_t bnc_command_find(const char *name, size_t len);

/* Whether the reply or status says the failure is permanent (5xx). The basic
 * code decides when both are present and disagree (`550 4.2.2`): it is what
 * an SMTP client acts on (RFC 5321 4.2.1); the enhanced class only refines.
 * Returns 1, 0, or -1 when neither is present. */
int bnc_reply_permanent(const bnc_reply_t *r);

#endif
