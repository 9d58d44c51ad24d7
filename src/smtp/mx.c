/*
 * mx: MX, A and AAAA lookups through libunbound's asynchronous interface
 * (see mx.h).  libunbound resolves on its own thread and signals results
 * through ub_fd(); an event on that descriptor calls ub_process(), which
 * runs our callbacks on the event loop thread.
 */
#include "smtp/mx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#ifdef POSTAMT_HAVE_UNBOUND

#include <arpa/inet.h>
#include <event2/event.h>
#include <unbound.h>

#include "util/log.h"

#define MX_TYPE_A 1
#define MX_TYPE_MX 15
#define MX_TYPE_AAAA 28
#define MX_CLASS_IN 1
#define MX_RCODE_SERVFAIL 2

struct mx_host {
	char name[256];
	unsigned pref;
};

/* One outstanding ub_resolve_async() call. */
struct mx_sub {
	struct smtp_mx_query *q;
	int type;
	size_t host; /* index into q->hosts for A/AAAA */
	int id;      /* libunbound's async id */
	bool active;
	char *found[SMTP_RELAY_HOSTS_MAX]; /* addresses answered */
	size_t nfound;
};

struct smtp_mx_query {
	LIST_ENTRY(smtp_mx_query) entry;
	struct smtp_mx *mx;
	char domain[256];
	struct mx_host hosts[SMTP_MX_HOSTS_MAX];
	size_t nhosts;
	struct mx_sub subs[1 + 2 * SMTP_MX_HOSTS_MAX];
	size_t nsubs, pending;
	bool temp; /* an address lookup failed temporarily */
	struct smtp_mx_result res;
	smtp_mx_done_fn *done;
	void *arg;
};

struct smtp_mx {
	struct ub_ctx *ctx;
	struct event *ev;
	LIST_HEAD(, smtp_mx_query) queries;
};

static void
mx_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_mx *mx = arg;

	(void)fd;
	(void)what;
	if (ub_process(mx->ctx) != 0)
		log_warn("mx: ub_process failed");
}

int
smtp_mx_new(struct event_base *base, const char *resolver,
            struct smtp_mx **mx_r, struct err *err)
{
	struct smtp_mx *mx = calloc(1, sizeof(*mx));
	int rc = 0;

	*mx_r = NULL;
	if (mx == NULL || (mx->ctx = ub_ctx_create()) == NULL) {
		free(mx);
		return err_set(err, ERR_TEMP, "mx: cannot create a resolver");
	}
	LIST_INIT(&mx->queries);
	/* Resolve on a thread of libunbound's, not a forked process. */
	rc = ub_ctx_async(mx->ctx, 1);
	if (rc == 0 && resolver != NULL && resolver[0] != '\0') {
		/* The operator named it: a loopback resolver is fine. */
		rc =
		    ub_ctx_set_option(mx->ctx, "do-not-query-localhost:", "no");
		if (rc == 0)
			rc = ub_ctx_set_fwd(mx->ctx, resolver);
	} else if (rc == 0) {
		rc = ub_ctx_resolvconf(mx->ctx, NULL);
	}
	if (rc != 0 ||
	    (mx->ev = event_new(base, ub_fd(mx->ctx), EV_READ | EV_PERSIST,
	                        mx_ev_cb, mx)) == NULL ||
	    event_add(mx->ev, NULL) < 0) {
		smtp_mx_free(&mx);
		return err_set(err, ERR_TEMP, "mx: resolver setup failed: %s",
		               rc != 0 ? ub_strerror(rc) : "event");
	}
	*mx_r = mx;
	return 0;
}

/* Reads a wire-format domain name (uncompressed) at p into out. */
static bool
mx_wire_name(const unsigned char *p, size_t len, char *out, size_t size)
{
	size_t i = 0, o = 0;

	while (i < len && p[i] != 0) {
		size_t l = p[i++];

		if (l > 63 || i + l > len || o + l + 2 > size)
			return false;
		if (o > 0)
			out[o++] = '.';
		memcpy(out + o, p + i, l);
		o += l;
		i += l;
	}
	if (i >= len)
		return false;
	out[o] = '\0';
	return true;
}

static void mx_sub_cb(void *arg, int rc, struct ub_result *res);

static int
mx_sub_start(struct smtp_mx_query *q, const char *name, int type, size_t host)
{
	struct mx_sub *s = &q->subs[q->nsubs];
	int rc;

	s->q = q;
	s->type = type;
	s->host = host;
	rc = ub_resolve_async(q->mx->ctx, name, type, MX_CLASS_IN, s, mx_sub_cb,
	                      &s->id);
	if (rc != 0)
		return -1;
	s->active = true;
	q->nsubs++;
	q->pending++;
	return 0;
}

static void
mx_query_free(struct smtp_mx_query *q)
{
	for (size_t i = 0; i < q->nsubs; i++) {
		if (q->subs[i].active)
			ub_cancel(q->mx->ctx, q->subs[i].id);
		for (size_t j = 0; j < q->subs[i].nfound; j++)
			free(q->subs[i].found[j]);
	}
	for (size_t i = 0; i < q->res.naddrs; i++)
		free(q->res.addrs[i]);
	LIST_REMOVE(q, entry);
	free(q);
}

/* Reports the result and frees the query. */
static void
mx_finish(struct smtp_mx_query *q)
{
	smtp_mx_done_fn *done = q->done;
	void *arg = q->arg;
	struct smtp_mx_result res = q->res;

	q->res.naddrs = 0; /* the strings move to res */
	mx_query_free(q);
	done(arg, &res);
	for (size_t i = 0; i < res.naddrs; i++)
		free(res.addrs[i]);
}

static void
mx_fail(struct smtp_mx_query *q, enum smtp_mx_status st, const char *fmt,
        const char *detail)
{
	q->res.status = st;
	snprintf(q->res.why, sizeof(q->res.why), fmt, q->domain, detail);
	mx_finish(q);
}

static int
mx_host_cmp(const void *a, const void *b)
{
	const struct mx_host *x = a, *y = b;

	return (x->pref > y->pref) - (x->pref < y->pref);
}

/* Fills q->hosts from an MX answer; returns -1 for a null MX. */
static int
mx_parse_mx(struct smtp_mx_query *q, const struct ub_result *res)
{
	for (size_t i = 0; res->data[i] != NULL; i++) {
		const unsigned char *d = (const unsigned char *)res->data[i];
		struct mx_host *h = &q->hosts[q->nhosts];

		if (q->nhosts == SMTP_MX_HOSTS_MAX || res->len[i] < 3)
			continue;
		h->pref = (unsigned)d[0] << 8 | d[1];
		if (!mx_wire_name(d + 2, (size_t)res->len[i] - 2, h->name,
		                  sizeof(h->name)))
			continue;
		if (h->name[0] == '\0')
			return -1; /* RFC 7505: "MX 0 ." takes no mail */
		q->nhosts++;
	}
	/* Equal preferences keep the server's order (qsort may not). */
	for (size_t i = 1; i < q->nhosts; i++)
		for (size_t j = i;
		     j > 0 && mx_host_cmp(&q->hosts[j - 1], &q->hosts[j]) > 0;
		     j--) {
			struct mx_host t = q->hosts[j];

			q->hosts[j] = q->hosts[j - 1];
			q->hosts[j - 1] = t;
		}
	return 0;
}

/*
 * The MX answer: starts the address lookups of every host.  Returns true
 * if the query is over (and freed).
 */
static bool
mx_on_mx(struct smtp_mx_query *q, int rc, struct ub_result *res)
{
	if (rc != 0 || res->rcode == MX_RCODE_SERVFAIL) {
		mx_fail(q, SMTP_MX_TEMP,
		        "451 4.4.3 MX lookup for %s failed: %s",
		        rc != 0 ? ub_strerror(rc) : "SERVFAIL");
		return true;
	}
	if (res->nxdomain) {
		mx_fail(q, SMTP_MX_PERM, "550 5.1.2 Domain %s not found%s", "");
		return true;
	}
	if (res->havedata && mx_parse_mx(q, res) < 0) {
		/* RFC 7505 3: 556 5.1.10 for a domain with a null MX. */
		mx_fail(q, SMTP_MX_PERM,
		        "556 5.1.10 Domain %s accepts no mail (null MX)%s", "");
		return true;
	}
	if (q->nhosts == 0) {
		/* RFC 5321 5.1: no MX means the domain itself (implicit MX). */
		snprintf(q->hosts[0].name, sizeof(q->hosts[0].name), "%s",
		         q->domain);
		q->nhosts = 1;
	}
	for (size_t i = 0; i < q->nhosts; i++) {
		if (mx_sub_start(q, q->hosts[i].name, MX_TYPE_A, i) < 0 ||
		    mx_sub_start(q, q->hosts[i].name, MX_TYPE_AAAA, i) < 0)
			q->temp = true;
	}
	return false;
}

/* Keeps the addresses of an A or AAAA answer in the sub-query. */
static void
mx_on_addr(struct mx_sub *s, int rc, struct ub_result *res)
{
	int af = s->type == MX_TYPE_A ? AF_INET : AF_INET6;
	int want = s->type == MX_TYPE_A ? 4 : 16;
	char text[INET6_ADDRSTRLEN];

	if (rc != 0 || res->rcode == MX_RCODE_SERVFAIL) {
		s->q->temp = true;
		return;
	}
	for (size_t i = 0; res->havedata && res->data[i] != NULL; i++) {
		if (res->len[i] != want || s->nfound == SMTP_RELAY_HOSTS_MAX ||
		    inet_ntop(af, res->data[i], text, sizeof(text)) == NULL)
			continue;
		if ((s->found[s->nfound] = strdup(text)) != NULL)
			s->nfound++;
	}
}

/*
 * Every address lookup is in: the hosts in preference order, for each its
 * IPv4 then IPv6 addresses (IPv4 first: it is the path that works on most
 * networks; a host without an IPv6 route would fail fast anyway).
 */
static void
mx_collect(struct smtp_mx_query *q)
{
	struct smtp_mx_result *r = &q->res;

	for (size_t i = 1; i < q->nsubs; i++) {
		struct mx_sub *s = &q->subs[i];

		for (size_t j = 0; j < s->nfound; j++) {
			if (r->naddrs == SMTP_RELAY_HOSTS_MAX)
				break;
			r->addrs[r->naddrs++] = s->found[j];
			s->found[j] = NULL;
		}
	}
	if (r->naddrs > 0) {
		r->status = SMTP_MX_OK;
		mx_finish(q);
	} else if (q->temp) {
		mx_fail(q, SMTP_MX_TEMP,
		        "451 4.4.3 No address found for the mail hosts of "
		        "%s yet%s",
		        "");
	} else {
		mx_fail(q, SMTP_MX_PERM,
		        "550 5.4.4 The mail hosts of %s have no address%s", "");
	}
}

static void
mx_sub_cb(void *arg, int rc, struct ub_result *res)
{
	struct mx_sub *s = arg;
	struct smtp_mx_query *q = s->q;

	s->active = false;
	q->pending--;
	if (s->type == MX_TYPE_MX) {
		bool over = mx_on_mx(q, rc, res);

		if (res != NULL)
			ub_resolve_free(res);
		if (!over && q->pending == 0)
			mx_collect(q);
		return;
	}
	mx_on_addr(s, rc, res);
	if (res != NULL)
		ub_resolve_free(res);
	if (q->pending == 0)
		mx_collect(q);
}

int
smtp_mx_lookup(struct smtp_mx *mx, const char *domain, smtp_mx_done_fn *done,
               void *arg, struct smtp_mx_query **q_r, struct err *err)
{
	struct smtp_mx_query *q = calloc(1, sizeof(*q));

	*q_r = NULL;
	if (q == NULL)
		return err_set(err, ERR_TEMP, "mx: out of memory");
	if (snprintf(q->domain, sizeof(q->domain), "%s", domain) >=
	    (int)sizeof(q->domain)) {
		free(q);
		return err_set(err, ERR_SYNTAX, "mx: domain name too long");
	}
	q->mx = mx;
	q->done = done;
	q->arg = arg;
	LIST_INSERT_HEAD(&mx->queries, q, entry);
	if (mx_sub_start(q, domain, MX_TYPE_MX, 0) < 0) {
		mx_query_free(q);
		return err_set(err, ERR_TEMP, "mx: cannot start the lookup");
	}
	*q_r = q;
	return 0;
}

void
smtp_mx_cancel(struct smtp_mx_query **qp)
{
	if (*qp == NULL)
		return;
	mx_query_free(*qp);
	*qp = NULL;
}

void
smtp_mx_free(struct smtp_mx **mxp)
{
	struct smtp_mx *mx = *mxp;

	if (mx == NULL)
		return;
	while (!LIST_EMPTY(&mx->queries))
		mx_query_free(LIST_FIRST(&mx->queries));
	if (mx->ev != NULL)
		event_free(mx->ev);
	ub_ctx_delete(mx->ctx);
	free(mx);
	*mxp = NULL;
}

#else /* !POSTAMT_HAVE_UNBOUND */

int
smtp_mx_new(struct event_base *base, const char *resolver,
            struct smtp_mx **mx_r, struct err *err)
{
	(void)base;
	(void)resolver;
	*mx_r = NULL;
	return err_set(err, ERR_TEMP,
	               "mx: built without libunbound (install "
	               "libunbound-dev and rebuild)");
}

int
smtp_mx_lookup(struct smtp_mx *mx, const char *domain, smtp_mx_done_fn *done,
               void *arg, struct smtp_mx_query **q_r, struct err *err)
{
	(void)mx;
	(void)domain;
	(void)done;
	(void)arg;
	*q_r = NULL;
	return err_set(err, ERR_TEMP, "mx: built without libunbound");
}

void
smtp_mx_cancel(struct smtp_mx_query **q)
{
	*q = NULL;
}

void
smtp_mx_free(struct smtp_mx **mx)
{
	*mx = NULL;
}

#endif
