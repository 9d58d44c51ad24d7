/*
 * Unit test of a full disk (issue 3, "Bad input": disk full during an
 * append gives an error, nothing is left half-written, the store stays
 * consistent).  The data directory is a real tmpfs of STORE_DF_SIZE bytes,
 * so the errors are the kernel's own ENOSPC (from blob files and from
 * SQLite's WAL alike), not a simulation.  Mounting needs root (as in CI);
 * without it the test is skipped and says so.
 *
 * Deliveries come both from the home thread (one fsync'd blob and its own
 * transaction) and from worker threads (group commit: blobs written in
 * place, shared syncfs()), until the disk is full.  Then: every delivery
 * that returned 0 reads back byte for byte, the mailbox counts exactly
 * those, no blob file exists that no row names, expunges succeed on the
 * full disk (the disk reserve, reserve.c, is released for them; without
 * it SQLite's WAL cannot grow to delete), and once there is space again
 * deliveries succeed and the reserve can be made again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/embedded_private.h"
#include "store/store.h"
#include "fixtures.h"
#include "testdir.h"
#include "util/buf.h"

#define USER "alice@example.test"
#define STORE_DF_SIZE "3m"
#define STORE_DF_MORE "4m"
#define STORE_DF_RESERVE (256 * 1024)
#define MSG_SIZE (48 * 1024)
#define MAX_MSGS 400
#define THREADS 4

struct fixture {
	struct store_fixture base; /* first: store_fixture_teardown() */
	bool mounted;
	/* What was acknowledged: uid -> message seed (0: none). */
	int seed_of[MAX_MSGS + 64];
	pthread_mutex_t lock;
	int full; /* deliveries refused */
};

/* A message whose bytes depend on seed, MSG_SIZE long. */
static void
make_msg(char *out, int seed)
{
	int n = snprintf(out, MSG_SIZE, "Subject: m%d\r\n\r\n", seed);

	for (int i = n; i < MSG_SIZE - 2; i++)
		out[i] = (char)('a' + (i * 7 + seed) % 26);
	out[MSG_SIZE - 2] = '\r';
	out[MSG_SIZE - 1] = '\n';
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	pthread_mutex_init(&f->lock, NULL);
	*state = f;
	assert_int_equal(
	    testdir_make("store-df", f->base.dir, sizeof(f->base.dir)), 0);
	if (geteuid() != 0 || mount("tmpfs", f->base.dir, "tmpfs", 0,
	                            "size=" STORE_DF_SIZE) < 0) {
		fprintf(stderr,
		        "store_diskfull: cannot mount a tmpfs (%s): "
		        "skipped, run as root\n",
		        geteuid() != 0 ? "not root" : strerror(errno));
		return 0;
	}
	f->mounted = true;
	store_fixture_open(&f->base, USER);
	store_set_disk_reserve(f->base.store, STORE_DF_RESERVE);
	return 0;
}

/* Bytes allocated to DATA/store.reserve, 0 if there is none. */
static uint64_t
reserve_bytes(struct fixture *f)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "%s/store.reserve", f->base.dir);
	return stat(path, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	/* Lazily: open files stay usable until the store closes them. */
	if (f->mounted)
		umount2(f->base.dir, MNT_DETACH);
	pthread_mutex_destroy(&f->lock);
	return store_fixture_teardown(state);
}

/* Delivers seed; records it if acknowledged.  Returns 0 or -1. */
static int
deliver(struct fixture *f, struct store_user *u, int seed, char *buf)
{
	uint32_t uid = 0;
	struct err err;

	make_msg(buf, seed);
	if (store_deliver(u, "INBOX", buf, MSG_SIZE, 0, &uid, &err) < 0) {
		/* A full disk is temporary: the sender should retry. */
		assert_int_equal(err.kind, ERR_TEMP);
		pthread_mutex_lock(&f->lock);
		f->full++;
		pthread_mutex_unlock(&f->lock);
		return -1;
	}
	assert_true(uid > 0 && uid < MAX_MSGS + 64);
	pthread_mutex_lock(&f->lock);
	assert_int_equal(f->seed_of[uid], 0);
	f->seed_of[uid] = seed;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

struct worker {
	struct fixture *f;
	int id;
};

/* A worker thread: its own handle, so deliveries take the group path. */
static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct store_user *u = NULL;
	char *buf = malloc(MSG_SIZE);
	struct err err;
	int refused = 0;

	if (buf == NULL ||
	    store_user_open(w->f->base.store, USER, &u, &err) < 0) {
		free(buf);
		return NULL;
	}
	for (int i = 0; i < MAX_MSGS / THREADS && refused < 3; i++)
		if (deliver(w->f, u, 1000 * (w->id + 1) + i, buf) < 0)
			refused++;
	store_user_close(&u);
	free(buf);
	return NULL;
}

/* Every acknowledged message is whole; nothing else is stored. */
static size_t
check_consistent(struct fixture *f)
{
	struct store_mailbox_status st;
	struct buf got = BUF_INIT;
	char *want = malloc(MSG_SIZE);
	size_t acked = 0;
	struct err err;

	assert_non_null(want);
	for (uint32_t uid = 1; uid < MAX_MSGS + 64; uid++) {
		if (f->seed_of[uid] == 0)
			continue;
		acked++;
		buf_reset(&got);
		assert_int_equal(
		    store_msg_read(f->base.user, "INBOX", uid, &got, &err), 0);
		make_msg(want, f->seed_of[uid]);
		assert_int_equal(got.len, MSG_SIZE);
		assert_memory_equal(got.data, want, MSG_SIZE);
	}
	assert_int_equal(store_mailbox_status(f->base.user, "INBOX", &st, &err),
	                 0);
	assert_int_equal(st.messages, acked);
	/* No half-written blob, no blob of a refused delivery. */
	assert_int_equal(store_fixture_bodies(f->base.user), acked);
	buf_free(&got);
	free(want);
	return acked;
}

static void
test_disk_full(void **state)
{
	struct fixture *f = *state;
	struct worker w[THREADS];
	pthread_t th[THREADS];
	char *buf = malloc(MSG_SIZE);
	uint32_t gone[8];
	size_t acked, n_gone = 0;
	struct err err;

	if (!f->mounted) {
		free(buf);
		skip();
	}
	assert_non_null(buf);
	assert_true(reserve_bytes(f) >= STORE_DF_RESERVE);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.f = f, .id = i};
		assert_int_equal(
		    pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	/* The home thread too, until refused. */
	for (int i = 1; i <= MAX_MSGS && deliver(f, f->base.user, i, buf) == 0;
	     i++)
		;
	store_flush_changes(f->base.store);
	assert_true(f->full > 0);
	acked = check_consistent(f);
	assert_true(acked > 0);
	/* Still full: the deletion gets the reserve's room. */
	for (uint32_t uid = 1; uid < MAX_MSGS + 64 && n_gone < 8; uid++)
		if (f->seed_of[uid] != 0) {
			gone[n_gone++] = uid;
			f->seed_of[uid] = 0;
		}
	if (store_expunge(f->base.user, "INBOX", gone, n_gone, &err) < 0)
		fail_msg("expunge on the full disk: %s", err.msg);
	assert_int_equal(reserve_bytes(f), 0);
	check_consistent(f);
	/* Space again, as when the administrator frees some. */
	assert_int_equal(mount("tmpfs", f->base.dir, "tmpfs", MS_REMOUNT,
	                       "size=" STORE_DF_MORE),
	                 0);
	assert_int_equal(deliver(f, f->base.user, 99999, buf), 0);
	check_consistent(f);
	store_set_disk_reserve(f->base.store, STORE_DF_RESERVE);
	assert_true(reserve_bytes(f) >= STORE_DF_RESERVE);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
