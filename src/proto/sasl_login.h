/*
 * sasl_login: logins as every protocol runs them.
 *
 * A password login (PLAIN, LOGIN, USER/PASS, IMAP LOGIN) costs one
 * password hash (yescrypt: ~19 ms), so it runs on the worker pool:
 * sasl_login_start() queues auth_login() (throttling, then the hash) and
 * the protocol answers in its done callback, on the loop thread.
 *
 * A SCRAM-SHA-256 exchange needs no hash, only HMACs and a key lookup, so
 * sasl_scram_run_step() runs inline; it applies the same throttling.
 */
#ifndef POSTAMT_PROTO_SASL_LOGIN_H
#define POSTAMT_PROTO_SASL_LOGIN_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/auth.h"
#include "net/conn.h"
#include "util/buf.h"
#include "util/err.h"

/* One password check handed to a worker thread. */
struct sasl_login {
	struct auth *auth;
	char ip[64];    /* conn_remote(), copied: the worker never sees conn */
	char *user;     /* as the client gave it */
	char *pass;     /* wiped when freed */
	char *tag;      /* for the protocol (IMAP: the command tag); or NULL */
	int rc;         /* auth_login()'s result, set by the worker */
	struct err err; /* ERR_PERM: bad credentials, ERR_LIMIT: throttled */
};

/*
 * A new job for (user, pass) from conn c; tag may be NULL.  NULL when out
 * of memory.  Free with sasl_login_free().
 */
struct sasl_login *sasl_login_new(struct conn *c, struct auth *a,
                                  const char *user, const char *pass,
                                  const char *tag);
/* Wipes the password and frees; *l becomes NULL. */
void sasl_login_free(struct sasl_login **l);

/*
 * Runs auth_login() for l on the worker pool, then done(session, l) on the
 * loop thread (conn_run_blocking(): input is paused meanwhile).  If the
 * job cannot be queued it runs inline and done is called before this
 * returns.  The protocol must stop its own input loop until done runs,
 * and done owns l (frees it).
 */
void sasl_login_start(struct conn *c, void *session, struct sasl_login *l,
                      void (*done)(void *session, void *arg));

/* ---- SCRAM-SHA-256 as the protocols drive it ---- */

struct sasl_scram_run;

enum sasl_run_result {
	SASL_RUN_CHALLENGE, /* send out (base64) as a challenge, wait */
	SASL_RUN_SUCCESS,   /* authenticated as sasl_scram_run_user() */
	SASL_RUN_FAILED,    /* wrong password or no such user */
	SASL_RUN_MALFORMED, /* bad base64 or a message outside RFC 5802 */
	SASL_RUN_THROTTLED, /* too many failures: refuse for now */
	SASL_RUN_ERROR,     /* out of memory or database failure (err) */
};

/* A new exchange; NULL when out of memory. */
struct sasl_scram_run *sasl_scram_run_new(void);
void sasl_scram_run_free(struct sasl_scram_run **r);

/*
 * Takes the client's next response (base64 text, len bytes; "" or "=" is
 * empty) and says what to do.  Three responses make an exchange: the
 * client-first, the client-final (its answer, the server-final, is sent
 * as a challenge, RFC 4422 3 "additional data with success"), and an
 * empty one acknowledging it.  Failures are counted by the throttle
 * against ip (conn_remote()) and the user.
 */
enum sasl_run_result sasl_scram_run_step(struct sasl_scram_run *r,
                                         struct auth *a, const char *ip,
                                         const char *b64, size_t len,
                                         struct buf *out, struct err *err);

/* The user name of the exchange (lower-cased address); "" before it. */
const char *sasl_scram_run_user(const struct sasl_scram_run *r);

#endif
