/*
 * pop3 dotstuff: turns a stored message into the body of a POP3 multi-line
 * response (RFC 1939 3).  Pure: no I/O.
 *
 * The message may be fed in pieces of any size (a byte at a time works), so
 * a response can be produced and sent chunk by chunk without ever holding
 * the whole formatted copy.
 */
#ifndef POSTAMT_POP3_DOTSTUFF_H
#define POSTAMT_POP3_DOTSTUFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* For body_lines: send the whole message (RETR). */
#define POP3_DOTSTUFF_ALL (-1)

/*
 * The state between pieces.  Every line that starts with "." gets another
 * "." in front, every line ends in CRLF (a bare LF becomes CRLF, a last
 * line without a terminator gets one), and the terminating ".\r\n" follows.
 * Lines already ending in CRLF are copied byte for byte.
 */
struct pop3_dotstuff {
	int64_t lines_left; /* body lines still to send, or _ALL */
	bool in_body;       /* the empty line after the header was seen */
	bool line_open;     /* the current line's first byte was seen */
	bool line_empty;    /* ... and it has no content so far */
	bool cr_pending;    /* the last piece ended in CR: LF may follow */
	bool stopped;       /* TOP: the line count is reached */
};

/*
 * Starts a response.  body_lines POP3_DOTSTUFF_ALL sends everything;
 * otherwise (TOP, RFC 1939 7) the header, the empty line that ends it, and
 * at most body_lines lines of the body.
 */
void pop3_dotstuff_init(struct pop3_dotstuff *ds, int64_t body_lines);

/*
 * Appends the stuffed form of the next n bytes of the message to out.
 * Returns 0, or -1 if out reached its maximum or memory ran out (the
 * response is then broken and must not be continued).
 */
int pop3_dotstuff_feed(struct pop3_dotstuff *ds, struct buf *out, const char *p,
                       size_t n);

/* True once TOP has sent its lines: the rest need not be fed. */
bool pop3_dotstuff_is_done(const struct pop3_dotstuff *ds);

/* Ends the last line if it was open and appends ".\r\n".  0 or -1. */
int pop3_dotstuff_finish(struct pop3_dotstuff *ds, struct buf *out);

/* The whole message at once: init, feed and finish.  0 or -1. */
int pop3_dotstuff_append(struct buf *out, const char *msg, size_t len,
                         int64_t body_lines);

/*
 * How many bytes at p go out exactly as they are, as whole lines: each
 * ends in CRLF and none starts with a dot, in a RETR's body at a line
 * start (else 0).  The caller may send them some other way (sendfile)
 * and must then feed the rest from p + the length on.
 */
size_t pop3_dotstuff_clean_run(const struct pop3_dotstuff *ds, const char *p,
                               size_t n);

#endif
