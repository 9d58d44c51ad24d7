/*
 * pop3 lock: who holds a POP3 maildrop right now (RFC 1939 4, RFC 2449
 * 8.1.1).  A POP3 session numbers the messages it saw at login and applies
 * DELE at QUIT; a second POP3 session on the same maildrop would see the
 * same numbers and race it, so it is refused with [IN-USE].  IMAP sessions
 * never take this lock: they see POP3's changes through the store.
 *
 * The same table enforces LOGIN-DELAY (RFC 2449 6.5, 8.1.1): it keeps
 * the time of each user's last login for login_delay seconds after it,
 * and a login sooner than that is refused.
 *
 * One table per server, created by `postamt serve` and reached through
 * struct services; safe to use from several event loop threads.
 */
#ifndef POSTAMT_POP3_LOCK_H
#define POSTAMT_POP3_LOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct pop3_locks;

/*
 * Creates an empty table; logins of one user closer together than
 * login_delay seconds are refused (0: never).  Returns 0, or -1 when out
 * of memory.
 */
int pop3_locks_new(struct pop3_locks **locks_r, uint64_t login_delay);

/* Frees the table (held locks are forgotten) and sets *locks to NULL. */
void pop3_locks_free(struct pop3_locks **locks);

enum pop3_lock_result {
	POP3_LOCK_OK,       /* the caller holds the lock now */
	POP3_LOCK_IN_USE,   /* another session holds it */
	POP3_LOCK_TOO_SOON, /* the last login was under login_delay ago */
	POP3_LOCK_NOMEM,    /* out of memory: nothing changed */
};

/*
 * Takes the lock of the maildrop of user (a canonical address; compared
 * byte for byte) at time now, which counts as its last login.  Release it
 * with pop3_locks_release() exactly once.
 */
enum pop3_lock_result pop3_locks_acquire(struct pop3_locks *locks,
                                         const char *user, time_t now);

/* Releases a lock taken by pop3_locks_acquire(); unknown names are ignored. */
void pop3_locks_release(struct pop3_locks *locks, const char *user);

/* How many maildrops are locked (for tests and metrics). */
size_t pop3_locks_count(struct pop3_locks *locks);

/* How many names the table keeps, locked or inside their delay or not
 * yet pruned (for tests and metrics). */
size_t pop3_locks_size(struct pop3_locks *locks);

#endif
