/*
 * ctype: Content-Type and Content-Disposition values (RFC 2045 5.1,
 * RFC 2183 2) with RFC 2231 parameter continuations joined.
 *
 * Lenient the way mail needs: comments anywhere, a parameter that does not
 * parse is skipped up to the next ';', a value that is neither token nor
 * quoted-string is taken up to the next ';'.  At most MIME_MAX_PARAMS raw
 * parameters are read (CVE-2026-27859 shows why a cap is needed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime/mime_private.h"

/* Nesting of comments that is still skipped exactly. */
#define MAX_COMMENT_DEPTH 64

struct cursor {
	const char *s;
	size_t len, i;
};

struct raw_param {
	const char *name; /* without "*N" or "*" */
	size_t name_len;
	int section;   /* RFC 2231 3: -1 when not a continuation */
	bool extended; /* RFC 2231 4: ends in '*' */
	char *value;
	size_t value_len;
	bool used;
};

static void
skip_cfws(struct cursor *c)
{
	unsigned depth = 0;

	while (c->i < c->len) {
		char ch = c->s[c->i];

		if (depth > 0 && ch == '\\' && c->i + 1 < c->len) {
			c->i += 2;
			continue;
		}
		if (ch == '(' && depth < MAX_COMMENT_DEPTH)
			depth++;
		else if (ch == ')' && depth > 0)
			depth--;
		else if (depth == 0 && ch != ' ' && ch != '\t' && ch != '\r' &&
		         ch != '\n')
			return;
		c->i++;
	}
}

static bool
is_token_char(unsigned char ch)
{
	return ch > 0x20 && ch != 0x7f &&
	       strchr("()<>@,;:\\\"/[]?=", ch) == NULL;
}

static size_t
take_token(struct cursor *c, const char **tok_r)
{
	size_t start = c->i;

	while (c->i < c->len && is_token_char((unsigned char)c->s[c->i]))
		c->i++;
	*tok_r = c->s + start;
	return c->i - start;
}

/* A value: quoted-string, token, or anything up to ';' (trimmed). */
static char *
take_value(struct cursor *c, size_t *len_r)
{
	struct buf v = BUF_INIT;
	const char *tok;
	size_t n;

	if (c->i < c->len && c->s[c->i] == '"') {
		for (c->i++; c->i < c->len && c->s[c->i] != '"'; c->i++) {
			if (c->s[c->i] == '\\' && c->i + 1 < c->len)
				c->i++;
			if (buf_append(&v, &c->s[c->i], 1) < 0)
				break;
		}
		if (c->i < c->len)
			c->i++;
	} else if ((n = take_token(c, &tok)) > 0 &&
	           (c->i >= c->len || c->s[c->i] == ';' || c->s[c->i] == ' ' ||
	            c->s[c->i] == '\t' || c->s[c->i] == '(')) {
		buf_append(&v, tok, n);
	} else {
		c->i -= n;
		tok = c->s + c->i;
		while (c->i < c->len && c->s[c->i] != ';')
			c->i++;
		n = (size_t)(c->s + c->i - tok);
		while (n > 0 && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
			n--;
		buf_append(&v, tok, n);
	}
	*len_r = v.len;
	return buf_steal(&v);
}

/* Splits "name*2*" into name, section 2, extended. */
static void
raw_name(struct raw_param *r, const char *tok, size_t n)
{
	const char *star = memchr(tok, '*', n);

	r->name = tok;
	r->name_len = star != NULL ? (size_t)(star - tok) : n;
	r->section = -1;
	r->extended = n > 0 && tok[n - 1] == '*';
	if (star != NULL && star + 1 < tok + n && star[1] >= '0' &&
	    star[1] <= '9') {
		long sec = 0;

		for (const char *q = star + 1;
		     q < tok + n && *q >= '0' && *q <= '9' && sec < 100000; q++)
			sec = sec * 10 + (*q - '0');
		r->section = (int)sec;
	}
}

static size_t
read_raw(struct cursor *c, struct raw_param *raw)
{
	size_t n = 0;

	while (n < MIME_MAX_PARAMS) {
		const char *tok;
		size_t tlen;

		skip_cfws(c);
		if (c->i >= c->len)
			break;
		if (c->s[c->i] != ';') {
			while (c->i < c->len && c->s[c->i] != ';')
				c->i++;
			continue;
		}
		c->i++;
		skip_cfws(c);
		tlen = take_token(c, &tok);
		skip_cfws(c);
		if (tlen == 0 || c->i >= c->len || c->s[c->i] != '=')
			continue;
		c->i++;
		skip_cfws(c);
		raw_name(&raw[n], tok, tlen);
		raw[n].value = take_value(c, &raw[n].value_len);
		if (raw[n].value != NULL)
			n++;
	}
	return n;
}

/* RFC 2231 3: an unencoded segment joined to an encoded value. */
static void
append_pct(struct buf *b, const char *v, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)v[i];

		if (is_token_char(ch) && ch != '*' && ch != '\'' && ch != '%')
			buf_append(b, &v[i], 1);
		else
			buf_printf(b, "%%%02X", ch);
	}
}

/* Joins the continuations of raw[first]'s name into one parameter. */
static void
join_sections(struct raw_param *raw, size_t n, size_t first,
              struct mime_param *out)
{
	struct buf name = BUF_INIT, val = BUF_INIT;
	bool ext = false;

	for (int sec = 0; sec < (int)n; sec++) {
		size_t k;

		for (k = 0; k < n; k++)
			if (!raw[k].used && raw[k].section == sec &&
			    raw[k].name_len == raw[first].name_len &&
			    strncasecmp(raw[k].name, raw[first].name,
			                raw[k].name_len) == 0)
				break;
		if (k == n)
			break;
		raw[k].used = true;
		if (sec == 0)
			ext = raw[k].extended;
		if (ext && !raw[k].extended)
			append_pct(&val, raw[k].value, raw[k].value_len);
		else
			buf_append(&val, raw[k].value, raw[k].value_len);
	}
	buf_append(&name, raw[first].name, raw[first].name_len);
	if (ext)
		buf_append(&name, "*", 1);
	out->value_len = val.len;
	out->name = buf_steal(&name);
	out->value = buf_steal(&val);
}

static void
join_params(struct raw_param *raw, size_t n, struct mime_ctype *ct)
{
	for (size_t i = 0; i < n && ct->nparams < MIME_MAX_PARAMS; i++) {
		struct mime_param *o = &ct->params[ct->nparams];

		if (raw[i].used)
			continue;
		if (raw[i].section >= 0) {
			join_sections(raw, n, i, o);
			if (o->name == NULL || o->value == NULL ||
			    o->name[0] == '\0') {
				free(o->name);
				free(o->value);
				continue;
			}
		} else {
			struct buf name = BUF_INIT;

			raw[i].used = true;
			buf_append(&name, raw[i].name, raw[i].name_len);
			if (raw[i].extended)
				buf_append(&name, "*", 1);
			o->name = buf_steal(&name);
			o->value = raw[i].value;
			o->value_len = raw[i].value_len;
			raw[i].value = NULL;
			if (o->name == NULL)
				continue;
		}
		ct->nparams++;
	}
}

int
mime_ctype_parse(const char *v, size_t len, bool with_subtype,
                 struct mime_ctype *ct)
{
	struct cursor c = {v, len, 0};
	struct raw_param *raw;
	size_t n;

	memset(ct, 0, sizeof(*ct));
	skip_cfws(&c);
	ct->type_len = take_token(&c, &ct->type);
	if (ct->type_len == 0)
		return -1;
	if (with_subtype) {
		skip_cfws(&c);
		if (c.i >= c.len || c.s[c.i] != '/')
			return -1;
		c.i++;
		skip_cfws(&c);
		ct->subtype_len = take_token(&c, &ct->subtype);
		if (ct->subtype_len == 0)
			return -1;
	}
	raw = calloc(MIME_MAX_PARAMS, sizeof(*raw));
	if (raw == NULL)
		return -1;
	n = read_raw(&c, raw);
	join_params(raw, n, ct);
	for (size_t i = 0; i < n; i++)
		free(raw[i].value);
	free(raw);
	return 0;
}

void
mime_ctype_free(struct mime_ctype *ct)
{
	for (size_t i = 0; i < ct->nparams; i++) {
		free(ct->params[i].name);
		free(ct->params[i].value);
	}
	ct->nparams = 0;
}

const struct mime_param *
mime_ctype_param(const struct mime_ctype *ct, const char *name)
{
	for (size_t i = 0; i < ct->nparams; i++)
		if (strcasecmp(ct->params[i].name, name) == 0)
			return &ct->params[i];
	return NULL;
}
