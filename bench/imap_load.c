/*
 * imap_load: N IMAP clients against a local server; reports operations per
 * second and latency percentiles (see bench/README.md, bench/imap_bench.sh).
 *
 *   imap_load --port P --mode mixed|append|session|idle --clients N
 *             [--host 127.0.0.1] [--user FMT] [--users U] [--pass PW]
 *             [--duration S] [--ops K] [--msg-size B] [--idle-ms MS]
 *             [--rate R] [--timeout S] [--tls]
 *
 * Modes:
 *   mixed    LOGIN, SELECT once; then per client in a loop: FETCH 1:*
 *            (FLAGS), FETCH n BODY.PEEK[], STORE n +FLAGS (\Seen), APPEND
 *            (--msg-size), STORE last +FLAGS (\Deleted), EXPUNGE, IDLE held
 *            --idle-ms then DONE.  The mailbox keeps its size.
 *   append   LOGIN once, then APPEND in a loop.
 *   session  whole sessions in a loop: connect, LOGIN, SELECT, FETCH 1:*
 *            (FLAGS), LOGOUT; one op = one session, timed from connect.
 *   idle     every client: LOGIN, SELECT, IDLE; reports how many reached
 *            IDLE and how many were refused, holds --duration, exits.
 *
 * In mixed and append mode the clock starts once every client has logged in
 * (and selected), so login cost (password hashing) does not distort the
 * steady state; login latency is reported on its own line.  With --ops K a
 * client stops after K loop operations (used to preload mailboxes).
 *
 * Client i logs in as FMT with "%d" replaced by (i mod U) + 1, so every
 * client can have its own mailbox.  Plaintext LOGIN: the target must allow
 * it (loopback benchmark configuration).  Only 127.0.0.1 and ::1.
 *
 * Output: one line per operation kind, "name ops=.. ops_per_s=.. p50_ms=..
 * p90_ms=.. p99_ms=.. max_ms=..", then "total ..." and a "summary" line.
 * Exit status 0 if no operation failed, 1 otherwise, 2 for bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "bench_util.h"

/* A server line longer than this without CRLF is a protocol error. */
#define LOAD_LINE_MAX (64 * 1024)
/* Clients started per tick (10 ms) at most: --rate / 100. */
#define LOAD_TICK_USEC 10000

enum load_mode { MODE_MIXED, MODE_APPEND, MODE_SESSION, MODE_IDLE };

enum load_op {
	OP_LOGIN,
	OP_SELECT,
	OP_FETCH_FLAGS,
	OP_FETCH_BODY,
	OP_STORE_SEEN,
	OP_APPEND,
	OP_STORE_DEL,
	OP_EXPUNGE,
	OP_IDLE,
	OP_LOGOUT,
	OP_SESSION,
	OP__N
};

static const char *const load_op_names[OP__N] = {
    "login",      "select", "fetch_flags",   "fetch_body",
    "store_seen", "append", "store_deleted", "expunge",
    "idle",       "logout", "session"};

/* The loop of mixed mode, one operation after another. */
static const enum load_op load_mixed_seq[] = {
    OP_FETCH_FLAGS, OP_FETCH_BODY, OP_STORE_SEEN, OP_APPEND,
    OP_STORE_DEL,   OP_EXPUNGE,    OP_IDLE};
#define LOAD_MIXED_N (sizeof(load_mixed_seq) / sizeof(load_mixed_seq[0]))

struct load_opts {
	const char *host, *user_fmt, *pass;
	long port, clients, users, duration, ops, msg_size, idle_ms, rate;
	long timeout;
	enum load_mode mode;
	bool tls;
};

enum client_phase { CL_UNSTARTED, CL_SETUP, CL_WAITING, CL_RUNNING, CL_DONE };

struct load_client {
	struct load_run *run;
	struct bufferevent *bev;
	struct event *idle_ev;
	enum client_phase phase;
	long idx;
	char user[128];
	unsigned tag;
	enum load_op op;
	int64_t t_op, t_session, idle_enter_usec;
	long exists;
	size_t skip;        /* literal bytes still to drain */
	bool after_literal; /* the next line continues a response */
	bool greeted, idling;
	bool append_failed; /* then skip this round's STORE \Deleted, EXPUNGE */
	size_t seq;         /* position in load_mixed_seq */
	long done_ops;
	unsigned rng;
};

struct load_run {
	struct load_opts o;
	struct event_base *base;
	SSL_CTX *ssl;
	struct bench_addr addr;
	struct load_client *cl;
	char *msg;
	long started, ready, dead, finished, idling, refused;
	bool measuring;
	int64_t t_start, t_end;
	struct bench_lat lat[OP__N];
	unsigned long errors[OP__N];
	bool error_shown;
	struct event *tick_ev, *end_ev, *timeout_ev;
};

static void load_client_connect(struct load_client *c);
static void load_client_next(struct load_client *c);
static void load_run_begin(struct load_run *run);

static void
load_usage(FILE *f)
{
	fputs("usage: imap_load --port P --mode mixed|append|session|idle"
	      " --clients N\n"
	      "  [--host 127.0.0.1] [--user FMT (default testuser%d)]"
	      " [--users U (default N)]\n"
	      "  [--pass PW (default pass)] [--duration S (10)] [--ops K]\n"
	      "  [--msg-size B (4096)] [--idle-ms MS (5)] [--rate R (2000)]"
	      " [--timeout S (120)] [--tls]\n",
	      f);
}

static bool
load_mode_parse(const char *s, enum load_mode *m)
{
	static const char *const names[] = {"mixed", "append", "session",
	                                    "idle"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*m = (enum load_mode)i;
			return true;
		}
	}
	return false;
}

/* Handles one option with a value; false on an unknown or bad one. */
static bool
load_opt_value(void *ctx, const char *n, const char *v)
{
	struct load_opts *o = ctx;

	if (strcmp(n, "--host") == 0)
		return (o->host = v) != NULL;
	if (strcmp(n, "--user") == 0)
		return (o->user_fmt = v) != NULL;
	if (strcmp(n, "--pass") == 0)
		return (o->pass = v) != NULL;
	if (strcmp(n, "--mode") == 0)
		return load_mode_parse(v, &o->mode);
	if (strcmp(n, "--port") == 0)
		return bench_num_parse(v, 1, 65535, &o->port);
	if (strcmp(n, "--clients") == 0)
		return bench_num_parse(v, 1, 1000000, &o->clients);
	if (strcmp(n, "--users") == 0)
		return bench_num_parse(v, 1, 1000000, &o->users);
	if (strcmp(n, "--duration") == 0)
		return bench_num_parse(v, 1, 86400, &o->duration);
	if (strcmp(n, "--ops") == 0)
		return bench_num_parse(v, 1, 100000000, &o->ops);
	if (strcmp(n, "--msg-size") == 0)
		return bench_num_parse(v, 64, 64L * 1024 * 1024, &o->msg_size);
	if (strcmp(n, "--idle-ms") == 0)
		return bench_num_parse(v, 0, 60000, &o->idle_ms);
	if (strcmp(n, "--rate") == 0)
		return bench_num_parse(v, 100, 1000000, &o->rate);
	if (strcmp(n, "--timeout") == 0)
		return bench_num_parse(v, 1, 86400, &o->timeout);
	return false;
}

/* Returns 0 on success, 1 for --help, -1 on a usage error (reported). */
static int
load_opts_parse(struct load_opts *o, int argc, char **argv)
{
	bool have_mode = false;
	int rc;

	*o = (struct load_opts){.host = "127.0.0.1",
	                        .user_fmt = "testuser%d",
	                        .pass = "pass",
	                        .duration = 10,
	                        .msg_size = 4096,
	                        .idle_ms = 5,
	                        .rate = 2000,
	                        .timeout = 120};
	rc = bench_opts_loop("imap_load", argc, argv, &o->tls, load_opt_value,
	                     o, "--mode", &have_mode);
	if (rc != 0)
		return rc;
	if (o->port == 0 || o->clients == 0 || !have_mode) {
		fputs("imap_load: --port, --mode and --clients are required\n",
		      stderr);
		return -1;
	}
	if (o->users == 0)
		o->users = o->clients;
	return 0;
}

/* A message of exactly size bytes: headers, then 76-character lines. */
static char *
load_msg_build(long size)
{
	char *m = malloc((size_t)size + 1);
	int h;

	if (m == NULL)
		return NULL;
	h = snprintf(m, (size_t)size + 1,
	             "From: bench@bench.test\r\nTo: bench@bench.test\r\n"
	             "Subject: imap_load\r\nMessage-ID: <load@bench.test>\r\n"
	             "\r\n");
	for (long i = h; i < size; i++) {
		long col = (i - h) % 78;
		m[i] = col == 76   ? '\r'
		       : col == 77 ? '\n'
		                   : (char)('a' + col % 26);
	}
	/* End on CRLF so the message is well formed whatever the size. */
	m[size - 2] = '\r';
	m[size - 1] = '\n';
	m[size] = '\0';
	return m;
}

static void
load_error_show(struct load_run *run, const struct load_client *c,
                const char *what, const char *line)
{
	if (run->error_shown)
		return;
	run->error_shown = true;
	fprintf(stderr, "imap_load: client %ld %s: %s (only the first shown)\n",
	        c->idx, what, line);
}

/* Sends the command for op (tagged "a<n>") and starts its clock. */
static void
load_client_send(struct load_client *c, enum load_op op)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const struct load_opts *o = &c->run->o;
	long n = c->exists > 0 ? (long)(rand_r(&c->rng) % c->exists) + 1 : 1;

	c->op = op;
	c->tag++;
	c->t_op = bench_now_usec();
	evbuffer_add_printf(out, "a%u ", c->tag);
	switch (op) {
	case OP_LOGIN:
		evbuffer_add_printf(out, "LOGIN \"%s\" \"%s\"\r\n", c->user,
		                    o->pass);
		break;
	case OP_SELECT:
		evbuffer_add_printf(out, "SELECT INBOX\r\n");
		break;
	case OP_FETCH_FLAGS:
		evbuffer_add_printf(out, "FETCH 1:* (FLAGS)\r\n");
		break;
	case OP_FETCH_BODY:
		evbuffer_add_printf(out, "FETCH %ld BODY.PEEK[]\r\n", n);
		break;
	case OP_STORE_SEEN:
		evbuffer_add_printf(out, "STORE %ld +FLAGS (\\Seen)\r\n", n);
		break;
	case OP_APPEND:
		evbuffer_add_printf(out, "APPEND INBOX {%ld}\r\n", o->msg_size);
		break;
	case OP_STORE_DEL:
		evbuffer_add_printf(out, "STORE %ld +FLAGS (\\Deleted)\r\n",
		                    c->exists > 0 ? c->exists : 1);
		break;
	case OP_EXPUNGE:
		evbuffer_add_printf(out, "EXPUNGE\r\n");
		break;
	case OP_IDLE:
		evbuffer_add_printf(out, "IDLE\r\n");
		break;
	default:
		evbuffer_add_printf(out, "LOGOUT\r\n");
		break;
	}
}

static void
load_client_close(struct load_client *c)
{
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	c->bev = NULL;
	if (c->idle_ev != NULL)
		event_del(c->idle_ev);
}

static void
load_run_check_end(struct load_run *run)
{
	if (run->finished + run->dead >= run->o.clients)
		event_base_loopbreak(run->base);
}

/* The client is out of the run (failed, refused or done). */
static void
load_client_retire(struct load_client *c, bool failed)
{
	struct load_run *run = c->run;
	enum client_phase was = c->phase;

	load_client_close(c);
	c->phase = CL_DONE;
	if (failed)
		run->dead++;
	else
		run->finished++;
	if (was == CL_SETUP && failed && run->o.mode == MODE_IDLE)
		run->refused++;
	if (!run->measuring && run->o.mode != MODE_SESSION &&
	    run->ready + run->dead >= run->o.clients)
		load_run_begin(run);
	load_run_check_end(run);
}

/* Every client is logged in (or gone): start the clock and the loops. */
static void
load_run_begin(struct load_run *run)
{
	struct timeval tv = {.tv_sec = run->o.duration};

	run->measuring = true;
	run->t_start = bench_now_usec();
	if (run->o.ops == 0)
		evtimer_add(run->end_ev, &tv);
	if (run->o.mode == MODE_IDLE) {
		printf("idle clients=%ld idling=%ld refused=%ld failed=%ld\n",
		       run->o.clients, run->idling, run->refused,
		       run->dead - run->refused);
		fflush(stdout);
		return;
	}
	for (long i = 0; i < run->o.clients; i++) {
		struct load_client *c = &run->cl[i];
		if (c->phase == CL_WAITING) {
			c->phase = CL_RUNNING;
			load_client_next(c);
		}
	}
}

static void
load_client_ready(struct load_client *c)
{
	struct load_run *run = c->run;

	c->phase = CL_WAITING;
	run->ready++;
	if (!run->measuring && run->ready + run->dead >= run->o.clients)
		load_run_begin(run);
}

/* Picks and sends the next operation after setup or a completed one. */
static void
load_client_next(struct load_client *c)
{
	const struct load_opts *o = &c->run->o;

	if (c->phase != CL_RUNNING)
		return;
	if (o->ops > 0 && c->done_ops >= o->ops) {
		c->phase = CL_DONE;
		c->run->finished++;
		load_client_send(c, OP_LOGOUT);
		load_run_check_end(c->run);
		return;
	}
	if (o->mode == MODE_APPEND) {
		load_client_send(c, OP_APPEND);
		return;
	}
	/*
	 * Without the APPEND, deleting a message would shrink the mailbox a
	 * little every round (a server that refuses APPEND ends up empty).
	 */
	while (c->append_failed && (load_mixed_seq[c->seq] == OP_STORE_DEL ||
	                            load_mixed_seq[c->seq] == OP_EXPUNGE))
		c->seq = (c->seq + 1) % LOAD_MIXED_N;
	load_client_send(c, load_mixed_seq[c->seq]);
	c->seq = (c->seq + 1) % LOAD_MIXED_N;
}

/* Setup steps (and the whole of session mode) after a tagged OK. */
static void
load_client_setup_step(struct load_client *c)
{
	enum load_mode m = c->run->o.mode;

	switch (c->op) {
	case OP_LOGIN:
		if (m == MODE_APPEND)
			load_client_ready(c);
		else
			load_client_send(c, OP_SELECT);
		return;
	case OP_SELECT:
		if (m == MODE_SESSION)
			load_client_send(c, OP_FETCH_FLAGS);
		else if (m == MODE_IDLE)
			load_client_send(c, OP_IDLE);
		else
			load_client_ready(c);
		return;
	case OP_FETCH_FLAGS:
		load_client_send(c, OP_LOGOUT);
		return;
	default: /* LOGOUT of a session: one session done, start another */
		bench_lat_add(&c->run->lat[OP_SESSION],
		              bench_now_usec() - c->t_session);
		load_client_close(c);
		load_client_connect(c);
		return;
	}
}

static void
load_client_tagged(struct load_client *c, const char *rest)
{
	struct load_run *run = c->run;
	bool ok = strncmp(rest, "OK", 2) == 0;
	int64_t lat = bench_now_usec() - c->t_op;

	if (c->op == OP_APPEND)
		c->append_failed = !ok;

	if (c->op == OP_IDLE)
		lat += c->idle_enter_usec;
	if (c->phase == CL_DONE) { /* our LOGOUT after --ops */
		load_client_close(c);
		return;
	}
	if (!ok) {
		run->errors[c->op]++;
		load_error_show(run, c, load_op_names[c->op], rest);
		if (c->phase != CL_RUNNING) {
			load_client_retire(c, true);
			return;
		}
	} else {
		bench_lat_add(&run->lat[c->op], lat);
	}
	if (c->phase == CL_SETUP) {
		load_client_setup_step(c);
		return;
	}
	if (c->op == OP_STORE_DEL || c->op == OP_APPEND ||
	    c->op == OP_FETCH_FLAGS || c->op == OP_FETCH_BODY ||
	    c->op == OP_STORE_SEEN || c->op == OP_EXPUNGE || c->op == OP_IDLE)
		c->done_ops++;
	load_client_next(c);
}

static void
load_idle_done_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct load_client *c = arg;

	(void)fd;
	(void)what;
	if (c->bev == NULL)
		return;
	c->t_op = bench_now_usec();
	evbuffer_add_printf(bufferevent_get_output(c->bev), "DONE\r\n");
}

/* A "+" continuation: send the APPEND literal, or we are in IDLE. */
static void
load_client_cont(struct load_client *c)
{
	struct load_run *run = c->run;

	if (c->op == OP_APPEND) {
		struct evbuffer *out = bufferevent_get_output(c->bev);
		evbuffer_add(out, run->msg, (size_t)run->o.msg_size);
		evbuffer_add(out, "\r\n", 2);
		return;
	}
	if (c->op != OP_IDLE || c->idling)
		return;
	c->idling = true;
	c->idle_enter_usec = bench_now_usec() - c->t_op;
	if (run->o.mode == MODE_IDLE) {
		bench_lat_add(&run->lat[OP_IDLE], c->idle_enter_usec);
		run->idling++;
		load_client_ready(c);
		return;
	}
	struct timeval tv = {.tv_sec = run->o.idle_ms / 1000,
	                     .tv_usec = (run->o.idle_ms % 1000) * 1000};
	if (c->idle_ev == NULL)
		c->idle_ev = evtimer_new(run->base, load_idle_done_on_timer, c);
	if (c->idle_ev != NULL)
		evtimer_add(c->idle_ev, &tv);
}

static void
load_client_untagged(struct load_client *c, const char *line)
{
	long n;
	char word[16];

	if (!c->greeted) {
		c->greeted = true;
		if (strncmp(line, "* OK", 4) == 0) {
			load_client_send(c, OP_LOGIN);
			return;
		}
		load_error_show(c->run, c, "greeting", line);
		load_client_retire(c, true);
		return;
	}
	if (sscanf(line, "* %ld %15s", &n, word) != 2)
		return;
	if (strcmp(word, "EXISTS") == 0)
		c->exists = n;
	else if (strcmp(word, "EXPUNGE") == 0 && c->exists > 0)
		c->exists--;
}

/* One complete line from the server (CRLF removed). */
static void
load_client_line(struct load_client *c, char *line, size_t len)
{
	char tag[16];
	bool cont = c->after_literal;
	int tl;

	c->after_literal = false;
	if (len > 2 && line[len - 1] == '}') {
		char *open = strrchr(line, '{');
		if (open != NULL) {
			c->skip = strtoul(open + 1, NULL, 10);
			c->after_literal = true;
		}
	}
	if (cont)
		return;
	if (line[0] == '+') {
		load_client_cont(c);
		return;
	}
	if (line[0] == '*') {
		load_client_untagged(c, line);
		return;
	}
	tl = snprintf(tag, sizeof(tag), "a%u ", c->tag);
	if (tl > 0 && strncmp(line, tag, (size_t)tl) == 0) {
		c->idling = false;
		load_client_tagged(c, line + tl);
	}
}

static void
load_client_on_read(struct bufferevent *bev, void *arg)
{
	struct load_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (c->bev == bev) {
		if (c->skip > 0) {
			size_t have = evbuffer_get_length(in);
			size_t n = have < c->skip ? have : c->skip;
			evbuffer_drain(in, n);
			c->skip -= n;
			if (c->skip > 0)
				return;
		}
		size_t len;
		char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
		if (line == NULL) {
			if (evbuffer_get_length(in) > LOAD_LINE_MAX) {
				load_error_show(c->run, c, "line", "too long");
				load_client_retire(c, true);
			}
			return;
		}
		load_client_line(c, line, len);
		free(line);
	}
}

static void
load_client_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct load_client *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (c->phase == CL_DONE) { /* the server closed after our LOGOUT */
		load_client_close(c);
		return;
	}
	load_error_show(c->run, c, "connection",
	                (what & BEV_EVENT_EOF) ? "closed by the server"
	                                       : "error or refused");
	if (c->run->o.mode == MODE_SESSION && c->phase == CL_SETUP) {
		c->run->errors[OP_SESSION]++;
		load_client_close(c);
		load_client_connect(c);
		return;
	}
	load_client_retire(c, true);
}

static void
load_client_connect(struct load_client *c)
{
	struct load_run *run = c->run;

	c->greeted = c->idling = c->after_literal = false;
	c->skip = 0;
	c->phase = CL_SETUP;
	c->t_session = bench_now_usec();
	c->bev = bench_bev_connect(run->base, run->ssl, &run->addr);
	if (c->bev == NULL) {
		load_error_show(run, c, "connect", "cannot start");
		load_client_retire(c, true);
		return;
	}
	bufferevent_setcb(c->bev, load_client_on_read, NULL,
	                  load_client_on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* Starts up to --rate / 100 clients per tick so the backlog is not flooded. */
static void
load_tick_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct load_run *run = arg;
	long n = run->o.rate / 100;

	(void)fd;
	(void)what;
	while (n-- > 0 && run->started < run->o.clients) {
		struct load_client *c = &run->cl[run->started++];
		load_client_connect(c);
	}
	if (run->started >= run->o.clients)
		event_del(run->tick_ev);
	if (run->o.mode == MODE_SESSION && !run->measuring) {
		run->measuring = true;
		run->t_start = bench_now_usec();
		struct timeval tv = {.tv_sec = run->o.duration};
		evtimer_add(run->end_ev, &tv);
	}
}

static void
load_stop_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct load_run *run = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(run->base);
}

static bool
load_run_init(struct load_run *run)
{
	struct timeval tick = {.tv_usec = LOAD_TICK_USEC};
	struct timeval to = {.tv_sec = run->o.timeout};

	run->base = event_base_new();
	run->cl = calloc((size_t)run->o.clients, sizeof(*run->cl));
	run->msg = load_msg_build(run->o.msg_size);
	if (run->base == NULL || run->cl == NULL || run->msg == NULL)
		return false;
	if (run->o.tls && (run->ssl = bench_ssl_ctx_new()) == NULL)
		return false;
	for (long i = 0; i < run->o.clients; i++) {
		struct load_client *c = &run->cl[i];
		c->run = run;
		c->idx = i;
		c->rng = (unsigned)i * 2654435761u + 1;
		if (!bench_user_format(c->user, sizeof(c->user),
		                       run->o.user_fmt, i % run->o.users + 1))
			return false;
	}
	run->tick_ev =
	    event_new(run->base, -1, EV_PERSIST, load_tick_on_timer, run);
	run->end_ev = evtimer_new(run->base, load_stop_on_timer, run);
	run->timeout_ev = evtimer_new(run->base, load_stop_on_timer, run);
	if (run->tick_ev == NULL || run->end_ev == NULL ||
	    run->timeout_ev == NULL)
		return false;
	event_add(run->tick_ev, &tick);
	if (run->o.mode != MODE_SESSION)
		evtimer_add(run->timeout_ev, &to);
	return true;
}

static int
load_report(struct load_run *run)
{
	static const char *const modes[] = {"mixed", "append", "session",
	                                    "idle"};
	double secs = (double)(run->t_end - run->t_start) / 1e6;
	struct bench_lat total = {0};
	unsigned long errors = 0;

	for (int k = 0; k < OP__N; k++) {
		errors += run->errors[k];
		if (run->lat[k].count == 0 && run->errors[k] == 0)
			continue;
		bool setup = k == OP_LOGIN || k == OP_SELECT || k == OP_LOGOUT;
		printf("%s errors=%lu ", setup ? "setup" : "op",
		       run->errors[k]);
		bench_lat_print(&run->lat[k], load_op_names[k], secs);
		if (setup && run->o.mode != MODE_SESSION)
			continue;
		if (run->o.mode == MODE_SESSION && k != OP_SESSION)
			continue;
		for (size_t i = 0; i < run->lat[k].n; i++)
			bench_lat_add(&total, run->lat[k].v[i]);
		total.count += run->lat[k].count - run->lat[k].n;
	}
	bench_lat_print(&total, "total", secs);
	printf("summary mode=%s clients=%ld secs=%.2f measured=%s dead=%ld "
	       "errors=%lu\n",
	       modes[run->o.mode], run->o.clients, secs,
	       run->measuring ? "yes" : "no", run->dead, errors);
	bench_lat_free(&total);
	return errors == 0 && run->dead == 0 && run->measuring ? 0 : 1;
}

static void
load_run_free(struct load_run *run)
{
	for (long i = 0; run->cl != NULL && i < run->o.clients; i++) {
		load_client_close(&run->cl[i]);
		if (run->cl[i].idle_ev != NULL)
			event_free(run->cl[i].idle_ev);
	}
	for (int k = 0; k < OP__N; k++)
		bench_lat_free(&run->lat[k]);
	if (run->tick_ev != NULL)
		event_free(run->tick_ev);
	if (run->end_ev != NULL)
		event_free(run->end_ev);
	if (run->timeout_ev != NULL)
		event_free(run->timeout_ev);
	if (run->ssl != NULL)
		SSL_CTX_free(run->ssl);
	if (run->base != NULL)
		event_base_free(run->base);
	free(run->cl);
	free(run->msg);
}

int
main(int argc, char **argv)
{
	struct load_run run = {0};
	int rc;

	rc = load_opts_parse(&run.o, argc, argv);
	if (rc != 0) {
		load_usage(rc > 0 ? stdout : stderr);
		return rc > 0 ? 0 : 2;
	}
	if (!bench_addr_parse(&run.addr, run.o.host, (int)run.o.port)) {
		fputs("imap_load: --host must be 127.0.0.1 or ::1\n", stderr);
		return 2;
	}
	if (!bench_nofile_raise("imap_load", run.o.clients + 64))
		return 2;
	if (!load_run_init(&run)) {
		fputs("imap_load: out of memory or bad --user\n", stderr);
		load_run_free(&run);
		return 2;
	}
	event_base_dispatch(run.base);
	run.t_end = bench_now_usec();
	rc = load_report(&run);
	load_run_free(&run);
	return rc;
}
