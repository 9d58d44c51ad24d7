#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/addr.h"
#include "smtp/queue.h"

static enum smtp_parse
mail(const char *s, struct smtp_mail_args *a)
{
	return smtp_addr_parse_mail(s, strlen(s), a);
}

static enum smtp_parse
rcpt(const char *s, struct smtp_rcpt_args *a)
{
	return smtp_addr_parse_rcpt(s, strlen(s), a);
}

static void
test_mail_plain(void **state)
{
	struct smtp_mail_args a;

	(void)state;
	assert_int_equal(mail("FROM:<bob@example.org>", &a), SMTP_PARSE_OK);
	assert_string_equal(a.addr, "bob@example.org");
	assert_false(a.has_size);
	assert_int_equal(a.body, SMTP_BODY_DEFAULT);
	free(a.addr);
	/* Case-insensitive prefix; a space after the colon is tolerated. */
	assert_int_equal(mail("from: <a.b+c@[192.0.2.1]>", &a), SMTP_PARSE_OK);
	assert_string_equal(a.addr, "a.b+c@[192.0.2.1]");
	free(a.addr);
	assert_int_equal(mail("FROM:<>", &a), SMTP_PARSE_OK);
	assert_string_equal(a.addr, "");
	free(a.addr);
	/* A source route is accepted and dropped (RFC 5321 4.1.1.3). */
	assert_int_equal(
	    mail("FROM:<@relay.example,@b.example:x@y.example>", &a),
	    SMTP_PARSE_OK);
	assert_string_equal(a.addr, "x@y.example");
	free(a.addr);
	assert_int_equal(mail("FROM:<\"john doe\"@example.org>", &a),
	                 SMTP_PARSE_OK);
	assert_string_equal(a.addr, "\"john doe\"@example.org");
	free(a.addr);
}

static void
test_mail_params(void **state)
{
	struct smtp_mail_args a;

	(void)state;
	assert_int_equal(mail("FROM:<b@e.org> SIZE=1234 BODY=8BITMIME "
	                      "SMTPUTF8",
	                      &a),
	                 SMTP_PARSE_OK);
	assert_true(a.has_size);
	assert_int_equal(a.size, 1234);
	assert_int_equal(a.body, SMTP_BODY_8BITMIME);
	assert_true(a.smtputf8);
	free(a.addr);
	assert_int_equal(mail("FROM:<b@e.org> size=99999999999999999999", &a),
	                 SMTP_PARSE_OK);
	assert_int_equal(a.size, UINT64_MAX);
	free(a.addr);
	assert_int_equal(mail("FROM:<b@e.org> SIZE=12x", &a),
	                 SMTP_PARSE_BAD_VALUE);
	assert_int_equal(mail("FROM:<b@e.org> SIZE=1 SIZE=2", &a),
	                 SMTP_PARSE_BAD_VALUE);
	assert_int_equal(mail("FROM:<b@e.org> BODY=BINARYMIME", &a),
	                 SMTP_PARSE_BAD_VALUE);
	assert_int_equal(mail("FROM:<b@e.org> FOO=bar", &a),
	                 SMTP_PARSE_UNKNOWN);
	assert_int_equal(mail("FROM:<b@e.org>SIZE=1", &a), SMTP_PARSE_SYNTAX);
	assert_int_equal(mail("FROM:<b@e.org> =x", &a), SMTP_PARSE_SYNTAX);
	assert_int_equal(mail("FROM:<b@e.org> SIZE=", &a), SMTP_PARSE_SYNTAX);
}

static void
test_mail_bad(void **state)
{
	struct smtp_mail_args a;
	char longlocal[200];

	(void)state;
	assert_int_equal(mail("FROM:b@e.org", &a), SMTP_PARSE_SYNTAX);
	assert_int_equal(mail("TO:<b@e.org>", &a), SMTP_PARSE_SYNTAX);
	assert_int_equal(mail("FROM:<b@e.org", &a), SMTP_PARSE_SYNTAX);
	assert_int_equal(mail("FROM:<b>", &a), SMTP_PARSE_SYNTAX);
	assert_int_equal(mail("FROM:<b@>", &a), SMTP_PARSE_SYNTAX);
	assert_int_equal(mail("FROM:<@e.org>", &a), SMTP_PARSE_SYNTAX);
	assert_int_equal(mail("FROM:<.b@e.org>", &a), SMTP_PARSE_SYNTAX);
	assert_int_equal(mail("FROM:<b..c@e.org>", &a), SMTP_PARSE_SYNTAX);
	assert_int_equal(mail("FROM:<b@-e.org>", &a), SMTP_PARSE_SYNTAX);
	assert_int_equal(mail("FROM:<b@e-.org>", &a), SMTP_PARSE_SYNTAX);
	assert_int_equal(mail("FROM:<b@e..org>", &a), SMTP_PARSE_SYNTAX);
	assert_int_equal(mail("FROM:<b@e.org.>", &a), SMTP_PARSE_SYNTAX);
	assert_int_equal(mail("FROM:<b c@e.org>", &a), SMTP_PARSE_SYNTAX);
	assert_int_equal(mail("FROM:<b@[]>", &a), SMTP_PARSE_SYNTAX);
	assert_int_equal(mail("FROM:<\"b@e.org>", &a), SMTP_PARSE_SYNTAX);
	assert_int_equal(mail("FROM:<b\r@e.org>", &a), SMTP_PARSE_SYNTAX);
	/* Invalid UTF-8: a lone continuation byte and an overlong form. */
	assert_int_equal(mail("FROM:<b\x80@e.org>", &a), SMTP_PARSE_SYNTAX);
	assert_int_equal(mail("FROM:<b\xc0\xaf@e.org>", &a), SMTP_PARSE_SYNTAX);
	memset(longlocal, 'a', sizeof(longlocal));
	memcpy(longlocal, "FROM:<", 6);
	memcpy(longlocal + 6 + 65, "@e.org>", 8);
	assert_int_equal(mail(longlocal, &a), SMTP_PARSE_TOO_LONG);
}

static void
test_mail_utf8(void **state)
{
	struct smtp_mail_args a;

	(void)state;
	assert_int_equal(mail("FROM:<j\xc3\xb6rg@b\xc3\xbc"
	                      "cher.example> SMTPUTF8",
	                      &a),
	                 SMTP_PARSE_OK);
	assert_true(a.addr_8bit);
	assert_true(a.smtputf8);
	free(a.addr);
}

static void
test_rcpt(void **state)
{
	struct smtp_rcpt_args a;

	(void)state;
	assert_int_equal(rcpt("TO:<alice@example.test>", &a), SMTP_PARSE_OK);
	assert_string_equal(a.addr, "alice@example.test");
	free(a.addr);
	assert_int_equal(rcpt("To:<PostMaster>", &a), SMTP_PARSE_OK);
	assert_string_equal(a.addr, "PostMaster");
	assert_null(smtp_addr_domain(a.addr));
	free(a.addr);
	assert_int_equal(rcpt("TO:<bob>", &a), SMTP_PARSE_SYNTAX);
	assert_int_equal(rcpt("TO:<>", &a), SMTP_PARSE_SYNTAX);
	assert_int_equal(rcpt("TO:<a@b.c> FOO=BAR", &a), SMTP_PARSE_UNKNOWN);
	assert_int_equal(rcpt("TO:<a@b.c>x", &a), SMTP_PARSE_SYNTAX);
	assert_string_equal(smtp_addr_domain("a@b.c"), "b.c");
}

/* RFC 3461: NOTIFY and ORCPT on RCPT, RET and ENVID on MAIL. */
static void
test_dsn_params(void **state)
{
	struct smtp_rcpt_args r;
	struct smtp_mail_args m;

	(void)state;
	assert_int_equal(rcpt("TO:<a@b.c> NOTIFY=NEVER", &r), SMTP_PARSE_OK);
	assert_int_equal(r.notify, SMTP_NOTIFY_NEVER);
	assert_null(r.orcpt);
	smtp_rcpt_args_free(&r);
	assert_int_equal(rcpt("TO:<a@b.c> NOTIFY=success,DELAY "
	                      "ORCPT=rfc822;a+2Bx@b.c",
	                      &r),
	                 SMTP_PARSE_OK);
	assert_int_equal(r.notify, SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_DELAY);
	assert_string_equal(r.orcpt, "rfc822;a+2Bx@b.c");
	smtp_rcpt_args_free(&r);
	assert_int_equal(rcpt("TO:<a@b.c> NOTIFY=NEVER,SUCCESS", &r),
	                 SMTP_PARSE_BAD_VALUE);
	assert_int_equal(rcpt("TO:<a@b.c> NOTIFY=SUCCESS,", &r),
	                 SMTP_PARSE_BAD_VALUE);
	assert_int_equal(rcpt("TO:<a@b.c> NOTIFY=FAILURE,FAILURE", &r),
	                 SMTP_PARSE_BAD_VALUE);
	assert_int_equal(rcpt("TO:<a@b.c> NOTIFY=SOMETIMES", &r),
	                 SMTP_PARSE_BAD_VALUE);
	assert_int_equal(rcpt("TO:<a@b.c> ORCPT=a@b.c", &r),
	                 SMTP_PARSE_BAD_VALUE);
	assert_int_equal(rcpt("TO:<a@b.c> ORCPT=rfc822;a+2x", &r),
	                 SMTP_PARSE_BAD_VALUE);
	assert_int_equal(rcpt("TO:<a@b.c> ORCPT=rfc822;a ORCPT=rfc822;b", &r),
	                 SMTP_PARSE_BAD_VALUE);
	assert_int_equal(mail("FROM:<a@b.c> RET=HDRS ENVID=QQ+2B1", &m),
	                 SMTP_PARSE_OK);
	assert_true(m.ret_hdrs);
	assert_string_equal(m.envid, "QQ+2B1");
	smtp_mail_args_free(&m);
	assert_int_equal(mail("FROM:<a@b.c> RET=FULL", &m), SMTP_PARSE_OK);
	assert_false(m.ret_hdrs);
	assert_null(m.envid);
	smtp_mail_args_free(&m);
	assert_int_equal(mail("FROM:<a@b.c> RET=ALL", &m),
	                 SMTP_PARSE_BAD_VALUE);
	assert_int_equal(mail("FROM:<a@b.c> RET=HDRS RET=HDRS", &m),
	                 SMTP_PARSE_BAD_VALUE);
	assert_int_equal(mail("FROM:<a@b.c> ENVID=a ENVID=b", &m),
	                 SMTP_PARSE_BAD_VALUE);
	assert_int_equal(
	    mail("FROM:<a@b.c> ENVID=0123456789012345678901234567890123456789"
	         "01234567890123456789012345678901234567890123456789012345678"
	         "9X",
	         &m),
	    SMTP_PARSE_BAD_VALUE);
}

static void
test_helo(void **state)
{
	(void)state;
	assert_true(smtp_addr_helo_is_valid("mail.example.org", 16));
	assert_true(smtp_addr_helo_is_valid("[192.0.2.1]", 11));
	assert_false(smtp_addr_helo_is_valid("", 0));
	assert_false(smtp_addr_helo_is_valid("a b", 3));
	assert_false(smtp_addr_helo_is_valid("a\rX-Evil: 1", 11));
	assert_false(smtp_addr_helo_is_valid("a\nb", 3));
}

/* Every prefix of a valid command must parse or fail cleanly, never crash. */
static void
test_prefixes(void **state)
{
	const char *cmd = "FROM:<\"q\\\"x\"@[1.2.3.4]> SIZE=10 BODY=7BIT";
	struct smtp_mail_args a;

	(void)state;
	for (size_t n = 0; n <= strlen(cmd); n++) {
		char *copy = malloc(n ? n : 1);

		memcpy(copy, cmd, n);
		if (smtp_addr_parse_mail(copy, n, &a) == SMTP_PARSE_OK)
			free(a.addr);
		free(copy);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mail_plain),
	    cmocka_unit_test(test_mail_params),
	    cmocka_unit_test(test_mail_bad),
	    cmocka_unit_test(test_mail_utf8),
	    cmocka_unit_test(test_rcpt),
	    cmocka_unit_test(test_dsn_params),
	    cmocka_unit_test(test_helo),
	    cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
