/*
 * store search: the query and sort interface IMAP SEARCH, SORT and THREAD
 * use (RFC 9051 6.4.4, RFC 5256).  The protocol parses its syntax into a
 * tree of struct store_search_key; the store evaluates it on the index (text
 * keys on an FTS5 trigram index filled at delivery, decoded from transfer
 * encodings and charsets) and returns matching UIDs.
 *
 * Declared ahead of the implementation (issue 3); the store owner
 * implements it in src/store/.  Sequence numbers never reach the store: the
 * protocol turns them into UID ranges first.
 */
#ifndef POSTAMT_STORE_SEARCH_H
#define POSTAMT_STORE_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

enum store_search_op {
	SS_ALL,         /* every message */
	SS_AND,         /* all children match */
	SS_OR,          /* at least one child matches */
	SS_NOT,         /* the single child does not match */
	SS_UID,         /* uid in ranges[] */
	SS_FLAGS_SET,   /* every bit of num is set (enum store_flag) */
	SS_FLAGS_CLEAR, /* no bit of num is set */
	SS_BEFORE,      /* internal date < num (seconds; day start, RFC 9051) */
	SS_SINCE,       /* internal date >= num */
	SS_SENTBEFORE,  /* Date: header < num */
	SS_SENTSINCE,   /* Date: header >= num */
	SS_LARGER,      /* size > num */
	SS_SMALLER,     /* size < num */
	SS_MODSEQ,      /* modseq >= num (RFC 7162 3.1.5) */
	SS_HEADER,      /* header field `name` contains `value` */
	SS_FROM,        /* shorthands for SS_HEADER with these names */
	SS_TO,
	SS_CC,
	SS_BCC,
	SS_SUBJECT,
	SS_BODY,        /* the decoded body text contains value */
	SS_TEXT,        /* the header or the body contains value */
	SS_KEYWORD,     /* keyword `value` is set (RFC 9051 6.4.4) */
	SS_UNKEYWORD,   /* keyword `value` is not set */
	SS_SAVEDBEFORE, /* save date < num (RFC 8514 4.3; day start) */
	SS_SAVEDSINCE,  /* save date >= num; SAVEDON d is SAVEDSINCE d AND
	                 * SAVEDBEFORE d + 1 day; SAVEDATESUPPORTED is ALL */
};

struct store_uid_range {
	uint32_t first, last; /* inclusive, first <= last */
};

struct store_search_key {
	enum store_search_op op;
	struct store_search_key *child; /* AND, OR, NOT: first operand */
	struct store_search_key *next;  /* next operand of the parent */
	const char *name;               /* SS_HEADER: the field name */
	const char *value;              /* text keys: UTF-8, matched
	                                 * case-insensitively as a substring */
	uint64_t num;
	const struct store_uid_range *ranges; /* SS_UID */
	size_t nranges;
};

/*
 * Evaluates key over mailbox.  *uids_r is malloc()ed, ascending (NULL when
 * *count_r is 0).  ERR_NOTFOUND for an unknown mailbox.  An empty value of
 * a text key matches every message that has the field (RFC 9051 6.4.4).
 */
int store_search(struct store_user *u, const char *mailbox,
                 const struct store_search_key *key, uint32_t **uids_r,
                 size_t *count_r, struct err *err);

/* What SORT and THREAD need of each message, from the index (no parsing). */
struct store_sort_info {
	uint32_t uid;
	int64_t sent_date; /* Date: header in UTC seconds; internal date
	                    * if missing or invalid (RFC 5256 2.2) */
	int64_t internaldate;
	uint64_t size;
	char *base_subject; /* RFC 5256 2.1, UTF-8 */
	char *from_mailbox; /* addr-mailbox of the first From address */
	char *to_mailbox;   /* ... first To address */
	char *cc_mailbox;   /* ... first Cc address */
	char *from_display; /* RFC 5957 display-name or addr-spec */
	char *to_display;
	char *message_id;  /* "<...>" or "" */
	char *in_reply_to; /* raw field or "" */
	char *references;  /* raw field or "" */
};

/* All messages of mailbox in UID order; free with store_sort_info_free(). */
int store_sort_info(struct store_user *u, const char *mailbox,
                    struct store_sort_info **info_r, size_t *count_r,
                    struct err *err);
void store_sort_info_free(struct store_sort_info **info, size_t count);

#endif
