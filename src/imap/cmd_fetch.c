/*
 * cmd_fetch: FETCH and UID FETCH (RFC 9051 6.4.5, 6.4.9).
 *
 * Supported items: FLAGS, UID, RFC822.SIZE, INTERNALDATE, RFC822,
 * RFC822.HEADER, RFC822.TEXT, BODY[], BODY[HEADER], BODY[TEXT] and their
 * BODY.PEEK and <partial> forms.  ENVELOPE, BODYSTRUCTURE and MIME part
 * sections need the MIME parser and are refused with BAD for now; the
 * macros ALL, FAST and FULL answer without ENVELOPE and BODY.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap/cmd.h"
#include "imap/mailbox.h"
#include "imap/resp.h"

#define FETCH_MAX_ITEMS 32

enum fetch_kind {
	FETCH_FLAGS,
	FETCH_UID,
	FETCH_SIZE,
	FETCH_INTERNALDATE,
	FETCH_BODY, /* BODY[...] and the RFC822 forms */
};

enum fetch_section { SECTION_ALL, SECTION_HEADER, SECTION_TEXT };

struct fetch_item {
	enum fetch_kind kind;
	enum fetch_section section;
	bool peek;         /* does not set \Seen */
	const char *alias; /* "RFC822", ... or NULL for BODY[...] */
	bool partial;
	uint64_t off, len;
};

struct fetch_req {
	struct fetch_item items[FETCH_MAX_ITEMS];
	size_t count;
	bool has_flags, needs_body, sets_seen;
};

static int
fetch_add(struct fetch_req *req, struct fetch_item it)
{
	if (req->count >= FETCH_MAX_ITEMS)
		return -1;
	req->items[req->count++] = it;
	if (it.kind == FETCH_FLAGS)
		req->has_flags = true;
	if (it.kind == FETCH_BODY) {
		req->needs_body = true;
		if (!it.peek)
			req->sets_seen = true;
	}
	return 0;
}

/* Parses "<off.len>" (RFC 9051 9 "partial"); s points at '<'. */
static int
fetch_parse_partial(const char *s, struct fetch_item *it)
{
	char *end;

	if (*s == '\0')
		return 0;
	if (s[0] != '<' || s[1] < '0' || s[1] > '9')
		return -1;
	it->off = strtoull(s + 1, &end, 10);
	if (*end != '.' || end[1] < '1' || end[1] > '9')
		return -1;
	it->len = strtoull(end + 1, &end, 10);
	if (end[0] != '>' || end[1] != '\0')
		return -1;
	it->partial = true;
	return 0;
}

/* BODY[section]<partial> and BODY.PEEK[...]. */
static int
fetch_parse_body(const char *s, struct fetch_item *it)
{
	const char *close;
	size_t n;

	if (strncasecmp(s, "BODY.PEEK[", 10) == 0) {
		it->peek = true;
		s += 10;
	} else if (strncasecmp(s, "BODY[", 5) == 0) {
		s += 5;
	} else {
		return -1;
	}
	close = strchr(s, ']');
	if (close == NULL)
		return -1;
	n = (size_t)(close - s);
	if (n == 0)
		it->section = SECTION_ALL;
	else if (n == 6 && strncasecmp(s, "HEADER", 6) == 0)
		it->section = SECTION_HEADER;
	else if (n == 4 && strncasecmp(s, "TEXT", 4) == 0)
		it->section = SECTION_TEXT;
	else
		return -1;
	it->kind = FETCH_BODY;
	return fetch_parse_partial(close + 1, it);
}

static int
fetch_parse_item(struct fetch_req *req, const char *s)
{
	struct fetch_item it = {.kind = FETCH_FLAGS};

	if (strcasecmp(s, "FLAGS") == 0)
		it.kind = FETCH_FLAGS;
	else if (strcasecmp(s, "UID") == 0)
		it.kind = FETCH_UID;
	else if (strcasecmp(s, "RFC822.SIZE") == 0)
		it.kind = FETCH_SIZE;
	else if (strcasecmp(s, "INTERNALDATE") == 0)
		it.kind = FETCH_INTERNALDATE;
	else if (strcasecmp(s, "RFC822") == 0)
		it = (struct fetch_item){.kind = FETCH_BODY, .alias = "RFC822"};
	else if (strcasecmp(s, "RFC822.HEADER") == 0)
		it = (struct fetch_item){.kind = FETCH_BODY,
		                         .section = SECTION_HEADER,
		                         .peek = true,
		                         .alias = "RFC822.HEADER"};
	else if (strcasecmp(s, "RFC822.TEXT") == 0)
		it = (struct fetch_item){.kind = FETCH_BODY,
		                         .section = SECTION_TEXT,
		                         .alias = "RFC822.TEXT"};
	else if (fetch_parse_body(s, &it) < 0)
		return -1;
	return fetch_add(req, it);
}

/* The macros of RFC 9051 6.4.5, without ENVELOPE and BODY for now. */
static bool
fetch_parse_macro(struct fetch_req *req, const char *s)
{
	if (strcasecmp(s, "ALL") != 0 && strcasecmp(s, "FAST") != 0 &&
	    strcasecmp(s, "FULL") != 0)
		return false;
	fetch_parse_item(req, "FLAGS");
	fetch_parse_item(req, "INTERNALDATE");
	fetch_parse_item(req, "RFC822.SIZE");
	return true;
}

static int
fetch_parse(struct fetch_req *req, const struct imap_arg *a, bool uid)
{
	memset(req, 0, sizeof(*req));
	/* RFC 9051 6.4.9: UID FETCH always reports the UID. */
	if (uid)
		fetch_parse_item(req, "UID");
	if (a->type == IMAP_ARG_ATOM) {
		if (fetch_parse_macro(req, a->str) ||
		    (uid && strcasecmp(a->str, "UID") == 0))
			return 0;
		return fetch_parse_item(req, a->str);
	}
	if (a->type != IMAP_ARG_LIST || a->child == NULL)
		return -1;
	for (a = a->child; a != NULL; a = a->next) {
		if (a->type != IMAP_ARG_ATOM)
			return -1;
		if (uid && strcasecmp(a->str, "UID") == 0)
			continue;
		if (fetch_parse_item(req, a->str) < 0)
			return -1;
	}
	return 0;
}

/* INTERNALDATE as date-time (RFC 9051 9), in UTC. */
static int
fetch_date(struct buf *out, int64_t when)
{
	static const char months[][4] = {"Jan", "Feb", "Mar", "Apr",
	                                 "May", "Jun", "Jul", "Aug",
	                                 "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)when;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	return buf_printf(out,
	                  "INTERNALDATE \"%02d-%s-%04d %02d:%02d:%02d +0000\"",
	                  tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
	                  tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The bytes of a section: the header ends after the first blank line. */
static void
fetch_section_span(const struct buf *msg, enum fetch_section sec, size_t *off_r,
                   size_t *len_r)
{
	const char *end = msg->data != NULL
	                      ? memmem(msg->data, msg->len, "\r\n\r\n", 4)
	                      : NULL;
	size_t hdr = end != NULL ? (size_t)(end - msg->data) + 4 : msg->len;

	*off_r = 0;
	*len_r = msg->len;
	if (sec == SECTION_HEADER) {
		*len_r = hdr;
	} else if (sec == SECTION_TEXT) {
		*off_r = hdr;
		*len_r = msg->len - hdr;
	}
}

static int
fetch_body(struct buf *out, const struct fetch_item *it, const struct buf *msg)
{
	static const char *const names[] = {"", "HEADER", "TEXT"};
	size_t off, len;

	fetch_section_span(msg, it->section, &off, &len);
	if (it->alias != NULL) {
		if (buf_printf(out, "%s ", it->alias) < 0)
			return -1;
	} else if (buf_printf(out, "BODY[%s]", names[it->section]) < 0) {
		return -1;
	}
	if (it->partial) {
		/* RFC 9051 6.4.5: only the origin octet is echoed. */
		if (buf_printf(out, "<%llu> ", (unsigned long long)it->off) < 0)
			return -1;
		if (it->off >= len) {
			off = len = 0;
		} else {
			off += (size_t)it->off;
			len -= (size_t)it->off;
			if (it->len < len)
				len = (size_t)it->len;
		}
	} else if (it->alias == NULL && buf_append(out, " ", 1) < 0) {
		return -1;
	}
	return imap_resp_literal(out, msg->data != NULL ? msg->data + off : "",
	                         len);
}

static int
fetch_item_write(struct buf *out, const struct fetch_item *it,
                 const struct store_msg *m, const struct buf *msg)
{
	switch (it->kind) {
	case FETCH_FLAGS:
		return buf_append_str(out, "FLAGS ") < 0
		           ? -1
		           : imap_resp_flags(out, m->flags);
	case FETCH_UID:
		return buf_printf(out, "UID %u", m->uid);
	case FETCH_SIZE:
		return buf_printf(out, "RFC822.SIZE %llu",
		                  (unsigned long long)m->size);
	case FETCH_INTERNALDATE:
		return fetch_date(out, m->internaldate);
	case FETCH_BODY:
		return fetch_body(out, it, msg);
	}
	return -1;
}

/* Sets \Seen when a body item without PEEK asks for it (6.4.5). */
static int
fetch_mark_seen(struct imap_session *s, const struct fetch_req *req,
                struct store_msg *m, bool *changed_r, struct err *err)
{
	*changed_r = false;
	if (!req->sets_seen || s->box.readonly ||
	    (m->flags & STORE_FLAG_SEEN) != 0)
		return 0;
	if (store_msg_set_flags(s->user, s->box.name, m->uid, 1,
	                        STORE_FLAG_SEEN, err) < 0)
		return -1;
	m->flags |= STORE_FLAG_SEEN;
	*changed_r = true;
	return 0;
}

/* Writes "* n FETCH (...)" for message index i. */
static int
fetch_one(struct imap_session *s, const struct fetch_req *req, size_t i,
          struct buf *msg, struct err *err)
{
	struct store_msg *m = &s->box.msgs[i];
	struct buf out = BUF_INIT;
	bool changed;
	int rc = 0;

	buf_reset(msg);
	if (req->needs_body &&
	    store_msg_read(s->user, s->box.name, m->uid, msg, err) < 0)
		return -1;
	if (fetch_mark_seen(s, req, m, &changed, err) < 0)
		return -1;
	rc |= buf_printf(&out, "* %zu FETCH (", i + 1);
	for (size_t k = 0; k < req->count; k++) {
		if (k > 0)
			rc |= buf_append(&out, " ", 1);
		rc |= fetch_item_write(&out, &req->items[k], m, msg);
	}
	if (changed && !req->has_flags) {
		rc |= buf_append_str(&out, " FLAGS ");
		rc |= imap_resp_flags(&out, m->flags);
	}
	rc |= buf_append_str(&out, ")\r\n");
	if (rc == 0)
		imap_resp_flush(s, &out);
	buf_free(&out);
	return rc == 0 ? 0 : err_set(err, ERR_INTERNAL, "out of memory");
}

void
imap_cmd_fetch(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	struct fetch_req req;
	struct imap_seqset set;
	struct buf msg = BUF_INIT;
	struct err err;
	int rc = 0;

	if (cx->args->next->next != NULL) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "FETCH modifiers are not supported");
		return;
	}
	if (fetch_parse(&req, cx->args->next, cx->uid) < 0) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "Invalid or unsupported fetch item");
		return;
	}
	if (imap_mailbox_set(s, cx, cx->args, &set) < 0)
		return;
	for (size_t i = 0; i < s->box.count && rc == 0; i++)
		if (imap_mailbox_in_set(s, cx, &set, i))
			rc = fetch_one(s, &req, i, &msg, &err);
	imap_seqset_free(&set);
	buf_free(&msg);
	if (rc < 0)
		imap_resp_err(s, cx->tag, &err);
	else
		imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "%s completed",
		                 cx->uid ? "UID FETCH" : "FETCH");
}
