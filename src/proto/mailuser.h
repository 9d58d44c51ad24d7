/*
 * mailuser: opening a user's mail the way every protocol should: the
 * store handle plus the limits the accounts database holds for the user.
 */
#ifndef POSTAMT_PROTO_MAILUSER_H
#define POSTAMT_PROTO_MAILUSER_H

#include "proto/services.h"
#include "store/store.h"
#include "util/err.h"

/*
 * Opens user's mail (store_user_open()) and sets its quota from
 * auth_user_info() (quota_bytes, quota_messages).  Returns 0 with *u_r set,
 * or -1 with *err filled (*u_r NULL): ERR_NOTFOUND for an unknown user.
 * Close with store_user_close().  Opening is cheap enough to do for every
 * delivery: the store keeps closed handles ready (embedded_pool.c).
 */
int mailuser_open(struct services *svc, const char *user,
                  struct store_user **u_r, struct err *err);

#endif
