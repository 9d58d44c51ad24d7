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

struct store {
	const struct store_backend_ops *ops;
	char *data_dir;
	void *backend; /* the backend's own state, or NULL */
};

/*
 * The part of an opened user that every backend has.  A backend allocates
 * a larger struct whose first member is this one and gets it back with
 * a cast (see embedded_user_of()).
 */
struct store_user {
	struct store *store;
	char *address; /* lower-cased */
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
};

/* The SQLite + blob files backend (embedded_*.c). */
extern const struct store_backend_ops store_embedded_ops;

#endif
