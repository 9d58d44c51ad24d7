/*
 * bench_util: what the load clients in bench/ share (imap_load,
 * pop3_download): loopback-only address parsing, number parsing, a clock,
 * a latency recorder with percentiles, the open-file limit and a TLS client
 * context.  No server code: the tools measure the server from the outside.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

struct bench_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/*
 * Accepts exactly 127.0.0.1 and ::1 (any form inet_pton() takes); anything
 * else, names included, is refused so the tools cannot load another machine.
 */
bool bench_addr_parse(struct bench_addr *a, const char *host, int port);

/* Parses a decimal in [min, max]; false on junk, overflow or range. */
bool bench_num_parse(const char *s, long min, long max, long *out);

/*
 * Writes fmt with its first "%d" replaced by n into out (a user name such
 * as "testuser%d"); no format string is interpreted.  False if it does not
 * fit.
 */
bool bench_user_format(char *out, size_t cap, const char *fmt, long n);

/*
 * The option loop the tools share: "--help" returns 1, "--tls" sets *tls,
 * every other option takes one value and goes to value(ctx, name, value),
 * which returns false for an unknown name or a bad value (reported as
 * "TOOL: bad option" and -1).  have_r, if not NULL, is set when the option
 * named `have` was seen.  Returns 0 when all were taken.
 */
int bench_opts_loop(const char *tool, int argc, char **argv, bool *tls,
                    bool (*value)(void *ctx, const char *n, const char *v),
                    void *ctx, const char *have, bool *have_r);

/* Monotonic time in microseconds. */
int64_t bench_now_usec(void);

/* Raises the soft open-file limit; false (reported) if need does not fit. */
bool bench_nofile_raise(const char *tool, long need);

/* A client context that does not verify: the target is a local server. */
SSL_CTX *bench_ssl_ctx_new(void);

/* A connecting bufferevent (plain, or TLS when ctx != NULL); NULL on error. */
struct bufferevent *bench_bev_connect(struct event_base *base, SSL_CTX *ctx,
                                      const struct bench_addr *a);

/*
 * Latencies in microseconds.  Grows by doubling up to BENCH_LAT_MAX samples;
 * later samples are counted but not kept (percentiles then describe the
 * first BENCH_LAT_MAX, which at 10 s runs is never reached in practice).
 */
#define BENCH_LAT_MAX (8L * 1024 * 1024)

struct bench_lat {
	uint32_t *v;
	size_t n, cap;
	uint64_t count; /* every sample, kept or not */
};

void bench_lat_add(struct bench_lat *l, int64_t usec);
/* Percentile p (0..100) in microseconds; sorts in place; 0 when empty. */
uint32_t bench_lat_pct(struct bench_lat *l, double p);
void bench_lat_free(struct bench_lat *l);

/* Prints "name ops=N ops_per_s=R p50_ms=.. p90_ms=.. p99_ms=.. max_ms=..". */
void bench_lat_print(struct bench_lat *l, const char *name, double secs);

#endif
