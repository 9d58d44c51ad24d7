/*
 * sync: recording other sessions' changes and reporting them (sync.h).
 */
#include "imap/sync.h"

#include <stdlib.h>
#include <string.h>

#include "imap/cmd.h"
#include "imap/condstore.h"
#include "imap/resp.h"

static int
uids_push(struct imap_uids *l, uint32_t uid)
{
	if (l->n == l->cap) {
		size_t ncap = l->cap != 0 ? l->cap * 2 : 16;
		uint32_t *v = reallocarray(l->v, ncap, sizeof(*v));

		if (v == NULL)
			return -1;
		l->v = v;
		l->cap = ncap;
	}
	l->v[l->n++] = uid;
	return 0;
}

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Finds uid in the map (UID order); returns its index or SIZE_MAX. */
static size_t
map_find(const struct imap_mailbox *box, uint32_t uid)
{
	size_t lo = 0, hi = box->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (box->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < box->count && box->msgs[lo].uid == uid ? lo : SIZE_MAX;
}

static struct store_msg *
new_find(struct imap_mailbox *box, uint32_t uid)
{
	for (size_t i = 0; i < box->new_count; i++)
		if (box->new_msgs[i].uid == uid)
			return &box->new_msgs[i];
	return NULL;
}

static int
new_push(struct imap_mailbox *box, const struct store_msg *m)
{
	if (box->new_count == box->new_cap) {
		size_t ncap = box->new_cap != 0 ? box->new_cap * 2 : 8;
		struct store_msg *v =
		    reallocarray(box->new_msgs, ncap, sizeof(*v));

		if (v == NULL)
			return -1;
		box->new_msgs = v;
		box->new_cap = ncap;
	}
	box->new_msgs[box->new_count++] = *m;
	if (m->uid >= box->uidnext)
		box->uidnext = m->uid + 1;
	return 0;
}

void
imap_sync_add_new(struct imap_session *s, const struct store_msg *m)
{
	if (s->state == IMAP_STATE_SELECTED &&
	    new_find(&s->box, m->uid) == NULL)
		new_push(&s->box, m);
}

void
imap_sync_clear(struct imap_mailbox *box)
{
	free(box->new_msgs);
	free(box->gone.v);
	free(box->flagged.v);
	box->new_msgs = NULL;
	box->new_count = box->new_cap = 0;
	memset(&box->gone, 0, sizeof(box->gone));
	memset(&box->flagged, 0, sizeof(box->flagged));
}

/* Records one change of the selected mailbox's messages. */
static void
sync_record(struct imap_mailbox *box, const struct store_change *ch)
{
	struct store_msg m = {.uid = ch->uid,
	                      .flags = ch->flags,
	                      .size = ch->size,
	                      .internaldate = ch->internaldate,
	                      .modseq = ch->modseq};
	struct store_msg *p = new_find(box, ch->uid);
	size_t i = map_find(box, ch->uid);

	if (ch->modseq > box->modseq)
		box->modseq = ch->modseq;
	switch (ch->kind) {
	case STORE_CHANGE_NEW:
		if (p == NULL && i == SIZE_MAX)
			new_push(box, &m);
		break;
	case STORE_CHANGE_FLAGS:
		if (p != NULL) {
			p->flags = ch->flags;
		} else if (i != SIZE_MAX) {
			box->msgs[i].flags = ch->flags;
			box->msgs[i].modseq = ch->modseq;
			uids_push(&box->flagged, ch->uid);
		}
		break;
	case STORE_CHANGE_EXPUNGE:
		if (p != NULL) /* never announced: just forget it */
			*p = box->new_msgs[--box->new_count];
		else if (i != SIZE_MAX)
			uids_push(&box->gone, ch->uid);
		break;
	default:
		break;
	}
}

void
imap_sync_on_change(void *arg, const struct store_change *ch)
{
	struct imap_session *s = arg;
	char *name;

	if (s->state != IMAP_STATE_SELECTED || ch->mailbox == NULL ||
	    strcmp(ch->mailbox, s->box.name) != 0)
		return;
	if (ch->kind == STORE_CHANGE_MAILBOX_RENAME) {
		/* The session keeps its mailbox under the new name. */
		if ((name = strdup(ch->new_name)) != NULL) {
			free(s->box.name);
			s->box.name = name;
		}
		return;
	}
	sync_record(&s->box, ch);
	/* RFC 2177: an IDLE client is told at once. */
	if (s->idle_tag != NULL) {
		imap_sync_report(s, true);
		imap_idle_rest(s);
	}
}

/* Reports and drops the messages expunged elsewhere. */
static void
sync_report_gone(struct imap_session *s, struct buf *out)
{
	struct imap_mailbox *box = &s->box;
	size_t kept = 0;
	bool *gone;

	gone = calloc(box->count + 1, sizeof(*gone));
	if (gone == NULL)
		return; /* reported at a later command */
	qsort(box->gone.v, box->gone.n, sizeof(uint32_t), uid_cmp);
	for (size_t i = 0; i < box->count; i++)
		gone[i] = bsearch(&box->msgs[i].uid, box->gone.v, box->gone.n,
		                  sizeof(uint32_t), uid_cmp) != NULL;
	/* From the top, so each number is right when the client reads it. */
	for (size_t i = box->count; !s->qresync && i-- > 0;)
		if (gone[i])
			buf_printf(out, "* %zu EXPUNGE\r\n", i + 1);
	for (size_t i = 0; i < box->count; i++)
		if (!gone[i])
			box->msgs[kept++] = box->msgs[i];
	/* RFC 7162 3.2.10: with QRESYNC, one VANISHED instead (UIDs). */
	if (s->qresync) {
		size_t n = 0;

		for (size_t k = 0; k < box->gone.n; k++)
			if (k == 0 || box->gone.v[k] != box->gone.v[k - 1])
				box->gone.v[n++] = box->gone.v[k];
		imap_condstore_vanished_write(out, false, box->gone.v, n);
	}
	box->count = kept;
	box->gone.n = 0;
	free(gone);
}

static void
sync_report_flags(struct imap_session *s, struct buf *out)
{
	struct imap_mailbox *box = &s->box;
	uint32_t last = 0;

	qsort(box->flagged.v, box->flagged.n, sizeof(uint32_t), uid_cmp);
	for (size_t k = 0; k < box->flagged.n; k++) {
		uint32_t uid = box->flagged.v[k];
		size_t i = map_find(box, uid);

		if (uid == last || i == SIZE_MAX)
			continue;
		last = uid;
		buf_printf(out, "* %zu FETCH (UID %u FLAGS ", i + 1, uid);
		imap_resp_flags_kw(out, s->user, box->msgs[i].flags);
		/* RFC 7162 3.1.4.1: unsolicited FETCH carries MODSEQ. */
		if (s->condstore) {
			buf_append(out, " ", 1);
			imap_condstore_modseq_write(s, i, out);
		}
		buf_append_str(out, ")\r\n");
	}
	box->flagged.n = 0;
}

static void
sync_report_new(struct imap_session *s, struct buf *out)
{
	struct imap_mailbox *box = &s->box;
	struct store_msg *grown;

	grown = reallocarray(box->msgs, box->count + box->new_count + 1,
	                     sizeof(*grown));
	if (grown == NULL)
		return; /* announced at a later command */
	box->msgs = grown;
	/* UIDs only grow, so appending keeps the map in UID order. */
	memcpy(box->msgs + box->count, box->new_msgs,
	       box->new_count * sizeof(*grown));
	box->count += box->new_count;
	box->new_count = 0;
	buf_printf(out, "* %zu EXISTS\r\n", box->count);
}

void
imap_sync_report(struct imap_session *s, bool allow_expunge)
{
	struct buf out = BUF_INIT;

	if (s->state != IMAP_STATE_SELECTED)
		return;
	if (allow_expunge && s->box.gone.n > 0)
		sync_report_gone(s, &out);
	if (s->box.flagged.n > 0)
		sync_report_flags(s, &out);
	if (s->box.new_count > 0)
		sync_report_new(s, &out);
	imap_resp_flush(s, &out);
	buf_free(&out);
}

/* Records the differences between the store's list now and the map. */
static void
sync_diff(struct imap_mailbox *box, const struct store_msg *now, size_t n)
{
	uint32_t last = box->count > 0 ? box->msgs[box->count - 1].uid : 0;
	size_t j = 0;

	if (box->new_count > 0)
		last = box->new_msgs[box->new_count - 1].uid;
	for (size_t i = 0; i < box->count; i++) {
		uint32_t uid = box->msgs[i].uid;

		while (j < n && now[j].uid < uid)
			j++;
		if (j == n || now[j].uid != uid)
			uids_push(&box->gone,
			          uid); /* duplicates are harmless */
		else if (now[j].flags != box->msgs[i].flags ||
		         now[j].modseq != box->msgs[i].modseq) {
			box->msgs[i].flags = now[j].flags;
			box->msgs[i].modseq = now[j].modseq;
			uids_push(&box->flagged, uid);
		}
	}
	for (size_t k = 0; k < n; k++)
		if (now[k].uid > last)
			new_push(box, &now[k]);
}

int
imap_sync_check(struct imap_session *s, struct err *err)
{
	struct imap_mailbox *box = &s->box;
	struct store_mailbox_marks st;
	struct store_msg *now;
	size_t n;

	if (s->state != IMAP_STATE_SELECTED)
		return 0;
	if (store_mailbox_marks(s->user, box->name, &st, err) < 0)
		return -1;
	if (st.highestmodseq <= box->modseq && st.uidnext <= box->uidnext)
		return 0;
	if (store_mailbox_messages(s->user, box->name, &now, &n, err) < 0)
		return -1;
	sync_diff(box, now, n);
	free(now);
	box->modseq = st.highestmodseq;
	box->uidnext = st.uidnext;
	return 0;
}
