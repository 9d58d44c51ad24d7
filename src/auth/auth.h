/*
 * auth: accounts, domains and passwords, kept in DATA/accounts.db.
 *
 * Passwords are hashed with libxcrypt (yescrypt by default; bcrypt and
 * SHA512-CRYPT hashes verify too).  Addresses are stored lower-cased.
 * Functions return 0 on success or -1 with *err filled.
 */
#ifndef POSTAMT_AUTH_AUTH_H
#define POSTAMT_AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

struct auth;

/* Opens (creating the schema if needed) data_dir/accounts.db. */
int auth_open(const char *data_dir, struct auth **auth_r, struct err *err);
void auth_close(struct auth **auth);

/* Adds a local domain (lower-cased).  ERR_EXISTS if already there. */
int auth_domain_add(struct auth *a, const char *domain, struct err *err);

/* True if domain is served here. */
bool auth_domain_is_local(struct auth *a, const char *domain);

/*
 * Adds a user.  The address's domain becomes local if it was not.
 * ERR_EXISTS if the user exists, ERR_SYNTAX for an invalid address.
 */
int auth_user_add(struct auth *a, const char *address, const char *password,
                  struct err *err);
int auth_user_del(struct auth *a, const char *address, struct err *err);
int auth_user_passwd(struct auth *a, const char *address, const char *password,
                     struct err *err);

/* Calls fn for every user address, in order. */
int auth_user_list(struct auth *a, void (*fn)(const char *address, void *arg),
                   void *arg, struct err *err);

/*
 * Checks a login.  Returns 0 if address exists, is active and password
 * matches; otherwise -1 with ERR_PERM (wrong user or password: callers must
 * not tell which) or another kind for real failures.  Blocks for the time
 * of one hash (yescrypt: tens of milliseconds).
 */
int auth_verify(struct auth *a, const char *address, const char *password,
                struct err *err);

/*
 * Resolves a recipient address to the local user who receives its mail.
 * *user_r is malloc()ed.  ERR_NOTFOUND if the domain is local but there is
 * no such user; ERR_PERM if the domain is not local (relaying).
 */
int auth_resolve_rcpt(struct auth *a, const char *address, char **user_r,
                      struct err *err);

/* The longest address (RFC 5321 4.5.3.1.3: a path is 256 octets with <>). */
#define AUTH_ADDRESS_MAX 254

/*
 * Checks an address and writes it lower-cased (ASCII letters only) to out,
 * which has room for AUTH_ADDRESS_MAX + 1 bytes.  Valid: exactly one '@',
 * non-empty local part and domain, no spaces or control characters, at
 * most AUTH_ADDRESS_MAX bytes.  Returns 0 or -1 with ERR_SYNTAX.
 */
int auth_address_normalize(const char *address, char *out, struct err *err);

/* Writes a random password of about 20 readable characters (NUL included). */
int auth_generate_password(char *out, size_t size);

#endif
