#include "smtp/body.h"

#include <string.h>

void
smtp_body_init(struct smtp_body *b, uint64_t max)
{
	buf_init(&b->msg, 0);
	b->size = 0;
	b->max = max;
	b->too_big = false;
	b->bare_eol = false;
	b->nomem = false;
	b->normalize = false;
	b->raw = false;
	b->raw_cr = false;
}

/*
 * Counts n bytes (and a CRLF after them if crlf) and appends them unless
 * a flag already stopped us.
 */
static void
body_put(struct smtp_body *b, const char *p, size_t n, bool crlf)
{
	uint64_t add = (uint64_t)n + (crlf ? 2 : 0);

	b->size = b->size > UINT64_MAX - add ? UINT64_MAX : b->size + add;
	if (b->too_big || b->nomem)
		return;
	if (b->size > b->max) {
		/* Do not hold on to what can never be delivered. */
		b->too_big = true;
		buf_free(&b->msg);
		return;
	}
	if (buf_reserve(&b->msg, (size_t)add) < 0) {
		b->nomem = true;
		buf_free(&b->msg);
		return;
	}
	buf_append(&b->msg, p, n);
	if (crlf)
		buf_append(&b->msg, "\r\n", 2);
}

static void
body_append(struct smtp_body *b, const char *line, size_t len)
{
	body_put(b, line, len, true);
}

/*
 * Stores a line holding bare CRs or LFs as several CRLF lines.  The pieces
 * after the first are lines to a client that ends lines in bare LF, so
 * their dot-stuffing is removed too; none of them can end the data.
 */
static void
body_append_normalized(struct smtp_body *b, const char *line, size_t len)
{
	size_t start = 0;
	bool first = true;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && line[i] != '\r' && line[i] != '\n')
			continue;
		const char *piece = line + start;
		size_t n = i - start;

		if (!first && n > 0 && piece[0] == '.') {
			piece++;
			n--;
		}
		body_append(b, piece, n);
		first = false;
		start = i + 1;
	}
}

enum smtp_body_result
smtp_body_line(struct smtp_body *b, const char *line, size_t len)
{
	/* RFC 5321 4.1.1.4: only CRLF "." CRLF ends the data. */
	if (len == 1 && line[0] == '.')
		return SMTP_BODY_END;
	/* RFC 5321 4.5.2: a leading dot was doubled by the sender. */
	if (len > 0 && line[0] == '.') {
		line++;
		len--;
	}
	/*
	 * RFC 5321 2.3.8: CR and LF appear only together as the line end.
	 * Anything else is refused at the end rather than repaired, so no
	 * other server's reading of the stream can differ from ours.
	 */
	if (memchr(line, '\n', len) != NULL ||
	    memchr(line, '\r', len) != NULL) {
		if (b->normalize) {
			body_append_normalized(b, line, len);
			return SMTP_BODY_MORE;
		}
		b->bare_eol = true;
	}
	body_append(b, line, len);
	return SMTP_BODY_MORE;
}

/*
 * The end of the line at p (n bytes): the offset of its CRLF, skipping
 * bare LFs, which belong to the line (CONN_EOL_CRLF_STRICT); n if the
 * line does not end within n bytes.
 */
static size_t
body_line_end(const char *p, size_t n)
{
	size_t i = 0;

	for (;;) {
		const char *lf = memchr(p + i, '\n', n - i);

		if (lf == NULL)
			return n;
		i = (size_t)(lf - p);
		if (i > 0 && p[i - 1] == '\r')
			return i - 1;
		i++;
	}
}

size_t
smtp_body_take(struct smtp_body *b, const char *p, size_t n, size_t max,
               bool *end_r)
{
	size_t off = 0, run = 0; /* [run, off): clean lines not yet stored */

	*end_r = false;
	while (off < n) {
		size_t len = body_line_end(p + off, n - off);

		if (len == n - off || len > max)
			break; /* no CRLF here, or too long: line by line */
		/*
		 * A line that needs no unstuffing and holds no CR or LF is
		 * stored as it came, CRLF included, with its neighbours.
		 */
		if (p[off] != '.' && memchr(p + off, '\r', len) == NULL &&
		    memchr(p + off, '\n', len) == NULL) {
			off += len + 2;
			continue;
		}
		body_put(b, p + run, off - run, false);
		if (smtp_body_line(b, p + off, len) == SMTP_BODY_END) {
			*end_r = true;
			return off + len + 2;
		}
		off += len + 2;
		run = off;
	}
	body_put(b, p + run, off - run, false);
	return off;
}

/* Adds n to the size; true if the message is still within its limit. */
static bool
body_count(struct smtp_body *b, uint64_t n)
{
	b->size = b->size > UINT64_MAX - n ? UINT64_MAX : b->size + n;
	if (b->size > b->max && !b->too_big) {
		b->too_big = true;
		buf_free(&b->msg);
	}
	return !b->too_big;
}

char *
smtp_body_raw_room(struct smtp_body *b, size_t want, size_t *room_r)
{
	b->raw = true;
	*room_r = 0;
	if (want == 0 || b->too_big || b->nomem)
		return NULL;
	if (want > b->max - b->size) {
		/* These bytes will come: the message is too big already. */
		b->too_big = true;
		buf_free(&b->msg);
		return NULL;
	}
	if (buf_reserve(&b->msg, want) < 0) {
		b->nomem = true;
		buf_free(&b->msg);
		return NULL;
	}
	*room_r = want;
	return b->msg.data + b->msg.len;
}

/*
 * Looks for bare CR and LF in raw bytes; a CR at the end of a chunk is
 * settled by the first byte of the next one (raw_cr).
 */
static void
body_raw_scan(struct smtp_body *b, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !b->bare_eol; i++) {
		if (b->raw_cr && p[i] != '\n')
			b->bare_eol = true;
		else if (!b->raw_cr && p[i] == '\n')
			b->bare_eol = true;
		b->raw_cr = p[i] == '\r';
	}
}

void
smtp_body_raw_commit(struct smtp_body *b, size_t n)
{
	body_raw_scan(b, b->msg.data + b->msg.len, n);
	b->msg.len += n;
	b->msg.data[b->msg.len] = '\0';
	body_count(b, n);
}

void
smtp_body_raw_skip(struct smtp_body *b, size_t n)
{
	b->raw = true;
	body_count(b, n);
}

void
smtp_body_raw_end(struct smtp_body *b)
{
	if (b->raw_cr)
		b->bare_eol = true;
	b->raw_cr = false;
}

bool
smtp_body_is_ok(const struct smtp_body *b)
{
	return !b->too_big && !b->bare_eol && !b->nomem;
}

void
smtp_body_free(struct smtp_body *b)
{
	buf_free(&b->msg);
}
