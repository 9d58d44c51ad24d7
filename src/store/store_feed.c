/*
 * store_feed: the change feed (store.h "The change feed").
 *
 * Watching handles sit in struct store, hashed by user address into
 * buckets, so publishing a change costs the handles of that bucket, not
 * every session of the server.  Publishing is synchronous: when the
 * backend's commit returns, every other session of the user has recorded
 * the change, so commit order is delivery order.
 */
#include "store/store_private.h"

#include <string.h>

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
	struct store_user **pp;

	if (u->watch_fn == NULL)
		return;
	pp = &u->store->watchers[store_feed_bucket(u->address)];
	for (; *pp != NULL; pp = &(*pp)->watch_next) {
		if (*pp == u) {
			*pp = u->watch_next;
			break;
		}
	}
	u->watch_fn = NULL;
	u->watch_arg = NULL;
	u->watch_next = NULL;
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
	u->store->watchers[b] = u;
}

void
store_feed_publish(struct store_user *u, const struct store_change *ch)
{
	struct store_user *w, *next;

	for (w = u->store->watchers[store_feed_bucket(u->address)]; w != NULL;
	     w = next) {
		/* A callback may stop watching; the next one is kept first. */
		next = w->watch_next;
		if (w != u && w->watch_fn != NULL &&
		    strcmp(w->address, u->address) == 0)
			w->watch_fn(w->watch_arg, ch);
	}
}
