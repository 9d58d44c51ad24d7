/*
 * search_parse: SEARCH criteria -> struct store_search_key tree
 * (see search.h).
 *
 * \Recent: this server gives no message the \Recent flag (SELECT reports
 * "0 RECENT"), so RECENT and NEW match nothing and OLD matches everything,
 * consistently with what FETCH FLAGS shows (RFC 3501 2.3.2).  KEYWORD,
 * UNKEYWORD and the RFC 8514 SAVED* keys are evaluated by the store.
 */
#include "imap/search.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap/resp.h"
#include "imap/seqset.h"

#define DAY_SECONDS 86400

/* Parsing state: the tree, the session and the cursor over the args. */
struct sp {
	struct imap_session *s;
	struct imap_search_tree *t;
	const struct imap_arg *a; /* the next argument */
};

static void *
sp_alloc(struct imap_search_tree *t, size_t size)
{
	void *p;

	if (t->nallocs == t->cap) {
		size_t ncap = t->cap != 0 ? t->cap * 2 : 16;
		void **v = reallocarray(t->allocs, ncap, sizeof(*v));

		if (v == NULL)
			return NULL;
		t->allocs = v;
		t->cap = ncap;
	}
	p = calloc(1, size);
	if (p != NULL)
		t->allocs[t->nallocs++] = p;
	return p;
}

void
imap_search_tree_free(struct imap_search_tree *t)
{
	for (size_t i = 0; i < t->nallocs; i++)
		free(t->allocs[i]);
	free(t->allocs);
	memset(t, 0, sizeof(*t));
}

static struct store_search_key *
sp_fail(struct sp *p, const char *why)
{
	if (p->t->error == NULL)
		p->t->error = why;
	return NULL;
}

static struct store_search_key *
sp_node(struct sp *p, enum store_search_op op, uint64_t num)
{
	struct store_search_key *k = sp_alloc(p->t, sizeof(*k));

	if (k == NULL)
		return sp_fail(p, "Out of memory");
	k->op = op;
	k->num = num;
	return k;
}

/* NOT ALL: what RECENT, NEW, KEYWORD and an empty set match. */
static struct store_search_key *
sp_nothing(struct sp *p)
{
	struct store_search_key *n = sp_node(p, SS_NOT, 0);

	if (n != NULL && (n->child = sp_node(p, SS_ALL, 0)) == NULL)
		return NULL;
	return n;
}

/* Takes the next argument as a string (atom, quoted or literal). */
static const char *
sp_string(struct sp *p)
{
	const struct imap_arg *a = p->a;

	if (a == NULL || a->type == IMAP_ARG_LIST)
		return NULL;
	p->a = a->next;
	return a->str;
}

/* number / number64 (RFC 9051 9), at most max. */
static int
sp_number(struct sp *p, uint64_t max, uint64_t *n_r)
{
	const char *str =
	    p->a != NULL && p->a->type == IMAP_ARG_ATOM ? p->a->str : NULL;
	uint64_t n = 0;

	if (str == NULL || *str == '\0')
		return -1;
	for (; *str != '\0'; str++) {
		if (*str < '0' || *str > '9' ||
		    n > (max - (uint64_t)(*str - '0')) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*str - '0');
	}
	p->a = p->a->next;
	*n_r = n;
	return 0;
}

/* date = date-text / DQUOTE date-text DQUOTE; "d-Mon-yyyy", in UTC. */
static int
sp_date(struct sp *p, int64_t *t_r)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	const char *s = sp_string(p);
	struct tm tm = {0};
	char mon[4];
	int day, year, used = 0;
	const char *m;

	if (s == NULL ||
	    sscanf(s, "%2d-%3[A-Za-z]-%4d%n", &day, mon, &year, &used) != 3 ||
	    s[used] != '\0' || strlen(mon) != 3 || day < 1 || day > 31 ||
	    year < 1900)
		return -1;
	for (size_t i = 0; i < 3; i++)
		mon[i] = (char)(mon[i] | 0x20);
	m = strstr(months, mon);
	if (m == NULL || (m - months) % 3 != 0)
		return -1;
	tm.tm_mday = day;
	tm.tm_mon = (int)((m - months) / 3);
	tm.tm_year = year - 1900;
	*t_r = (int64_t)timegm(&tm);
	return 0;
}

/* The UID ranges of a set of ascending UIDs (RFC 5182 "$"). */
static struct store_search_key *
sp_uid_list(struct sp *p, const uint32_t *v, size_t n)
{
	struct store_search_key *k;
	struct store_uid_range *r;
	struct imap_seqset set;

	if (n == 0)
		return sp_nothing(p);
	if (imap_seqset_from(&set, v, n) < 0) {
		imap_seqset_free(&set);
		return sp_fail(p, "Out of memory");
	}
	k = sp_node(p, SS_UID, 0);
	r = sp_alloc(p->t, set.count * sizeof(*r));
	if (k != NULL && r != NULL) {
		for (size_t i = 0; i < set.count; i++) {
			r[i].first = set.ranges[i].lo;
			r[i].last = set.ranges[i].hi;
		}
		k->ranges = r;
		k->nranges = set.count;
	}
	imap_seqset_free(&set);
	return r != NULL ? k : sp_fail(p, "Out of memory");
}

/*
 * A sequence set (uid false) or UID set as SS_UID.  A range of sequence
 * numbers maps to the range between its first and last message's UIDs:
 * the map is in UID order and holds every UID in between.
 */
static struct store_search_key *
sp_set(struct sp *p, const char *text, bool uid)
{
	const struct imap_mailbox *box = &p->s->box;
	struct store_search_key *k;
	struct store_uid_range *r;
	struct imap_seqset set;
	size_t n = 0;

	if (strcmp(text, "$") == 0)
		return sp_uid_list(p, box->saved.v, box->saved.n);
	if (imap_seqset_parse(text, strlen(text), &set) < 0) {
		imap_seqset_free(&set);
		return sp_fail(p, "Invalid sequence set");
	}
	imap_seqset_resolve(
	    &set, uid ? (box->count > 0 ? box->msgs[box->count - 1].uid : 0)
	              : (uint32_t)box->count);
	r = sp_alloc(p->t, (set.count + 1) * sizeof(*r));
	for (size_t i = 0; r != NULL && i < set.count; i++) {
		uint32_t lo = set.ranges[i].lo, hi = set.ranges[i].hi;

		if (!uid && (lo == 0 || lo > box->count))
			continue; /* past the end: matches nothing */
		if (!uid && hi > box->count)
			hi = (uint32_t)box->count;
		r[n].first = uid ? lo : box->msgs[lo - 1].uid;
		r[n].last = uid ? hi : box->msgs[hi - 1].uid;
		n++;
	}
	imap_seqset_free(&set);
	if (r == NULL)
		return sp_fail(p, "Out of memory");
	if (n == 0)
		return sp_nothing(p);
	if ((k = sp_node(p, SS_UID, 0)) != NULL) {
		k->ranges = r;
		k->nranges = n;
	}
	return k;
}

struct sp_word {
	const char *name;
	enum store_search_op op;
	uint32_t num;
};

/* Keys without arguments that are one store key. */
static const struct sp_word sp_flag_words[] = {
    {"ALL", SS_ALL, 0},
    {"OLD", SS_ALL, 0},
    /* RFC 8514 4.3: every mailbox here keeps save dates. */
    {"SAVEDATESUPPORTED", SS_ALL, 0},
    {"ANSWERED", SS_FLAGS_SET, STORE_FLAG_ANSWERED},
    {"DELETED", SS_FLAGS_SET, STORE_FLAG_DELETED},
    {"DRAFT", SS_FLAGS_SET, STORE_FLAG_DRAFT},
    {"FLAGGED", SS_FLAGS_SET, STORE_FLAG_FLAGGED},
    {"SEEN", SS_FLAGS_SET, STORE_FLAG_SEEN},
    {"UNANSWERED", SS_FLAGS_CLEAR, STORE_FLAG_ANSWERED},
    {"UNDELETED", SS_FLAGS_CLEAR, STORE_FLAG_DELETED},
    {"UNDRAFT", SS_FLAGS_CLEAR, STORE_FLAG_DRAFT},
    {"UNFLAGGED", SS_FLAGS_CLEAR, STORE_FLAG_FLAGGED},
    {"UNSEEN", SS_FLAGS_CLEAR, STORE_FLAG_SEEN},
};

/* Keys with one string argument. */
static const struct sp_word sp_text_words[] = {
    {"BCC", SS_BCC, 0},   {"CC", SS_CC, 0},           {"FROM", SS_FROM, 0},
    {"TO", SS_TO, 0},     {"SUBJECT", SS_SUBJECT, 0}, {"BODY", SS_BODY, 0},
    {"TEXT", SS_TEXT, 0},
};

/* Keys with a date; num 1 marks the "ON" forms (a whole day). */
static const struct sp_word sp_date_words[] = {
    {"BEFORE", SS_BEFORE, 0},
    {"SINCE", SS_SINCE, 0},
    {"ON", SS_SINCE, 1},
    {"SENTBEFORE", SS_SENTBEFORE, 0},
    {"SENTSINCE", SS_SENTSINCE, 0},
    {"SENTON", SS_SENTSINCE, 1},
    {"SAVEDBEFORE", SS_SAVEDBEFORE, 0}, /* RFC 8514 */
    {"SAVEDSINCE", SS_SAVEDSINCE, 0},
    {"SAVEDON", SS_SAVEDSINCE, 1},
};

static const struct sp_word *
sp_word_find(const struct sp_word *w, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(w[i].name, name) == 0)
			return &w[i];
	return NULL;
}

#define NWORDS(a) (sizeof(a) / sizeof((a)[0]))

static struct store_search_key *sp_key(struct sp *p, unsigned depth);

/* Keys in a list (or the whole command) until args run out: an AND. */
static struct store_search_key *
sp_keys(struct sp *p, const struct imap_arg *first, unsigned depth)
{
	const struct imap_arg *saved = p->a;
	struct store_search_key *and, *k, **tail;

	if (first == NULL)
		return sp_fail(p, "Missing search key");
	if ((and = sp_node(p, SS_AND, 0)) == NULL)
		return NULL;
	tail = &and->child;
	p->a = first;
	while (p->a != NULL) {
		if ((k = sp_key(p, depth + 1)) == NULL)
			return NULL;
		*tail = k;
		tail = &k->next;
	}
	p->a = saved;
	return and->child->next == NULL ? and->child : and;
}

/* A date key: BEFORE d, SINCE d, ON d = SINCE d AND BEFORE d + 1. */
static struct store_search_key *
sp_date_key(struct sp *p, const struct sp_word *w)
{
	struct store_search_key *and, *before;
	int64_t day;

	if (sp_date(p, &day) < 0)
		return sp_fail(p, "Invalid date (expected d-Mon-yyyy)");
	if (w->num == 0)
		return sp_node(p, w->op, (uint64_t)day);
	if ((and = sp_node(p, SS_AND, 0)) == NULL ||
	    (and->child = sp_node(p, w->op, (uint64_t)day)) == NULL ||
	    (before = sp_node(p,
	                      w->op == SS_SINCE        ? SS_BEFORE
	                      : w->op == SS_SAVEDSINCE ? SS_SAVEDBEFORE
	                                               : SS_SENTBEFORE,
	                      (uint64_t)(day + DAY_SECONDS))) == NULL)
		return NULL;
	and->child->next = before;
	return and;
}

/* MODSEQ [entry-name entry-type-req] mod-sequence-valzer (7162 3.1.5). */
static struct store_search_key *
sp_modseq(struct sp *p)
{
	uint64_t n;

	if (p->a != NULL && p->a->next != NULL && p->a->type != IMAP_ARG_ATOM) {
		const struct imap_arg *type = p->a->next;

		if (!imap_arg_is_atom(type, "priv") &&
		    !imap_arg_is_atom(type, "shared") &&
		    !imap_arg_is_atom(type, "all"))
			return sp_fail(p, "Invalid MODSEQ entry type");
		p->a = type->next;
	}
	if (sp_number(p, INT64_MAX, &n) < 0)
		return sp_fail(p, "Invalid MODSEQ value");
	p->t->has_modseq = true;
	return sp_node(p, SS_MODSEQ, n);
}

/* Keys taking arguments other than a date or a text. */
static struct store_search_key *
sp_key_args(struct sp *p, const char *w, unsigned depth)
{
	struct store_search_key *k;
	const char *str;
	uint64_t n;

	if (strcasecmp(w, "NOT") == 0) {
		if ((k = sp_node(p, SS_NOT, 0)) != NULL &&
		    (k->child = sp_key(p, depth + 1)) == NULL)
			return NULL;
		return k;
	}
	if (strcasecmp(w, "OR") == 0) {
		if ((k = sp_node(p, SS_OR, 0)) == NULL ||
		    (k->child = sp_key(p, depth + 1)) == NULL ||
		    (k->child->next = sp_key(p, depth + 1)) == NULL)
			return NULL;
		return k;
	}
	if (strcasecmp(w, "UID") == 0) {
		if ((str = sp_string(p)) == NULL)
			return sp_fail(p, "UID needs a set");
		return sp_set(p, str, true);
	}
	if (strcasecmp(w, "LARGER") == 0 || strcasecmp(w, "SMALLER") == 0) {
		if (sp_number(p, UINT64_MAX, &n) < 0)
			return sp_fail(p, "Invalid size");
		return sp_node(
		    p, w[0] == 'L' || w[0] == 'l' ? SS_LARGER : SS_SMALLER, n);
	}
	if (strcasecmp(w, "OLDER") == 0 || strcasecmp(w, "YOUNGER") == 0) {
		/* RFC 5032: interval in seconds, from now. */
		int64_t now = (int64_t)time(NULL);

		if (sp_number(p, UINT32_MAX, &n) < 0 || n == 0)
			return sp_fail(p, "Invalid interval");
		if (w[0] == 'O' || w[0] == 'o')
			return sp_node(p, SS_BEFORE,
			               (uint64_t)(now - (int64_t)n + 1));
		return sp_node(p, SS_SINCE, (uint64_t)(now - (int64_t)n));
	}
	if (strcasecmp(w, "MODSEQ") == 0)
		return sp_modseq(p);
	return sp_fail(p, "Unknown search key");
}

/* Keys whose argument is text. */
static struct store_search_key *
sp_key_text(struct sp *p, const char *w)
{
	const struct sp_word *sw;
	struct store_search_key *k;
	const char *name, *value;

	if (strcasecmp(w, "KEYWORD") == 0 || strcasecmp(w, "UNKEYWORD") == 0) {
		if (p->a == NULL || p->a->type != IMAP_ARG_ATOM)
			return sp_fail(p, "Invalid keyword");
		value = p->a->str;
		p->a = p->a->next;
		k = sp_node(
		    p, w[0] == 'K' || w[0] == 'k' ? SS_KEYWORD : SS_UNKEYWORD,
		    0);
		if (k != NULL)
			k->value = value;
		return k;
	}
	if (strcasecmp(w, "HEADER") == 0) {
		if ((name = sp_string(p)) == NULL ||
		    (value = sp_string(p)) == NULL)
			return sp_fail(p, "HEADER needs a name and a value");
		if ((k = sp_node(p, SS_HEADER, 0)) != NULL) {
			k->name = name;
			k->value = value;
		}
		return k;
	}
	sw = sp_word_find(sp_text_words, NWORDS(sp_text_words), w);
	if (sw == NULL)
		return NULL;
	if ((value = sp_string(p)) == NULL)
		return sp_fail(p, "Missing search text");
	if ((k = sp_node(p, sw->op, 0)) != NULL)
		k->value = value;
	return k;
}

/* One search-key at p->a. */
static struct store_search_key *
sp_key(struct sp *p, unsigned depth)
{
	const struct imap_arg *a = p->a;
	const struct sp_word *sw;
	struct store_search_key *k;

	if (depth > IMAP_SEARCH_MAX_DEPTH) {
		p->t->limit = true;
		return sp_fail(p, "Search keys nested too deeply");
	}
	if (a == NULL)
		return sp_fail(p, "Missing search key");
	p->a = a->next;
	if (a->type == IMAP_ARG_LIST)
		return sp_keys(p, a->child, depth);
	if (a->type != IMAP_ARG_ATOM)
		return sp_fail(p, "Search key expected");
	if ((a->str[0] >= '0' && a->str[0] <= '9') || a->str[0] == '*' ||
	    a->str[0] == '$')
		return sp_set(p, a->str, false);
	if ((sw = sp_word_find(sp_flag_words, NWORDS(sp_flag_words), a->str)) !=
	    NULL)
		return sp_node(p, sw->op, sw->num);
	if (strcasecmp(a->str, "RECENT") == 0 || strcasecmp(a->str, "NEW") == 0)
		return sp_nothing(p);
	if ((sw = sp_word_find(sp_date_words, NWORDS(sp_date_words), a->str)) !=
	    NULL)
		return sp_date_key(p, sw);
	if ((k = sp_key_text(p, a->str)) != NULL || p->t->error != NULL)
		return k;
	return sp_key_args(p, a->str, depth);
}

int
imap_search_parse(struct imap_session *s, const struct imap_arg *args,
                  struct imap_search_tree *t)
{
	struct sp p = {.s = s, .t = t, .a = NULL};

	memset(t, 0, sizeof(*t));
	t->root = sp_keys(&p, args, 0);
	if (t->root == NULL && t->error == NULL)
		t->error = "Invalid search";
	return t->root != NULL ? 0 : -1;
}

int
imap_search_run(struct imap_session *s, const struct imap_search_tree *t,
                struct imap_search_result *res, struct err *err)
{
	const struct imap_mailbox *box = &s->box;
	uint32_t *uids = NULL;
	size_t n = 0, j = 0;

	res->idx = NULL;
	res->n = 0;
	if (store_search(s->user, box->name, t->root, &uids, &n, err) < 0)
		return -1;
	if (n > 0 && (res->idx = calloc(n, sizeof(*res->idx))) == NULL) {
		free(uids);
		return err_set(err, ERR_TEMP, "out of memory");
	}
	/* Both lists ascend: one merge keeps what the map holds. */
	for (size_t i = 0; i < box->count && j < n; i++) {
		while (j < n && uids[j] < box->msgs[i].uid)
			j++;
		if (j < n && uids[j] == box->msgs[i].uid)
			res->idx[res->n++] = i;
	}
	free(uids);
	return 0;
}

int
imap_search_charset(struct imap_session *s, const char *tag,
                    const struct imap_arg *args, bool required,
                    const struct imap_arg **keys_r)
{
	const char *cs = NULL;

	if (!required && imap_arg_is_atom(args, "CHARSET"))
		args = args->next;
	else if (!required) {
		*keys_r = args;
		return 0;
	}
	if ((cs = imap_arg_astring(args)) == NULL) {
		imap_resp_tagged(s, tag, IMAP_BAD, NULL, "Missing charset");
		return -1;
	}
	if (strcasecmp(cs, "UTF-8") != 0 && strcasecmp(cs, "US-ASCII") != 0) {
		/* RFC 9051 6.4.4: name the charsets we do support. */
		imap_resp_tagged(s, tag, IMAP_NO, "BADCHARSET (UTF-8 US-ASCII)",
		                 "Unsupported charset");
		return -1;
	}
	*keys_r = args->next;
	return 0;
}
