/*
 * pop3 update: the UPDATE state (RFC 1939 6), entered only by QUIT from
 * TRANSACTION.  What the session marked is applied here, according to the
 * user's settings (auth_user_info(), like Gmail's POP settings):
 *
 *   1. pop3_after_retrieve=mark-read: \Seen on every retrieved message that
 *      stays on the server (also one going to Trash);
 *   2. the messages DELE marked are expunged, or with pop3_on_delete=trash
 *      moved to Trash (recoverable over IMAP), in one store transaction;
 *   3. pop3_after_retrieve=archive: the retrieved messages that were not
 *      deleted move to Archive, in one store transaction.
 *
 * A dropped connection never gets here, so it changes nothing.  Marking
 * \Seen costs one store call per message: the store has no batch call for
 * flags yet.
 */
#include <stdlib.h>

#include "pop3/session.h"
#include "store/store.h"

#define UPDATE_TRASH "Trash"
#define UPDATE_ARCHIVE "Archive"

static int
update_mark_read(struct pop3_session *s, struct err *err)
{
	unsigned mask = POP3_MARK_RETRIEVED;
	uint32_t *uids;
	size_t n;
	int rc = 0;

	/* An expunged message needs no flag; one moved to Trash keeps it. */
	if (s->on_delete != AUTH_POP3_TRASH)
		mask |= POP3_MARK_DELETED;
	if (pop3_maildrop_uids(&s->md, mask, POP3_MARK_RETRIEVED,
	                       STORE_FLAG_SEEN, &uids, &n) < 0)
		return err_set(err, ERR_INTERNAL, "out of memory");
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = store_msg_set_flags(s->mail, POP3_MAILBOX, uids[i], 1,
		                         STORE_FLAG_SEEN, err);
		/* Expunged over IMAP meanwhile: nothing to mark. */
		if (rc < 0 && err->kind == ERR_NOTFOUND) {
			err_clear(err);
			rc = 0;
		}
	}
	free(uids);
	return rc;
}

/*
 * Moves uids from INBOX to the special mailbox to; if the user deleted
 * that mailbox over IMAP, it is created again (RFC 6154 special use).
 */
static int
update_move(struct pop3_session *s, const uint32_t *uids, size_t n,
            const char *to, const char *special_use, struct err *err)
{
	if (n == 0)
		return 0;
	if (store_move(s->mail, POP3_MAILBOX, uids, n, to, NULL, NULL, err) ==
	    0)
		return 0;
	if (err->kind != ERR_NOTFOUND)
		return -1;
	conn_log(s->c, LOG_LVL_INFO, "creating missing mailbox %s", to);
	err_clear(err);
	if (store_mailbox_create(s->mail, to, special_use, err) < 0 &&
	    err->kind != ERR_EXISTS)
		return -1;
	err_clear(err);
	return store_move(s->mail, POP3_MAILBOX, uids, n, to, NULL, NULL, err);
}

static int
update_delete(struct pop3_session *s, size_t *deleted_r, struct err *err)
{
	uint32_t *uids;
	size_t n;
	int rc = 0;

	if (pop3_maildrop_deleted_uids(&s->md, &uids, &n) < 0)
		return err_set(err, ERR_INTERNAL, "out of memory");
	if (n > 0 && s->on_delete == AUTH_POP3_TRASH)
		rc = update_move(s, uids, n, UPDATE_TRASH, "\\Trash", err);
	else if (n > 0)
		rc = store_expunge(s->mail, POP3_MAILBOX, uids, n, err);
	free(uids);
	*deleted_r = rc == 0 ? n : 0;
	return rc;
}

static int
update_archive(struct pop3_session *s, struct err *err)
{
	uint32_t *uids;
	size_t n;
	int rc;

	if (pop3_maildrop_uids(&s->md, POP3_MARK_RETRIEVED | POP3_MARK_DELETED,
	                       POP3_MARK_RETRIEVED, 0, &uids, &n) < 0)
		return err_set(err, ERR_INTERNAL, "out of memory");
	rc = update_move(s, uids, n, UPDATE_ARCHIVE, "\\Archive", err);
	free(uids);
	return rc;
}

int
pop3_update_apply(struct pop3_session *s, size_t *deleted_r,
                  const char **step_r, struct err *err)
{
	*deleted_r = 0;
	*step_r = "mark retrieved messages read";
	if (s->after_retrieve == AUTH_POP3_MARK_READ &&
	    update_mark_read(s, err) < 0)
		return -1;
	*step_r = s->on_delete == AUTH_POP3_TRASH
	              ? "move deleted messages to Trash"
	              : "remove deleted messages";
	if (update_delete(s, deleted_r, err) < 0)
		return -1;
	*step_r = "move retrieved messages to Archive";
	if (s->after_retrieve == AUTH_POP3_ARCHIVE &&
	    update_archive(s, err) < 0)
		return -1;
	*step_r = NULL;
	return 0;
}
