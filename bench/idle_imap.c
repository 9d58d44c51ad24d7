/*
 * idle_imap: N IMAP clients in IDLE on one server, then K messages
 * delivered over SMTP; measures how long each takes to reach every IDLE
 * client as "* n EXISTS" (issue 5: p99 <= 50 ms), and, with --server-pid,
 * the server's memory per idle session (PSS from /proc/PID/smaps_rollup).
 *
 *   idle_imap --port IMAP --smtp-port SMTP --clients N [--messages K]
 *             [--user U --pass P] [--rcpt ADDR] [--users U] [--rate R]
 *             [--server-pid PID] [--timeout S] [--settle S]
 *
 * Every client: greeting, LOGIN (plaintext: the server must allow it on
 * loopback), SELECT INBOX, IDLE.  Once all are idling (or --timeout
 * passed), one SMTP session delivers the K messages one at a time: the
 * clock starts when the message's final "." is handed to the socket and
 * each client's sample ends when its EXISTS line is read; the next message
 * goes when every idling client has seen the last (or after 5 s).
 * Delivery and clients share one event loop and one monotonic clock.
 *
 * With --users K > 1, U (and the recipient) is a format with one %d:
 * client i is user (i mod K) + 1 and message k goes to user (k mod K) + 1,
 * so each delivery reaches N / K sessions, as when thousands of sessions
 * belong to many users; by default all N are one user's, the worst case.
 * --settle S waits S seconds after all are idling before the memory is
 * read and the deliveries start (the server gives a login burst's peak
 * back to the system every memory_trim_interval).
 *
 * Prints "idle clients=N idling=I refused=R failed=F", optionally
 * "memory pss_before_kb=.. pss_after_kb=.. per_client_kb=..", then
 * "exists samples=.. missing=.. p50_ms=.. p90_ms=.. p99_ms=.. max_ms=..".
 * Loopback only (bench_addr_parse() refuses anything else).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "bench_util.h"

#define IDLE_LINE_MAX 8192         /* a server line longer than this: failed */
#define IDLE_MAX_PENDING 1000      /* clients still logging in at once */
#define IDLE_MSG_WAIT_USEC 5000000 /* per message, for every EXISTS */
#define IDLE_TICK_USEC 10000

struct opts {
	long port, smtp_port, clients, messages, rate, server_pid, timeout;
	long users;
	long settle; /* seconds between all idling and the PSS reading */
	const char *user, *pass, *rcpt;
};

enum cstate { C_NEW, C_GREET, C_LOGIN, C_SELECT, C_IDLE_REQ, C_IDLING, C_DEAD };

struct client {
	struct run *run;
	struct bufferevent *bev;
	enum cstate st;
	long base; /* EXISTS after SELECT */
	long user; /* 0 .. users - 1 */
};

enum sstate { S_GREET, S_EHLO, S_MAIL, S_RCPT, S_DATA, S_DOT, S_WAIT, S_QUIT };

struct run {
	struct opts o;
	struct event_base *base;
	struct bench_addr imap, smtp;
	struct client *c;
	long started, pending, idling, refused, failed;
	long *idling_of; /* per user */
	struct event *tick;
	int64_t t_start;
	int64_t t_settled; /* when every client had settled (0: not yet) */
	long pss_before;
	/* delivery */
	struct bufferevent *sbev;
	enum sstate ss;
	long k;         /* message being delivered */
	int64_t *t0;    /* per message: when its "." went out */
	long *seen;     /* per message: clients that saw its EXISTS */
	int64_t t_wait; /* when S_WAIT began */
	struct bench_lat lat;
};

static void client_event(struct bufferevent *bev, short what, void *arg);
static void client_read(struct bufferevent *bev, void *arg);
static void smtp_start(struct run *r);

static long
pss_kb(long pid)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/smaps_rollup", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Pss: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

static void
client_end(struct client *c, bool refused)
{
	struct run *r = c->run;

	if (c->st == C_DEAD)
		return;
	if (c->st == C_IDLING) {
		r->idling--;
		r->idling_of[c->user]--;
	} else
		r->pending--;
	if (refused)
		r->refused++;
	else
		r->failed++;
	c->st = C_DEAD;
	bufferevent_free(c->bev);
	c->bev = NULL;
}

static void
client_start(struct run *r, struct client *c)
{
	c->run = r;
	c->st = C_GREET;
	c->user = r->started % r->o.users;
	r->started++;
	r->pending++;
	c->bev = bench_bev_connect(r->base, NULL, &r->imap);
	if (c->bev == NULL) {
		r->pending--;
		r->failed++;
		c->st = C_DEAD;
		return;
	}
	bufferevent_setcb(c->bev, client_read, NULL, client_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* fmt with user number u + 1 when there are several users, else fmt. */
static void
user_name(const struct run *r, char *out, size_t size, const char *fmt, long u)
{
	if (r->o.users > 1)
		snprintf(out, size, fmt, (int)(u + 1));
	else
		snprintf(out, size, "%s", fmt);
}

/* An EXISTS while idling: one latency sample for the message it counts. */
static void
client_exists(struct client *c, long n)
{
	struct run *r = c->run;
	/* Its user's j-th new message is message j * users + user. */
	long k = (n - c->base - 1) * r->o.users + c->user;

	if (c->st != C_IDLING || k < 0 || k >= r->o.messages || r->t0[k] == 0)
		return;
	bench_lat_add(&r->lat, bench_now_usec() - r->t0[k]);
	r->seen[k]++;
}

/* One server line for client c in its current state. */
static void
client_line(struct client *c, const char *l)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct run *r = c->run;
	long n;

	if (sscanf(l, "* %ld EXISTS", &n) == 1) {
		if (c->st == C_SELECT)
			c->base = n;
		else
			client_exists(c, n);
		return;
	}
	if (c->st == C_GREET && strncmp(l, "* OK", 4) == 0) {
		char user[256];

		user_name(r, user, sizeof(user), r->o.user, c->user);
		evbuffer_add_printf(out, "a LOGIN \"%s\" \"%s\"\r\n", user,
		                    r->o.pass);
		c->st = C_LOGIN;
	} else if (c->st == C_LOGIN && strncmp(l, "a ", 2) == 0) {
		if (strncmp(l, "a OK", 4) != 0)
			return client_end(c, true);
		evbuffer_add_printf(out, "b SELECT INBOX\r\n");
		c->st = C_SELECT;
	} else if (c->st == C_SELECT && strncmp(l, "b ", 2) == 0) {
		if (strncmp(l, "b OK", 4) != 0)
			return client_end(c, true);
		evbuffer_add_printf(out, "c IDLE\r\n");
		c->st = C_IDLE_REQ;
	} else if (c->st == C_IDLE_REQ && l[0] == '+') {
		c->st = C_IDLING;
		r->pending--;
		r->idling++;
		r->idling_of[c->user]++;
	} else if (strncmp(l, "* BYE", 5) == 0 ||
	           (c->st != C_IDLING && strncmp(l, "* ", 2) != 0)) {
		client_end(c, true); /* refused, or an unexpected answer */
	}
}

static void
client_read(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *l;

	while (c->st != C_DEAD &&
	       (l = evbuffer_readln(in, NULL, EVBUFFER_EOL_CRLF)) != NULL) {
		client_line(c, l);
		free(l);
	}
	if (c->st != C_DEAD && evbuffer_get_length(in) > IDLE_LINE_MAX)
		client_end(c, false);
}

static void
client_event(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		client_end(c, (what & BEV_EVENT_EOF) != 0 || c->st == C_GREET);
}

static void
report_setup(struct run *r)
{
	long after;

	printf("idle clients=%ld idling=%ld refused=%ld failed=%ld "
	       "setup_s=%.1f\n",
	       r->o.clients, r->idling, r->refused, r->failed,
	       (double)(bench_now_usec() - r->t_start) / 1e6);
	if (r->o.server_pid > 0 && (after = pss_kb(r->o.server_pid)) >= 0 &&
	    r->idling > 0)
		printf("memory pss_before_kb=%ld pss_after_kb=%ld "
		       "per_client_kb=%.2f\n",
		       r->pss_before, after,
		       (double)(after - r->pss_before) / (double)r->idling);
	fflush(stdout);
}

/* Starts clients at the rate; moves on to delivery when all have settled. */
static void
tick(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	long due =
	    (long)((bench_now_usec() - r->t_start) * r->o.rate / 1000000);
	bool timed_out =
	    bench_now_usec() - r->t_start > (int64_t)r->o.timeout * 1000000;

	(void)fd;
	(void)what;
	while (r->started < r->o.clients && r->started < due &&
	       r->pending < IDLE_MAX_PENDING)
		client_start(r, &r->c[r->started]);
	if (r->ss == S_GREET && r->sbev == NULL && r->t_settled == 0 &&
	    ((r->started == r->o.clients && r->pending == 0) || timed_out))
		r->t_settled = bench_now_usec();
	/* --settle: the server's memory trim runs before the reading. */
	if (r->ss == S_GREET && r->sbev == NULL && r->t_settled != 0 &&
	    bench_now_usec() - r->t_settled >= r->o.settle * 1000000) {
		report_setup(r);
		smtp_start(r);
	}
	if (r->ss == S_WAIT &&
	    (r->seen[r->k] >= r->idling_of[r->k % r->o.users] ||
	     bench_now_usec() - r->t_wait > IDLE_MSG_WAIT_USEC)) {
		struct evbuffer *out = bufferevent_get_output(r->sbev);

		r->k++;
		r->ss = r->k < r->o.messages ? S_MAIL : S_QUIT;
		if (r->ss == S_MAIL)
			evbuffer_add_printf(
			    out, "MAIL FROM:<bench@remote.example>\r\n");
		else
			evbuffer_add_printf(out, "QUIT\r\n");
	}
}

/* The SMTP client: one reply line at a time (multi-line: the last). */
static void
smtp_reply(struct run *r, const char *l)
{
	struct evbuffer *out = bufferevent_get_output(r->sbev);
	static const int want[] = {
	    [S_GREET] = 220, [S_EHLO] = 250, [S_MAIL] = 250, [S_RCPT] = 250,
	    [S_DATA] = 354,  [S_DOT] = 250,  [S_QUIT] = 221};
	char rcpt[256];

	if (strlen(l) >= 4 && l[3] == '-')
		return;
	if (r->ss == S_WAIT || atoi(l) != want[r->ss]) {
		fprintf(stderr, "idle_imap: SMTP: unexpected \"%s\"\n", l);
		event_base_loopbreak(r->base);
		return;
	}
	switch (r->ss) {
	case S_GREET:
		evbuffer_add_printf(out, "EHLO bench.example\r\n");
		r->ss = S_EHLO;
		break;
	case S_EHLO:
		evbuffer_add_printf(out,
		                    "MAIL FROM:<bench@remote.example>\r\n");
		r->ss = S_MAIL;
		break;
	case S_MAIL:
		user_name(r, rcpt, sizeof(rcpt), r->o.rcpt, r->k % r->o.users);
		evbuffer_add_printf(out, "RCPT TO:<%s>\r\n", rcpt);
		r->ss = S_RCPT;
		break;
	case S_RCPT:
		evbuffer_add_printf(out, "DATA\r\n");
		r->ss = S_DATA;
		break;
	case S_DATA:
		r->t0[r->k] = bench_now_usec();
		user_name(r, rcpt, sizeof(rcpt), r->o.rcpt, r->k % r->o.users);
		evbuffer_add_printf(
		    out,
		    "From: <bench@remote.example>\r\nTo: <%s>\r\n"
		    "Subject: idle %ld\r\n\r\nHello %ld.\r\n.\r\n",
		    rcpt, r->k, r->k);
		r->ss = S_DOT;
		break;
	case S_DOT:
		r->ss = S_WAIT;
		r->t_wait = bench_now_usec();
		break;
	default:
		event_base_loopbreak(r->base); /* 221 after QUIT: done */
	}
}

static void
smtp_read(struct bufferevent *bev, void *arg)
{
	struct run *r = arg;
	char *l;

	while ((l = evbuffer_readln(bufferevent_get_input(bev), NULL,
	                            EVBUFFER_EOL_CRLF)) != NULL) {
		smtp_reply(r, l);
		free(l);
	}
}

static void
smtp_event(struct bufferevent *bev, short what, void *arg)
{
	struct run *r = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		fprintf(stderr, "idle_imap: SMTP connection lost\n");
		event_base_loopbreak(r->base);
	}
}

static void
smtp_start(struct run *r)
{
	r->sbev = bench_bev_connect(r->base, NULL, &r->smtp);
	if (r->sbev == NULL || r->o.messages == 0) {
		event_base_loopbreak(r->base);
		return;
	}
	bufferevent_setcb(r->sbev, smtp_read, NULL, smtp_event, r);
	bufferevent_enable(r->sbev, EV_READ | EV_WRITE);
}

/* True if fmt's only conversion is one %d (several users' names). */
static bool
fmt_is_one_d(const char *fmt)
{
	const char *p = strchr(fmt, '%');

	return p != NULL && p[1] == 'd' && strchr(p + 2, '%') == NULL;
}

static bool
opts_parse(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.messages = 20,
	                   .users = 1,
	                   .rate = 2000,
	                   .timeout = 120,
	                   .user = "alice@example.test",
	                   .pass = "secret-alice"};
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *n = argv[i], *v = argv[i + 1];
		bool ok = true;

		if (strcmp(n, "--port") == 0)
			ok = bench_num_parse(v, 1, 65535, &o->port);
		else if (strcmp(n, "--smtp-port") == 0)
			ok = bench_num_parse(v, 1, 65535, &o->smtp_port);
		else if (strcmp(n, "--clients") == 0)
			ok = bench_num_parse(v, 1, 1000000, &o->clients);
		else if (strcmp(n, "--messages") == 0)
			ok = bench_num_parse(v, 0, 100000, &o->messages);
		else if (strcmp(n, "--rate") == 0)
			ok = bench_num_parse(v, 1, 1000000, &o->rate);
		else if (strcmp(n, "--server-pid") == 0)
			ok = bench_num_parse(v, 1, 1L << 30, &o->server_pid);
		else if (strcmp(n, "--timeout") == 0)
			ok = bench_num_parse(v, 1, 3600, &o->timeout);
		else if (strcmp(n, "--user") == 0)
			o->user = v;
		else if (strcmp(n, "--pass") == 0)
			o->pass = v;
		else if (strcmp(n, "--rcpt") == 0)
			o->rcpt = v;
		else if (strcmp(n, "--users") == 0)
			ok = bench_num_parse(v, 1, 100000, &o->users);
		else if (strcmp(n, "--settle") == 0)
			ok = bench_num_parse(v, 0, 600, &o->settle);
		else
			ok = false;
		if (!ok) {
			fprintf(stderr, "idle_imap: bad option %s %s\n", n, v);
			return false;
		}
	}
	if (o->rcpt == NULL)
		o->rcpt = o->user;
	if (o->users > 1 && (!fmt_is_one_d(o->user) || !fmt_is_one_d(o->rcpt)))
		return false;
	return o->port != 0 && o->smtp_port != 0 && o->clients != 0 &&
	       argc % 2 == 1;
}

static int
run_main(struct run *r)
{
	struct timeval tv = {0, IDLE_TICK_USEC};
	long missing;

	r->c = calloc((size_t)r->o.clients, sizeof(*r->c));
	r->t0 = calloc((size_t)r->o.messages + 1, sizeof(*r->t0));
	r->seen = calloc((size_t)r->o.messages + 1, sizeof(*r->seen));
	r->idling_of = calloc((size_t)r->o.users, sizeof(*r->idling_of));
	r->base = event_base_new();
	if (r->c == NULL || r->t0 == NULL || r->seen == NULL ||
	    r->idling_of == NULL || r->base == NULL)
		return 2;
	r->pss_before = r->o.server_pid > 0 ? pss_kb(r->o.server_pid) : -1;
	r->t_start = bench_now_usec();
	r->tick = event_new(r->base, -1, EV_PERSIST, tick, r);
	event_add(r->tick, &tv);
	event_base_dispatch(r->base);
	missing = -(long)r->lat.count;
	for (long k = 0; k < r->o.messages; k++)
		missing += r->idling_of[k % r->o.users];
	printf("exists samples=%llu missing=%ld p50_ms=%.2f p90_ms=%.2f "
	       "p99_ms=%.2f max_ms=%.2f\n",
	       (unsigned long long)r->lat.count, missing,
	       bench_lat_pct(&r->lat, 50) / 1000.0,
	       bench_lat_pct(&r->lat, 90) / 1000.0,
	       bench_lat_pct(&r->lat, 99) / 1000.0,
	       bench_lat_pct(&r->lat, 100) / 1000.0);
	return r->refused + r->failed == 0 && missing == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct run r;
	int rc;

	memset(&r, 0, sizeof(r));
	if (!opts_parse(argc, argv, &r.o)) {
		fputs("usage: idle_imap --port P --smtp-port S --clients N "
		      "[--messages K (20)] [--user U --pass P] [--rcpt A] "
		      "[--users K (1; U, A with %d)] [--settle S (0)] "
		      "[--rate R (2000)] [--server-pid PID] [--timeout S]\n",
		      stderr);
		return 2;
	}
	if (!bench_addr_parse(&r.imap, "127.0.0.1", (int)r.o.port) ||
	    !bench_addr_parse(&r.smtp, "127.0.0.1", (int)r.o.smtp_port) ||
	    !bench_nofile_raise("idle_imap", r.o.clients + 64))
		return 2;
	rc = run_main(&r);
	fflush(stdout);
	for (long i = 0; i < r.o.clients; i++)
		if (r.c[i].bev != NULL)
			bufferevent_free(r.c[i].bev);
	if (r.sbev != NULL)
		bufferevent_free(r.sbev);
	if (r.tick != NULL)
		event_free(r.tick);
	if (r.base != NULL)
		event_base_free(r.base);
	bench_lat_free(&r.lat);
	free(r.c);
	free(r.t0);
	free(r.seen);
	free(r.idling_of);
	return rc;
}
