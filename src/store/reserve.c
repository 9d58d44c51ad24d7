/*
 * reserve: space kept back on the data directory's file system so that
 * mail can still be deleted when the disk is full.
 *
 * SQLite deletes by writing: an expunge appends its pages to the WAL
 * (and the deleted text to fts_gone), so on a full disk it failed with
 * SQLITE_FULL (measured in store_diskfull_test), and a user could not
 * free space by deleting mail.  DATA/store.reserve, preallocated with
 * posix_fallocate() to store_set_disk_reserve() bytes, is that space:
 * a deletion that fails for want of it removes the file and tries once
 * more (embedded_space_retry()).  Deliveries then still fail (the disk
 * is full); once space is back, the file is made again, at most every
 * STORE_RESERVE_RETRY seconds, so the margin is there for the next time.
 */
#include "store/store_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/log.h"

/* Least time between two attempts to make the reserve again. */
#define STORE_RESERVE_RETRY 10

static int
reserve_path(const struct store *s, struct buf *path)
{
	return buf_printf(path, "%s/store.reserve", s->data_dir);
}

/* Makes the file hold bytes of allocated space; true if it does. */
static bool
reserve_make(const char *path, size_t bytes)
{
	struct stat st;
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	bool ok;

	if (fd < 0)
		return false;
	ok = fstat(fd, &st) == 0 && ((uint64_t)st.st_blocks * 512 >= bytes ||
	                             posix_fallocate(fd, 0, (off_t)bytes) == 0);
	close(fd);
	if (!ok)
		unlink(path); /* a part would only take space */
	return ok;
}

/* Under s->lock. */
static void
reserve_try(struct store *s)
{
	struct buf path = BUF_INIT;

	s->reserve_tried = time(NULL);
	if (reserve_path(s, &path) < 0)
		return;
	if (s->reserve_bytes == 0)
		unlink(buf_cstr(&path));
	/* None wanted is none missing: store_reserve_restore() stays a peek. */
	s->reserve_missing = s->reserve_bytes > 0 &&
	                     !reserve_make(buf_cstr(&path), s->reserve_bytes);
	buf_free(&path);
}

void
store_set_disk_reserve(struct store *s, size_t bytes)
{
	pthread_mutex_lock(&s->lock);
	s->reserve_bytes = bytes;
	reserve_try(s);
	pthread_mutex_unlock(&s->lock);
	if (bytes > 0 && s->reserve_missing)
		log_warn("store: no room for the %zu-byte disk reserve yet",
		         bytes);
}

void
store_reserve_release(struct store *s)
{
	struct buf path = BUF_INIT;
	bool freed = false;

	pthread_mutex_lock(&s->lock);
	if (s->reserve_bytes > 0 && !s->reserve_missing &&
	    reserve_path(s, &path) == 0) {
		freed = unlink(buf_cstr(&path)) == 0;
		s->reserve_missing = true;
		s->reserve_tried = time(NULL);
	}
	pthread_mutex_unlock(&s->lock);
	buf_free(&path);
	if (freed)
		log_warn("store: disk full: released the %zu-byte reserve so "
		         "that mail can be deleted",
		         s->reserve_bytes);
}

void
store_reserve_restore(struct store *s)
{
	/* A racy peek first: this runs after every delivery. */
	if (!__atomic_load_n(&s->reserve_missing, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&s->lock);
	if (s->reserve_missing && s->reserve_bytes > 0 &&
	    time(NULL) - s->reserve_tried >= STORE_RESERVE_RETRY) {
		reserve_try(s);
		if (!s->reserve_missing)
			log_info(
			    "store: disk reserve of %zu bytes in place again",
			    s->reserve_bytes);
	}
	pthread_mutex_unlock(&s->lock);
}
