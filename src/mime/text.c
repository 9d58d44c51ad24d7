/*
 * text: what the store's search and sort index needs of a message (issue
 * 3): the decoded searchable text, any header field by name, the RFC 5256
 * base subject and the RFC 5322 date.
 *
 * Like the rest of src/mime, every function is linear and best-effort:
 * broken input yields what can be recovered, never an error.
 */
#include <string.h>
#include <strings.h>

#include "mime/mime_private.h"

/* Longest charset parameter honoured; longer ones leave bytes as they are. */
#define TEXT_MAX_CHARSET 64

/* A cursor over the fields of one header block. */
struct hdr_cursor {
	const char *s;
	size_t len, i;
};

/*
 * The next field: its name in [*name_r, +*nlen_r) and its unfolded value
 * (CR and LF removed, leading blanks skipped) in value.  False at the end
 * of the block (the blank line) or of the input.  Lines without a colon
 * are skipped.
 */
static bool
hdr_next(struct hdr_cursor *h, const char **name_r, size_t *nlen_r,
         struct buf *value)
{
	while (h->i < h->len) {
		const char *line = h->s + h->i;
		const char *nl = memchr(line, '\n', h->len - h->i);
		size_t n = nl != NULL ? (size_t)(nl - line) + 1 : h->len - h->i;
		const char *colon = memchr(line, ':', n);

		if (n <= 2 && (line[0] == '\n' || line[0] == '\r'))
			return false; /* the blank line ends the header */
		h->i += n;
		if (colon == NULL || line[0] == ' ' || line[0] == '\t')
			continue;
		*name_r = line;
		*nlen_r = (size_t)(colon - line);
		buf_reset(value);
		for (const char *p = colon + 1; p < line + n; p++)
			if (*p != '\r' && *p != '\n' &&
			    !(value->len == 0 && (*p == ' ' || *p == '\t')))
				buf_append(value, p, 1);
		/* Continuation lines start with a blank (RFC 5322 2.2.3). */
		while (h->i < h->len &&
		       (h->s[h->i] == ' ' || h->s[h->i] == '\t')) {
			const char *c = h->s + h->i;
			const char *cnl = memchr(c, '\n', h->len - h->i);
			size_t cn =
			    cnl != NULL ? (size_t)(cnl - c) + 1 : h->len - h->i;

			for (size_t k = 0; k < cn; k++)
				if (c[k] != '\r' && c[k] != '\n')
					buf_append(value, c + k, 1);
			h->i += cn;
		}
		return true;
	}
	return false;
}

int
mime_header_get(struct buf *out, const char *hdr, size_t len, const char *name)
{
	struct hdr_cursor h = {hdr, len, 0};
	struct buf v = BUF_INIT;
	const char *fname;
	size_t flen;
	int rc = 0;

	buf_init(&v, MIME_MAX_HEADER_BYTES);
	while (hdr_next(&h, &fname, &flen, &v)) {
		if (flen == strlen(name) &&
		    strncasecmp(fname, name, flen) == 0) {
			rc = buf_append(out, buf_cstr(&v), v.len) < 0 ? -1 : 1;
			break;
		}
	}
	buf_free(&v);
	return rc;
}

/* Cuts b back to at most cap bytes, on a UTF-8 character boundary. */
static void
text_cap(struct buf *b, size_t cap)
{
	size_t n = cap;

	if (b->len <= cap)
		return;
	while (n > 0 && ((unsigned char)b->data[n] & 0xC0) == 0x80)
		n--;
	b->len = n;
	b->data[n] = '\0';
}

/* Appends every field of a header block as "name: decoded value\n". */
static int
text_headers(struct buf *out, const char *hdr, size_t len, size_t cap)
{
	struct hdr_cursor h = {hdr, len, 0};
	struct buf v = BUF_INIT;
	const char *name;
	size_t nlen;
	int rc = 0;

	buf_init(&v, MIME_MAX_HEADER_BYTES);
	while (rc == 0 && out->len < cap && hdr_next(&h, &name, &nlen, &v)) {
		rc |= buf_append(out, name, nlen);
		rc |= buf_append(out, ": ", 2);
		rc |= mime_header_decode(out, buf_cstr(&v), v.len);
		rc |= buf_append(out, "\n", 1);
	}
	buf_free(&v);
	text_cap(out, cap);
	return rc < 0 ? -1 : 0;
}

/* True if a leaf is text: type text, or no Content-Type (RFC 2045 5.2). */
static bool
text_is_text(const struct mime_part *p, struct mime_ctype *ct)
{
	const char *v = p->field[MIME_F_CONTENT_TYPE];

	if (v == NULL || p->flattened)
		return true;
	if (mime_ctype_parse(v, p->field_len[MIME_F_CONTENT_TYPE], true, ct) <
	    0)
		return false;
	return mime_word_is(ct->type, ct->type_len, "text");
}

/* True if a charset parameter says the bytes are UTF-8 as they are. */
static bool
text_charset_is_utf8(const struct mime_param *cs)
{
	return cs == NULL || cs->value_len == 0 ||
	       mime_word_is(cs->value, cs->value_len, "us-ascii") ||
	       mime_word_is(cs->value, cs->value_len, "utf-8");
}

/* Converts decoded bytes of a part to UTF-8 by its charset parameter. */
static int
text_convert(struct buf *out, const struct mime_ctype *ct, const struct buf *in)
{
	const struct mime_param *cs = mime_ctype_param(ct, "charset");
	char charset[TEXT_MAX_CHARSET + 1];
	int rc = 1;

	if (!text_charset_is_utf8(cs) && cs->value_len <= TEXT_MAX_CHARSET) {
		memcpy(charset, cs->value, cs->value_len);
		charset[cs->value_len] = '\0';
		rc = mime_charset_to_utf8(out, charset, buf_cstr(in), in->len);
	}
	if (rc == 1) /* ASCII, UTF-8 or unknown: the bytes as they are */
		rc = buf_append(out, buf_cstr(in), in->len);
	return rc;
}

/*
 * True if a leaf's text is its bytes as they are: no transfer encoding to
 * undo and a charset that is UTF-8 already (none, us-ascii, utf-8).
 */
static bool
text_leaf_is_identity(const struct mime_part *p, const struct mime_ctype *ct)
{
	enum mime_cte cte = mime_part_cte(p);

	return (cte == MIME_CTE_IDENTITY || cte == MIME_CTE_UNKNOWN) &&
	       text_charset_is_utf8(mime_ctype_param(ct, "charset"));
}

/*
 * One text leaf: transfer encoding undone, converted, then a newline.  A
 * leaf whose text is its bytes is appended straight from the message and
 * only as far as text_cap() will look (cap + 1 bytes in all): the same
 * text, without decoding a large part that is cut anyway.
 */
static int
text_leaf(struct buf *out, const char *msg, const struct mime_part *p,
          size_t cap)
{
	struct mime_ctype ct;
	struct buf dec = BUF_INIT;
	enum mime_cte cte = mime_part_cte(p);
	const char *body = msg + p->body_off;
	size_t blen = (size_t)mime_part_body_size(p);
	int rc;

	memset(&ct, 0, sizeof(ct));
	if (!text_is_text(p, &ct)) {
		mime_ctype_free(&ct);
		return 0;
	}
	if (text_leaf_is_identity(p, &ct)) {
		size_t room = cap + 1 > out->len ? cap + 1 - out->len : 0;

		rc = buf_append(out, body, blen < room ? blen : room);
	} else {
		rc = cte == MIME_CTE_UNKNOWN
		         ? buf_append(&dec, body, blen)
		         : mime_decode_cte(&dec, cte, body, blen);
		if (rc == 0)
			rc = text_convert(out, &ct, &dec);
	}
	if (rc == 0)
		rc = buf_append(out, "\n", 1);
	buf_free(&dec);
	mime_ctype_free(&ct);
	return rc;
}

/* Depth-first over the tree (its depth is bounded by MIME_MAX_DEPTH). */
static int
text_walk(struct buf *body, const char *msg, const struct mime_part *p,
          size_t cap)
{
	int rc = 0;

	if (body->len >= cap)
		return 0;
	switch (p->kind) {
	case MIME_LEAF:
		return text_leaf(body, msg, p, cap);
	case MIME_MESSAGE:
		for (const struct mime_part *c = p->child; c != NULL && rc == 0;
		     c = c->next) {
			rc = text_headers(body, msg + c->hdr_off,
			                  (size_t)(c->body_off - c->hdr_off),
			                  cap);
			if (rc == 0)
				rc = text_walk(body, msg, c, cap);
		}
		return rc;
	case MIME_MULTIPART:
		for (const struct mime_part *c = p->child; c != NULL && rc == 0;
		     c = c->next)
			rc = text_walk(body, msg, c, cap);
		return rc;
	}
	return 0;
}

bool
mime_text_is_raw(const struct mime_part *root)
{
	struct mime_ctype ct;
	bool raw;

	if (root->kind != MIME_LEAF)
		return false;
	memset(&ct, 0, sizeof(ct));
	raw = text_is_text(root, &ct) && text_leaf_is_identity(root, &ct);
	mime_ctype_free(&ct);
	return raw;
}

int
mime_search_text(const char *msg, size_t len, const struct mime_part *root,
                 size_t hdr_cap, size_t body_cap, struct buf *hdr,
                 struct buf *body)
{
	(void)len;
	if (text_headers(hdr, msg + root->hdr_off,
	                 (size_t)(root->body_off - root->hdr_off),
	                 hdr_cap) < 0 ||
	    text_walk(body, msg, root, body_cap) < 0)
		return -1;
	text_cap(body, body_cap);
	return 0;
}
