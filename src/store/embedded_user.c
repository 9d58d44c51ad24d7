/*
 * embedded_user: the embedded backend's store and user lifecycle, and its
 * operations table.
 */
#include "store/embedded_cache.h"
#include "store/embedded_private.h"
#include "util/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/rand.h>

/* Creates dir (mode 0700) unless it exists. */
static int
emb_mkdir(const char *dir, struct err *err)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return err_set(err, ERR_IO, "store: mkdir %s: %s", dir,
		               strerror(errno));
	return 0;
}

static int
emb_open(struct store *s, struct err *err)
{
	struct buf dir = BUF_INIT;
	int r;

	if (buf_printf(&dir, "%s/users", s->data_dir) < 0)
		return err_set(err, ERR_TEMP, "store: out of memory");
	r = emb_mkdir(buf_cstr(&dir), err);
	buf_free(&dir);
	/* Non-zero: a user's meta 'boot' of 0 is "never opened". */
	if (r == 0 &&
	    (RAND_bytes((unsigned char *)&s->boot, sizeof(s->boot)) != 1 ||
	     s->boot == 0))
		r = err_set(err, ERR_INTERNAL, "store: no random bytes");
	if (r == 0)
		r = embedded_sync_init(s, err);
	if (r == 0 && (r = embedded_pool_init(s, err)) < 0)
		embedded_sync_free(s);
	if (r == 0 && (r = embedded_indexer_init(s, err)) < 0) {
		embedded_pool_free(s);
		embedded_sync_free(s);
	}
	return r;
}

static void
emb_close(struct store *s)
{
	embedded_indexer_free(s); /* first: it may use the sync state */
	embedded_pool_free(s);    /* after: the indexer puts handles back */
	embedded_sync_free(s);
}

/* Builds u->dir and u->blob_dir and creates them. */
static int
emb_user_dirs(struct store *s, struct embedded_user *u, const char *address,
              struct err *err)
{
	struct buf path = BUF_INIT;
	size_t shard_end;

	if (buf_printf(&path, "%s/users/", s->data_dir) < 0)
		goto nomem;
	shard_end = path.len + 2; /* "<shard>" */
	if (store_user_path(address, &path, err) < 0) {
		buf_free(&path);
		return -1;
	}
	path.data[shard_end] = '\0';
	if (emb_mkdir(path.data, err) < 0) {
		buf_free(&path);
		return -1;
	}
	path.data[shard_end] = '/';
	u->dir = buf_steal(&path);
	if (u->dir == NULL || buf_printf(&path, "%s/blobs", u->dir) < 0)
		goto nomem;
	u->blob_dir = buf_steal(&path);
	if (u->blob_dir == NULL)
		goto nomem;
	if (emb_mkdir(u->dir, err) < 0 || emb_mkdir(u->blob_dir, err) < 0)
		return -1;
	return 0;
nomem:
	buf_free(&path);
	return err_set(err, ERR_TEMP, "store: out of memory");
}

void
embedded_user_close_db(struct embedded_user *u)
{
	for (size_t i = 0; i < EMB_STMT_COUNT; i++) {
		sqlite3_finalize(u->stmt[i]);
		u->stmt[i] = NULL;
	}
	if (u->text_get != NULL) /* pa_body_text()'s (embedded_text.c) */
		sqlite3_finalize(*u->text_get);
	u->text_get = NULL;
	if (u->db != NULL)
		sqlite3_close(u->db); /* frees *gone_text */
	u->db = NULL;
	u->gone_text = NULL;
	u->fts_attached = false;
}

void
embedded_user_destroy(struct embedded_user *u)
{
	embedded_user_close_db(u);
	for (size_t i = 0; i < 32; i++)
		free(u->kw_names[i]);
	free(u->dir);
	free(u->blob_dir);
	free(u->base.address);
	free(u);
}

/*
 * Opens u's index; the first time in this process, recovers what a crash
 * may have left (embedded_durable.c).
 */
static int
emb_user_db_open(struct embedded_user *u, struct err *err)
{
	struct err lerr;

	if (embedded_db_open(u, err) < 0)
		return -1;
	/*
	 * Not fatal: a user must still get in to make room on a full disk;
	 * the next open tries again (meta 'boot' is set only on success).
	 */
	err_clear(&lerr);
	if (embedded_recover(u, u->base.store->boot, &lerr) < 0)
		log_warn("store: %s: %s", u->base.address, lerr.msg);
	return 0;
}

static void
emb_user_close(struct store_user *pub)
{
	struct embedded_user *u = embedded_user_of(pub);

	if (!embedded_pool_put(pub->store, u, true))
		embedded_user_destroy(u);
}

/*
 * Crash leftovers: tmp.* files (see store_blob_clean() for why only old
 * ones) and orphan blobs.  Both scans read the whole blob directory, so
 * they run only when the orphan scan is due (STORE_BLOB_GC_INTERVAL), not
 * at every open: SMTP opens a user for every delivery.
 */
static void
emb_user_clean(struct embedded_user *u, time_t now)
{
	int64_t last = 0;

	if (embedded_meta_get(u, "blob_gc", &last, NULL) < 0 ||
	    last > (int64_t)now - STORE_BLOB_GC_INTERVAL)
		return;
	store_blob_clean(u->blob_dir, now, STORE_BLOB_TMP_MAX_AGE);
	embedded_blob_gc_maybe(u, now);
}

static int
emb_user_open(struct store *s, const char *address, struct store_user **user_r,
              struct err *err)
{
	struct embedded_user *u;
	char *lower = strdup(address);

	if (lower == NULL)
		return err_set(err, ERR_TEMP, "store: out of memory");
	for (char *p = lower; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if ((u = embedded_pool_take(s, lower)) != NULL) {
		free(lower);
		emb_user_clean(u, time(NULL));
		*user_r = &u->base;
		return 0;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL) {
		free(lower);
		return err_set(err, ERR_TEMP, "store: out of memory");
	}
	u->base.store = s;
	u->base.address = lower;
	if (emb_user_dirs(s, u, address, err) < 0 ||
	    emb_user_db_open(u, err) < 0) {
		embedded_user_destroy(u);
		return -1;
	}
	emb_user_clean(u, time(NULL));
	*user_r = &u->base;
	return 0;
}

/* Moves the database connection (db and its statements) from one to to. */
static void
emb_conn_move(struct embedded_user *to, struct embedded_user *from)
{
	to->db = from->db;
	memcpy(to->stmt, from->stmt, sizeof(to->stmt));
	to->fts_attached = from->fts_attached;
	to->gone_text = from->gone_text;
	to->text_get = from->text_get;
	from->db = NULL;
	from->gone_text = NULL;
	from->text_get = NULL;
	memset(from->stmt, 0, sizeof(from->stmt));
	from->fts_attached = false;
}

/*
 * Rest: u's connection (db and statements) moves to a new handle r that
 * goes to the pool like a closed one, so the next open of the user, or
 * u's wake, takes it; if the pool is full it is closed.  u keeps its
 * identity (watching, the shared state) and the keyword names it knows.
 * Measured: a selected mailbox's connection holds some 90 KB and three
 * descriptors, which 10,000 idle sessions cannot each keep.
 */
static void
emb_user_rest(struct store_user *pub)
{
	struct embedded_user *u = embedded_user_of(pub), *r;

	if (u->db == NULL || !sqlite3_get_autocommit(u->db))
		return;
	r = calloc(1, sizeof(*r));
	if (r == NULL || (r->base.address = strdup(pub->address)) == NULL ||
	    (r->dir = strdup(u->dir)) == NULL ||
	    (r->blob_dir = strdup(u->blob_dir)) == NULL) {
		if (r != NULL)
			embedded_user_destroy(r);
		sqlite3_db_release_memory(u->db); /* rests in place */
		return;
	}
	r->base.store = pub->store;
	emb_conn_move(r, u);
	if (!embedded_pool_put(pub->store, r, false))
		embedded_user_destroy(r);
}

static int
emb_user_wake(struct store_user *pub, struct err *err)
{
	struct embedded_user *u = embedded_user_of(pub), *r;

	if (u->db != NULL)
		return 0;
	if ((r = embedded_pool_take(pub->store, pub->address)) != NULL) {
		emb_conn_move(u, r);
		embedded_user_destroy(r);
		return 0;
	}
	if (emb_user_db_open(u, err) == 0)
		return 0;
	embedded_user_close_db(u);
	return -1;
}

const struct store_backend_ops store_embedded_ops = {
    .name = "embedded",
    .open = emb_open,
    .close = emb_close,
    .user_open = emb_user_open,
    .user_close = emb_user_close,
    .deliver = embedded_deliver,
    .mailbox_status = embedded_mailbox_status,
    .mailbox_marks = embedded_mailbox_marks,
    .mailbox_snapshot = embedded_mailbox_snapshot,
    .mailbox_messages = embedded_mailbox_messages,
    .mailbox_list = embedded_mailbox_list,
    .msg_read = embedded_msg_read,
    .msg_open = embedded_msg_open,
    .msg_set_flags = embedded_msg_set_flags,
    .expunge = embedded_expunge,
    .mailbox_create = embedded_mailbox_create,
    .mailbox_delete = embedded_mailbox_delete,
    .mailbox_rename = embedded_mailbox_rename,
    .mailbox_subscribe = embedded_mailbox_subscribe,
    .append = embedded_append,
    .copy = embedded_copy,
    .quota_get = embedded_quota_get,
    .shared_init = embedded_group_init,
    .shared_free = embedded_group_free,
    .user_rest = emb_user_rest,
    .user_wake = emb_user_wake,
};
