/*
 * cmd_copy: COPY, MOVE and their UID forms (RFC 9051 6.4.7, 6.4.8,
 * RFC 6851), with [COPYUID] (RFC 4315 3).
 *
 * The store shares the message files; nothing is read or written here but
 * index rows.  MOVE is one store transaction: the untagged OK [COPYUID]
 * comes first, then the EXPUNGEs, then the tagged OK (RFC 6851 4.3).
 */
#include <stdlib.h>
#include <string.h>

#include "imap/cmd.h"
#include "imap/mailbox.h"
#include "imap/resp.h"
#include "imap/sync.h"

/* The messages of one COPY/MOVE. */
struct copy_job {
	size_t *idx; /* map indexes */
	uint32_t *uids, *new_uids;
	size_t n;
	uint32_t uidvalidity;
};

/* Appends UIDs (ascending) as a sequence set: "3:5,9" (0s skipped). */
static void
copy_set_append(struct buf *out, const uint32_t *v, const uint32_t *keep,
                size_t n)
{
	const char *sep = "";

	for (size_t i = 0; i < n;) {
		size_t j = i;

		if (keep[i] == 0) {
			i++;
			continue;
		}
		while (j + 1 < n && keep[j + 1] != 0 && v[j + 1] == v[j] + 1)
			j++;
		if (j == i)
			buf_printf(out, "%s%u", sep, v[i]);
		else
			buf_printf(out, "%s%u:%u", sep, v[i], v[j]);
		sep = ",";
		i = j + 1;
	}
}

static int
copy_job_init(struct imap_session *s, const struct imap_cmd_ctx *cx,
              const struct imap_seqset *set, struct copy_job *job)
{
	size_t n = s->box.count;

	memset(job, 0, sizeof(*job));
	job->idx = calloc(n + 1, sizeof(*job->idx));
	job->uids = calloc(n + 1, sizeof(*job->uids));
	job->new_uids = calloc(n + 1, sizeof(*job->new_uids));
	if (job->idx == NULL || job->uids == NULL || job->new_uids == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!imap_mailbox_in_set(s, cx, set, i))
			continue;
		job->idx[job->n] = i;
		job->uids[job->n++] = s->box.msgs[i].uid;
	}
	return 0;
}

static void
copy_job_free(struct copy_job *job)
{
	free(job->idx);
	free(job->uids);
	free(job->new_uids);
}

/* Copies into the selected mailbox itself: the feed does not echo them. */
static void
copy_add_to_self(struct imap_session *s, const char *to,
                 const struct copy_job *job, const struct store_msg *src)
{
	if (strcmp(to, s->box.name) != 0)
		return;
	for (size_t k = 0; k < job->n; k++) {
		struct store_msg m = src[k];

		if (job->new_uids[k] == 0)
			continue;
		m.uid = job->new_uids[k];
		imap_sync_add_new(s, &m);
	}
}

/* MOVE: removes the moved messages from the map, reporting EXPUNGEs. */
static void
copy_move_report(struct imap_session *s, const struct copy_job *job)
{
	bool *gone = calloc(s->box.count + 1, sizeof(*gone));

	if (gone == NULL)
		return;
	for (size_t k = 0; k < job->n; k++)
		if (job->new_uids[k] != 0)
			gone[job->idx[k]] = true;
	imap_mailbox_remove(s, gone, true);
	free(gone);
}

static int
copy_run(struct imap_session *s, bool move, const char *to,
         struct copy_job *job, struct buf *code, struct err *err)
{
	struct store_msg *src = calloc(job->n + 1, sizeof(*src));
	int rc;

	if (src == NULL)
		return err_set(err, ERR_INTERNAL, "out of memory");
	for (size_t k = 0; k < job->n; k++)
		src[k] = s->box.msgs[job->idx[k]];
	rc = (move ? store_move : store_copy)(s->user, s->box.name, job->uids,
	                                      job->n, to, &job->uidvalidity,
	                                      job->new_uids, err);
	if (rc == 0) {
		buf_printf(code, "COPYUID %u ", job->uidvalidity);
		copy_set_append(code, job->uids, job->new_uids, job->n);
		buf_append_str(code, " ");
		copy_set_append(code, job->new_uids, job->new_uids, job->n);
		copy_add_to_self(s, to, job, src);
	}
	free(src);
	return rc;
}

static void
copy_answer(struct imap_session *s, const struct imap_cmd_ctx *cx, bool move,
            const char *to, struct copy_job *job)
{
	struct buf code = BUF_INIT;
	bool any = false;
	struct err err;

	if (job->n > 0 && copy_run(s, move, to, job, &code, &err) < 0) {
		if (err.kind == ERR_NOTFOUND)
			imap_resp_tagged(s, cx->tag, IMAP_NO, "TRYCREATE",
			                 "No such mailbox");
		else
			imap_resp_err(s, cx->tag, &err);
		buf_free(&code);
		return;
	}
	for (size_t k = 0; k < job->n; k++)
		any = any || job->new_uids[k] != 0;
	if (move) {
		if (any)
			imap_resp_untagged(s, "OK [%s] Moved", buf_cstr(&code));
		copy_move_report(s, job);
		imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "%s completed",
		                 cx->uid ? "UID MOVE" : "MOVE");
	} else {
		imap_resp_tagged(s, cx->tag, IMAP_OK,
		                 any ? buf_cstr(&code) : NULL, "%s completed",
		                 cx->uid ? "UID COPY" : "COPY");
	}
	buf_free(&code);
}

/* COPY and MOVE, with or without UID. */
void
imap_cmd_copy(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	const char *to = imap_box_arg(s, cx, cx->args->next);
	bool move = strcmp(cx->name, "MOVE") == 0;
	struct imap_seqset set;
	struct copy_job job;

	if (to == NULL)
		return;
	if (move && s->box.readonly) {
		imap_resp_tagged(s, cx->tag, IMAP_NO, "READ-ONLY",
		                 "Mailbox is read-only");
		return;
	}
	if (imap_mailbox_set(s, cx, cx->args, &set) < 0)
		return;
	if (copy_job_init(s, cx, &set, &job) < 0) {
		struct err err;

		err_set(&err, ERR_INTERNAL, "out of memory");
		imap_resp_err(s, cx->tag, &err);
	} else {
		copy_answer(s, cx, move, to, &job);
	}
	imap_seqset_free(&set);
	copy_job_free(&job);
}
