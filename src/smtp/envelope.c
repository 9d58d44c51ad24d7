/*
 * The envelope commands of RFC 5321 4.1.1: EHLO, HELO, MAIL, RCPT, RSET,
 * NOOP, VRFY, HELP, QUIT, and STARTTLS (RFC 3207).
 */
#include "smtp/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "proto/mailuser.h"
#include "smtp/addr.h"
#include "util/buf.h"

/* Records the EHLO/HELO argument; EHLO implies RSET (RFC 5321 4.1.4). */
static bool
smtp_helo_set(struct smtp_session *s, const char *arg, size_t len, bool esmtp)
{
	char *h;

	if (!smtp_addr_helo_is_valid(arg, len)) {
		smtp_reply_error(s, "501 5.5.4 Invalid domain name");
		return false;
	}
	if ((h = strdup(arg)) == NULL) {
		smtp_reply(s, "451 4.3.0 Out of memory, try again later");
		return false;
	}
	free(s->helo);
	s->helo = h;
	s->esmtp = esmtp;
	smtp_txn_reset(s);
	smtp_session_set_state(s, SMTP_STATE_READY);
	return true;
}

void
smtp_cmd_ehlo(struct smtp_session *s, const char *arg, size_t len)
{
	struct buf b = BUF_INIT;
	char size[48];
	const char *caps[10];
	size_t n = 0;

	if (!smtp_helo_set(s, arg, len, true))
		return;
	snprintf(size, sizeof(size), "SIZE %llu",
	         (unsigned long long)s->cfg->max_message_size);
	caps[n++] = "PIPELINING";
	caps[n++] = size;
	caps[n++] = "8BITMIME";
	caps[n++] = "SMTPUTF8";
	caps[n++] = "ENHANCEDSTATUSCODES";
	caps[n++] = "DSN";      /* RFC 3461 */
	caps[n++] = "CHUNKING"; /* RFC 3030 (bdat.c) */
	if (!conn_is_tls(s->c))
		caps[n++] = "STARTTLS";
	if (smtp_session_auth_allowed(s))
		caps[n++] = "AUTH PLAIN LOGIN SCRAM-SHA-256";
	/* RFC 2034 3: no enhanced codes in the EHLO reply. */
	buf_printf(&b, "250-%s\r\n", s->cfg->hostname);
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "250%c%s\r\n", i + 1 == n ? ' ' : '-', caps[i]);
	conn_write(s->c, b.data, b.len);
	buf_free(&b);
}

void
smtp_cmd_helo(struct smtp_session *s, const char *arg, size_t len)
{
	if (smtp_helo_set(s, arg, len, false))
		smtp_reply(s, "250 %s", s->cfg->hostname);
}

/* The reply for a MAIL/RCPT argument that did not parse. */
static void
smtp_reply_parse(struct smtp_session *s, enum smtp_parse r, bool is_rcpt)
{
	/* RFC 3463 3.2: X.1.7 bad sender syntax, X.1.3 bad recipient. */
	const char *esc = is_rcpt ? "5.1.3" : "5.1.7";

	switch (r) {
	case SMTP_PARSE_TOO_LONG:
		smtp_reply_error(s, "501 %s Address too long", esc);
		break;
	case SMTP_PARSE_UNKNOWN:
		smtp_reply_error(s, "555 5.5.4 Unsupported parameter");
		break;
	case SMTP_PARSE_BAD_VALUE:
		smtp_reply_error(s, "501 5.5.4 Invalid parameter value");
		break;
	case SMTP_PARSE_NOMEM:
		smtp_reply(s, "451 4.3.0 Out of memory, try again later");
		break;
	case SMTP_PARSE_SYNTAX:
	case SMTP_PARSE_OK:
	default:
		smtp_reply_error(s, "501 %s Syntax: %s", esc,
		                 is_rcpt ? "RCPT TO:<address>"
		                         : "MAIL FROM:<address>");
		break;
	}
}

/* Submission wants TLS, then AUTH, before a transaction (RFC 6409 4.3). */
static bool
smtp_mail_allowed(struct smtp_session *s)
{
	if (smtp_session_needs_tls(s)) {
		smtp_reply_error(
		    s, "530 5.7.0 Must issue a STARTTLS command first");
		return false;
	}
	if (s->service != SVC_SMTP && s->user == NULL) {
		smtp_reply_error(s, "530 5.7.0 Authentication required");
		return false;
	}
	return true;
}

void
smtp_cmd_mail(struct smtp_session *s, const char *arg, size_t len)
{
	struct smtp_mail_args a;
	enum smtp_parse r;

	if (!smtp_mail_allowed(s))
		return;
	if ((r = smtp_addr_parse_mail(arg, len, &a)) != SMTP_PARSE_OK) {
		smtp_reply_parse(s, r, false);
		return;
	}
	if (a.addr_8bit && !a.smtputf8) {
		/* RFC 6531 3.5: a UTF-8 address needs the SMTPUTF8 parameter.
		 */
		smtp_reply_error(s, "553 5.6.7 Non-ASCII address requires "
		                    "SMTPUTF8");
	} else if (!smtp_sender_is_allowed(s, a.addr)) {
		/* RFC 3463 X.7.1: not authorized to send as that address. */
		smtp_reply_error(s,
		                 "553 5.7.1 <%s>: Sender address not owned by "
		                 "user %s",
		                 a.addr, s->user);
	} else if (a.has_size && a.size > s->cfg->max_message_size) {
		/* RFC 1870 6.1: refuse early what will not fit. */
		smtp_reply(s, "552 5.3.4 Message size exceeds fixed limit");
	} else {
		s->txn.from = a.addr;
		s->txn.smtputf8 = a.smtputf8;
		/* RFC 3461 4.3, 4.4: kept for the queue file and DSNs. */
		s->txn.out.envid = a.envid;
		s->txn.out.ret_hdrs = a.ret_hdrs;
		smtp_session_set_state(s, SMTP_STATE_MAIL);
		smtp_reply(s, "250 2.1.0 Ok");
		return;
	}
	smtp_mail_args_free(&a);
}

/* Adds user to the delivery list once, however many RCPTs name it. */
static int
smtp_txn_add_user(struct smtp_txn *t, char *user)
{
	char **users;

	for (size_t i = 0; i < t->nusers; i++) {
		if (strcmp(t->users[i], user) == 0) {
			free(user);
			return 0;
		}
	}
	users = realloc(t->users, (t->nusers + 1) * sizeof(*users));
	if (users == NULL) {
		free(user);
		return -1;
	}
	t->users = users;
	t->users[t->nusers++] = user;
	return 0;
}

static void
smtp_rcpt_refuse(struct smtp_session *s, const char *addr, const struct err *e)
{
	struct smtp_err_reply r;

	switch (e->kind) {
	case ERR_NOTFOUND:
		smtp_reply(s,
		           "550 5.1.1 <%s>: Recipient address rejected: "
		           "User unknown",
		           addr);
		return;
	case ERR_PERM:
		/* Not a local domain, and the MX never relays. */
		smtp_reply(s, "554 5.7.1 <%s>: Relay access denied", addr);
		return;
	default:
		r = smtp_reply_for_err(e->kind);
		conn_log(s->c, LOG_LVL_WARN, "rcpt lookup failed: %s: %s",
		         err_kind_name(e->kind), e->msg);
		smtp_reply(s, "%d %s %s", r.code, r.esc, r.text);
		return;
	}
}

/*
 * True if user is known to be at or over quota already (RFC 3463 X.2.2),
 * so RCPT can refuse now and the sending server tells the sender.  A
 * lookup failure answers false: the delivery after DATA decides then.
 */
static bool
smtp_rcpt_over_quota(struct smtp_session *s, const char *user)
{
	struct store_user *u = NULL;
	struct auth_user_info info;
	struct store_quota q;
	struct err e;
	bool over = false;

	err_clear(&e);
	/*
	 * Most users have no limit: then the store is not opened at all.
	 * Opening it (SQLite open and schema checks) on the loop thread was
	 * a quarter of the server's CPU per message in smtp_bench.sh.
	 */
	if (auth_user_info(s->svc->auth, user, &info, &e) == 0 &&
	    info.quota_bytes == 0 && info.quota_messages == 0)
		return false;
	if (mailuser_open(s->svc, user, &u, &e) < 0)
		return false;
	if (store_quota_get(u, &q, &e) == 0)
		over = (q.bytes_limit != 0 && q.bytes_used >= q.bytes_limit) ||
		       (q.messages_limit != 0 &&
		        q.messages_used >= q.messages_limit);
	store_user_close(&u);
	return over;
}

static void
smtp_free_users(char **users, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(users[i]);
	free(users);
}

/*
 * Accepts a local recipient: the users its address expands to (aliases,
 * catch-all) join the delivery list.  Takes addr and users.  A recipient
 * with NOTIFY=SUCCESS is remembered for the "delivered" DSN (dsn.c).
 */
static void
smtp_rcpt_local(struct smtp_session *s, char *addr, char **users, size_t n,
                const struct smtp_rcpt_args *a)
{
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		if (smtp_rcpt_over_quota(s, users[i])) {
			conn_log(s->c, LOG_LVL_INFO,
			         "rcpt refused: %s over quota", users[i]);
			smtp_reply(s, "552 5.2.2 <%s>: Mailbox full", addr);
			smtp_free_users(users, n);
			free(addr);
			return;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (rc == 0)
			rc = smtp_txn_add_user(&s->txn, users[i]);
		else
			free(users[i]);
	}
	free(users);
	if (rc == 0 && (a->notify & SMTP_NOTIFY_SUCCESS))
		rc = smtp_queue_msg_add_rcpt(&s->txn.dsn_local, addr, a->orcpt,
		                             a->notify);
	if (rc < 0) {
		smtp_reply(s, "451 4.3.0 Out of memory, try again later");
		free(addr);
		return;
	}
	if (s->txn.first_rcpt == NULL)
		s->txn.first_rcpt = addr;
	else
		free(addr);
	s->txn.nrcpts++;
	smtp_session_set_state(s, SMTP_STATE_RCPT);
	smtp_reply(s, "250 2.1.5 Ok");
}

/* Accepts a remote recipient of a submission for the outbound queue. */
static void
smtp_rcpt_remote(struct smtp_session *s, const char *addr,
                 const struct smtp_rcpt_args *a)
{
	struct smtp_queue_msg *out = &s->txn.out;

	for (size_t i = 0; i < out->nrcpts; i++) {
		if (strcmp(out->rcpts[i].addr, addr) == 0) {
			s->txn.nrcpts++;
			smtp_reply(s, "250 2.1.5 Ok");
			return;
		}
	}
	if (smtp_queue_msg_add_rcpt(out, addr, a->orcpt, a->notify) < 0) {
		smtp_reply(s, "451 4.3.0 Out of memory, try again later");
		return;
	}
	if (s->txn.first_rcpt == NULL)
		s->txn.first_rcpt = strdup(addr);
	s->txn.nrcpts++;
	smtp_session_set_state(s, SMTP_STATE_RCPT);
	smtp_reply(s, "250 2.1.5 Ok");
}

/* RFC 5321 4.5.1: "Postmaster" without a domain means ours. */
static char *
smtp_rcpt_full_address(struct smtp_session *s, char *addr)
{
	struct buf b = BUF_INIT;

	if (smtp_addr_domain(addr) != NULL)
		return addr;
	free(addr);
	if (buf_printf(&b, "postmaster@%s", s->cfg->domain) < 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

void
smtp_cmd_rcpt(struct smtp_session *s, const char *arg, size_t len)
{
	struct smtp_rcpt_args a;
	enum smtp_parse r;
	struct err e;
	char **users, *addr;
	size_t nusers;

	if ((r = smtp_addr_parse_rcpt(arg, len, &a)) != SMTP_PARSE_OK) {
		smtp_reply_parse(s, r, true);
		return;
	}
	if (a.addr_8bit && !s->txn.smtputf8) {
		smtp_reply_error(s, "553 5.6.7 Non-ASCII address requires "
		                    "SMTPUTF8");
		smtp_rcpt_args_free(&a);
		return;
	}
	/* RFC 5321 4.5.3.1.10: 452 for too many recipients. */
	if (s->txn.nrcpts >= s->cfg->max_recipients) {
		smtp_reply(s, "452 4.5.3 Too many recipients");
		smtp_rcpt_args_free(&a);
		return;
	}
	addr = smtp_rcpt_full_address(s, a.addr);
	a.addr = NULL; /* taken */
	if (addr == NULL) {
		smtp_reply(s, "451 4.3.0 Out of memory, try again later");
		smtp_rcpt_args_free(&a);
		return;
	}
	err_clear(&e);
	if (auth_resolve_rcpt_all(s->svc->auth, addr, &users, &nusers, &e) <
	    0) {
		/* An authenticated client may send anywhere: queue it. */
		if (e.kind == ERR_PERM && s->user != NULL)
			smtp_rcpt_remote(s, addr, &a);
		else
			smtp_rcpt_refuse(s, addr, &e);
		free(addr);
	} else {
		smtp_rcpt_local(s, addr, users, nusers, &a);
	}
	smtp_rcpt_args_free(&a);
}

void
smtp_cmd_rset(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	smtp_txn_reset(s);
	if (s->state != SMTP_STATE_GREETED)
		smtp_session_set_state(s, SMTP_STATE_READY);
	smtp_reply(s, "250 2.0.0 Ok");
}

void
smtp_cmd_noop(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	smtp_reply(s, "250 2.0.0 Ok");
}

/* RFC 5321 3.5.3: 252 says neither yes nor no (no address harvesting). */
void
smtp_cmd_vrfy(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	smtp_reply(s, "252 2.5.0 Cannot VRFY user");
}

void
smtp_cmd_help(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	smtp_reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP "
	              "VRFY HELP QUIT STARTTLS AUTH");
}

void
smtp_cmd_quit(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	smtp_reply(s, "221 2.0.0 Bye");
	smtp_session_close(s, "quit");
}

void
smtp_cmd_starttls(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	if (conn_is_tls(s->c)) {
		smtp_reply_error(s, "503 5.5.1 TLS already active");
		return;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	/*
	 * From here no input is read until tls_ready(); the network layer
	 * drops whatever the client pipelined after STARTTLS.
	 */
	smtp_session_set_state(s, SMTP_STATE_TLS);
	if (conn_starttls(s->c) < 0) {
		conn_log(s->c, LOG_LVL_ERROR,
		         "starttls failed: no TLS "
		         "available");
		smtp_session_close(s, "starttls failed");
	}
}
