/*
 * resp: IMAP response writing and the one err -> response mapping.
 */
#include "imap/resp.h"

#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

#include "imap/sync.h"

static const char *const status_names[] = {
    [IMAP_OK] = "OK", [IMAP_NO] = "NO", [IMAP_BAD] = "BAD"};

void
imap_resp_tagged(struct imap_session *s, const char *tag, enum imap_status st,
                 const char *code, const char *fmt, ...)
{
	struct buf out = BUF_INIT;
	va_list ap;

	/* RFC 9051 7: OK and NO end a run of errors; BAD extends it. */
	s->bads = st == IMAP_BAD ? s->bads + 1 : 0;
	/*
	 * Every completed command tells the client what other sessions
	 * changed, just before its tagged reply (RFC 9051 7.4.1, 5.2).
	 */
	if (tag != NULL && st != IMAP_BAD)
		imap_sync_report(s, !s->no_expunge);
	buf_printf(&out, "%s %s ", tag != NULL ? tag : "*", status_names[st]);
	if (code != NULL)
		buf_printf(&out, "[%s] ", code);
	va_start(ap, fmt);
	buf_vprintf(&out, fmt, ap);
	va_end(ap);
	buf_append(&out, "\r\n", 2);
	imap_resp_flush(s, &out);
	buf_free(&out);
}

void
imap_resp_untagged(struct imap_session *s, const char *fmt, ...)
{
	struct buf out = BUF_INIT;
	va_list ap;

	buf_append(&out, "* ", 2);
	va_start(ap, fmt);
	buf_vprintf(&out, fmt, ap);
	va_end(ap);
	buf_append(&out, "\r\n", 2);
	imap_resp_flush(s, &out);
	buf_free(&out);
}

struct err_reply {
	const char *code;
	const char *text;
};

/* RFC 5530 response codes for each kind of struct err. */
static const struct err_reply err_replies[] = {
    [ERR_OK] = {"SERVERBUG", "Internal error"},
    [ERR_TEMP] = {"UNAVAILABLE", "Temporary failure, try again later"},
    [ERR_PERM] = {"NOPERM", "Permission denied"},
    [ERR_NOTFOUND] = {"NONEXISTENT", "No such mailbox or message"},
    [ERR_EXISTS] = {"ALREADYEXISTS", "Already exists"},
    [ERR_QUOTA] = {"OVERQUOTA", "Quota exceeded"},
    [ERR_LIMIT] = {"LIMIT", "A server limit was exceeded"},
    [ERR_SYNTAX] = {"CANNOT", "Invalid name or argument"},
    [ERR_IO] = {"UNAVAILABLE", "Storage unavailable, try again later"},
    [ERR_INTERNAL] = {"SERVERBUG", "Internal error"},
};

void
imap_resp_err(struct imap_session *s, const char *tag, const struct err *e)
{
	size_t i = (size_t)e->kind;

	if (i >= sizeof(err_replies) / sizeof(err_replies[0]))
		i = ERR_INTERNAL;
	conn_log(s->c, LOG_LVL_WARN, "imap error kind=%s: %s",
	         err_kind_name(e->kind), e->msg);
	imap_resp_tagged(s, tag, IMAP_NO, err_replies[i].code, "%s",
	                 err_replies[i].text);
}

/* quoted = DQUOTE *QUOTED-CHAR DQUOTE; 8-bit only as UTF-8 in IMAP4rev2. */
static bool
is_quotable(const char *str, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)str[i];

		if (c == '\0' || c == '\r' || c == '\n' || c >= 0x80)
			return false;
	}
	return true;
}

int
imap_resp_string(struct buf *out, const char *str, size_t len)
{
	if (!is_quotable(str, len))
		return imap_resp_literal(out, str, len);
	if (buf_append(out, "\"", 1) < 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if ((str[i] == '"' || str[i] == '\\') &&
		    buf_append(out, "\\", 1) < 0)
			return -1;
		if (buf_append(out, &str[i], 1) < 0)
			return -1;
	}
	return buf_append(out, "\"", 1);
}

int
imap_resp_literal(struct buf *out, const void *data, size_t len)
{
	if (buf_printf(out, "{%zu}\r\n", len) < 0)
		return -1;
	return buf_append(out, data, len);
}

static const struct {
	uint32_t bit;
	const char *name;
} flag_names[] = {
    {STORE_FLAG_SEEN, "\\Seen"},       {STORE_FLAG_ANSWERED, "\\Answered"},
    {STORE_FLAG_FLAGGED, "\\Flagged"}, {STORE_FLAG_DELETED, "\\Deleted"},
    {STORE_FLAG_DRAFT, "\\Draft"},
};

#define NFLAGS (sizeof(flag_names) / sizeof(flag_names[0]))

int
imap_resp_flags(struct buf *out, uint32_t flags)
{
	return imap_resp_flags_kw(out, NULL, flags);
}

/* Appends " name" (or "name" first) for each keyword bit of flags. */
static int
resp_keywords(struct buf *out, struct store_user *u, uint32_t flags,
              const char **sep)
{
	/* Most messages carry no keyword: skip the 27 bits. */
	if ((flags >> STORE_KEYWORD_BIT0) == 0)
		return 0;
	for (unsigned bit = STORE_KEYWORD_BIT0; bit < 32; bit++) {
		const char *name;

		if ((flags & (1u << bit)) == 0 ||
		    (name = store_keyword_name(u, bit)) == NULL)
			continue;
		if (buf_printf(out, "%s%s", *sep, name) < 0)
			return -1;
		*sep = " ";
	}
	return 0;
}

/* "(flags keywords extra)", extra ("\\*") if not NULL. */
static int
resp_flag_list(struct buf *out, struct store_user *u, uint32_t flags,
               const char *extra)
{
	const char *sep = "";

	if (buf_append(out, "(", 1) < 0)
		return -1;
	for (size_t i = 0; i < NFLAGS; i++) {
		if ((flags & flag_names[i].bit) == 0)
			continue;
		if (buf_append_str(out, sep) < 0 ||
		    buf_append_str(out, flag_names[i].name) < 0)
			return -1;
		sep = " ";
	}
	if (u != NULL && resp_keywords(out, u, flags, &sep) < 0)
		return -1;
	if (extra != NULL && buf_printf(out, "%s%s", sep, extra) < 0)
		return -1;
	return buf_append(out, ")", 1);
}

int
imap_resp_flags_kw(struct buf *out, struct store_user *u, uint32_t flags)
{
	return resp_flag_list(out, u, flags, NULL);
}

int
imap_resp_flag_lines(struct buf *out, struct store_user *u, bool readonly)
{
	int rc = buf_append_str(out, "* FLAGS ");

	rc |= resp_flag_list(out, u, STORE_FLAG_ANY, NULL);
	rc |= buf_append_str(out, "\r\n* OK [PERMANENTFLAGS ");
	/* RFC 9051 7.1: "\\*": clients may create keywords. */
	if (readonly)
		rc |= buf_append_str(out, "()");
	else
		rc |= resp_flag_list(out, u, STORE_FLAG_ANY, "\\*");
	rc |= buf_append_str(out, "] Flags permitted\r\n");
	return rc < 0 ? -1 : 0;
}

uint32_t
imap_flag_parse(const char *name)
{
	for (size_t i = 0; i < NFLAGS; i++)
		if (strcasecmp(name, flag_names[i].name) == 0)
			return flag_names[i].bit;
	return 0;
}

void
imap_resp_flush(struct imap_session *s, struct buf *out)
{
	if (out->len > 0)
		conn_write(s->c, out->data, out->len);
	buf_reset(out);
}
