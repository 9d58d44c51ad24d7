/*
 * services: what every protocol session reaches besides its connection.
 * One per server, created by `postamt serve`, read-only for sessions.
 */
#ifndef POSTAMT_PROTO_SERVICES_H
#define POSTAMT_PROTO_SERVICES_H

struct store;
struct auth;
struct pop3_locks;

struct services {
	struct store *store;
	struct auth *auth;
	/* Who holds a POP3 maildrop (pop3/lock.h); NULL: no locking. */
	struct pop3_locks *pop3_locks;
};

#endif
