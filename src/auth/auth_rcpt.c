/*
 * auth_rcpt: which local user receives mail for a recipient address.
 *
 * Aliases and catch-alls will be resolved here too, before the +detail
 * rule, once the aliases table exists.
 */
#include "auth/auth_private.h"

#include <stdlib.h>
#include <string.h>

/*
 * Sets *exists_r if address is a user, active or not: a disabled login
 * still receives mail.
 */
static int
auth_user_exists(struct auth *a, const char *address, bool *exists_r,
                 struct err *err)
{
	const char *args[] = {address, NULL};
	char *found = NULL;
	int r;

	pthread_mutex_lock(&a->lock);
	r = auth_db_query(a, "SELECT address FROM users WHERE address = ?1",
	                  args, &found, err);
	pthread_mutex_unlock(&a->lock);
	*exists_r = found != NULL;
	free(found);
	return r;
}

/*
 * Writes to base the address without its +detail (user+tag@d -> user@d).
 * False if the local part has no '+' or nothing before it.
 */
static bool
auth_rcpt_strip_detail(const char *addr, char *base)
{
	const char *at = strchr(addr, '@');
	const char *plus = memchr(addr, '+', (size_t)(at - addr));

	if (plus == NULL || plus == addr)
		return false;
	/* Fits: base has room for addr, and the result is shorter. */
	memcpy(base, addr, (size_t)(plus - addr));
	memcpy(base + (plus - addr), at, strlen(at) + 1);
	return true;
}

int
auth_resolve_rcpt(struct auth *a, const char *address, char **user_r,
                  struct err *err)
{
	char addr[AUTH_ADDRESS_MAX + 1], base[AUTH_ADDRESS_MAX + 1];
	const char *user = addr;
	bool exists;

	*user_r = NULL;
	if (auth_address_normalize(address, addr, err) < 0)
		return -1;
	if (!auth_domain_is_local(a, strchr(addr, '@') + 1))
		return err_set(err, ERR_PERM, "%s is not a local domain",
		               strchr(addr, '@') + 1);
	if (auth_user_exists(a, addr, &exists, err) < 0)
		return -1;
	/* The exact address wins, so "a+b@d" can be a user of its own. */
	if (!exists && auth_rcpt_strip_detail(addr, base)) {
		if (auth_user_exists(a, base, &exists, err) < 0)
			return -1;
		user = base;
	}
	if (!exists)
		return err_set(err, ERR_NOTFOUND, "no user %s", addr);
	*user_r = strdup(user);
	if (*user_r == NULL)
		return err_set(err, ERR_TEMP, "accounts: out of memory");
	return 0;
}
