/*
 * cmd_auth: STARTTLS, LOGIN and AUTHENTICATE (RFC 9051 6.2) with the
 * PLAIN, LOGIN and SCRAM-SHA-256 (RFC 5802, RFC 7677) mechanisms.
 *
 * A password check runs on the worker pool (proto/sasl_login.h): the
 * session stops reading (stop_input) until the answer, so pipelined
 * commands wait their turn.  Too many failures get NO [UNAVAILABLE].
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth.h"
#include "imap/cmd.h"
#include "imap/resp.h"
#include "imap/sync.h"
#include "proto/mailuser.h"
#include "proto/sasl.h"
#include "proto/sasl_login.h"

/* Base64 of "Username:" and "Password:", the LOGIN mechanism's prompts. */
#define IMAP_LOGIN_USER_PROMPT "+ VXNlcm5hbWU6\r\n"
#define IMAP_LOGIN_PASS_PROMPT "+ UGFzc3dvcmQ6\r\n"

enum imap_sasl_mech { IMAP_SASL_PLAIN, IMAP_SASL_LOGIN, IMAP_SASL_SCRAM };

/* An AUTHENTICATE exchange waiting for the client's next response. */
struct imap_sasl {
	enum imap_sasl_mech mech;
	char *login_user; /* LOGIN: the user name, once given */
	struct sasl_scram_run *scram;
};

void
imap_sasl_free(struct imap_sasl **sasl)
{
	struct imap_sasl *x = *sasl;

	if (x == NULL)
		return;
	if (x->login_user != NULL) {
		explicit_bzero(x->login_user, strlen(x->login_user));
		free(x->login_user);
	}
	sasl_scram_run_free(&x->scram);
	free(x);
	*sasl = NULL;
}

bool
imap_login_is_plain_ok(const struct imap_session *s)
{
	return conn_is_tls(s->c) ||
	       (conn_is_loopback(s->c) && s->cfg->plaintext_auth_on_loopback);
}

void
imap_cmd_starttls(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	if (conn_is_tls(s->c) || conn_service(s->c) != SVC_IMAP) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "TLS is already active");
		return;
	}
	imap_resp_tagged(s, cx->tag, IMAP_OK, NULL,
	                 "Begin TLS negotiation now");
	/* Input stops here; the network layer drops what was pipelined. */
	s->stop_input = true;
	if (conn_starttls(s->c) < 0) {
		imap_resp_untagged(s, "BYE TLS is not available");
		imap_session_close(s, "starttls failed");
	}
}

/* Logs user in (credentials checked): opens the mail, answers OK. */
static void
imap_login_admit(struct imap_session *s, const char *tag, const char *user)
{
	struct buf out = BUF_INIT;
	struct err err;
	char *name = strdup(user);

	if (name == NULL) {
		err_set(&err, ERR_INTERNAL, "out of memory");
		imap_resp_err(s, tag, &err);
		return;
	}
	/* Addresses are kept lower-cased (auth.h). */
	for (char *p = name; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	if (mailuser_open(s->svc, name, &s->user, &err) < 0) {
		imap_resp_err(s, tag, &err);
		free(name);
		return;
	}
	/* Other sessions' changes reach this one from now on (sync.h). */
	store_user_watch(s->user, imap_sync_on_change, s);
	s->username = name;
	conn_set_user(s->c, name);
	imap_session_set_state(s, IMAP_STATE_AUTH);
	/* RFC 9051 6.2.3: the OK may carry the new capabilities. */
	buf_printf(&out, "%s OK [CAPABILITY ", tag);
	imap_capability_append(s, &out);
	buf_append_str(&out, "] Logged in\r\n");
	s->bads = 0;
	imap_resp_flush(s, &out);
	buf_free(&out);
}

/* Answers a failed login: bad credentials, throttled, or a failure. */
static void
imap_login_refuse(struct imap_session *s, const char *tag, const char *user,
                  const struct err *err)
{
	if (err->kind == ERR_PERM) {
		conn_log(s->c, LOG_LVL_INFO, "imap login failed user=%s", user);
		imap_resp_tagged(s, tag, IMAP_NO, "AUTHENTICATIONFAILED",
		                 "Authentication failed");
	} else if (err->kind == ERR_LIMIT) {
		conn_log(s->c, LOG_LVL_WARN, "imap login throttled user=%s: %s",
		         user, err->msg);
		imap_resp_tagged(s, tag, IMAP_NO, "UNAVAILABLE",
		                 "Too many failed logins, try again later");
	} else {
		imap_resp_err(s, tag, err);
	}
}

/* On the loop thread, after the worker checked the password. */
static void
imap_login_checked(void *session, void *arg)
{
	struct imap_session *s = session;
	struct sasl_login *l = arg;

	s->stop_input = false;
	if (s->state == IMAP_STATE_NOT_AUTH) {
		if (l->rc == 0)
			imap_login_admit(s, l->tag, l->user);
		else
			imap_login_refuse(s, l->tag, l->user, &l->err);
	}
	sasl_login_free(&l);
}

/* Checks (user, pass) on a worker; the tag is answered afterwards. */
static void
imap_login_start(struct imap_session *s, const char *tag, const char *user,
                 const char *pass)
{
	struct sasl_login *l =
	    sasl_login_new(s->c, s->svc->auth, user, pass, tag);
	struct err err;

	if (l == NULL) {
		err_set(&err, ERR_TEMP, "out of memory");
		imap_resp_err(s, tag, &err);
		return;
	}
	/* Nothing more is read until imap_login_checked() has answered. */
	s->stop_input = true;
	sasl_login_start(s->c, s, l, imap_login_checked);
}

/* Refuses a login that would expose a password.  True if refused. */
static bool
imap_login_refused(struct imap_session *s, const char *tag)
{
	if (imap_login_is_plain_ok(s))
		return false;
	imap_resp_tagged(s, tag, IMAP_NO, "PRIVACYREQUIRED",
	                 "TLS is required to log in");
	return true;
}

void
imap_cmd_login(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	const char *user = imap_arg_astring(cx->args);
	const char *pass = imap_arg_astring(cx->args->next);

	if (user == NULL || pass == NULL) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "Invalid user name or password argument");
		return;
	}
	if (imap_login_refused(s, cx->tag))
		return;
	imap_login_start(s, cx->tag, user, pass);
}

/*
 * Decodes one base64 response into msg (bounded).  RFC 9051 6.2.2: bad
 * base64 is a BAD.  Returns 0, or -1 after answering.
 */
static int
imap_sasl_decode(struct imap_session *s, const char *tag, const char *b64,
                 size_t len, struct buf *msg)
{
	buf_init(msg, (size_t)s->cfg->max_line_length);
	if (sasl_base64_decode(b64, len, msg) == 0)
		return 0;
	imap_resp_tagged(s, tag, IMAP_BAD, NULL, "Invalid base64 response");
	buf_free(msg);
	return -1;
}

static void
imap_sasl_wipe(struct buf *msg)
{
	if (msg->data != NULL)
		explicit_bzero(msg->data, msg->cap);
	buf_free(msg);
}

/* Decodes and checks one SASL PLAIN response (base64 text). */
static void
imap_auth_plain(struct imap_session *s, const char *tag, const char *b64,
                size_t len)
{
	struct buf msg;
	const char *user, *pass;

	if (imap_sasl_decode(s, tag, b64, len, &msg) < 0)
		return;
	if (msg.data == NULL ||
	    sasl_plain_parse(msg.data, msg.len, &user, &pass) < 0)
		imap_resp_tagged(s, tag, IMAP_BAD, NULL,
		                 "Invalid SASL PLAIN response");
	else
		imap_login_start(s, tag, user, pass);
	imap_sasl_wipe(&msg);
}

/*
 * One LOGIN mechanism response: the user name (then the password prompt)
 * or the password (then the check).  True if the exchange goes on.
 */
static bool
imap_auth_login(struct imap_session *s, const char *tag, const char *b64,
                size_t len)
{
	struct imap_sasl *x = s->sasl;
	struct buf msg;

	if (imap_sasl_decode(s, tag, b64, len, &msg) < 0)
		return false;
	if (msg.data == NULL || memchr(msg.data, '\0', msg.len) != NULL) {
		imap_resp_tagged(s, tag, IMAP_BAD, NULL,
		                 "Invalid SASL LOGIN response");
		imap_sasl_wipe(&msg);
		return false;
	}
	if (x->login_user == NULL) {
		x->login_user = buf_steal(&msg);
		conn_printf(s->c, IMAP_LOGIN_PASS_PROMPT);
		return x->login_user != NULL;
	}
	imap_login_start(s, tag, x->login_user, msg.data);
	imap_sasl_wipe(&msg);
	return false;
}

/* One SCRAM-SHA-256 response.  True if the exchange goes on. */
static bool
imap_auth_scram(struct imap_session *s, const char *tag, const char *b64,
                size_t len)
{
	struct sasl_scram_run *run = s->sasl->scram;
	struct buf out = BUF_INIT;
	struct err err;
	enum sasl_run_result r;

	err_clear(&err);
	buf_init(&out, (size_t)s->cfg->max_line_length);
	r = sasl_scram_run_step(run, s->svc->auth, conn_remote(s->c), b64, len,
	                        &out, &err);
	if (r == SASL_RUN_CHALLENGE)
		conn_printf(s->c, "+ %s\r\n", buf_cstr(&out));
	buf_free(&out);
	switch (r) {
	case SASL_RUN_CHALLENGE:
		return true;
	case SASL_RUN_SUCCESS:
		imap_login_admit(s, tag, sasl_scram_run_user(run));
		return false;
	case SASL_RUN_MALFORMED:
		imap_resp_tagged(s, tag, IMAP_BAD, NULL,
		                 "Invalid SCRAM-SHA-256 message");
		return false;
	case SASL_RUN_FAILED:
		err_set(&err, ERR_PERM, "bad proof");
		break;
	case SASL_RUN_THROTTLED:
		err_set(&err, ERR_LIMIT, "too many failed logins");
		break;
	case SASL_RUN_ERROR:
	default:
		break;
	}
	imap_login_refuse(s, tag, sasl_scram_run_user(run), &err);
	return false;
}

/* Runs one response of the exchange in s->sasl; true if it goes on. */
static bool
imap_sasl_step(struct imap_session *s, const char *tag, const char *b64,
               size_t len)
{
	switch (s->sasl->mech) {
	case IMAP_SASL_LOGIN:
		return imap_auth_login(s, tag, b64, len);
	case IMAP_SASL_SCRAM:
		return imap_auth_scram(s, tag, b64, len);
	case IMAP_SASL_PLAIN:
	default:
		imap_auth_plain(s, tag, b64, len);
		return false;
	}
}

/* Which mechanism; false (after answering) for one we do not offer. */
static bool
imap_sasl_mech(struct imap_session *s, const struct imap_cmd_ctx *cx,
               enum imap_sasl_mech *mech_r)
{
	if (cx->args->type != IMAP_ARG_ATOM) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "Invalid mechanism name");
		return false;
	}
	if (imap_arg_is_atom(cx->args, "PLAIN"))
		*mech_r = IMAP_SASL_PLAIN;
	else if (imap_arg_is_atom(cx->args, "LOGIN"))
		*mech_r = IMAP_SASL_LOGIN;
	else if (imap_arg_is_atom(cx->args, "SCRAM-SHA-256"))
		*mech_r = IMAP_SASL_SCRAM;
	else {
		imap_resp_tagged(s, cx->tag, IMAP_NO, "CANNOT",
		                 "Unsupported authentication mechanism");
		return false;
	}
	return true;
}

/* Starts the exchange's state; false (after answering) on failure. */
static bool
imap_sasl_begin(struct imap_session *s, const char *tag,
                enum imap_sasl_mech mech)
{
	struct err err;

	imap_sasl_free(&s->sasl);
	s->sasl = calloc(1, sizeof(*s->sasl));
	if (s->sasl != NULL) {
		s->sasl->mech = mech;
		if (mech != IMAP_SASL_SCRAM ||
		    (s->sasl->scram = sasl_scram_run_new()) != NULL)
			return true;
	}
	imap_sasl_free(&s->sasl);
	err_set(&err, ERR_TEMP, "out of memory");
	imap_resp_err(s, tag, &err);
	return false;
}

void
imap_cmd_authenticate(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	const struct imap_arg *ir = cx->args->next;
	enum imap_sasl_mech mech;

	if (!imap_sasl_mech(s, cx, &mech) || imap_login_refused(s, cx->tag))
		return;
	/* RFC 4959 3: SASL-IR; "=" is an empty initial response. */
	if (ir != NULL && ir->type != IMAP_ARG_ATOM) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "Invalid initial response");
		return;
	}
	if (!imap_sasl_begin(s, cx->tag, mech))
		return;
	if (ir != NULL && !imap_sasl_step(s, cx->tag, ir->str, ir->len)) {
		imap_sasl_free(&s->sasl);
		return;
	}
	s->auth_tag = strdup(cx->tag);
	if (s->auth_tag == NULL) {
		imap_sasl_free(&s->sasl);
		imap_resp_tagged(s, cx->tag, IMAP_NO, "SERVERBUG",
		                 "Out of memory");
		return;
	}
	/* Without an initial response, the first challenge. */
	if (ir == NULL)
		conn_printf(s->c, "%s",
		            mech == IMAP_SASL_LOGIN ? IMAP_LOGIN_USER_PROMPT
		                                    : "+ \r\n");
}

void
imap_cmd_authenticate_continue(struct imap_session *s, char *line, size_t len)
{
	char *tag = s->auth_tag;

	s->auth_tag = NULL;
	/* RFC 9051 6.2.2: "*" cancels the exchange with a BAD. */
	if (len == 1 && line[0] == '*')
		imap_resp_tagged(s, tag, IMAP_BAD, NULL,
		                 "Authentication cancelled");
	else if (s->sasl == NULL) /* cannot happen: a tag has a state */
		imap_resp_tagged(s, tag, IMAP_BAD, NULL,
		                 "No authentication in progress");
	else if (imap_sasl_step(s, tag, line, len)) {
		s->auth_tag = tag; /* the exchange goes on */
		return;
	}
	imap_sasl_free(&s->sasl);
	free(tag);
}
