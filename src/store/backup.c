/*
 * backup: see backup.h.  Works on the files directly (no store handle):
 * `postamt backup` runs beside the server, in another process, the way
 * any SQLite reader does (WAL: it never blocks a delivery).
 */
#include "store/backup.h"
#include "store/embedded_private.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "util/buf.h"
#include "util/sqlite_setup.h"

/* Snapshots of one user's index before giving up (see backup.h). */
#define STORE_BACKUP_TRIES 3

static int
backup_sql_error(sqlite3 *db, const char *what, const char *path,
                 struct err *err)
{
	return err_set(err, ERR_IO, "backup: %s %s: %s", what, path,
	               db != NULL ? sqlite3_errmsg(db) : "out of memory");
}

/*
 * Opens path (created if create), read-write: a live index in WAL mode is
 * read like any other client reads it (its -shm is shared), and a copy,
 * whose header says WAL too, needs its own.  The caller closes *db_r.
 */
static int
backup_open(const char *path, bool create, sqlite3 **db_r, struct err *err)
{
	int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);

	sqlite_setup();
	if (sqlite3_open_v2(path, db_r, flags, NULL) != SQLITE_OK)
		return backup_sql_error(*db_r, "cannot open", path, err);
	sqlite3_busy_timeout(*db_r, 5000);
	return 0;
}

/* PRAGMA quick_check on db: 0 if it says "ok". */
static int
backup_check(sqlite3 *db, const char *path, struct err *err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL);
	bool ok = false;

	if (rc != SQLITE_OK)
		return backup_sql_error(db, "cannot check", path, err);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(st, 0);

		ok = v != NULL && strcmp((const char *)v, "ok") == 0;
	}
	sqlite3_finalize(st);
	return ok ? 0
	          : err_set(err, ERR_IO, "backup: %s is damaged (quick_check)",
	                    path);
}

int
store_backup_db(const char *src, const char *dst, struct err *err)
{
	sqlite3 *from = NULL, *to = NULL;
	sqlite3_backup *b;
	int rc = -1;

	if (access(dst, F_OK) == 0)
		return err_set(err, ERR_EXISTS, "backup: %s exists", dst);
	if (backup_open(src, false, &from, err) < 0 ||
	    backup_open(dst, true, &to, err) < 0)
		goto out;
	/* One step of every page: one read transaction, one snapshot. */
	b = sqlite3_backup_init(to, "main", from, "main");
	if (b == NULL) {
		backup_sql_error(to, "cannot copy", src, err);
		goto out;
	}
	if (sqlite3_backup_step(b, -1) != SQLITE_DONE) {
		sqlite3_backup_finish(b);
		backup_sql_error(to, "cannot copy", src, err);
		goto out;
	}
	if (sqlite3_backup_finish(b) != SQLITE_OK) {
		backup_sql_error(to, "cannot copy", src, err);
		goto out;
	}
	rc = backup_check(to, dst, err);
out:
	sqlite3_close(from);
	sqlite3_close(to);
	return rc;
}

int
store_backup_copy(const char *src, const char *dst, struct err *err)
{
	char chunk[64 * 1024];
	struct stat sb;
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, e = 0;
	ssize_t n = 0;

	if (in < 0 || fstat(in, &sb) < 0 ||
	    (out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	                sb.st_mode & 07777)) < 0)
		e = errno;
	/* Writeback started as it goes; the caller's syncfs() waits. */
	while (e == 0 && (n = read(in, chunk, sizeof(chunk))) > 0)
		e = store_blob_write_all(out, chunk, (size_t)n, false);
	if (e == 0 && n < 0)
		e = errno;
	if (out >= 0 && close(out) < 0 && e == 0)
		e = errno;
	if (in >= 0)
		close(in);
	return e == 0 ? 0
	              : err_set(err, ERR_IO, "backup: cannot copy %s to %s: %s",
	                        src, dst, strerror(e));
}

int
store_backup_file(const char *src, const char *dst, bool *copied_r,
                  struct err *err)
{
	*copied_r = false;
	if (link(src, dst) == 0)
		return 0;
	if (errno != EXDEV && errno != EPERM)
		return err_set(err, errno == ENOENT ? ERR_NOTFOUND : ERR_IO,
		               "backup: cannot link %s: %s", src,
		               strerror(errno));
	*copied_r = true;
	return store_backup_copy(src, dst, err);
}

/* dir/name into path (reset first). */
static const char *
backup_path(struct buf *path, const char *dir, const char *name)
{
	buf_reset(path);
	buf_printf(path, "%s/%s", dir, name);
	return buf_cstr(path);
}

/*
 * Links (or copies) every blob file of src_dir into dst_dir that is not
 * there yet; tmp.* files are a write in progress or a crash's leftover.
 */
static int
backup_blobs(const char *src_dir, const char *dst_dir,
             struct store_backup_stats *st, struct err *err)
{
	struct buf from = BUF_INIT, to = BUF_INIT;
	DIR *d = opendir(src_dir);
	struct dirent *de;
	int rc = 0;

	if (d == NULL)
		return errno == ENOENT
		           ? 0
		           : err_set(err, ERR_IO, "backup: cannot read %s: %s",
		                     src_dir, strerror(errno));
	while (rc == 0 && (de = readdir(d)) != NULL) {
		bool copied;

		if (de->d_name[0] == '.' || strncmp(de->d_name, "tmp.", 4) == 0)
			continue;
		backup_path(&to, dst_dir, de->d_name);
		if (access(buf_cstr(&to), F_OK) == 0)
			continue;
		backup_path(&from, src_dir, de->d_name);
		rc = store_backup_file(buf_cstr(&from), buf_cstr(&to), &copied,
		                       err);
		if (rc < 0 && err->kind == ERR_NOTFOUND)
			rc = 0; /* expunged since readdir(): not needed */
		else if (rc == 0 && copied)
			st->files_copied++;
		else if (rc == 0)
			st->files_linked++;
	}
	closedir(d);
	buf_free(&from);
	buf_free(&to);
	return rc;
}

/* The blobs that db names as files (not kept in msg_data). */
static const char backup_file_blobs_sql[] =
    "SELECT DISTINCT m.blob FROM messages m WHERE NOT EXISTS"
    " (SELECT 1 FROM msg_data d WHERE d.blob = m.blob)";
/* An index from before schema 7, which kept every message in a file. */
static const char backup_file_blobs_old_sql[] =
    "SELECT DISTINCT blob FROM messages";

/*
 * Counts the blob files the snapshot at index names that are missing from
 * dst_dir and cannot be taken from src_dir any more; *messages_r gets the
 * snapshot's message count.
 */
static int
backup_missing(const char *index, const char *src_dir, const char *dst_dir,
               uint64_t *missing_r, uint64_t *messages_r,
               struct store_backup_stats *st, struct err *err)
{
	struct buf from = BUF_INIT, to = BUF_INIT;
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int rc = -1, step;

	*missing_r = *messages_r = 0;
	if (backup_open(index, false, &db, err) < 0)
		goto out;
	if (sqlite3_prepare_v2(db, backup_file_blobs_sql, -1, &q, NULL) !=
	        SQLITE_OK &&
	    sqlite3_prepare_v2(db, backup_file_blobs_old_sql, -1, &q, NULL) !=
	        SQLITE_OK) {
		backup_sql_error(db, "cannot read", index, err);
		goto out;
	}
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		const char *blob = (const char *)sqlite3_column_text(q, 0);
		bool copied;

		if (blob == NULL || strchr(blob, '/') != NULL)
			continue; /* never a path from the index */
		backup_path(&to, dst_dir, blob);
		if (access(buf_cstr(&to), F_OK) == 0)
			continue;
		backup_path(&from, src_dir, blob);
		if (store_backup_file(buf_cstr(&from), buf_cstr(&to), &copied,
		                      err) == 0) {
			st->files_linked += copied ? 0 : 1;
			st->files_copied += copied ? 1 : 0;
		} else if (err->kind == ERR_NOTFOUND) {
			(*missing_r)++;
		} else {
			goto out;
		}
	}
	if (step != SQLITE_DONE) {
		backup_sql_error(db, "cannot read", index, err);
		goto out;
	}
	sqlite3_finalize(q);
	q = NULL;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM messages", -1, &q,
	                       NULL) != SQLITE_OK ||
	    sqlite3_step(q) != SQLITE_ROW) {
		backup_sql_error(db, "cannot read", index, err);
		goto out;
	}
	*messages_r = (uint64_t)sqlite3_column_int64(q, 0);
	rc = 0;
out:
	sqlite3_finalize(q);
	sqlite3_close(db);
	buf_free(&from);
	buf_free(&to);
	return rc;
}

/*
 * Copies the user directory src into dst (new): its blob files, then a
 * snapshot of its index (checked), then the blobs the snapshot names that
 * came in meanwhile.  A blob named but gone from src takes another
 * snapshot, up to tries in all; *missing_r says how many were still gone.
 */
static int
backup_user_copy(const char *src, const char *dst, int tries,
                 uint64_t *missing_r, struct store_backup_stats *st,
                 struct err *err)
{
	struct buf sblobs = BUF_INIT, dblobs = BUF_INIT, sidx = BUF_INIT,
	           didx = BUF_INIT;
	uint64_t messages = 0;
	int rc = -1;

	backup_path(&sblobs, src, "blobs");
	backup_path(&dblobs, dst, "blobs");
	backup_path(&sidx, src, "index.db");
	backup_path(&didx, dst, "index.db");
	if (mkdir(dst, 0700) < 0 || mkdir(buf_cstr(&dblobs), 0700) < 0) {
		err_set(err, errno == EEXIST ? ERR_EXISTS : ERR_IO,
		        "backup: cannot create %s: %s", dst, strerror(errno));
		goto out;
	}
	if (backup_blobs(buf_cstr(&sblobs), buf_cstr(&dblobs), st, err) < 0)
		goto out;
	for (int i = 0; i < tries; i++) {
		unlink(buf_cstr(&didx)); /* the last try's, if any */
		if (store_backup_db(buf_cstr(&sidx), buf_cstr(&didx), err) <
		        0 ||
		    backup_missing(buf_cstr(&didx), buf_cstr(&sblobs),
		                   buf_cstr(&dblobs), missing_r, &messages, st,
		                   err) < 0)
			goto out;
		if (*missing_r == 0)
			break;
	}
	rc = 0;
	if (*missing_r == 0) {
		st->users++;
		st->messages += messages;
		st->files_copied++; /* index.db */
	}
out:
	buf_free(&sblobs);
	buf_free(&dblobs);
	buf_free(&sidx);
	buf_free(&didx);
	return rc;
}

int
store_backup_user(const char *src, const char *dst,
                  struct store_backup_stats *st, struct err *err)
{
	uint64_t missing = 0;

	if (backup_user_copy(src, dst, STORE_BACKUP_TRIES, &missing, st, err) <
	    0)
		return -1;
	if (missing > 0)
		return err_set(err, ERR_TEMP,
		               "backup: %s: %llu messages were expunged while "
		               "they were copied, %d times; try again",
		               src, (unsigned long long)missing,
		               STORE_BACKUP_TRIES);
	return 0;
}

int
store_restore_user(const char *src, const char *dst,
                   struct store_backup_stats *st, struct err *err)
{
	uint64_t missing = 0;

	/* The same copy: a backup's snapshot is checked on the way back. */
	if (backup_user_copy(src, dst, 1, &missing, st, err) < 0)
		return -1;
	if (missing > 0)
		return err_set(err, ERR_IO,
		               "restore: %s: %llu message files are missing "
		               "from the backup",
		               src, (unsigned long long)missing);
	return 0;
}
