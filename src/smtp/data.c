/*
 * DATA: receiving the message (RFC 5321 4.1.1.4) and delivering it to the
 * local recipients' INBOX; BDAT (bdat.c) shares the delivery path:
 * smtp_data_begin(), then the body filled by lines or chunks, then
 * smtp_data_complete().
 *
 * Lines are read CRLF-strict (session.c) and checked by body.c; the trace
 * headers of RFC 5321 4.4 are written into the buffer first, so the message
 * is stored exactly as it will be read, without a second copy.
 */
#include "smtp/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>
#include <time.h>

#include "auth/auth.h"
#include "proto/mailuser.h"
#include "store/store.h"
#include "util/buf.h"

/* A queue id of 16 hex digits, unique enough to find a message in logs. */
static void
smtp_data_new_id(struct smtp_session *s)
{
	unsigned char rnd[8];
	uint64_t v = 0;

	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) == (ssize_t)sizeof(rnd))
		for (size_t i = 0; i < sizeof(rnd); i++)
			v = v << 8 | rnd[i];
	else
		v = conn_id(s->c) << 32 ^ (uint64_t)time(NULL);
	snprintf(s->txn.id, sizeof(s->txn.id), "%016llx",
	         (unsigned long long)v);
}

/*
 * The "with" value of the Received: header: RFC 3848 (ESMTP, ESMTPS,
 * ESMTPA, ESMTPSA) and RFC 6531 3.7.3 (UTF8SMTP...).
 */
static const char *
smtp_data_protocol(const struct smtp_session *s)
{
	static const char *const names[2][4] = {
	    {"ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA"},
	    {"UTF8SMTP", "UTF8SMTPS", "UTF8SMTPA", "UTF8SMTPSA"},
	};

	if (!s->esmtp)
		return "SMTP";
	return names[s->txn.smtputf8]
	            [(conn_is_tls(s->c) ? 1 : 0) + (s->user != NULL ? 2 : 0)];
}

/* Writes Return-Path: (RFC 5321 4.4) and Received: into the message. */
static int
smtp_data_trace(struct smtp_session *s, struct buf *b)
{
	char date[64];
	struct tm tm;
	time_t now = time(NULL);
	const char *remote = conn_remote(s->c);
	/* RFC 5321 4.1.3: the TCP-info is an address literal. */
	bool ipv6 = strchr(remote, ':') != NULL;

	/* RFC 5322 3.3 date-time, in UTC so it never depends on the host. */
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm) ==
	        0)
		return -1;
	if (buf_printf(b, "Return-Path: <%s>\r\n", s->txn.from) < 0)
		return -1;
	/* Only final delivery adds Return-Path; the queue leaves it out. */
	s->txn.return_path_len = b->len;
	if (buf_printf(b,
	               "Received: from %s ([%s%s])\r\n\tby %s (Postamt) "
	               "with %s id %s",
	               s->helo, ipv6 ? "IPv6:" : "", remote, s->cfg->hostname,
	               smtp_data_protocol(s), s->txn.id) < 0)
		return -1;
	/* Name the recipient only when there is one (privacy of Bcc). */
	if (s->txn.nrcpts == 1)
		return buf_printf(b, "\r\n\tfor <%s>; %s\r\n",
		                  s->txn.first_rcpt, date);
	return buf_printf(b, ";\r\n\t%s\r\n", date);
}

int
smtp_data_begin(struct smtp_session *s)
{
	smtp_data_new_id(s);
	smtp_body_free(&s->txn.body);
	smtp_body_init(&s->txn.body, s->cfg->max_message_size);
	if (smtp_data_trace(s, &s->txn.body.msg) < 0) {
		smtp_body_free(&s->txn.body);
		return -1;
	}
	return 0;
}

void
smtp_cmd_data(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	/* RFC 3030 2: no DATA in a transaction that used BDAT. */
	if (s->txn.bdat) {
		smtp_reply_error(s, "503 5.5.1 DATA not allowed after BDAT");
		return;
	}
	if (smtp_data_begin(s) < 0) {
		smtp_reply(s, "451 4.3.0 Out of memory, try again later");
		return;
	}
	smtp_session_set_state(s, SMTP_STATE_DATA);
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/*
 * A finished DATA delivering on a worker thread (conn_run_blocking()): the
 * fsyncs of the blobs, the index commits and the queue file do not stall
 * the event loop, and deliveries of several sessions share their fsyncs
 * (the store's group commit).  While it runs the session reads no input
 * and the loop thread leaves s->txn alone (the timeout and shutdown hooks
 * only change the state), so the worker reads s->txn, s->cfg, s->svc and
 * s->user but never the connection; everything for the log and the reply
 * waits in the job for done().
 */
struct data_job {
	struct smtp_session *s;
	size_t delivered;  /* local users that have the message */
	bool local_failed; /* the delivery to users[failed_at] failed */
	size_t failed_at;
	size_t bounced;    /* users refused for good, told by a DSN */
	bool queue_failed; /* writing the outbound queue file failed */
	struct err err;    /* of the failure */
	bool sent_failed;  /* save_sent failed (logged only) */
	struct err sent_err;
};

/* Stores the message in one user's INBOX; durable when it returns 0. */
static int
smtp_data_deliver_one(struct smtp_session *s, const char *user, struct err *e)
{
	struct store_user *u = NULL;
	const struct buf *msg = &s->txn.body.msg;
	uint32_t uid;
	int rc;

	/* With the user's quota (552 5.2.2 when it is full). */
	if (mailuser_open(s->svc, user, &u, e) < 0)
		return -1;
	rc = store_deliver(u, "INBOX", msg->data, msg->len, 0, &uid, e);
	store_user_close(&u);
	return rc;
}

/*
 * Writes the message for the remote recipients into the outbound queue;
 * durable when it returns 0 (queue_file.c), so 250 may follow.
 */
static int
smtp_data_enqueue(struct smtp_session *s, struct err *e)
{
	struct smtp_txn *t = &s->txn;
	struct smtp_queue_msg *m = &t->out;
	const struct buf *msg = &t->body.msg;
	struct buf dir = BUF_INIT;
	int rc = -1;

	if (m->nrcpts == 0)
		return 0;
	memcpy(m->id, t->id, sizeof(m->id));
	m->created = m->next_attempt = (int64_t)time(NULL);
	free(m->from);
	if ((m->from = strdup(t->from)) == NULL)
		return err_set(e, ERR_TEMP, "out of memory");
	/* A view of the message without its Return-Path: line. */
	m->body.data = msg->data + t->return_path_len;
	m->body.len = msg->len - t->return_path_len;
	if (smtp_queue_dir(s->cfg->data_dir, &dir, e) == 0)
		rc = smtp_queue_write(buf_cstr(&dir), m, e);
	m->body = (struct buf)BUF_INIT;
	buf_free(&dir);
	return rc;
}

/*
 * The user setting save_sent: a \Seen copy in Sent, so clients that do not
 * APPEND still see it on every device.  A failure here does not fail the
 * submission: the mail is already delivered or queued.
 */
static int
smtp_data_save_sent(struct smtp_session *s, struct err *e)
{
	const struct buf *msg = &s->txn.body.msg;
	struct auth_user_info info;
	struct store_user *u = NULL;
	uint32_t uid;
	int rc;

	if (s->user == NULL ||
	    auth_user_info(s->svc->auth, s->user, &info, NULL) < 0 ||
	    !info.save_sent)
		return 0;
	if (mailuser_open(s->svc, s->user, &u, e) < 0)
		return -1;
	rc = store_deliver(u, "Sent", msg->data + s->txn.return_path_len,
	                   msg->len - s->txn.return_path_len, STORE_FLAG_SEEN,
	                   &uid, e);
	store_user_close(&u);
	return rc;
}

/* A failure the sender could never fix by trying again (quota, a
 * refusal): reported for its recipient alone once others have the mail. */
static bool
smtp_data_err_is_permanent(enum err_kind kind)
{
	return kind == ERR_QUOTA || kind == ERR_PERM || kind == ERR_LIMIT;
}

/*
 * RFC 5321 has one reply to DATA for every recipient (3.3, 6.1), so when
 * some local users got the message and others are refused for good (a
 * mailbox the message does not fit), the 250 stands for the delivered
 * ones and the refused ones get a DSN to the sender (RFC 3464), as a
 * relay bounces what it cannot deliver.  0, or -1 if the DSN failed.
 */
static int
smtp_data_bounce_refused(struct smtp_session *s, const bool *refused,
                         enum err_kind kind, struct err *e)
{
	struct smtp_txn *t = &s->txn;
	struct smtp_err_reply r = smtp_reply_for_err(kind);
	struct smtp_queue_rcpt *rc;
	char reply[128];
	size_t n = 0;
	int ret;

	if ((rc = calloc(t->nusers, sizeof(*rc))) == NULL)
		return err_set(e, ERR_TEMP, "out of memory");
	snprintf(reply, sizeof(reply), "%d %s %s", r.code, r.esc, r.text);
	for (size_t i = 0; i < t->nusers; i++) {
		if (!refused[i])
			continue;
		rc[n].addr = t->users[i];
		rc[n].status = SMTP_RCPT_PERM;
		rc[n++].reply = reply;
	}
	ret = smtp_dsn_send_txn(s, rc, n, SMTP_DSN_FAILED, e);
	free(rc);
	return ret;
}

/*
 * Delivers to every local user.  A temporary failure fails the whole
 * DATA (451: the sender retries every recipient, so the ones delivered
 * before get the message twice: duplicates are preferred to loss).  Users
 * refused for good are bounced instead, if any other recipient (local or
 * remote) takes the message; if none does, DATA gets their error.
 */
static void
smtp_data_deliver_local(struct data_job *job)
{
	struct smtp_txn *t = &job->s->txn;
	bool *refused = calloc(t->nusers > 0 ? t->nusers : 1, sizeof(*refused));
	enum err_kind perm = ERR_OK;
	struct err e;

	if (refused == NULL) {
		job->local_failed = true;
		err_set(&job->err, ERR_TEMP, "out of memory");
		return;
	}
	for (size_t i = 0; i < t->nusers; i++) {
		err_clear(&e);
		if (smtp_data_deliver_one(job->s, t->users[i], &e) == 0) {
			job->delivered++;
			continue;
		}
		if (!smtp_data_err_is_permanent(e.kind)) {
			job->local_failed = true; /* 451 for all: stop here */
			job->err = e;
			job->failed_at = i;
			break;
		}
		refused[i] = true;
		perm = e.kind;
		if (job->bounced++ == 0) {
			job->err = e;
			job->failed_at = i;
		}
	}
	if (!job->local_failed && job->bounced > 0) {
		if (job->delivered == 0 && t->out.nrcpts == 0)
			job->local_failed = true; /* nobody took it: say so */
		else if (smtp_data_bounce_refused(job->s, refused, perm, &e) <
		         0) {
			/* Without the DSN the sender would never know. */
			job->err = e;
			job->local_failed = true;
		}
	}
	free(refused);
}

/* On a worker thread: local users, the outbound queue, the Sent copy. */
static void
smtp_data_work(void *arg)
{
	struct data_job *job = arg;
	struct smtp_session *s = job->s;

	err_clear(&job->err);
	smtp_data_deliver_local(job);
	if (job->local_failed)
		return;
	if (smtp_data_enqueue(s, &job->err) < 0) {
		job->queue_failed = true;
		return;
	}
	err_clear(&job->sent_err);
	job->sent_failed = smtp_data_save_sent(s, &job->sent_err) < 0;
}

/* On the loop thread: the reply for what the job did. */
static void
smtp_data_reply(struct smtp_session *s, const struct data_job *job)
{
	struct smtp_txn *t = &s->txn;

	if (job->local_failed) {
		struct smtp_err_reply r = smtp_reply_for_err(job->err.kind);

		conn_log(s->c, LOG_LVL_ERROR,
		         "delivery failed id=%s rcpt=%s done=%zu error=%s: %s",
		         t->id, t->users[job->failed_at], job->delivered,
		         err_kind_name(job->err.kind), job->err.msg);
		/* An unknown user here was known at RCPT: try again later. */
		if (job->err.kind == ERR_NOTFOUND)
			r = smtp_reply_for_err(ERR_TEMP);
		smtp_reply(s, "%d %s %s", r.code, r.esc, r.text);
		return;
	}
	if (job->queue_failed) {
		conn_log(s->c, LOG_LVL_ERROR, "queueing failed id=%s: %s: %s",
		         t->id, err_kind_name(job->err.kind), job->err.msg);
		smtp_reply(s, "451 4.3.0 Cannot queue the message, try again "
		              "later");
		return;
	}
	conn_log(s->c, LOG_LVL_INFO,
	         "accepted id=%s from=<%s> rcpts=%zu size=%llu queued=%zu "
	         "bounced=%zu",
	         t->id, t->from, t->nusers, (unsigned long long)t->body.size,
	         t->out.nrcpts, job->bounced);
	if (job->bounced > 0)
		conn_log(
		    s->c, LOG_LVL_WARN,
		    "delivery refused id=%s rcpt=%s error=%s: %s (DSN sent)",
		    t->id, t->users[job->failed_at],
		    err_kind_name(job->err.kind), job->err.msg);
	if (job->sent_failed)
		conn_log(s->c, LOG_LVL_WARN, "save_sent failed id=%s: %s",
		         t->id, job->sent_err.msg);
	smtp_reply(s, "250 2.0.0 Ok: queued as %s", t->id);
	smtp_dsn_local_delivered(s);
}

/* Ends the transaction, whatever its outcome. */
static void
smtp_data_end(struct smtp_session *s)
{
	smtp_txn_reset(s);
	/* The idle timer may have closed the session during a job. */
	if (s->state == SMTP_STATE_CLOSED)
		return;
	smtp_session_set_state(s, SMTP_STATE_READY);
	if (s->shutting_down) {
		smtp_reply(s, "421 4.3.2 Server shutting down");
		smtp_session_close(s, "server shutdown");
	}
}

/* On the loop thread, even if the client went away during the job. */
static void
smtp_data_done(void *session, void *arg)
{
	struct smtp_session *s = session;
	struct data_job *job = arg;

	/* Tell the recipients' other sessions (IDLE) now (store.h). */
	store_flush_changes(s->svc->store);
	smtp_data_reply(s, job);
	free(job);
	smtp_data_end(s);
}

/* Starts the delivery job; false if it ran inline and is finished. */
static bool
smtp_data_deliver(struct smtp_session *s)
{
	struct data_job *job = calloc(1, sizeof(*job));

	if (job == NULL) {
		smtp_reply(s, "452 4.3.1 Insufficient system storage");
		return false;
	}
	job->s = s;
	if (conn_run_blocking(s->c, smtp_data_work, smtp_data_done, job) == 0)
		return true;
	/* No worker pool (or it is stopping): the same job, inline. */
	smtp_data_work(job);
	smtp_data_reply(s, job);
	free(job);
	return false;
}

/* Answers the final dot; true if a delivery job will finish the reply. */
static bool
smtp_data_finish(struct smtp_session *s)
{
	const struct smtp_body *b = &s->txn.body;

	if (b->bare_eol && !b->raw) {
		conn_log(s->c, LOG_LVL_INFO, "rejected id=%s: bare CR or LF",
		         s->txn.id);
		smtp_reply(s, "550 5.6.0 Bare LF or CR in message; lines must "
		              "end in CRLF");
	} else if (b->bare_eol && s->txn.out.nrcpts > 0) {
		/*
		 * BDAT is binary-clean for local mailboxes, but the relay
		 * sends with DATA, where a bare CR or LF could be read as a
		 * line end by the next hop (SMTP smuggling).
		 */
		conn_log(s->c, LOG_LVL_INFO,
		         "rejected id=%s: bare CR or LF for a remote recipient",
		         s->txn.id);
		smtp_reply(s, "550 5.6.0 Bare LF or CR in a message for a "
		              "remote recipient; lines must end in CRLF");
	} else if (b->too_big) {
		conn_log(s->c, LOG_LVL_INFO,
		         "rejected id=%s: size %llu over "
		         "%llu",
		         s->txn.id, (unsigned long long)b->size,
		         (unsigned long long)b->max);
		smtp_reply(s, "552 5.3.4 Message too big");
	} else if (!smtp_sender_header_is_allowed(s, b->msg.data, b->msg.len)) {
		conn_log(s->c, LOG_LVL_INFO, "rejected id=%s: From: not owned",
		         s->txn.id);
		smtp_reply(s,
		           "553 5.7.1 From: header address not owned by "
		           "user %s",
		           s->user);
	} else if (b->nomem) {
		conn_log(s->c, LOG_LVL_ERROR, "rejected id=%s: out of memory",
		         s->txn.id);
		smtp_reply(s, "452 4.3.1 Insufficient system storage");
	} else {
		return smtp_data_deliver(s);
	}
	return false;
}

void
smtp_data_complete(struct smtp_session *s)
{
	if (smtp_data_finish(s))
		return; /* smtp_data_done() ends the transaction */
	smtp_data_end(s);
}

bool
smtp_data_take(struct smtp_session *s, size_t max)
{
	size_t n, used;
	const char *p = conn_peek(s->c, &n);
	bool end;

	if (p == NULL)
		return false;
	used = smtp_body_take(&s->txn.body, p, n, max, &end);
	conn_discard(s->c, used);
	if (end)
		smtp_data_complete(s);
	return used > 0;
}

void
smtp_data_line(struct smtp_session *s, const char *line, size_t len)
{
	if (smtp_body_line(&s->txn.body, line, len) == SMTP_BODY_MORE)
		return;
	smtp_data_complete(s);
}
