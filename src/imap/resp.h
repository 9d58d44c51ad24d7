/*
 * resp: writing IMAP responses (RFC 9051 7) and mapping struct err.
 */
#ifndef POSTAMT_IMAP_RESP_H
#define POSTAMT_IMAP_RESP_H

#include <stddef.h>
#include <stdint.h>

#include "imap/session.h"
#include "util/buf.h"
#include "util/err.h"

enum imap_status { IMAP_OK, IMAP_NO, IMAP_BAD };

/*
 * Writes "TAG OK|NO|BAD [CODE] text".  code may be NULL.  A tag of NULL
 * writes "*" (a BAD for a line whose tag could not be read).  BAD replies
 * are counted for the session's too-many-errors rule; OK and NO reset it.
 */
void imap_resp_tagged(struct imap_session *s, const char *tag,
                      enum imap_status st, const char *code, const char *fmt,
                      ...) __attribute__((format(printf, 5, 6)));

/* Writes "* " fmt CRLF. */
void imap_resp_untagged(struct imap_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Answers a failed store or auth call once, by kind: QUOTA -> NO
 * [OVERQUOTA], NOTFOUND -> NO [NONEXISTENT], TEMP/IO -> NO [UNAVAILABLE],
 * ... (RFC 5530 codes).  The detail goes to the log, not the client.
 */
void imap_resp_err(struct imap_session *s, const char *tag,
                   const struct err *e);

/* Appends s as a quoted string, or as a literal if it cannot be quoted. */
int imap_resp_string(struct buf *out, const char *s, size_t len);

/* Appends a literal "{n}" CRLF followed by the bytes. */
int imap_resp_literal(struct buf *out, const void *data, size_t len);

/*
 * Appends "(\Seen \Flagged ...)" for the system flag bits of flags;
 * keyword bits are left out (imap_resp_flags_kw() names them).
 */
int imap_resp_flags(struct buf *out, uint32_t flags);

/* Appends "(\Seen ... $Forwarded ...)": system flags and u's keywords. */
int imap_resp_flags_kw(struct buf *out, struct store_user *u, uint32_t flags);

/*
 * The FLAGS and PERMANENTFLAGS lines of SELECT and EXAMINE (RFC 9051
 * 7.3.5, 7.1): the system flags and every keyword u has; PERMANENTFLAGS
 * adds "\*" (new keywords may be created) unless readonly, which has no
 * permanent flags at all.
 */
int imap_resp_flag_lines(struct buf *out, struct store_user *u, bool readonly);

/* Maps a system flag name ("\Seen", any case) to its bit; 0 if unknown. */
uint32_t imap_flag_parse(const char *name);

/* Writes out's bytes to the connection and empties it. */
void imap_resp_flush(struct imap_session *s, struct buf *out);

#endif
