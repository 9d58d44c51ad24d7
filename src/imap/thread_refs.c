/*
 * thread_refs: THREAD=REFERENCES (RFC 5256 section 3, "REFERENCES"), the
 * algorithm of Jamie Zawinski: link messages by Message-ID, References and
 * In-Reply-To, prune empty containers, merge roots with the same base
 * subject, and sort siblings by sent date.
 *
 * Linear in the number of messages: at most IMAP_THREAD_MAX_REFS ids per
 * message, one hash table of ids.  Containers live in one array and link
 * by index; a child list is kept in insertion order and sorted at the end.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/sort.h"

#define NONE SIZE_MAX

struct tc {
	const struct imap_sort_msg *m; /* NULL: a dummy */
	const char *id;                /* not owned: into the sort info */
	size_t idlen;
	size_t parent, child, next; /* indexes, NONE */
	int64_t date;               /* for sorting siblings */
	uint32_t seq;
};

struct tt {
	struct tc *c;
	size_t n, cap;
	size_t *hash; /* container index per slot, NONE if free */
	size_t hsize; /* power of two */
};

static size_t
tt_hash(const char *s, size_t len)
{
	size_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static size_t
tt_new(struct tt *t, const char *id, size_t len)
{
	struct tc *c = &t->c[t->n];

	memset(c, 0, sizeof(*c));
	c->id = id;
	c->idlen = len;
	c->parent = c->child = c->next = NONE;
	return t->n++;
}

/* Finds or creates the container of Message-ID id. */
static size_t
tt_find(struct tt *t, const char *id, size_t len, bool *found_r)
{
	size_t h = tt_hash(id, len) & (t->hsize - 1);

	for (; t->hash[h] != NONE; h = (h + 1) & (t->hsize - 1)) {
		const struct tc *c = &t->c[t->hash[h]];

		if (c->idlen == len && memcmp(c->id, id, len) == 0) {
			*found_r = true;
			return t->hash[h];
		}
	}
	*found_r = false;
	t->hash[h] = tt_new(t, id, len);
	return t->hash[h];
}

/* True if a is b or an ancestor of b. */
static bool
tt_reaches(const struct tt *t, size_t a, size_t b)
{
	for (; b != NONE; b = t->c[b].parent)
		if (a == b)
			return true;
	return false;
}

static void
tt_unlink(struct tt *t, size_t x)
{
	size_t p = t->c[x].parent, *pp;

	if (p == NONE)
		return;
	for (pp = &t->c[p].child; *pp != NONE; pp = &t->c[*pp].next)
		if (*pp == x) {
			*pp = t->c[x].next;
			break;
		}
	t->c[x].parent = t->c[x].next = NONE;
}

static void
tt_link(struct tt *t, size_t parent, size_t x)
{
	size_t *pp;

	tt_unlink(t, x);
	for (pp = &t->c[parent].child; *pp != NONE; pp = &t->c[*pp].next)
		;
	*pp = x;
	t->c[x].parent = parent;
}

/* Next "<...>" in [*p, end); returns its start or NULL. */
static const char *
tt_next_id(const char **p, const char *end, size_t *len_r)
{
	const char *lt = memchr(*p, '<', (size_t)(end - *p)), *gt;

	if (lt == NULL || (gt = memchr(lt, '>', (size_t)(end - lt))) == NULL)
		return NULL;
	*p = gt + 1;
	*len_r = (size_t)(gt - lt + 1);
	return lt;
}

/* Step 1 for one message: its container and its chain of references. */
static void
tt_add(struct tt *t, const struct imap_sort_msg *m)
{
	const char *refs =
	    m->info->references != NULL && m->info->references[0] != '\0'
	        ? m->info->references
	        : m->info->in_reply_to;
	const char *mid = m->info->message_id, *p, *end, *id;
	size_t me, prev = NONE, len, k = 0;
	bool found = false;

	len = mid != NULL ? strlen(mid) : 0;
	me = len > 2 ? tt_find(t, mid, len, &found) : tt_new(t, "", 0);
	if (found && t->c[me].m != NULL)
		me = tt_new(t, "", 0); /* a duplicate Message-ID: unique */
	t->c[me].m = m;
	p = refs != NULL ? refs : "";
	end = p + strlen(p);
	while (k++ < IMAP_THREAD_MAX_REFS &&
	       (id = tt_next_id(&p, end, &len)) != NULL) {
		size_t r = tt_find(t, id, len, &found);

		/* B: link each reference to the one before, without loops. */
		if (prev != NONE && t->c[r].parent == NONE &&
		    !tt_reaches(t, r, prev))
			tt_link(t, prev, r);
		prev = r;
	}
	/* C: the last reference is the parent, unless that loops. */
	if (prev != NONE && prev != me && !tt_reaches(t, me, prev))
		tt_link(t, prev, me);
	else if (prev == NONE)
		tt_unlink(t, me);
}

static int
tt_sib_cmp(const void *x, const void *y)
{
	const struct tc *a = *(const struct tc *const *)x;
	const struct tc *b = *(const struct tc *const *)y;

	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Sorts the list starting at *head by date (RFC 5256: step 6). */
static int
tt_sort_list(struct tt *t, size_t *head)
{
	struct tc **v;
	size_t n = 0;

	for (size_t x = *head; x != NONE; x = t->c[x].next)
		n++;
	if (n < 2)
		return 0;
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return -1;
	n = 0;
	for (size_t x = *head; x != NONE; x = t->c[x].next)
		v[n++] = &t->c[x];
	qsort(v, n, sizeof(*v), tt_sib_cmp);
	*head = (size_t)(v[0] - t->c);
	for (size_t i = 0; i < n; i++)
		v[i]->next = i + 1 < n ? (size_t)(v[i + 1] - t->c) : NONE;
	free(v);
	return 0;
}

/*
 * Step 4: removes dummies without children and lifts the children of
 * other dummies to their level (a root dummy keeps two or more).  Returns
 * the new list at *head.  Works bottom-up by recursion over children,
 * whose depth the loop check above keeps finite.
 */
static void
tt_prune(struct tt *t, size_t *head, bool root)
{
	size_t *pp = head;

	while (*pp != NONE) {
		size_t x = *pp;
		struct tc *c = &t->c[x];

		tt_prune(t, &c->child, false);
		if (c->m == NULL && c->child == NONE) {
			*pp = c->next;
			continue;
		}
		if (c->m == NULL && (!root || t->c[c->child].next == NONE)) {
			size_t last = c->child;

			for (size_t k = c->child; k != NONE; k = t->c[k].next) {
				t->c[k].parent = c->parent;
				last = k;
			}
			t->c[last].next = c->next;
			*pp = c->child;
			continue; /* look at the lifted children again */
		}
		pp = &c->next;
	}
}

/* Dates for sorting: a dummy takes its earliest child's (RFC 5256). */
static int
tt_dates(struct tt *t, size_t *head)
{
	for (size_t x = *head; x != NONE; x = t->c[x].next) {
		struct tc *c = &t->c[x];

		if (tt_dates(t, &c->child) < 0 ||
		    tt_sort_list(t, &c->child) < 0)
			return -1;
		if (c->m != NULL) {
			c->date = c->m->info->sent_date;
			c->seq = c->m->seq;
		} else {
			c->date = t->c[c->child].date;
			c->seq = t->c[c->child].seq;
		}
	}
	return 0;
}

static const char *
tt_subject(const struct tt *t, size_t x)
{
	const struct tc *c = &t->c[x];

	if (c->m == NULL)
		c = &t->c[c->child];
	return c->m != NULL && c->m->info->base_subject != NULL
	           ? c->m->info->base_subject
	           : "";
}

/* A reply, by the sign the index keeps: it names a message it answers. */
static bool
tt_is_reply(const struct tt *t, size_t x)
{
	const struct imap_sort_msg *m = t->c[x].m;

	return m != NULL &&
	       ((m->info->in_reply_to != NULL && m->info->in_reply_to[0]) ||
	        (m->info->references != NULL && m->info->references[0]));
}

/* Step 5: merges roots with the same base subject (O(n^2) worst case
 * avoided: each root is compared with the first root of its subject). */
static int
tt_subjects(struct tt *t, size_t *head)
{
	size_t n = 0, *pp;
	struct tt idx = {0};
	int rc = 0;

	for (size_t x = *head; x != NONE; x = t->c[x].next)
		n++;
	for (idx.hsize = 16; idx.hsize < 2 * n + 2;)
		idx.hsize *= 2;
	idx.c = calloc(n + 1, sizeof(*idx.c));
	idx.hash = malloc(idx.hsize * sizeof(*idx.hash));
	if (idx.c == NULL || idx.hash == NULL) {
		rc = -1;
		goto out;
	}
	memset(idx.hash, 0xff, idx.hsize * sizeof(*idx.hash));
	/* First pass: the representative root of each subject. */
	for (size_t x = *head; x != NONE; x = t->c[x].next) {
		const char *sub = tt_subject(t, x);
		bool found;
		size_t e;

		if (*sub == '\0')
			continue;
		e = tt_find(&idx, sub, strlen(sub), &found);
		if (!found || (t->c[x].m == NULL && t->c[idx.c[e].parent].m) ||
		    (tt_is_reply(t, idx.c[e].parent) && !tt_is_reply(t, x)))
			idx.c[e].parent = x;
	}
	/* Second pass: every other root joins its representative. */
	for (pp = head; *pp != NONE;) {
		size_t x = *pp, rep = NONE;
		const char *sub = tt_subject(t, x);
		bool found = false;

		if (*sub != '\0') {
			size_t e = tt_find(&idx, sub, strlen(sub), &found);
			rep = idx.c[e].parent;
		}
		if (!found || rep == x) {
			pp = &t->c[x].next;
			continue;
		}
		*pp = t->c[x].next;
		t->c[x].next = NONE;
		t->c[x].parent = NONE;
		if (t->c[rep].m == NULL && t->c[x].m == NULL) {
			for (size_t k = t->c[x].child, nx; k != NONE; k = nx) {
				nx = t->c[k].next;
				t->c[k].next = NONE;
				tt_link(t, rep, k);
			}
		} else if (t->c[rep].m == NULL ||
		           (tt_is_reply(t, x) && !tt_is_reply(t, rep))) {
			tt_link(t, rep, x);
		} else {
			/* Neither is the other's reply: siblings under a dummy
			 * that takes rep's place. */
			size_t d = tt_new(t, "", 0);

			t->c[d] = t->c[rep];
			t->c[d].m = NULL;
			t->c[d].child = NONE;
			t->c[rep].next = NONE;
			t->c[rep].parent = NONE;
			for (size_t *q = head; *q != NONE; q = &t->c[*q].next)
				if (*q == rep) {
					*q = d;
					break;
				}
			tt_link(t, d, rep);
			tt_link(t, d, x);
			idx.c[tt_find(&idx, sub, strlen(sub), &found)].seq =
			    (uint32_t)d;
		}
	}
out:
	free(idx.c);
	free(idx.hash);
	return rc;
}

/* Writes one node and what hangs below it (RFC 5256 4 thread-list). */
static void
tt_write(const struct tt *t, size_t x, struct buf *out)
{
	/* A chain of only children needs no nesting: iterate it. */
	for (;;) {
		const struct tc *c = &t->c[x];

		if (c->m != NULL)
			buf_printf(out, "%u", c->m->num);
		if (c->child == NONE)
			return;
		if (t->c[c->child].next == NONE) {
			if (c->m != NULL)
				buf_append(out, " ", 1);
			x = c->child;
			continue;
		}
		if (c->m != NULL)
			buf_append(out, " ", 1);
		for (size_t k = c->child; k != NONE; k = t->c[k].next) {
			buf_append(out, "(", 1);
			tt_write(t, k, out);
			buf_append(out, ")", 1);
		}
		return;
	}
}

/* Containers the n messages can need: their own, one per reference, one
 * per subject merge. */
static size_t
tt_capacity(const struct imap_sort_msg *msgs, size_t n)
{
	size_t cap = 1;

	for (size_t i = 0; i < n; i++) {
		const char *r = msgs[i].info->references;
		size_t k = 0;

		if (r == NULL || *r == '\0')
			r = msgs[i].info->in_reply_to;
		for (; r != NULL && *r != '\0' && k < IMAP_THREAD_MAX_REFS; r++)
			k += *r == '<';
		cap += k + 3;
	}
	return cap;
}

int
imap_thread_references(const struct imap_sort_msg *msgs, size_t n,
                       struct buf *out)
{
	struct tt t = {0};
	size_t cap = tt_capacity(msgs, n), head = NONE, *tail;
	int rc = -1;
	for (t.hsize = 16; t.hsize < 2 * cap;)
		t.hsize *= 2;
	t.c = calloc(cap, sizeof(*t.c));
	t.hash = malloc(t.hsize * sizeof(*t.hash));
	if (t.c == NULL || t.hash == NULL)
		goto out;
	memset(t.hash, 0xff, t.hsize * sizeof(*t.hash));
	for (size_t i = 0; i < n; i++)
		tt_add(&t, &msgs[i]);
	/* Step 2: the root set, in container order. */
	tail = &head;
	for (size_t x = 0; x < t.n; x++)
		if (t.c[x].parent == NONE) {
			*tail = x;
			tail = &t.c[x].next;
		}
	*tail = NONE;
	tt_prune(&t, &head, true);
	if (tt_subjects(&t, &head) < 0 || tt_dates(&t, &head) < 0 ||
	    tt_sort_list(&t, &head) < 0)
		goto out;
	for (size_t x = head; x != NONE; x = t.c[x].next) {
		buf_append(out, "(", 1);
		tt_write(&t, x, out);
		buf_append(out, ")", 1);
	}
	rc = 0;
out:
	free(t.c);
	free(t.hash);
	return rc;
}
