/*
 * SMTP session lifecycle and command dispatch (RFC 5321).
 *
 * The network layer calls the hooks of smtp_proto; input is read here line
 * by line and dispatched through one table that says, per command, in which
 * states it may run and whether it takes an argument.  The state changes
 * only through smtp_session_set_state(), which logs every transition.
 */
#include "smtp/session.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp.h"

typedef void smtp_cmd_fn(struct smtp_session *s, const char *arg, size_t len);

enum smtp_cmd_flag {
	SMTP_CMD_ARG = 1 << 0,    /* an argument is required */
	SMTP_CMD_NO_ARG = 1 << 1, /* no argument is allowed */
};

struct smtp_cmd {
	const char *verb;
	smtp_cmd_fn *fn;
	unsigned states;     /* SMTP_ST() bits of the states it may run in */
	unsigned flags;      /* enum smtp_cmd_flag */
	const char *syntax;  /* for 501 replies */
	const char *bad_seq; /* 503 text when the state forbids it */
};

/* Every state in which a command line is read. */
#define ST_ANY                                                                 \
	(SMTP_ST(SMTP_STATE_GREETED) | SMTP_ST(SMTP_STATE_READY) |             \
	 SMTP_ST(SMTP_STATE_MAIL) | SMTP_ST(SMTP_STATE_RCPT) |                 \
	 SMTP_ST(SMTP_STATE_CHUNKS))
#define ST_TXN (SMTP_ST(SMTP_STATE_MAIL) | SMTP_ST(SMTP_STATE_RCPT))

static const struct smtp_cmd smtp_cmds[] = {
    {"EHLO", smtp_cmd_ehlo, ST_ANY, SMTP_CMD_ARG, "EHLO hostname", NULL},
    {"HELO", smtp_cmd_helo, ST_ANY, SMTP_CMD_ARG, "HELO hostname", NULL},
    {"MAIL", smtp_cmd_mail, SMTP_ST(SMTP_STATE_READY), SMTP_CMD_ARG,
     "MAIL FROM:<address>", "Nested MAIL command"},
    {"RCPT", smtp_cmd_rcpt, ST_TXN, SMTP_CMD_ARG, "RCPT TO:<address>",
     "Need MAIL command first"},
    {"DATA", smtp_cmd_data, SMTP_ST(SMTP_STATE_RCPT), SMTP_CMD_NO_ARG, "DATA",
     "Need RCPT command first"},
    /* Every state: bdat.c reads the octets even of a refused BDAT. */
    {"BDAT", smtp_cmd_bdat, ST_ANY, 0, "BDAT size [LAST]", NULL},
    {"RSET", smtp_cmd_rset, ST_ANY, SMTP_CMD_NO_ARG, "RSET", NULL},
    {"NOOP", smtp_cmd_noop, ST_ANY, 0, "NOOP", NULL},
    {"VRFY", smtp_cmd_vrfy, ST_ANY, SMTP_CMD_ARG, "VRFY address", NULL},
    {"HELP", smtp_cmd_help, ST_ANY, 0, "HELP", NULL},
    {"QUIT", smtp_cmd_quit, ST_ANY, SMTP_CMD_NO_ARG, "QUIT", NULL},
    {"STARTTLS", smtp_cmd_starttls,
     SMTP_ST(SMTP_STATE_GREETED) | SMTP_ST(SMTP_STATE_READY), SMTP_CMD_NO_ARG,
     "STARTTLS", "STARTTLS not allowed during a mail transaction"},
    /* RFC 4954 4: no AUTH during a mail transaction. */
    {"AUTH", smtp_cmd_auth, SMTP_ST(SMTP_STATE_READY), SMTP_CMD_ARG,
     "AUTH mechanism [initial-response]",
     "AUTH not allowed during a mail transaction"},
};

#define SMTP_NCMDS (sizeof(smtp_cmds) / sizeof(smtp_cmds[0]))

static const char *
smtp_state_name(enum smtp_state st)
{
	static const char *const names[] = {
	    [SMTP_STATE_GREETED] = "greeted", [SMTP_STATE_READY] = "ready",
	    [SMTP_STATE_MAIL] = "mail",       [SMTP_STATE_RCPT] = "rcpt",
	    [SMTP_STATE_DATA] = "data",       [SMTP_STATE_CHUNKS] = "chunks",
	    [SMTP_STATE_AUTH] = "auth",       [SMTP_STATE_TLS] = "tls",
	    [SMTP_STATE_CLOSED] = "closed",
	};

	return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st]
	                                                       : "?";
}

void
smtp_session_set_state(struct smtp_session *s, enum smtp_state st)
{
	if (s->state == st)
		return;
	conn_log(s->c, LOG_LVL_DEBUG, "state %s -> %s",
	         smtp_state_name(s->state), smtp_state_name(st));
	s->state = st;
}

void
smtp_session_close(struct smtp_session *s, const char *reason)
{
	if (s->state == SMTP_STATE_CLOSED)
		return;
	smtp_session_set_state(s, SMTP_STATE_CLOSED);
	conn_close(s->c, reason);
}

void
smtp_txn_reset(struct smtp_session *s)
{
	struct smtp_txn *t = &s->txn;

	free(t->from);
	for (size_t i = 0; i < t->nusers; i++)
		free(t->users[i]);
	free(t->users);
	free(t->first_rcpt);
	smtp_queue_msg_free(&t->out);
	smtp_queue_msg_free(&t->dsn_local);
	smtp_body_free(&t->body);
	memset(t, 0, sizeof(*t));
	smtp_body_init(&t->body, s->cfg->max_message_size);
}

static bool
smtp_session_plain_ok(const struct smtp_session *s)
{
	return conn_is_tls(s->c) ||
	       (conn_is_loopback(s->c) && s->cfg->plaintext_auth_on_loopback);
}

bool
smtp_session_auth_allowed(const struct smtp_session *s)
{
	if (s->service != SVC_SUBMISSION && s->service != SVC_SUBMISSIONS)
		return false;
	return smtp_session_plain_ok(s);
}

bool
smtp_session_needs_tls(const struct smtp_session *s)
{
	return s->service == SVC_SUBMISSION && !smtp_session_plain_ok(s);
}

static const struct smtp_cmd *
smtp_cmd_find(const char *verb, size_t len)
{
	for (size_t i = 0; i < SMTP_NCMDS; i++)
		if (strlen(smtp_cmds[i].verb) == len &&
		    strncasecmp(smtp_cmds[i].verb, verb, len) == 0)
			return &smtp_cmds[i];
	return NULL;
}

/* Command lines are text: a NUL, bare CR or other control byte is refused. */
static bool
smtp_line_has_ctl(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];

		if ((ch < 32 && ch != '\t') || ch == 127)
			return true;
	}
	return false;
}

static void
smtp_session_command(struct smtp_session *s, const char *line, size_t len)
{
	const char *sp = memchr(line, ' ', len);
	size_t vlen = sp != NULL ? (size_t)(sp - line) : len;
	const char *arg = sp != NULL ? sp + 1 : line + len;
	size_t alen = len - (size_t)(arg - line);
	const struct smtp_cmd *cmd;

	if (smtp_line_has_ctl(line, len)) {
		smtp_reply_error(s, "500 5.5.2 Invalid characters in command");
		return;
	}
	if ((cmd = smtp_cmd_find(line, vlen)) == NULL) {
		smtp_reply_error(s, "500 5.5.1 Unknown command");
		return;
	}
	/* Trailing spaces are a common client quirk, not an argument. */
	while (alen > 0 && arg[alen - 1] == ' ')
		alen--;
	if (((cmd->flags & SMTP_CMD_ARG) && alen == 0) ||
	    ((cmd->flags & SMTP_CMD_NO_ARG) && alen > 0)) {
		smtp_reply_error(s, "501 5.5.4 Syntax: %s", cmd->syntax);
		return;
	}
	if (!(cmd->states & SMTP_ST(s->state))) {
		if (s->state == SMTP_STATE_GREETED)
			smtp_reply_error(s, "503 5.5.1 Send EHLO/HELO first");
		else if (s->state == SMTP_STATE_CHUNKS)
			/* RFC 3030 2: DATA after BDAT is 503 too. */
			smtp_reply_error(s, "503 5.5.1 Only BDAT or RSET may "
			                    "follow BDAT");
		else
			smtp_reply_error(s, "503 5.5.1 %s", cmd->bad_seq);
		return;
	}
	/* The handlers parse by length; a copy makes the argument end there. */
	char *copy = strndup(arg, alen);

	if (copy == NULL) {
		smtp_reply(s, "451 4.3.0 Out of memory, try again later");
		return;
	}
	cmd->fn(s, copy, alen);
	free(copy);
	/*
	 * data.c starts a fresh body at DATA; the smtp_bare_lf mode is
	 * applied to it here, before the first line arrives.
	 */
	if (s->state == SMTP_STATE_DATA)
		s->txn.body.normalize = smtp_session_normalizes_bare_lf(s);
}

bool
smtp_session_normalizes_bare_lf(const struct smtp_session *s)
{
	return s->cfg->smtp_bare_lf != NULL &&
	       strcmp(s->cfg->smtp_bare_lf, "normalize") == 0;
}

static void
smtp_session_line(struct smtp_session *s, char *line, size_t len)
{
	switch (s->state) {
	case SMTP_STATE_DATA:
		smtp_data_line(s, line, len);
		break;
	case SMTP_STATE_AUTH:
		smtp_auth_line(s, line, len);
		break;
	default:
		smtp_session_command(s, line, len);
		break;
	}
}

/*
 * Reads every complete line there is: clients pipeline (RFC 2920).  Stops
 * when STARTTLS was accepted, so the bytes that follow it are discarded by
 * conn_starttls() instead of being run (CVE-2011-0411).
 */
static void
smtp_input(void *arg)
{
	struct smtp_session *s = arg;
	size_t max = s->cfg->max_line_length;

	if (max < SMTP_COMMAND_LINE_MIN)
		max = SMTP_COMMAND_LINE_MIN;
	/* While a password is checked on a worker, lines wait (auth.c). */
	while (s->state != SMTP_STATE_CLOSED && s->state != SMTP_STATE_TLS &&
	       s->auth_step != SMTP_AUTH_VERIFYING) {
		if (s->chunk.active) {
			/* BDAT octets come before the next line (bdat.c). */
			if (!smtp_bdat_input(s))
				return;
			continue;
		}
		/*
		 * DATA lines are taken in place, a piece of input at a time:
		 * a line each through conn_read_line() was a malloc(), two
		 * copies and a search of the buffer.
		 */
		if (s->state == SMTP_STATE_DATA && smtp_data_take(s, max))
			continue;
		enum conn_eol eol = s->state == SMTP_STATE_DATA
		                        ? CONN_EOL_CRLF_STRICT
		                        : CONN_EOL_LF_OR_CRLF;
		char *line;
		size_t len;
		enum conn_line r = conn_read_line(s->c, max, eol, &line, &len);

		if (r == CONN_LINE_MORE)
			return;
		if (r == CONN_LINE_TOO_LONG) {
			smtp_reply(s, "500 5.5.2 Line too long");
			smtp_session_close(s, "line too long");
			return;
		}
		smtp_session_line(s, line, len);
		/* AUTH lines carry secrets; wiping every line is cheap. */
		explicit_bzero(line, len);
		free(line);
	}
}

static void *
smtp_open(struct conn *c)
{
	struct smtp_session *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->c = c;
	s->cfg = conn_config(c);
	s->svc = conn_context(c);
	s->service = conn_service(c);
	s->state = SMTP_STATE_GREETED;
	smtp_body_init(&s->txn.body, s->cfg->max_message_size);
	conn_set_timeout(c, s->cfg->smtp_timeout);
	/* RFC 2034 3: no enhanced code in the greeting. */
	smtp_reply(s, "220 %s ESMTP Postamt", s->cfg->hostname);
	return s;
}

/*
 * RFC 3207 4.2: after the handshake the server forgets everything the
 * client told it before, including EHLO and, here, a plaintext AUTH.
 */
static void
smtp_tls_ready(void *arg)
{
	struct smtp_session *s = arg;

	smtp_txn_reset(s);
	smtp_auth_reset(s);
	free(s->helo);
	s->helo = NULL;
	s->esmtp = false;
	if (s->user != NULL) {
		free(s->user);
		s->user = NULL;
		conn_set_user(s->c, NULL);
	}
	smtp_session_set_state(s, SMTP_STATE_GREETED);
}

static void
smtp_timeout(void *arg)
{
	struct smtp_session *s = arg;

	if (s->state == SMTP_STATE_CLOSED)
		return;
	smtp_reply(s, "421 4.4.2 %s Idle timeout, closing", s->cfg->hostname);
	smtp_session_set_state(s, SMTP_STATE_CLOSED);
}

/*
 * In DATA the message is received to its end and answered first (data.c
 * checks shutting_down); a client that stalls there meets the network
 * layer's shutdown timeout.
 */
static void
smtp_shutdown(void *arg)
{
	struct smtp_session *s = arg;

	switch (s->state) {
	case SMTP_STATE_CLOSED:
		break;
	case SMTP_STATE_DATA:
		s->shutting_down = true;
		break;
	case SMTP_STATE_CHUNKS:
		/* Mid-chunk the octets are read first, then 421 (bdat.c). */
		if (s->chunk.active) {
			s->shutting_down = true;
			break;
		}
		smtp_reply(s, "421 4.3.2 Server shutting down");
		smtp_session_close(s, "server shutdown");
		break;
	case SMTP_STATE_TLS:
		/* Mid-handshake a plaintext reply would corrupt the stream. */
		smtp_session_close(s, "server shutdown");
		break;
	default:
		smtp_reply(s, "421 4.3.2 Server shutting down");
		smtp_session_close(s, "server shutdown");
		break;
	}
}

static void
smtp_close(void *arg)
{
	struct smtp_session *s = arg;

	smtp_txn_reset(s);
	smtp_body_free(&s->txn.body);
	smtp_auth_reset(s);
	free(s->helo);
	free(s->user);
	free(s);
}

const struct proto_ops smtp_proto = {
    .open = smtp_open,
    .input = smtp_input,
    .tls_ready = smtp_tls_ready,
    .timeout = smtp_timeout,
    .shutdown = smtp_shutdown,
    .close = smtp_close,
    .busy_reply = "421 4.7.0 Too many connections, try again later\r\n",
};
