/*
 * smtp session: the state shared by the files of src/smtp/ (private).
 *
 * session.c owns the lifecycle and the dispatch table; envelope.c, auth.c
 * and data.c implement the commands; reply.c writes replies.  Every command
 * handler gets the session and the argument text after the verb (NUL
 * terminated, len bytes, no line terminator) and writes exactly one reply
 * (multi-line for EHLO), except where a continuation (334, 354) follows.
 */
#ifndef POSTAMT_SMTP_SESSION_H
#define POSTAMT_SMTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/conn.h"
#include "proto/services.h"
#include "smtp/body.h"
#include "smtp/queue.h"
#include "util/err.h"

/*
 * Bad commands (syntax, sequence, unknown, failed AUTH) before the
 * connection is dropped with 421.  To become the config key
 * smtp_max_errors.
 */
#define SMTP_MAX_ERRORS 10
/* RFC 5321 4.5.3.1.4: a command line of 512 octets must be accepted. */
#define SMTP_COMMAND_LINE_MIN 512

enum smtp_state {
	SMTP_STATE_GREETED, /* greeting sent, no EHLO/HELO yet */
	SMTP_STATE_READY,   /* EHLO/HELO done, no transaction */
	SMTP_STATE_MAIL,    /* MAIL accepted, no recipient yet */
	SMTP_STATE_RCPT,    /* at least one recipient accepted */
	SMTP_STATE_DATA,    /* 354 sent, receiving the message */
	SMTP_STATE_CHUNKS,  /* BDAT chunks taken, no BDAT LAST yet */
	SMTP_STATE_AUTH,    /* 334 sent, waiting for a SASL response */
	SMTP_STATE_TLS,     /* STARTTLS accepted, waiting for the handshake */
	SMTP_STATE_CLOSED,  /* conn_close() called; input is ignored */
};

#define SMTP_ST(x) (1u << (x))

struct sasl_scram_run;

enum smtp_auth_step {
	SMTP_AUTH_NONE,
	SMTP_AUTH_PLAIN,      /* waiting for the PLAIN message */
	SMTP_AUTH_LOGIN_USER, /* waiting for the LOGIN user name */
	SMTP_AUTH_LOGIN_PASS, /* waiting for the LOGIN password */
	SMTP_AUTH_SCRAM,      /* waiting for a SCRAM-SHA-256 response */
	SMTP_AUTH_VERIFYING,  /* password check on a worker: read nothing */
};

/* One mail transaction (RFC 5321 3.3), reset by RSET, EHLO, end of DATA. */
struct smtp_txn {
	char *from;    /* reverse-path, "" for <>; NULL: no MAIL yet */
	bool smtputf8; /* MAIL had SMTPUTF8 */
	char **users;  /* distinct local users to deliver to */
	size_t nusers;
	size_t nrcpts;    /* RCPT commands accepted (the limit counts these) */
	char *first_rcpt; /* the first accepted RCPT address, for Received */
	struct smtp_body body;
	char id[17]; /* queue id, 16 hex digits, set at DATA */
	/*
	 * Remote recipients of an authenticated submission, to be queued
	 * (only rcpts is used until the end of DATA).
	 */
	struct smtp_queue_msg out;
	size_t return_path_len; /* bytes of the Return-Path: line in body */
	/*
	 * Local recipients that asked for NOTIFY=SUCCESS (RFC 3461 4.1), as
	 * given at RCPT, for the "delivered" DSN (only rcpts is used).
	 */
	struct smtp_queue_msg dsn_local;
	/*
	 * RFC 3030 2: a BDAT chunk was taken, so DATA is refused (503); and
	 * bdat_error: a chunk was answered with this error, so the chunks
	 * already in the pipeline are read, dropped and answered the same
	 * way until LAST or RSET.
	 */
	bool bdat;
	const char *bdat_error;
};

/*
 * The BDAT chunk being read (bdat.c).  It lives outside the transaction
 * because a chunk is read off the wire even when the BDAT is refused:
 * otherwise the message bytes would be run as commands.
 */
struct smtp_chunk {
	bool active;       /* reading chunk bytes instead of lines */
	bool last;         /* BDAT ... LAST */
	bool take;         /* into the body; else dropped */
	bool count_error;  /* error is a client mistake (smtp_reply_error) */
	uint64_t size;     /* the announced size */
	uint64_t left;     /* bytes still to read */
	const char *error; /* the reply once read, when the BDAT is refused */
};

struct smtp_session {
	struct conn *c;
	const struct config *cfg;
	struct services *svc;
	enum service service;
	enum smtp_state state;
	char *helo;         /* EHLO/HELO argument; NULL before one */
	bool esmtp;         /* EHLO rather than HELO */
	char *user;         /* authenticated address; NULL before AUTH */
	unsigned errors;    /* bad commands so far */
	bool shutting_down; /* server stop requested while in DATA */
	enum smtp_auth_step auth_step;
	char *auth_login_user; /* AUTH LOGIN: the user name given so far */
	struct sasl_scram_run *auth_scram; /* AUTH SCRAM-SHA-256 (auth.c) */
	struct smtp_txn txn;
	struct smtp_chunk chunk;
};

/* session.c */
void smtp_session_set_state(struct smtp_session *s, enum smtp_state st);
/* Closes the connection after the queued replies; no more input is read. */
void smtp_session_close(struct smtp_session *s, const char *reason);
/* Forgets the transaction (RFC 5321 4.1.1.5); keeps EHLO and AUTH. */
void smtp_txn_reset(struct smtp_session *s);
/* True if AUTH may be offered and used on this connection now. */
bool smtp_session_auth_allowed(const struct smtp_session *s);
/* True if this is 587 without TLS, where MAIL/AUTH need STARTTLS first. */
bool smtp_session_needs_tls(const struct smtp_session *s);

/* reply.c */
/* Writes one reply line; fmt is the text without CRLF. */
void smtp_reply(struct smtp_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * Writes a reply to a client mistake and counts it; at SMTP_MAX_ERRORS
 * adds "421 4.7.0 Too many errors" and closes the connection.
 */
void smtp_reply_error(struct smtp_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * The reply for a store/auth failure (RFC 3463 codes): code, enhanced code
 * and text for clients.  Pure; the detail in e->msg is for the log only.
 */
struct smtp_err_reply {
	int code;
	const char *esc;
	const char *text;
};
struct smtp_err_reply smtp_reply_for_err(enum err_kind kind);

/* Command handlers: envelope.c */
void smtp_cmd_ehlo(struct smtp_session *s, const char *arg, size_t len);
void smtp_cmd_helo(struct smtp_session *s, const char *arg, size_t len);
void smtp_cmd_mail(struct smtp_session *s, const char *arg, size_t len);
void smtp_cmd_rcpt(struct smtp_session *s, const char *arg, size_t len);
void smtp_cmd_rset(struct smtp_session *s, const char *arg, size_t len);
void smtp_cmd_noop(struct smtp_session *s, const char *arg, size_t len);
void smtp_cmd_vrfy(struct smtp_session *s, const char *arg, size_t len);
void smtp_cmd_help(struct smtp_session *s, const char *arg, size_t len);
void smtp_cmd_quit(struct smtp_session *s, const char *arg, size_t len);
void smtp_cmd_starttls(struct smtp_session *s, const char *arg, size_t len);

/* auth.c */
void smtp_cmd_auth(struct smtp_session *s, const char *arg, size_t len);
/* A line received in SMTP_STATE_AUTH (a SASL response or "*"). */
void smtp_auth_line(struct smtp_session *s, char *line, size_t len);
/* Wipes and frees what an unfinished AUTH exchange holds. */
void smtp_auth_reset(struct smtp_session *s);

/* sender.c: sender_must_match for authenticated submission. */
/* True if the logged-in user may use addr as MAIL FROM (always on MX). */
bool smtp_sender_is_allowed(struct smtp_session *s, const char *addr);
/* True if every From: address of the message (len bytes) is the user's. */
bool smtp_sender_header_is_allowed(struct smtp_session *s, const char *msg,
                                   size_t len);

/* dsn.c */
/*
 * After the final 250 of a delivery: sends the sender the "delivered"
 * DSN (RFC 3464 Action: delivered) for the local recipients that asked
 * for NOTIFY=SUCCESS.  Must run before smtp_txn_reset(); a failure is
 * logged only (the mail itself is delivered).
 */
void smtp_dsn_local_delivered(struct smtp_session *s);

/*
 * Sends the sender of the transaction a DSN of kind about the n rcpts
 * (their status set), returning the transaction's message as the original
 * (dsn.c).  0, or -1 with *e set.
 */
int smtp_dsn_send_txn(struct smtp_session *s, struct smtp_queue_rcpt *rcpts,
                      size_t n, enum smtp_dsn_action kind, struct err *e);
/* True if smtp_bare_lf = normalize: bare CR/LF in DATA become CRLF. */
bool smtp_session_normalizes_bare_lf(const struct smtp_session *s);

/* data.c: the delivery path DATA and BDAT share. */
void smtp_cmd_data(struct smtp_session *s, const char *arg, size_t len);
/* A line received in SMTP_STATE_DATA (read CRLF-strict). */
void smtp_data_line(struct smtp_session *s, const char *line, size_t len);
/*
 * Takes the DATA lines that lie whole in the input's first piece, in
 * place (smtp_body_take()); false if there were none, and the caller
 * reads the next line with conn_read_line() (one split across pieces,
 * or one over max bytes).
 */
bool smtp_data_take(struct smtp_session *s, size_t max);
/*
 * Starts the message: a queue id, an empty body with the size limit, and
 * the trace headers (Return-Path:, Received:).  Returns -1 when out of
 * memory (nothing replied).
 */
int smtp_data_begin(struct smtp_session *s);
/*
 * The whole message is in s->txn.body: checks it, delivers it (on the
 * worker pool), replies once and ends the transaction (now or in done()).
 */
void smtp_data_complete(struct smtp_session *s);

/* bdat.c: CHUNKING (RFC 3030). */
void smtp_cmd_bdat(struct smtp_session *s, const char *arg, size_t len);
/*
 * Reads what there is of the current chunk (s->chunk.active).  Returns
 * false when it must wait for more input, true when the chunk is done
 * (replied) and lines may be read again.
 */
bool smtp_bdat_input(struct smtp_session *s);

#endif
