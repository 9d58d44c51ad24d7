/*
 * mime_test: the structure parser on a small corpus, fed whole, byte by
 * byte and in odd chunks, with the exact ENVELOPE, BODY and BODYSTRUCTURE
 * strings; section ranges; and hostile input (deep nesting, part floods,
 * NULs, over-long headers, broken boundaries) that must stay bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mime/mime.h"

static const char msg_simple[] =
    "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
    "From: Fred Foobar <foobar@Blurdybloop.example>\r\n"
    "Subject: afternoon meeting\r\n"
    "To: mooch@owatagu.siam.edu.example\r\n"
    "Cc: \"Doe, John\" <john@x.example>, jane@y.example (Jane)\r\n"
    "Message-Id: <B27397-0100000@Blurdybloop.example>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
    "\r\n"
    "Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n";

static const char msg_mixed[] =
    "From: a@b.example\r\n"
    "To: undisclosed-recipients:;\r\n"
    "Subject: =?ISO-8859-1?Q?Caf=E9?= report\r\n"
    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--XX\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Caf=C3=A9 soft=\r\n"
    "break\r\n"
    "--XX\r\n"
    "Content-Type: application/pdf; name=\"r.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment;\r\n"
    " filename*0*=utf-8''%E2%82%AC%20rates;\r\n"
    " filename*1=\".pdf\"\r\n"
    "Content-ID: <part2@b.example>\r\n"
    "Content-Description: the report\r\n"
    "Content-Language: en, de\r\n"
    "Content-Location: http://b.example/r.pdf\r\n"
    "\r\n"
    "SGVsbG8g\r\n"
    "V29ybGQ=\r\n"
    "--XX--\r\n"
    "epilogue\r\n";

static const char msg_alt_nested[] =
    "From: Outer <o@x.example>\r\n"
    "Subject: fwd\r\n"
    "Content-Type: multipart/mixed; boundary=outer\r\n"
    "\r\n"
    "--outer\r\n"
    "\r\n"
    "see below\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "Content-Disposition: inline\r\n"
    "\r\n"
    "From: Inner <i@y.example>\r\n"
    "To: group: a@c.example, <@r1,@r2:b@c.example>;, last@d.example\r\n"
    "Subject: inner\r\n"
    "Content-Type: multipart/alternative; boundary=\"in ner\"\r\n"
    "\r\n"
    "--in ner\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "plain\r\n"
    "two\r\n"
    "--in ner\r\n"
    "Content-Type: text/html; charset=\"us-ascii\"\r\n"
    "\r\n"
    "<b>html</b>\r\n"
    "--in ner--\r\n"
    "--outer--\r\n";

/* Parses msg fed in chunks of chunk bytes (0: whole). */
static struct mime_part *
parse_chunked(const char *msg, size_t len, size_t chunk)
{
	struct mime_parser *p = mime_parser_new();

	assert_non_null(p);
	if (chunk == 0)
		chunk = len;
	for (size_t i = 0; i < len; i += chunk)
		assert_int_equal(
		    mime_parser_feed(p, msg + i,
		                     len - i < chunk ? len - i : chunk),
		    0);
	return mime_parser_finish(&p);
}

static char *
render(const struct mime_part *root, int what)
{
	struct buf b = BUF_INIT;

	if (what == 0)
		assert_int_equal(mime_envelope_write(&b, root), 0);
	else
		assert_int_equal(mime_bodystructure_write(&b, root, what == 2),
		                 0);
	return buf_steal(&b);
}

/* Checks env, body and bodystructure for every way of feeding msg. */
static void
check_msg(const char *msg, const char *env, const char *body, const char *bs)
{
	static const size_t chunks[] = {0, 1, 2, 7, 64};
	size_t len = strlen(msg);

	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		struct mime_part *root = parse_chunked(msg, len, chunks[c]);
		const char *want[3] = {env, body, bs};

		assert_non_null(root);
		for (int w = 0; w < 3; w++) {
			char *got = render(root, w);

			if (want[w] != NULL)
				assert_string_equal(got, want[w]);
			free(got);
		}
		mime_part_free(&root);
		assert_null(root);
	}
}

static void
test_simple(void **state)
{
	(void)state;
	check_msg(msg_simple,
	          "(\"Mon, 7 Feb 1994 21:52:25 -0800 (PST)\" "
	          "\"afternoon meeting\" "
	          "((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) "
	          "((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) "
	          "((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) "
	          "((NIL NIL \"mooch\" \"owatagu.siam.edu.example\")) "
	          "((\"Doe, John\" NIL \"john\" \"x.example\")"
	          "(NIL NIL \"jane\" \"y.example\")) NIL NIL "
	          "\"<B27397-0100000@Blurdybloop.example>\")",
	          "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	          "\"7BIT\" 55 1)",
	          "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	          "\"7BIT\" 55 1 NIL NIL NIL NIL)");
}

static void
test_mixed_attachment(void **state)
{
	(void)state;
	check_msg(
	    msg_mixed,
	    "(NIL \"=?ISO-8859-1?Q?Caf=E9?= report\" "
	    "((NIL NIL \"a\" \"b.example\")) ((NIL NIL \"a\" \"b.example\")) "
	    "((NIL NIL \"a\" \"b.example\")) "
	    "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
	    "NIL NIL NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL "
	    "\"quoted-printable\" 22 2)(\"application\" \"pdf\" (\"name\" "
	    "\"r.pdf\") \"<part2@b.example>\" \"the report\" \"base64\" 18) "
	    "\"mixed\")",
	    "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL "
	    "\"quoted-printable\" 22 2 NIL NIL NIL NIL)(\"application\" "
	    "\"pdf\" (\"name\" \"r.pdf\") \"<part2@b.example>\" \"the "
	    "report\" \"base64\" 18 NIL (\"attachment\" (\"filename*\" "
	    "\"utf-8''%E2%82%AC%20rates.pdf\")) (\"en\" \"de\") "
	    "\"http://b.example/r.pdf\") \"mixed\" (\"boundary\" \"XX\") NIL "
	    "NIL NIL)");
}

#define INNER_ENV                                                              \
	"(NIL \"inner\" ((\"Inner\" NIL \"i\" \"y.example\")) "                \
	"((\"Inner\" NIL \"i\" \"y.example\")) "                               \
	"((\"Inner\" NIL \"i\" \"y.example\")) ((NIL NIL \"group\" NIL)"       \
	"(NIL NIL \"a\" \"c.example\")(NIL \"@r1,@r2\" \"b\" \"c.example\")"   \
	"(NIL NIL NIL NIL)(NIL NIL \"last\" \"d.example\")) NIL NIL NIL NIL)"

static void
test_nested_rfc822(void **state)
{
	(void)state;
	check_msg(
	    msg_alt_nested, NULL,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" "
	    "9 1)(\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" 295 " INNER_ENV
	    " ((\"text\" \"plain\" NIL NIL NIL \"7BIT\" 10 2)(\"text\" "
	    "\"html\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 11 1) "
	    "\"alternative\") 15) \"mixed\")",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" "
	    "9 1 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" "
	    "295 " INNER_ENV " ((\"text\" \"plain\" NIL NIL NIL \"7BIT\" 10 2 "
	    "NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL "
	    "NIL \"7BIT\" 11 1 NIL NIL NIL NIL) \"alternative\" (\"boundary\" "
	    "\"in ner\") NIL NIL NIL) 15 NIL (\"inline\" NIL) NIL NIL) "
	    "\"mixed\" (\"boundary\" \"outer\") NIL NIL NIL)");
}

/* The bytes a section means, as a new string. */
static char *
section(const char *msg, const struct mime_part *root, const uint32_t *nums,
        size_t n, enum mime_section_text text)
{
	const struct mime_part *part;
	bool header;
	uint64_t from, to;

	if (mime_section_find(root, nums, n, text, &part, &header) < 0)
		return NULL;
	from = header ? part->hdr_off : part->body_off;
	to = header ? part->body_off : part->end;
	return strndup(msg + from, (size_t)(to - from));
}

#define SEC(want, text, ...)                                                   \
	do {                                                                   \
		uint32_t nums_[] = {__VA_ARGS__};                              \
		size_t n_ = sizeof(nums_) / sizeof(nums_[0]);                  \
		char *got_ = section(msg, root, nums_[0] ? nums_ : NULL,       \
		                     nums_[0] ? n_ : 0, text);                 \
		if ((want) == NULL) {                                          \
			assert_null(got_);                                     \
		} else {                                                       \
			assert_non_null(got_);                                 \
			assert_string_equal(got_, (want));                     \
		}                                                              \
		free(got_);                                                    \
	} while (0)

static void
test_sections(void **state)
{
	const char *msg = msg_alt_nested;
	struct mime_part *root = mime_parse(msg, strlen(msg));

	(void)state;
	SEC("see below", MIME_SEC_NONE, 1);
	SEC("\r\n", MIME_SEC_MIME, 1); /* just the blank line */
	SEC("Content-Type: message/rfc822\r\nContent-Disposition: "
	    "inline\r\n\r\n",
	    MIME_SEC_MIME, 2);
	SEC("From: Inner <i@y.example>\r\nTo: group: a@c.example, "
	    "<@r1,@r2:b@c.example>;, last@d.example\r\nSubject: "
	    "inner\r\nContent-Type: multipart/alternative; "
	    "boundary=\"in ner\"\r\n\r\n",
	    MIME_SEC_HEADER, 2);
	SEC("plain\r\ntwo", MIME_SEC_NONE, 2, 1);
	SEC("<b>html</b>", MIME_SEC_NONE, 2, 2);
	SEC("Content-Type: text/plain\r\n\r\n", MIME_SEC_MIME, 2, 1);
	SEC(NULL, MIME_SEC_NONE, 3);
	SEC(NULL, MIME_SEC_NONE, 1, 1);
	SEC(NULL, MIME_SEC_HEADER, 1);
	SEC(NULL, MIME_SEC_NONE, 2, 3);
	SEC(NULL, MIME_SEC_MIME, 0);
	mime_part_free(&root);

	msg = msg_simple;
	root = mime_parse(msg, strlen(msg));
	SEC("Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n",
	    MIME_SEC_NONE, 1);
	SEC("Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n",
	    MIME_SEC_TEXT, 0);
	SEC(NULL, MIME_SEC_NONE, 2);
	SEC(NULL, MIME_SEC_NONE, 1, 1);
	mime_part_free(&root);
}

static void
test_header_filter(void **state)
{
	static const char hdr[] = "From: a\r\nTo: b,\r\n c\r\nSubject: s\r\n"
	                          "X-Odd line\r\n\r\n";
	const char *names[] = {"to", "SUBJECT"};
	struct buf b = BUF_INIT;

	(void)state;
	assert_int_equal(
	    mime_header_filter(&b, hdr, strlen(hdr), names, 2, false), 0);
	assert_string_equal(buf_cstr(&b), "To: b,\r\n c\r\nSubject: s\r\n\r\n");
	buf_reset(&b);
	assert_int_equal(
	    mime_header_filter(&b, hdr, strlen(hdr), names, 2, true), 0);
	assert_string_equal(buf_cstr(&b), "From: a\r\n\r\n");
	buf_free(&b);
}

/* Boundaries that never come, or do not close: best effort. */
static void
test_broken_boundaries(void **state)
{
	static const char never[] = "Content-Type: multipart/mixed; "
	                            "boundary=zz\r\n\r\nno parts\r\nhere\r\n";
	static const char unclosed[] =
	    "Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n"
	    "\r\nfirst\r\n--zz\r\nContent-Type: text/x\r\n\r\nlast\r\n";
	static const char noboundary[] =
	    "Content-Type: multipart/mixed\r\n\r\nbody\r\n";
	static const char headeronly[] = "Subject: x\r\nFrom: a@b";

	(void)state;
	check_msg(never, NULL,
	          "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	          "\"7BIT\" 16 2)",
	          NULL);
	check_msg(unclosed, NULL,
	          "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	          "\"7BIT\" 5 1)(\"text\" \"x\" NIL NIL NIL \"7BIT\" 6 1) "
	          "\"mixed\")",
	          NULL);
	check_msg(noboundary, NULL,
	          "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	          "\"7BIT\" 6 1)",
	          NULL);
	check_msg(headeronly,
	          "(NIL \"x\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) "
	          "((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL NIL)",
	          "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	          "\"7BIT\" 0 0)",
	          NULL);
}

/* NUL and 8-bit bytes in headers: kept out of quoted strings. */
static void
test_nul_and_8bit(void **state)
{
	static const char msg[] = "Subject: a\0b\r\nFrom: \xc3\xa9t\xc3\xa9 "
	                          "<e@x>\r\n\r\nbody\0\r\n";
	struct mime_part *root = mime_parse(msg, sizeof(msg) - 1);
	char *env;

	(void)state;
	assert_non_null(root);
	env = render(root, 0);
	assert_string_equal(env, "(NIL \"ab\" (({5}\r\n\xc3\xa9t\xc3\xa9 NIL "
	                         "\"e\" \"x\")) (({5}\r\n\xc3\xa9t\xc3\xa9 NIL "
	                         "\"e\" \"x\")) (({5}\r\n\xc3\xa9t\xc3\xa9 NIL "
	                         "\"e\" \"x\")) NIL NIL NIL NIL NIL)");
	free(env);
	assert_int_equal(mime_part_body_size(root), 7);
	mime_part_free(&root);
}

/* 1,000 nested multiparts: the tree stops at MIME_MAX_DEPTH. */
static void
test_deep_nesting(void **state)
{
	struct buf m = BUF_INIT;
	struct mime_part *root, *n;
	size_t depth = 0;
	char *bs;

	(void)state;
	for (int i = 0; i < 1000; i++)
		buf_printf(&m,
		           "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n"
		           "--b%d\r\n",
		           i, i);
	buf_append_str(&m, "\r\nleaf\r\n");
	root = parse_chunked(m.data, m.len, 3);
	assert_non_null(root);
	for (n = root; n != NULL; n = n->child)
		depth++;
	assert_true(depth <= MIME_MAX_DEPTH);
	assert_true(depth >= MIME_MAX_DEPTH - 1);
	bs = render(root, 2);
	assert_non_null(strstr(bs, "\"text\" \"plain\""));
	free(bs);
	mime_part_free(&root);
	buf_free(&m);
}

/* 100,000 parts: the first MIME_MAX_PARTS are parts, the rest text. */
static void
test_part_flood(void **state)
{
	struct buf m = BUF_INIT;
	struct mime_part *root;

	(void)state;
	buf_append_str(&m, "Content-Type: multipart/mixed; boundary=f\r\n\r\n");
	for (int i = 0; i < 100000; i++)
		buf_append_str(&m, "--f\r\n\r\nx\r\n");
	buf_append_str(&m, "--f--\r\n");
	root = mime_parse(m.data, m.len);
	assert_non_null(root);
	assert_int_equal(root->nchildren, MIME_MAX_PARTS - 1);
	mime_part_free(&root);
	buf_free(&m);
}

/* A 3 MiB header line and 20,000 header lines: bounded, still parsed. */
static void
test_long_headers(void **state)
{
	struct buf m = BUF_INIT;
	struct mime_part *root;

	(void)state;
	buf_init(&m, 0);
	buf_append_str(&m, "Subject: ");
	for (int i = 0; i < 3 * 1024 * 1024 / 8; i++)
		buf_append_str(&m, "abcdefgh");
	buf_append_str(&m, "\r\n");
	for (int i = 0; i < 20000; i++)
		buf_append_str(&m, "X-A: b\r\n");
	buf_append_str(&m, "From: late@x\r\n\r\nbody\r\n");
	root = parse_chunked(m.data, m.len, 4096);
	assert_non_null(root);
	assert_null(root->field[MIME_F_SUBJECT]);
	assert_null(root->field[MIME_F_FROM]);
	assert_int_equal(mime_part_body_size(root), 6);
	mime_part_free(&root);
	buf_free(&m);
}

static void
test_header_ascii(void **state)
{
	static const char utf8_subject[] = "Subject: Gr\xc3\xbc\xc3\x9f"
	                                   "e\r\n\r\nbody\r\n";
	static const char utf8_body[] = "Subject: x\r\n\r\nGr\xc3\xbc\r\n";

	(void)state;
	assert_false(
	    mime_header_is_ascii(utf8_subject, sizeof(utf8_subject) - 1));
	assert_true(mime_header_is_ascii(utf8_body, sizeof(utf8_body) - 1));
	assert_true(mime_header_is_ascii("A: b\n\n\xff", 7));
	assert_false(mime_header_is_ascii("A: b\n\xff", 6));
	assert_true(mime_header_is_ascii("", 0));
}

/* Fed a byte at a time, the scan answers as the whole-message test, and
 * stops at the byte that decides. */
static void
test_header_scan_pieces(void **state)
{
	static const char *const msgs[] = {
	    "Subject: Gr\xc3\xbc\r\n\r\nbody\r\n",
	    "A: b\r\n\r\n\xff\r\n",
	    "A: b\n\xff",
	    "A: b\r\nC: d\r\n",
	    "\r\n\xff",
	    ""};

	(void)state;
	for (size_t m = 0; m < sizeof(msgs) / sizeof(msgs[0]); m++) {
		struct mime_header_scan hs;
		size_t len = strlen(msgs[m]), i;

		mime_header_scan_init(&hs);
		for (i = 0; i < len; i++)
			if (mime_header_scan_feed(&hs, msgs[m] + i, 1))
				break;
		assert_int_equal(hs.ascii, mime_header_is_ascii(msgs[m], len));
		/* Decided before the end only where something decides. */
		assert_int_equal(i < len, hs.done);
	}
}

/*
 * The header ends where the parser ends it: a line of only LF or CRLF;
 * the test runs on the prefix a chunked reader has, and the parse of that
 * prefix gives the same header as the whole message.
 */
static void
test_header_complete(void **state)
{
	static const char msg[] = "Subject: a\r\nX: b\r\n\r\nbody\r\n";
	size_t hdr = strlen("Subject: a\r\nX: b\r\n\r\n");
	struct mime_part *whole, *head;

	(void)state;
	assert_false(mime_header_complete(msg, hdr - 1, 0));
	assert_true(mime_header_complete(msg, hdr, 0));
	assert_true(mime_header_complete(msg, hdr, hdr - 3));
	assert_true(mime_header_complete("a: b\n\nx", 6, 0));
	assert_true(mime_header_complete("\r\nbody", 2, 0));
	assert_true(mime_header_complete("\nbody", 1, 0));
	assert_false(mime_header_complete("a: b\r\n\r", 7, 0));
	assert_false(mime_header_complete("a: b\r\r\n", 7, 0));
	assert_false(mime_header_complete("a: b\r\n c\r\n", 11, 0));
	whole = mime_parse(msg, sizeof(msg) - 1);
	head = mime_parse(msg, hdr);
	assert_non_null(whole);
	assert_non_null(head);
	assert_int_equal(whole->body_off, hdr);
	assert_int_equal(head->body_off, whole->body_off);
	assert_int_equal(head->field_len[MIME_F_SUBJECT],
	                 whole->field_len[MIME_F_SUBJECT]);
	mime_part_free(&whole);
	mime_part_free(&head);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header_ascii),
	    cmocka_unit_test(test_header_scan_pieces),
	    cmocka_unit_test(test_simple),
	    cmocka_unit_test(test_mixed_attachment),
	    cmocka_unit_test(test_nested_rfc822),
	    cmocka_unit_test(test_sections),
	    cmocka_unit_test(test_header_filter),
	    cmocka_unit_test(test_broken_boundaries),
	    cmocka_unit_test(test_nul_and_8bit),
	    cmocka_unit_test(test_deep_nesting),
	    cmocka_unit_test(test_part_flood),
	    cmocka_unit_test(test_long_headers),
	    cmocka_unit_test(test_header_complete),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
