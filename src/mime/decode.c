/*
 * decode: undoing transfer encodings (RFC 2045 6.7, 6.8) for BINARY
 * (RFC 3516), RFC 2047 encoded-words and RFC 2231 extended parameter
 * values, with charsets converted to UTF-8 by iconv.
 *
 * Every decoder is best-effort and linear: broken input yields what can be
 * recovered, never an error, so a hostile message cannot make a FETCH
 * fail; only the output buffer's own limit can.
 */
#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

#include "mime/mime_private.h"

/* Longest charset name taken from an encoded-word or parameter. */
#define MAX_CHARSET 64
/* Longest encoded-word looked for (RFC 2047 2 says 75; mailers exceed). */
#define MAX_ENCWORD 2048

enum mime_cte
mime_part_cte(const struct mime_part *part)
{
	const char *v = part->field[MIME_F_CONTENT_TRANSFER_ENCODING];
	size_t len = part->field_len[MIME_F_CONTENT_TRANSFER_ENCODING];

	if (v == NULL || mime_word_is(v, len, "7bit") ||
	    mime_word_is(v, len, "8bit") || mime_word_is(v, len, "binary"))
		return MIME_CTE_IDENTITY;
	if (mime_word_is(v, len, "base64"))
		return MIME_CTE_BASE64;
	if (mime_word_is(v, len, "quoted-printable"))
		return MIME_CTE_QP;
	return MIME_CTE_UNKNOWN;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int
b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* RFC 2045 6.8: characters outside the alphabet are ignored. */
static int
decode_base64(struct buf *out, const char *in, size_t len)
{
	unsigned char q[3];
	uint32_t acc = 0;
	int n = 0;

	for (size_t i = 0; i < len; i++) {
		int v = b64val(in[i]);

		if (in[i] == '=' && n > 0) {
			/* Padding ends the quantum: 2 chars -> 1, 3 -> 2. */
			acc <<= 6 * (4 - n);
			q[0] = (unsigned char)(acc >> 16);
			q[1] = (unsigned char)(acc >> 8);
			if (n >= 2 && buf_append(out, q, (size_t)(n - 1)) < 0)
				return -1;
			acc = 0;
			n = 0;
			continue;
		}
		if (v < 0)
			continue;
		acc = acc << 6 | (uint32_t)v;
		if (++n == 4) {
			q[0] = (unsigned char)(acc >> 16);
			q[1] = (unsigned char)(acc >> 8);
			q[2] = (unsigned char)acc;
			if (buf_append(out, q, 3) < 0)
				return -1;
			acc = 0;
			n = 0;
		}
	}
	if (n >= 2) {
		acc <<= 6 * (4 - n);
		q[0] = (unsigned char)(acc >> 16);
		q[1] = (unsigned char)(acc >> 8);
		return buf_append(out, q, (size_t)(n - 1));
	}
	return 0;
}

/* One line of quoted-printable, without its line break. */
static int
decode_qp_line(struct buf *out, const char *s, size_t len, bool *soft_r)
{
	/* RFC 2045 6.7 (3): trailing blanks were added in transport. */
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	*soft_r = len > 0 && s[len - 1] == '=';
	if (*soft_r)
		len--;
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] == '=' && i + 2 < len &&
		    (hi = hexval(s[i + 1])) >= 0 &&
		    (lo = hexval(s[i + 2])) >= 0) {
			unsigned char b = (unsigned char)(hi << 4 | lo);

			if (buf_append(out, &b, 1) < 0)
				return -1;
			i += 2;
		} else if (buf_append(out, &s[i], 1) < 0) {
			return -1;
		}
	}
	return 0;
}

static int
decode_qp(struct buf *out, const char *in, size_t len)
{
	while (len > 0) {
		const char *lf = memchr(in, '\n', len);
		size_t n = lf != NULL ? (size_t)(lf - in) : len;
		size_t line = n > 0 && in[n - 1] == '\r' ? n - 1 : n;
		bool soft;

		if (decode_qp_line(out, in, line, &soft) < 0)
			return -1;
		if (lf != NULL && !soft &&
		    buf_append(out, in + line, n + 1 - line) < 0)
			return -1;
		n += lf != NULL ? 1 : 0;
		in += n;
		len -= n;
	}
	return 0;
}

int
mime_decode_cte(struct buf *out, enum mime_cte cte, const char *in, size_t len)
{
	switch (cte) {
	case MIME_CTE_IDENTITY:
		return buf_append(out, in, len);
	case MIME_CTE_BASE64:
		return decode_base64(out, in, len);
	case MIME_CTE_QP:
		return decode_qp(out, in, len);
	case MIME_CTE_UNKNOWN:
		break;
	}
	return -1;
}

/*
 * Converts len bytes in charset to UTF-8.  Returns 0, 1 if the charset is
 * unknown (nothing appended), -1 on a buffer error.  Invalid sequences
 * become U+FFFD.
 */
static int
to_utf8(struct buf *out, const char *charset, const char *in, size_t len)
{
	iconv_t cd = iconv_open("UTF-8", charset);
	char *src = (char *)(uintptr_t)in; /* iconv's API is not const */
	int rc = 0;

	if (cd == (iconv_t)-1)
		return 1;
	while (len > 0 && rc == 0) {
		char chunk[1024], *dst = chunk;
		size_t room = sizeof(chunk);
		size_t r = iconv(cd, &src, &len, &dst, &room);

		if (buf_append(out, chunk, sizeof(chunk) - room) < 0)
			rc = -1;
		else if (r == (size_t)-1 && errno != E2BIG) {
			/* EILSEQ or EINVAL: one bad byte, replaced. */
			rc = buf_append(out, "\xEF\xBF\xBD", 3);
			src++;
			len--;
		}
	}
	iconv_close(cd);
	return rc;
}

/* The RFC 2047 Q encoding (4.2): '_' is a space. */
static void
decode_q(struct buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] == '_') {
			buf_append(out, " ", 1);
		} else if (s[i] == '=' && i + 2 < len &&
		           (hi = hexval(s[i + 1])) >= 0 &&
		           (lo = hexval(s[i + 2])) >= 0) {
			unsigned char b = (unsigned char)(hi << 4 | lo);

			buf_append(out, &b, 1);
			i += 2;
		} else {
			buf_append(out, &s[i], 1);
		}
	}
}

struct encword {
	char charset[MAX_CHARSET + 1];
	const char *start, *end; /* the whole "=?...?=" */
	struct buf bytes;        /* decoded payload */
};

/* Parses "=?charset?X?text?=" at s; fills w and returns true. */
static bool
encword_parse(const char *s, const char *lim, struct encword *w)
{
	const char *cs = s + 2, *q1, *q2, *endw;
	size_t cslen;

	if (lim - s < 8 || s[0] != '=' || s[1] != '?')
		return false;
	/* Bounded scans keep "=?" floods linear. */
	if (lim - s > MAX_ENCWORD)
		lim = s + MAX_ENCWORD;
	q1 = memchr(cs, '?', (size_t)(lim - cs));
	if (q1 == NULL || lim - q1 < 4 || q1[2] != '?')
		return false;
	q2 = q1 + 3;
	endw = q2;
	while (endw + 1 < lim && !(endw[0] == '?' && endw[1] == '='))
		endw++;
	if (endw + 1 >= lim)
		return false;
	cslen = (size_t)(q1 - cs);
	/* RFC 2231 5: "charset*language". */
	for (size_t i = 0; i < cslen; i++)
		if (cs[i] == '*')
			cslen = i;
	if (cslen == 0 || cslen > MAX_CHARSET)
		return false;
	memcpy(w->charset, cs, cslen);
	w->charset[cslen] = '\0';
	buf_reset(&w->bytes);
	if (q1[1] == 'B' || q1[1] == 'b')
		decode_base64(&w->bytes, q2, (size_t)(endw - q2));
	else if (q1[1] == 'Q' || q1[1] == 'q')
		decode_q(&w->bytes, q2, (size_t)(endw - q2));
	else
		return false;
	w->start = s;
	w->end = endw + 2;
	return true;
}

/* Writes a run of encoded-words in one charset, or their raw text. */
static int
run_flush(struct buf *out, struct encword *run)
{
	int rc;

	if (run->start == NULL)
		return 0;
	rc = to_utf8(out, run->charset, buf_cstr(&run->bytes), run->bytes.len);
	if (rc == 1)
		rc = buf_append(out, run->start,
		                (size_t)(run->end - run->start));
	run->start = NULL;
	buf_reset(&run->bytes);
	return rc;
}

static int
header_decode_loop(struct buf *out, const char *s, const char *lim,
                   struct encword *run, struct encword *w)
{
	while (s < lim) {
		const char *p = s;

		/* Blanks between two encoded-words vanish (RFC 2047 6.2). */
		while (p < lim && (*p == ' ' || *p == '\t'))
			p++;
		if (encword_parse(p, lim, w) &&
		    (p == s || run->start != NULL)) {
			if (run->start != NULL &&
			    strcasecmp(run->charset, w->charset) != 0 &&
			    run_flush(out, run) < 0)
				return -1;
			if (run->start == NULL) {
				memcpy(run->charset, w->charset,
				       sizeof(run->charset));
				run->start = w->start;
			}
			run->end = w->end;
			if (buf_append(&run->bytes, buf_cstr(&w->bytes),
			               w->bytes.len) < 0)
				return -1;
			s = w->end;
			continue;
		}
		if (run_flush(out, run) < 0 || buf_append(out, s, 1) < 0)
			return -1;
		s++;
	}
	return run_flush(out, run);
}

int
mime_header_decode(struct buf *out, const char *text, size_t len)
{
	struct encword run, w;
	int rc;

	memset(&run, 0, sizeof(run));
	memset(&w, 0, sizeof(w));
	buf_init(&run.bytes, MIME_MAX_HEADER_BYTES);
	buf_init(&w.bytes, MIME_MAX_HEADER_BYTES);
	rc = header_decode_loop(out, text, text + len, &run, &w);
	buf_free(&run.bytes);
	buf_free(&w.bytes);
	return rc;
}

int
mime_param_decode(struct buf *out, const char *value, size_t len)
{
	const char *q1 = memchr(value, '\'', len), *q2;
	char charset[MAX_CHARSET + 1];
	struct buf bytes = BUF_INIT;
	size_t cslen;
	int rc;

	q2 = q1 != NULL ? memchr(q1 + 1, '\'', len - (size_t)(q1 + 1 - value))
	                : NULL;
	cslen = q1 != NULL ? (size_t)(q1 - value) : 0;
	if (q2 == NULL || cslen > MAX_CHARSET)
		return buf_append(out, value, len);
	memcpy(charset, value, cslen);
	charset[cslen] = '\0';
	for (const char *s = q2 + 1; s < value + len; s++) {
		int hi, lo;

		if (*s == '%' && value + len - s >= 3 &&
		    (hi = hexval(s[1])) >= 0 && (lo = hexval(s[2])) >= 0) {
			unsigned char b = (unsigned char)(hi << 4 | lo);

			buf_append(&bytes, &b, 1);
			s += 2;
		} else {
			buf_append(&bytes, s, 1);
		}
	}
	/* RFC 2231 4: an empty charset leaves the bytes as they are. */
	rc =
	    cslen == 0 ? 1 : to_utf8(out, charset, buf_cstr(&bytes), bytes.len);
	if (rc == 1)
		rc = buf_append(out, buf_cstr(&bytes), bytes.len);
	buf_free(&bytes);
	return rc;
}

int
mime_charset_to_utf8(struct buf *out, const char *charset, const char *in,
                     size_t len)
{
	return to_utf8(out, charset, in, len);
}
