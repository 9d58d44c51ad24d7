/*
 * smtp relay: the SMTP client that hands one queued message to the next
 * hop (RFC 5321 as a client): EHLO, opportunistic STARTTLS (RFC 3207,
 * RFC 7435), MAIL, one RCPT per recipient, DATA with dot-stuffing, QUIT.
 */
#ifndef POSTAMT_SMTP_RELAY_H
#define POSTAMT_SMTP_RELAY_H

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

typedef void smtp_relay_done_fn(void *arg);

struct smtp_relay_params {
	struct event_base *base;
	struct evdns_base *dns; /* NULL: host must be an address literal */
	SSL_CTX *tls;           /* client context; NULL: never STARTTLS */
	const char *helo;       /* our name for EHLO */
	const char *host;
	int port;
};

/*
 * Starts delivering the recipients of m with status SMTP_RCPT_PENDING.
 * When the attempt is over, every such recipient has a status (OK, TEMP or
 * PERM) and a reply text, and done(arg) is called once; the caller then
 * frees the relay (also from inside done).  m must stay valid until then.
 * Returns -1 with err if the attempt cannot even start.
 */
int smtp_relay_start(const struct smtp_relay_params *p,
                     struct smtp_queue_msg *m, smtp_relay_done_fn *done,
                     void *arg, struct smtp_relay **r_r, struct err *err);

/* Abandons an attempt (if still running) and frees the relay. */
void smtp_relay_free(struct smtp_relay **r);

#endif
