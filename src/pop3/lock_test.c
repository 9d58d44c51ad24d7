#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "pop3/lock.h"

static void
test_acquire_release(void **state)
{
	struct pop3_locks *l;

	(void)state;
	assert_int_equal(pop3_locks_new(&l, 0), 0);
	assert_int_equal(pop3_locks_acquire(l, "a@x.test", 1000), POP3_LOCK_OK);
	assert_int_equal(pop3_locks_acquire(l, "a@x.test", 1000),
	                 POP3_LOCK_IN_USE);
	assert_int_equal(pop3_locks_acquire(l, "b@x.test", 1000), POP3_LOCK_OK);
	assert_int_equal(pop3_locks_count(l), 2);
	pop3_locks_release(l, "a@x.test");
	assert_int_equal(pop3_locks_count(l), 1);
	assert_int_equal(pop3_locks_acquire(l, "a@x.test", 1000), POP3_LOCK_OK);
	/* Releasing a name nobody holds changes nothing. */
	pop3_locks_release(l, "nobody@x.test");
	assert_int_equal(pop3_locks_count(l), 2);
	/* Held locks are freed with the table (ASan checks the leak). */
	pop3_locks_free(&l);
	assert_null(l);
	pop3_locks_free(&l);
}

static void
test_many_names_survive_growth(void **state)
{
	struct pop3_locks *l;
	char name[32];

	(void)state;
	assert_int_equal(pop3_locks_new(&l, 0), 0);
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "u%d@x.test", i);
		assert_int_equal(pop3_locks_acquire(l, name, 1000),
		                 POP3_LOCK_OK);
	}
	assert_int_equal(pop3_locks_count(l), 5000);
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "u%d@x.test", i);
		assert_int_equal(pop3_locks_acquire(l, name, 1000),
		                 POP3_LOCK_IN_USE);
	}
	for (int i = 0; i < 5000; i += 2) {
		snprintf(name, sizeof(name), "u%d@x.test", i);
		pop3_locks_release(l, name);
	}
	assert_int_equal(pop3_locks_count(l), 2500);
	assert_int_equal(pop3_locks_acquire(l, "u0@x.test", 1000),
	                 POP3_LOCK_OK);
	assert_int_equal(pop3_locks_acquire(l, "u1@x.test", 1000),
	                 POP3_LOCK_IN_USE);
	pop3_locks_free(&l);
}

/* LOGIN-DELAY: a second login within the delay is refused, also after
 * the first session ended; at the delay it works again.  Names whose
 * delay is over are dropped when the table would grow. */
static void
test_login_delay(void **state)
{
	struct pop3_locks *l;
	char name[32];

	(void)state;
	assert_int_equal(pop3_locks_new(&l, 60), 0);
	assert_int_equal(pop3_locks_acquire(l, "a@x.test", 1000), POP3_LOCK_OK);
	assert_int_equal(pop3_locks_acquire(l, "a@x.test", 1001),
	                 POP3_LOCK_IN_USE);
	pop3_locks_release(l, "a@x.test");
	assert_int_equal(pop3_locks_count(l), 0);
	assert_int_equal(pop3_locks_acquire(l, "a@x.test", 1059),
	                 POP3_LOCK_TOO_SOON);
	assert_int_equal(pop3_locks_acquire(l, "b@x.test", 1059), POP3_LOCK_OK);
	assert_int_equal(pop3_locks_acquire(l, "a@x.test", 1060), POP3_LOCK_OK);
	pop3_locks_release(l, "a@x.test");
	pop3_locks_release(l, "b@x.test");
	/* A clock stepped back does not lock anyone out for long. */
	assert_int_equal(pop3_locks_acquire(l, "a@x.test", 900), POP3_LOCK_OK);
	pop3_locks_release(l, "a@x.test");

	/* 10,000 users, one after another, long after: each login works and
	 * the expired names are pruned instead of kept. */
	for (int i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "u%d@x.test", i);
		assert_int_equal(pop3_locks_acquire(l, name, 5000 + 100 * i),
		                 POP3_LOCK_OK);
		pop3_locks_release(l, name);
	}
	assert_int_equal(pop3_locks_count(l), 0);
	assert_in_range(pop3_locks_size(l), 1, 200);
	/* The last user is still inside its delay. */
	assert_int_equal(pop3_locks_acquire(l, "u9999@x.test", 5000 + 999910),
	                 POP3_LOCK_TOO_SOON);
	pop3_locks_free(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_acquire_release),
	    cmocka_unit_test(test_many_names_survive_growth),
	    cmocka_unit_test(test_login_delay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
