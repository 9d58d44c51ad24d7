/*
 * blob: durable, immutable message files.
 *
 * DESIGN.md "The mail store": write to a temporary file, fsync, rename into
 * place, fsync the directory; only then may the index row be committed.  A
 * crash at any instant leaves a tmp.* file (removed by store_blob_clean()),
 * an orphan blob (collected later), or a complete message, never half of
 * one.
 */
#include "store/embedded_private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "util/log.h"

/* Fills out (STORE_BLOB_ID_SIZE bytes) with 128 random bits in hex. */
static int
blob_random_id(char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[16];

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	for (size_t i = 0; i < sizeof(r); i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 0x0F];
	}
	out[32] = '\0';
	return 0;
}

/*
 * A new blob id: the time in microseconds (13 hex digits, to the year
 * 2112) followed by 76 random bits, so ids sort in the order they were
 * made.  Three b-trees of the index are keyed by blob id (msg_data,
 * msg_cache's UNIQUE, messages_blob): with wholly random ids every
 * delivery of a group wrote a random leaf of each, read first when
 * the cache did not hold it, and split leaves all over; in order, the
 * rows of a group go to the rightmost leaves, which stay in the cache.
 * deliver_bench into one mailbox, 10,000 messages: 3,293 / 3,520 ->
 * 5,059 / 6,127 per second (A/B).  A clock stepped back only costs
 * that locality; uniqueness rests on the random part.
 */
static int
blob_new_id(char *out)
{
	static const char hex[] = "0123456789abcdef";
	struct timespec ts;
	uint64_t us;

	if (blob_random_id(out) < 0)
		return -1;
	clock_gettime(CLOCK_REALTIME, &ts);
	us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	for (int i = 12; i >= 0; i--, us >>= 4)
		out[i] = hex[us & 0x0F];
	return 0;
}

/* ENOSPC and EDQUOT are temporary: the sender should retry later. */
static int
blob_errno(int e, const char *what, const char *path, struct err *err)
{
	enum err_kind kind = (e == ENOSPC || e == EDQUOT) ? ERR_TEMP : ERR_IO;

	return err_set(err, kind, "store: %s %s: %s", what, path, strerror(e));
}

static int
blob_path(char *out, size_t size, const char *dir, const char *prefix,
          const char *id)
{
	int n = snprintf(out, size, "%s/%s%s", dir, prefix, id);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int
store_blob_new_id(char id_r[STORE_BLOB_ID_SIZE], struct err *err)
{
	if (blob_new_id(id_r) < 0)
		return err_set(err, ERR_TEMP, "store: no random bytes");
	return 0;
}

int
store_blob_write_all(int fd, const void *data, size_t len, bool sync)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		p += n;
		len -= (size_t)n;
	}
	if (!sync)
		return sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) < 0 &&
		               errno != ENOSYS
		           ? errno
		           : 0;
	return fsync(fd) < 0 ? errno : 0;
}

/* fsync()s a directory so a rename or unlink in it is durable. */
static int
blob_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int e = 0;

	if (fd < 0)
		return errno;
	if (fsync(fd) < 0)
		e = errno;
	close(fd);
	return e;
}

/*
 * Renames without replacing: two random 128-bit ids do not collide, but if
 * they ever did, an existing message must not be overwritten.  Falls back
 * to rename() on file systems without RENAME_NOREPLACE.
 */
static int
blob_rename(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return errno;
	return rename(from, to) < 0 ? errno : 0;
}

/*
 * Creates path (O_EXCL: two random 128-bit ids do not collide, but if
 * they ever did, an existing message must not be overwritten) and writes
 * all of data, fsynced if sync; removes it again on failure.
 */
static int
blob_create(const char *path, const void *data, size_t len, bool sync,
            struct err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int e;

	if (fd < 0)
		return blob_errno(errno, "create", path, err);
	e = store_blob_write_all(fd, data, len, sync);
	if (close(fd) < 0 && e == 0)
		e = errno;
	if (e != 0) {
		unlink(path);
		return blob_errno(e, "write", path, err);
	}
	return 0;
}

/*
 * Writes a blob in place under its final name, never fsynced: for group
 * commit, where store_blob_sync_all() makes it durable together with the
 * index row naming it.  No tmp file and rename are needed there: the
 * index commit is the atomic step; a crash before it leaves a file no row
 * names (an orphan, collected by embedded_blob_gc() once old), and one
 * after it but before the sync a row whose file may be incomplete, found
 * by its CRC at the next start (embedded_durable.c).
 */
static int
blob_write_in_place(const char *dir, const void *data, size_t len,
                    char id_r[STORE_BLOB_ID_SIZE], struct err *err)
{
	char path[4096];

	if (store_blob_new_id(id_r, err) < 0)
		return -1;
	if (blob_path(path, sizeof(path), dir, "", id_r) < 0)
		return err_set(err, ERR_IO, "store: path too long: %s", dir);
	return blob_create(path, data, len, false, err);
}

/* Writes tmp.<random>, fsynced, renamed to <id_r>. */
static int
blob_write(const char *dir, const void *data, size_t len,
           char id_r[STORE_BLOB_ID_SIZE], struct err *err)
{
	char tmp_id[STORE_BLOB_ID_SIZE], tmp[4096], final[4096];
	int e;

	if (blob_random_id(tmp_id) < 0 || blob_new_id(id_r) < 0)
		return err_set(err, ERR_TEMP, "store: no random bytes");
	if (blob_path(tmp, sizeof(tmp), dir, "tmp.", tmp_id) < 0 ||
	    blob_path(final, sizeof(final), dir, "", id_r) < 0)
		return err_set(err, ERR_IO, "store: path too long: %s", dir);
	if (blob_create(tmp, data, len, true, err) < 0)
		return -1;
	if ((e = blob_rename(tmp, final)) != 0) {
		unlink(tmp);
		return blob_errno(e, "rename", tmp, err);
	}
	return 0;
}

int
store_blob_write_file(const char *dir, const void *data, size_t len,
                      char id_r[STORE_BLOB_ID_SIZE], struct err *err)
{
	return blob_write_in_place(dir, data, len, id_r, err);
}

int
store_blob_sync_all(const char *dir, struct err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int e = 0;

	if (fd < 0)
		return blob_errno(errno, "open", dir, err);
	/*
	 * One journal commit and one cache flush for every blob of the
	 * group: their data (writeback already started) and their renames.
	 */
	if (syncfs(fd) < 0)
		e = errno;
	close(fd);
	return e == 0 ? 0 : blob_errno(e, "syncfs", dir, err);
}

int
store_blob_sync_dir(const char *dir, struct err *err)
{
	int e = blob_sync_dir(dir);

	return e == 0 ? 0 : blob_errno(e, "fsync", dir, err);
}

int
store_blob_write(const char *dir, const void *data, size_t len,
                 char id_r[STORE_BLOB_ID_SIZE], struct err *err)
{
	int e;

	if (blob_write(dir, data, len, id_r, err) < 0)
		return -1;
	if ((e = blob_sync_dir(dir)) != 0) {
		store_blob_unlink(dir, id_r);
		return blob_errno(e, "fsync", dir, err);
	}
	return 0;
}

/* Fails unless fd (the blob at path) holds exactly size bytes. */
static int
blob_check_size(int fd, uint64_t size, const char *path, struct err *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return blob_errno(errno, "stat", path, err);
	if (st.st_size < 0 || (uint64_t)st.st_size != size)
		return err_set(
		    err, ERR_IO, "store: %s has %lld bytes, index says %llu",
		    path, (long long)st.st_size, (unsigned long long)size);
	return 0;
}

int
store_blob_open(const char *dir, const char *id, uint64_t size, int *fd_r,
                struct err *err)
{
	char path[4096];
	int fd;

	*fd_r = -1;
	if (blob_path(path, sizeof(path), dir, "", id) < 0)
		return err_set(err, ERR_IO, "store: path too long: %s", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return blob_errno(errno, "open", path, err);
	if (blob_check_size(fd, size, path, err) < 0) {
		close(fd);
		return -1;
	}
	*fd_r = fd;
	return 0;
}

/*
 * Reads fd's size bytes through the CRC; 1 if it matches crc, 0 if it
 * does not or the file is short, -1 on a read error.
 */
static int
blob_crc_matches(int fd, uint64_t size, uint32_t crc, struct err *err)
{
	char chunk[64 * 1024];
	uint32_t got = 0;

	for (uint64_t off = 0; off < size;) {
		size_t want = size - off < sizeof(chunk) ? (size_t)(size - off)
		                                         : sizeof(chunk);
		ssize_t n = pread(fd, chunk, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return blob_errno(errno, "read", "blob", err);
		if (n == 0)
			return 0;
		got = embedded_blob_crc(got, chunk, (size_t)n);
		off += (uint64_t)n;
	}
	return got == crc ? 1 : 0;
}

int
store_blob_verify(const char *dir, const char *id, uint64_t size, uint32_t crc,
                  struct err *err)
{
	char path[4096];
	struct stat st;
	int fd, rc;

	if (blob_path(path, sizeof(path), dir, "", id) < 0)
		return err_set(err, ERR_IO, "store: path too long: %s", dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0
		                       : blob_errno(errno, "open", path, err);
	if (fstat(fd, &st) < 0) {
		rc = blob_errno(errno, "stat", path, err);
	} else if ((uint64_t)st.st_size != size) {
		rc = 0;
	} else if ((rc = blob_crc_matches(fd, size, crc, err)) == 1 &&
	           fdatasync(fd) < 0) {
		rc = blob_errno(errno, "fdatasync", path, err);
	}
	close(fd);
	return rc;
}

ssize_t
store_blob_pread(int fd, uint64_t size, uint64_t off, void *dst, size_t len,
                 struct err *err)
{
	size_t done = 0;

	if (off >= size)
		return 0;
	if (len > size - off)
		len = (size_t)(size - off);
	while (done < len) {
		ssize_t n = pread(fd, (char *)dst + done, len - done,
		                  (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return blob_errno(errno, "read", "blob", err);
		/* Blobs never shrink: a short file is damage, not EOF. */
		if (n == 0)
			return err_set(err, ERR_IO, "store: blob is short");
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int
store_blob_read(const char *dir, const char *id, uint64_t size, struct buf *out,
                struct err *err)
{
	size_t old_len = out->len;
	ssize_t n;
	int fd;

	if (store_blob_open(dir, id, size, &fd, err) < 0)
		return -1;
	if (size > SIZE_MAX / 2 || buf_reserve(out, (size_t)size) < 0) {
		close(fd);
		return err_set(err, ERR_LIMIT,
		               "store: message of %llu bytes does not fit",
		               (unsigned long long)size);
	}
	n = store_blob_pread(fd, size, 0, out->data + old_len, (size_t)size,
	                     err);
	close(fd);
	if (n < 0) {
		/* Leave out as it was: a reader never sees half a message. */
		if (out->data != NULL)
			out->data[old_len] = '\0';
		return -1;
	}
	out->len += (size_t)n;
	out->data[out->len] = '\0';
	return 0;
}

void
store_blob_unlink(const char *dir, const char *id)
{
	char path[4096];

	if (blob_path(path, sizeof(path), dir, "", id) < 0)
		return;
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("store: cannot remove %s: %s", path, strerror(errno));
}

int
store_blob_clean(const char *dir, time_t now, time_t max_age)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat st;
	int removed = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "tmp.", 4) != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (st.st_mtime > now - max_age)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}
