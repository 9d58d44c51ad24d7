/*
 * Unit tests for IMAP sequence sets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/seqset.h"

static int
parse(const char *s, struct imap_seqset *set)
{
	return imap_seqset_parse(s, strlen(s), set);
}

static void
test_valid(void **state)
{
	struct imap_seqset set;

	(void)state;
	assert_int_equal(parse("1:3,7,9:*", &set), 0);
	assert_int_equal(set.count, 3);
	imap_seqset_resolve(&set, 12);
	assert_true(imap_seqset_contains(&set, 1));
	assert_true(imap_seqset_contains(&set, 3));
	assert_false(imap_seqset_contains(&set, 4));
	assert_true(imap_seqset_contains(&set, 7));
	assert_false(imap_seqset_contains(&set, 8));
	assert_true(imap_seqset_contains(&set, 12));
	assert_int_equal(imap_seqset_max(&set), 12);
	imap_seqset_free(&set);

	/* Reversed ranges mean the same (RFC 9051 9). */
	assert_int_equal(parse("*:5", &set), 0);
	imap_seqset_resolve(&set, 3);
	assert_true(imap_seqset_contains(&set, 3));
	assert_true(imap_seqset_contains(&set, 5));
	assert_false(imap_seqset_contains(&set, 2));
	imap_seqset_free(&set);

	assert_int_equal(parse("4294967294", &set), 0);
	imap_seqset_free(&set);
}

static void
test_invalid(void **state)
{
	static const char *const bad[] = {
	    "",           "0",           "1:0",  "01", ",",  "1,",
	    ",1",         "1::2",        "1:",   ":1", "a",  "1 2",
	    "4294967295", "99999999999", "1,*x", "$",  "-1",
	};
	struct imap_seqset set;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], &set), -1);
		imap_seqset_free(&set);
	}
}

static void
test_range_limit(void **state)
{
	struct imap_seqset set;
	size_t n = IMAP_SEQSET_MAX_RANGES + 1;
	char *text = malloc(n * 2 + 1);
	size_t pos = 0;

	(void)state;
	assert_non_null(text);
	for (size_t i = 0; i < n; i++) {
		text[pos++] = '1';
		text[pos++] = ',';
	}
	text[pos - 1] = '\0';
	assert_int_equal(imap_seqset_parse(text, pos - 1, &set), -1);
	imap_seqset_free(&set);
	/* One fewer fits. */
	assert_int_equal(imap_seqset_parse(text, pos - 3, &set), 0);
	assert_int_equal(set.count, IMAP_SEQSET_MAX_RANGES);
	imap_seqset_free(&set);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_invalid),
	    cmocka_unit_test(test_range_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
