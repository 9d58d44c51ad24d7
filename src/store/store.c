/*
 * store: the public functions.  They check arguments and mailbox names once
 * and dispatch to the backend, so every backend gets the same guarantees;
 * they keep the registry of what the handles of one user share, and take
 * that user's change lock around every change but deliveries (whose
 * backend takes it only around the commit, so blob writes run in
 * parallel).
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
	pthread_mutex_init(&s->lock, NULL);
	s->home = pthread_self();
	s->inline_max = STORE_INLINE_MAX_DEFAULT;
	/* The only backend for now; PostgreSQL + S3 will be chosen here. */
	s->ops = &store_embedded_ops;
	if (s->ops->open(s, err) < 0) {
		pthread_mutex_destroy(&s->lock);
		free(s->data_dir);
		free(s);
		return -1;
	}
	*store_r = s;
	return 0;
}

void
store_set_inline_max(struct store *s, size_t bytes)
{
	s->inline_max = bytes;
}

void
store_close(struct store **store)
{
	struct store *s = *store;

	if (s == NULL)
		return;
	s->ops->close(s);
	store_feed_free(s);
	pthread_mutex_destroy(&s->lock);
	free(s->data_dir);
	free(s);
	*store = NULL;
}

bool
store_is_home(const struct store *s)
{
	return pthread_equal(pthread_self(), s->home) != 0;
}

void
store_change_lock(struct store_user *u)
{
	pthread_mutex_lock(&u->shared->change);
}

void
store_change_unlock(struct store_user *u)
{
	pthread_mutex_unlock(&u->shared->change);
}

/* FNV-1a of the (lower-cased) address, like the watcher buckets. */
static size_t
store_shared_bucket(const char *address)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)address; *p != 0;
	     p++)
		h = (h ^ *p) * 16777619u;
	return h % STORE_FEED_BUCKETS;
}

/* Creates the shared state of u's user (under s->lock). */
static struct store_shared *
store_shared_new(struct store *s, struct store_user *u, struct err *err)
{
	struct store_shared *sh = calloc(1, sizeof(*sh));

	if (sh == NULL || (sh->address = strdup(u->address)) == NULL) {
		free(sh);
		err_set(err, ERR_TEMP, "store: out of memory");
		return NULL;
	}
	pthread_mutex_init(&sh->change, NULL);
	if (s->ops->shared_init != NULL &&
	    s->ops->shared_init(sh, u, err) < 0) {
		pthread_mutex_destroy(&sh->change);
		free(sh->address);
		free(sh);
		return NULL;
	}
	return sh;
}

/* Finds or creates what every handle of u's user shares; gives u an id. */
static int
store_shared_attach(struct store *s, struct store_user *u, struct err *err)
{
	size_t b = store_shared_bucket(u->address);
	struct store_shared *sh;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	for (sh = s->shared[b]; sh != NULL; sh = sh->next)
		if (strcmp(sh->address, u->address) == 0)
			break;
	if (sh == NULL && (sh = store_shared_new(s, u, err)) != NULL) {
		sh->next = s->shared[b];
		s->shared[b] = sh;
	}
	if (sh != NULL) {
		sh->refs++;
		u->shared = sh;
		u->id = ++s->next_id;
	} else {
		rc = -1;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* Drops one reference; the last handle of a user frees the state. */
static void
store_shared_detach(struct store *s, struct store_shared *sh)
{
	struct store_shared **pp;

	pthread_mutex_lock(&s->lock);
	if (--sh->refs > 0) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	pp = &s->shared[store_shared_bucket(sh->address)];
	while (*pp != sh)
		pp = &(*pp)->next;
	*pp = sh->next;
	pthread_mutex_unlock(&s->lock);
	if (s->ops->shared_free != NULL)
		s->ops->shared_free(sh);
	pthread_mutex_destroy(&sh->change);
	free(sh->address);
	free(sh);
}

int
store_user_open(struct store *store, const char *user,
                struct store_user **user_r, struct err *err)
{
	*user_r = NULL;
	if (user == NULL || user[0] == '\0')
		return err_set(err, ERR_SYNTAX, "store: empty user name");
	if (store->ops->user_open(store, user, user_r, err) < 0)
		return -1;
	if (store_shared_attach(store, *user_r, err) < 0) {
		store->ops->user_close(*user_r);
		*user_r = NULL;
		return -1;
	}
	return 0;
}

void
store_user_rest(struct store_user *u)
{
	if (u->store->ops->user_rest != NULL)
		u->store->ops->user_rest(u);
}

int
store_user_wake(struct store_user *u, struct err *err)
{
	if (u->store->ops->user_wake == NULL)
		return 0;
	return u->store->ops->user_wake(u, err);
}

void
store_user_close(struct store_user **user)
{
	struct store_user *u = *user;
	struct store_shared *sh;
	struct store *s;

	if (u == NULL)
		return;
	s = u->store;
	sh = u->shared;
	store_feed_remove(u);
	s->ops->user_close(u);
	if (sh != NULL)
		store_shared_detach(s, sh);
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
	if (u->store->ops->deliver(u, name, data, len, flags, uid_r, err) < 0)
		return -1;
	store_reserve_restore(u->store); /* room again after a full disk */
	return 0;
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
store_mailbox_marks(struct store_user *u, const char *mailbox,
                    struct store_mailbox_marks *marks_r, struct err *err)
{
	const char *name = mailbox_arg(mailbox, err);

	if (name == NULL)
		return -1;
	return u->store->ops->mailbox_marks(u, name, marks_r, err);
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
store_mailbox_snapshot(struct store_user *u, const char *mailbox,
                       struct store_mailbox_status *status_r,
                       struct store_msg **msgs_r, size_t *count_r,
                       struct err *err)
{
	const char *name = mailbox_arg(mailbox, err);

	*msgs_r = NULL;
	*count_r = 0;
	if (name == NULL)
		return -1;
	return u->store->ops->mailbox_snapshot(u, name, status_r, msgs_r,
	                                       count_r, err);
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
store_msg_open(struct store_user *u, const char *mailbox, uint32_t uid,
               struct store_stream **stream_r, struct err *err)
{
	const char *name = mailbox_arg(mailbox, err);

	*stream_r = NULL;
	if (name == NULL)
		return -1;
	return u->store->ops->msg_open(u, name, uid, stream_r, err);
}

uint64_t
store_stream_size(const struct store_stream *st)
{
	return st->size;
}

ssize_t
store_stream_read(struct store_stream *st, uint64_t off, void *dst, size_t len,
                  struct err *err)
{
	return st->ops->read(st, off, dst, len, err);
}

int
store_stream_fd(const struct store_stream *st)
{
	return st->ops->fd != NULL ? st->ops->fd(st) : -1;
}

void
store_stream_close(struct store_stream **st)
{
	if (*st == NULL)
		return;
	(*st)->ops->close(*st);
	*st = NULL;
}

int
store_msg_set_flags(struct store_user *u, const char *mailbox, uint32_t uid,
                    int mode, uint32_t flags, struct err *err)
{
	const char *name = mailbox_arg(mailbox, err);
	int rc;

	if (name == NULL)
		return -1;
	if (mode < -1 || mode > 1)
		return err_set(err, ERR_INTERNAL, "store: bad flag mode %d",
		               mode);
	store_change_lock(u);
	rc = u->store->ops->msg_set_flags(u, name, uid, mode, flags, err);
	store_change_unlock(u);
	return rc;
}

int
store_expunge(struct store_user *u, const char *mailbox, const uint32_t *uids,
              size_t count, struct err *err)
{
	const char *name = mailbox_arg(mailbox, err);
	int rc;

	if (name == NULL)
		return -1;
	if (count == 0)
		return 0;
	store_change_lock(u);
	rc = u->store->ops->expunge(u, name, uids, count, err);
	store_change_unlock(u);
	if (rc == 0)
		store_reserve_restore(u->store);
	return rc;
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
	int rc;

	if (canon == NULL)
		return -1;
	if (special_use != NULL &&
	    (use = store_special_use_canon(special_use)) == NULL)
		return err_set(err, ERR_SYNTAX,
		               "unsupported special use \"%.40s\"",
		               special_use);
	store_change_lock(u);
	rc = u->store->ops->mailbox_create(u, canon, use, err);
	store_change_unlock(u);
	return rc;
}

int
store_mailbox_delete(struct store_user *u, const char *name, struct err *err)
{
	const char *canon = mailbox_arg(name, err);
	int rc;

	if (canon == NULL)
		return -1;
	if (strcmp(canon, "INBOX") == 0)
		return err_set(err, ERR_PERM, "INBOX cannot be deleted");
	store_change_lock(u);
	rc = u->store->ops->mailbox_delete(u, canon, err);
	store_change_unlock(u);
	if (rc == 0) /* it may have made the room the reserve needs */
		store_reserve_restore(u->store);
	return rc;
}

int
store_mailbox_rename(struct store_user *u, const char *from, const char *to,
                     struct err *err)
{
	const char *f = mailbox_arg(from, err), *t;
	size_t flen;
	int rc;

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
	store_change_lock(u);
	rc = u->store->ops->mailbox_rename(u, f, t, err);
	store_change_unlock(u);
	return rc;
}

int
store_mailbox_subscribe(struct store_user *u, const char *name, bool on,
                        struct err *err)
{
	const char *canon = mailbox_arg(name, err);
	int rc;

	if (canon == NULL)
		return -1;
	store_change_lock(u);
	rc = u->store->ops->mailbox_subscribe(u, canon, on, err);
	store_change_unlock(u);
	return rc;
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
	if (u->store->ops->append(u, name, msg, uidvalidity_r, uid_r, err) < 0)
		return -1;
	store_reserve_restore(u->store);
	return 0;
}

static int
store_copy_move(struct store_user *u, const char *from, const uint32_t *uids,
                size_t count, const char *to, bool move,
                uint32_t *uidvalidity_r, uint32_t *new_uids_r, struct err *err)
{
	const char *f = mailbox_arg(from, err), *t;
	int rc;

	if (f == NULL || (t = mailbox_arg(to, err)) == NULL)
		return -1;
	if (new_uids_r != NULL)
		memset(new_uids_r, 0, count * sizeof(*new_uids_r));
	store_change_lock(u);
	rc = u->store->ops->copy(u, f, uids, count, t, move, uidvalidity_r,
	                         new_uids_r, err);
	store_change_unlock(u);
	return rc;
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
