/*
 * embedded_cache: the cached FETCH results, sort fields and search text of
 * each message (see embedded_cache.h and schema version 3 in
 * embedded_db.c).  One row per blob: copies share it.
 */
#include "store/embedded_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime.h"
#include "store/search.h"

/* Messages filled per transaction by embedded_cache_fill(). */
#define EMB_CACHE_FILL_BATCH 200
/* Rows added to the full-text index per transaction. */
#define EMB_CACHE_FTS_BATCH 2000

/* What one message gives the cache; every buffer is NUL-terminated. */
enum emb_cache_col {
	ECC_ENVELOPE,
	ECC_BODYSTRUCTURE,
	ECC_BODY,
	ECC_BASE_SUBJECT,
	ECC_FROM_MAILBOX,
	ECC_TO_MAILBOX,
	ECC_CC_MAILBOX,
	ECC_FROM_DISPLAY,
	ECC_TO_DISPLAY,
	ECC_MESSAGE_ID,
	ECC_IN_REPLY_TO,
	ECC_REFS,
	ECC_T_HDR,
	ECC_T_BODY,
	ECC_COUNT
};

struct emb_cache_row {
	struct buf col[ECC_COUNT];
	bool has_date;
	int64_t sent_date, sent_day;
	uint32_t crc; /* of the whole message (embedded_durable.c) */
	size_t size;  /* of the whole message */
	bool derive;  /* body text not kept: derive_size (embedded_text.c) */
};

/* A kept field of the root as raw bytes ("" if absent). */
static int
emb_cache_field(struct buf *out, const struct mime_part *root,
                enum mime_field f)
{
	if (root->field[f] == NULL)
		return 0;
	return buf_append(out, root->field[f], root->field_len[f]);
}

/* The RFC 5256 keys: base subject, first addresses, threading ids. */
static int
emb_cache_sort_keys(struct emb_cache_row *r, const struct mime_part *root,
                    const char *msg)
{
	struct buf dummy = BUF_INIT;
	const char *subj = root->field[MIME_F_SUBJECT];
	const char *date = root->field[MIME_F_DATE];
	int rc = 0;

	if (subj != NULL)
		rc |= mime_base_subject(&r->col[ECC_BASE_SUBJECT], subj,
		                        root->field_len[MIME_F_SUBJECT]);
	rc |= mime_addr_first(
	    root->field[MIME_F_FROM], root->field_len[MIME_F_FROM],
	    &r->col[ECC_FROM_MAILBOX], &r->col[ECC_FROM_DISPLAY]);
	rc |=
	    mime_addr_first(root->field[MIME_F_TO], root->field_len[MIME_F_TO],
	                    &r->col[ECC_TO_MAILBOX], &r->col[ECC_TO_DISPLAY]);
	rc |=
	    mime_addr_first(root->field[MIME_F_CC], root->field_len[MIME_F_CC],
	                    &r->col[ECC_CC_MAILBOX], &dummy);
	buf_free(&dummy);
	rc |= emb_cache_field(&r->col[ECC_MESSAGE_ID], root, MIME_F_MESSAGE_ID);
	rc |=
	    emb_cache_field(&r->col[ECC_IN_REPLY_TO], root, MIME_F_IN_REPLY_TO);
	rc |= mime_header_get(&r->col[ECC_REFS], msg + root->hdr_off,
	                      (size_t)(root->body_off - root->hdr_off),
	                      "references");
	r->has_date =
	    date != NULL && mime_date_parse(date, root->field_len[MIME_F_DATE],
	                                    &r->sent_date, &r->sent_day) == 0;
	return rc < 0 ? -1 : 0;
}

/* Parses the message and fills every column of r. */
static int
emb_cache_compute(struct emb_cache_row *r, const void *data, size_t len)
{
	const char *msg = len > 0 ? data : "";
	struct mime_part *root = mime_parse(msg, len);
	int rc = 0;

	if (root == NULL)
		return -1;
	for (size_t i = 0; i < ECC_COUNT; i++)
		buf_init(&r->col[i], 0);
	rc |= mime_envelope_write(&r->col[ECC_ENVELOPE], root);
	rc |= mime_bodystructure_write(&r->col[ECC_BODYSTRUCTURE], root, true);
	rc |= mime_bodystructure_write(&r->col[ECC_BODY], root, false);
	rc |= emb_cache_sort_keys(r, root, msg);
	/*
	 * Body text past EMB_CACHE_TEXT_KEEP is not kept (derive_size), so
	 * computing it here stops a little past that: enough to tell, and
	 * longer than the character text_cap() may cut back.  A 100 KiB
	 * plain text delivery no longer decodes 100 KiB to drop them.  Nor
	 * is text that is the body as it is (mime_text_is_raw()): the
	 * message holds it already, and a copy in the row was a second
	 * overflow page in every small delivery's commit and half of a
	 * small message's bytes in index.db.
	 */
	r->derive = mime_text_is_raw(root);
	rc |= mime_search_text(msg, len, root, EMB_CACHE_TEXT_MAX,
	                       r->derive ? 0 : EMB_CACHE_TEXT_KEEP + 8,
	                       &r->col[ECC_T_HDR], &r->col[ECC_T_BODY]);
	r->derive = r->derive || r->col[ECC_T_BODY].len > EMB_CACHE_TEXT_KEEP;
	mime_part_free(&root);
	r->crc = embedded_blob_crc(0, msg, len);
	r->size = len;
	return rc < 0 ? -1 : 0;
}

int
embedded_cache_put(struct embedded_user *u, const char *blob,
                   const struct emb_cache_row *r, struct err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (embedded_stmt(u, EMB_CACHE_INSERT, &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, blob, -1, SQLITE_STATIC);
	for (size_t i = 0; i < ECC_COUNT; i++)
		sqlite3_bind_text(
		    st, (int)i + 2, buf_cstr(&r->col[i]),
		    r->derive && i == ECC_T_BODY ? 0 : (int)r->col[i].len,
		    SQLITE_STATIC);
	if (r->derive) /* the text comes from the message (embedded_text.c) */
		sqlite3_bind_int64(st, ECC_COUNT + 5, (sqlite3_int64)r->size);
	if (r->has_date) {
		sqlite3_bind_int64(st, ECC_COUNT + 2, r->sent_date);
		sqlite3_bind_int64(st, ECC_COUNT + 3, r->sent_day);
	}
	sqlite3_bind_int64(st, ECC_COUNT + 4, r->crc);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE
	           ? 0
	           : embedded_db_error(u, rc, "cache insert", err);
}

struct emb_cache_row *
embedded_cache_compute(const void *data, size_t len)
{
	struct emb_cache_row *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	if (emb_cache_compute(r, data, len) < 0) {
		embedded_cache_row_free(r);
		return NULL;
	}
	return r;
}

void
embedded_cache_row_free(struct emb_cache_row *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < ECC_COUNT; i++)
		buf_free(&r->col[i]);
	free(r);
}

/* Adds the row of blob from the message bytes (no-op if it exists). */
static int
emb_cache_add_blob(struct embedded_user *u, const char *blob, const void *data,
                   size_t len, struct err *err)
{
	struct emb_cache_row *r = embedded_cache_compute(data, len);
	int rc;

	if (r == NULL)
		return err_set(err, ERR_TEMP, "store: out of memory");
	rc = embedded_cache_put(u, blob, r, err);
	embedded_cache_row_free(r);
	return rc;
}

/* The blob id of (mailbox_id, uid); ERR_NOTFOUND without a row. */
static int
emb_cache_blob_of(struct embedded_user *u, int64_t mailbox_id, uint32_t uid,
                  char blob[STORE_BLOB_ID_SIZE], struct err *err)
{
	sqlite3_stmt *st;
	int rc;

	blob[0] = '\0';
	if (embedded_stmt(u, EMB_MSG_BLOB, &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
		snprintf(blob, STORE_BLOB_ID_SIZE, "%s",
		         (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return embedded_db_error(u, rc, "cache lookup", err);
	if (blob[0] == '\0')
		return err_set(err, ERR_NOTFOUND,
		               "store: cache: no message row for UID %u", uid);
	return 0;
}

int
embedded_cache_add(struct embedded_user *u, int64_t mailbox_id, uint32_t uid,
                   const void *data, size_t len, struct err *err)
{
	char blob[STORE_BLOB_ID_SIZE];

	if (emb_cache_blob_of(u, mailbox_id, uid, blob, err) < 0)
		return -1;
	return emb_cache_add_blob(u, blob, data, len, err);
}

/* Up to max blobs (with their sizes) that have no cache row. */
static int
emb_cache_missing(struct embedded_user *u, char (*blobs)[STORE_BLOB_ID_SIZE],
                  uint64_t *sizes, size_t max, size_t *n_r, struct err *err)
{
	static const char sql[] =
	    "SELECT DISTINCT m.blob, m.size FROM messages m WHERE NOT EXISTS "
	    "(SELECT 1 FROM msg_cache c WHERE c.blob = m.blob) LIMIT ?1";
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(u->db, sql, -1, &st, NULL);

	*n_r = 0;
	if (rc != SQLITE_OK)
		return embedded_db_error(u, rc, "cache fill", err);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n_r < max) {
		const unsigned char *t = sqlite3_column_text(st, 0);

		snprintf(blobs[*n_r], STORE_BLOB_ID_SIZE, "%s",
		         t != NULL ? (const char *)t : "");
		sizes[(*n_r)++] = (uint64_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return embedded_db_error(u, rc, "cache fill", err);
	return 0;
}

/* One batch in one transaction; *done_r when nothing is missing any more. */
static int
emb_cache_fill_batch(struct embedded_user *u, bool *done_r, struct err *err)
{
	char blobs[EMB_CACHE_FILL_BATCH][STORE_BLOB_ID_SIZE];
	uint64_t sizes[EMB_CACHE_FILL_BATCH];
	struct buf data = BUF_INIT;
	size_t n = 0;

	if (embedded_run(u, EMB_BEGIN_IMMEDIATE, err) < 0)
		return -1;
	if (emb_cache_missing(u, blobs, sizes, EMB_CACHE_FILL_BATCH, &n, err) <
	    0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		buf_reset(&data);
		/* A lost blob is reported by FETCH; it has no text to index. */
		if (embedded_blob_read(u, blobs[i], sizes[i], &data, NULL) < 0)
			buf_reset(&data);
		if (emb_cache_add_blob(u, blobs[i], buf_cstr(&data), data.len,
		                       err) < 0)
			goto fail;
	}
	*done_r = n < EMB_CACHE_FILL_BATCH;
	/* Exact now: whatever the triggers counted, nothing is missing. */
	if ((*done_r && embedded_meta_set(u, "cache_missing", 0, err) < 0) ||
	    embedded_run(u, EMB_COMMIT, err) < 0)
		goto fail;
	buf_free(&data);
	return 0;
fail:
	embedded_rollback(u);
	buf_free(&data);
	return -1;
}

int
embedded_cache_fill(struct embedded_user *u, struct err *err)
{
	int64_t missing = 0;
	bool done = false;

	if (embedded_meta_get(u, "cache_missing", &missing, err) < 0)
		return -1;
	while (missing != 0 && !done)
		if (emb_cache_fill_batch(u, &done, err) < 0)
			return -1;
	done = !embedded_fts_pending(u);
	while (!done)
		if (embedded_cache_index_some(u, EMB_CACHE_FTS_BATCH, &done,
		                              err) < 0)
			return -1;
	return 0;
}

/* A text column as a malloc()ed string ("" for NULL). */
static char *
emb_cache_strdup(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);
	char *s = malloc(n + 1);

	if (s != NULL) {
		if (n > 0)
			memcpy(s, t, n);
		s[n] = '\0';
	}
	return s;
}

static int
emb_msg_cache_get(struct embedded_user *u, const char *mailbox, uint32_t uid,
                  struct store_msg_cache *c, struct err *err)
{
	sqlite3_stmt *st;
	int64_t mbox;
	int rc;

	memset(c, 0, sizeof(*c));
	/* Cached statements: a FETCH of 10,000 messages calls this 10,000
	 * times, and preparing costs more than the lookup. */
	if (embedded_mailbox_id(u, mailbox, &mbox, err) < 0 ||
	    embedded_stmt(u, EMB_CACHE_GET, &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, mbox);
	sqlite3_bind_int64(st, 2, uid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		c->envelope = emb_cache_strdup(st, 0);
		c->bodystructure = emb_cache_strdup(st, 1);
		c->body = emb_cache_strdup(st, 2);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return err_set(err, ERR_NOTFOUND, "no cached row for UID %u",
		               uid);
	if (rc != SQLITE_ROW)
		return embedded_db_error(u, rc, "cache read", err);
	if (c->envelope == NULL || c->bodystructure == NULL ||
	    c->body == NULL) {
		store_msg_cache_free(c);
		return err_set(err, ERR_TEMP, "store: out of memory");
	}
	return 0;
}

int
store_msg_cache_get(struct store_user *u, const char *mailbox, uint32_t uid,
                    struct store_msg_cache *c, struct err *err)
{
	memset(c, 0, sizeof(*c));
	if (store_mailbox_name_check(mailbox, err) < 0)
		return -1;
	if (u->store->ops != &store_embedded_ops)
		return err_set(err, ERR_NOTFOUND, "store: no cache");
	return emb_msg_cache_get(embedded_user_of(u),
	                         store_mailbox_name_canon(mailbox), uid, c,
	                         err);
}

void
store_msg_cache_free(struct store_msg_cache *c)
{
	free(c->envelope);
	free(c->bodystructure);
	free(c->body);
	memset(c, 0, sizeof(*c));
}
