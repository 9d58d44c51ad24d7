/*
 * cmd_any: the commands valid in every state (RFC 9051 6.1) and ENABLE.
 */
#include <string.h>

#include "imap/cmd.h"
#include "imap/mailbox.h"
#include "imap/resp.h"

int
imap_capability_append(const struct imap_session *s, struct buf *out)
{
	int rc = buf_append_str(out, "IMAP4rev2 IMAP4rev1 LITERAL+ SASL-IR "
	                             "ID ENABLE UNSELECT IDLE NAMESPACE "
	                             "UIDPLUS MOVE CHILDREN SPECIAL-USE "
	                             "CREATE-SPECIAL-USE LIST-EXTENDED "
	                             "LIST-STATUS STATUS=SIZE QUOTA "
	                             "QUOTA=RES-STORAGE QUOTA=RES-MESSAGE "
	                             "ESEARCH SEARCHRES WITHIN SORT "
	                             "SORT=DISPLAY THREAD=ORDEREDSUBJECT "
	                             "THREAD=REFERENCES CONDSTORE QRESYNC "
	                             "BINARY SAVEDATE OBJECTID UTF8=ACCEPT");

	if (!conn_is_compressed(s->c) &&
	    buf_append_str(out, " COMPRESS=DEFLATE") < 0)
		rc = -1;
	/* RFC 7889: the largest literal the parser accepts. */
	if (buf_printf(out, " APPENDLIMIT=%llu",
	               (unsigned long long)s->cfg->max_message_size) < 0)
		rc = -1;

	if (s->state != IMAP_STATE_NOT_AUTH)
		return rc;
	if (!conn_is_tls(s->c) && conn_service(s->c) == SVC_IMAP &&
	    buf_append_str(out, " STARTTLS") < 0)
		rc = -1;
	/* RFC 9051 6.2.3: LOGINDISABLED while a password would be exposed. */
	if (!imap_login_is_plain_ok(s))
		return buf_append_str(out, " LOGINDISABLED") < 0 ? -1 : rc;
	return buf_append_str(out,
	                      " AUTH=PLAIN AUTH=LOGIN AUTH=SCRAM-SHA-256") < 0
	           ? -1
	           : rc;
}

void
imap_cmd_capability(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	struct buf out = BUF_INIT;

	buf_append_str(&out, "* CAPABILITY ");
	imap_capability_append(s, &out);
	buf_append(&out, "\r\n", 2);
	imap_resp_flush(s, &out);
	buf_free(&out);
	imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "CAPABILITY completed");
}

void
imap_cmd_noop(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	struct err err;

	/* RFC 9051 6.1.2: NOOP is how clients poll for new mail. */
	if (s->state == IMAP_STATE_SELECTED && imap_mailbox_sync(s, &err) < 0) {
		imap_resp_err(s, cx->tag, &err);
		return;
	}
	imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "NOOP completed");
}

void
imap_cmd_logout(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	/* RFC 9051 6.1.3: BYE first, then the tagged OK. */
	imap_resp_untagged(s, "BYE Logging out");
	imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "LOGOUT completed");
	imap_session_set_state(s, IMAP_STATE_LOGOUT);
	imap_session_close(s, "logout");
}

/* RFC 2971 3.3: at most 30 field/value pairs, fields at most 30 octets. */
static bool
imap_id_is_valid(const struct imap_arg *a)
{
	size_t n = 0;

	if (imap_arg_is_atom(a, "NIL"))
		return true;
	if (a->type != IMAP_ARG_LIST)
		return false;
	for (const struct imap_arg *f = a->child; f != NULL; f = f->next) {
		if (f->type == IMAP_ARG_LIST || f->type == IMAP_ARG_ATOM) {
			if (n % 2 == 0 || !imap_arg_is_atom(f, "NIL"))
				return false;
		}
		if (n % 2 == 0 && f->len > 30)
			return false;
		n++;
	}
	return n % 2 == 0 && n <= 60;
}

void
imap_cmd_id(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	if (!imap_id_is_valid(cx->args)) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "Invalid ID parameters");
		return;
	}
	imap_resp_untagged(s, "ID (\"name\" \"Postamt\" \"version\" \"%s\")",
	                   "0.1.0");
	imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "ID completed");
}

/* Turns one capability on; appends its name to out if it was off. */
static void
imap_enable_one(struct imap_session *s, const struct imap_arg *a,
                struct buf *out)
{
	if (imap_arg_is_atom(a, "IMAP4rev2") && !s->rev2) {
		s->rev2 = true;
		buf_append_str(out, " IMAP4rev2");
	} else if (imap_arg_is_atom(a, "UTF8=ACCEPT") && !s->utf8_accept) {
		/*
		 * RFC 6855 3: UTF-8 mailbox names and quoted strings; APPEND
		 * takes the UTF8 (literal8) form either way (cmd_append.c).
		 */
		s->utf8_accept = true;
		buf_append_str(out, " UTF8=ACCEPT");
	} else if (imap_arg_is_atom(a, "CONDSTORE") && !s->condstore) {
		s->condstore = true;
		buf_append_str(out, " CONDSTORE");
	} else if (imap_arg_is_atom(a, "QRESYNC") && !s->qresync) {
		/* RFC 7162 3.2.3: QRESYNC implies CONDSTORE. */
		if (!s->condstore)
			buf_append_str(out, " CONDSTORE");
		s->qresync = s->condstore = true;
		buf_append_str(out, " QRESYNC");
	}
}

void
imap_cmd_enable(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	struct buf out = BUF_INIT;

	for (const struct imap_arg *a = cx->args; a != NULL; a = a->next) {
		if (a->type != IMAP_ARG_ATOM) {
			imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
			                 "Invalid capability name");
			return;
		}
	}
	buf_append_str(&out, "* ENABLED");
	/* RFC 5161 3.1: unknown capabilities are ignored. */
	for (const struct imap_arg *a = cx->args; a != NULL; a = a->next)
		imap_enable_one(s, a, &out);
	buf_append(&out, "\r\n", 2);
	imap_resp_flush(s, &out);
	buf_free(&out);
	imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "ENABLE completed");
}
