/*
 * auth_user: adding, removing, listing users, changing and checking their
 * passwords.
 *
 * Hashing happens before the lock is taken (and verification after it is
 * released): the lock guards only the SQLite handle, never a slow hash.
 */
#include "auth/auth_private.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

/*
 * Inserts the user and, if new, its domain, and its SCRAM keys (if not
 * NULL), in one transaction.
 */
static int
auth_user_insert(struct auth *a, const char *address, const char *hash,
                 const struct auth_scram_keys *keys, struct err *err)
{
	const char *domain = strchr(address, '@') + 1;
	const char *dargs[] = {domain, NULL};
	const char *uargs[] = {address, hash, NULL};

	if (auth_db_exec(a, "BEGIN IMMEDIATE", NULL, NULL, err) < 0)
		return -1;
	if (auth_db_exec(a, "INSERT OR IGNORE INTO domains(name) VALUES (?1)",
	                 dargs, NULL, err) < 0 ||
	    auth_db_exec(a,
	                 "INSERT INTO users(address, password_hash) "
	                 "VALUES (?1, ?2)",
	                 uargs, NULL, err) < 0 ||
	    auth_db_exec(a, "DELETE FROM scram_keys WHERE address = ?1", uargs,
	                 NULL, err) < 0 ||
	    (keys != NULL && auth_scram_store(a, address, keys, err) < 0) ||
	    auth_db_exec(a, "COMMIT", NULL, NULL, err) < 0) {
		auth_db_exec(a, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

/* Inserts under the lock; a clear message for an existing user. */
static int
auth_user_insert_locked(struct auth *a, const char *addr, const char *hash,
                        const struct auth_scram_keys *keys, struct err *err)
{
	int r;

	pthread_mutex_lock(&a->lock);
	r = auth_user_insert(a, addr, hash, keys, err);
	pthread_mutex_unlock(&a->lock);
	if (r < 0 && err != NULL && err->kind == ERR_EXISTS)
		err_set(err, ERR_EXISTS, "user %s already exists", addr);
	return r;
}

int
auth_user_add(struct auth *a, const char *address, const char *password,
              struct err *err)
{
	char addr[AUTH_ADDRESS_MAX + 1], hash[CRYPT_OUTPUT_SIZE];
	struct auth_scram_keys keys;
	int r;

	if (auth_address_normalize(address, addr, err) < 0 ||
	    auth_password_hash(password, hash, err) < 0 ||
	    auth_scram_new_keys(password, &keys, err) < 0)
		return -1;
	r = auth_user_insert_locked(a, addr, hash, &keys, err);
	OPENSSL_cleanse(hash, sizeof(hash));
	OPENSSL_cleanse(&keys, sizeof(keys));
	return r;
}

int
auth_user_add_hash(struct auth *a, const char *address, const char *hash,
                   struct err *err)
{
	char addr[AUTH_ADDRESS_MAX + 1];

	if (auth_address_normalize(address, addr, err) < 0)
		return -1;
	/* A hash libxcrypt cannot use would lock the user out for good. */
	if (strnlen(hash, CRYPT_OUTPUT_SIZE) >= CRYPT_OUTPUT_SIZE ||
	    strchr(hash, ':') != NULL || !auth_password_is_usable(hash))
		return err_set(err, ERR_SYNTAX,
		               "unsupported password hash for %s", addr);
	return auth_user_insert_locked(a, addr, hash, NULL, err);
}

int
auth_user_del(struct auth *a, const char *address, struct err *err)
{
	char addr[AUTH_ADDRESS_MAX + 1];
	const char *args[] = {addr, NULL};
	int r, changes = 0;

	if (auth_address_normalize(address, addr, err) < 0)
		return -1;
	/* The user's mail stays on disk: removing it is a separate step. */
	pthread_mutex_lock(&a->lock);
	r = auth_db_exec(a, "DELETE FROM users WHERE address = ?1", args,
	                 &changes, err);
	if (r == 0)
		r = auth_db_exec(a, "DELETE FROM scram_keys WHERE address = ?1",
		                 args, NULL, err);
	pthread_mutex_unlock(&a->lock);
	if (r == 0 && changes == 0)
		return err_set(err, ERR_NOTFOUND, "no user %s", addr);
	return r;
}

/* Sets the hash and the SCRAM keys in one transaction; lock held. */
static int
auth_user_update(struct auth *a, const char *addr, const char *hash,
                 const struct auth_scram_keys *keys, int *changes_r,
                 struct err *err)
{
	const char *args[] = {addr, hash, NULL};

	if (auth_db_exec(a, "BEGIN IMMEDIATE", NULL, NULL, err) < 0)
		return -1;
	if (auth_db_exec(a,
	                 "UPDATE users SET password_hash = ?2 "
	                 "WHERE address = ?1",
	                 args, changes_r, err) < 0 ||
	    (*changes_r > 0 && auth_scram_store(a, addr, keys, err) < 0) ||
	    auth_db_exec(a, "COMMIT", NULL, NULL, err) < 0) {
		auth_db_exec(a, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

int
auth_user_passwd(struct auth *a, const char *address, const char *password,
                 struct err *err)
{
	char addr[AUTH_ADDRESS_MAX + 1], hash[CRYPT_OUTPUT_SIZE];
	struct auth_scram_keys keys;
	int r, changes = 0;

	if (auth_address_normalize(address, addr, err) < 0 ||
	    auth_password_hash(password, hash, err) < 0 ||
	    auth_scram_new_keys(password, &keys, err) < 0)
		return -1;
	pthread_mutex_lock(&a->lock);
	r = auth_user_update(a, addr, hash, &keys, &changes, err);
	pthread_mutex_unlock(&a->lock);
	OPENSSL_cleanse(hash, sizeof(hash));
	OPENSSL_cleanse(&keys, sizeof(keys));
	if (r == 0 && changes == 0)
		return err_set(err, ERR_NOTFOUND, "no user %s", addr);
	return r;
}

/* Reads all addresses into a malloc()ed array of malloc()ed strings. */
static int
auth_user_collect(struct auth *a, char ***list_r, size_t *n_r, struct err *err)
{
	sqlite3_stmt *st;
	char **list = NULL, **grown;
	size_t n = 0;
	int rc = SQLITE_OK;

	if (auth_db_prepare(a, "SELECT address FROM users ORDER BY address",
	                    NULL, &st, err) < 0)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);

		grown = reallocarray(list, n + 1, sizeof(*list));
		if (grown == NULL || t == NULL ||
		    (grown[n] = strdup((const char *)t)) == NULL) {
			list = grown != NULL ? grown : list;
			rc = SQLITE_NOMEM;
			break;
		}
		list = grown;
		n++;
	}
	auth_db_done(a, st);
	*list_r = list;
	*n_r = n;
	return rc == SQLITE_DONE ? 0 : auth_db_error(a, rc, "list", err);
}

int
auth_user_list(struct auth *a, void (*fn)(const char *address, void *arg),
               void *arg, struct err *err)
{
	char **list = NULL;
	size_t n = 0;
	int r;

	pthread_mutex_lock(&a->lock);
	r = auth_user_collect(a, &list, &n, err);
	pthread_mutex_unlock(&a->lock);
	/* Outside the lock: fn may call back into auth. */
	for (size_t i = 0; i < n; i++) {
		if (r == 0)
			fn(list[i], arg);
		free(list[i]);
	}
	free(list);
	return r;
}

int
auth_verify(struct auth *a, const char *address, const char *password,
            struct err *err)
{
	char addr[AUTH_ADDRESS_MAX + 1], *hash = NULL;
	const char *args[] = {addr, NULL};
	bool ok;
	int r;

	if (auth_address_normalize(address, addr, NULL) < 0)
		addr[0] = '\0'; /* still hash below: same time as a miss */
	pthread_mutex_lock(&a->lock);
	r = addr[0] == '\0' ? 0
	                    : auth_db_query(a,
	                                    "SELECT password_hash FROM users "
	                                    "WHERE address = ?1 AND active",
	                                    args, &hash, err);
	ok = r == 0 && hash != NULL &&
	     auth_cache_check(a->cache, addr, hash, password);
	pthread_mutex_unlock(&a->lock);
	if (r < 0)
		return -1;
	/*
	 * Spend one hash whether or not the user exists, so the time taken
	 * does not tell an attacker which addresses are real.  Only a recent
	 * success with this very password skips it.
	 */
	if (!ok) {
		ok = auth_password_check(
		    password, hash != NULL ? hash : a->dummy_setting);
		ok = ok && hash != NULL;
		if (ok) {
			pthread_mutex_lock(&a->lock);
			auth_cache_remember(a->cache, addr, hash, password);
			pthread_mutex_unlock(&a->lock);
		}
	}
	free(hash);
	if (!ok)
		return err_set(err, ERR_PERM, "invalid user name or password");
	return 0;
}
