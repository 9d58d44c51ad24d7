#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "net/ipcount.h"

static void
test_limit_per_address(void **state)
{
	struct ipcount *t = ipcount_new();

	(void)state;
	assert_int_equal(ipcount_acquire(t, "192.0.2.1", 2), 0);
	assert_int_equal(ipcount_acquire(t, "192.0.2.1", 2), 0);
	assert_int_equal(ipcount_acquire(t, "192.0.2.1", 2), -1);
	assert_int_equal(ipcount_acquire(t, "192.0.2.2", 2), 0);
	assert_int_equal(ipcount_get(t, "192.0.2.1"), 2);
	ipcount_release(t, "192.0.2.1");
	assert_int_equal(ipcount_get(t, "192.0.2.1"), 1);
	assert_int_equal(ipcount_acquire(t, "192.0.2.1", 2), 0);
	ipcount_release(t, "192.0.2.2");
	assert_int_equal(ipcount_get(t, "192.0.2.2"), 0);
	/* Releasing an unknown address is harmless. */
	ipcount_release(t, "2001:db8::1");
	assert_int_equal(ipcount_acquire(t, "2001:db8::1", 0), -1);
	ipcount_free(&t);
	assert_null(t);
}

static void
test_many_addresses(void **state)
{
	struct ipcount *t = ipcount_new();
	char addr[32];

	(void)state;
	for (int i = 0; i < 10000; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.1", i / 256, i % 256);
		assert_int_equal(ipcount_acquire(t, addr, 1), 0);
	}
	for (int i = 0; i < 10000; i += 2) {
		snprintf(addr, sizeof(addr), "10.%d.%d.1", i / 256, i % 256);
		ipcount_release(t, addr);
	}
	assert_int_equal(ipcount_get(t, "10.0.0.1"), 0);
	assert_int_equal(ipcount_get(t, "10.0.1.1"), 1);
	ipcount_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_limit_per_address),
	    cmocka_unit_test(test_many_addresses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
