/*
 * embedded_group: group commit of deliveries (issue 3, "Durability").
 *
 * Alone, a delivery costs three fsyncs: its blob file, the blob directory
 * and the index's WAL (synchronous=FULL).  Deliveries on worker threads
 * parse their message and write their blob file in parallel (nothing
 * fsynced), then queue here; the first to find no commit running becomes
 * the leader: it takes every queued delivery of the user, adds every row
 * in one transaction committed without an fsync (synchronous=NORMAL),
 * makes the blobs and the rows durable with one syncfs(), publishes the
 * changes under the change lock and wakes the others.  Deliveries that
 * arrive meanwhile form the next group.  Nothing returns 0 before its row
 * and its blob are durable.
 *
 * One flush, not one for the blobs and then one for the rows: a crash
 * between the commit and the end of the syncfs() may leave a row whose
 * blob never reached the disk, of a delivery nobody was told about;
 * embedded_durable.c finds and expunges such rows at the next start (each
 * group moves meta.blobs_durable, the bound of what must be checked, in
 * the next group's transaction).  Measured with one delivering thread:
 * 1,168 -> 1,372 deliveries/s.
 *
 * The leader uses its own handle (and SQLite connection) for the rows of
 * the others: their handles are idle, their threads wait for the result.
 *
 * The syncfs() is shared by every user: syncfs() covers the whole file
 * system, so the leaders of several users' groups that need it at the
 * same time share one (embedded_sync_fs()).  But its rounds are serial
 * and each walks every dirty inode of the file system, so a group whose
 * messages are all kept in the index (schema 7: no blob file to flush)
 * commits with synchronous=FULL instead, SQLite's fdatasync() of its own
 * WAL, in parallel with other users' groups: deliver_bench across 100
 * users 2,118 / 2,292 -> 3,899 / 3,891 per second (A/B, same sitting).
 */
#include "store/embedded_private.h"

#include <stdlib.h>
#include <string.h>

/* One delivery waiting for its row; it lives on its thread's stack. */
struct emb_pending {
	struct emb_pending *next;
	struct embedded_user *u; /* the delivering handle */
	const char *mailbox;
	const struct store_append *msg;
	const char *blob;
	const struct emb_cache_row *cache;
	uint64_t quota_bytes, quota_messages;
	/* Filled by the leader. */
	bool done;
	int rc;
	struct emb_counters c;
	struct err err;
};

struct emb_group {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct emb_pending *head, *tail; /* waiting for a leader */
	bool committing;                 /* a leader is at work */
	/*
	 * The leader's: the msg_cache id up to which the last syncfs() made
	 * every blob durable, for meta.blobs_durable (embedded_durable.c).
	 */
	int64_t durable;
};

int
embedded_group_init(struct store_shared *sh, struct store_user *u,
                    struct err *err)
{
	struct emb_group *g = calloc(1, sizeof(*g));

	(void)u;
	if (g == NULL)
		return err_set(err, ERR_TEMP, "store: out of memory");
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	sh->backend = g;
	return 0;
}

void
embedded_group_free(struct store_shared *sh)
{
	struct emb_group *g = sh->backend;

	if (g == NULL)
		return;
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
	free(g);
	sh->backend = NULL;
}

/* p's row in the open transaction; p->rc says how it went. */
static void
emb_pending_append(struct embedded_user *u, struct emb_pending *p)
{
	p->rc = embedded_append_row(u, p->mailbox, p->blob, p->msg, p->cache,
	                            p->quota_bytes, p->quota_messages, &p->c,
	                            &p->err);
}

/*
 * Adds one delivery's row inside the group's transaction.  A savepoint
 * keeps one refused delivery (quota, missing mailbox) from failing the
 * others (cached statements: sqlite3_exec() parsed them for every row).
 */
static void
emb_group_row(struct embedded_user *u, struct emb_pending *p)
{
	if (embedded_run(u, EMB_SAVEPOINT_ROW, &p->err) < 0) {
		p->rc = -1;
		return;
	}
	emb_pending_append(u, p);
	if (p->rc < 0)
		embedded_run(u, EMB_ROLLBACK_ROW, NULL);
	if (embedded_run(u, EMB_RELEASE_ROW, p->rc < 0 ? NULL : &p->err) < 0)
		p->rc = -1;
}

/* Marks every delivery of batch failed with err (unless already failed). */
static void
emb_group_fail(struct emb_pending *batch, const struct err *err)
{
	for (struct emb_pending *p = batch; p != NULL; p = p->next) {
		if (p->rc == 0)
			p->err = *err;
		p->rc = -1;
	}
}

/* True if every message of batch is kept in the index (no blob file). */
static bool
emb_batch_kept(const struct embedded_user *u, const struct emb_pending *batch)
{
	for (const struct emb_pending *p = batch; p != NULL; p = p->next)
		if (!embedded_keeps(u, p->msg->len))
			return false;
	return true;
}

/*
 * The leader's work: one transaction, made durable by its own WAL fsync
 * (synchronous=FULL) when every message is kept in the index, else by
 * one shared syncfs(); then the changes.
 */
static void
emb_group_commit(struct emb_group *g, struct embedded_user *u,
                 struct emb_pending *batch)
{
	int64_t upto = 0;
	bool all_kept = emb_batch_kept(u, batch);
	struct err err;

	err_clear(&err);
	for (struct emb_pending *p = batch; p != NULL; p = p->next)
		p->rc = 0;
	store_change_lock(&u->base);
	if ((!all_kept && embedded_run(u, EMB_SYNC_NORMAL, &err) < 0) ||
	    embedded_run(u, EMB_BEGIN_IMMEDIATE, &err) < 0) {
		emb_group_fail(batch, &err);
		goto out;
	}
	if (batch->next == NULL) {
		/*
		 * Alone (most groups when deliveries spread over many users):
		 * no savepoint, its two statements a delivery; a refusal
		 * rolls the whole transaction back instead.
		 */
		emb_pending_append(u, batch);
		if (batch->rc < 0) {
			embedded_rollback(u);
			goto out;
		}
	} else {
		for (struct emb_pending *p = batch; p != NULL; p = p->next)
			emb_group_row(u, p);
	}
	/* Never down: another process's group may have moved it on. */
	if (embedded_meta_raise(u, "blobs_durable", g->durable, &err) < 0 ||
	    embedded_durable_max(u, &upto, &err) < 0 ||
	    embedded_run(u, EMB_COMMIT, &err) < 0) {
		embedded_rollback(u);
		emb_group_fail(batch, &err);
		goto out;
	}
	/* Every blob of the batch was written before this. */
	if (!all_kept &&
	    embedded_sync_fs(u->base.store, u->blob_dir, &err) < 0) {
		/* Committed, maybe not durable: refuse, keep the blobs. */
		for (struct emb_pending *p = batch; p != NULL; p = p->next)
			if (p->rc == 0) {
				p->err = err;
				p->rc = -2;
			}
		goto out;
	}
	g->durable = upto;
	for (struct emb_pending *p = batch; p != NULL; p = p->next)
		if (p->rc == 0)
			embedded_append_publish(p->u, p->mailbox, p->msg,
			                        &p->c);
	embedded_indexer_kick(u->base.store, u->base.address);
out:
	if (!all_kept) /* a kept group never left FULL */
		embedded_run(u, EMB_SYNC_FULL, NULL);
	store_change_unlock(&u->base);
}

/* Leads one group: takes the queue, commits it, wakes its members. */
static void
emb_group_lead(struct emb_group *g, struct embedded_user *u)
{
	struct emb_pending *batch = g->head;

	g->head = g->tail = NULL;
	g->committing = true;
	pthread_mutex_unlock(&g->lock);
	emb_group_commit(g, u, batch);
	pthread_mutex_lock(&g->lock);
	for (struct emb_pending *p = batch; p != NULL; p = p->next)
		p->done = true;
	g->committing = false;
	/* Members, and deliveries queued meanwhile that need a leader. */
	pthread_cond_broadcast(&g->cond);
}

int
embedded_group_append(struct embedded_user *u, const char *mailbox,
                      const struct store_append *msg, const char *blob,
                      const struct emb_cache_row *cache,
                      struct emb_counters *c_r, struct err *err)
{
	struct emb_group *g = u->base.shared->backend;
	struct emb_pending me = {
	    .u = u,
	    .mailbox = mailbox,
	    .msg = msg,
	    .blob = blob,
	    .cache = cache,
	    .quota_bytes = u->base.quota_bytes,
	    .quota_messages = u->base.quota_messages,
	};

	pthread_mutex_lock(&g->lock);
	if (g->tail != NULL)
		g->tail->next = &me;
	else
		g->head = &me;
	g->tail = &me;
	while (!me.done) {
		if (!g->committing && g->head != NULL)
			emb_group_lead(g, u);
		else
			pthread_cond_wait(&g->cond, &g->lock);
	}
	pthread_mutex_unlock(&g->lock);
	if (me.rc < 0) {
		if (err != NULL)
			*err = me.err;
		return me.rc;
	}
	*c_r = me.c;
	return 0;
}

/* The store-wide syncfs() group: rounds numbered by tickets. */
struct emb_sync {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t requested; /* the last ticket handed out */
	uint64_t completed; /* tickets up to this one are durable */
	bool syncing;       /* a round is running */
	struct err last;    /* the error of the last round, if any */
	int last_rc;
};

int
embedded_sync_init(struct store *s, struct err *err)
{
	struct emb_sync *y = calloc(1, sizeof(*y));

	if (y == NULL)
		return err_set(err, ERR_TEMP, "store: out of memory");
	pthread_mutex_init(&y->lock, NULL);
	pthread_cond_init(&y->cond, NULL);
	s->backend = y;
	return 0;
}

void
embedded_sync_free(struct store *s)
{
	struct emb_sync *y = s->backend;

	if (y == NULL)
		return;
	pthread_cond_destroy(&y->cond);
	pthread_mutex_destroy(&y->lock);
	free(y);
	s->backend = NULL;
}

/*
 * A round covers the tickets handed out before it started: a caller whose
 * ticket came later waits for the next round, since its file may have
 * been written after the running syncfs() began.
 */
int
embedded_sync_fs(struct store *s, const char *dir, struct err *err)
{
	struct emb_sync *y = s->backend;
	uint64_t mine, target;
	struct err e;
	int rc;

	pthread_mutex_lock(&y->lock);
	mine = ++y->requested;
	while (y->completed < mine) {
		if (y->syncing) {
			pthread_cond_wait(&y->cond, &y->lock);
			continue;
		}
		y->syncing = true;
		target = y->requested;
		pthread_mutex_unlock(&y->lock);
		err_clear(&e);
		rc = store_blob_sync_all(dir, &e);
		pthread_mutex_lock(&y->lock);
		y->last = e;
		y->last_rc = rc;
		y->completed = target;
		y->syncing = false;
		pthread_cond_broadcast(&y->cond);
	}
	/*
	 * The result read may be a later round's: its success covers this
	 * file too (syncfs() writes whatever is still dirty), its failure
	 * only refuses a delivery that might have been durable.
	 */
	rc = y->last_rc;
	if (rc < 0 && err != NULL)
		*err = y->last;
	pthread_mutex_unlock(&y->lock);
	return rc;
}
