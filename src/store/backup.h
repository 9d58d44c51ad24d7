/*
 * backup: a consistent copy of a running store, and its way back
 * (DESIGN.md "Backups"; `postamt backup` and `postamt restore`).
 *
 * A user's index is copied with SQLite's online backup API: a snapshot of
 * one moment, taken while deliveries go on.  Blob files never change once
 * written, so they are hard-linked (copied where the destination is on
 * another file system): a backup of a large mailbox costs the index's
 * size, not the mail's.  fts.db is left out: it is rebuilt from the index
 * at the first open (its epoch does not match, embedded_fts.c).
 */
#ifndef POSTAMT_STORE_BACKUP_H
#define POSTAMT_STORE_BACKUP_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

struct store_backup_stats {
	uint64_t users;
	uint64_t messages;     /* rows of every mailbox */
	uint64_t files_linked; /* blob files hard-linked */
	uint64_t files_copied; /* files copied (other file system, indexes) */
};

/*
 * Copies the SQLite database at src into dst (which must not exist) with
 * the online backup API, and checks the copy (PRAGMA quick_check).
 */
int store_backup_db(const char *src, const char *dst, struct err *err);

/*
 * Copies one user's mail directory src (DATA/users/<shard>/<user>) into
 * dst, which must not exist: the blob files first, then a snapshot of
 * index.db, then the blobs it names that came in meanwhile.  A blob it
 * names that is gone already (expunged during the copy) means another
 * snapshot; after STORE_BACKUP_TRIES an error.
 */
int store_backup_user(const char *src, const char *dst,
                      struct store_backup_stats *st, struct err *err);

/*
 * The other way: copies a backed-up user directory src into dst (must not
 * exist) the same way, once (store_backup_db() checks the index with
 * PRAGMA quick_check), so a damaged backup is refused, not served.
 */
int store_restore_user(const char *src, const char *dst,
                       struct store_backup_stats *st, struct err *err);

/* Copies src to dst (which must not exist), bytes and mode. */
int store_backup_copy(const char *src, const char *dst, struct err *err);

/*
 * Hard-links src to dst, or copies it (with its mode) when they are on
 * different file systems.  *copied_r says which.
 */
int store_backup_file(const char *src, const char *dst, bool *copied_r,
                      struct err *err);

#endif
