/*
 * envelope: the ENVELOPE of RFC 9051 7.5.2 from the kept header fields.
 *
 * Field values are the raw (unfolded) header values: encoded-words are
 * not decoded, as the RFC asks.  Address lists are split per RFC 5322
 * 3.4 (groups, angle addresses, obsolete routes), leniently: whatever
 * does not parse still advances the cursor, so the work is linear in the
 * field's length.
 */
#include <string.h>

#include "mime/mime_private.h"

struct cursor {
	const char *s;
	size_t len, i;
};

int
mime_imap_nstring(struct buf *out, const char *s, size_t len)
{
	bool quotable = true;

	if (s == NULL)
		return buf_append(out, "NIL", 3);
	for (size_t i = 0; i < len && quotable; i++) {
		unsigned char c = (unsigned char)s[i];

		quotable = c != '\0' && c != '\r' && c != '\n' && c < 0x80;
	}
	if (!quotable) {
		if (buf_printf(out, "{%zu}\r\n", len) < 0)
			return -1;
		return buf_append(out, s, len);
	}
	if (buf_append(out, "\"", 1) < 0)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (((s[i] == '"' || s[i] == '\\') &&
		     buf_append(out, "\\", 1) < 0) ||
		    buf_append(out, &s[i], 1) < 0)
			return -1;
	return buf_append(out, "\"", 1);
}

/* Skips blanks and comments; true if any were skipped. */
static bool
skip_cfws(struct cursor *c)
{
	size_t start = c->i;
	unsigned depth = 0;

	while (c->i < c->len) {
		char ch = c->s[c->i];

		if (depth > 0 && ch == '\\' && c->i + 1 < c->len)
			c->i++;
		else if (ch == '(')
			depth++;
		else if (ch == ')' && depth > 0)
			depth--;
		else if (depth == 0 && ch != ' ' && ch != '\t')
			break;
		c->i++;
	}
	return c->i > start;
}

static bool
is_special(char ch)
{
	return strchr("<>:;,@", ch) != NULL;
}

/* A quoted-string's content, RFC 5322 quoting removed. */
static void
take_quoted(struct cursor *c, struct buf *a, struct buf *b)
{
	for (c->i++; c->i < c->len && c->s[c->i] != '"'; c->i++) {
		if (c->s[c->i] == '\\' && c->i + 1 < c->len)
			c->i++;
		buf_append(a, &c->s[c->i], 1);
		if (b != NULL)
			buf_append(b, &c->s[c->i], 1);
	}
	if (c->i < c->len)
		c->i++;
}

/*
 * Reads words up to a special: into name with one space where blanks
 * separated them (the display-name), into local without (a local-part).
 */
static void
read_phrase(struct cursor *c, struct buf *name, struct buf *local)
{
	for (;;) {
		bool blank = skip_cfws(c);
		char ch;

		if (c->i >= c->len || is_special(c->s[c->i]))
			return;
		if (blank && name->len > 0)
			buf_append(name, " ", 1);
		ch = c->s[c->i];
		if (ch == '"') {
			take_quoted(c, name, local);
			continue;
		}
		while (c->i < c->len && !is_special(c->s[c->i]) &&
		       c->s[c->i] != ' ' && c->s[c->i] != '\t' &&
		       c->s[c->i] != '(' && c->s[c->i] != '"') {
			buf_append(name, &c->s[c->i], 1);
			buf_append(local, &c->s[c->i], 1);
			c->i++;
		}
	}
}

/* A domain up to ',', ';', '>' or the end; comments and blanks dropped. */
static void
read_domain(struct cursor *c, struct buf *host)
{
	for (;;) {
		skip_cfws(c);
		if (c->i >= c->len || strchr(",;>", c->s[c->i]) != NULL)
			return;
		if (c->s[c->i] == '<' || c->s[c->i] == ':')
			return;
		buf_append(host, &c->s[c->i], 1);
		c->i++;
	}
}

/* Name and route are NIL when empty; mailbox and host when NULL. */
static int
write_addr(struct buf *out, const struct buf *name, const struct buf *adl,
           const struct buf *mbox, const struct buf *host)
{
	int rc = buf_append(out, "(", 1);

	rc |= mime_imap_nstring(out, name->len ? buf_cstr(name) : NULL,
	                        name->len);
	rc |= buf_append(out, " ", 1);
	rc |= mime_imap_nstring(out, adl->len ? buf_cstr(adl) : NULL, adl->len);
	rc |= buf_append(out, " ", 1);
	rc |= mime_imap_nstring(out, mbox ? buf_cstr(mbox) : NULL,
	                        mbox ? mbox->len : 0);
	rc |= buf_append(out, " ", 1);
	rc |= mime_imap_nstring(out, host ? buf_cstr(host) : NULL,
	                        host ? host->len : 0);
	rc |= buf_append(out, ")", 1);
	return rc;
}

/* Cuts out back to len bytes, keeping the NUL that buf promises. */
static void
truncate_to(struct buf *out, size_t len)
{
	out->len = len;
	if (out->data != NULL)
		out->data[len] = '\0';
}

/* "<" [route ":"] local "@" domain ">" (RFC 5322 3.4, 4.4 obs-route). */
static void
read_angle(struct cursor *c, struct buf *adl, struct buf *mbox,
           struct buf *host)
{
	struct buf dummy = BUF_INIT;
	size_t save;

	c->i++; /* '<' */
	skip_cfws(c);
	save = c->i;
	if (c->i < c->len && c->s[c->i] == '@') {
		while (c->i < c->len && c->s[c->i] != ':' && c->s[c->i] != '>')
			c->i++;
		if (c->i < c->len && c->s[c->i] == ':') {
			buf_append(adl, c->s + save, c->i - save);
			c->i++;
		} else {
			c->i = save;
		}
	}
	read_phrase(c, &dummy, mbox);
	buf_free(&dummy);
	if (c->i < c->len && c->s[c->i] == '@') {
		c->i++;
		read_domain(c, host);
	}
	while (c->i < c->len && c->s[c->i] != '>' && c->s[c->i] != ',')
		c->i++;
	if (c->i < c->len && c->s[c->i] == '>')
		c->i++;
}

struct addr_bufs {
	struct buf name, adl, mbox, host;
};

/* One mailbox or group start at the cursor; writes what it found. */
static int
read_address(struct cursor *c, struct buf *out, bool *in_group, size_t *n)
{
	struct addr_bufs a = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT};
	struct buf none = BUF_INIT;
	int rc = 0;

	read_phrase(c, &a.name, &a.mbox);
	if (c->i < c->len && c->s[c->i] == ':' && !*in_group) {
		/* RFC 9051 7.5.2: group start is (NIL NIL name NIL). */
		c->i++;
		*in_group = true;
		rc = write_addr(out, &none, &none, &a.name, NULL);
		(*n)++;
		goto done;
	}
	if (c->i < c->len && c->s[c->i] == '<') {
		buf_reset(&a.mbox);
		read_angle(c, &a.adl, &a.mbox, &a.host);
	} else {
		buf_reset(&a.name);
		if (c->i < c->len && c->s[c->i] == '@') {
			c->i++;
			read_domain(c, &a.host);
		}
	}
	if (a.mbox.len > 0 || a.host.len > 0) {
		rc = write_addr(out, &a.name, &a.adl, &a.mbox, &a.host);
		(*n)++;
	}
done:
	buf_free(&a.name);
	buf_free(&a.adl);
	buf_free(&a.mbox);
	buf_free(&a.host);
	return rc;
}

/* An address list as "((...)(...))", or NIL when it holds none. */
static int
write_addr_list(struct buf *out, const char *v, size_t len)
{
	struct cursor c = {v, len, 0};
	size_t start = out->len, n = 0;
	bool in_group = false;

	if (v == NULL)
		return buf_append(out, "NIL", 3);
	if (buf_append(out, "(", 1) < 0)
		return -1;
	while (c.i < c.len) {
		size_t before = c.i;

		skip_cfws(&c);
		if (c.i >= c.len)
			break;
		if (c.s[c.i] == ',' || (c.s[c.i] == ';' && !in_group)) {
			c.i++;
			continue;
		}
		if (c.s[c.i] == ';') {
			c.i++;
			in_group = false;
			if (buf_append(out, "(NIL NIL NIL NIL)", 17) < 0)
				return -1;
			continue;
		}
		if (read_address(&c, out, &in_group, &n) < 0)
			return -1;
		if (c.i == before)
			c.i++; /* always advance on junk */
	}
	if (in_group && buf_append(out, "(NIL NIL NIL NIL)", 17) < 0)
		return -1;
	if (n == 0) {
		truncate_to(out, start);
		return buf_append(out, "NIL", 3);
	}
	return buf_append(out, ")", 1);
}

static int
write_field(struct buf *out, const struct mime_part *m, enum mime_field f)
{
	return mime_imap_nstring(out, m->field[f], m->field_len[f]);
}

int
mime_envelope_write(struct buf *out, const struct mime_part *m)
{
	static const enum mime_field addrs[] = {MIME_F_FROM,     MIME_F_SENDER,
	                                        MIME_F_REPLY_TO, MIME_F_TO,
	                                        MIME_F_CC,       MIME_F_BCC};
	int rc = buf_append(out, "(", 1);

	rc |= write_field(out, m, MIME_F_DATE);
	rc |= buf_append(out, " ", 1);
	rc |= write_field(out, m, MIME_F_SUBJECT);
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		enum mime_field f = addrs[i];
		size_t at;

		rc |= buf_append(out, " ", 1);
		at = out->len;
		rc |= write_addr_list(out, m->field[f], m->field_len[f]);
		/* 7.5.2: absent or empty Sender and Reply-To take From. */
		if ((f == MIME_F_SENDER || f == MIME_F_REPLY_TO) && rc == 0 &&
		    out->len - at == 3 &&
		    memcmp(out->data + at, "NIL", 3) == 0) {
			truncate_to(out, at);
			rc |= write_addr_list(out, m->field[MIME_F_FROM],
			                      m->field_len[MIME_F_FROM]);
		}
	}
	rc |= buf_append(out, " ", 1);
	rc |= write_field(out, m, MIME_F_IN_REPLY_TO);
	rc |= buf_append(out, " ", 1);
	rc |= write_field(out, m, MIME_F_MESSAGE_ID);
	rc |= buf_append(out, ")", 1);
	return rc < 0 ? -1 : 0;
}

/* Fills what mime_addr_first() promises from one parsed mailbox. */
static int
addr_first_out(const struct addr_bufs *a, struct buf *local,
               struct buf *display)
{
	int rc = buf_append(local, buf_cstr(&a->mbox), a->mbox.len);

	if (a->name.len > 0)
		return rc | mime_header_decode(display, buf_cstr(&a->name),
		                               a->name.len);
	rc |= buf_append(display, buf_cstr(&a->mbox), a->mbox.len);
	if (a->host.len > 0)
		rc |= buf_printf(display, "@%s", buf_cstr(&a->host));
	return rc;
}

int
mime_addr_first(const char *v, size_t len, struct buf *local,
                struct buf *display)
{
	struct cursor c = {v, len, 0};
	int found = 0;

	while (v != NULL && c.i < c.len && found == 0) {
		struct addr_bufs a = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT};
		size_t before = c.i;

		skip_cfws(&c);
		if (c.i < c.len && strchr(",;", c.s[c.i]) != NULL) {
			c.i++;
			continue;
		}
		read_phrase(&c, &a.name, &a.mbox);
		if (c.i < c.len && c.s[c.i] == ':') {
			c.i++; /* a group's name is no mailbox */
			buf_reset(&a.mbox);
		} else if (c.i < c.len && c.s[c.i] == '<') {
			buf_reset(&a.mbox);
			read_angle(&c, &a.adl, &a.mbox, &a.host);
		} else {
			buf_reset(&a.name);
			if (c.i < c.len && c.s[c.i] == '@') {
				c.i++;
				read_domain(&c, &a.host);
			}
		}
		if (a.mbox.len > 0 || a.host.len > 0)
			found = addr_first_out(&a, local, display) < 0 ? -1 : 1;
		buf_free(&a.name);
		buf_free(&a.adl);
		buf_free(&a.mbox);
		buf_free(&a.host);
		if (c.i == before)
			c.i++;
	}
	return found;
}
