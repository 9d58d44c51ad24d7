/*
 * bench_util: shared pieces of the bench/ load clients (see bench_util.h).
 */
#include "bench_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <event2/bufferevent_ssl.h>

bool
bench_addr_parse(struct bench_addr *a, const char *host, int port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;

	memset(a, 0, sizeof(*a));
	if (host == NULL || port < 1 || port > 65535)
		return false;
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		if (sin->sin_addr.s_addr != htonl(INADDR_LOOPBACK))
			return false;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		a->len = sizeof(*sin);
		return true;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return false;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*sin6);
		return true;
	}
	return false;
}

bool
bench_num_parse(const char *s, long min, long max, long *out)
{
	char *end;

	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

int64_t
bench_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool
bench_nofile_raise(const char *tool, long need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return false;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
			return false;
	}
	if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)need > rl.rlim_cur) {
		fprintf(
		    stderr,
		    "%s: needs %ld file descriptors but the limit is %llu\n",
		    tool, need, (unsigned long long)rl.rlim_cur);
		return false;
	}
	return true;
}

SSL_CTX *
bench_ssl_ctx_new(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx != NULL)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
}

struct bufferevent *
bench_bev_connect(struct event_base *base, SSL_CTX *ctx,
                  const struct bench_addr *a)
{
	int opts = BEV_OPT_CLOSE_ON_FREE;
	struct bufferevent *bev;

	if (ctx == NULL) {
		bev = bufferevent_socket_new(base, -1, opts);
	} else {
		SSL *ssl = SSL_new(ctx);
		if (ssl == NULL)
			return NULL;
		bev = bufferevent_openssl_socket_new(
		    base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, opts);
		if (bev == NULL)
			SSL_free(ssl);
	}
	if (bev == NULL)
		return NULL;
	if (bufferevent_socket_connect(bev, (const struct sockaddr *)&a->ss,
	                               (int)a->len) != 0) {
		bufferevent_free(bev);
		return NULL;
	}
	return bev;
}

void
bench_lat_add(struct bench_lat *l, int64_t usec)
{
	l->count++;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		if (cap > (size_t)BENCH_LAT_MAX)
			return;
		uint32_t *v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL)
			return;
		l->v = v;
		l->cap = cap;
	}
	if (usec < 0)
		usec = 0;
	l->v[l->n++] = usec > UINT32_MAX ? UINT32_MAX : (uint32_t)usec;
}

static int
bench_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

uint32_t
bench_lat_pct(struct bench_lat *l, double p)
{
	if (l->n == 0)
		return 0;
	qsort(l->v, l->n, sizeof(*l->v), bench_u32_cmp);
	size_t i = (size_t)(p / 100.0 * (double)(l->n - 1) + 0.5);
	return l->v[i < l->n ? i : l->n - 1];
}

void
bench_lat_free(struct bench_lat *l)
{
	free(l->v);
	*l = (struct bench_lat){0};
}

void
bench_lat_print(struct bench_lat *l, const char *name, double secs)
{
	double rate = secs > 0 ? (double)l->count / secs : 0;

	printf("%s ops=%llu ops_per_s=%.1f p50_ms=%.2f p90_ms=%.2f "
	       "p99_ms=%.2f max_ms=%.2f\n",
	       name, (unsigned long long)l->count, rate,
	       bench_lat_pct(l, 50) / 1000.0, bench_lat_pct(l, 90) / 1000.0,
	       bench_lat_pct(l, 99) / 1000.0, bench_lat_pct(l, 100) / 1000.0);
}

bool
bench_user_format(char *out, size_t cap, const char *fmt, long n)
{
	const char *p = strstr(fmt, "%d");
	int len;

	if (p == NULL)
		len = snprintf(out, cap, "%s", fmt);
	else
		len = snprintf(out, cap, "%.*s%ld%s", (int)(p - fmt), fmt, n,
		               p + 2);
	return len > 0 && (size_t)len < cap;
}

int
bench_opts_loop(const char *tool, int argc, char **argv, bool *tls,
                bool (*value)(void *ctx, const char *n, const char *v),
                void *ctx, const char *have, bool *have_r)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0)
			return 1;
		if (strcmp(argv[i], "--tls") == 0) {
			*tls = true;
			continue;
		}
		if (i + 1 >= argc || !value(ctx, argv[i], argv[i + 1])) {
			fprintf(stderr, "%s: bad option '%s'\n", tool, argv[i]);
			return -1;
		}
		if (have != NULL && strcmp(argv[i], have) == 0)
			*have_r = true;
		i++;
	}
	return 0;
}
