/*
 * store: the public functions.  They check arguments and mailbox names once
 * and dispatch to the backend, so every backend gets the same guarantees.
 */
#include "store/store_private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
	store_feed_remove(*user);
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
		free((*list)[i].id);
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

/* RFC 6154 2: the special uses a real (not virtual) mailbox can have. */
static const char *const store_special_uses[] = {
    "\\Archive", "\\Drafts", "\\Junk", "\\Sent", "\\Trash",
};

const char *
store_special_use_canon(const char *attr)
{
	size_t n = sizeof(store_special_uses) / sizeof(store_special_uses[0]);

	for (size_t i = 0; attr != NULL && i < n; i++)
		if (strcasecmp(attr, store_special_uses[i]) == 0)
			return store_special_uses[i];
	return NULL;
}

int
store_mailbox_create(struct store_user *u, const char *name,
                     const char *special_use, struct err *err)
{
	const char *canon = mailbox_arg(name, err), *use = NULL;

	if (canon == NULL)
		return -1;
	if (special_use != NULL &&
	    (use = store_special_use_canon(special_use)) == NULL)
		return err_set(err, ERR_SYNTAX,
		               "unsupported special use \"%.40s\"",
		               special_use);
	return u->store->ops->mailbox_create(u, canon, use, err);
}

int
store_mailbox_delete(struct store_user *u, const char *name, struct err *err)
{
	const char *canon = mailbox_arg(name, err);

	if (canon == NULL)
		return -1;
	if (strcmp(canon, "INBOX") == 0)
		return err_set(err, ERR_PERM, "INBOX cannot be deleted");
	return u->store->ops->mailbox_delete(u, canon, err);
}

int
store_mailbox_rename(struct store_user *u, const char *from, const char *to,
                     struct err *err)
{
	const char *f = mailbox_arg(from, err), *t;
	size_t flen;

	if (f == NULL || (t = mailbox_arg(to, err)) == NULL)
		return -1;
	if (strcmp(t, "INBOX") == 0 || strcmp(f, t) == 0)
		return err_set(err, ERR_EXISTS, "mailbox \"%.200s\" exists", t);
	flen = strlen(f);
	/* Children of INBOX stay where they are, so only others nest. */
	if (strcmp(f, "INBOX") != 0 && strncmp(t, f, flen) == 0 &&
	    t[flen] == STORE_MAILBOX_SEP)
		return err_set(err, ERR_PERM,
		               "cannot move a mailbox inside itself");
	return u->store->ops->mailbox_rename(u, f, t, err);
}

int
store_mailbox_subscribe(struct store_user *u, const char *name, bool on,
                        struct err *err)
{
	const char *canon = mailbox_arg(name, err);

	if (canon == NULL)
		return -1;
	return u->store->ops->mailbox_subscribe(u, canon, on, err);
}

int
store_append(struct store_user *u, const char *mailbox,
             const struct store_append *msg, uint32_t *uidvalidity_r,
             uint32_t *uid_r, struct err *err)
{
	const char *name = mailbox_arg(mailbox, err);

	if (name == NULL)
		return -1;
	if (msg->data == NULL && msg->len > 0)
		return err_set(err, ERR_INTERNAL, "store: no message data");
	return u->store->ops->append(u, name, msg, uidvalidity_r, uid_r, err);
}

static int
store_copy_move(struct store_user *u, const char *from, const uint32_t *uids,
                size_t count, const char *to, bool move,
                uint32_t *uidvalidity_r, uint32_t *new_uids_r, struct err *err)
{
	const char *f = mailbox_arg(from, err), *t;

	if (f == NULL || (t = mailbox_arg(to, err)) == NULL)
		return -1;
	if (new_uids_r != NULL)
		memset(new_uids_r, 0, count * sizeof(*new_uids_r));
	return u->store->ops->copy(u, f, uids, count, t, move, uidvalidity_r,
	                           new_uids_r, err);
}

int
store_copy(struct store_user *u, const char *from, const uint32_t *uids,
           size_t count, const char *to, uint32_t *uidvalidity_r,
           uint32_t *new_uids_r, struct err *err)
{
	return store_copy_move(u, from, uids, count, to, false, uidvalidity_r,
	                       new_uids_r, err);
}

int
store_move(struct store_user *u, const char *from, const uint32_t *uids,
           size_t count, const char *to, uint32_t *uidvalidity_r,
           uint32_t *new_uids_r, struct err *err)
{
	return store_copy_move(u, from, uids, count, to, true, uidvalidity_r,
	                       new_uids_r, err);
}

void
store_user_set_quota(struct store_user *u, uint64_t bytes_limit,
                     uint64_t messages_limit)
{
	u->quota_bytes = bytes_limit;
	u->quota_messages = messages_limit;
}

int
store_quota_get(struct store_user *u, struct store_quota *quota_r,
                struct err *err)
{
	memset(quota_r, 0, sizeof(*quota_r));
	return u->store->ops->quota_get(u, quota_r, err);
}
