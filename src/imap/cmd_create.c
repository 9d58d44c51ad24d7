/*
 * cmd_create: CREATE (with CREATE-SPECIAL-USE, RFC 6154 3), DELETE,
 * RENAME, SUBSCRIBE and UNSUBSCRIBE (RFC 9051 6.3.4 - 6.3.8).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/cmd.h"
#include "imap/resp.h"

/* Answers a store failure with the code RFC 5530 has for it. */
static void
create_fail(struct imap_session *s, const struct imap_cmd_ctx *cx,
            const struct err *err)
{
	if (err->kind == ERR_SYNTAX)
		imap_resp_tagged(s, cx->tag, IMAP_NO, "CANNOT", "%s", err->msg);
	else if (err->kind == ERR_PERM)
		imap_resp_tagged(s, cx->tag, IMAP_NO, "CANNOT", "%s", err->msg);
	else
		imap_resp_err(s, cx->tag, err);
}

/* The special use of "(USE (\Archive))"; false on bad syntax. */
static bool
create_parse_use(const struct imap_arg *a, const char **use_r)
{
	const struct imap_arg *attrs;

	*use_r = NULL;
	if (a == NULL)
		return true;
	if (a->type != IMAP_ARG_LIST || !imap_arg_is_atom(a->child, "USE") ||
	    a->child->next == NULL || a->child->next->type != IMAP_ARG_LIST ||
	    a->child->next->next != NULL)
		return false;
	attrs = a->child->next->child;
	/* One attribute per mailbox is all the store keeps. */
	if (attrs == NULL || attrs->type != IMAP_ARG_ATOM ||
	    attrs->next != NULL)
		return attrs == NULL;
	*use_r = attrs->str;
	return true;
}

void
imap_cmd_create(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	const char *name, *use;
	char *copy;
	size_t len;
	struct err err;
	int rc;

	if (!create_parse_use(cx->args->next, &use)) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "Invalid CREATE arguments");
		return;
	}
	if ((name = imap_box_arg(s, cx, cx->args)) == NULL)
		return;
	if (use != NULL && imap_flag_parse(use) != 0) {
		imap_resp_tagged(s, cx->tag, IMAP_NO, "USEATTR",
		                 "Not a special-use attribute");
		return;
	}
	/* RFC 9051 6.3.4: a trailing delimiter only says "parent". */
	copy = strdup(name);
	if (copy == NULL) {
		err_set(&err, ERR_INTERNAL, "out of memory");
		imap_resp_err(s, cx->tag, &err);
		return;
	}
	len = strlen(copy);
	if (len > 1 && copy[len - 1] == '/')
		copy[len - 1] = '\0';
	rc = store_mailbox_create(s->user, copy, use, &err);
	free(copy);
	if (rc == 0)
		imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "CREATE completed");
	else if (err.kind == ERR_SYNTAX && use != NULL &&
	         strstr(err.msg, "special use") != NULL)
		imap_resp_tagged(s, cx->tag, IMAP_NO, "USEATTR",
		                 "Unsupported special-use attribute");
	else
		create_fail(s, cx, &err);
}

void
imap_cmd_delete(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	const char *name = imap_box_arg(s, cx, cx->args);
	struct err err;

	if (name == NULL)
		return;
	if (store_mailbox_delete(s->user, name, &err) < 0) {
		create_fail(s, cx, &err);
		return;
	}
	imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "DELETE completed");
}

/* Our own rename of the selected mailbox (or a parent): follow it. */
static void
rename_follow(struct imap_session *s, const char *from, const char *to)
{
	size_t flen = strlen(from);
	struct buf b = BUF_INIT;
	char *name;

	if (s->state != IMAP_STATE_SELECTED || strcmp(from, "INBOX") == 0 ||
	    strncmp(s->box.name, from, flen) != 0 ||
	    (s->box.name[flen] != '\0' && s->box.name[flen] != '/'))
		return;
	if (buf_printf(&b, "%s%s", to, s->box.name + flen) < 0 ||
	    (name = buf_steal(&b)) == NULL) {
		buf_free(&b);
		return;
	}
	free(s->box.name);
	s->box.name = name;
}

void
imap_cmd_rename(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	const char *from, *to;
	struct err err;

	if ((from = imap_box_arg(s, cx, cx->args)) == NULL ||
	    (to = imap_box_arg(s, cx, cx->args->next)) == NULL)
		return;
	if (store_mailbox_rename(s->user, from, to, &err) < 0) {
		create_fail(s, cx, &err);
		return;
	}
	rename_follow(s, from, to);
	imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "RENAME completed");
}

/* SUBSCRIBE and UNSUBSCRIBE. */
void
imap_cmd_subscribe(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	const char *name = imap_box_arg(s, cx, cx->args);
	bool on = strcmp(cx->name, "SUBSCRIBE") == 0;
	struct err err;

	if (name == NULL)
		return;
	if (store_mailbox_subscribe(s->user, name, on, &err) < 0) {
		create_fail(s, cx, &err);
		return;
	}
	imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "%s completed", cx->name);
}
