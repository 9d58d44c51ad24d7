/*
 * sortkey_test: RFC 5256 base subjects, RFC 5322 dates, first addresses
 * and the searchable text of a message (sortkey.c, text.c, envelope.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "mime/mime.h"

static void
check_subject(const char *in, const char *want)
{
	struct buf out = BUF_INIT;

	assert_int_equal(mime_base_subject(&out, in, strlen(in)), 0);
	assert_string_equal(buf_cstr(&out), want);
	buf_free(&out);
}

static void
test_base_subject(void **state)
{
	(void)state;
	check_subject("Hello", "Hello");
	check_subject("Re: Hello", "Hello");
	check_subject("RE: re:  Fwd:Hello  ", "Hello");
	check_subject("Re: [list] Hello (fwd)", "Hello");
	check_subject("[list] Re: Hello", "Hello");
	check_subject("Re[2]: Hello", "Hello");
	check_subject("[Fwd: Re: Hello]", "Hello");
	check_subject("[only a blob]", "[only a blob]");
	check_subject("Hello\t \tworld", "Hello world");
	check_subject("=?UTF-8?Q?Re:_Gr=C3=BC=C3=9Fe?=", "Grüße");
	check_subject("Reply to all", "Reply to all");
	check_subject("", "");
	check_subject("re:", "");
}

static void
check_date(const char *in, int64_t utc, int64_t day)
{
	int64_t u = -1, d = -1;

	assert_int_equal(mime_date_parse(in, strlen(in), &u, &d), 0);
	assert_int_equal(u, utc);
	assert_int_equal(d, day);
}

static void
test_dates(void **state)
{
	int64_t u, d;

	(void)state;
	check_date("Mon, 02 Jan 2023 10:00:00 +0100", 1672650000, 1672617600);
	check_date("Tue, 10 Jan 2023 23:30:00 -0500", 1673411400, 1673308800);
	check_date("1 Feb 2023 08:00 GMT", 1675238400, 1675209600);
	check_date("  Sat, 1 Jan 00 00:00:00 EST (comment)", 946702800,
	           946684800);
	check_date("29 Feb 2024 12:00:00 +0000", 1709208000, 1709164800);
	check_date("01-Jan-1970 00:00:00 +0000", 0, 0);
	assert_int_equal(mime_date_parse("yesterday", 9, &u, &d), -1);
	assert_int_equal(mime_date_parse("32 Jan 2023 10:00", 17, &u, &d), -1);
	assert_int_equal(mime_date_parse("1 Foo 2023 10:00", 16, &u, &d), -1);
	assert_int_equal(mime_date_parse("1 Jan 2023", 10, &u, &d), -1);
	assert_int_equal(mime_date_parse("", 0, &u, &d), -1);
}

static void
check_addr(const char *in, int found, const char *local, const char *disp)
{
	struct buf l = BUF_INIT, dd = BUF_INIT;

	assert_int_equal(mime_addr_first(in, strlen(in), &l, &dd), found);
	assert_string_equal(buf_cstr(&l), local);
	assert_string_equal(buf_cstr(&dd), disp);
	buf_free(&l);
	buf_free(&dd);
}

static void
test_first_address(void **state)
{
	(void)state;
	check_addr("Alice Example <alice@example.test>", 1, "alice",
	           "Alice Example");
	check_addr("bob@example.test, carol@example.test", 1, "bob",
	           "bob@example.test");
	check_addr("\"Doe, John\" <jd@x.example>", 1, "jd", "Doe, John");
	check_addr("=?ISO-8859-1?Q?J=F6rg?= <j@x>", 1, "j", "Jörg");
	check_addr("undisclosed-recipients:;", 0, "", "");
	check_addr("team: a@x, b@y;", 1, "a", "a@x");
	check_addr("", 0, "", "");
}

static void
test_search_text(void **state)
{
	static const char msg[] =
	    "Subject: =?UTF-8?B?w5xiZXI=?=\r\n"
	    "X-Long: one\r\n two\r\n"
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain; charset=koi8-r\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n0NLJ18XU\r\n"
	    "--b\r\nContent-Type: message/rfc822\r\n\r\n"
	    "Subject: inner\r\n\r\ninner body\r\n"
	    "--b\r\nContent-Type: image/png\r\n\r\nPNGDATA\r\n--b--\r\n";
	struct mime_part *root = mime_parse(msg, sizeof(msg) - 1);
	struct buf hdr = BUF_INIT, body = BUF_INIT;

	(void)state;
	assert_non_null(root);
	assert_int_equal(mime_search_text(msg, sizeof(msg) - 1, root, 1 << 20,
	                                  1 << 20, &hdr, &body),
	                 0);
	assert_non_null(strstr(buf_cstr(&hdr), "Subject: Über\n"));
	assert_non_null(strstr(buf_cstr(&hdr), "X-Long: one two\n"));
	assert_non_null(strstr(buf_cstr(&body), "привет"));
	assert_non_null(strstr(buf_cstr(&body), "Subject: inner\n"));
	assert_non_null(strstr(buf_cstr(&body), "inner body"));
	assert_null(strstr(buf_cstr(&body), "PNGDATA"));
	buf_reset(&hdr);
	buf_reset(&body);
	/* The cap cuts on a character boundary. */
	assert_int_equal(
	    mime_search_text(msg, sizeof(msg) - 1, root, 5, 5, &hdr, &body), 0);
	assert_true(hdr.len <= 5 && body.len <= 5);
	assert_string_equal(buf_cstr(&body), "пр");
	buf_free(&hdr);
	buf_free(&body);
	mime_part_free(&root);
}

/*
 * A body cap gives the full text cut at the cap, also where the text part
 * is appended straight from the message (no encoding, UTF-8) and only as
 * far as the cap: every cap, through two-byte characters and two parts.
 */
static void
test_search_text_body_cap(void **state)
{
	static const char msg[] =
	    "Subject: cap\r\n"
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
	    "gr\xc3\xbc\xc3\x9f dich, "
	    "\xc3\xa4\xc3\xb6\xc3\xbc plain text here\r\n"
	    "--b\r\nContent-Type: text/plain\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n\r\n"
	    "second part\r\n--b--\r\n";
	struct mime_part *root = mime_parse(msg, sizeof(msg) - 1);
	struct buf hdr = BUF_INIT, full = BUF_INIT, body = BUF_INIT;

	(void)state;
	assert_non_null(root);
	assert_int_equal(mime_search_text(msg, sizeof(msg) - 1, root, 1 << 20,
	                                  1 << 20, &hdr, &full),
	                 0);
	assert_non_null(strstr(buf_cstr(&full), "second part"));
	for (size_t cap = 0; cap <= full.len + 2; cap++) {
		size_t want = cap < full.len ? cap : full.len;

		while (want > 0 && want < full.len &&
		       ((unsigned char)full.data[want] & 0xC0) == 0x80)
			want--;
		buf_reset(&hdr);
		buf_reset(&body);
		assert_int_equal(mime_search_text(msg, sizeof(msg) - 1, root,
		                                  1 << 20, cap, &hdr, &body),
		                 0);
		assert_int_equal(body.len, want);
		assert_memory_equal(body.data, full.data, want);
		/* The header text has its own cap. */
		assert_non_null(strstr(buf_cstr(&hdr), "Subject: cap\n"));
	}
	buf_free(&hdr);
	buf_free(&full);
	buf_free(&body);
	mime_part_free(&root);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base_subject),
	    cmocka_unit_test(test_dates),
	    cmocka_unit_test(test_first_address),
	    cmocka_unit_test(test_search_text),
	    cmocka_unit_test(test_search_text_body_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
