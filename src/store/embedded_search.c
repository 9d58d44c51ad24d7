/*
 * embedded_search: store_search() (store/search.h) on the index.
 *
 * The key tree becomes one SQL WHERE expression over messages m joined to
 * msg_cache c.  Flags, dates, sizes, mod-sequences and UID ranges are
 * integer comparisons written into the SQL as numbers (they come from the
 * tree as integers, never as text).  Text keys are bound parameters: an
 * FTS5 MATCH on the trigram index fts.msg_text (embedded_fts.c) with the
 * value's trigrams as quoted strings (a '"' in them doubled), so user text
 * is always a value, never SQL or FTS syntax.  The index finds the
 * messages holding all those trigrams; the stored text then confirms the
 * substring: the same scan that values under 3 characters (which
 * trigrams cannot look up) get alone, LIKE for ASCII or pa_contains()
 * (embedded_match.c), for BODY and TEXT; pa_header_has() (which also
 * checks the field) for HEADER-type keys.
 */
#include "store/embedded_cache.h"
#include "store/search.h"

#include <stdlib.h>
#include <string.h>

/*
 * Parentheses nested in the generated SQL: SQLite's parser stack (100
 * entries) overflows at about 40.  AND in AND, OR in OR and NOT NOT are
 * flattened first, so only alternations count.
 */
#define SS_MAX_DEPTH 30
/* Nodes of the key tree walked. */
#define SS_MAX_KEYS 10000
/* Lists inlined into one another (bounds the recursion of the walk). */
#define SS_MAX_INLINE 1000
/* Text keys in one search: each is one or two bound parameters. */
#define SS_MAX_TEXT 1000
/* Bytes of generated SQL (UID sets can be long). */
#define SS_MAX_SQL (4 * 1024 * 1024)

/* The text parameters of the statement being built, ?2 onwards. */
struct ss_build {
	struct buf sql;
	char *params[2 * SS_MAX_TEXT];
	size_t nparams;
	bool too_complex;
	size_t nkeys;
	unsigned inline_depth;
};

/* Adds a parameter (owned by b) and writes its "?N" into the SQL. */
static int
ss_param(struct ss_build *b, const char *s, size_t len)
{
	char *p;

	if (b->nparams >= 2 * SS_MAX_TEXT) {
		b->too_complex = true;
		return -1;
	}
	if ((p = malloc(len + 1)) == NULL)
		return -1;
	memcpy(p, s, len);
	p[len] = '\0';
	b->params[b->nparams++] = p;
	return buf_printf(&b->sql, "?%zu", b->nparams + 1);
}

/*
 * Bytes of the character at s as FTS5's tokenizers read UTF-8: a lead
 * byte takes every continuation byte after it; any other byte, a stray
 * continuation byte too, stands alone.  A query piece of 3 such
 * characters is exactly one trigram token.
 */
static size_t
ss_char_len(const char *s)
{
	size_t n = 1;

	if ((unsigned char)s[0] >= 0xC0)
		while (((unsigned char)s[n] & 0xC0) == 0x80)
			n++;
	return n;
}

/* Appends [from, to) to q as an FTS5 string: quoted, '"' doubled. */
static int
ss_fts_string(struct buf *q, const char *from, const char *to)
{
	int rc = buf_append(q, "\"", 1);

	for (const char *c = from; c < to && rc == 0; c++)
		rc = *c == '"' ? buf_append(q, "\"\"", 2) : buf_append(q, c, 1);
	return rc < 0 ? -1 : buf_append(q, "\"", 1);
}

/*
 * An FTS5 query for value (3 or more characters): its trigrams at every
 * third character and the last one, joined by AND.  The index keeps no
 * positions (detail=none, embedded_fts.c), so this finds every message
 * holding the substring and some that only hold its pieces;
 * ss_text() and ss_header() confirm.  More than SS_FTS_PIECES add little
 * selectivity to a query that is confirmed anyway.
 */
#define SS_FTS_PIECES 32
static int
ss_fts_param(struct ss_build *b, const char *value)
{
	const char *last[3] = {value, value, value}; /* the last 3 starts */
	const char *piece = value, *s = value;
	struct buf q = BUF_INIT;
	size_t n = 0, pieces = 0;
	int rc = 0;

	for (; *s != '\0' && rc == 0; s += ss_char_len(s), n++) {
		last[n % 3] = s;
		if (n > 0 && n % 3 == 0 && pieces < SS_FTS_PIECES - 1) {
			if (pieces++ > 0)
				rc |= buf_append_str(&q, " AND ");
			rc |= ss_fts_string(&q, piece, s);
			piece = s;
		}
	}
	/* The last trigram: the oldest of the last three starts. */
	if (pieces > 0)
		rc |= buf_append_str(&q, " AND ");
	rc |= ss_fts_string(&q, last[n % 3], s);
	if (rc == 0)
		rc = ss_param(b, buf_cstr(&q), q.len);
	buf_free(&q);
	return rc;
}

/* Characters of text as ss_char_len() counts them, up to 3. */
static bool
ss_trigram_ok(const char *s)
{
	size_t n = 0;

	for (; *s != '\0' && n < 3; s += ss_char_len(s))
		n++;
	return n >= 3;
}

/*
 * A scan of column (an SQL expression) for value, for values too short for
 * trigrams: LIKE (fast, and case-insensitive for ASCII, which is all an ASCII
 * value needs) or pa_contains() for other text.
 */
static int
ss_scan(struct ss_build *b, const char *column, const char *value)
{
	struct buf pat = BUF_INIT;
	bool ascii = true;
	int rc = 0;

	for (const char *p = value; *p != '\0'; p++)
		ascii = ascii && (unsigned char)*p < 0x80;
	if (!ascii) {
		rc |= buf_printf(&b->sql, "pa_contains(%s, ", column);
		rc |= ss_param(b, value, strlen(value));
		return rc < 0 ? -1 : buf_append_str(&b->sql, ")");
	}
	rc |= buf_append(&pat, "%", 1);
	for (const char *p = value; *p != '\0'; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			rc |= buf_append(&pat, "\\", 1);
		rc |= buf_append(&pat, p, 1);
	}
	rc |= buf_append(&pat, "%", 1);
	rc |= buf_printf(&b->sql, "%s LIKE ", column);
	if (rc == 0)
		rc = ss_param(b, buf_cstr(&pat), pat.len);
	buf_free(&pat);
	return rc < 0 ? -1 : buf_append_str(&b->sql, " ESCAPE '\\'");
}

/*
 * "c.id IN (...)": the messages whose index holds every trigram piece of
 * value (3 or more characters); a superset, confirmed by the caller.
 */
static int
ss_fts_match(struct ss_build *b, const char *value)
{
	int rc = buf_append_str(&b->sql, "c.id IN (SELECT rowid FROM "
	                                 "fts.msg_text WHERE msg_text MATCH ");

	rc |= ss_fts_param(b, value);
	return rc < 0 ? -1 : buf_append_str(&b->sql, ")");
}

/*
 * BODY and TEXT: the substring scan of the stored text, behind the
 * trigram lookup when the value is long enough for one.
 */
static int
ss_text(struct ss_build *b, const struct store_search_key *k)
{
	const char *v = k->value != NULL ? k->value : "";
	int rc;

	if (*v == '\0') /* every message has a body and a header */
		return buf_append_str(&b->sql, "1");
	rc = buf_append_str(&b->sql, "(");
	if (ss_trigram_ok(v))
		rc |= ss_fts_match(b, v) | buf_append_str(&b->sql, " AND ");
	rc |= buf_append_str(&b->sql, "(");
	rc |= ss_scan(b, EMB_BODY_TEXT("c."), v);
	if (k->op != SS_BODY) {
		rc |= buf_append_str(&b->sql, " OR ");
		rc |= ss_scan(b, "c.t_hdr", v);
	}
	rc |= buf_append_str(&b->sql, "))");
	return rc < 0 ? -1 : 0;
}

/* HEADER and its shorthands FROM, TO, CC, BCC, SUBJECT. */
static int
ss_header(struct ss_build *b, const struct store_search_key *k)
{
	static const char *const names[] = {[SS_FROM] = "from",
	                                    [SS_TO] = "to",
	                                    [SS_CC] = "cc",
	                                    [SS_BCC] = "bcc",
	                                    [SS_SUBJECT] = "subject"};
	const char *name = k->op == SS_HEADER ? k->name : names[k->op];
	const char *v = k->value != NULL ? k->value : "";
	int rc;

	if (name == NULL || *name == '\0' || strchr(name, ':') != NULL ||
	    strchr(name, '\n') != NULL)
		return buf_append_str(&b->sql, "0"); /* no such field */
	/* pa_header_has() confirms; the lookup or scan only narrows. */
	rc = buf_append_str(&b->sql, "(");
	if (ss_trigram_ok(v))
		rc |= ss_fts_match(b, v) | buf_append_str(&b->sql, " AND ");
	else if (*v != '\0')
		rc |=
		    ss_scan(b, "c.t_hdr", v) | buf_append_str(&b->sql, " AND ");
	rc |= buf_append_str(&b->sql, "pa_header_has(c.t_hdr, ");
	rc |= ss_param(b, name, strlen(name));
	rc |= buf_append_str(&b->sql, ", ");
	rc |= ss_param(b, v, strlen(v));
	rc |= buf_append_str(&b->sql, "))");
	return rc < 0 ? -1 : 0;
}

static int
ss_uid(struct ss_build *b, const struct store_search_key *k)
{
	int rc = buf_append_str(&b->sql, "(0");

	for (size_t i = 0; i < k->nranges && rc == 0; i++)
		rc = buf_printf(&b->sql, " OR m.uid BETWEEN %u AND %u",
		                k->ranges[i].first, k->ranges[i].last);
	return rc < 0 ? -1 : buf_append_str(&b->sql, ")");
}

/* The Date: header's day, or the internal date's (RFC 5256 2.2). */
#define SS_SENT_DAY                                                            \
	"coalesce(c.sent_day, m.internaldate - m.internaldate %% 86400)"

/* Integer comparisons: op -> SQL with num for each %llu (at most 2). */
static const char *const ss_num_fmt[] = {
    [SS_FLAGS_SET] = "(m.flags & %llu) = %llu",
    [SS_FLAGS_CLEAR] = "(m.flags & %llu) = 0",
    [SS_BEFORE] = "m.internaldate < %llu",
    [SS_SINCE] = "m.internaldate >= %llu",
    [SS_SENTBEFORE] = SS_SENT_DAY " < %llu",
    [SS_SENTSINCE] = SS_SENT_DAY " >= %llu",
    [SS_LARGER] = "m.size > %llu",
    [SS_SMALLER] = "m.size < %llu",
    [SS_MODSEQ] = "m.modseq >= %llu",
    [SS_SAVEDBEFORE] = "coalesce(m.savedate, m.internaldate) < %llu",
    [SS_SAVEDSINCE] = "coalesce(m.savedate, m.internaldate) >= %llu",
};

/*
 * KEYWORD and UNKEYWORD: the bit of the name from the user's table (store.h
 * "Keywords"); a name without a bit is set on no message.
 */
static int
ss_keyword(struct ss_build *b, const struct store_search_key *k)
{
	const char *v = k->value != NULL ? k->value : "";
	int rc;

	if (!store_keyword_valid(v))
		return buf_append_str(&b->sql, k->op == SS_KEYWORD ? "0" : "1");
	rc = buf_append_str(&b->sql, "(m.flags & coalesce((SELECT 1 << bit "
	                             "FROM keywords WHERE name = ");
	rc |= ss_param(b, v, strlen(v));
	rc |= buf_append_str(&b->sql, k->op == SS_KEYWORD ? "), 0)) != 0"
	                                                  : "), 0)) = 0");
	return rc < 0 ? -1 : 0;
}

static int ss_expr(struct ss_build *b, const struct store_search_key *k,
                   unsigned depth);

/* The operands of k, with nested lists of the same operator inlined. */
static int
ss_operands(struct ss_build *b, const struct store_search_key *k,
            unsigned depth, bool *first)
{
	const char *join = k->op == SS_AND ? " AND " : " OR ";
	int rc = 0;

	if (++b->inline_depth > SS_MAX_INLINE) {
		b->too_complex = true;
		return -1;
	}
	for (const struct store_search_key *c = k->child; c != NULL && rc == 0;
	     c = c->next) {
		if (++b->nkeys > SS_MAX_KEYS) {
			b->too_complex = true;
			return -1;
		}
		if (c->op == k->op) {
			rc = ss_operands(b, c, depth, first);
			continue;
		}
		if (!*first)
			rc = buf_append_str(&b->sql, join);
		*first = false;
		if (rc == 0)
			rc = ss_expr(b, c, depth);
	}
	b->inline_depth--;
	return rc;
}

/* AND, OR: the children joined; an empty AND is true, an empty OR false. */
static int
ss_list(struct ss_build *b, const struct store_search_key *k, unsigned depth)
{
	bool first = true;

	if (buf_append_str(&b->sql, "(") < 0 ||
	    ss_operands(b, k, depth + 1, &first) < 0)
		return -1;
	if (first)
		return buf_append_str(&b->sql, k->op == SS_AND ? "1)" : "0)");
	return buf_append_str(&b->sql, ")");
}

static int
ss_expr(struct ss_build *b, const struct store_search_key *k, unsigned depth)
{
	unsigned long long n;

	/* NOT NOT x is x. */
	while (k->op == SS_NOT && k->child != NULL && k->child->op == SS_NOT &&
	       k->child->child != NULL) {
		k = k->child->child;
		if (++b->nkeys > SS_MAX_KEYS) {
			b->too_complex = true;
			return -1;
		}
	}
	if (depth > SS_MAX_DEPTH) {
		b->too_complex = true;
		return -1;
	}
	switch (k->op) {
	case SS_ALL:
		return buf_append_str(&b->sql, "1");
	case SS_AND:
	case SS_OR:
		return ss_list(b, k, depth);
	case SS_NOT:
		if (k->child == NULL)
			return buf_append_str(&b->sql, "0");
		if (buf_append_str(&b->sql, "NOT (") < 0 ||
		    ss_expr(b, k->child, depth + 1) < 0)
			return -1;
		return buf_append_str(&b->sql, ")");
	case SS_UID:
		return ss_uid(b, k);
	case SS_HEADER:
	case SS_FROM:
	case SS_TO:
	case SS_CC:
	case SS_BCC:
	case SS_SUBJECT:
		return ss_header(b, k);
	case SS_BODY:
	case SS_TEXT:
		return ss_text(b, k);
	case SS_KEYWORD:
	case SS_UNKEYWORD:
		return ss_keyword(b, k);
	default:
		break;
	}
	if ((size_t)k->op >= sizeof(ss_num_fmt) / sizeof(ss_num_fmt[0]) ||
	    ss_num_fmt[k->op] == NULL)
		return buf_append_str(&b->sql, "0");
	/* Above INT64_MAX SQLite would read a float: clamp. */
	n = k->num > INT64_MAX ? INT64_MAX : (unsigned long long)k->num;
	return buf_printf(&b->sql, ss_num_fmt[k->op], n, n);
}

static void
ss_build_free(struct ss_build *b)
{
	for (size_t i = 0; i < b->nparams; i++)
		free(b->params[i]);
	buf_free(&b->sql);
}

/* Steps the statement, collecting UIDs (ascending by the ORDER BY). */
static int
ss_collect(struct embedded_user *u, sqlite3_stmt *st, uint32_t **uids_r,
           size_t *count_r, struct err *err)
{
	size_t cap = 0;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*count_r == cap) {
			size_t ncap = cap == 0 ? 64 : cap * 2;
			uint32_t *n = realloc(*uids_r, ncap * sizeof(*n));

			if (n == NULL)
				return err_set(err, ERR_TEMP,
				               "store: out of memory");
			*uids_r = n;
			cap = ncap;
		}
		(*uids_r)[(*count_r)++] = (uint32_t)sqlite3_column_int64(st, 0);
	}
	return rc == SQLITE_DONE ? 0 : embedded_db_error(u, rc, "search", err);
}

static int
ss_run(struct embedded_user *u, int64_t mbox, struct ss_build *b,
       uint32_t **uids_r, size_t *count_r, struct err *err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(u->db, buf_cstr(&b->sql), (int)b->sql.len,
	                            &st, NULL);

	if (rc != SQLITE_OK)
		return embedded_db_error(u, rc, "search", err);
	sqlite3_bind_int64(st, 1, mbox);
	for (size_t i = 0; i < b->nparams; i++)
		sqlite3_bind_text(st, (int)i + 2, b->params[i], -1,
		                  SQLITE_STATIC);
	rc = ss_collect(u, st, uids_r, count_r, err);
	sqlite3_finalize(st);
	if (rc < 0) {
		free(*uids_r);
		*uids_r = NULL;
		*count_r = 0;
	}
	return rc;
}

/*
 * True if key cannot match without a trigram hit: a text key of 3 or more
 * characters, alone or as an operand of the top-level AND.
 */
static bool
ss_driving_text(const struct store_search_key *k)
{
	if (k->op == SS_AND) {
		for (const struct store_search_key *c = k->child; c != NULL;
		     c = c->next)
			if (c->op != SS_AND && ss_driving_text(c))
				return true;
		return false;
	}
	return k->op >= SS_HEADER && k->op <= SS_TEXT && k->value != NULL &&
	       (k->op != SS_HEADER || (k->name != NULL && *k->name != '\0' &&
	                               strchr(k->name, ':') == NULL &&
	                               strchr(k->name, '\n') == NULL)) &&
	       ss_trigram_ok(k->value);
}

static int
emb_search(struct embedded_user *u, const char *mailbox,
           const struct store_search_key *key, uint32_t **uids_r,
           size_t *count_r, struct err *err)
{
	struct ss_build b;
	int64_t mbox;
	int rc;

	memset(&b, 0, sizeof(b));
	buf_init(&b.sql, SS_MAX_SQL);
	if (embedded_match_register(u, err) < 0 ||
	    embedded_cache_fill(u, err) < 0 ||
	    embedded_mailbox_id(u, mailbox, &mbox, err) < 0)
		return -1;
	/*
	 * Every message has its cache row (added in the same transaction),
	 * so the inner join loses none.  When the trigram index must match
	 * for any result, the join starts from it (CROSS JOIN fixes the
	 * order): a rare word costs its few hits, not a scan of the mailbox.
	 */
	rc = buf_append_str(&b.sql, ss_driving_text(key)
	                                ? "SELECT m.uid FROM msg_cache c CROSS "
	                                  "JOIN messages m ON m.blob = c.blob "
	                                : "SELECT m.uid FROM messages m JOIN "
	                                  "msg_cache c ON c.blob = m.blob ");
	if (rc == 0)
		rc = buf_append_str(&b.sql, "WHERE m.mailbox_id = ?1 AND ");
	if (rc == 0)
		rc = ss_expr(&b, key, 0);
	if (rc == 0)
		rc = buf_append_str(&b.sql, " ORDER BY m.uid");
	if (rc < 0)
		rc = b.too_complex || b.sql.len + 64 > SS_MAX_SQL
		         ? err_set(err, ERR_LIMIT, "search is too complex")
		         : err_set(err, ERR_TEMP, "store: out of memory");
	else
		rc = ss_run(u, mbox, &b, uids_r, count_r, err);
	ss_build_free(&b);
	return rc;
}

int
store_search(struct store_user *u, const char *mailbox,
             const struct store_search_key *key, uint32_t **uids_r,
             size_t *count_r, struct err *err)
{
	*uids_r = NULL;
	*count_r = 0;
	if (key == NULL)
		return err_set(err, ERR_SYNTAX, "store: empty search");
	if (store_mailbox_name_check(mailbox, err) < 0)
		return -1;
	if (u->store->ops != &store_embedded_ops)
		return err_set(
		    err, ERR_INTERNAL,
		    "store: search is not supported by this backend");
	return emb_search(embedded_user_of(u),
	                  store_mailbox_name_canon(mailbox), key, uids_r,
	                  count_r, err);
}
