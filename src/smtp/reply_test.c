#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/session.h"

/* The one mapping table of store/auth errors to SMTP replies (RFC 3463). */
static void
test_err_mapping(void **state)
{
	struct smtp_err_reply r;

	(void)state;
	r = smtp_reply_for_err(ERR_QUOTA);
	assert_int_equal(r.code, 552);
	assert_string_equal(r.esc, "5.2.2");
	r = smtp_reply_for_err(ERR_NOTFOUND);
	assert_int_equal(r.code, 550);
	assert_string_equal(r.esc, "5.1.1");
	r = smtp_reply_for_err(ERR_LIMIT);
	assert_string_equal(r.esc, "5.3.4");
	/* Failures of ours are temporary: the sender retries, nothing lost. */
	for (enum err_kind k = ERR_TEMP; k <= ERR_INTERNAL; k++) {
		r = smtp_reply_for_err(k);
		if (k == ERR_TEMP || k == ERR_IO || k == ERR_INTERNAL ||
		    k == ERR_EXISTS) {
			assert_int_equal(r.code, 451);
			assert_string_equal(r.esc, "4.3.0");
		}
		/* The enhanced code's class matches the reply's first digit. */
		assert_int_equal(r.esc[0], '0' + r.code / 100);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_err_mapping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
