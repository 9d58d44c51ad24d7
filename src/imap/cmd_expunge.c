/*
 * cmd_expunge: EXPUNGE (RFC 9051 6.4.3) and the expunge behind CLOSE.
 */
#include <stdlib.h>
#include <string.h>

#include "imap/cmd.h"
#include "imap/mailbox.h"
#include "imap/resp.h"

/*
 * Drops the expunged entries from the map.  The EXPUNGE responses go out
 * from the highest sequence number down, so each number is still valid
 * when the client reads it (RFC 9051 7.5.1: later numbers shift down).
 */
static void
expunge_report(struct imap_session *s, const bool *gone, bool report)
{
	size_t kept = 0, n = s->box.count;

	if (report)
		for (size_t i = n; i-- > 0;)
			if (gone[i])
				imap_resp_untagged(s, "%zu EXPUNGE", i + 1);
	for (size_t i = 0; i < n; i++)
		if (!gone[i])
			s->box.msgs[kept++] = s->box.msgs[i];
	s->box.count = kept;
}

int
imap_expunge_deleted(struct imap_session *s, bool report, struct err *err)
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
		if ((s->box.msgs[i].flags & STORE_FLAG_DELETED) == 0)
			continue;
		uids[count++] = s->box.msgs[i].uid;
		gone[i] = true;
	}
	if (count > 0 &&
	    (rc = store_expunge(s->user, s->box.name, uids, count, err)) == 0)
		expunge_report(s, gone, report);
	free(uids);
	free(gone);
	return rc;
}

void
imap_cmd_expunge(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	struct err err;

	if (s->box.readonly) {
		imap_resp_tagged(s, cx->tag, IMAP_NO, "READ-ONLY",
		                 "Mailbox is read-only");
		return;
	}
	/* Flags may have been set by another session: refresh first. */
	if (imap_mailbox_sync(s, &err) < 0 ||
	    imap_expunge_deleted(s, true, &err) < 0) {
		imap_resp_err(s, cx->tag, &err);
		return;
	}
	imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "EXPUNGE completed");
}
