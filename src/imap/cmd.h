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
/* RFC 4978 (cmd_compress.c). */
imap_cmd_fn imap_cmd_compress;
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
imap_cmd_fn imap_cmd_select, imap_cmd_status, imap_cmd_close, imap_cmd_unselect;

/*
 * Appends "* STATUS name (items)" CRLF for the atoms of the list items
 * (cmd_mailbox.c).  Returns 0, -1 with *err filled for a store failure, or
 * -2 for an unknown item (BAD).
 */
int imap_status_write(struct imap_session *s, const char *name,
                      const struct imap_arg *items, struct buf *out,
                      struct err *err);

/*
 * A mailbox name argument as sent, INBOX canonical (RFC 9051 5.1); NULL if
 * bad.  Not decoded: commands use imap_box_arg().
 */
const char *imap_box_name(const struct imap_arg *a);

/*
 * A mailbox name argument in the store's form (UTF-8, INBOX canonical):
 * decoded from modified UTF-7 for IMAP4rev1 sessions (RFC 3501 5.1.3),
 * checked UTF-8 for IMAP4rev2 / UTF8=ACCEPT ones (RFC 6855 3).  Returns
 * NULL after answering cx->tag (BAD: not a string; NO [CANNOT]: bad
 * encoding).  The name lives until the second next call (two at a time).
 */
const char *imap_box_arg(struct imap_session *s, const struct imap_cmd_ctx *cx,
                         const struct imap_arg *a);

/* True if the session sends and takes mailbox names in UTF-8. */
bool imap_names_utf8(const struct imap_session *s);

/*
 * Appends a store-form mailbox name as the session writes it: modified
 * UTF-7 for IMAP4rev1, UTF-8 otherwise; quoted, or a literal if needed.
 */
int imap_resp_mailbox(const struct imap_session *s, struct buf *out,
                      const char *name);

/* cmd_list.c: LIST (with LIST-EXTENDED and LIST-STATUS), LSUB, NAMESPACE */
imap_cmd_fn imap_cmd_list, imap_cmd_lsub, imap_cmd_namespace;

/* cmd_create.c: CREATE, DELETE, RENAME, SUBSCRIBE and UNSUBSCRIBE */
imap_cmd_fn imap_cmd_create, imap_cmd_delete, imap_cmd_rename,
    imap_cmd_subscribe;

/* cmd_append.c: APPEND (RFC 9051 6.3.12, UIDPLUS, APPENDLIMIT) */
imap_cmd_fn imap_cmd_append;

/*
 * Called when the literal header of an APPEND arrives, before its bytes:
 * refuses (tagged NO [OVERQUOTA]) a message that cannot fit the quota.
 * Returns true if it refused.
 */
bool imap_append_precheck(struct imap_session *s, const char *tag,
                          uint64_t size);

/* cmd_idle.c: IDLE (RFC 2177) and the line that ends it */
imap_cmd_fn imap_cmd_idle;
void imap_cmd_idle_done(struct imap_session *s, const char *line, size_t len);
/* Lets an idling session's store handle rest (store_user_rest()). */
void imap_idle_rest(struct imap_session *s);

/* cmd_quota.c: GETQUOTA, GETQUOTAROOT, SETQUOTA (RFC 9208) */
imap_cmd_fn imap_cmd_getquota, imap_cmd_getquotaroot, imap_cmd_setquota;

/* cmd_copy.c: COPY and MOVE (RFC 9051 6.4.7, RFC 6851, UIDPLUS) */
imap_cmd_fn imap_cmd_copy;

/* cmd_search.c: SEARCH; cmd_sort.c: SORT and THREAD (RFC 5256) */
imap_cmd_fn imap_cmd_search, imap_cmd_sort, imap_cmd_thread;

/* cmd_fetch.c, cmd_store.c, cmd_expunge.c: selected */
imap_cmd_fn imap_cmd_fetch, imap_cmd_store, imap_cmd_expunge;

/*
 * Removes every \Deleted message of the selected mailbox (only those in
 * uid_set if it is not NULL: UID EXPUNGE); with report, writes
 * "* n EXPUNGE" for each (CLOSE expunges silently, RFC 9051 6.4.1).
 * Returns 0, or -1 with *err filled.
 */
struct imap_seqset;
int imap_expunge_deleted(struct imap_session *s, bool report,
                         const struct imap_seqset *uid_set, struct err *err);

#endif
