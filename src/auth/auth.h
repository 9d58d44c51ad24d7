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
#include <stdint.h>

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

/* ---- Aliases and domains (auth_alias.c) ---- */

/* Most users one recipient may expand to (an alias with many targets). */
#define AUTH_RCPT_USERS_MAX 100

/*
 * Adds an alias: mail for address goes to the local user target.  address
 * is "local@domain", or "@domain" for the domain's catch-all (used when no
 * user or alias matches).  Several targets per address are allowed (one
 * call each).  ERR_NOTFOUND if the domain is not local or target is not a
 * user, ERR_EXISTS if that pair exists, ERR_SYNTAX for a bad address.
 */
int auth_alias_add(struct auth *a, const char *address, const char *target,
                   struct err *err);

/*
 * Removes the alias address -> target, or every target of address when
 * target is NULL.  ERR_NOTFOUND if nothing matched.
 */
int auth_alias_del(struct auth *a, const char *address, const char *target,
                   struct err *err);

/* Calls fn for every alias pair, ordered by address then target. */
int auth_alias_list(struct auth *a,
                    void (*fn)(const char *address, const char *target,
                               void *arg),
                    void *arg, struct err *err);

/*
 * Resolves a recipient to every local user that receives its mail: a user
 * itself, else an alias, else the same two without a +detail, else the
 * domain's catch-all.  *users_r is a malloc()ed array of *count_r
 * malloc()ed addresses (free with auth_users_free()); at most
 * AUTH_RCPT_USERS_MAX.  Errors as auth_resolve_rcpt().
 */
int auth_resolve_rcpt_all(struct auth *a, const char *address, char ***users_r,
                          size_t *count_r, struct err *err);
void auth_users_free(char **users, size_t count);

/*
 * True if user may send as address: it is the user's own address (with or
 * without a +detail) or an alias (not a catch-all) that has user as a
 * target.  For submission's sender_must_match.
 */
bool auth_address_is_owned(struct auth *a, const char *user,
                           const char *address);

/* Removes a local domain.  ERR_EXISTS while users or aliases remain. */
int auth_domain_del(struct auth *a, const char *domain, struct err *err);

/* Calls fn for every local domain, in order. */
int auth_domain_list(struct auth *a, void (*fn)(const char *domain, void *arg),
                     void *arg, struct err *err);

/* The longest address (RFC 5321 4.5.3.1.3: a path is 256 octets with <>). */
#define AUTH_ADDRESS_MAX 254

/*
 * Checks an address and writes it lower-cased (ASCII letters only) to out,
 * which has room for AUTH_ADDRESS_MAX + 1 bytes.  Valid: exactly one '@',
 * non-empty local part and domain, no spaces or control characters, at
 * most AUTH_ADDRESS_MAX bytes.  Returns 0 or -1 with ERR_SYNTAX.
 */
int auth_address_normalize(const char *address, char *out, struct err *err);

/* What a download over POP3 does to the server's copy (issue: POP3). */
enum auth_pop3_after_retrieve {
	AUTH_POP3_KEEP,      /* leave it as it is (default) */
	AUTH_POP3_MARK_READ, /* set \Seen */
	AUTH_POP3_ARCHIVE,   /* move it to the Archive mailbox */
};

/* What POP3 DELE + QUIT does. */
enum auth_pop3_on_delete {
	AUTH_POP3_EXPUNGE, /* remove it (default, RFC 1939) */
	AUTH_POP3_TRASH,   /* move it to Trash, recoverable over IMAP */
};

/* A user's settings, as `postamt user set` changes them. */
struct auth_user_info {
	bool active; /* may log in (mail is still received if not) */
	bool imap;   /* protocols this user may log in with */
	bool pop3;
	bool submission;
	uint64_t quota_bytes;    /* 0: no limit */
	uint64_t quota_messages; /* 0: no limit */
	enum auth_pop3_after_retrieve pop3_after_retrieve;
	enum auth_pop3_on_delete pop3_on_delete;
	bool save_sent; /* submission stores a copy in Sent */
};

/* Reads the settings of an existing user (ERR_NOTFOUND otherwise). */
int auth_user_info(struct auth *a, const char *address,
                   struct auth_user_info *info_r, struct err *err);

/*
 * Changes one setting: active, imap, pop3, submission, save_sent (yes/no),
 * quota (a size: 500M), quota_messages (a number), pop3_after_retrieve
 * (keep, mark-read, archive), pop3_on_delete (expunge, trash).
 * ERR_SYNTAX for an unknown key or a bad value, ERR_NOTFOUND for an
 * unknown user.
 */
int auth_user_set(struct auth *a, const char *address, const char *key,
                  const char *value, struct err *err);

/* The keys auth_user_set() knows, NULL-terminated, for help texts. */
extern const char *const auth_user_setting_keys[];

/* Writes a random password of about 20 readable characters (NUL included). */
int auth_generate_password(char *out, size_t size);

/*
 * Adds a user with a password hash taken as it is (an import from another
 * server): any crypt(3) string libxcrypt verifies ("$y$", "$2b$", "$6$",
 * "$5$", "$1$", DES).  ERR_SYNTAX for a hash it cannot use.  The user has
 * no SCRAM keys until the password is set again.  Otherwise as
 * auth_user_add().
 */
int auth_user_add_hash(struct auth *a, const char *address, const char *hash,
                       struct err *err);

/* ---- SCRAM-SHA-256 keys (auth_scram.c; RFC 5802 3, RFC 7677) ---- */

#define AUTH_SCRAM_KEY_LEN 32  /* SHA-256 output */
#define AUTH_SCRAM_SALT_LEN 16 /* salt made for new keys */
#define AUTH_SCRAM_SALT_MAX 64 /* longest salt we keep */
/* RFC 7677 4: at least 4096 iterations of PBKDF2. */
#define AUTH_SCRAM_ITERATIONS 4096

/* What the server keeps instead of the password (RFC 5802 3). */
struct auth_scram_keys {
	unsigned char salt[AUTH_SCRAM_SALT_MAX];
	size_t salt_len;
	unsigned iterations;
	unsigned char stored_key[AUTH_SCRAM_KEY_LEN]; /* H(ClientKey) */
	unsigned char server_key[AUTH_SCRAM_KEY_LEN];
};

/*
 * Derives the keys of password with salt and iterations:
 * SaltedPassword = PBKDF2-HMAC-SHA-256, ClientKey = HMAC(SP, "Client Key"),
 * StoredKey = H(ClientKey), ServerKey = HMAC(SP, "Server Key").  The
 * password is used as given (no SASLprep; ASCII passwords are the same
 * either way).  Returns 0, or -1 with ERR_SYNTAX or ERR_INTERNAL.
 */
int auth_scram_derive(const char *password, const unsigned char *salt,
                      size_t salt_len, unsigned iterations,
                      struct auth_scram_keys *keys_r, struct err *err);

/*
 * The SCRAM keys of an active user.  For an unknown or inactive user, or
 * one without keys (created before schema 3 or imported), fills keys that
 * no password matches, with a salt that is stable per address, sets
 * *found_r false and still returns 0: the exchange runs to its end and
 * fails like a wrong password (RFC 5802 9), so it does not tell which
 * addresses exist.  -1 only for a database failure.
 */
int auth_scram_lookup(struct auth *a, const char *address,
                      struct auth_scram_keys *keys_r, bool *found_r,
                      struct err *err);

/* ---- Failed-login throttling (throttle.c) ---- */

/*
 * Named limits, to become config keys (auth_fail_max_per_ip,
 * auth_fail_max_per_user, auth_fail_window, auth_fail_cooldown).
 * AUTH_THROTTLE_IP_MAX failures from one remote address, or
 * AUTH_THROTTLE_USER_MAX for one account (from anywhere), each within
 * AUTH_THROTTLE_WINDOW_SECS of the first, refuse every login from that
 * address or for that account for AUTH_THROTTLE_COOLDOWN_SECS, without
 * checking the password.  The table is bounded (AUTH_THROTTLE_SLOTS).
 */
#define AUTH_THROTTLE_IP_MAX 10
#define AUTH_THROTTLE_USER_MAX 10
#define AUTH_THROTTLE_WINDOW_SECS 600
#define AUTH_THROTTLE_COOLDOWN_SECS 300
#define AUTH_THROTTLE_SLOTS 4096

/* The limits above as set from the configuration (auth_fail_* keys). */
struct auth_throttle_limits {
	uint64_t ip_max;   /* failures per address; 0 turns this off */
	uint64_t user_max; /* failures per account; 0 turns this off */
	uint64_t window_secs;
	uint64_t cooldown_secs;
};

/* Replaces the built-in defaults (AUTH_THROTTLE_*). */
void auth_set_throttle_limits(struct auth *a,
                              const struct auth_throttle_limits *limits);

/*
 * True if logins from ip (conn_remote()) or for address are refused now;
 * *secs_r (if not NULL) gets the seconds left.  Thread-safe.
 */
bool auth_throttle_blocked(struct auth *a, const char *ip, const char *address,
                           unsigned *secs_r);

/* Counts a failed (ok false) or successful login.  Thread-safe. */
void auth_throttle_record(struct auth *a, const char *ip, const char *address,
                          bool ok);

/*
 * A login as the protocols do it: refused with ERR_LIMIT while throttled
 * (without hashing), else auth_verify(), whose outcome is counted.
 * Blocks for one hash: call it on a worker thread.
 */
int auth_login(struct auth *a, const char *ip, const char *address,
               const char *password, struct err *err);

#endif
