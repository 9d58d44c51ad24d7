/*
 * client: one outbound TCP connection (the SMTP relay client uses it).
 *
 * The counterpart of conn.h for connections we open: the network layer owns
 * the socket, name resolution (libevent's asynchronous evdns for host names,
 * none for address literals), timeouts and TLS; the protocol above reads
 * lines and writes bytes through these calls and never touches the socket.
 *
 * Callbacks run on the event loop of base.  Any callback may call
 * net_client_free(); after that the client must not be used again.
 */
#ifndef POSTAMT_NET_CLIENT_H
#define POSTAMT_NET_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "net/conn.h"
#include "util/err.h"

struct event_base;
struct evdns_base;
struct net_client;

struct net_client_ops {
	/* The TCP connection is up. */
	void (*connected)(void *arg);
	/* Input is waiting: read every complete line there is. */
	void (*input)(void *arg);
	/* The TLS handshake asked for by net_client_starttls() is done. */
	void (*tls_ready)(void *arg);
	/*
	 * Connecting, the handshake, reading or writing failed, the peer
	 * closed, or the timeout passed.  why is for logs and bounces.  The
	 * owner frees the client.
	 */
	void (*failed)(void *arg, const char *why);
};

/*
 * Starts connecting to host (a name or an IP address) on port.  dns may be
 * NULL when host is an address literal.  timeout_secs bounds the connect
 * and every later wait for input or output.  Returns 0 and *c_r, or -1 with
 * err filled (nothing to free).  The result arrives as ops->connected() or
 * ops->failed().
 */
int net_client_connect(struct event_base *base, struct evdns_base *dns,
                       const char *host, int port, uint64_t timeout_secs,
                       const struct net_client_ops *ops, void *arg,
                       struct net_client **c_r, struct err *err);

/*
 * Takes the next CRLF- or LF-terminated line off the input, like
 * conn_read_line(): *line_r is malloc()ed and owned by the caller.
 */
enum conn_line net_client_read_line(struct net_client *c, size_t max,
                                    char **line_r, size_t *len_r);

/* Queues output.  Returns 0, or -1 if out of memory. */
int net_client_write(struct net_client *c, const void *data, size_t n);

/*
 * Starts a TLS client handshake on the connection (after the peer said
 * "go ahead").  Input still buffered from the plaintext phase is dropped.
 * No certificate check: this is opportunistic TLS (RFC 7435), which only
 * defends against passive listeners.  sni may be NULL.  ops->tls_ready()
 * or ops->failed() follows.  Returns -1 if TLS cannot be set up.
 */
int net_client_starttls(struct net_client *c, SSL_CTX *ctx, const char *sni);

bool net_client_is_tls(const struct net_client *c);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384", or "" without TLS, for logs. */
void net_client_tls_describe(struct net_client *c, char *out, size_t size);

/*
 * A client TLS context for opportunistic STARTTLS (TLS 1.2+, no
 * verification).  NULL if OpenSSL fails.
 */
SSL_CTX *net_client_tls_ctx_new(void);

/* Closes the connection and frees the client; *c becomes NULL. */
void net_client_free(struct net_client **c);

#endif
