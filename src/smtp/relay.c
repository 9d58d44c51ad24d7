/*
 * relay: the SMTP client state machine (see relay.h).
 *
 * Commands are sent one at a time and each reply is read completely
 * (multi-line replies, RFC 5321 4.2.1) before the next step.  Recipients
 * get their own result from their RCPT reply and, if accepted, from the
 * reply to the final dot.  Anything that breaks the connection is a
 * temporary failure for every recipient not yet settled, except before the
 * first MAIL on a host: then the next host is tried (RFC 5321 5.1).
 *
 * Transactions wait in a queue; the first one is the current one.  A
 * settled transaction moves to the finished list, whose done() callbacks
 * run from an event, never from inside the state machine.
 */
#include "smtp/relay.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "net/client.h"
#include "util/log.h"

enum relay_step {
	RELAY_GREETING,
	RELAY_EHLO,
	RELAY_STARTTLS,
	RELAY_IDLE, /* between transactions */
	RELAY_MAIL,
	RELAY_RCPT,
	RELAY_DATA,
	RELAY_BODY,
	RELAY_RSET,
	RELAY_QUIT,
	RELAY_DONE,
};

struct relay_txn {
	TAILQ_ENTRY(relay_txn) entry;
	struct smtp_queue_msg *m;
	bool *mine;     /* per recipient: part of this transaction */
	bool *accepted; /* per recipient: RCPT got 2xx */
	size_t naccepted;
	size_t rcpt_i;
	smtp_relay_done_fn *done;
	void *arg;
};

TAILQ_HEAD(relay_txns, relay_txn);

struct smtp_relay {
	struct event_base *base;
	struct evdns_base *dns;
	struct net_client *c;
	struct event *cb_ev;   /* runs done() and closed() callbacks */
	struct event *idle_ev; /* QUIT after SMTP_RELAY_IDLE_SECS idle */
	SSL_CTX *tls;
	char *helo;
	char **hosts;
	size_t nhosts, host_i;
	int port;
	struct relay_txns txns;     /* queued; the first is current */
	struct relay_txns finished; /* settled, done() not called yet */
	enum relay_step step;
	bool ext_starttls, ext_size, ext_8bit, ext_utf8, ext_dsn;
	bool tried_tls;
	bool sent_mail; /* a MAIL went to this host: no failover now */
	bool closing;   /* closed() is due once finished is empty */
	char *reply;    /* first line of the reply being read */
	int nlines;     /* lines of it so far */
	unsigned count; /* transactions completed with a final reply */
	smtp_relay_closed_fn *closed;
	void *arg;
};

static void relay_next(struct smtp_relay *r);
static int relay_connect(struct smtp_relay *r, struct err *err);

static void
relay_txn_free(struct relay_txn *t)
{
	free(t->mine);
	free(t->accepted);
	free(t);
}

static void
relay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_relay *r = arg;
	struct relay_txn *t;

	(void)fd;
	(void)what;
	while ((t = TAILQ_FIRST(&r->finished)) != NULL) {
		TAILQ_REMOVE(&r->finished, t, entry);
		t->done(t->arg); /* may add transactions to r */
		relay_txn_free(t);
	}
	if (r->closing)
		r->closed(r->arg); /* may free r */
}

static void
relay_schedule(struct smtp_relay *r)
{
	static const struct timeval now = {0, 0};

	evtimer_add(r->cb_ev, &now);
}

static void
relay_set(struct smtp_queue_rcpt *rc, enum smtp_rcpt_status st,
          const char *text)
{
	rc->status = st;
	free(rc->reply);
	rc->reply = strdup(text);
}

/* Settles what is open in t with st and moves it to the finished list. */
static void
relay_txn_finish(struct smtp_relay *r, struct relay_txn *t,
                 enum smtp_rcpt_status st, const char *text)
{
	for (size_t i = 0; i < t->m->nrcpts; i++)
		if (t->mine[i] && t->m->rcpts[i].status == SMTP_RCPT_PENDING)
			relay_set(&t->m->rcpts[i], st, text);
	TAILQ_REMOVE(&r->txns, t, entry);
	TAILQ_INSERT_TAIL(&r->finished, t, entry);
	relay_schedule(r);
}

/* Ends the connection: every transaction left is settled with st. */
static void
relay_close(struct smtp_relay *r, enum smtp_rcpt_status st, const char *text)
{
	struct relay_txn *t;

	while ((t = TAILQ_FIRST(&r->txns)) != NULL)
		relay_txn_finish(r, t, st, text);
	r->step = RELAY_DONE;
	r->closing = true;
	evtimer_del(r->idle_ev);
	relay_schedule(r);
}

/*
 * Before the first MAIL on this host nothing has been settled: try the
 * next host if there is one (RFC 5321 5.1), else fail what is queued.
 */
static void
relay_fail(struct smtp_relay *r, enum smtp_rcpt_status st, const char *text)
{
	struct err e;

	if (!r->sent_mail && r->step < RELAY_IDLE &&
	    r->host_i + 1 < r->nhosts) {
		log_info("relay host=%s failed (%s); trying %s",
		         r->hosts[r->host_i], text, r->hosts[r->host_i + 1]);
		net_client_free(&r->c);
		r->host_i++;
		err_clear(&e);
		if (relay_connect(r, &e) == 0)
			return;
	}
	relay_close(r, st, text);
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
		relay_close(r, SMTP_RCPT_TEMP, "451 4.3.0 out of memory");
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
relay_mail(struct smtp_relay *r, struct relay_txn *t)
{
	struct smtp_queue_msg *m = t->m;
	struct buf p = BUF_INIT;
	bool utf8 = relay_has_8bit(m->from);

	for (size_t i = 0; i < m->nrcpts; i++)
		utf8 = utf8 || (t->mine[i] && relay_has_8bit(m->rcpts[i].addr));
	if (r->ext_size)
		buf_printf(&p, " SIZE=%zu", m->body.len);
	if (r->ext_8bit)
		buf_printf(&p, " BODY=8BITMIME");
	if (utf8 && r->ext_utf8)
		buf_printf(&p, " SMTPUTF8");
	/* RFC 3461 4.3, 4.4: passed on to a DSN-aware next hop. */
	if (r->ext_dsn && m->ret_hdrs)
		buf_printf(&p, " RET=HDRS");
	if (r->ext_dsn && m->envid != NULL)
		buf_printf(&p, " ENVID=%s", m->envid);
	r->sent_mail = true;
	relay_send(r, RELAY_MAIL, "MAIL FROM:<%s>%s", m->from, buf_cstr(&p));
	buf_free(&p);
}

/* " NOTIFY=... ORCPT=..." for a DSN-aware server (RFC 3461 4.1, 4.2). */
static void
relay_rcpt_params(struct smtp_relay *r, struct smtp_queue_rcpt *rc,
                  struct buf *p)
{
	static const char *const words[] = {"NEVER", "SUCCESS", "FAILURE",
	                                    "DELAY"};

	rc->dsn_passed = r->ext_dsn;
	if (!r->ext_dsn)
		return;
	if (rc->notify != 0) {
		buf_printf(p, " NOTIFY=");
		for (int i = 0, n = 0; i < 4; i++)
			if (rc->notify & (1u << i))
				buf_printf(p, "%s%s", n++ ? "," : "", words[i]);
	}
	if (rc->orcpt != NULL)
		buf_printf(p, " ORCPT=%s", rc->orcpt);
}

/* Sends the RCPT for the next recipient of t still open, or moves on. */
static void
relay_next_rcpt(struct smtp_relay *r, struct relay_txn *t)
{
	struct smtp_queue_msg *m = t->m;

	while (t->rcpt_i < m->nrcpts &&
	       (!t->mine[t->rcpt_i] ||
	        m->rcpts[t->rcpt_i].status != SMTP_RCPT_PENDING))
		t->rcpt_i++;
	if (t->rcpt_i < m->nrcpts) {
		struct smtp_queue_rcpt *rc = &m->rcpts[t->rcpt_i];
		struct buf p = BUF_INIT;

		relay_rcpt_params(r, rc, &p);
		relay_send(r, RELAY_RCPT, "RCPT TO:<%s>%s", rc->addr,
		           buf_cstr(&p));
		buf_free(&p);
	} else if (t->naccepted > 0) {
		relay_send(r, RELAY_DATA, "DATA");
	} else {
		/* Every RCPT refused: close the transaction MAIL opened. */
		relay_txn_finish(r, t, SMTP_RCPT_TEMP, "451 4.3.0 not sent");
		relay_send(r, RELAY_RSET, "RSET");
	}
}

/* Sends the message with dot-stuffing (RFC 5321 4.5.2) and the final dot. */
static void
relay_body(struct smtp_relay *r, struct relay_txn *t)
{
	const char *p = t->m->body.data != NULL ? t->m->body.data : "";
	size_t len = t->m->body.len, start = 0;
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
		relay_close(r, SMTP_RCPT_TEMP, "451 4.3.0 out of memory");
		return;
	}
	r->step = RELAY_BODY;
}

/* Applies the reply to DATA or the final dot to the accepted recipients. */
static void
relay_settle_accepted(struct smtp_relay *r, struct relay_txn *t, int code,
                      const char *text)
{
	for (size_t i = 0; i < t->m->nrcpts; i++)
		if (t->accepted[i])
			relay_set(&t->m->rcpts[i], relay_status_of(code), text);
	relay_txn_finish(r, t, SMTP_RCPT_TEMP, text);
}

static void
relay_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_relay *r = arg;

	(void)fd;
	(void)what;
	if (r->step == RELAY_IDLE && TAILQ_EMPTY(&r->txns))
		relay_send(r, RELAY_QUIT, "QUIT");
}

/* Starts the next queued transaction, or waits a little for one. */
static void
relay_next(struct smtp_relay *r)
{
	struct relay_txn *t = TAILQ_FIRST(&r->txns);
	struct timeval idle = {SMTP_RELAY_IDLE_SECS, 0};

	r->step = RELAY_IDLE;
	if (t == NULL) {
		evtimer_add(r->idle_ev, &idle);
		return;
	}
	evtimer_del(r->idle_ev);
	t->rcpt_i = 0;
	t->naccepted = 0;
	memset(t->accepted, 0, t->m->nrcpts);
	relay_mail(r, t);
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
	relay_next(r);
}

static void
relay_on_rcpt(struct smtp_relay *r, struct relay_txn *t, int code,
              const char *text)
{
	if (code >= 200 && code < 300) {
		t->accepted[t->rcpt_i] = true;
		t->naccepted++;
	} else {
		relay_set(&t->m->rcpts[t->rcpt_i], relay_status_of(code), text);
	}
	t->rcpt_i++;
	relay_next_rcpt(r, t);
}

/* A reply in a transaction step (MAIL, RCPT, DATA, the final dot). */
static void
relay_on_txn_reply(struct smtp_relay *r, int code, const char *text)
{
	struct relay_txn *t = TAILQ_FIRST(&r->txns);

	switch (r->step) {
	case RELAY_MAIL:
		if (code >= 200 && code < 300) {
			relay_next_rcpt(r, t);
			return;
		}
		relay_txn_finish(r, t, relay_status_of(code), text);
		relay_next(r);
		return;
	case RELAY_RCPT:
		relay_on_rcpt(r, t, code, text);
		return;
	case RELAY_DATA:
		if (code == 354) {
			relay_body(r, t);
			return;
		}
		relay_settle_accepted(r, t, code < 400 ? 451 : code, text);
		relay_send(r, RELAY_RSET, "RSET");
		return;
	default: /* RELAY_BODY */
		relay_settle_accepted(r, t, code, text);
		r->count++;
		relay_next(r);
		return;
	}
}

/* The name for TLS SNI: none for an address literal (RFC 6066 3). */
static const char *
relay_sni(const struct smtp_relay *r)
{
	const char *h = r->hosts[r->host_i];
	unsigned char a[16];

	if (inet_pton(AF_INET, h, a) == 1 || inet_pton(AF_INET6, h, a) == 1)
		return NULL;
	return h;
}

/* One complete reply arrived for the current step. */
static void
relay_on_reply(struct smtp_relay *r, int code, const char *text)
{
	bool ok = code >= 200 && code < 300;

	switch (r->step) {
	case RELAY_GREETING:
	case RELAY_EHLO:
		if (!ok)
			relay_fail(r, relay_status_of(code), text);
		else if (r->step == RELAY_GREETING)
			relay_ehlo(r);
		else
			relay_after_ehlo(r);
		return;
	case RELAY_STARTTLS:
		/* Opportunistic: a refusal means "go on in clear". */
		if (code != 220 ||
		    net_client_starttls(r->c, r->tls, relay_sni(r)) < 0)
			relay_next(r);
		return;
	case RELAY_RSET:
		relay_next(r);
		return;
	case RELAY_MAIL:
	case RELAY_RCPT:
	case RELAY_DATA:
	case RELAY_BODY:
		relay_on_txn_reply(r, code, text);
		return;
	case RELAY_IDLE:
	case RELAY_QUIT:
	case RELAY_DONE:
		relay_close(r, SMTP_RCPT_TEMP, "451 4.4.2 connection closed");
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

	while (r->step != RELAY_DONE && r->c != NULL &&
	       (lr = net_client_read_line(r->c, SMTP_RELAY_LINE_MAX, &line,
	                                  &len)) != CONN_LINE_MORE) {
		if (lr == CONN_LINE_TOO_LONG) {
			relay_fail(r, SMTP_RCPT_TEMP,
			           "451 4.5.0 reply line too long");
			return;
		}
		rc = relay_reply_line(r, line, len, &code);
		free(line);
		if (rc < 0) {
			relay_fail(r, SMTP_RCPT_TEMP,
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

	if (r->step == RELAY_QUIT || r->step == RELAY_DONE) {
		if (r->step == RELAY_QUIT)
			relay_close(r, SMTP_RCPT_TEMP, "451 4.4.2 closed");
		return;
	}
	buf_printf(&b, "451 4.4.1 %s: %s", r->hosts[r->host_i], why);
	relay_fail(r, SMTP_RCPT_TEMP, buf_cstr(&b));
	buf_free(&b);
}

static const struct net_client_ops relay_ops = {
    .connected = relay_connected,
    .input = relay_input,
    .tls_ready = relay_tls_ready,
    .failed = relay_failed,
};

/* Connects to hosts[host_i], starting over at the greeting. */
static int
relay_connect(struct smtp_relay *r, struct err *err)
{
	r->step = RELAY_GREETING;
	r->tried_tls = false;
	r->sent_mail = false;
	free(r->reply);
	r->reply = NULL;
	r->nlines = 0;
	return net_client_connect(r->base, r->dns, r->hosts[r->host_i], r->port,
	                          SMTP_RELAY_TIMEOUT_SECS, &relay_ops, r, &r->c,
	                          err);
}

static int
relay_copy_hosts(struct smtp_relay *r, const struct smtp_relay_params *p)
{
	if (p->nhosts == 0 || p->nhosts > SMTP_RELAY_HOSTS_MAX)
		return -1;
	if ((r->hosts = calloc(p->nhosts, sizeof(*r->hosts))) == NULL)
		return -1;
	r->nhosts = p->nhosts;
	for (size_t i = 0; i < p->nhosts; i++)
		if ((r->hosts[i] = strdup(p->hosts[i])) == NULL)
			return -1;
	return 0;
}

int
smtp_relay_new(const struct smtp_relay_params *p, smtp_relay_closed_fn *closed,
               void *arg, struct smtp_relay **r_r, struct err *err)
{
	struct smtp_relay *r = calloc(1, sizeof(*r));

	*r_r = NULL;
	if (r == NULL)
		return err_set(err, ERR_TEMP, "relay: out of memory");
	TAILQ_INIT(&r->txns);
	TAILQ_INIT(&r->finished);
	if (relay_copy_hosts(r, p) < 0 || (r->helo = strdup(p->helo)) == NULL ||
	    (r->cb_ev = evtimer_new(p->base, relay_cb, r)) == NULL ||
	    (r->idle_ev = evtimer_new(p->base, relay_idle_cb, r)) == NULL) {
		smtp_relay_free(&r);
		return err_set(err, ERR_TEMP, "relay: cannot start");
	}
	r->base = p->base;
	r->dns = p->dns;
	r->tls = p->tls;
	r->port = p->port;
	r->closed = closed;
	r->arg = arg;
	if (relay_connect(r, err) < 0) {
		smtp_relay_free(&r);
		return -1;
	}
	*r_r = r;
	return 0;
}

bool
smtp_relay_is_open(const struct smtp_relay *r)
{
	return !r->closing && r->step != RELAY_QUIT && r->step != RELAY_DONE;
}

int
smtp_relay_add(struct smtp_relay *r, struct smtp_queue_msg *m, const bool *mine,
               smtp_relay_done_fn *done, void *arg)
{
	struct relay_txn *t;

	if (!smtp_relay_is_open(r) || (t = calloc(1, sizeof(*t))) == NULL)
		return -1;
	t->mine = calloc(m->nrcpts + 1, sizeof(bool));
	t->accepted = calloc(m->nrcpts + 1, sizeof(bool));
	if (t->mine == NULL || t->accepted == NULL) {
		relay_txn_free(t);
		return -1;
	}
	for (size_t i = 0; i < m->nrcpts; i++)
		t->mine[i] = mine == NULL || mine[i];
	t->m = m;
	t->done = done;
	t->arg = arg;
	TAILQ_INSERT_TAIL(&r->txns, t, entry);
	if (r->step == RELAY_IDLE && TAILQ_FIRST(&r->txns) == t)
		relay_next(r);
	return 0;
}

unsigned
smtp_relay_count(const struct smtp_relay *r)
{
	return r->count;
}

void
smtp_relay_free(struct smtp_relay **rp)
{
	struct smtp_relay *r = *rp;
	struct relay_txn *t;

	if (r == NULL)
		return;
	net_client_free(&r->c);
	while ((t = TAILQ_FIRST(&r->txns)) != NULL) {
		TAILQ_REMOVE(&r->txns, t, entry);
		relay_txn_free(t);
	}
	while ((t = TAILQ_FIRST(&r->finished)) != NULL) {
		TAILQ_REMOVE(&r->finished, t, entry);
		relay_txn_free(t);
	}
	if (r->cb_ev != NULL)
		event_free(r->cb_ev);
	if (r->idle_ev != NULL)
		event_free(r->idle_ev);
	for (size_t i = 0; r->hosts != NULL && i < r->nhosts; i++)
		free(r->hosts[i]);
	free(r->hosts);
	free(r->helo);
	free(r->reply);
	free(r);
	*rp = NULL;
}
