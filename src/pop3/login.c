/*
 * pop3 login: the AUTHORIZATION state (RFC 1939 4, 7): STLS (RFC 2595 4),
 * UTF8 (RFC 6856 2), USER/PASS, AUTH PLAIN (RFC 5034, RFC 4616), the
 * user's POP3 settings, the maildrop lock (RFC 2449 8.1.1) and opening the
 * maildrop.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "pop3/lock.h"
#include "pop3/session.h"
#include "proto/mailuser.h"
#include "proto/sasl.h"
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
	switch (pop3_locks_acquire(s->svc->pop3_locks, canon)) {
	case POP3_LOCK_OK:
		return 0;
	case POP3_LOCK_IN_USE:
		conn_log(s->c, LOG_LVL_INFO, "login refused user=%s in-use",
		         canon);
		/* RFC 2449 8.1.1: the credentials were fine, the lock not. */
		pop3_session_err(s, "[IN-USE] Maildrop already in use by "
		                    "another POP3 session");
		break;
	case POP3_LOCK_NOMEM:
		pop3_session_close(s, "out of memory");
		break;
	}
	free(s->login);
	s->login = NULL;
	return -1;
}

/* Checks the credentials and, if they are good, enters TRANSACTION. */
static void
login_finish(struct pop3_session *s, const char *user, const char *pass)
{
	struct err err;
	char *canon;
	size_t count;
	uint64_t size;

	err_clear(&err);
	if (auth_verify(s->svc->auth, user, pass, &err) < 0) {
		if (err.kind != ERR_PERM) {
			pop3_session_fail(s, &err, "auth");
			return;
		}
		conn_log(s->c, LOG_LVL_INFO, "login failed user=%s", user);
		/* RFC 3206 4 / RFC 5034 6: [AUTH] is a credentials problem. */
		pop3_session_err(s, "[AUTH] Authentication failed");
		return;
	}
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
pop3_login_auth(struct pop3_session *s, const struct pop3_cmdline *cmd)
{
	if (cmd->nargs == 0) {
		/* The mechanism list, as clients of the pre-RFC 5034 draft ask.
		 */
		pop3_session_ok(s, "Methods follow");
		conn_write(s->c, "PLAIN\r\n.\r\n", 10);
		return;
	}
	if (!pop3_parse_arg_is(&cmd->args[0], "PLAIN")) {
		pop3_session_err(s, "Unsupported authentication mechanism");
		return;
	}
	if (cmd->nargs == 2) {
		login_plain(s, cmd->args[1].p, cmd->args[1].len);
		return;
	}
	/* RFC 5034 4: PLAIN's challenge is empty. */
	s->sasl_pending = true;
	conn_write(s->c, "+ \r\n", 4);
}

void
pop3_login_sasl_response(struct pop3_session *s, const char *line, size_t len)
{
	s->sasl_pending = false;
	if (len == 1 && line[0] == '*') {
		/* RFC 5034 4: the client cancelled. */
		pop3_session_err(s, "Authentication cancelled");
		return;
	}
	login_plain(s, line, len);
}
