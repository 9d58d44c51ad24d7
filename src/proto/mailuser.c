/*
 * mailuser: a store handle with the account's quota applied.
 */
#include "proto/mailuser.h"

#include "auth/auth.h"

int
mailuser_open(struct services *svc, const char *user, struct store_user **u_r,
              struct err *err)
{
	struct auth_user_info info;

	*u_r = NULL;
	/* Limits first: a handle never exists without its quota. */
	if (auth_user_info(svc->auth, user, &info, err) < 0)
		return -1;
	if (store_user_open(svc->store, user, u_r, err) < 0)
		return -1;
	store_user_set_quota(*u_r, info.quota_bytes, info.quota_messages);
	return 0;
}
