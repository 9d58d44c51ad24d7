/*
 * cmd_mailbox: SELECT, EXAMINE, STATUS, CLOSE, UNSELECT
 * (RFC 9051 6.3.2, 6.3.3, 6.3.11, 6.4.1, 6.4.2).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/cmd.h"
#include "imap/condstore.h"
#include "imap/mailbox.h"
#include "imap/mutf7.h"
#include "imap/resp.h"

#define IMAP_SYSTEM_FLAGS "\\Answered \\Flagged \\Deleted \\Seen \\Draft"

/* A mailbox name argument; INBOX is case-insensitive (RFC 9051 5.1). */
const char *
imap_box_name(const struct imap_arg *a)
{
	const char *name = imap_arg_astring(a);

	if (name != NULL && strcasecmp(name, "INBOX") == 0)
		return "INBOX";
	return name;
}

bool
imap_names_utf8(const struct imap_session *s)
{
	return s->rev2 || s->utf8_accept;
}

/* Keeps b's string in the session's next name slot. */
static const char *
imap_box_keep(struct imap_session *s, struct buf *b)
{
	char **slot = &s->box_names[s->box_name_next++ % 2];

	free(*slot);
	*slot = buf_steal(b);
	return *slot;
}

const char *
imap_box_arg(struct imap_session *s, const struct imap_cmd_ctx *cx,
             const struct imap_arg *a)
{
	const char *raw = imap_arg_astring(a), *why = NULL, *name = NULL;
	struct buf b = BUF_INIT;

	if (raw == NULL) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "Invalid mailbox name");
		return NULL;
	}
	if (imap_names_utf8(s)) {
		if (imap_utf8_name_check(raw, strlen(raw), &why))
			buf_append_str(&b, raw);
	} else if (imap_mutf7_decode(raw, strlen(raw), &b, &why) == 0) {
		/* What base64 can carry must pass the same rules (NUL...). */
		imap_utf8_name_check(b.data, b.len, &why);
	}
	if (why == NULL) {
		name = imap_box_keep(s, &b);
		why = "Out of memory";
	}
	buf_free(&b);
	if (name == NULL) {
		imap_resp_tagged(s, cx->tag, IMAP_NO, "CANNOT", "%s", why);
		return NULL;
	}
	return strcasecmp(name, "INBOX") == 0 ? "INBOX" : name;
}

/* RFC 6855 3: UTF-8 in quoted strings once the client has enabled it. */
static int
imap_resp_utf8_quoted(struct buf *out, const char *str, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (str[i] == '\0' || str[i] == '\r' || str[i] == '\n')
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
imap_resp_mailbox(const struct imap_session *s, struct buf *out,
                  const char *name)
{
	struct buf enc = BUF_INIT;
	int rc;

	if (imap_names_utf8(s))
		return imap_resp_utf8_quoted(out, name, strlen(name));
	/* A stored name that is not UTF-8 goes out as it is. */
	if (imap_mutf7_encode(name, strlen(name), &enc) < 0) {
		buf_free(&enc);
		return imap_resp_string(out, name, strlen(name));
	}
	rc = imap_resp_string(out, buf_cstr(&enc), enc.len);
	buf_free(&enc);
	return rc;
}

static void
imap_select_report(struct imap_session *s, const struct imap_cmd_ctx *cx,
                   const struct imap_select_params *params)
{
	struct buf out = BUF_INIT;

	/* FLAGS and PERMANENTFLAGS, with the user's keywords and \* */
	imap_resp_flag_lines(&out, s->user, s->box.readonly);
	buf_printf(&out, "* %zu EXISTS\r\n", s->box.count);
	if (!s->rev2) /* RFC 3501 7.3.2; gone in IMAP4rev2 */
		buf_printf(&out, "* 0 RECENT\r\n");
	buf_printf(&out, "* OK [UIDVALIDITY %u] UIDs valid\r\n",
	           s->box.uidvalidity);
	buf_printf(&out, "* OK [UIDNEXT %u] Predicted next UID\r\n",
	           s->box.uidnext);
	/* RFC 8474 4.1: the mailbox's id, stable across renames. */
	if (s->box.mailboxid[0] != '\0')
		buf_printf(&out, "* OK [MAILBOXID (%s)] Ok\r\n",
		           s->box.mailboxid);
	/* RFC 7162 3.1.2.1: on every SELECT where mod-sequences persist. */
	buf_printf(&out, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
	           (unsigned long long)s->box.modseq);
	if (s->rev2) { /* RFC 9051 6.3.2: LIST with the canonical name */
		buf_append_str(&out, "* LIST () \"/\" ");
		imap_resp_mailbox(s, &out, s->box.name);
		buf_append(&out, "\r\n", 2);
	}
	imap_resp_flush(s, &out);
	buf_free(&out);
	imap_condstore_select_report(s, params);
	imap_resp_tagged(s, cx->tag, IMAP_OK,
	                 s->box.readonly ? "READ-ONLY" : "READ-WRITE",
	                 "%s completed", cx->name);
}

/* SELECT and EXAMINE. */
void
imap_cmd_select(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	const char *name = imap_box_arg(s, cx, cx->args);
	struct imap_select_params params;
	struct err err;

	if (name == NULL)
		return;
	if (imap_condstore_select_parse(s, cx->tag, cx->args->next, &params) <
	    0)
		return;
	if (s->state == IMAP_STATE_SELECTED) {
		/* RFC 9051 6.3.2: the old mailbox is closed first. */
		imap_session_set_state(s, IMAP_STATE_AUTH);
		imap_resp_untagged(s, "OK [CLOSED] Previous mailbox closed");
	}
	if (imap_mailbox_load(s, name, &s->box, &err) < 0) {
		if (err.kind == ERR_NOTFOUND)
			imap_resp_tagged(s, cx->tag, IMAP_NO, "NONEXISTENT",
			                 "No such mailbox");
		else
			imap_resp_err(s, cx->tag, &err);
		imap_condstore_select_free(&params);
		return;
	}
	s->box.readonly = strcmp(cx->name, "EXAMINE") == 0;
	imap_session_set_state(s, IMAP_STATE_SELECTED);
	imap_select_report(s, cx, &params);
	imap_condstore_select_free(&params);
}

/* Appends one STATUS item; returns -1 for an unknown one. */
static int
imap_status_item(struct buf *out, const char *item,
                 const struct store_mailbox_status *st)
{
	if (strcasecmp(item, "MESSAGES") == 0)
		return buf_printf(out, "MESSAGES %u", st->messages);
	if (strcasecmp(item, "UIDNEXT") == 0)
		return buf_printf(out, "UIDNEXT %u", st->uidnext);
	if (strcasecmp(item, "UIDVALIDITY") == 0)
		return buf_printf(out, "UIDVALIDITY %u", st->uidvalidity);
	if (strcasecmp(item, "UNSEEN") == 0)
		return buf_printf(out, "UNSEEN %u", st->unseen);
	if (strcasecmp(item, "SIZE") == 0) /* RFC 9051 6.3.11 */
		return buf_printf(out, "SIZE %llu",
		                  (unsigned long long)st->size);
	if (strcasecmp(item, "RECENT") == 0) /* RFC 3501 only */
		return buf_printf(out, "RECENT 0");
	if (strcasecmp(item, "HIGHESTMODSEQ") == 0) /* RFC 7162 3.1.2.3 */
		return buf_printf(out, "HIGHESTMODSEQ %llu",
		                  (unsigned long long)st->highestmodseq);
	if (strcasecmp(item, "MAILBOXID") == 0) /* RFC 8474 4.2 */
		return buf_printf(out, "MAILBOXID (%s)", st->mailboxid);
	return -1;
}

int
imap_status_write(struct imap_session *s, const char *name,
                  const struct imap_arg *items, struct buf *out,
                  struct err *err)
{
	struct store_mailbox_status st;

	if (store_mailbox_status(s->user, name, &st, err) < 0)
		return -1;
	buf_append_str(out, "* STATUS ");
	imap_resp_mailbox(s, out, name);
	buf_append_str(out, " (");
	for (const struct imap_arg *a = items; a != NULL; a = a->next) {
		/* A CONDSTORE enabling command (RFC 7162 3.1). */
		if (imap_arg_is_atom(a, "HIGHESTMODSEQ"))
			imap_condstore_enable(s);
		if (a->type != IMAP_ARG_ATOM ||
		    (a != items && buf_append(out, " ", 1) < 0) ||
		    imap_status_item(out, a->str, &st) < 0)
			return -2;
	}
	return buf_append_str(out, ")\r\n") < 0 ? -2 : 0;
}

void
imap_cmd_status(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	const struct imap_arg *items = cx->args->next;
	const char *name;
	struct buf out = BUF_INIT;
	struct err err;
	int rc;

	if (items->type != IMAP_ARG_LIST || items->child == NULL) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "STATUS needs a mailbox and a list of items");
		return;
	}
	if ((name = imap_box_arg(s, cx, cx->args)) == NULL)
		return;
	rc = imap_status_write(s, name, items->child, &out, &err);
	if (rc == 0)
		imap_resp_flush(s, &out);
	buf_free(&out);
	if (rc == -1)
		imap_resp_err(s, cx->tag, &err);
	else if (rc == -2)
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "Unknown STATUS item");
	else
		imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "STATUS completed");
}

void
imap_cmd_close(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	struct err err;
	int rc = 0;

	/* RFC 9051 6.4.1: silently expunge, unless selected read-only. */
	if (!s->box.readonly)
		rc = imap_expunge_deleted(s, false, NULL, &err);
	imap_session_set_state(s, IMAP_STATE_AUTH);
	if (rc < 0)
		imap_resp_err(s, cx->tag, &err);
	else
		imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "CLOSE completed");
}

void
imap_cmd_unselect(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	imap_session_set_state(s, IMAP_STATE_AUTH);
	imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "UNSELECT completed");
}
