/*
 * search: SEARCH criteria (RFC 9051 6.4.4, RFC 3501 6.4.4, RFC 5032
 * WITHIN, RFC 5182 "$", RFC 7162 MODSEQ) parsed into the store's key tree
 * (store/search.h), and the evaluation shared by SEARCH, SORT and THREAD.
 *
 * Sequence numbers never reach the store: they become UID ranges through
 * the session's map.  Results are filtered through the map too, so a
 * message the session has not been told about yet never shows up.
 */
#ifndef POSTAMT_IMAP_SEARCH_H
#define POSTAMT_IMAP_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/session.h"
#include "store/search.h"

/* Nesting of NOT / OR / parentheses in one SEARCH (a named limit). */
#define IMAP_SEARCH_MAX_DEPTH 64

/* A parsed key tree; every node and range is owned by the tree. */
struct imap_search_tree {
	struct store_search_key *root;
	void **allocs;
	size_t nallocs, cap;
	bool has_modseq;   /* a MODSEQ key was used (RFC 7162 3.1.5) */
	const char *error; /* why parsing failed, for the BAD reply */
	bool limit;        /* it failed on IMAP_SEARCH_MAX_DEPTH */
};

/*
 * Parses the search keys starting at args (all of them, ANDed) against
 * the selected mailbox.  Returns 0, or -1 with t->error set (a BAD).
 * Free t with imap_search_tree_free() in both cases.
 */
int imap_search_parse(struct imap_session *s, const struct imap_arg *args,
                      struct imap_search_tree *t);
void imap_search_tree_free(struct imap_search_tree *t);

/* A match: the message's index in the map (seq - 1). */
struct imap_search_result {
	size_t *idx; /* ascending */
	size_t n;
};

/*
 * Runs the tree with store_search() and keeps the matches the session's
 * map holds.  Returns 0 or -1 with *err filled.
 */
int imap_search_run(struct imap_session *s, const struct imap_search_tree *t,
                    struct imap_search_result *res, struct err *err);

/*
 * Parses "[CHARSET name] keys" at args: answers NO [BADCHARSET] or BAD
 * itself and returns -1; otherwise 0 with *keys_r at the first key.
 * SORT and THREAD have the charset without the word (required == true).
 */
int imap_search_charset(struct imap_session *s, const char *tag,
                        const struct imap_arg *args, bool required,
                        const struct imap_arg **keys_r);

#endif
