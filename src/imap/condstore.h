/*
 * condstore: CONDSTORE and QRESYNC (RFC 7162) for the IMAP session:
 * enabling, SELECT/EXAMINE parameters, VANISHED, and the pieces FETCH
 * uses for CHANGEDSINCE, VANISHED and the MODSEQ item.
 *
 * Mod-sequences come from the session's map (store_msg.modseq), which the
 * change feed and imap_sync_check() keep current.
 */
#ifndef POSTAMT_IMAP_CONDSTORE_H
#define POSTAMT_IMAP_CONDSTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "imap/seqset.h"
#include "imap/session.h"
#include "util/buf.h"

/* Marks CONDSTORE enabled (any "CONDSTORE enabling command", 3.1). */
void imap_condstore_enable(struct imap_session *s);

/* What SELECT / EXAMINE asked for in its parameter list. */
struct imap_select_params {
	bool qresync;
	uint32_t uidvalidity;
	uint64_t modseq;
	bool has_known;
	struct imap_seqset known; /* known-uids, resolved */
};

/*
 * Parses the optional parameter list of SELECT / EXAMINE: (CONDSTORE) or
 * (QRESYNC (uidvalidity modseq [known-uids [seq-match-data]])).  Answers
 * BAD itself and returns -1.  QRESYNC needs ENABLE QRESYNC first (3.2.5).
 */
int imap_condstore_select_parse(struct imap_session *s, const char *tag,
                                const struct imap_arg *params,
                                struct imap_select_params *p);
void imap_condstore_select_free(struct imap_select_params *p);

/*
 * After the standard SELECT responses: for QRESYNC with a matching
 * UIDVALIDITY, "* VANISHED (EARLIER) uids" and a FETCH (UID FLAGS MODSEQ)
 * for every message changed since the client's modseq (3.2.5.1).
 */
void imap_condstore_select_report(struct imap_session *s,
                                  const struct imap_select_params *p);

/* FETCH modifiers (RFC 7162 3.1.4, 3.2.6). */
struct imap_fetch_mods {
	bool has_changedsince;
	uint64_t changedsince;
	bool vanished;
};

/*
 * For cmd_fetch.c.  Parses the FETCH modifier list mods (may be NULL:
 * none): "(CHANGEDSINCE n)" and, for UID FETCH with QRESYNC enabled,
 * "(CHANGEDSINCE n VANISHED)".  CHANGEDSINCE enables CONDSTORE.  Answers
 * BAD itself and returns -1; 0 otherwise.
 */
int imap_condstore_fetch_parse(struct imap_session *s,
                               const struct imap_cmd_ctx *cx,
                               const struct imap_arg *mods,
                               struct imap_fetch_mods *m);

/*
 * For cmd_fetch.c, before the first FETCH response: with VANISHED, writes
 * "* VANISHED (EARLIER) uids" for the UIDs of uid_set (resolved) expunged
 * after CHANGEDSINCE.  Returns 0 or -1 with *err filled.
 */
int imap_condstore_fetch_vanished(struct imap_session *s,
                                  const struct imap_fetch_mods *m,
                                  const struct imap_seqset *uid_set,
                                  struct err *err);

/* For cmd_fetch.c: true if message index i is skipped (not changed). */
bool imap_condstore_fetch_skip(const struct imap_session *s,
                               const struct imap_fetch_mods *m, size_t i);

/*
 * For cmd_fetch.c: true if the FETCH response must carry MODSEQ even
 * without the MODSEQ item: CHANGEDSINCE was given (3.1.4.1).
 */
bool imap_condstore_fetch_wants_modseq(const struct imap_fetch_mods *m);

/* Appends "MODSEQ (n)" for message index i (the FETCH item, 3.1.4.1). */
int imap_condstore_modseq_write(const struct imap_session *s, size_t i,
                                struct buf *out);

/*
 * Writes "* VANISHED uids" (QRESYNC) for the ascending UIDs, or nothing
 * for n == 0.  For sync.c and mailbox.c in place of EXPUNGE (3.2.10).
 */
int imap_condstore_vanished_write(struct buf *out, bool earlier,
                                  const uint32_t *uids, size_t n);

#endif
