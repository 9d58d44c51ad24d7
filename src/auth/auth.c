/*
 * auth: DATA/accounts.db (opening, schema, SQL helpers) and local domains.
 */
#include "auth/auth_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/sqlite_setup.h"

/* Milliseconds to wait for another process (`postamt user ...`). */
#define AUTH_BUSY_TIMEOUT_MS 10000

static const char auth_schema[] =
    "BEGIN IMMEDIATE;"
    "CREATE TABLE IF NOT EXISTS domains ("
    " name TEXT PRIMARY KEY);"
    "CREATE TABLE IF NOT EXISTS users ("
    " address TEXT PRIMARY KEY,"
    " password_hash TEXT NOT NULL,"
    " active INTEGER NOT NULL DEFAULT 1,"
    " quota_bytes INTEGER NOT NULL DEFAULT 0,"
    " created INTEGER NOT NULL DEFAULT (strftime('%s', 'now')));"
    "COMMIT;";

/*
 * Schema 2: per-user settings (see auth_settings.c) and aliases.  Applied
 * to schema 1 databases as ALTERs, so existing accounts keep working.
 */
static const char auth_schema_v2[] =
    "BEGIN IMMEDIATE;"
    "ALTER TABLE users ADD COLUMN quota_messages INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE users ADD COLUMN imap INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE users ADD COLUMN pop3 INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE users ADD COLUMN submission INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE users ADD COLUMN pop3_after_retrieve TEXT NOT NULL"
    " DEFAULT 'keep';"
    "ALTER TABLE users ADD COLUMN pop3_on_delete TEXT NOT NULL"
    " DEFAULT 'expunge';"
    "ALTER TABLE users ADD COLUMN save_sent INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE IF NOT EXISTS aliases ("
    " address TEXT NOT NULL,"
    " target TEXT NOT NULL,"
    " PRIMARY KEY (address, target));"
    "PRAGMA user_version = 2;"
    "COMMIT;";

/*
 * Schema 3: SCRAM-SHA-256 keys (RFC 5802 3), one row per user, written
 * when a password is set.  Users from before have none until their
 * password is set again; SCRAM then fails for them like a wrong password
 * while PLAIN and LOGIN keep working with the crypt hash.
 */
static const char auth_schema_v3[] =
    "BEGIN IMMEDIATE;"
    "CREATE TABLE IF NOT EXISTS scram_keys ("
    " address TEXT PRIMARY KEY,"
    " salt TEXT NOT NULL," /* hex */
    " iterations INTEGER NOT NULL,"
    " stored_key TEXT NOT NULL,"  /* hex */
    " server_key TEXT NOT NULL);" /* hex */
    "PRAGMA user_version = 3;"    /* AUTH_SCHEMA_VERSION */
    "COMMIT;";

/* Refuses a database written by a newer Postamt. */
static int
auth_db_check_version(struct auth *a, int *version_r, struct err *err)
{
	char *v = NULL;
	int version;

	if (auth_db_query(a, "PRAGMA user_version", NULL, &v, err) < 0)
		return -1;
	version = v != NULL ? atoi(v) : 0;
	free(v);
	if (version > AUTH_SCHEMA_VERSION)
		return err_set(err, ERR_INTERNAL,
		               "accounts: schema %d is newer than this "
		               "program (%d)",
		               version, AUTH_SCHEMA_VERSION);
	*version_r = version;
	return 0;
}

int
auth_db_error(struct auth *a, int rc, const char *what, struct err *err)
{
	enum err_kind kind = ERR_IO;

	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_FULL ||
	    rc == SQLITE_NOMEM)
		kind = ERR_TEMP;
	return err_set(err, kind, "accounts: %s: %s", what,
	               a->db != NULL ? sqlite3_errmsg(a->db)
	                             : sqlite3_errstr(rc));
}

/* The cached statement of sql, or a free slot (sql NULL), or NULL. */
static struct auth_stmt *
auth_stmt_find(struct auth *a, const char *sql)
{
	struct auth_stmt *slot = NULL;

	for (size_t i = 0; i < AUTH_STMT_CACHE; i++) {
		struct auth_stmt *c = &a->stmts[i];

		if (c->sql == NULL)
			slot = slot != NULL ? slot : c;
		else if (strcmp(c->sql, sql) == 0)
			return c;
	}
	return slot;
}

int
auth_db_prepare(struct auth *a, const char *sql, const char *const *args,
                sqlite3_stmt **st_r, struct err *err)
{
	struct auth_stmt *c = auth_stmt_find(a, sql);
	int rc;

	if (c != NULL && c->sql != NULL && !c->busy) {
		c->busy = true;
		*st_r = c->st;
	} else {
		/* In use (a nested call) or no room: one of its own. */
		rc = sqlite3_prepare_v3(
		    a->db, sql, -1,
		    c != NULL && c->sql == NULL ? SQLITE_PREPARE_PERSISTENT : 0,
		    st_r, NULL);
		if (rc != SQLITE_OK)
			return auth_db_error(a, rc, "prepare", err);
		if (c != NULL && c->sql == NULL &&
		    (c->sql = strdup(sql)) != NULL) {
			c->st = *st_r;
			c->busy = true;
		}
	}
	for (int i = 0; args != NULL && args[i] != NULL; i++)
		sqlite3_bind_text(*st_r, i + 1, args[i], -1, SQLITE_STATIC);
	return 0;
}

void
auth_db_done(struct auth *a, sqlite3_stmt *st)
{
	for (size_t i = 0; i < AUTH_STMT_CACHE; i++)
		if (a->stmts[i].st == st && a->stmts[i].sql != NULL) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			a->stmts[i].busy = false;
			return;
		}
	sqlite3_finalize(st);
}

static void
auth_stmts_free(struct auth *a)
{
	for (size_t i = 0; i < AUTH_STMT_CACHE; i++) {
		sqlite3_finalize(a->stmts[i].st);
		free(a->stmts[i].sql);
		a->stmts[i].st = NULL;
		a->stmts[i].sql = NULL;
	}
}

int
auth_db_exec(struct auth *a, const char *sql, const char *const *args,
             int *changes_r, struct err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (auth_db_prepare(a, sql, args, &st, err) < 0)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	auth_db_done(a, st);
	if (rc == SQLITE_CONSTRAINT)
		return err_set(err, ERR_EXISTS, "already exists");
	if (rc != SQLITE_DONE)
		return auth_db_error(a, rc, "update", err);
	if (changes_r != NULL)
		*changes_r = sqlite3_changes(a->db);
	return 0;
}

int
auth_db_query(struct auth *a, const char *sql, const char *const *args,
              char **value_r, struct err *err)
{
	sqlite3_stmt *st;
	int rc;

	*value_r = NULL;
	if (auth_db_prepare(a, sql, args, &st, err) < 0)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);

		*value_r = strdup(t != NULL ? (const char *)t : "");
		if (*value_r == NULL)
			rc = SQLITE_NOMEM;
	}
	auth_db_done(a, st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return auth_db_error(a, rc, "query", err);
	return 0;
}

/* Opens path, creating it mode 0600 first: it holds password hashes. */
static int
auth_db_open(struct auth *a, const char *path, struct err *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	int rc, version = 0;

	if (fd < 0)
		return err_set(err, ERR_IO, "accounts: create %s: %s", path,
		               strerror(errno));
	close(fd);
	sqlite_setup();
	rc = sqlite3_open_v2(path, &a->db, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK)
		return auth_db_error(a, rc, "open", err);
	sqlite3_busy_timeout(a->db, AUTH_BUSY_TIMEOUT_MS);
	rc = sqlite3_exec(a->db,
	                  "PRAGMA journal_mode = WAL;"
	                  "PRAGMA synchronous = FULL;",
	                  NULL, NULL, NULL);
	if (rc == SQLITE_OK && auth_db_check_version(a, &version, err) < 0)
		return -1;
	if (rc == SQLITE_OK && version < 1)
		rc = sqlite3_exec(a->db, auth_schema, NULL, NULL, NULL);
	if (rc == SQLITE_OK && version < 2)
		rc = sqlite3_exec(a->db, auth_schema_v2, NULL, NULL, NULL);
	if (rc == SQLITE_OK && version < 3)
		rc = sqlite3_exec(a->db, auth_schema_v3, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		auth_db_error(a, rc, "schema", err);
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

int
auth_open(const char *data_dir, struct auth **auth_r, struct err *err)
{
	struct buf path = BUF_INIT;
	struct auth *a;

	*auth_r = NULL;
	a = calloc(1, sizeof(*a));
	if (a == NULL || buf_printf(&path, "%s/accounts.db", data_dir) < 0) {
		free(a);
		return err_set(err, ERR_TEMP, "accounts: out of memory");
	}
	pthread_mutex_init(&a->lock, NULL);
	a->cache = auth_cache_new();
	a->throttle = auth_throttle_new();
	if (a->throttle == NULL) {
		buf_free(&path);
		auth_close(&a);
		return err_set(err, ERR_TEMP, "accounts: out of memory");
	}
	if (auth_db_open(a, buf_cstr(&path), err) < 0 ||
	    auth_password_dummy(a, err) < 0) {
		buf_free(&path);
		auth_close(&a);
		return -1;
	}
	buf_free(&path);
	*auth_r = a;
	return 0;
}

void
auth_close(struct auth **auth)
{
	struct auth *a = *auth;

	if (a == NULL)
		return;
	auth_stmts_free(a);
	sqlite3_close(a->db);
	auth_cache_free(&a->cache);
	auth_throttle_free(&a->throttle);
	pthread_mutex_destroy(&a->lock);
	free(a);
	*auth = NULL;
}

/* Lower-cases a domain into out (AUTH_ADDRESS_MAX + 1 bytes). */
static int
auth_domain_normalize(const char *domain, char *out, struct err *err)
{
	size_t len = strnlen(domain, AUTH_ADDRESS_MAX + 1);

	if (len == 0 || len > AUTH_ADDRESS_MAX)
		return err_set(err, ERR_SYNTAX, "invalid domain length");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)domain[i];

		if (c <= ' ' || c == 0x7F || c == '@')
			return err_set(err, ERR_SYNTAX,
			               "domain contains '@', a space or a "
			               "control character");
		out[i] =
		    (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : (char)c;
	}
	out[len] = '\0';
	return 0;
}

int
auth_domain_add(struct auth *a, const char *domain, struct err *err)
{
	char name[AUTH_ADDRESS_MAX + 1];
	const char *args[] = {name, NULL};
	int r;

	if (auth_domain_normalize(domain, name, err) < 0)
		return -1;
	pthread_mutex_lock(&a->lock);
	r = auth_db_exec(a, "INSERT INTO domains(name) VALUES (?1)", args, NULL,
	                 err);
	pthread_mutex_unlock(&a->lock);
	if (r < 0 && err != NULL && err->kind == ERR_EXISTS)
		err_set(err, ERR_EXISTS, "domain %s already exists", name);
	return r;
}

bool
auth_domain_is_local(struct auth *a, const char *domain)
{
	char name[AUTH_ADDRESS_MAX + 1], *found = NULL;
	const char *args[] = {name, NULL};
	bool is_local;
	int r;

	if (auth_domain_normalize(domain, name, NULL) < 0)
		return false;
	pthread_mutex_lock(&a->lock);
	r = auth_db_query(a, "SELECT name FROM domains WHERE name = ?1", args,
	                  &found, NULL);
	pthread_mutex_unlock(&a->lock);
	is_local = r == 0 && found != NULL;
	free(found);
	return is_local;
}
