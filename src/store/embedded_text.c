/*
 * embedded_text: the SQL function pa_body_text(blob, size), the decoded
 * body text of a message whose cache row does not keep it (schema
 * version 8, embedded_db.c).
 *
 * A message's body text (mime_search_text()) was kept in msg_cache.t_body
 * for the full-text indexer, for SEARCH to confirm a match, and for the
 * index's 'delete' when the message goes.  For large text that meant the
 * text's bytes once more in the WAL, again at the checkpoint, and again
 * when the indexer read it back: measured with 100 KiB messages over SMTP
 * (10 sessions), 425 KB written per message, and 931 against 538
 * deliveries/s with the text left out.  Above EMB_CACHE_TEXT_KEEP bytes
 * the row keeps the message's size instead (derive_size) and this
 * function computes the same text from the message when it is needed: the
 * same bytes through the same parser give the same text, so the index's
 * 'delete' takes out exactly what its insert put in (the header text is
 * not wanted here: cap 0).  Text that is the message's body as it is
 * (mime_text_is_raw()) is not kept at any size: computing it is a parse
 * of the header and a copy.
 *
 * It runs inside statements and triggers (the delete trigger runs it
 * before the message's bytes go: msg_data rows are deleted after the
 * cache row, files unlinked after the commit).  A message that cannot be
 * read gives "": a search then does not find it by its body, which is all
 * that is left to say about it.
 */
#include "store/embedded_cache.h"

#include <stdlib.h>
#include <string.h>

#include "mime/mime.h"

/*
 * pa_body_text()'s data: the blob directory and its statement, prepared
 * at the first call and kept (it ran once for every message indexed or
 * confirmed by a search); embedded_user_close_db() finalizes it with the
 * connection's other statements, the connection frees this.
 */
struct emb_text_ctx {
	char *dir;
	sqlite3_stmt *get;
};

static void
emb_text_ctx_free(void *p)
{
	struct emb_text_ctx *t = p;

	free(t->dir);
	free(t);
}

/* Appends the bytes of blob: kept in msg_data, else its file in dir. */
static int
emb_text_message(sqlite3 *db, struct emb_text_ctx *t, const char *blob,
                 uint64_t size, struct buf *out)
{
	int rc;

	if (t->get == NULL &&
	    sqlite3_prepare_v3(
	        db, "SELECT data FROM main.msg_data WHERE blob = ?1", -1,
	        SQLITE_PREPARE_PERSISTENT, &t->get, NULL) != SQLITE_OK)
		return -1;
	rc = embedded_bytes_read(t->get, t->dir, blob, size, out, NULL);
	sqlite3_reset(t->get);
	return rc;
}

static void
emb_text_fn(sqlite3_context *cx, int argc, sqlite3_value **v)
{
	const char *blob = (const char *)sqlite3_value_text(v[0]);
	sqlite3_int64 size = sqlite3_value_int64(v[1]);
	struct buf msg = BUF_INIT, hdr = BUF_INIT, body = BUF_INIT;
	struct mime_part *root;
	int rc;

	(void)argc;
	if (blob == NULL || size < 0 ||
	    emb_text_message(sqlite3_context_db_handle(cx),
	                     sqlite3_user_data(cx), blob, (uint64_t)size,
	                     &msg) < 0) {
		buf_free(&msg);
		sqlite3_result_text(cx, "", 0, SQLITE_STATIC);
		return;
	}
	root = mime_parse(msg.len > 0 ? msg.data : "", msg.len);
	rc = root == NULL
	         ? -1
	         : mime_search_text(msg.len > 0 ? msg.data : "", msg.len, root,
	                            0, EMB_CACHE_TEXT_MAX, &hdr, &body);
	mime_part_free(&root);
	buf_free(&msg);
	buf_free(&hdr);
	if (rc < 0)
		sqlite3_result_error_nomem(cx);
	else
		sqlite3_result_text(cx, buf_cstr(&body), (int)body.len,
		                    SQLITE_TRANSIENT);
	buf_free(&body);
}

/*
 * pa_gone_text(): 1 if a deleted row's text goes to fts_gone (the
 * connection's flag, u->gone_text), 0 while a deletion is tried again on
 * a full disk (embedded_space_retry()): then it needs room for its rows
 * only, not for the text of every message it deletes.
 */
static void
emb_gone_text_fn(sqlite3_context *cx, int argc, sqlite3_value **v)
{
	const bool *keep = sqlite3_user_data(cx);

	(void)argc;
	(void)v;
	sqlite3_result_int(cx, *keep ? 1 : 0);
}

int
embedded_text_register(struct embedded_user *u, struct err *err)
{
	struct emb_text_ctx *t = calloc(1, sizeof(*t));
	bool *keep = malloc(sizeof(*keep));
	int rc;

	if (t == NULL || (t->dir = strdup(u->blob_dir)) == NULL ||
	    keep == NULL) {
		if (t != NULL)
			emb_text_ctx_free(t);
		free(keep);
		return err_set(err, ERR_TEMP, "store: out of memory");
	}
	*keep = true;
	/* Not DIRECTONLY: msg_cache_del calls them.  Each frees on failure. */
	rc = sqlite3_create_function_v2(u->db, "pa_body_text", 2, SQLITE_UTF8,
	                                t, emb_text_fn, NULL, NULL,
	                                emb_text_ctx_free);
	if (rc == SQLITE_OK)
		rc = sqlite3_create_function_v2(
		    u->db, "pa_gone_text", 0, SQLITE_UTF8, keep,
		    emb_gone_text_fn, NULL, NULL, free);
	else
		free(keep);
	if (rc != SQLITE_OK)
		return embedded_db_error(u, rc, "text setup", err);
	u->gone_text = keep; /* owned by the connection */
	u->text_get = &t->get;
	return 0;
}
