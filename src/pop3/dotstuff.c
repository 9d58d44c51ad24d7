#include "pop3/dotstuff.h"

#include <string.h>

void
pop3_dotstuff_init(struct pop3_dotstuff *ds, int64_t body_lines)
{
	memset(ds, 0, sizeof(*ds));
	ds->lines_left = body_lines;
}

bool
pop3_dotstuff_is_done(const struct pop3_dotstuff *ds)
{
	return ds->stopped;
}

/*
 * The first byte of a line (ch) arrived: counts TOP's body lines and
 * stuffs a leading dot.  Returns 1 if the line must not be sent, else 0 or
 * -1.
 */
static int
dotstuff_line_start(struct pop3_dotstuff *ds, struct buf *out, char ch)
{
	if (ds->in_body && ds->lines_left != POP3_DOTSTUFF_ALL) {
		if (ds->lines_left <= 0) {
			ds->stopped = true;
			return 1;
		}
		ds->lines_left--;
	}
	ds->line_open = true;
	ds->line_empty = true;
	return ch == '.' ? buf_append(out, ".", 1) : 0;
}

/* The current line ends: CRLF, and the header ends at an empty line. */
static int
dotstuff_line_end(struct pop3_dotstuff *ds, struct buf *out)
{
	if (!ds->in_body && ds->line_empty)
		ds->in_body = true; /* RFC 5322 2.1 */
	ds->line_open = false;
	return buf_append(out, "\r\n", 2);
}

/*
 * The length of the run of whole lines at p that go out unchanged: each
 * ends in CRLF and none starts with a dot.  Only in a RETR's body, at a
 * line start: there nothing is counted.  Copying the run in one piece
 * instead of line by line halved RETR's CPU per MiB.
 */
size_t
pop3_dotstuff_clean_run(const struct pop3_dotstuff *ds, const char *p, size_t n)
{
	size_t pos = 0;
	const char *lf;

	if (!ds->in_body || ds->lines_left != POP3_DOTSTUFF_ALL ||
	    ds->line_open || ds->cr_pending)
		return 0;
	while (pos < n && p[pos] != '.' &&
	       (lf = memchr(p + pos, '\n', n - pos)) != NULL && lf > p + pos &&
	       lf[-1] == '\r')
		pos = (size_t)(lf - p) + 1;
	return pos;
}

int
pop3_dotstuff_feed(struct pop3_dotstuff *ds, struct buf *out, const char *p,
                   size_t n)
{
	size_t pos = 0;

	while (pos < n && !ds->stopped) {
		const char *lf;
		size_t end, cend, run;
		int rc;

		if ((run = pop3_dotstuff_clean_run(ds, p + pos, n - pos)) > 0) {
			if (buf_append(out, p + pos, run) < 0)
				return -1;
			pos += run;
			continue;
		}
		if (!ds->line_open &&
		    (rc = dotstuff_line_start(ds, out, p[pos])) != 0)
			return rc < 0 ? -1 : 0;
		lf = memchr(p + pos, '\n', n - pos);
		end = lf != NULL ? (size_t)(lf - p) : n;
		/* A CR that ended the last piece was content unless LF is
		 * next. */
		if (ds->cr_pending && end > pos) {
			if (buf_append(out, "\r", 1) < 0)
				return -1;
			ds->line_empty = false;
		}
		ds->cr_pending = false;
		/* The line's CR belongs to its terminator, written anew. */
		cend = end > pos && p[end - 1] == '\r' ? end - 1 : end;
		if (cend > pos) {
			if (buf_append(out, p + pos, cend - pos) < 0)
				return -1;
			ds->line_empty = false;
		}
		if (lf == NULL) {
			ds->cr_pending = cend < end;
			return 0;
		}
		if (dotstuff_line_end(ds, out) < 0)
			return -1;
		pos = end + 1;
	}
	return 0;
}

int
pop3_dotstuff_finish(struct pop3_dotstuff *ds, struct buf *out)
{
	/* A last line without LF (a trailing CR counts as its end). */
	if (!ds->stopped && ds->line_open && dotstuff_line_end(ds, out) < 0)
		return -1;
	ds->cr_pending = false;
	return buf_append(out, ".\r\n", 3);
}

int
pop3_dotstuff_append(struct buf *out, const char *msg, size_t len,
                     int64_t body_lines)
{
	struct pop3_dotstuff ds;

	pop3_dotstuff_init(&ds, body_lines);
	if (pop3_dotstuff_feed(&ds, out, msg, len) < 0)
		return -1;
	return pop3_dotstuff_finish(&ds, out);
}
