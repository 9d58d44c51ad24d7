#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pop3/parse.h"

static enum pop3_parse
parse(const char *line, struct pop3_cmdline *cmd)
{
	return pop3_parse_command(line, strlen(line), cmd);
}

static void
test_verbs(void **state)
{
	struct pop3_cmdline cmd;

	(void)state;
	assert_int_equal(parse("stat", &cmd), POP3_PARSE_OK);
	assert_string_equal(cmd.verb, "STAT");
	assert_int_equal(cmd.nargs, 0);
	assert_int_equal(parse("Top 1 2", &cmd), POP3_PARSE_OK);
	assert_string_equal(cmd.verb, "TOP");
	assert_int_equal(parse("", &cmd), POP3_PARSE_BAD_VERB);
	assert_int_equal(parse("XX", &cmd), POP3_PARSE_BAD_VERB);
	assert_int_equal(parse("RETRIEVE 1", &cmd), POP3_PARSE_BAD_VERB);
	assert_int_equal(parse("1TOP", &cmd), POP3_PARSE_BAD_VERB);
	assert_int_equal(parse("RE-R", &cmd), POP3_PARSE_BAD_VERB);
	assert_int_equal(parse("utf8", &cmd), POP3_PARSE_OK);
	assert_string_equal(cmd.verb, "UTF8");
	assert_int_equal(parse(" LIST", &cmd), POP3_PARSE_BAD_VERB);
}

static void
test_args(void **state)
{
	struct pop3_cmdline cmd;

	(void)state;
	assert_int_equal(parse("TOP 12 3", &cmd), POP3_PARSE_OK);
	assert_true(cmd.args_valid);
	assert_int_equal(cmd.nargs, 2);
	assert_int_equal(cmd.args[0].len, 2);
	assert_memory_equal(cmd.args[0].p, "12", 2);
	assert_memory_equal(cmd.args[1].p, "3", 1);
	/* Trailing spaces do not make an argument. */
	assert_int_equal(parse("LIST  ", &cmd), POP3_PARSE_OK);
	assert_int_equal(cmd.nargs, 0);
	assert_int_equal(parse("LIST 1 ", &cmd), POP3_PARSE_OK);
	assert_int_equal(cmd.nargs, 1);
	assert_true(cmd.args_valid);
	/* Two spaces in a row, control characters: invalid. */
	assert_int_equal(parse("TOP 1  2", &cmd), POP3_PARSE_OK);
	assert_false(cmd.args_valid);
	assert_int_equal(parse("LIST \x01", &cmd), POP3_PARSE_OK);
	assert_false(cmd.args_valid);
	/* More arguments than are kept are still counted. */
	assert_int_equal(parse("TOP 1 2 3 4", &cmd), POP3_PARSE_OK);
	assert_int_equal(cmd.nargs, 4);
}

static void
test_rest_keeps_spaces(void **state)
{
	struct pop3_cmdline cmd;

	(void)state;
	assert_int_equal(parse("PASS my secret ", &cmd), POP3_PARSE_OK);
	assert_int_equal(cmd.rest.len, 10);
	assert_string_equal(cmd.rest.p, "my secret ");
}

static void
test_line_with_nul(void **state)
{
	struct pop3_cmdline cmd;

	(void)state;
	assert_int_equal(pop3_parse_command("LIST \0", 6, &cmd), POP3_PARSE_OK);
	assert_false(cmd.args_valid);
	assert_int_equal(pop3_parse_command("LI\0T", 4, &cmd),
	                 POP3_PARSE_BAD_VERB);
}

static void
test_numbers(void **state)
{
	struct pop3_arg a;
	uint32_t n;

	(void)state;
#define ARG(s) (a.p = (s), a.len = strlen(s), &a)
	assert_true(pop3_parse_number(ARG("1"), &n));
	assert_int_equal(n, 1);
	assert_true(pop3_parse_number(ARG("4294967295"), &n));
	assert_int_equal(n, UINT32_MAX);
	assert_false(pop3_parse_number(ARG("4294967296"), &n));
	assert_false(pop3_parse_number(ARG("99999999999"), &n));
	assert_false(pop3_parse_number(ARG("-1"), &n));
	assert_false(pop3_parse_number(ARG("1a"), &n));
	assert_false(pop3_parse_number(ARG(""), &n));
	assert_true(pop3_parse_arg_is(ARG("plain"), "PLAIN"));
	assert_false(pop3_parse_arg_is(ARG("plai"), "PLAIN"));
#undef ARG
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_verbs),
	    cmocka_unit_test(test_args),
	    cmocka_unit_test(test_rest_keeps_spaces),
	    cmocka_unit_test(test_line_with_nul),
	    cmocka_unit_test(test_numbers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
