/*
 * cmd_list: LIST (RFC 9051 6.3.9) with LIST-EXTENDED (RFC 5258),
 * SPECIAL-USE (RFC 6154), LIST-STATUS (RFC 5819) and CHILDREN; LSUB
 * (RFC 3501 6.3.9) and NAMESPACE (RFC 2342).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/cmd.h"
#include "imap/mutf7.h"
#include "imap/resp.h"

/* What a LIST asked for. */
struct list_req {
	const struct imap_arg *patterns; /* atoms/strings, linked by next */
	bool single;                     /* patterns is one, not a list */
	const char *ref;
	bool sel_subscribed, sel_special, recursive;
	bool ret_subscribed, ret_special;
	const struct imap_arg *ret_status; /* the STATUS item list, or NULL */
	bool lsub;
};

/*
 * Matches name against an IMAP LIST pattern: "*" matches anything, "%"
 * anything but the hierarchy delimiter "/" (RFC 9051 6.3.9).  Dynamic
 * programming over the name, so a hostile pattern costs O(pattern * name).
 */
static bool
list_match(const char *pat, const char *name)
{
	size_t n = strlen(name);
	bool *row = calloc(2 * (n + 1), sizeof(bool)), *next, ok;

	if (row == NULL)
		return false;
	next = row + n + 1;
	row[0] = true; /* empty pattern prefix matches empty name prefix */
	for (; *pat != '\0'; pat++) {
		for (size_t j = 0; j <= n; j++) {
			if (*pat == '*' || *pat == '%')
				next[j] = row[j] ||
				          (j > 0 && next[j - 1] &&
				           (*pat == '*' || name[j - 1] != '/'));
			else
				next[j] =
				    j > 0 && row[j - 1] && *pat == name[j - 1];
		}
		memcpy(row, next, (n + 1) * sizeof(bool));
	}
	ok = row[n];
	free(row);
	return ok;
}

/*
 * Does name match any pattern of the request (after the reference)?  The
 * patterns are matched against the name as this client spells it:
 * modified UTF-7 for IMAP4rev1 (RFC 3501 5.1.3), so "&AOk-*" or a bare
 * "*" mean what they meant to the client.
 */
static bool
list_matches(const struct imap_session *s, const struct list_req *req,
             const char *stored)
{
	struct buf full = BUF_INIT, wire = BUF_INIT;
	const char *name = stored;
	bool ok = false;

	if (!imap_names_utf8(s) &&
	    imap_mutf7_encode(stored, strlen(stored), &wire) == 0)
		name = buf_cstr(&wire);

	for (const struct imap_arg *p = req->patterns; p != NULL && !ok;
	     p = req->single ? NULL : p->next) {
		const char *pat = imap_arg_astring(p);

		if (pat == NULL)
			continue;
		buf_reset(&full);
		buf_printf(&full, "%s%s", req->ref, pat);
		/* INBOX matches in any case (RFC 9051 5.1). */
		ok = (strcmp(name, "INBOX") == 0 &&
		      strcasecmp(buf_cstr(&full), "INBOX") == 0) ||
		     list_match(buf_cstr(&full), name);
	}
	buf_free(&full);
	buf_free(&wire);
	return ok;
}

/* Flags of list[i]'s children: any at all, any subscribed. */
static void
list_children(const struct store_mailbox_info *list, size_t n, size_t i,
              bool *any_r, bool *subscribed_r)
{
	size_t len = strlen(list[i].name);

	*any_r = *subscribed_r = false;
	/* Sorted by name: every "name/..." is in the run of "name..." after i.
	 */
	for (size_t j = i + 1;
	     j < n && strncmp(list[j].name, list[i].name, len) == 0; j++) {
		if (list[j].name[len] != '/')
			continue;
		*any_r = true;
		if (list[j].subscribed)
			*subscribed_r = true;
	}
}

static void
list_write_one(const struct imap_session *s, const struct list_req *req,
               const struct store_mailbox_info *m, bool has_children,
               bool childinfo, struct buf *out)
{
	buf_printf(out, "* %s (%s", req->lsub ? "LSUB" : "LIST",
	           has_children ? "\\HasChildren" : "\\HasNoChildren");
	if (m->special_use != NULL)
		buf_printf(out, " %s", m->special_use);
	if (!req->lsub && m->subscribed &&
	    (req->ret_subscribed || req->sel_subscribed))
		buf_append_str(out, " \\Subscribed");
	buf_append_str(out, ") \"/\" ");
	imap_resp_mailbox(s, out, m->name);
	/* RFC 5258 3.5: a parent listed only for its subscribed children. */
	if (childinfo)
		buf_append_str(out, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	buf_append_str(out, "\r\n");
}

/* Lists the mailboxes; returns 0, or -1 with *err filled. */
static int
list_run(struct imap_session *s, const struct list_req *req, struct err *err)
{
	struct store_mailbox_info *list;
	struct buf out = BUF_INIT;
	bool any, sub_kids;
	size_t n;
	int rc = 0;

	if (store_mailbox_list(s->user, &list, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct store_mailbox_info *m = &list[i];
		bool childinfo = false;

		if (!list_matches(s, req, m->name))
			continue;
		list_children(list, n, i, &any, &sub_kids);
		if (req->sel_special && m->special_use == NULL)
			continue;
		if (req->sel_subscribed && !m->subscribed) {
			if (!req->recursive || !sub_kids)
				continue;
			childinfo = true;
		}
		list_write_one(s, req, m, any, childinfo, &out);
		if (req->ret_status != NULL && !childinfo)
			rc = imap_status_write(s, m->name, req->ret_status,
			                       &out, err) == -1
			         ? -1
			         : 0;
		imap_resp_flush(s, &out);
	}
	buf_free(&out);
	store_mailbox_list_free(&list, n);
	return rc;
}

/* LIST-EXTENDED selection options (RFC 5258 3.1); -1 for unknown ones. */
static int
list_parse_select(const struct imap_arg *opts, struct list_req *req)
{
	for (const struct imap_arg *o = opts->child; o != NULL; o = o->next) {
		if (imap_arg_is_atom(o, "SUBSCRIBED"))
			req->sel_subscribed = true;
		else if (imap_arg_is_atom(o, "SPECIAL-USE"))
			req->sel_special = true;
		else if (imap_arg_is_atom(o, "RECURSIVEMATCH"))
			req->recursive = true;
		else if (!imap_arg_is_atom(o, "REMOTE"))
			return -1;
	}
	/* RFC 5258 3.1: RECURSIVEMATCH alone is an error. */
	return req->recursive && !req->sel_subscribed ? -1 : 0;
}

/* RETURN options (RFC 5258 3.2, RFC 5819, RFC 6154). */
static int
list_parse_return(const struct imap_arg *opts, struct list_req *req)
{
	if (opts == NULL || opts->type != IMAP_ARG_LIST)
		return -1;
	for (const struct imap_arg *o = opts->child; o != NULL; o = o->next) {
		if (imap_arg_is_atom(o, "SUBSCRIBED")) {
			req->ret_subscribed = true;
		} else if (imap_arg_is_atom(o, "SPECIAL-USE")) {
			req->ret_special = true;
		} else if (imap_arg_is_atom(o, "CHILDREN")) {
			/* always returned */
		} else if (imap_arg_is_atom(o, "STATUS") && o->next != NULL &&
		           o->next->type == IMAP_ARG_LIST &&
		           o->next->child != NULL) {
			o = o->next;
			req->ret_status = o->child;
		} else {
			return -1;
		}
	}
	return 0;
}

static int
list_parse(const struct imap_arg *a, struct list_req *req)
{
	if (a->type == IMAP_ARG_LIST) {
		if (list_parse_select(a, req) < 0)
			return -1;
		a = a->next;
	}
	if (a == NULL || (req->ref = imap_arg_astring(a)) == NULL ||
	    a->next == NULL)
		return -1;
	a = a->next;
	req->single = a->type != IMAP_ARG_LIST;
	req->patterns = req->single ? a : a->child;
	if (req->patterns == NULL)
		return -1;
	a = a->next;
	if (a == NULL)
		return 0;
	if (!imap_arg_is_atom(a, "RETURN") || a->next == NULL ||
	    a->next->next != NULL)
		return -1;
	return list_parse_return(a->next, req);
}

static void
list_answer(struct imap_session *s, const struct imap_cmd_ctx *cx,
            const struct list_req *req)
{
	struct err err;

	if (req->single && imap_arg_astring(req->patterns) != NULL &&
	    *imap_arg_astring(req->patterns) == '\0') {
		/* RFC 9051 6.3.9: the delimiter and root of the reference. */
		imap_resp_untagged(s, "%s (\\Noselect) \"/\" \"\"",
		                   req->lsub ? "LSUB" : "LIST");
	} else if (list_run(s, req, &err) < 0) {
		imap_resp_err(s, cx->tag, &err);
		return;
	}
	imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "%s completed", cx->name);
}

void
imap_cmd_list(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	struct list_req req;

	memset(&req, 0, sizeof(req));
	if (list_parse(cx->args, &req) < 0) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "Invalid LIST arguments");
		return;
	}
	list_answer(s, cx, &req);
}

/* RFC 3501 6.3.9: LIST restricted to subscribed names, "* LSUB" lines. */
void
imap_cmd_lsub(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	struct list_req req;

	memset(&req, 0, sizeof(req));
	req.lsub = true;
	req.sel_subscribed = true;
	req.ref = imap_arg_astring(cx->args);
	req.patterns = cx->args->next;
	req.single = true;
	if (req.ref == NULL || imap_arg_astring(req.patterns) == NULL) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "Invalid LSUB arguments");
		return;
	}
	list_answer(s, cx, &req);
}

/* RFC 2342: one personal namespace, the root, delimiter "/". */
void
imap_cmd_namespace(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	imap_resp_untagged(s, "NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "NAMESPACE completed");
}
