/*
 * auth_private: what the files of the auth layer share.
 *
 * One struct auth serves every event loop thread, so every use of the
 * SQLite handle happens under the mutex.  Password hashing, the slow part,
 * runs outside it so logins do not queue behind each other.
 */
#ifndef POSTAMT_AUTH_AUTH_PRIVATE_H
#define POSTAMT_AUTH_AUTH_PRIVATE_H

#include <crypt.h>
#include <pthread.h>
#include <sqlite3.h>

#include "auth/auth.h"

/* Schema version kept in PRAGMA user_version. */
#define AUTH_SCHEMA_VERSION 3

/*
 * Prepared statements kept per SQL text (auth_db_prepare()): an SMTP
 * delivery asked the accounts four questions (is the domain local, the
 * user or alias, its settings twice) and each one was parsed and planned
 * again, on the event loop for RCPT.
 */
#define AUTH_STMT_CACHE 24

struct auth_stmt {
	char *sql;
	sqlite3_stmt *st;
	bool busy; /* handed out, not yet given back */
};

struct auth {
	sqlite3 *db;
	pthread_mutex_t lock;
	struct auth_stmt stmts[AUTH_STMT_CACHE];
	struct auth_cache *cache; /* recent successful logins; may be NULL */
	struct auth_throttle *throttle; /* failed logins (throttle.c) */
	/*
	 * A yescrypt setting (salt) hashed against when a login names no
	 * user, so the answer takes as long as for a wrong password.
	 */
	char dummy_setting[CRYPT_GENSALT_OUTPUT_SIZE];
	/*
	 * Key for the made-up SCRAM salt of unknown users, so asking twice
	 * gives the same salt and nothing tells them from real ones.
	 */
	unsigned char scram_secret[32];
};

/* Fills err from an SQLite result code of a's handle; returns -1. */
int auth_db_error(struct auth *a, int rc, const char *what, struct err *err);

/*
 * The statement for sql with text parameters ?1.. bound from the
 * NULL-terminated array args (NULL: none), prepared once and kept for the
 * next call with the same text; give it back with auth_db_done().  Call
 * with the lock held.
 */
int auth_db_prepare(struct auth *a, const char *sql, const char *const *args,
                    sqlite3_stmt **st_r, struct err *err);
void auth_db_done(struct auth *a, sqlite3_stmt *st);

/*
 * Runs sql (one statement, parameters ?1.. bound from the NULL-terminated
 * text array args) to completion.  *changes_r (if not NULL) gets the
 * number of rows changed.  Call with the lock held.
 */
int auth_db_exec(struct auth *a, const char *sql, const char *const *args,
                 int *changes_r, struct err *err);

/*
 * Runs a one-row query with text parameters; copies column 0 of the first
 * row to *value_r (malloc()ed, NULL if there was no row).  Call with the
 * lock held.
 */
int auth_db_query(struct auth *a, const char *sql, const char *const *args,
                  char **value_r, struct err *err);

/*
 * Hashes password with a new yescrypt salt into out (CRYPT_OUTPUT_SIZE
 * bytes).  ERR_SYNTAX for an empty or too long password.
 */
int auth_password_hash(const char *password, char *out, struct err *err);

/*
 * Hashes password with setting (a stored hash or a bare salt) and compares
 * the result with setting in constant time.  True on a match.
 */
bool auth_password_check(const char *password, const char *setting);

/*
 * The cache of recent successful logins (auth_cache.c).  Callers hold
 * a->lock around check and remember.
 */
struct auth_cache *auth_cache_new(void);
void auth_cache_free(struct auth_cache **c);
bool auth_cache_check(struct auth_cache *c, const char *address,
                      const char *stored, const char *password);
void auth_cache_remember(struct auth_cache *c, const char *address,
                         const char *stored, const char *password);

/*
 * Failed-login throttling (throttle.c); it has its own lock.  The _at
 * forms take the time (monotonic seconds) so tests can move it.
 */
struct auth_throttle *auth_throttle_new(void);
void auth_throttle_set_limits(struct auth_throttle *t,
                              const struct auth_throttle_limits *limits);
void auth_throttle_free(struct auth_throttle **t);
bool auth_throttle_blocked_at(struct auth_throttle *t, const char *ip,
                              const char *address, int64_t now,
                              unsigned *secs_r);
void auth_throttle_record_at(struct auth_throttle *t, const char *ip,
                             const char *address, bool ok, int64_t now);

/*
 * SCRAM keys (auth_scram.c): writes keys for password into the
 * scram_keys table as part of the caller's transaction.  Lock held.
 */
int auth_scram_store(struct auth *a, const char *address,
                     const struct auth_scram_keys *keys, struct err *err);

/* Makes keys for password with a fresh random salt (no lock needed). */
int auth_scram_new_keys(const char *password, struct auth_scram_keys *keys_r,
                        struct err *err);

/* True if setting is a crypt hash libxcrypt can check passwords with. */
bool auth_password_is_usable(const char *setting);

/* Creates a->dummy_setting. */
int auth_password_dummy(struct auth *a, struct err *err);

#endif
