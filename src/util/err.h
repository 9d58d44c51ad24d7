/*
 * err: the error value that crosses layer boundaries.
 *
 * Store, auth and config return -1 and fill a struct err; each protocol maps
 * the kind to its own reply once (smtp, imap, pop3 reply tables).  The
 * message is for logs and operators; protocols show clients a generic text
 * unless the kind is meant for them (QUOTA, LIMIT, SYNTAX, NOTFOUND, EXISTS).
 */
#ifndef POSTAMT_UTIL_ERR_H
#define POSTAMT_UTIL_ERR_H

enum err_kind {
	ERR_OK = 0,
	ERR_TEMP,     /* try again later */
	ERR_PERM,     /* will never work */
	ERR_NOTFOUND, /* no such user, mailbox, message */
	ERR_EXISTS,   /* already there */
	ERR_QUOTA,    /* over quota */
	ERR_LIMIT,    /* a configured limit was exceeded */
	ERR_SYNTAX,   /* malformed input */
	ERR_IO,       /* the disk or the network failed */
	ERR_INTERNAL, /* a bug or an impossible state */
};

struct err {
	enum err_kind kind;
	char msg[256];
};

/* Fills e (if not NULL) and returns -1, so callers can "return err_set(...)".
 */
int err_set(struct err *e, enum err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears e to ERR_OK with an empty message. */
void err_clear(struct err *e);

/* A short lower-case name of the kind, for logs ("quota", "io", ...). */
const char *err_kind_name(enum err_kind kind);

#endif
