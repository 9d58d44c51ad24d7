#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf.h"

static void
test_append_and_printf(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(buf_append(&b, "ab\0c", 4), 0);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "ab\0c", 5); /* NUL-terminated too */
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "%d-%s", 42, "x"), 0);
	assert_int_equal(buf_append_str(&b, "yz"), 0);
	assert_string_equal(buf_cstr(&b), "42-xyz");
	buf_consume(&b, 3);
	assert_string_equal(buf_cstr(&b), "xyz");
	buf_consume(&b, 10);
	assert_int_equal(b.len, 0);
	buf_free(&b);
	assert_null(b.data);
}

static void
test_append_u64(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	assert_int_equal(buf_append_u64(&b, 0), 0);
	assert_int_equal(buf_append_str(&b, " "), 0);
	assert_int_equal(buf_append_u64(&b, 4294967295u), 0);
	assert_int_equal(buf_append_str(&b, " "), 0);
	assert_int_equal(buf_append_u64(&b, UINT64_MAX), 0);
	assert_string_equal(buf_cstr(&b), "0 4294967295 18446744073709551615");
	buf_free(&b);
}

static void
test_growth_is_bounded(void **state)
{
	struct buf b;
	char chunk[100];

	(void)state;
	memset(chunk, 'a', sizeof(chunk));
	buf_init(&b, 250);
	assert_int_equal(buf_append(&b, chunk, 100), 0);
	assert_int_equal(buf_append(&b, chunk, 100), 0);
	/* Past the maximum the buffer refuses and stays as it was. */
	assert_int_equal(buf_append(&b, chunk, 100), -1);
	assert_int_equal(b.len, 200);
	assert_int_equal(buf_append(&b, chunk, 50), 0);
	assert_int_equal(buf_printf(&b, "x"), -1);
	assert_int_equal(b.len, 250);
	/* A size that would overflow len + n is refused, not wrapped. */
	assert_int_equal(buf_reserve(&b, SIZE_MAX - 10), -1);
	buf_free(&b);
}

static void
test_many_small_appends(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	for (int i = 0; i < 100000; i++)
		assert_int_equal(buf_append(&b, "0123456789", 10), 0);
	assert_int_equal(b.len, 1000000);
	assert_true(b.cap >= b.len + 1);
	assert_memory_equal(b.data + 999990, "0123456789", 10);
	char *s = buf_steal(&b);
	assert_null(b.data);
	assert_int_equal(strlen(s), 1000000);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_append_and_printf),
	    cmocka_unit_test(test_append_u64),
	    cmocka_unit_test(test_growth_is_bounded),
	    cmocka_unit_test(test_many_small_appends),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
