#include "net/worker.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct job {
	struct job *next;
	worker_fn work, done;
	void *arg;
};

/* A FIFO of jobs. */
struct job_list {
	struct job *head, *tail;
};

struct worker_pool {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct job_list queued;   /* waiting for a worker */
	struct job_list finished; /* waiting for the loop */
	struct event *finished_ev;
	pthread_t *threads;
	int nthreads;
	bool stopping;
};

static void
job_push(struct job_list *l, struct job *j)
{
	j->next = NULL;
	if (l->tail != NULL)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static struct job *
job_pop(struct job_list *l)
{
	struct job *j = l->head;

	if (j != NULL) {
		l->head = j->next;
		if (l->head == NULL)
			l->tail = NULL;
	}
	return j;
}

static void *
worker_main(void *arg)
{
	struct worker_pool *pool = arg;
	struct job *j;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		while ((j = job_pop(&pool->queued)) == NULL && !pool->stopping)
			pthread_cond_wait(&pool->wake, &pool->lock);
		if (j == NULL)
			break;
		pthread_mutex_unlock(&pool->lock);
		j->work(j->arg);
		pthread_mutex_lock(&pool->lock);
		job_push(&pool->finished, j);
		/* Thread-safe: libevent was set up with evthread_use_pthreads.
		 */
		event_active(pool->finished_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

/* Runs the completions of finished jobs on the loop thread. */
static void
worker_finished_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker_pool *pool = arg;
	struct job_list done;
	struct job *j;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&pool->lock);
	done = pool->finished;
	pool->finished.head = pool->finished.tail = NULL;
	pthread_mutex_unlock(&pool->lock);
	while ((j = job_pop(&done)) != NULL) {
		j->done(j->arg);
		free(j);
	}
}

struct worker_pool *
worker_pool_new(struct event_base *base, int nthreads)
{
	struct worker_pool *pool;

	if (nthreads < 1 || (pool = calloc(1, sizeof(*pool))) == NULL)
		return NULL;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->wake, NULL);
	pool->finished_ev = event_new(base, -1, 0, worker_finished_cb, pool);
	pool->threads = calloc((size_t)nthreads, sizeof(pthread_t));
	if (pool->finished_ev == NULL || pool->threads == NULL) {
		worker_pool_free(&pool);
		return NULL;
	}
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&pool->threads[i], NULL, worker_main,
		                   pool) != 0) {
			worker_pool_free(&pool);
			return NULL;
		}
		pool->nthreads++;
	}
	return pool;
}

int
worker_submit(struct worker_pool *pool, worker_fn work, worker_fn done,
              void *arg)
{
	struct job *j = malloc(sizeof(*j));
	int rc = -1;

	if (j == NULL)
		return -1;
	j->work = work;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&pool->lock);
	if (!pool->stopping) {
		job_push(&pool->queued, j);
		pthread_cond_signal(&pool->wake);
		rc = 0;
	}
	pthread_mutex_unlock(&pool->lock);
	if (rc < 0)
		free(j);
	return rc;
}

void
worker_pool_free(struct worker_pool **poolp)
{
	struct worker_pool *pool = *poolp;

	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
	for (int i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	if (pool->finished_ev != NULL) {
		worker_finished_cb(-1, 0, pool);
		event_free(pool->finished_ev);
	}
	free(pool->threads);
	pthread_cond_destroy(&pool->wake);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
	*poolp = NULL;
}
