/*
 * backup: see backup.h.  Works on the files directly (no store handle):
 * `postamt backup` runs beside the server, in another process, the way
 * any SQLite reader does (WAL: it never blocks a delivery).
 */
#include "store/backup.h"

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

/* Opens path and checks it. */
static int
backup_check_path(const char *path, struct err *err)
{
	sqlite3 *db = NULL;
	int rc = backup_open(path, false, &db, err) < 0
	             ? -1
	             : backup_check(db, path, err);

	sqlite3_close(db);
	return rc;
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
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
	ssize_t n = 0;

	if (in < 0 || fstat(in, &sb) < 0 ||
	    (out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	                sb.st_mode & 07777)) < 0) {
		err_set(err, ERR_IO, "backup: cannot copy %s: %s", src,
		        strerror(errno));
		goto out;
	}
	while ((n = read(in, chunk, sizeof(chunk))) > 0)
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, chunk + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				n = -1;
				break;
			}
			off += w;
		}
	if (n < 0) {
		err_set(err, ERR_IO, "backup: cannot copy %s: %s", src,
		        strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) < 0 && rc == 0)
		rc = err_set(err, ERR_IO, "backup: cannot write %s: %s", dst,
		             strerror(errno));
	return rc;
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

/* A user directory's paths on both sides. */
struct backup_user {
	struct buf sblobs, dblobs; /* src/blobs, dst/blobs */
	struct buf sidx, didx;     /* src/index.db, dst/index.db */
};

static void
backup_user_free(struct backup_user *b)
{
	buf_free(&b->sblobs);
	buf_free(&b->dblobs);
	buf_free(&b->sidx);
	buf_free(&b->didx);
}

/* Counts a user that went well; frees b either way; returns rc. */
static int
backup_user_done(struct backup_user *b, int rc, uint64_t messages,
                 struct store_backup_stats *st)
{
	if (rc == 0) {
		st->users++;
		st->messages += messages;
		st->files_copied++; /* index.db */
	}
	backup_user_free(b);
	return rc;
}

/* Fills b and makes dst and dst/blobs; dst must not exist. */
static int
backup_user_init(struct backup_user *b, const char *src, const char *dst,
                 struct err *err)
{
	memset(b, 0, sizeof(*b));
	backup_path(&b->sblobs, src, "blobs");
	backup_path(&b->dblobs, dst, "blobs");
	backup_path(&b->sidx, src, "index.db");
	backup_path(&b->didx, dst, "index.db");
	if (mkdir(dst, 0700) < 0)
		return err_set(err, errno == EEXIST ? ERR_EXISTS : ERR_IO,
		               "backup: cannot create %s: %s", dst,
		               strerror(errno));
	if (mkdir(buf_cstr(&b->dblobs), 0700) < 0)
		return err_set(err, ERR_IO, "backup: cannot create %s: %s",
		               buf_cstr(&b->dblobs), strerror(errno));
	return 0;
}

int
store_backup_user(const char *src, const char *dst,
                  struct store_backup_stats *st, struct err *err)
{
	struct backup_user b;
	uint64_t missing = 0, messages = 0;
	int rc = -1;

	if (backup_user_init(&b, src, dst, err) < 0 ||
	    backup_blobs(buf_cstr(&b.sblobs), buf_cstr(&b.dblobs), st, err) < 0)
		goto out;
	for (int i = 0; i < STORE_BACKUP_TRIES; i++) {
		unlink(buf_cstr(&b.didx)); /* the last try's, if any */
		if (store_backup_db(buf_cstr(&b.sidx), buf_cstr(&b.didx), err) <
		        0 ||
		    backup_missing(buf_cstr(&b.didx), buf_cstr(&b.sblobs),
		                   buf_cstr(&b.dblobs), &missing, &messages, st,
		                   err) < 0)
			goto out;
		if (missing == 0)
			break;
	}
	if (missing > 0) {
		err_set(err, ERR_TEMP,
		        "backup: %s: %llu messages were expunged while they "
		        "were copied, %d times; try again",
		        src, (unsigned long long)missing, STORE_BACKUP_TRIES);
		goto out;
	}
	rc = 0;
out:
	return backup_user_done(&b, rc, messages, st);
}

int
store_restore_user(const char *src, const char *dst,
                   struct store_backup_stats *st, struct err *err)
{
	struct backup_user b;
	uint64_t missing = 0, messages = 0;
	int rc = -1;

	/* A plain copy: the backup's index is nobody's live database. */
	if (backup_user_init(&b, src, dst, err) < 0 ||
	    backup_blobs(buf_cstr(&b.sblobs), buf_cstr(&b.dblobs), st, err) <
	        0 ||
	    store_backup_copy(buf_cstr(&b.sidx), buf_cstr(&b.didx), err) < 0 ||
	    backup_missing(buf_cstr(&b.didx), buf_cstr(&b.sblobs),
	                   buf_cstr(&b.dblobs), &missing, &messages, st,
	                   err) < 0)
		goto out;
	if (missing > 0) {
		err_set(err, ERR_IO,
		        "restore: %s: %llu message files are missing from the "
		        "backup",
		        src, (unsigned long long)missing);
		goto out;
	}
	rc = backup_check_path(buf_cstr(&b.didx), err);
out:
	return backup_user_done(&b, rc, messages, st);
}
