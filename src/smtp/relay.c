/*
 * relay: the SMTP client state machine for one message (see relay.h).
 *
 * Commands are sent one at a time and each reply is read completely
 * (multi-line replies, RFC 5321 4.2.1) before the next step.  Recipients
 * get their own result from their RCPT reply and, if accepted, from the
 * reply to the final dot.  Anything that breaks the connection is a
 * temporary failure for every recipient not yet settled.
 */
#include "smtp/relay.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "net/client.h"
#include "util/log.h"

enum relay_step {
	RELAY_GREETING,
	RELAY_EHLO,
	RELAY_STARTTLS,
	RELAY_MAIL,
	RELAY_RCPT,
	RELAY_DATA,
	RELAY_BODY,
	RELAY_QUIT,
	RELAY_DONE,
};

struct smtp_relay {
	struct net_client *c;
	struct event *done_ev;
	SSL_CTX *tls;
	char *helo;
	char *host;
	struct smtp_queue_msg *m;
	enum relay_step step;
	size_t rcpt_i;
	bool *accepted; /* per recipient: RCPT got 250 in this attempt */
	size_t naccepted;
	bool ext_starttls, ext_size, ext_8bit, ext_utf8, ext_dsn;
	bool tried_tls;
	char *reply; /* first line of the reply being read */
	int nlines;  /* lines of it so far */
	smtp_relay_done_fn *done;
	void *arg;
};

static void
relay_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_relay *r = arg;

	(void)fd;
	(void)what;
	r->done(r->arg); /* may free r */
}

/*
 * Ends the attempt.  done() runs from its own event, so the owner may free
 * the relay there while no function of ours is on the stack.
 */
static void
relay_finish(struct smtp_relay *r)
{
	static const struct timeval now = {0, 0};

	if (r->step == RELAY_DONE)
		return;
	r->step = RELAY_DONE;
	evtimer_add(r->done_ev, &now);
}

static void
relay_set(struct smtp_queue_rcpt *rc, enum smtp_rcpt_status st,
          const char *text)
{
	rc->status = st;
	free(rc->reply);
	rc->reply = strdup(text);
}

/* Settles every recipient still open with st, then ends the attempt. */
static void
relay_fail_all(struct smtp_relay *r, enum smtp_rcpt_status st, const char *text)
{
	for (size_t i = 0; i < r->m->nrcpts; i++)
		if (r->m->rcpts[i].status == SMTP_RCPT_PENDING)
			relay_set(&r->m->rcpts[i], st, text);
	relay_finish(r);
}

static enum smtp_rcpt_status
relay_status_of(int code)
{
	if (code >= 200 && code < 300)
		return SMTP_RCPT_OK;
	return code >= 500 ? SMTP_RCPT_PERM : SMTP_RCPT_TEMP;
}

static void relay_send(struct smtp_relay *r, enum relay_step next,
                       const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
relay_send(struct smtp_relay *r, enum relay_step next, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (rc < 0 || buf_append(&b, "\r\n", 2) < 0 ||
	    net_client_write(r->c, b.data, b.len) < 0) {
		buf_free(&b);
		relay_fail_all(r, SMTP_RCPT_TEMP, "451 4.3.0 out of memory");
		return;
	}
	buf_free(&b);
	r->step = next;
}

static void
relay_ehlo(struct smtp_relay *r)
{
	r->ext_starttls = r->ext_size = r->ext_8bit = false;
	r->ext_utf8 = r->ext_dsn = false;
	relay_send(r, RELAY_EHLO, "EHLO %s", r->helo);
}

/* Notes an EHLO keyword (RFC 5321 4.1.1.1) from a "250-KEYWORD" line. */
static void
relay_ehlo_keyword(struct smtp_relay *r, const char *kw)
{
	size_t n = strcspn(kw, " ");

	if (n == 8 && strncasecmp(kw, "STARTTLS", n) == 0)
		r->ext_starttls = true;
	else if (n == 4 && strncasecmp(kw, "SIZE", n) == 0)
		r->ext_size = true;
	else if (n == 8 && strncasecmp(kw, "8BITMIME", n) == 0)
		r->ext_8bit = true;
	else if (n == 8 && strncasecmp(kw, "SMTPUTF8", n) == 0)
		r->ext_utf8 = true;
	else if (n == 3 && strncasecmp(kw, "DSN", n) == 0)
		r->ext_dsn = true;
}

static bool
relay_has_8bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

static void
relay_mail(struct smtp_relay *r)
{
	struct smtp_queue_msg *m = r->m;
	struct buf p = BUF_INIT;
	bool utf8 = relay_has_8bit(m->from);

	for (size_t i = 0; i < m->nrcpts; i++)
		utf8 = utf8 || relay_has_8bit(m->rcpts[i].addr);
	if (r->ext_size)
		buf_printf(&p, " SIZE=%zu", m->body.len);
	if (r->ext_8bit)
		buf_printf(&p, " BODY=8BITMIME");
	if (utf8 && r->ext_utf8)
		buf_printf(&p, " SMTPUTF8");
	if (r->ext_dsn && m->ret_hdrs)
		buf_printf(&p, " RET=HDRS");
	if (r->ext_dsn && m->envid != NULL)
		buf_printf(&p, " ENVID=%s", m->envid);
	relay_send(r, RELAY_MAIL, "MAIL FROM:<%s>%s", m->from, buf_cstr(&p));
	buf_free(&p);
}

/* Sends the RCPT for the next recipient still open, or moves on. */
static void
relay_next_rcpt(struct smtp_relay *r)
{
	struct smtp_queue_msg *m = r->m;
	static const char *const words[] = {"NEVER", "SUCCESS", "FAILURE",
	                                    "DELAY"};

	while (r->rcpt_i < m->nrcpts &&
	       m->rcpts[r->rcpt_i].status != SMTP_RCPT_PENDING)
		r->rcpt_i++;
	if (r->rcpt_i < m->nrcpts) {
		const struct smtp_queue_rcpt *rc = &m->rcpts[r->rcpt_i];
		struct buf p = BUF_INIT;

		if (r->ext_dsn && rc->notify != 0) {
			buf_printf(&p, " NOTIFY=");
			for (int i = 0, n = 0; i < 4; i++)
				if (rc->notify & (1u << i))
					buf_printf(&p, "%s%s", n++ ? "," : "",
					           words[i]);
		}
		if (r->ext_dsn && rc->orcpt != NULL)
			buf_printf(&p, " ORCPT=%s", rc->orcpt);
		relay_send(r, RELAY_RCPT, "RCPT TO:<%s>%s", rc->addr,
		           buf_cstr(&p));
		buf_free(&p);
	} else if (r->naccepted > 0) {
		relay_send(r, RELAY_DATA, "DATA");
	} else {
		relay_send(r, RELAY_QUIT, "QUIT");
	}
}

/* Sends the message with dot-stuffing (RFC 5321 4.5.2) and the final dot. */
static void
relay_body(struct smtp_relay *r)
{
	const char *p = r->m->body.data != NULL ? r->m->body.data : "";
	size_t len = r->m->body.len, start = 0;
	int rc = 0;

	for (size_t i = 0; i < len; i++) {
		if (p[i] != '.' || (i > 0 && p[i - 1] != '\n'))
			continue;
		rc |= net_client_write(r->c, p + start, i - start);
		rc |= net_client_write(r->c, ".", 1);
		start = i;
	}
	rc |= net_client_write(r->c, p + start, len - start);
	if (len > 0 && p[len - 1] != '\n')
		rc |= net_client_write(r->c, "\r\n", 2);
	rc |= net_client_write(r->c, ".\r\n", 3);
	if (rc != 0) {
		relay_fail_all(r, SMTP_RCPT_TEMP, "451 4.3.0 out of memory");
		return;
	}
	r->step = RELAY_BODY;
}

/* Applies a complete reply to the accepted recipients after the body. */
static void
relay_settle_accepted(struct smtp_relay *r, int code, const char *text)
{
	for (size_t i = 0; i < r->m->nrcpts; i++)
		if (r->accepted[i])
			relay_set(&r->m->rcpts[i], relay_status_of(code), text);
}

static void
relay_after_ehlo(struct smtp_relay *r)
{
	if (r->ext_starttls && r->tls != NULL && !r->tried_tls &&
	    !net_client_is_tls(r->c)) {
		r->tried_tls = true;
		relay_send(r, RELAY_STARTTLS, "STARTTLS");
		return;
	}
	relay_mail(r);
}

static void
relay_on_rcpt(struct smtp_relay *r, int code, const char *text)
{
	struct smtp_queue_rcpt *rc = &r->m->rcpts[r->rcpt_i];

	if (code >= 200 && code < 300) {
		r->accepted[r->rcpt_i] = true;
		r->naccepted++;
	} else {
		relay_set(rc, relay_status_of(code), text);
	}
	r->rcpt_i++;
	relay_next_rcpt(r);
}

/* One complete reply arrived for the current step. */
static void
relay_on_reply(struct smtp_relay *r, int code, const char *text)
{
	bool ok = code >= 200 && code < 300;

	switch (r->step) {
	case RELAY_GREETING:
	case RELAY_EHLO:
	case RELAY_MAIL:
		if (!ok) {
			relay_fail_all(r, relay_status_of(code), text);
			return;
		}
		if (r->step == RELAY_GREETING)
			relay_ehlo(r);
		else if (r->step == RELAY_EHLO)
			relay_after_ehlo(r);
		else
			relay_next_rcpt(r);
		return;
	case RELAY_STARTTLS:
		/* Opportunistic: a refusal means "go on in clear". */
		if (code != 220 ||
		    net_client_starttls(r->c, r->tls, r->host) < 0)
			relay_mail(r);
		return;
	case RELAY_RCPT:
		relay_on_rcpt(r, code, text);
		return;
	case RELAY_DATA:
		if (code == 354) {
			relay_body(r);
			return;
		}
		relay_settle_accepted(r, code < 400 ? 451 : code, text);
		relay_send(r, RELAY_QUIT, "QUIT");
		return;
	case RELAY_BODY:
		relay_settle_accepted(r, code, text);
		relay_send(r, RELAY_QUIT, "QUIT");
		return;
	case RELAY_QUIT:
	case RELAY_DONE:
		relay_finish(r);
		return;
	}
}

/*
 * Takes one reply line.  Returns 1 when the reply is complete (*code_r
 * set), 0 for a continuation line, -1 for a malformed line.
 */
static int
relay_reply_line(struct smtp_relay *r, const char *line, size_t len,
                 int *code_r)
{
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' ||
	    line[1] > '9' || line[2] < '0' || line[2] > '9' ||
	    (len > 3 && line[3] != ' ' && line[3] != '-'))
		return -1;
	if (++r->nlines > SMTP_RELAY_REPLY_LINES_MAX)
		return -1;
	if (r->reply == NULL && (r->reply = strdup(line)) == NULL)
		return -1;
	if (r->step == RELAY_EHLO && r->nlines > 1 && len > 4)
		relay_ehlo_keyword(r, line + 4);
	if (len > 3 && line[3] == '-')
		return 0;
	*code_r = atoi(line);
	return 1;
}

static void
relay_input(void *arg)
{
	struct smtp_relay *r = arg;
	char *line;
	size_t len;
	int code = 0, rc;
	enum conn_line lr;

	while (r->step != RELAY_DONE &&
	       (lr = net_client_read_line(r->c, SMTP_RELAY_LINE_MAX, &line,
	                                  &len)) != CONN_LINE_MORE) {
		if (lr == CONN_LINE_TOO_LONG) {
			relay_fail_all(r, SMTP_RCPT_TEMP,
			               "451 4.5.0 reply line too long");
			return;
		}
		rc = relay_reply_line(r, line, len, &code);
		free(line);
		if (rc < 0) {
			relay_fail_all(r, SMTP_RCPT_TEMP,
			               "451 4.5.0 malformed reply from server");
			return;
		}
		if (rc == 0)
			continue;
		char *text = r->reply;

		r->reply = NULL;
		r->nlines = 0;
		relay_on_reply(r, code, text);
		free(text);
	}
}

static void
relay_connected(void *arg)
{
	(void)arg; /* the greeting comes as input */
}

static void
relay_tls_ready(void *arg)
{
	relay_ehlo(arg); /* RFC 3207 4.2: start over with EHLO */
}

static void
relay_failed(void *arg, const char *why)
{
	struct smtp_relay *r = arg;
	struct buf b = BUF_INIT;

	if (r->step == RELAY_QUIT) {
		relay_finish(r);
		return;
	}
	buf_printf(&b, "451 4.4.1 %s: %s", r->host, why);
	relay_fail_all(r, SMTP_RCPT_TEMP, buf_cstr(&b));
	buf_free(&b);
}

static const struct net_client_ops relay_ops = {
    .connected = relay_connected,
    .input = relay_input,
    .tls_ready = relay_tls_ready,
    .failed = relay_failed,
};

int
smtp_relay_start(const struct smtp_relay_params *p, struct smtp_queue_msg *m,
                 smtp_relay_done_fn *done, void *arg, struct smtp_relay **r_r,
                 struct err *err)
{
	struct smtp_relay *r = calloc(1, sizeof(*r));

	*r_r = NULL;
	if (r == NULL || (r->accepted = calloc(m->nrcpts + 1, 1)) == NULL ||
	    (r->helo = strdup(p->helo)) == NULL ||
	    (r->host = strdup(p->host)) == NULL ||
	    (r->done_ev = evtimer_new(p->base, relay_done_cb, r)) == NULL) {
		smtp_relay_free(&r);
		return err_set(err, ERR_TEMP, "relay: out of memory");
	}
	r->m = m;
	r->tls = p->tls;
	r->done = done;
	r->arg = arg;
	r->step = RELAY_GREETING;
	if (net_client_connect(p->base, p->dns, p->host, p->port,
	                       SMTP_RELAY_TIMEOUT_SECS, &relay_ops, r, &r->c,
	                       err) < 0) {
		smtp_relay_free(&r);
		return -1;
	}
	*r_r = r;
	return 0;
}

void
smtp_relay_free(struct smtp_relay **rp)
{
	struct smtp_relay *r = *rp;

	if (r == NULL)
		return;
	net_client_free(&r->c);
	if (r->done_ev != NULL)
		event_free(r->done_ev);
	free(r->accepted);
	free(r->helo);
	free(r->host);
	free(r->reply);
	free(r);
	*rp = NULL;
}
