/*
 * mailuser: a store handle with the account's quota applied.
 */
#include "proto/mailuser.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

struct pooled {
	struct pooled *next;
	struct store_user *u;
	time_t since; /* when it was given back */
	char user[];
};

struct mailuser_pool {
	pthread_mutex_t lock;
	struct pooled *head; /* most recently given back first */
	size_t count;
};

struct mailuser_pool *
mailuser_pool_new(void)
{
	struct mailuser_pool *p = calloc(1, sizeof(*p));

	if (p != NULL)
		pthread_mutex_init(&p->lock, NULL);
	return p;
}

static void
pooled_free(struct pooled *e)
{
	store_user_close(&e->u);
	free(e);
}

void
mailuser_pool_free(struct mailuser_pool **pp)
{
	struct mailuser_pool *p = *pp;

	if (p == NULL)
		return;
	while (p->head != NULL) {
		struct pooled *e = p->head;
		p->head = e->next;
		pooled_free(e);
	}
	pthread_mutex_destroy(&p->lock);
	free(p);
	*pp = NULL;
}

/* Unlinks and returns the entries past their idle time.  Lock held. */
static struct pooled *
pool_take_stale(struct mailuser_pool *p, time_t now)
{
	struct pooled **pp = &p->head, *stale = NULL, *e;

	while ((e = *pp) != NULL) {
		if (now - e->since < MAILUSER_POOL_IDLE_SECS) {
			pp = &e->next;
			continue;
		}
		*pp = e->next;
		e->next = stale;
		stale = e;
		p->count--;
	}
	return stale;
}

static void
pool_close_list(struct pooled *e)
{
	while (e != NULL) {
		struct pooled *next = e->next;
		pooled_free(e);
		e = next;
	}
}

int
mailuser_acquire(struct services *svc, const char *user,
                 struct store_user **u_r, struct err *err)
{
	struct mailuser_pool *p = svc->mailusers;
	struct auth_user_info info;
	struct pooled **pp, *e = NULL, *stale;

	if (p == NULL)
		return mailuser_open(svc, user, u_r, err);
	pthread_mutex_lock(&p->lock);
	stale = pool_take_stale(p, time(NULL));
	for (pp = &p->head; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->user, user) == 0) {
			e = *pp;
			*pp = e->next;
			p->count--;
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	pool_close_list(stale);
	if (e == NULL)
		return mailuser_open(svc, user, u_r, err);
	*u_r = e->u;
	e->u = NULL;
	free(e);
	/* The account may have changed while the handle waited. */
	if (auth_user_info(svc->auth, user, &info, err) < 0) {
		store_user_close(u_r);
		return -1;
	}
	store_user_set_quota(*u_r, info.quota_bytes, info.quota_messages);
	return 0;
}

void
mailuser_release(struct services *svc, const char *user, struct store_user **u)
{
	struct mailuser_pool *p = svc->mailusers;
	size_t n = strlen(user) + 1;
	struct pooled *e, *evict = NULL;

	if (*u == NULL)
		return;
	if (p == NULL || (e = malloc(sizeof(*e) + n)) == NULL) {
		store_user_close(u);
		return;
	}
	e->u = *u;
	e->since = time(NULL);
	memcpy(e->user, user, n);
	*u = NULL;
	pthread_mutex_lock(&p->lock);
	e->next = p->head;
	p->head = e;
	if (++p->count > MAILUSER_POOL_MAX) {
		/* Drop the one given back longest ago (the list's tail). */
		struct pooled **pp = &p->head;
		while ((*pp)->next != NULL)
			pp = &(*pp)->next;
		evict = *pp;
		*pp = NULL;
		p->count--;
	}
	pthread_mutex_unlock(&p->lock);
	if (evict != NULL)
		pooled_free(evict);
}
