/*
 * cmd_expunge: EXPUNGE (RFC 9051 6.4.3), UID EXPUNGE (RFC 4315 2.1) and
 * the expunge behind CLOSE.
 *
 * EXPUNGE and UID EXPUNGE commit on a worker (conn_run_blocking()): the
 * commit is durable (synchronous=FULL: the blobs go right after it), and
 * its fsync on the loop thread stalled every session for its length,
 * about 0.7 ms here.  The session reads nothing meanwhile, so its
 * sequence map stays as it was; the expunged messages leave it in done(),
 * before the feed's echo of the session's own change, which then finds
 * nothing to report.  CLOSE stays inline (its reply is not awaited by a
 * busy client and it reports nothing).
 */
#include <stdlib.h>
#include <string.h>

#include "imap/cmd.h"
#include "imap/mailbox.h"
#include "imap/resp.h"

/*
 * The messages of the map marked \Deleted (and in uid_set, if given):
 * their UIDs in *uids_r (count in *count_r) and which map entries in
 * *gone_r (both allocated; NULL and 0 when there are none).
 */
static int
expunge_pick(struct imap_session *s, const struct imap_seqset *uid_set,
             uint32_t **uids_r, bool **gone_r, size_t *count_r, struct err *err)
{
	size_t n = s->box.count, count = 0;
	uint32_t *uids;
	bool *gone;

	*uids_r = NULL;
	*gone_r = NULL;
	*count_r = 0;
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
	*uids_r = uids;
	*gone_r = gone;
	*count_r = count;
	return 0;
}

int
imap_expunge_deleted(struct imap_session *s, bool report,
                     const struct imap_seqset *uid_set, struct err *err)
{
	uint32_t *uids;
	bool *gone;
	size_t count;
	int rc;

	if ((rc = expunge_pick(s, uid_set, &uids, &gone, &count, err)) < 0)
		return -1;
	if (count > 0 &&
	    (rc = store_expunge(s->user, s->box.name, uids, count, err)) == 0)
		imap_mailbox_remove(s, gone, report);
	free(uids);
	free(gone);
	return rc;
}

/* One EXPUNGE on a worker; the job owns copies of what it needs. */
struct expunge_job {
	struct store_user *user; /* the session's; idle on the loop meanwhile */
	char *tag, *name;
	uint32_t *uids;
	bool *gone; /* which entries of the session's map go */
	size_t count;
	bool uid;
	int rc;
	struct err err;
};

static void
expunge_job_free(struct expunge_job *job)
{
	free(job->tag);
	free(job->name);
	free(job->uids);
	free(job->gone);
	free(job);
}

/* On a worker thread: touches only the job and the session's handle. */
static void
expunge_work(void *arg)
{
	struct expunge_job *job = arg;

	job->rc = store_expunge(job->user, job->name, job->uids, job->count,
	                        &job->err);
}

/* On the loop thread, also when the client went away meanwhile. */
static void
expunge_done(void *session, void *arg)
{
	struct imap_session *s = session;
	struct expunge_job *job = arg;

	if (job->rc == 0)
		imap_mailbox_remove(s, job->gone, true);
	/* Then the changes of others (and the echo of this one's). */
	store_flush_changes(s->svc->store);
	if (job->rc < 0)
		imap_resp_err(s, job->tag, &job->err);
	else
		imap_resp_tagged(s, job->tag, IMAP_OK, NULL, "%s completed",
		                 job->uid ? "UID EXPUNGE" : "EXPUNGE");
	expunge_job_free(job);
}

/* Picks the messages and starts the job; 0 or -1 with *err set. */
static int
expunge_start(struct imap_session *s, const struct imap_cmd_ctx *cx,
              const struct imap_seqset *uid_set, struct err *err)
{
	struct expunge_job *job = calloc(1, sizeof(*job));

	if (job != NULL) {
		job->tag = strdup(cx->tag);
		job->name = strdup(s->box.name);
	}
	if (job == NULL || job->tag == NULL || job->name == NULL) {
		if (job != NULL)
			expunge_job_free(job);
		return err_set(err, ERR_INTERNAL, "out of memory");
	}
	job->user = s->user;
	job->uid = cx->uid;
	if (expunge_pick(s, uid_set, &job->uids, &job->gone, &job->count, err) <
	    0) {
		expunge_job_free(job);
		return -1;
	}
	if (job->count == 0) {
		expunge_done(s, job);
		return 0;
	}
	/* No worker pool (or it is stopping): the same job, inline. */
	if (conn_run_blocking(s->c, expunge_work, expunge_done, job) < 0) {
		expunge_work(job);
		expunge_done(s, job);
	}
	return 0;
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
		rc = expunge_start(s, cx, has_set ? &set : NULL, &err);
	if (has_set)
		imap_seqset_free(&set);
	if (rc < 0)
		imap_resp_err(s, cx->tag, &err);
}
