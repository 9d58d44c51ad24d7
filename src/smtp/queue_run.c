/*
 * queue_run: the queue runner (see queue.h).
 *
 * It keeps no state that is not in the queue files: which messages are in
 * flight is the only thing held in memory, so a restart simply reloads the
 * directory.  inotify tells it about new files (and the flush request)
 * at once; a timer wakes it for the next retry.
 */
#include "smtp/queue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "net/client.h"
#include "smtp/addr.h"
#include "smtp/mx.h"
#include "smtp/relay.h"
#include "util/log.h"

/* Deliveries in flight at once. */
#define SMTP_QUEUE_PARALLEL 8
/* The first retry waits this long (seconds); each next one twice as long. */
#define SMTP_QUEUE_RETRY_MIN 60
/* ... up to this. */
#define SMTP_QUEUE_RETRY_MAX 3600
/* The directory is rescanned at least this often (seconds). */
#define SMTP_QUEUE_SCAN_MAX 300
/* The SMTP port of MX hosts (RFC 5321 4.5.4.1 ... port 25). */
#define SMTP_QUEUE_MX_PORT 25

struct queue_job;

/* The recipients of a job that go to one destination (domain or relay). */
struct queue_leg {
	struct queue_job *j;
	char *domain; /* NULL: the relay_host */
	bool *mine;   /* per recipient of j->m */
	struct smtp_mx_query *q;
};

struct queue_job {
	LIST_ENTRY(queue_job) entry;
	struct smtp_queue_runner *qr;
	struct smtp_queue_msg m;
	struct queue_leg *legs;
	size_t nlegs;
	size_t pending; /* legs not settled yet */
};

/* An open connection to a destination, shared by the jobs going there. */
struct queue_dest {
	LIST_ENTRY(queue_dest) entry;
	struct smtp_queue_runner *qr;
	char *key; /* the domain, or "" for the relay_host */
	struct smtp_relay *relay;
};

struct smtp_queue_runner {
	struct event_base *base;
	const struct config *cfg;
	struct services *svc;
	char *dir;
	struct event *timer;
	time_t timer_at; /* when the timer fires, 0 if not armed */
	struct event *watch;
	int inotify_fd;
	SSL_CTX *tls;
	struct evdns_base *dns;
	char *relay_host; /* NULL: MX delivery */
	int relay_port;
	struct smtp_mx *mx; /* NULL with relay_host, or if unavailable */
	char mx_error[256]; /* why mx is NULL without relay_host */
	int mx_port;
	LIST_HEAD(, queue_job) jobs;
	size_t njobs;
	LIST_HEAD(, queue_dest) dests;
};

static void queue_job_done(void *arg);

static void
queue_arm(struct smtp_queue_runner *qr, time_t at)
{
	time_t now = time(NULL);
	struct timeval tv = {at > now ? at - now : 0, 0};

	if (qr->timer_at != 0 && qr->timer_at <= at)
		return;
	qr->timer_at = at;
	evtimer_add(qr->timer, &tv);
}

static bool
queue_in_flight(struct smtp_queue_runner *qr, const char *id)
{
	struct queue_job *j;

	LIST_FOREACH(j, &qr->jobs, entry)
	if (strcmp(j->m.id, id) == 0)
		return true;
	return false;
}

static void
queue_job_free(struct queue_job *j)
{
	for (size_t i = 0; i < j->nlegs; i++) {
		smtp_mx_cancel(&j->legs[i].q);
		free(j->legs[i].domain);
		free(j->legs[i].mine);
	}
	free(j->legs);
	smtp_queue_msg_free(&j->m);
	free(j);
}

/* One leg is settled; the last one finishes the job. */
static void
queue_leg_done(void *arg)
{
	struct queue_leg *l = arg;

	if (--l->j->pending == 0)
		queue_job_done(l->j);
}

/* Settles the leg's open recipients with reply (4xx or 5xx) and ends it. */
static void
queue_leg_settle(struct queue_leg *l, const char *reply)
{
	struct smtp_queue_msg *m = &l->j->m;

	for (size_t i = 0; i < m->nrcpts; i++) {
		if (!l->mine[i] || m->rcpts[i].status != SMTP_RCPT_PENDING)
			continue;
		m->rcpts[i].status =
		    reply[0] == '5' ? SMTP_RCPT_PERM : SMTP_RCPT_TEMP;
		free(m->rcpts[i].reply);
		m->rcpts[i].reply = strdup(reply);
	}
	queue_leg_done(l);
}

static void
queue_dest_closed(void *arg)
{
	struct queue_dest *d = arg;

	LIST_REMOVE(d, entry);
	log_info("relay dest=%s closed after %u messages",
	         d->key[0] != '\0' ? d->key : d->qr->relay_host,
	         smtp_relay_count(d->relay));
	smtp_relay_free(&d->relay);
	free(d->key);
	free(d);
}

/*
 * The open connection for key, or a new one to hosts: several messages to
 * one destination share a session (connection reuse).
 */
static struct smtp_relay *
queue_dest_get(struct smtp_queue_runner *qr, const char *key,
               const char *const *hosts, size_t nhosts, int port)
{
	struct smtp_relay_params p = {
	    qr->base, qr->dns, qr->tls, qr->cfg->hostname, hosts, nhosts, port};
	struct queue_dest *d;
	struct err e;

	LIST_FOREACH(d, &qr->dests, entry)
	if (strcmp(d->key, key) == 0 && smtp_relay_is_open(d->relay))
		return d->relay;
	err_clear(&e);
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->key = strdup(key)) == NULL ||
	    smtp_relay_new(&p, queue_dest_closed, d, &d->relay, &e) < 0) {
		log_warn("queue: cannot connect to %s: %s", hosts[0], e.msg);
		if (d != NULL)
			free(d->key);
		free(d);
		return NULL;
	}
	d->qr = qr;
	LIST_INSERT_HEAD(&qr->dests, d, entry);
	return d->relay;
}

/* Hands the leg to the connection for its destination. */
static void
queue_leg_send(struct queue_leg *l, const char *const *hosts, size_t nhosts,
               int port)
{
	struct smtp_queue_runner *qr = l->j->qr;
	struct smtp_relay *r = queue_dest_get(
	    qr, l->domain != NULL ? l->domain : "", hosts, nhosts, port);

	if (r == NULL ||
	    smtp_relay_add(r, &l->j->m, l->mine, queue_leg_done, l) < 0)
		queue_leg_settle(l, "451 4.4.1 cannot start a connection");
}

static void
queue_leg_mx_done(void *arg, const struct smtp_mx_result *res)
{
	struct queue_leg *l = arg;

	l->q = NULL; /* the query is over */
	if (res->status != SMTP_MX_OK) {
		queue_leg_settle(l, res->why);
		return;
	}
	queue_leg_send(l, (const char *const *)res->addrs, res->naddrs,
	               l->j->qr->mx_port);
}

static void
queue_leg_start(struct queue_leg *l)
{
	struct smtp_queue_runner *qr = l->j->qr;
	const char *host = qr->relay_host;
	struct buf b = BUF_INIT;
	struct err e;

	if (qr->relay_host != NULL) {
		queue_leg_send(l, &host, 1, qr->relay_port);
		return;
	}
	err_clear(&e);
	if (qr->mx == NULL ||
	    smtp_mx_lookup(qr->mx, l->domain, queue_leg_mx_done, l, &l->q, &e) <
	        0) {
		buf_printf(&b, "451 4.4.3 MX delivery unavailable: %s",
		           qr->mx == NULL ? qr->mx_error : e.msg);
		queue_leg_settle(l, buf_cstr(&b));
		buf_free(&b);
	}
}

/* Splits the recipients into legs: one per domain, or one for relay_host. */
static int
queue_job_legs(struct queue_job *j)
{
	struct smtp_queue_msg *m = &j->m;
	bool by_domain = j->qr->relay_host == NULL;

	if ((j->legs = calloc(m->nrcpts + 1, sizeof(*j->legs))) == NULL)
		return -1;
	for (size_t i = 0; i < m->nrcpts; i++) {
		const char *dom = smtp_addr_domain(m->rcpts[i].addr);
		struct queue_leg *l = NULL;

		dom = dom != NULL ? dom : "";
		for (size_t k = 0; k < j->nlegs && l == NULL; k++)
			if (!by_domain ||
			    strcasecmp(j->legs[k].domain, dom) == 0)
				l = &j->legs[k];
		if (l == NULL) {
			l = &j->legs[j->nlegs++];
			l->j = j;
			l->mine = calloc(m->nrcpts + 1, sizeof(bool));
			l->domain = by_domain ? strdup(dom) : NULL;
			if (l->mine == NULL || (by_domain && l->domain == NULL))
				return -1;
		}
		l->mine[i] = true;
	}
	return 0;
}

/* Starts delivering message id (already known to be due). */
static void
queue_job_start(struct smtp_queue_runner *qr, const char *id)
{
	struct queue_job *j = calloc(1, sizeof(*j));
	struct err e;

	err_clear(&e);
	if (j == NULL || smtp_queue_read(qr->dir, id, true, &j->m, &e) < 0) {
		if (j != NULL)
			log_warn("queue: cannot load %s: %s", id, e.msg);
		free(j);
		return;
	}
	j->qr = qr;
	if (queue_job_legs(j) < 0) {
		log_warn("queue: out of memory for %s", id);
		queue_job_free(j);
		return;
	}
	LIST_INSERT_HEAD(&qr->jobs, j, entry);
	qr->njobs++;
	/* One extra count, so a leg settled at once cannot end the job. */
	j->pending = j->nlegs + 1;
	for (size_t i = 0; i < j->nlegs; i++)
		queue_leg_start(&j->legs[i]);
	if (--j->pending == 0)
		queue_job_done(j);
}

/* Starts id if it is due (or flush); otherwise notes when it will be. */
static void
queue_consider(struct smtp_queue_runner *qr, const char *id, bool flush,
               time_t *next_r)
{
	struct smtp_queue_msg m;
	struct err e;
	time_t now = time(NULL);

	if (queue_in_flight(qr, id))
		return;
	err_clear(&e);
	if (smtp_queue_read(qr->dir, id, false, &m, &e) < 0) {
		if (e.kind != ERR_NOTFOUND)
			log_warn("queue: %s", e.msg);
		return;
	}
	if (!flush && m.next_attempt > now) {
		if ((time_t)m.next_attempt < *next_r)
			*next_r = (time_t)m.next_attempt;
	} else if (qr->njobs >= SMTP_QUEUE_PARALLEL) {
		*next_r = now + 1; /* come back when a slot is free */
	} else {
		queue_job_start(qr, id);
	}
	smtp_queue_msg_free(&m);
}

struct queue_scan {
	struct smtp_queue_runner *qr;
	bool flush;
	time_t next;
};

static int
queue_scan_one(const char *id, void *arg)
{
	struct queue_scan *sc = arg;

	queue_consider(sc->qr, id, sc->flush, &sc->next);
	return 0;
}

/* Looks at every queued message; the flush file makes them all due. */
static void
queue_scan(struct smtp_queue_runner *qr)
{
	struct queue_scan sc = {qr, false, time(NULL) + SMTP_QUEUE_SCAN_MAX};
	struct buf flush = BUF_INIT;
	struct err e;

	buf_printf(&flush, "%s/%s", qr->dir, SMTP_QUEUE_FLUSH_FILE);
	if (unlink(buf_cstr(&flush)) == 0) {
		sc.flush = true;
		log_info("queue: flush requested");
	}
	buf_free(&flush);
	err_clear(&e);
	if (smtp_queue_each(qr->dir, queue_scan_one, &sc, &e) < 0)
		log_warn("queue: %s", e.msg);
	queue_arm(qr, sc.next);
}

static void
queue_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_queue_runner *qr = arg;

	(void)fd;
	(void)what;
	qr->timer_at = 0;
	queue_scan(qr);
}

/* inotify: a new queue file, or a flush request. */
static void
queue_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_queue_runner *qr = arg;
	char ev[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	time_t next = time(NULL) + SMTP_QUEUE_SCAN_MAX;
	ssize_t n;

	(void)what;
	while ((n = read(fd, ev, sizeof(ev))) > 0) {
		for (char *p = ev; p < ev + n;) {
			const struct inotify_event *ie = (const void *)p;

			p += sizeof(*ie) + ie->len;
			if (ie->len == 0)
				continue;
			if (strcmp(ie->name, SMTP_QUEUE_FLUSH_FILE) == 0)
				queue_arm(qr, 1); /* now */
			else if (smtp_queue_id_is_valid(ie->name))
				queue_consider(qr, ie->name, false, &next);
		}
	}
	queue_arm(qr, next);
}

/* Recipients still failing temporarily at expiry become permanent. */
static void
queue_job_expire(struct queue_job *j, time_t now)
{
	struct smtp_queue_msg *m = &j->m;

	if (now < m->created + (int64_t)j->qr->cfg->queue_lifetime)
		return;
	for (size_t i = 0; i < m->nrcpts; i++) {
		struct smtp_queue_rcpt *rc = &m->rcpts[i];
		struct buf b = BUF_INIT;

		if (rc->status != SMTP_RCPT_TEMP)
			continue;
		/* RFC 3463 X.4.7: delivery time expired. */
		buf_printf(&b,
		           "550 5.4.7 Delivery time expired after %u "
		           "attempts; last error: %s",
		           m->attempts + 1,
		           rc->reply != NULL ? rc->reply : "none");
		free(rc->reply);
		rc->reply = buf_steal(&b);
		rc->status = SMTP_RCPT_PERM;
	}
}

/*
 * The log lines of an attempt, one per recipient, collected in out and
 * written once the queue file says the same (tests and operators read
 * "status=deferred" as "the retry is scheduled").
 */
static void
queue_job_log(const struct queue_job *j, struct buf *out)
{
	static const char *const names[] = {"pending", "sent", "deferred",
	                                    "bounced"};

	for (size_t i = 0; i < j->m.nrcpts; i++) {
		const struct smtp_queue_rcpt *rc = &j->m.rcpts[i];

		buf_printf(out,
		           "%squeue id=%s to=<%s> relay=%s status=%s "
		           "reply=%s",
		           i > 0 ? "\n" : "", j->m.id, rc->addr,
		           j->qr->relay_host != NULL ? j->qr->relay_host : "mx",
		           names[rc->status],
		           rc->reply != NULL ? rc->reply : "-");
	}
}

static void
queue_log_lines(struct buf *lines)
{
	char *save = NULL;

	for (char *l = strtok_r(lines->data, "\n", &save); l != NULL;
	     l = strtok_r(NULL, "\n", &save))
		log_info("%s", l);
}

/* Keeps only the recipients to try again; returns how many. */
static size_t
queue_job_keep_temp(struct smtp_queue_msg *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->nrcpts; i++) {
		struct smtp_queue_rcpt *rc = &m->rcpts[i];

		if (rc->status == SMTP_RCPT_TEMP) {
			m->rcpts[n++] = *rc;
			continue;
		}
		free(rc->addr);
		free(rc->orcpt);
		free(rc->reply);
	}
	m->nrcpts = n;
	return n;
}

/* Writes the retry state back, unless the operator deleted the message. */
static void
queue_job_reschedule(struct queue_job *j, time_t now)
{
	struct smtp_queue_msg *m = &j->m;
	struct smtp_queue_runner *qr = j->qr;
	int64_t delay = SMTP_QUEUE_RETRY_MIN;
	struct err e;

	for (unsigned i = 0; i < m->attempts && delay < SMTP_QUEUE_RETRY_MAX;
	     i++)
		delay *= 2;
	if (delay > SMTP_QUEUE_RETRY_MAX)
		delay = SMTP_QUEUE_RETRY_MAX;
	m->attempts++;
	m->next_attempt = (int64_t)now + delay;
	err_clear(&e);
	if (smtp_queue_write(qr->dir, m, &e) < 0)
		log_error("queue: cannot update %s: %s", m->id, e.msg);
	queue_arm(qr, (time_t)m->next_attempt);
}

/*
 * The DSNs an attempt calls for: failures, "relayed" for NOTIFY=SUCCESS
 * recipients handed to a server without DSN, and once per message the
 * delay notice after delay_warning_time.
 */
static void
queue_job_notify(struct queue_job *j, time_t now)
{
	static const enum smtp_dsn_action kinds[] = {SMTP_DSN_FAILED,
	                                             SMTP_DSN_RELAYED};
	struct smtp_queue_runner *qr = j->qr;
	struct smtp_queue_msg *m = &j->m;
	struct err e;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		err_clear(&e);
		if (smtp_dsn_send(qr->cfg, qr->svc, qr->dir, m, kinds[i],
		                  qr->relay_host, &e) < 0)
			log_error("queue: DSN for %s failed: %s", m->id, e.msg);
	}
	if (m->delay_notified || qr->cfg->delay_warning_time == 0 ||
	    now < m->created + (int64_t)qr->cfg->delay_warning_time)
		return;
	err_clear(&e);
	if (smtp_dsn_send(qr->cfg, qr->svc, qr->dir, m, SMTP_DSN_DELAYED,
	                  qr->relay_host, &e) < 0)
		log_error("queue: delay DSN for %s failed: %s", m->id, e.msg);
	else
		m->delay_notified = true; /* saved by the reschedule */
}

/* An attempt is over: log, bounce, then remove or reschedule the file. */
static void
queue_job_done(void *arg)
{
	struct queue_job *j = arg;
	struct smtp_queue_runner *qr = j->qr;
	struct smtp_queue_msg meta;
	struct buf lines = BUF_INIT;
	time_t now = time(NULL);
	bool deleted;
	struct err e;

	LIST_REMOVE(j, entry);
	qr->njobs--;
	err_clear(&e);
	deleted = smtp_queue_read(qr->dir, j->m.id, false, &meta, &e) < 0 &&
	          e.kind == ERR_NOTFOUND;
	smtp_queue_msg_free(&meta);
	queue_job_expire(j, now);
	queue_job_log(j, &lines);
	if (!deleted) {
		queue_job_notify(j, now);
		if (queue_job_keep_temp(&j->m) > 0)
			queue_job_reschedule(j, now);
		else if (smtp_queue_remove(qr->dir, j->m.id, &e) < 0)
			log_error("queue: %s", e.msg);
	}
	if (lines.data != NULL)
		queue_log_lines(&lines);
	buf_free(&lines);
	queue_job_free(j);
}

/* Splits relay_host "host:port" ("[v6]:port" too); "none" gives NULL. */
static int
queue_relay_parse(struct smtp_queue_runner *qr, const char *text,
                  struct err *err)
{
	const char *colon = strrchr(text, ':');
	char *end;
	long port;

	if (strcmp(text, "none") == 0)
		return 0;
	if (colon == NULL || colon == text)
		goto bad;
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535)
		goto bad;
	if (text[0] == '[' && colon[-1] == ']')
		qr->relay_host = strndup(text + 1, (size_t)(colon - text) - 2);
	else
		qr->relay_host = strndup(text, (size_t)(colon - text));
	qr->relay_port = (int)port;
	return qr->relay_host != NULL
	           ? 0
	           : err_set(err, ERR_TEMP, "queue: out of memory");
bad:
	return err_set(err, ERR_SYNTAX,
	               "relay_host = \"%s\": write host:port (e.g. "
	               "smtp.example.net:587) or none",
	               text);
}

/* The MX resolver, when there is no relay_host (dns_resolver, mx_port). */
static void
queue_mx_start(struct smtp_queue_runner *qr)
{
	const char *resolver = strcmp(qr->cfg->dns_resolver, "system") == 0
	                           ? NULL
	                           : qr->cfg->dns_resolver;
	struct err e;

	qr->mx_port =
	    qr->cfg->mx_port > 0 ? qr->cfg->mx_port : SMTP_QUEUE_MX_PORT;
	if (qr->relay_host != NULL)
		return;
	err_clear(&e);
	if (smtp_mx_new(qr->base, resolver, &qr->mx, &e) < 0) {
		snprintf(qr->mx_error, sizeof(qr->mx_error), "%s", e.msg);
		log_warn("queue: %s; remote mail stays queued", e.msg);
	}
}

/* inotify on the queue directory; without it the timer still works. */
static void
queue_watch_start(struct smtp_queue_runner *qr)
{
	qr->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (qr->inotify_fd < 0 ||
	    inotify_add_watch(qr->inotify_fd, qr->dir,
	                      IN_MOVED_TO | IN_CLOSE_WRITE) < 0 ||
	    (qr->watch = event_new(qr->base, qr->inotify_fd,
	                           EV_READ | EV_PERSIST, queue_watch_cb, qr)) ==
	        NULL ||
	    event_add(qr->watch, NULL) < 0) {
		log_warn("queue: cannot watch %s (%s); new mail waits for "
		         "the next scan",
		         qr->dir, strerror(errno));
	}
}

int
smtp_queue_runner_new(struct event_base *base, const struct config *cfg,
                      struct services *svc, struct smtp_queue_runner **r_r,
                      struct err *err)
{
	struct smtp_queue_runner *qr = calloc(1, sizeof(*qr));
	struct buf dir = BUF_INIT;

	*r_r = NULL;
	if (qr == NULL)
		return err_set(err, ERR_TEMP, "queue: out of memory");
	qr->base = base;
	qr->cfg = cfg;
	qr->svc = svc;
	qr->inotify_fd = -1;
	LIST_INIT(&qr->jobs);
	LIST_INIT(&qr->dests);
	if (smtp_queue_dir(cfg->data_dir, &dir, err) < 0 ||
	    queue_relay_parse(qr, cfg->relay_host, err) < 0) {
		buf_free(&dir);
		smtp_queue_runner_free(&qr);
		return -1;
	}
	qr->dir = buf_steal(&dir);
	qr->timer = evtimer_new(base, queue_timer_cb, qr);
	qr->tls = net_client_tls_ctx_new();
	/* Asynchronous A/AAAA lookups for a relay_host given by name. */
	qr->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (qr->dir == NULL || qr->timer == NULL) {
		smtp_queue_runner_free(&qr);
		return err_set(err, ERR_TEMP, "queue: out of memory");
	}
	queue_mx_start(qr);
	queue_watch_start(qr);
	queue_arm(qr, 1); /* load the queue now */
	*r_r = qr;
	return 0;
}

void
smtp_queue_runner_free(struct smtp_queue_runner **rp)
{
	struct smtp_queue_runner *qr = *rp;

	if (qr == NULL)
		return;
	/* Connections first: they point into the jobs' messages. */
	while (!LIST_EMPTY(&qr->dests)) {
		struct queue_dest *d = LIST_FIRST(&qr->dests);

		LIST_REMOVE(d, entry);
		smtp_relay_free(&d->relay);
		free(d->key);
		free(d);
	}
	while (!LIST_EMPTY(&qr->jobs)) {
		struct queue_job *j = LIST_FIRST(&qr->jobs);

		LIST_REMOVE(j, entry);
		queue_job_free(j);
	}
	if (qr->watch != NULL)
		event_free(qr->watch);
	if (qr->inotify_fd >= 0)
		close(qr->inotify_fd);
	if (qr->timer != NULL)
		event_free(qr->timer);
	if (qr->dns != NULL)
		evdns_base_free(qr->dns, 0);
	smtp_mx_free(&qr->mx);
	SSL_CTX_free(qr->tls);
	free(qr->relay_host);
	free(qr->dir);
	free(qr);
	*rp = NULL;
}
