/*
 * cmd_store: STORE and UID STORE (RFC 9051 6.4.6).
 *
 * System flags only: keywords are accepted but not kept, which is what
 * PERMANENTFLAGS without "\*" announces (RFC 9051 7.1).
 */
#include <string.h>
#include <strings.h>

#include "imap/cmd.h"
#include "imap/mailbox.h"
#include "imap/resp.h"

struct store_req {
	int mode; /* 0 replace, 1 add, -1 remove (store_msg_set_flags) */
	bool silent;
	uint32_t flags;
};

/* [+|-]FLAGS[.SILENT] */
static int
store_parse_item(const char *s, struct store_req *req)
{
	req->mode = 0;
	if (*s == '+' || *s == '-')
		req->mode = *s++ == '+' ? 1 : -1;
	if (strncasecmp(s, "FLAGS", 5) != 0)
		return -1;
	s += 5;
	req->silent = strcasecmp(s, ".SILENT") == 0;
	return req->silent || *s == '\0' ? 0 : -1;
}

/* One flag; keywords are skipped, unknown system flags are an error. */
static int
store_parse_flag(const struct imap_arg *a, struct store_req *req)
{
	uint32_t bit;

	if (a->type != IMAP_ARG_ATOM)
		return -1;
	if (a->str[0] != '\\')
		return 0; /* a keyword: session-only, not kept */
	bit = imap_flag_parse(a->str);
	if (bit == 0)
		return -1; /* includes \Recent, which cannot be stored */
	req->flags |= bit;
	return 0;
}

/* flag-list / (flag *(SP flag)) after the item name. */
static int
store_parse_flags(const struct imap_arg *a, struct store_req *req)
{
	req->flags = 0;
	if (a->type == IMAP_ARG_LIST) {
		if (a->next != NULL)
			return -1;
		a = a->child;
	}
	for (; a != NULL; a = a->next)
		if (store_parse_flag(a, req) < 0)
			return -1;
	return 0;
}

static uint32_t
store_apply(uint32_t old, const struct store_req *req)
{
	if (req->mode > 0)
		return old | req->flags;
	if (req->mode < 0)
		return old & ~req->flags;
	return req->flags;
}

/* Stores on message index i and reports the new flags unless .SILENT. */
static int
store_one(struct imap_session *s, const struct imap_cmd_ctx *cx,
          const struct store_req *req, size_t i, struct err *err)
{
	struct store_msg *m = &s->box.msgs[i];
	struct buf out = BUF_INIT;

	if (store_msg_set_flags(s->user, s->box.name, m->uid, req->mode,
	                        req->flags, err) < 0)
		return -1;
	m->flags = store_apply(m->flags, req);
	if (req->silent)
		return 0;
	buf_printf(&out, "* %zu FETCH (", i + 1);
	if (cx->uid) /* RFC 9051 6.4.9 */
		buf_printf(&out, "UID %u ", m->uid);
	buf_append_str(&out, "FLAGS ");
	imap_resp_flags(&out, m->flags);
	buf_append_str(&out, ")\r\n");
	imap_resp_flush(s, &out);
	buf_free(&out);
	return 0;
}

void
imap_cmd_store(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	const struct imap_arg *item = cx->args->next;
	struct store_req req;
	struct imap_seqset set;
	struct err err;
	int rc = 0;

	if (item->type != IMAP_ARG_ATOM ||
	    store_parse_item(item->str, &req) < 0 ||
	    store_parse_flags(item->next, &req) < 0) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "Invalid STORE item or flags");
		return;
	}
	if (s->box.readonly) {
		imap_resp_tagged(s, cx->tag, IMAP_NO, "READ-ONLY",
		                 "Mailbox is read-only");
		return;
	}
	if (imap_mailbox_set(s, cx, cx->args, &set) < 0)
		return;
	for (size_t i = 0; i < s->box.count && rc == 0; i++)
		if (imap_mailbox_in_set(s, cx, &set, i))
			rc = store_one(s, cx, &req, i, &err);
	imap_seqset_free(&set);
	if (rc < 0)
		imap_resp_err(s, cx->tag, &err);
	else
		imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "%s completed",
		                 cx->uid ? "UID STORE" : "STORE");
}
