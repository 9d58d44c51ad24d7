/*
 * pop3 commands: CAPA (RFC 2449 5), QUIT and the TRANSACTION state
 * commands of RFC 1939 5-7 (STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP).
 * Message numbers refer to the maildrop fixed at login (pop3/maildrop.h).
 * QUIT hands the marks to update.c.
 */
#include <stdlib.h>

#include "pop3/dotstuff.h"
#include "pop3/session.h"
#include "store/store.h"
#include "util/buf.h"

void
pop3_cmd_capa(struct pop3_session *s, const struct pop3_cmdline *cmd)
{
	bool authorization = s->state == POP3_AUTHORIZATION;

	(void)cmd;
	pop3_session_ok(s, "Capability list follows");
	/*
	 * UTF8 without USER: user names are ASCII addresses and passwords
	 * get no SASLprep (RFC 6856 2.2).  LOGIN-DELAY is one value for
	 * every user, so no "USER" suffix (RFC 2449 6.5); it is enforced at
	 * login (lock.c).
	 */
	conn_printf(s->c,
	            "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
	            "PIPELINING\r\nEXPIRE NEVER\r\nUTF8\r\n"
	            "LOGIN-DELAY %llu\r\nIMPLEMENTATION Postamt\r\n",
	            (unsigned long long)s->cfg->pop3_login_delay);
	/* Like IMAP's LOGINDISABLED: do not offer what would be refused. */
	if (authorization && pop3_session_auth_allowed(s))
		conn_printf(s->c, "USER\r\nSASL PLAIN SCRAM-SHA-256\r\n");
	/* RFC 2595 4: STLS only in AUTHORIZATION and only once. */
	if (authorization && !conn_is_tls(s->c))
		conn_printf(s->c, "STLS\r\n");
	conn_printf(s->c, ".\r\n");
}

void
pop3_cmd_quit(struct pop3_session *s, const struct pop3_cmdline *cmd)
{
	const char *step;
	struct err err;
	size_t n;
	int rc;

	(void)cmd;
	if (s->state == POP3_AUTHORIZATION) {
		pop3_session_ok(s, "Bye");
		pop3_session_close(s, "quit");
		return;
	}
	/* RFC 1939 6: only QUIT from TRANSACTION applies the marks. */
	pop3_session_set_state(s, POP3_UPDATE);
	err_clear(&err);
	rc = pop3_update_apply(s, &n, &step, &err);
	/* RFC 1939 6: the lock goes before the reply, so the client may
	 * log in again at once. */
	pop3_login_unlock(s);
	if (rc < 0) {
		conn_log(s->c, LOG_LVL_WARN,
		         "update failed step=\"%s\" kind=%s error=\"%s\"", step,
		         err_kind_name(err.kind), err.msg);
		/* RFC 1939 6 names this reply; RFC 3206 adds the code. */
		pop3_session_err(s, "[SYS/TEMP] Could not %s; try again later",
		                 step);
	} else if (s->on_delete == AUTH_POP3_TRASH) {
		conn_log(s->c, LOG_LVL_INFO, "logout trashed=%zu", n);
		pop3_session_ok(s, "Bye, %zu messages moved to Trash", n);
	} else {
		conn_log(s->c, LOG_LVL_INFO, "logout deleted=%zu", n);
		pop3_session_ok(s, "Bye, %zu messages deleted", n);
	}
	pop3_session_close(s, "quit");
}

void
pop3_cmd_stat(struct pop3_session *s, const struct pop3_cmdline *cmd)
{
	size_t count;
	uint64_t size;

	(void)cmd;
	pop3_maildrop_stat(&s->md, &count, &size);
	pop3_session_ok(s, "%zu %llu", count, (unsigned long long)size);
}

/*
 * Looks up the message number in arg, answering the client when there is
 * none.  Returns the message, or NULL after an -ERR reply.
 */
static const struct store_msg *
cmd_msg(struct pop3_session *s, const struct pop3_arg *arg, uint32_t *n_r)
{
	const struct store_msg *msg = NULL;

	if (!pop3_parse_number(arg, n_r)) {
		pop3_session_err(s, "Invalid argument");
		return NULL;
	}
	switch (pop3_maildrop_get(&s->md, *n_r, &msg)) {
	case POP3_MSG_OK:
		return msg;
	case POP3_MSG_DELETED:
		pop3_session_err(s, "Message %u already deleted", *n_r);
		return NULL;
	case POP3_MSG_NONE:
		break;
	}
	pop3_session_err(s, "No such message");
	return NULL;
}

/* LIST and UIDL: one line for message n, as "n value". */
static int
cmd_listing_line(struct pop3_session *s, struct buf *out, bool uidl, uint32_t n,
                 const struct store_msg *msg)
{
	/* RFC 1939 7: a unique-id stays the same across sessions. */
	if (uidl)
		return buf_printf(out, "%u %u.%u", n, s->md.uidvalidity,
		                  msg->uid);
	return buf_printf(out, "%u %llu", n, (unsigned long long)msg->size);
}

static void
cmd_listing(struct pop3_session *s, const struct pop3_cmdline *cmd, bool uidl)
{
	struct buf out = BUF_INIT;
	const struct store_msg *msg;
	uint32_t n;
	int rc = 0;

	if (cmd->nargs == 1) {
		if ((msg = cmd_msg(s, &cmd->args[0], &n)) == NULL)
			return;
		cmd_listing_line(s, &out, uidl, n, msg);
		pop3_session_ok(s, "%s", buf_cstr(&out));
		buf_free(&out);
		return;
	}
	for (size_t i = 0; i < s->md.count && rc == 0; i++) {
		if (pop3_maildrop_get(&s->md, (uint32_t)(i + 1), &msg) !=
		    POP3_MSG_OK)
			continue;
		rc = cmd_listing_line(s, &out, uidl, (uint32_t)(i + 1), msg);
		if (rc == 0)
			rc = buf_append(&out, "\r\n", 2);
	}
	if (rc < 0 || buf_append(&out, ".\r\n", 3) < 0) {
		buf_free(&out);
		pop3_session_close(s, "out of memory");
		return;
	}
	pop3_session_ok(s, uidl ? "Unique-ID listing follows"
	                        : "Scan listing follows");
	conn_write(s->c, out.data, out.len);
	buf_free(&out);
}

void
pop3_cmd_list(struct pop3_session *s, const struct pop3_cmdline *cmd)
{
	cmd_listing(s, cmd, false);
}

void
pop3_cmd_uidl(struct pop3_session *s, const struct pop3_cmdline *cmd)
{
	cmd_listing(s, cmd, true);
}

void
pop3_cmd_retr(struct pop3_session *s, const struct pop3_cmdline *cmd)
{
	const struct store_msg *msg;
	uint32_t n;

	if ((msg = cmd_msg(s, &cmd->args[0], &n)) == NULL)
		return;
	pop3_send_start(s, n, msg, POP3_DOTSTUFF_ALL);
}

void
pop3_cmd_top(struct pop3_session *s, const struct pop3_cmdline *cmd)
{
	const struct store_msg *msg;
	uint32_t n, lines;

	if ((msg = cmd_msg(s, &cmd->args[0], &n)) == NULL)
		return;
	if (!pop3_parse_number(&cmd->args[1], &lines)) {
		pop3_session_err(s, "Invalid argument");
		return;
	}
	pop3_send_start(s, n, msg, lines);
}

void
pop3_cmd_dele(struct pop3_session *s, const struct pop3_cmdline *cmd)
{
	uint32_t n;

	if (cmd_msg(s, &cmd->args[0], &n) == NULL)
		return;
	pop3_maildrop_delete(&s->md, n);
	pop3_session_ok(s, "Message %u deleted", n);
}

void
pop3_cmd_rset(struct pop3_session *s, const struct pop3_cmdline *cmd)
{
	size_t count;
	uint64_t size;

	(void)cmd;
	pop3_maildrop_reset(&s->md);
	pop3_maildrop_stat(&s->md, &count, &size);
	pop3_session_ok(s, "Maildrop has %zu messages (%llu octets)", count,
	                (unsigned long long)size);
}

void
pop3_cmd_noop(struct pop3_session *s, const struct pop3_cmdline *cmd)
{
	(void)cmd;
	pop3_session_ok(s, "Noop");
}
