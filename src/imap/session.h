/*
 * session: one IMAP connection's state, shared by the command files.
 *
 * The state (RFC 9051 3) changes only through imap_session_set_state(),
 * which also releases what the old state held.  Commands are dispatched from
 * one table in session.c that names each command's allowed states, so a
 * handler only runs where the RFC allows it.
 */
#ifndef POSTAMT_IMAP_SESSION_H
#define POSTAMT_IMAP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/parser.h"
#include "net/conn.h"
#include "proto/services.h"
#include "store/store.h"

/* Named limits that have no config key yet. */
#define IMAP_MAX_LIST_DEPTH 16 /* nesting of parenthesized lists */
#define IMAP_MAX_ARGS 1000     /* arguments (and list items) per command */
#define IMAP_MAX_BADS 20       /* BAD replies in a row before BYE */

enum imap_state {
	IMAP_STATE_NOT_AUTH,
	IMAP_STATE_AUTH,
	IMAP_STATE_SELECTED,
	IMAP_STATE_LOGOUT,
};

/* A growable list of UIDs (sync.c). */
struct imap_uids {
	uint32_t *v;
	size_t n, cap;
};

/*
 * The selected mailbox: its name and the sequence number -> UID map.
 *
 * Changes made by other sessions arrive through the store's change feed
 * and wait in the pending lists until the session may report them
 * (sync.c): the map changes only when the client is told, so sequence
 * numbers stay what the client believes they are (RFC 9051 7.5.1).
 */
struct imap_mailbox {
	char *name;
	bool readonly; /* EXAMINE */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t modseq; /* highest mod-sequence the session knows */
	char mailboxid[STORE_OBJECTID_SIZE]; /* RFC 8474 */
	struct store_msg *msgs;              /* msgs[seq - 1], UID order */
	size_t count;
	struct store_msg *new_msgs; /* added elsewhere, not yet announced */
	size_t new_count, new_cap;
	struct imap_uids gone;    /* expunged elsewhere, not yet announced */
	struct imap_uids flagged; /* flags changed elsewhere, not reported */
	struct imap_uids saved;   /* SEARCHRES "$" (RFC 5182), UIDs */
};

struct imap_session {
	struct conn *c;
	const struct config *cfg;
	struct services *svc;
	enum imap_state state;
	struct imap_parser *parser;
	struct store_user *user; /* open from login to close */
	char *username;
	struct imap_mailbox box; /* valid in IMAP_STATE_SELECTED */
	unsigned bads;           /* BAD replies in a row */
	bool stop_input;         /* STARTTLS or close under way */
	bool rev2;               /* ENABLE IMAP4rev2 was accepted */
	bool condstore;          /* CONDSTORE enabled (RFC 7162 3.1) */
	bool qresync;            /* ENABLE QRESYNC (RFC 7162 3.2.3) */
	char *auth_tag;          /* AUTHENTICATE awaiting the response */
	struct imap_sasl *sasl;  /* its mechanism's state (cmd_auth.c) */
	char *idle_tag;          /* IDLE awaiting DONE (RFC 2177) */
	bool no_expunge;         /* the command may not see EXPUNGE (7.4.1) */
	struct imap_fetch_job *fetch_job; /* a FETCH waiting for output room */
	bool utf8_accept;                 /* ENABLE UTF8=ACCEPT (RFC 6855 3) */
	/*
	 * Mailbox names of the running command decoded to UTF-8 by
	 * imap_box_arg(): two at a time (RENAME needs both), each freed
	 * when its slot is reused or with the session.
	 */
	char *box_names[2];
	unsigned box_name_next;
};

/* What a handler gets besides the session. */
struct imap_cmd_ctx {
	const char *tag;
	const char *name;            /* upper-case, e.g. "FETCH" */
	const struct imap_arg *args; /* after the name (and after UID) */
	bool uid;                    /* prefixed with UID */
};

/* Goes on with s->fetch_job (cmd_fetch.c); frees it when done. */
void imap_fetch_resume(struct imap_session *s);
void imap_fetch_job_free(struct imap_fetch_job **job);

/* Frees an unfinished AUTHENTICATE exchange (cmd_auth.c). */
void imap_sasl_free(struct imap_sasl **sasl);

/* The one place the state changes; leaving SELECTED frees the map. */
void imap_session_set_state(struct imap_session *s, enum imap_state to);

/* Stops reading commands and closes the connection after the output. */
void imap_session_close(struct imap_session *s, const char *reason);

/* Counts the arguments of a list (or of the top level). */
size_t imap_args_count(const struct imap_arg *a);

/*
 * The text of an atom, quoted string or literal; NULL for a list or a
 * string with a NUL inside (never valid where a name is expected).
 */
const char *imap_arg_astring(const struct imap_arg *a);

/* True if a is an atom equal to word, ignoring ASCII case. */
bool imap_arg_is_atom(const struct imap_arg *a, const char *word);

#endif
