#include "pop3/dotstuff.h"

#include <stdbool.h>
#include <string.h>

/* Appends one line (without terminator), stuffed, and CRLF. */
static int
dotstuff_line(struct buf *out, const char *p, size_t n)
{
	if (n > 0 && p[0] == '.' && buf_append(out, ".", 1) < 0)
		return -1;
	if (buf_append(out, p, n) < 0)
		return -1;
	return buf_append(out, "\r\n", 2);
}

int
pop3_dotstuff_append(struct buf *out, const char *msg, size_t len,
                     int64_t body_lines)
{
	size_t pos = 0;
	bool in_body = false;
	int64_t left = body_lines;

	while (pos < len) {
		const char *lf = memchr(msg + pos, '\n', len - pos);
		size_t end = lf != NULL ? (size_t)(lf - msg) : len;
		size_t next = lf != NULL ? end + 1 : len;

		/* The line's CR belongs to its terminator, written anew. */
		if (end > pos && msg[end - 1] == '\r')
			end--;
		if (in_body && body_lines != POP3_DOTSTUFF_ALL) {
			if (left <= 0)
				break;
			left--;
		}
		if (dotstuff_line(out, msg + pos, end - pos) < 0)
			return -1;
		if (!in_body && end == pos)
			in_body = true; /* RFC 5322 2.1: header ends here */
		pos = next;
	}
	return buf_append(out, ".\r\n", 3);
}
