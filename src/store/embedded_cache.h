/*
 * embedded_cache: what FETCH, SEARCH, SORT and THREAD need of a message,
 * computed once at delivery/append time and kept in the index (issue 3):
 * the ENVELOPE, BODYSTRUCTURE and BODY strings, the RFC 5256 sort fields
 * and the decoded text for the FTS5 trigram index.
 */
#ifndef POSTAMT_STORE_EMBEDDED_CACHE_H
#define POSTAMT_STORE_EMBEDDED_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "store/embedded_private.h"

/*
 * Bytes of decoded text indexed per message, for the header and for the
 * body each: enough for any real mail; a huge attachment-like text part
 * past it is searchable only in its first part.
 */
#define EMB_CACHE_TEXT_MAX (1024 * 1024)

/*
 * Body text up to this many bytes is kept in msg_cache.t_body; longer
 * text, and text that is the body as it is, is computed from the message
 * when needed (embedded_text.c).  Searching it then costs a parse of the
 * message, so small text that had to be decoded stays in the row.
 */
#define EMB_CACHE_TEXT_KEEP (16 * 1024)

/*
 * The body text of the msg_cache row named by prefix ("c.", "OLD.", ""):
 * as an SQL expression, kept or derived.
 */
#define EMB_BODY_TEXT(p)                                                       \
	"(CASE WHEN " p "derive_size IS NULL THEN " p "t_body "                \
	"ELSE pa_body_text(" p "blob, " p "derive_size) END)"

/* Registers pa_body_text() (embedded_text.c) on u's connection. */
int embedded_text_register(struct embedded_user *u, struct err *err);

/*
 * Parses the message data (len bytes) and stores its cached rows for
 * (mailbox_id, uid).  Must run inside the transaction that inserts the
 * message row, so both commit or neither.  Returns 0 or -1 with *err set
 * (ERR_TEMP out of memory, ERR_IO on a database error); a malformed
 * message is never an error (the parser is best-effort).
 */
int embedded_cache_add(struct embedded_user *u, int64_t mailbox_id,
                       uint32_t uid, const void *data, size_t len,
                       struct err *err);

/*
 * The two halves of embedded_cache_add() for deliveries:
 * embedded_cache_compute() parses a message (no database, any thread: the
 * parse of each delivery runs on its own worker, not in the group commit
 * leader's transaction) and returns its row, NULL if out of memory;
 * embedded_cache_put() inserts it for blob inside the transaction that
 * inserts the message row (a no-op if the blob has one: copies share it).
 */
struct emb_cache_row *embedded_cache_compute(const void *data, size_t len);
int embedded_cache_put(struct embedded_user *u, const char *blob,
                       const struct emb_cache_row *row, struct err *err);
void embedded_cache_row_free(struct emb_cache_row *row);

/*
 * Brings the cache up to date before a search or sort: gives every
 * message without a cache row (those that arrived before schema version
 * 3) one, if meta.cache_missing says there are any, and adds the rows
 * delivered since the last call to the full-text index (deferred from
 * delivery, see schema version 3), each in batches of short
 * transactions.  Returns 0 or -1.
 */
int embedded_cache_fill(struct embedded_user *u, struct err *err);

/*
 * The full-text index in fts.db (embedded_fts.c).  embedded_fts_attach()
 * attaches it to u's connection as "fts" (creating or rebuilding it if
 * needed; a no-op if attached; never inside a transaction);
 * embedded_fts_detach() gives its descriptors back.
 * embedded_cache_index_some() adds up to max msg_cache rows above
 * fts.meta.fts_upto and forgets deleted ones, in one fts.db transaction;
 * *done_r when none is left (the background indexer, embedded_indexer.c,
 * and embedded_cache_fill()).  embedded_fts_pending() is true if rows
 * wait (or on any error).
 */
int embedded_fts_attach(struct embedded_user *u, struct err *err);
void embedded_fts_detach(struct embedded_user *u);
int embedded_cache_index_some(struct embedded_user *u, size_t max, bool *done_r,
                              struct err *err);
bool embedded_fts_pending(struct embedded_user *u);

/*
 * Case-insensitive substring tests of embedded_match.c: needle in text,
 * and value inside a field called name of hdr ("name: value" lines).
 * An empty needle or value always matches.
 */
bool embedded_match_contains(const char *text, size_t len, const char *needle,
                             size_t nlen);
bool embedded_match_header(const char *hdr, size_t len, const char *name,
                           const char *value, size_t vlen);

/* Registers pa_contains() and pa_header_has() on u's connection. */
int embedded_match_register(struct embedded_user *u, struct err *err);

#endif
