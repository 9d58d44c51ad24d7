#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <crypt.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth/auth.h"
#include "auth/auth_private.h"
#include "fixtures.h"
#include "testdir.h"
#include "util/buf.h"

static int
setup(void **state)
{
	return auth_fixture_setup(state, "auth");
}

static void
test_add_verify(void **state)
{
	struct auth_fixture *f = *state;
	struct err err;
	char path[128];
	struct stat st;

	assert_int_equal(
	    auth_user_add(f->auth, "Alice@Example.TEST", "secret-alice", &err),
	    0);
	assert_int_equal(
	    auth_verify(f->auth, "alice@example.test", "secret-alice", &err),
	    0);
	assert_int_equal(
	    auth_verify(f->auth, "ALICE@example.test", "secret-alice", &err),
	    0);
	assert_int_equal(
	    auth_verify(f->auth, "alice@example.test", "secret-alicE", &err),
	    -1);
	assert_int_equal(err.kind, ERR_PERM);
	assert_int_equal(auth_verify(f->auth, "alice@example.test", "", &err),
	                 -1);
	assert_int_equal(err.kind, ERR_PERM);
	assert_int_equal(
	    auth_verify(f->auth, "bob@example.test", "secret-alice", &err), -1);
	assert_int_equal(err.kind, ERR_PERM);
	assert_int_equal(auth_verify(f->auth, "not an address", "x", &err), -1);
	assert_int_equal(err.kind, ERR_PERM);
	assert_true(auth_domain_is_local(f->auth, "EXAMPLE.test"));
	assert_false(auth_domain_is_local(f->auth, "example.org"));
	snprintf(path, sizeof(path), "%s/accounts.db", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
}

static void
test_add_errors(void **state)
{
	struct auth_fixture *f = *state;
	static const char *const bad[] = {
	    "",      "alice", "@example.test", "alice@",
	    "a@b@c", "a b@c", "a\t@c",         "a\x7f@c",
	};
	char longaddr[300];
	struct err err;

	assert_int_equal(auth_user_add(f->auth, "a@x.test", "pw", &err), 0);
	assert_int_equal(auth_user_add(f->auth, "A@X.test", "pw2", &err), -1);
	assert_int_equal(err.kind, ERR_EXISTS);
	/* The first password is still the one. */
	assert_int_equal(auth_verify(f->auth, "a@x.test", "pw", &err), 0);
	assert_int_equal(auth_user_add(f->auth, "b@x.test", "", &err), -1);
	assert_int_equal(err.kind, ERR_SYNTAX);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.kind = ERR_OK;
		assert_int_equal(auth_user_add(f->auth, bad[i], "pw", &err),
		                 -1);
		assert_int_equal(err.kind, ERR_SYNTAX);
	}
	memset(longaddr, 'a', sizeof(longaddr));
	memcpy(longaddr + 250, "@x.te", 6); /* 255 bytes */
	assert_int_equal(auth_user_add(f->auth, longaddr, "pw", &err), -1);
	assert_int_equal(err.kind, ERR_SYNTAX);
	assert_int_equal(auth_domain_add(f->auth, "X.TEST", &err), -1);
	assert_int_equal(err.kind, ERR_EXISTS);
	assert_int_equal(auth_domain_add(f->auth, "other.test", &err), 0);
	assert_true(auth_domain_is_local(f->auth, "other.test"));
}

static void
collect(const char *address, void *arg)
{
	struct buf *b = arg;

	buf_printf(b, "%s;", address);
}

static void
test_del_passwd_list(void **state)
{
	struct auth_fixture *f = *state;
	struct buf list = BUF_INIT;
	struct err err;

	assert_int_equal(auth_user_add(f->auth, "zed@x.test", "z", &err), 0);
	assert_int_equal(auth_user_add(f->auth, "amy@x.test", "a", &err), 0);
	assert_int_equal(auth_user_list(f->auth, collect, &list, &err), 0);
	assert_string_equal(buf_cstr(&list), "amy@x.test;zed@x.test;");
	assert_int_equal(auth_user_passwd(f->auth, "Amy@x.test", "new", &err),
	                 0);
	assert_int_equal(auth_verify(f->auth, "amy@x.test", "a", &err), -1);
	assert_int_equal(auth_verify(f->auth, "amy@x.test", "new", &err), 0);
	assert_int_equal(auth_user_passwd(f->auth, "nobody@x.test", "n", &err),
	                 -1);
	assert_int_equal(err.kind, ERR_NOTFOUND);
	assert_int_equal(auth_user_del(f->auth, "zed@x.test", &err), 0);
	assert_int_equal(auth_user_del(f->auth, "zed@x.test", &err), -1);
	assert_int_equal(err.kind, ERR_NOTFOUND);
	assert_int_equal(auth_verify(f->auth, "zed@x.test", "z", &err), -1);
	buf_reset(&list);
	assert_int_equal(auth_user_list(f->auth, collect, &list, &err), 0);
	assert_string_equal(buf_cstr(&list), "amy@x.test;");
	buf_free(&list);
}

/*
 * The login cache must never let an old password, a deleted user or an
 * inactive one in: each check follows a login that filled the cache.
 */
static void
test_cached_logins_follow_changes(void **state)
{
	struct auth_fixture *f = *state;
	struct err err;

	assert_int_equal(auth_user_add(f->auth, "cat@x.test", "old", &err), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(
		    auth_verify(f->auth, "cat@x.test", "old", &err), 0);
	assert_int_equal(auth_verify(f->auth, "cat@x.test", "olD", &err), -1);
	assert_int_equal(auth_user_passwd(f->auth, "cat@x.test", "new", &err),
	                 0);
	assert_int_equal(auth_verify(f->auth, "cat@x.test", "old", &err), -1);
	assert_int_equal(err.kind, ERR_PERM);
	assert_int_equal(auth_verify(f->auth, "cat@x.test", "new", &err), 0);
	assert_int_equal(auth_verify(f->auth, "cat@x.test", "new", &err), 0);
	assert_int_equal(
	    auth_user_set(f->auth, "cat@x.test", "active", "no", &err), 0);
	assert_int_equal(auth_verify(f->auth, "cat@x.test", "new", &err), -1);
	assert_int_equal(
	    auth_user_set(f->auth, "cat@x.test", "active", "yes", &err), 0);
	assert_int_equal(auth_verify(f->auth, "cat@x.test", "new", &err), 0);
	assert_int_equal(auth_user_del(f->auth, "cat@x.test", &err), 0);
	assert_int_equal(auth_verify(f->auth, "cat@x.test", "new", &err), -1);
}

/* Writes hash for address straight into accounts.db, as an import would. */
static void
set_hash(const char *dir, const char *address, const char *hash)
{
	char path[128];
	sqlite3 *db;
	sqlite3_stmt *st;

	snprintf(path, sizeof(path), "%s/accounts.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "UPDATE users SET password_hash "
	                                    "= ?2 WHERE address = ?1",
	                                    -1, &st, NULL),
	                 SQLITE_OK);
	sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	assert_int_equal(sqlite3_changes(db), 1);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* Hashes made elsewhere (bcrypt, SHA512-CRYPT) verify too. */
static void
test_foreign_hashes(void **state)
{
	struct auth_fixture *f = *state;
	static const char *const prefixes[] = {"$2b$", "$6$"};
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct err err;

	assert_non_null(cd);
	assert_int_equal(auth_user_add(f->auth, "old@x.test", "tmp", &err), 0);
	for (size_t i = 0; i < 2; i++) {
		assert_non_null(crypt_gensalt_rn(prefixes[i], 0, NULL, 0,
		                                 setting, sizeof(setting)));
		assert_non_null(crypt_rn("legacy", setting, cd, sizeof(*cd)));
		assert_memory_equal(cd->output, prefixes[i],
		                    strlen(prefixes[i]));
		set_hash(f->dir, "old@x.test", cd->output);
		assert_int_equal(
		    auth_verify(f->auth, "old@x.test", "legacy", &err), 0);
		assert_int_equal(
		    auth_verify(f->auth, "old@x.test", "Legacy", &err), -1);
		assert_int_equal(err.kind, ERR_PERM);
	}
	free(cd);
}

static void
test_resolve_rcpt(void **state)
{
	struct auth_fixture *f = *state;
	struct err err;
	char *user;

	assert_int_equal(auth_user_add(f->auth, "bob@ex.test", "pw", &err), 0);
	assert_int_equal(auth_user_add(f->auth, "bob+list@ex.test", "pw", &err),
	                 0);
	assert_int_equal(auth_resolve_rcpt(f->auth, "Bob@EX.test", &user, &err),
	                 0);
	assert_string_equal(user, "bob@ex.test");
	free(user);
	assert_int_equal(
	    auth_resolve_rcpt(f->auth, "bob+shop@ex.test", &user, &err), 0);
	assert_string_equal(user, "bob@ex.test");
	free(user);
	/* An exact user wins over the +detail rule. */
	assert_int_equal(
	    auth_resolve_rcpt(f->auth, "bob+list@ex.test", &user, &err), 0);
	assert_string_equal(user, "bob+list@ex.test");
	free(user);
	assert_int_equal(
	    auth_resolve_rcpt(f->auth, "carol@ex.test", &user, &err), -1);
	assert_int_equal(err.kind, ERR_NOTFOUND);
	assert_null(user);
	assert_int_equal(
	    auth_resolve_rcpt(f->auth, "carol+x@ex.test", &user, &err), -1);
	assert_int_equal(err.kind, ERR_NOTFOUND);
	assert_int_equal(auth_resolve_rcpt(f->auth, "+x@ex.test", &user, &err),
	                 -1);
	assert_int_equal(err.kind, ERR_NOTFOUND);
	assert_int_equal(
	    auth_resolve_rcpt(f->auth, "bob@elsewhere.test", &user, &err), -1);
	assert_int_equal(err.kind, ERR_PERM);
	assert_int_equal(auth_resolve_rcpt(f->auth, "bob", &user, &err), -1);
	assert_int_equal(err.kind, ERR_SYNTAX);
}

static void
test_generate_password(void **state)
{
	char a[32], b[32], tiny[8];

	(void)state;
	assert_int_equal(auth_generate_password(a, sizeof(a)), 0);
	assert_int_equal(auth_generate_password(b, sizeof(b)), 0);
	assert_int_equal(strlen(a), 20);
	assert_string_not_equal(a, b);
	assert_int_equal(strcspn(a, "0O1lIo"), 20);
	for (size_t i = 0; i < 20; i++)
		assert_true((a[i] >= 'a' && a[i] <= 'z') ||
		            (a[i] >= 'A' && a[i] <= 'Z') ||
		            (a[i] >= '2' && a[i] <= '9'));
	assert_int_equal(auth_generate_password(tiny, sizeof(tiny)), -1);
}

/* Statements open on the accounts connection. */
static int
stmt_count(struct auth *a)
{
	int n = 0;

	for (sqlite3_stmt *st = sqlite3_next_stmt(a->db, NULL); st != NULL;
	     st = sqlite3_next_stmt(a->db, st))
		n++;
	return n;
}

/*
 * A question asked again reuses its prepared statement, with the new
 * parameters; one asked while its statement is in use, or past the
 * cache's size, gets one of its own; every answer is right.
 */
static void
test_statements_kept(void **state)
{
	struct auth_fixture *f = *state;
	struct auth *a = f->auth;
	static const char sql[] = "SELECT ?1 || '-' || ?2";
	const char *args1[] = {"x", "1", NULL}, *args2[] = {"y", "2", NULL};
	sqlite3_stmt *held;
	struct err err;
	char *v, *user;
	int base, kept;

	assert_int_equal(
	    auth_user_add(a, "alice@example.test", "pw-alice1", &err), 0);
	base = stmt_count(a);
	assert_true(auth_domain_is_local(a, "example.test"));
	kept = stmt_count(a);
	assert_int_equal(kept, base + 1);
	for (int i = 0; i < 5; i++) {
		assert_true(auth_domain_is_local(a, "EXAMPLE.test"));
		assert_false(auth_domain_is_local(a, "example.org"));
	}
	assert_int_equal(stmt_count(a), kept);
	assert_int_equal(
	    auth_resolve_rcpt(a, "alice@example.test", &user, &err), 0);
	assert_string_equal(user, "alice@example.test");
	free(user);
	assert_int_equal(auth_resolve_rcpt(a, "bob@example.test", &user, &err),
	                 -1);
	assert_int_equal(err.kind, ERR_NOTFOUND);

	pthread_mutex_lock(&a->lock);
	/* Nested: the kept statement is busy, the inner call gets its own. */
	assert_int_equal(auth_db_prepare(a, sql, args1, &held, &err), 0);
	assert_int_equal(auth_db_query(a, sql, args2, &v, &err), 0);
	assert_string_equal(v, "y-2");
	free(v);
	assert_int_equal(sqlite3_step(held), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(held, 0), "x-1");
	auth_db_done(a, held);
	assert_int_equal(auth_db_query(a, sql, args2, &v, &err), 0);
	assert_string_equal(v, "y-2");
	free(v);
	/* More texts than the cache holds: the rest are prepared each time. */
	for (int i = 0; i < 2 * AUTH_STMT_CACHE; i++) {
		char q[32], want[16];

		snprintf(q, sizeof(q), "SELECT %d", i);
		snprintf(want, sizeof(want), "%d", i);
		assert_int_equal(auth_db_query(a, q, NULL, &v, &err), 0);
		assert_string_equal(v, want);
		free(v);
	}
	pthread_mutex_unlock(&a->lock);
	assert_int_equal(stmt_count(a), AUTH_STMT_CACHE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_add_verify, setup,
	                                    auth_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_add_errors, setup,
	                                    auth_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_del_passwd_list, setup,
	                                    auth_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_foreign_hashes, setup,
	                                    auth_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_resolve_rcpt, setup,
	                                    auth_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_cached_logins_follow_changes,
	                                    setup, auth_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_statements_kept, setup,
	                                    auth_fixture_teardown),
	    cmocka_unit_test(test_generate_password),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
