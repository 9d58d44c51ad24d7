/*
 * Tests of SCRAM keys, hash import, the schema 3 migration and failed-login
 * throttling.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <crypt.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth/auth_private.h"
#include "fixtures.h"
#include "testdir.h"

static int
setup(void **state)
{
	return auth_fixture_setup(state, "authl");
}

static void
test_scram_keys(void **state)
{
	struct auth_fixture *f = *state;
	struct auth_scram_keys k1, k2, want;
	struct err err;
	bool found;

	assert_int_equal(auth_user_add(f->auth, "Al@X.test", "pw-one", &err),
	                 0);
	assert_int_equal(
	    auth_scram_lookup(f->auth, "AL@x.test", &k1, &found, &err), 0);
	assert_true(found);
	assert_int_equal(k1.iterations, AUTH_SCRAM_ITERATIONS);
	assert_int_equal(k1.salt_len, AUTH_SCRAM_SALT_LEN);
	/* The stored keys are those of the password with the stored salt. */
	assert_int_equal(auth_scram_derive("pw-one", k1.salt, k1.salt_len,
	                                   k1.iterations, &want, &err),
	                 0);
	assert_memory_equal(k1.stored_key, want.stored_key, 32);
	assert_memory_equal(k1.server_key, want.server_key, 32);
	/* A new password: new salt, new keys. */
	assert_int_equal(auth_user_passwd(f->auth, "al@x.test", "pw-two", &err),
	                 0);
	assert_int_equal(
	    auth_scram_lookup(f->auth, "al@x.test", &k2, &found, &err), 0);
	assert_true(found);
	assert_memory_not_equal(k1.salt, k2.salt, k1.salt_len);
	assert_int_equal(auth_scram_derive("pw-two", k2.salt, k2.salt_len,
	                                   k2.iterations, &want, &err),
	                 0);
	assert_memory_equal(k2.stored_key, want.stored_key, 32);
	/* Inactive: fake keys. */
	assert_int_equal(
	    auth_user_set(f->auth, "al@x.test", "active", "no", &err), 0);
	assert_int_equal(
	    auth_scram_lookup(f->auth, "al@x.test", &k1, &found, &err), 0);
	assert_false(found);
	/* Deleted: the keys go with the user. */
	assert_int_equal(auth_user_del(f->auth, "al@x.test", &err), 0);
	assert_int_equal(
	    auth_user_add_hash(f->auth, "al@x.test",
	                       "$1$abcdefgh$PYXMfPHLh1Fjnd4pDjzbl/", &err),
	    0);
	assert_int_equal(
	    auth_scram_lookup(f->auth, "al@x.test", &k1, &found, &err), 0);
	assert_false(found);
}

static void
test_scram_fake_is_stable(void **state)
{
	struct auth_fixture *f = *state;
	struct auth_scram_keys k1, k2, k3;
	struct err err;
	bool found;

	assert_int_equal(
	    auth_scram_lookup(f->auth, "nobody@x.test", &k1, &found, &err), 0);
	assert_false(found);
	assert_int_equal(
	    auth_scram_lookup(f->auth, "NOBODY@x.test", &k2, &found, &err), 0);
	assert_int_equal(
	    auth_scram_lookup(f->auth, "other@x.test", &k3, &found, &err), 0);
	assert_int_equal(k1.iterations, AUTH_SCRAM_ITERATIONS);
	assert_int_equal(k1.salt_len, k2.salt_len);
	assert_memory_equal(k1.salt, k2.salt, k1.salt_len);
	assert_memory_not_equal(k1.salt, k3.salt, k1.salt_len);
	/* Not even an address: still an answer. */
	assert_int_equal(
	    auth_scram_lookup(f->auth, "no at sign", &k1, &found, &err), 0);
	assert_false(found);
}

static void
test_add_hash(void **state)
{
	struct auth_fixture *f = *state;
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	struct err err;

	assert_non_null(cd);
	assert_non_null(crypt_rn("imported", "$6$saltsalt$", cd, sizeof(*cd)));
	assert_int_equal(
	    auth_user_add_hash(f->auth, "Imp@x.test", cd->output, &err), 0);
	assert_int_equal(auth_verify(f->auth, "imp@x.test", "imported", &err),
	                 0);
	assert_int_equal(auth_verify(f->auth, "imp@x.test", "Imported", &err),
	                 -1);
	assert_int_equal(
	    auth_user_add_hash(f->auth, "imp@x.test", cd->output, &err), -1);
	assert_int_equal(err.kind, ERR_EXISTS);
	free(cd);
	/* Not hashes libxcrypt can check with. */
	static const char *const bad[] = {
	    "secret",
	    "{PLAIN}secret",
	    "$6$saltsalt$",
	    "$y$j9T$abc",
	    "",
	    "$9$nonsense$nonsense-nonsense",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    auth_user_add_hash(f->auth, "b@x.test", bad[i], &err), -1);
		assert_int_equal(err.kind, ERR_SYNTAX);
	}
}

/* A schema 2 database (before SCRAM) opens, migrates, and still works. */
static void
test_migrate_v2(void **state)
{
	struct auth_fixture *f = *state;
	struct auth_scram_keys keys;
	char path[128], *v = NULL;
	struct err err;
	bool found;
	sqlite3 *db;

	assert_int_equal(auth_user_add(f->auth, "old@x.test", "pw", &err), 0);
	auth_close(&f->auth);
	snprintf(path, sizeof(path), "%s/accounts.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                              "DROP TABLE scram_keys;"
	                              "PRAGMA user_version = 2;",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(auth_open(f->dir, &f->auth, &err), 0);
	pthread_mutex_lock(&f->auth->lock);
	assert_int_equal(
	    auth_db_query(f->auth, "PRAGMA user_version", NULL, &v, &err), 0);
	pthread_mutex_unlock(&f->auth->lock);
	assert_string_equal(v, "3");
	free(v);
	assert_int_equal(auth_verify(f->auth, "old@x.test", "pw", &err), 0);
	assert_int_equal(
	    auth_scram_lookup(f->auth, "old@x.test", &keys, &found, &err), 0);
	assert_false(found);
	assert_int_equal(auth_user_passwd(f->auth, "old@x.test", "pw2", &err),
	                 0);
	assert_int_equal(
	    auth_scram_lookup(f->auth, "old@x.test", &keys, &found, &err), 0);
	assert_true(found);
}

static void
test_throttle_ip(void **state)
{
	struct auth_throttle *t = auth_throttle_new();
	char user[32];
	unsigned secs;

	(void)state;
	assert_non_null(t);
	/* Different accounts from one address: the address limit. */
	for (int i = 0; i < AUTH_THROTTLE_IP_MAX - 1; i++) {
		snprintf(user, sizeof(user), "u%d@x.test", i);
		auth_throttle_record_at(t, "10.0.0.1", user, false, 1000);
	}
	assert_false(
	    auth_throttle_blocked_at(t, "10.0.0.1", "z@x.test", 1000, &secs));
	assert_int_equal(secs, 0);
	auth_throttle_record_at(t, "10.0.0.1", "last@x.test", false, 1001);
	assert_true(
	    auth_throttle_blocked_at(t, "10.0.0.1", "z@x.test", 1001, &secs));
	assert_int_equal(secs, AUTH_THROTTLE_COOLDOWN_SECS);
	/* Another address is not affected. */
	assert_false(
	    auth_throttle_blocked_at(t, "10.0.0.2", "z@x.test", 1001, &secs));
	/* The cool-down ends, and counting starts afresh. */
	assert_true(auth_throttle_blocked_at(t, "10.0.0.1", "z@x.test",
	                                     1000 + AUTH_THROTTLE_COOLDOWN_SECS,
	                                     &secs));
	assert_int_equal(secs, 1);
	assert_false(auth_throttle_blocked_at(
	    t, "10.0.0.1", "z@x.test", 1001 + AUTH_THROTTLE_COOLDOWN_SECS,
	    &secs));
	auth_throttle_record_at(t, "10.0.0.1", "q@x.test", false, 2000);
	assert_false(
	    auth_throttle_blocked_at(t, "10.0.0.1", "z@x.test", 2000, &secs));
	auth_throttle_free(&t);
	assert_null(t);
}

static void
test_throttle_user(void **state)
{
	struct auth_throttle *t = auth_throttle_new();
	char ip[32];
	unsigned secs;

	(void)state;
	/* One account from many addresses: the account limit. */
	for (int i = 0; i < AUTH_THROTTLE_USER_MAX; i++) {
		snprintf(ip, sizeof(ip), "10.0.1.%d", i);
		auth_throttle_record_at(t, ip, "Vic@x.test", false, 50);
	}
	assert_true(
	    auth_throttle_blocked_at(t, "10.9.9.9", "vic@X.TEST", 60, &secs));
	assert_int_equal(secs, AUTH_THROTTLE_COOLDOWN_SECS - 10);
	/* A success during the block does not lift it. */
	auth_throttle_record_at(t, "10.9.9.9", "vic@x.test", true, 61);
	assert_true(
	    auth_throttle_blocked_at(t, "10.9.9.9", "vic@x.test", 61, &secs));
	/* Failures spread beyond the window never add up to a block. */
	for (int i = 0; i < AUTH_THROTTLE_USER_MAX * 2; i++)
		auth_throttle_record_at(t, "10.0.2.1", "slow@x.test", false,
		                        10000 + i * AUTH_THROTTLE_WINDOW_SECS);
	assert_false(auth_throttle_blocked_at(
	    t, "10.0.2.3", "slow@x.test",
	    10000 + AUTH_THROTTLE_USER_MAX * 2 * AUTH_THROTTLE_WINDOW_SECS,
	    &secs));
	/* A success clears the account's count. */
	for (int i = 0; i < AUTH_THROTTLE_USER_MAX - 1; i++) {
		snprintf(ip, sizeof(ip), "10.0.3.%d", i);
		auth_throttle_record_at(t, ip, "ok@x.test", false, 100);
	}
	auth_throttle_record_at(t, "10.0.4.1", "ok@x.test", true, 100);
	auth_throttle_record_at(t, "10.0.4.2", "ok@x.test", false, 100);
	assert_false(
	    auth_throttle_blocked_at(t, "10.0.4.3", "ok@x.test", 100, &secs));
	auth_throttle_free(&t);
}

/* Many more keys than slots: memory stays fixed, recent blocks hold. */
static void
test_throttle_bounded(void **state)
{
	struct auth_throttle *t = auth_throttle_new();
	char ip[32];

	(void)state;
	for (int i = 0; i < AUTH_THROTTLE_SLOTS * 3; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255,
		         i & 255);
		auth_throttle_record_at(t, ip, "flood@x.test", false, 5 + i);
	}
	for (int i = 0; i < AUTH_THROTTLE_IP_MAX; i++)
		auth_throttle_record_at(t, "192.0.2.1", "a@x.test", false,
		                        100000);
	assert_true(
	    auth_throttle_blocked_at(t, "192.0.2.1", "b@x.test", 100001, NULL));
	auth_throttle_free(&t);
}

static void
test_login_throttled(void **state)
{
	struct auth_fixture *f = *state;
	struct err err;

	assert_int_equal(auth_user_add(f->auth, "t@x.test", "right", &err), 0);
	assert_int_equal(
	    auth_login(f->auth, "10.1.1.1", "t@x.test", "right", &err), 0);
	for (int i = 0; i < AUTH_THROTTLE_USER_MAX; i++) {
		assert_int_equal(
		    auth_login(f->auth, "10.1.1.1", "t@x.test", "wrong", &err),
		    -1);
		assert_int_equal(err.kind, ERR_PERM);
	}
	/* Now even the right password is refused, without a check. */
	assert_int_equal(
	    auth_login(f->auth, "10.1.1.2", "T@x.test", "right", &err), -1);
	assert_int_equal(err.kind, ERR_LIMIT);
	assert_non_null(strstr(err.msg, "too many failed logins"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_scram_keys, setup,
	                                    auth_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_scram_fake_is_stable, setup,
	                                    auth_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_add_hash, setup,
	                                    auth_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_v2, setup,
	                                    auth_fixture_teardown),
	    cmocka_unit_test(test_throttle_ip),
	    cmocka_unit_test(test_throttle_user),
	    cmocka_unit_test(test_throttle_bounded),
	    cmocka_unit_test_setup_teardown(test_login_throttled, setup,
	                                    auth_fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
