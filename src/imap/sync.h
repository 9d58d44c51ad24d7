/*
 * sync: keeping a session's view of the selected mailbox in step with the
 * changes other sessions of the same user make (multi-device sync).
 *
 * The store's change feed calls imap_sync_on_change() right after another
 * handle commits.  The change is recorded; it is reported as untagged
 * EXISTS / EXPUNGE / FETCH (FLAGS) at once while the session IDLEs, and
 * otherwise just before the tagged reply of the session's next command --
 * without EXPUNGE after FETCH, STORE or SEARCH (RFC 9051 7.4.1), which
 * keeps them pending for a later command.
 */
#ifndef POSTAMT_IMAP_SYNC_H
#define POSTAMT_IMAP_SYNC_H

#include "imap/session.h"

/* The store_change_fn the session watches its user with (arg: session). */
void imap_sync_on_change(void *arg, const struct store_change *ch);

/*
 * Writes the recorded changes of the selected mailbox: EXPUNGEs (only if
 * allow_expunge, from the highest sequence number down), then FETCH FLAGS,
 * then EXISTS for new messages, updating the map as it goes.
 */
void imap_sync_report(struct imap_session *s, bool allow_expunge);

/*
 * Records a message this session added to the selected mailbox itself
 * (APPEND, COPY), which the feed does not echo back to it.
 */
void imap_sync_add_new(struct imap_session *s, const struct store_msg *m);

/* Forgets every recorded change (the mailbox was closed). */
void imap_sync_clear(struct imap_mailbox *box);

/*
 * Catches up with changes the feed cannot have announced (another process
 * wrote the index): if the store's HIGHESTMODSEQ or UIDNEXT moved past
 * what the session knows, compares the store's message list with the map
 * and records the differences.  Returns 0 or -1 with *err filled.
 */
int imap_sync_check(struct imap_session *s, struct err *err);

#endif
