/*
 * cmd_expunge: EXPUNGE (RFC 9051 6.4.3), UID EXPUNGE (RFC 4315 2.1) and
 * the expunge behind CLOSE.
 */
#include <stdlib.h>
#include <string.h>

#include "imap/cmd.h"
#include "imap/mailbox.h"
#include "imap/resp.h"

int
imap_expunge_deleted(struct imap_session *s, bool report,
                     const struct imap_seqset *uid_set, struct err *err)
{
	size_t n = s->box.count, count = 0;
	uint32_t *uids;
	bool *gone;
	int rc = 0;

	if (n == 0)
		return 0;
	uids = calloc(n, sizeof(*uids));
	gone = calloc(n, sizeof(*gone));
	if (uids == NULL || gone == NULL) {
		free(uids);
		free(gone);
		return err_set(err, ERR_INTERNAL, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		const struct store_msg *m = &s->box.msgs[i];

		if ((m->flags & STORE_FLAG_DELETED) == 0 ||
		    (uid_set != NULL && !imap_seqset_contains(uid_set, m->uid)))
			continue;
		uids[count++] = m->uid;
		gone[i] = true;
	}
	if (count > 0 &&
	    (rc = store_expunge(s->user, s->box.name, uids, count, err)) == 0)
		imap_mailbox_remove(s, gone, report);
	free(uids);
	free(gone);
	return rc;
}

void
imap_cmd_expunge(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	struct imap_seqset set;
	bool has_set = false;
	struct err err;
	int rc;

	if (cx->uid != (cx->args != NULL)) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 cx->uid ? "UID EXPUNGE needs a UID set"
		                         : "EXPUNGE takes no arguments");
		return;
	}
	if (s->box.readonly) {
		imap_resp_tagged(s, cx->tag, IMAP_NO, "READ-ONLY",
		                 "Mailbox is read-only");
		return;
	}
	if (cx->uid) {
		if (imap_mailbox_set(s, cx, cx->args, &set) < 0)
			return;
		has_set = true;
	}
	/* Flags may have been set by another session: catch up first. */
	rc = imap_mailbox_sync(s, &err);
	if (rc == 0)
		rc = imap_expunge_deleted(s, true, has_set ? &set : NULL, &err);
	if (has_set)
		imap_seqset_free(&set);
	if (rc < 0) {
		imap_resp_err(s, cx->tag, &err);
		return;
	}
	imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "%s completed",
	                 cx->uid ? "UID EXPUNGE" : "EXPUNGE");
}
