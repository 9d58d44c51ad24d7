/*
 * embedded_msg: delivering, reading, flagging and expunging messages.
 *
 * Every change runs in one IMMEDIATE transaction, which takes the write
 * lock at BEGIN: two sessions of one user never read the same UIDNEXT or
 * HIGHESTMODSEQ and both use it.  Appends on worker threads commit in
 * groups (embedded_group.c).
 */
#include "store/embedded_private.h"
#include "store/embedded_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* System flags and keyword bits (store.h). */
#define STORE_FLAG_ALL STORE_FLAG_ANY

/* UIDs are 32-bit and non-zero (RFC 9051 2.3.1.1). */
#define EMB_UID_MAX UINT32_MAX

/*
 * Reads the mailbox's id, UIDNEXT, HIGHESTMODSEQ, UIDVALIDITY and
 * MAILBOXID (inside a transaction).
 */
int
embedded_counters_get(struct embedded_user *u, const char *mailbox,
                      struct emb_counters *c, struct err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (embedded_stmt(u, EMB_MBOX_COUNTERS, &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, mailbox, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		c->id = sqlite3_column_int64(st, 0);
		c->uidnext = sqlite3_column_int64(st, 1);
		c->modseq = sqlite3_column_int64(st, 2);
		c->uidvalidity = sqlite3_column_int64(st, 3);
		snprintf(c->objectid, sizeof(c->objectid), "%s",
		         sqlite3_column_text(st, 4) != NULL
		             ? (const char *)sqlite3_column_text(st, 4)
		             : "");
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return err_set(err, ERR_NOTFOUND, "no mailbox \"%.200s\"",
		               mailbox);
	if (rc != SQLITE_ROW)
		return embedded_db_error(u, rc, "mailbox lookup", err);
	return 0;
}

int
embedded_counters_set(struct embedded_user *u, const struct emb_counters *c,
                      struct err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (embedded_stmt(u, EMB_MBOX_SET_COUNTERS, &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, c->id);
	sqlite3_bind_int64(st, 2, c->uidnext);
	sqlite3_bind_int64(st, 3, c->modseq);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : embedded_db_error(u, rc, "update", err);
}

int
embedded_msg_insert(struct embedded_user *u, const struct emb_counters *c,
                    const char *blob, uint64_t size, uint32_t flags,
                    int64_t internaldate, struct err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (embedded_stmt(u, EMB_MSG_INSERT, &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, c->id);
	sqlite3_bind_int64(st, 2, c->uidnext);
	sqlite3_bind_text(st, 3, blob, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)size);
	sqlite3_bind_int64(st, 5, flags & STORE_FLAG_ALL);
	sqlite3_bind_int64(st, 6, internaldate);
	sqlite3_bind_int64(st, 7, c->modseq + 1);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : embedded_db_error(u, rc, "insert", err);
}

int
embedded_quota_check_limits(struct embedded_user *u, uint64_t bytes_limit,
                            uint64_t messages_limit, uint64_t bytes,
                            uint64_t messages, struct err *err)
{
	int64_t used_bytes, used_msgs;

	if (bytes_limit == 0 && messages_limit == 0)
		return 0;
	if (embedded_meta_get(u, "bytes", &used_bytes, err) < 0 ||
	    embedded_meta_get(u, "messages", &used_msgs, err) < 0)
		return -1;
	if (bytes_limit != 0 && (uint64_t)used_bytes + bytes > bytes_limit)
		return err_set(err, ERR_QUOTA,
		               "quota exceeded: %lld + %llu bytes > %llu",
		               (long long)used_bytes, (unsigned long long)bytes,
		               (unsigned long long)bytes_limit);
	if (messages_limit != 0 &&
	    (uint64_t)used_msgs + messages > messages_limit)
		return err_set(err, ERR_QUOTA,
		               "quota exceeded: %lld + %llu messages > %llu",
		               (long long)used_msgs,
		               (unsigned long long)messages,
		               (unsigned long long)messages_limit);
	return 0;
}

int
embedded_quota_check(struct embedded_user *u, uint64_t bytes, uint64_t messages,
                     struct err *err)
{
	return embedded_quota_check_limits(u, u->base.quota_bytes,
	                                   u->base.quota_messages, bytes,
	                                   messages, err);
}

bool
embedded_keeps(const struct embedded_user *u, size_t len)
{
	size_t max = u->base.store->inline_max;

	return max > 0 && len <= max;
}

/* The bytes of a message kept in the index (schema version 7). */
static int
emb_data_insert(struct embedded_user *u, const char *blob,
                const struct store_append *msg, struct err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (embedded_stmt(u, EMB_DATA_INSERT, &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, blob, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(st, 2, msg->len > 0 ? msg->data : "", msg->len,
	                    SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE
	           ? 0
	           : embedded_db_error(u, rc, "message insert", err);
}

int
embedded_append_row(struct embedded_user *u, const char *mailbox,
                    const char *blob, const struct store_append *msg,
                    const struct emb_cache_row *cache, uint64_t quota_bytes,
                    uint64_t quota_messages, struct emb_counters *c,
                    struct err *err)
{
	struct emb_counters next;

	if (embedded_counters_get(u, mailbox, c, err) < 0 ||
	    embedded_quota_check_limits(u, quota_bytes, quota_messages,
	                                msg->len, 1, err) < 0)
		return -1;
	if (c->uidnext >= EMB_UID_MAX)
		return err_set(err, ERR_LIMIT,
		               "mailbox \"%.200s\" has used all UIDs", mailbox);
	next = *c;
	next.uidnext = c->uidnext + 1;
	next.modseq = c->modseq + 1;
	if (embedded_msg_insert(u, c, blob, msg->len, msg->flags,
	                        msg->internaldate, err) < 0 ||
	    (embedded_keeps(u, msg->len) &&
	     emb_data_insert(u, blob, msg, err) < 0) ||
	    embedded_cache_put(u, blob, cache, err) < 0)
		return -1;
	return embedded_counters_set(u, &next, err);
}

void
embedded_append_publish(struct embedded_user *u, const char *mailbox,
                        const struct store_append *msg,
                        const struct emb_counters *c)
{
	struct store_change ch = {.kind = STORE_CHANGE_NEW};

	ch.mailbox = mailbox;
	ch.uid = (uint32_t)c->uidnext;
	ch.flags = msg->flags;
	ch.modseq = (uint64_t)c->modseq + 1;
	ch.size = msg->len;
	ch.internaldate = msg->internaldate;
	store_feed_publish(&u->base, &ch);
}

/*
 * The index half of an append on the home thread: one transaction under
 * the change lock, all or nothing, published before the lock goes.
 */
static int
emb_append_index(struct embedded_user *u, const char *mailbox, const char *blob,
                 const struct store_append *msg,
                 const struct emb_cache_row *cache, struct emb_counters *c,
                 struct err *err)
{
	int rc = -1;

	store_change_lock(&u->base);
	if (embedded_run(u, EMB_BEGIN_IMMEDIATE, err) < 0)
		goto out;
	if (embedded_append_row(u, mailbox, blob, msg, cache,
	                        u->base.quota_bytes, u->base.quota_messages, c,
	                        err) < 0 ||
	    embedded_run(u, EMB_COMMIT, err) < 0) {
		embedded_rollback(u);
		goto out;
	}
	embedded_append_publish(u, mailbox, msg, c);
	embedded_indexer_kick(u->base.store, u->base.address);
	rc = 0;
out:
	store_change_unlock(&u->base);
	return rc;
}

/* Checks the quota before the blob is written: a refusal costs no fsync. */
static int
emb_quota_precheck(struct embedded_user *u, size_t len, struct err *err)
{
	int rc;

	if (u->base.quota_bytes == 0 && u->base.quota_messages == 0)
		return 0;
	if (embedded_run(u, EMB_BEGIN, err) < 0)
		return -1;
	rc = embedded_quota_check(u, len, 1, err);
	embedded_rollback(u);
	return rc;
}

/*
 * On the home thread (tests, tools, a job that could not be queued) an
 * append commits alone, so its changes are announced before it returns
 * (store.h); on a worker it joins the group commit of its user.  A small
 * message is kept in the index instead of a file (schema version 7): the
 * commit alone makes it durable.
 */
static int
emb_append_commit(struct embedded_user *u, const char *mailbox,
                  const struct store_append *m,
                  const struct emb_cache_row *cache, char *blob,
                  struct emb_counters *c, struct err *err)
{
	bool keep = embedded_keeps(u, m->len);
	bool home = store_is_home(u->base.store);
	int rc;

	if (keep) {
		if (store_blob_new_id(blob, err) < 0)
			return -1;
	} else if ((home ? store_blob_write(u->blob_dir, m->data, m->len, blob,
	                                    err)
	                 : store_blob_write_file(u->blob_dir, m->data, m->len,
	                                         blob, err)) < 0)
		return -1;
	if (home)
		rc = emb_append_index(u, mailbox, blob, m, cache, c, err);
	else
		rc = embedded_group_append(u, mailbox, m, blob, cache, c, err);
	/* Not committed: the blob must not outlive the failure. */
	if (rc == -1 && !keep)
		store_blob_unlink(u->blob_dir, blob);
	return rc < 0 ? -1 : 0;
}

int
embedded_append(struct store_user *pub, const char *mailbox,
                const struct store_append *msg, uint32_t *uidvalidity_r,
                uint32_t *uid_r, struct err *err)
{
	struct embedded_user *u = embedded_user_of(pub);
	struct store_append m = *msg;
	char blob[STORE_BLOB_ID_SIZE];
	struct emb_cache_row *cache;
	struct emb_counters c;
	int rc;

	if (m.internaldate == 0)
		m.internaldate = (int64_t)time(NULL);
	m.flags &= STORE_FLAG_ALL;
	if (emb_quota_precheck(u, m.len, err) < 0)
		return -1;
	/* Parsed here, before any lock: deliveries parse in parallel. */
	cache = embedded_cache_compute(m.data, m.len);
	if (cache == NULL)
		return err_set(err, ERR_TEMP, "store: out of memory");
	rc = emb_append_commit(u, mailbox, &m, cache, blob, &c, err);
	embedded_cache_row_free(cache);
	if (rc < 0)
		return -1;
	if (uidvalidity_r != NULL)
		*uidvalidity_r = (uint32_t)c.uidvalidity;
	if (uid_r != NULL)
		*uid_r = (uint32_t)c.uidnext;
	return 0;
}

int
embedded_deliver(struct store_user *pub, const char *mailbox, const void *data,
                 size_t len, uint32_t flags, uint32_t *uid_r, struct err *err)
{
	struct store_append msg = {
	    .data = data, .len = len, .flags = flags, .internaldate = 0};

	return embedded_append(pub, mailbox, &msg, NULL, uid_r, err);
}

/*
 * Finds message uid of mailbox: its blob id and size and, if it is kept
 * in the index, its bytes, appended to kept (*kept_r then true).
 */
static int
emb_msg_locate(struct embedded_user *u, const char *mailbox, uint32_t uid,
               char blob[STORE_BLOB_ID_SIZE], uint64_t *size_r,
               struct buf *kept, bool *kept_r, struct err *err)
{
	sqlite3_stmt *st;
	int64_t id, size = -1;
	int rc, bad = 0;

	blob[0] = '\0';
	*kept_r = false;
	if (embedded_mailbox_id(u, mailbox, &id, err) < 0 ||
	    embedded_stmt(u, EMB_MSG_DATA, &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, uid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);

		if (t != NULL)
			snprintf(blob, STORE_BLOB_ID_SIZE, "%s",
			         (const char *)t);
		size = sqlite3_column_int64(st, 1);
		if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
			const void *data = sqlite3_column_blob(st, 2);
			int64_t n = sqlite3_column_bytes(st, 2);

			*kept_r = true;
			bad =
			    n != size ? -1 : buf_append(kept, data, (size_t)n);
		}
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return err_set(err, ERR_NOTFOUND, "no message with UID %u",
		               uid);
	if (rc != SQLITE_ROW)
		return embedded_db_error(u, rc, "message lookup", err);
	if (strlen(blob) != STORE_BLOB_ID_SIZE - 1 || size < 0 || bad < 0)
		return err_set(err, ERR_IO, "store: bad index row for UID %u",
		               uid);
	*size_r = (uint64_t)size;
	return 0;
}

int
embedded_bytes_read(sqlite3_stmt *get, const char *dir, const char *blob,
                    uint64_t size, struct buf *out, struct err *err)
{
	int rc, bad = 0;

	sqlite3_bind_text(get, 1, blob, -1, SQLITE_STATIC);
	rc = sqlite3_step(get);
	if (rc == SQLITE_ROW)
		bad = (uint64_t)sqlite3_column_bytes(get, 0) != size
		          ? -1
		          : buf_append(out, sqlite3_column_blob(get, 0),
		                       (size_t)size);
	sqlite3_reset(get);
	if (rc == SQLITE_DONE)
		return store_blob_read(dir, blob, size, out, err);
	if (rc != SQLITE_ROW)
		return err_set(err, ERR_IO, "store: message lookup: %s",
		               sqlite3_errmsg(sqlite3_db_handle(get)));
	return bad < 0 ? err_set(err, ERR_IO, "store: bad size of %s", blob)
	               : 0;
}

int
embedded_blob_read(struct embedded_user *u, const char *blob, uint64_t size,
                   struct buf *out, struct err *err)
{
	sqlite3_stmt *st;

	if (embedded_stmt(u, EMB_DATA_GET, &st, err) < 0)
		return -1;
	return embedded_bytes_read(st, u->blob_dir, blob, size, out, err);
}

/*
 * Blobs are immutable and unlinked only after the expunge commit, so
 * reading outside the transaction sees either all bytes or ENOENT; an
 * open descriptor keeps them readable after the unlink.
 */
int
embedded_msg_read(struct store_user *pub, const char *mailbox, uint32_t uid,
                  struct buf *out, struct err *err)
{
	struct embedded_user *u = embedded_user_of(pub);
	char blob[STORE_BLOB_ID_SIZE];
	uint64_t size;
	bool kept;

	if (emb_msg_locate(u, mailbox, uid, blob, &size, out, &kept, err) < 0)
		return -1;
	return kept ? 0 : store_blob_read(u->blob_dir, blob, size, out, err);
}

/* A message read from its file (fd), or from a copy of its bytes. */
struct emb_stream {
	struct store_stream pub;
	int fd;     /* -1: a message kept in the index */
	char *data; /* its bytes (pub.size), or NULL */
};

static ssize_t
emb_stream_read(struct store_stream *pub, uint64_t off, void *dst, size_t len,
                struct err *err)
{
	struct emb_stream *st = (struct emb_stream *)pub;

	if (st->fd >= 0)
		return store_blob_pread(st->fd, pub->size, off, dst, len, err);
	if (off >= pub->size)
		return 0;
	if (len > pub->size - off)
		len = (size_t)(pub->size - off);
	memcpy(dst, st->data + off, len);
	return (ssize_t)len;
}

static void
emb_stream_close(struct store_stream *pub)
{
	struct emb_stream *st = (struct emb_stream *)pub;

	if (st->fd >= 0)
		close(st->fd);
	free(st->data);
	free(st);
}

static int
emb_stream_fd(const struct store_stream *pub)
{
	return ((const struct emb_stream *)pub)->fd;
}

static const struct store_stream_ops emb_stream_ops = {
    .read = emb_stream_read,
    .close = emb_stream_close,
    .fd = emb_stream_fd,
};

/*
 * A message kept in the index is copied out (it is small: inline_max),
 * so it stays readable after an expunge, as an open file does.
 */
int
embedded_msg_open(struct store_user *pub, const char *mailbox, uint32_t uid,
                  struct store_stream **stream_r, struct err *err)
{
	struct embedded_user *u = embedded_user_of(pub);
	char blob[STORE_BLOB_ID_SIZE];
	struct buf kept = BUF_INIT;
	struct emb_stream *st;
	uint64_t size;
	bool is_kept;
	int fd = -1;

	if (emb_msg_locate(u, mailbox, uid, blob, &size, &kept, &is_kept, err) <
	        0 ||
	    (!is_kept &&
	     store_blob_open(u->blob_dir, blob, size, &fd, err) < 0)) {
		buf_free(&kept);
		return -1;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		if (fd >= 0)
			close(fd);
		buf_free(&kept);
		return err_set(err, ERR_TEMP, "store: out of memory");
	}
	st->pub.ops = &emb_stream_ops;
	st->pub.size = size;
	st->fd = fd;
	st->data = buf_steal(&kept);
	*stream_r = &st->pub;
	return 0;
}

/* Reads the flags of uid; ERR_NOTFOUND if there is no such message. */
static int
emb_flags_get(struct embedded_user *u, int64_t mbox, uint32_t uid,
              uint32_t *flags_r, struct err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (embedded_stmt(u, EMB_MSG_FLAGS, &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, mbox);
	sqlite3_bind_int64(st, 2, uid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*flags_r = (uint32_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return err_set(err, ERR_NOTFOUND, "no message with UID %u",
		               uid);
	return rc == SQLITE_ROW ? 0 : embedded_db_error(u, rc, "flags", err);
}

static int
emb_flags_set(struct embedded_user *u, int64_t mbox, uint32_t uid,
              uint32_t flags, int64_t modseq, struct err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (embedded_stmt(u, EMB_MSG_SET_FLAGS, &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, mbox);
	sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_int64(st, 3, flags);
	sqlite3_bind_int64(st, 4, modseq);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : embedded_db_error(u, rc, "flags", err);
}

static uint32_t
emb_flags_apply(uint32_t old, int mode, uint32_t flags)
{
	flags &= STORE_FLAG_ALL;
	if (mode > 0)
		return old | flags;
	if (mode < 0)
		return old & ~flags;
	return flags;
}

int
embedded_msg_set_flags(struct store_user *pub, const char *mailbox,
                       uint32_t uid, int mode, uint32_t flags, struct err *err)
{
	struct embedded_user *u = embedded_user_of(pub);
	struct emb_counters c;
	uint32_t old = 0, new;
	bool lazy;

	/* No fsync for flags (embedded_lazy.c). */
	if (embedded_flags_begin(u, 1, &lazy, err) < 0)
		return -1;
	if (embedded_counters_get(u, mailbox, &c, err) < 0 ||
	    emb_flags_get(u, c.id, uid, &old, err) < 0)
		goto fail;
	new = emb_flags_apply(old, mode, flags);
	/*
	 * RFC 7162 3.1: setting a flag that is already set SHOULD NOT change
	 * the mod-sequence; a real change MUST.
	 */
	if (new != old) {
		c.modseq++;
		if (emb_flags_set(u, c.id, uid, new, c.modseq, err) < 0 ||
		    embedded_counters_set(u, &c, err) < 0)
			goto fail;
	}
	if (embedded_flags_commit(u, lazy, new != old ? 1 : 0, err) < 0)
		goto fail;
	if (new != old) {
		struct store_change ch = {.kind = STORE_CHANGE_FLAGS,
		                          .mailbox = mailbox,
		                          .uid = uid,
		                          .flags = new,
		                          .modseq = (uint64_t)c.modseq};

		store_feed_publish(pub, &ch);
	}
	return 0;
fail:
	embedded_flags_abort(u, lazy);
	return -1;
}

/*
 * Deletes uid and records it in expunged with modseq; copies the blob id
 * to blob (empty if there was no such message: expunging it twice is
 * harmless).
 */
static int
emb_msg_delete(struct embedded_user *u, int64_t mbox, uint32_t uid,
               int64_t modseq, char blob[STORE_BLOB_ID_SIZE], struct err *err)
{
	sqlite3_stmt *st;
	int rc;

	blob[0] = '\0';
	if (embedded_stmt(u, EMB_MSG_DELETE, &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, mbox);
	sqlite3_bind_int64(st, 2, uid);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);

		if (t != NULL)
			snprintf(blob, STORE_BLOB_ID_SIZE, "%s",
			         (const char *)t);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return embedded_db_error(u, rc, "expunge", err);
	if (blob[0] == '\0')
		return 0;
	if (embedded_stmt(u, EMB_EXPUNGED_INSERT, &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, mbox);
	sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_int64(st, 3, modseq);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : embedded_db_error(u, rc, "expunge", err);
}

bool
embedded_blob_is_used(struct embedded_user *u, const char *blob)
{
	sqlite3_stmt *st;
	int rc;

	if (embedded_stmt(u, EMB_BLOB_IS_USED, &st, NULL) < 0)
		return true; /* when in doubt, keep the file */
	sqlite3_bind_text(st, 1, blob, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc != SQLITE_DONE;
}

int
embedded_gone_init(struct emb_gone *g, size_t count, struct err *err)
{
	g->n = 0;
	g->modseq = 0;
	g->blobs = calloc(count + 1, sizeof(*g->blobs));
	g->uids = calloc(count + 1, sizeof(*g->uids));
	if (g->blobs == NULL || g->uids == NULL) {
		free(g->blobs);
		free(g->uids);
		g->blobs = NULL;
		g->uids = NULL;
		return err_set(err, ERR_TEMP, "store: out of memory");
	}
	return 0;
}

int
embedded_expunge_rows(struct embedded_user *u, struct emb_counters *c,
                      const uint32_t *uids, size_t count, struct emb_gone *g,
                      struct err *err)
{
	/* One new mod-sequence for the whole expunge (RFC 7162 3.2.10). */
	c->modseq++;
	for (size_t i = 0; i < count; i++) {
		if (emb_msg_delete(u, c->id, uids[i], c->modseq, g->blobs[g->n],
		                   err) < 0)
			return -1;
		if (g->blobs[g->n][0] != '\0')
			g->uids[g->n++] = uids[i];
	}
	g->modseq = (uint64_t)c->modseq;
	if (g->n == 0) {
		c->modseq--; /* nothing changed */
		return 0;
	}
	return embedded_counters_set(u, c, err);
}

void
embedded_gone_finish(struct embedded_user *u, const char *mailbox,
                     struct emb_gone *g, bool committed)
{
	struct store_change ch = {.kind = STORE_CHANGE_EXPUNGE,
	                          .mailbox = mailbox};

	/*
	 * Only after the commit: a crash before it must leave every message
	 * readable.  A COPY may share a blob, hence the check.
	 */
	for (size_t i = 0; committed && i < g->n; i++) {
		if (!embedded_blob_is_used(u, g->blobs[i]))
			store_blob_unlink(u->blob_dir, g->blobs[i]);
		ch.uid = g->uids[i];
		ch.modseq = g->modseq;
		store_feed_publish(&u->base, &ch);
	}
	free(g->blobs);
	free(g->uids);
	g->blobs = NULL;
	g->uids = NULL;
	g->n = 0;
}

static int
emb_expunge_once(struct store_user *pub, const char *mailbox,
                 const uint32_t *uids, size_t count, struct err *err)
{
	struct embedded_user *u = embedded_user_of(pub);
	struct emb_counters c;
	struct emb_gone g;
	bool ok = false;

	if (embedded_gone_init(&g, count, err) < 0)
		return -1;
	if (embedded_run(u, EMB_BEGIN_IMMEDIATE, err) < 0)
		goto out;
	if (embedded_counters_get(u, mailbox, &c, err) < 0 ||
	    embedded_expunge_rows(u, &c, uids, count, &g, err) < 0 ||
	    embedded_run(u, EMB_COMMIT, err) < 0) {
		embedded_rollback(u);
		goto out;
	}
	ok = true;
out:
	embedded_gone_finish(u, mailbox, &g, ok);
	return ok ? 0 : -1;
}

int
embedded_expunge(struct store_user *pub, const char *mailbox,
                 const uint32_t *uids, size_t count, struct err *err)
{
	struct embedded_user *u = embedded_user_of(pub);
	int rc;

	u->out_of_space = false;
	rc = emb_expunge_once(pub, mailbox, uids, count, err);
	/* A full disk must not keep mail from being deleted (reserve.c). */
	if (rc < 0 && embedded_space_retry(u)) {
		rc = emb_expunge_once(pub, mailbox, uids, count, err);
		embedded_space_done(u);
	}
	return rc;
}
