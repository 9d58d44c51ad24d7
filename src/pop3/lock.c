#include "pop3/lock.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * A chained hash table of the user names that are locked or logged in
 * less than login_delay ago.  Before it grows (doubling, when it holds
 * twice as many names as buckets) it drops the names whose delay is over,
 * so a login costs O(1) however many POP3 sessions are open and the table
 * holds only recent users.
 */
struct lock_entry {
	struct lock_entry *next;
	time_t last_login;
	bool held;
	char user[]; /* NUL-terminated */
};

struct pop3_locks {
	pthread_mutex_t mutex;
	struct lock_entry **buckets;
	size_t nbuckets; /* a power of two */
	size_t count;    /* entries */
	size_t held;     /* entries with held set */
	uint64_t login_delay;
};

#define LOCK_BUCKETS_INITIAL 64

/* FNV-1a: short keys, no adversarial control over the bucket count. */
static uint64_t
lock_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

int
pop3_locks_new(struct pop3_locks **locks_r, uint64_t login_delay)
{
	struct pop3_locks *l = calloc(1, sizeof(*l));

	*locks_r = NULL;
	if (l == NULL)
		return -1;
	l->login_delay = login_delay;
	l->nbuckets = LOCK_BUCKETS_INITIAL;
	l->buckets = calloc(l->nbuckets, sizeof(*l->buckets));
	if (l->buckets == NULL || pthread_mutex_init(&l->mutex, NULL) != 0) {
		free(l->buckets);
		free(l);
		return -1;
	}
	*locks_r = l;
	return 0;
}

void
pop3_locks_free(struct pop3_locks **locks)
{
	struct pop3_locks *l = *locks;

	if (l == NULL)
		return;
	for (size_t i = 0; i < l->nbuckets; i++) {
		struct lock_entry *e = l->buckets[i], *next;

		for (; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(l->buckets);
	pthread_mutex_destroy(&l->mutex);
	free(l);
	*locks = NULL;
}

/* True if a login at now would come too soon after e's last one. */
static bool
lock_too_soon(const struct pop3_locks *l, const struct lock_entry *e,
              time_t now)
{
	return l->login_delay > 0 && now >= e->last_login &&
	       (uint64_t)(now - e->last_login) < l->login_delay;
}

/* Frees the entries that are neither held nor inside their delay. */
static void
lock_prune(struct pop3_locks *l, time_t now)
{
	for (size_t i = 0; i < l->nbuckets; i++) {
		struct lock_entry **p = &l->buckets[i], *e;

		while ((e = *p) != NULL) {
			if (e->held || lock_too_soon(l, e, now)) {
				p = &e->next;
				continue;
			}
			*p = e->next;
			free(e);
			l->count--;
		}
	}
}

/* Doubles the bucket array; on allocation failure the table stays as is. */
static void
lock_grow(struct pop3_locks *l)
{
	size_t n = l->nbuckets * 2;
	struct lock_entry **b = calloc(n, sizeof(*b));

	if (b == NULL)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < l->nbuckets; i++) {
		struct lock_entry *e = l->buckets[i], *next;

		for (; e != NULL; e = next) {
			size_t k = lock_hash(e->user) & (n - 1);

			next = e->next;
			e->next = b[k];
			b[k] = e;
		}
	}
	free(l->buckets);
	l->buckets = b;
	l->nbuckets = n;
}

static struct lock_entry **
lock_find(struct pop3_locks *l, const char *user)
{
	struct lock_entry **p =
	    &l->buckets[lock_hash(user) & (l->nbuckets - 1)];

	while (*p != NULL && strcmp((*p)->user, user) != 0)
		p = &(*p)->next;
	return p;
}

enum pop3_lock_result
pop3_locks_acquire(struct pop3_locks *l, const char *user, time_t now)
{
	enum pop3_lock_result r = POP3_LOCK_OK;
	size_t len = strlen(user);
	struct lock_entry **p, *e;

	pthread_mutex_lock(&l->mutex);
	p = lock_find(l, user);
	if ((e = *p) != NULL) {
		if (e->held)
			r = POP3_LOCK_IN_USE;
		else if (lock_too_soon(l, e, now))
			r = POP3_LOCK_TOO_SOON;
	} else if ((e = malloc(sizeof(*e) + len + 1)) == NULL) {
		r = POP3_LOCK_NOMEM;
	} else {
		memcpy(e->user, user, len + 1);
		e->next = NULL;
		e->held = false;
		*p = e;
		l->count++;
	}
	if (r == POP3_LOCK_OK) {
		e->held = true;
		e->last_login = now;
		l->held++;
		/* Pruning first: growth only for names still needed. */
		if (l->count > 2 * l->nbuckets) {
			lock_prune(l, now);
			if (l->count > l->nbuckets)
				lock_grow(l);
		}
	}
	pthread_mutex_unlock(&l->mutex);
	return r;
}

void
pop3_locks_release(struct pop3_locks *l, const char *user)
{
	struct lock_entry **p, *e;

	pthread_mutex_lock(&l->mutex);
	p = lock_find(l, user);
	if ((e = *p) != NULL && e->held) {
		e->held = false;
		l->held--;
		/* Kept only while a new login would be too soon. */
		if (l->login_delay == 0) {
			*p = e->next;
			free(e);
			l->count--;
		}
	}
	pthread_mutex_unlock(&l->mutex);
}

size_t
pop3_locks_count(struct pop3_locks *l)
{
	size_t n;

	pthread_mutex_lock(&l->mutex);
	n = l->held;
	pthread_mutex_unlock(&l->mutex);
	return n;
}

size_t
pop3_locks_size(struct pop3_locks *l)
{
	size_t n;

	pthread_mutex_lock(&l->mutex);
	n = l->count;
	pthread_mutex_unlock(&l->mutex);
	return n;
}
