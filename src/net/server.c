/*
 * server: listeners, signals, the connection table and shutdown.
 */
#include "net/server.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <event2/thread.h>
#include <netinet/tcp.h>

#include "net/net_private.h"
#include "net/tls.h"

static void server_stop_cb(evutil_socket_t sig, short what, void *arg);
static void server_reload_cb(evutil_socket_t sig, short what, void *arg);
static void server_force_stop_cb(evutil_socket_t fd, short what, void *arg);

struct server *
server_new(const struct config *cfg,
           const struct proto_ops *const ops[SVC_COUNT], void *context,
           struct buf *errors)
{
	struct server *srv = calloc(1, sizeof(*srv));

	if (srv == NULL)
		return NULL;
	srv->cfg = cfg;
	srv->context = context;
	memcpy(srv->ops, ops, sizeof(srv->ops));
	LIST_INIT(&srv->conns);
	/* Worker threads hand completions to the loop: libevent must lock. */
	evthread_use_pthreads();
	srv->base = event_base_new();
	srv->per_ip = ipcount_new();
	/* worker_threads = 0: no pool, blocking work runs on the loop. */
	if (srv->base != NULL && cfg->worker_threads > 0)
		srv->workers =
		    worker_pool_new(srv->base, (int)cfg->worker_threads);
	if (srv->base == NULL || srv->per_ip == NULL ||
	    (srv->workers == NULL && cfg->worker_threads > 0)) {
		buf_printf(errors, "cannot set up the event loop\n");
		server_free(&srv);
		return NULL;
	}
	if ((srv->tls = tls_ctx_new(cfg, errors)) == NULL) {
		server_free(&srv);
		return NULL;
	}
	signal(SIGPIPE, SIG_IGN);
	srv->sig_term = evsignal_new(srv->base, SIGTERM, server_stop_cb, srv);
	srv->sig_int = evsignal_new(srv->base, SIGINT, server_stop_cb, srv);
	srv->sig_hup = evsignal_new(srv->base, SIGHUP, server_reload_cb, srv);
	srv->shutdown_timer = evtimer_new(srv->base, server_force_stop_cb, srv);
	evsignal_add(srv->sig_term, NULL);
	evsignal_add(srv->sig_int, NULL);
	evsignal_add(srv->sig_hup, NULL);
	if (memtrim_start(srv) < 0) {
		buf_printf(errors, "cannot set up the memory trim timer\n");
		server_free(&srv);
		return NULL;
	}
	return srv;
}

static void
remote_text(const struct sockaddr *sa, char *out, size_t size)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		          out, size);
	} else if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], out, size);
	} else {
		inet_ntop(AF_INET6, &s6->sin6_addr, out, size);
	}
}

static void
server_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
                 struct sockaddr *sa, int socklen, void *arg)
{
	char remote[INET6_ADDRSTRLEN] = "?";
	int one = 1;

	(void)evl;
	(void)socklen;
	remote_text(sa, remote, sizeof(remote));
	/* Replies are small and interactive: do not wait to coalesce them. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	conn_accept(arg, fd, remote);
}

static void
server_accept_error_cb(struct evconnlistener *evl, void *arg)
{
	struct listener *l = arg;

	(void)evl;
	/* EMFILE and friends: the listener retries on the next event. */
	log_warn("accept on %s failed: %s", service_name(l->svc),
	         strerror(errno));
}

static int
listen_address(const char *text, int port, struct sockaddr_storage *ss,
               int *len_r)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len_r = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, text, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len_r = sizeof(*s6);
		return 0;
	}
	return -1;
}

static int
server_listen_one(struct server *srv, enum service svc, const char *addr,
                  int port, struct buf *errors)
{
	const struct config *cfg = srv->cfg;
	const char *key = service_port_key(svc);
	struct listener *l = &srv->listeners[svc];
	struct sockaddr_storage ss;
	int len;

	if (port > 65535) {
		buf_printf(
		    errors,
		    "%s:%d: %s = %d: with the port offset it becomes %d, "
		    "over 65535; use a smaller --port-offset\n",
		    cfg->path, config_key_line(cfg, key), key, cfg->port[svc],
		    port);
		return -1;
	}
	if (listen_address(addr, port, &ss, &len) < 0) {
		buf_printf(errors,
		           "%s:%d: listen_address = \"%s\" is not an IP "
		           "address; write one such as 0.0.0.0 or ::\n",
		           cfg->path, config_key_line(cfg, "listen_address"),
		           addr);
		return -1;
	}
	l->srv = srv;
	l->svc = svc;
	l->evl = evconnlistener_new_bind(
	    srv->base, server_accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    4096, (struct sockaddr *)&ss, len);
	if (l->evl == NULL) {
		buf_printf(errors,
		           "%s:%d: %s = %d: cannot listen on %s port %d: %s; "
		           "stop the program using it or choose another %s\n",
		           cfg->path, config_key_line(cfg, key), key,
		           cfg->port[svc], addr, port,
		           errno == EADDRINUSE ? "address already in use"
		                               : strerror(errno),
		           key);
		return -1;
	}
	evconnlistener_set_error_cb(l->evl, server_accept_error_cb);
	return 0;
}

int
server_listen(struct server *srv, int port_offset, struct buf *errors)
{
	const char *addr =
	    port_offset != 0 ? "127.0.0.1" : srv->cfg->listen_address;

	srv->port_offset = port_offset;

	for (int svc = 0; svc < SVC_COUNT; svc++) {
		if (srv->ops[svc] == NULL || srv->cfg->port[svc] == 0)
			continue;
		if (server_listen_one(srv, (enum service)svc, addr,
		                      srv->cfg->port[svc] + port_offset,
		                      errors) < 0)
			return -1;
	}
	return 0;
}

static void
server_close_listeners(struct server *srv)
{
	for (int svc = 0; svc < SVC_COUNT; svc++) {
		if (srv->listeners[svc].evl != NULL)
			evconnlistener_free(srv->listeners[svc].evl);
		srv->listeners[svc].evl = NULL;
	}
}

/* Connections with a blocking job in flight go when the job is done. */
static void
server_destroy_all(struct server *srv, const char *reason)
{
	struct conn *c, *next;

	for (c = LIST_FIRST(&srv->conns); c != NULL; c = next) {
		next = LIST_NEXT(c, entry);
		if (!c->dead)
			conn_destroy(c, reason);
	}
}

static void
server_force_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	log_warn("shutdown_timeout reached with %llu connection(s) open; "
	         "closing them",
	         (unsigned long long)srv->nconns);
	server_destroy_all(srv, "shutdown timeout");
	event_base_loopbreak(srv->base);
}

/*
 * SIGTERM / SIGINT: stop accepting, ask every session to finish and say
 * goodbye, and leave the loop when the last one is gone or after
 * shutdown_timeout.  A second signal stops at once.
 */
static void
server_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	struct timeval tv = {(time_t)srv->cfg->shutdown_timeout, 0};
	struct conn *c, *next;

	(void)what;
	if (srv->stopping) {
		log_warn("signal %d again: stopping now", (int)sig);
		server_force_stop_cb(-1, 0, srv);
		return;
	}
	srv->stopping = true;
	log_info("signal %d: shutting down, %llu connection(s) open", (int)sig,
	         (unsigned long long)srv->nconns);
	server_close_listeners(srv);
	evtimer_add(srv->shutdown_timer, &tv);
	for (c = LIST_FIRST(&srv->conns); c != NULL; c = next) {
		next = LIST_NEXT(c, entry);
		conn_shutdown(c);
	}
	if (srv->nconns == 0)
		event_base_loopbreak(srv->base);
}

/* SIGHUP: new connections use the reloaded certificate; open ones keep theirs.
 */
static void
server_reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	struct buf errors = BUF_INIT;
	SSL_CTX *ctx;

	(void)sig;
	(void)what;
	if ((ctx = tls_ctx_new(srv->cfg, &errors)) == NULL) {
		log_error("SIGHUP: keeping the old certificate: %s",
		          buf_cstr(&errors));
		buf_free(&errors);
		return;
	}
	SSL_CTX_free(srv->tls);
	srv->tls = ctx;
	log_info("SIGHUP: reloaded %s and %s", srv->cfg->tls_cert,
	         srv->cfg->tls_key);
}

void
server_conn_gone(struct server *srv)
{
	srv->nconns--;
	srv->conn_events++;
	if (srv->stopping && srv->nconns == 0)
		event_base_loopbreak(srv->base);
}

int
server_run(struct server *srv)
{
	struct buf ports = BUF_INIT;

	for (int svc = 0; svc < SVC_COUNT; svc++) {
		struct listener *l = &srv->listeners[svc];
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		if (l->evl == NULL ||
		    getsockname(evconnlistener_get_fd(l->evl),
		                (struct sockaddr *)&ss, &len) != 0)
			continue;
		buf_printf(&ports, " %s=%d", service_name((enum service)svc),
		           ntohs(((struct sockaddr_in *)&ss)->sin_port));
	}
	log_info("serving:%s", buf_cstr(&ports));
	buf_free(&ports);
	event_base_dispatch(srv->base);
	log_info("stopped");
	return 0;
}

void
server_free(struct server **srvp)
{
	struct server *srv = *srvp;

	if (srv == NULL)
		return;
	server_close_listeners(srv);
	/* Jobs finish and their sessions get their answers first. */
	worker_pool_free(&srv->workers);
	server_destroy_all(srv, "server stopped");
	memtrim_stop(srv); /* after the pool: its job points at srv */
	if (srv->sig_term != NULL)
		event_free(srv->sig_term);
	if (srv->sig_int != NULL)
		event_free(srv->sig_int);
	if (srv->sig_hup != NULL)
		event_free(srv->sig_hup);
	if (srv->shutdown_timer != NULL)
		event_free(srv->shutdown_timer);
	SSL_CTX_free(srv->tls);
	ipcount_free(&srv->per_ip);
	if (srv->base != NULL)
		event_base_free(srv->base);
	free(srv);
	*srvp = NULL;
}

struct event_base *
server_event_base(struct server *srv)
{
	return srv->base;
}
