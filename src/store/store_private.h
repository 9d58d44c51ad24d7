/*
 * store_private: what the public store functions (store.c) and a backend
 * share.  Protocols never include this file.
 *
 * store.c validates and canonicalises every mailbox name before a backend
 * sees it, so a backend can trust that the name passed
 * store_mailbox_name_check() and that INBOX is spelled "INBOX".
 */
#ifndef POSTAMT_STORE_STORE_PRIVATE_H
#define POSTAMT_STORE_STORE_PRIVATE_H

#include <pthread.h>
#include <time.h>

#include "store/store.h"

struct store_backend_ops;
struct store_feed_item;

/* The change-feed registry: watching handles hashed by user address. */
#define STORE_FEED_BUCKETS 256

/*
 * What every open handle of one user in this process shares (store.c):
 * found by address when a handle opens, freed with the last handle.
 */
struct store_shared {
	struct store_shared *next; /* in store->shared[bucket] */
	char *address;             /* lower-cased */
	unsigned refs;             /* open handles; under store->lock */
	/*
	 * The change lock (store_change_lock()): held from before a change's
	 * commit until its changes are queued, so the feed's queue is in
	 * commit order even when commits come from several threads.
	 */
	pthread_mutex_t change;
	void *backend; /* the backend's per-user state (group commit) */
	/*
	 * Keyword names added by this process's handles (atomic): a handle
	 * reloads its names only when this moved (embedded_keywords.c).
	 */
	uint64_t kw_gen;
};

/*
 * Threads: the handles of one store may be used by several threads at
 * once, each handle by one thread at a time.  lock guards shared[] and the
 * change queue; watchers[] is touched only on the home thread (the one that
 * called store_open(): the event loop), like every watching handle.
 */
struct store {
	const struct store_backend_ops *ops;
	char *data_dir;
	void *backend; /* the backend's own state, or NULL */
	pthread_mutex_t lock;
	pthread_t home;
	struct store_shared *shared[STORE_FEED_BUCKETS];
	struct store_user *watchers[STORE_FEED_BUCKETS];
	/* Committed changes not yet announced, in commit order. */
	struct store_feed_item *queue_head, *queue_tail;
	bool draining;     /* store_flush_changes() is running (home only) */
	uint64_t next_id;  /* the last handle id given out */
	void *indexer;     /* the backend's background indexer, or NULL */
	void *pool;        /* the backend's resting handles, or NULL */
	uint64_t boot;     /* random per store_open(): this process's run */
	size_t inline_max; /* store_set_inline_max() */
	/* reserve.c, under lock */
	size_t reserve_bytes;
	bool reserve_missing; /* released, or no room to make it */
	time_t reserve_tried;
};

/*
 * The disk reserve (reserve.c): store_reserve_release() removes it after
 * a deletion failed for want of space (the caller then tries once more);
 * store_reserve_restore() makes it again once there is room, at most
 * every few seconds (cheap when in place).
 */
void store_reserve_release(struct store *s);
void store_reserve_restore(struct store *s);

/*
 * The part of an opened user that every backend has.  A backend allocates
 * a larger struct whose first member is this one and gets it back with
 * a cast (see embedded_user_of()).
 */
struct store_user {
	struct store *store;
	char *address;                        /* lower-cased */
	uint64_t quota_bytes, quota_messages; /* 0: no limit */
	store_change_fn watch_fn;             /* NULL: not watching */
	void *watch_arg;
	struct store_user *watch_next; /* in store->watchers[bucket] */
	/* What points at this one there: removal in O(1) (10,000 IDLE). */
	struct store_user **watch_pprev;
	uint64_t id;                 /* unique in the store: the origin */
	struct store_shared *shared; /* of every handle of this user */
};

/* True on the thread that opened the store (the event loop's). */
bool store_is_home(const struct store *s);

/*
 * The change lock of u's user (struct store_shared): take it before the
 * transaction of a change and release it after store_feed_publish() of
 * everything it changed.  store.c takes it around every backend operation
 * that changes something except deliver and append, whose backend takes
 * it itself (group commit).  Lock order: change lock, then the index.
 */
void store_change_lock(struct store_user *u);
void store_change_unlock(struct store_user *u);

/*
 * Publishes one committed change of u (store_feed.c).  Backends call it
 * right after each commit, in commit order, holding the change lock.  It
 * queues the change; on the home thread it then announces the queue
 * (store_flush_changes()).  A change published on another thread is also
 * announced to u itself, if u watches: its protocol cannot know where its
 * change falls among the changes of other sessions announced before its
 * done() callback runs (store.h).
 */
void store_feed_publish(struct store_user *u, const struct store_change *ch);

/* Frees the changes still queued (store_close()). */
void store_feed_free(struct store *s);

/* Stops u watching (store_user_watch(u, NULL, NULL)). */
void store_feed_remove(struct store_user *u);

/*
 * Canonical spelling of a special-use attribute ("\\Archive" ...), or NULL
 * if it is not one the store supports (store.c).
 */
const char *store_special_use_canon(const char *attr);

/* What a backend puts first in its stream (store_msg_open()). */
struct store_stream_ops {
	ssize_t (*read)(struct store_stream *st, uint64_t off, void *dst,
	                size_t len, struct err *err);
	void (*close)(struct store_stream *st);
	/* Optional: a descriptor of the bytes (store_stream_fd()). */
	int (*fd)(const struct store_stream *st);
};

struct store_stream {
	const struct store_stream_ops *ops;
	uint64_t size;
};

/*
 * A backend: the same operations as the public API, with mailbox names
 * already validated.  Each returns 0 or -1 with err filled, like the
 * public function of the same name.
 */
struct store_backend_ops {
	const char *name;
	int (*open)(struct store *s, struct err *err);
	void (*close)(struct store *s);
	int (*user_open)(struct store *s, const char *address,
	                 struct store_user **user_r, struct err *err);
	void (*user_close)(struct store_user *u);
	int (*deliver)(struct store_user *u, const char *mailbox,
	               const void *data, size_t len, uint32_t flags,
	               uint32_t *uid_r, struct err *err);
	int (*mailbox_status)(struct store_user *u, const char *mailbox,
	                      struct store_mailbox_status *status_r,
	                      struct err *err);
	int (*mailbox_marks)(struct store_user *u, const char *mailbox,
	                     struct store_mailbox_marks *marks_r,
	                     struct err *err);
	int (*mailbox_snapshot)(struct store_user *u, const char *mailbox,
	                        struct store_mailbox_status *status_r,
	                        struct store_msg **msgs_r, size_t *count_r,
	                        struct err *err);
	int (*mailbox_messages)(struct store_user *u, const char *mailbox,
	                        struct store_msg **msgs_r, size_t *count_r,
	                        struct err *err);
	int (*mailbox_list)(struct store_user *u,
	                    struct store_mailbox_info **list_r, size_t *count_r,
	                    struct err *err);
	int (*msg_read)(struct store_user *u, const char *mailbox, uint32_t uid,
	                struct buf *out, struct err *err);
	int (*msg_open)(struct store_user *u, const char *mailbox, uint32_t uid,
	                struct store_stream **stream_r, struct err *err);
	int (*msg_set_flags)(struct store_user *u, const char *mailbox,
	                     uint32_t uid, int mode, uint32_t flags,
	                     struct err *err);
	int (*expunge)(struct store_user *u, const char *mailbox,
	               const uint32_t *uids, size_t count, struct err *err);
	int (*mailbox_create)(struct store_user *u, const char *name,
	                      const char *special_use, struct err *err);
	int (*mailbox_delete)(struct store_user *u, const char *name,
	                      struct err *err);
	int (*mailbox_rename)(struct store_user *u, const char *from,
	                      const char *to, struct err *err);
	int (*mailbox_subscribe)(struct store_user *u, const char *name,
	                         bool on, struct err *err);
	int (*append)(struct store_user *u, const char *mailbox,
	              const struct store_append *msg, uint32_t *uidvalidity_r,
	              uint32_t *uid_r, struct err *err);
	/* move: copy and expunge in one transaction. */
	int (*copy)(struct store_user *u, const char *from,
	            const uint32_t *uids, size_t count, const char *to,
	            bool move, uint32_t *uidvalidity_r, uint32_t *new_uids_r,
	            struct err *err);
	int (*quota_get)(struct store_user *u, struct store_quota *quota_r,
	                 struct err *err);
	/*
	 * Optional: set up (sh->backend) and free the per-user state shared
	 * by every handle of a user, e.g. a group-commit queue.  shared_init
	 * runs under store->lock when the first handle of a user opens, with
	 * that handle; shared_free when the last one closes.
	 */
	int (*shared_init)(struct store_shared *sh, struct store_user *u,
	                   struct err *err);
	void (*shared_free)(struct store_shared *sh);
	/*
	 * Optional: give up the handle's database while it waits (IMAP
	 * IDLE), and take one again (store.h store_user_rest()).
	 */
	void (*user_rest)(struct store_user *u);
	int (*user_wake)(struct store_user *u, struct err *err);
};

/* The SQLite + blob files backend (embedded_*.c). */
extern const struct store_backend_ops store_embedded_ops;

#endif
