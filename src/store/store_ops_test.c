/*
 * Unit tests of the store's mailbox operations, append, copy/move, quota,
 * the change feed and orphan-blob collection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "store/embedded_private.h"
#include "store/store.h"
#include "fixtures.h"
#include "testdir.h"

#define USER "alice@example.test"
#define MSG "Subject: hi\r\n\r\nbody\r\n"

static int
setup(void **state)
{
	return store_fixture_setup(state, "store-ops", USER);
}

/* Index of name in the mailbox list, or -1. */
static int
find_box(struct store_user *u, const char *name, char *id_out)
{
	struct store_mailbox_info *list;
	size_t n;
	struct err err;
	int found = -1;

	assert_int_equal(store_mailbox_list(u, &list, &n, &err), 0);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(list[i].name, name) == 0) {
			found = list[i].subscribed ? 1 : 0;
			if (id_out != NULL)
				snprintf(id_out, 64, "%s", list[i].id);
		}
	}
	store_mailbox_list_free(&list, n);
	return found;
}

static uint32_t
append(struct store_user *u, const char *box, const char *data)
{
	struct store_append m = {data, strlen(data), 0, 0};
	uint32_t uid = 0;
	struct err err;

	assert_int_equal(store_append(u, box, &m, NULL, &uid, &err), 0);
	return uid;
}

static void
test_create_delete(void **state)
{
	struct store_fixture *f = *state;
	struct store_mailbox_status st1, st2;
	struct err err;

	assert_int_equal(store_mailbox_create(f->user, "a/b/c", NULL, &err), 0);
	assert_int_equal(find_box(f->user, "a", NULL), 1);
	assert_int_equal(find_box(f->user, "a/b", NULL), 1);
	assert_int_equal(store_mailbox_create(f->user, "a/b", NULL, &err), -1);
	assert_int_equal(err.kind, ERR_EXISTS);
	assert_int_equal(store_mailbox_create(f->user, "x", "\\Bogus", &err),
	                 -1);
	assert_int_equal(err.kind, ERR_SYNTAX);
	assert_int_equal(store_mailbox_create(f->user, "x", "\\archive", &err),
	                 0);
	assert_int_equal(store_mailbox_create(f->user, "inbox", NULL, &err),
	                 -1);
	assert_int_equal(err.kind, ERR_EXISTS);
	/* With children: refused; INBOX: refused. */
	assert_int_equal(store_mailbox_delete(f->user, "a", &err), -1);
	assert_int_equal(err.kind, ERR_PERM);
	assert_int_equal(store_mailbox_delete(f->user, "INBOX", &err), -1);
	assert_int_equal(err.kind, ERR_PERM);
	assert_int_equal(store_mailbox_status(f->user, "x", &st1, &err), 0);
	append(f->user, "x", MSG);
	assert_int_equal(store_fixture_bodies(f->user), 1);
	assert_int_equal(store_mailbox_delete(f->user, "x", &err), 0);
	assert_int_equal(store_fixture_bodies(f->user), 0);
	assert_int_equal(find_box(f->user, "x", NULL), -1);
	assert_int_equal(store_mailbox_delete(f->user, "x", &err), -1);
	assert_int_equal(err.kind, ERR_NOTFOUND);
	/* Re-created: a UIDVALIDITY it never had. */
	assert_int_equal(store_mailbox_create(f->user, "x", NULL, &err), 0);
	assert_int_equal(store_mailbox_status(f->user, "x", &st2, &err), 0);
	assert_true(st2.uidvalidity > st1.uidvalidity);
}

static void
test_rename_subscribe(void **state)
{
	struct store_fixture *f = *state;
	char id1[64], id2[64];
	struct store_msg *msgs;
	size_t n;
	struct err err;

	assert_int_equal(store_mailbox_create(f->user, "p/q", NULL, &err), 0);
	append(f->user, "p/q", MSG);
	assert_int_equal(find_box(f->user, "p/q", id1), 1);
	assert_int_equal(store_mailbox_rename(f->user, "p", "r/s", &err), 0);
	assert_int_equal(find_box(f->user, "p", NULL), -1);
	assert_int_equal(find_box(f->user, "r", NULL), 1);
	assert_int_equal(find_box(f->user, "r/s/q", id2), 1);
	assert_string_equal(id1, id2); /* RFC 8474: ids survive renames */
	assert_int_equal(
	    store_mailbox_messages(f->user, "r/s/q", &msgs, &n, &err), 0);
	assert_int_equal(n, 1);
	free(msgs);
	assert_int_equal(store_mailbox_rename(f->user, "r", "r/t", &err), -1);
	assert_int_equal(err.kind, ERR_PERM);
	assert_int_equal(store_mailbox_rename(f->user, "nope", "z", &err), -1);
	assert_int_equal(err.kind, ERR_NOTFOUND);
	assert_int_equal(store_mailbox_rename(f->user, "r", "Sent", &err), -1);
	assert_int_equal(err.kind, ERR_EXISTS);
	/* INBOX: its messages move, INBOX stays and is empty. */
	append(f->user, "INBOX", MSG);
	assert_int_equal(store_mailbox_rename(f->user, "inbox", "Old", &err),
	                 0);
	assert_int_equal(
	    store_mailbox_messages(f->user, "INBOX", &msgs, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(
	    store_mailbox_messages(f->user, "Old", &msgs, &n, &err), 0);
	assert_int_equal(n, 1);
	free(msgs);
	assert_int_equal(store_mailbox_subscribe(f->user, "Old", false, &err),
	                 0);
	assert_int_equal(find_box(f->user, "Old", NULL), 0);
	assert_int_equal(store_mailbox_subscribe(f->user, "no", true, &err),
	                 -1);
	assert_int_equal(err.kind, ERR_NOTFOUND);
}

static void
test_append_copy_move(void **state)
{
	struct store_fixture *f = *state;
	struct store_append m = {MSG, strlen(MSG), STORE_FLAG_SEEN, 1000000};
	uint32_t uidv = 0, uid = 0, uids[3], news[3];
	struct store_mailbox_status st;
	struct store_msg *msgs;
	struct buf b = BUF_INIT;
	size_t n;
	struct err err;

	assert_int_equal(store_append(f->user, "Drafts", &m, &uidv, &uid, &err),
	                 0);
	assert_int_equal(store_mailbox_status(f->user, "Drafts", &st, &err), 0);
	assert_int_equal(uidv, st.uidvalidity);
	assert_int_equal(uid, 1);
	assert_int_equal(
	    store_mailbox_messages(f->user, "Drafts", &msgs, &n, &err), 0);
	assert_int_equal(msgs[0].internaldate, 1000000);
	assert_int_equal(msgs[0].flags, STORE_FLAG_SEEN);
	free(msgs);
	uids[0] = uid;
	uids[1] = 77; /* missing: new UID 0 */
	assert_int_equal(
	    store_copy(f->user, "Drafts", uids, 2, "Trash", &uidv, news, &err),
	    0);
	assert_int_equal(news[0], 1);
	assert_int_equal(news[1], 0);
	assert_int_equal(store_fixture_bodies(f->user),
	                 1); /* shared, not copied */
	assert_int_equal(store_move(f->user, "Trash", news, 1, "Junk", &uidv,
	                            news + 2, &err),
	                 0);
	assert_int_equal(news[2], 1);
	assert_int_equal(store_mailbox_status(f->user, "Trash", &st, &err), 0);
	assert_int_equal(st.messages, 0);
	/* Expunging one of two references keeps the file. */
	assert_int_equal(store_expunge(f->user, "Drafts", &uid, 1, &err), 0);
	assert_int_equal(store_fixture_bodies(f->user), 1);
	assert_int_equal(store_msg_read(f->user, "Junk", 1, &b, &err), 0);
	assert_memory_equal(b.data, MSG, strlen(MSG));
	buf_free(&b);
	uid = 1;
	assert_int_equal(store_expunge(f->user, "Junk", &uid, 1, &err), 0);
	assert_int_equal(store_fixture_bodies(f->user), 0);
	assert_int_equal(
	    store_copy(f->user, "Junk", &uid, 1, "Nope", NULL, NULL, &err), -1);
	assert_int_equal(err.kind, ERR_NOTFOUND);
}

static void
test_quota(void **state)
{
	struct store_fixture *f = *state;
	struct store_quota q;
	uint32_t uid, news[1];
	struct err err;

	uid = append(f->user, "INBOX", MSG);
	store_user_set_quota(f->user, 2 * strlen(MSG), 0);
	append(f->user, "INBOX", MSG);
	assert_int_equal(store_quota_get(f->user, &q, &err), 0);
	assert_int_equal(q.bytes_used, 2 * strlen(MSG));
	assert_int_equal(q.messages_used, 2);
	assert_int_equal(q.bytes_limit, 2 * strlen(MSG));
	assert_int_equal(store_deliver(f->user, "INBOX", "x", 1, 0, &uid, &err),
	                 -1);
	assert_int_equal(err.kind, ERR_QUOTA);
	uid = 1;
	assert_int_equal(
	    store_copy(f->user, "INBOX", &uid, 1, "Sent", NULL, news, &err),
	    -1);
	assert_int_equal(err.kind, ERR_QUOTA);
	/* A move does not grow usage. */
	assert_int_equal(
	    store_move(f->user, "INBOX", &uid, 1, "Sent", NULL, news, &err), 0);
	assert_int_equal(store_fixture_bodies(f->user),
	                 2); /* refused append left nothing */
	store_user_set_quota(f->user, 0, 2);
	assert_int_equal(store_deliver(f->user, "INBOX", "x", 1, 0, &uid, &err),
	                 -1);
	assert_int_equal(err.kind, ERR_QUOTA);
	assert_int_equal(store_mailbox_delete(f->user, "Sent", &err), 0);
	assert_int_equal(store_quota_get(f->user, &q, &err), 0);
	assert_int_equal(q.messages_used, 1);
	assert_int_equal(q.bytes_used, strlen(MSG));
}

struct seen {
	char log[1024];
};

static void
record(void *arg, const struct store_change *ch)
{
	struct seen *s = arg;
	size_t n = strlen(s->log);

	snprintf(s->log + n, sizeof(s->log) - n, "%d:%s:%s:%u:%u;", ch->kind,
	         ch->mailbox, ch->new_name != NULL ? ch->new_name : "", ch->uid,
	         ch->flags);
}

static void
test_feed(void **state)
{
	struct store_fixture *f = *state;
	struct store_user *b, *c, *other;
	struct seen sb = {""}, sc = {""}, so = {""}, self = {""};
	uint32_t uid;
	struct err err;

	assert_int_equal(store_user_open(f->store, USER, &b, &err), 0);
	assert_int_equal(store_user_open(f->store, USER, &c, &err), 0);
	assert_int_equal(
	    store_user_open(f->store, "bob@example.test", &other, &err), 0);
	store_user_watch(b, record, &sb);
	store_user_watch(c, record, &sc);
	store_user_watch(other, record, &so);
	store_user_watch(f->user, record, &self);
	uid = append(f->user, "INBOX", MSG);
	assert_int_equal(store_msg_set_flags(f->user, "INBOX", uid, 1,
	                                     STORE_FLAG_SEEN, &err),
	                 0);
	/* Unchanged flags: no change to publish. */
	assert_int_equal(store_msg_set_flags(f->user, "INBOX", uid, 1,
	                                     STORE_FLAG_SEEN, &err),
	                 0);
	store_user_close(&c); /* unregisters */
	assert_int_equal(
	    store_move(f->user, "INBOX", &uid, 1, "Trash", NULL, NULL, &err),
	    0);
	assert_int_equal(store_mailbox_create(f->user, "n", NULL, &err), 0);
	assert_int_equal(store_mailbox_rename(f->user, "n", "m", &err), 0);
	assert_int_equal(store_mailbox_delete(f->user, "m", &err), 0);
	assert_string_equal(sb.log, "0:INBOX::1:0;1:INBOX::1:1;0:Trash::1:1;"
	                            "2:INBOX::1:0;3:n::0:0;5:n:m:0:0;"
	                            "4:m::0:0;");
	assert_string_equal(sc.log, "0:INBOX::1:0;1:INBOX::1:1;");
	assert_string_equal(so.log, "");
	assert_string_equal(self.log, ""); /* never one's own changes */
	/* b's own change reaches f->user. */
	assert_int_equal(store_mailbox_create(b, "z", NULL, &err), 0);
	assert_string_equal(self.log, "3:z::0:0;");
	store_user_close(&b);
	store_user_close(&other);
}

/*
 * A resting handle (IMAP IDLE) holds no connection but keeps watching;
 * waking takes the pooled one back (or opens one), and the handle works.
 */
static void
test_rest_wake(void **state)
{
	struct store_fixture *f = *state;
	struct store_user *idler, *extra;
	struct seen seen = {""};
	struct store_mailbox_status st;
	uint32_t uid;
	struct err err;

	assert_int_equal(store_user_open(f->store, USER, &idler, &err), 0);
	store_user_watch(idler, record, &seen);
	store_user_rest(idler);
	assert_null(embedded_user_of(idler)->db);
	store_user_rest(idler); /* again: nothing to do */
	uid = append(f->user, "INBOX", MSG);
	assert_string_equal(seen.log, "0:INBOX::1:0;");
	assert_int_equal(store_user_wake(idler, &err), 0);
	assert_non_null(embedded_user_of(idler)->db);
	assert_int_equal(store_user_wake(idler, &err), 0);
	assert_int_equal(store_mailbox_status(idler, "INBOX", &st, &err), 0);
	assert_int_equal(st.messages, 1);
	assert_int_equal(
	    store_msg_set_flags(idler, "INBOX", uid, 1, STORE_FLAG_SEEN, &err),
	    0);
	/* Rest, then the pooled connection goes to another open: wake opens. */
	store_user_rest(idler);
	assert_int_equal(store_user_open(f->store, USER, &extra, &err), 0);
	assert_int_equal(store_user_wake(idler, &err), 0);
	assert_ptr_not_equal(embedded_user_of(idler)->db,
	                     embedded_user_of(extra)->db);
	store_user_close(&extra);
	assert_int_equal(store_mailbox_status(idler, "INBOX", &st, &err), 0);
	assert_int_equal(st.unseen, 0);
	/* Closing a resting handle is fine too. */
	store_user_rest(idler);
	store_user_close(&idler);
}

static void
test_orphan_gc(void **state)
{
	struct store_fixture *f = *state;
	struct embedded_user *u = embedded_user_of(f->user);
	char path[512];
	struct timeval old[2] = {{1000, 0}, {1000, 0}};
	FILE *fp;

	append(f->user, "INBOX", MSG);
	snprintf(path, sizeof(path), "%s/%s", u->blob_dir,
	         "0123456789abcdef0123456789abcdef");
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	/* Young: kept (a delivery may be about to commit it). */
	assert_int_equal(embedded_blob_gc(u, time(NULL), 15 * 60), 0);
	assert_int_equal(store_fixture_bodies(f->user), 2);
	assert_int_equal(utimes(path, old), 0);
	/* The referenced blob is old too (now far ahead) but kept. */
	assert_int_equal(embedded_blob_gc(u, time(NULL) + 3600, 15 * 60), 1);
	assert_int_equal(store_fixture_bodies(f->user), 1);
	assert_int_equal(access(path, F_OK), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_rest_wake, setup,
	                                    store_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_create_delete, setup,
	                                    store_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_rename_subscribe, setup,
	                                    store_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_append_copy_move, setup,
	                                    store_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_quota, setup,
	                                    store_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_feed, setup,
	                                    store_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_orphan_gc, setup,
	                                    store_fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
