/*
 * cmd_sort: SORT and THREAD, with their UID forms (RFC 5256), plus the
 * DISPLAYFROM and DISPLAYTO keys of RFC 5957.
 *
 * The search selects the messages (search.h); the store gives each one's
 * sort fields from the index (store_sort_info(), no message parsing).
 * Strings compare with i;ascii-casemap; equal messages stay in mailbox
 * order (RFC 5256 3).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/cmd.h"
#include "imap/resp.h"
#include "imap/search.h"
#include "imap/sort.h"

/* Sort criteria in one SORT command (a named limit). */
#define SORT_MAX_KEYS 16

enum sort_key {
	SK_ARRIVAL,
	SK_CC,
	SK_DATE,
	SK_FROM,
	SK_SIZE,
	SK_SUBJECT,
	SK_TO,
	SK_DISPLAYFROM,
	SK_DISPLAYTO,
};

static const char *const sort_key_names[] = {
    [SK_ARRIVAL] = "ARRIVAL",
    [SK_CC] = "CC",
    [SK_DATE] = "DATE",
    [SK_FROM] = "FROM",
    [SK_SIZE] = "SIZE",
    [SK_SUBJECT] = "SUBJECT",
    [SK_TO] = "TO",
    [SK_DISPLAYFROM] = "DISPLAYFROM",
    [SK_DISPLAYTO] = "DISPLAYTO",
};

struct sort_crit {
	enum sort_key key[SORT_MAX_KEYS];
	bool reverse[SORT_MAX_KEYS];
	size_t n;
};

/* What a search-and-gather produced; free with sort_set_free(). */
struct sort_set {
	struct store_sort_info *info;
	size_t ninfo;
	struct imap_sort_msg *msgs;
	size_t n;
};

static void
sort_set_free(struct sort_set *ss)
{
	store_sort_info_free(&ss->info, ss->ninfo);
	free(ss->msgs);
}

/*
 * Runs "charset keys" at args and pairs every match with its sort info.
 * Answers the client itself on failure and returns -1.
 */
static int
sort_gather(struct imap_session *s, const struct imap_cmd_ctx *cx,
            const struct imap_arg *args, struct sort_set *ss)
{
	struct imap_search_tree t;
	struct imap_search_result r = {NULL, 0};
	struct err err;
	size_t j = 0;
	int rc = -1;

	memset(ss, 0, sizeof(*ss));
	if (imap_search_charset(s, cx->tag, args, true, &args) < 0)
		return -1;
	if (imap_search_parse(s, args, &t) < 0) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, t.limit ? "LIMIT" : NULL,
		                 "%s", t.error);
		imap_search_tree_free(&t);
		return -1;
	}
	if (imap_search_run(s, &t, &r, &err) < 0 ||
	    store_sort_info(s->user, s->box.name, &ss->info, &ss->ninfo, &err) <
	        0) {
		imap_resp_err(s, cx->tag, &err);
		goto out;
	}
	if (r.n > 0 && (ss->msgs = calloc(r.n, sizeof(*ss->msgs))) == NULL) {
		imap_resp_tagged(s, cx->tag, IMAP_NO, "SERVERBUG",
		                 "Out of memory");
		goto out;
	}
	/* Both in UID order: one merge. */
	for (size_t i = 0; i < r.n; i++) {
		const struct store_msg *m = &s->box.msgs[r.idx[i]];

		while (j < ss->ninfo && ss->info[j].uid < m->uid)
			j++;
		if (j == ss->ninfo || ss->info[j].uid != m->uid)
			continue; /* expunged meanwhile */
		ss->msgs[ss->n].info = &ss->info[j];
		ss->msgs[ss->n].seq = (uint32_t)(r.idx[i] + 1);
		ss->msgs[ss->n].num = cx->uid ? m->uid : ss->msgs[ss->n].seq;
		ss->n++;
	}
	rc = 0;
out:
	if (rc < 0)
		sort_set_free(ss);
	free(r.idx);
	imap_search_tree_free(&t);
	return rc;
}

static int
sort_parse(const struct imap_arg *list, struct sort_crit *c)
{
	bool rev = false;

	c->n = 0;
	if (list == NULL || list->type != IMAP_ARG_LIST || list->child == NULL)
		return -1;
	for (const struct imap_arg *a = list->child; a != NULL; a = a->next) {
		size_t k = 0;

		if (imap_arg_is_atom(a, "REVERSE")) {
			rev = true;
			continue;
		}
		while (k < sizeof(sort_key_names) / sizeof(sort_key_names[0]) &&
		       !imap_arg_is_atom(a, sort_key_names[k]))
			k++;
		if (k == sizeof(sort_key_names) / sizeof(sort_key_names[0]) ||
		    c->n == SORT_MAX_KEYS)
			return -1;
		c->key[c->n] = (enum sort_key)k;
		c->reverse[c->n++] = rev;
		rev = false;
	}
	return rev || c->n == 0 ? -1 : 0; /* REVERSE must precede a key */
}

static int
str_cmp(const char *a, const char *b)
{
	return strcasecmp(a != NULL ? a : "", b != NULL ? b : "");
}

static int
num_cmp(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int
sort_key_cmp(enum sort_key k, const struct store_sort_info *a,
             const struct store_sort_info *b)
{
	switch (k) {
	case SK_ARRIVAL:
		return num_cmp(a->internaldate, b->internaldate);
	case SK_CC:
		return str_cmp(a->cc_mailbox, b->cc_mailbox);
	case SK_DATE:
		return num_cmp(a->sent_date, b->sent_date);
	case SK_FROM:
		return str_cmp(a->from_mailbox, b->from_mailbox);
	case SK_SIZE:
		return a->size < b->size ? -1 : a->size > b->size;
	case SK_SUBJECT:
		return str_cmp(a->base_subject, b->base_subject);
	case SK_TO:
		return str_cmp(a->to_mailbox, b->to_mailbox);
	case SK_DISPLAYFROM:
		return str_cmp(a->from_display, b->from_display);
	case SK_DISPLAYTO:
		return str_cmp(a->to_display, b->to_display);
	}
	return 0;
}

/* qsort has no context argument: the criteria travel in a static-free
 * wrapper array instead (each element points at them). */
struct sort_elem {
	const struct imap_sort_msg *m;
	const struct sort_crit *c;
};

static int
sort_elem_cmp(const void *x, const void *y)
{
	const struct sort_elem *a = x, *b = y;

	for (size_t k = 0; k < a->c->n; k++) {
		int r = sort_key_cmp(a->c->key[k], a->m->info, b->m->info);

		if (r != 0)
			return a->c->reverse[k] ? -r : r;
	}
	return num_cmp(a->m->seq, b->m->seq);
}

void
imap_cmd_sort(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	struct sort_crit crit;
	struct sort_set ss;
	struct sort_elem *e = NULL;
	struct buf out = BUF_INIT;

	if (sort_parse(cx->args, &crit) < 0) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "Invalid sort criteria");
		return;
	}
	if (sort_gather(s, cx, cx->args->next, &ss) < 0)
		return;
	if (ss.n > 0 && (e = calloc(ss.n, sizeof(*e))) == NULL) {
		sort_set_free(&ss);
		imap_resp_tagged(s, cx->tag, IMAP_NO, "SERVERBUG",
		                 "Out of memory");
		return;
	}
	for (size_t i = 0; i < ss.n; i++)
		e[i] = (struct sort_elem){&ss.msgs[i], &crit};
	if (ss.n > 0)
		qsort(e, ss.n, sizeof(*e), sort_elem_cmp);
	buf_append_str(&out, "* SORT");
	for (size_t i = 0; i < ss.n; i++)
		buf_printf(&out, " %u", e[i].m->num);
	buf_append(&out, "\r\n", 2);
	imap_resp_flush(s, &out);
	buf_free(&out);
	free(e);
	sort_set_free(&ss);
	imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "%s completed",
	                 cx->uid ? "UID SORT" : "SORT");
}

/* ORDEREDSUBJECT order: base subject, then sent date, then mailbox. */
static int
thread_subject_cmp(const void *x, const void *y)
{
	const struct imap_sort_msg *a = x, *b = y;
	int r = str_cmp(a->info->base_subject, b->info->base_subject);

	if (r == 0)
		r = num_cmp(a->info->sent_date, b->info->sent_date);
	return r != 0 ? r : num_cmp(a->seq, b->seq);
}

/* Thread roots (first of each subject) by sent date, then mailbox. */
static int
thread_root_cmp(const void *x, const void *y)
{
	const struct imap_sort_msg *a = *(const struct imap_sort_msg *const *)x;
	const struct imap_sort_msg *b = *(const struct imap_sort_msg *const *)y;
	int r = num_cmp(a->info->sent_date, b->info->sent_date);

	return r != 0 ? r : num_cmp(a->seq, b->seq);
}

/*
 * RFC 5256 "ORDEREDSUBJECT": one thread per base subject; the first
 * message is the parent of all the others, which are siblings.
 */
static int
thread_orderedsubject(struct imap_sort_msg *m, size_t n, struct buf *out)
{
	const struct imap_sort_msg **roots;
	size_t nroots = 0;

	qsort(m, n, sizeof(*m), thread_subject_cmp);
	if ((roots = calloc(n, sizeof(*roots))) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || str_cmp(m[i].info->base_subject,
		                      m[i - 1].info->base_subject) != 0)
			roots[nroots++] = &m[i];
	qsort(roots, nroots, sizeof(*roots), thread_root_cmp);
	for (size_t k = 0; k < nroots; k++) {
		const struct imap_sort_msg *r = roots[k], *end = m + n, *c;
		size_t kids = 0;

		for (c = r + 1; c < end && str_cmp(c->info->base_subject,
		                                   r->info->base_subject) == 0;
		     c++)
			kids++;
		buf_printf(out, "(%u%s", r->num, kids > 0 ? " " : "");
		/* One child continues the chain; siblings are each nested. */
		for (size_t i = 1; i <= kids; i++)
			buf_printf(out, kids == 1 ? "%u" : "(%u)", r[i].num);
		buf_append(out, ")", 1);
	}
	free(roots);
	return 0;
}

void
imap_cmd_thread(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	const struct imap_arg *alg = cx->args;
	struct sort_set ss;
	struct buf out = BUF_INIT;
	int rc;

	if (!imap_arg_is_atom(alg, "ORDEREDSUBJECT") &&
	    !imap_arg_is_atom(alg, "REFERENCES")) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "Unsupported threading algorithm");
		return;
	}
	if (sort_gather(s, cx, alg->next, &ss) < 0)
		return;
	buf_append_str(&out, "* THREAD ");
	if (imap_arg_is_atom(alg, "REFERENCES"))
		rc = imap_thread_references(ss.msgs, ss.n, &out);
	else
		rc = thread_orderedsubject(ss.msgs, ss.n, &out);
	buf_append(&out, "\r\n", 2);
	if (rc == 0)
		imap_resp_flush(s, &out);
	buf_free(&out);
	sort_set_free(&ss);
	if (rc < 0)
		imap_resp_tagged(s, cx->tag, IMAP_NO, "SERVERBUG",
		                 "Out of memory");
	else
		imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "%s completed",
		                 cx->uid ? "UID THREAD" : "THREAD");
}
