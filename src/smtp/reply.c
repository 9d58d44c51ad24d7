/*
 * SMTP replies: one place that writes them, counts client mistakes, and
 * maps the error kinds of store and auth to reply codes with enhanced
 * status codes (RFC 3463, announced as ENHANCEDSTATUSCODES, RFC 2034).
 */
#include "smtp/session.h"

#include <stdarg.h>

#include "util/buf.h"

static void
smtp_replyv(struct smtp_session *s, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;

	if (buf_vprintf(&b, fmt, ap) < 0 || buf_append(&b, "\r\n", 2) < 0) {
		buf_free(&b);
		conn_log(s->c, LOG_LVL_ERROR, "cannot format a reply");
		smtp_session_close(s, "out of memory");
		return;
	}
	conn_write(s->c, b.data, b.len);
	buf_free(&b);
}

void
smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->state == SMTP_STATE_CLOSED)
		return;
	va_start(ap, fmt);
	smtp_replyv(s, fmt, ap);
	va_end(ap);
}

void
smtp_reply_error(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->state == SMTP_STATE_CLOSED)
		return;
	va_start(ap, fmt);
	smtp_replyv(s, fmt, ap);
	va_end(ap);
	/*
	 * A client that keeps getting it wrong is broken or probing; bound
	 * what it can cost us (the idea of Postfix's smtpd_hard_error_limit).
	 */
	if (++s->errors >= SMTP_MAX_ERRORS) {
		smtp_reply(s, "421 4.7.0 Too many errors");
		smtp_session_close(s, "too many errors");
	}
}

struct smtp_err_reply
smtp_reply_for_err(enum err_kind kind)
{
	switch (kind) {
	case ERR_NOTFOUND:
		return (struct smtp_err_reply){550, "5.1.1", "User unknown"};
	case ERR_QUOTA:
		return (struct smtp_err_reply){552, "5.2.2", "Mailbox full"};
	case ERR_LIMIT:
		return (struct smtp_err_reply){552, "5.3.4", "Message too big"};
	case ERR_SYNTAX:
		return (struct smtp_err_reply){501, "5.5.4",
		                               "Syntax error in parameters"};
	case ERR_PERM:
		return (struct smtp_err_reply){554, "5.7.1", "Not allowed"};
	case ERR_OK:
	case ERR_TEMP:
	case ERR_EXISTS:
	case ERR_IO:
	case ERR_INTERNAL:
	default:
		/* Details are in the log; the client only needs "retry". */
		return (struct smtp_err_reply){451, "4.3.0",
		                               "Local error, try again later"};
	}
}
