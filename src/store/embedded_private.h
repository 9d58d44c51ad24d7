/*
 * embedded_private: the embedded backend's own pieces (SQLite index per
 * user plus one immutable blob file per message).
 *
 *   DATA/users/<shard>/<user>/index.db   mailboxes, messages, expunged
 *   DATA/users/<shard>/<user>/fts.db     the full-text index (embedded_fts.c)
 *   DATA/users/<shard>/<user>/blobs/     <32 hex digits>; tmp.<hex> while
 *                                        store_blob_write() writes one
 */
#ifndef POSTAMT_STORE_EMBEDDED_PRIVATE_H
#define POSTAMT_STORE_EMBEDDED_PRIVATE_H

#include <sqlite3.h>
#include <time.h>

#include "store/store_private.h"

/* Prepared statements, created on first use and finalized at close. */
enum emb_stmt {
	EMB_BEGIN,
	EMB_BEGIN_IMMEDIATE,
	EMB_COMMIT,
	EMB_SAVEPOINT_ROW,
	EMB_ROLLBACK_ROW,
	EMB_RELEASE_ROW,
	EMB_FLAGS_GET,
	EMB_FLAGS_SET,
	EMB_ROLLBACK,
	EMB_MBOX_ID,
	EMB_MBOX_COUNTERS,
	EMB_MBOX_SET_COUNTERS,
	EMB_MBOX_STATUS,
	EMB_MBOX_LIST,
	EMB_MSG_INSERT,
	EMB_MSG_LIST,
	EMB_MSG_BLOB,
	EMB_MSG_FLAGS,
	EMB_MSG_SET_FLAGS,
	EMB_MSG_DELETE,
	EMB_EXPUNGED_INSERT,
	EMB_BLOB_IS_USED,
	EMB_META_GET,
	EMB_META_SET,
	EMB_META_RAISE,
	EMB_MBOX_INSERT,
	EMB_MBOX_HAS_CHILD,
	EMB_MBOX_DELETE,
	EMB_MSG_DELETE_ALL,
	EMB_EXPUNGED_DELETE_ALL,
	EMB_MBOX_SUBTREE,
	EMB_MBOX_SET_NAME,
	EMB_MBOX_SUBSCRIBE,
	EMB_MSG_GET,
	EMB_MSG_MOVE_ALL,
	EMB_CACHE_GET,    /* embedded_cache.c: FETCH's cached strings */
	EMB_MSG_IDS,      /* embedded_keywords.c: EMAILID, SAVEDATE */
	EMB_CACHE_INSERT, /* embedded_cache.c: a message's cache row */
	EMB_CACHE_MAX_ID, /* embedded_durable.c: the newest cache row */
	EMB_MSG_DATA,     /* embedded_msg.c: where a message's bytes are */
	EMB_DATA_INSERT,  /* embedded_msg.c: a message kept in the index */
	EMB_DATA_GET,
	EMB_KW_LIST,     /* embedded_keywords.c: every keyword's name */
	EMB_SYNC_NORMAL, /* embedded_group.c: the WAL not fsynced by COMMIT */
	EMB_SYNC_FULL,
	EMB_STMT_COUNT
};

struct embedded_user {
	struct store_user base; /* first, so the pointers convert */
	char *dir;              /* DATA/users/<shard>/<user> */
	char *blob_dir;         /* dir/blobs */
	sqlite3 *db;
	sqlite3_stmt *stmt[EMB_STMT_COUNT];
	/* Keyword names by bit (embedded_keywords.c), NULL if unknown. */
	char *kw_names[32];
	/* store_shared.kw_gen + 1 when kw_names was loaded; 0: never. */
	uint64_t kw_gen;
	bool fts_attached; /* fts.db attached as "fts" (embedded_fts.c) */
	bool out_of_space; /* an SQLITE_FULL since last cleared */
	bool *gone_text; /* pa_gone_text()'s flag, owned by db (embedded_text.c)
	                  */
	/* pa_body_text()'s kept statement, finalized before db is closed. */
	sqlite3_stmt **text_get;
};

/* A blob id: 128 random bits as 32 lower-case hex digits, plus NUL. */
#define STORE_BLOB_ID_SIZE 33

/* tmp.* files older than this are crash leftovers (see store_blob_clean). */
#define STORE_BLOB_TMP_MAX_AGE (15 * 60)

/* Schema version kept in PRAGMA user_version. */
#define EMB_SCHEMA_VERSION 9 /* embedded_db.c: v9 drops AUTOINCREMENT */

/*
 * Orphan blobs (no row names them) younger than this may belong to a
 * delivery between its rename and its commit; older ones are garbage.
 */
#define STORE_BLOB_ORPHAN_MIN_AGE (15 * 60)

/*
 * Opening a user looks for orphan blobs at most this often (seconds): the
 * scan reads the whole blob directory, too much for every login.
 */
#define STORE_BLOB_GC_INTERVAL (60 * 60)

/* A mailbox's id and counters, read and written inside a transaction. */
struct emb_counters {
	int64_t id;
	int64_t uidnext;
	int64_t modseq;
	int64_t uidvalidity;
	char objectid[STORE_OBJECTID_SIZE]; /* RFC 8474 MAILBOXID */
};

static inline struct embedded_user *
embedded_user_of(struct store_user *u)
{
	return (struct embedded_user *)u;
}

/*
 * Appends to path the directory of address below DATA/users:
 * "<shard>/<name>", where shard is the first two hex digits of SHA-256 of
 * the lower-cased address and name is the lower-cased address with every
 * byte outside [a-z0-9._@+-] written as %XX.  ERR_SYNTAX for an empty
 * address, one with '/', control characters, "." or "..", or one whose
 * name would be longer than a file name may be.
 */
int store_user_path(const char *address, struct buf *path, struct err *err);

/*
 * Closes u's database (finalizing its statements; u->db NULL after), and
 * that and frees u (embedded_user.c).
 */
void embedded_user_close_db(struct embedded_user *u);
void embedded_user_destroy(struct embedded_user *u);

/*
 * Flag changes committed without an fsync (embedded_lazy.c).  A flag
 * transaction that gives out at most max_modseqs mod-sequences starts
 * with embedded_flags_begin() (*lazy_r: no fsync at its commit), ends
 * with embedded_flags_commit() (modseqs: how many it gave out) or
 * embedded_flags_abort().  embedded_lazy_bump(), inside the transaction
 * of embedded_recover(), moves HIGHESTMODSEQ past what a power cut may
 * have lost.
 */
int embedded_flags_begin(struct embedded_user *u, size_t max_modseqs,
                         bool *lazy_r, struct err *err);
int embedded_flags_commit(struct embedded_user *u, bool lazy, int64_t modseqs,
                          struct err *err);
void embedded_flags_abort(struct embedded_user *u, bool lazy);
int embedded_lazy_bump(struct embedded_user *u, struct err *err);

/*
 * One flush per group commit (embedded_durable.c).  embedded_blob_crc()
 * is what msg_cache.crc keeps of a message (CRC-32 from 0, data may come
 * in pieces: pass the last result); embedded_durable_max() the
 * highest msg_cache id (inside a transaction); embedded_recover(), at a
 * user's first open in a process, checks the blobs a crash may have lost
 * and runs embedded_lazy_bump(), in one transaction.
 */
uint32_t embedded_blob_crc(uint32_t crc, const void *data, size_t len);
int embedded_durable_max(struct embedded_user *u, int64_t *max_r,
                         struct err *err);
int embedded_recover(struct embedded_user *u, uint64_t boot, struct err *err);

/*
 * Registers fts.db's tokenizer "pa_trigram" (embedded_fts_tok.c) on db,
 * once per connection; before fts.db is first used on it.
 */
int embedded_fts_tok_register(sqlite3 *db, struct err *err);

/*
 * Closed handles resting for the next open of their user
 * (embedded_pool.c, s->pool).  embedded_pool_take() returns one of
 * address (lower-cased) or NULL; embedded_pool_put() keeps u if it is
 * between transactions (false: the caller destroys it), with its page
 * cache if keep_cache and the cache is small (a closed delivery handle),
 * else without (a session resting in IDLE).
 */
int embedded_pool_init(struct store *s, struct err *err);
void embedded_pool_free(struct store *s);
struct embedded_user *embedded_pool_take(struct store *s, const char *address);
bool embedded_pool_put(struct store *s, struct embedded_user *u,
                       bool keep_cache);

/* Opens the index of u->dir, creating the schema if needed (embedded_db.c). */
int embedded_db_open(struct embedded_user *u, struct err *err);

/*
 * Returns in *st_r the statement id, prepared on first use and reset, with
 * no bindings.  The caller steps it and calls sqlite3_reset() when done.
 */
int embedded_stmt(struct embedded_user *u, enum emb_stmt id,
                  sqlite3_stmt **st_r, struct err *err);

/*
 * Creates a database file (if absent) mode 0600 before SQLite opens it:
 * SQLite would honour only the umask.
 */
int embedded_db_create_file(const char *path, struct err *err);

/* Runs one statement without results (BEGIN, COMMIT ...). */
int embedded_run(struct embedded_user *u, enum emb_stmt id, struct err *err);

/* Rolls back the open transaction, if any. */
void embedded_rollback(struct embedded_user *u);

/* Fills err from an SQLite result code; returns -1. */
int embedded_db_error(struct embedded_user *u, int rc, const char *what,
                      struct err *err);

/* Looks up a mailbox id by (canonical) name.  ERR_NOTFOUND if missing. */
int embedded_mailbox_id(struct embedded_user *u, const char *mailbox,
                        int64_t *id_r, struct err *err);

/* Reads (ERR_NOTFOUND if missing) or writes a mailbox's counters. */
int embedded_counters_get(struct embedded_user *u, const char *mailbox,
                          struct emb_counters *c, struct err *err);
int embedded_counters_set(struct embedded_user *u, const struct emb_counters *c,
                          struct err *err);

/* Inserts a message row at c->uidnext with modseq c->modseq + 1. */
int embedded_msg_insert(struct embedded_user *u, const struct emb_counters *c,
                        const char *blob, uint64_t size, uint32_t flags,
                        int64_t internaldate, struct err *err);

/* What an expunge removed: blob ids to unlink and UIDs to publish. */
struct emb_gone {
	char (*blobs)[STORE_BLOB_ID_SIZE];
	uint32_t *uids;
	size_t n;
	uint64_t modseq;
};

/* Prepares g for up to count messages. */
int embedded_gone_init(struct emb_gone *g, size_t count, struct err *err);

/*
 * Deletes uids from the mailbox of c (inside a transaction), records them
 * in expunged with one new mod-sequence and adds what went to g.
 */
int embedded_expunge_rows(struct embedded_user *u, struct emb_counters *c,
                          const uint32_t *uids, size_t count,
                          struct emb_gone *g, struct err *err);

/*
 * After the commit (committed) unlinks the blobs no row names any more and
 * publishes an EXPUNGE per UID; frees g either way.
 */
void embedded_gone_finish(struct embedded_user *u, const char *mailbox,
                          struct emb_gone *g, bool committed);

/* True if some message row (in any mailbox) still names blob. */
bool embedded_blob_is_used(struct embedded_user *u, const char *blob);

/*
 * Reads or writes an integer of the meta table (inside a transaction);
 * embedded_meta_raise() writes value only over a smaller one.
 */
int embedded_meta_get(struct embedded_user *u, const char *key,
                      int64_t *value_r, struct err *err);
int embedded_meta_set(struct embedded_user *u, const char *key, int64_t value,
                      struct err *err);
int embedded_meta_raise(struct embedded_user *u, const char *key, int64_t value,
                        struct err *err);

/*
 * One integer (0 without a row): of sql, prepared for this call, with ?1
 * bound to arg if not NULL; or of the cached statement id, which takes
 * no parameters.
 */
int embedded_sql_int(struct embedded_user *u, const char *sql, const char *arg,
                     int64_t *value_r, struct err *err);
int embedded_stmt_int(struct embedded_user *u, enum emb_stmt id,
                      int64_t *value_r, struct err *err);

/*
 * ERR_QUOTA if adding bytes and messages would pass u's limits (inside a
 * transaction, so the usage read is the one the commit builds on).
 */
int embedded_quota_check(struct embedded_user *u, uint64_t bytes,
                         uint64_t messages, struct err *err);

/*
 * Removes blob files that no row names and that were last modified before
 * now - min_age.  Returns how many went (embedded_gc.c).
 */
int embedded_blob_gc(struct embedded_user *u, time_t now, time_t min_age);

/* Runs embedded_blob_gc() if the last run is STORE_BLOB_GC_INTERVAL old. */
void embedded_blob_gc_maybe(struct embedded_user *u, time_t now);

/* Backend operations implemented in embedded_*.c. */
int embedded_mailbox_create(struct store_user *u, const char *name,
                            const char *special_use, struct err *err);
int embedded_mailbox_delete(struct store_user *u, const char *name,
                            struct err *err);
int embedded_mailbox_rename(struct store_user *u, const char *from,
                            const char *to, struct err *err);
int embedded_mailbox_subscribe(struct store_user *u, const char *name, bool on,
                               struct err *err);
int embedded_append(struct store_user *u, const char *mailbox,
                    const struct store_append *msg, uint32_t *uidvalidity_r,
                    uint32_t *uid_r, struct err *err);
int embedded_copy(struct store_user *u, const char *from, const uint32_t *uids,
                  size_t count, const char *to, bool move,
                  uint32_t *uidvalidity_r, uint32_t *new_uids_r,
                  struct err *err);
int embedded_quota_get(struct store_user *u, struct store_quota *quota_r,
                       struct err *err);
int embedded_deliver(struct store_user *u, const char *mailbox,
                     const void *data, size_t len, uint32_t flags,
                     uint32_t *uid_r, struct err *err);
int embedded_msg_read(struct store_user *u, const char *mailbox, uint32_t uid,
                      struct buf *out, struct err *err);
int embedded_msg_open(struct store_user *u, const char *mailbox, uint32_t uid,
                      struct store_stream **stream_r, struct err *err);
int embedded_msg_set_flags(struct store_user *u, const char *mailbox,
                           uint32_t uid, int mode, uint32_t flags,
                           struct err *err);
int embedded_expunge(struct store_user *u, const char *mailbox,
                     const uint32_t *uids, size_t count, struct err *err);
int embedded_mailbox_marks(struct store_user *u, const char *mailbox,
                           struct store_mailbox_marks *marks_r,
                           struct err *err);
int embedded_mailbox_status(struct store_user *u, const char *mailbox,
                            struct store_mailbox_status *status_r,
                            struct err *err);
int embedded_mailbox_snapshot(struct store_user *u, const char *mailbox,
                              struct store_mailbox_status *status_r,
                              struct store_msg **msgs_r, size_t *count_r,
                              struct err *err);
int embedded_mailbox_messages(struct store_user *u, const char *mailbox,
                              struct store_msg **msgs_r, size_t *count_r,
                              struct err *err);
int embedded_mailbox_list(struct store_user *u,
                          struct store_mailbox_info **list_r, size_t *count_r,
                          struct err *err);

/*
 * Blob files (blob.c).  store_blob_write() writes data durably: a
 * tmp.<random> file created with O_EXCL, written, fsynced, renamed to
 * <new id> (store_blob_new_id()), and the directory fsynced.  On failure
 * nothing is left behind; ERR_TEMP when the disk is full, ERR_IO otherwise.
 */
int store_blob_write(const char *dir, const void *data, size_t len,
                     char id_r[STORE_BLOB_ID_SIZE], struct err *err);
/*
 * Writes all of data to fd and fsyncs it (sync) or only starts its
 * writeback (!sync: a later syncfs() waits for it); returns 0 or an errno
 * value.
 */
int store_blob_write_all(int fd, const void *data, size_t len, bool sync);
/*
 * A new blob id, for a message kept in the index (no file): 32 hex digits,
 * ordered by the time they were made (blob.c).
 */
int store_blob_new_id(char id_r[STORE_BLOB_ID_SIZE], struct err *err);

/*
 * The two halves of store_blob_write(), for group commit: the file is
 * written under its final name (no tmp file, no rename: the index commit
 * is the atomic step), its writeback started but not waited for; then one
 * store_blob_sync_all() (syncfs() of the file system) makes the content
 * and the name of every blob written before it durable: one cache flush
 * for the whole group instead of two fsyncs per message.  A crash before
 * the row commits leaves an orphan, whole or not, collected later; one
 * before the sync completes may leave a row naming an incomplete blob,
 * which embedded_recover() finds at the next start.  Same errors.
 */
int store_blob_write_file(const char *dir, const void *data, size_t len,
                          char id_r[STORE_BLOB_ID_SIZE], struct err *err);
int store_blob_sync_all(const char *dir, struct err *err);
/*
 * Whether blob id reads back as written (size bytes with CRC-32 crc,
 * embedded_blob_crc()): 1, and then it is fdatasync()ed; 0 if it is
 * missing, of another size or other bytes; -1 if that cannot be told
 * (a read error: nothing may be concluded from it).
 */
int store_blob_verify(const char *dir, const char *id, uint64_t size,
                      uint32_t crc, struct err *err);
/* fsync()s the blob directory: the names of the files in it durable. */
int store_blob_sync_dir(const char *dir, struct err *err);

/* Appends blob id to out; ERR_IO if its size is not size. */
int store_blob_read(const char *dir, const char *id, uint64_t size,
                    struct buf *out, struct err *err);

/*
 * Opens blob id for reading (*fd_r; the caller closes it); ERR_IO if its
 * size is not size.  store_blob_pread() reads up to len bytes at off of
 * such a descriptor into dst, fewer only at the end of the size bytes:
 * returns the count (0 at or past the end) or -1.
 */
int store_blob_open(const char *dir, const char *id, uint64_t size, int *fd_r,
                    struct err *err);
ssize_t store_blob_pread(int fd, uint64_t size, uint64_t off, void *dst,
                         size_t len, struct err *err);

/* Removes blob id (errors are logged, not returned: it is only garbage). */
void store_blob_unlink(const char *dir, const char *id);

/*
 * Removes tmp.* files last modified before now - max_age: what a crash in
 * the middle of store_blob_write() leaves.  Younger ones may belong to a
 * delivery running right now in another session.  Returns how many went.
 */
int store_blob_clean(const char *dir, time_t now, time_t max_age);

/*
 * Adding messages (embedded_msg.c, embedded_group.c).
 *
 * embedded_append_row() adds the row of one message whose blob is durable,
 * inside a transaction: mailbox counters, the given quota limits (0: none,
 * ERR_QUOTA), the UID limit (ERR_LIMIT), the row and its cache (computed
 * before by embedded_cache_compute(), outside the transaction).  *c gets
 * the counters before the insert (its UID is c->uidnext, its mod-sequence
 * c->modseq + 1).
 */
/*
 * Whether a message of len bytes is kept in the index (msg_data, schema
 * version 7) rather than in a blob file: up to store_set_inline_max().
 */
bool embedded_keeps(const struct embedded_user *u, size_t len);

/*
 * After a failed deletion: true if it failed for want of space; then the
 * disk reserve is released (reserve.c) and the connection writes no text
 * of deleted rows (pa_gone_text()) until embedded_space_done(), so trying
 * again needs little room.  Clears u->out_of_space either way.
 */
bool embedded_space_retry(struct embedded_user *u);
void embedded_space_done(struct embedded_user *u);

/* Appends the bytes of blob (size bytes), kept in the index or a file. */
int embedded_blob_read(struct embedded_user *u, const char *blob, uint64_t size,
                       struct buf *out, struct err *err);
/*
 * The same with the msg_data lookup get ("SELECT data FROM msg_data WHERE
 * blob = ?1") and the blob directory given, for a caller without a handle
 * (pa_body_text(), embedded_text.c); get is left reset.
 */
int embedded_bytes_read(sqlite3_stmt *get, const char *dir, const char *blob,
                        uint64_t size, struct buf *out, struct err *err);

struct emb_cache_row;
int embedded_append_row(struct embedded_user *u, const char *mailbox,
                        const char *blob, const struct store_append *msg,
                        const struct emb_cache_row *cache, uint64_t quota_bytes,
                        uint64_t quota_messages, struct emb_counters *c,
                        struct err *err);

/* The NEW change of a message embedded_append_row() added. */
void embedded_append_publish(struct embedded_user *u, const char *mailbox,
                             const struct store_append *msg,
                             const struct emb_counters *c);

/* ERR_QUOTA if adding bytes and messages would pass the given limits. */
int embedded_quota_check_limits(struct embedded_user *u, uint64_t bytes_limit,
                                uint64_t messages_limit, uint64_t bytes,
                                uint64_t messages, struct err *err);

/*
 * Group commit (embedded_group.c): the per-user queue every handle of a
 * user shares (struct store_shared backend), set up and freed with it.
 */
int embedded_group_init(struct store_shared *sh, struct store_user *u,
                        struct err *err);
void embedded_group_free(struct store_shared *sh);

/*
 * Commits the row of a message whose blob file is written (not its
 * directory) together with the other deliveries of the user waiting at the
 * same time: the first to arrive fsyncs the blob directory once, adds
 * every waiting row in one transaction, publishes their changes and wakes
 * the others.  Returns 0 when the row is committed and durable, with *c_r
 * as embedded_append_row() gives it; -1 with *err filled otherwise (the
 * caller then removes the blob); -2 with *err if the row was committed
 * but could not be made durable (the blob must stay: a row names it).
 */
int embedded_group_append(struct embedded_user *u, const char *mailbox,
                          const struct store_append *msg, const char *blob,
                          const struct emb_cache_row *cache,
                          struct emb_counters *c_r, struct err *err);

/*
 * The store-wide syncfs() rounds of group commit (s->backend): makes
 * every file written before the call durable (the group's blobs and the
 * index's WAL after its commit), sharing one
 * store_blob_sync_all() with every caller of any user that asks while
 * none has started.
 */
int embedded_sync_init(struct store *s, struct err *err);
void embedded_sync_free(struct store *s);
int embedded_sync_fs(struct store *s, const char *dir, struct err *err);

/*
 * The background full-text indexer (embedded_indexer.c, s->indexer): one
 * thread per store; embedded_indexer_kick() after a committed delivery
 * asks it to index that user's new rows soon.
 */
int embedded_indexer_init(struct store *s, struct err *err);
void embedded_indexer_free(struct store *s);
void embedded_indexer_kick(struct store *s, const char *address);

#endif
