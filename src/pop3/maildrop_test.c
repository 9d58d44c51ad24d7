#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "pop3/maildrop.h"

/* Three messages, UIDs 4, 7, 9, sizes 10, 20, 30. */
static void
maildrop_three(struct pop3_maildrop *md)
{
	struct store_msg *msgs = calloc(3, sizeof(*msgs));

	assert_non_null(msgs);
	for (size_t i = 0; i < 3; i++)
		msgs[i].size = 10 * (i + 1);
	msgs[0].uid = 4;
	msgs[1].uid = 7;
	msgs[2].uid = 9;
	assert_int_equal(pop3_maildrop_init(md, msgs, 3, 1234), 0);
}

static void
test_numbers_and_stat(void **state)
{
	struct pop3_maildrop md;
	const struct store_msg *msg = NULL;
	size_t count;
	uint64_t size;

	(void)state;
	maildrop_three(&md);
	assert_int_equal(pop3_maildrop_get(&md, 0, &msg), POP3_MSG_NONE);
	assert_int_equal(pop3_maildrop_get(&md, 4, &msg), POP3_MSG_NONE);
	assert_int_equal(pop3_maildrop_get(&md, 2, &msg), POP3_MSG_OK);
	assert_int_equal(msg->uid, 7);
	pop3_maildrop_stat(&md, &count, &size);
	assert_int_equal(count, 3);
	assert_int_equal(size, 60);
	pop3_maildrop_free(&md);
}

static void
test_delete_and_reset(void **state)
{
	struct pop3_maildrop md;
	const struct store_msg *msg;
	uint32_t *uids;
	size_t count;
	uint64_t size;

	(void)state;
	maildrop_three(&md);
	assert_int_equal(pop3_maildrop_delete(&md, 1), POP3_MSG_OK);
	assert_int_equal(pop3_maildrop_delete(&md, 1), POP3_MSG_DELETED);
	assert_int_equal(pop3_maildrop_delete(&md, 3), POP3_MSG_OK);
	assert_int_equal(pop3_maildrop_delete(&md, 5), POP3_MSG_NONE);
	assert_int_equal(pop3_maildrop_get(&md, 3, &msg), POP3_MSG_DELETED);
	pop3_maildrop_stat(&md, &count, &size);
	assert_int_equal(count, 1);
	assert_int_equal(size, 20);
	assert_int_equal(pop3_maildrop_deleted_uids(&md, &uids, &count), 0);
	assert_int_equal(count, 2);
	assert_int_equal(uids[0], 4);
	assert_int_equal(uids[1], 9);
	free(uids);
	pop3_maildrop_reset(&md);
	assert_int_equal(pop3_maildrop_deleted_uids(&md, &uids, &count), 0);
	assert_int_equal(count, 0);
	assert_null(uids);
	pop3_maildrop_free(&md);
}

static void
test_retrieved_marks(void **state)
{
	struct pop3_maildrop md;
	uint32_t *uids;
	size_t count;
	const unsigned both = POP3_MARK_DELETED | POP3_MARK_RETRIEVED;

	(void)state;
	maildrop_three(&md);
	pop3_maildrop_retrieved(&md, 1);
	pop3_maildrop_retrieved(&md, 2);
	pop3_maildrop_retrieved(&md, 9); /* out of range: ignored */
	assert_int_equal(pop3_maildrop_delete(&md, 2), POP3_MSG_OK);
	/* Retrieved and kept. */
	assert_int_equal(pop3_maildrop_uids(&md, both, POP3_MARK_RETRIEVED, 0,
	                                    &uids, &count),
	                 0);
	assert_int_equal(count, 1);
	assert_int_equal(uids[0], 4);
	free(uids);
	/* Retrieved, deleted or not. */
	assert_int_equal(pop3_maildrop_uids(&md, POP3_MARK_RETRIEVED,
	                                    POP3_MARK_RETRIEVED, 0, &uids,
	                                    &count),
	                 0);
	assert_int_equal(count, 2);
	assert_int_equal(uids[1], 7);
	free(uids);
	/* Already \Seen in the snapshot: left out when asked. */
	md.msgs[0].flags = STORE_FLAG_SEEN | STORE_FLAG_FLAGGED;
	assert_int_equal(pop3_maildrop_uids(&md, POP3_MARK_RETRIEVED,
	                                    POP3_MARK_RETRIEVED,
	                                    STORE_FLAG_SEEN, &uids, &count),
	                 0);
	assert_int_equal(count, 1);
	assert_int_equal(uids[0], 7);
	free(uids);
	/* RSET forgets the deletion but not the download. */
	pop3_maildrop_reset(&md);
	assert_int_equal(pop3_maildrop_uids(&md, both, POP3_MARK_RETRIEVED, 0,
	                                    &uids, &count),
	                 0);
	assert_int_equal(count, 2);
	free(uids);
	pop3_maildrop_free(&md);
}

static void
test_empty(void **state)
{
	struct pop3_maildrop md;
	const struct store_msg *msg;
	size_t count;
	uint64_t size;

	(void)state;
	assert_int_equal(pop3_maildrop_init(&md, NULL, 0, 1), 0);
	assert_int_equal(pop3_maildrop_get(&md, 1, &msg), POP3_MSG_NONE);
	pop3_maildrop_stat(&md, &count, &size);
	assert_int_equal(count, 0);
	pop3_maildrop_reset(&md);
	pop3_maildrop_free(&md);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_numbers_and_stat),
	    cmocka_unit_test(test_delete_and_reset),
	    cmocka_unit_test(test_retrieved_marks),
	    cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
