#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pop3/dotstuff.h"

/* Runs pop3_dotstuff_append on msg and compares with want. */
static void
check(const char *msg, int64_t lines, const char *want)
{
	struct buf out = BUF_INIT;

	assert_int_equal(pop3_dotstuff_append(&out, msg, strlen(msg), lines),
	                 0);
	assert_string_equal(buf_cstr(&out), want);
	buf_free(&out);
}

static void
test_crlf_copied_exactly(void **state)
{
	(void)state;
	check("Subject: a\r\n\r\nbody\r\n", POP3_DOTSTUFF_ALL,
	      "Subject: a\r\n\r\nbody\r\n.\r\n");
	check("", POP3_DOTSTUFF_ALL, ".\r\n");
}

static void
test_dots_are_stuffed(void **state)
{
	(void)state;
	check("A: b\r\n\r\n.\r\n..x\r\nx.\r\n.", POP3_DOTSTUFF_ALL,
	      "A: b\r\n\r\n..\r\n...x\r\nx.\r\n..\r\n.\r\n");
}

static void
test_terminator_added(void **state)
{
	(void)state;
	check("A: b\r\n\r\nno newline", POP3_DOTSTUFF_ALL,
	      "A: b\r\n\r\nno newline\r\n.\r\n");
	check("A: b\n\nbare lf\n", POP3_DOTSTUFF_ALL,
	      "A: b\r\n\r\nbare lf\r\n.\r\n");
	check("A: b\r\n\r\nends in cr\r", POP3_DOTSTUFF_ALL,
	      "A: b\r\n\r\nends in cr\r\n.\r\n");
}

static void
test_top_lines(void **state)
{
	const char *msg = "A: 1\r\nB: 2\r\n\r\nl1\r\n.l2\r\nl3\r\n";

	(void)state;
	check(msg, 0, "A: 1\r\nB: 2\r\n\r\n.\r\n");
	check(msg, 2, "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\n.\r\n");
	check(msg, 99, "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n");
	/* A message that is all header has no body to count. */
	check("A: 1\r\nB: 2\r\n", 0, "A: 1\r\nB: 2\r\n.\r\n");
}

static void
test_limit_reported(void **state)
{
	struct buf out;

	(void)state;
	buf_init(&out, 8);
	assert_int_equal(
	    pop3_dotstuff_append(&out, "0123456789\r\n", 12, POP3_DOTSTUFF_ALL),
	    -1);
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crlf_copied_exactly),
	    cmocka_unit_test(test_dots_are_stuffed),
	    cmocka_unit_test(test_terminator_added),
	    cmocka_unit_test(test_top_lines),
	    cmocka_unit_test(test_limit_reported),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
