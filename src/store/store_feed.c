/*
 * store_feed: the change feed (store.h "The change feed").
 *
 * Watching handles sit in struct store, hashed by user address into
 * buckets, so announcing a change costs the handles of that bucket, not
 * every session of the server.  Commits on any thread queue their changes
 * (one FIFO per store, filled under each user's change lock, so it is in
 * commit order per user); the home thread empties the queue and calls the
 * watchers, so a session is only ever called on its own event loop.
 */
#include "store/store_private.h"

#include <stdlib.h>
#include <string.h>

/* A queued change; the strings point into the same allocation. */
struct store_feed_item {
	struct store_feed_item *next;
	struct store_change ch;
	const char *address; /* the user's, lower-cased */
	uint64_t origin;     /* id of the handle that made the change */
	bool echo;           /* announce to the origin too */
};

/* FNV-1a: cheap, and the address is already lower-cased. */
static size_t
store_feed_bucket(const char *address)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)address; *p != 0;
	     p++)
		h = (h ^ *p) * 16777619u;
	return h % STORE_FEED_BUCKETS;
}

void
store_feed_remove(struct store_user *u)
{
	if (u->watch_fn == NULL)
		return;
	*u->watch_pprev = u->watch_next;
	if (u->watch_next != NULL)
		u->watch_next->watch_pprev = u->watch_pprev;
	u->watch_fn = NULL;
	u->watch_arg = NULL;
	u->watch_next = NULL;
	u->watch_pprev = NULL;
}

void
store_user_watch(struct store_user *u, store_change_fn fn, void *arg)
{
	size_t b;

	store_feed_remove(u);
	if (fn == NULL)
		return;
	b = store_feed_bucket(u->address);
	u->watch_fn = fn;
	u->watch_arg = arg;
	u->watch_next = u->store->watchers[b];
	if (u->watch_next != NULL)
		u->watch_next->watch_pprev = &u->watch_next;
	u->watch_pprev = &u->store->watchers[b];
	u->store->watchers[b] = u;
}

/* Copies s into *p (advancing it); returns the copy, or NULL for NULL. */
static const char *
store_feed_copy(char **p, const char *s)
{
	char *d = *p;
	size_t n;

	if (s == NULL)
		return NULL;
	n = strlen(s) + 1;
	memcpy(d, s, n);
	*p += n;
	return d;
}

/* One allocation holding the change and its strings; NULL if no memory. */
static struct store_feed_item *
store_feed_item_new(const struct store_user *u, const struct store_change *ch)
{
	size_t n = sizeof(struct store_feed_item) + strlen(u->address) + 1;
	struct store_feed_item *it;
	char *p;

	n += ch->mailbox != NULL ? strlen(ch->mailbox) + 1 : 0;
	n += ch->new_name != NULL ? strlen(ch->new_name) + 1 : 0;
	if ((it = malloc(n)) == NULL)
		return NULL;
	p = (char *)(it + 1);
	it->next = NULL;
	it->ch = *ch;
	it->address = store_feed_copy(&p, u->address);
	it->ch.mailbox = store_feed_copy(&p, ch->mailbox);
	it->ch.new_name = store_feed_copy(&p, ch->new_name);
	it->origin = u->id;
	it->echo = !store_is_home(u->store);
	return it;
}

void
store_feed_publish(struct store_user *u, const struct store_change *ch)
{
	struct store *s = u->store;
	struct store_feed_item *it = store_feed_item_new(u, ch);

	/*
	 * Out of memory: the change is committed but not announced; sessions
	 * catch up from the index at their next command (imap_sync_check).
	 */
	if (it != NULL) {
		pthread_mutex_lock(&s->lock);
		if (s->queue_tail != NULL)
			s->queue_tail->next = it;
		else
			s->queue_head = it;
		s->queue_tail = it;
		pthread_mutex_unlock(&s->lock);
	}
	store_flush_changes(s);
}

/* Calls the watchers of one change (home thread). */
static void
store_feed_announce(struct store *s, const struct store_feed_item *it)
{
	struct store_user *w, *next;

	for (w = s->watchers[store_feed_bucket(it->address)]; w != NULL;
	     w = next) {
		/* A callback may stop watching; the next one is kept first. */
		next = w->watch_next;
		if ((w->id != it->origin || it->echo) && w->watch_fn != NULL &&
		    strcmp(w->address, it->address) == 0)
			w->watch_fn(w->watch_arg, &it->ch);
	}
}

void
store_flush_changes(struct store *s)
{
	struct store_feed_item *it;

	/*
	 * A callback that leads to another flush must not announce later
	 * changes before this one reached every watcher: the outer loop
	 * takes them in turn.
	 */
	if (s == NULL || !store_is_home(s) || s->draining)
		return;
	s->draining = true;
	for (;;) {
		pthread_mutex_lock(&s->lock);
		it = s->queue_head;
		if (it != NULL && (s->queue_head = it->next) == NULL)
			s->queue_tail = NULL;
		pthread_mutex_unlock(&s->lock);
		if (it == NULL)
			break;
		store_feed_announce(s, it);
		free(it);
	}
	s->draining = false;
}

void
store_feed_free(struct store *s)
{
	struct store_feed_item *it;

	while ((it = s->queue_head) != NULL) {
		s->queue_head = it->next;
		free(it);
	}
	s->queue_tail = NULL;
}
