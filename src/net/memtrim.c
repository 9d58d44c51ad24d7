/*
 * memtrim: hands memory that sessions freed back to the system.
 *
 * glibc keeps freed memory in its arenas for reuse, so the peak of a
 * burst stays: each login holds an SQLite connection and TLS buffers
 * until the session rests in IDLE (some 90 KB), and after 10,000 TLS
 * clients of one user logged in and idled, the server's PSS grew by
 * 31.6, 37.1, 49.4 and 55.8 KiB per session in four runs of the same
 * binary, 23.2 KiB after one malloc_trim(0) (bench/README.md).  So every
 * memory_trim_interval, if connections came or went since the last time,
 * malloc_trim(0) runs on a worker thread: it walks every arena, and the
 * loop waits only if it allocates from the arena being trimmed.  A quiet
 * server is not touched.
 */
#include "net/net_private.h"

#include <malloc.h>

#include "util/clock.h"
#include "util/log.h"

struct memtrim_job {
	struct server *srv;
	double ms;
};

static void
memtrim_work(void *arg)
{
	struct memtrim_job *j = arg;
	double t0 = clock_monotonic_ms();

	malloc_trim(0);
	j->ms = clock_monotonic_ms() - t0;
}

static void
memtrim_done(void *arg)
{
	struct memtrim_job *j = arg;

	j->srv->trim_running = false;
	log_event(LOG_LVL_DEBUG, NULL, "memory trimmed in %.1f ms", j->ms);
	free(j);
}

static void
memtrim_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct memtrim_job *j;

	(void)fd;
	(void)what;
	if (srv->trim_running || srv->conn_events == srv->trim_seen)
		return;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return;
	j->srv = srv;
	srv->trim_seen = srv->conn_events;
	srv->trim_running = true;
	if (srv->workers == NULL ||
	    worker_submit(srv->workers, memtrim_work, memtrim_done, j) < 0) {
		memtrim_work(j); /* no pool: on the loop */
		memtrim_done(j);
	}
}

int
memtrim_start(struct server *srv)
{
	struct timeval tv = {.tv_sec = (time_t)srv->cfg->memory_trim_interval};

	if (srv->cfg->memory_trim_interval == 0)
		return 0;
	srv->trim_timer =
	    event_new(srv->base, -1, EV_PERSIST, memtrim_timer_cb, srv);
	return srv->trim_timer != NULL && event_add(srv->trim_timer, &tv) == 0
	           ? 0
	           : -1;
}

void
memtrim_stop(struct server *srv)
{
	if (srv->trim_timer != NULL)
		event_free(srv->trim_timer);
	srv->trim_timer = NULL;
}
