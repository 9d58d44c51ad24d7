/*
 * embedded_lazy: flag changes committed without an fsync.
 *
 * A STORE used to commit with synchronous=FULL: one fsync of the WAL per
 * command, on the event loop thread, so every session of the server
 * waited for the disk whenever anyone marked a message read.  Flags are
 * not mail: what must survive a power cut is every acknowledged message
 * (deliveries, APPEND, COPY and MOVE stay FULL or group-committed), and
 * Dovecot (mail_fsync = optimized) makes the same choice.  A flag change
 * is in the WAL when STORE answers, so it survives the process being
 * killed; a power cut may lose the last ones, which then read as before.
 *
 * What must not happen even then is a mod-sequence given out twice (RFC
 * 7162 3.1: a client that saw a lost change at MODSEQ m would miss the
 * change that gets m again).  So:
 *   - meta 'lazy' counts the mod-sequences committed lazily since the
 *     last durable (FULL) commit that reset it; once it passes
 *     EMB_LAZY_MAX, the next FULL commit resets it, and a transaction
 *     that may give out more than EMB_LAZY_TXN_MAX is FULL: a power cut
 *     loses at most EMB_LAZY_MAX + EMB_LAZY_TXN_MAX of them;
 *   - the first open of a user in a process (meta 'boot' differs from the
 *     store's random boot id, embedded_recover() in embedded_durable.c)
 *     with 'lazy' above 0 moves every mailbox's HIGHESTMODSEQ up by
 *     EMB_LAZY_GAP > EMB_LAZY_MAX, durably, so no lost value comes again.
 *     A restart costs at most 2^21 values per mailbox of the 2^63 RFC
 *     7162 allows.
 * Expunges stay FULL: their blobs are unlinked after the commit, and a
 * lost expunge must not bring back a row whose file is gone.
 */
#include "store/embedded_private.h"

/*
 * Mod-sequences that may be committed lazily between two durable
 * commits, and at most per transaction (a larger one commits FULL):
 * together they bound what a power cut can lose below EMB_LAZY_GAP.
 */
#define EMB_LAZY_MAX (1 << 20)
#define EMB_LAZY_TXN_MAX 10000
/* How far HIGHESTMODSEQ moves at a user's first open after a restart. */
#define EMB_LAZY_GAP (1 << 21)

int
embedded_flags_begin(struct embedded_user *u, size_t max_modseqs, bool *lazy_r,
                     struct err *err)
{
	/* SQLite fixes the safety level before the transaction starts. */
	*lazy_r = max_modseqs <= EMB_LAZY_TXN_MAX;
	if (*lazy_r && embedded_run(u, EMB_SYNC_NORMAL, err) < 0)
		return -1;
	if (embedded_run(u, EMB_BEGIN_IMMEDIATE, err) < 0) {
		embedded_flags_abort(u, *lazy_r);
		return -1;
	}
	return 0;
}

void
embedded_flags_abort(struct embedded_user *u, bool lazy)
{
	embedded_rollback(u);
	if (lazy)
		embedded_run(u, EMB_SYNC_FULL, NULL);
}

/* A durable commit of lazy = 0: the lazy ones before it are durable too. */
static int
emb_lazy_reset(struct embedded_user *u, struct err *err)
{
	if (embedded_run(u, EMB_BEGIN_IMMEDIATE, err) < 0)
		return -1;
	if (embedded_meta_set(u, "lazy", 0, err) < 0 ||
	    embedded_run(u, EMB_COMMIT, err) < 0) {
		embedded_rollback(u);
		return -1;
	}
	return 0;
}

int
embedded_flags_commit(struct embedded_user *u, bool lazy, int64_t modseqs,
                      struct err *err)
{
	bool counted = lazy && modseqs > 0;
	int64_t n = 0;
	int rc = 0;

	if (counted && (embedded_meta_get(u, "lazy", &n, err) < 0 ||
	                embedded_meta_set(u, "lazy", n + modseqs, err) < 0))
		rc = -1;
	if (rc == 0)
		rc = embedded_run(u, EMB_COMMIT, err);
	/* Fails inside a transaction: then embedded_flags_abort() does it. */
	if (lazy)
		embedded_run(u, EMB_SYNC_FULL, NULL);
	/*
	 * Committed: the change stands whatever the reset does (if it fails,
	 * the next lazy commit tries again).
	 */
	if (rc == 0 && counted && n + modseqs > EMB_LAZY_MAX)
		emb_lazy_reset(u, NULL);
	return rc;
}

int
embedded_lazy_bump(struct embedded_user *u, struct err *err)
{
	static const char bump[] =
	    "UPDATE mailboxes SET highestmodseq = highestmodseq + ?1";
	int64_t lazy = 0;
	sqlite3_stmt *st;
	int rc;

	if (embedded_meta_get(u, "lazy", &lazy, err) < 0)
		return -1;
	if (lazy == 0)
		return 0;
	rc = sqlite3_prepare_v2(u->db, bump, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, EMB_LAZY_GAP);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_DONE)
		return embedded_db_error(u, rc, "modseq recovery", err);
	return embedded_meta_set(u, "lazy", 0, err);
}
