/*
 * sqlite_setup: SQLite's process-wide settings.
 *
 * Memory statistics off: with them SQLite takes one process-wide mutex in
 * every allocation and free, and with a connection per user and
 * deliveries on many threads that mutex was contended (futex waits in
 * perf, deliver_bench with 100 users).  Nothing reads the statistics.
 * sqlite3_config() is refused once SQLite has initialised, hence once,
 * before the first open.
 */
#include "util/sqlite_setup.h"

#include <pthread.h>
#include <sqlite3.h>

static void
sqlite_setup_once(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

void
sqlite_setup(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, sqlite_setup_once);
}
