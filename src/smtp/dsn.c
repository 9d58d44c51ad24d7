/*
 * dsn: the success DSN of a local delivery (RFC 3461 4.1 NOTIFY=SUCCESS,
 * RFC 3464 Action: delivered).  The DSN itself is built by bounce.c; this
 * file turns the finished transaction into the message it reports on.
 */
#include "smtp/session.h"

#include <string.h>
#include <time.h>

#include "util/buf.h"

int
smtp_dsn_send_txn(struct smtp_session *s, struct smtp_queue_rcpt *rcpts,
                  size_t n, enum smtp_dsn_action kind, struct err *e)
{
	struct smtp_txn *t = &s->txn;
	const struct buf *msg = &t->body.msg;
	struct smtp_queue_msg m;
	struct buf dir = BUF_INIT;
	int rc;

	memset(&m, 0, sizeof(m));
	memcpy(m.id, t->id, sizeof(m.id));
	/* A view of the transaction: nothing here is owned by m. */
	m.from = t->from;
	m.envid = t->out.envid;
	m.ret_hdrs = t->out.ret_hdrs;
	m.created = (int64_t)time(NULL);
	m.rcpts = rcpts;
	m.nrcpts = n;
	if (msg->len >= t->return_path_len) {
		m.body.data = msg->data + t->return_path_len;
		m.body.len = msg->len - t->return_path_len;
	}
	rc = smtp_queue_dir(s->cfg->data_dir, &dir, e);
	if (rc == 0)
		rc = smtp_dsn_send(s->cfg, s->svc, buf_cstr(&dir), &m, kind,
		                   NULL, e);
	buf_free(&dir);
	return rc;
}

void
smtp_dsn_local_delivered(struct smtp_session *s)
{
	struct smtp_txn *t = &s->txn;
	struct err e;

	if (t->dsn_local.nrcpts == 0 || t->from == NULL || t->from[0] == '\0')
		return;
	for (size_t i = 0; i < t->dsn_local.nrcpts; i++)
		t->dsn_local.rcpts[i].status = SMTP_RCPT_OK;
	err_clear(&e);
	if (smtp_dsn_send_txn(s, t->dsn_local.rcpts, t->dsn_local.nrcpts,
	                      SMTP_DSN_DELIVERED, &e) < 0)
		conn_log(s->c, LOG_LVL_WARN, "success DSN for id=%s failed: %s",
		         t->id, e.msg);
}
