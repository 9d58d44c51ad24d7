/*
 * smtp mx: where to deliver mail for a domain (RFC 5321 5.1), looked up
 * asynchronously with libunbound on the event loop: the MX records in
 * preference order, each host's A and AAAA addresses, the domain itself
 * when it has no MX (the "implicit MX"), and the null MX of RFC 7505.
 *
 * Built without libunbound (POSTAMT_HAVE_UNBOUND undefined),
 * smtp_mx_new() fails and the queue keeps such mail deferred.
 */
#ifndef POSTAMT_SMTP_MX_H
#define POSTAMT_SMTP_MX_H

#include <stddef.h>

#include "smtp/relay.h"
#include "util/err.h"

struct event_base;
struct smtp_mx;
struct smtp_mx_query;

/* MX hosts looked at per domain; the rest are ignored. */
#define SMTP_MX_HOSTS_MAX 8

enum smtp_mx_status {
	SMTP_MX_OK,   /* addrs holds at least one address */
	SMTP_MX_TEMP, /* try again later (SERVFAIL, timeout, no address yet) */
	SMTP_MX_PERM, /* the domain does not exist or takes no mail */
};

struct smtp_mx_result {
	enum smtp_mx_status status;
	/* For TEMP and PERM: an SMTP-style reply for logs and DSNs. */
	char why[512];
	/* For OK: address literals, best first (at most the relay's max). */
	char *addrs[SMTP_RELAY_HOSTS_MAX];
	size_t naddrs;
};

/* The lookup is over; res and its strings live only during the call. */
typedef void smtp_mx_done_fn(void *arg, const struct smtp_mx_result *res);

/*
 * Creates the resolver on base.  resolver is "address[@port]" of the DNS
 * server to ask (a forwarder), or NULL for the servers of /etc/resolv.conf.
 * Returns -1 with err if libunbound is missing or fails.
 */
int smtp_mx_new(struct event_base *base, const char *resolver,
                struct smtp_mx **mx_r, struct err *err);

/*
 * Starts looking up domain; done(arg, res) follows once, from the event
 * loop, unless the query is cancelled first.  *q_r stays valid until done()
 * is called or smtp_mx_cancel().  Returns -1 with err if it cannot start.
 */
int smtp_mx_lookup(struct smtp_mx *mx, const char *domain,
                   smtp_mx_done_fn *done, void *arg, struct smtp_mx_query **q_r,
                   struct err *err);

/* Stops a query in flight (done() is not called); *q becomes NULL. */
void smtp_mx_cancel(struct smtp_mx_query **q);

/* Cancels every query and frees the resolver. */
void smtp_mx_free(struct smtp_mx **mx);

#endif
