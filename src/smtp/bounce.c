/*
 * bounce: delivery status notifications (RFC 3464 multipart/report, RFC
 * 6522) with a human part, the message/delivery-status part and the
 * original message, or only its header with RET=HDRS (RFC 3461 4.3) and
 * for the notices that are not failures (delay, success), which RFC 3461
 * 4.3 asks to keep short.  One DSN reports one action (failed, delayed,
 * delivered, relayed) for every recipient whose NOTIFY asks for it.
 */
#include "smtp/queue.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "store/store.h"
#include "util/log.h"

/* RFC 5322 3.3 date-time in UTC. */
static void
bounce_date(int64_t t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, size, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		snprintf(out, size, "Thu, 01 Jan 1970 00:00:00 +0000");
}

/* Per action: the Action: word, status class digit, subject, intro. */
static const struct {
	const char *action;
	char cls;
	const char *subject;
	const char *intro;
} dsn_texts[] = {
    [SMTP_DSN_FAILED] = {"failed", '5', "Undelivered Mail Returned to Sender",
                         "Your message could not be delivered to the "
                         "following recipients:"},
    [SMTP_DSN_DELAYED] = {"delayed", '4', "Delayed Mail (still being retried)",
                          "Your message could not be delivered yet to the "
                          "following recipients; it is still being "
                          "retried:"},
    [SMTP_DSN_DELIVERED] = {"delivered", '2', "Successful Mail Delivery Report",
                            "Your message was delivered to the following "
                            "recipients:"},
    [SMTP_DSN_RELAYED] = {"relayed", '2', "Successful Mail Delivery Report",
                          "Your message was relayed to the following "
                          "recipients (the next server sends no further "
                          "reports):"},
};

/* True if recipient rc is in the state kind reports and asked for it. */
static bool
dsn_wanted(const struct smtp_queue_rcpt *rc, enum smtp_dsn_action kind)
{
	if (rc->notify & SMTP_NOTIFY_NEVER)
		return false;
	switch (kind) {
	case SMTP_DSN_FAILED:
		/* RFC 3461 4.1: without NOTIFY, failures are reported. */
		return rc->status == SMTP_RCPT_PERM &&
		       (rc->notify == 0 || (rc->notify & SMTP_NOTIFY_FAILURE));
	case SMTP_DSN_DELAYED:
		/* RFC 3461 4.1: the default may include DELAY; ours does. */
		return rc->status == SMTP_RCPT_TEMP &&
		       (rc->notify == 0 || (rc->notify & SMTP_NOTIFY_DELAY));
	case SMTP_DSN_DELIVERED:
		return rc->status == SMTP_RCPT_OK &&
		       (rc->notify & SMTP_NOTIFY_SUCCESS);
	case SMTP_DSN_RELAYED:
		/* A DSN-aware next hop took NOTIFY along: it reports. */
		return rc->status == SMTP_RCPT_OK && !rc->dsn_passed &&
		       (rc->notify & SMTP_NOTIFY_SUCCESS);
	}
	return false;
}

/*
 * The status code for a reply text such as "550 5.1.1 User unknown": its
 * enhanced code if it has one of class cls, else cls.0.0 (RFC 3463).
 */
static void
bounce_status(const char *reply, char cls, char *out, size_t size)
{
	const char *p = reply != NULL ? strchr(reply, ' ') : NULL;
	size_t n = p != NULL ? strspn(p + 1, "0123456789.") : 0;

	if (p != NULL && n >= 5 && n < size && p[1] == cls && p[2] == '.') {
		memcpy(out, p + 1, n);
		out[n] = '\0';
		return;
	}
	snprintf(out, size, "%c.0.0", cls);
}

static int
bounce_per_rcpt(struct buf *b, const struct smtp_queue_rcpt *rc,
                enum smtp_dsn_action kind, const char *remote_mta,
                const char *now)
{
	char status[32];
	int r = 0;

	bounce_status(rc->reply, dsn_texts[kind].cls, status, sizeof(status));
	r |= buf_printf(b, "\r\nFinal-Recipient: rfc822; %s\r\n", rc->addr);
	if (rc->orcpt != NULL)
		r |= buf_printf(b, "Original-Recipient: %s\r\n", rc->orcpt);
	r |= buf_printf(b, "Action: %s\r\nStatus: %s\r\n",
	                dsn_texts[kind].action, status);
	if (remote_mta != NULL)
		r |= buf_printf(b, "Remote-MTA: dns; %s\r\n", remote_mta);
	if (rc->reply != NULL)
		r |= buf_printf(b, "Diagnostic-Code: smtp; %s\r\n", rc->reply);
	r |= buf_printf(b, "Last-Attempt-Date: %s\r\n", now);
	return r;
}

/* The human-readable part and the delivery-status part. */
static int
bounce_reports(struct buf *b, const struct config *cfg,
               const struct smtp_queue_msg *m, enum smtp_dsn_action kind,
               const char *remote_mta, const char *boundary, const char *now)
{
	char arrival[64];
	int r = 0;

	bounce_date(m->created, arrival, sizeof(arrival));
	r |= buf_printf(b,
	                "--%s\r\nContent-Type: text/plain; charset=us-ascii"
	                "\r\n\r\nThis is the mail system at %s.\r\n\r\n"
	                "%s\r\n\r\n",
	                boundary, cfg->hostname, dsn_texts[kind].intro);
	for (size_t i = 0; i < m->nrcpts; i++)
		if (dsn_wanted(&m->rcpts[i], kind))
			r |= buf_printf(b, "<%s>: %s\r\n", m->rcpts[i].addr,
			                m->rcpts[i].reply != NULL
			                    ? m->rcpts[i].reply
			                    : dsn_texts[kind].action);
	r |= buf_printf(b,
	                "\r\n--%s\r\nContent-Type: message/delivery-status"
	                "\r\n\r\nReporting-MTA: dns; %s\r\n",
	                boundary, cfg->hostname);
	if (m->envid != NULL)
		r |= buf_printf(b, "Original-Envelope-Id: %s\r\n", m->envid);
	r |= buf_printf(b, "Arrival-Date: %s\r\n", arrival);
	for (size_t i = 0; i < m->nrcpts; i++)
		if (dsn_wanted(&m->rcpts[i], kind))
			r |= bounce_per_rcpt(b, &m->rcpts[i], kind, remote_mta,
			                     now);
	return r;
}

/* The returned original: all of it, or its header (RET=HDRS). */
static int
bounce_original(struct buf *b, const struct smtp_queue_msg *m,
                enum smtp_dsn_action kind, const char *boundary)
{
	const char *body = m->body.data != NULL ? m->body.data : "";
	size_t len = m->body.len;
	const char *end = memmem(body, len, "\r\n\r\n", 4);
	bool hdrs = m->ret_hdrs || kind != SMTP_DSN_FAILED;

	if (hdrs && end != NULL)
		len = (size_t)(end - body) + 2;
	if (buf_printf(b, "\r\n--%s\r\nContent-Type: %s\r\n\r\n", boundary,
	               hdrs ? "text/rfc822-headers" : "message/rfc822") < 0 ||
	    buf_append(b, body, len) < 0)
		return -1;
	if (len > 0 && body[len - 1] != '\n' && buf_append(b, "\r\n", 2) < 0)
		return -1;
	return buf_printf(b, "\r\n--%s--\r\n", boundary);
}

/* Builds the whole DSN message for m into b. */
static int
bounce_build(struct buf *b, const struct config *cfg,
             const struct smtp_queue_msg *m, enum smtp_dsn_action kind,
             const char *remote_mta, const char *id)
{
	char now[64], boundary[64];
	int r = 0;

	bounce_date((int64_t)time(NULL), now, sizeof(now));
	snprintf(boundary, sizeof(boundary), "%s/%s", id, cfg->hostname);
	r |= buf_printf(b,
	                "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
	                "To: <%s>\r\n"
	                "Subject: %s\r\n"
	                "Date: %s\r\nMessage-ID: <%s@%s>\r\n"
	                "Auto-Submitted: auto-replied\r\n"
	                "MIME-Version: 1.0\r\n"
	                "Content-Type: multipart/report; "
	                "report-type=delivery-status;\r\n"
	                "\tboundary=\"%s\"\r\n\r\n"
	                "This is a MIME-encapsulated message.\r\n\r\n",
	                cfg->hostname, m->from, dsn_texts[kind].subject, now,
	                id, cfg->hostname, boundary);
	r |= bounce_reports(b, cfg, m, kind, remote_mta, boundary, now);
	if (r != 0 || bounce_original(b, m, kind, boundary) < 0)
		return -1;
	return 0;
}

/* Delivers the DSN into the local sender's INBOX, with Return-Path: <>. */
static int
bounce_deliver_local(struct services *svc, const char *user,
                     const struct buf *dsn, struct err *err)
{
	struct store_user *u = NULL;
	struct buf msg = BUF_INIT;
	uint32_t uid;
	int rc = -1;

	if (buf_append_str(&msg, "Return-Path: <>\r\n") < 0 ||
	    buf_append(&msg, dsn->data, dsn->len) < 0) {
		buf_free(&msg);
		return err_set(err, ERR_TEMP, "bounce: out of memory");
	}
	if (store_user_open(svc->store, user, &u, err) == 0) {
		rc = store_deliver(u, "INBOX", msg.data, msg.len, 0, &uid, err);
		store_user_close(&u);
	}
	buf_free(&msg);
	return rc;
}

/* Queues the DSN for a remote sender, from the null sender. */
static int
bounce_queue_remote(const char *queue_dir, const char *to, const char *id,
                    struct buf *dsn, struct err *err)
{
	struct smtp_queue_msg b;
	int rc;

	memset(&b, 0, sizeof(b));
	snprintf(b.id, sizeof(b.id), "%s", id);
	b.created = b.next_attempt = (int64_t)time(NULL);
	b.from = strdup("");
	if (b.from == NULL || smtp_queue_msg_add_rcpt(&b, to, NULL, 0) < 0) {
		smtp_queue_msg_free(&b);
		return err_set(err, ERR_TEMP, "bounce: out of memory");
	}
	b.body = *dsn; /* lent: taken back below */
	rc = smtp_queue_write(queue_dir, &b, err);
	b.body = (struct buf)BUF_INIT;
	smtp_queue_msg_free(&b);
	return rc;
}

int
smtp_bounce_send(const struct config *cfg, struct services *svc,
                 const char *queue_dir, const struct smtp_queue_msg *m,
                 const char *remote_mta, struct err *err)
{
	return smtp_dsn_send(cfg, svc, queue_dir, m, SMTP_DSN_FAILED,
	                     remote_mta, err);
}

int
smtp_dsn_send(const struct config *cfg, struct services *svc,
              const char *queue_dir, const struct smtp_queue_msg *m,
              enum smtp_dsn_action kind, const char *remote_mta,
              struct err *err)
{
	struct buf dsn = BUF_INIT;
	char id[17], *user = NULL;
	bool any = false;
	int rc;

	for (size_t i = 0; i < m->nrcpts; i++)
		any = any || dsn_wanted(&m->rcpts[i], kind);
	/* RFC 5321 6.1 / RFC 3464: never answer the null sender. */
	if (!any || m->from == NULL || m->from[0] == '\0')
		return 0;
	smtp_queue_new_id(id);
	if (bounce_build(&dsn, cfg, m, kind, remote_mta, id) < 0) {
		buf_free(&dsn);
		return err_set(err, ERR_TEMP, "bounce: out of memory");
	}
	if (auth_resolve_rcpt(svc->auth, m->from, &user, err) == 0) {
		rc = bounce_deliver_local(svc, user, &dsn, err);
	} else if (err->kind == ERR_PERM) {
		rc = bounce_queue_remote(queue_dir, m->from, id, &dsn, err);
	} else {
		/* A local domain without that user: nobody to tell. */
		log_warn("bounce for %s dropped: sender <%s>: %s", m->id,
		         m->from, err->msg);
		rc = 0;
	}
	if (rc == 0)
		log_info("dsn id=%s action=%s for=%s to=<%s>", id,
		         dsn_texts[kind].action, m->id, m->from);
	free(user);
	buf_free(&dsn);
	return rc;
}
