#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/sasl.h"

static void
test_base64_roundtrip(void **state)
{
	struct buf enc = BUF_INIT, dec = BUF_INIT;
	const char msg[] = "\0alice@example.test\0secret";

	(void)state;
	assert_int_equal(sasl_base64_encode(msg, sizeof(msg) - 1, &enc), 0);
	assert_string_equal(buf_cstr(&enc),
	                    "AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=");
	assert_int_equal(sasl_base64_decode(enc.data, enc.len, &dec), 0);
	assert_int_equal(dec.len, sizeof(msg) - 1);
	assert_memory_equal(dec.data, msg, dec.len);
	buf_free(&enc);
	buf_free(&dec);
}

static void
test_base64_rejects_garbage(void **state)
{
	struct buf dec = BUF_INIT;

	(void)state;
	assert_int_equal(sasl_base64_decode("abc", 3, &dec), -1);
	assert_int_equal(sasl_base64_decode("ab$d", 4, &dec), -1);
	assert_int_equal(sasl_base64_decode("a=bc", 4, &dec), -1);
	assert_int_equal(sasl_base64_decode("=", 1, &dec), 0);
	assert_int_equal(dec.len, 0);
	assert_int_equal(sasl_base64_decode("YQ==", 4, &dec), 0);
	assert_int_equal(dec.len, 1);
	assert_string_equal(buf_cstr(&dec), "a");
	buf_free(&dec);
}

static void
test_plain_parse(void **state)
{
	char ok[] = "\0bob\0pw";
	char same[] = "bob\0bob\0pw";
	char other[] = "eve\0bob\0pw";
	char nopass[] = "\0bob\0";
	char extra[] = "\0bob\0pw\0x";
	const char *user, *pass;

	(void)state;
	assert_int_equal(sasl_plain_parse(ok, sizeof(ok) - 1, &user, &pass), 0);
	assert_string_equal(user, "bob");
	assert_string_equal(pass, "pw");
	assert_int_equal(sasl_plain_parse(same, sizeof(same) - 1, &user, &pass),
	                 0);
	assert_int_equal(
	    sasl_plain_parse(other, sizeof(other) - 1, &user, &pass), -1);
	assert_int_equal(
	    sasl_plain_parse(nopass, sizeof(nopass) - 1, &user, &pass), -1);
	assert_int_equal(
	    sasl_plain_parse(extra, sizeof(extra) - 1, &user, &pass), -1);
	assert_int_equal(sasl_plain_parse(ok, 3, &user, &pass), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base64_roundtrip),
	    cmocka_unit_test(test_base64_rejects_garbage),
	    cmocka_unit_test(test_plain_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
