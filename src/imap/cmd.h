/*
 * cmd: the command handlers, one file per family.  Each answers its tag
 * itself (OK, NO or BAD) and may write untagged responses before that.
 * The dispatcher in session.c has already checked the state and the
 * number of arguments given in its table.
 */
#ifndef POSTAMT_IMAP_CMD_H
#define POSTAMT_IMAP_CMD_H

#include "imap/session.h"
#include "util/buf.h"

typedef void imap_cmd_fn(struct imap_session *s, const struct imap_cmd_ctx *cx);

/* cmd_any.c: valid in every state */
imap_cmd_fn imap_cmd_capability, imap_cmd_noop, imap_cmd_logout, imap_cmd_id,
    imap_cmd_enable;

/* Appends the capability list for the session's current state. */
int imap_capability_append(const struct imap_session *s, struct buf *out);

/* cmd_auth.c: not authenticated */
imap_cmd_fn imap_cmd_starttls, imap_cmd_login, imap_cmd_authenticate;

/*
 * True where LOGIN and AUTHENTICATE may be used: over TLS, or on loopback
 * when the config allows plaintext there.
 */
bool imap_login_is_plain_ok(const struct imap_session *s);

/* Takes the client's line after "+ " in AUTHENTICATE (RFC 9051 6.2.2). */
void imap_cmd_authenticate_continue(struct imap_session *s, char *line,
                                    size_t len);

/* cmd_mailbox.c: authenticated */
imap_cmd_fn imap_cmd_select, imap_cmd_list, imap_cmd_status, imap_cmd_close,
    imap_cmd_unselect;

/* cmd_fetch.c, cmd_store.c, cmd_expunge.c: selected */
imap_cmd_fn imap_cmd_fetch, imap_cmd_store, imap_cmd_expunge;

/*
 * Removes every \Deleted message of the selected mailbox; with report,
 * writes "* n EXPUNGE" for each (CLOSE expunges silently, RFC 9051 6.4.1).
 * Returns 0, or -1 with *err filled.
 */
int imap_expunge_deleted(struct imap_session *s, bool report, struct err *err);

#endif
