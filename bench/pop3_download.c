/*
 * pop3_download: POP3 load client for bench/pop3_bench.sh (see
 * bench/README.md).
 *
 *   pop3_download --port P [--mode download|sessions] [--clients N]
 *                 [--host 127.0.0.1] [--user FMT] [--first K] [--pass PW]
 *                 [--window W] [--min-size B] [--duration S]
 *                 [--timeout S] [--tls]
 *
 * download  every client: USER, PASS, LIST, then RETR of every message (or
 *           of those of at least --min-size octets) with up to --window
 *           commands in flight (RFC 2449 PIPELINING), then QUIT without
 *           DELE, so nothing is deleted.  Reports messages, wire bytes,
 *           MB/s (10^6 bytes) from the first RETR to the last reply, and
 *           RETR latency percentiles.
 * sessions  clients in a loop: connect, USER, PASS, STAT, QUIT; one op = one
 *           session timed from connect; runs --duration seconds.
 *
 * Client i logs in as FMT with "%d" replaced by K + i (default FMT
 * testuser%d, K = 1): a maildrop admits one POP3 session at a time.  Only
 * 127.0.0.1 and ::1.  Exit status 0 when nothing failed, 1 otherwise, 2 for
 * bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "bench_util.h"

/* A status or LIST line longer than this is a protocol error. */
#define DL_LINE_MAX 4096
/* Bytes read from the socket per call at most (libevent's default: 16K). */
#define DL_READ_MAX (1024 * 1024)
/* At most this many messages listed per maildrop. */
#define DL_MSGS_MAX 10000000L

enum dl_mode { DL_DOWNLOAD, DL_SESSIONS };

struct dl_opts {
	const char *host, *user_fmt, *pass;
	long port, clients, first, window, min_size, duration, timeout;
	enum dl_mode mode;
	bool tls;
};

enum dl_step {
	ST_GREETING,
	ST_USER,
	ST_PASS,
	ST_STAT,
	ST_LIST_STATUS,
	ST_LIST_BODY,
	ST_RETR,
	ST_QUIT,
	ST_DONE
};

struct dl_client {
	struct dl_run *run;
	struct bufferevent *bev;
	long idx;
	char user[128];
	enum dl_step step;
	int64_t t_session;
	long *want; /* message numbers to RETR */
	long nwant, sent, recvd;
	int64_t *t_sent; /* send time per RETR, ring of --window */
	size_t scan;     /* RETR: bytes already searched for the end */
	bool in_body;    /* RETR: status line seen, reading the body */
	uint64_t bytes;
};

struct dl_run {
	struct dl_opts o;
	struct event_base *base;
	SSL_CTX *ssl;
	struct bench_addr addr;
	struct dl_client *cl;
	long finished, failed;
	int64_t t_first, t_last;
	uint64_t bytes, msgs;
	struct bench_lat lat;
	unsigned long errors;
	bool error_shown;
	struct event *end_ev;
};

static void dl_client_connect(struct dl_client *c);

static void
dl_usage(FILE *f)
{
	fputs("usage: pop3_download --port P [--mode download|sessions]"
	      " [--clients N (1)]\n"
	      "  [--host 127.0.0.1] [--user FMT (testuser%d)] [--first K (1)]"
	      " [--pass PW (pass)]\n"
	      "  [--window W (8)] [--min-size B (0)] [--duration S (10)]"
	      " [--timeout S (600)] [--tls]\n",
	      f);
}

static bool
dl_opt_value(void *ctx, const char *n, const char *v)
{
	struct dl_opts *o = ctx;

	if (strcmp(n, "--host") == 0)
		return (o->host = v) != NULL;
	if (strcmp(n, "--user") == 0)
		return (o->user_fmt = v) != NULL;
	if (strcmp(n, "--pass") == 0)
		return (o->pass = v) != NULL;
	if (strcmp(n, "--mode") == 0) {
		if (strcmp(v, "download") == 0 || strcmp(v, "sessions") == 0) {
			o->mode = v[0] == 'd' ? DL_DOWNLOAD : DL_SESSIONS;
			return true;
		}
		return false;
	}
	if (strcmp(n, "--port") == 0)
		return bench_num_parse(v, 1, 65535, &o->port);
	if (strcmp(n, "--clients") == 0)
		return bench_num_parse(v, 1, 100000, &o->clients);
	if (strcmp(n, "--first") == 0)
		return bench_num_parse(v, 0, 100000000, &o->first);
	if (strcmp(n, "--window") == 0)
		return bench_num_parse(v, 1, 1000, &o->window);
	if (strcmp(n, "--min-size") == 0)
		return bench_num_parse(v, 0, 1L << 40, &o->min_size);
	if (strcmp(n, "--duration") == 0)
		return bench_num_parse(v, 1, 86400, &o->duration);
	if (strcmp(n, "--timeout") == 0)
		return bench_num_parse(v, 1, 86400, &o->timeout);
	return false;
}

static int
dl_opts_parse(struct dl_opts *o, int argc, char **argv)
{
	int rc;

	*o = (struct dl_opts){.host = "127.0.0.1",
	                      .user_fmt = "testuser%d",
	                      .pass = "pass",
	                      .clients = 1,
	                      .first = 1,
	                      .window = 8,
	                      .duration = 10,
	                      .timeout = 600};
	rc = bench_opts_loop("pop3_download", argc, argv, &o->tls, dl_opt_value,
	                     o, NULL, NULL);
	if (rc != 0)
		return rc;
	if (o->port == 0) {
		fputs("pop3_download: --port is required\n", stderr);
		return -1;
	}
	return 0;
}

static void
dl_error(struct dl_client *c, const char *what, const char *detail)
{
	struct dl_run *run = c->run;

	run->errors++;
	if (!run->error_shown) {
		run->error_shown = true;
		fprintf(stderr,
		        "pop3_download: client %ld %s: %s (first only)\n",
		        c->idx, what, detail);
	}
}

static void
dl_client_close(struct dl_client *c)
{
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	c->bev = NULL;
}

static void
dl_client_finish(struct dl_client *c, bool failed)
{
	struct dl_run *run = c->run;

	dl_client_close(c);
	c->step = ST_DONE;
	if (failed)
		run->failed++;
	else
		run->finished++;
	if (run->o.mode == DL_DOWNLOAD &&
	    run->finished + run->failed >= run->o.clients)
		event_base_loopbreak(run->base);
}

static void
dl_send(struct dl_client *c, enum dl_step step, const char *fmt,
        const char *arg)
{
	c->step = step;
	evbuffer_add_printf(bufferevent_get_output(c->bev), fmt, arg);
}

/* Keeps up to --window RETR commands in flight. */
static void
dl_retr_fill(struct dl_client *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct dl_run *run = c->run;

	while (c->sent < c->nwant && c->sent - c->recvd < run->o.window) {
		c->t_sent[c->sent % run->o.window] = bench_now_usec();
		if (run->t_first == 0)
			run->t_first = bench_now_usec();
		evbuffer_add_printf(out, "RETR %ld\r\n", c->want[c->sent]);
		c->sent++;
	}
	if (c->recvd == c->nwant)
		dl_send(c, ST_QUIT, "QUIT\r\n", NULL);
}

/* One "n size" line of the LIST reply (or its end). */
static void
dl_list_line(struct dl_client *c, const char *line)
{
	long n, size;

	if (strcmp(line, ".") == 0) {
		c->step = ST_RETR;
		dl_retr_fill(c);
		return;
	}
	if (sscanf(line, "%ld %ld", &n, &size) != 2 ||
	    size < c->run->o.min_size || c->nwant >= DL_MSGS_MAX)
		return;
	if ((c->nwant & (c->nwant - 1)) == 0) { /* 0, 1, 2, 4...: grow */
		long *w =
		    realloc(c->want,
		            (size_t)(c->nwant ? c->nwant * 2 : 1) * sizeof(*w));
		if (w == NULL)
			return;
		c->want = w;
	}
	c->want[c->nwant++] = n;
}

/* A status or LIST line; false when the client is gone. */
static bool
dl_client_line(struct dl_client *c, const char *line)
{
	bool ok = strncmp(line, "+OK", 3) == 0;

	if (c->step == ST_LIST_BODY) {
		dl_list_line(c, line);
		return true;
	}
	if (!ok) {
		dl_error(c, "reply", line);
		dl_client_finish(c, true);
		if (c->run->o.mode == DL_SESSIONS)
			dl_client_connect(c);
		return false;
	}
	switch (c->step) {
	case ST_GREETING:
		dl_send(c, ST_USER, "USER %s\r\n", c->user);
		break;
	case ST_USER:
		dl_send(c, ST_PASS, "PASS %s\r\n", c->run->o.pass);
		break;
	case ST_PASS:
		if (c->run->o.mode == DL_SESSIONS)
			dl_send(c, ST_STAT, "STAT\r\n", NULL);
		else
			dl_send(c, ST_LIST_STATUS, "LIST\r\n", NULL);
		break;
	case ST_STAT:
		dl_send(c, ST_QUIT, "QUIT\r\n", NULL);
		break;
	case ST_LIST_STATUS:
		c->step = ST_LIST_BODY;
		break;
	default: /* QUIT */
		if (c->run->o.mode == DL_SESSIONS) {
			bench_lat_add(&c->run->lat,
			              bench_now_usec() - c->t_session);
			dl_client_close(c);
			dl_client_connect(c);
		} else {
			dl_client_finish(c, false);
		}
		return false;
	}
	return true;
}

/*
 * One RETR reply, if complete: "+OK ...\r\n", the dot-stuffed body, and
 * "\r\n.\r\n" (the status line's CRLF starts the terminator when the body
 * is empty).  Returns 1 when one was consumed, 0 for more input, -1 when the
 * client is gone.
 */
static int
dl_retr_take(struct dl_client *c, struct evbuffer *in)
{
	struct dl_run *run = c->run;
	size_t len = evbuffer_get_length(in);
	struct evbuffer_ptr p;

	if (!c->in_body) {
		p = evbuffer_search_eol(in, NULL, NULL,
		                        EVBUFFER_EOL_CRLF_STRICT);
		if (p.pos < 0)
			return len > DL_LINE_MAX ? -1 : 0;
		char first[4] = {0};
		evbuffer_copyout(in, first, 3);
		if (strcmp(first, "+OK") != 0) {
			dl_error(c, "RETR", "-ERR");
			dl_client_finish(c, true);
			return -1;
		}
		c->in_body = true;
		c->scan = (size_t)p.pos;
	}
	if (evbuffer_ptr_set(in, &p, c->scan, EVBUFFER_PTR_SET) != 0)
		return 0;
	p = evbuffer_search(in, "\r\n.\r\n", 5, &p);
	if (p.pos < 0) {
		c->scan = len > 4 ? len - 4 : 0;
		return 0;
	}
	size_t total = (size_t)p.pos + 5;
	evbuffer_drain(in, total);
	c->in_body = false;
	c->bytes += total;
	run->bytes += total;
	run->msgs++;
	run->t_last = bench_now_usec();
	bench_lat_add(&run->lat,
	              run->t_last - c->t_sent[c->recvd % run->o.window]);
	c->recvd++;
	dl_retr_fill(c);
	return 1;
}

static void
dl_client_on_read(struct bufferevent *bev, void *arg)
{
	struct dl_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (c->bev == bev) {
		if (c->step == ST_RETR) {
			int r = dl_retr_take(c, in);
			if (r < 0 && c->bev == bev) {
				dl_error(c, "RETR", "line too long");
				dl_client_finish(c, true);
			}
			if (r <= 0)
				return;
			continue;
		}
		size_t len;
		char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
		if (line == NULL) {
			if (evbuffer_get_length(in) > DL_LINE_MAX) {
				dl_error(c, "line", "too long");
				dl_client_finish(c, true);
			}
			return;
		}
		bool more = dl_client_line(c, line);
		free(line);
		if (!more)
			return;
	}
}

static void
dl_client_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct dl_client *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (c->step == ST_QUIT && c->run->o.mode == DL_DOWNLOAD) {
		dl_client_finish(c, false);
		return;
	}
	dl_error(c, "connection",
	         (what & BEV_EVENT_EOF) ? "closed by the server" : "error");
	dl_client_finish(c, true);
	if (c->run->o.mode == DL_SESSIONS)
		dl_client_connect(c);
}

static void
dl_client_connect(struct dl_client *c)
{
	struct dl_run *run = c->run;

	c->step = ST_GREETING;
	c->t_session = bench_now_usec();
	c->bev = bench_bev_connect(run->base, run->ssl, &run->addr);
	if (c->bev == NULL) {
		dl_error(c, "connect", "cannot start");
		c->step = ST_DONE;
		run->failed++;
		return;
	}
	bufferevent_setcb(c->bev, dl_client_on_read, NULL, dl_client_on_event,
	                  c);
	/* Large reads, so the client is not what limits the MB/s. */
	bufferevent_set_max_single_read(c->bev, DL_READ_MAX);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void
dl_stop_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct dl_run *run = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(run->base);
}

static bool
dl_run_init(struct dl_run *run)
{
	struct timeval tv = {.tv_sec = run->o.mode == DL_SESSIONS
	                                   ? run->o.duration
	                                   : run->o.timeout};

	run->base = event_base_new();
	run->cl = calloc((size_t)run->o.clients, sizeof(*run->cl));
	if (run->base == NULL || run->cl == NULL)
		return false;
	if (run->o.tls && (run->ssl = bench_ssl_ctx_new()) == NULL)
		return false;
	run->end_ev = evtimer_new(run->base, dl_stop_on_timer, run);
	if (run->end_ev == NULL)
		return false;
	evtimer_add(run->end_ev, &tv);
	for (long i = 0; i < run->o.clients; i++) {
		struct dl_client *c = &run->cl[i];
		c->run = run;
		c->idx = i;
		c->t_sent = calloc((size_t)run->o.window, sizeof(*c->t_sent));
		if (c->t_sent == NULL ||
		    !bench_user_format(c->user, sizeof(c->user),
		                       run->o.user_fmt, run->o.first + i))
			return false;
	}
	return true;
}

/* This client's own CPU seconds: is the client the bottleneck? */
static double
dl_self_cpu(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int
dl_report(struct dl_run *run, int64_t t0, int64_t t_end)
{
	if (run->o.mode == DL_SESSIONS) {
		double secs = (double)(t_end - t0) / 1e6;
		bench_lat_print(&run->lat, "sessions", secs);
		printf(
		    "summary mode=sessions clients=%ld secs=%.2f errors=%lu\n",
		    run->o.clients, secs, run->errors);
		return run->errors == 0 ? 0 : 1;
	}
	double secs = (double)(run->t_last - run->t_first) / 1e6;
	bench_lat_print(&run->lat, "retr", secs);
	printf("summary mode=download clients=%ld msgs=%llu bytes=%llu "
	       "secs=%.3f MB_per_s=%.1f msgs_per_s=%.1f finished=%ld "
	       "failed=%ld errors=%lu client_cpu_s=%.2f\n",
	       run->o.clients, (unsigned long long)run->msgs,
	       (unsigned long long)run->bytes, secs,
	       secs > 0 ? (double)run->bytes / 1e6 / secs : 0,
	       secs > 0 ? (double)run->msgs / secs : 0, run->finished,
	       run->failed, run->errors, dl_self_cpu());
	return run->errors == 0 && run->finished == run->o.clients ? 0 : 1;
}

static void
dl_run_free(struct dl_run *run)
{
	for (long i = 0; run->cl != NULL && i < run->o.clients; i++) {
		dl_client_close(&run->cl[i]);
		free(run->cl[i].want);
		free(run->cl[i].t_sent);
	}
	bench_lat_free(&run->lat);
	if (run->end_ev != NULL)
		event_free(run->end_ev);
	if (run->ssl != NULL)
		SSL_CTX_free(run->ssl);
	if (run->base != NULL)
		event_base_free(run->base);
	free(run->cl);
}

int
main(int argc, char **argv)
{
	struct dl_run run = {0};
	int rc = dl_opts_parse(&run.o, argc, argv);

	if (rc != 0) {
		dl_usage(rc > 0 ? stdout : stderr);
		return rc > 0 ? 0 : 2;
	}
	if (!bench_addr_parse(&run.addr, run.o.host, (int)run.o.port)) {
		fputs("pop3_download: --host must be 127.0.0.1 or ::1\n",
		      stderr);
		return 2;
	}
	if (!bench_nofile_raise("pop3_download", run.o.clients + 64))
		return 2;
	if (!dl_run_init(&run)) {
		fputs("pop3_download: out of memory or bad --user\n", stderr);
		dl_run_free(&run);
		return 2;
	}
	int64_t t0 = bench_now_usec();
	for (long i = 0; i < run.o.clients; i++)
		dl_client_connect(&run.cl[i]);
	event_base_dispatch(run.base);
	rc = dl_report(&run, t0, bench_now_usec());
	dl_run_free(&run);
	return rc;
}
