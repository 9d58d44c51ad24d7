/*
 * smtp body: the DATA line checker, pure and bounded.
 *
 * The session reads DATA lines with CONN_EOL_CRLF_STRICT, so a line here is
 * whatever came before a CRLF; a bare CR or LF inside it is kept and seen.
 * This module recognises the end of data (a line that is exactly "."),
 * removes dot-stuffing (RFC 5321 4.5.2), flags bare CR and LF (SMTP
 * smuggling, CVE-2023-51764..51766), and stops buffering once the message
 * passes its size limit while still counting, so the client can be told
 * 552 after its final dot instead of being cut off mid-stream.
 */
#ifndef POSTAMT_SMTP_BODY_H
#define POSTAMT_SMTP_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct smtp_body {
	struct buf msg; /* what the caller put first, then the lines */
	uint64_t size;  /* message bytes received (unstuffed, with CRLFs) */
	uint64_t max;   /* limit on size (config max_message_size) */
	bool too_big;   /* size passed max; msg was freed */
	bool bare_eol;  /* a bare CR or LF was seen */
	bool nomem;     /* an allocation failed; msg was freed */
	/*
	 * smtp_bare_lf = normalize: a bare CR or LF is taken as a line end
	 * and stored as CRLF instead of setting bare_eol.  Only a CRLF "."
	 * CRLF line still ends the data, so no smuggled end can appear.
	 * Set after smtp_body_init() (which clears it).
	 */
	bool normalize;
	/*
	 * BDAT (RFC 3030): the bytes came raw, without dot-stuffing or line
	 * structure; bare_eol is then only a finding (data.c refuses it for
	 * remote recipients), and raw_cr says the last byte was a CR whose
	 * LF may open the next chunk.
	 */
	bool raw;
	bool raw_cr;
};

enum smtp_body_result { SMTP_BODY_MORE, SMTP_BODY_END };

/* Starts an empty body limited to max message bytes. */
void smtp_body_init(struct smtp_body *b, uint64_t max);

/*
 * Takes one line (without its CRLF; it may hold NULs, CRs and LFs).
 * Returns SMTP_BODY_END for the terminating ".", SMTP_BODY_MORE otherwise.
 * Never fails: problems are recorded in the flags, for the caller to
 * answer once the end arrives.
 */
enum smtp_body_result smtp_body_line(struct smtp_body *b, const char *line,
                                     size_t len);

/*
 * Takes every complete line at the start of p (n bytes of DATA input) the
 * way smtp_body_line() would one by one, storing runs of plain lines in
 * one copy.  Stops after the terminating "." (*end_r true), before a line
 * with no CRLF within n, and before one longer than max bytes (the
 * caller's line reader refuses it).  Returns the bytes taken, CRLFs
 * included.
 */
size_t smtp_body_take(struct smtp_body *b, const char *p, size_t n, size_t max,
                      bool *end_r);

/*
 * BDAT: room for up to want more raw bytes at the end of msg, bounded by
 * the size limit.  Returns a pointer to at least *room_r bytes to fill,
 * then smtp_body_raw_commit() with what was filled; NULL when the bytes
 * are to be dropped (too big, out of memory: the flags say which) or want
 * is 0.  The caller still counts dropped bytes with smtp_body_raw_skip().
 */
char *smtp_body_raw_room(struct smtp_body *b, size_t want, size_t *room_r);
/* Takes n bytes written at the pointer smtp_body_raw_room() gave. */
void smtp_body_raw_commit(struct smtp_body *b, size_t n);
/* Counts n raw bytes that were dropped (size only; sets too_big). */
void smtp_body_raw_skip(struct smtp_body *b, size_t n);
/* BDAT LAST: a CR as the very last byte is bare too. */
void smtp_body_raw_end(struct smtp_body *b);

/* True if the message can be delivered (no flag set). */
bool smtp_body_is_ok(const struct smtp_body *b);

/* Frees the buffer; the body can be initialised again. */
void smtp_body_free(struct smtp_body *b);

#endif
