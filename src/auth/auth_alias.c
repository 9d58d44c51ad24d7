/*
 * auth_alias: aliases (address -> local users), per-domain catch-alls
 * ("@domain"), recipient expansion, sender ownership, and domain removal
 * and listing.  The aliases table is schema 2 (auth.c).
 */
#include "auth/auth_private.h"

#include <stdlib.h>
#include <string.h>

/*
 * Runs sql with text args and appends the first ncols columns of every
 * row to *list (n entries per row, so *count_r grows by ncols per row),
 * up to max rows.  Call with the lock held.
 */
static int
alias_collect(struct auth *a, const char *sql, const char *const *args,
              int ncols, size_t max, char ***list, size_t *count_r,
              struct err *err)
{
	sqlite3_stmt *st;
	size_t rows = 0;
	int rc = SQLITE_OK;

	if (auth_db_prepare(a, sql, args, &st, err) < 0)
		return -1;
	while (rows < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		char **l =
		    realloc(*list, (*count_r + (size_t)ncols) * sizeof(**list));

		if (l == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		*list = l;
		for (int c = 0; c < ncols; c++) {
			const unsigned char *t = sqlite3_column_text(st, c);

			l[(*count_r)++] =
			    strdup(t != NULL ? (const char *)t : "");
		}
		rows++;
	}
	auth_db_done(a, st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return auth_db_error(a, rc, "query", err);
	for (size_t i = 0; i < *count_r; i++)
		if ((*list)[i] == NULL)
			return err_set(err, ERR_TEMP,
			               "accounts: out of memory");
	return 0;
}

void
auth_users_free(char **users, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(users[i]);
	free(users);
}

/* Normalizes an alias address: "local@domain" or "@domain". */
static int
alias_normalize(const char *address, char *out, struct err *err)
{
	char tmp[AUTH_ADDRESS_MAX + 2];

	if (address[0] != '@')
		return auth_address_normalize(address, out, err);
	/* A catch-all: check it as "x@domain", keep it without the x. */
	if (strlen(address) + 1 > AUTH_ADDRESS_MAX)
		return err_set(err, ERR_SYNTAX, "address too long");
	tmp[0] = 'x';
	memcpy(tmp + 1, address, strlen(address) + 1);
	if (auth_address_normalize(tmp, out, err) < 0)
		return -1;
	memmove(out, out + 1, strlen(out));
	return 0;
}

int
auth_alias_add(struct auth *a, const char *address, const char *target,
               struct err *err)
{
	char addr[AUTH_ADDRESS_MAX + 1], to[AUTH_ADDRESS_MAX + 1];
	const char *args[] = {addr, to, NULL};
	char *found = NULL;
	int r;

	if (alias_normalize(address, addr, err) < 0 ||
	    auth_address_normalize(target, to, err) < 0)
		return -1;
	if (!auth_domain_is_local(a, strchr(addr, '@') + 1))
		return err_set(err, ERR_NOTFOUND,
		               "%s is not a local domain; add it with "
		               "`postamt domain add`",
		               strchr(addr, '@') + 1);
	pthread_mutex_lock(&a->lock);
	r = auth_db_query(a, "SELECT address FROM users WHERE address = ?2",
	                  args, &found, err);
	if (r == 0 && found == NULL)
		r = err_set(err, ERR_NOTFOUND, "no user %s", to);
	if (r == 0)
		r = auth_db_exec(a,
		                 "INSERT INTO aliases(address, target) "
		                 "VALUES (?1, ?2)",
		                 args, NULL, err);
	pthread_mutex_unlock(&a->lock);
	free(found);
	if (r < 0 && err != NULL && err->kind == ERR_EXISTS)
		err_set(err, ERR_EXISTS, "alias %s -> %s already exists", addr,
		        to);
	return r;
}

int
auth_alias_del(struct auth *a, const char *address, const char *target,
               struct err *err)
{
	char addr[AUTH_ADDRESS_MAX + 1], to[AUTH_ADDRESS_MAX + 1];
	const char *args[] = {addr, to, NULL};
	int r, changes = 0;

	if (alias_normalize(address, addr, err) < 0 ||
	    (target != NULL && auth_address_normalize(target, to, err) < 0))
		return -1;
	if (target == NULL)
		args[1] = NULL;
	pthread_mutex_lock(&a->lock);
	r = auth_db_exec(a,
	                 target != NULL
	                     ? "DELETE FROM aliases WHERE address = ?1 AND "
	                       "target = ?2"
	                     : "DELETE FROM aliases WHERE address = ?1",
	                 args, &changes, err);
	pthread_mutex_unlock(&a->lock);
	if (r == 0 && changes == 0)
		return err_set(err, ERR_NOTFOUND, "no alias %s%s%s", addr,
		               target != NULL ? " -> " : "",
		               target != NULL ? to : "");
	return r;
}

int
auth_alias_list(struct auth *a,
                void (*fn)(const char *address, const char *target, void *arg),
                void *arg, struct err *err)
{
	char **list = NULL;
	size_t n = 0;
	int r;

	pthread_mutex_lock(&a->lock);
	r = alias_collect(a,
	                  "SELECT address, target FROM aliases "
	                  "ORDER BY address, target",
	                  NULL, 2, SIZE_MAX, &list, &n, err);
	pthread_mutex_unlock(&a->lock);
	for (size_t i = 0; r == 0 && i + 1 < n; i += 2)
		fn(list[i], list[i + 1], arg);
	auth_users_free(list, n);
	return r;
}

/*
 * Looks addr up as a user, then as an alias whose targets are still users
 * (a deleted user's aliases deliver nowhere).  Lock held.
 */
static int
alias_lookup(struct auth *a, const char *addr, char ***list, size_t *n,
             struct err *err)
{
	const char *args[] = {addr, NULL};

	if (alias_collect(a, "SELECT address FROM users WHERE address = ?1",
	                  args, 1, 1, list, n, err) < 0)
		return -1;
	if (*n > 0)
		return 0;
	return alias_collect(a,
	                     "SELECT a.target FROM aliases a JOIN users u"
	                     " ON u.address = a.target WHERE a.address = ?1"
	                     " ORDER BY a.target",
	                     args, 1, AUTH_RCPT_USERS_MAX, list, n, err);
}

/* user+tag@d -> user@d into base; false if there is no +detail. */
static bool
alias_strip_detail(const char *addr, char *base)
{
	const char *at = strchr(addr, '@');
	const char *plus = memchr(addr, '+', (size_t)(at - addr));

	if (plus == NULL || plus == addr)
		return false;
	memcpy(base, addr, (size_t)(plus - addr));
	memcpy(base + (plus - addr), at, strlen(at) + 1);
	return true;
}

int
auth_resolve_rcpt_all(struct auth *a, const char *address, char ***users_r,
                      size_t *count_r, struct err *err)
{
	char addr[AUTH_ADDRESS_MAX + 1], base[AUTH_ADDRESS_MAX + 1];
	char **list = NULL;
	size_t n = 0;
	int r;

	*users_r = NULL;
	*count_r = 0;
	if (auth_address_normalize(address, addr, err) < 0)
		return -1;
	if (!auth_domain_is_local(a, strchr(addr, '@') + 1))
		return err_set(err, ERR_PERM, "%s is not a local domain",
		               strchr(addr, '@') + 1);
	pthread_mutex_lock(&a->lock);
	r = alias_lookup(a, addr, &list, &n, err);
	if (r == 0 && n == 0 && alias_strip_detail(addr, base))
		r = alias_lookup(a, base, &list, &n, err);
	if (r == 0 && n == 0) /* the catch-all "@domain" */
		r = alias_lookup(a, strchr(addr, '@'), &list, &n, err);
	pthread_mutex_unlock(&a->lock);
	if (r == 0 && n == 0)
		r = err_set(err, ERR_NOTFOUND, "no user %s", addr);
	if (r < 0) {
		auth_users_free(list, n);
		return -1;
	}
	*users_r = list;
	*count_r = n;
	return 0;
}

/* True if the alias address -> user exists.  Lock held. */
static bool
alias_pair_exists(struct auth *a, const char *address, const char *user)
{
	const char *args[] = {address, user, NULL};
	char *found = NULL;
	bool yes;

	yes = auth_db_query(a,
	                    "SELECT target FROM aliases WHERE address = ?1 "
	                    "AND target = ?2",
	                    args, &found, NULL) == 0 &&
	      found != NULL;
	free(found);
	return yes;
}

bool
auth_address_is_owned(struct auth *a, const char *user, const char *address)
{
	char u[AUTH_ADDRESS_MAX + 1], addr[AUTH_ADDRESS_MAX + 1];
	char base[AUTH_ADDRESS_MAX + 1];
	bool has_base, yes;

	if (auth_address_normalize(user, u, NULL) < 0 ||
	    auth_address_normalize(address, addr, NULL) < 0)
		return false;
	has_base = alias_strip_detail(addr, base);
	if (strcmp(u, addr) == 0 || (has_base && strcmp(u, base) == 0))
		return true;
	pthread_mutex_lock(&a->lock);
	yes = alias_pair_exists(a, addr, u) ||
	      (has_base && alias_pair_exists(a, base, u));
	pthread_mutex_unlock(&a->lock);
	return yes;
}

int
auth_domain_del(struct auth *a, const char *domain, struct err *err)
{
	const char *args[] = {domain, NULL};
	char *used = NULL;
	int r, changes = 0;

	pthread_mutex_lock(&a->lock);
	r = auth_db_query(
	    a,
	    "SELECT address FROM users WHERE lower(substr(address,"
	    " instr(address, '@') + 1)) = lower(?1) UNION ALL "
	    "SELECT address FROM aliases WHERE lower(substr("
	    "address, instr(address, '@') + 1)) = lower(?1) "
	    "LIMIT 1",
	    args, &used, err);
	if (r == 0 && used != NULL)
		r = err_set(err, ERR_EXISTS,
		            "domain %s still has users or aliases (%s); "
		            "delete them first",
		            domain, used);
	if (r == 0)
		r = auth_db_exec(a,
		                 "DELETE FROM domains WHERE name = lower(?1)",
		                 args, &changes, err);
	pthread_mutex_unlock(&a->lock);
	free(used);
	if (r == 0 && changes == 0)
		return err_set(err, ERR_NOTFOUND, "no domain %s", domain);
	return r;
}

int
auth_domain_list(struct auth *a, void (*fn)(const char *domain, void *arg),
                 void *arg, struct err *err)
{
	char **list = NULL;
	size_t n = 0;
	int r;

	pthread_mutex_lock(&a->lock);
	r = alias_collect(a, "SELECT name FROM domains ORDER BY name", NULL, 1,
	                  SIZE_MAX, &list, &n, err);
	pthread_mutex_unlock(&a->lock);
	for (size_t i = 0; r == 0 && i < n; i++)
		fn(list[i], arg);
	auth_users_free(list, n);
	return r;
}
