/*
 * Unit tests for the modified UTF-7 codec (RFC 3501 5.1.3).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/mutf7.h"

/* Decodes s; returns the UTF-8 (static) or NULL if refused. */
static const char *
dec(const char *s)
{
	static char res[256];
	struct buf b = BUF_INIT;
	const char *why = NULL;
	int rc = imap_mutf7_decode(s, strlen(s), &b, &why);

	if (rc < 0) {
		assert_non_null(why);
		buf_free(&b);
		return NULL;
	}
	snprintf(res, sizeof(res), "%s", buf_cstr(&b));
	buf_free(&b);
	return res;
}

static const char *
enc(const char *s)
{
	static char res[256];
	struct buf b = BUF_INIT;

	if (imap_mutf7_encode(s, strlen(s), &b) < 0) {
		buf_free(&b);
		return NULL;
	}
	snprintf(res, sizeof(res), "%s", buf_cstr(&b));
	buf_free(&b);
	return res;
}

/* Examples from RFC 3501 5.1.3 and round trips. */
static void
test_known(void **state)
{
	static const char *const pairs[][2] = {
	    {"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac"
	     "\xe8\xaa\x9e",
	     "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
	    {"Entw\xc3\xbc"
	     "rfe",
	     "Entw&APw-rfe"},
	    {"A&B", "A&-B"},
	    {"&", "&-"},
	    {"Gel\xc3\xb6scht", "Gel&APY-scht"},
	    {"\xc3\xa9\xc3\xa9\xc3\xa9", "&AOkA6QDp-"},
	    {"\xf0\x9f\x93\xa7 Mail", "&2D3c5w- Mail"}, /* U+1F4E7 */
	    {"plain/ascii name", "plain/ascii name"},
	    {"", ""},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		assert_string_equal(enc(pairs[i][0]), pairs[i][1]);
		assert_string_equal(dec(pairs[i][1]), pairs[i][0]);
	}
}

static void
test_invalid(void **state)
{
	static const char *const bad[] = {
	    "&",          /* not closed */
	    "&AOk",       /* not closed */
	    "&AOk-&AOk-", /* null shift */
	    "&AGE-",      /* encodes "a" */
	    "&AOl-",      /* non-zero padding bits */
	    "&AOkA-",     /* 6 bits left over */
	    "&2D3-",      /* lone high surrogate */
	    "&3OcA6Q-",   /* lone low surrogate */
	    "&A/k-",      /* "/" is not modified base64 */
	    "\xc3\xa9",   /* raw 8-bit */
	    "a\tb",       /* control */
	    "&AOk=-",     /* padding character */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (dec(bad[i]) != NULL)
			fail_msg("accepted %s", bad[i]);
	}
	/* "&-" then a run is fine: no null shift. */
	assert_string_equal(dec("&-&AOk-"), "&\xc3\xa9");
}

static void
test_utf8_check(void **state)
{
	const char *why;

	(void)state;
	assert_true(imap_utf8_name_check("Entw\xc3\xbc"
	                                 "rfe",
	                                 9, &why));
	assert_true(imap_utf8_name_check("\xf0\x9f\x93\xa7", 4, &why));
	assert_false(imap_utf8_name_check("\xc0\xaf", 2, &why)); /* overlong */
	assert_false(
	    imap_utf8_name_check("\xed\xa0\x80", 3, &why)); /* surrogate */
	assert_false(imap_utf8_name_check("\xf4\x90\x80\x80", 4, &why));
	assert_false(imap_utf8_name_check("\xc3", 1, &why)); /* truncated */
	assert_false(imap_utf8_name_check("a\x7f", 2, &why));
	assert_false(imap_utf8_name_check("\xc2\x85", 2, &why)); /* NEL */
	assert_false(imap_utf8_name_check("\xe2\x80\xa8", 3, &why));
	assert_false(imap_utf8_name_check("a\0b", 3, &why));
	/* The encoder refuses what is not UTF-8. */
	assert_null(enc("\xff"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known),
	    cmocka_unit_test(test_invalid),
	    cmocka_unit_test(test_utf8_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
