/*
 * SMTP AUTH (RFC 4954) with the PLAIN (RFC 4616), LOGIN and SCRAM-SHA-256
 * (RFC 5802, RFC 7677) mechanisms.
 *
 * Only on the submission services, and only over TLS unless the operator
 * allowed plaintext on loopback (session.c decides).  Secrets are wiped as
 * soon as they have been checked.  A password check runs on the worker
 * pool (proto/sasl_login.h) while the session reads nothing
 * (SMTP_AUTH_VERIFYING); too many failures get 454 4.7.0 for a while.
 */
#include "smtp/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth.h"
#include "proto/sasl.h"
#include "proto/sasl_login.h"
#include "util/buf.h"

/* Largest decoded SASL message we take; RFC 4954 4 allows 12288 octets. */
#define SMTP_SASL_MAX 8192

/* Base64 of "Username:" and "Password:", the LOGIN prompts. */
#define SMTP_LOGIN_USER_PROMPT "334 VXNlcm5hbWU6"
#define SMTP_LOGIN_PASS_PROMPT "334 UGFzc3dvcmQ6"

static void
smtp_buf_wipe(struct buf *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->cap);
	buf_free(b);
}

void
smtp_auth_reset(struct smtp_session *s)
{
	if (s->auth_login_user != NULL) {
		explicit_bzero(s->auth_login_user, strlen(s->auth_login_user));
		free(s->auth_login_user);
		s->auth_login_user = NULL;
	}
	sasl_scram_run_free(&s->auth_scram);
	s->auth_step = SMTP_AUTH_NONE;
}

/* Ends the exchange, whatever the outcome, back in the ready state. */
static void
smtp_auth_finish(struct smtp_session *s)
{
	smtp_auth_reset(s);
	smtp_session_set_state(s, SMTP_STATE_READY);
}

/* Logs in as user (credentials already checked), or refuses. */
static void
smtp_auth_admit(struct smtp_session *s, const char *user)
{
	struct auth_user_info info;
	struct err e;
	char *copy;

	err_clear(&e);
	/* Per-user setting: this account may not submit mail. */
	if (auth_user_info(s->svc->auth, user, &info, &e) < 0 ||
	    !info.submission) {
		conn_log(s->c, LOG_LVL_INFO,
		         "auth refused user=%s: submission disabled", user);
		smtp_reply_error(s, "525 5.7.13 Submission is disabled for "
		                    "this account");
		return;
	}
	if ((copy = strdup(user)) == NULL) {
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
		return;
	}
	s->user = copy;
	conn_set_user(s->c, user);
	conn_log(s->c, LOG_LVL_INFO, "auth ok");
	smtp_reply(s, "235 2.7.0 Authentication successful");
}

/* Answers a failed login: bad credentials, throttled, or a failure. */
static void
smtp_auth_refuse(struct smtp_session *s, const char *user, const struct err *e)
{
	if (e->kind == ERR_PERM) {
		conn_log(s->c, LOG_LVL_INFO, "auth failed user=%s", user);
		smtp_reply_error(s, "535 5.7.8 Authentication credentials "
		                    "invalid");
	} else if (e->kind == ERR_LIMIT) {
		conn_log(s->c, LOG_LVL_WARN, "auth throttled user=%s: %s", user,
		         e->msg);
		smtp_reply_error(s, "454 4.7.0 Too many failed logins, try "
		                    "again later");
	} else {
		conn_log(s->c, LOG_LVL_WARN, "auth error: %s: %s",
		         err_kind_name(e->kind), e->msg);
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
	}
}

/* On the loop thread, after the worker checked the password. */
static void
smtp_auth_verified(void *session, void *arg)
{
	struct smtp_session *s = session;
	struct sasl_login *l = arg;

	if (s->state != SMTP_STATE_CLOSED) {
		smtp_auth_finish(s);
		if (l->rc == 0)
			smtp_auth_admit(s, l->user);
		else
			smtp_auth_refuse(s, l->user, &l->err);
	}
	sasl_login_free(&l);
}

/* Hands (user, pass) to a worker; the reply comes from the callback. */
static void
smtp_auth_verify(struct smtp_session *s, const char *user, const char *pass)
{
	struct sasl_login *l =
	    sasl_login_new(s->c, s->svc->auth, user, pass, NULL);

	if (l == NULL) {
		smtp_auth_finish(s);
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
		return;
	}
	smtp_auth_reset(s);
	s->auth_step = SMTP_AUTH_VERIFYING;
	smtp_session_set_state(s, SMTP_STATE_AUTH);
	sasl_login_start(s->c, s, l, smtp_auth_verified);
}

/* One SCRAM-SHA-256 response (base64 text). */
static void
smtp_auth_scram(struct smtp_session *s, const char *text, size_t len)
{
	struct buf out = BUF_INIT;
	struct err e;
	char user[AUTH_ADDRESS_MAX + 1];
	enum sasl_run_result r;

	err_clear(&e);
	buf_init(&out, SMTP_SASL_MAX);
	r = sasl_scram_run_step(s->auth_scram, s->svc->auth, conn_remote(s->c),
	                        text, len, &out, &e);
	snprintf(user, sizeof(user), "%s", sasl_scram_run_user(s->auth_scram));
	if (r == SASL_RUN_CHALLENGE) {
		smtp_reply(s, "334 %s", buf_cstr(&out));
		buf_free(&out);
		return;
	}
	buf_free(&out);
	smtp_auth_finish(s);
	if (r == SASL_RUN_SUCCESS) {
		smtp_auth_admit(s, user);
		return;
	}
	if (r == SASL_RUN_MALFORMED) {
		smtp_reply_error(s, "501 5.5.2 Invalid SCRAM-SHA-256 message");
		return;
	}
	if (r == SASL_RUN_FAILED)
		err_set(&e, ERR_PERM, "bad proof");
	else if (r == SASL_RUN_THROTTLED)
		err_set(&e, ERR_LIMIT, "too many failed logins");
	smtp_auth_refuse(s, user, &e);
}

/* Starts SCRAM-SHA-256 with or without an initial response. */
static void
smtp_auth_scram_start(struct smtp_session *s, const char *ir, size_t irlen)
{
	s->auth_scram = sasl_scram_run_new();
	if (s->auth_scram == NULL) {
		smtp_auth_finish(s);
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
		return;
	}
	s->auth_step = SMTP_AUTH_SCRAM;
	if (ir != NULL)
		smtp_auth_scram(s, ir, irlen);
	else
		smtp_reply(s, "334 "); /* SCRAM is client-first */
}

/* Decodes a client response; on failure replies 501 and ends AUTH. */
static int
smtp_auth_decode(struct smtp_session *s, const char *text, size_t len,
                 struct buf *out)
{
	buf_init(out, SMTP_SASL_MAX);
	if (sasl_base64_decode(text, len, out) == 0)
		return 0;
	smtp_buf_wipe(out);
	smtp_auth_finish(s);
	smtp_reply_error(s, "501 5.5.2 Cannot decode response");
	return -1;
}

static void
smtp_auth_plain(struct smtp_session *s, const char *text, size_t len)
{
	struct buf msg;
	const char *user, *pass;

	if (smtp_auth_decode(s, text, len, &msg) < 0)
		return;
	if (msg.data == NULL ||
	    sasl_plain_parse(msg.data, msg.len, &user, &pass) < 0) {
		smtp_buf_wipe(&msg);
		smtp_auth_finish(s);
		smtp_reply_error(s, "501 5.5.2 Invalid PLAIN message");
		return;
	}
	smtp_auth_verify(s, user, pass);
	smtp_buf_wipe(&msg);
}

/* Takes the LOGIN user name and asks for the password. */
static void
smtp_auth_login_user(struct smtp_session *s, const char *text, size_t len)
{
	struct buf name;

	if (smtp_auth_decode(s, text, len, &name) < 0)
		return;
	s->auth_login_user = buf_steal(&name);
	if (s->auth_login_user == NULL) {
		smtp_auth_finish(s);
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
		return;
	}
	s->auth_step = SMTP_AUTH_LOGIN_PASS;
	smtp_session_set_state(s, SMTP_STATE_AUTH);
	smtp_reply(s, SMTP_LOGIN_PASS_PROMPT);
}

static void
smtp_auth_login_pass(struct smtp_session *s, const char *text, size_t len)
{
	struct buf pass;
	char *user = s->auth_login_user;

	if (smtp_auth_decode(s, text, len, &pass) < 0)
		return;
	s->auth_login_user = NULL; /* smtp_auth_verify() resets the step */
	smtp_auth_verify(s, user, buf_cstr(&pass));
	explicit_bzero(user, strlen(user));
	free(user);
	smtp_buf_wipe(&pass);
}

/* Refuses AUTH where it is not offered; returns false if refused. */
static bool
smtp_auth_permitted(struct smtp_session *s)
{
	if (s->user != NULL) {
		smtp_reply_error(s, "503 5.5.1 Already authenticated");
		return false;
	}
	if (smtp_session_needs_tls(s)) {
		smtp_reply_error(
		    s, "530 5.7.0 Must issue a STARTTLS command first");
		return false;
	}
	if (!smtp_session_auth_allowed(s)) {
		smtp_reply_error(s, "503 5.5.1 Authentication not enabled");
		return false;
	}
	/* RFC 4954 4: AUTH is an extension, so EHLO must come first. */
	if (!s->esmtp) {
		smtp_reply_error(s, "503 5.5.1 Send EHLO first");
		return false;
	}
	return true;
}

void
smtp_cmd_auth(struct smtp_session *s, const char *arg, size_t len)
{
	const char *sp = memchr(arg, ' ', len);
	size_t mlen = sp != NULL ? (size_t)(sp - arg) : len;
	const char *ir = sp != NULL ? sp + 1 : NULL;
	size_t irlen = ir != NULL ? len - (size_t)(ir - arg) : 0;

	if (!smtp_auth_permitted(s))
		return;
	smtp_session_set_state(s, SMTP_STATE_AUTH);
	if (mlen == 5 && strncasecmp(arg, "PLAIN", 5) == 0) {
		if (ir != NULL) {
			smtp_auth_plain(s, ir, irlen);
			return;
		}
		s->auth_step = SMTP_AUTH_PLAIN;
		smtp_reply(s, "334 ");
	} else if (mlen == 5 && strncasecmp(arg, "LOGIN", 5) == 0) {
		if (ir != NULL) {
			smtp_auth_login_user(s, ir, irlen);
			return;
		}
		s->auth_step = SMTP_AUTH_LOGIN_USER;
		smtp_reply(s, SMTP_LOGIN_USER_PROMPT);
	} else if (mlen == 13 && strncasecmp(arg, "SCRAM-SHA-256", 13) == 0) {
		smtp_auth_scram_start(s, ir, irlen);
	} else {
		smtp_auth_finish(s);
		smtp_reply_error(s, "504 5.5.4 Unrecognized authentication "
		                    "type");
	}
}

void
smtp_auth_line(struct smtp_session *s, char *line, size_t len)
{
	/* RFC 4954 4: "*" cancels the exchange. */
	if (len == 1 && line[0] == '*') {
		smtp_auth_finish(s);
		smtp_reply_error(s, "501 5.0.0 Authentication cancelled");
		return;
	}
	switch (s->auth_step) {
	case SMTP_AUTH_PLAIN:
		smtp_auth_plain(s, line, len);
		break;
	case SMTP_AUTH_LOGIN_USER:
		smtp_auth_login_user(s, line, len);
		break;
	case SMTP_AUTH_LOGIN_PASS:
		smtp_auth_login_pass(s, line, len);
		break;
	case SMTP_AUTH_SCRAM:
		smtp_auth_scram(s, line, len);
		break;
	case SMTP_AUTH_VERIFYING: /* input is not read meanwhile */
	case SMTP_AUTH_NONE:
	default:
		/* Cannot happen: the AUTH state always has a step. */
		conn_log(s->c, LOG_LVL_ERROR, "auth line without a step");
		smtp_auth_finish(s);
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
		break;
	}
}
