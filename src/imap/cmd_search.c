/*
 * cmd_search: SEARCH and UID SEARCH (RFC 9051 6.4.4), with ESEARCH result
 * options (RFC 4731; IMAP4rev2's default answer), SEARCHRES (RFC 5182:
 * RETURN (SAVE) and "$") and the MODSEQ of the matches (RFC 7162 3.1.5).
 *
 * No EXPUNGE is sent while answering SEARCH (the command table's flag,
 * RFC 9051 7.4.1): sequence numbers in the answer stay valid.
 */
#include <stdlib.h>
#include <string.h>

#include "imap/cmd.h"
#include "imap/resp.h"
#include "imap/search.h"
#include "imap/seqset.h"

enum search_ret {
	RET_MIN = 1 << 0,
	RET_MAX = 1 << 1,
	RET_COUNT = 1 << 2,
	RET_ALL = 1 << 3,
	RET_SAVE = 1 << 4,
};

/* RETURN (...) before the keys; *ret_r is 0 without it. */
static int
search_return(const struct imap_arg **args, unsigned *ret_r)
{
	static const struct {
		const char *name;
		unsigned bit;
	} opts[] = {{"MIN", RET_MIN},
	            {"MAX", RET_MAX},
	            {"COUNT", RET_COUNT},
	            {"ALL", RET_ALL},
	            {"SAVE", RET_SAVE}};
	const struct imap_arg *a = *args;

	*ret_r = 0;
	if (!imap_arg_is_atom(a, "RETURN"))
		return 0;
	if (a->next == NULL || a->next->type != IMAP_ARG_LIST)
		return -1;
	for (const struct imap_arg *o = a->next->child; o != NULL;
	     o = o->next) {
		size_t k = 0;

		while (k < sizeof(opts) / sizeof(opts[0]) &&
		       !imap_arg_is_atom(o, opts[k].name))
			k++;
		if (k == sizeof(opts) / sizeof(opts[0]))
			return -1;
		*ret_r |= opts[k].bit;
	}
	/* RFC 4731 3.1: "RETURN ()" means ALL. */
	if (*ret_r == 0)
		*ret_r = RET_ALL;
	*args = a->next->next;
	return 0;
}

static uint32_t
search_num(const struct imap_session *s, bool uid, size_t idx)
{
	return uid ? s->box.msgs[idx].uid : (uint32_t)(idx + 1);
}

/* The highest MODSEQ of the matches (all, or only MIN and MAX). */
static uint64_t
search_modseq(const struct imap_session *s, const struct imap_search_result *r,
              bool only_ends)
{
	uint64_t max = 0;

	for (size_t i = 0; i < r->n; i++) {
		if (only_ends && i != 0 && i != r->n - 1)
			continue;
		if (s->box.msgs[r->idx[i]].modseq > max)
			max = s->box.msgs[r->idx[i]].modseq;
	}
	return max;
}

/* "* SEARCH 2 3 5 [(MODSEQ n)]" for IMAP4rev1 clients. */
static void
search_write_plain(struct imap_session *s, bool uid,
                   const struct imap_search_result *r, bool modseq)
{
	struct buf out = BUF_INIT;

	buf_append_str(&out, "* SEARCH");
	for (size_t i = 0; i < r->n; i++)
		buf_printf(&out, " %u", search_num(s, uid, r->idx[i]));
	if (modseq && r->n > 0)
		buf_printf(&out, " (MODSEQ %llu)",
		           (unsigned long long)search_modseq(s, r, false));
	buf_append(&out, "\r\n", 2);
	imap_resp_flush(s, &out);
	buf_free(&out);
}

/* "* ESEARCH (TAG "t") [UID] MIN n MAX n COUNT n ALL set" (RFC 4731). */
static int
search_write_esearch(struct imap_session *s, const char *tag, bool uid,
                     unsigned ret, const struct imap_search_result *r,
                     bool modseq)
{
	struct buf out = BUF_INIT;
	uint32_t *v = NULL;
	int rc = 0;

	buf_append_str(&out, "* ESEARCH (TAG ");
	imap_resp_string(&out, tag, strlen(tag));
	buf_append_str(&out, uid ? ") UID" : ")");
	if ((ret & RET_MIN) && r->n > 0)
		buf_printf(&out, " MIN %u", search_num(s, uid, r->idx[0]));
	if ((ret & RET_MAX) && r->n > 0)
		buf_printf(&out, " MAX %u",
		           search_num(s, uid, r->idx[r->n - 1]));
	if (ret & RET_COUNT)
		buf_printf(&out, " COUNT %zu", r->n);
	if ((ret & RET_ALL) && r->n > 0) {
		if ((v = calloc(r->n, sizeof(*v))) == NULL)
			rc = -1;
		for (size_t i = 0; v != NULL && i < r->n; i++)
			v[i] = search_num(s, uid, r->idx[i]);
		buf_append_str(&out, " ALL ");
		if (v != NULL)
			imap_seqset_write(&out, v, r->n);
	}
	if (modseq && r->n > 0)
		buf_printf(&out, " MODSEQ %llu",
		           (unsigned long long)search_modseq(
		               s, r, (ret & (RET_ALL | RET_COUNT)) == 0));
	buf_append(&out, "\r\n", 2);
	if (rc == 0)
		imap_resp_flush(s, &out);
	buf_free(&out);
	free(v);
	return rc;
}

/*
 * RFC 5182 2.4: SAVE keeps the matches as "$" -- only MIN and/or MAX of
 * them when those are asked for without ALL or COUNT.
 */
static int
search_save(struct imap_session *s, unsigned ret,
            const struct imap_search_result *r)
{
	struct imap_uids *sv = &s->box.saved;
	bool ends = (ret & (RET_MIN | RET_MAX)) != 0 &&
	            (ret & (RET_ALL | RET_COUNT)) == 0;
	uint32_t *v = r->n > 0 ? calloc(r->n, sizeof(*v)) : NULL;
	size_t n = 0;

	if (r->n > 0 && v == NULL)
		return -1;
	for (size_t i = 0; i < r->n; i++) {
		if (ends && !((ret & RET_MIN) && i == 0) &&
		    !((ret & RET_MAX) && i == r->n - 1))
			continue;
		v[n++] = s->box.msgs[r->idx[i]].uid;
	}
	free(sv->v);
	sv->v = v;
	sv->n = sv->cap = n;
	return 0;
}

static void
search_reply(struct imap_session *s, const struct imap_cmd_ctx *cx,
             unsigned ret, const struct imap_search_result *r, bool modseq)
{
	if ((ret & RET_SAVE) && search_save(s, ret, r) < 0) {
		imap_resp_tagged(s, cx->tag, IMAP_NO, "SERVERBUG",
		                 "Out of memory");
		return;
	}
	/* RFC 5182 2.4: SAVE alone answers no ESEARCH. */
	if (ret == RET_SAVE)
		ret = 0;
	else if (ret == 0 && !s->rev2) /* RFC 3501 7.2.5 */
		search_write_plain(s, cx->uid, r, modseq);
	else if (search_write_esearch(s, cx->tag, cx->uid,
	                              ret != 0 ? ret & ~(unsigned)RET_SAVE
	                                       : RET_ALL, /* 9051 6.4.4 */
	                              r, modseq) < 0) {
		imap_resp_tagged(s, cx->tag, IMAP_NO, "SERVERBUG",
		                 "Out of memory");
		return;
	}
	imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "%s completed",
	                 cx->uid ? "UID SEARCH" : "SEARCH");
}

void
imap_cmd_search(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	const struct imap_arg *args = cx->args;
	struct imap_search_tree t;
	struct imap_search_result r = {NULL, 0};
	unsigned ret;
	struct err err;

	if (search_return(&args, &ret) < 0) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "Invalid RETURN options");
		return;
	}
	/* RFC 5182 2.1: a failed SEARCH ... SAVE leaves "$" empty. */
	if (ret & RET_SAVE)
		s->box.saved.n = 0;
	if (imap_search_charset(s, cx->tag, args, false, &args) < 0)
		return;
	if (imap_search_parse(s, args, &t) < 0) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, t.limit ? "LIMIT" : NULL,
		                 "%s", t.error);
		imap_search_tree_free(&t);
		return;
	}
	if (t.has_modseq)
		s->condstore =
		    true; /* a CONDSTORE enabling command (7162 3.1) */
	if (imap_search_run(s, &t, &r, &err) < 0) {
		imap_resp_err(s, cx->tag, &err);
	} else {
		search_reply(s, cx, ret, &r, t.has_modseq);
	}
	free(r.idx);
	imap_search_tree_free(&t);
}
