/*
 * cmd_quota: GETQUOTA, GETQUOTAROOT and SETQUOTA (RFC 9208).
 *
 * One quota root, "", covers all of a user's mailboxes; its limits come
 * from the accounts database (postamt user set ADDR quota=...), so
 * SETQUOTA is refused.  STORAGE is counted in units of 1024 octets
 * (RFC 9208 5.1), MESSAGE in messages (5.2).
 */
#include <string.h>

#include "imap/cmd.h"
#include "imap/resp.h"

/* Appends "* QUOTA "" (...)" CRLF; false if the user has no limits. */
static bool
quota_write(const struct store_quota *q, struct buf *out)
{
	const char *sep = "";

	if (q->bytes_limit == 0 && q->messages_limit == 0)
		return false;
	buf_append_str(out, "* QUOTA \"\" (");
	if (q->bytes_limit != 0) {
		buf_printf(out, "STORAGE %llu %llu",
		           (unsigned long long)((q->bytes_used + 1023) / 1024),
		           (unsigned long long)(q->bytes_limit / 1024));
		sep = " ";
	}
	if (q->messages_limit != 0)
		buf_printf(out, "%sMESSAGE %llu %llu", sep,
		           (unsigned long long)q->messages_used,
		           (unsigned long long)q->messages_limit);
	buf_append_str(out, ")\r\n");
	return true;
}

void
imap_cmd_getquota(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	const char *root = imap_arg_astring(cx->args);
	struct store_quota q;
	struct buf out = BUF_INIT;
	struct err err;

	if (root == NULL) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "Invalid quota root");
		return;
	}
	if (store_quota_get(s->user, &q, &err) < 0) {
		imap_resp_err(s, cx->tag, &err);
		return;
	}
	if (root[0] != '\0' || !quota_write(&q, &out)) {
		buf_free(&out);
		imap_resp_tagged(s, cx->tag, IMAP_NO, "NONEXISTENT",
		                 "No such quota root");
		return;
	}
	imap_resp_flush(s, &out);
	buf_free(&out);
	imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "GETQUOTA completed");
}

void
imap_cmd_getquotaroot(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	const char *name = imap_box_arg(s, cx, cx->args);
	struct store_mailbox_status st;
	struct store_quota q;
	struct buf out = BUF_INIT;
	struct err err;

	if (name == NULL)
		return;
	if (store_mailbox_status(s->user, name, &st, &err) < 0 ||
	    store_quota_get(s->user, &q, &err) < 0) {
		imap_resp_err(s, cx->tag, &err);
		return;
	}
	buf_append_str(&out, "* QUOTAROOT ");
	imap_resp_mailbox(s, &out, name);
	/* RFC 9208 4.3.2: no root at all when the user has no limits. */
	if (q.bytes_limit != 0 || q.messages_limit != 0)
		buf_append_str(&out, " \"\"");
	buf_append_str(&out, "\r\n");
	quota_write(&q, &out);
	imap_resp_flush(s, &out);
	buf_free(&out);
	imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "GETQUOTAROOT completed");
}

void
imap_cmd_setquota(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	/* RFC 9208 4.1.3: limits are the administrator's, not the user's. */
	imap_resp_tagged(s, cx->tag, IMAP_NO, "NOPERM",
	                 "Quotas are set by the administrator");
}
