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
	/* Runs of clean body lines go out in one piece, the rest as before. */
	check("H: v\r\n\r\nl1\r\nl2\r\n.dot\r\nbare\nl3\r\nmid\rcr\r\nend",
	      POP3_DOTSTUFF_ALL,
	      "H: v\r\n\r\nl1\r\nl2\r\n..dot\r\nbare\r\nl3\r\nmid\rcr\r\n"
	      "end\r\n.\r\n");
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

/* Feeds msg in pieces of step bytes (the first piece first_len bytes). */
static void
feed_pieces(const char *msg, size_t len, int64_t lines, size_t first_len,
            size_t step, struct buf *out)
{
	struct pop3_dotstuff ds;
	size_t pos = first_len < len ? first_len : len;

	pop3_dotstuff_init(&ds, lines);
	assert_int_equal(pop3_dotstuff_feed(&ds, out, msg, pos), 0);
	while (pos < len) {
		size_t n = len - pos < step ? len - pos : step;

		assert_int_equal(pop3_dotstuff_feed(&ds, out, msg + pos, n), 0);
		pos += n;
	}
	assert_int_equal(pop3_dotstuff_finish(&ds, out), 0);
}

/* Every split point and byte-wise feeding give the one-piece result. */
static void
test_pieces_match_whole(void **state)
{
	static const char *const msgs[] = {
	    "A: b\r\n\r\n.\r\n..x\r\nx.\r\n.",
	    "A: b\r\r\n\r\nx\ry\r\n\r\r\n.\r",
	    "A: b\n\n.bare\n\r\n..\r",
	    "\r\n\r\n\r\n.\r\n\r",
	    "A: 1\r\nB: 2\r\n\r\nl1\r\n.l2\r\nl3\r\nl4",
	    "H: v\r\n\r\nl1\r\nl2\r\n.dot\r\nbare\nl3\r\nmid\rcr\r\nend",
	};
	static const int64_t lines[] = {POP3_DOTSTUFF_ALL, 0, 1, 2, 3};

	(void)state;
	for (size_t m = 0; m < sizeof(msgs) / sizeof(msgs[0]); m++) {
		size_t len = strlen(msgs[m]);

		for (size_t l = 0; l < sizeof(lines) / sizeof(lines[0]); l++) {
			struct buf whole = BUF_INIT, part = BUF_INIT;

			assert_int_equal(pop3_dotstuff_append(&whole, msgs[m],
			                                      len, lines[l]),
			                 0);
			for (size_t split = 0; split <= len; split++) {
				for (size_t step = 1; step <= 3; step++) {
					buf_reset(&part);
					feed_pieces(msgs[m], len, lines[l],
					            split, step, &part);
					assert_string_equal(buf_cstr(&part),
					                    buf_cstr(&whole));
				}
			}
			buf_free(&whole);
			buf_free(&part);
		}
	}
}

static void
test_cr_not_before_lf_is_kept(void **state)
{
	(void)state;
	check("A: b\r\n\r\nx\ry\r\r\n", POP3_DOTSTUFF_ALL,
	      "A: b\r\n\r\nx\ry\r\r\n.\r\n");
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
	    cmocka_unit_test(test_pieces_match_whole),
	    cmocka_unit_test(test_cr_not_before_lf_is_kept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
