/*
 * auth_cache: remembers recent successful logins so a mail client that
 * reconnects often (phones do, every few minutes, and IMAP clients open
 * several connections) does not cost a yescrypt hash (~20 ms of CPU) each
 * time.  Dovecot's auth cache does the same.
 *
 * Only successes are cached, so guessing still costs a full hash per try.
 * Nothing secret is kept in clear: a slot holds SHA-256 of the address,
 * SHA-256 of the stored password hash (so a password change or a deleted
 * user misses), and an HMAC of the password under a key made at start-up
 * and never written anywhere.  The table is a fixed array (bounded memory);
 * a colliding login simply replaces the older entry.
 */
#include "auth/auth_private.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

/* Entries kept (a power of two) and how long one stays valid. */
#define AUTH_CACHE_SLOTS 4096
#define AUTH_CACHE_TTL_SECS 3600

struct auth_cache_slot {
	unsigned char addr[32];
	unsigned char stored[32];
	unsigned char mac[32];
	time_t expires;
};

struct auth_cache {
	unsigned char key[32];
	struct auth_cache_slot slot[AUTH_CACHE_SLOTS];
};

struct auth_cache *
auth_cache_new(void)
{
	struct auth_cache *c = calloc(1, sizeof(*c));

	if (c != NULL && RAND_bytes(c->key, sizeof(c->key)) != 1) {
		free(c);
		return NULL;
	}
	return c;
}

void
auth_cache_free(struct auth_cache **c)
{
	if (*c != NULL)
		OPENSSL_clear_free(*c, sizeof(**c));
	*c = NULL;
}

static void
sha256(const char *s, unsigned char out[32])
{
	EVP_Digest(s, strlen(s), out, NULL, EVP_sha256(), NULL);
}

/* Fills probe for (address, stored hash, password) and returns its slot. */
static struct auth_cache_slot *
auth_cache_probe(struct auth_cache *c, const char *address, const char *stored,
                 const char *password, struct auth_cache_slot *probe)
{
	unsigned int len = sizeof(probe->mac);
	size_t index;

	sha256(address, probe->addr);
	sha256(stored, probe->stored);
	HMAC(EVP_sha256(), c->key, sizeof(c->key),
	     (const unsigned char *)password, strlen(password), probe->mac,
	     &len);
	memcpy(&index, probe->addr, sizeof(index));
	return &c->slot[index % AUTH_CACHE_SLOTS];
}

bool
auth_cache_check(struct auth_cache *c, const char *address, const char *stored,
                 const char *password)
{
	struct auth_cache_slot probe, *s;

	if (c == NULL)
		return false;
	s = auth_cache_probe(c, address, stored, password, &probe);
	return s->expires > time(NULL) &&
	       CRYPTO_memcmp(s->addr, probe.addr, 32) == 0 &&
	       CRYPTO_memcmp(s->stored, probe.stored, 32) == 0 &&
	       CRYPTO_memcmp(s->mac, probe.mac, 32) == 0;
}

void
auth_cache_remember(struct auth_cache *c, const char *address,
                    const char *stored, const char *password)
{
	struct auth_cache_slot probe, *s;

	if (c == NULL)
		return;
	s = auth_cache_probe(c, address, stored, password, &probe);
	probe.expires = time(NULL) + AUTH_CACHE_TTL_SECS;
	*s = probe;
	OPENSSL_cleanse(&probe, sizeof(probe));
}
