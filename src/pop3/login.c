/*
 * pop3 login: the AUTHORIZATION state (RFC 1939 4, 7): STLS (RFC 2595 4),
 * UTF8 (RFC 6856 2), USER/PASS, AUTH PLAIN (RFC 5034, RFC 4616) and
 * SCRAM-SHA-256 (RFC 5802, RFC 7677), the user's POP3 settings, the
 * maildrop lock (RFC 2449 8.1.1) and opening the maildrop.
 *
 * A password check runs on the worker pool (proto/sasl_login.h); commands
 * wait meanwhile (auth_busy).  Too many failures get -ERR [SYS/TEMP].
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "pop3/lock.h"
#include "pop3/session.h"
#include "proto/mailuser.h"
#include "proto/sasl.h"
#include "proto/sasl_login.h"
#include "proto/services.h"
#include "store/store.h"

/* A decoded PLAIN message: two names and a password, with room to spare. */
#define LOGIN_SASL_MAX 2048

void
pop3_login_stls(struct pop3_session *s, const struct pop3_cmdline *cmd)
{
	(void)cmd;
	if (conn_is_tls(s->c)) {
		pop3_session_err(s, "Already using TLS");
		return;
	}
	/* RFC 6856 2.1: clients must not send STLS after UTF8. */
	if (s->utf8) {
		pop3_session_err(s, "STLS is not allowed after UTF8");
		return;
	}
	pop3_session_ok(s, "Begin TLS negotiation");
	/* conn_starttls() drops whatever the client pipelined after STLS. */
	if (conn_starttls(s->c) < 0) {
		conn_log(s->c, LOG_LVL_ERROR, "STLS failed: TLS not available");
		pop3_session_close(s, "tls unavailable");
		return;
	}
	s->tls_pending = true;
}

void
pop3_login_utf8(struct pop3_session *s, const struct pop3_cmdline *cmd)
{
	(void)cmd;
	/*
	 * RFC 6856 2.1: the store keeps messages as they arrived, so UTF-8
	 * mode sends them as is; without it, messages with UTF-8 in the
	 * header are refused with [UTF8] (commands.c).
	 */
	s->utf8 = true;
	pop3_session_ok(s, "UTF-8 mode enabled");
}

void
pop3_login_user(struct pop3_session *s, const struct pop3_cmdline *cmd)
{
	char *user = strndup(cmd->args[0].p, cmd->args[0].len);

	if (user == NULL) {
		pop3_session_close(s, "out of memory");
		return;
	}
	free(s->user);
	s->user = user;
	/* Whether the user exists is only told after PASS (RFC 1939 7). */
	pop3_session_ok(s, "Send PASS");
}

/* Lower-cases an address (auth stores them so) into a new string. */
static char *
login_canonical(const char *user)
{
	char *copy = strdup(user);

	for (char *p = copy; p != NULL && *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return copy;
}

/* Opens the user's mail and fixes the maildrop (RFC 1939 4). */
static int
login_open_maildrop(struct pop3_session *s, const char *user, struct err *err)
{
	struct store_mailbox_status st;
	struct store_msg *msgs = NULL;
	size_t count = 0;

	/* With the user's quota, so moves to Trash/Archive respect it. */
	if (mailuser_open(s->svc, user, &s->mail, err) < 0)
		return -1;
	if (store_mailbox_status(s->mail, POP3_MAILBOX, &st, err) < 0 ||
	    store_mailbox_messages(s->mail, POP3_MAILBOX, &msgs, &count, err) <
	        0) {
		store_user_close(&s->mail);
		return -1;
	}
	if (pop3_maildrop_init(&s->md, msgs, count, st.uidvalidity) < 0) {
		store_user_close(&s->mail);
		return err_set(err, ERR_INTERNAL, "out of memory");
	}
	return 0;
}

void
pop3_login_unlock(struct pop3_session *s)
{
	if (s->login == NULL)
		return;
	if (s->svc->pop3_locks != NULL)
		pop3_locks_release(s->svc->pop3_locks, s->login);
	free(s->login);
	s->login = NULL;
}

/*
 * Reads the user's POP3 settings and takes the maildrop lock.  Returns 0,
 * or -1 after answering the client.
 */
static int
login_admit(struct pop3_session *s, const char *canon)
{
	struct auth_user_info info;
	struct err err;

	err_clear(&err);
	if (auth_user_info(s->svc->auth, canon, &info, &err) < 0) {
		pop3_session_fail(s, &err, "user settings");
		return -1;
	}
	if (!info.pop3) {
		conn_log(s->c, LOG_LVL_INFO, "login refused user=%s pop3=no",
		         canon);
		pop3_session_err(s, "[AUTH] POP3 is disabled for this account");
		return -1;
	}
	s->after_retrieve = info.pop3_after_retrieve;
	s->on_delete = info.pop3_on_delete;
	if ((s->login = strdup(canon)) == NULL) {
		pop3_session_close(s, "out of memory");
		return -1;
	}
	if (s->svc->pop3_locks == NULL)
		return 0;
	switch (pop3_locks_acquire(s->svc->pop3_locks, canon, time(NULL))) {
	case POP3_LOCK_OK:
		return 0;
	case POP3_LOCK_IN_USE:
		conn_log(s->c, LOG_LVL_INFO, "login refused user=%s in-use",
		         canon);
		/* RFC 2449 8.1.1: the credentials were fine, the lock not. */
		pop3_session_err(s, "[IN-USE] Maildrop already in use by "
		                    "another POP3 session");
		break;
	case POP3_LOCK_TOO_SOON:
		conn_log(s->c, LOG_LVL_INFO, "login refused user=%s too soon",
		         canon);
		/* RFC 2449 8.1.1: after the credentials, so the answer tells
		 * nothing about who exists. */
		pop3_session_err(s,
		                 "[LOGIN-DELAY] Logged in less than %llu "
		                 "seconds ago; try again later",
		                 (unsigned long long)s->cfg->pop3_login_delay);
		break;
	case POP3_LOCK_NOMEM:
		pop3_session_close(s, "out of memory");
		break;
	}
	free(s->login);
	s->login = NULL;
	return -1;
}

/* Enters TRANSACTION as user, whose credentials were checked. */
static void
login_enter(struct pop3_session *s, const char *user)
{
	struct err err;
	char *canon;
	size_t count;
	uint64_t size;

	err_clear(&err);
	canon = login_canonical(user);
	if (canon == NULL) {
		pop3_session_close(s, "out of memory");
		return;
	}
	if (login_admit(s, canon) < 0) {
		free(canon);
		return;
	}
	if (login_open_maildrop(s, canon, &err) < 0) {
		pop3_login_unlock(s);
		pop3_session_fail(s, &err, "open maildrop");
		free(canon);
		return;
	}
	conn_set_user(s->c, canon);
	pop3_session_set_state(s, POP3_TRANSACTION);
	pop3_maildrop_stat(&s->md, &count, &size);
	conn_log(s->c, LOG_LVL_INFO, "login messages=%zu", count);
	pop3_session_ok(s, "Logged in, %zu messages (%llu octets)", count,
	                (unsigned long long)size);
	free(canon);
}

/* Answers a failed login: bad credentials, throttled, or a failure. */
static void
login_refuse(struct pop3_session *s, const char *user, const struct err *err)
{
	if (err->kind == ERR_PERM) {
		conn_log(s->c, LOG_LVL_INFO, "login failed user=%s", user);
		/* RFC 3206 4 / RFC 5034 6: [AUTH] is a credentials problem. */
		pop3_session_err(s, "[AUTH] Authentication failed");
	} else if (err->kind == ERR_LIMIT) {
		conn_log(s->c, LOG_LVL_WARN, "login throttled user=%s: %s",
		         user, err->msg);
		/* RFC 3206 4: [SYS/TEMP], it will work again later. */
		pop3_session_err(s, "[SYS/TEMP] Too many failed logins, try "
		                    "again later");
	} else {
		pop3_session_fail(s, err, "auth");
	}
}

/* On the loop thread, after the worker checked the password. */
static void
login_checked(void *session, void *arg)
{
	struct pop3_session *s = session;
	struct sasl_login *l = arg;

	s->auth_busy = false;
	if (!s->closing && s->state == POP3_AUTHORIZATION) {
		if (l->rc == 0)
			login_enter(s, l->user);
		else
			login_refuse(s, l->user, &l->err);
	}
	sasl_login_free(&l);
}

/* Checks the credentials on a worker; login_checked() goes on. */
static void
login_finish(struct pop3_session *s, const char *user, const char *pass)
{
	struct sasl_login *l =
	    sasl_login_new(s->c, s->svc->auth, user, pass, NULL);

	if (l == NULL) {
		pop3_session_close(s, "out of memory");
		return;
	}
	s->auth_busy = true;
	sasl_login_start(s->c, s, l, login_checked);
}

void
pop3_login_pass(struct pop3_session *s, const struct pop3_cmdline *cmd)
{
	char *user = s->user;

	if (user == NULL) {
		pop3_session_err(s, "Send USER first");
		return;
	}
	/* RFC 1939 7: the password is the rest of the line, spaces and all. */
	if (memchr(cmd->rest.p, '\0', cmd->rest.len) != NULL) {
		pop3_session_err(s, "Invalid argument");
		return;
	}
	/* One try per USER, as RFC 1939 7 leaves the state at AUTHORIZATION. */
	s->user = NULL;
	/* rest is NUL-terminated: it runs to the end of the line. */
	login_finish(s, user, cmd->rest.p);
	free(user);
}

/* Decodes and checks an AUTH PLAIN response (RFC 4616 2). */
static void
login_plain(struct pop3_session *s, const char *b64, size_t len)
{
	struct buf msg;
	const char *authcid, *passwd;

	buf_init(&msg, LOGIN_SASL_MAX);
	if (sasl_base64_decode(b64, len, &msg) < 0 || msg.len == 0 ||
	    sasl_plain_parse(msg.data, msg.len, &authcid, &passwd) < 0) {
		pop3_session_err(s, "Invalid SASL PLAIN response");
	} else {
		login_finish(s, authcid, passwd);
	}
	if (msg.data != NULL)
		explicit_bzero(msg.data, msg.cap);
	buf_free(&msg);
}

void
pop3_login_sasl_free(struct pop3_session *s)
{
	sasl_scram_run_free(&s->scram);
}

/* One SCRAM-SHA-256 response; sasl_pending stays set if it goes on. */
static void
login_scram(struct pop3_session *s, const char *b64, size_t len)
{
	struct buf out;
	struct err err;
	enum sasl_run_result r;

	err_clear(&err);
	buf_init(&out, LOGIN_SASL_MAX);
	r = sasl_scram_run_step(s->scram, s->svc->auth, conn_remote(s->c), b64,
	                        len, &out, &err);
	if (r == SASL_RUN_CHALLENGE) {
		s->sasl_pending = true;
		conn_printf(s->c, "+ %s\r\n", buf_cstr(&out));
		buf_free(&out);
		return;
	}
	buf_free(&out);
	if (r == SASL_RUN_SUCCESS)
		login_enter(s, sasl_scram_run_user(s->scram));
	else if (r == SASL_RUN_MALFORMED)
		pop3_session_err(s, "Invalid SCRAM-SHA-256 message");
	else {
		if (r == SASL_RUN_FAILED)
			err_set(&err, ERR_PERM, "bad proof");
		else if (r == SASL_RUN_THROTTLED)
			err_set(&err, ERR_LIMIT, "too many failed logins");
		login_refuse(s, sasl_scram_run_user(s->scram), &err);
	}
	sasl_scram_run_free(&s->scram);
}

void
pop3_login_auth(struct pop3_session *s, const struct pop3_cmdline *cmd)
{
	bool scram;

	if (cmd->nargs == 0) {
		/* The mechanism list, as clients of the pre-RFC 5034 draft ask.
		 */
		pop3_session_ok(s, "Methods follow");
		conn_printf(s->c, "PLAIN\r\nSCRAM-SHA-256\r\n.\r\n");
		return;
	}
	scram = pop3_parse_arg_is(&cmd->args[0], "SCRAM-SHA-256");
	if (!scram && !pop3_parse_arg_is(&cmd->args[0], "PLAIN")) {
		pop3_session_err(s, "Unsupported authentication mechanism");
		return;
	}
	/* A SCRAM exchange abandoned by STLS must not answer for PLAIN. */
	sasl_scram_run_free(&s->scram);
	if (scram) {
		if ((s->scram = sasl_scram_run_new()) == NULL) {
			pop3_session_close(s, "out of memory");
			return;
		}
	}
	if (cmd->nargs == 2) {
		if (scram)
			login_scram(s, cmd->args[1].p, cmd->args[1].len);
		else
			login_plain(s, cmd->args[1].p, cmd->args[1].len);
		return;
	}
	/* RFC 5034 4: the first challenge is empty for both. */
	s->sasl_pending = true;
	conn_write(s->c, "+ \r\n", 4);
}

void
pop3_login_sasl_response(struct pop3_session *s, const char *line, size_t len)
{
	s->sasl_pending = false;
	if (len == 1 && line[0] == '*') {
		/* RFC 5034 4: the client cancelled. */
		sasl_scram_run_free(&s->scram);
		pop3_session_err(s, "Authentication cancelled");
		return;
	}
	if (s->scram != NULL)
		login_scram(s, line, len);
	else
		login_plain(s, line, len);
}
