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
 * Close with store_user_close().
 */
int mailuser_open(struct services *svc, const char *user,
                  struct store_user **u_r, struct err *err);

/*
 * A pool of open handles for deliveries, so an SMTP delivery does not open
 * the user's index (SQLite open, pragmas, schema check: about a third of a
 * delivery's CPU) every time.  Handles are kept only between uses, at most
 * MAILUSER_POOL_MAX in all and MAILUSER_POOL_IDLE_SECS each; safe to use
 * from several threads.
 */
#define MAILUSER_POOL_MAX 64
#define MAILUSER_POOL_IDLE_SECS 30

struct mailuser_pool;

struct mailuser_pool *mailuser_pool_new(void);
/* Closes every pooled handle. */
void mailuser_pool_free(struct mailuser_pool **pool);

/*
 * Like mailuser_open(), taking an idle handle of user from the pool when
 * there is one (its quota is read again).  svc->mailusers may be NULL:
 * then it is mailuser_open().
 */
int mailuser_acquire(struct services *svc, const char *user,
                     struct store_user **u_r, struct err *err);

/* Gives *u back to the pool (or closes it) and sets *u to NULL. */
void mailuser_release(struct services *svc, const char *user,
                      struct store_user **u);

#endif
