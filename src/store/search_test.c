/*
 * search_test: store_search(), store_sort_info() and the message cache on a
 * real store in a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mime/mime.h"
#include "store/embedded_cache.h"
#include "store/search.h"
#include "store/store.h"
#include "testdir.h"

#define DAY 86400
#define T0 1700000000

static const char m1[] = "Date: Mon, 02 Jan 2023 10:00:00 +0100\r\n"
                         "From: Alice Example <alice@example.test>\r\n"
                         "To: Bob <bob@example.test>\r\n"
                         "Subject: Re: [list] Quarterly report\r\n"
                         "Message-ID: <m1@example.test>\r\n"
                         "In-Reply-To: <m0@example.test>\r\n"
                         "References: <a@x> <m0@example.test>\r\n"
                         "\r\n"
                         "The zebra crossing is closed.\r\n";

static const char m2[] = "Date: Tue, 10 Jan 2023 23:30:00 -0500\r\n"
                         "From: Bob <bob@example.test>\r\n"
                         "To: alice@example.test\r\n"
                         "Cc: Carol <carol@example.test>\r\n"
                         "Subject: =?ISO-8859-1?Q?Caf=E9_meeting?=\r\n"
                         "MIME-Version: 1.0\r\n"
                         "Content-Type: text/plain; charset=iso-8859-1\r\n"
                         "Content-Transfer-Encoding: quoted-printable\r\n"
                         "\r\n"
                         "Gr=FC=DFe aus K=F6ln, bis bald=\r\n"
                         " und tsch=FC=DF\r\n";

/* "Secret password is swordfish\r\n" and "hiddenword" in an attachment. */
static const char m3[] = "Date: 1 Feb 2023 08:00 GMT\r\n"
                         "From: dave@example.test\r\n"
                         "Subject: files\r\n"
                         "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
                         "\r\n"
                         "--b1\r\n"
                         "Content-Type: text/plain; charset=utf-8\r\n"
                         "Content-Transfer-Encoding: base64\r\n"
                         "\r\n"
                         "U2VjcmV0IHBhc3N3b3JkIGlzIHN3b3JkZmlzaA0K\r\n"
                         "--b1\r\n"
                         "Content-Type: application/octet-stream\r\n"
                         "Content-Transfer-Encoding: base64\r\n"
                         "\r\n"
                         "aGlkZGVud29yZA==\r\n"
                         "--b1--\r\n";

static const char m4[] = "From: Eve <eve@example.test>\r\n"
                         "X-Custom: Blue Moon\r\n"
                         "Subject: Fwd: Re: hello (fwd)\r\n"
                         "\r\n"
                         "Ox ok\r\n";

struct fixture {
	char dir[64];
	struct store *store;
	struct store_user *user;
	uint64_t modseq[5];
};

static void
add(struct fixture *f, const char *msg, uint32_t flags, int64_t date)
{
	struct store_append a = {msg, strlen(msg), flags, date};
	struct err err;
	uint32_t uid;

	assert_int_equal(store_append(f->user, "INBOX", &a, NULL, &uid, &err),
	                 0);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct store_msg *msgs;
	size_t n;
	struct err err;

	assert_non_null(f);
	assert_int_equal(testdir_make("search", f->dir, sizeof(f->dir)), 0);
	assert_int_equal(store_open(f->dir, &f->store, &err), 0);
	assert_int_equal(
	    store_user_open(f->store, "alice@example.test", &f->user, &err), 0);
	add(f, m1, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED, T0);
	add(f, m2, 0, T0 + DAY);
	add(f, m3, STORE_FLAG_SEEN, T0 + 2 * DAY);
	add(f, m4, 0, T0 + 3 * DAY);
	assert_int_equal(
	    store_mailbox_messages(f->user, "INBOX", &msgs, &n, &err), 0);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++)
		f->modseq[i + 1] = msgs[i].modseq;
	free(msgs);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_user_close(&f->user);
	store_close(&f->store);
	testdir_remove(f->dir);
	free(f);
	return 0;
}

/* Runs key on mailbox and returns the UIDs as "1,2,3". */
static const char *
run_in(struct fixture *f, const char *mailbox,
       const struct store_search_key *key)
{
	static char out[256];
	uint32_t *uids;
	size_t n, len = 0;
	struct err err;

	out[0] = '\0';
	if (store_search(f->user, mailbox, key, &uids, &n, &err) < 0)
		fail_msg("search: %s", err.msg);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%u",
		                        i ? "," : "", uids[i]);
	free(uids);
	return out;
}

static const char *
run(struct fixture *f, const struct store_search_key *key)
{
	return run_in(f, "INBOX", key);
}

static const char *
text(struct fixture *f, enum store_search_op op, const char *value)
{
	struct store_search_key k = {.op = op, .value = value};

	return run(f, &k);
}

static const char *
header(struct fixture *f, const char *name, const char *value)
{
	struct store_search_key k = {
	    .op = SS_HEADER, .name = name, .value = value};

	return run(f, &k);
}

static const char *
num(struct fixture *f, enum store_search_op op, uint64_t n)
{
	struct store_search_key k = {.op = op, .num = n};

	return run(f, &k);
}

static void
test_text_keys(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(text(f, SS_BODY, "zebra"), "1");
	assert_string_equal(text(f, SS_BODY, "ZEBRA CROSSING"), "1");
	/*
	 * Every trigram piece of these is in message 1, the substring is
	 * not: the index offers it, the stored text refuses it.
	 */
	assert_string_equal(text(f, SS_BODY, "crossing zebra"), "");
	assert_string_equal(text(f, SS_TEXT, "closed. The zebra"), "");
	/* Long values, quotes, stray UTF-8 bytes: never a query error. */
	assert_string_equal(
	    text(f, SS_BODY,
	         "The zebra crossing is closed. The zebra crossing "
	         "is closed. The zebra crossing is closed. The "
	         "zebra crossing is closed. The zebra crossing is "
	         "closed."),
	    "");
	assert_string_equal(text(f, SS_BODY, "zebra crossing is closed."), "1");
	assert_string_equal(text(f, SS_BODY, "\"zebra\" AND x"), "");
	assert_string_equal(text(f, SS_BODY,
	                         "z\x80\x80\xc3"
	                         "e\xbf\xbf"
	                         "bra"),
	                    "");
	assert_string_equal(text(f, SS_BODY, "swordfish"), "3");
	/* Attachments (not text) are not body text. */
	assert_string_equal(text(f, SS_BODY, "hiddenword"), "");
	assert_string_equal(text(f, SS_BODY, "Quarterly"), "");
	assert_string_equal(text(f, SS_TEXT, "quarterly"), "1");
	assert_string_equal(text(f, SS_TEXT, "alice@example"), "1,2");
	assert_string_equal(text(f, SS_BODY, ""), "1,2,3,4");
	assert_string_equal(text(f, SS_FROM, "bob"), "2");
	assert_string_equal(text(f, SS_TO, "BOB@"), "1");
	assert_string_equal(text(f, SS_CC, "carol"), "2");
	assert_string_equal(text(f, SS_BCC, "carol"), "");
	assert_string_equal(text(f, SS_SUBJECT, "report"), "1");
	assert_string_equal(text(f, SS_SUBJECT, ""), "1,2,3,4");
	assert_string_equal(header(f, "x-custom", "MOON"), "4");
	assert_string_equal(header(f, "X-Custom", ""), "4");
	assert_string_equal(header(f, "x-custom", "report"), "");
	assert_string_equal(header(f, "cc", ""), "2");
}

static void
test_charsets(void **state)
{
	struct fixture *f = *state;

	/* Quoted-printable ISO-8859-1, found by UTF-8 strings. */
	assert_string_equal(text(f, SS_BODY, "Grüße"), "2");
	assert_string_equal(text(f, SS_BODY, "köln"), "2");
	assert_string_equal(text(f, SS_BODY, "bald und"), "2");
	assert_string_equal(text(f, SS_BODY, "tschüß"), "2");
	/* An RFC 2047 subject, decoded. */
	assert_string_equal(text(f, SS_SUBJECT, "café"), "2");
	assert_string_equal(text(f, SS_SUBJECT, "CAFÉ M"), "2");
	/* Base64 text part. */
	assert_string_equal(text(f, SS_BODY, "password is"), "3");
}

static void
test_short_values(void **state)
{
	struct fixture *f = *state;

	/* Under 3 characters the trigram index cannot help: scanned. */
	assert_string_equal(text(f, SS_BODY, "OX"), "4");
	assert_string_equal(text(f, SS_BODY, "ze"), "1");
	assert_string_equal(text(f, SS_BODY, "ü"), "2");
	assert_string_equal(text(f, SS_BODY, "Ö"), "2");
	assert_string_equal(text(f, SS_TEXT, "eV"), "4");
	assert_string_equal(text(f, SS_FROM, "Ev"), "4");
	assert_string_equal(header(f, "x-custom", "bl"), "4");
}

static void
test_hostile_text(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(text(f, SS_BODY, "zebra\" OR \"the"), "");
	assert_string_equal(text(f, SS_BODY, "NEAR(zebra closed)"), "");
	assert_string_equal(text(f, SS_BODY, "zebra*"), "");
	assert_string_equal(text(f, SS_SUBJECT, "'; DROP TABLE messages; --"),
	                    "");
	assert_string_equal(header(f, "x'custom", "moon"), "");
	assert_string_equal(header(f, "x-custom:", "moon"), "");
	assert_string_equal(text(f, SS_BODY, "\""), "");
	/* LIKE's wildcards in short values are plain characters. */
	assert_string_equal(text(f, SS_BODY, "%"), "");
	assert_string_equal(text(f, SS_BODY, "_"), "");
	assert_string_equal(text(f, SS_TEXT, "o%"), "");
	assert_string_equal(text(f, SS_BODY, "\\"), "");
	assert_string_equal(num(f, SS_ALL, 0), "1,2,3,4");
}

static void
test_numeric_keys(void **state)
{
	struct fixture *f = *state;
	struct store_uid_range r[] = {{2, 3}, {9, 12}};
	struct store_search_key uid = {.op = SS_UID, .ranges = r, .nranges = 2};
	size_t s2 = strlen(m2);

	assert_string_equal(num(f, SS_FLAGS_SET, STORE_FLAG_SEEN), "1,3");
	assert_string_equal(
	    num(f, SS_FLAGS_SET, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED), "1");
	assert_string_equal(num(f, SS_FLAGS_CLEAR, STORE_FLAG_SEEN), "2,4");
	assert_string_equal(num(f, SS_BEFORE, T0 + DAY), "1");
	assert_string_equal(num(f, SS_SINCE, T0 + DAY), "2,3,4");
	assert_string_equal(num(f, SS_LARGER, s2), "3");
	assert_string_equal(num(f, SS_SMALLER, s2), "1,4");
	assert_string_equal(num(f, SS_LARGER, UINT64_MAX), "");
	assert_string_equal(num(f, SS_MODSEQ, f->modseq[3]), "3,4");
	assert_string_equal(run(f, &uid), "2,3");
	/* The Date: field's own calendar day: 10 Jan 23:30 -0500. */
	assert_string_equal(num(f, SS_SENTSINCE, 1673308800), "2,3,4");
	assert_string_equal(num(f, SS_SENTBEFORE, 1673308800), "1");
	assert_string_equal(num(f, SS_SENTBEFORE, 1673308800 + DAY), "1,2");
	/* m4 has no Date: its internal date counts. */
	assert_string_equal(num(f, SS_SENTSINCE, (T0 + 3 * DAY) / DAY * DAY),
	                    "4");
}

static void
test_nesting(void **state)
{
	struct fixture *f = *state;
	struct store_search_key notfrom_alice_in = {.op = SS_FROM,
	                                            .value = "alice"};
	struct store_search_key notfrom = {.op = SS_NOT,
	                                   .child = &notfrom_alice_in};
	struct store_search_key subj = {
	    .op = SS_SUBJECT, .value = "café", .next = &notfrom};
	struct store_search_key or = {.op = SS_OR, .child = &subj};
	struct store_search_key not_or = {.op = SS_NOT, .child = & or };
	struct store_search_key b2 = {.op = SS_FLAGS_CLEAR,
	                              .num = STORE_FLAG_SEEN};
	struct store_search_key b1 = {
	    .op = SS_TEXT, .value = "example", .next = &b2};
	struct store_search_key and = {.op = SS_AND, .child = &b1};
	struct store_search_key empty_or = {.op = SS_OR};
	struct store_search_key empty_and = {.op = SS_AND};

	/* NOT (OR (SUBJECT café) (NOT FROM alice)) = FROM alice AND not 2. */
	assert_string_equal(run(f, &not_or), "1");
	assert_string_equal(run(f, & or), "2,3,4");
	assert_string_equal(run(f, &and), "2,4");
	assert_string_equal(run(f, &empty_or), "");
	assert_string_equal(run(f, &empty_and), "1,2,3,4");
}

/* levels x NOT (AND (ALL, next)), ending in ALL; keys has 3 * levels. */
static struct store_search_key *
alternating(struct store_search_key *keys, size_t levels)
{
	static struct store_search_key all = {.op = SS_ALL};

	for (size_t i = 0; i < levels; i++) {
		struct store_search_key *not = &keys[3 * i];

		not ->op = SS_NOT;
		not ->child = &keys[3 * i + 1];
		not ->child->op = SS_AND;
		not ->child->child = &keys[3 * i + 2];
		not ->child->child->op = SS_ALL;
		not ->child->child->next =
		    i + 1 < levels ? &keys[3 * i + 3] : &all;
	}
	return keys;
}

static void
test_limits_and_errors(void **state)
{
	struct fixture *f = *state;
	struct store_search_key *keys = calloc(3 * 3000, sizeof(*keys));
	struct store_search_key all = {.op = SS_ALL};
	uint32_t *uids;
	size_t n;
	struct err err;

	assert_non_null(keys);
	/* Alternations nest parentheses: 14 levels work, 300 do not. */
	assert_string_equal(run(f, alternating(keys, 14)), "1,2,3,4");
	assert_string_equal(run(f, alternating(keys, 13)), "");
	memset(keys, 0, 3 * 3000 * sizeof(*keys));
	assert_int_equal(store_search(f->user, "INBOX", alternating(keys, 300),
	                              &uids, &n, &err),
	                 -1);
	assert_int_equal(err.kind, ERR_LIMIT);
	/* NOT NOT and nested lists of one operator are flattened. */
	memset(keys, 0, 3 * 3000 * sizeof(*keys));
	for (size_t i = 0; i < 300; i++) {
		keys[i].op = SS_NOT;
		keys[i].child = i + 1 < 300 ? &keys[i + 1] : &all;
	}
	assert_string_equal(run(f, keys), "1,2,3,4");
	memset(keys, 0, 3 * 3000 * sizeof(*keys));
	for (size_t i = 0; i < 500; i++) { /* OR (SMALLER 1) (OR ...) */
		keys[2 * i].op = SS_OR;
		keys[2 * i].child = &keys[2 * i + 1];
		keys[2 * i + 1].op = SS_SMALLER;
		keys[2 * i + 1].num = 1;
		keys[2 * i + 1].next = i + 1 < 500 ? &keys[2 * i + 2] : &all;
	}
	assert_string_equal(run(f, keys), "1,2,3,4");
	assert_int_equal(store_search(f->user, "Nope", &all, &uids, &n, &err),
	                 -1);
	assert_int_equal(err.kind, ERR_NOTFOUND);
	assert_int_equal(store_search(f->user, "../x", &all, &uids, &n, &err),
	                 -1);
	assert_int_equal(err.kind, ERR_SYNTAX);
	free(keys);
}

static void
test_sort_info(void **state)
{
	struct fixture *f = *state;
	struct store_sort_info *si;
	size_t n;
	struct err err;

	assert_int_equal(store_sort_info(f->user, "INBOX", &si, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_int_equal(si[0].uid, 1);
	assert_string_equal(si[0].base_subject, "Quarterly report");
	assert_int_equal(si[0].sent_date, 1672650000);
	assert_int_equal(si[0].internaldate, T0);
	assert_int_equal(si[0].size, strlen(m1));
	assert_string_equal(si[0].from_mailbox, "alice");
	assert_string_equal(si[0].from_display, "Alice Example");
	assert_string_equal(si[0].to_mailbox, "bob");
	assert_string_equal(si[0].to_display, "Bob");
	assert_string_equal(si[0].cc_mailbox, "");
	assert_string_equal(si[0].message_id, "<m1@example.test>");
	assert_string_equal(si[0].in_reply_to, "<m0@example.test>");
	assert_string_equal(si[0].references, "<a@x> <m0@example.test>");
	assert_string_equal(si[1].base_subject, "Café meeting");
	assert_int_equal(si[1].sent_date, 1673411400);
	assert_string_equal(si[1].to_display, "alice@example.test");
	assert_string_equal(si[1].cc_mailbox, "carol");
	assert_int_equal(si[2].sent_date, 1675238400);
	assert_string_equal(si[3].base_subject, "hello");
	assert_int_equal(si[3].sent_date, T0 + 3 * DAY); /* no Date: */
	assert_string_equal(si[3].message_id, "");
	store_sort_info_free(&si, n);
	assert_null(si);
}

/* The cached strings equal what parsing the message gives. */
static void
check_cache(struct fixture *f, const char *mailbox, uint32_t uid,
            const char *msg)
{
	struct mime_part *root = mime_parse(msg, strlen(msg));
	struct buf env = BUF_INIT, bs = BUF_INIT, body = BUF_INIT;
	struct store_msg_cache c;
	struct err err;

	assert_non_null(root);
	assert_int_equal(mime_envelope_write(&env, root), 0);
	assert_int_equal(mime_bodystructure_write(&bs, root, true), 0);
	assert_int_equal(mime_bodystructure_write(&body, root, false), 0);
	assert_int_equal(store_msg_cache_get(f->user, mailbox, uid, &c, &err),
	                 0);
	assert_string_equal(c.envelope, buf_cstr(&env));
	assert_string_equal(c.bodystructure, buf_cstr(&bs));
	assert_string_equal(c.body, buf_cstr(&body));
	store_msg_cache_free(&c);
	buf_free(&env);
	buf_free(&bs);
	buf_free(&body);
	mime_part_free(&root);
}

static int64_t
sql_int(struct fixture *f, const char *sql)
{
	int64_t v = -1;
	struct err err;

	assert_int_equal(
	    embedded_sql_int(embedded_user_of(f->user), sql, NULL, &v, &err),
	    0);
	return v;
}

static void
test_cache_and_copy(void **state)
{
	struct fixture *f = *state;
	struct store_search_key k = {.op = SS_BODY, .value = "grüße"};
	uint32_t uid = 2, new_uid = 0;
	struct err err;

	assert_string_equal(run(f, &k), "2"); /* fills any missing rows */
	check_cache(f, "INBOX", 1, m1);
	check_cache(f, "INBOX", 3, m3);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM msg_cache"), 4);
	assert_int_equal(store_copy(f->user, "INBOX", &uid, 1, "Archive", NULL,
	                            &new_uid, &err),
	                 0);
	/* The copy shares the blob and so the cached row: no new one. */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM msg_cache"), 4);
	assert_string_equal(run_in(f, "Archive", &k), "1");
	check_cache(f, "Archive", new_uid, m2);
	assert_int_equal(store_expunge(f->user, "INBOX", &uid, 1, &err), 0);
	assert_string_equal(run(f, &k), "");
	assert_string_equal(run_in(f, "Archive", &k), "1");
	assert_int_equal(store_expunge(f->user, "Archive", &new_uid, 1, &err),
	                 0);
	/* The last row naming the blob took the cache row and its text. */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM msg_cache"), 3);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM fts_gone"), 1);
	/* A search makes fts.db forget it (and empties fts_gone). */
	assert_string_equal(text(f, SS_BODY, "köln"), "");
	assert_int_equal(sql_int(f, "SELECT count(*) FROM fts.msg_text "
	                            "WHERE msg_text MATCH '\"öln\"'"),
	                 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM fts_gone"), 0);
	assert_int_equal(
	    sql_int(f, "SELECT value FROM meta WHERE key = 'cache_missing'"),
	    0);
	assert_int_equal(store_msg_cache_get(f->user, "INBOX", 2,
	                                     &(struct store_msg_cache){0},
	                                     &err),
	                 -1);
	assert_int_equal(err.kind, ERR_NOTFOUND);
}

/* Rows lost (as after an upgrade from schema 2) are filled by a search. */
static void
test_fill(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db = ((struct embedded_user *)f->user)->db;
	struct err err;

	assert_string_equal(text(f, SS_BODY, "zebra"), "1");
	assert_int_equal(
	    sqlite3_exec(db,
	                 "DELETE FROM msg_cache; UPDATE meta SET value = "
	                 "(SELECT count(*) FROM messages) "
	                 "WHERE key = 'cache_missing'",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(store_msg_cache_get(f->user, "INBOX", 1,
	                                     &(struct store_msg_cache){0},
	                                     &err),
	                 -1);
	assert_string_equal(text(f, SS_BODY, "zebra"), "1");
	assert_int_equal(sql_int(f, "SELECT count(*) FROM msg_cache"), 4);
	check_cache(f, "INBOX", 4, m4);
	/* A direct add for an existing row is a no-op. */
	assert_int_equal(embedded_cache_add((struct embedded_user *)f->user, 1,
	                                    1, m1, strlen(m1), &err),
	                 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM msg_cache"), 4);
}

/* Rows wait for the full-text index until a search; deletes stay exact. */
static void
test_deferred_index(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db = ((struct embedded_user *)f->user)->db;
	uint32_t uid5 = 5;
	struct err err;

	assert_string_equal(text(f, SS_BODY, "zebra"), "1"); /* indexes 1-4 */
	add(f, "Subject: x\r\n\r\nunicorn one\r\n", 0, T0);
	assert_int_equal(store_expunge(f->user, "INBOX", &uid5, 1, &err), 0);
	add(f, "Subject: y\r\n\r\nunicorn two\r\n", 0, T0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM fts.msg_text WHERE "
	                            "msg_text MATCH '\"ico\"'"),
	                 0);
	assert_string_equal(text(f, SS_BODY, "unicorn"), "6");
	assert_int_equal(
	    sql_int(f, "SELECT (SELECT value FROM fts.meta WHERE key = "
	               "'fts_upto') = (SELECT max(id) FROM msg_cache)"),
	    1);
	/* Row 5 was deleted before it was indexed: nothing to forget. */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM fts.msg_text WHERE "
	                            "msg_text MATCH '\"ico\"'"),
	                 1);
	assert_int_equal(sqlite3_exec(db,
	                              "INSERT INTO fts.msg_text(msg_text) "
	                              "VALUES ('integrity-check')",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
}

/*
 * fts.db lost, or belonging to another index.db (its epoch differs, as
 * after restoring index.db alone): rebuilt from msg_cache by the next
 * search, never trusted.
 */
static void
test_fts_rebuilt(void **state)
{
	struct fixture *f = *state;
	struct embedded_user *u = (struct embedded_user *)f->user;
	char path[4096];

	assert_string_equal(text(f, SS_BODY, "zebra"), "1");
	embedded_fts_detach(u);
	assert_false(u->fts_attached);
	snprintf(path, sizeof(path), "%s/fts.db", u->dir);
	assert_int_equal(unlink(path), 0);
	assert_string_equal(text(f, SS_BODY, "zebra"), "1");
	assert_true(u->fts_attached);
	/*
	 * A stale entry: the index offers message 1, the stored text
	 * refuses it.
	 */
	assert_int_equal(sqlite3_exec(u->db,
	                              "INSERT INTO fts.msg_text(rowid, t_hdr, "
	                              "t_body) VALUES (1, '', 'unicorn')",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM fts.msg_text WHERE "
	                            "msg_text MATCH '\"ico\"'"),
	                 1);
	assert_string_equal(text(f, SS_BODY, "unicorn"), "");
	embedded_fts_detach(u);
	assert_int_equal(sqlite3_exec(u->db,
	                              "UPDATE meta SET value = 12345 WHERE "
	                              "key = 'fts_epoch'",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	/* The next attach sees another epoch and empties fts.db. */
	assert_int_equal(embedded_fts_attach(u, &(struct err){0}), 0);
	assert_int_equal(sql_int(f, "SELECT value FROM fts.meta WHERE key = "
	                            "'epoch'"),
	                 12345);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM fts.msg_text WHERE "
	                            "msg_text MATCH '\"ico\"'"),
	                 0);
	assert_string_equal(text(f, SS_BODY, "unicorn"), "");
	assert_string_equal(text(f, SS_BODY, "zebra"), "1");
	/*
	 * Version 1 (positions kept; version 2 only lacked pa_trigram):
	 * dropped and rebuilt.
	 */
	assert_int_equal(sqlite3_exec(u->db,
	                              "DROP TABLE fts.msg_text;"
	                              "CREATE VIRTUAL TABLE fts.msg_text USING "
	                              "fts5(t_hdr, t_body, content='', "
	                              "tokenize='trigram');"
	                              "PRAGMA fts.user_version = 1;",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	embedded_fts_detach(u);
	assert_string_equal(text(f, SS_BODY, "zebra"), "1");
	assert_int_equal(sql_int(f, "PRAGMA fts.user_version"), 3);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM fts.msg_text WHERE "
	                            "msg_text MATCH '\"zeb\"'"),
	                 1);
	assert_int_equal(sql_int(f,
	                         "SELECT count(*) FROM fts.sqlite_master "
	                         "WHERE sql LIKE '%pa_trigram%detail=none%'"),
	                 1);
}

/* FTS5's own check of fts.db's index against itself. */
static void
fts_integrity_ok(struct fixture *f)
{
	assert_int_equal(
	    sqlite3_exec(embedded_user_of(f->user)->db,
	                 "INSERT INTO fts.msg_text(msg_text, rank) "
	                 "VALUES ('integrity-check', 0)",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
}

/*
 * pa_trigram hands FTS5 each trigram once per text; the 'delete' of an
 * expunged message must take out exactly what its insert put in, or the
 * index would keep stale entries (a contentless table cannot check).
 */
static void
test_trigram_repeats(void **state)
{
	struct fixture *f = *state;
	uint32_t uid5 = 5;
	struct err err;

	add(f,
	    "Subject: quagga quagga\r\n\r\nquagga quagga quagga quagga "
	    "quagga quagga quagga quagga\r\n",
	    0, T0);
	assert_string_equal(text(f, SS_BODY, "quagga quagga quagga"), "5");
	assert_string_equal(text(f, SS_SUBJECT, "gga qua"), "5");
	assert_int_equal(sql_int(f, "SELECT count(*) FROM fts.msg_text WHERE "
	                            "msg_text MATCH '\"agg\"'"),
	                 1);
	assert_int_equal(store_expunge(f->user, "INBOX", &uid5, 1, &err), 0);
	assert_string_equal(text(f, SS_BODY, "quagga"), "");
	assert_int_equal(sql_int(f, "SELECT count(*) FROM fts.msg_text WHERE "
	                            "msg_text MATCH '\"agg\"'"),
	                 0);
	fts_integrity_ok(f);
}

/* A message whose body text is longer than the cache row keeps. */
static char *
long_text_message(void)
{
	static const char head[] =
	    "From: Zed <zed@example.test>\r\n"
	    "Subject: long\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"lt\"\r\n\r\n"
	    "--lt\r\nContent-Type: text/plain\r\n\r\n";
	static const char tail[] = "a platypus }{\r\n"
	                           "--lt\r\nContent-Type: text/plain\r\n"
	                           "Content-Transfer-Encoding: base64\r\n\r\n"
	                           "dGhlIHdvbWJhdCBzbGVlcHMNCg==\r\n--lt--\r\n";
	static const char line[] = "lorem ipsum dolor sit amet\r\n";
	size_t lines = EMB_CACHE_TEXT_KEEP / (sizeof(line) - 1) + 10;
	struct buf b = BUF_INIT;

	assert_int_equal(buf_append_str(&b, head), 0);
	for (size_t i = 0; i < lines; i++)
		assert_int_equal(buf_append_str(&b, line), 0);
	assert_int_equal(buf_append_str(&b, tail), 0);
	return b.data;
}

/*
 * Body text over EMB_CACHE_TEXT_KEEP is not kept in its cache row but
 * computed from the message (embedded_text.c), kept in the index or in a
 * file: it is found by trigram lookup and by scan, decoded, and when the
 * message goes the full-text index forgets all of it (the delete trigger
 * computed the text while the message was there).
 */
static void
test_long_text_derived(void **state)
{
	struct fixture *f = *state;
	char *msg = long_text_message();
	struct err err;

	for (uint32_t uid = 5; uid <= 6; uid++) {
		/* 5 is kept in the index (msg_data), 6 in a blob file. */
		store_set_inline_max(f->store,
		                     uid == 5 ? STORE_INLINE_MAX_DEFAULT : 0);
		add(f, msg, 0, T0);
		assert_int_equal(
		    sql_int(f, "SELECT count(*) FROM msg_cache WHERE id = "
		               "(SELECT max(id) FROM msg_cache) AND "
		               "derive_size IS NOT NULL AND t_body = ''"),
		    1);
		assert_string_equal(text(f, SS_BODY, "platypus"),
		                    uid == 5 ? "5" : "6");
		assert_string_equal(text(f, SS_TEXT, "wombat sleeps"),
		                    uid == 5 ? "5" : "6");
		assert_string_equal(text(f, SS_BODY, "}{"),
		                    uid == 5 ? "5" : "6");
		assert_int_equal(sql_int(f, "SELECT count(*) FROM fts.msg_text "
		                            "WHERE msg_text MATCH '\"ypu\"'"),
		                 1);
		assert_int_equal(store_expunge(f->user, "INBOX", &uid, 1, &err),
		                 0);
		assert_string_equal(text(f, SS_BODY, "platypus"), "");
		assert_int_equal(sql_int(f, "SELECT count(*) FROM fts.msg_text "
		                            "WHERE msg_text MATCH '\"ypu\"'"),
		                 0);
		assert_int_equal(sql_int(f, "SELECT count(*) FROM fts.msg_text "
		                            "WHERE msg_text MATCH '\"mba\"'"),
		                 0);
	}
	fts_integrity_ok(f);
	free(msg);
}

/*
 * Small body text that is the body as it is (one text/plain part, 7bit)
 * is not kept in its row either (mime_text_is_raw()) and is found, by
 * trigram and by scan, and forgotten by the full-text index on expunge;
 * small text that had to be decoded (quoted-printable, Latin-1) is kept.
 */
static void
test_raw_text_derived(void **state)
{
	struct fixture *f = *state;
	static const char raw[] = "Subject: small\r\n\r\nthe quokka smiles\r\n";
	static const char qp[] =
	    "Subject: qp\r\n"
	    "Content-Type: text/plain; charset=iso-8859-1\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "\r\nder K=E4fer l=E4uft\r\n";
	static const char last_row[] =
	    "SELECT count(*) FROM msg_cache WHERE id = (SELECT max(id) FROM "
	    "msg_cache) AND derive_size IS NOT NULL AND t_body = ''";
	uint32_t uid = 5;
	struct err err;

	add(f, raw, 0, T0);
	assert_int_equal(sql_int(f, last_row), 1);
	assert_string_equal(text(f, SS_BODY, "quokka"), "5");
	assert_string_equal(text(f, SS_TEXT, "QUOKKA SMILES"), "5");
	assert_string_equal(text(f, SS_BODY, "ka"), "5"); /* by scan */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM fts.msg_text "
	                            "WHERE msg_text MATCH '\"okk\"'"),
	                 1);
	add(f, qp, 0, T0);
	assert_int_equal(sql_int(f, last_row), 0);
	assert_string_equal(text(f, SS_BODY,
	                         "k\xc3\xa4"
	                         "fer l\xc3\xa4"
	                         "uft"),
	                    "6");
	assert_int_equal(store_expunge(f->user, "INBOX", &uid, 1, &err), 0);
	assert_string_equal(text(f, SS_BODY, "quokka"), "");
	assert_int_equal(sql_int(f, "SELECT count(*) FROM fts.msg_text "
	                            "WHERE msg_text MATCH '\"okk\"'"),
	                 0);
	fts_integrity_ok(f);
}

/*
 * A cache row's id never comes back (schema 9: meta.cache_next, not
 * AUTOINCREMENT): after the newest row goes with its message, the next
 * delivery gets a new id, and is found through the full-text index, whose
 * watermark had passed the old one.
 */
static void
test_cache_ids_never_reused(void **state)
{
	struct fixture *f = *state;
	uint32_t uid = 5;
	int64_t gone;
	struct err err;

	add(f, "Subject: a\r\n\r\nthe first aardvark\r\n", 0, T0);
	assert_string_equal(text(f, SS_BODY, "aardvark"), "5");
	gone = sql_int(f, "SELECT max(id) FROM msg_cache");
	assert_int_equal(store_expunge(f->user, "INBOX", &uid, 1, &err), 0);
	assert_int_equal(sql_int(f, "SELECT max(id) FROM msg_cache"), gone - 1);
	add(f, "Subject: b\r\n\r\nthe second axolotl\r\n", 0, T0);
	assert_int_equal(sql_int(f, "SELECT max(id) FROM msg_cache"), gone + 1);
	assert_string_equal(text(f, SS_BODY, "axolotl"), "6");
	assert_string_equal(text(f, SS_BODY, "aardvark"), "");
	assert_int_equal(sql_int(f, "SELECT count(*) FROM sqlite_sequence "
	                            "WHERE name = 'msg_cache'"),
	                 0);
	fts_integrity_ok(f);
}

/*
 * An index of schema 8 (msg_cache with AUTOINCREMENT, ids up to 100 once
 * used) is upgraded at the next open: the rows stay, found as before, and
 * the next id is past every id ever given, not only past those left.
 */
static void
test_schema_9_upgrade(void **state)
{
	static const char to_v8[] =
	    "BEGIN;"
	    "CREATE TABLE old_cache (id INTEGER PRIMARY KEY AUTOINCREMENT,"
	    " blob TEXT NOT NULL UNIQUE, envelope TEXT NOT NULL,"
	    " bodystructure TEXT NOT NULL, body TEXT NOT NULL, sent_date "
	    "INTEGER,"
	    " sent_day INTEGER, base_subject TEXT NOT NULL,"
	    " from_mailbox TEXT NOT NULL, to_mailbox TEXT NOT NULL,"
	    " cc_mailbox TEXT NOT NULL, from_display TEXT NOT NULL,"
	    " to_display TEXT NOT NULL, message_id TEXT NOT NULL,"
	    " in_reply_to TEXT NOT NULL, refs TEXT NOT NULL, t_hdr TEXT NOT "
	    "NULL,"
	    " t_body TEXT NOT NULL, crc INTEGER, derive_size INTEGER);"
	    "INSERT INTO old_cache SELECT * FROM msg_cache;"
	    "DROP TABLE msg_cache;"
	    "PRAGMA legacy_alter_table = ON;"
	    "ALTER TABLE old_cache RENAME TO msg_cache;"
	    "UPDATE sqlite_sequence SET seq = 100 WHERE name = 'msg_cache';"
	    "DELETE FROM meta WHERE key = 'cache_next';"
	    "PRAGMA user_version = 8;"
	    "COMMIT;";
	struct fixture *f = *state;
	char path[512];
	struct store_msg *msgs;
	size_t n;
	sqlite3 *db;
	struct err err;

	snprintf(path, sizeof(path), "%s/index.db",
	         embedded_user_of(f->user)->dir);
	store_user_close(&f->user);
	store_close(&f->store);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, to_v8, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(f->dir, &f->store, &err), 0);
	assert_int_equal(
	    store_user_open(f->store, "alice@example.test", &f->user, &err), 0);
	assert_int_equal(sql_int(f, "PRAGMA user_version"), 9);
	assert_int_equal(
	    store_mailbox_messages(f->user, "INBOX", &msgs, &n, &err), 0);
	free(msgs);
	assert_int_equal(n, 4);
	assert_string_equal(text(f, SS_BODY, "zebra crossing"), "1");
	assert_int_equal(sql_int(f, "SELECT value FROM meta "
	                            "WHERE key = 'cache_next'"),
	                 101);
	add(f, "Subject: c\r\n\r\nthe third capybara\r\n", 0, T0);
	assert_int_equal(sql_int(f, "SELECT max(id) FROM msg_cache"), 101);
	assert_string_equal(text(f, SS_BODY, "capybara"), "5");
	fts_integrity_ok(f);
}

/* Inserts text as row id of both tables a and b (or deletes it there). */
static void
trigram_both(sqlite3 *db, int64_t id, const char *text, bool delete)
{
	static const char *const sql[2][2] = {
	    {"INSERT INTO a(rowid, t) VALUES (?1, ?2)",
	     "INSERT INTO b(rowid, t) VALUES (?1, ?2)"},
	    {"INSERT INTO a(a, rowid, t) VALUES ('delete', ?1, ?2)",
	     "INSERT INTO b(b, rowid, t) VALUES ('delete', ?1, ?2)"}};

	for (int k = 0; k < 2; k++) {
		sqlite3_stmt *st;

		assert_int_equal(
		    sqlite3_prepare_v2(db, sql[delete][k], -1, &st, NULL),
		    SQLITE_OK);
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_finalize(st);
	}
}

static int
trigram_count(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int n;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Tables a and b hold the same terms, each in as many documents. */
static void
trigram_same_terms(sqlite3 *db)
{
	assert_int_equal(trigram_count(db, "SELECT count(*) FROM ("
	                                   "SELECT term, doc FROM av EXCEPT "
	                                   "SELECT term, doc FROM bv)"),
	                 0);
	assert_int_equal(trigram_count(db, "SELECT count(*) FROM ("
	                                   "SELECT term, doc FROM bv EXCEPT "
	                                   "SELECT term, doc FROM av)"),
	                 0);
}

/*
 * pa_trigram's ASCII path must give each document exactly the trigrams
 * SQLite's own tokenizer gives it (queries use the latter): the two
 * vocabularies, term by term with the number of documents holding it,
 * are the same, after inserts and after deletes; the texts include ones
 * with more distinct trigrams than the path remembers, so the set is
 * cleared whole, and documents after them that repeat their trigrams.
 */
static void
test_trigram_ascii_path(void **state)
{
	static const char *const docs[] = {"",
	                                   "a",
	                                   "ab",
	                                   "abc",
	                                   "ABCD abcd",
	                                   "Hello, World! HELLO world?",
	                                   "x\tY\r\nz~\x7f!  ",
	                                   "Stra\xc3\x9f"
	                                   "e \xc3\x84RGER aaa",
	                                   "ascii, then \xc3\xa9 at the end",
	                                   "[list] Quarterly REPORT"};
	char big[2][20001];
	sqlite3 *db;
	struct err err;
	uint32_t seed = 12345;
	int64_t id = 1;

	(void)state;
	for (int b = 0; b < 2; b++) {
		for (size_t i = 0; i < sizeof(big[b]) - 1; i++) {
			seed = seed * 1103515245u + 12345u;
			big[b][i] = (char)(' ' + (seed >> 16) % 95);
		}
		big[b][sizeof(big[b]) - 1] = '\0';
	}
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(embedded_fts_tok_register(db, &err), 0);
	assert_int_equal(
	    sqlite3_exec(db,
	                 "CREATE VIRTUAL TABLE a USING fts5(t, content='', "
	                 "tokenize='trigram', detail=none);"
	                 "CREATE VIRTUAL TABLE b USING fts5(t, content='', "
	                 "tokenize='pa_trigram', detail=none);"
	                 "CREATE VIRTUAL TABLE av USING fts5vocab(a, row);"
	                 "CREATE VIRTUAL TABLE bv USING fts5vocab(b, row);",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
			trigram_both(db, id++, docs[i], false);
		trigram_both(db, id++, big[round], false);
	}
	assert_true(trigram_count(db, "SELECT count(*) FROM av") > 5000);
	trigram_same_terms(db);
	/* Take out the first round's documents again. */
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		trigram_both(db, (int64_t)i + 1, docs[i], true);
	trigram_both(db, (int64_t)(sizeof(docs) / sizeof(docs[0])) + 1, big[0],
	             true);
	trigram_same_terms(db);
	assert_int_equal(
	    sqlite3_exec(db,
	                 "INSERT INTO b(b, rank) VALUES ('integrity-check', 0)",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
}

static void
test_match_helpers(void **state)
{
	(void)state;
	assert_true(embedded_match_contains("Straße ÄRGER", 14, "ärger", 6));
	assert_true(embedded_match_contains("ΑΘΗΝΑ", 10, "αθ", 4));
	assert_true(embedded_match_contains("ПРИВЕТ", 12, "привет", 12));
	assert_false(embedded_match_contains("abc", 3, "abcd", 4));
	assert_true(embedded_match_contains("abc", 3, "", 0));
	assert_true(embedded_match_header("subject: x\nfrom: Bob\n", 21, "FROM",
	                                  "bo", 2));
	assert_false(embedded_match_header("subject: bob\nfrom: x\n", 21,
	                                   "from", "bo", 2));
	assert_false(embedded_match_header("fromx: bob\n", 11, "from", "", 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_text_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_charsets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_short_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_text, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_numeric_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nesting, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits_and_errors, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_sort_info, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cache_and_copy, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_fill, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deferred_index, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_fts_rebuilt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_trigram_repeats, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_schema_9_upgrade, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_cache_ids_never_reused, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_raw_text_derived, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_long_text_derived, setup,
	                                    teardown),
	    cmocka_unit_test(test_trigram_ascii_path),
	    cmocka_unit_test(test_match_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
