/*
 * auth_scram: the SCRAM-SHA-256 keys of each user (RFC 5802 3, RFC 7677).
 *
 * The server never keeps what is needed to log in as the user: only
 * StoredKey = H(ClientKey), which checks a proof, and ServerKey, which
 * proves the server to the client.  They are made when a password is set
 * (auth_user_add, auth_user_passwd) and kept hex-encoded in scram_keys.
 */
#include "auth/auth_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

int
auth_scram_derive(const char *password, const unsigned char *salt,
                  size_t salt_len, unsigned iterations,
                  struct auth_scram_keys *keys_r, struct err *err)
{
	unsigned char salted[AUTH_SCRAM_KEY_LEN],
	    client_key[AUTH_SCRAM_KEY_LEN];
	unsigned int len = AUTH_SCRAM_KEY_LEN;
	size_t plen = strnlen(password, CRYPT_MAX_PASSPHRASE_SIZE);
	bool ok;

	if (plen == 0 || plen >= CRYPT_MAX_PASSPHRASE_SIZE)
		return err_set(err, ERR_SYNTAX, "invalid password length");
	if (salt_len == 0 || salt_len > AUTH_SCRAM_SALT_MAX ||
	    iterations < AUTH_SCRAM_ITERATIONS || iterations > 1000000)
		return err_set(err, ERR_INTERNAL, "scram: bad salt or count");
	memset(keys_r, 0, sizeof(*keys_r));
	memcpy(keys_r->salt, salt, salt_len);
	keys_r->salt_len = salt_len;
	keys_r->iterations = iterations;
	ok = PKCS5_PBKDF2_HMAC(password, (int)plen, salt, (int)salt_len,
	                       (int)iterations, EVP_sha256(), sizeof(salted),
	                       salted) == 1 &&
	     HMAC(EVP_sha256(), salted, sizeof(salted),
	          (const unsigned char *)"Client Key", 10, client_key,
	          &len) != NULL &&
	     EVP_Digest(client_key, sizeof(client_key), keys_r->stored_key,
	                NULL, EVP_sha256(), NULL) == 1 &&
	     HMAC(EVP_sha256(), salted, sizeof(salted),
	          (const unsigned char *)"Server Key", 10, keys_r->server_key,
	          &len) != NULL;
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(client_key, sizeof(client_key));
	if (!ok)
		return err_set(err, ERR_INTERNAL,
		               "scram: key derivation failed");
	return 0;
}

int
auth_scram_new_keys(const char *password, struct auth_scram_keys *keys_r,
                    struct err *err)
{
	unsigned char salt[AUTH_SCRAM_SALT_LEN];

	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return err_set(err, ERR_INTERNAL, "scram: no randomness");
	return auth_scram_derive(password, salt, sizeof(salt),
	                         AUTH_SCRAM_ITERATIONS, keys_r, err);
}

/* Writes n bytes as lower-case hex into out (2n + 1 bytes). */
static void
auth_hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
auth_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes hex text into out (at most max bytes).  Returns length or -1. */
static long
auth_hex_decode(const char *text, unsigned char *out, size_t max)
{
	size_t len = strlen(text);

	if (len % 2 != 0 || len / 2 > max)
		return -1;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = auth_hex_digit(text[2 * i]);
		int lo = auth_hex_digit(text[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return (long)(len / 2);
}

int
auth_scram_store(struct auth *a, const char *address,
                 const struct auth_scram_keys *keys, struct err *err)
{
	char salt[2 * AUTH_SCRAM_SALT_MAX + 1], iter[16];
	char stored[2 * AUTH_SCRAM_KEY_LEN + 1],
	    server[2 * AUTH_SCRAM_KEY_LEN + 1];
	const char *args[] = {address, salt, iter, stored, server, NULL};
	int r;

	auth_hex_encode(keys->salt, keys->salt_len, salt);
	snprintf(iter, sizeof(iter), "%u", keys->iterations);
	auth_hex_encode(keys->stored_key, AUTH_SCRAM_KEY_LEN, stored);
	auth_hex_encode(keys->server_key, AUTH_SCRAM_KEY_LEN, server);
	r = auth_db_exec(a,
	                 "INSERT OR REPLACE INTO scram_keys(address, salt, "
	                 "iterations, stored_key, server_key) "
	                 "VALUES (?1, ?2, ?3, ?4, ?5)",
	                 args, NULL, err);
	OPENSSL_cleanse(stored, sizeof(stored));
	OPENSSL_cleanse(server, sizeof(server));
	return r;
}

/* Reads the stored row; false if there is none or it is unusable. */
static bool
auth_scram_row(sqlite3_stmt *st, struct auth_scram_keys *keys_r)
{
	const char *salt = (const char *)sqlite3_column_text(st, 0);
	const char *stored = (const char *)sqlite3_column_text(st, 2);
	const char *server = (const char *)sqlite3_column_text(st, 3);
	long n;

	if (salt == NULL || stored == NULL || server == NULL)
		return false;
	n = auth_hex_decode(salt, keys_r->salt, AUTH_SCRAM_SALT_MAX);
	keys_r->salt_len = n > 0 ? (size_t)n : 0;
	keys_r->iterations = (unsigned)sqlite3_column_int(st, 1);
	return n > 0 && keys_r->iterations >= AUTH_SCRAM_ITERATIONS &&
	       auth_hex_decode(stored, keys_r->stored_key,
	                       AUTH_SCRAM_KEY_LEN) == AUTH_SCRAM_KEY_LEN &&
	       auth_hex_decode(server, keys_r->server_key,
	                       AUTH_SCRAM_KEY_LEN) == AUTH_SCRAM_KEY_LEN;
}

/* Looks the keys up under the lock; *found_r false if there are none. */
static int
auth_scram_query(struct auth *a, const char *addr,
                 struct auth_scram_keys *keys_r, bool *found_r, struct err *err)
{
	const char *args[] = {addr, NULL};
	sqlite3_stmt *st;
	int rc;

	if (auth_db_prepare(a,
	                    "SELECT k.salt, k.iterations, k.stored_key,"
	                    " k.server_key FROM scram_keys k"
	                    " JOIN users u ON u.address = k.address"
	                    " WHERE k.address = ?1 AND u.active",
	                    args, &st, err) < 0)
		return -1;
	rc = sqlite3_step(st);
	*found_r = rc == SQLITE_ROW && auth_scram_row(st, keys_r);
	auth_db_done(a, st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return auth_db_error(a, rc, "scram", err);
	return 0;
}

/*
 * Keys for an address that has none: the salt is an HMAC of the address
 * under a secret made at start-up, so it is the same on every try; the
 * keys are random, so no proof matches.
 */
static int
auth_scram_fake(struct auth *a, const char *address,
                struct auth_scram_keys *keys_r, struct err *err)
{
	unsigned char mac[32];
	unsigned int len = sizeof(mac);

	memset(keys_r, 0, sizeof(*keys_r));
	if (HMAC(EVP_sha256(), a->scram_secret, sizeof(a->scram_secret),
	         (const unsigned char *)address, strlen(address), mac,
	         &len) == NULL ||
	    RAND_bytes(keys_r->stored_key, AUTH_SCRAM_KEY_LEN) != 1 ||
	    RAND_bytes(keys_r->server_key, AUTH_SCRAM_KEY_LEN) != 1)
		return err_set(err, ERR_INTERNAL, "scram: no randomness");
	memcpy(keys_r->salt, mac, AUTH_SCRAM_SALT_LEN);
	keys_r->salt_len = AUTH_SCRAM_SALT_LEN;
	keys_r->iterations = AUTH_SCRAM_ITERATIONS;
	return 0;
}

int
auth_scram_lookup(struct auth *a, const char *address,
                  struct auth_scram_keys *keys_r, bool *found_r,
                  struct err *err)
{
	char addr[AUTH_ADDRESS_MAX + 1];
	int r = 0;

	*found_r = false;
	if (auth_address_normalize(address, addr, NULL) < 0) {
		/* Still a stable salt for whatever the client sent. */
		snprintf(addr, sizeof(addr), "%s", address);
	} else {
		pthread_mutex_lock(&a->lock);
		r = auth_scram_query(a, addr, keys_r, found_r, err);
		pthread_mutex_unlock(&a->lock);
	}
	if (r < 0)
		return -1;
	if (!*found_r)
		return auth_scram_fake(a, addr, keys_r, err);
	return 0;
}
