/*
 * decode_test: BINARY's transfer decodings (RFC 2045 6.7, 6.8), RFC 2047
 * encoded-words in several charsets and RFC 2231 values, including the
 * broken forms that must decode best-effort.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mime/mime.h"

static void
check_cte(enum mime_cte cte, const char *in, const char *want, size_t wlen)
{
	struct buf b = BUF_INIT;

	assert_int_equal(mime_decode_cte(&b, cte, in, strlen(in)), 0);
	assert_int_equal(b.len, wlen);
	assert_memory_equal(buf_cstr(&b), want, wlen);
	buf_free(&b);
}

static void
test_base64(void **state)
{
	(void)state;
	check_cte(MIME_CTE_BASE64, "SGVsbG8g\r\nV29ybGQ=\r\n", "Hello World",
	          11);
	/* Junk outside the alphabet is skipped; NUL bytes come through. */
	check_cte(MIME_CTE_BASE64, "S*GV!s bG8\r\nAA==", "Hello\0", 6);
	/* Missing padding at the end still yields the last bytes. */
	check_cte(MIME_CTE_BASE64, "SGk", "Hi", 2);
	check_cte(MIME_CTE_BASE64, "====", "", 0);
}

static void
test_quoted_printable(void **state)
{
	(void)state;
	check_cte(MIME_CTE_QP, "Caf=C3=A9 soft=\r\nbreak\r\n",
	          "Caf\xc3\xa9 softbreak\r\n", 17);
	/* Trailing blanks go; a broken escape stays as it is. */
	check_cte(MIME_CTE_QP, "a  \r\n=ZZ=4", "a\r\n=ZZ=4", 8);
	check_cte(MIME_CTE_IDENTITY, "as is", "as is", 5);
}

static void
test_unknown_cte(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	assert_int_equal(mime_decode_cte(&b, MIME_CTE_UNKNOWN, "x", 1), -1);
	buf_free(&b);
}

static void
check_hdr(const char *in, const char *want)
{
	struct buf b = BUF_INIT;

	assert_int_equal(mime_header_decode(&b, in, strlen(in)), 0);
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
}

static void
test_encoded_words(void **state)
{
	(void)state;
	check_hdr("=?ISO-8859-1?Q?Caf=E9?= report", "Caf\xc3\xa9 report");
	check_hdr("=?utf-8?B?R3LDvMOfZQ==?=", "Gr\xc3\xbc\xc3\x9f"
	                                      "e");
	check_hdr("=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus?= Berlin", "Gr\xc3\xbc\xc3\x9f"
	                                                    "e aus Berlin");
	check_hdr("=?windows-1252?Q?=80_100?=", "\xe2\x82\xac 100");
	check_hdr("=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=",
	          "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	/* Blanks between adjacent encoded-words vanish (RFC 2047 6.2). */
	check_hdr("=?utf-8?q?a?= =?utf-8?q?b?=  c", "ab  c");
	/* A character split across two words still decodes. */
	check_hdr("=?utf-8?B?ww==?= =?utf-8?B?qQ==?=", "\xc3\xa9");
	/* RFC 2231 5 language suffix. */
	check_hdr("=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore");
}

static void
test_encoded_words_broken(void **state)
{
	(void)state;
	/* Unknown charsets and malformed words stay as they are. */
	check_hdr("=?x-no-such?Q?abc?= x", "=?x-no-such?Q?abc?= x");
	check_hdr("=?utf-8?X?abc?=", "=?utf-8?X?abc?=");
	check_hdr("=?utf-8?Q?open", "=?utf-8?Q?open");
	check_hdr("plain text", "plain text");
	/* Invalid UTF-8 becomes U+FFFD. */
	check_hdr("=?utf-8?Q?a=FFb?=", "a\xef\xbf\xbd"
	                               "b");
}

static void
check_param(const char *in, const char *want)
{
	struct buf b = BUF_INIT;

	assert_int_equal(mime_param_decode(&b, in, strlen(in)), 0);
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
}

static void
test_rfc2231(void **state)
{
	(void)state;
	check_param("utf-8''%E2%82%AC%20rates.pdf", "\xe2\x82\xac rates.pdf");
	check_param("iso-8859-1'de'Gr%FC%DFe", "Gr\xc3\xbc\xc3\x9f"
	                                       "e");
	check_param("''plain%41", "plainA");
	check_param("no quotes", "no quotes");
	check_param("utf-8''bad%ZZ", "bad%ZZ");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base64),
	    cmocka_unit_test(test_quoted_printable),
	    cmocka_unit_test(test_unknown_cte),
	    cmocka_unit_test(test_encoded_words),
	    cmocka_unit_test(test_encoded_words_broken),
	    cmocka_unit_test(test_rfc2231),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
