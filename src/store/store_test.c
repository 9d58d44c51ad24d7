#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/embedded_private.h"
#include "store/store.h"
#include "fixtures.h"
#include "testdir.h"

static int
setup(void **state)
{
	return store_fixture_setup(state, "store", "Alice@Example.TEST");
}

/* Number of entries in dir whose name starts with prefix ("" for all). */
static int
count_files(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' &&
		    strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

static const char *
blob_dir(struct store_user *u)
{
	return embedded_user_of(u)->blob_dir;
}

static void
test_deliver_read_exact(void **state)
{
	struct store_fixture *f = *state;
	static const char msg[] = "Subject: x\r\n\r\nbody\0with NUL\r\n\0";
	size_t big_len = 1024 * 1024;
	char *big = malloc(big_len);
	struct buf out = BUF_INIT;
	struct err err;
	uint32_t uid1, uid2;

	assert_non_null(big);
	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)(i * 7 + i / 251);
	assert_int_equal(
	    store_deliver(f->user, "INBOX", msg, sizeof(msg), 0, &uid1, &err),
	    0);
	assert_int_equal(
	    store_deliver(f->user, "INBOX", big, big_len, 0, &uid2, &err), 0);
	assert_int_equal(store_msg_read(f->user, "INBOX", uid1, &out, &err), 0);
	assert_int_equal(out.len, sizeof(msg));
	assert_memory_equal(out.data, msg, sizeof(msg));
	buf_reset(&out);
	assert_int_equal(store_msg_read(f->user, "inbox", uid2, &out, &err), 0);
	assert_int_equal(out.len, big_len);
	assert_memory_equal(out.data, big, big_len);
	assert_int_equal(count_files(blob_dir(f->user), "tmp."), 0);
	assert_int_equal(store_fixture_bodies(f->user), 2);

	/* A buffer too small for the message stays untouched. */
	buf_free(&out);
	buf_init(&out, 1000);
	assert_int_equal(store_msg_read(f->user, "INBOX", uid2, &out, &err),
	                 -1);
	assert_int_equal(err.kind, ERR_LIMIT);
	assert_int_equal(out.len, 0);
	assert_int_equal(store_msg_read(f->user, "INBOX", 999, &out, &err), -1);
	assert_int_equal(err.kind, ERR_NOTFOUND);
	buf_free(&out);
	free(big);
}

/* Rows of msg_data, the messages kept in the index. */
static int64_t
kept_count(struct store_fixture *f)
{
	int64_t n = -1;
	struct err err;

	assert_int_equal(embedded_sql_int(embedded_user_of(f->user),
	                                  "SELECT count(*) FROM msg_data", NULL,
	                                  &n, &err),
	                 0);
	return n;
}

/* Reads message uid through a stream, in 5-byte pieces. */
static void
stream_expect(struct store_fixture *f, const char *box, uint32_t uid,
              const void *want, size_t len, int want_fd)
{
	struct store_stream *st;
	char piece[5];
	struct buf got = BUF_INIT;
	struct err err;
	ssize_t n;

	assert_int_equal(store_msg_open(f->user, box, uid, &st, &err), 0);
	assert_int_equal(store_stream_size(st), len);
	assert_int_equal(store_stream_fd(st) >= 0, want_fd);
	while ((n = store_stream_read(st, got.len, piece, sizeof(piece),
	                              &err)) > 0)
		assert_int_equal(buf_append(&got, piece, (size_t)n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(got.len, len);
	assert_memory_equal(got.data, want, len);
	store_stream_close(&st);
	buf_free(&got);
}

/*
 * Schema version 7: a message up to the inline limit is kept in the
 * index (no file), one over it gets a file; both read the same, copies
 * share the kept bytes, which go with the last copy; limit 0 means files.
 */
/*
 * Blob ids sort in the order they were made (the index's blob-keyed
 * b-trees then grow at their right edge), and stay unique within one
 * microsecond.
 */
static void
test_blob_ids_ordered(void **state)
{
	char prev[STORE_BLOB_ID_SIZE], id[STORE_BLOB_ID_SIZE];
	char burst[64][STORE_BLOB_ID_SIZE];
	struct timespec pause = {.tv_nsec = 200 * 1000};
	struct err err;

	(void)state;
	assert_int_equal(store_blob_new_id(prev, &err), 0);
	for (int i = 0; i < 50; i++) {
		nanosleep(&pause, NULL);
		assert_int_equal(store_blob_new_id(id, &err), 0);
		assert_int_equal(strlen(id), 32);
		assert_int_equal(strspn(id, "0123456789abcdef"), 32);
		assert_true(strcmp(prev, id) < 0);
		memcpy(prev, id, sizeof(id));
	}
	for (int i = 0; i < 64; i++) {
		assert_int_equal(store_blob_new_id(burst[i], &err), 0);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(burst[i], burst[j]);
	}
}

static void
test_kept_in_index(void **state)
{
	struct store_fixture *f = *state;
	static const char small[] = "Subject: s\r\n\r\nkept\0bytes\r\n";
	size_t big_len = STORE_INLINE_MAX_DEFAULT + 1;
	char *big = malloc(big_len);
	struct store_stream *held;
	struct buf out = BUF_INIT;
	uint32_t uid_s, uid_b, uid_f, one = 1, news[1];
	struct err err;

	assert_non_null(big);
	memset(big, 'b', big_len);
	assert_int_equal(store_deliver(f->user, "INBOX", small, sizeof(small),
	                               0, &uid_s, &err),
	                 0);
	assert_int_equal(
	    store_deliver(f->user, "INBOX", big, big_len, 0, &uid_b, &err), 0);
	assert_int_equal(kept_count(f), 1);
	assert_int_equal(count_files(blob_dir(f->user), ""), 1);
	assert_int_equal(store_msg_read(f->user, "INBOX", uid_s, &out, &err),
	                 0);
	assert_int_equal(out.len, sizeof(small));
	assert_memory_equal(out.data, small, sizeof(small));
	stream_expect(f, "INBOX", uid_s, small, sizeof(small), 0);
	stream_expect(f, "INBOX", uid_b, big, big_len, 1);

	/* A copy shares the bytes; they go with the last message. */
	assert_int_equal(
	    store_copy(f->user, "INBOX", &one, 1, "Sent", NULL, news, &err), 0);
	assert_int_equal(kept_count(f), 1);
	assert_int_equal(store_msg_open(f->user, "Sent", news[0], &held, &err),
	                 0);
	assert_int_equal(store_expunge(f->user, "INBOX", &uid_s, 1, &err), 0);
	assert_int_equal(kept_count(f), 1);
	stream_expect(f, "Sent", news[0], small, sizeof(small), 0);
	assert_int_equal(store_expunge(f->user, "Sent", news, 1, &err), 0);
	assert_int_equal(kept_count(f), 0);
	/* An open stream still reads an expunged message, as a file does. */
	buf_reset(&out);
	assert_int_equal(buf_reserve(&out, sizeof(small)), 0);
	assert_int_equal(
	    store_stream_read(held, 0, out.data, sizeof(small), &err),
	    (ssize_t)sizeof(small));
	assert_memory_equal(out.data, small, sizeof(small));
	store_stream_close(&held);

	store_set_inline_max(f->store, 0);
	assert_int_equal(store_deliver(f->user, "INBOX", small, sizeof(small),
	                               0, &uid_f, &err),
	                 0);
	assert_int_equal(kept_count(f), 0);
	assert_int_equal(count_files(blob_dir(f->user), ""), 2);
	stream_expect(f, "INBOX", uid_f, small, sizeof(small), 1);
	buf_free(&out);
	free(big);
}

static void
test_deliver_unknown_mailbox(void **state)
{
	struct store_fixture *f = *state;
	struct err err;
	uint32_t uid;

	assert_int_equal(store_deliver(f->user, "Nope", "x", 1, 0, &uid, &err),
	                 -1);
	assert_int_equal(err.kind, ERR_NOTFOUND);
	assert_int_equal(store_deliver(f->user, "a//b", "x", 1, 0, &uid, &err),
	                 -1);
	assert_int_equal(err.kind, ERR_SYNTAX);
	/* Nothing half-written stays behind. */
	assert_int_equal(store_fixture_bodies(f->user), 0);
}

static void
test_uids_never_reused(void **state)
{
	struct store_fixture *f = *state;
	struct store_msg *msgs;
	struct err err;
	uint32_t uid[4];
	size_t n;

	for (int i = 0; i < 3; i++)
		assert_int_equal(
		    store_deliver(f->user, "INBOX", "m", 1, 0, &uid[i], &err),
		    0);
	assert_int_equal(uid[0], 1);
	assert_int_equal(uid[1], 2);
	assert_int_equal(uid[2], 3);
	assert_int_equal(store_expunge(f->user, "INBOX", &uid[2], 1, &err), 0);
	assert_int_equal(store_fixture_bodies(f->user), 2);
	assert_int_equal(
	    store_deliver(f->user, "INBOX", "m", 1, 0, &uid[3], &err), 0);
	assert_int_equal(uid[3], 4);
	assert_int_equal(
	    store_mailbox_messages(f->user, "INBOX", &msgs, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(msgs[0].uid, 1);
	assert_int_equal(msgs[1].uid, 2);
	assert_int_equal(msgs[2].uid, 4);
	free(msgs);
	/* Other mailboxes count on their own. */
	assert_int_equal(
	    store_deliver(f->user, "Sent", "m", 1, 0, &uid[0], &err), 0);
	assert_int_equal(uid[0], 1);
	assert_int_equal(
	    store_mailbox_messages(f->user, "Trash", &msgs, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_null(msgs);
	assert_int_equal(
	    store_mailbox_messages(f->user, "Nope", &msgs, &n, &err), -1);
	assert_int_equal(err.kind, ERR_NOTFOUND);
}

static void
test_status_counts(void **state)
{
	struct store_fixture *f = *state;
	struct store_mailbox_status st0, st;
	struct err err;
	uint32_t uid;

	assert_int_equal(store_mailbox_status(f->user, "INBOX", &st0, &err), 0);
	assert_int_equal(st0.messages, 0);
	assert_int_equal(st0.uidnext, 1);
	assert_true(st0.uidvalidity > 0);
	assert_int_equal(store_deliver(f->user, "INBOX", "12345", 5,
	                               STORE_FLAG_SEEN, &uid, &err),
	                 0);
	assert_int_equal(
	    store_deliver(f->user, "INBOX", "abc", 3, 0, &uid, &err), 0);
	assert_int_equal(store_mailbox_status(f->user, "Inbox", &st, &err), 0);
	assert_int_equal(st.messages, 2);
	assert_int_equal(st.unseen, 1);
	assert_int_equal(st.size, 8);
	assert_int_equal(st.uidnext, 3);
	assert_int_equal(st.uidvalidity, st0.uidvalidity);
	assert_true(st.highestmodseq > st0.highestmodseq);
	assert_int_equal(store_mailbox_status(f->user, "Nope", &st, &err), -1);
	assert_int_equal(err.kind, ERR_NOTFOUND);
}

#define RACE_THREADS 8
#define RACE_USERS 40

struct open_race {
	struct store *store;
	pthread_barrier_t *start;
	int user;
	int failed;
	char msg[256];
};

static void *
open_race_main(void *arg)
{
	struct open_race *r = arg;
	struct store_user *u;
	char address[64];
	struct err err;

	snprintf(address, sizeof(address), "race%d@example.test", r->user);
	pthread_barrier_wait(r->start);
	if (store_user_open(r->store, address, &u, &err) < 0) {
		r->failed = 1;
		snprintf(r->msg, sizeof(r->msg), "%s", err.msg);
		return NULL;
	}
	store_user_close(&u);
	return NULL;
}

/*
 * Several threads opening one new user at once all succeed: making the
 * index WAL needs a lock SQLite does not wait for, and a delivery was
 * refused for it (1 run in 20 of 20 SMTP sessions to a new user).
 */
static void
test_concurrent_first_open(void **state)
{
	struct store_fixture *f = *state;
	pthread_barrier_t start;
	pthread_t th[RACE_THREADS];
	struct open_race r[RACE_THREADS];

	for (int user = 0; user < RACE_USERS; user++) {
		assert_int_equal(
		    pthread_barrier_init(&start, NULL, RACE_THREADS), 0);
		for (int i = 0; i < RACE_THREADS; i++) {
			r[i] = (struct open_race){
			    .store = f->store, .start = &start, .user = user};
			assert_int_equal(
			    pthread_create(&th[i], NULL, open_race_main, &r[i]),
			    0);
		}
		for (int i = 0; i < RACE_THREADS; i++) {
			pthread_join(th[i], NULL);
			if (r[i].failed)
				fail_msg("user %d, thread %d: %s", user, i,
				         r[i].msg);
		}
		pthread_barrier_destroy(&start);
	}
}

/* The marks are the status's, without the counts; they follow changes. */
static void
test_mailbox_marks(void **state)
{
	struct store_fixture *f = *state;
	struct store_mailbox_status st;
	struct store_mailbox_marks mk;
	struct err err;
	uint32_t uid;

	for (int round = 0; round < 3; round++) {
		if (round == 1)
			assert_int_equal(store_deliver(f->user, "INBOX", "abc",
			                               3, 0, &uid, &err),
			                 0);
		if (round == 2)
			assert_int_equal(
			    store_msg_set_flags(f->user, "INBOX", uid, 1,
			                        STORE_FLAG_SEEN, &err),
			    0);
		assert_int_equal(
		    store_mailbox_status(f->user, "INBOX", &st, &err), 0);
		assert_int_equal(
		    store_mailbox_marks(f->user, "inbox", &mk, &err), 0);
		assert_int_equal(mk.uidvalidity, st.uidvalidity);
		assert_int_equal(mk.uidnext, st.uidnext);
		assert_int_equal(mk.highestmodseq, st.highestmodseq);
		assert_int_equal(mk.uidnext, round == 0 ? 1 : 2);
	}
	assert_int_equal(store_mailbox_marks(f->user, "Nope", &mk, &err), -1);
	assert_int_equal(err.kind, ERR_NOTFOUND);
}

/* Returns the flags and modseq of uid in INBOX. */
static struct store_msg
msg_of(struct store_user *u, uint32_t uid)
{
	struct store_msg *msgs, m = {0};
	struct err err;
	size_t n;

	assert_int_equal(store_mailbox_messages(u, "INBOX", &msgs, &n, &err),
	                 0);
	for (size_t i = 0; i < n; i++)
		if (msgs[i].uid == uid)
			m = msgs[i];
	free(msgs);
	assert_int_equal(m.uid, uid);
	return m;
}

static int64_t
meta_of(struct store_user *u, const char *key)
{
	int64_t v = -1;
	struct err err;

	assert_int_equal(embedded_meta_get(embedded_user_of(u), key, &v, &err),
	                 0);
	return v;
}

static uint64_t
highestmodseq(struct store_user *u)
{
	struct store_mailbox_status st;
	struct err err;

	assert_int_equal(store_mailbox_status(u, "INBOX", &st, &err), 0);
	return st.highestmodseq;
}

/*
 * Flag changes commit without an fsync (embedded_lazy.c), counted in meta
 * 'lazy'; the next process's first open moves HIGHESTMODSEQ past what a
 * power cut could have lost, once; past the bound the count is reset by
 * a durable commit.
 */
static void
test_lazy_flags(void **state)
{
	struct store_fixture *f = *state;
	uint32_t uids[2];
	struct err err;
	uint64_t m;

	for (int i = 0; i < 2; i++)
		assert_int_equal(
		    store_deliver(f->user, "INBOX", "x", 1, 0, &uids[i], &err),
		    0);
	assert_int_equal(meta_of(f->user, "lazy"), 0);
	assert_int_equal(store_msg_set_flags(f->user, "INBOX", uids[0], 1,
	                                     STORE_FLAG_SEEN, &err),
	                 0);
	assert_int_equal(meta_of(f->user, "lazy"), 1);
	/* Unchanged flags give out no mod-sequence. */
	assert_int_equal(store_msg_set_flags(f->user, "INBOX", uids[0], 1,
	                                     STORE_FLAG_SEEN, &err),
	                 0);
	assert_int_equal(meta_of(f->user, "lazy"), 1);
	m = highestmodseq(f->user);
	/* Another process (a new store) opens the user: one move up. */
	store_user_close(&f->user);
	store_close(&f->store);
	assert_int_equal(store_open(f->dir, &f->store, &err), 0);
	assert_int_equal(
	    store_user_open(f->store, "alice@example.test", &f->user, &err), 0);
	assert_true(highestmodseq(f->user) == m + (1 << 21));
	assert_int_equal(meta_of(f->user, "lazy"), 0);
	store_user_close(&f->user);
	assert_int_equal(
	    store_user_open(f->store, "alice@example.test", &f->user, &err), 0);
	assert_true(highestmodseq(f->user) == m + (1 << 21));
	/* Past the bound, the count goes back to 0 (durably). */
	assert_int_equal(
	    embedded_meta_set(embedded_user_of(f->user), "lazy", 1 << 20, &err),
	    0);
	assert_int_equal(store_msg_set_flags(f->user, "INBOX", uids[1], 1,
	                                     STORE_FLAG_FLAGGED, &err),
	                 0);
	assert_int_equal(meta_of(f->user, "lazy"), 0);
}

/* SELECT's snapshot: the counters match the list it returns. */
static void
test_mailbox_snapshot(void **state)
{
	struct store_fixture *f = *state;
	struct store_mailbox_status st, full;
	struct store_msg *msgs = NULL;
	size_t n = 0;
	uint32_t uid;
	struct err err;

	assert_int_equal(store_deliver(f->user, "INBOX", "abc", 3,
	                               STORE_FLAG_SEEN, &uid, &err),
	                 0);
	assert_int_equal(
	    store_deliver(f->user, "INBOX", "de", 2, 0, &uid, &err), 0);
	assert_int_equal(
	    store_mailbox_snapshot(f->user, "inbox", &st, &msgs, &n, &err), 0);
	assert_int_equal(store_mailbox_status(f->user, "INBOX", &full, &err),
	                 0);
	assert_int_equal(n, 2);
	assert_int_equal(msgs[1].uid, uid);
	assert_int_equal(st.messages, full.messages);
	assert_int_equal(st.unseen, 1);
	assert_int_equal(st.size, full.size);
	assert_int_equal(st.uidnext, full.uidnext);
	assert_int_equal(st.uidvalidity, full.uidvalidity);
	assert_true(st.highestmodseq == full.highestmodseq);
	assert_string_equal(st.mailboxid, full.mailboxid);
	free(msgs);
	assert_int_equal(
	    store_mailbox_snapshot(f->user, "Nope", &st, &msgs, &n, &err), -1);
	assert_int_equal(err.kind, ERR_NOTFOUND);
	assert_null(msgs);
}

static void
test_flags_modseq(void **state)
{
	struct store_fixture *f = *state;
	struct store_mailbox_status st;
	struct store_msg m0, m1, m2, m3;
	struct err err;
	uint32_t uid;

	assert_int_equal(store_deliver(f->user, "INBOX", "x", 1, 0, &uid, &err),
	                 0);
	m0 = msg_of(f->user, uid);
	assert_int_equal(m0.flags, 0);
	assert_int_equal(
	    store_msg_set_flags(f->user, "INBOX", uid, 1,
	                        STORE_FLAG_SEEN | STORE_FLAG_FLAGGED, &err),
	    0);
	m1 = msg_of(f->user, uid);
	assert_int_equal(m1.flags, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	assert_true(m1.modseq > m0.modseq);
	/* RFC 7162 3.1: no change, no new mod-sequence. */
	assert_int_equal(store_msg_set_flags(f->user, "INBOX", uid, 1,
	                                     STORE_FLAG_SEEN, &err),
	                 0);
	m2 = msg_of(f->user, uid);
	assert_int_equal(m2.modseq, m1.modseq);
	assert_int_equal(store_msg_set_flags(f->user, "INBOX", uid, -1,
	                                     STORE_FLAG_SEEN, &err),
	                 0);
	m2 = msg_of(f->user, uid);
	assert_int_equal(m2.flags, STORE_FLAG_FLAGGED);
	assert_true(m2.modseq > m1.modseq);
	assert_int_equal(store_msg_set_flags(f->user, "INBOX", uid, 0,
	                                     STORE_FLAG_DRAFT, &err),
	                 0);
	m3 = msg_of(f->user, uid);
	assert_int_equal(m3.flags, STORE_FLAG_DRAFT);
	assert_true(m3.modseq > m2.modseq);
	assert_int_equal(store_mailbox_status(f->user, "INBOX", &st, &err), 0);
	assert_int_equal(st.highestmodseq, m3.modseq);
	assert_int_equal(
	    store_msg_set_flags(f->user, "INBOX", 77, 1, STORE_FLAG_SEEN, &err),
	    -1);
	assert_int_equal(err.kind, ERR_NOTFOUND);
}

static void
test_default_mailboxes(void **state)
{
	struct store_fixture *f = *state;
	static const char *const want[][2] = {
	    {"Archive", "\\Archive"}, {"Drafts", "\\Drafts"},
	    {"INBOX", NULL},          {"Junk", "\\Junk"},
	    {"Sent", "\\Sent"},       {"Trash", "\\Trash"},
	};
	struct store_mailbox_info *list;
	struct err err;
	size_t n;

	assert_int_equal(store_mailbox_list(f->user, &list, &n, &err), 0);
	assert_int_equal(n, 6);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(list[i].name, want[i][0]);
		if (want[i][1] == NULL)
			assert_null(list[i].special_use);
		else
			assert_string_equal(list[i].special_use, want[i][1]);
	}
	store_mailbox_list_free(&list, n);
	assert_null(list);
}

static void
test_mailbox_names(void **state)
{
	static const char *const good[] = {
	    "INBOX",
	    "a",
	    "Work/2024",
	    "Notes..old",
	    "Gr\xc3\xbc\xc3\x9f"
	    "e",
	    "\xe2\x82\xac",
	    "\xf0\x9f\x93\xac",
	    "a.b/c d",
	};
	static const char *const bad[] = {
	    "",
	    "/a",
	    "a/",
	    "a//b",
	    "..",
	    "a/../b",
	    "./x",
	    "a\tb",
	    "a\x7f",
	    "\xc2\x85",
	    "\xc3",
	    "\xc0\xaf",
	    "\xed\xa0\x80",
	    "\xf4\x90\x80\x80",
	    "\xff",
	};
	char longname[STORE_MAILBOX_NAME_MAX + 2];
	struct err err;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(store_mailbox_name_check(good[i], &err), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.kind = ERR_OK;
		assert_int_equal(store_mailbox_name_check(bad[i], &err), -1);
		assert_int_equal(err.kind, ERR_SYNTAX);
	}
	memset(longname, 'a', sizeof(longname));
	longname[STORE_MAILBOX_NAME_MAX] = '\0';
	assert_int_equal(store_mailbox_name_check(longname, &err), 0);
	longname[STORE_MAILBOX_NAME_MAX] = 'a';
	longname[STORE_MAILBOX_NAME_MAX + 1] = '\0';
	assert_int_equal(store_mailbox_name_check(longname, &err), -1);
	assert_string_equal(store_mailbox_name_canon("iNbOx"), "INBOX");
	assert_string_equal(store_mailbox_name_canon("Inboxes"), "Inboxes");
}

static void
write_file(const char *dir, const char *name, time_t mtime)
{
	char path[512];
	struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "half", 4), 4);
	close(fd);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void
test_tmp_cleanup(void **state)
{
	struct store_fixture *f = *state;
	char dir[512];
	struct err err;
	time_t now = time(NULL);

	snprintf(dir, sizeof(dir), "%s", blob_dir(f->user));
	write_file(dir, "tmp.crashed", now - 3600);
	write_file(dir, "tmp.in-progress", now);
	/* Opening cleans up only when the orphan scan is due (hourly). */
	assert_int_equal(
	    embedded_meta_set(embedded_user_of(f->user), "blob_gc", 0, &err),
	    0);
	store_user_close(&f->user);
	assert_int_equal(
	    store_user_open(f->store, "alice@example.test", &f->user, &err), 0);
	assert_string_equal(blob_dir(f->user), dir);
	assert_int_equal(count_files(dir, "tmp."), 1);
	assert_int_equal(count_files(dir, "tmp.in-progress"), 1);
}

static void
test_user_paths(void **state)
{
	struct store_fixture *f = *state;
	struct store_user *u;
	struct buf p = BUF_INIT;
	struct err err;
	const char *name;
	char path[512];
	struct stat st;

	assert_int_equal(store_user_path("O'Brien/x@Ex.test", &p, &err), -1);
	assert_int_equal(err.kind, ERR_SYNTAX);
	assert_int_equal(store_user_path("..", &p, &err), -1);
	assert_int_equal(store_user_path("", &p, &err), -1);
	assert_int_equal(store_user_path("a\nb@x", &p, &err), -1);
	buf_reset(&p);
	assert_int_equal(store_user_path("O'Brien%\xc3\xa9@Ex.test", &p, &err),
	                 0);
	assert_int_equal(p.len, 3 + strlen("o%27brien%25%c3%a9@ex.test"));
	assert_int_equal(p.data[2], '/');
	name = p.data + 3;
	assert_string_equal(name, "o%27brien%25%c3%a9@ex.test");
	assert_int_equal(
	    store_user_open(f->store, "O'Brien%\xc3\xa9@Ex.test", &u, &err), 0);
	snprintf(path, sizeof(path), "%s/users/%s/index.db", f->dir, p.data);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
	store_user_close(&u);
	assert_null(u);
	/* The same user in another case is the same directory. */
	buf_reset(&p);
	assert_int_equal(store_user_path("ALICE@example.test", &p, &err), 0);
	snprintf(path, sizeof(path), "%s/users/%s/blobs", f->dir, p.data);
	assert_string_equal(blob_dir(f->user), path);
	buf_free(&p);
}

static void
test_persists_across_open(void **state)
{
	struct store_fixture *f = *state;
	struct store_mailbox_status st0, st;
	struct buf out = BUF_INIT;
	struct err err;
	uint32_t uid;

	assert_int_equal(store_mailbox_status(f->user, "Junk", &st0, &err), 0);
	assert_int_equal(store_deliver(f->user, "Junk", "spam", 4,
	                               STORE_FLAG_SEEN, &uid, &err),
	                 0);
	store_user_close(&f->user);
	store_close(&f->store);
	assert_int_equal(store_open(f->dir, &f->store, &err), 0);
	assert_int_equal(
	    store_user_open(f->store, "alice@example.test", &f->user, &err), 0);
	assert_int_equal(store_mailbox_status(f->user, "Junk", &st, &err), 0);
	assert_int_equal(st.uidvalidity, st0.uidvalidity);
	assert_int_equal(st.messages, 1);
	assert_int_equal(st.unseen, 0);
	assert_int_equal(store_msg_read(f->user, "Junk", uid, &out, &err), 0);
	assert_string_equal(buf_cstr(&out), "spam");
	buf_free(&out);
}

static void
test_expunge_many(void **state)
{
	struct store_fixture *f = *state;
	struct store_mailbox_status st0, st;
	uint32_t uids[5], gone[3];
	struct err err;

	for (int i = 0; i < 5; i++)
		assert_int_equal(store_deliver(f->user, "Archive", "m", 1, 0,
		                               &uids[i], &err),
		                 0);
	assert_int_equal(store_mailbox_status(f->user, "Archive", &st0, &err),
	                 0);
	gone[0] = uids[1], gone[1] = uids[3], gone[2] = 4242;
	assert_int_equal(store_expunge(f->user, "Archive", gone, 3, &err), 0);
	assert_int_equal(store_mailbox_status(f->user, "Archive", &st, &err),
	                 0);
	assert_int_equal(st.messages, 3);
	assert_int_equal(st.highestmodseq, st0.highestmodseq + 1);
	assert_int_equal(store_fixture_bodies(f->user), 3);
	assert_int_equal(store_expunge(f->user, "Nope", gone, 1, &err), -1);
	assert_int_equal(err.kind, ERR_NOTFOUND);
}

/*
 * A stream reads the exact bytes in pieces at any offset, fewer only at the
 * end, and keeps reading after the message is expunged (RETR or FETCH in
 * progress while another session expunges).
 */
static void
test_stream_read(void **state)
{
	struct store_fixture *f = *state;
	size_t len = 300000, got = 0;
	char *msg = malloc(len), *back = malloc(len + 10);
	struct store_stream *st = NULL;
	struct err err;
	uint32_t uid;
	ssize_t n;

	assert_non_null(msg);
	assert_non_null(back);
	for (size_t i = 0; i < len; i++)
		msg[i] = (char)(i * 13 + i / 509);
	assert_int_equal(
	    store_deliver(f->user, "INBOX", msg, len, 0, &uid, &err), 0);
	assert_int_equal(store_msg_open(f->user, "INBOX", uid, &st, &err), 0);
	assert_int_equal(store_stream_size(st), len);
	assert_int_equal(store_expunge(f->user, "INBOX", &uid, 1, &err), 0);
	assert_int_equal(store_fixture_bodies(f->user), 0);
	while ((n = store_stream_read(st, got, back + got, 7001, &err)) > 0)
		got += (size_t)n;
	assert_int_equal(n, 0);
	assert_int_equal(got, len);
	assert_memory_equal(back, msg, len);
	/* Past the end, and a read that straddles it. */
	assert_int_equal(store_stream_read(st, len + 5, back, 10, &err), 0);
	assert_int_equal(store_stream_read(st, len - 3, back, 10, &err), 3);
	assert_memory_equal(back, msg + len - 3, 3);
	store_stream_close(&st);
	assert_null(st);
	store_stream_close(&st); /* twice is harmless */

	assert_int_equal(store_msg_open(f->user, "INBOX", uid, &st, &err), -1);
	assert_int_equal(err.kind, ERR_NOTFOUND);
	assert_null(st);
	assert_int_equal(store_msg_open(f->user, "Nope", 1, &st, &err), -1);
	assert_int_equal(err.kind, ERR_NOTFOUND);
	free(msg);
	free(back);
}

/* Size of DATA/store.reserve, 0 if there is none. */
static off_t
reserve_size(const struct store_fixture *f)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "%s/store.reserve", f->dir);
	return stat(path, &st) == 0 ? st.st_size : 0;
}

/*
 * A released disk reserve is made again by the next delivery, expunge or
 * mailbox delete once STORE_RESERVE_RETRY has passed since the release
 * (reserve_tried moved back stands for the wait), and not before.
 */
static void
test_reserve_made_again(void **state)
{
	struct store_fixture *f = *state;
	static const char msg[] = "Subject: r\r\n\r\nroom\r\n";
	const off_t size = 1 << 20;
	uint32_t uid;
	struct err err;

	store_set_disk_reserve(f->store, (size_t)size);
	assert_int_equal(reserve_size(f), size);
	store_reserve_release(f->store);
	assert_int_equal(reserve_size(f), 0);
	assert_int_equal(store_deliver(f->user, "INBOX", msg, sizeof(msg) - 1,
	                               0, &uid, &err),
	                 0);
	assert_int_equal(reserve_size(f), 0); /* too soon */
	f->store->reserve_tried = 0;
	assert_int_equal(store_deliver(f->user, "INBOX", msg, sizeof(msg) - 1,
	                               0, &uid, &err),
	                 0);
	assert_int_equal(reserve_size(f), size);

	store_reserve_release(f->store);
	f->store->reserve_tried = 0;
	assert_int_equal(store_expunge(f->user, "INBOX", &uid, 1, &err), 0);
	assert_int_equal(reserve_size(f), size);

	assert_int_equal(store_mailbox_create(f->user, "Old", NULL, &err), 0);
	store_reserve_release(f->store);
	f->store->reserve_tried = 0;
	assert_int_equal(store_mailbox_delete(f->user, "Old", &err), 0);
	assert_int_equal(reserve_size(f), size);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_stream_read, setup,
	                                    store_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_deliver_read_exact, setup,
	                                    store_fixture_teardown),
	    cmocka_unit_test(test_blob_ids_ordered),
	    cmocka_unit_test_setup_teardown(test_reserve_made_again, setup,
	                                    store_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_kept_in_index, setup,
	                                    store_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_deliver_unknown_mailbox, setup,
	                                    store_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_uids_never_reused, setup,
	                                    store_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_status_counts, setup,
	                                    store_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_mailbox_marks, setup,
	                                    store_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_first_open, setup,
	                                    store_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_mailbox_snapshot, setup,
	                                    store_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_lazy_flags, setup,
	                                    store_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_flags_modseq, setup,
	                                    store_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_default_mailboxes, setup,
	                                    store_fixture_teardown),
	    cmocka_unit_test(test_mailbox_names),
	    cmocka_unit_test_setup_teardown(test_tmp_cleanup, setup,
	                                    store_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_user_paths, setup,
	                                    store_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_persists_across_open, setup,
	                                    store_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_expunge_many, setup,
	                                    store_fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
