/*
 * pop3 session: the lifecycle of a POP3 connection (RFC 1939, RFC 2449)
 * and the central dispatcher.  Every command is looked up in one const
 * table that says in which states it is valid, whether it needs TLS first
 * (RFC 2595 4) and how many arguments it takes; those checks happen here,
 * before any handler runs.
 */
#include "pop3/pop3.h"

#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/resp.h"
#include "pop3/session.h"
#include "proto/services.h"
#include "store/store.h"
#include "util/buf.h"

#define ST_AUTH (1u << POP3_AUTHORIZATION)
#define ST_TRANS (1u << POP3_TRANSACTION)

enum pop3_cmd_flag {
	CMD_NEEDS_TLS = 1 << 0, /* refused in plaintext (RFC 2595 4) */
	CMD_RAW_ARG = 1 << 1,   /* one argument: the rest of the line */
};

struct pop3_cmd {
	const char *verb;
	pop3_cmd_fn *fn;
	unsigned states; /* ST_* bits */
	unsigned flags;  /* enum pop3_cmd_flag bits */
	unsigned min_args, max_args;
};

static const struct pop3_cmd pop3_cmds[] = {
    {"CAPA", pop3_cmd_capa, ST_AUTH | ST_TRANS, 0, 0, 0},
    {"STLS", pop3_login_stls, ST_AUTH, 0, 0, 0},
    {"UTF8", pop3_login_utf8, ST_AUTH, 0, 0, 0},
    {"USER", pop3_login_user, ST_AUTH, CMD_NEEDS_TLS, 1, 1},
    {"PASS", pop3_login_pass, ST_AUTH, CMD_NEEDS_TLS | CMD_RAW_ARG, 1, 1},
    {"AUTH", pop3_login_auth, ST_AUTH, CMD_NEEDS_TLS, 0, 2},
    {"QUIT", pop3_cmd_quit, ST_AUTH | ST_TRANS, 0, 0, 0},
    {"STAT", pop3_cmd_stat, ST_TRANS, 0, 0, 0},
    {"LIST", pop3_cmd_list, ST_TRANS, 0, 0, 1},
    {"UIDL", pop3_cmd_uidl, ST_TRANS, 0, 0, 1},
    {"RETR", pop3_cmd_retr, ST_TRANS, 0, 1, 1},
    {"TOP", pop3_cmd_top, ST_TRANS, 0, 2, 2},
    {"DELE", pop3_cmd_dele, ST_TRANS, 0, 1, 1},
    {"RSET", pop3_cmd_rset, ST_TRANS, 0, 0, 0},
    {"NOOP", pop3_cmd_noop, ST_TRANS, 0, 0, 0},
};

#define POP3_NCMDS (sizeof(pop3_cmds) / sizeof(pop3_cmds[0]))

static const char *
session_state_name(enum pop3_state state)
{
	switch (state) {
	case POP3_AUTHORIZATION:
		return "authorization";
	case POP3_TRANSACTION:
		return "transaction";
	case POP3_UPDATE:
		return "update";
	}
	return "?";
}

void
pop3_session_set_state(struct pop3_session *s, enum pop3_state state)
{
	/* RFC 1939 3: the states only ever move forward, one at a time. */
	assert((s->state == POP3_AUTHORIZATION && state == POP3_TRANSACTION) ||
	       (s->state == POP3_TRANSACTION && state == POP3_UPDATE));
	conn_log(s->c, LOG_LVL_DEBUG, "state %s -> %s",
	         session_state_name(s->state), session_state_name(state));
	s->state = state;
}

void
pop3_session_close(struct pop3_session *s, const char *reason)
{
	if (s->closing)
		return;
	s->closing = true;
	conn_close(s->c, reason);
}

bool
pop3_session_auth_allowed(const struct pop3_session *s)
{
	return conn_is_tls(s->c) ||
	       (conn_is_loopback(s->c) && s->cfg->plaintext_auth_on_loopback);
}

/* Writes status, a space, the formatted text and CRLF as one line. */
static void
session_reply(struct pop3_session *s, const char *status, const char *fmt,
              va_list ap)
{
	struct buf line = BUF_INIT;

	if (buf_append_str(&line, status) < 0 ||
	    buf_vprintf(&line, fmt, ap) < 0 ||
	    buf_append(&line, "\r\n", 2) < 0) {
		buf_free(&line);
		pop3_session_close(s, "out of memory");
		return;
	}
	conn_write(s->c, line.data, line.len);
	buf_free(&line);
}

void
pop3_session_ok(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	s->errors = 0;
	va_start(ap, fmt);
	session_reply(s, "+OK ", fmt, ap);
	va_end(ap);
}

void
pop3_session_err(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	s->errors++;
	va_start(ap, fmt);
	session_reply(s, "-ERR ", fmt, ap);
	va_end(ap);
}

void
pop3_session_fail(struct pop3_session *s, const struct err *e, const char *what)
{
	const char *code = pop3_resp_code(e->kind);

	conn_log(s->c, LOG_LVL_WARN, "%s failed kind=%s error=\"%s\"", what,
	         err_kind_name(e->kind), e->msg);
	if (code != NULL)
		pop3_session_err(s, "[%s] %s", code, pop3_resp_text(e->kind));
	else
		pop3_session_err(s, "%s", pop3_resp_text(e->kind));
}

static const struct pop3_cmd *
session_cmd_find(const char *verb)
{
	for (size_t i = 0; i < POP3_NCMDS; i++)
		if (strcmp(pop3_cmds[i].verb, verb) == 0)
			return &pop3_cmds[i];
	return NULL;
}

/* Checks a parsed command against its table row, then runs it. */
static void
session_dispatch(struct pop3_session *s, const struct pop3_cmdline *cmd)
{
	const struct pop3_cmd *row = session_cmd_find(cmd->verb);

	if (row == NULL) {
		pop3_session_err(s, "Unknown command");
		return;
	}
	if ((row->states & (1u << s->state)) == 0) {
		pop3_session_err(s, "Command not valid in this state");
		return;
	}
	if ((row->flags & CMD_NEEDS_TLS) && !pop3_session_auth_allowed(s)) {
		pop3_session_err(s, "[AUTH] TLS is required; use STLS first");
		return;
	}
	if (row->flags & CMD_RAW_ARG) {
		if (cmd->rest.len == 0) {
			pop3_session_err(s, "Invalid argument");
			return;
		}
	} else if (!cmd->args_valid || cmd->nargs < row->min_args ||
	           cmd->nargs > row->max_args) {
		pop3_session_err(s, "Invalid argument");
		return;
	}
	row->fn(s, cmd);
}

/* Handles one complete input line. */
static void
session_line(struct pop3_session *s, const char *line, size_t len)
{
	struct pop3_cmdline cmd;

	if (s->sasl_pending) {
		/* RFC 5034 4: SASL responses may exceed the command limit. */
		pop3_login_sasl_response(s, line, len);
		return;
	}
	if (len + 2 > POP3_COMMAND_MAX) {
		/* RFC 2449 4; longer lines up to max_line_length are
		 * survivable. */
		pop3_session_err(s, "Command line too long");
		return;
	}
	if (pop3_parse_command(line, len, &cmd) != POP3_PARSE_OK) {
		pop3_session_err(s, "Unknown command");
		return;
	}
	session_dispatch(s, &cmd);
}

static void
pop3_session_input(void *arg)
{
	struct pop3_session *s = arg;

	/* While a RETR/TOP response waits for the client, commands wait. */
	/* Commands also wait while a login is checked (login.c). */
	while (!s->closing && !s->tls_pending && !s->send.active &&
	       !s->auth_busy) {
		char *line = NULL;
		size_t len = 0;
		enum conn_line r =
		    conn_read_line(s->c, s->cfg->max_line_length,
		                   CONN_EOL_LF_OR_CRLF, &line, &len);

		if (r == CONN_LINE_MORE)
			return;
		if (r == CONN_LINE_TOO_LONG) {
			pop3_session_err(s, "Line too long");
			pop3_session_close(s, "line too long");
			return;
		}
		session_line(s, line, len);
		/* The line may have held a password (PASS, AUTH). */
		explicit_bzero(line, len);
		free(line);
		if (s->errors >= POP3_MAX_ERRORS && !s->closing) {
			pop3_session_err(s, "Too many errors");
			pop3_session_close(s, "too many errors");
		}
	}
}

static void *
pop3_session_open(struct conn *c)
{
	struct pop3_session *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->c = c;
	s->cfg = conn_config(c);
	s->svc = conn_context(c);
	s->state = POP3_AUTHORIZATION;
	/* RFC 1939 3: the autologout timer must be at least 10 minutes. */
	conn_set_timeout(c, s->cfg->pop3_timeout);
	pop3_session_ok(s, "Postamt POP3 ready");
	return s;
}

static void
pop3_session_tls_ready(void *arg)
{
	struct pop3_session *s = arg;

	/* RFC 2595 4: forget what was said in plaintext; state stays. */
	s->tls_pending = false;
	s->sasl_pending = false;
	free(s->user);
	s->user = NULL;
	s->errors = 0;
}

static void
pop3_session_timeout(void *arg)
{
	struct pop3_session *s = arg;

	/* RFC 1939 3: an autologout does not enter UPDATE: nothing deleted. */
	pop3_session_err(s, "Idle timeout, closing");
	s->closing = true;
}

static void
pop3_session_shutdown(void *arg)
{
	struct pop3_session *s = arg;

	/* A response being sent is finished first (send.c closes then). */
	if (s->send.active) {
		s->stop_after_send = true;
		return;
	}
	pop3_session_err(s, "Server shutting down");
	pop3_session_close(s, "server shutdown");
}

static void
pop3_session_drained(void *arg)
{
	struct pop3_session *s = arg;

	if (s->send.active && !s->closing)
		pop3_send_pump(s);
}

static void
pop3_session_free(void *arg)
{
	struct pop3_session *s = arg;

	pop3_send_free(s);
	pop3_maildrop_free(&s->md);
	if (s->mail != NULL)
		store_user_close(&s->mail);
	/* A dropped session must not keep the maildrop locked. */
	pop3_login_unlock(s);
	pop3_login_sasl_free(s);
	free(s->user);
	free(s);
}

const struct proto_ops pop3_proto = {
    .open = pop3_session_open,
    .input = pop3_session_input,
    .tls_ready = pop3_session_tls_ready,
    .timeout = pop3_session_timeout,
    .shutdown = pop3_session_shutdown,
    .close = pop3_session_free,
    .drained = pop3_session_drained,
    .busy_reply = "-ERR [SYS/TEMP] Too many connections, try again later\r\n",
};
