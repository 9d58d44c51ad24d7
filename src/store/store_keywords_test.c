/*
 * Unit tests of keywords (flag bits named per user), SAVEDATE, EMAILID,
 * MAILBOXID in the status and the background full-text indexer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/embedded_cache.h"
#include "store/embedded_private.h"
#include "store/search.h"
#include "store/store.h"
#include "fixtures.h"
#include "testdir.h"

#define USER "alice@example.test"
#define MSG "Subject: hi\r\n\r\nbody with zebrafish\r\n"

static int
setup(void **state)
{
	return store_fixture_setup(state, "store-kw", USER);
}

static uint32_t
deliver(struct store_fixture *f, const char *box, uint32_t flags)
{
	uint32_t uid = 0;
	struct err err;

	assert_int_equal(
	    store_deliver(f->user, box, MSG, strlen(MSG), flags, &uid, &err),
	    0);
	return uid;
}

static uint32_t
kw_bits(struct store_fixture *f, const char *name, bool create)
{
	const char *names[1] = {name};
	uint32_t bits = 0;
	struct err err;

	assert_int_equal(
	    store_keyword_bits(f->user, names, 1, create, &bits, &err), 0);
	return bits;
}

/* Searches box for one key; returns the number of hits, first in *uid. */
static size_t
search1(struct store_fixture *f, const char *box, enum store_search_op op,
        const char *value, uint64_t num, uint32_t *uid)
{
	struct store_search_key k = {.op = op, .value = value, .num = num};
	uint32_t *uids;
	size_t n;
	struct err err;

	assert_int_equal(store_search(f->user, box, &k, &uids, &n, &err), 0);
	if (uid != NULL)
		*uid = n > 0 ? uids[0] : 0;
	free(uids);
	return n;
}

static void
test_keyword_bits(void **state)
{
	struct store_fixture *f = *state;
	const char *bad[] = {"\\Seen", "a b", "", "x(y", "caf\xc3\xa9"};
	char name[16], longname[STORE_KEYWORD_LEN_MAX + 2];
	uint32_t a, b, bits;
	struct err err;

	assert_int_equal(kw_bits(f, "$Forwarded", false), 0); /* unknown */
	a = kw_bits(f, "$Forwarded", true);
	assert_int_equal(a, 1u << STORE_KEYWORD_BIT0);
	assert_int_equal(kw_bits(f, "$forwarded", false), a); /* any case */
	b = kw_bits(f, "Work", true);
	assert_int_equal(b, 1u << (STORE_KEYWORD_BIT0 + 1));
	assert_string_equal(store_keyword_name(f->user, STORE_KEYWORD_BIT0),
	                    "$Forwarded");
	assert_null(store_keyword_name(f->user, STORE_KEYWORD_BIT0 + 2));
	assert_null(store_keyword_name(f->user, 0)); /* a system flag */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    store_keyword_bits(f->user, &bad[i], 1, true, &bits, &err),
		    -1);
		assert_int_equal(err.kind, ERR_SYNTAX);
	}
	memset(longname, 'k', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(store_keyword_valid(longname));
	/* The limit: every bit above the system flags, then ERR_LIMIT. */
	for (int i = 2; i < STORE_KEYWORDS_MAX; i++) {
		snprintf(name, sizeof(name), "kw%d", i);
		assert_int_not_equal(kw_bits(f, name, true), 0);
	}
	{
		const char *more[] = {"one-too-many"};

		assert_int_equal(
		    store_keyword_bits(f->user, more, 1, true, &bits, &err),
		    -1);
		assert_int_equal(err.kind, ERR_LIMIT);
	}
	assert_int_equal(kw_bits(f, "kw31", false) >> 31, 0);
	assert_int_equal(kw_bits(f, "kw26", false), 1u << 31);
}

static void
test_keyword_store_copy_search(void **state)
{
	struct store_fixture *f = *state;
	uint32_t kw = kw_bits(f, "$Important", true);
	uint32_t u1 = deliver(f, "INBOX", STORE_FLAG_SEEN | kw);
	uint32_t u2 = deliver(f, "INBOX", 0), got, newuid = 0;
	struct store_flags_change ch[2] = {{.uid = u1}, {.uid = u2}};
	struct store_msg *msgs;
	size_t n;
	struct err err;

	assert_int_equal(search1(f, "INBOX", SS_KEYWORD, "$important", 0, &got),
	                 1);
	assert_int_equal(got, u1);
	assert_int_equal(
	    search1(f, "INBOX", SS_UNKEYWORD, "$Important", 0, &got), 1);
	assert_int_equal(got, u2);
	assert_int_equal(search1(f, "INBOX", SS_KEYWORD, "nope", 0, NULL), 0);
	assert_int_equal(search1(f, "INBOX", SS_UNKEYWORD, "nope", 0, NULL), 2);
	/* -FLAGS ($Important) on both: only u1 changes, and gets a modseq. */
	assert_int_equal(store_flags_update(f->user, "INBOX", -1, kw,
	                                    UINT64_MAX, ch, 2, &err),
	                 0);
	assert_int_equal(ch[0].flags, STORE_FLAG_SEEN);
	assert_true(ch[0].modseq > ch[1].modseq);
	/* +FLAGS on u2, then COPY keeps it. */
	assert_int_equal(store_flags_update(f->user, "INBOX", 1, kw, UINT64_MAX,
	                                    &ch[1], 1, &err),
	                 0);
	assert_int_equal(ch[1].flags, kw);
	assert_int_equal(store_copy(f->user, "INBOX", &u2, 1, "Archive", NULL,
	                            &newuid, &err),
	                 0);
	assert_int_equal(
	    store_mailbox_messages(f->user, "Archive", &msgs, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(msgs[0].flags, kw);
	free(msgs);
	assert_int_equal(
	    search1(f, "Archive", SS_KEYWORD, "$IMPORTANT", 0, &got), 1);
	assert_int_equal(got, newuid);
}

static void
test_ids_savedate(void **state)
{
	struct store_fixture *f = *state;
	uint32_t u1 = deliver(f, "INBOX", 0), u2 = deliver(f, "INBOX", 0);
	uint32_t copy = 0;
	struct store_msg_ids a, b, c;
	struct store_mailbox_status st1, st2;
	int64_t now = (int64_t)time(NULL);
	struct err err;

	assert_int_equal(store_msg_ids_get(f->user, "INBOX", u1, &a, &err), 0);
	assert_int_equal(store_msg_ids_get(f->user, "INBOX", u2, &b, &err), 0);
	assert_int_equal(a.emailid[0], 'M');
	assert_int_equal(strlen(a.emailid), 33);
	assert_string_not_equal(a.emailid, b.emailid);
	assert_true(a.savedate >= now - 5 && a.savedate <= now + 5);
	assert_int_equal(
	    store_copy(f->user, "INBOX", &u1, 1, "Trash", NULL, &copy, &err),
	    0);
	assert_int_equal(store_msg_ids_get(f->user, "Trash", copy, &c, &err),
	                 0);
	assert_string_equal(c.emailid, a.emailid); /* same content */
	assert_int_equal(store_msg_ids_get(f->user, "INBOX", 999, &c, &err),
	                 -1);
	assert_int_equal(err.kind, ERR_NOTFOUND);
	/* SAVEDSINCE today's start finds both; SAVEDBEFORE it none. */
	assert_int_equal(search1(f, "INBOX", SS_SAVEDSINCE, NULL,
	                         (uint64_t)(now - now % 86400), NULL),
	                 2);
	assert_int_equal(search1(f, "INBOX", SS_SAVEDBEFORE, NULL,
	                         (uint64_t)(now - now % 86400), NULL),
	                 0);
	/* MAILBOXID: stable and different per mailbox. */
	assert_int_equal(store_mailbox_status(f->user, "INBOX", &st1, &err), 0);
	assert_int_equal(store_mailbox_status(f->user, "Trash", &st2, &err), 0);
	assert_int_equal(strlen(st1.mailboxid), 32);
	assert_string_not_equal(st1.mailboxid, st2.mailboxid);
}

/* fts.db's watermark, read on u's connection. */
static int64_t
fts_upto(struct embedded_user *u)
{
	int64_t v = -1;
	struct err err;

	assert_int_equal(embedded_fts_attach(u, &err), 0);
	assert_int_equal(embedded_sql_int(u,
	                                  "SELECT value FROM fts.meta WHERE "
	                                  "key = 'fts_upto'",
	                                  NULL, &v, &err),
	                 0);
	return v;
}

/* The indexer fills msg_text shortly after delivery, without a search. */
static void
test_background_index(void **state)
{
	struct store_fixture *f = *state;
	struct embedded_user *u = embedded_user_of(f->user);
	int64_t upto = 0;
	uint32_t got;

	for (int i = 0; i < 5; i++)
		deliver(f, "INBOX", 0);
	/* Up to 10 s: the indexer runs niced, after the machine's other work.
	 */
	for (int i = 0; i < 1000 && upto < 5; i++) {
		usleep(10000);
		upto = fts_upto(u);
	}
	assert_int_equal(upto, 5);
	assert_int_equal(search1(f, "INBOX", SS_BODY, "ZEBRAFISH", 0, &got), 5);
	assert_int_equal(got, 1);
}

/*
 * A name one handle adds reaches another handle's list of names (FLAGS)
 * without a message carrying it, also a handle that rested in the pool
 * meanwhile (its user's shared state was made anew, counting from 0).
 */
static void
test_keyword_names_across_handles(void **state)
{
	struct store_fixture *f = *state;
	struct store_user *other = NULL, *rested = NULL;
	uint32_t bits;
	struct err err;

	assert_int_equal(store_user_open(f->store, USER, &other, &err), 0);
	for (unsigned b = STORE_KEYWORD_BIT0; b < 32; b++)
		assert_null(store_keyword_name(other, b));
	store_user_close(&other);
	bits = kw_bits(f, "$Label1", true);
	store_user_close(&f->user);
	/* The pool gives the newest first: f's handle, then other's. */
	assert_int_equal(store_user_open(f->store, USER, &f->user, &err), 0);
	assert_int_equal(store_user_open(f->store, USER, &rested, &err), 0);
	assert_string_equal(
	    store_keyword_name(rested, (unsigned)__builtin_ctz(bits)),
	    "$Label1");
	bits = kw_bits(f, "$Label2", true);
	assert_string_equal(
	    store_keyword_name(rested, (unsigned)__builtin_ctz(bits)),
	    "$Label2");
	store_user_close(&rested);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_keyword_names_across_handles,
	                                    setup, store_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_keyword_bits, setup,
	                                    store_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_keyword_store_copy_search,
	                                    setup, store_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_ids_savedate, setup,
	                                    store_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_background_index, setup,
	                                    store_fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
