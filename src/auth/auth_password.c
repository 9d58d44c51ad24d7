/*
 * auth_password: hashing, checking and generating passwords.
 *
 * libxcrypt does the work: new hashes are yescrypt ("$y$"); crypt_rn()
 * recognises the method from the stored hash, so bcrypt ("$2b$") and
 * SHA512-CRYPT ("$6$") hashes imported from other servers verify too.
 */
#include "auth/auth_private.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

/* No 0/O/o, 1/l/I: a password read aloud or from paper must survive. */
static const char auth_alphabet[] =
    "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

#define AUTH_GENERATED_LEN 20

/* Hashes password with setting into out; false on any failure. */
static bool
auth_crypt(const char *password, const char *setting, char *out)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	bool ok = false;

	/* struct crypt_data is tens of kilobytes: never on a loop's stack. */
	if (cd == NULL)
		return false;
	if (crypt_rn(password, setting, cd, sizeof(*cd)) != NULL &&
	    cd->output[0] != '*') {
		memcpy(out, cd->output, CRYPT_OUTPUT_SIZE);
		ok = true;
	}
	OPENSSL_cleanse(cd, sizeof(*cd)); /* it held the password */
	free(cd);
	return ok;
}

int
auth_password_hash(const char *password, char *out, struct err *err)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	size_t len = strnlen(password, CRYPT_MAX_PASSPHRASE_SIZE);

	if (len == 0)
		return err_set(err, ERR_SYNTAX, "empty password");
	if (len >= CRYPT_MAX_PASSPHRASE_SIZE)
		return err_set(err, ERR_SYNTAX, "password longer than %d bytes",
		               CRYPT_MAX_PASSPHRASE_SIZE - 1);
	/* count 0: libxcrypt's default cost for yescrypt. */
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting, sizeof(setting)) ==
	        NULL ||
	    !auth_crypt(password, setting, out))
		return err_set(err, ERR_INTERNAL, "accounts: crypt failed");
	return 0;
}

bool
auth_password_check(const char *password, const char *setting)
{
	char out[CRYPT_OUTPUT_SIZE];
	size_t len = strlen(setting);
	bool ok;

	if (strnlen(password, CRYPT_MAX_PASSPHRASE_SIZE) >=
	        CRYPT_MAX_PASSPHRASE_SIZE ||
	    !auth_crypt(password, setting, out))
		return false;
	ok = strlen(out) == len && CRYPTO_memcmp(out, setting, len) == 0;
	OPENSSL_cleanse(out, sizeof(out));
	return ok;
}

bool
auth_password_is_usable(const char *setting)
{
	char out[CRYPT_OUTPUT_SIZE];
	size_t len = strlen(setting);

	/*
	 * Hashing anything with it must give a string as long as the hash
	 * itself: a mere salt, or a method libxcrypt lacks, does not.
	 */
	if (len < 13 || !auth_crypt("postamt-probe", setting, out))
		return false;
	return strlen(out) == len;
}

int
auth_password_dummy(struct auth *a, struct err *err)
{
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, a->dummy_setting,
	                     sizeof(a->dummy_setting)) == NULL)
		return err_set(err, ERR_INTERNAL,
		               "accounts: crypt_gensalt failed");
	if (RAND_bytes(a->scram_secret, sizeof(a->scram_secret)) != 1)
		return err_set(err, ERR_INTERNAL, "accounts: no randomness");
	return 0;
}

int
auth_generate_password(char *out, size_t size)
{
	/* 224 = 4 * 56: bytes at or above it are redrawn to avoid bias. */
	const unsigned limit = 256 - 256 % (sizeof(auth_alphabet) - 1);
	unsigned char r[64];
	size_t n = 0;

	if (size < AUTH_GENERATED_LEN + 1)
		return -1;
	while (n < AUTH_GENERATED_LEN) {
		if (RAND_bytes(r, sizeof(r)) != 1)
			return -1;
		for (size_t i = 0; i < sizeof(r) && n < AUTH_GENERATED_LEN; i++)
			if (r[i] < limit)
				out[n++] =
				    auth_alphabet[r[i] %
				                  (sizeof(auth_alphabet) - 1)];
	}
	out[n] = '\0';
	OPENSSL_cleanse(r, sizeof(r));
	return 0;
}
