/*
 * pop3 session: the state of one POP3 connection and the pieces that
 * session.c (lifecycle, dispatch), login.c (AUTHORIZATION state),
 * commands.c (TRANSACTION state) and update.c (UPDATE state) share.
 * Private to src/pop3/.
 */
#ifndef POSTAMT_POP3_SESSION_H
#define POSTAMT_POP3_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/auth.h"
#include "net/conn.h"
#include "pop3/dotstuff.h"
#include "pop3/maildrop.h"
#include "pop3/parse.h"
#include "util/err.h"

struct services;
struct store_stream;
struct store_user;
struct sasl_scram_run;

/* RFC 1939 3; changed only by pop3_session_set_state(). */
enum pop3_state { POP3_AUTHORIZATION, POP3_TRANSACTION, POP3_UPDATE };

/* After this many -ERR replies in a row the session is closed. */
#define POP3_MAX_ERRORS 10

/* The one mailbox POP3 serves. */
#define POP3_MAILBOX "INBOX"

/* A RETR or TOP response being written (send.c). */
struct pop3_send {
	bool active;  /* input waits until the response is out */
	uint32_t n;   /* the message number */
	bool is_retr; /* whole message: marks it retrieved when done */
	struct store_stream *msg; /* the stored message, open */
	uint64_t pos;             /* bytes of it stuffed so far */
	struct buf in;            /* one chunk of it, read at in_off */
	uint64_t in_off;
	struct buf out; /* that chunk stuffed */
	struct pop3_dotstuff ds;
	/* Plain connections: clean runs go by sendfile() from here. */
	struct conn_file *file;
};

struct pop3_session {
	struct conn *c;
	const struct config *cfg;
	struct services *svc;
	enum pop3_state state;
	bool sasl_pending; /* AUTH sent "+ "; the next line is the response */
	bool auth_busy;    /* a password check runs on a worker (login.c) */
	struct sasl_scram_run *scram; /* AUTH SCRAM-SHA-256 under way */
	bool tls_pending;     /* STLS accepted; no input until tls_ready() */
	bool closing;         /* conn_close() called; read nothing more */
	bool stop_after_send; /* server shutdown while a response is out */
	bool utf8;            /* UTF8 given (RFC 6856 2.1) */
	unsigned errors;      /* -ERR replies in a row */
	char *user;           /* the USER argument, until PASS */
	char *login; /* the canonical address, while the lock is held */
	struct store_user *mail; /* open in TRANSACTION and UPDATE */
	struct pop3_maildrop md;
	/* What a download and a deletion do (the user's settings). */
	enum auth_pop3_after_retrieve after_retrieve;
	enum auth_pop3_on_delete on_delete;
	struct pop3_send send;
};

/* A command handler; arguments were checked against the table. */
typedef void pop3_cmd_fn(struct pop3_session *s,
                         const struct pop3_cmdline *cmd);

/* Moves to state; only AUTHORIZATION -> TRANSACTION -> UPDATE is legal. */
void pop3_session_set_state(struct pop3_session *s, enum pop3_state state);

/* Closes the connection after the queued output; reason goes to the log. */
void pop3_session_close(struct pop3_session *s, const char *reason);

/* True if USER/PASS/AUTH may be used now (TLS, or loopback if allowed). */
bool pop3_session_auth_allowed(const struct pop3_session *s);

/*
 * Write "+OK text" / "-ERR text" lines.  An -ERR counts towards
 * POP3_MAX_ERRORS, a +OK resets the count.
 */
void pop3_session_ok(struct pop3_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void pop3_session_err(struct pop3_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Reports a store or auth failure: logs what (the operation) with e's
 * details and tells the client the generic text of pop3/resp.c, prefixed by
 * the response code.
 */
void pop3_session_fail(struct pop3_session *s, const struct err *e,
                       const char *what);

/* Releases the maildrop lock if the session holds it (login.c). */
void pop3_login_unlock(struct pop3_session *s);

/* Frees an unfinished AUTH exchange (login.c). */
void pop3_login_sasl_free(struct pop3_session *s);

/* AUTHORIZATION state handlers (login.c). */
pop3_cmd_fn pop3_login_stls;
pop3_cmd_fn pop3_login_user;
pop3_cmd_fn pop3_login_pass;
pop3_cmd_fn pop3_login_auth;
pop3_cmd_fn pop3_login_utf8;

/* The client's answer to the "+ " of AUTH (RFC 5034 4). */
void pop3_login_sasl_response(struct pop3_session *s, const char *line,
                              size_t len);

/* Handlers valid after login, and CAPA and QUIT (commands.c). */
pop3_cmd_fn pop3_cmd_capa;
pop3_cmd_fn pop3_cmd_quit;
pop3_cmd_fn pop3_cmd_stat;
pop3_cmd_fn pop3_cmd_list;
pop3_cmd_fn pop3_cmd_uidl;
pop3_cmd_fn pop3_cmd_retr;
pop3_cmd_fn pop3_cmd_top;
pop3_cmd_fn pop3_cmd_dele;
pop3_cmd_fn pop3_cmd_rset;
pop3_cmd_fn pop3_cmd_noop;

/*
 * RETR and TOP (send.c): reads message n and writes it, or its head with
 * body_lines lines of body, as a multi-line response.  Large responses go
 * out as the client reads them (conn_wait_drained()); s->send.active is
 * true until the last line is queued.
 */
void pop3_send_start(struct pop3_session *s, uint32_t n,
                     const struct store_msg *msg, int64_t body_lines);

/* Writes the next part of the response in progress (the drained hook). */
void pop3_send_pump(struct pop3_session *s);

/* Forgets a response in progress (the connection is going away). */
void pop3_send_free(struct pop3_session *s);

/*
 * The UPDATE state (update.c, RFC 1939 6): applies what the session marked
 * according to the user's settings.  Returns 0, or -1 with *err set and
 * *step_r naming the step that failed (the steps before it are done).
 * *deleted_r counts the messages removed from INBOX by DELE.
 */
int pop3_update_apply(struct pop3_session *s, size_t *deleted_r,
                      const char **step_r, struct err *err);

#endif
