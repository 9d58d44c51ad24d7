/*
 * embedded_indexer: fills the full-text index shortly after delivery
 * (issue 3: "an FTS5 trigram index filled at delivery").
 *
 * Tokenising costs about 0.5 ms of CPU per message, more than the rest of
 * a delivery, so it stays out of the delivery transaction and out of
 * index.db (fts.db, embedded_fts.c).  Instead every committed delivery
 * names its user here, and one background thread per store indexes that
 * user's new rows in batches with its own handle, in the gaps between
 * deliveries: it starts once no delivery has come for
 * EMB_INDEXER_DELAY_MS and stops after the batch running when the next
 * one commits (measured: indexing alongside a saturating burst halved
 * the deliveries per second on two cores).  Mail that arrives at any
 * rate short of saturation is indexed within milliseconds, so a SEARCH
 * finds at most the last few messages unindexed; after a saturating
 * burst it finds the burst's tail.  embedded_cache_fill() indexes what
 * is left first, so correctness never depends on this thread.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "store/embedded_cache.h"
#include "store/embedded_private.h"
#include "util/clock.h"
#include "util/log.h"

/* Users waiting to be indexed; more are indexed by the next search. */
#define EMB_INDEXER_QUEUE_MAX 1024
/* Quiet time (no delivery of any user) before the indexer starts. */
#define EMB_INDEXER_DELAY_MS 20
/*
 * Rows per transaction (about 0.5 ms of CPU each): FTS5 writes a segment
 * per commit, so small batches cost more in all.  The transaction holds
 * fts.db's write lock only (embedded_fts.c): deliveries do not wait.
 */
#define EMB_INDEXER_BATCH 200
/*
 * Deliveries without a quiet gap after which the indexer runs anyway (to
 * the end, not stepping aside): bounds what a search finds unindexed
 * when mail never stops.
 */
#define EMB_INDEXER_BACKLOG 100
/* Scheduling priority of the indexer thread (nice value). */
#define EMB_INDEXER_NICE 10

struct emb_indexer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char *queue[EMB_INDEXER_QUEUE_MAX]; /* addresses, lower-cased */
	size_t n;
	uint64_t kicks;   /* deliveries announced so far */
	uint64_t ran_at;  /* kicks when the indexer last started */
	double last_kick; /* when the last one came (monotonic ms) */
	bool stop;
	bool started;
};

/* True if a delivery came since *seen (then the indexer steps aside). */
static bool
indexer_interrupted(struct emb_indexer *x, uint64_t seen)
{
	bool yes;

	pthread_mutex_lock(&x->lock);
	yes = (seen != UINT64_MAX && x->kicks != seen) || x->stop;
	pthread_mutex_unlock(&x->lock);
	return yes;
}

/*
 * Indexes what address has waiting until done or a delivery comes (its
 * kick queued the address again); errors only delay the work.
 */
static void
indexer_run_user(struct store *s, const char *address, uint64_t seen)
{
	struct store_user *pub = NULL;
	struct err err;
	bool done = false;

	err_clear(&err);
	if (store_embedded_ops.user_open(s, address, &pub, &err) < 0) {
		log_warn("store: indexer: %s", err.msg);
		return;
	}
	while (!done && !indexer_interrupted(s->indexer, seen))
		if (embedded_cache_index_some(embedded_user_of(pub),
		                              EMB_INDEXER_BATCH, &done,
		                              &err) < 0) {
			log_warn("store: indexer: %s", err.msg);
			break;
		}
	store_embedded_ops.user_close(pub);
}

static void *
indexer_main(void *arg)
{
	struct store *s = arg;
	struct emb_indexer *x = s->indexer;
	struct timespec pause;
	double wait;
	uint64_t seen;
	char *address;

	/*
	 * Below the deliveries: on a busy machine they get the CPU first,
	 * and the index catches up in the gaps (Linux: per-thread nice).
	 */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), EMB_INDEXER_NICE);

	pthread_mutex_lock(&x->lock);
	while (!x->stop) {
		if (x->n == 0) {
			pthread_cond_wait(&x->cond, &x->lock);
			continue;
		}
		/* Deliveries first: wait for a gap of EMB_INDEXER_DELAY_MS. */
		wait =
		    x->last_kick + EMB_INDEXER_DELAY_MS - clock_monotonic_ms();
		if (wait > 0 && x->kicks - x->ran_at < EMB_INDEXER_BACKLOG) {
			pthread_mutex_unlock(&x->lock);
			pause.tv_sec = 0;
			pause.tv_nsec = (long)(wait * 1e6);
			nanosleep(&pause, NULL);
			pthread_mutex_lock(&x->lock);
			continue;
		}
		/* Forced by the backlog: UINT64_MAX is never "interrupted". */
		seen = wait > 0 ? UINT64_MAX : x->kicks;
		x->ran_at = x->kicks;
		address = x->queue[0];
		memmove(x->queue, x->queue + 1,
		        (x->n - 1) * sizeof(x->queue[0]));
		x->n--;
		pthread_mutex_unlock(&x->lock);
		indexer_run_user(s, address, seen);
		free(address);
		pthread_mutex_lock(&x->lock);
	}
	pthread_mutex_unlock(&x->lock);
	return NULL;
}

int
embedded_indexer_init(struct store *s, struct err *err)
{
	struct emb_indexer *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return err_set(err, ERR_TEMP, "store: out of memory");
	pthread_mutex_init(&x->lock, NULL);
	pthread_cond_init(&x->cond, NULL);
	s->indexer = x;
	/*
	 * Without the thread, search indexes everything (the safety net).
	 * EMB_INDEXER_OFF (a -D for benchmarks) measures exactly that.
	 */
#ifndef EMB_INDEXER_OFF
	x->started = pthread_create(&x->thread, NULL, indexer_main, s) == 0;
#else
	(void)indexer_main;
#endif
	return 0;
}

void
embedded_indexer_free(struct store *s)
{
	struct emb_indexer *x = s->indexer;

	if (x == NULL)
		return;
	pthread_mutex_lock(&x->lock);
	x->stop = true;
	pthread_cond_signal(&x->cond);
	pthread_mutex_unlock(&x->lock);
	if (x->started)
		pthread_join(x->thread, NULL);
	for (size_t i = 0; i < x->n; i++)
		free(x->queue[i]);
	pthread_cond_destroy(&x->cond);
	pthread_mutex_destroy(&x->lock);
	free(x);
	s->indexer = NULL;
}

void
embedded_indexer_kick(struct store *s, const char *address)
{
	struct emb_indexer *x = s->indexer;
	char *copy;

	if (x == NULL || !x->started)
		return;
	pthread_mutex_lock(&x->lock);
	x->kicks++;
	x->last_kick = clock_monotonic_ms();
	for (size_t i = 0; i < x->n; i++)
		if (strcmp(x->queue[i], address) == 0)
			goto out; /* already waiting */
	if (x->n < EMB_INDEXER_QUEUE_MAX && (copy = strdup(address)) != NULL) {
		x->queue[x->n++] = copy;
		pthread_cond_signal(&x->cond);
	}
out:
	pthread_mutex_unlock(&x->lock);
}
