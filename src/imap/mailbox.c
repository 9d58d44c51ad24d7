/*
 * mailbox: the selected mailbox's sequence number <-> UID map.
 */
#include "imap/mailbox.h"

#include <stdlib.h>
#include <string.h>

#include "imap/resp.h"

int
imap_mailbox_load(struct imap_session *s, const char *name,
                  struct imap_mailbox *box, struct err *err)
{
	struct store_mailbox_status st;

	memset(box, 0, sizeof(*box));
	if (store_mailbox_status(s->user, name, &st, err) < 0)
		return -1;
	if (store_mailbox_messages(s->user, name, &box->msgs, &box->count,
	                           err) < 0)
		return -1;
	box->name = strdup(name);
	if (box->name == NULL) {
		imap_mailbox_free(box);
		return err_set(err, ERR_INTERNAL, "out of memory");
	}
	box->uidvalidity = st.uidvalidity;
	box->uidnext = st.uidnext;
	return 0;
}

void
imap_mailbox_free(struct imap_mailbox *box)
{
	free(box->name);
	free(box->msgs);
	memset(box, 0, sizeof(*box));
}

int
imap_mailbox_set(struct imap_session *s, const struct imap_cmd_ctx *cx,
                 const struct imap_arg *arg, struct imap_seqset *set)
{
	size_t n = s->box.count;

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

/* Looks uid up in the old map from index *pos on (both in UID order). */
static struct store_msg *
imap_mailbox_find(struct imap_mailbox *box, uint32_t uid, size_t *pos)
{
	while (*pos < box->count && box->msgs[*pos].uid < uid)
		(*pos)++;
	if (*pos < box->count && box->msgs[*pos].uid == uid)
		return &box->msgs[*pos];
	return NULL;
}

int
imap_mailbox_sync(struct imap_session *s, struct err *err)
{
	struct imap_mailbox *box = &s->box;
	struct store_msg *now, *grown, *m;
	size_t count, pos = 0, added = 0;
	uint32_t last = box->count > 0 ? box->msgs[box->count - 1].uid : 0;

	if (store_mailbox_messages(s->user, box->name, &now, &count, err) < 0)
		return -1;
	grown = realloc(box->msgs, (box->count + count + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(now);
		return err_set(err, ERR_INTERNAL, "out of memory");
	}
	box->msgs = grown;
	/*
	 * Messages expunged by another session stay in our map until we can
	 * announce it (that needs the change feed); new ones are appended.
	 */
	for (size_t i = 0; i < count; i++) {
		if (now[i].uid > last)
			box->msgs[box->count + added++] = now[i];
		else if ((m = imap_mailbox_find(box, now[i].uid, &pos)) != NULL)
			m->flags = now[i].flags;
	}
	free(now);
	if (added > 0) {
		box->count += added;
		imap_resp_untagged(s, "%zu EXISTS", box->count);
	}
	return 0;
}
