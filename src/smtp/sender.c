/*
 * sender: submission rules for who a logged-in user may send as
 * (sender_must_match): the envelope sender and every address of the
 * From: header must be the user's own address or one of its aliases.
 */
#include "smtp/session.h"

#include <string.h>
#include <strings.h>

#include "auth/auth.h"

/* Most From: addresses checked; more is refused (RFC 5322 allows lists). */
#define SMTP_FROM_ADDRS_MAX 20

bool
smtp_sender_is_allowed(struct smtp_session *s, const char *addr)
{
	if (s->user == NULL || !s->cfg->sender_must_match)
		return true;
	/* The null sender (RFC 5321 4.5.5) claims nobody's address. */
	if (addr[0] == '\0')
		return true;
	return auth_address_is_owned(s->svc->auth, s->user, addr);
}

/*
 * Finds the unfolded value of the first From: field in the header of msg
 * (up to the empty line).  Returns its start and length in *v, *vlen.
 */
static bool
smtp_from_field(const char *msg, size_t len, const char **v, size_t *vlen)
{
	size_t i = 0;

	while (i < len &&
	       !(msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n' &&
	         (i == 0 || msg[i - 1] == '\n'))) {
		const char *eol = memchr(msg + i, '\n', len - i);
		size_t end = eol != NULL ? (size_t)(eol - msg) + 1 : len;

		if (end - i > 5 && strncasecmp(msg + i, "From:", 5) == 0) {
			size_t j = end;

			/* Continuation lines start with a space or tab. */
			while (j < len && (msg[j] == ' ' || msg[j] == '\t')) {
				eol = memchr(msg + j, '\n', len - j);
				j = eol != NULL ? (size_t)(eol - msg) + 1 : len;
			}
			*v = msg + i + 5;
			*vlen = j - i - 5;
			return true;
		}
		i = end;
	}
	return false;
}

/* Checks one mailbox of the list: "Name <addr>" or a bare addr-spec. */
static bool
smtp_from_one_ok(struct smtp_session *s, const char *p, size_t n)
{
	char addr[AUTH_ADDRESS_MAX + 1];
	const char *lt = memchr(p, '<', n), *gt;
	size_t alen;

	if (lt != NULL) {
		gt = memchr(lt, '>', n - (size_t)(lt - p));
		if (gt == NULL)
			return false;
		p = lt + 1;
		n = (size_t)(gt - p);
	}
	while (n > 0 && strchr(" \t\r\n", *p) != NULL) {
		p++;
		n--;
	}
	while (n > 0 && strchr(" \t\r\n", p[n - 1]) != NULL)
		n--;
	alen = n;
	if (alen == 0 || alen > AUTH_ADDRESS_MAX)
		return false;
	memcpy(addr, p, alen);
	addr[alen] = '\0';
	return auth_address_is_owned(s->svc->auth, s->user, addr);
}

bool
smtp_sender_header_is_allowed(struct smtp_session *s, const char *msg,
                              size_t len)
{
	const char *v;
	size_t vlen, start = 0, count = 0;
	bool quoted = false;
	int depth = 0;

	if (s->user == NULL || !s->cfg->sender_must_match)
		return true;
	if (!smtp_from_field(msg, len, &v, &vlen))
		return true; /* no From: at all: nothing claimed */
	/* Split at top-level commas, outside quotes and comments. */
	for (size_t i = 0; i <= vlen; i++) {
		char ch = i < vlen ? v[i] : ',';

		if (ch == '"' && depth == 0 && (i == 0 || v[i - 1] != '\\'))
			quoted = !quoted;
		else if (!quoted && ch == '(')
			depth++;
		else if (!quoted && ch == ')' && depth > 0)
			depth--;
		if (ch != ',' || quoted || depth > 0)
			continue;
		if (++count > SMTP_FROM_ADDRS_MAX ||
		    !smtp_from_one_ok(s, v + start, i - start))
			return false;
		start = i + 1;
	}
	return true;
}
