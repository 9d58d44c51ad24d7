/*
 * Internals shared by server.c and conn.c; nothing outside net/ sees them.
 */
#ifndef POSTAMT_NET_PRIVATE_H
#define POSTAMT_NET_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "net/conn.h"
#include "net/ipcount.h"
#include "net/worker.h"

struct listener {
	struct server *srv;
	enum service svc;
	struct evconnlistener *evl;
};

struct conn {
	LIST_ENTRY(conn) entry;
	struct server *srv;
	struct bufferevent *bev;
	void *session; /* NULL until the protocol's open() ran */
	char *user;    /* for logs, NULL before login */
	uint64_t id;
	uint64_t timeout; /* idle timeout in seconds, 0 = none */
	enum service svc;
	bool is_tls;      /* TLS is established */
	bool handshaking; /* a TLS handshake is in progress */
	bool tls_pending; /* STARTTLS asked, waiting for output to drain */
	bool closing;     /* conn_close() called, flushing output */
	bool in_callback; /* a protocol hook is on the stack */
	bool dead;        /* socket gone, waiting for jobs to finish */
	bool wait_drain;  /* conn_wait_drained() asked for ops->drained() */
	bool compress_pending; /* conn_compress() asked, output draining */
	bool compressed;       /* a DEFLATE filter is on the bufferevent */
	unsigned jobs;         /* conn_run_blocking() jobs not yet done */
	const char *close_reason;
	char remote[INET6_ADDRSTRLEN];
};

LIST_HEAD(conn_list, conn);

struct server {
	const struct config *cfg;
	const struct proto_ops *ops[SVC_COUNT];
	void *context;
	struct event_base *base;
	SSL_CTX *tls;
	struct listener listeners[SVC_COUNT];
	struct conn_list conns;
	uint64_t nconns;
	uint64_t next_conn_id;
	struct ipcount *per_ip;
	struct worker_pool *workers;
	struct event *sig_term, *sig_int, *sig_hup, *shutdown_timer;
	bool stopping;
	int port_offset;
	/* memtrim.c: accepts + closes so far, and at the last trim */
	uint64_t conn_events, trim_seen;
	struct event *trim_timer;
	bool trim_running;
};

/*
 * Takes the next line off in (conn.c), for server connections and the
 * outbound client alike; see conn_read_line() for the results.
 */
enum conn_line net_take_line(struct evbuffer *in, size_t max,
                             enum evbuffer_eol_style style, char **line_r,
                             size_t *len_r);

/* Accepts fd from listener l (conn.c). */
void conn_accept(struct listener *l, int fd, const char *remote);

/* Tells the session the server is stopping (conn.c). */
void conn_shutdown(struct conn *c);

/* Frees c at once, calling the protocol's close() (conn.c). */
void conn_destroy(struct conn *c, const char *reason);

/*
 * Every memory_trim_interval, gives freed memory back to the system if
 * connections came or went (memtrim.c); 0 or -1.  memtrim_stop() ends it.
 */
int memtrim_start(struct server *srv);
void memtrim_stop(struct server *srv);

/* Called by conn.c after a connection has been freed. */
void server_conn_gone(struct server *srv);

#endif
