#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pop3/resp.h"

static void
test_codes(void **state)
{
	(void)state;
	/* RFC 3206 4: server trouble that may pass is SYS/TEMP. */
	assert_string_equal(pop3_resp_code(ERR_TEMP), "SYS/TEMP");
	assert_string_equal(pop3_resp_code(ERR_IO), "SYS/TEMP");
	assert_string_equal(pop3_resp_code(ERR_INTERNAL), "SYS/TEMP");
	assert_string_equal(pop3_resp_code(ERR_PERM), "SYS/PERM");
	assert_string_equal(pop3_resp_code(ERR_QUOTA), "SYS/PERM");
	assert_null(pop3_resp_code(ERR_NOTFOUND));
	/* An out-of-range kind still gets an answer, never a crash. */
	assert_string_equal(pop3_resp_code((enum err_kind)999), "SYS/TEMP");
}

static void
test_texts(void **state)
{
	(void)state;
	for (int k = ERR_OK; k <= ERR_INTERNAL; k++)
		assert_non_null(pop3_resp_text((enum err_kind)k));
	assert_non_null(pop3_resp_text((enum err_kind) - 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_codes),
	    cmocka_unit_test(test_texts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
