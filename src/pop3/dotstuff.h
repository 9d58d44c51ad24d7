/*
 * pop3 dotstuff: turns a stored message into the body of a POP3 multi-line
 * response (RFC 1939 3).  Pure: no I/O.
 */
#ifndef POSTAMT_POP3_DOTSTUFF_H
#define POSTAMT_POP3_DOTSTUFF_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* For body_lines: send the whole message (RETR). */
#define POP3_DOTSTUFF_ALL (-1)

/*
 * Appends msg (len bytes) to out as a multi-line response body: every line
 * that starts with "." gets another "." in front, every line ends in CRLF
 * (a bare LF becomes CRLF, a last line without a terminator gets one), and
 * the terminating ".\r\n" follows.  Lines already ending in CRLF are copied
 * byte for byte.
 *
 * body_lines POP3_DOTSTUFF_ALL sends everything; otherwise (TOP, RFC 1939 7)
 * the header, the empty line that ends it, and at most body_lines lines of
 * the body.
 *
 * Returns 0, or -1 if out reached its maximum or memory ran out (out then
 * holds a partial response that must not be sent).
 */
int pop3_dotstuff_append(struct buf *out, const char *msg, size_t len,
                         int64_t body_lines);

#endif
