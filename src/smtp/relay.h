/*
 * smtp relay: the SMTP client that hands queued messages to the next hop
 * (RFC 5321 as a client): EHLO, opportunistic STARTTLS (RFC 3207, RFC
 * 7435), then per message MAIL, one RCPT per recipient, DATA with
 * dot-stuffing; RSET between messages where a transaction was left open,
 * QUIT at the end.
 */
#ifndef POSTAMT_SMTP_RELAY_H
#define POSTAMT_SMTP_RELAY_H

#include <stdbool.h>

#include <openssl/ssl.h>

#include "smtp/queue.h"

struct event_base;
struct evdns_base;
struct smtp_relay;

/*
 * RFC 5321 4.5.3.2 asks a client to wait minutes, not seconds: 5 minutes
 * for the greeting and most replies, 10 for the reply to the final dot.
 * One value, the larger, bounds every wait.
 */
#define SMTP_RELAY_TIMEOUT_SECS 600
/* Longest reply line taken from a server, and lines per reply. */
#define SMTP_RELAY_LINE_MAX 2048
#define SMTP_RELAY_REPLY_LINES_MAX 100
/*
 * After its last transaction a connection waits this long for another
 * message to the same destination before it sends QUIT.
 */
#define SMTP_RELAY_IDLE_SECS 5

/* Hosts (MX addresses) one connection tries in turn. */
#define SMTP_RELAY_HOSTS_MAX 16

/* One transaction (one message) is settled; see smtp_relay_add(). */
typedef void smtp_relay_done_fn(void *arg);
/* The connection is over (QUIT done or failed); the owner frees it. */
typedef void smtp_relay_closed_fn(void *arg);

struct smtp_relay_params {
	struct event_base *base;
	struct evdns_base *dns; /* NULL: hosts must be address literals */
	SSL_CTX *tls;           /* client context; NULL: never STARTTLS */
	const char *helo;       /* our name for EHLO */
	/*
	 * Where to connect, in order of preference (the MX hosts' addresses
	 * or the relay_host): the next one is tried when a connection cannot
	 * be made or the server turns us away before the first MAIL (RFC
	 * 5321 5.1).  1 to SMTP_RELAY_HOSTS_MAX entries.
	 */
	const char *const *hosts;
	size_t nhosts;
	int port;
};

/*
 * Opens a connection (asynchronously) that delivers the transactions added
 * with smtp_relay_add() one after the other, as RFC 5321 3.3 allows: the
 * reuse of one session for several messages to the same destination.
 * closed(arg) is called once, from its own event, when the connection is
 * over; every transaction has been settled by then.  Returns -1 with err
 * if nothing can start.
 */
int smtp_relay_new(const struct smtp_relay_params *p,
                   smtp_relay_closed_fn *closed, void *arg,
                   struct smtp_relay **r_r, struct err *err);

/*
 * True while the connection takes new transactions: not failed, not
 * quitting.  A relay idle for longer than SMTP_RELAY_IDLE_SECS quits.
 */
bool smtp_relay_is_open(const struct smtp_relay *r);

/*
 * Queues a transaction: the recipients of m with status SMTP_RCPT_PENDING
 * for which mine[i] is true (mine NULL: all).  When it is over each of
 * them has a status (OK, TEMP or PERM) and a reply text, and done(arg)
 * runs once from its own event.  m and mine must stay valid until then.
 * Returns -1 if the relay is not open or memory runs out.
 */
int smtp_relay_add(struct smtp_relay *r, struct smtp_queue_msg *m,
                   const bool *mine, smtp_relay_done_fn *done, void *arg);

/* Forgets the transactions of arg without calling their done(). */
void smtp_relay_cancel(struct smtp_relay *r, void *arg);

/* Transactions this connection has completed (for logs and tests). */
unsigned smtp_relay_count(const struct smtp_relay *r);

/* Abandons the connection (no callback runs) and frees the relay. */
void smtp_relay_free(struct smtp_relay **r);

#endif
