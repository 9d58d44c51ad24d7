/*
 * throttle: failed-login limits shared by SMTP, IMAP and POP3.
 *
 * Failures are counted per remote address and per account (limits in
 * auth.h).  Once either count reaches its limit within the window, every
 * login from that address or for that account is refused outright for the
 * cool-down, without hashing a password: guessing stops, and a flood of
 * guesses cannot make the server spend ~19 ms of CPU on each.  A success
 * clears the account's count (not the address's: one good login must not
 * buy an attacker another round of guesses at other accounts).
 *
 * The table is a fixed array (bounded memory whatever the number of
 * addresses): a slot is found by a keyed hash, probing AUTH_THROTTLE_PROBE
 * neighbours; when all are taken, the least recently used one is reused.
 * Keys are HMACs under a random start-up key, so nobody can choose
 * addresses that collide on purpose.
 */
#include "auth/auth_private.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

/* Neighbouring slots looked at for one key. */
#define AUTH_THROTTLE_PROBE 8

struct auth_throttle_slot {
	uint64_t key;          /* 0: free */
	unsigned failures;     /* within the window */
	int64_t first;         /* time of the first counted failure */
	int64_t blocked_until; /* 0: not blocked */
	int64_t used;          /* last touched, for reuse */
};

struct auth_throttle {
	pthread_mutex_t lock;
	struct auth_throttle_limits limits;
	unsigned char secret[32];
	struct auth_throttle_slot slot[AUTH_THROTTLE_SLOTS];
};

struct auth_throttle *
auth_throttle_new(void)
{
	struct auth_throttle *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	if (RAND_bytes(t->secret, sizeof(t->secret)) != 1) {
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->limits = (struct auth_throttle_limits){
	    AUTH_THROTTLE_IP_MAX, AUTH_THROTTLE_USER_MAX,
	    AUTH_THROTTLE_WINDOW_SECS, AUTH_THROTTLE_COOLDOWN_SECS};
	return t;
}

void
auth_throttle_set_limits(struct auth_throttle *t,
                         const struct auth_throttle_limits *limits)
{
	pthread_mutex_lock(&t->lock);
	t->limits = *limits;
	pthread_mutex_unlock(&t->lock);
}

void
auth_throttle_free(struct auth_throttle **t)
{
	if (*t == NULL)
		return;
	pthread_mutex_destroy(&(*t)->lock);
	OPENSSL_clear_free(*t, sizeof(**t));
	*t = NULL;
}

/* The key of (kind, name); never 0. */
static uint64_t
auth_throttle_key(const struct auth_throttle *t, const char *kind,
                  const char *name)
{
	unsigned char mac[32], msg[AUTH_ADDRESS_MAX + 16];
	unsigned int len = sizeof(mac);
	size_t klen = strlen(kind) + 1; /* with its NUL: "ip" != "user" */
	size_t nlen = strnlen(name, sizeof(msg) - klen);
	uint64_t key = 0;

	memcpy(msg, kind, klen);
	memcpy(msg + klen, name, nlen);
	if (HMAC(EVP_sha256(), t->secret, sizeof(t->secret), msg, klen + nlen,
	         mac, &len) != NULL)
		memcpy(&key, mac, sizeof(key));
	return key != 0 ? key : 1;
}

/*
 * The slot of key: the one holding it, else (create) a free or the least
 * recently used one, reset.  NULL if absent and not creating.  Lock held.
 */
static struct auth_throttle_slot *
auth_throttle_find(struct auth_throttle *t, uint64_t key, bool create)
{
	struct auth_throttle_slot *victim = NULL;

	for (size_t i = 0; i < AUTH_THROTTLE_PROBE; i++) {
		struct auth_throttle_slot *s =
		    &t->slot[(key + i) % AUTH_THROTTLE_SLOTS];

		if (s->key == key)
			return s;
		if (victim == NULL || s->key == 0 ||
		    (victim->key != 0 && s->used < victim->used))
			victim = s;
	}
	if (!create)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	victim->key = key;
	return victim;
}

/* Seconds s stays blocked at now (0: not blocked). Lock held. */
static unsigned
auth_throttle_left(struct auth_throttle_slot *s, int64_t now)
{
	if (s == NULL || s->blocked_until == 0)
		return 0;
	if (s->blocked_until > now)
		return (unsigned)(s->blocked_until - now);
	/* The cool-down is over: start counting afresh. */
	s->blocked_until = 0;
	s->failures = 0;
	return 0;
}

/* The account as a key: lower-cased, or as given if not an address. */
static void
auth_throttle_account(const char *address, char *out)
{
	if (auth_address_normalize(address, out, NULL) < 0) {
		size_t n = strnlen(address, AUTH_ADDRESS_MAX);

		memcpy(out, address, n);
		out[n] = '\0';
	}
}

bool
auth_throttle_blocked_at(struct auth_throttle *t, const char *ip,
                         const char *address, int64_t now, unsigned *secs_r)
{
	char account[AUTH_ADDRESS_MAX + 1];
	uint64_t ikey = auth_throttle_key(t, "ip", ip);
	uint64_t ukey;
	unsigned left, uleft;

	auth_throttle_account(address, account);
	ukey = auth_throttle_key(t, "user", account);
	pthread_mutex_lock(&t->lock);
	left = auth_throttle_left(auth_throttle_find(t, ikey, false), now);
	uleft = auth_throttle_left(auth_throttle_find(t, ukey, false), now);
	pthread_mutex_unlock(&t->lock);
	if (uleft > left)
		left = uleft;
	if (secs_r != NULL)
		*secs_r = left;
	return left > 0;
}

/* Counts one failure against s, blocking it at max.  Lock held. */
static void
auth_throttle_fail(const struct auth_throttle_limits *l,
                   struct auth_throttle_slot *s, uint64_t max, int64_t now)
{
	s->used = now;
	if (s->blocked_until > now || max == 0)
		return; /* max 0: this kind of throttling is off */
	if (s->failures == 0 || now - s->first >= (int64_t)l->window_secs) {
		s->failures = 0;
		s->first = now;
	}
	if (++s->failures >= max)
		s->blocked_until = now + (int64_t)l->cooldown_secs;
}

void
auth_throttle_record_at(struct auth_throttle *t, const char *ip,
                        const char *address, bool ok, int64_t now)
{
	char account[AUTH_ADDRESS_MAX + 1];
	uint64_t ikey = auth_throttle_key(t, "ip", ip);
	uint64_t ukey;
	struct auth_throttle_slot *s;

	auth_throttle_account(address, account);
	ukey = auth_throttle_key(t, "user", account);
	pthread_mutex_lock(&t->lock);
	if (ok) {
		s = auth_throttle_find(t, ukey, false);
		if (s != NULL && s->blocked_until == 0)
			s->failures = 0;
	} else {
		auth_throttle_fail(&t->limits,
		                   auth_throttle_find(t, ikey, true),
		                   t->limits.ip_max, now);
		auth_throttle_fail(&t->limits,
		                   auth_throttle_find(t, ukey, true),
		                   t->limits.user_max, now);
	}
	pthread_mutex_unlock(&t->lock);
}

/* Monotonic seconds: a clock change must not lift or extend a block. */
static int64_t
auth_throttle_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

bool
auth_throttle_blocked(struct auth *a, const char *ip, const char *address,
                      unsigned *secs_r)
{
	return auth_throttle_blocked_at(a->throttle, ip, address,
	                                auth_throttle_now(), secs_r);
}

void
auth_set_throttle_limits(struct auth *a,
                         const struct auth_throttle_limits *limits)
{
	auth_throttle_set_limits(a->throttle, limits);
}

void
auth_throttle_record(struct auth *a, const char *ip, const char *address,
                     bool ok)
{
	auth_throttle_record_at(a->throttle, ip, address, ok,
	                        auth_throttle_now());
}

int
auth_login(struct auth *a, const char *ip, const char *address,
           const char *password, struct err *err)
{
	unsigned secs;

	if (auth_throttle_blocked(a, ip, address, &secs))
		return err_set(err, ERR_LIMIT,
		               "too many failed logins; refused for %u more "
		               "seconds",
		               secs);
	if (auth_verify(a, address, password, err) == 0) {
		auth_throttle_record(a, ip, address, true);
		return 0;
	}
	if (err == NULL || err->kind == ERR_PERM)
		auth_throttle_record(a, ip, address, false);
	return -1;
}
