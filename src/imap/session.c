/*
 * session: the IMAP session lifecycle (the proto_ops hooks), the input
 * loop that feeds the parser, and the central command dispatch.
 */
#include "imap/session.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/cmd.h"
#include "imap/imap.h"
#include "imap/mailbox.h"
#include "imap/resp.h"

#define ST(x) (1u << IMAP_STATE_##x)
#define ST_ANY (ST(NOT_AUTH) | ST(AUTH) | ST(SELECTED))
#define ST_AUTHED (ST(AUTH) | ST(SELECTED))

enum imap_cmd_flag {
	IMAP_CMD_F_UID = 1 << 0, /* may follow "UID" (RFC 9051 6.4.9) */
	/* No EXPUNGE while answering it without UID (RFC 9051 7.4.1). */
	IMAP_CMD_F_NO_EXPUNGE = 1 << 1,
};

struct imap_cmd_def {
	const char *name;
	imap_cmd_fn *fn;
	unsigned states;   /* ST() bits where the command is allowed */
	unsigned flags;    /* enum imap_cmd_flag */
	unsigned min_args; /* top-level arguments after the name */
	unsigned max_args;
};

/* RFC 9051 6: which command runs in which state. */
static const struct imap_cmd_def imap_cmds[] = {
    {"CAPABILITY", imap_cmd_capability, ST_ANY, 0, 0, 0},
    {"NOOP", imap_cmd_noop, ST_ANY, 0, 0, 0},
    {"LOGOUT", imap_cmd_logout, ST_ANY, 0, 0, 0},
    {"ID", imap_cmd_id, ST_ANY, 0, 1, 1},
    {"ENABLE", imap_cmd_enable, ST_AUTHED, 0, 1, IMAP_MAX_ARGS},
    {"STARTTLS", imap_cmd_starttls, ST(NOT_AUTH), 0, 0, 0},
    {"LOGIN", imap_cmd_login, ST(NOT_AUTH), 0, 2, 2},
    {"AUTHENTICATE", imap_cmd_authenticate, ST(NOT_AUTH), 0, 1, 2},
    {"SELECT", imap_cmd_select, ST_AUTHED, 0, 1, 2},
    {"EXAMINE", imap_cmd_select, ST_AUTHED, 0, 1, 2},
    {"LIST", imap_cmd_list, ST_AUTHED, 0, 2, 5},
    {"LSUB", imap_cmd_lsub, ST_AUTHED, 0, 2, 2},
    {"NAMESPACE", imap_cmd_namespace, ST_AUTHED, 0, 0, 0},
    {"STATUS", imap_cmd_status, ST_AUTHED, 0, 2, 2},
    {"CREATE", imap_cmd_create, ST_AUTHED, 0, 1, 2},
    {"DELETE", imap_cmd_delete, ST_AUTHED, 0, 1, 1},
    {"RENAME", imap_cmd_rename, ST_AUTHED, 0, 2, 2},
    {"SUBSCRIBE", imap_cmd_subscribe, ST_AUTHED, 0, 1, 1},
    {"UNSUBSCRIBE", imap_cmd_subscribe, ST_AUTHED, 0, 1, 1},
    {"APPEND", imap_cmd_append, ST_AUTHED, 0, 2, 5},
    {"IDLE", imap_cmd_idle, ST_AUTHED, 0, 0, 0},
    {"COMPRESS", imap_cmd_compress, ST_AUTHED, 0, 1, 1},
    {"GETQUOTA", imap_cmd_getquota, ST_AUTHED, 0, 1, 1},
    {"GETQUOTAROOT", imap_cmd_getquotaroot, ST_AUTHED, 0, 1, 1},
    {"SETQUOTA", imap_cmd_setquota, ST_AUTHED, 0, 2, 2},
    {"CHECK", imap_cmd_noop, ST(SELECTED), 0, 0, 0},
    {"CLOSE", imap_cmd_close, ST(SELECTED), 0, 0, 0},
    {"UNSELECT", imap_cmd_unselect, ST(SELECTED), 0, 0, 0},
    {"FETCH", imap_cmd_fetch, ST(SELECTED),
     IMAP_CMD_F_UID | IMAP_CMD_F_NO_EXPUNGE, 2, 3},
    {"STORE", imap_cmd_store, ST(SELECTED),
     IMAP_CMD_F_UID | IMAP_CMD_F_NO_EXPUNGE, 3, IMAP_MAX_ARGS},
    {"COPY", imap_cmd_copy, ST(SELECTED), IMAP_CMD_F_UID, 2, 2},
    {"MOVE", imap_cmd_copy, ST(SELECTED), IMAP_CMD_F_UID, 2, 2},
    {"EXPUNGE", imap_cmd_expunge, ST(SELECTED), IMAP_CMD_F_UID, 0, 1},
    {"SEARCH", imap_cmd_search, ST(SELECTED),
     IMAP_CMD_F_UID | IMAP_CMD_F_NO_EXPUNGE, 1, IMAP_MAX_ARGS},
    {"SORT", imap_cmd_sort, ST(SELECTED),
     IMAP_CMD_F_UID | IMAP_CMD_F_NO_EXPUNGE, 3, IMAP_MAX_ARGS},
    {"THREAD", imap_cmd_thread, ST(SELECTED),
     IMAP_CMD_F_UID | IMAP_CMD_F_NO_EXPUNGE, 3, IMAP_MAX_ARGS},
};

#define NCMDS (sizeof(imap_cmds) / sizeof(imap_cmds[0]))

static const char *
imap_state_name(enum imap_state st)
{
	static const char *const names[] = {
	    [IMAP_STATE_NOT_AUTH] = "not-authenticated",
	    [IMAP_STATE_AUTH] = "authenticated",
	    [IMAP_STATE_SELECTED] = "selected",
	    [IMAP_STATE_LOGOUT] = "logout",
	};

	return names[st];
}

void
imap_session_set_state(struct imap_session *s, enum imap_state to)
{
	conn_log(s->c, LOG_LVL_DEBUG, "imap state %s -> %s",
	         imap_state_name(s->state), imap_state_name(to));
	/* Leaving SELECTED (or re-selecting) drops the old mailbox's map. */
	if (s->state == IMAP_STATE_SELECTED)
		imap_mailbox_free(&s->box);
	s->state = to;
}

void
imap_session_close(struct imap_session *s, const char *reason)
{
	s->stop_input = true;
	conn_close(s->c, reason);
}

size_t
imap_args_count(const struct imap_arg *a)
{
	size_t n = 0;

	for (; a != NULL; a = a->next)
		n++;
	return n;
}

const char *
imap_arg_astring(const struct imap_arg *a)
{
	if (a == NULL || a->type == IMAP_ARG_LIST)
		return NULL;
	if (strlen(a->str) != a->len)
		return NULL;
	return a->str;
}

bool
imap_arg_is_atom(const struct imap_arg *a, const char *word)
{
	return a != NULL && a->type == IMAP_ARG_ATOM &&
	       strcasecmp(a->str, word) == 0;
}

static const struct imap_cmd_def *
imap_cmd_find(const char *name)
{
	for (size_t i = 0; i < NCMDS; i++)
		if (strcasecmp(imap_cmds[i].name, name) == 0)
			return &imap_cmds[i];
	return NULL;
}

/* Resolves "UID <command>" to the command and its arguments. */
static const struct imap_cmd_def *
imap_cmd_resolve(struct imap_cmd_ctx *cx)
{
	const struct imap_cmd_def *def;

	if (strcasecmp(cx->name, "UID") != 0)
		return imap_cmd_find(cx->name);
	if (cx->args == NULL || cx->args->type != IMAP_ARG_ATOM)
		return NULL;
	def = imap_cmd_find(cx->args->str);
	if (def == NULL || (def->flags & IMAP_CMD_F_UID) == 0)
		return NULL;
	cx->uid = true;
	cx->args = cx->args->next;
	return def;
}

/* Checks the table's rules centrally, then runs the handler. */
static void
imap_session_dispatch(struct imap_session *s)
{
	struct imap_cmd_ctx cx = {
	    .tag = imap_parser_tag(s->parser),
	    .name = imap_parser_name(s->parser),
	    .args = imap_parser_args(s->parser),
	};
	const struct imap_cmd_def *def = imap_cmd_resolve(&cx);
	size_t nargs;

	if (def == NULL) {
		imap_resp_tagged(s, cx.tag, IMAP_BAD, NULL, "Unknown command");
		return;
	}
	if ((def->states & (1u << s->state)) == 0) {
		imap_resp_tagged(s, cx.tag, IMAP_BAD, NULL,
		                 "Command not allowed now");
		return;
	}
	nargs = imap_args_count(cx.args);
	if (nargs < def->min_args) {
		imap_resp_tagged(s, cx.tag, IMAP_BAD, NULL,
		                 "Missing arguments");
		return;
	}
	if (nargs > def->max_args) {
		imap_resp_tagged(s, cx.tag, IMAP_BAD, NULL,
		                 "Too many arguments");
		return;
	}
	cx.name = def->name;
	/* RFC 9051 7.5.1: "UID FETCH" etc. are other commands and may. */
	s->no_expunge = (def->flags & IMAP_CMD_F_NO_EXPUNGE) != 0 && !cx.uid;
	def->fn(s, &cx);
	s->no_expunge = false;
}

/* True while the parser is inside an APPEND command. */
static bool
imap_session_is_append(const struct imap_session *s)
{
	const char *name = imap_parser_name(s->parser);

	return s->state != IMAP_STATE_NOT_AUTH && name != NULL &&
	       strcasecmp(name, "APPEND") == 0;
}

/* Answers a command the parser rejected; the line is already consumed. */
static void
imap_session_parse_error(struct imap_session *s, const char *line, size_t len)
{
	const char *tag = imap_parser_tag(s->parser);
	uint64_t size;
	bool nonsync = false;

	switch (imap_parser_error(s->parser)) {
	case IMAP_PARSE_ERR_LITERAL_TOO_BIG:
		imap_parser_take_literal(s->parser, &size, &nonsync);
		/* RFC 7889 / RFC 4469 4: a message over APPENDLIMIT is a NO. */
		if (imap_session_is_append(s))
			imap_resp_tagged(s, tag, IMAP_NO, "TOOBIG",
			                 "Message larger than APPENDLIMIT");
		else
			imap_resp_tagged(s, tag, IMAP_BAD, "TOOBIG",
			                 "Literal too big");
		break;
	case IMAP_PARSE_ERR_TOO_LONG:
		imap_resp_tagged(s, tag, IMAP_BAD, "TOOBIG",
		                 "Command too long");
		break;
	case IMAP_PARSE_ERR_TOO_DEEP:
		imap_resp_tagged(s, tag, IMAP_BAD, "LIMIT",
		                 "Lists nested too deeply");
		break;
	case IMAP_PARSE_ERR_TOO_MANY:
		imap_resp_tagged(s, tag, IMAP_BAD, "LIMIT",
		                 "Too many arguments");
		break;
	default:
		imap_resp_tagged(s, tag, IMAP_BAD, NULL, "%s",
		                 tag != NULL &&
		                         imap_parser_name(s->parser) == NULL
		                     ? "Missing command"
		                     : "Syntax error");
		break;
	}
	/*
	 * A client sending a non-synchronizing literal (RFC 7888) does not
	 * wait for us: its bytes would be read as commands.  Give up.
	 */
	if (nonsync ||
	    (len >= 2 && line[len - 1] == '}' && line[len - 2] == '+')) {
		imap_resp_untagged(s, "BYE Cannot skip the literal");
		imap_session_close(s, "literal after error");
	}
	imap_parser_reset(s->parser);
}

/* Handles what the parser said about the bytes just fed. */
static void
imap_session_parsed(struct imap_session *s, enum imap_parse_result r,
                    const char *line, size_t len)
{
	uint64_t size;
	bool nonsync;

	if (r == PARSE_ERROR) {
		imap_session_parse_error(s, line, len);
	} else if (r == PARSE_DONE) {
		imap_session_dispatch(s);
		imap_parser_reset(s->parser);
	} else if (imap_parser_take_literal(s->parser, &size, &nonsync) &&
	           !nonsync) {
		/*
		 * RFC 9051 4.3: the client waits for this to send it, so an
		 * APPEND that cannot fit is refused before its bytes come.
		 */
		if (imap_session_is_append(s) &&
		    imap_append_precheck(s, imap_parser_tag(s->parser), size))
			imap_parser_reset(s->parser);
		else
			conn_printf(s->c, "+ Ready for literal data\r\n");
	}
	if (s->bads >= IMAP_MAX_BADS && !s->stop_input) {
		imap_resp_untagged(s, "BYE Too many errors");
		imap_session_close(s, "too many errors");
	}
}

/* Moves waiting literal bytes into the parser.  False: wait for more. */
static bool
imap_session_literal(struct imap_session *s)
{
	char chunk[4096];
	uint64_t left = imap_parser_literal_remaining(s->parser);
	size_t n = conn_input_len(s->c), used;

	if (n == 0)
		return false;
	if (n > sizeof(chunk))
		n = sizeof(chunk);
	if ((uint64_t)n > left)
		n = (size_t)left;
	n = conn_read(s->c, chunk, n);
	imap_session_parsed(s, imap_parser_feed(s->parser, chunk, n, &used), "",
	                    0);
	return true;
}

/* Feeds one line; returns false if the session must stop reading. */
static void
imap_session_line(struct imap_session *s, char *line, size_t len)
{
	enum imap_parse_result r;
	size_t used;

	if (s->auth_tag != NULL) {
		imap_cmd_authenticate_continue(s, line, len);
		return;
	}
	if (s->idle_tag != NULL) {
		imap_cmd_idle_done(s, line, len);
		return;
	}
	r = imap_parser_feed(s->parser, line, len, &used);
	if (r == PARSE_MORE)
		r = imap_parser_feed(s->parser, "\r\n", 2, &used);
	imap_session_parsed(s, r, line, len);
}

static void
imap_session_input(void *session)
{
	struct imap_session *s = session;
	size_t max = (size_t)s->cfg->max_line_length;

	while (!s->stop_input && s->state != IMAP_STATE_LOGOUT) {
		enum conn_line lr;
		char *line;
		size_t len;

		if (imap_parser_literal_remaining(s->parser) > 0) {
			if (!imap_session_literal(s))
				return;
			continue;
		}
		lr =
		    conn_read_line(s->c, max, CONN_EOL_LF_OR_CRLF, &line, &len);
		if (lr == CONN_LINE_MORE)
			return;
		if (lr == CONN_LINE_TOO_LONG) {
			imap_resp_untagged(s, "BAD [TOOBIG] Line too long");
			imap_session_close(s, "line too long");
			return;
		}
		imap_session_line(s, line, len);
		explicit_bzero(line, len); /* may hold a password */
		free(line);
	}
}

static void *
imap_session_open(struct conn *c)
{
	struct imap_session *s = calloc(1, sizeof(*s));
	struct imap_parser_limits lim;
	struct buf out = BUF_INIT;

	if (s == NULL)
		return NULL;
	s->c = c;
	s->cfg = conn_config(c);
	s->svc = conn_context(c);
	s->state = IMAP_STATE_NOT_AUTH;
	lim.max_line = (size_t)s->cfg->max_line_length + 2; /* + CRLF */
	lim.max_literal = s->cfg->max_message_size;
	lim.max_depth = IMAP_MAX_LIST_DEPTH;
	lim.max_args = IMAP_MAX_ARGS;
	s->parser = imap_parser_new(&lim);
	if (s->parser == NULL) {
		free(s);
		return NULL;
	}
	conn_set_timeout(c, s->cfg->imap_timeout);
	/* RFC 9051 7.1.1: the greeting may carry the capabilities. */
	buf_append_str(&out, "* OK [CAPABILITY ");
	imap_capability_append(s, &out);
	buf_append_str(&out, "] Postamt ready\r\n");
	imap_resp_flush(s, &out);
	buf_free(&out);
	return s;
}

static void
imap_session_tls_ready(void *session)
{
	struct imap_session *s = session;

	/*
	 * RFC 9051 6.2.1: forget what was learnt before TLS; the client must
	 * ask for CAPABILITY again.  Bytes sent after STARTTLS were dropped.
	 */
	imap_parser_reset(s->parser);
	s->stop_input = false;
	s->bads = 0;
}

static void
imap_session_timeout(void *session)
{
	struct imap_session *s = session;

	imap_resp_untagged(s, "BYE Autologout; idle for too long");
	s->stop_input = true;
}

static void
imap_session_shutdown(void *session)
{
	struct imap_session *s = session;

	imap_resp_untagged(s, "BYE Server shutting down");
	imap_session_close(s, "shutdown");
}

/* The client read enough of a large FETCH response: write more. */
static void
imap_session_drained(void *session)
{
	struct imap_session *s = session;

	if (s->fetch_job != NULL)
		imap_fetch_resume(s);
}

static void
imap_session_free(void *session)
{
	struct imap_session *s = session;

	imap_fetch_job_free(&s->fetch_job);
	if (s->state == IMAP_STATE_SELECTED)
		imap_mailbox_free(&s->box);
	if (s->user != NULL)
		store_user_close(&s->user);
	imap_parser_free(&s->parser);
	free(s->username);
	imap_sasl_free(&s->sasl);
	free(s->auth_tag);
	free(s->idle_tag);
	free(s->box_names[0]);
	free(s->box_names[1]);
	free(s);
}

const struct proto_ops imap_proto = {
    .open = imap_session_open,
    .input = imap_session_input,
    .tls_ready = imap_session_tls_ready,
    .timeout = imap_session_timeout,
    .shutdown = imap_session_shutdown,
    .close = imap_session_free,
    .drained = imap_session_drained,
    .busy_reply =
        "* BYE [UNAVAILABLE] Too many connections, try again later\r\n",
};
