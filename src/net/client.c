/*
 * client: outbound connections on a libevent bufferevent, with optional
 * STARTTLS (a TLS filter over the plain bufferevent).
 */
#include "net/client.h"
#include "net/net_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "net/tls.h"

/* Input kept buffered beyond the longest line the owner reads. */
#define NET_CLIENT_INPUT_MAX (256 * 1024)

struct net_client {
	struct bufferevent *bev;
	const struct net_client_ops *ops;
	void *arg;
	struct timeval timeout;
	bool connecting;
	bool handshaking;
	bool is_tls;
};

static void
net_client_readcb(struct bufferevent *bev, void *arg)
{
	struct net_client *c = arg;

	(void)bev;
	if (!c->connecting && !c->handshaking)
		c->ops->input(c->arg);
}

static void
net_client_fail(struct net_client *c, short events)
{
	char why[200];
	unsigned long e = bufferevent_get_openssl_error(c->bev);
	int dns = bufferevent_socket_get_dns_error(c->bev);

	if (e != 0) {
		char detail[120];

		ERR_error_string_n(e, detail, sizeof(detail));
		snprintf(why, sizeof(why), "TLS %s: %s",
		         c->handshaking ? "handshake failed" : "error", detail);
	} else if (dns != 0) {
		snprintf(why, sizeof(why), "cannot resolve host: %s",
		         evutil_gai_strerror(dns));
	} else if (events & BEV_EVENT_TIMEOUT) {
		snprintf(why, sizeof(why), "timeout while %s",
		         c->connecting    ? "connecting"
		         : c->handshaking ? "in the TLS handshake"
		                          : "waiting for the server");
	} else if (events & BEV_EVENT_EOF) {
		snprintf(why, sizeof(why), "connection closed by the server");
	} else {
		snprintf(why, sizeof(why), "%s: %s",
		         c->connecting ? "cannot connect" : "socket error",
		         strerror(errno));
	}
	ERR_clear_error();
	c->ops->failed(c->arg, why);
}

static void
net_client_eventcb(struct bufferevent *bev, short events, void *arg)
{
	struct net_client *c = arg;

	(void)bev;
	if (events & BEV_EVENT_CONNECTED) {
		if (c->handshaking) {
			c->handshaking = false;
			c->is_tls = true;
			c->ops->tls_ready(c->arg);
			return;
		}
		c->connecting = false;
		c->ops->connected(c->arg);
		return;
	}
	if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		net_client_fail(c, events);
}

static void
net_client_setup(struct net_client *c, struct bufferevent *bev)
{
	c->bev = bev;
	bufferevent_setcb(bev, net_client_readcb, NULL, net_client_eventcb, c);
	bufferevent_setwatermark(bev, EV_READ, 0, NET_CLIENT_INPUT_MAX);
	bufferevent_set_timeouts(bev, &c->timeout, &c->timeout);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

int
net_client_connect(struct event_base *base, struct evdns_base *dns,
                   const char *host, int port, uint64_t timeout_secs,
                   const struct net_client_ops *ops, void *arg,
                   struct net_client **c_r, struct err *err)
{
	struct net_client *c = calloc(1, sizeof(*c));
	struct bufferevent *bev;

	*c_r = NULL;
	if (c == NULL)
		return err_set(err, ERR_TEMP, "client: out of memory");
	bev = bufferevent_socket_new(
	    base, -1, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		free(c);
		return err_set(err, ERR_TEMP, "client: cannot create a socket");
	}
	c->ops = ops;
	c->arg = arg;
	c->timeout.tv_sec = (time_t)timeout_secs;
	c->connecting = true;
	net_client_setup(c, bev);
	/* Resolution (if any) and the connect itself are asynchronous. */
	if (bufferevent_socket_connect_hostname(bev, dns, AF_UNSPEC, host,
	                                        port) < 0) {
		bufferevent_free(bev);
		free(c);
		return err_set(err, ERR_TEMP, "client: cannot connect to %s:%d",
		               host, port);
	}
	*c_r = c;
	return 0;
}

enum conn_line
net_client_read_line(struct net_client *c, size_t max, char **line_r,
                     size_t *len_r)
{
	return net_take_line(bufferevent_get_input(c->bev), max,
	                     EVBUFFER_EOL_CRLF, line_r, len_r);
}

int
net_client_write(struct net_client *c, const void *data, size_t n)
{
	return bufferevent_write(c->bev, data, n) == 0 ? 0 : -1;
}

int
net_client_starttls(struct net_client *c, SSL_CTX *ctx, const char *sni)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct bufferevent *tls;
	SSL *ssl;

	if (c->is_tls || ctx == NULL || (ssl = SSL_new(ctx)) == NULL)
		return -1;
	if (sni != NULL)
		SSL_set_tlsext_host_name(ssl, sni);
	/* Nothing said in clear after "220 go ahead" may count as TLS. */
	evbuffer_drain(in, evbuffer_get_length(in));
	tls = bufferevent_openssl_filter_new(
	    bufferevent_get_base(c->bev), c->bev, ssl,
	    BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (tls == NULL) {
		SSL_free(ssl);
		return -1;
	}
	c->handshaking = true;
	net_client_setup(c, tls);
	return 0;
}

bool
net_client_is_tls(const struct net_client *c)
{
	return c->is_tls;
}

void
net_client_tls_describe(struct net_client *c, char *out, size_t size)
{
	SSL *ssl = c->is_tls ? bufferevent_openssl_get_ssl(c->bev) : NULL;

	if (ssl == NULL) {
		snprintf(out, size, "%s", "");
		return;
	}
	tls_describe(ssl, out, size);
}

SSL_CTX *
net_client_tls_ctx_new(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx,
	                    SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	/* Opportunistic (RFC 7435): any certificate beats plaintext. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
}

void
net_client_free(struct net_client **cp)
{
	struct net_client *c = *cp;

	if (c == NULL)
		return;
	/* With a TLS filter this frees the plain bufferevent under it too. */
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	free(c);
	*cp = NULL;
}
