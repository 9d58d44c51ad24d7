#include "fixtures.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <dirent.h>
#include <string.h>

#include "store/embedded_private.h"
#include "testdir.h"

int
auth_fixture_setup(void **state, const char *name)
{
	struct auth_fixture *f = calloc(1, sizeof(*f));
	struct err err;

	assert_non_null(f);
	assert_int_equal(testdir_make(name, f->dir, sizeof(f->dir)), 0);
	assert_int_equal(auth_open(f->dir, &f->auth, &err), 0);
	*state = f;
	return 0;
}

int
auth_fixture_teardown(void **state)
{
	struct auth_fixture *f = *state;

	auth_close(&f->auth);
	testdir_remove(f->dir);
	free(f);
	return 0;
}

void
store_fixture_open(struct store_fixture *f, const char *user)
{
	struct err err;

	assert_int_equal(store_open(f->dir, &f->store, &err), 0);
	assert_int_equal(store_user_open(f->store, user, &f->user, &err), 0);
}

int
store_fixture_setup(void **state, const char *name, const char *user)
{
	struct store_fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(testdir_make(name, f->dir, sizeof(f->dir)), 0);
	store_fixture_open(f, user);
	*state = f;
	return 0;
}

int
store_fixture_teardown(void **state)
{
	struct store_fixture *f = *state;

	store_user_close(&f->user);
	store_close(&f->store);
	testdir_remove(f->dir);
	free(f);
	return 0;
}

size_t
store_fixture_bodies(struct store_user *u)
{
	struct embedded_user *e = embedded_user_of(u);
	DIR *d = opendir(e->blob_dir);
	struct dirent *de;
	int64_t kept = 0;
	size_t n = 0;
	struct err err;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strlen(de->d_name) == STORE_BLOB_ID_SIZE - 1)
			n++;
	closedir(d);
	assert_int_equal(embedded_sql_int(e, "SELECT count(*) FROM msg_data",
	                                  NULL, &kept, &err),
	                 0);
	return n + (size_t)kept;
}
