/*
 * worker: a small pool of threads for work that blocks (password hashing,
 * fsync of deliveries), so one slow operation does not stall every other
 * connection of the event loop (DESIGN.md, Concurrency).
 *
 * Jobs run in submission order on any worker thread; their completion
 * callbacks run on the event loop thread, in completion order.
 */
#ifndef POSTAMT_NET_WORKER_H
#define POSTAMT_NET_WORKER_H

#include <event2/event.h>

struct worker_pool;

typedef void (*worker_fn)(void *arg);

/*
 * Starts nthreads (at least 1) threads whose completions are delivered on
 * base (which must have been created after evthread_use_pthreads()).  NULL
 * on failure or if nthreads < 1.
 */
struct worker_pool *worker_pool_new(struct event_base *base, int nthreads);

/*
 * Queues work(arg) for a worker thread; done(arg) follows on the loop
 * thread.  Returns 0, or -1 if out of memory or the pool is stopping.
 */
int worker_submit(struct worker_pool *pool, worker_fn work, worker_fn done,
                  void *arg);

/*
 * Finishes every queued job, joins the threads, runs the completions that
 * are still due, and frees the pool.
 */
void worker_pool_free(struct worker_pool **pool);

#endif
