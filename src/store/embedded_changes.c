/*
 * embedded_changes: the CONDSTORE / QRESYNC queries of the embedded backend
 * (RFC 7162): expunged UIDs since a mod-sequence, and a batched,
 * conditional flag store.
 *
 * These are public store functions (store.h) implemented here directly
 * rather than through struct store_backend_ops: only the embedded backend
 * exists, and a second backend would add the two operations to the table.
 * The statements are prepared per call; both are rare compared with FETCH.
 */
#include <stdlib.h>

#include "store/embedded_private.h"

/* System flags and keyword bits (store.h). */
#define EMB_ALL_FLAGS STORE_FLAG_ANY

/* Validates the mailbox name and the backend; returns the canonical name. */
static const char *
changes_mailbox(struct store_user *u, const char *mailbox, struct err *err)
{
	if (u->store->ops != &store_embedded_ops) {
		err_set(err, ERR_INTERNAL, "store: no CONDSTORE support");
		return NULL;
	}
	if (store_mailbox_name_check(mailbox, err) < 0)
		return NULL;
	return store_mailbox_name_canon(mailbox);
}

static int
changes_prepare(struct embedded_user *u, const char *sql, sqlite3_stmt **st_r,
                struct err *err)
{
	int rc = sqlite3_prepare_v2(u->db, sql, -1, st_r, NULL);

	if (rc != SQLITE_OK)
		return embedded_db_error(u, rc, "prepare", err);
	return 0;
}

static int
uids_push(uint32_t **v, size_t *n, size_t *cap, uint32_t uid)
{
	if (*n == *cap) {
		size_t ncap = *cap != 0 ? *cap * 2 : 64;
		uint32_t *nv = reallocarray(*v, ncap, sizeof(*nv));

		if (nv == NULL)
			return -1;
		*v = nv;
		*cap = ncap;
	}
	(*v)[(*n)++] = uid;
	return 0;
}

int
store_expunged_since(struct store_user *pub, const char *mailbox,
                     uint64_t since, uint32_t **uids_r, size_t *count_r,
                     struct err *err)
{
	struct embedded_user *u = embedded_user_of(pub);
	const char *name = changes_mailbox(pub, mailbox, err);
	sqlite3_stmt *st = NULL;
	size_t n = 0, cap = 0;
	uint32_t *v = NULL;
	int64_t id;
	int rc;

	*uids_r = NULL;
	*count_r = 0;
	if (name == NULL || embedded_mailbox_id(u, name, &id, err) < 0 ||
	    changes_prepare(u,
	                    "SELECT uid FROM expunged WHERE mailbox_id = ?1 "
	                    "AND modseq > ?2 ORDER BY uid",
	                    &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	/* Mod-sequences are below 2^63 (RFC 7162 3.1: mod-sequence-value). */
	sqlite3_bind_int64(st, 2,
	                   since > INT64_MAX ? INT64_MAX : (int64_t)since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (uids_push(&v, &n, &cap,
		              (uint32_t)sqlite3_column_int64(st, 0)) < 0) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(v);
		return embedded_db_error(u, rc, "expunged", err);
	}
	*uids_r = v;
	*count_r = n;
	return 0;
}

static uint32_t
changes_apply(uint32_t old, int mode, uint32_t flags)
{
	flags &= EMB_ALL_FLAGS;
	if (mode > 0)
		return old | flags;
	if (mode < 0)
		return old & ~flags;
	return flags;
}

/* The two statements of a flag update (cached, EMB_FLAGS_*). */
struct changes_stmts {
	sqlite3_stmt *get, *set;
};

/* Updates one message inside the transaction; c->modseq moves on. */
static int
changes_one(struct embedded_user *u, struct changes_stmts *ss,
            struct emb_counters *c, int mode, uint32_t flags,
            uint64_t unchangedsince, struct store_flags_change *m,
            struct err *err)
{
	uint32_t old, new;
	int rc;

	sqlite3_reset(ss->get);
	sqlite3_bind_int64(ss->get, 1, c->id);
	sqlite3_bind_int64(ss->get, 2, m->uid);
	rc = sqlite3_step(ss->get);
	m->modified = m->missing = false;
	if (rc == SQLITE_DONE) {
		m->missing = true;
		return 0;
	}
	if (rc != SQLITE_ROW)
		return embedded_db_error(u, rc, "flags", err);
	old = (uint32_t)sqlite3_column_int64(ss->get, 0);
	m->modseq = (uint64_t)sqlite3_column_int64(ss->get, 1);
	m->flags = old;
	sqlite3_reset(ss->get);
	if (m->modseq > unchangedsince) {
		m->modified = true; /* RFC 7162 3.1.3 */
		return 0;
	}
	new = changes_apply(old, mode, flags);
	/* RFC 7162 3.1: no change, no new mod-sequence. */
	if (new == old)
		return 0;
	c->modseq++;
	sqlite3_reset(ss->set);
	sqlite3_bind_int64(ss->set, 1, c->id);
	sqlite3_bind_int64(ss->set, 2, m->uid);
	sqlite3_bind_int64(ss->set, 3, new);
	sqlite3_bind_int64(ss->set, 4, c->modseq);
	rc = sqlite3_step(ss->set);
	sqlite3_reset(ss->set);
	if (rc != SQLITE_DONE)
		return embedded_db_error(u, rc, "flags", err);
	m->flags = new;
	m->modseq = (uint64_t)c->modseq;
	return 0;
}

/* Publishes what changed, after the commit. */
static void
changes_publish(struct store_user *pub, const char *mailbox, int64_t before,
                const struct store_flags_change *msgs, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		struct store_change ch = {.kind = STORE_CHANGE_FLAGS,
		                          .mailbox = mailbox,
		                          .uid = msgs[i].uid,
		                          .flags = msgs[i].flags,
		                          .modseq = msgs[i].modseq};

		if (!msgs[i].missing && !msgs[i].modified &&
		    msgs[i].modseq > (uint64_t)before)
			store_feed_publish(pub, &ch);
	}
}

int
store_flags_update(struct store_user *pub, const char *mailbox, int mode,
                   uint32_t flags, uint64_t unchangedsince,
                   struct store_flags_change *msgs, size_t count,
                   struct err *err)
{
	struct embedded_user *u = embedded_user_of(pub);
	const char *name = changes_mailbox(pub, mailbox, err);
	struct changes_stmts ss = {NULL, NULL};
	struct emb_counters c;
	int64_t before;
	bool locked = false, lazy = false;
	int rc = -1;

	if (name == NULL)
		return -1;
	/* Cached: a STORE of one message parsed both every time. */
	if (embedded_stmt(u, EMB_FLAGS_GET, &ss.get, err) < 0 ||
	    embedded_stmt(u, EMB_FLAGS_SET, &ss.set, err) < 0)
		goto out;
	/*
	 * Held from before the transaction until the changes are queued, as
	 * store.c does: the feed stays in commit order, and the lock order
	 * (change lock, then the database) is the same everywhere.
	 */
	store_change_lock(pub);
	locked = true;
	/* No fsync for flags (embedded_lazy.c). */
	if (embedded_flags_begin(u, count, &lazy, err) < 0)
		goto out;
	if (embedded_counters_get(u, name, &c, err) < 0)
		goto fail;
	before = c.modseq;
	for (size_t i = 0; i < count; i++)
		if (changes_one(u, &ss, &c, mode, flags, unchangedsince,
		                &msgs[i], err) < 0)
			goto fail;
	if ((c.modseq != before && embedded_counters_set(u, &c, err) < 0) ||
	    embedded_flags_commit(u, lazy, c.modseq - before, err) < 0)
		goto fail;
	changes_publish(pub, name, before, msgs, count);
	rc = 0;
	goto out;
fail:
	embedded_flags_abort(u, lazy);
out:
	if (locked)
		store_change_unlock(pub);
	if (ss.get != NULL)
		sqlite3_reset(ss.get);
	if (ss.set != NULL)
		sqlite3_reset(ss.set);
	return rc;
}
