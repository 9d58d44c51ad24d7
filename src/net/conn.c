/*
 * conn: one client connection on a bufferevent, plain or TLS, and the calls
 * protocols make on it (see conn.h).
 *
 * Lifetime rule: a connection is freed only from this file's own libevent
 * callbacks, after any protocol hook has returned (conn_after_hook()), so a
 * protocol never sees its connection disappear under it.  All bufferevents
 * use deferred callbacks for the same reason: writing from a hook never
 * re-enters the connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "net/compress.h"
#include "net/net_private.h"
#include "net/tls.h"

#define CONN_BEV_OPTIONS (BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)
/* Input buffered beyond the longest line, so pipelined commands fit. */
#define CONN_INPUT_SLACK (64 * 1024)
/* Time a closing connection gets to flush its last reply. */
#define CONN_CLOSE_FLUSH_SECS 10

static void conn_readcb(struct bufferevent *bev, void *arg);
static void conn_writecb(struct bufferevent *bev, void *arg);
static void conn_eventcb(struct bufferevent *bev, short events, void *arg);
static bool conn_after_hook(struct conn *c);

static uint64_t
service_idle_timeout(const struct config *cfg, enum service svc)
{
	switch (svc) {
	case SVC_SMTP:
	case SVC_SUBMISSION:
	case SVC_SUBMISSIONS:
		return cfg->smtp_timeout;
	case SVC_POP3:
	case SVC_POP3S:
		return cfg->pop3_timeout;
	case SVC_HTTP:
	case SVC_HTTPS:
		return cfg->http_timeout;
	default:
		return cfg->imap_timeout;
	}
}

static void
conn_apply_timeouts(struct conn *c)
{
	if (c->bev == NULL)
		return;
	struct timeval idle = {(time_t)c->timeout, 0};
	struct timeval hs = {(time_t)c->srv->cfg->handshake_timeout, 0};
	struct timeval flush = {CONN_CLOSE_FLUSH_SECS, 0};

	if (c->closing)
		bufferevent_set_timeouts(c->bev, NULL, &flush);
	else if (c->handshaking)
		bufferevent_set_timeouts(c->bev, &hs, &hs);
	else if (c->timeout == 0)
		bufferevent_set_timeouts(c->bev, NULL, NULL);
	else
		bufferevent_set_timeouts(c->bev, &idle, &idle);
}

static void
conn_setup_bev(struct conn *c, struct bufferevent *bev)
{
	c->bev = bev;
	bufferevent_setcb(bev, conn_readcb, conn_writecb, conn_eventcb, c);
	bufferevent_setwatermark(
	    bev, EV_READ, 0, c->srv->cfg->max_line_length + CONN_INPUT_SLACK);
	bufferevent_setwatermark(bev, EV_WRITE, CONN_OUTPUT_LOW, 0);
	conn_apply_timeouts(c);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static struct bufferevent *
conn_tls_bev(struct conn *c, int fd)
{
	SSL *ssl = SSL_new(c->srv->tls);

	if (ssl == NULL)
		return NULL;
	return bufferevent_openssl_socket_new(
	    c->srv->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, CONN_BEV_OPTIONS);
}

static void
conn_refuse(struct listener *l, int fd, const char *remote, const char *why)
{
	const struct proto_ops *ops = l->srv->ops[l->svc];
	struct log_ctx ctx = {service_name(l->svc), 0, remote, NULL};

	/* Logged first: whoever sees the connection close finds the reason. */
	log_event(LOG_LVL_WARN, &ctx, "refused: %s", why);
	if (ops->busy_reply != NULL && !service_is_implicit_tls(l->svc))
		(void)!send(fd, ops->busy_reply, strlen(ops->busy_reply),
		            MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
}

static void
conn_open_session(struct conn *c)
{
	c->timeout = service_idle_timeout(c->srv->cfg, c->svc);
	conn_apply_timeouts(c);
	c->in_callback = true;
	c->session = c->srv->ops[c->svc]->open(c);
	c->in_callback = false;
	if (c->session == NULL) {
		conn_destroy(c, "refused by the protocol");
		return;
	}
	conn_after_hook(c);
}

void
conn_accept(struct listener *l, int fd, const char *remote)
{
	struct server *srv = l->srv;
	struct bufferevent *bev;
	struct conn *c;

	if (srv->nconns >= srv->cfg->max_connections) {
		conn_refuse(l, fd, remote, "max_connections reached");
		return;
	}
	if (ipcount_acquire(srv->per_ip, remote,
	                    srv->cfg->max_connections_per_ip) < 0) {
		conn_refuse(l, fd, remote, "max_connections_per_ip reached");
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		ipcount_release(srv->per_ip, remote);
		close(fd);
		return;
	}
	c->srv = srv;
	c->svc = l->svc;
	c->id = ++srv->next_conn_id;
	srv->conn_events++;
	snprintf(c->remote, sizeof(c->remote), "%s", remote);
	LIST_INSERT_HEAD(&srv->conns, c, entry);
	srv->nconns++;
	c->handshaking = service_is_implicit_tls(l->svc);
	bev = c->handshaking
	          ? conn_tls_bev(c, fd)
	          : bufferevent_socket_new(srv->base, fd, CONN_BEV_OPTIONS);
	if (bev == NULL) {
		close(fd);
		conn_destroy(c, "out of memory");
		return;
	}
	conn_setup_bev(c, bev);
	conn_log(c, LOG_LVL_INFO, "connect");
	if (!c->handshaking)
		conn_open_session(c);
}

void
conn_destroy(struct conn *c, const char *reason)
{
	struct server *srv = c->srv;

	if (!c->dead) {
		conn_log(c, LOG_LVL_INFO, "disconnect: %s", reason);
		ipcount_release(srv->per_ip, c->remote);
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		c->bev = NULL;
		c->dead = c->closing = true;
	}
	/* A blocking job still uses the session: free it when the job is done.
	 */
	if (c->jobs > 0)
		return;
	if (c->session != NULL)
		srv->ops[c->svc]->close(c->session);
	LIST_REMOVE(c, entry);
	free(c->user);
	free(c);
	server_conn_gone(srv);
}

struct conn_job {
	struct conn *c;
	void (*work)(void *arg);
	void (*done)(void *session, void *arg);
	void *arg;
};

static void
conn_job_work(void *arg)
{
	struct conn_job *job = arg;

	job->work(job->arg);
}

/* On the loop thread: hand the result to the session and read on. */
static void
conn_job_done(void *arg)
{
	struct conn_job *job = arg;
	struct conn *c = job->c;

	c->jobs--;
	c->in_callback = true;
	job->done(c->session, job->arg);
	c->in_callback = false;
	free(job);
	if (c->dead) {
		if (c->jobs == 0)
			conn_destroy(c, "closed during a job");
		return;
	}
	if (c->jobs == 0 && conn_after_hook(c))
		conn_set_reading(c, true);
}

int
conn_run_blocking(struct conn *c, void (*work)(void *arg),
                  void (*done)(void *session, void *arg), void *arg)
{
	struct conn_job *job = malloc(sizeof(*job));

	if (job == NULL || c->srv->workers == NULL) {
		free(job);
		return -1;
	}
	*job = (struct conn_job){c, work, done, arg};
	if (worker_submit(c->srv->workers, conn_job_work, conn_job_done, job) <
	    0) {
		free(job);
		return -1;
	}
	c->jobs++;
	bufferevent_disable(c->bev, EV_READ);
	return 0;
}

/*
 * Replaces the plain bufferevent by a TLS one on the same socket.  Whatever
 * the client sent after its STARTTLS command is dropped first: it was sent
 * in clear and must not be taken as coming through TLS (CVE-2011-0411).
 */
static bool
conn_begin_tls(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct bufferevent *bev;
	int fd;

	c->tls_pending = false;
	evbuffer_drain(in, evbuffer_get_length(in));
	fd = dup(bufferevent_getfd(c->bev));
	bufferevent_free(c->bev);
	c->bev = NULL;
	if (fd < 0 || (bev = conn_tls_bev(c, fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		conn_destroy(c, "cannot start TLS");
		return false;
	}
	c->handshaking = true;
	conn_setup_bev(c, bev);
	return true;
}

/*
 * Bytes not yet handed to the kernel: with compression, also those the
 * filter has passed down to the (plain or TLS) bufferevent beneath it.
 */
static size_t
conn_pending_output(const struct conn *c)
{
	size_t n = evbuffer_get_length(bufferevent_get_output(c->bev));

	if (c->compressed)
		n += evbuffer_get_length(
		    bufferevent_get_output(bufferevent_get_underlying(c->bev)));
	return n;
}

/*
 * libevent's filter calls its write callback only when it had something to
 * pass down, not when the socket bufferevent beneath it has drained; that
 * is what conn_close() and conn_wait_drained() wait for, so watch it here.
 */
static void
conn_lower_output_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
                     void *arg)
{
	struct conn *c = arg;

	if (info->n_deleted > 0 && evbuffer_get_length(buf) <= CONN_OUTPUT_LOW)
		bufferevent_trigger(c->bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
}

/* Stacks the DEFLATE filter once the OK to COMPRESS is out (RFC 4978 3). */
static bool
conn_begin_compress(struct conn *c)
{
	struct bufferevent *bev;

	c->compress_pending = false;
	/* Back-pressure (conn_wait_drained) looks through the filter. */
	bufferevent_setwatermark(c->bev, EV_WRITE, CONN_OUTPUT_LOW, 0);
	if ((bev = compress_bev_new(c->bev)) == NULL) {
		conn_destroy(c, "cannot start compression");
		return false;
	}
	c->compressed = true;
	evbuffer_add_cb(bufferevent_get_output(c->bev), conn_lower_output_cb,
	                c);
	conn_setup_bev(c, bev);
	conn_log(c, LOG_LVL_INFO, "compression: deflate");
	/* Bytes the client sent right after the OK are compressed already. */
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		bufferevent_trigger(bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
	return true;
}

/*
 * Runs after every protocol hook: frees a connection whose goodbye has been
 * flushed, or starts TLS once the STARTTLS reply is out.  Returns false if
 * the connection is gone.
 */
static bool
conn_after_hook(struct conn *c)
{
	size_t pending = conn_pending_output(c);

	if (pending > 0)
		return true;
	if (c->closing) {
		conn_destroy(c, c->close_reason);
		return false;
	}
	if (c->tls_pending)
		return conn_begin_tls(c);
	if (c->compress_pending)
		return conn_begin_compress(c);
	return true;
}

static void
conn_readcb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (c->session == NULL || c->closing || c->tls_pending || c->jobs > 0 ||
	    c->wait_drain || c->compress_pending)
		return;
	c->in_callback = true;
	c->srv->ops[c->svc]->input(c->session);
	c->in_callback = false;
	conn_after_hook(c);
}

static void
conn_writecb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (c->wait_drain && !c->closing &&
	    conn_pending_output(c) <= CONN_OUTPUT_LOW) {
		c->wait_drain = false;
		c->in_callback = true;
		c->srv->ops[c->svc]->drained(c->session);
		c->in_callback = false;
		if (!conn_after_hook(c))
			return;
		if (!c->wait_drain)
			conn_set_reading(c, true);
		return;
	}
	conn_after_hook(c);
}

static void
conn_tls_up(struct conn *c)
{
	char desc[128];
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

	c->handshaking = false;
	c->is_tls = true;
	tls_describe(ssl, desc, sizeof(desc));
	conn_log(c, LOG_LVL_INFO, "tls: %s", desc);
	if (c->session == NULL) {
		conn_open_session(c);
		return;
	}
	conn_apply_timeouts(c);
	c->in_callback = true;
	c->srv->ops[c->svc]->tls_ready(c->session);
	c->in_callback = false;
	if (conn_after_hook(c) &&
	    evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		conn_readcb(c->bev, c);
}

static void
conn_timed_out(struct conn *c)
{
	if (c->handshaking) {
		conn_destroy(c, "TLS handshake timeout");
		return;
	}
	if (c->closing || c->session == NULL) {
		conn_destroy(c, "timeout while closing");
		return;
	}
	c->in_callback = true;
	c->srv->ops[c->svc]->timeout(c->session);
	conn_close(c, "idle timeout");
	c->in_callback = false;
	conn_after_hook(c);
}

static void
conn_failed(struct conn *c, short events)
{
	char why[160];
	unsigned long e = bufferevent_get_openssl_error(c->bev);

	if (e != 0) {
		char detail[120];
		ERR_error_string_n(e, detail, sizeof(detail));
		snprintf(why, sizeof(why), "%s: %s",
		         c->handshaking ? "TLS handshake failed" : "TLS error",
		         detail);
	} else if (events & BEV_EVENT_EOF) {
		snprintf(why, sizeof(why), "%s",
		         c->handshaking ? "closed during TLS handshake"
		                        : "closed by client");
	} else {
		snprintf(why, sizeof(why), "socket error: %s", strerror(errno));
	}
	ERR_clear_error();
	conn_destroy(c, why);
}

static void
conn_eventcb(struct bufferevent *bev, short events, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (events & BEV_EVENT_CONNECTED)
		conn_tls_up(c);
	else if (events & BEV_EVENT_TIMEOUT)
		conn_timed_out(c);
	else if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_failed(c, events);
}

void
conn_shutdown(struct conn *c)
{
	if (c->session == NULL) {
		conn_destroy(c, "server shutdown");
		return;
	}
	if (c->closing) {
		conn_after_hook(c);
		return;
	}
	c->in_callback = true;
	c->srv->ops[c->svc]->shutdown(c->session);
	c->in_callback = false;
	conn_after_hook(c);
}

enum conn_line
conn_read_line(struct conn *c, size_t max, enum conn_eol eol, char **line_r,
               size_t *len_r)
{
	/* No next command while the current one waits (job, drain). */
	if (c->closing || c->tls_pending || c->handshaking || c->jobs > 0 ||
	    c->wait_drain || c->compress_pending)
		return CONN_LINE_MORE;
	return net_take_line(bufferevent_get_input(c->bev), max,
	                     eol == CONN_EOL_CRLF_STRICT
	                         ? EVBUFFER_EOL_CRLF_STRICT
	                         : EVBUFFER_EOL_CRLF,
	                     line_r, len_r);
}

enum conn_line
net_take_line(struct evbuffer *in, size_t max, enum evbuffer_eol_style style,
              char **line_r, size_t *len_r)
{
	struct evbuffer_ptr p;
	size_t eol_len = 0;
	char *line;

	p = evbuffer_search_eol(in, NULL, &eol_len, style);
	if (p.pos < 0)
		return evbuffer_get_length(in) > max ? CONN_LINE_TOO_LONG
		                                     : CONN_LINE_MORE;
	if ((size_t)p.pos > max)
		return CONN_LINE_TOO_LONG;
	if ((line = malloc((size_t)p.pos + 1)) == NULL)
		return CONN_LINE_MORE;
	evbuffer_remove(in, line, (size_t)p.pos);
	evbuffer_drain(in, eol_len);
	line[p.pos] = '\0';
	*line_r = line;
	*len_r = (size_t)p.pos;
	return CONN_LINE_OK;
}

size_t
conn_input_len(const struct conn *c)
{
	if (c->closing || c->tls_pending || c->handshaking || c->jobs > 0 ||
	    c->wait_drain || c->compress_pending)
		return 0;
	return evbuffer_get_length(bufferevent_get_input(c->bev));
}

const char *
conn_peek(struct conn *c, size_t *len_r)
{
	struct evbuffer_iovec v;

	*len_r = 0;
	if (conn_input_len(c) == 0 ||
	    evbuffer_peek(bufferevent_get_input(c->bev), -1, NULL, &v, 1) < 1)
		return NULL;
	*len_r = v.iov_len;
	return v.iov_base;
}

size_t
conn_read(struct conn *c, void *dst, size_t n)
{
	int got;

	if (conn_input_len(c) == 0)
		return 0;
	got = evbuffer_remove(bufferevent_get_input(c->bev), dst, n);
	return got > 0 ? (size_t)got : 0;
}

size_t
conn_discard(struct conn *c, size_t n)
{
	size_t have = conn_input_len(c);

	if (n > have)
		n = have;
	if (n == 0)
		return 0;
	evbuffer_drain(bufferevent_get_input(c->bev), n);
	return n;
}

/*
 * Writes what it can of *data to a plain socket at once, when nothing is
 * queued before it, and moves *data and *n past it (false: not tried).
 * Through the bufferevent alone, each reply cost a turn of the loop and
 * two epoll_ctl() calls (write interest on, then off again), which is
 * most of what an IDLE session's EXISTS costs the loop when one delivery
 * is told to thousands of them.  What the socket does not take goes to
 * the bufferevent as before (it then reports any error), so the order of
 * the bytes is kept and so are back-pressure and conn_wait_drained().
 */
static bool
conn_write_direct(struct conn *c, const void **data, size_t *n)
{
	ssize_t w;

	if (c->is_tls || c->handshaking || c->tls_pending || c->compressed ||
	    c->compress_pending || c->dead || *n == 0 ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return false;
	do
		w = send(bufferevent_getfd(c->bev), *data, *n,
		         MSG_DONTWAIT | MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	if (w <= 0)
		return true; /* EAGAIN or an error: the bufferevent's turn */
	*data = (const char *)*data + w;
	*n -= (size_t)w;
	return true;
}

int
conn_write(struct conn *c, const void *data, size_t n)
{
	if (c->closing || c->bev == NULL)
		return -1;
	if (conn_write_direct(c, &data, &n) && n == 0)
		return 0;
	return bufferevent_write(c->bev, data, n) == 0 ? 0 : -1;
}

struct conn_file *
conn_file_new(struct conn *c, int fd, uint64_t size)
{
	struct evbuffer_file_segment *seg;
	int copy;

	if (c->closing || c->bev == NULL || conn_is_tls(c) || fd < 0 ||
	    size > INT64_MAX)
		return NULL;
	if ((copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return NULL;
	/* One thread only; sendfile, not mmap: nothing is read here. */
	seg = evbuffer_file_segment_new(copy, 0, (ev_off_t)size,
	                                EVBUF_FS_CLOSE_ON_FREE |
	                                    EVBUF_FS_DISABLE_MMAP |
	                                    EVBUF_FS_DISABLE_LOCKING);
	if (seg == NULL)
		close(copy);
	return (struct conn_file *)seg;
}

int
conn_write_file(struct conn *c, struct conn_file *f, uint64_t off, uint64_t len)
{
	if (c->closing || c->bev == NULL)
		return -1;
	return evbuffer_add_file_segment(bufferevent_get_output(c->bev),
	                                 (struct evbuffer_file_segment *)f,
	                                 (ev_off_t)off, (ev_off_t)len) == 0
	           ? 0
	           : -1;
}

void
conn_file_free(struct conn_file **f)
{
	if (*f == NULL)
		return;
	evbuffer_file_segment_free((struct evbuffer_file_segment *)*f);
	*f = NULL;
}

int
conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	char line[512];
	int r;

	if (c->closing || c->bev == NULL)
		return -1;
	/* Short replies (the common case) take conn_write()'s direct path. */
	va_start(ap, fmt);
	r = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (r >= 0 && (size_t)r < sizeof(line))
		return conn_write(c, line, (size_t)r);
	va_start(ap, fmt);
	r = evbuffer_add_vprintf(bufferevent_get_output(c->bev), fmt, ap);
	va_end(ap);
	return r < 0 ? -1 : 0;
}

size_t
conn_output_len(const struct conn *c)
{
	if (c->bev == NULL)
		return 0;
	return conn_pending_output(c);
}

int
conn_compress(struct conn *c)
{
	if (c->compressed || c->compress_pending || c->tls_pending ||
	    c->closing)
		return -1;
	c->compress_pending = true;
	bufferevent_disable(c->bev, EV_READ);
	return 0;
}

bool
conn_is_compressed(const struct conn *c)
{
	return c->compressed;
}

int
conn_starttls(struct conn *c)
{
	/* TLS under compression would need the filter re-stacked: refuse. */
	if (c->is_tls || c->tls_pending || c->closing || c->compressed ||
	    c->srv->tls == NULL)
		return -1;
	c->tls_pending = true;
	bufferevent_disable(c->bev, EV_READ);
	return 0;
}

void
conn_wait_drained(struct conn *c)
{
	if (c->closing || c->bev == NULL ||
	    c->srv->ops[c->svc]->drained == NULL)
		return;
	c->wait_drain = true;
	bufferevent_disable(c->bev, EV_READ);
	/* Already low: the write callback runs on the next loop turn. */
	bufferevent_trigger(c->bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
}

void
conn_close(struct conn *c, const char *reason)
{
	if (c->closing || c->bev == NULL)
		return;
	c->closing = true;
	c->close_reason = reason;
	bufferevent_disable(c->bev, EV_READ);
	conn_apply_timeouts(c);
	if (!c->in_callback)
		conn_after_hook(c);
}

void
conn_set_timeout(struct conn *c, uint64_t secs)
{
	c->timeout = secs;
	conn_apply_timeouts(c);
}

void
conn_set_reading(struct conn *c, bool on)
{
	if (c->closing || c->tls_pending || c->bev == NULL)
		return;
	if (on && (c->jobs > 0 || c->wait_drain))
		return; /* conn_job_done() or the write callback resumes */
	if (!on) {
		bufferevent_disable(c->bev, EV_READ);
		return;
	}
	bufferevent_enable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
}

bool
conn_is_tls(const struct conn *c)
{
	return c->is_tls;
}

bool
conn_is_loopback(const struct conn *c)
{
	return strncmp(c->remote, "127.", 4) == 0 ||
	       strcmp(c->remote, "::1") == 0;
}

const char *
conn_remote(const struct conn *c)
{
	return c->remote;
}

uint64_t
conn_id(const struct conn *c)
{
	return c->id;
}

enum service
conn_service(const struct conn *c)
{
	return c->svc;
}

int
conn_service_port(const struct conn *c, enum service svc)
{
	const struct server *srv = c->srv;

	if ((unsigned)svc >= SVC_COUNT || srv->ops[svc] == NULL ||
	    srv->cfg->port[svc] == 0)
		return 0;
	return srv->cfg->port[svc] + srv->port_offset;
}

void
conn_set_user(struct conn *c, const char *user)
{
	free(c->user);
	c->user = user != NULL ? strdup(user) : NULL;
}

const struct config *
conn_config(const struct conn *c)
{
	return c->srv->cfg;
}

void *
conn_context(const struct conn *c)
{
	return c->srv->context;
}

void
conn_log(const struct conn *c, enum log_level level, const char *fmt, ...)
{
	struct log_ctx ctx = {service_name(c->svc), c->id, c->remote, c->user};
	va_list ap;

	va_start(ap, fmt);
	log_eventv(level, &ctx, fmt, ap);
	va_end(ap);
}
