#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/thread.h>

#include "net/worker.h"

#define NJOBS 200

struct tally {
	int worked[NJOBS];
	int done_order[NJOBS];
	int ndone;
	struct event_base *base;
};

struct item {
	struct tally *t;
	int i;
};

static void
noop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void
work(void *arg)
{
	struct item *it = arg;

	if (it->i % 50 == 0)
		usleep(2000); /* some jobs are slow */
	it->t->worked[it->i]++;
}

static void
done(void *arg)
{
	struct item *it = arg;

	it->t->done_order[it->t->ndone++] = it->i;
	if (it->t->ndone == NJOBS)
		event_base_loopbreak(it->t->base);
	free(it);
}

static void
test_every_job_runs_once_and_completes_on_the_loop(void **state)
{
	struct tally t = {{0}, {0}, 0, NULL};
	struct worker_pool *pool;

	(void)state;
	assert_int_equal(evthread_use_pthreads(), 0);
	t.base = event_base_new();
	pool = worker_pool_new(t.base, 3);
	assert_non_null(pool);
	for (int i = 0; i < NJOBS; i++) {
		struct item *it = malloc(sizeof(*it));
		it->t = &t;
		it->i = i;
		assert_int_equal(worker_submit(pool, work, done, it), 0);
	}
	/* Something must keep the loop alive, as listeners do in the server. */
	struct event *keep = evtimer_new(t.base, noop_cb, NULL);
	struct timeval tv = {30, 0};
	evtimer_add(keep, &tv);
	event_base_dispatch(t.base);
	event_free(keep);
	assert_int_equal(t.ndone, NJOBS);
	for (int i = 0; i < NJOBS; i++)
		assert_int_equal(t.worked[i], 1);
	worker_pool_free(&pool);
	assert_null(pool);
	event_base_free(t.base);
}

static void
test_free_finishes_queued_jobs(void **state)
{
	struct tally t = {{0}, {0}, 0, NULL};
	struct worker_pool *pool;

	(void)state;
	t.base = event_base_new();
	pool = worker_pool_new(t.base, 1);
	for (int i = 0; i < 10; i++) {
		struct item *it = malloc(sizeof(*it));
		it->t = &t;
		it->i = i * 50; /* slow ones */
		if (it->i >= NJOBS)
			it->i = 1;
		assert_int_equal(worker_submit(pool, work, done, it), 0);
	}
	/* No loop ran: free must still run work and completions (no leak). */
	worker_pool_free(&pool);
	assert_int_equal(t.ndone, 10);
	event_base_free(t.base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
	        test_every_job_runs_once_and_completes_on_the_loop),
	    cmocka_unit_test(test_free_finishes_queued_jobs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
