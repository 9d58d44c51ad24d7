/*
 * cmd_auth: STARTTLS, LOGIN and AUTHENTICATE (RFC 9051 6.2).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth.h"
#include "imap/cmd.h"
#include "imap/resp.h"
#include "imap/sync.h"
#include "proto/mailuser.h"
#include "proto/sasl.h"

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

/* Verifies and opens the user's mail; answers the tag either way. */
static void
imap_login_finish(struct imap_session *s, const char *tag, const char *user,
                  const char *pass)
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
	if (auth_verify(s->svc->auth, name, pass, &err) < 0) {
		conn_log(s->c, LOG_LVL_INFO, "imap login failed user=%s", name);
		if (err.kind == ERR_PERM)
			imap_resp_tagged(s, tag, IMAP_NO,
			                 "AUTHENTICATIONFAILED",
			                 "Authentication failed");
		else
			imap_resp_err(s, tag, &err);
		free(name);
		return;
	}
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
	imap_login_finish(s, cx->tag, user, pass);
}

/* Decodes and checks one SASL PLAIN response (base64 text). */
static void
imap_auth_plain(struct imap_session *s, const char *tag, const char *b64,
                size_t len)
{
	struct buf msg = BUF_INIT;
	const char *user, *pass;

	buf_init(&msg, (size_t)s->cfg->max_line_length);
	if (sasl_base64_decode(b64, len, &msg) < 0 || msg.data == NULL ||
	    sasl_plain_parse(msg.data, msg.len, &user, &pass) < 0) {
		imap_resp_tagged(s, tag, IMAP_BAD, NULL,
		                 "Invalid SASL PLAIN response");
	} else {
		imap_login_finish(s, tag, user, pass);
	}
	if (msg.data != NULL)
		explicit_bzero(msg.data, msg.len);
	buf_free(&msg);
}

void
imap_cmd_authenticate(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	const struct imap_arg *ir = cx->args->next;

	if (cx->args->type != IMAP_ARG_ATOM) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "Invalid mechanism name");
		return;
	}
	if (!imap_arg_is_atom(cx->args, "PLAIN")) {
		imap_resp_tagged(s, cx->tag, IMAP_NO, "CANNOT",
		                 "Unsupported authentication mechanism");
		return;
	}
	if (imap_login_refused(s, cx->tag))
		return;
	if (ir != NULL) {
		/* RFC 4959 3: SASL-IR; "=" is an empty initial response. */
		if (ir->type != IMAP_ARG_ATOM) {
			imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
			                 "Invalid initial response");
			return;
		}
		imap_auth_plain(s, cx->tag, ir->str, ir->len);
		return;
	}
	s->auth_tag = strdup(cx->tag);
	if (s->auth_tag == NULL) {
		imap_resp_tagged(s, cx->tag, IMAP_NO, "SERVERBUG",
		                 "Out of memory");
		return;
	}
	conn_printf(s->c, "+ \r\n");
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
	else
		imap_auth_plain(s, tag, line, len);
	free(tag);
}
