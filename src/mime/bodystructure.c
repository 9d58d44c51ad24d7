/*
 * bodystructure: BODY and BODYSTRUCTURE (RFC 9051 7.5.2, RFC 3501 7.4.2)
 * from a parsed tree.
 *
 * Type, subtype and parameter names are given as the message wrote them.
 * RFC 2231 continuations are joined; an extended value is passed on as
 * "name*" "charset'lang'%xx" so the client can decode it.  Recursion
 * follows the tree, whose depth the parser bounds (MIME_MAX_DEPTH).
 */
#include <string.h>

#include "mime/mime_private.h"

static int write_body(struct buf *out, const struct mime_part *n, bool ext);

static int
write_str(struct buf *out, const char *s, size_t len)
{
	return mime_imap_nstring(out, s, len);
}

static int
write_field(struct buf *out, const struct mime_part *n, enum mime_field f)
{
	return mime_imap_nstring(out, n->field[f], n->field_len[f]);
}

/* body-fld-param: ("name" "value" ...) or NIL. */
static int
write_params(struct buf *out, const struct mime_ctype *ct)
{
	int rc = 0;

	if (ct == NULL || ct->nparams == 0)
		return buf_append(out, "NIL", 3);
	rc |= buf_append(out, "(", 1);
	for (size_t i = 0; i < ct->nparams; i++) {
		const struct mime_param *p = &ct->params[i];

		if (i > 0)
			rc |= buf_append(out, " ", 1);
		rc |= write_str(out, p->name, strlen(p->name));
		rc |= buf_append(out, " ", 1);
		rc |= write_str(out, p->value, p->value_len);
	}
	rc |= buf_append(out, ")", 1);
	return rc;
}

/* body-fld-dsp: ("type" params) or NIL (RFC 2183). */
static int
write_disposition(struct buf *out, const struct mime_part *n)
{
	struct mime_ctype d;
	int rc = 0;

	if (n->field[MIME_F_CONTENT_DISPOSITION] == NULL ||
	    mime_ctype_parse(n->field[MIME_F_CONTENT_DISPOSITION],
	                     n->field_len[MIME_F_CONTENT_DISPOSITION], false,
	                     &d) < 0)
		return buf_append(out, "NIL", 3);
	rc |= buf_append(out, "(", 1);
	rc |= write_str(out, d.type, d.type_len);
	rc |= buf_append(out, " ", 1);
	rc |= write_params(out, &d);
	rc |= buf_append(out, ")", 1);
	mime_ctype_free(&d);
	return rc;
}

/* body-fld-lang: one string, a list of several, or NIL (RFC 3282). */
static int
write_language(struct buf *out, const struct mime_part *n)
{
	const char *v = n->field[MIME_F_CONTENT_LANGUAGE];
	size_t len = n->field_len[MIME_F_CONTENT_LANGUAGE], count = 0;
	size_t start = out->len;
	int rc = 0;

	if (v == NULL)
		return buf_append(out, "NIL", 3);
	rc |= buf_append(out, "(", 1);
	for (size_t i = 0; i < len;) {
		size_t j = i, k;

		while (j < len && v[j] != ',')
			j++;
		k = j;
		while (i < k && (v[i] == ' ' || v[i] == '\t'))
			i++;
		while (k > i && (v[k - 1] == ' ' || v[k - 1] == '\t'))
			k--;
		if (k > i) {
			rc |= buf_append(out, count > 0 ? " " : "", count > 0);
			rc |= write_str(out, v + i, k - i);
			count++;
		}
		i = j + 1;
	}
	rc |= buf_append(out, ")", 1);
	if (rc == 0 && count == 1) {
		/* A single tag is written as a plain string. */
		memmove(out->data + start, out->data + start + 1,
		        out->len - start - 2);
		out->len -= 2;
		out->data[out->len] = '\0';
	} else if (rc == 0 && count == 0) {
		out->len = start;
		rc = buf_append(out, "NIL", 3);
	}
	return rc;
}

/* body-ext-1part / body-ext-mpart after MD5 or params. */
static int
write_ext_tail(struct buf *out, const struct mime_part *n)
{
	int rc = buf_append(out, " ", 1);

	rc |= write_disposition(out, n);
	rc |= buf_append(out, " ", 1);
	rc |= write_language(out, n);
	rc |= buf_append(out, " ", 1);
	rc |= write_field(out, n, MIME_F_CONTENT_LOCATION);
	return rc;
}

static int
write_multipart(struct buf *out, const struct mime_part *n,
                const struct mime_ctype *ct, bool ext)
{
	int rc = buf_append(out, "(", 1);

	for (const struct mime_part *c = n->child; c != NULL; c = c->next)
		rc |= write_body(out, c, ext);
	rc |= buf_append(out, " ", 1);
	rc |= write_str(out, ct->subtype, ct->subtype_len);
	if (ext) {
		rc |= buf_append(out, " ", 1);
		rc |= write_params(out, ct);
		rc |= write_ext_tail(out, n);
	}
	return rc | buf_append(out, ")", 1);
}

/* The type of a leaf: its Content-Type, or the RFC 2045 5.2 default. */
static int
write_leaf_type(struct buf *out, const struct mime_part *n,
                const struct mime_ctype *ct, bool *is_text_r)
{
	int rc = 0;

	*is_text_r = ct == NULL && !n->default_rfc822;
	if (ct == NULL && n->default_rfc822 && !n->flattened)
		return buf_append_str(out, "\"message\" \"rfc822\" NIL");
	if (ct == NULL)
		return buf_append_str(
		    out, "\"text\" \"plain\" (\"charset\" \"us-ascii\")");
	*is_text_r = mime_word_is(ct->type, ct->type_len, "text");
	rc |= write_str(out, ct->type, ct->type_len);
	rc |= buf_append(out, " ", 1);
	rc |= write_str(out, ct->subtype, ct->subtype_len);
	rc |= buf_append(out, " ", 1);
	rc |= write_params(out, ct);
	return rc;
}

static int
write_leaf(struct buf *out, const struct mime_part *n,
           const struct mime_ctype *ct, bool ext)
{
	const char *enc = n->field[MIME_F_CONTENT_TRANSFER_ENCODING];
	bool is_text;
	int rc = buf_append(out, "(", 1);

	rc |= write_leaf_type(out, n, ct, &is_text);
	rc |= buf_append(out, " ", 1);
	rc |= write_field(out, n, MIME_F_CONTENT_ID);
	rc |= buf_append(out, " ", 1);
	rc |= write_field(out, n, MIME_F_CONTENT_DESCRIPTION);
	rc |= buf_append(out, " ", 1);
	if (enc != NULL)
		rc |= write_str(out, enc,
		                n->field_len[MIME_F_CONTENT_TRANSFER_ENCODING]);
	else
		rc |= buf_append_str(out, "\"7BIT\"");
	rc |= buf_printf(out, " %llu",
	                 (unsigned long long)mime_part_body_size(n));
	if (n->kind == MIME_MESSAGE && n->child != NULL) {
		rc |= buf_append(out, " ", 1);
		rc |= mime_envelope_write(out, n->child);
		rc |= buf_append(out, " ", 1);
		rc |= write_body(out, n->child, ext);
		rc |=
		    buf_printf(out, " %llu", (unsigned long long)n->body_lines);
	} else if (is_text) {
		rc |=
		    buf_printf(out, " %llu", (unsigned long long)n->body_lines);
	}
	if (ext) {
		rc |= buf_append(out, " ", 1);
		rc |= write_field(out, n, MIME_F_CONTENT_MD5);
		rc |= write_ext_tail(out, n);
	}
	return rc | buf_append(out, ")", 1);
}

static int
write_body(struct buf *out, const struct mime_part *n, bool ext)
{
	struct mime_ctype ct;
	bool have =
	    !n->flattened && n->field[MIME_F_CONTENT_TYPE] != NULL &&
	    mime_ctype_parse(n->field[MIME_F_CONTENT_TYPE],
	                     n->field_len[MIME_F_CONTENT_TYPE], true, &ct) == 0;
	int rc;

	if (n->kind == MIME_MULTIPART && have)
		rc = write_multipart(out, n, &ct, ext);
	else
		rc = write_leaf(out, n, have ? &ct : NULL, ext);
	if (have)
		mime_ctype_free(&ct);
	return rc;
}

int
mime_bodystructure_write(struct buf *out, const struct mime_part *msg,
                         bool extended)
{
	return write_body(out, msg, extended) < 0 ? -1 : 0;
}
