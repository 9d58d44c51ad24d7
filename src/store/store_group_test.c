/*
 * Unit tests of deliveries from several threads at once: group commit
 * (every acknowledged message committed, UIDs unique and dense, modseqs
 * increasing), the change feed's home-thread rule (worker commits are
 * queued and announced in commit order by store_flush_changes()), a
 * refused delivery inside a group, and what the next start does with the
 * rows of a group whose blobs a crash lost (embedded_durable.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixtures.h"
#include "store/embedded_private.h"
#include "store/store.h"
#include "testdir.h"

#define USER "alice@example.test"
#define THREADS 8
#define PER_THREAD 40

struct fixture {
	char dir[64];
	struct store *store;
};

/* What a watcher saw: NEW changes in order. */
struct seen {
	uint32_t uids[THREADS * PER_THREAD + 8];
	uint64_t modseqs[THREADS * PER_THREAD + 8];
	size_t n, other;
};

struct worker {
	struct store *store;
	struct store_user *u; /* NULL: the thread opens its own */
	int id, count;
	uint32_t uids[PER_THREAD];
	int failed;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct err err;

	assert_non_null(f);
	assert_int_equal(testdir_make("store-group", f->dir, sizeof(f->dir)),
	                 0);
	assert_int_equal(store_open(f->dir, &f->store, &err), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_close(&f->store);
	testdir_remove(f->dir);
	free(f);
	return 0;
}

static void
record(void *arg, const struct store_change *ch)
{
	struct seen *s = arg;

	if (ch->kind != STORE_CHANGE_NEW ||
	    s->n == sizeof(s->uids) / sizeof(s->uids[0])) {
		s->other++;
		return;
	}
	s->uids[s->n] = ch->uid;
	s->modseqs[s->n++] = ch->modseq;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct store_user *u = w->u;
	char msg[128];
	struct err err;

	if (u == NULL && store_user_open(w->store, USER, &u, &err) < 0) {
		w->failed = -1;
		return NULL;
	}
	for (int i = 0; i < w->count; i++) {
		int n = snprintf(msg, sizeof(msg),
		                 "Subject: t%d m%d\r\n\r\nbody %d.%d\r\n",
		                 w->id, i, w->id, i);

		if (store_deliver(u, "INBOX", msg, (size_t)n, 0, &w->uids[i],
		                  &err) < 0)
			w->failed++;
	}
	if (w->u == NULL)
		store_user_close(&u);
	return NULL;
}

static void
test_concurrent_deliveries(void **state)
{
	struct fixture *f = *state;
	struct worker w[THREADS];
	pthread_t th[THREADS];
	struct store_user *watcher;
	struct store_mailbox_status st;
	struct seen seen = {.n = 0};
	bool used[THREADS * PER_THREAD + 1] = {false};
	struct err err;

	assert_int_equal(store_user_open(f->store, USER, &watcher, &err), 0);
	store_user_watch(watcher, record, &seen);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){
		    .store = f->store, .id = i, .count = PER_THREAD};
		assert_int_equal(
		    pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	/* Worker commits are only queued: nothing announced yet. */
	assert_int_equal(seen.n, 0);
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(w[i].failed, 0);
		for (int k = 0; k < PER_THREAD; k++) {
			uint32_t uid = w[i].uids[k];

			assert_true(uid >= 1 && uid <= THREADS * PER_THREAD);
			assert_false(used[uid]); /* unique */
			used[uid] = true;
			/* One thread's deliveries are in its order. */
			if (k > 0)
				assert_true(uid > w[i].uids[k - 1]);
		}
	}
	store_flush_changes(f->store);
	assert_int_equal(seen.n, THREADS * PER_THREAD);
	assert_int_equal(seen.other, 0);
	for (size_t i = 0; i < seen.n; i++) {
		/* Commit order: UIDs 1..n, each with a higher mod-sequence. */
		assert_int_equal(seen.uids[i], i + 1);
		if (i > 0)
			assert_true(seen.modseqs[i] > seen.modseqs[i - 1]);
	}
	assert_int_equal(store_mailbox_status(watcher, "INBOX", &st, &err), 0);
	assert_int_equal(st.messages, THREADS * PER_THREAD);
	assert_int_equal(st.uidnext, THREADS * PER_THREAD + 1);
	assert_int_equal(store_fixture_bodies(watcher), THREADS * PER_THREAD);
	store_user_close(&watcher);
}

/* A watching handle used by a worker hears its own change (store.h). */
static void
test_worker_echo(void **state)
{
	struct fixture *f = *state;
	struct store_user *u, *other;
	struct seen mine = {.n = 0}, theirs = {.n = 0};
	struct worker w;
	pthread_t th;
	struct err err;

	assert_int_equal(store_user_open(f->store, USER, &u, &err), 0);
	assert_int_equal(store_user_open(f->store, USER, &other, &err), 0);
	store_user_watch(u, record, &mine);
	store_user_watch(other, record, &theirs);
	w = (struct worker){.store = f->store, .u = u, .count = 2};
	assert_int_equal(pthread_create(&th, NULL, worker_main, &w), 0);
	pthread_join(th, NULL);
	assert_int_equal(w.failed, 0);
	/* A commit on the home thread announces the queue before its own. */
	assert_int_equal(
	    store_msg_set_flags(other, "INBOX", 1, 1, STORE_FLAG_SEEN, &err),
	    0);
	assert_int_equal(mine.n, 2);
	assert_int_equal(mine.uids[0], 1);
	assert_int_equal(mine.uids[1], 2);
	assert_int_equal(mine.other, 1); /* the flag change */
	assert_int_equal(theirs.n, 2);
	assert_int_equal(theirs.other, 0); /* never its own */
	store_user_close(&other);
	store_user_close(&u);
}

/* A refused delivery leaves no blob and does not hurt the next ones. */
static void
test_worker_quota(void **state)
{
	struct fixture *f = *state;
	struct store_user *u;
	struct store_quota q;
	struct worker w;
	pthread_t th;
	struct err err;

	assert_int_equal(store_user_open(f->store, USER, &u, &err), 0);
	store_user_set_quota(u, 0, 3);
	w = (struct worker){.store = f->store, .u = u, .count = 5};
	assert_int_equal(pthread_create(&th, NULL, worker_main, &w), 0);
	pthread_join(th, NULL);
	assert_int_equal(w.failed, 2);
	assert_int_equal(store_quota_get(u, &q, &err), 0);
	assert_int_equal(q.messages_used, 3);
	assert_int_equal(store_fixture_bodies(u), 3);
	store_flush_changes(f->store);
	store_user_close(&u);
}

/* An integer from sql on u's connection. */
static int64_t
sql_int(struct store_user *u, const char *sql)
{
	int64_t v = -1;
	struct err err;

	assert_int_equal(
	    embedded_sql_int(embedded_user_of(u), sql, NULL, &v, &err), 0);
	return v;
}

/* The path of message uid's blob in INBOX. */
static void
blob_path_of(struct store_user *u, uint32_t uid, char *out, size_t size)
{
	struct embedded_user *e = embedded_user_of(u);
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_prepare_v2(e->db,
	                                    "SELECT blob FROM messages WHERE "
	                                    "uid = ?1",
	                                    -1, &st, NULL),
	                 SQLITE_OK);
	sqlite3_bind_int64(st, 1, uid);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(out, size, "%s/%s", e->blob_dir,
	         (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

/*
 * A power cut during a group's syncfs() can leave rows whose blobs never
 * reached the disk: short, other bytes, or no file.  The next process's
 * first open expunges exactly those (above meta.blobs_durable), with a
 * new mod-sequence, and moves the watermark; intact ones stay, and so do
 * messages kept in the index (they have no file to check).
 */
static void
test_crash_recovery(void **state)
{
	struct fixture *f = *state;
	struct store_user *u;
	struct store_mailbox_status st;
	struct store_quota q;
	struct worker w = {.store = NULL, .count = 6};
	struct buf data = BUF_INIT;
	char path[4096];
	uint32_t *gone = NULL;
	size_t ngone = 0;
	pthread_t th;
	struct err err;
	FILE *fp;

	w.store = f->store;
	store_set_inline_max(f->store, 0); /* six blob files */
	assert_int_equal(pthread_create(&th, NULL, worker_main, &w), 0);
	pthread_join(th, NULL);
	assert_int_equal(w.failed, 0);
	store_flush_changes(f->store);
	assert_int_equal(store_user_open(f->store, USER, &u, &err), 0);
	/* Each group marks the one before it: the last is above the mark. */
	assert_int_equal(sql_int(u, "SELECT value FROM meta WHERE key = "
	                            "'blobs_durable'"),
	                 5);
	assert_int_equal(sql_int(u, "SELECT count(*) FROM msg_cache WHERE "
	                            "crc IS NULL"),
	                 0);
	/* As if the crash came after message 2's group was made durable. */
	assert_int_equal(sqlite3_exec(embedded_user_of(u)->db,
	                              "UPDATE meta SET value = 2 WHERE key = "
	                              "'blobs_durable'",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	blob_path_of(u, 4, path, sizeof(path));
	assert_int_equal(truncate(path, 5), 0);
	blob_path_of(u, 5, path, sizeof(path));
	assert_non_null(fp = fopen(path, "r+"));
	assert_int_equal(fputs("XXXX", fp) >= 0, 1);
	fclose(fp);
	blob_path_of(u, 6, path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	store_user_close(&u);
	/* The next process: another boot id. */
	store_close(&f->store);
	assert_int_equal(store_open(f->dir, &f->store, &err), 0);
	assert_int_equal(store_user_open(f->store, USER, &u, &err), 0);
	assert_int_equal(store_mailbox_status(u, "INBOX", &st, &err), 0);
	assert_int_equal(st.messages, 3);
	assert_int_equal(st.uidnext, 7); /* UIDs are never given again */
	assert_int_equal(
	    store_expunged_since(u, "INBOX", 0, &gone, &ngone, &err), 0);
	assert_int_equal(ngone, 3);
	assert_int_equal(gone[0], 4);
	assert_int_equal(gone[1], 5);
	assert_int_equal(gone[2], 6);
	free(gone);
	assert_int_equal(store_quota_get(u, &q, &err), 0);
	assert_int_equal(q.messages_used, 3);
	assert_int_equal(store_fixture_bodies(u), 3);
	/* Past every row checked (ids are never given again either). */
	assert_int_equal(sql_int(u, "SELECT value FROM meta WHERE key = "
	                            "'blobs_durable'"),
	                 6);
	assert_int_equal(sql_int(u, "SELECT value FROM meta WHERE key = "
	                            "'boot'"),
	                 (int64_t)f->store->boot);
	/* Message 3 was checked and kept. */
	assert_int_equal(store_msg_read(u, "INBOX", 3, &data, &err), 0);
	assert_non_null(strstr(buf_cstr(&data), "body 0.2"));
	buf_free(&data);
	store_user_close(&u);

	/* Two kept in the index, all rows above the mark: none is lost. */
	store_set_inline_max(f->store, STORE_INLINE_MAX_DEFAULT);
	w.store = f->store;
	w.count = 2;
	assert_int_equal(pthread_create(&th, NULL, worker_main, &w), 0);
	pthread_join(th, NULL);
	assert_int_equal(w.failed, 0);
	store_flush_changes(f->store);
	assert_int_equal(store_user_open(f->store, USER, &u, &err), 0);
	assert_int_equal(sql_int(u, "SELECT count(*) FROM msg_data"), 2);
	assert_int_equal(sqlite3_exec(embedded_user_of(u)->db,
	                              "UPDATE meta SET value = 0 WHERE key = "
	                              "'blobs_durable'",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	store_user_close(&u);
	store_close(&f->store);
	assert_int_equal(store_open(f->dir, &f->store, &err), 0);
	assert_int_equal(store_user_open(f->store, USER, &u, &err), 0);
	assert_int_equal(store_mailbox_status(u, "INBOX", &st, &err), 0);
	assert_int_equal(st.messages, 5);
	assert_int_equal(store_fixture_bodies(u), 5);
	assert_int_equal(store_msg_read(u, "INBOX", 8, &data, &err), 0);
	assert_non_null(strstr(buf_cstr(&data), "body 0.1"));
	buf_free(&data);
	store_user_close(&u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_concurrent_deliveries, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_worker_echo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_worker_quota, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crash_recovery, setup,
	                                    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
