/*
 * sqlite_setup_test: the process-wide settings take effect (they are
 * refused silently once SQLite has initialised).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>

#include "util/sqlite_setup.h"

/* With memory statistics off SQLite counts nothing, even after work. */
static void
test_memstatus_off(void **state)
{
	sqlite3 *db;

	(void)state;
	sqlite_setup();
	sqlite_setup(); /* idempotent */
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                              "CREATE TABLE t(x); INSERT INTO t "
	                              "VALUES (randomblob(100000));",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_memory_used(), 0);
	sqlite3_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_memstatus_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
