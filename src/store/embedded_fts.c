/*
 * embedded_fts: the full-text index in a database of its own.
 *
 *   DATA/users/<shard>/<user>/fts.db   msg_text: FTS5 trigram, contentless,
 *                                      no positions (rowid = msg_cache.id);
 *                                      meta: fts_upto, gone_upto, epoch
 *
 * Tokenising a message into trigrams costs more CPU than the rest of its
 * delivery (about 0.5 ms for 4 KiB), and FTS5 works best in large
 * batches.  In index.db, each batch held the user's write lock, so
 * deliveries waited for it (p99 above 100 ms in a burst).  In its own
 * file it has its own write lock: the indexer (embedded_indexer.c) and a
 * search that indexes what is left read msg_cache from a snapshot of
 * index.db (WAL: readers never block the writer) and write only fts.db.
 *
 * Deletions: a contentless FTS5 table forgets a row only when given its
 * text again, and triggers cannot write to another database.  So
 * index.db's msg_cache_del trigger copies a deleted row's text into
 * fts_gone, and the next batch here applies it (if that row was indexed)
 * and moves gone_upto; the fts_gone rows below it are then removed from
 * index.db.  A search may find a deleted row's id in msg_text meanwhile;
 * its query joins msg_cache, where the row is gone, so it never matches.
 *
 * fts.db may be lost or stale (a restored index.db, a crash): its epoch
 * must equal index.db's meta.fts_epoch, else it is emptied and rebuilt
 * from msg_cache.  It is attached to a handle's connection only when
 * needed (3 more descriptors) and detached when the handle rests.
 */
#include "store/embedded_cache.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

/*
 * fts.db's schema, user_version 3.  detail=none: the index keeps which
 * messages hold a trigram, not where (measured on 4 KiB messages: about
 * a third less CPU per message and a fifth of the bytes of positions,
 * which every later flush writes again); a search confirms the substring
 * in the stored text (embedded_search.c); and so each trigram is given
 * once per text (pa_trigram, embedded_fts_tok.c).  Version 1 kept
 * positions, version 2 took every trigram.
 */
static const char emb_fts_schema[] =
    "CREATE VIRTUAL TABLE IF NOT EXISTS fts.msg_text USING fts5(t_hdr,"
    " t_body, content='', tokenize='pa_trigram', detail=none);"
    "CREATE TABLE IF NOT EXISTS fts.meta (key TEXT PRIMARY KEY,"
    " value INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT OR IGNORE INTO fts.meta VALUES ('fts_upto', 0),"
    " ('gone_upto', 0), ('epoch', 0);"
    "PRAGMA fts.user_version = 3;";

/*
 * An index of an older version is dropped and its epoch cleared, so that
 * emb_fts_check_epoch() rebuilds it from msg_cache.
 */
static const char emb_fts_upgrade[] =
    "DROP TABLE IF EXISTS fts.msg_text;"
    "UPDATE fts.meta SET value = 0 WHERE key = 'epoch';";

static int
emb_fts_exec(struct embedded_user *u, const char *sql, struct err *err)
{
	int rc = sqlite3_exec(u->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : embedded_db_error(u, rc, "fts", err);
}

static int
emb_fts_set(struct embedded_user *u, const char *key, int64_t value,
            struct err *err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(
	    u->db, "UPDATE fts.meta SET value = ?2 WHERE key = ?1", -1, &st,
	    NULL);

	if (rc != SQLITE_OK)
		return embedded_db_error(u, rc, "fts", err);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, value);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : embedded_db_error(u, rc, "fts", err);
}

/*
 * index.db's fts_epoch, made (random, non-zero) on first use.  Two
 * handles may get here at once (a search and the indexer): only the
 * first UPDATE finds 0, and both read back its value.  Before, the second
 * overwrote the first one's epoch after that one had indexed, and so
 * emptied the index it had just filled.
 */
static int
emb_fts_epoch(struct embedded_user *u, int64_t *epoch_r, struct err *err)
{
	sqlite3_stmt *st;
	uint64_t r = 0;
	int rc;

	if (embedded_meta_get(u, "fts_epoch", epoch_r, err) < 0)
		return -1;
	if (*epoch_r != 0)
		return 0;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		return err_set(err, ERR_TEMP, "store: no random bytes");
	rc = sqlite3_prepare_v2(u->db,
	                        "UPDATE main.meta SET value = ?1 WHERE key ="
	                        " 'fts_epoch' AND value = 0",
	                        -1, &st, NULL);
	if (rc != SQLITE_OK)
		return embedded_db_error(u, rc, "fts epoch", err);
	sqlite3_bind_int64(st, 1, (int64_t)(r >> 1) | 1);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return embedded_db_error(u, rc, "fts epoch", err);
	return embedded_meta_get(u, "fts_epoch", epoch_r, err);
}

/*
 * BEGIN, then a write to fts.db first: its write lock is taken (waiting
 * for another indexer) before anything is read, so the snapshot cannot go
 * stale; index.db is only read (no lock).  The UPDATE's own read may
 * start on an fts.db that another handle then changes before the lock is
 * won: SQLite then fails it at once (SQLITE_BUSY, no busy timeout, as the
 * snapshot would be stale); a new transaction starts from the new state.
 */
#define EMB_FTS_BEGIN_TRIES 5
static int
emb_fts_begin_write(struct embedded_user *u, struct err *err)
{
	for (int i = 1;; i++) {
		if (emb_fts_exec(u,
		                 "BEGIN; UPDATE fts.meta SET value = value"
		                 " WHERE key = 'fts_upto'",
		                 err) == 0)
			return 0;
		if ((sqlite3_errcode(u->db) & 0xff) != SQLITE_BUSY ||
		    i == EMB_FTS_BEGIN_TRIES)
			return -1;
		embedded_rollback(u);
		err_clear(err);
	}
}

/*
 * Empties fts.db if it does not belong to this index.db (epoch differs):
 * everything is indexed again from msg_cache.
 */
static int
emb_fts_check_epoch(struct embedded_user *u, struct err *err)
{
	static const char sql[] =
	    "SELECT value FROM fts.meta WHERE key = 'epoch'";
	int64_t mine, theirs;

	if (emb_fts_epoch(u, &mine, err) < 0 ||
	    embedded_sql_int(u, sql, NULL, &theirs, err) < 0)
		return -1;
	if (mine == theirs)
		return 0;
	/*
	 * Again under fts.db's write lock: another handle may have reset it
	 * meanwhile and indexed since, which a second reset would undo.
	 */
	if (emb_fts_begin_write(u, err) < 0 ||
	    embedded_sql_int(u, sql, NULL, &theirs, err) < 0)
		goto fail;
	if (mine == theirs)
		return emb_fts_exec(u, "COMMIT", err) < 0 ? -1 : 0;
	if (emb_fts_exec(u,
	                 "INSERT INTO fts.msg_text(msg_text) VALUES"
	                 " ('delete-all');"
	                 "UPDATE fts.meta SET value = 0 WHERE key IN"
	                 " ('fts_upto', 'gone_upto');",
	                 err) < 0 ||
	    emb_fts_set(u, "epoch", mine, err) < 0 ||
	    emb_fts_exec(u, "COMMIT", err) < 0)
		goto fail;
	/* What fts_gone held was for the old index. */
	return emb_fts_exec(u, "DELETE FROM main.fts_gone", err);
fail:
	embedded_rollback(u);
	return -1;
}

/*
 * Creates fts.db's schema, or replaces one of user_version 1 or 2 (see
 * emb_fts_upgrade).  Nothing is written when it is current: every attach
 * came here, and a write in a second handle's attach made the indexer's
 * deferred transaction on fts.db fail at once (SQLITE_BUSY on a stale
 * snapshot, see embedded_cache_index_some()).
 */
static int
emb_fts_schema_ensure(struct embedded_user *u, struct err *err)
{
	int64_t version;

	if (embedded_sql_int(u, "PRAGMA fts.user_version", NULL, &version,
	                     err) < 0)
		return -1;
	if (version == 3)
		return 0;
	if ((version == 1 || version == 2) &&
	    emb_fts_exec(u, emb_fts_upgrade, err) < 0)
		return -1;
	return emb_fts_exec(u, emb_fts_schema, err);
}

int
embedded_fts_attach(struct embedded_user *u, struct err *err)
{
	sqlite3_stmt *st;
	struct buf path = BUF_INIT;
	int rc;

	if (u->fts_attached)
		return 0;
	if (buf_printf(&path, "%s/fts.db", u->dir) < 0)
		return err_set(err, ERR_TEMP, "store: out of memory");
	if (embedded_db_create_file(buf_cstr(&path), err) < 0) {
		buf_free(&path);
		return -1;
	}
	if (embedded_fts_tok_register(u->db, err) < 0) {
		buf_free(&path);
		return -1;
	}
	rc = sqlite3_prepare_v2(u->db, "ATTACH DATABASE ?1 AS fts", -1, &st,
	                        NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, buf_cstr(&path), -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
	}
	buf_free(&path);
	if (rc != SQLITE_OK && rc != SQLITE_DONE)
		return embedded_db_error(u, rc, "attach fts.db", err);
	u->fts_attached = true;
	/*
	 * No fsync per batch: a crash loses only index rows together with
	 * their watermark (one transaction), and they are indexed again.
	 */
	if (emb_fts_exec(u,
	                 "PRAGMA fts.journal_mode = WAL;"
	                 "PRAGMA fts.synchronous = NORMAL;",
	                 err) < 0 ||
	    emb_fts_schema_ensure(u, err) < 0 ||
	    emb_fts_check_epoch(u, err) < 0) {
		embedded_fts_detach(u);
		return -1;
	}
	return 0;
}

void
embedded_fts_detach(struct embedded_user *u)
{
	if (!u->fts_attached)
		return;
	/* Fails only inside a transaction: then it stays for the next time. */
	if (sqlite3_exec(u->db, "DETACH DATABASE fts", NULL, NULL, NULL) ==
	    SQLITE_OK)
		u->fts_attached = false;
}

/*
 * Forgets the deleted rows fts_gone holds above gone_upto that were
 * indexed (a row above fts_upto never was, and its text is no longer in
 * msg_cache to be indexed later); *gone_r gets the new gone_upto.
 */
static int
emb_fts_apply_gone(struct embedded_user *u, int64_t upto, int64_t *gone_r,
                   struct err *err)
{
	static const char sql[] =
	    "INSERT INTO fts.msg_text(msg_text, rowid, t_hdr, t_body)"
	    " SELECT 'delete', cache_id, t_hdr, t_body FROM main.fts_gone"
	    " WHERE id > ?1 AND cache_id <= ?2 ORDER BY id";
	sqlite3_stmt *st;
	int64_t from = *gone_r;
	int rc;

	if (embedded_sql_int(u,
	                     "SELECT coalesce(max(id), 0) FROM main.fts_gone",
	                     NULL, gone_r, err) < 0)
		return -1;
	if (*gone_r <= from) {
		*gone_r = from;
		return 0;
	}
	rc = sqlite3_prepare_v2(u->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return embedded_db_error(u, rc, "fts delete", err);
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, upto);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return embedded_db_error(u, rc, "fts delete", err);
	return emb_fts_set(u, "gone_upto", *gone_r, err);
}

/* Adds up to max msg_cache rows above *upto; *n_r how many were added. */
static int
emb_fts_add(struct embedded_user *u, int64_t *upto, size_t max, size_t *n_r,
            struct err *err)
{
	static const char sql[] =
	    "INSERT INTO fts.msg_text(rowid, t_hdr, t_body) SELECT id, "
	    "t_hdr, " EMB_BODY_TEXT(
	        "") " FROM main.msg_cache WHERE id > ?1 ORDER BY id"
	            " LIMIT ?2 RETURNING rowid";
	sqlite3_stmt *st;
	int64_t last = *upto;
	int rc = sqlite3_prepare_v2(u->db, sql, -1, &st, NULL);

	*n_r = 0;
	if (rc != SQLITE_OK)
		return embedded_db_error(u, rc, "index", err);
	sqlite3_bind_int64(st, 1, *upto);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);

		last = id > last ? id : last;
		(*n_r)++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return embedded_db_error(u, rc, "index", err);
	*upto = last;
	return *n_r > 0 ? emb_fts_set(u, "fts_upto", last, err) : 0;
}

/*
 * Removes the fts_gone rows fts.db has applied (a short index.db write;
 * if it fails they go with the next one).
 */
static int
emb_fts_trim_gone(struct embedded_user *u, int64_t gone, struct err *err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(
	    u->db, "DELETE FROM main.fts_gone WHERE id <= ?1", -1, &st, NULL);

	if (rc != SQLITE_OK)
		return embedded_db_error(u, rc, "fts trim", err);
	sqlite3_bind_int64(st, 1, gone);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0
	                         : embedded_db_error(u, rc, "fts trim", err);
}

/*
 * Whether fts_gone holds rows fts.db has applied: this handle's, or
 * another's between its COMMIT and its trim, or a failed trim's.  A read
 * first: the trim's DELETE takes index.db's write lock even with nothing
 * to remove.
 */
static bool
emb_fts_applied_left(struct embedded_user *u)
{
	int64_t left = 0;
	struct err err;

	return embedded_sql_int(
	           u,
	           "SELECT EXISTS (SELECT 1 FROM main.fts_gone WHERE"
	           " id <= (SELECT value FROM fts.meta WHERE key ="
	           " 'gone_upto'))",
	           NULL, &left, &err) == 0 &&
	       left != 0;
}

int
embedded_cache_index_some(struct embedded_user *u, size_t max, bool *done_r,
                          struct err *err)
{
	int64_t upto, gone;
	size_t n = 0;

	if (embedded_fts_attach(u, err) < 0)
		return -1;
	if (emb_fts_begin_write(u, err) < 0)
		goto fail;
	if (embedded_sql_int(u, "SELECT value FROM fts.meta WHERE key = ?1",
	                     "fts_upto", &upto, err) < 0 ||
	    embedded_sql_int(u, "SELECT value FROM fts.meta WHERE key = ?1",
	                     "gone_upto", &gone, err) < 0)
		goto fail;
	if (emb_fts_apply_gone(u, upto, &gone, err) < 0 ||
	    emb_fts_add(u, &upto, max, &n, err) < 0 ||
	    emb_fts_exec(u, "COMMIT", err) < 0)
		goto fail;
	*done_r = n < max;
	if (emb_fts_applied_left(u))
		return emb_fts_trim_gone(u, gone, err);
	return 0;
fail:
	embedded_rollback(u);
	return -1;
}

bool
embedded_fts_pending(struct embedded_user *u)
{
	int64_t pending = 1;
	struct err err;

	if (embedded_fts_attach(u, &err) < 0 ||
	    embedded_sql_int(
	        u,
	        "SELECT (SELECT coalesce(max(id), 0) FROM main.msg_cache)"
	        " > (SELECT value FROM fts.meta WHERE key = 'fts_upto')"
	        /* to apply, or applied and not yet trimmed */
	        " OR EXISTS (SELECT 1 FROM main.fts_gone)",
	        NULL, &pending, &err) < 0)
		return true;
	return pending != 0;
}
