/*
 * embedded_keywords: the user's keyword table (name <-> flag bit, store.h
 * "Keywords") and the per-message object ids (RFC 8474 EMAILID, RFC 8514
 * SAVEDATE).
 *
 * A bit, once given to a name, keeps it: messages and sessions' maps carry
 * bits, so reusing one would rename the keyword of messages that still
 * have it.  Public store functions implemented here directly, like
 * embedded_changes.c: only the embedded backend exists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/embedded_private.h"

bool
store_keyword_valid(const char *name)
{
	size_t n = 0;

	if (name == NULL || name[0] == '\\')
		return false;
	/* atom-specials: ( ) { SP CTL % * " \ ] (RFC 9051 9). */
	for (; name[n] != '\0'; n++)
		if ((unsigned char)name[n] <= 0x20 ||
		    (unsigned char)name[n] >= 0x7F ||
		    strchr("(){%*\"\\]", name[n]) != NULL)
			return false;
	return n > 0 && n <= STORE_KEYWORD_LEN_MAX;
}

static int
kw_check_backend(struct store_user *u, struct err *err)
{
	if (u->store->ops != &store_embedded_ops)
		return err_set(err, ERR_INTERNAL, "store: no keyword support");
	return 0;
}

/*
 * Loads the whole table into the handle's cache: once per session (its
 * first FLAGS), so the statement is a cached one.
 */
static void
kw_reload(struct embedded_user *u)
{
	sqlite3_stmt *st;

	if (embedded_stmt(u, EMB_KW_LIST, &st, NULL) < 0)
		return;
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t bit = sqlite3_column_int64(st, 0);
		const unsigned char *t = sqlite3_column_text(st, 1);

		if (bit < STORE_KEYWORD_BIT0 || bit > 31 || t == NULL ||
		    u->kw_names[bit] != NULL)
			continue;
		u->kw_names[bit] = strdup((const char *)t);
	}
	sqlite3_reset(st);
}

/*
 * True if names may have been added since kw_names was loaded, and then
 * notes the generation the reload will see.  Without this, listing the
 * unused bits (FLAGS at every SELECT) reloaded the table 27 times.
 * Another process adding a name is seen when a message has its bit, or
 * after the handle rests (embedded_pool_put() clears kw_gen).
 */
static bool
kw_changed(struct embedded_user *u)
{
	struct store_shared *sh = u->base.shared;
	uint64_t gen;

	if (sh == NULL)
		return true;
	gen = __atomic_load_n(&sh->kw_gen, __ATOMIC_ACQUIRE) + 1;
	if (u->kw_gen == gen)
		return false;
	u->kw_gen = gen;
	return true;
}

/* After a commit that added names (so a reload finds them). */
static void
kw_announce(struct embedded_user *u)
{
	if (u->base.shared != NULL)
		__atomic_add_fetch(&u->base.shared->kw_gen, 1,
		                   __ATOMIC_RELEASE);
}

const char *
store_keyword_name(struct store_user *pub, unsigned bit)
{
	struct embedded_user *u = embedded_user_of(pub);

	if (bit < STORE_KEYWORD_BIT0 || bit > 31 ||
	    pub->store->ops != &store_embedded_ops)
		return NULL;
	/* A resting handle (IMAP IDLE) wakes to read; the session rests it. */
	if (u->kw_names[bit] == NULL && kw_changed(u)) {
		if (store_user_wake(pub, NULL) == 0)
			kw_reload(u);
		else
			u->kw_gen = 0; /* not loaded: try again next time */
	}
	return u->kw_names[bit];
}

/* The bit of name (-1 if none) inside the transaction. */
static int
kw_lookup(struct embedded_user *u, const char *name, int *bit_r,
          struct err *err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(
	    u->db, "SELECT bit FROM keywords WHERE name = ?1", -1, &st, NULL);

	if (rc != SQLITE_OK)
		return embedded_db_error(u, rc, "keywords", err);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*bit_r = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return embedded_db_error(u, rc, "keywords", err);
	return 0;
}

/* Gives name the lowest free bit; ERR_LIMIT when none is left. */
static int
kw_create(struct embedded_user *u, const char *name, int *bit_r,
          struct err *err)
{
	uint32_t used = 0;
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(u->db, "SELECT bit FROM keywords", -1, &st,
	                            NULL);

	if (rc != SQLITE_OK)
		return embedded_db_error(u, rc, "keywords", err);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t b = sqlite3_column_int64(st, 0);

		if (b >= 0 && b <= 31)
			used |= 1u << b;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return embedded_db_error(u, rc, "keywords", err);
	for (*bit_r = STORE_KEYWORD_BIT0; *bit_r <= 31; (*bit_r)++)
		if ((used & (1u << *bit_r)) == 0)
			break;
	if (*bit_r > 31)
		return err_set(err, ERR_LIMIT,
		               "too many keywords (at most %d per user)",
		               STORE_KEYWORDS_MAX);
	rc = sqlite3_prepare_v2(
	    u->db, "INSERT INTO keywords(bit, name) VALUES (?1, ?2)", -1, &st,
	    NULL);
	if (rc != SQLITE_OK)
		return embedded_db_error(u, rc, "keywords", err);
	sqlite3_bind_int(st, 1, *bit_r);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0
	                         : embedded_db_error(u, rc, "keywords", err);
}

static int
kw_bits(struct embedded_user *u, const char *const *names, size_t n,
        bool create, bool *added_r, uint32_t *bits_r, struct err *err)
{
	int bit = -1;

	for (size_t i = 0; i < n; i++) {
		if (kw_lookup(u, names[i], &bit, err) < 0)
			return -1;
		if (bit < 0 && create) {
			if (kw_create(u, names[i], &bit, err) < 0)
				return -1;
			*added_r = true;
		}
		if (bit >= STORE_KEYWORD_BIT0 && bit <= 31)
			*bits_r |= 1u << bit;
	}
	return 0;
}

int
store_keyword_bits(struct store_user *pub, const char *const *names, size_t n,
                   bool create, uint32_t *bits_r, struct err *err)
{
	struct embedded_user *u = embedded_user_of(pub);
	bool added = false;
	int rc;

	*bits_r = 0;
	if (kw_check_backend(pub, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!store_keyword_valid(names[i]))
			return err_set(err, ERR_SYNTAX, "invalid keyword");
	if (n == 0)
		return 0;
	/* A write transaction only when a name may be added. */
	if (embedded_run(u, create ? EMB_BEGIN_IMMEDIATE : EMB_BEGIN, err) < 0)
		return -1;
	rc = kw_bits(u, names, n, create, &added, bits_r, err);
	if (rc == 0 && embedded_run(u, EMB_COMMIT, err) < 0)
		rc = -1;
	if (rc < 0)
		embedded_rollback(u);
	else if (added)
		kw_announce(u);
	return rc;
}

int
store_msg_ids_get(struct store_user *pub, const char *mailbox, uint32_t uid,
                  struct store_msg_ids *ids_r, struct err *err)
{
	struct embedded_user *u = embedded_user_of(pub);
	sqlite3_stmt *st;
	int64_t mbox;
	int rc;

	memset(ids_r, 0, sizeof(*ids_r));
	if (kw_check_backend(pub, err) < 0 ||
	    store_mailbox_name_check(mailbox, err) < 0 ||
	    embedded_mailbox_id(u, store_mailbox_name_canon(mailbox), &mbox,
	                        err) < 0 ||
	    embedded_stmt(u, EMB_MSG_IDS, &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, mbox);
	sqlite3_bind_int64(st, 2, uid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);

		/* "M" + the blob id: an objectid starts with a letter. */
		snprintf(ids_r->emailid, sizeof(ids_r->emailid), "M%s",
		         t != NULL ? (const char *)t : "");
		ids_r->savedate = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return err_set(err, ERR_NOTFOUND, "no message with UID %u",
		               uid);
	return rc == SQLITE_ROW ? 0 : embedded_db_error(u, rc, "ids", err);
}
