/*
 * embedded_copy: COPY and MOVE (RFC 9051 6.4.7, RFC 6851).
 *
 * A copy is a new row that names the same blob file: no message bytes are
 * copied, and expunge unlinks a blob only when no row names it any more.
 * A move is the copy and the expunge of the originals in one transaction,
 * so a crash leaves the messages in one mailbox or the other, never in
 * neither.
 */
#include "store/embedded_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One source message, read inside the transaction. */
struct emb_src {
	char blob[STORE_BLOB_ID_SIZE];
	uint64_t size;
	uint32_t flags;
	int64_t internaldate;
};

/* Reads message uid of mailbox id; *found_r false if there is none. */
static int
emb_src_get(struct embedded_user *u, int64_t mbox, uint32_t uid,
            struct emb_src *m, bool *found_r, struct err *err)
{
	sqlite3_stmt *st;
	int rc;

	*found_r = false;
	if (embedded_stmt(u, EMB_MSG_GET, &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, mbox);
	sqlite3_bind_int64(st, 2, uid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);

		snprintf(m->blob, sizeof(m->blob), "%s",
		         t != NULL ? (const char *)t : "");
		m->size = (uint64_t)sqlite3_column_int64(st, 1);
		m->flags = (uint32_t)sqlite3_column_int64(st, 2);
		m->internaldate = sqlite3_column_int64(st, 3);
		*found_r = m->blob[0] != '\0';
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return embedded_db_error(u, rc, "copy", err);
	return 0;
}

/* What a copy added, for the feed after the commit. */
struct emb_added {
	struct store_change *ch;
	size_t n;
};

/* Copies the rows; new_uids (may be NULL) and added get the new ones. */
static int
emb_copy_rows(struct embedded_user *u, const struct emb_counters *src,
              struct emb_counters *dst, const uint32_t *uids, size_t count,
              uint32_t *new_uids, struct emb_added *added, struct err *err)
{
	int64_t modseq = dst->modseq + 1; /* one for the whole copy */
	struct emb_counters row = *dst;
	struct emb_src m;
	bool found;

	for (size_t i = 0; i < count; i++) {
		if (emb_src_get(u, src->id, uids[i], &m, &found, err) < 0)
			return -1;
		if (!found)
			continue;
		if (row.uidnext >= UINT32_MAX)
			return err_set(err, ERR_LIMIT,
			               "the target mailbox has used all UIDs");
		row.modseq = modseq - 1;
		if (embedded_msg_insert(u, &row, m.blob, m.size, m.flags,
		                        m.internaldate, err) < 0)
			return -1;
		if (new_uids != NULL)
			new_uids[i] = (uint32_t)row.uidnext;
		added->ch[added->n++] =
		    (struct store_change){.kind = STORE_CHANGE_NEW,
		                          .uid = (uint32_t)row.uidnext,
		                          .flags = m.flags,
		                          .modseq = (uint64_t)modseq,
		                          .size = m.size,
		                          .internaldate = m.internaldate};
		row.uidnext++;
	}
	if (added->n == 0)
		return 0;
	dst->uidnext = row.uidnext;
	dst->modseq = modseq;
	return embedded_counters_set(u, dst, err);
}

/* Sums the sizes of what was added, for the quota check. */
static uint64_t
emb_added_bytes(const struct emb_added *added)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < added->n; i++)
		sum += added->ch[i].size;
	return sum;
}

/* The whole copy or move as one transaction. */
static int
emb_copy_index(struct embedded_user *u, const char *from, const uint32_t *uids,
               size_t count, const char *to, bool move, uint32_t *new_uids,
               struct emb_added *added, struct emb_gone *gone,
               uint32_t *uidvalidity_r, struct err *err)
{
	struct emb_counters src, dst;

	if (embedded_run(u, EMB_BEGIN_IMMEDIATE, err) < 0)
		return -1;
	if (embedded_counters_get(u, from, &src, err) < 0 ||
	    embedded_counters_get(u, to, &dst, err) < 0 ||
	    emb_copy_rows(u, &src, &dst, uids, count, new_uids, added, err) < 0)
		goto fail;
	/* A move does not grow the usage; a copy must fit (RFC 9208 4.2). */
	if (!move &&
	    embedded_quota_check(u, emb_added_bytes(added), added->n, err) < 0)
		goto fail;
	if (move && strcmp(from, to) == 0 &&
	    embedded_counters_get(u, from, &src, err) < 0)
		goto fail; /* the copy moved the counters on */
	if (move && embedded_expunge_rows(u, &src, uids, count, gone, err) < 0)
		goto fail;
	if (embedded_run(u, EMB_COMMIT, err) < 0)
		goto fail;
	if (uidvalidity_r != NULL)
		*uidvalidity_r = (uint32_t)dst.uidvalidity;
	return 0;
fail:
	embedded_rollback(u);
	return -1;
}

int
embedded_copy(struct store_user *pub, const char *from, const uint32_t *uids,
              size_t count, const char *to, bool move, uint32_t *uidvalidity_r,
              uint32_t *new_uids_r, struct err *err)
{
	struct embedded_user *u = embedded_user_of(pub);
	struct emb_added added = {NULL, 0};
	struct emb_gone gone = {NULL, NULL, 0, 0};
	int rc;

	added.ch = calloc(count + 1, sizeof(*added.ch));
	if (added.ch == NULL ||
	    (move && embedded_gone_init(&gone, count, err) < 0)) {
		free(added.ch);
		return err_set(err, ERR_TEMP, "store: out of memory");
	}
	rc = emb_copy_index(u, from, uids, count, to, move, new_uids_r, &added,
	                    &gone, uidvalidity_r, err);
	if (rc == 0) {
		/* New rows first: a watcher of both sees no gap. */
		for (size_t i = 0; i < added.n; i++) {
			added.ch[i].mailbox = to;
			store_feed_publish(pub, &added.ch[i]);
		}
	}
	if (move)
		embedded_gone_finish(u, from, &gone, rc == 0);
	free(added.ch);
	return rc;
}
