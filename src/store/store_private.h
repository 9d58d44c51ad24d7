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

#include "store/store.h"

struct store_backend_ops;

/* The change-feed registry: watching handles hashed by user address. */
#define STORE_FEED_BUCKETS 256

struct store {
	const struct store_backend_ops *ops;
	char *data_dir;
	void *backend; /* the backend's own state, or NULL */
	struct store_user *watchers[STORE_FEED_BUCKETS];
};

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
};

/*
 * Publishes one committed change of u to every other watching handle of
 * the same user (store_feed.c).  Backends call it right after each commit,
 * in commit order.
 */
void store_feed_publish(struct store_user *u, const struct store_change *ch);

/* Stops u watching (store_user_watch(u, NULL, NULL)). */
void store_feed_remove(struct store_user *u);

/*
 * Canonical spelling of a special-use attribute ("\\Archive" ...), or NULL
 * if it is not one the store supports (store.c).
 */
const char *store_special_use_canon(const char *attr);

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
	int (*mailbox_messages)(struct store_user *u, const char *mailbox,
	                        struct store_msg **msgs_r, size_t *count_r,
	                        struct err *err);
	int (*mailbox_list)(struct store_user *u,
	                    struct store_mailbox_info **list_r, size_t *count_r,
	                    struct err *err);
	int (*msg_read)(struct store_user *u, const char *mailbox, uint32_t uid,
	                struct buf *out, struct err *err);
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
};

/* The SQLite + blob files backend (embedded_*.c). */
extern const struct store_backend_ops store_embedded_ops;

#endif
