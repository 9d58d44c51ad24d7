/*
 * cmd_mailbox: SELECT, EXAMINE, LIST, STATUS, CLOSE, UNSELECT
 * (RFC 9051 6.3.2, 6.3.3, 6.3.9, 6.3.11, 6.4.1, 6.4.2).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/cmd.h"
#include "imap/mailbox.h"
#include "imap/resp.h"

#define IMAP_SYSTEM_FLAGS "\\Answered \\Flagged \\Deleted \\Seen \\Draft"

/*
 * The mailboxes every user has (store.h) with their RFC 6154 special-use
 * attributes.  The store has no call to list mailboxes yet, so LIST shows
 * exactly these.
 */
static const struct {
	const char *name;
	const char *attrs;
} imap_default_boxes[] = {
    {"INBOX", "\\HasNoChildren"},
    {"Drafts", "\\HasNoChildren \\Drafts"},
    {"Sent", "\\HasNoChildren \\Sent"},
    {"Trash", "\\HasNoChildren \\Trash"},
    {"Junk", "\\HasNoChildren \\Junk"},
    {"Archive", "\\HasNoChildren \\Archive"},
};

#define NBOXES (sizeof(imap_default_boxes) / sizeof(imap_default_boxes[0]))

/* A mailbox name argument; INBOX is case-insensitive (RFC 9051 5.1). */
static const char *
imap_box_name(const struct imap_arg *a)
{
	const char *name = imap_arg_astring(a);

	if (name != NULL && strcasecmp(name, "INBOX") == 0)
		return "INBOX";
	return name;
}

static void
imap_select_report(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	struct buf out = BUF_INIT;

	buf_printf(&out, "* FLAGS (" IMAP_SYSTEM_FLAGS ")\r\n");
	buf_printf(&out, "* %zu EXISTS\r\n", s->box.count);
	if (!s->rev2) /* RFC 3501 7.3.2; gone in IMAP4rev2 */
		buf_printf(&out, "* 0 RECENT\r\n");
	buf_printf(&out, "* OK [UIDVALIDITY %u] UIDs valid\r\n",
	           s->box.uidvalidity);
	buf_printf(&out, "* OK [UIDNEXT %u] Predicted next UID\r\n",
	           s->box.uidnext);
	buf_printf(&out, "* OK [PERMANENTFLAGS (%s)] Flags permitted\r\n",
	           s->box.readonly ? "" : IMAP_SYSTEM_FLAGS);
	if (s->rev2) { /* RFC 9051 6.3.2: LIST with the canonical name */
		buf_append_str(&out, "* LIST () \"/\" ");
		imap_resp_string(&out, s->box.name, strlen(s->box.name));
		buf_append(&out, "\r\n", 2);
	}
	imap_resp_flush(s, &out);
	buf_free(&out);
	imap_resp_tagged(s, cx->tag, IMAP_OK,
	                 s->box.readonly ? "READ-ONLY" : "READ-WRITE",
	                 "%s completed", cx->name);
}

/* SELECT and EXAMINE. */
void
imap_cmd_select(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	const char *name = imap_box_name(cx->args);
	struct err err;

	if (name == NULL || cx->args->next != NULL) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "Invalid mailbox name or parameters");
		return;
	}
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
		return;
	}
	s->box.readonly = strcmp(cx->name, "EXAMINE") == 0;
	imap_session_set_state(s, IMAP_STATE_SELECTED);
	imap_select_report(s, cx);
}

/*
 * Matches name against an IMAP LIST pattern: "*" matches anything, "%"
 * anything but the hierarchy delimiter "/" (RFC 9051 6.3.9).  Dynamic
 * programming over the name, so a hostile pattern costs O(pattern * name).
 */
static bool
imap_list_match(const char *pat, const char *name)
{
	size_t n = strlen(name);
	bool row[64], next[64];

	if (n + 1 > sizeof(row))
		return false;
	memset(row, 0, sizeof(row));
	row[0] = true; /* empty pattern prefix matches empty name prefix */
	for (; *pat != '\0'; pat++) {
		memset(next, 0, sizeof(next));
		for (size_t j = 0; j <= n; j++) {
			if (*pat == '*' || *pat == '%') {
				/* Zero chars, or one more after a match. */
				next[j] = row[j] ||
				          (j > 0 && next[j - 1] &&
				           (*pat == '*' || name[j - 1] != '/'));
			} else if (j > 0 && row[j - 1]) {
				next[j] = *pat == name[j - 1];
			}
		}
		memcpy(row, next, sizeof(row));
	}
	return row[n];
}

static bool
imap_list_match_box(const char *pat, const char *name)
{
	/* INBOX matches in any case (RFC 9051 5.1). */
	if (strcmp(name, "INBOX") == 0 && strcasecmp(pat, "INBOX") == 0)
		return true;
	return imap_list_match(pat, name);
}

void
imap_cmd_list(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	const char *ref = imap_arg_astring(cx->args);
	const char *pat = imap_arg_astring(cx->args->next);
	struct buf out = BUF_INIT, full = BUF_INIT;

	if (ref == NULL || pat == NULL || cx->args->next->next != NULL) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "Extended LIST is not supported");
		return;
	}
	if (*pat == '\0') {
		/* RFC 9051 6.3.9: the delimiter and root of the reference. */
		imap_resp_untagged(s, "LIST (\\Noselect) \"/\" \"\"");
		imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "LIST completed");
		return;
	}
	buf_printf(&full, "%s%s", ref, pat);
	for (size_t i = 0; i < NBOXES; i++) {
		const char *name = imap_default_boxes[i].name;

		if (!imap_list_match_box(buf_cstr(&full), name))
			continue;
		buf_printf(&out, "* LIST (%s) \"/\" ",
		           imap_default_boxes[i].attrs);
		imap_resp_string(&out, name, strlen(name));
		buf_append(&out, "\r\n", 2);
	}
	imap_resp_flush(s, &out);
	buf_free(&out);
	buf_free(&full);
	imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "LIST completed");
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
	return -1;
}

void
imap_cmd_status(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	const char *name = imap_box_name(cx->args);
	const struct imap_arg *items = cx->args->next;
	struct store_mailbox_status st;
	struct buf out = BUF_INIT;
	struct err err;

	if (name == NULL || items->type != IMAP_ARG_LIST ||
	    items->child == NULL) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "STATUS needs a mailbox and a list of items");
		return;
	}
	if (store_mailbox_status(s->user, name, &st, &err) < 0) {
		imap_resp_err(s, cx->tag, &err);
		return;
	}
	buf_append_str(&out, "* STATUS ");
	imap_resp_string(&out, name, strlen(name));
	buf_append_str(&out, " (");
	for (const struct imap_arg *a = items->child; a != NULL; a = a->next) {
		if (a->type != IMAP_ARG_ATOM ||
		    (a != items->child && buf_append(&out, " ", 1) < 0) ||
		    imap_status_item(&out, a->str, &st) < 0) {
			buf_free(&out);
			imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
			                 "Unknown STATUS item");
			return;
		}
	}
	buf_append_str(&out, ")\r\n");
	imap_resp_flush(s, &out);
	buf_free(&out);
	imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "STATUS completed");
}

void
imap_cmd_close(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	struct err err;
	int rc = 0;

	/* RFC 9051 6.4.1: silently expunge, unless selected read-only. */
	if (!s->box.readonly)
		rc = imap_expunge_deleted(s, false, &err);
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
