/*
 * The MAIL/RCPT argument parser: RFC 5321 4.1.2 (Path, Mailbox, Local-part,
 * Domain, address-literal) with RFC 6531 3.3 (UTF-8 in both parts) and the
 * ESMTP parameter syntax of RFC 5321 4.1.2 (esmtp-param).
 */
#include "smtp/addr.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/queue.h"
#include "util/buf.h"

/* A forward-only cursor over (pointer, length). */
struct cur {
	const unsigned char *p;
	size_t n;
	size_t i;
};

static int
cur_peek(const struct cur *c)
{
	return c->i < c->n ? c->p[c->i] : -1;
}

static bool
cur_eat(struct cur *c, int ch)
{
	if (cur_peek(c) != ch)
		return false;
	c->i++;
	return true;
}

/* Matches a case-insensitive keyword such as "FROM:". */
static bool
cur_eat_word(struct cur *c, const char *w)
{
	size_t len = strlen(w);

	if (c->n - c->i < len ||
	    strncasecmp((const char *)c->p + c->i, w, len) != 0)
		return false;
	c->i += len;
	return true;
}

/*
 * Consumes one well-formed UTF-8 sequence of 2 to 4 bytes (no overlongs,
 * no surrogates, nothing past U+10FFFF).  Returns false without moving if
 * the bytes at the cursor are not one.
 */
static bool
cur_eat_utf8(struct cur *c)
{
	const unsigned char *p = c->p + c->i;
	size_t left = c->n - c->i, len;
	unsigned lo = 0x80, hi = 0xbf;

	if (left == 0)
		return false;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return false;
	if (left < len)
		return false;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return false;
	for (size_t k = 2; k < len; k++)
		if (p[k] < 0x80 || p[k] > 0xbf)
			return false;
	c->i += len;
	return true;
}

/* RFC 5322 3.2.3 atext. */
static bool
is_atext(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') ||
	       (ch > 0 && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL);
}

static bool
is_letdig(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9');
}

/* Dot-string = Atom *("." Atom), atoms may hold UTF-8 (RFC 6531 3.3). */
static bool
parse_dot_string(struct cur *c, bool *u8)
{
	bool need_atom = true;

	for (;;) {
		int ch = cur_peek(c);

		if (ch >= 0 && is_atext(ch)) {
			c->i++;
			need_atom = false;
		} else if (ch >= 0x80 && cur_eat_utf8(c)) {
			*u8 = true;
			need_atom = false;
		} else if (ch == '.' && !need_atom) {
			c->i++;
			need_atom = true;
		} else {
			return !need_atom;
		}
	}
}

/* Quoted-string: DQUOTE *(qtextSMTP / quoted-pairSMTP) DQUOTE. */
static bool
parse_quoted(struct cur *c, bool *u8)
{
	if (!cur_eat(c, '"'))
		return false;
	for (;;) {
		int ch = cur_peek(c);

		if (ch == '"') {
			c->i++;
			return true;
		}
		if (ch == '\\') {
			c->i++;
			ch = cur_peek(c);
			if (ch < 32 || ch > 126)
				return false;
			c->i++;
		} else if (ch >= 32 && ch <= 126) {
			c->i++;
		} else if (ch >= 0x80 && cur_eat_utf8(c)) {
			*u8 = true;
		} else {
			return false;
		}
	}
}

/* Domain = sub-domain *("." sub-domain); U-labels allowed (RFC 6531). */
static bool
parse_domain(struct cur *c, bool *u8)
{
	size_t label = 0;
	int last = -1;

	for (;;) {
		int ch = cur_peek(c);

		if (ch >= 0 && is_letdig(ch)) {
			c->i++;
		} else if (ch == '-' && label > 0) {
			c->i++;
		} else if (ch >= 0x80 && cur_eat_utf8(c)) {
			*u8 = true;
		} else if (ch == '.' && label > 0 && last != '-') {
			c->i++;
			label = 0;
			last = '.';
			continue;
		} else {
			return label > 0 && last != '-';
		}
		label++;
		last = ch;
	}
}

/* address-literal = "[" dcontent "]", dcontent is %d33-90 / %d94-126. */
static bool
parse_address_literal(struct cur *c)
{
	size_t start;

	if (!cur_eat(c, '['))
		return false;
	start = c->i;
	for (;;) {
		int ch = cur_peek(c);

		if (ch == ']')
			break;
		if (ch < 33 || ch > 126 || ch == '[' || ch == '\\')
			return false;
		c->i++;
	}
	if (c->i == start)
		return false;
	c->i++;
	return true;
}

/*
 * A-d-l = At-domain *( "," At-domain ): the source route, which RFC 5321
 * 4.1.1.3 says servers must accept and should ignore.
 */
static bool
skip_source_route(struct cur *c)
{
	bool u8 = false;

	if (cur_peek(c) != '@')
		return true;
	do {
		if (!cur_eat(c, '@'))
			return false;
		if (cur_peek(c) == '[' ? !parse_address_literal(c)
		                       : !parse_domain(c, &u8))
			return false;
	} while (cur_eat(c, ','));
	return cur_eat(c, ':');
}

/* True if the n bytes at p are "Postmaster" in any case (RFC 5321 4.5.1). */
static bool
is_postmaster(const unsigned char *p, size_t n)
{
	return n == 10 && strncasecmp((const char *)p, "postmaster", 10) == 0;
}

static char *
copy_bytes(const unsigned char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s != NULL) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

/*
 * Path = "<" [ A-d-l ":" ] Mailbox ">" (RFC 5321 4.1.2).  The null path
 * "<>" is allowed for MAIL only; a bare "<Postmaster>" for RCPT only.
 */
static enum smtp_parse
parse_path(struct cur *c, bool is_rcpt, char **addr_r, bool *u8_r)
{
	size_t open = c->i, start, at, end;

	*u8_r = false;
	if (!cur_eat(c, '<'))
		return SMTP_PARSE_SYNTAX;
	if (!is_rcpt && cur_eat(c, '>'))
		return (*addr_r = copy_bytes(c->p, 0)) != NULL
		           ? SMTP_PARSE_OK
		           : SMTP_PARSE_NOMEM;
	if (!skip_source_route(c))
		return SMTP_PARSE_SYNTAX;
	start = c->i;
	if (cur_peek(c) == '"' ? !parse_quoted(c, u8_r)
	                       : !parse_dot_string(c, u8_r))
		return SMTP_PARSE_SYNTAX;
	at = c->i;
	if (is_rcpt && cur_peek(c) == '>' &&
	    is_postmaster(c->p + start, at - start)) {
		end = at;
	} else {
		if (!cur_eat(c, '@'))
			return SMTP_PARSE_SYNTAX;
		if (cur_peek(c) == '[' ? !parse_address_literal(c)
		                       : !parse_domain(c, u8_r))
			return SMTP_PARSE_SYNTAX;
		end = c->i;
		if (end - at - 1 > SMTP_ADDR_DOMAIN_MAX)
			return SMTP_PARSE_TOO_LONG;
	}
	if (!cur_eat(c, '>'))
		return SMTP_PARSE_SYNTAX;
	if (at - start > SMTP_ADDR_LOCAL_MAX ||
	    c->i - open > SMTP_ADDR_PATH_MAX)
		return SMTP_PARSE_TOO_LONG;
	*addr_r = copy_bytes(c->p + start, end - start);
	return *addr_r != NULL ? SMTP_PARSE_OK : SMTP_PARSE_NOMEM;
}

/* One esmtp-param: keyword and optional value, as (pointer, length). */
struct param {
	const char *kw;
	size_t kwlen;
	const char *val; /* NULL if no "=" */
	size_t vallen;
};

/*
 * Reads the next " keyword[=value]".  Returns 1 with *p filled, 0 at the
 * end of the line, -1 on bad syntax.  Several spaces between parameters are
 * tolerated; clients differ there and it costs nothing.
 */
static int
next_param(struct cur *c, struct param *p)
{
	size_t k;

	if (c->i == c->n)
		return 0;
	if (!cur_eat(c, ' '))
		return -1;
	while (cur_eat(c, ' '))
		;
	if (c->i == c->n)
		return 0;
	k = c->i;
	while (cur_peek(c) >= 0 &&
	       (is_letdig(cur_peek(c)) || (cur_peek(c) == '-' && c->i > k)))
		c->i++;
	if (c->i == k)
		return -1;
	p->kw = (const char *)c->p + k;
	p->kwlen = c->i - k;
	p->val = NULL;
	p->vallen = 0;
	if (!cur_eat(c, '='))
		return cur_peek(c) == -1 || cur_peek(c) == ' ' ? 1 : -1;
	k = c->i;
	while (cur_peek(c) > 32 && cur_peek(c) != '=' && cur_peek(c) != 127)
		c->i++;
	if (c->i == k || (cur_peek(c) != -1 && cur_peek(c) != ' '))
		return -1;
	p->val = (const char *)c->p + k;
	p->vallen = c->i - k;
	return 1;
}

static bool
param_is(const struct param *p, const char *kw)
{
	return p->kwlen == strlen(kw) && strncasecmp(p->kw, kw, p->kwlen) == 0;
}

static bool
value_is(const struct param *p, const char *v)
{
	return p->vallen == strlen(v) && strncasecmp(p->val, v, p->vallen) == 0;
}

/* SIZE = 1*20DIGIT (RFC 1870 3); a value past UINT64_MAX saturates. */
static enum smtp_parse
parse_size_param(const struct param *p, struct smtp_mail_args *a)
{
	uint64_t v = 0;

	if (p->val == NULL || p->vallen > 20 || a->has_size)
		return SMTP_PARSE_BAD_VALUE;
	for (size_t i = 0; i < p->vallen; i++) {
		unsigned d = (unsigned char)p->val[i] - '0';

		if (d > 9)
			return SMTP_PARSE_BAD_VALUE;
		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
	}
	a->has_size = true;
	a->size = v;
	return SMTP_PARSE_OK;
}

bool
smtp_addr_xtext_is_valid(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '+') {
			/* hexchar = "+" 2(%x30-39 / %x41-46), upper case only
			 */
			if (n - i < 3 ||
			    !strchr("0123456789ABCDEF", s[i + 1]) ||
			    !strchr("0123456789ABCDEF", s[i + 2]) ||
			    s[i + 1] == '\0' || s[i + 2] == '\0')
				return false;
			i += 2;
		} else if (ch < 33 || ch > 126 || ch == '=') {
			return false;
		}
	}
	return true;
}

/* RET=FULL|HDRS and ENVID=xtext (RFC 3461 4.3, 4.4), each at most once. */
static enum smtp_parse
parse_dsn_mail_param(const struct param *p, struct smtp_mail_args *a)
{
	if (param_is(p, "RET")) {
		if (p->val == NULL || a->has_ret)
			return SMTP_PARSE_BAD_VALUE;
		if (value_is(p, "HDRS"))
			a->ret_hdrs = true;
		else if (!value_is(p, "FULL"))
			return SMTP_PARSE_BAD_VALUE;
		a->has_ret = true;
		return SMTP_PARSE_OK;
	}
	if (param_is(p, "ENVID")) {
		if (p->val == NULL || a->envid != NULL ||
		    p->vallen > SMTP_ADDR_ENVID_MAX ||
		    !smtp_addr_xtext_is_valid(p->val, p->vallen))
			return SMTP_PARSE_BAD_VALUE;
		a->envid = strndup(p->val, p->vallen);
		return a->envid != NULL ? SMTP_PARSE_OK : SMTP_PARSE_NOMEM;
	}
	return SMTP_PARSE_UNKNOWN;
}

/*
 * NOTIFY=NEVER or a comma list of SUCCESS, FAILURE, DELAY (RFC 3461 4.1):
 * NEVER stands alone, no keyword twice.
 */
static enum smtp_parse
parse_notify_param(const struct param *p, struct smtp_rcpt_args *a)
{
	static const struct {
		const char *word;
		unsigned bit;
	} words[] = {{"NEVER", SMTP_NOTIFY_NEVER},
	             {"SUCCESS", SMTP_NOTIFY_SUCCESS},
	             {"FAILURE", SMTP_NOTIFY_FAILURE},
	             {"DELAY", SMTP_NOTIFY_DELAY}};
	size_t i = 0;

	if (p->val == NULL || a->notify != 0)
		return SMTP_PARSE_BAD_VALUE;
	while (i < p->vallen) {
		size_t len = 0, w;

		while (i + len < p->vallen && p->val[i + len] != ',')
			len++;
		for (w = 0; w < sizeof(words) / sizeof(words[0]); w++)
			if (strlen(words[w].word) == len &&
			    strncasecmp(p->val + i, words[w].word, len) == 0)
				break;
		if (w == sizeof(words) / sizeof(words[0]) ||
		    (a->notify & words[w].bit))
			return SMTP_PARSE_BAD_VALUE;
		a->notify |= words[w].bit;
		i += len + 1;
		if (i == p->vallen) /* a trailing comma */
			return SMTP_PARSE_BAD_VALUE;
	}
	if ((a->notify & SMTP_NOTIFY_NEVER) && a->notify != SMTP_NOTIFY_NEVER)
		return SMTP_PARSE_BAD_VALUE;
	return SMTP_PARSE_OK;
}

/* ORCPT=addr-type ";" xtext (RFC 3461 4.2), kept as given. */
static enum smtp_parse
parse_orcpt_param(const struct param *p, struct smtp_rcpt_args *a)
{
	const char *semi;

	if (p->val == NULL || a->orcpt != NULL ||
	    p->vallen > SMTP_ADDR_ORCPT_MAX ||
	    (semi = memchr(p->val, ';', p->vallen)) == NULL || semi == p->val ||
	    !smtp_addr_xtext_is_valid(p->val, p->vallen))
		return SMTP_PARSE_BAD_VALUE;
	a->orcpt = strndup(p->val, p->vallen);
	return a->orcpt != NULL ? SMTP_PARSE_OK : SMTP_PARSE_NOMEM;
}

static enum smtp_parse
parse_rcpt_param(const struct param *p, struct smtp_rcpt_args *a)
{
	if (param_is(p, "NOTIFY"))
		return parse_notify_param(p, a);
	if (param_is(p, "ORCPT"))
		return parse_orcpt_param(p, a);
	return SMTP_PARSE_UNKNOWN;
}

static enum smtp_parse
parse_mail_param(const struct param *p, struct smtp_mail_args *a)
{
	if (param_is(p, "SIZE"))
		return parse_size_param(p, a);
	if (param_is(p, "BODY")) {
		if (p->val == NULL || a->body != SMTP_BODY_DEFAULT)
			return SMTP_PARSE_BAD_VALUE;
		if (value_is(p, "7BIT"))
			a->body = SMTP_BODY_7BIT;
		else if (value_is(p, "8BITMIME"))
			a->body = SMTP_BODY_8BITMIME;
		else
			return SMTP_PARSE_BAD_VALUE;
		return SMTP_PARSE_OK;
	}
	if (param_is(p, "SMTPUTF8")) {
		if (p->val != NULL || a->smtputf8)
			return SMTP_PARSE_BAD_VALUE;
		a->smtputf8 = true;
		return SMTP_PARSE_OK;
	}
	/* RFC 4954 5: AUTH= is accepted; we never trust it, so it is ignored.
	 */
	if (param_is(p, "AUTH"))
		return p->val != NULL ? SMTP_PARSE_OK : SMTP_PARSE_BAD_VALUE;
	return parse_dsn_mail_param(p, a);
}

/*
 * "FROM:" and "TO:" are followed directly by the path in RFC 5321, but
 * many clients put a space after the colon; accepting it is harmless.
 */
static bool
eat_prefix(struct cur *c, const char *word)
{
	if (!cur_eat_word(c, word))
		return false;
	while (cur_eat(c, ' '))
		;
	return true;
}

enum smtp_parse
smtp_addr_parse_mail(const char *s, size_t n, struct smtp_mail_args *a)
{
	struct cur c = {(const unsigned char *)s, n, 0};
	struct param p;
	enum smtp_parse r;
	int more;

	memset(a, 0, sizeof(*a));
	if (!eat_prefix(&c, "FROM:"))
		return SMTP_PARSE_SYNTAX;
	r = parse_path(&c, false, &a->addr, &a->addr_8bit);
	if (r != SMTP_PARSE_OK)
		return r;
	while ((more = next_param(&c, &p)) > 0)
		if ((r = parse_mail_param(&p, a)) != SMTP_PARSE_OK)
			break;
	if (more < 0)
		r = SMTP_PARSE_SYNTAX;
	if (r != SMTP_PARSE_OK)
		smtp_mail_args_free(a);
	return r;
}

enum smtp_parse
smtp_addr_parse_rcpt(const char *s, size_t n, struct smtp_rcpt_args *a)
{
	struct cur c = {(const unsigned char *)s, n, 0};
	struct param p;
	enum smtp_parse r;
	int more;

	memset(a, 0, sizeof(*a));
	if (!eat_prefix(&c, "TO:"))
		return SMTP_PARSE_SYNTAX;
	r = parse_path(&c, true, &a->addr, &a->addr_8bit);
	if (r != SMTP_PARSE_OK)
		return r;
	while ((more = next_param(&c, &p)) > 0)
		if ((r = parse_rcpt_param(&p, a)) != SMTP_PARSE_OK)
			break;
	if (more < 0)
		r = SMTP_PARSE_SYNTAX;
	if (r != SMTP_PARSE_OK)
		smtp_rcpt_args_free(a);
	return r;
}

void
smtp_mail_args_free(struct smtp_mail_args *a)
{
	free(a->addr);
	free(a->envid);
	a->addr = a->envid = NULL;
}

void
smtp_rcpt_args_free(struct smtp_rcpt_args *a)
{
	free(a->addr);
	free(a->orcpt);
	a->addr = a->orcpt = NULL;
}

const char *
smtp_addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : NULL;
}

bool
smtp_addr_helo_is_valid(const char *s, size_t n)
{
	struct cur c = {(const unsigned char *)s, n, 0};

	if (n == 0 || n > SMTP_ADDR_DOMAIN_MAX)
		return false;
	while (c.i < c.n) {
		int ch = cur_peek(&c);

		if (ch > 32 && ch < 127)
			c.i++;
		else if (!cur_eat_utf8(&c))
			return false;
	}
	return true;
}
