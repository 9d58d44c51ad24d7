/*
 * embedded_gc: collecting orphan blobs, and reading the quota usage.
 *
 * An orphan is a blob file no row names: left by a crash between the
 * blob's rename and the index commit (DESIGN.md "The mail store"), or by
 * one between an expunge's commit and its unlink.  Only old ones are
 * removed: a young one may belong to a delivery still in flight.
 */
#include "store/embedded_private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

/* A blob's name: exactly 32 lower-case hex digits. */
static bool
emb_is_blob_name(const char *name)
{
	size_t n = 0;

	for (; name[n] != '\0'; n++)
		if (!((name[n] >= '0' && name[n] <= '9') ||
		      (name[n] >= 'a' && name[n] <= 'f')))
			return false;
	return n == STORE_BLOB_ID_SIZE - 1;
}

int
embedded_blob_gc(struct embedded_user *u, time_t now, time_t min_age)
{
	DIR *d = opendir(u->blob_dir);
	struct dirent *de;
	struct stat st;
	int removed = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (!emb_is_blob_name(de->d_name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) <
		        0 ||
		    st.st_mtime > now - min_age)
			continue;
		if (embedded_blob_is_used(u, de->d_name))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			removed++;
		else if (errno != ENOENT)
			log_warn("store: cannot remove orphan %s/%s: %s",
			         u->blob_dir, de->d_name, strerror(errno));
	}
	closedir(d);
	return removed;
}

void
embedded_blob_gc_maybe(struct embedded_user *u, time_t now)
{
	int64_t last = 0;
	int n;

	if (embedded_meta_get(u, "blob_gc", &last, NULL) < 0 ||
	    last > (int64_t)now - STORE_BLOB_GC_INTERVAL)
		return;
	/* Recorded first: two sessions opening at once scan only once. */
	if (embedded_meta_set(u, "blob_gc", (int64_t)now, NULL) < 0)
		return;
	n = embedded_blob_gc(u, now, STORE_BLOB_ORPHAN_MIN_AGE);
	if (n > 0)
		log_info("store: removed %d orphan blob(s) of %s", n,
		         u->base.address);
}

int
embedded_quota_get(struct store_user *pub, struct store_quota *quota_r,
                   struct err *err)
{
	struct embedded_user *u = embedded_user_of(pub);
	int64_t bytes, msgs;

	if (embedded_run(u, EMB_BEGIN, err) < 0)
		return -1;
	if (embedded_meta_get(u, "bytes", &bytes, err) < 0 ||
	    embedded_meta_get(u, "messages", &msgs, err) < 0) {
		embedded_rollback(u);
		return -1;
	}
	embedded_rollback(u);
	quota_r->bytes_used = bytes > 0 ? (uint64_t)bytes : 0;
	quota_r->messages_used = msgs > 0 ? (uint64_t)msgs : 0;
	quota_r->bytes_limit = pub->quota_bytes;
	quota_r->messages_limit = pub->quota_messages;
	return 0;
}
