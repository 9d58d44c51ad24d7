/*
 * cmd_store: STORE and UID STORE (RFC 9051 6.4.6), with the CONDSTORE
 * modifier UNCHANGEDSINCE and the MODSEQ of each change (RFC 7162 3.1.3).
 * All messages are updated in one store transaction.
 *
 * Keywords (RFC 9051 2.3.2) are flag bits of the user's keyword table
 * (store.h): +FLAGS and FLAGS create the ones the user does not have yet
 * (PERMANENTFLAGS announces "\*"), up to the store's limit (NO [LIMIT]).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/cmd.h"
#include "imap/condstore.h"
#include "imap/mailbox.h"
#include "imap/resp.h"

/* Keyword names in one STORE (each distinct one needs a bit anyway). */
#define STORE_REQ_KEYWORDS_MAX 64

struct store_req {
	int mode; /* 0 replace, 1 add, -1 remove (store_msg_set_flags) */
	bool silent;
	uint32_t flags;
	const char *keywords[STORE_REQ_KEYWORDS_MAX];
	size_t nkeywords;
	bool has_unchangedsince;
	uint64_t unchangedsince;
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

/* One flag; a keyword is collected, unknown system flags are an error. */
static int
store_parse_flag(const struct imap_arg *a, struct store_req *req)
{
	uint32_t bit;

	if (a->type != IMAP_ARG_ATOM)
		return -1;
	if (a->str[0] != '\\') {
		if (!store_keyword_valid(a->str) ||
		    req->nkeywords == STORE_REQ_KEYWORDS_MAX)
			return -1;
		req->keywords[req->nkeywords++] = a->str;
		return 0;
	}
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
	req->nkeywords = 0;
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

/* "(UNCHANGEDSINCE n)" (RFC 7162 3.1.3); *a moves past it. */
static int
store_parse_mods(const struct imap_arg **a, struct store_req *req)
{
	const struct imap_arg *l = *a, *v;
	uint64_t n = 0;

	req->has_unchangedsince = false;
	req->unchangedsince = UINT64_MAX;
	if (l->type != IMAP_ARG_LIST)
		return 0;
	if (!imap_arg_is_atom(l->child, "UNCHANGEDSINCE") ||
	    (v = l->child->next) == NULL || v->next != NULL ||
	    v->type != IMAP_ARG_ATOM || v->str[0] == '\0')
		return -1;
	for (const char *p = v->str; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' ||
		    n > ((uint64_t)INT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	req->has_unchangedsince = true;
	req->unchangedsince = n;
	*a = l->next;
	return 0;
}

/*
 * Turns the keyword names into flag bits: adding or replacing creates the
 * names the user has no bit for yet; removing one that has none removes
 * nothing.
 */
static int
store_keywords(struct imap_session *s, struct store_req *req, struct err *err)
{
	uint32_t bits = 0;

	if (req->nkeywords > 0 &&
	    store_keyword_bits(s->user, req->keywords, req->nkeywords,
	                       req->mode >= 0, &bits, err) < 0)
		return -1;
	req->flags |= bits;
	return 0;
}

/* The untagged FETCH for one stored message (RFC 9051 6.4.6). */
static void
store_report(struct imap_session *s, const struct imap_cmd_ctx *cx, size_t i,
             struct buf *out)
{
	const struct store_msg *m = &s->box.msgs[i];

	buf_printf(out, "* %zu FETCH (", i + 1);
	if (cx->uid) /* RFC 9051 6.4.9 */
		buf_printf(out, "UID %u ", m->uid);
	buf_append_str(out, "FLAGS ");
	imap_resp_flags_kw(out, s->user, m->flags);
	if (s->condstore) {
		buf_append(out, " ", 1);
		imap_condstore_modseq_write(s, i, out);
	}
	buf_append_str(out, ")\r\n");
}

/*
 * Applies the results to the map and writes the responses; the numbers
 * of messages refused by UNCHANGEDSINCE go to *modified.
 */
static void
store_results(struct imap_session *s, const struct imap_cmd_ctx *cx,
              const struct store_req *req, const size_t *idx,
              const struct store_flags_change *ch, size_t n,
              struct imap_uids *modified)
{
	struct buf out = BUF_INIT;

	for (size_t k = 0; k < n; k++) {
		struct store_msg *m = &s->box.msgs[idx[k]];
		uint32_t *p;

		if (ch[k].missing)
			continue;
		m->flags = ch[k].flags;
		m->modseq = ch[k].modseq;
		/* Our own change: the feed does not echo it (sync.c). */
		if (ch[k].modseq == s->box.modseq + 1)
			s->box.modseq = ch[k].modseq;
		if (ch[k].modified) {
			p = reallocarray(modified->v, modified->n + 1,
			                 sizeof(*modified->v));
			if (p == NULL)
				continue;
			modified->v = p;
			modified->v[modified->n++] =
			    cx->uid ? m->uid : (uint32_t)(idx[k] + 1);
			continue;
		}
		/* 3.1.3: UNCHANGEDSINCE reports even with .SILENT. */
		if (!req->silent || req->has_unchangedsince)
			store_report(s, cx, idx[k], &out);
	}
	imap_resp_flush(s, &out);
	buf_free(&out);
}

/* Runs the update over the messages of set. */
static int
store_run(struct imap_session *s, const struct imap_cmd_ctx *cx,
          const struct store_req *req, const struct imap_seqset *set,
          struct imap_uids *modified, struct err *err)
{
	size_t n = 0, *idx = calloc(s->box.count + 1, sizeof(*idx));
	struct store_flags_change *ch = calloc(s->box.count + 1, sizeof(*ch));
	int rc = 0;

	if (idx == NULL || ch == NULL) {
		rc = err_set(err, ERR_TEMP, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < s->box.count; i++)
		if (imap_mailbox_in_set(s, cx, set, i)) {
			idx[n] = i;
			ch[n++].uid = s->box.msgs[i].uid;
		}
	if (n > 0 && (rc = store_flags_update(s->user, s->box.name, req->mode,
	                                      req->flags, req->unchangedsince,
	                                      ch, n, err)) == 0)
		store_results(s, cx, req, idx, ch, n, modified);
out:
	free(idx);
	free(ch);
	return rc;
}

void
imap_cmd_store(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	const struct imap_arg *item = cx->args->next;
	struct imap_uids modified = {NULL, 0, 0};
	struct buf code = BUF_INIT;
	struct store_req req;
	struct imap_seqset set;
	struct err err;
	int rc;

	if (store_parse_mods(&item, &req) < 0 || item == NULL ||
	    item->type != IMAP_ARG_ATOM ||
	    store_parse_item(item->str, &req) < 0 || item->next == NULL ||
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
	if (req.has_unchangedsince)
		imap_condstore_enable(s); /* RFC 7162 3.1 */
	if (store_keywords(s, &req, &err) < 0) {
		imap_resp_err(s, cx->tag, &err);
		return;
	}
	if (imap_mailbox_set(s, cx, cx->args, &set) < 0)
		return;
	rc = store_run(s, cx, &req, &set, &modified, &err);
	imap_seqset_free(&set);
	if (rc < 0) {
		imap_resp_err(s, cx->tag, &err);
	} else if (modified.n > 0) {
		/* RFC 7162 3.1.3: OK [MODIFIED set], numbers ascending. */
		buf_append_str(&code, "MODIFIED ");
		imap_seqset_write(&code, modified.v, modified.n);
		imap_resp_tagged(s, cx->tag, IMAP_OK, buf_cstr(&code),
		                 "Conditional STORE failed");
	} else {
		imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "%s completed",
		                 cx->uid ? "UID STORE" : "STORE");
	}
	buf_free(&code);
	free(modified.v);
}
