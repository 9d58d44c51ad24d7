/*
 * embedded_mbox_ops: creating, deleting, renaming and subscribing
 * mailboxes (RFC 9051 6.3.4 - 6.3.8).
 *
 * Names are only rows: no path is built from them, so a rename is an
 * UPDATE of the subtree's names in one transaction.
 */
#include "store/embedded_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

/*
 * A UIDVALIDITY no mailbox of this user had before (RFC 9051 2.3.1.1):
 * time-based, and above every value handed out so far, which the meta
 * table remembers even after the mailbox that had it is gone.
 */
static int
emb_uidvalidity_next(struct embedded_user *u, int64_t *v_r, struct err *err)
{
	int64_t last, now = (int64_t)(uint32_t)time(NULL);

	if (embedded_meta_get(u, "last_uidvalidity", &last, err) < 0)
		return -1;
	*v_r = now > last ? now : last + 1;
	if (*v_r > UINT32_MAX || *v_r == 0)
		return err_set(err, ERR_LIMIT, "no UIDVALIDITY left");
	return embedded_meta_set(u, "last_uidvalidity", *v_r, err);
}

/* Inserts one mailbox row (inside a transaction). */
static int
emb_mbox_insert(struct embedded_user *u, const char *name,
                const char *special_use, int64_t uidnext, int64_t modseq,
                struct err *err)
{
	sqlite3_stmt *st;
	int64_t uidvalidity;
	int rc;

	if (emb_uidvalidity_next(u, &uidvalidity, err) < 0 ||
	    embedded_stmt(u, EMB_MBOX_INSERT, &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, uidvalidity);
	sqlite3_bind_int64(st, 3, uidnext);
	sqlite3_bind_int64(st, 4, modseq);
	if (special_use != NULL)
		sqlite3_bind_text(st, 5, special_use, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT)
		return err_set(err, ERR_EXISTS, "mailbox \"%.200s\" exists",
		               name);
	return rc == SQLITE_DONE ? 0 : embedded_db_error(u, rc, "create", err);
}

/* True (1) if mailbox name exists, 0 if not, -1 on error. */
static int
emb_mbox_exists(struct embedded_user *u, const char *name, struct err *err)
{
	int64_t id;
	struct err e;

	if (embedded_mailbox_id(u, name, &id, &e) == 0)
		return 1;
	if (e.kind == ERR_NOTFOUND)
		return 0;
	if (err != NULL)
		*err = e;
	return -1;
}

/*
 * Creates the missing parents of name (inside a transaction); each created
 * one is added to created ("name\0name\0...") for the feed.
 */
static int
emb_parents_create(struct embedded_user *u, const char *name,
                   struct buf *created, struct err *err)
{
	char *copy = strdup(name);
	int rc = 0;

	if (copy == NULL)
		return err_set(err, ERR_TEMP, "store: out of memory");
	for (char *p = strchr(copy, STORE_MAILBOX_SEP); p != NULL && rc == 0;
	     p = strchr(p + 1, STORE_MAILBOX_SEP)) {
		*p = '\0';
		rc = emb_mbox_exists(u, copy, err);
		if (rc == 0) {
			rc = emb_mbox_insert(u, copy, NULL, 1, 1, err);
			if (rc == 0 &&
			    buf_append(created, copy, strlen(copy) + 1) < 0)
				rc = err_set(err, ERR_TEMP, "out of memory");
		}
		rc = rc < 0 ? -1 : 0;
		*p = STORE_MAILBOX_SEP;
	}
	free(copy);
	return rc;
}

/* Publishes MAILBOX_CREATE for each name in the "a\0b\0" list. */
static void
emb_publish_created(struct store_user *pub, const struct buf *created)
{
	struct store_change ch = {.kind = STORE_CHANGE_MAILBOX_CREATE};

	for (size_t off = 0; off < created->len;
	     off += strlen(created->data + off) + 1) {
		ch.mailbox = created->data + off;
		store_feed_publish(pub, &ch);
	}
}

int
embedded_mailbox_create(struct store_user *pub, const char *name,
                        const char *special_use, struct err *err)
{
	struct embedded_user *u = embedded_user_of(pub);
	struct buf created = BUF_INIT;

	if (embedded_run(u, EMB_BEGIN_IMMEDIATE, err) < 0)
		return -1;
	if (emb_parents_create(u, name, &created, err) < 0 ||
	    emb_mbox_insert(u, name, special_use, 1, 1, err) < 0 ||
	    buf_append(&created, name, strlen(name) + 1) < 0 ||
	    embedded_run(u, EMB_COMMIT, err) < 0) {
		embedded_rollback(u);
		buf_free(&created);
		return -1;
	}
	emb_publish_created(pub, &created);
	buf_free(&created);
	return 0;
}

/* Runs a statement bound to (text, int64) without results. */
static int
emb_run_bound(struct embedded_user *u, enum emb_stmt id, const char *text,
              int64_t num, struct err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (embedded_stmt(u, id, &st, err) < 0)
		return -1;
	if (text != NULL) {
		sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, num);
	} else {
		sqlite3_bind_int64(st, 1, num);
	}
	rc = sqlite3_step(st);
	while (rc == SQLITE_ROW)
		rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : embedded_db_error(u, rc, "update", err);
}

/* 1 if name has a child mailbox, 0 if not, -1 on error. */
static int
emb_has_child(struct embedded_user *u, const char *name, struct err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (embedded_stmt(u, EMB_MBOX_HAS_CHILD, &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : embedded_db_error(u, rc, "child", err);
}

/* Deletes every message of mailbox c into g (inside a transaction). */
static int
emb_delete_messages(struct embedded_user *u, const struct emb_counters *c,
                    struct emb_gone *g, struct err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (embedded_stmt(u, EMB_MSG_DELETE_ALL, &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, c->id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct emb_gone *ng = g;
		size_t n = ng->n;
		const unsigned char *t = sqlite3_column_text(st, 1);
		void *p1 = realloc(ng->blobs, (n + 1) * sizeof(*ng->blobs));
		void *p2;

		if (p1 != NULL)
			ng->blobs = p1;
		p2 = p1 != NULL ? realloc(ng->uids, (n + 1) * sizeof(*ng->uids))
		                : NULL;
		if (p2 == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		ng->uids = p2;
		ng->uids[n] = (uint32_t)sqlite3_column_int64(st, 0);
		snprintf(ng->blobs[n], STORE_BLOB_ID_SIZE, "%s",
		         t != NULL ? (const char *)t : "");
		ng->n++;
	}
	sqlite3_reset(st);
	g->modseq = (uint64_t)c->modseq + 1;
	return rc == SQLITE_DONE ? 0 : embedded_db_error(u, rc, "delete", err);
}

static int
emb_mailbox_delete_once(struct store_user *pub, const char *name,
                        struct err *err)
{
	struct embedded_user *u = embedded_user_of(pub);
	struct store_change ch = {.kind = STORE_CHANGE_MAILBOX_DELETE,
	                          .mailbox = name};
	struct emb_gone g = {NULL, NULL, 0, 0};
	struct emb_counters c;
	int has_child;

	if (embedded_run(u, EMB_BEGIN_IMMEDIATE, err) < 0)
		return -1;
	if (embedded_counters_get(u, name, &c, err) < 0 ||
	    (has_child = emb_has_child(u, name, err)) < 0)
		goto fail;
	/* RFC 9051 6.3.5 allows keeping it as \Noselect; we refuse. */
	if (has_child) {
		err_set(err, ERR_PERM, "mailbox \"%.200s\" has children", name);
		goto fail;
	}
	if (emb_delete_messages(u, &c, &g, err) < 0 ||
	    emb_run_bound(u, EMB_EXPUNGED_DELETE_ALL, NULL, c.id, err) < 0 ||
	    emb_run_bound(u, EMB_MBOX_DELETE, NULL, c.id, err) < 0 ||
	    embedded_run(u, EMB_COMMIT, err) < 0)
		goto fail;
	embedded_gone_finish(u, name, &g, true);
	store_feed_publish(pub, &ch);
	return 0;
fail:
	embedded_rollback(u);
	embedded_gone_finish(u, name, &g, false);
	return -1;
}

int
embedded_mailbox_delete(struct store_user *pub, const char *name,
                        struct err *err)
{
	struct embedded_user *u = embedded_user_of(pub);
	int rc;

	u->out_of_space = false;
	rc = emb_mailbox_delete_once(pub, name, err);
	/* As an expunge: the disk reserve makes room (reserve.c). */
	if (rc < 0 && embedded_space_retry(u)) {
		rc = emb_mailbox_delete_once(pub, name, err);
		embedded_space_done(u);
	}
	return rc;
}

int
embedded_mailbox_subscribe(struct store_user *pub, const char *name, bool on,
                           struct err *err)
{
	struct embedded_user *u = embedded_user_of(pub);

	if (emb_run_bound(u, EMB_MBOX_SUBSCRIBE, name, on ? 1 : 0, err) < 0)
		return -1;
	if (sqlite3_changes(u->db) == 0)
		return err_set(err, ERR_NOTFOUND, "no mailbox \"%.200s\"",
		               name);
	return 0;
}

/* The names of from and its children ("a\0a/b\0"), inside a transaction. */
static int
emb_subtree(struct embedded_user *u, const char *from, struct buf *names,
            struct err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (embedded_stmt(u, EMB_MBOX_SUBTREE, &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);

		if (t == NULL || buf_append(names, t, strlen(t) + 1) < 0) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return embedded_db_error(u, rc, "rename", err);
	if (names->len == 0)
		return err_set(err, ERR_NOTFOUND, "no mailbox \"%.200s\"",
		               from);
	return 0;
}

/* Renames each name of the subtree; new names go to renamed. */
static int
emb_rename_rows(struct embedded_user *u, const char *from, const char *to,
                const struct buf *names, struct buf *renamed, struct err *err)
{
	size_t flen = strlen(from);
	sqlite3_stmt *st;
	int rc;

	for (size_t off = 0; off < names->len;
	     off += strlen(names->data + off) + 1) {
		const char *old = names->data + off;
		size_t start = renamed->len;

		if (buf_printf(renamed, "%s%s", to, old + flen) < 0 ||
		    buf_append(renamed, "", 1) < 0)
			return err_set(err, ERR_TEMP, "out of memory");
		if (renamed->len - start > STORE_MAILBOX_NAME_MAX + 1)
			return err_set(err, ERR_SYNTAX, "new name too long");
		if (embedded_stmt(u, EMB_MBOX_SET_NAME, &st, err) < 0)
			return -1;
		sqlite3_bind_text(st, 1, old, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, renamed->data + start, -1,
		                  SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc == SQLITE_CONSTRAINT)
			return err_set(err, ERR_EXISTS,
			               "mailbox \"%.200s\" exists",
			               renamed->data + start);
		if (rc != SQLITE_DONE)
			return embedded_db_error(u, rc, "rename", err);
	}
	return 0;
}

/* Publishes a RENAME for each (old, new) pair of the two lists. */
static void
emb_publish_renamed(struct store_user *pub, const struct buf *names,
                    const struct buf *renamed)
{
	struct store_change ch = {.kind = STORE_CHANGE_MAILBOX_RENAME};
	size_t a = 0, b = 0;

	while (a < names->len && b < renamed->len) {
		ch.mailbox = names->data + a;
		ch.new_name = renamed->data + b;
		store_feed_publish(pub, &ch);
		a += strlen(names->data + a) + 1;
		b += strlen(renamed->data + b) + 1;
	}
}

/*
 * RFC 9051 6.3.6: renaming INBOX moves all its messages to a new mailbox
 * (keeping their UIDs, under a new UIDVALIDITY) and leaves INBOX empty.
 */
static int
emb_rename_inbox(struct embedded_user *u, const char *to, struct emb_gone *g,
                 struct err *err)
{
	struct emb_counters in, out;
	sqlite3_stmt *st;
	int rc;

	if (embedded_counters_get(u, "INBOX", &in, err) < 0 ||
	    emb_mbox_insert(u, to, NULL, in.uidnext, in.modseq + 1, err) < 0 ||
	    embedded_counters_get(u, to, &out, err) < 0 ||
	    embedded_stmt(u, EMB_MSG_MOVE_ALL, &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, in.id);
	sqlite3_bind_int64(st, 2, out.id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		void *p = realloc(g->uids, (g->n + 1) * sizeof(*g->uids));

		if (p == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		g->uids = p;
		g->uids[g->n++] = (uint32_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return embedded_db_error(u, rc, "rename", err);
	/* The rows moved: nothing to unlink, but INBOX saw them go. */
	in.modseq++;
	g->modseq = (uint64_t)in.modseq;
	return embedded_counters_set(u, &in, err);
}

int
embedded_mailbox_rename(struct store_user *pub, const char *from,
                        const char *to, struct err *err)
{
	struct embedded_user *u = embedded_user_of(pub);
	struct buf names = BUF_INIT, renamed = BUF_INIT, created = BUF_INIT;
	struct emb_gone g = {NULL, NULL, 0, 0};
	bool inbox = strcmp(from, "INBOX") == 0;
	int rc = -1;

	if (embedded_run(u, EMB_BEGIN_IMMEDIATE, err) < 0)
		return -1;
	if (emb_parents_create(u, to, &created, err) < 0)
		goto out;
	if (inbox ? emb_rename_inbox(u, to, &g, err) < 0 ||
	                buf_append(&created, to, strlen(to) + 1) < 0
	          : emb_subtree(u, from, &names, err) < 0 ||
	                emb_rename_rows(u, from, to, &names, &renamed, err) < 0)
		goto out;
	if (embedded_run(u, EMB_COMMIT, err) < 0)
		goto out;
	rc = 0;
	emb_publish_created(pub, &created);
	emb_publish_renamed(pub, &names, &renamed);
	/* INBOX's messages left it; watchers of INBOX see them expunged. */
	for (size_t i = 0; i < g.n; i++) {
		struct store_change ch = {.kind = STORE_CHANGE_EXPUNGE,
		                          .mailbox = "INBOX",
		                          .uid = g.uids[i],
		                          .modseq = g.modseq};

		store_feed_publish(pub, &ch);
	}
out:
	if (rc < 0)
		embedded_rollback(u);
	free(g.uids);
	buf_free(&names);
	buf_free(&renamed);
	buf_free(&created);
	return rc;
}
