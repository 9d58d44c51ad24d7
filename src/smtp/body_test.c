#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/body.h"

/*
 * Splits a DATA stream into lines the way the network layer does with
 * CONN_EOL_CRLF_STRICT (only CRLF ends a line) and feeds them.  Returns
 * the offset just past the terminating ".\r\n", or 0 if none was seen.
 */
static size_t
feed(struct smtp_body *b, const char *s)
{
	size_t n = strlen(s), start = 0;

	for (size_t i = 0; i + 1 < n; i++) {
		if (s[i] != '\r' || s[i + 1] != '\n')
			continue;
		if (smtp_body_line(b, s + start, i - start) == SMTP_BODY_END)
			return i + 2;
		start = i + 2;
		i++;
	}
	return 0;
}

static void
test_plain_and_unstuffing(void **state)
{
	struct smtp_body b;
	const char *in = "Subject: x\r\n\r\n..leading dot\r\n.\r\n";

	(void)state;
	smtp_body_init(&b, 1000);
	assert_int_equal(feed(&b, in), strlen(in));
	assert_true(smtp_body_is_ok(&b));
	assert_string_equal(buf_cstr(&b.msg),
	                    "Subject: x\r\n\r\n.leading dot\r\n");
	assert_int_equal(b.size, b.msg.len);
	smtp_body_free(&b);
}

/* smtp_bare_lf = normalize: bare LF/CR become CRLF; "\n.\n" never ends. */
static void
test_normalize(void **state)
{
	struct smtp_body b;
	const char *in = "A: 1\nB: 2\r\n\r\nx\n.\nMAIL FROM:<e@vil>\rend\n..d"
	                 "\r\n.\r\n";

	(void)state;
	smtp_body_init(&b, 1000);
	b.normalize = true;
	assert_int_equal(feed(&b, in), strlen(in));
	assert_true(smtp_body_is_ok(&b));
	assert_string_equal(buf_cstr(&b.msg),
	                    "A: 1\r\nB: 2\r\n\r\nx\r\n\r\nMAIL "
	                    "FROM:<e@vil>\r\nend\r\n.d\r\n");
	assert_int_equal(b.size, b.msg.len);
	smtp_body_free(&b);
}

static void
test_empty_message(void **state)
{
	struct smtp_body b;

	(void)state;
	smtp_body_init(&b, 1000);
	assert_int_equal(feed(&b, ".\r\n"), 3);
	assert_true(smtp_body_is_ok(&b));
	assert_int_equal(b.size, 0);
	smtp_body_free(&b);
}

/* The SMTP smuggling variants: none of them may end the data. */
static void
test_smuggling(void **state)
{
	const char *variants[] = {
	    "a\r\n\n.\nMAIL FROM:<x@y>\r\n.\r\n",
	    "a\r\n\n.\r\nMAIL FROM:<x@y>\r\n.\r\n",
	    "a\r\n.\nMAIL FROM:<x@y>\r\n.\r\n",
	    "a\n.\r\nMAIL FROM:<x@y>\r\n.\r\n",
	    "a\r.\rb\r\n.\r\n",
	    "a\r\n.\r\r\n.\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		struct smtp_body b;
		const char *in = variants[i];

		smtp_body_init(&b, 1000);
		/* Only the final CRLF.CRLF ends it, and the body is refused. */
		assert_int_equal(feed(&b, in), strlen(in));
		assert_true(b.bare_eol);
		assert_false(smtp_body_is_ok(&b));
		smtp_body_free(&b);
	}
}

static void
test_too_big(void **state)
{
	struct smtp_body b;
	const char *in = "0123456789\r\n0123456789\r\n0123456789\r\n.\r\n";

	(void)state;
	smtp_body_init(&b, 30);
	assert_int_equal(feed(&b, in), strlen(in));
	assert_true(b.too_big);
	assert_null(b.msg.data); /* nothing is kept past the limit */
	assert_int_equal(b.size, 36);
	smtp_body_free(&b);

	smtp_body_init(&b, 24); /* exactly two lines fit */
	assert_int_equal(feed(&b, "0123456789\r\n0123456789\r\n.\r\n"), 27);
	assert_true(smtp_body_is_ok(&b));
	smtp_body_free(&b);
}

static void
test_nul_bytes_kept(void **state)
{
	struct smtp_body b;

	(void)state;
	smtp_body_init(&b, 100);
	assert_int_equal(smtp_body_line(&b, "a\0b", 3), SMTP_BODY_MORE);
	assert_int_equal(smtp_body_line(&b, ".", 1), SMTP_BODY_END);
	assert_int_equal(b.msg.len, 5);
	assert_memory_equal(b.msg.data, "a\0b\r\n", 5);
	smtp_body_free(&b);
}

/* BDAT: appends raw bytes the way bdat.c does; false if they were dropped. */
static bool
raw(struct smtp_body *b, const char *p, size_t n)
{
	size_t room;
	char *dst = smtp_body_raw_room(b, n, &room);

	if (dst == NULL) {
		smtp_body_raw_skip(b, n);
		return false;
	}
	assert_int_equal(room, n);
	memcpy(dst, p, n);
	smtp_body_raw_commit(b, n);
	return true;
}

static void
test_raw_chunks(void **state)
{
	struct smtp_body b;

	(void)state;
	smtp_body_init(&b, 100);
	/* A CRLF split across two chunks is no bare CR. */
	assert_true(raw(&b, "a\r", 2));
	assert_true(raw(&b, "\n.\r\n\0", 5));
	smtp_body_raw_end(&b);
	assert_false(b.bare_eol);
	assert_true(b.raw);
	assert_int_equal(b.size, 7);
	assert_int_equal(b.msg.len, 7);
	assert_memory_equal(b.msg.data, "a\r\n.\r\n\0", 7);
	assert_int_equal(b.msg.data[7], '\0');
	smtp_body_free(&b);

	/* Kept, but noted: bare LF, bare CR, and a CR at the very end. */
	smtp_body_init(&b, 100);
	assert_true(raw(&b, "a\nb", 3));
	assert_true(b.bare_eol);
	assert_int_equal(b.msg.len, 3);
	smtp_body_free(&b);
	smtp_body_init(&b, 100);
	assert_true(raw(&b, "a\rb", 3));
	assert_true(b.bare_eol);
	smtp_body_free(&b);
	smtp_body_init(&b, 100);
	assert_true(raw(&b, "a\r", 2));
	assert_false(b.bare_eol);
	smtp_body_raw_end(&b);
	assert_true(b.bare_eol);
	smtp_body_free(&b);
}

static void
test_raw_too_big(void **state)
{
	struct smtp_body b;

	(void)state;
	smtp_body_init(&b, 10);
	assert_true(raw(&b, "0123456789", 10)); /* exactly the limit */
	assert_true(smtp_body_is_ok(&b));
	assert_false(raw(&b, "x", 1));
	assert_true(b.too_big);
	assert_null(b.msg.data);
	assert_false(raw(&b, "yz", 2)); /* still counted */
	assert_int_equal(b.size, 13);
	smtp_body_free(&b);

	smtp_body_init(&b, 10);
	assert_false(raw(&b, "0123456789a", 11));
	assert_true(b.too_big);
	assert_int_equal(b.size, 11);
	smtp_body_free(&b);
}

/*
 * Takes a DATA stream through smtp_body_take() in pieces of step bytes; a
 * piece where no line ends is joined with the next bytes, as the session's
 * line reader does for a line split across the input's pieces.  Returns
 * the offset just past the terminating ".\r\n", or 0.
 */
static size_t
take_all(struct smtp_body *b, const char *s, size_t step, size_t max)
{
	size_t n = strlen(s), off = 0, piece = step;

	while (off < n) {
		size_t avail = piece < n - off ? piece : n - off;
		bool end;
		size_t used = smtp_body_take(b, s + off, avail, max, &end);

		off += used;
		if (end)
			return off;
		if (used > 0)
			piece = step;
		else if (avail == n - off)
			return 0;
		else
			piece += step;
	}
	return 0;
}

/*
 * Lines taken in place, in pieces of every size, give what smtp_body_line()
 * gives one line at a time: the same bytes, flags and end, and the
 * commands pipelined after the end are left.
 */
static void
test_take_matches_lines(void **state)
{
	static const char *const streams[] = {
	    "Subject: x\r\n\r\nplain\r\n..stuffed\r\n.\r\n\r\nlast\r\n"
	    ".\r\nQUIT\r\n",
	    "A: 1\r\n\r\nbare\nLF\r\nbare\rCR\r\n\n\r\n.x\r\n.\r\nRSET\r\n",
	    "\r\n.\r\n",
	    ".\r\n",
	    "a\r\r\nb\n.\nc\r\n..\r\n.\r\n",
	};

	(void)state;
	for (size_t k = 0; k < sizeof(streams) / sizeof(streams[0]); k++)
		for (int norm = 0; norm < 2; norm++)
			for (size_t step = 1; step <= strlen(streams[k]);
			     step++) {
				struct smtp_body a, b;

				smtp_body_init(&a, 1000);
				smtp_body_init(&b, 1000);
				a.normalize = b.normalize = norm;
				assert_int_equal(
				    take_all(&b, streams[k], step, 100),
				    feed(&a, streams[k]));
				assert_int_equal(a.msg.len, b.msg.len);
				assert_memory_equal(buf_cstr(&a.msg),
				                    buf_cstr(&b.msg),
				                    a.msg.len);
				assert_int_equal(a.size, b.size);
				assert_int_equal(a.bare_eol, b.bare_eol);
				smtp_body_free(&a);
				smtp_body_free(&b);
			}
}

/* A line over max is left for the line reader to refuse; the size limit
 * holds for runs as for lines. */
static void
test_take_limits(void **state)
{
	const char *in = "short\r\n0123456789\r\nx\r\n.\r\n";
	struct smtp_body b;
	bool end;

	(void)state;
	smtp_body_init(&b, 1000);
	assert_int_equal(smtp_body_take(&b, in, strlen(in), 9, &end), 7);
	assert_false(end);
	assert_string_equal(buf_cstr(&b.msg), "short\r\n");
	smtp_body_free(&b);
	smtp_body_init(&b, 10);
	assert_int_equal(smtp_body_take(&b, in, strlen(in), 100, &end),
	                 strlen(in));
	assert_true(end);
	assert_true(b.too_big);
	assert_false(smtp_body_is_ok(&b));
	assert_int_equal(b.size, strlen(in) - 3);
	smtp_body_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_and_unstuffing),
	    cmocka_unit_test(test_take_matches_lines),
	    cmocka_unit_test(test_take_limits),
	    cmocka_unit_test(test_empty_message),
	    cmocka_unit_test(test_normalize),
	    cmocka_unit_test(test_smuggling),
	    cmocka_unit_test(test_too_big),
	    cmocka_unit_test(test_nul_bytes_kept),
	    cmocka_unit_test(test_raw_chunks),
	    cmocka_unit_test(test_raw_too_big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
