/*
 * embedded_pool: closed handles kept open for the next open of the same
 * user.
 *
 * Opening a handle is an sqlite3_open(), the WAL pragmas, a read of the
 * schema, and then a prepare of every statement the session uses, once
 * each: most of the CPU of a short IMAP session (connect, LOGIN, SELECT,
 * FETCH FLAGS, LOGOUT) and a share of every SMTP delivery, which opens
 * the recipient for each message.  A closed handle that is in a clean
 * state (no transaction open) rests here instead, and the next open of
 * that user takes it with its schema and statements ready.  Sharing a
 * connection between live sessions would not do: a handle serves one
 * thread at a time, and sessions of one user run on several workers.
 *
 * Bounded: at most EMB_POOL_MAX handles (each holds the index's three
 * descriptors: index.db, -wal, -shm), EMB_POOL_PER_USER of one user,
 * none older than EMB_POOL_AGE seconds; the oldest goes when a new one
 * comes.  A resting handle keeps its statements and no fts.db.  It keeps
 * its page cache only when it was closed with a small one: SMTP opens
 * the recipient for every message, and with an emptied cache each
 * delivery read its ~30 pages again (pread from the OS cache) although
 * the handle had written them itself and nobody else had since (SQLite
 * drops a connection's cache by itself when another one has written).
 * A session resting in IDLE, or a handle that read much, rests without
 * it (sqlite3_db_release_memory()), so the pool stays within
 * EMB_POOL_MAX x EMB_POOL_CACHE_KEEP of cache.
 */
#include "store/embedded_cache.h"
#include "store/embedded_private.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * Handles at rest per store; each holds three descriptors and about
 * 100 KB (schema and statements).  64 was fewer than the users of a
 * 100-user benchmark: their sessions, taking turns, never found theirs
 * (a session of one IMAP command round went from 4.1 to 0.8 ms at 256).
 */
#define EMB_POOL_MAX 256
/* A handle resting longer is closed (seconds). */
#define EMB_POOL_AGE 60
/*
 * Handles of one user at rest: enough for the sessions a user opens in
 * a burst (a client's several connections); idle sessions of one user
 * (store_user_rest()) must not fill the pool.
 */
#define EMB_POOL_PER_USER 4
/* Page cache a closed handle may keep at rest (bytes). */
#define EMB_POOL_CACHE_KEEP (256 * 1024)

struct emb_pool_entry {
	struct embedded_user *u;
	time_t rested; /* monotonic seconds */
};

struct emb_pool {
	pthread_mutex_t lock;
	/* Oldest first. */
	struct emb_pool_entry e[EMB_POOL_MAX];
	size_t n;
};

static time_t
pool_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

int
embedded_pool_init(struct store *s, struct err *err)
{
	struct emb_pool *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return err_set(err, ERR_TEMP, "store: out of memory");
	pthread_mutex_init(&p->lock, NULL);
	s->pool = p;
	return 0;
}

void
embedded_pool_free(struct store *s)
{
	struct emb_pool *p = s->pool;

	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++)
		embedded_user_destroy(p->e[i].u);
	pthread_mutex_destroy(&p->lock);
	free(p);
	s->pool = NULL;
}

/* Removes entry i; the caller holds the lock. */
static struct embedded_user *
pool_remove(struct emb_pool *p, size_t i)
{
	struct embedded_user *u = p->e[i].u;

	memmove(&p->e[i], &p->e[i + 1], (p->n - i - 1) * sizeof(p->e[0]));
	p->n--;
	return u;
}

/*
 * Moves the entries rested since before `before` to old[] (the oldest
 * come first, so they are a prefix); returns how many.  The caller
 * closes them outside the lock: sqlite3_close() checkpoints.
 */
static size_t
pool_expire(struct emb_pool *p, time_t before, struct embedded_user **old)
{
	size_t k = 0;

	while (k < p->n && p->e[k].rested < before) {
		old[k] = p->e[k].u;
		k++;
	}
	memmove(&p->e[0], &p->e[k], (p->n - k) * sizeof(p->e[0]));
	p->n -= k;
	return k;
}

/* How many of address's handles rest here; the caller holds the lock. */
static size_t
pool_count(const struct emb_pool *p, const char *address)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n; i++)
		n += strcmp(p->e[i].u->base.address, address) == 0;
	return n;
}

static void
pool_destroy_all(struct embedded_user **old, size_t n)
{
	for (size_t i = 0; i < n; i++)
		embedded_user_destroy(old[i]);
}

struct embedded_user *
embedded_pool_take(struct store *s, const char *address)
{
	struct emb_pool *p = s->pool;
	struct embedded_user *old[EMB_POOL_MAX], *u = NULL;
	size_t n_old;

	if (p == NULL)
		return NULL;
	pthread_mutex_lock(&p->lock);
	n_old = pool_expire(p, pool_now() - EMB_POOL_AGE, old);
	/* The newest first: its pages are likeliest still in the OS cache. */
	for (size_t i = p->n; i-- > 0;)
		if (strcmp(p->e[i].u->base.address, address) == 0) {
			u = pool_remove(p, i);
			break;
		}
	pthread_mutex_unlock(&p->lock);
	pool_destroy_all(old, n_old);
	return u;
}

/* True if u's page cache is small enough to rest with it. */
static bool
pool_cache_is_small(struct embedded_user *u)
{
	int used = 0, high = 0;

	return sqlite3_db_status(u->db, SQLITE_DBSTATUS_CACHE_USED, &used,
	                         &high, 0) == SQLITE_OK &&
	       used <= EMB_POOL_CACHE_KEEP;
}

bool
embedded_pool_put(struct store *s, struct embedded_user *u, bool keep_cache)
{
	struct emb_pool *p = s->pool;
	struct embedded_user *old[EMB_POOL_MAX];
	size_t n_old;
	time_t now = pool_now();

	/* Only a handle between transactions, with its statements reset. */
	if (p == NULL || u->db == NULL || !sqlite3_get_autocommit(u->db))
		return false;
	/* A statement left stepping would hold an old read snapshot. */
	for (size_t i = 0; i < EMB_STMT_COUNT; i++)
		if (u->stmt[i] != NULL)
			sqlite3_reset(u->stmt[i]);
	embedded_fts_detach(u);
	if (u->fts_attached)
		return false;
	if (!keep_cache || !pool_cache_is_small(u))
		sqlite3_db_release_memory(u->db);
	u->kw_gen = 0; /* its next store_shared counts from 0 */
	memset(&u->base.quota_bytes, 0,
	       sizeof(u->base) - offsetof(struct store_user, quota_bytes));
	pthread_mutex_lock(&p->lock);
	n_old = pool_expire(p, now - EMB_POOL_AGE, old);
	if (pool_count(p, u->base.address) >= EMB_POOL_PER_USER) {
		pthread_mutex_unlock(&p->lock);
		pool_destroy_all(old, n_old);
		return false;
	}
	if (p->n == EMB_POOL_MAX)
		old[n_old++] = pool_remove(p, 0);
	p->e[p->n].u = u;
	p->e[p->n].rested = now;
	p->n++;
	pthread_mutex_unlock(&p->lock);
	pool_destroy_all(old, n_old);
	return true;
}
