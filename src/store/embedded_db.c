/*
 * embedded_db: the per-user SQLite index: opening, schema, statements.
 *
 * One handle per opened user (per session), WAL so readers never block the
 * writer, synchronous=FULL so a committed row survives a power cut, and a
 * busy timeout so two sessions of one user wait for each other instead of
 * failing.
 */
#include "store/embedded_cache.h"
#include "util/sqlite_setup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Milliseconds a writer waits for another session's transaction. */
#define EMB_BUSY_TIMEOUT_MS 10000

static const char *const emb_sql[EMB_STMT_COUNT] = {
    [EMB_BEGIN] = "BEGIN",
    [EMB_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [EMB_COMMIT] = "COMMIT",
    [EMB_SAVEPOINT_ROW] = "SAVEPOINT emb_row",
    [EMB_ROLLBACK_ROW] = "ROLLBACK TO emb_row",
    [EMB_RELEASE_ROW] = "RELEASE emb_row",
    [EMB_FLAGS_GET] = "SELECT flags, modseq FROM messages "
                      "WHERE mailbox_id = ?1 AND uid = ?2",
    [EMB_FLAGS_SET] = "UPDATE messages SET flags = ?3, modseq = ?4 "
                      "WHERE mailbox_id = ?1 AND uid = ?2",
    [EMB_ROLLBACK] = "ROLLBACK",
    [EMB_MBOX_ID] = "SELECT id FROM mailboxes WHERE name = ?1",
    [EMB_MBOX_COUNTERS] = "SELECT id, uidnext, highestmodseq, uidvalidity, "
                          "objectid FROM mailboxes WHERE name = ?1",
    [EMB_MBOX_SET_COUNTERS] = "UPDATE mailboxes SET uidnext = ?2, "
                              "highestmodseq = ?3 WHERE id = ?1",
    [EMB_MBOX_STATUS] =
        "SELECT m.uidvalidity, m.uidnext, m.highestmodseq, "
        "(SELECT count(*) FROM messages WHERE mailbox_id = m.id), "
        "(SELECT count(*) FROM messages WHERE mailbox_id = m.id "
        " AND (flags & ?2) = 0), "
        "(SELECT coalesce(sum(size), 0) FROM messages "
        " WHERE mailbox_id = m.id), m.objectid "
        "FROM mailboxes m WHERE m.name = ?1",
    [EMB_MBOX_LIST] = "SELECT name, special_use, subscribed, objectid "
                      "FROM mailboxes ORDER BY name",
    [EMB_MSG_INSERT] = "INSERT INTO messages(mailbox_id, uid, blob, "
                       "size, flags, internaldate, modseq, savedate) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                       "CAST(strftime('%s', 'now') AS INTEGER))",
    [EMB_MSG_LIST] = "SELECT uid, flags, size, internaldate, modseq "
                     "FROM messages WHERE mailbox_id = ?1 ORDER BY uid",
    [EMB_MSG_BLOB] = "SELECT blob, size FROM messages "
                     "WHERE mailbox_id = ?1 AND uid = ?2",
    [EMB_MSG_FLAGS] = "SELECT flags FROM messages "
                      "WHERE mailbox_id = ?1 AND uid = ?2",
    [EMB_MSG_SET_FLAGS] = "UPDATE messages SET flags = ?3, modseq = ?4 "
                          "WHERE mailbox_id = ?1 AND uid = ?2",
    [EMB_MSG_DELETE] = "DELETE FROM messages "
                       "WHERE mailbox_id = ?1 AND uid = ?2 RETURNING blob",
    [EMB_EXPUNGED_INSERT] = "INSERT OR REPLACE INTO expunged(mailbox_id, "
                            "uid, modseq) VALUES (?1, ?2, ?3)",
    [EMB_BLOB_IS_USED] = "SELECT 1 FROM messages WHERE blob = ?1 LIMIT 1",
    [EMB_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [EMB_META_SET] = "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
    [EMB_META_RAISE] = "UPDATE meta SET value = ?2 WHERE key = ?1"
                       " AND value < ?2",
    [EMB_CACHE_MAX_ID] = "SELECT coalesce(max(id), 0) FROM msg_cache",
    [EMB_MBOX_INSERT] = "INSERT INTO mailboxes(name, uidvalidity, uidnext, "
                        "highestmodseq, special_use, objectid) VALUES (?1, "
                        "?2, ?3, ?4, ?5, lower(hex(randomblob(16))))",
    [EMB_MBOX_HAS_CHILD] = "SELECT 1 FROM mailboxes WHERE substr(name, 1, "
                           "length(?1) + 1) = ?1 || '/' LIMIT 1",
    [EMB_MBOX_DELETE] = "DELETE FROM mailboxes WHERE id = ?1",
    [EMB_MSG_DELETE_ALL] = "DELETE FROM messages WHERE mailbox_id = ?1 "
                           "RETURNING uid, blob",
    [EMB_EXPUNGED_DELETE_ALL] = "DELETE FROM expunged WHERE mailbox_id = ?1",
    [EMB_MBOX_SUBTREE] = "SELECT name FROM mailboxes WHERE name = ?1 OR "
                         "substr(name, 1, length(?1) + 1) = ?1 || '/' "
                         "ORDER BY name",
    [EMB_MBOX_SET_NAME] = "UPDATE mailboxes SET name = ?2 WHERE name = ?1",
    [EMB_MBOX_SUBSCRIBE] = "UPDATE mailboxes SET subscribed = ?2 "
                           "WHERE name = ?1",
    [EMB_MSG_GET] = "SELECT blob, size, flags, internaldate FROM messages "
                    "WHERE mailbox_id = ?1 AND uid = ?2",
    [EMB_MSG_MOVE_ALL] = "UPDATE messages SET mailbox_id = ?2 "
                         "WHERE mailbox_id = ?1 RETURNING uid",
    [EMB_CACHE_GET] = "SELECT c.envelope, c.bodystructure, c.body "
                      "FROM messages m JOIN msg_cache c ON c.blob = m.blob "
                      "WHERE m.mailbox_id = ?1 AND m.uid = ?2",
    [EMB_MSG_IDS] = "SELECT blob, coalesce(savedate, internaldate) "
                    "FROM messages WHERE mailbox_id = ?1 AND uid = ?2",
    [EMB_SYNC_NORMAL] = "PRAGMA synchronous = NORMAL",
    [EMB_SYNC_FULL] = "PRAGMA synchronous = FULL",
    [EMB_CACHE_INSERT] =
        "INSERT INTO msg_cache(id, blob, envelope, bodystructure, body,"
        " base_subject, from_mailbox, to_mailbox, cc_mailbox, from_display,"
        " to_display, message_id, in_reply_to, refs, t_hdr, t_body, sent_date,"
        " sent_day, crc, derive_size) VALUES ((SELECT value FROM meta"
        " WHERE key = 'cache_next'), ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
        " ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
        " ON CONFLICT(blob) DO NOTHING",
    [EMB_MSG_DATA] = "SELECT m.blob, m.size, d.data FROM messages m"
                     " LEFT JOIN msg_data d ON d.blob = m.blob"
                     " WHERE m.mailbox_id = ?1 AND m.uid = ?2",
    [EMB_DATA_INSERT] = "INSERT INTO msg_data(blob, data) VALUES (?1, ?2)",
    [EMB_DATA_GET] = "SELECT data FROM msg_data WHERE blob = ?1",
    [EMB_KW_LIST] = "SELECT bit, name FROM keywords",
};

/*
 * Version 1.  The blob index serves the "is this blob still referenced"
 * check of expunge; expunged rows serve QRESYNC (RFC 7162 3.2.10).
 */
static const char emb_schema[] =
    "CREATE TABLE mailboxes ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " uidvalidity INTEGER NOT NULL,"
    " uidnext INTEGER NOT NULL DEFAULT 1,"
    " highestmodseq INTEGER NOT NULL DEFAULT 1,"
    " special_use TEXT,"
    " subscribed INTEGER NOT NULL DEFAULT 1);"
    "CREATE TABLE messages ("
    " mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),"
    " uid INTEGER NOT NULL,"
    " blob TEXT NOT NULL,"
    " size INTEGER NOT NULL,"
    " flags INTEGER NOT NULL DEFAULT 0,"
    " internaldate INTEGER NOT NULL,"
    " modseq INTEGER NOT NULL,"
    " PRIMARY KEY (mailbox_id, uid)) WITHOUT ROWID;"
    "CREATE INDEX messages_blob ON messages(blob);"
    "CREATE TABLE expunged ("
    " mailbox_id INTEGER NOT NULL,"
    " uid INTEGER NOT NULL,"
    " modseq INTEGER NOT NULL,"
    " PRIMARY KEY (mailbox_id, uid)) WITHOUT ROWID;";

/*
 * Version 2: stable mailbox ids (RFC 8474 MAILBOXID), and a meta table with
 * the quota usage (kept by triggers, so no code path can forget it), the
 * last UIDVALIDITY handed out and the time of the last orphan-blob scan.
 */
static const char emb_schema_v2[] =
    "ALTER TABLE mailboxes ADD COLUMN objectid TEXT;"
    "UPDATE mailboxes SET objectid = lower(hex(randomblob(16)));"
    "CREATE UNIQUE INDEX mailboxes_objectid ON mailboxes(objectid);"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "INSERT INTO meta VALUES"
    " ('last_uidvalidity', (SELECT coalesce(max(uidvalidity), 0)"
    "  FROM mailboxes)),"
    " ('bytes', (SELECT coalesce(sum(size), 0) FROM messages)),"
    " ('messages', (SELECT count(*) FROM messages)),"
    " ('blob_gc', 0);"
    "CREATE TRIGGER messages_usage_add AFTER INSERT ON messages BEGIN"
    " UPDATE meta SET value = value + NEW.size WHERE key = 'bytes';"
    " UPDATE meta SET value = value + 1 WHERE key = 'messages'; END;"
    "CREATE TRIGGER messages_usage_del AFTER DELETE ON messages BEGIN"
    " UPDATE meta SET value = value - OLD.size WHERE key = 'bytes';"
    " UPDATE meta SET value = value - 1 WHERE key = 'messages'; END;";

/*
 * Version 3: what FETCH, SEARCH, SORT and THREAD need of a message,
 * computed once when it arrives (embedded_cache.c).  Keyed by blob, so a
 * COPY or MOVE (a new row naming the same blob) finds it without a
 * re-parse, and triggers drop it with the last row that names the blob, so
 * no code path that deletes messages can forget it.  msg_text is the FTS5
 * trigram index over the decoded header and body text; it is an
 * external-content table (the text is stored once, in msg_cache).
 * Indexing costs about 0.5 ms of CPU per message (measured: FTS5 trigram
 * tokenising, even in batches), more than the rest of a delivery, so it is
 * deferred: rows with id above meta.fts_upto are not in msg_text yet, and
 * search indexes them first (embedded_cache_fill()); AUTOINCREMENT keeps
 * ids rising, so the watermark is exact, and only indexed rows are deleted
 * from msg_text.
 * meta.cache_missing counts the message rows whose blob has no cache row
 * (kept by triggers): those that arrived before version 3, or by a path
 * that did not call embedded_cache_add().  Search and sort fill them in
 * first (embedded_cache_fill()); FETCH parses a message without a row.
 */
static const char emb_schema_v3[] =
    "CREATE TABLE msg_cache ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT," /* fts_upto needs order */
    " blob TEXT NOT NULL UNIQUE,"
    " envelope TEXT NOT NULL,"
    " bodystructure TEXT NOT NULL,"
    " body TEXT NOT NULL,"
    " sent_date INTEGER," /* NULL: no valid Date field */
    " sent_day INTEGER,"
    " base_subject TEXT NOT NULL,"
    " from_mailbox TEXT NOT NULL, to_mailbox TEXT NOT NULL,"
    " cc_mailbox TEXT NOT NULL, from_display TEXT NOT NULL,"
    " to_display TEXT NOT NULL, message_id TEXT NOT NULL,"
    " in_reply_to TEXT NOT NULL, refs TEXT NOT NULL,"
    " t_hdr TEXT NOT NULL,"
    " t_body TEXT NOT NULL);"
    "CREATE VIRTUAL TABLE msg_text USING fts5(t_hdr, t_body,"
    " content='msg_cache', content_rowid='id', tokenize='trigram');"
    "CREATE TRIGGER msg_cache_add AFTER INSERT ON msg_cache BEGIN"
    " UPDATE meta SET value = value - (SELECT count(*) FROM messages"
    "  WHERE blob = NEW.blob) WHERE key = 'cache_missing'; END;"
    "CREATE TRIGGER msg_cache_del AFTER DELETE ON msg_cache"
    " WHEN OLD.id <= (SELECT value FROM meta WHERE key = 'fts_upto') BEGIN"
    " INSERT INTO msg_text(msg_text, rowid, t_hdr, t_body)"
    "  VALUES ('delete', OLD.id, OLD.t_hdr, OLD.t_body); END;"
    "CREATE TRIGGER messages_cache_del AFTER DELETE ON messages"
    " WHEN NOT EXISTS (SELECT 1 FROM messages WHERE blob = OLD.blob) BEGIN"
    " DELETE FROM msg_cache WHERE blob = OLD.blob; END;"
    "CREATE TRIGGER messages_cache_missing AFTER INSERT ON messages"
    " WHEN NOT EXISTS (SELECT 1 FROM msg_cache WHERE blob = NEW.blob) BEGIN"
    " UPDATE meta SET value = value + 1 WHERE key = 'cache_missing'; END;"
    "CREATE TRIGGER messages_cache_gone AFTER DELETE ON messages"
    " WHEN NOT EXISTS (SELECT 1 FROM msg_cache WHERE blob = OLD.blob) BEGIN"
    " UPDATE meta SET value = value - 1 WHERE key = 'cache_missing'; END;"
    "INSERT OR REPLACE INTO meta VALUES ('cache_missing',"
    " (SELECT count(*) FROM messages)), ('fts_upto', 0);";

/*
 * Version 4: keywords (RFC 9051 2.3.2) as flag bits above the system
 * flags, one name per bit for the whole user (store.h), and the save date
 * of each message (RFC 8514: set when the row is inserted, so COPY and
 * MOVE set it anew); rows from before take their internal date.
 */
static const char emb_schema_v4[] =
    "CREATE TABLE keywords ("
    " bit INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE COLLATE NOCASE);"
    "ALTER TABLE messages ADD COLUMN savedate INTEGER;"
    "UPDATE messages SET savedate = internaldate;";

/*
 * Version 5: the full-text index moves to fts.db (embedded_fts.c), where
 * indexing holds its own write lock, not the deliveries'.  A deleted
 * cache row's text waits in fts_gone until fts.db has forgotten it.
 */
static const char emb_schema_v5[] =
    "DROP TABLE IF EXISTS msg_text;"
    "DROP TRIGGER IF EXISTS msg_cache_del;"
    "CREATE TABLE fts_gone ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " cache_id INTEGER NOT NULL,"
    " t_hdr TEXT NOT NULL,"
    " t_body TEXT NOT NULL);"
    "CREATE TRIGGER msg_cache_del AFTER DELETE ON msg_cache BEGIN"
    " INSERT INTO fts_gone(cache_id, t_hdr, t_body)"
    "  VALUES (OLD.id, OLD.t_hdr, OLD.t_body); END;"
    "DELETE FROM meta WHERE key = 'fts_upto';"
    "INSERT OR IGNORE INTO meta VALUES ('fts_epoch', 0);";

/*
 * Version 6: one flush per group commit (embedded_durable.c).  Each cache
 * row keeps the CRC-32 of its blob, and meta.blobs_durable the msg_cache
 * id up to which every blob is known to be on disk: only the rows above
 * it are checked after a crash.  Every row from before was fsynced first.
 */
static const char emb_schema_v6[] =
    "ALTER TABLE msg_cache ADD COLUMN crc INTEGER;"
    "INSERT OR REPLACE INTO meta VALUES ('blobs_durable',"
    " (SELECT coalesce(max(id), 0) FROM msg_cache));";

/*
 * Version 7: small messages kept in the index, in msg_data, instead of a
 * file each.  Creating a file per message was the largest cost of a
 * delivery: measured on this machine's ext4, a new file plus a syncfs()
 * every three messages ran at 970/s against 3,770/s for the same bytes
 * written into existing files, and after many deletions the kernel's
 * inode allocator alone took a third of the CPU.  Keyed by blob id like
 * the files, so copies share the bytes; the row goes with the last
 * message that names the blob (the trigger replaces version 3's).
 */
static const char emb_schema_v7[] =
    "CREATE TABLE msg_data ("
    " blob TEXT PRIMARY KEY,"
    " data BLOB NOT NULL) WITHOUT ROWID;"
    "DROP TRIGGER messages_cache_del;"
    "CREATE TRIGGER messages_blob_gone AFTER DELETE ON messages"
    " WHEN NOT EXISTS (SELECT 1 FROM messages WHERE blob = OLD.blob) BEGIN"
    " DELETE FROM msg_cache WHERE blob = OLD.blob;"
    " DELETE FROM msg_data WHERE blob = OLD.blob; END;";

/*
 * Version 8: long body text is no longer kept in msg_cache.t_body (it
 * was written three times more than the message itself, embedded_text.c):
 * derive_size, the message's size, says t_body is empty and the text is
 * computed from the message.  The delete trigger computes it for
 * fts_gone while the message is still there, unless pa_gone_text() says
 * the disk is full (embedded_text.c): then a deletion writes no text at
 * all, and the full-text index keeps that row's trigrams, which never
 * match (a search joins msg_cache), until it is rebuilt.  Version 9
 * makes the same trigger again on its copy of the table.
 */
#define EMB_CACHE_DEL_TRIGGER                                                  \
	"CREATE TRIGGER msg_cache_del AFTER DELETE ON msg_cache"               \
	" WHEN pa_gone_text() BEGIN"                                           \
	" INSERT INTO fts_gone(cache_id, t_hdr, t_body)"                       \
	"  VALUES (OLD.id, OLD.t_hdr, " EMB_BODY_TEXT("OLD.") "); END;"

static const char emb_schema_v8[] =
    "ALTER TABLE msg_cache ADD COLUMN derive_size INTEGER;"
    "DROP TRIGGER msg_cache_del;" EMB_CACHE_DEL_TRIGGER;

/*
 * Version 9: msg_cache without AUTOINCREMENT.  Its ids must never come
 * back (fts.db's fts_upto and fts_gone's cache_id are ids), which
 * AUTOINCREMENT kept in sqlite_sequence: a page of its own in every
 * delivery's commit.  meta.cache_next holds the next id now, taken by the
 * insert (EMB_CACHE_INSERT) and moved by its trigger; meta is written by
 * every delivery anyway.  SQLite cannot drop AUTOINCREMENT in place, so
 * the table is copied and its triggers made again; the rename runs with
 * legacy_alter_table, as the triggers of messages name msg_cache, which
 * is not there between the DROP and the RENAME.
 */
static const char emb_schema_v9[] =
    "CREATE TABLE msg_cache9 ("
    " id INTEGER PRIMARY KEY,"
    " blob TEXT NOT NULL UNIQUE,"
    " envelope TEXT NOT NULL,"
    " bodystructure TEXT NOT NULL,"
    " body TEXT NOT NULL,"
    " sent_date INTEGER,"
    " sent_day INTEGER,"
    " base_subject TEXT NOT NULL,"
    " from_mailbox TEXT NOT NULL, to_mailbox TEXT NOT NULL,"
    " cc_mailbox TEXT NOT NULL, from_display TEXT NOT NULL,"
    " to_display TEXT NOT NULL, message_id TEXT NOT NULL,"
    " in_reply_to TEXT NOT NULL, refs TEXT NOT NULL,"
    " t_hdr TEXT NOT NULL,"
    " t_body TEXT NOT NULL,"
    " crc INTEGER,"
    " derive_size INTEGER);"
    "INSERT INTO msg_cache9 SELECT id, blob, envelope, bodystructure, body,"
    " sent_date, sent_day, base_subject, from_mailbox, to_mailbox,"
    " cc_mailbox, from_display, to_display, message_id, in_reply_to, refs,"
    " t_hdr, t_body, crc, derive_size FROM msg_cache;"
    "INSERT OR REPLACE INTO meta VALUES ('cache_next', 1 + max("
    " (SELECT coalesce(max(id), 0) FROM msg_cache),"
    " coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'msg_cache'),"
    " 0)));"
    "DROP TABLE msg_cache;"
    "PRAGMA legacy_alter_table = ON;"
    "ALTER TABLE msg_cache9 RENAME TO msg_cache;"
    "PRAGMA legacy_alter_table = OFF;"
    "CREATE TRIGGER msg_cache_add AFTER INSERT ON msg_cache BEGIN"
    " UPDATE meta SET value = value - (SELECT count(*) FROM messages"
    "  WHERE blob = NEW.blob) WHERE key = 'cache_missing';"
    " UPDATE meta SET value = max(value, NEW.id + 1)"
    "  WHERE key = 'cache_next'; END;" EMB_CACHE_DEL_TRIGGER;

/*
 * The default mailboxes (RFC 6154 special-use).  UIDVALIDITY comes from the
 * clock (RFC 9051 2.3.1.1 suggests a time-based value); consecutive values
 * keep the six apart.  Creating mailboxes later must pick a value above
 * max(uidvalidity) so a name deleted and re-created gets a new one.
 */
static const char emb_defaults[] =
    "INSERT INTO mailboxes(name, uidvalidity, special_use) VALUES"
    " ('INBOX', ?1, NULL), ('Drafts', ?1 + 1, '\\Drafts'),"
    " ('Sent', ?1 + 2, '\\Sent'), ('Trash', ?1 + 3, '\\Trash'),"
    " ('Junk', ?1 + 4, '\\Junk'), ('Archive', ?1 + 5, '\\Archive')";

int
embedded_db_error(struct embedded_user *u, int rc, const char *what,
                  struct err *err)
{
	enum err_kind kind = ERR_IO;

	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_FULL ||
	    rc == SQLITE_NOMEM)
		kind = ERR_TEMP;
	if ((rc & 0xff) == SQLITE_FULL)
		u->out_of_space = true;
	return err_set(err, kind, "store: %s: %s", what,
	               u->db != NULL ? sqlite3_errmsg(u->db)
	                             : sqlite3_errstr(rc));
}

bool
embedded_space_retry(struct embedded_user *u)
{
	if (!u->out_of_space)
		return false;
	u->out_of_space = false;
	store_reserve_release(u->base.store);
	if (u->gone_text != NULL)
		*u->gone_text = false;
	return true;
}

void
embedded_space_done(struct embedded_user *u)
{
	if (u->gone_text != NULL)
		*u->gone_text = true;
}

int
embedded_stmt(struct embedded_user *u, enum emb_stmt id, sqlite3_stmt **st_r,
              struct err *err)
{
	int rc;

	if (u->stmt[id] == NULL) {
		rc = sqlite3_prepare_v3(u->db, emb_sql[id], -1,
		                        SQLITE_PREPARE_PERSISTENT, &u->stmt[id],
		                        NULL);
		if (rc != SQLITE_OK)
			return embedded_db_error(u, rc, "prepare", err);
	}
	sqlite3_reset(u->stmt[id]);
	sqlite3_clear_bindings(u->stmt[id]);
	*st_r = u->stmt[id];
	return 0;
}

int
embedded_run(struct embedded_user *u, enum emb_stmt id, struct err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (embedded_stmt(u, id, &st, err) < 0)
		return -1;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return embedded_db_error(u, rc, emb_sql[id], err);
	return 0;
}

void
embedded_rollback(struct embedded_user *u)
{
	if (!sqlite3_get_autocommit(u->db))
		embedded_run(u, EMB_ROLLBACK, NULL);
}

int
embedded_mailbox_id(struct embedded_user *u, const char *mailbox, int64_t *id_r,
                    struct err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (embedded_stmt(u, EMB_MBOX_ID, &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, mailbox, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id_r = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return err_set(err, ERR_NOTFOUND, "no mailbox \"%.200s\"",
		               mailbox);
	if (rc != SQLITE_ROW)
		return embedded_db_error(u, rc, "mailbox lookup", err);
	return 0;
}

/* Runs SQL text with no results outside the statement cache. */
static int
emb_exec(struct embedded_user *u, const char *sql, struct err *err)
{
	int rc = sqlite3_exec(u->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : embedded_db_error(u, rc, "exec", err);
}

/*
 * The open's pragmas.  journal_mode=WAL on a new file needs an exclusive
 * lock that SQLite does not wait for (a SHARED holder asking for
 * EXCLUSIVE could deadlock, so the busy handler is not called): two first
 * opens of one user at once failed with "database is locked" (a delivery
 * refused with 451 in 1 of 20 runs of 20 SMTP sessions to a new user).
 * So SQLITE_BUSY is tried again, every millisecond, up to the busy
 * timeout.
 * secure_delete FAST: deleted rows are zeroed inside their pages, but
 * freed pages are not written again.  Debian builds SQLite with it on,
 * so an expunge wrote every page of every message it deleted once more
 * (48 KiB messages: 12 pages each), which on a full disk did not fit
 * even the room of the disk reserve; a blob file's blocks are no more
 * erased when it is unlinked.
 */
static int
emb_open_pragmas(struct embedded_user *u, struct err *err)
{
	static const char sql[] = "PRAGMA journal_mode = WAL;"
	                          "PRAGMA synchronous = FULL;"
	                          "PRAGMA secure_delete = FAST;"
	                          "PRAGMA foreign_keys = ON;";
	const struct timespec pause = {0, 1000 * 1000};
	int rc;

	for (int tries = 0;; tries++) {
		rc = sqlite3_exec(u->db, sql, NULL, NULL, NULL);
		if ((rc & 0xff) != SQLITE_BUSY || tries >= EMB_BUSY_TIMEOUT_MS)
			break;
		nanosleep(&pause, NULL);
	}
	return rc == SQLITE_OK ? 0 : embedded_db_error(u, rc, "open", err);
}

static int
emb_user_version(struct embedded_user *u, int *version_r, struct err *err)
{
	int64_t v;

	if (embedded_sql_int(u, "PRAGMA user_version", NULL, &v, err) < 0)
		return -1;
	*version_r = (int)v;
	return 0;
}

static int
emb_insert_defaults(struct embedded_user *u, struct err *err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(u->db, emb_defaults, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return embedded_db_error(u, rc, "default mailboxes", err);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)(uint32_t)time(NULL));
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return embedded_db_error(u, rc, "default mailboxes", err);
	return 0;
}

/*
 * Creates or upgrades the schema (and the default mailboxes) in one
 * transaction.  Two sessions may open a user at once: the version is read
 * again under the write lock, so only the first changes anything.
 */
static int
emb_schema_create(struct embedded_user *u, struct err *err)
{
	char sql[64];
	int version;

	if (embedded_run(u, EMB_BEGIN_IMMEDIATE, err) < 0)
		return -1;
	if (emb_user_version(u, &version, err) < 0)
		goto fail;
	if (version == 0 && (emb_exec(u, emb_schema, err) < 0 ||
	                     emb_insert_defaults(u, err) < 0))
		goto fail;
	/* Each step upgrades an older index in place. */
	if (version < 2 && emb_exec(u, emb_schema_v2, err) < 0)
		goto fail;
	if (version < 3 && emb_exec(u, emb_schema_v3, err) < 0)
		goto fail;
	if (version < 4 && emb_exec(u, emb_schema_v4, err) < 0)
		goto fail;
	if (version < 5 && emb_exec(u, emb_schema_v5, err) < 0)
		goto fail;
	if (version < 6 && emb_exec(u, emb_schema_v6, err) < 0)
		goto fail;
	if (version < 7 && emb_exec(u, emb_schema_v7, err) < 0)
		goto fail;
	if (version < 8 && emb_exec(u, emb_schema_v8, err) < 0)
		goto fail;
	if (version < 9 && emb_exec(u, emb_schema_v9, err) < 0)
		goto fail;
	if (version < EMB_SCHEMA_VERSION) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		         EMB_SCHEMA_VERSION);
		if (emb_exec(u, sql, err) < 0)
			goto fail;
	}
	if (embedded_run(u, EMB_COMMIT, err) < 0)
		goto fail;
	return 0;
fail:
	embedded_rollback(u);
	return -1;
}

int
embedded_db_create_file(const char *path, struct err *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return err_set(err, ERR_IO, "store: create %s: %s", path,
		               strerror(errno));
	close(fd);
	return 0;
}

int
embedded_db_open(struct embedded_user *u, struct err *err)
{
	struct buf path = BUF_INIT;
	int rc, version;

	if (buf_printf(&path, "%s/index.db", u->dir) < 0)
		return err_set(err, ERR_TEMP, "store: out of memory");
	if (embedded_db_create_file(buf_cstr(&path), err) < 0) {
		buf_free(&path);
		return -1;
	}
	/*
	 * NOMUTEX: a handle serves one thread at a time (store.h), so
	 * SQLite's per-connection mutex, taken by every step and column
	 * call, only cost time (SELECT of 5,000 messages: 30,000 calls).
	 */
	sqlite_setup();
	rc = sqlite3_open_v2(buf_cstr(&path), &u->db,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	buf_free(&path);
	if (rc != SQLITE_OK)
		return embedded_db_error(u, rc, "open index", err);
	sqlite3_busy_timeout(u->db, EMB_BUSY_TIMEOUT_MS);
	if (embedded_text_register(u, err) < 0 ||
	    emb_open_pragmas(u, err) < 0 ||
	    emb_user_version(u, &version, err) < 0)
		return -1;
	if (version < EMB_SCHEMA_VERSION)
		return emb_schema_create(u, err);
	if (version > EMB_SCHEMA_VERSION)
		return err_set(err, ERR_INTERNAL,
		               "store: index schema %d is newer than this "
		               "program (%d)",
		               version, EMB_SCHEMA_VERSION);
	return 0;
}

/*
 * Steps st (bound already) for one integer, 0 without a row, then resets
 * it (cached) or finalizes it.
 */
static int
emb_step_int(struct embedded_user *u, sqlite3_stmt *st, bool cached,
             int64_t *value_r, const char *what, struct err *err)
{
	int rc = sqlite3_step(st);

	*value_r = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	if (cached)
		sqlite3_reset(st);
	else
		sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return embedded_db_error(u, rc, what, err);
	return 0;
}

int
embedded_sql_int(struct embedded_user *u, const char *sql, const char *arg,
                 int64_t *value_r, struct err *err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(u->db, sql, -1, &st, NULL);

	*value_r = 0;
	if (rc != SQLITE_OK)
		return embedded_db_error(u, rc, "query", err);
	if (arg != NULL)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	return emb_step_int(u, st, false, value_r, "query", err);
}

int
embedded_stmt_int(struct embedded_user *u, enum emb_stmt id, int64_t *value_r,
                  struct err *err)
{
	sqlite3_stmt *st;

	*value_r = 0;
	if (embedded_stmt(u, id, &st, err) < 0)
		return -1;
	return emb_step_int(u, st, true, value_r, "query", err);
}

int
embedded_meta_get(struct embedded_user *u, const char *key, int64_t *value_r,
                  struct err *err)
{
	sqlite3_stmt *st;

	*value_r = 0;
	if (embedded_stmt(u, EMB_META_GET, &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	return emb_step_int(u, st, true, value_r, "meta", err);
}

/* A statement of (key, value) without results. */
static int
emb_meta_write(struct embedded_user *u, enum emb_stmt id, const char *key,
               int64_t value, struct err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (embedded_stmt(u, id, &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, value);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : embedded_db_error(u, rc, "meta", err);
}

int
embedded_meta_set(struct embedded_user *u, const char *key, int64_t value,
                  struct err *err)
{
	return emb_meta_write(u, EMB_META_SET, key, value, err);
}

int
embedded_meta_raise(struct embedded_user *u, const char *key, int64_t value,
                    struct err *err)
{
	return emb_meta_write(u, EMB_META_RAISE, key, value, err);
}
