/*
 * pop3 session: the state of one POP3 connection and the pieces that
 * session.c (lifecycle, dispatch), login.c (AUTHORIZATION state) and
 * commands.c (TRANSACTION state) share.  Private to src/pop3/.
 */
#ifndef POSTAMT_POP3_SESSION_H
#define POSTAMT_POP3_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "net/conn.h"
#include "pop3/maildrop.h"
#include "pop3/parse.h"
#include "util/err.h"

struct services;
struct store_user;

/* RFC 1939 3; changed only by pop3_session_set_state(). */
enum pop3_state { POP3_AUTHORIZATION, POP3_TRANSACTION, POP3_UPDATE };

/* After this many -ERR replies in a row the session is closed. */
#define POP3_MAX_ERRORS 10

/* The one mailbox POP3 serves. */
#define POP3_MAILBOX "INBOX"

struct pop3_session {
	struct conn *c;
	const struct config *cfg;
	struct services *svc;
	enum pop3_state state;
	bool sasl_pending; /* AUTH sent "+ "; the next line is the response */
	bool tls_pending;  /* STLS accepted; no input until tls_ready() */
	bool closing;      /* conn_close() called; read nothing more */
	unsigned errors;   /* -ERR replies in a row */
	char *user;        /* the USER argument, until PASS */
	struct store_user *mail; /* open in TRANSACTION and UPDATE */
	struct pop3_maildrop md;
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

/* AUTHORIZATION state handlers (login.c). */
pop3_cmd_fn pop3_login_stls;
pop3_cmd_fn pop3_login_user;
pop3_cmd_fn pop3_login_pass;
pop3_cmd_fn pop3_login_auth;

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

#endif
