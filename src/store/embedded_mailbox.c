/*
 * embedded_mailbox: reading mailbox state (STATUS, the message list, the
 * mailbox list).
 */
#include "store/embedded_private.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

int
embedded_mailbox_marks(struct store_user *pub, const char *mailbox,
                       struct store_mailbox_marks *marks_r, struct err *err)
{
	struct emb_counters c;

	if (embedded_counters_get(embedded_user_of(pub), mailbox, &c, err) < 0)
		return -1;
	marks_r->uidvalidity = (uint32_t)c.uidvalidity;
	marks_r->uidnext = (uint32_t)c.uidnext;
	marks_r->highestmodseq = (uint64_t)c.modseq;
	return 0;
}

int
embedded_mailbox_status(struct store_user *pub, const char *mailbox,
                        struct store_mailbox_status *status_r, struct err *err)
{
	struct embedded_user *u = embedded_user_of(pub);
	sqlite3_stmt *st;
	int rc;

	/* One statement, so the counts and counters are one snapshot. */
	if (embedded_stmt(u, EMB_MBOX_STATUS, &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, mailbox, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, STORE_FLAG_SEEN);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		memset(status_r, 0, sizeof(*status_r));
		status_r->uidvalidity = (uint32_t)sqlite3_column_int64(st, 0);
		status_r->uidnext = (uint32_t)sqlite3_column_int64(st, 1);
		status_r->highestmodseq = (uint64_t)sqlite3_column_int64(st, 2);
		status_r->messages = (uint32_t)sqlite3_column_int64(st, 3);
		status_r->unseen = (uint32_t)sqlite3_column_int64(st, 4);
		status_r->size = (uint64_t)sqlite3_column_int64(st, 5);
		if (sqlite3_column_text(st, 6) != NULL)
			snprintf(status_r->mailboxid,
			         sizeof(status_r->mailboxid), "%s",
			         (const char *)sqlite3_column_text(st, 6));
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return err_set(err, ERR_NOTFOUND, "no mailbox \"%.200s\"",
		               mailbox);
	if (rc != SQLITE_ROW)
		return embedded_db_error(u, rc, "status", err);
	return 0;
}

/* Appends one row of EMB_MSG_LIST to *msgs, growing it as needed. */
static int
emb_msgs_push(sqlite3_stmt *st, struct store_msg **msgs, size_t *count,
              size_t *cap)
{
	struct store_msg *m;

	if (*count == *cap) {
		size_t ncap = *cap != 0 ? *cap * 2 : 64;

		m = reallocarray(*msgs, ncap, sizeof(**msgs));
		if (m == NULL)
			return -1;
		*msgs = m;
		*cap = ncap;
	}
	m = &(*msgs)[(*count)++];
	m->uid = (uint32_t)sqlite3_column_int64(st, 0);
	m->flags = (uint32_t)sqlite3_column_int64(st, 1);
	m->size = (uint64_t)sqlite3_column_int64(st, 2);
	m->internaldate = sqlite3_column_int64(st, 3);
	m->modseq = (uint64_t)sqlite3_column_int64(st, 4);
	return 0;
}

/* Reads the messages of mailbox id mbox (inside a read transaction). */
static int
emb_msgs_read(struct embedded_user *u, int64_t mbox, struct store_msg **msgs_r,
              size_t *count_r, struct err *err)
{
	struct store_msg *msgs = NULL;
	size_t count = 0, cap = 0;
	sqlite3_stmt *st;
	int rc;

	if (embedded_stmt(u, EMB_MSG_LIST, &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, mbox);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (emb_msgs_push(st, &msgs, &count, &cap) < 0) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		free(msgs);
		return embedded_db_error(u, rc, "message list", err);
	}
	*msgs_r = msgs;
	*count_r = count;
	return 0;
}

int
embedded_mailbox_messages(struct store_user *pub, const char *mailbox,
                          struct store_msg **msgs_r, size_t *count_r,
                          struct err *err)
{
	struct embedded_user *u = embedded_user_of(pub);
	int64_t mbox;

	/* A read transaction: the mailbox and its rows are one snapshot. */
	if (embedded_run(u, EMB_BEGIN, err) < 0)
		return -1;
	if (embedded_mailbox_id(u, mailbox, &mbox, err) < 0 ||
	    emb_msgs_read(u, mbox, msgs_r, count_r, err) < 0 ||
	    embedded_run(u, EMB_COMMIT, err) < 0) {
		embedded_rollback(u);
		free(*msgs_r);
		*msgs_r = NULL;
		*count_r = 0;
		return -1;
	}
	return 0;
}

int
embedded_mailbox_snapshot(struct store_user *pub, const char *mailbox,
                          struct store_mailbox_status *status_r,
                          struct store_msg **msgs_r, size_t *count_r,
                          struct err *err)
{
	struct embedded_user *u = embedded_user_of(pub);
	struct emb_counters c;

	memset(status_r, 0, sizeof(*status_r));
	if (embedded_run(u, EMB_BEGIN, err) < 0)
		return -1;
	if (embedded_counters_get(u, mailbox, &c, err) < 0 ||
	    emb_msgs_read(u, c.id, msgs_r, count_r, err) < 0 ||
	    embedded_run(u, EMB_COMMIT, err) < 0) {
		embedded_rollback(u);
		free(*msgs_r);
		*msgs_r = NULL;
		*count_r = 0;
		return -1;
	}
	status_r->uidvalidity = (uint32_t)c.uidvalidity;
	status_r->uidnext = (uint32_t)c.uidnext;
	status_r->highestmodseq = (uint64_t)c.modseq;
	memcpy(status_r->mailboxid, c.objectid, sizeof(status_r->mailboxid));
	status_r->messages = (uint32_t)*count_r;
	for (size_t i = 0; i < *count_r; i++) {
		status_r->unseen += ((*msgs_r)[i].flags & STORE_FLAG_SEEN) == 0;
		status_r->size += (*msgs_r)[i].size;
	}
	return 0;
}

static char *
emb_column_strdup(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return t != NULL ? strdup((const char *)t) : NULL;
}

static int
emb_list_push(sqlite3_stmt *st, struct store_mailbox_info **list, size_t *count,
              size_t *cap)
{
	struct store_mailbox_info *m;

	if (*count == *cap) {
		size_t ncap = *cap != 0 ? *cap * 2 : 16;

		m = reallocarray(*list, ncap, sizeof(**list));
		if (m == NULL)
			return -1;
		*list = m;
		*cap = ncap;
	}
	m = &(*list)[*count];
	m->name = emb_column_strdup(st, 0);
	m->special_use = emb_column_strdup(st, 1);
	m->subscribed = sqlite3_column_int(st, 2) != 0;
	m->id = emb_column_strdup(st, 3);
	(*count)++;
	if (m->name == NULL || m->id == NULL ||
	    (m->special_use == NULL &&
	     sqlite3_column_type(st, 1) != SQLITE_NULL))
		return -1;
	return 0;
}

int
embedded_mailbox_list(struct store_user *pub,
                      struct store_mailbox_info **list_r, size_t *count_r,
                      struct err *err)
{
	struct embedded_user *u = embedded_user_of(pub);
	struct store_mailbox_info *list = NULL;
	size_t count = 0, cap = 0;
	sqlite3_stmt *st;
	int rc;

	if (embedded_stmt(u, EMB_MBOX_LIST, &st, err) < 0)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (emb_list_push(st, &list, &count, &cap) < 0) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_mailbox_list_free(&list, count);
		return embedded_db_error(u, rc, "mailbox list", err);
	}
	*list_r = list;
	*count_r = count;
	return 0;
}
