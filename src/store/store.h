/*
 * store: the mail store interface that IMAP, POP3 and SMTP use.
 *
 * The embedded backend keeps, per user, an SQLite index (WAL) and one
 * immutable blob file per message under DATA/users/<shard>/<user>/, except
 * for messages small enough to be kept in the index itself
 * (store_set_inline_max()).  Nothing
 * here knows a protocol; nothing in the protocols knows the backend.  No path
 * on disk is ever built from a mailbox name.
 *
 * Functions return 0 on success or -1 with *err filled; ERR_NOTFOUND for a
 * missing mailbox or message, ERR_QUOTA for over quota, ERR_SYNTAX for an
 * invalid mailbox name, ERR_IO for disk failures.
 *
 * Durability: store_deliver() returns only after the blob is written and
 * fsynced, renamed into place, its directory fsynced and the index row
 * committed with synchronous=FULL (a kept message: after that commit,
 * which holds its bytes).  Only then may a protocol acknowledge.
 * Deliveries running at once on several threads share the directory fsync
 * and the commit (group commit).
 *
 * Threads: a store may be used from several threads at once (the event
 * loop and the worker pool), each store_user handle by one thread at a
 * time.  The "home" thread is the one that called store_open(): the event
 * loop.  Watching (store_user_watch()) and announcing changes happen only
 * there; see "The change feed".
 */
#ifndef POSTAMT_STORE_STORE_H
#define POSTAMT_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"
#include "util/err.h"

struct store;      /* the backend, one per server */
struct store_user; /* one user's mail, opened by a session */

/* System flags, as a bit set. */
enum store_flag {
	STORE_FLAG_SEEN = 1 << 0,
	STORE_FLAG_ANSWERED = 1 << 1,
	STORE_FLAG_FLAGGED = 1 << 2,
	STORE_FLAG_DELETED = 1 << 3,
	STORE_FLAG_DRAFT = 1 << 4,
};

/*
 * Keywords (RFC 9051 2.3.2) share the flag bit set: bits
 * STORE_KEYWORD_BIT0 and up each stand for one keyword of the user (the
 * name <-> bit table is per user, so COPY and MOVE keep keywords without
 * translation, and every existing path that carries flags carries
 * keywords).  A user has at most STORE_KEYWORDS_MAX keywords (ERR_LIMIT
 * beyond), each at most STORE_KEYWORD_LEN_MAX bytes.  Widening the flag
 * type to 64 bits would raise the limit.
 */
#define STORE_FLAG_SYSTEM 0x1Fu
#define STORE_KEYWORD_BIT0 5
#define STORE_KEYWORDS_MAX (32 - STORE_KEYWORD_BIT0)
#define STORE_KEYWORD_LEN_MAX 100
#define STORE_FLAG_KEYWORDS (~STORE_FLAG_SYSTEM)
#define STORE_FLAG_ANY 0xFFFFFFFFu

/* Stable object ids (RFC 8474): at most 32 characters, plus NUL. */
#define STORE_OBJECTID_SIZE 40

struct store_mailbox_status {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t messages;
	uint32_t unseen;
	uint64_t highestmodseq;
	uint64_t size;                       /* sum of message sizes in bytes */
	char mailboxid[STORE_OBJECTID_SIZE]; /* RFC 8474 MAILBOXID */
};

struct store_msg {
	uint32_t uid;
	uint32_t flags;       /* enum store_flag bits */
	uint64_t size;        /* bytes, exactly as stored */
	int64_t internaldate; /* seconds since the epoch */
	uint64_t modseq;
};

/* One mailbox, as store_mailbox_list() returns it. */
struct store_mailbox_info {
	char *name;        /* UTF-8, '/' separates hierarchy levels */
	char *special_use; /* "\\Sent" etc. (RFC 6154), or NULL */
	char *id;          /* stable, never reused (RFC 8474 MAILBOXID) */
	bool subscribed;
};

/* Opens (creating if needed) the store under data_dir. */
int store_open(const char *data_dir, struct store **store_r, struct err *err);
void store_close(struct store **store);

/*
 * Messages of up to this many bytes are kept inside the index instead of
 * a file of their own (config store_inline_max; 0: every message in a
 * file).  Applies to messages stored from then on; both kinds read the
 * same.  Call before the store is shared between threads.
 */
#define STORE_INLINE_MAX_DEFAULT (64 * 1024)
void store_set_inline_max(struct store *s, size_t bytes);

/*
 * Keeps bytes of the data directory's file system in reserve (the file
 * DATA/store.reserve, preallocated), so that mail can still be deleted
 * when the disk is full: a deletion that fails for want of space releases
 * it and is tried again; it is made again once there is room (config
 * store_disk_reserve; 0, the default of store_open(), keeps none).
 */
#define STORE_DISK_RESERVE_DEFAULT (16 * 1024 * 1024)
void store_set_disk_reserve(struct store *s, size_t bytes);

/*
 * Opens the mail of user (a full address, e.g. "alice@example.org"),
 * creating the user's directory, index and default mailboxes (INBOX,
 * Drafts, Sent, Trash, Junk, Archive) on first use.
 */
int store_user_open(struct store *store, const char *user,
                    struct store_user **user_r, struct err *err);
void store_user_close(struct store_user **user);

/*
 * Adds a message to mailbox, durably (see above), with the given flags and
 * the current time as internal date.  *uid_r gets its UID.
 */
int store_deliver(struct store_user *u, const char *mailbox, const void *data,
                  size_t len, uint32_t flags, uint32_t *uid_r, struct err *err);

int store_mailbox_status(struct store_user *u, const char *mailbox,
                         struct store_mailbox_status *status_r,
                         struct err *err);

/*
 * What tells whether a mailbox changed: UIDVALIDITY, UIDNEXT and
 * HIGHESTMODSEQ, read from the mailbox alone.  store_mailbox_status()
 * also counts MESSAGES, UNSEEN and SIZE over every message, which an
 * IMAP session's check before NOOP or EXPUNGE does not need (measured on
 * 6,000 messages: 90 leaf pages read from disk for each EXPUNGE).
 */
struct store_mailbox_marks {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
};
int store_mailbox_marks(struct store_user *u, const char *mailbox,
                        struct store_mailbox_marks *marks_r, struct err *err);

/*
 * SELECT's view: the status and the messages (as below) of mailbox in one
 * snapshot, with MESSAGES, UNSEEN and SIZE counted from the list (one
 * pass over the rows instead of four).
 */
int store_mailbox_snapshot(struct store_user *u, const char *mailbox,
                           struct store_mailbox_status *status_r,
                           struct store_msg **msgs_r, size_t *count_r,
                           struct err *err);

/*
 * Lists the messages of mailbox in UID order.  *msgs_r is malloc()ed (the
 * caller frees it; NULL when *count_r is 0).
 */
int store_mailbox_messages(struct store_user *u, const char *mailbox,
                           struct store_msg **msgs_r, size_t *count_r,
                           struct err *err);

/* Appends the exact bytes of message uid to out. */
int store_msg_read(struct store_user *u, const char *mailbox, uint32_t uid,
                   struct buf *out, struct err *err);

/*
 * A message opened to be read in pieces: POP3 RETR and IMAP FETCH BODY[]
 * stream a large message chunk by chunk instead of holding it whole.
 * The bytes stay readable until store_stream_close(), even if the message
 * is expunged meanwhile (as a message read whole stays in its buffer).
 *
 * store_stream_read() copies up to len bytes at offset off into dst, fewer
 * only at the end of the message; returns the count (0 at or past the
 * end) or -1 with *err set.  A stream belongs to the thread of its handle.
 */
struct store_stream;
int store_msg_open(struct store_user *u, const char *mailbox, uint32_t uid,
                   struct store_stream **stream_r, struct err *err);
uint64_t store_stream_size(const struct store_stream *st);
ssize_t store_stream_read(struct store_stream *st, uint64_t off, void *dst,
                          size_t len, struct err *err);
void store_stream_close(struct store_stream **st);
/*
 * A descriptor whose bytes from offset 0 are the message, for sendfile()
 * (it stays the stream's: dup() it to keep it), or -1 if the backend
 * has none (an object store, say).
 */
int store_stream_fd(const struct store_stream *st);

/* Replaces (mode 0), adds (mode 1) or removes (mode -1) flag bits. */
int store_msg_set_flags(struct store_user *u, const char *mailbox, uint32_t uid,
                        int mode, uint32_t flags, struct err *err);

/* Removes the messages with the given UIDs in one transaction. */
int store_expunge(struct store_user *u, const char *mailbox,
                  const uint32_t *uids, size_t count, struct err *err);

/*
 * Lists the mailboxes of u ordered by name.  *list_r is malloc()ed; free it
 * with store_mailbox_list_free().
 */
int store_mailbox_list(struct store_user *u, struct store_mailbox_info **list_r,
                       size_t *count_r, struct err *err);
void store_mailbox_list_free(struct store_mailbox_info **list, size_t count);

/* The hierarchy separator of mailbox names. */
#define STORE_MAILBOX_SEP '/'

/* The longest mailbox name accepted, in bytes. */
#define STORE_MAILBOX_NAME_MAX 1000

/*
 * Checks a mailbox name that came from a client.  Returns 0 if it is valid
 * UTF-8 of 1..STORE_MAILBOX_NAME_MAX bytes without control characters and
 * without an empty, "." or ".." hierarchy level (so no leading, trailing or
 * doubled '/'); otherwise -1 with ERR_SYNTAX and a message fit for the
 * client.  Every store function that takes a mailbox name checks it too.
 */
int store_mailbox_name_check(const char *name, struct err *err);

/*
 * Returns the canonical spelling of name: "INBOX" for any case of "inbox"
 * (RFC 9051 5.1), otherwise name itself.  Never allocates.
 */
const char *store_mailbox_name_canon(const char *name);

/*
 * Creates a mailbox (parents are created as needed, without special use).
 * special_use is NULL or one of \Archive \Drafts \Junk \Sent \Trash
 * (RFC 6154, any case; ERR_SYNTAX for another).  ERR_EXISTS if it exists.
 * A new mailbox gets a UIDVALIDITY no mailbox of the user had before.
 */
int store_mailbox_create(struct store_user *u, const char *name,
                         const char *special_use, struct err *err);

/*
 * Deletes a mailbox and its messages.  INBOX cannot be deleted (ERR_PERM);
 * a mailbox with children keeps existing as a \Noselect parent is not
 * supported: deleting one with children is ERR_PERM (RFC 9051 6.3.5).
 */
int store_mailbox_delete(struct store_user *u, const char *name,
                         struct err *err);

/*
 * Renames a mailbox and every child with it, creating missing parents of
 * the new name.  ERR_NOTFOUND (from missing), ERR_EXISTS (to or a renamed
 * child's new name exists), ERR_PERM (to is inside from).  Renaming INBOX
 * moves its messages to a new mailbox and leaves INBOX empty; children of
 * INBOX stay (RFC 9051 6.3.6).
 */
int store_mailbox_rename(struct store_user *u, const char *from, const char *to,
                         struct err *err);

/* Subscribes (on) or unsubscribes a mailbox.  ERR_NOTFOUND if missing. */
int store_mailbox_subscribe(struct store_user *u, const char *name, bool on,
                            struct err *err);

/* What to add with store_append(). */
struct store_append {
	const void *data;
	size_t len;
	uint32_t flags;       /* enum store_flag bits */
	int64_t internaldate; /* seconds since the epoch; 0 means now */
};

/*
 * Adds a message durably, like store_deliver() but with a chosen internal
 * date (IMAP APPEND).  Checks the quota (ERR_QUOTA).  *uidvalidity_r and
 * *uid_r (either may be NULL) get the mailbox's UIDVALIDITY and the new
 * UID, for UIDPLUS (RFC 4315).
 */
int store_append(struct store_user *u, const char *mailbox,
                 const struct store_append *msg, uint32_t *uidvalidity_r,
                 uint32_t *uid_r, struct err *err);

/*
 * Copies (store_copy) or moves (store_move: copy and expunge in one
 * transaction) the messages with the given UIDs from one mailbox to
 * another.  No message bytes are copied: the new rows share the blob.
 * new_uids_r, if not NULL, has room for count UIDs and gets the new UID of
 * each copied message in the same order (UIDs that did not exist get 0).
 * Checks the quota for copies (ERR_QUOTA).
 */
int store_copy(struct store_user *u, const char *from, const uint32_t *uids,
               size_t count, const char *to, uint32_t *uidvalidity_r,
               uint32_t *new_uids_r, struct err *err);
int store_move(struct store_user *u, const char *from, const uint32_t *uids,
               size_t count, const char *to, uint32_t *uidvalidity_r,
               uint32_t *new_uids_r, struct err *err);

/* Quota of this user (RFC 9208 STORAGE in bytes and MESSAGE). 0 = none. */
struct store_quota {
	uint64_t bytes_used, bytes_limit;
	uint64_t messages_used, messages_limit;
};

/*
 * Sets the limits (from the accounts database) for this handle; a handle
 * without limits enforces none.  Usage counts every message row, so a copy
 * counts again although it shares the blob (RFC 9208 5.1).
 */
void store_user_set_quota(struct store_user *u, uint64_t bytes_limit,
                          uint64_t messages_limit);
int store_quota_get(struct store_user *u, struct store_quota *quota_r,
                    struct err *err);

/*
 * The change feed.  Every committed change by any handle of a user is
 * announced, in commit order, to every other watching handle of the same
 * user in this process, always on the home thread.  The rule:
 *   - a store call made on the home thread announces its changes (and any
 *     queued before them) before it returns;
 *   - a store call made on another thread (a worker job) only queues
 *     them; the job's done() callback, on the home thread, must call
 *     store_flush_changes().  Such a change is announced to the handle that
 *     made it too (if it watches): changes of other sessions may be
 *     announced before done() runs, and only the feed knows the order.
 * The callback must not call back into the store; it should record the
 * change (and may write to its own connection, e.g. for IDLE).
 */
enum store_change_kind {
	STORE_CHANGE_NEW,            /* uid added to mailbox */
	STORE_CHANGE_FLAGS,          /* flags of uid changed */
	STORE_CHANGE_EXPUNGE,        /* uid removed from mailbox */
	STORE_CHANGE_MAILBOX_CREATE, /* mailbox created */
	STORE_CHANGE_MAILBOX_DELETE, /* mailbox deleted */
	STORE_CHANGE_MAILBOX_RENAME, /* mailbox renamed to new_name */
};

/*
 * One change.  The strings live only during the callback.  NEW carries
 * everything a session needs to add the message to its map without asking
 * the store; MAILBOX_DELETE follows an EXPUNGE for each of its messages.
 */
struct store_change {
	enum store_change_kind kind;
	const char *mailbox;
	const char *new_name; /* RENAME only */
	uint32_t uid;
	uint32_t flags;
	uint64_t modseq;
	uint64_t size;        /* NEW only */
	int64_t internaldate; /* NEW only */
};

typedef void (*store_change_fn)(void *arg, const struct store_change *ch);

/*
 * Starts (fn != NULL) or stops (fn == NULL) watching u's changes.  The
 * registry lives in struct store, keyed by user; store_user_close() stops
 * watching.  Home thread only (a watching handle is closed there too).
 */
void store_user_watch(struct store_user *u, store_change_fn fn, void *arg);

/*
 * A handle that is going to wait (IMAP IDLE, for hours maybe) gives up
 * its database connection: it goes to the store's pool of closed handles
 * or is closed, and holds neither memory nor descriptors.  A resting
 * handle keeps watching, and store_keyword_name() still works (it wakes
 * the handle if it must read); anything else needs store_user_wake()
 * first, which takes a pooled connection or opens one (-1 with *err if
 * that fails: the handle stays at rest).  Both are cheap no-ops when
 * there is nothing to do.
 */
void store_user_rest(struct store_user *u);
int store_user_wake(struct store_user *u, struct err *err);

/*
 * Announces every queued change (see "The change feed") to the watching
 * handles, in commit order.  Call it on the home thread in the done()
 * callback of every worker job that changed the store; elsewhere it does
 * nothing.
 */
void store_flush_changes(struct store *store);

/*
 * CONDSTORE and QRESYNC (RFC 7162) queries, src/store/embedded_changes.c.
 */

/*
 * The UIDs expunged from mailbox at a mod-sequence above since, ascending
 * (RFC 7162 3.2.5, 3.2.6: VANISHED (EARLIER)).  *uids_r is malloc()ed
 * (NULL when *count_r is 0).  ERR_NOTFOUND for an unknown mailbox.
 */
int store_expunged_since(struct store_user *u, const char *mailbox,
                         uint64_t since, uint32_t **uids_r, size_t *count_r,
                         struct err *err);

/* One message of store_flags_update(): uid in, the rest out. */
struct store_flags_change {
	uint32_t uid;
	uint32_t flags;  /* the flags afterwards (as found if not changed) */
	uint64_t modseq; /* the message's mod-sequence afterwards */
	bool modified;   /* refused: changed after unchangedsince */
	bool missing;    /* no such message (expunged meanwhile) */
};

/*
 * Replaces (mode 0), adds (1) or removes (-1) flag bits on count messages
 * in one transaction.  A message whose mod-sequence is above
 * unchangedsince is left alone and marked modified (RFC 7162 3.1.3; pass
 * UINT64_MAX for an unconditional store).  A message whose flags really
 * change gets a new mod-sequence and is published on the change feed;
 * one whose flags stay the same keeps its mod-sequence (RFC 7162 3.1).
 * ERR_NOTFOUND for an unknown mailbox.
 */
int store_flags_update(struct store_user *u, const char *mailbox, int mode,
                       uint32_t flags, uint64_t unchangedsince,
                       struct store_flags_change *msgs, size_t count,
                       struct err *err);

/*
 * The FETCH results of a message that do not depend on the request,
 * computed when it arrived (ENVELOPE, BODYSTRUCTURE, BODY as RFC 9051
 * 7.5.2 writes them).  ERR_NOTFOUND if the message has none (then parse
 * it); strings are malloc()ed, free with store_msg_cache_free().
 */
struct store_msg_cache {
	char *envelope, *bodystructure, *body;
};
int store_msg_cache_get(struct store_user *u, const char *mailbox, uint32_t uid,
                        struct store_msg_cache *c, struct err *err);
void store_msg_cache_free(struct store_msg_cache *c);

/*
 * Keywords (src/store/embedded_keywords.c).  A valid keyword is 1 to
 * STORE_KEYWORD_LEN_MAX bytes of printable ASCII without IMAP
 * atom-specials and not starting with '\\' (RFC 9051 9: flag-keyword =
 * atom); names compare without regard to ASCII case.
 *
 * store_keyword_bits() ORs into *bits_r the bit of each of the n names.
 * With create, a name the user has no bit for gets the lowest free one
 * (ERR_LIMIT when all STORE_KEYWORDS_MAX are taken); without, it is
 * skipped (an unknown keyword is set on no message).  ERR_SYNTAX for an
 * invalid name.
 */
bool store_keyword_valid(const char *name);
int store_keyword_bits(struct store_user *u, const char *const *names, size_t n,
                       bool create, uint32_t *bits_r, struct err *err);

/*
 * The name of keyword bit (STORE_KEYWORD_BIT0..31), or NULL if it has
 * none.  Cached in the handle; a bit the cache does not know reloads the
 * table once.  The pointer is valid until the handle closes.
 */
const char *store_keyword_name(struct store_user *u, unsigned bit);

/*
 * What RFC 8474 (OBJECTID) and RFC 8514 (SAVEDATE) ask of one message:
 * EMAILID (the blob id, shared by copies, which have the same content)
 * and the time it was added to this mailbox (COPY and MOVE set it anew).
 * ERR_NOTFOUND if there is no such message.
 */
struct store_msg_ids {
	char emailid[STORE_OBJECTID_SIZE];
	int64_t savedate;
};
int store_msg_ids_get(struct store_user *u, const char *mailbox, uint32_t uid,
                      struct store_msg_ids *ids_r, struct err *err);

#endif
