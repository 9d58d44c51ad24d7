/*
 * Unit tests for the IMAP command parser: whole and byte-at-a-time
 * feeding, literals, nesting and size limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "imap/parser.h"

static const struct imap_parser_limits lim = {
    .max_line = 200, .max_literal = 100, .max_depth = 3, .max_args = 20};

/*
 * Feeds text in chunks of step bytes, acting like the session: after a
 * literal header the feed stops and the next call carries on.
 */
static enum imap_parse_result
feed_all(struct imap_parser *p, const char *text, size_t step)
{
	size_t len = strlen(text), pos = 0;
	enum imap_parse_result r = PARSE_MORE;

	while (pos < len && r == PARSE_MORE) {
		size_t n = len - pos < step ? len - pos : step, used;

		r = imap_parser_feed(p, text + pos, n, &used);
		assert_true(used <= n);
		if (r == PARSE_MORE && used < n)
			assert_true(text[pos + used - 1] == '\n');
		pos += used;
	}
	if (r == PARSE_DONE)
		assert_int_equal(pos, len);
	return r;
}

static void
check_fetch(struct imap_parser *p)
{
	const struct imap_arg *a = imap_parser_args(p);

	assert_string_equal(imap_parser_tag(p), "a1");
	assert_string_equal(imap_parser_name(p), "FETCH");
	assert_non_null(a);
	assert_int_equal(a->type, IMAP_ARG_ATOM);
	assert_string_equal(a->str, "1:*");
	a = a->next;
	assert_int_equal(a->type, IMAP_ARG_LIST);
	assert_string_equal(a->child->str, "FLAGS");
	assert_string_equal(a->child->next->str,
	                    "BODY.PEEK[HEADER.FIELDS (From To)]<0.10>");
	assert_null(a->child->next->next);
	assert_null(a->next);
}

static void
test_fetch_any_chunking(void **state)
{
	const char *cmd =
	    "a1 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.10>)\r\n";

	(void)state;
	for (size_t step = 1; step <= strlen(cmd); step++) {
		struct imap_parser *p = imap_parser_new(&lim);

		assert_int_equal(feed_all(p, cmd, step), PARSE_DONE);
		check_fetch(p);
		imap_parser_free(&p);
		assert_null(p);
	}
}

static void
test_quoted_and_literal(void **state)
{
	const char *cmd = "x LOGIN \"al\\\"ice\" {4}\r\np\0ss\r\n";
	const size_t len = 29;
	struct imap_parser *p = imap_parser_new(&lim);
	const struct imap_arg *a;
	uint64_t size;
	bool nonsync;

	(void)state;
	/* Byte by byte, taking the literal event when it comes. */
	for (size_t i = 0; i < len; i++) {
		size_t used;
		enum imap_parse_result r =
		    imap_parser_feed(p, cmd + i, 1, &used);

		assert_int_equal(used, 1);
		if (i == 22) {
			assert_true(
			    imap_parser_take_literal(p, &size, &nonsync));
			assert_int_equal(size, 4);
			assert_false(nonsync);
			assert_int_equal(imap_parser_literal_remaining(p), 4);
		}
		assert_int_equal(r, i == len - 1 ? PARSE_DONE : PARSE_MORE);
	}
	a = imap_parser_args(p);
	assert_int_equal(a->type, IMAP_ARG_QUOTED);
	assert_string_equal(a->str, "al\"ice");
	assert_int_equal(a->next->type, IMAP_ARG_LITERAL);
	assert_int_equal(a->next->len, 4);
	assert_memory_equal(a->next->str, "p\0ss", 4);
	imap_parser_free(&p);
}

static void
test_nonsync_and_empty_literal(void **state)
{
	struct imap_parser *p = imap_parser_new(&lim);
	uint64_t size;
	bool nonsync;
	size_t used;

	(void)state;
	assert_int_equal(imap_parser_feed(p, "t X {0+}\r\n", 10, &used),
	                 PARSE_MORE);
	assert_int_equal(used, 10);
	assert_true(imap_parser_take_literal(p, &size, &nonsync));
	assert_true(nonsync);
	assert_int_equal(size, 0);
	assert_false(imap_parser_take_literal(p, &size, &nonsync));
	assert_int_equal(imap_parser_feed(p, " y\r\n", 4, &used), PARSE_DONE);
	assert_int_equal(imap_parser_args(p)->len, 0);
	assert_string_equal(imap_parser_args(p)->next->str, "y");
	imap_parser_free(&p);
}

/* "~{n}" is a literal8 (RFC 3516 4.2), also inside a list (RFC 6855 4's
 * "UTF8 (~{n}...)"); "~" elsewhere stays an atom character. */
static void
test_literal8(void **state)
{
	struct imap_parser *p = imap_parser_new(&lim);
	const struct imap_arg *a;
	uint64_t size;
	bool nonsync;
	size_t used;

	(void)state;
	assert_int_equal(
	    imap_parser_feed(p, "t APPEND B UTF8 (~{3+}\r\n", 24, &used),
	    PARSE_MORE);
	assert_true(imap_parser_take_literal(p, &size, &nonsync));
	assert_int_equal(size, 3);
	assert_int_equal(imap_parser_feed(p, "a\0b) ~x {1}\r\n", 15, &used),
	                 PARSE_MORE);
	assert_true(imap_parser_take_literal(p, &size, &nonsync));
	assert_int_equal(imap_parser_feed(p, "z\r\n", 3, &used), PARSE_DONE);
	a = imap_parser_args(p);
	assert_string_equal(a->str, "B");
	assert_string_equal(a->next->str, "UTF8");
	a = a->next->next;
	assert_int_equal(a->type, IMAP_ARG_LIST);
	assert_int_equal(a->child->type, IMAP_ARG_LITERAL);
	assert_true(a->child->literal8);
	assert_int_equal(a->child->len, 3);
	assert_memory_equal(a->child->str, "a\0b", 3);
	assert_string_equal(a->next->str, "~x");
	assert_int_equal(a->next->next->type, IMAP_ARG_LITERAL);
	assert_false(a->next->next->literal8);
	imap_parser_free(&p);
}

static enum imap_parse_error
error_of(const char *text)
{
	struct imap_parser *p = imap_parser_new(&lim);
	enum imap_parse_error e;

	if (feed_all(p, text, 1) != PARSE_ERROR) {
		imap_parser_free(&p);
		return IMAP_PARSE_ERR_NONE;
	}
	e = imap_parser_error(p);
	imap_parser_free(&p);
	return e;
}

static void
test_errors(void **state)
{
	(void)state;
	assert_int_equal(error_of("a NOOP ((((x))))\r\n"),
	                 IMAP_PARSE_ERR_TOO_DEEP);
	assert_int_equal(error_of("a NOOP (((x)))\r\n"), IMAP_PARSE_ERR_NONE);
	assert_int_equal(error_of("a X {101}\r\n"),
	                 IMAP_PARSE_ERR_LITERAL_TOO_BIG);
	assert_int_equal(error_of("a X {99999999999999999999999}\r\n"),
	                 IMAP_PARSE_ERR_LITERAL_TOO_BIG);
	assert_int_equal(error_of("a X {}\r\n"), IMAP_PARSE_ERR_SYNTAX);
	assert_int_equal(error_of("a X {1a}\r\n"), IMAP_PARSE_ERR_SYNTAX);
	assert_int_equal(error_of("a X {1} \r\n"), IMAP_PARSE_ERR_SYNTAX);
	assert_int_equal(error_of("a X {+}\r\n"), IMAP_PARSE_ERR_SYNTAX);
	assert_int_equal(error_of("a X (a b\r\n"), IMAP_PARSE_ERR_SYNTAX);
	assert_int_equal(error_of("a X a)\r\n"), IMAP_PARSE_ERR_SYNTAX);
	assert_int_equal(error_of("a X \"ab\r\n"), IMAP_PARSE_ERR_SYNTAX);
	assert_int_equal(error_of("a X \"a\\b\"\r\n"), IMAP_PARSE_ERR_SYNTAX);
	assert_int_equal(error_of("a X \"a\"b\r\n"), IMAP_PARSE_ERR_SYNTAX);
	assert_int_equal(error_of("a+ X\r\n"), IMAP_PARSE_ERR_SYNTAX);
	assert_int_equal(error_of(" X\r\n"), IMAP_PARSE_ERR_SYNTAX);
	assert_int_equal(error_of("a\r\n"), IMAP_PARSE_ERR_SYNTAX);
	assert_int_equal(error_of("a X BODY[\r\n"), IMAP_PARSE_ERR_SYNTAX);
	assert_int_equal(error_of("a X 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 "
	                          "16 17 18 19 20 21\r\n"),
	                 IMAP_PARSE_ERR_TOO_MANY);
}

static void
test_line_too_long(void **state)
{
	char line[300];

	(void)state;
	memset(line, 'x', sizeof(line));
	memcpy(line, "a NOOP ", 7);
	line[sizeof(line) - 1] = '\0';
	assert_int_equal(error_of(line), IMAP_PARSE_ERR_TOO_LONG);
}

static void
test_reset_reuses(void **state)
{
	struct imap_parser *p = imap_parser_new(&lim);
	size_t used;

	(void)state;
	assert_int_equal(imap_parser_feed(p, "a X (\r\n", 7, &used),
	                 PARSE_ERROR);
	assert_string_equal(imap_parser_tag(p), "a");
	imap_parser_reset(p);
	assert_null(imap_parser_tag(p));
	/* Two pipelined commands: the first DONE stops at its LF. */
	assert_int_equal(imap_parser_feed(p, "b NOOP\nc NOOP\r\n", 16, &used),
	                 PARSE_DONE);
	assert_int_equal(used, 7);
	assert_string_equal(imap_parser_name(p), "NOOP");
	assert_null(imap_parser_args(p));
	imap_parser_reset(p);
	assert_int_equal(imap_parser_feed(p, "c NOOP\r\n", 8, &used),
	                 PARSE_DONE);
	assert_string_equal(imap_parser_tag(p), "c");
	imap_parser_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fetch_any_chunking),
	    cmocka_unit_test(test_quoted_and_literal),
	    cmocka_unit_test(test_nonsync_and_empty_literal),
	    cmocka_unit_test(test_literal8),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_line_too_long),
	    cmocka_unit_test(test_reset_reuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
