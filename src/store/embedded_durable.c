/*
 * embedded_durable: one flush per group commit, and what a crash leaves.
 *
 * A group commit (embedded_group.c) writes its blobs without an fsync,
 * commits their rows without one (synchronous=NORMAL) and then makes both
 * durable with a single syncfs() before any delivery of the group is
 * answered.  The blobs are no longer on disk before the rows that name
 * them, so a power cut in that window may leave a row whose blob is
 * missing, short or holds other bytes; that delivery was never
 * acknowledged, and it must not read as mail.
 *
 * So each cache row keeps the CRC-32 of its blob (msg_cache.crc), and
 * meta.blobs_durable is the msg_cache id up to which every blob is known
 * to be on disk: a group writes the last one it saw through its syncfs()
 * in the next group's transaction.  At a user's first open in a process
 * (meta.boot differs from the store's boot id), embedded_recover() reads
 * the blobs of the rows above it (a group or two) and expunges the rows
 * whose blob does not match, with a new mod-sequence, so that clients
 * resynchronising see them vanish (RFC 7162 3.2.10).  A blob read there
 * is complete in the page cache at least (every blob is written before
 * its row commits), so an fdatasync() of each good one and an fsync() of
 * the directory make them durable before the watermark moves past them
 * (a few files: cheaper than a syncfs() of whatever the server has
 * dirty).  Only a blob that is missing, of another size or of other
 * bytes condemns its rows; a read error proves nothing, so it ends the
 * recovery without a change, to be tried again at the next open.
 *
 * The same first open also runs the lazy flags' recovery
 * (embedded_lazy.c): both are one transaction, after which meta.boot
 * says this process has done it.
 */
#include "store/embedded_private.h"
#include "util/log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

uint32_t
embedded_blob_crc(uint32_t crc, const void *data, size_t len)
{
	return (uint32_t)crc32_z(crc, data, len);
}

int
embedded_durable_max(struct embedded_user *u, int64_t *max_r, struct err *err)
{
	return embedded_stmt_int(u, EMB_CACHE_MAX_ID, max_r, err);
}

/* A message row to expunge: its mailbox and what the expunge removed. */
struct dur_bad {
	char *mailbox;
	struct emb_gone gone;
};

struct dur_list {
	struct dur_bad *v;
	size_t n, cap;
};

/* Expunges every row naming blob (inside the recovery transaction). */
static int
dur_expunge_blob(struct embedded_user *u, const char *blob,
                 struct dur_list *bad, struct err *err)
{
	static const char sql[] =
	    "SELECT b.name, m.uid FROM messages m JOIN mailboxes b"
	    " ON b.id = m.mailbox_id WHERE m.blob = ?1";
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(u->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return embedded_db_error(u, rc, "recovery", err);
	sqlite3_bind_text(st, 1, blob, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		uint32_t uid = (uint32_t)sqlite3_column_int64(st, 1);
		struct emb_counters c;
		struct dur_bad *b;

		if (bad->n == bad->cap) {
			size_t cap = bad->cap ? bad->cap * 2 : 8;
			void *v = realloc(bad->v, cap * sizeof(*bad->v));

			if (v == NULL)
				goto oom;
			bad->v = v;
			bad->cap = cap;
		}
		b = &bad->v[bad->n];
		if ((b->mailbox = strdup(name != NULL ? name : "")) == NULL)
			goto oom;
		if (embedded_gone_init(&b->gone, 1, err) < 0) {
			free(b->mailbox);
			goto fail;
		}
		bad->n++;
		log_warn(
		    "store: %s: message UID %u in \"%s\" did not reach the "
		    "disk before a crash (it was never acknowledged): "
		    "expunged",
		    u->base.address, uid, b->mailbox);
		if (embedded_counters_get(u, b->mailbox, &c, err) < 0 ||
		    embedded_expunge_rows(u, &c, &uid, 1, &b->gone, err) < 0)
			goto fail;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0
	                         : embedded_db_error(u, rc, "recovery", err);
oom:
	err_set(err, ERR_TEMP, "store: out of memory");
fail:
	sqlite3_finalize(st);
	return -1;
}

/*
 * Checks the blob files of the cache rows above meta.blobs_durable (a
 * message kept in the index came with its row: nothing to check), expunges
 * the rows of those that do not read back, makes the rest durable and
 * moves the watermark (inside the recovery transaction).
 */
static int
dur_check(struct embedded_user *u, struct dur_list *bad, struct err *err)
{
	static const char sql[] =
	    "SELECT c.blob, c.crc, (SELECT size FROM messages m WHERE"
	    " m.blob = c.blob LIMIT 1) FROM msg_cache c WHERE c.id > ?1"
	    " AND NOT EXISTS (SELECT 1 FROM msg_data d WHERE d.blob = c.blob)"
	    " ORDER BY c.id";
	sqlite3_stmt *st;
	int64_t from, upto, size;
	int rc, ok;

	if (embedded_meta_get(u, "blobs_durable", &from, err) < 0 ||
	    embedded_durable_max(u, &upto, err) < 0)
		return -1;
	if (upto <= from)
		return 0;
	if ((rc = sqlite3_prepare_v2(u->db, sql, -1, &st, NULL)) != SQLITE_OK)
		return embedded_db_error(u, rc, "recovery", err);
	sqlite3_bind_int64(st, 1, from);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *blob = (const char *)sqlite3_column_text(st, 0);

		/* No CRC: from before version 6, fsynced before its row. */
		if (blob == NULL || sqlite3_column_type(st, 1) == SQLITE_NULL ||
		    sqlite3_column_type(st, 2) == SQLITE_NULL)
			continue;
		size = sqlite3_column_int64(st, 2);
		ok = size < 0 ? 0
		              : store_blob_verify(
		                    u->blob_dir, blob, (uint64_t)size,
		                    (uint32_t)sqlite3_column_int64(st, 1), err);
		/* Unknown (a read error): no conclusion, try again later. */
		if (ok < 0 ||
		    (ok == 0 && dur_expunge_blob(u, blob, bad, err) < 0)) {
			sqlite3_finalize(st);
			return -1;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return embedded_db_error(u, rc, "recovery", err);
	/* Their names too; the commit (FULL) then makes the rows durable. */
	if (store_blob_sync_dir(u->blob_dir, err) < 0)
		return -1;
	return embedded_meta_raise(u, "blobs_durable", upto, err);
}

/* Whether this process has recovered u, or there is nothing to do. */
static int
dur_needed(struct embedded_user *u, uint64_t boot, bool *needed_r,
           struct err *err)
{
	int64_t seen = 0, lazy = 0, from = 0, upto = 0;

	*needed_r = false;
	if (embedded_meta_get(u, "boot", &seen, err) < 0)
		return -1;
	if (seen == (int64_t)boot)
		return 0;
	if (embedded_meta_get(u, "lazy", &lazy, err) < 0 ||
	    embedded_meta_get(u, "blobs_durable", &from, err) < 0 ||
	    embedded_durable_max(u, &upto, err) < 0)
		return -1;
	*needed_r = lazy != 0 || upto > from;
	return 0;
}

int
embedded_recover(struct embedded_user *u, uint64_t boot, struct err *err)
{
	struct dur_list bad = {0};
	bool needed, ok = false;

	if (dur_needed(u, boot, &needed, err) < 0)
		return -1;
	if (!needed)
		return 0;
	if (embedded_run(u, EMB_BEGIN_IMMEDIATE, err) < 0)
		return -1;
	/* Read again: another process may have done it meanwhile. */
	if (dur_needed(u, boot, &needed, err) < 0)
		goto out;
	if (needed &&
	    (embedded_lazy_bump(u, err) < 0 || dur_check(u, &bad, err) < 0 ||
	     embedded_meta_set(u, "boot", (int64_t)boot, err) < 0))
		goto out;
	ok = embedded_run(u, EMB_COMMIT, err) == 0;
out:
	if (!ok)
		embedded_rollback(u);
	for (size_t i = 0; i < bad.n; i++) {
		embedded_gone_finish(u, bad.v[i].mailbox, &bad.v[i].gone, ok);
		free(bad.v[i].mailbox);
	}
	free(bad.v);
	return ok ? 0 : -1;
}
