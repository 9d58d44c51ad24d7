/*
 * Unit tests of the queue files: write/read round trip, ids, refusal of
 * line breaks in envelope values, removal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "smtp/queue.h"

static char *
make_dir(void)
{
	char tmpl[] = "/tmp/postamt-queue-test-XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

static void
fill(struct smtp_queue_msg *m)
{
	memset(m, 0, sizeof(*m));
	smtp_queue_new_id(m->id);
	m->from = strdup("alice@example.test");
	m->created = 1000;
	m->next_attempt = 1060;
	m->attempts = 2;
	m->envid = strdup("env-1");
	m->ret_hdrs = true;
	m->delay_notified = true;
	assert_int_equal(smtp_queue_msg_add_rcpt(m, "bob@remote.example",
	                                         "rfc822;bob@remote.example",
	                                         SMTP_NOTIFY_FAILURE),
	                 0);
	assert_int_equal(
	    smtp_queue_msg_add_rcpt(m, "carol@remote.example", NULL, 0), 0);
	buf_append_str(&m->body, "Subject: x\r\n\r\nbody\r\n\nraw\n");
}

static void
test_round_trip(void **state)
{
	char *dir = make_dir();
	struct smtp_queue_msg m, r;
	struct err e;

	(void)state;
	fill(&m);
	assert_true(smtp_queue_id_is_valid(m.id));
	assert_int_equal(smtp_queue_write(dir, &m, &e), 0);
	assert_int_equal(smtp_queue_read(dir, m.id, true, &r, &e), 0);
	assert_string_equal(r.from, "alice@example.test");
	assert_int_equal(r.created, 1000);
	assert_int_equal(r.next_attempt, 1060);
	assert_int_equal(r.attempts, 2);
	assert_string_equal(r.envid, "env-1");
	assert_true(r.ret_hdrs);
	assert_true(r.delay_notified);
	assert_int_equal(r.nrcpts, 2);
	assert_string_equal(r.rcpts[0].addr, "bob@remote.example");
	assert_string_equal(r.rcpts[0].orcpt, "rfc822;bob@remote.example");
	assert_int_equal(r.rcpts[0].notify, SMTP_NOTIFY_FAILURE);
	assert_null(r.rcpts[1].orcpt);
	assert_int_equal(r.body.len, m.body.len);
	assert_memory_equal(r.body.data, m.body.data, m.body.len);
	smtp_queue_msg_free(&r);
	/* Without the body. */
	assert_int_equal(smtp_queue_read(dir, m.id, false, &r, &e), 0);
	assert_int_equal(r.body.len, 0);
	smtp_queue_msg_free(&r);
	assert_int_equal(smtp_queue_remove(dir, m.id, &e), 0);
	assert_int_equal(smtp_queue_read(dir, m.id, false, &r, &e), -1);
	assert_int_equal(e.kind, ERR_NOTFOUND);
	assert_int_equal(smtp_queue_remove(dir, m.id, &e), -1);
	smtp_queue_msg_free(&m);
	rmdir(dir);
	free(dir);
}

static void
test_refuses_line_breaks(void **state)
{
	char *dir = make_dir();
	struct smtp_queue_msg m;
	struct err e;

	(void)state;
	fill(&m);
	free(m.from);
	m.from = strdup("a@b\nrcpt evil@x");
	assert_int_equal(smtp_queue_write(dir, &m, &e), -1);
	assert_int_equal(e.kind, ERR_SYNTAX);
	smtp_queue_msg_free(&m);
	rmdir(dir);
	free(dir);
}

static void
test_ids(void **state)
{
	(void)state;
	assert_true(smtp_queue_id_is_valid("0123456789abcdef"));
	assert_false(smtp_queue_id_is_valid("0123456789abcdeF"));
	assert_false(smtp_queue_id_is_valid("0123456789abcde"));
	assert_false(smtp_queue_id_is_valid("0123456789abcdef0"));
	assert_false(smtp_queue_id_is_valid("../../etc/passwd"));
	assert_false(smtp_queue_id_is_valid("flush"));
	assert_false(smtp_queue_id_is_valid(""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_refuses_line_breaks),
	    cmocka_unit_test(test_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
