/*
 * store: the public functions.  They check arguments and mailbox names once
 * and dispatch to the backend, so every backend gets the same guarantees.
 */
#include "store/store_private.h"

#include <stdlib.h>
#include <string.h>

int
store_open(const char *data_dir, struct store **store_r, struct err *err)
{
	struct store *s;

	*store_r = NULL;
	if (data_dir == NULL || data_dir[0] == '\0')
		return err_set(err, ERR_INTERNAL, "store: no data directory");
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->data_dir = strdup(data_dir)) == NULL) {
		free(s);
		return err_set(err, ERR_TEMP, "store: out of memory");
	}
	/* The only backend for now; PostgreSQL + S3 will be chosen here. */
	s->ops = &store_embedded_ops;
	if (s->ops->open(s, err) < 0) {
		free(s->data_dir);
		free(s);
		return -1;
	}
	*store_r = s;
	return 0;
}

void
store_close(struct store **store)
{
	struct store *s = *store;

	if (s == NULL)
		return;
	s->ops->close(s);
	free(s->data_dir);
	free(s);
	*store = NULL;
}

int
store_user_open(struct store *store, const char *user,
                struct store_user **user_r, struct err *err)
{
	*user_r = NULL;
	if (user == NULL || user[0] == '\0')
		return err_set(err, ERR_SYNTAX, "store: empty user name");
	return store->ops->user_open(store, user, user_r, err);
}

void
store_user_close(struct store_user **user)
{
	if (*user == NULL)
		return;
	(*user)->store->ops->user_close(*user);
	*user = NULL;
}

/* Validates a mailbox name and returns its canonical form, or NULL. */
static const char *
mailbox_arg(const char *mailbox, struct err *err)
{
	if (store_mailbox_name_check(mailbox, err) < 0)
		return NULL;
	return store_mailbox_name_canon(mailbox);
}

int
store_deliver(struct store_user *u, const char *mailbox, const void *data,
              size_t len, uint32_t flags, uint32_t *uid_r, struct err *err)
{
	const char *name = mailbox_arg(mailbox, err);

	if (name == NULL)
		return -1;
	if (data == NULL && len > 0)
		return err_set(err, ERR_INTERNAL, "store: no message data");
	return u->store->ops->deliver(u, name, data, len, flags, uid_r, err);
}

int
store_mailbox_status(struct store_user *u, const char *mailbox,
                     struct store_mailbox_status *status_r, struct err *err)
{
	const char *name = mailbox_arg(mailbox, err);

	if (name == NULL)
		return -1;
	return u->store->ops->mailbox_status(u, name, status_r, err);
}

int
store_mailbox_messages(struct store_user *u, const char *mailbox,
                       struct store_msg **msgs_r, size_t *count_r,
                       struct err *err)
{
	const char *name = mailbox_arg(mailbox, err);

	*msgs_r = NULL;
	*count_r = 0;
	if (name == NULL)
		return -1;
	return u->store->ops->mailbox_messages(u, name, msgs_r, count_r, err);
}

int
store_mailbox_list(struct store_user *u, struct store_mailbox_info **list_r,
                   size_t *count_r, struct err *err)
{
	*list_r = NULL;
	*count_r = 0;
	return u->store->ops->mailbox_list(u, list_r, count_r, err);
}

void
store_mailbox_list_free(struct store_mailbox_info **list, size_t count)
{
	if (*list == NULL)
		return;
	for (size_t i = 0; i < count; i++) {
		free((*list)[i].name);
		free((*list)[i].special_use);
	}
	free(*list);
	*list = NULL;
}

int
store_msg_read(struct store_user *u, const char *mailbox, uint32_t uid,
               struct buf *out, struct err *err)
{
	const char *name = mailbox_arg(mailbox, err);

	if (name == NULL)
		return -1;
	return u->store->ops->msg_read(u, name, uid, out, err);
}

int
store_msg_set_flags(struct store_user *u, const char *mailbox, uint32_t uid,
                    int mode, uint32_t flags, struct err *err)
{
	const char *name = mailbox_arg(mailbox, err);

	if (name == NULL)
		return -1;
	if (mode < -1 || mode > 1)
		return err_set(err, ERR_INTERNAL, "store: bad flag mode %d",
		               mode);
	return u->store->ops->msg_set_flags(u, name, uid, mode, flags, err);
}

int
store_expunge(struct store_user *u, const char *mailbox, const uint32_t *uids,
              size_t count, struct err *err)
{
	const char *name = mailbox_arg(mailbox, err);

	if (name == NULL)
		return -1;
	if (count == 0)
		return 0;
	return u->store->ops->expunge(u, name, uids, count, err);
}
