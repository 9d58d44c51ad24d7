/*
 * mailbox: the selected mailbox's sequence number <-> UID map.
 */
#include "imap/mailbox.h"

#include <stdlib.h>
#include <string.h>

#include "imap/condstore.h"
#include "imap/resp.h"
#include "imap/sync.h"

int
imap_mailbox_load(struct imap_session *s, const char *name,
                  struct imap_mailbox *box, struct err *err)
{
	struct store_mailbox_status st;

	memset(box, 0, sizeof(*box));
	/* One snapshot: the counters match the list. */
	if (store_mailbox_snapshot(s->user, name, &st, &box->msgs, &box->count,
	                           err) < 0)
		return -1;
	memcpy(box->mailboxid, st.mailboxid, sizeof(box->mailboxid));
	box->name = strdup(name);
	if (box->name == NULL) {
		imap_mailbox_free(box);
		return err_set(err, ERR_INTERNAL, "out of memory");
	}
	box->uidvalidity = st.uidvalidity;
	box->uidnext = st.uidnext;
	box->modseq = st.highestmodseq;
	return 0;
}

void
imap_mailbox_free(struct imap_mailbox *box)
{
	free(box->name);
	free(box->msgs);
	free(box->saved.v);
	imap_sync_clear(box);
	memset(box, 0, sizeof(*box));
}

/*
 * "$" (RFC 5182 2.1): the UIDs the last SEARCH ... SAVE kept, as UIDs or
 * as the sequence numbers they have now; an empty set is no error.
 */
static int
imap_mailbox_saved_set(struct imap_session *s, const struct imap_cmd_ctx *cx,
                       struct imap_seqset *set)
{
	const struct imap_uids *sv = &s->box.saved;
	uint32_t *v = sv->n > 0 ? calloc(sv->n, sizeof(*v)) : NULL;
	size_t n = 0, j = 0;
	int rc;

	for (size_t i = 0; v != NULL && i < s->box.count && j < sv->n; i++) {
		while (j < sv->n && sv->v[j] < s->box.msgs[i].uid)
			j++;
		if (j < sv->n && sv->v[j] == s->box.msgs[i].uid)
			v[n++] = cx->uid ? sv->v[j] : (uint32_t)(i + 1);
	}
	rc = sv->n > 0 && v == NULL ? -1 : imap_seqset_from(set, v, n);
	free(v);
	if (rc < 0) {
		imap_seqset_free(set);
		imap_resp_tagged(s, cx->tag, IMAP_NO, "SERVERBUG",
		                 "Out of memory");
	}
	return rc;
}

int
imap_mailbox_set(struct imap_session *s, const struct imap_cmd_ctx *cx,
                 const struct imap_arg *arg, struct imap_seqset *set)
{
	size_t n = s->box.count;

	if (arg->type == IMAP_ARG_ATOM && strcmp(arg->str, "$") == 0)
		return imap_mailbox_saved_set(s, cx, set);
	if (arg->type != IMAP_ARG_ATOM ||
	    imap_seqset_parse(arg->str, arg->len, set) < 0) {
		imap_seqset_free(set);
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "Invalid sequence number");
		return -1;
	}
	if (cx->uid) {
		/* "*" is the highest UID in use (RFC 9051 6.4.9). */
		imap_seqset_resolve(set, n > 0 ? s->box.msgs[n - 1].uid : 0);
		return 0;
	}
	imap_seqset_resolve(set, (uint32_t)n);
	if (n == 0 || imap_seqset_max(set) > n) {
		imap_seqset_free(set);
		imap_resp_tagged(s, cx->tag, IMAP_NO, NULL,
		                 "Message sequence number out of range");
		return -1;
	}
	return 0;
}

bool
imap_mailbox_in_set(const struct imap_session *s, const struct imap_cmd_ctx *cx,
                    const struct imap_seqset *set, size_t i)
{
	uint32_t n = cx->uid ? s->box.msgs[i].uid : (uint32_t)(i + 1);

	return imap_seqset_contains(set, n);
}

int
imap_mailbox_sync(struct imap_session *s, struct err *err)
{
	/* The feed recorded other sessions' changes; this catches the rest. */
	if (imap_sync_check(s, err) < 0)
		return -1;
	imap_sync_report(s, !s->no_expunge);
	return 0;
}

/* "* VANISHED uids" for the messages with gone[i] set (UID order). */
static void
imap_mailbox_vanished(struct imap_session *s, const bool *gone, struct buf *out)
{
	uint32_t *v = calloc(s->box.count + 1, sizeof(*v));
	size_t k = 0;

	if (v == NULL)
		return;
	for (size_t i = 0; i < s->box.count; i++)
		if (gone[i])
			v[k++] = s->box.msgs[i].uid;
	imap_condstore_vanished_write(out, false, v, k);
	free(v);
}

void
imap_mailbox_remove(struct imap_session *s, const bool *gone, bool report)
{
	size_t kept = 0, n = s->box.count;
	struct buf out = BUF_INIT;

	/*
	 * From the highest sequence number down, so each number is still
	 * valid when the client reads it (RFC 9051 7.5.1).
	 */
	for (size_t i = n; report && !s->qresync && i-- > 0;)
		if (gone[i])
			buf_printf(&out, "* %zu EXPUNGE\r\n", i + 1);
	if (report && s->qresync) /* RFC 7162 3.2.10: VANISHED (UIDs) */
		imap_mailbox_vanished(s, gone, &out);
	imap_resp_flush(s, &out);
	buf_free(&out);
	for (size_t i = 0; i < n; i++)
		if (!gone[i])
			s->box.msgs[kept++] = s->box.msgs[i];
	s->box.count = kept;
}
