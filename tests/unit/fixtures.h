/*
 * fixtures: cmocka setup/teardown pairs that several unit tests share: a
 * fresh data directory with an open accounts database, or with an open
 * store and one user's mail.
 */
#ifndef POSTAMT_TESTS_FIXTURES_H
#define POSTAMT_TESTS_FIXTURES_H

#include "auth/auth.h"
#include "store/store.h"

struct auth_fixture {
	char dir[64];
	struct auth *auth;
};

/* *state becomes a struct auth_fixture in /tmp/postamt-NAME-XXXXXX. */
int auth_fixture_setup(void **state, const char *name);
int auth_fixture_teardown(void **state);

struct store_fixture {
	char dir[64];
	struct store *store;
	struct store_user *user;
};

/* *state becomes a struct store_fixture with user's mail open. */
int store_fixture_setup(void **state, const char *name, const char *user);
/*
 * Frees *state, a calloc()ed struct store_fixture or a struct starting
 * with one.
 */
int store_fixture_teardown(void **state);
/* Opens the store in f->dir (made already) and user's mail. */
void store_fixture_open(struct store_fixture *f, const char *user);
/*
 * The message bodies u's store holds: blob files (named by a blob id)
 * plus messages kept in the index (msg_data).
 */
size_t store_fixture_bodies(struct store_user *u);

#endif
