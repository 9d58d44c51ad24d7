/*
 * mailbox: the selected mailbox of a session: loading it, the sequence
 * number <-> UID map, and turning a client's sequence set into messages.
 */
#ifndef POSTAMT_IMAP_MAILBOX_H
#define POSTAMT_IMAP_MAILBOX_H

#include <stdbool.h>

#include "imap/seqset.h"
#include "imap/session.h"

/*
 * Loads mailbox name into box (status and message list).  Returns 0 or -1
 * with *err filled (box is then empty).
 */
int imap_mailbox_load(struct imap_session *s, const char *name,
                      struct imap_mailbox *box, struct err *err);

/* Frees what box holds and empties it. */
void imap_mailbox_free(struct imap_mailbox *box);

/*
 * Parses the sequence set in arg against the selected mailbox, as UIDs if
 * cx->uid.  Bad syntax answers "BAD Invalid sequence number"; a sequence
 * number past the last message answers NO (RFC 9051 6.4.5 "NO - fetch
 * error: can't fetch that data").  Returns 0, or -1 when it has answered.
 */
int imap_mailbox_set(struct imap_session *s, const struct imap_cmd_ctx *cx,
                     const struct imap_arg *arg, struct imap_seqset *set);

/* True if message index i (seq i + 1) is in the resolved set. */
bool imap_mailbox_in_set(const struct imap_session *s,
                         const struct imap_cmd_ctx *cx,
                         const struct imap_seqset *set, size_t i);

/*
 * Brings the map up to date (imap_sync_check()) and reports what changed
 * (EXISTS, FETCH FLAGS, and EXPUNGE unless the running command forbids it,
 * RFC 9051 7.4.1).  Returns 0 or -1 with *err filled.
 */
int imap_mailbox_sync(struct imap_session *s, struct err *err);

/*
 * Drops the messages with gone[i] set from the map; with report, writes
 * "* n EXPUNGE" for each first.  For this session's own expunges.
 */
void imap_mailbox_remove(struct imap_session *s, const bool *gone, bool report);

#endif
