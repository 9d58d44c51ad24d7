/*
 * embedded_sort: store_sort_info() (store/search.h), the per-message keys
 * SORT and THREAD (RFC 5256) and SORT=DISPLAY (RFC 5957) need, read from
 * msg_cache: no message is parsed here.
 */
#include "store/embedded_cache.h"
#include "store/search.h"

#include <stdlib.h>
#include <string.h>

static const char emb_sort_sql[] =
    "SELECT m.uid, coalesce(c.sent_date, m.internaldate), m.internaldate,"
    " m.size, c.base_subject, c.from_mailbox, c.to_mailbox, c.cc_mailbox,"
    " c.from_display, c.to_display, c.message_id, c.in_reply_to, c.refs"
    " FROM messages m LEFT JOIN msg_cache c ON c.blob = m.blob"
    " WHERE m.mailbox_id = ?1 ORDER BY m.uid";

/* A text column as a malloc()ed string ("" for NULL), or NULL if no memory. */
static char *
emb_sort_str(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t n = t != NULL ? (size_t)sqlite3_column_bytes(st, col) : 0;
	char *s = malloc(n + 1);

	if (s != NULL) {
		if (n > 0)
			memcpy(s, t, n);
		s[n] = '\0';
	}
	return s;
}

/* Fills one entry from the current row; -1 if out of memory. */
static int
emb_sort_row(sqlite3_stmt *st, struct store_sort_info *si)
{
	char **strs[] = {&si->base_subject, &si->from_mailbox, &si->to_mailbox,
	                 &si->cc_mailbox,   &si->from_display, &si->to_display,
	                 &si->message_id,   &si->in_reply_to,  &si->references};
	int rc = 0;

	memset(si, 0, sizeof(*si));
	si->uid = (uint32_t)sqlite3_column_int64(st, 0);
	si->sent_date = sqlite3_column_int64(st, 1);
	si->internaldate = sqlite3_column_int64(st, 2);
	si->size = (uint64_t)sqlite3_column_int64(st, 3);
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if ((*strs[i] = emb_sort_str(st, (int)i + 4)) == NULL)
			rc = -1;
	return rc;
}

static int
emb_sort_info(struct embedded_user *u, int64_t mbox,
              struct store_sort_info **info_r, size_t *count_r, struct err *err)
{
	size_t cap = 0;
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(u->db, emb_sort_sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return embedded_db_error(u, rc, "sort", err);
	sqlite3_bind_int64(st, 1, mbox);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*count_r == cap) {
			size_t ncap = cap == 0 ? 64 : cap * 2;
			struct store_sort_info *n =
			    realloc(*info_r, ncap * sizeof(*n));

			if (n == NULL)
				break;
			*info_r = n;
			cap = ncap;
		}
		if (emb_sort_row(st, &(*info_r)[(*count_r)++]) < 0)
			break;
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc == SQLITE_ROW)
		return err_set(err, ERR_TEMP, "store: out of memory");
	return embedded_db_error(u, rc, "sort", err);
}

int
store_sort_info(struct store_user *u, const char *mailbox,
                struct store_sort_info **info_r, size_t *count_r,
                struct err *err)
{
	struct embedded_user *eu;
	int64_t mbox;

	*info_r = NULL;
	*count_r = 0;
	if (store_mailbox_name_check(mailbox, err) < 0)
		return -1;
	if (u->store->ops != &store_embedded_ops)
		return err_set(err, ERR_INTERNAL,
		               "store: sort is not supported by this backend");
	eu = embedded_user_of(u);
	if (embedded_cache_fill(eu, err) < 0 ||
	    embedded_mailbox_id(eu, store_mailbox_name_canon(mailbox), &mbox,
	                        err) < 0)
		return -1;
	if (emb_sort_info(eu, mbox, info_r, count_r, err) < 0) {
		store_sort_info_free(info_r, *count_r);
		*count_r = 0;
		return -1;
	}
	return 0;
}

void
store_sort_info_free(struct store_sort_info **info, size_t count)
{
	struct store_sort_info *a = *info;

	for (size_t i = 0; a != NULL && i < count; i++) {
		free(a[i].base_subject);
		free(a[i].from_mailbox);
		free(a[i].to_mailbox);
		free(a[i].cc_mailbox);
		free(a[i].from_display);
		free(a[i].to_display);
		free(a[i].message_id);
		free(a[i].in_reply_to);
		free(a[i].references);
	}
	free(a);
	*info = NULL;
}
