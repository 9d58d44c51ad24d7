/*
 * idle_conns: open many idle client connections to a local server and hold
 * them, so the server's per-connection memory can be measured (see
 * bench/idle_memory.sh and bench/README.md).
 *
 *   idle_conns --host 127.0.0.1 --port P --count N [--tls]
 *              [--expect-greeting] [--hold SECONDS] [--rate R]
 *              [--max-pending M] [--timeout SECONDS]
 *
 * Connections are opened at a bounded rate (and with a bounded number still
 * in their connect/handshake/greeting phase) so the server's listen backlog
 * is not overrun and the numbers measure idle sessions, not SYN queues.
 *
 * Stand-alone on purpose: it uses libevent and OpenSSL directly and nothing
 * of the server's code, so it measures the server from the outside.
 *
 * Only 127.0.0.1 and ::1 are accepted as targets: this tool must never send
 * traffic to another machine.
 *
 * Exit status: 0 when every connection reached its goal (connected, or
 * greeted with --expect-greeting), 1 when some did not, 2 for bad usage or
 * when N exceeds the open-file limit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

/* A greeting longer than this without CRLF is a protocol error. */
#define IDLE_GREETING_MAX 4096
/* File descriptors kept free for stdio, the event base and OpenSSL. */
#define IDLE_FD_RESERVE 32
/* The rate timer ticks every 10 ms. */
#define IDLE_TICK_USEC 10000

struct idle_opts {
	const char *host;
	int port;
	long count;
	bool tls;
	bool expect_greeting;
	long hold;        /* seconds; -1: until SIGINT/SIGTERM */
	long rate;        /* connections started per second */
	long max_pending; /* connections not yet at their goal */
	long timeout;     /* seconds to reach the goal */
};

enum idle_state {
	IDLE_UNSTARTED,
	IDLE_PENDING, /* connecting, TLS handshake or awaiting greeting */
	IDLE_READY,   /* connected (and greeted if asked): idle now */
	IDLE_CLOSED,  /* refused or closed by the server */
	IDLE_FAILED,  /* local error, timeout, bad TLS */
};

struct idle_conn {
	struct idle_run *run;
	struct bufferevent *bev;
	enum idle_state state;
};

struct idle_stats {
	long started, connected, greeted, closed, failed;
};

struct idle_run {
	struct idle_opts opts;
	struct event_base *base;
	SSL_CTX *ssl_ctx;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	struct idle_conn *conns;
	struct idle_stats st;
	long pending;           /* connections in IDLE_PENDING */
	struct timeval t_start; /* when the first connection was started */
	bool setup_done;        /* the summary line has been printed */
	bool bad_greeting_shown;
	bool error_shown;
	struct event *tick_ev, *progress_ev, *hold_ev;
	struct event *sigint_ev, *sigterm_ev;
};

static void idle_conn_start(struct idle_run *run, struct idle_conn *ic);

static void
idle_usage(FILE *f)
{
	fputs("usage: idle_conns --host 127.0.0.1|::1 --port P --count N"
	      " [--tls]\n"
	      "                  [--expect-greeting] [--hold SECONDS]"
	      " [--rate R]\n"
	      "                  [--max-pending M] [--timeout SECONDS]\n"
	      "  --hold 0 exits after the summary; without --hold the"
	      " connections are\n"
	      "  held until SIGINT or SIGTERM.  Defaults: --rate 2000"
	      " --max-pending 1000\n"
	      "  --timeout 30.\n",
	      f);
}

/* Parses a decimal in [min, max]; false on junk, overflow or range. */
static bool
idle_num_parse(const char *s, long min, long max, long *out)
{
	char *end;

	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/*
 * Accepts exactly the loopback addresses 127.0.0.1 and ::1, written in any
 * form inet_pton() takes; everything else (names included) is refused so the
 * tool cannot be pointed at another machine.
 */
static bool
idle_addr_resolve(struct idle_run *run)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&run->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&run->addr;

	memset(&run->addr, 0, sizeof(run->addr));
	if (inet_pton(AF_INET, run->opts.host, &sin->sin_addr) == 1) {
		if (sin->sin_addr.s_addr != htonl(INADDR_LOOPBACK))
			return false;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)run->opts.port);
		run->addr_len = sizeof(*sin);
		return true;
	}
	if (inet_pton(AF_INET6, run->opts.host, &sin6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return false;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)run->opts.port);
		run->addr_len = sizeof(*sin6);
		return true;
	}
	return false;
}

/* Handles one option that takes a value; false on an unknown or bad one. */
static bool
idle_opt_value(struct idle_opts *o, const char *name, const char *val)
{
	long v;

	if (strcmp(name, "--host") == 0) {
		o->host = val;
		return true;
	}
	if (strcmp(name, "--port") == 0) {
		if (!idle_num_parse(val, 1, 65535, &v))
			return false;
		o->port = (int)v;
		return true;
	}
	if (strcmp(name, "--count") == 0)
		return idle_num_parse(val, 1, 10000000, &o->count);
	if (strcmp(name, "--hold") == 0)
		return idle_num_parse(val, 0, 100000000, &o->hold);
	if (strcmp(name, "--rate") == 0)
		return idle_num_parse(val, 1, 1000000, &o->rate);
	if (strcmp(name, "--max-pending") == 0)
		return idle_num_parse(val, 1, 10000000, &o->max_pending);
	if (strcmp(name, "--timeout") == 0)
		return idle_num_parse(val, 1, 86400, &o->timeout);
	return false;
}

/* Returns 0 on success, 1 for --help, -1 on a usage error (reported). */
static int
idle_opts_parse(struct idle_opts *o, int argc, char **argv)
{
	*o = (struct idle_opts){
	    .hold = -1, .rate = 2000, .max_pending = 1000, .timeout = 30};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return 1;
		if (strcmp(a, "--tls") == 0) {
			o->tls = true;
			continue;
		}
		if (strcmp(a, "--expect-greeting") == 0) {
			o->expect_greeting = true;
			continue;
		}
		if (i + 1 >= argc || !idle_opt_value(o, a, argv[i + 1])) {
			fprintf(stderr,
			        "idle_conns: bad or incomplete option"
			        " '%s'\n",
			        a);
			return -1;
		}
		i++;
	}
	if (o->host == NULL || o->port == 0 || o->count == 0) {
		fputs("idle_conns: --host, --port and --count are required\n",
		      stderr);
		return -1;
	}
	return 0;
}

/*
 * Raises the soft open-file limit to the hard one; N connections need N
 * descriptors plus a few.  Returns false (after saying why) if they do not
 * fit.
 */
static bool
idle_nofile_raise(long count)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		perror("idle_conns: getrlimit");
		return false;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			perror("idle_conns: setrlimit (continuing)");
		if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
			return false;
	}
	if (rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)count + IDLE_FD_RESERVE > rl.rlim_cur) {
		fprintf(stderr,
		        "idle_conns: --count %ld needs %ld file"
		        " descriptors but the limit is %llu (hard limit %llu);"
		        " raise it (ulimit -Hn as root) or lower --count\n",
		        count, count + IDLE_FD_RESERVE,
		        (unsigned long long)rl.rlim_cur,
		        (unsigned long long)rl.rlim_max);
		return false;
	}
	return true;
}

/* A client context that does not verify: the target is our own server. */
static SSL_CTX *
idle_ssl_ctx_new(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* Idle connections should not pin 2 x 16 KiB of record buffers. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return ctx;
}

static void
idle_stats_print(const struct idle_run *run, const char *what)
{
	printf("%s: started=%ld connected=%ld greeted=%ld closed=%ld"
	       " failed=%ld pending=%ld\n",
	       what, run->st.started, run->st.connected, run->st.greeted,
	       run->st.closed, run->st.failed, run->pending);
}

/* Every connection has left IDLE_UNSTARTED and IDLE_PENDING. */
static bool
idle_setup_complete(const struct idle_run *run)
{
	return run->st.started == run->opts.count && run->pending == 0;
}

/* Prints the summary line once and starts the hold period. */
static void
idle_setup_finish(struct idle_run *run)
{
	struct timeval now, dt;

	if (run->setup_done)
		return;
	run->setup_done = true;
	gettimeofday(&now, NULL);
	timersub(&now, &run->t_start, &dt);
	printf("connected=%ld greeted=%ld closed=%ld failed=%ld\n",
	       run->st.connected, run->st.greeted, run->st.closed,
	       run->st.failed);
	fprintf(stderr, "idle_conns: setup took %ld.%03ld s\n", (long)dt.tv_sec,
	        (long)(dt.tv_usec / 1000));
	event_del(run->tick_ev);
	if (run->opts.hold == 0) {
		event_base_loopexit(run->base, NULL);
	} else if (run->opts.hold > 0) {
		struct timeval tv = {.tv_sec = run->opts.hold};
		evtimer_add(run->hold_ev, &tv);
	}
}

/* Moves a connection to a final or idle state and keeps counts right. */
static void
idle_conn_set_state(struct idle_conn *ic, enum idle_state to)
{
	struct idle_run *run = ic->run;

	if (ic->state == IDLE_PENDING)
		run->pending--;
	ic->state = to;
	if (to == IDLE_CLOSED || to == IDLE_FAILED) {
		if (to == IDLE_CLOSED)
			run->st.closed++;
		else
			run->st.failed++;
		bufferevent_free(ic->bev);
		ic->bev = NULL;
	} else if (to == IDLE_READY) {
		/* Idle from now on: no timeout, the server decides. */
		bufferevent_set_timeouts(ic->bev, NULL, NULL);
	}
	if (!run->setup_done && idle_setup_complete(run))
		idle_setup_finish(run);
}

/* True if line is a protocol's positive greeting (IMAP, SMTP, POP3). */
static bool
idle_greeting_ok(const char *line)
{
	return strncmp(line, "* OK", 4) == 0 ||
	       strncmp(line, "* PREAUTH", 9) == 0 ||
	       strncmp(line, "220", 3) == 0 || strncmp(line, "+OK", 3) == 0;
}

static void
idle_conn_on_read(struct bufferevent *bev, void *arg)
{
	struct idle_conn *ic = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (ic->state != IDLE_PENDING || !ic->run->opts.expect_greeting) {
		/* Idle: whatever the server says later is not measured. */
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	size_t len;
	char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
	if (line == NULL) {
		if (evbuffer_get_length(in) > IDLE_GREETING_MAX)
			idle_conn_set_state(ic, IDLE_FAILED);
		return;
	}
	if (idle_greeting_ok(line)) {
		ic->run->st.greeted++;
		evbuffer_drain(in, evbuffer_get_length(in));
		idle_conn_set_state(ic, IDLE_READY);
	} else {
		/* "* BYE", "421", "-ERR": the server refused us. */
		if (!ic->run->bad_greeting_shown) {
			ic->run->bad_greeting_shown = true;
			fprintf(stderr, "idle_conns: refused with: %.200s\n",
			        line);
		}
		idle_conn_set_state(ic, IDLE_CLOSED);
	}
	free(line);
}

/* Reports the first TLS or socket error so a failing run says why. */
static void
idle_error_show(struct idle_run *run, short what, int err,
                unsigned long ssl_err)
{
	char msg[256];

	if (run->error_shown)
		return;
	run->error_shown = true;
	if (what & BEV_EVENT_TIMEOUT) {
		fputs("idle_conns: first error: timeout\n", stderr);
	} else if (what & BEV_EVENT_EOF) {
		fputs("idle_conns: first error: closed by the server\n",
		      stderr);
	} else if (ssl_err != 0) {
		ERR_error_string_n(ssl_err, msg, sizeof(msg));
		fprintf(stderr, "idle_conns: first error: TLS: %s\n", msg);
	} else if (err != 0) {
		fprintf(stderr, "idle_conns: first error: %s\n", strerror(err));
	} else {
		fputs("idle_conns: first error: connection closed\n", stderr);
	}
}

/*
 * True if the server refused or hung up rather than something failing:
 * connection refused or reset, end of file, or (TLS) the peer closing the
 * TCP connection in the middle of the handshake.
 */
static bool
idle_event_is_close(short what, int err, unsigned long ssl_err)
{
	if (what & BEV_EVENT_TIMEOUT)
		return false;
	if (ssl_err != 0)
		return ERR_GET_REASON(ssl_err) ==
		       SSL_R_UNEXPECTED_EOF_WHILE_READING;
	return (what & BEV_EVENT_EOF) || err == ECONNREFUSED ||
	       err == ECONNRESET || err == EPIPE;
}

static void
idle_conn_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct idle_conn *ic = arg;
	int err = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_CONNECTED) {
		/* For TLS this fires once the handshake is done. */
		ic->run->st.connected++;
		if (!ic->run->opts.expect_greeting)
			idle_conn_set_state(ic, IDLE_READY);
		return;
	}
	if (ic->state != IDLE_PENDING && ic->state != IDLE_READY)
		return;
	/* Pops the error: read it once, here. */
	unsigned long ssl_err =
	    ic->run->opts.tls ? bufferevent_get_openssl_error(bev) : 0;
	if (ssl_err != 0 && ERR_GET_LIB(ssl_err) == 0) {
		/*
		 * Not an OpenSSL error but libevent's copy of SSL_get_error():
		 * SSL_ERROR_SYSCALL with errno 0 is the peer hanging up.
		 */
		if (ERR_GET_REASON(ssl_err) == SSL_ERROR_SYSCALL && err == 0)
			what |= BEV_EVENT_EOF;
		ssl_err = 0;
	}
	if (idle_event_is_close(what, err, ssl_err)) {
		/* A close of a connection being set up is worth a word. */
		if (ic->state == IDLE_PENDING)
			idle_error_show(ic->run, what, err, ssl_err);
		idle_conn_set_state(ic, IDLE_CLOSED);
		return;
	}
	idle_error_show(ic->run, what, err, ssl_err);
	idle_conn_set_state(ic, IDLE_FAILED);
}

static struct bufferevent *
idle_bev_new(struct idle_run *run)
{
	int opts = BEV_OPT_CLOSE_ON_FREE;

	if (!run->opts.tls)
		return bufferevent_socket_new(run->base, -1, opts);
	SSL *ssl = SSL_new(run->ssl_ctx);
	if (ssl == NULL)
		return NULL;
	struct bufferevent *bev = bufferevent_openssl_socket_new(
	    run->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, opts);
	if (bev == NULL)
		SSL_free(ssl);
	return bev;
}

static void
idle_conn_start(struct idle_run *run, struct idle_conn *ic)
{
	struct timeval tv = {.tv_sec = run->opts.timeout};

	ic->run = run;
	ic->state = IDLE_PENDING;
	run->pending++;
	run->st.started++;
	ic->bev = idle_bev_new(run);
	if (ic->bev == NULL) {
		run->st.failed++;
		run->pending--;
		ic->state = IDLE_FAILED;
		return;
	}
	bufferevent_setcb(ic->bev, idle_conn_on_read, NULL, idle_conn_on_event,
	                  ic);
	bufferevent_set_timeouts(ic->bev, &tv, &tv);
	bufferevent_enable(ic->bev, EV_READ);
	if (bufferevent_socket_connect(ic->bev, (struct sockaddr *)&run->addr,
	                               (int)run->addr_len) != 0) {
		/*
		 * Local failure (EMFILE, EADDRNOTAVAIL ...).  libevent may
		 * already have run the event callback, which counted it.
		 */
		if (ic->state == IDLE_PENDING) {
			idle_error_show(run, BEV_EVENT_ERROR,
			                EVUTIL_SOCKET_ERROR(), 0);
			idle_conn_set_state(ic, IDLE_FAILED);
		}
	}
}

/*
 * Starts as many connections as the rate allows since the first one, but
 * never more than --max-pending unfinished at once.
 */
static void
idle_tick_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct idle_run *run = arg;
	struct timeval now, dt;

	(void)fd;
	(void)what;
	gettimeofday(&now, NULL);
	timersub(&now, &run->t_start, &dt);
	double due = ((double)dt.tv_sec + (double)dt.tv_usec / 1e6) *
	                 (double)run->opts.rate +
	             1.0;
	while (run->st.started < run->opts.count &&
	       (double)run->st.started < due &&
	       run->pending < run->opts.max_pending)
		idle_conn_start(run, &run->conns[run->st.started]);
	if (!run->setup_done && idle_setup_complete(run))
		idle_setup_finish(run);
}

static void
idle_progress_on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	idle_stats_print(arg, "progress");
}

static void
idle_stop_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct idle_run *run = arg;

	(void)fd;
	(void)what;
	if (!run->setup_done)
		idle_setup_finish(run);
	event_base_loopexit(run->base, NULL);
}

/* Creates the timers and signal events; false on failure. */
static bool
idle_events_add(struct idle_run *run)
{
	struct timeval tick = {.tv_usec = IDLE_TICK_USEC};
	struct timeval sec = {.tv_sec = 1};

	run->tick_ev =
	    event_new(run->base, -1, EV_PERSIST, idle_tick_on_timer, run);
	run->progress_ev =
	    event_new(run->base, -1, EV_PERSIST, idle_progress_on_timer, run);
	run->hold_ev = evtimer_new(run->base, idle_stop_on_event, run);
	run->sigint_ev =
	    evsignal_new(run->base, SIGINT, idle_stop_on_event, run);
	run->sigterm_ev =
	    evsignal_new(run->base, SIGTERM, idle_stop_on_event, run);
	if (run->tick_ev == NULL || run->progress_ev == NULL ||
	    run->hold_ev == NULL || run->sigint_ev == NULL ||
	    run->sigterm_ev == NULL)
		return false;
	return event_add(run->tick_ev, &tick) == 0 &&
	       event_add(run->progress_ev, &sec) == 0 &&
	       event_add(run->sigint_ev, NULL) == 0 &&
	       event_add(run->sigterm_ev, NULL) == 0;
}

static void
idle_run_free(struct idle_run *run)
{
	for (long i = 0; run->conns != NULL && i < run->opts.count; i++)
		if (run->conns[i].bev != NULL)
			bufferevent_free(run->conns[i].bev);
	free(run->conns);
	struct event *evs[] = {run->tick_ev, run->progress_ev, run->hold_ev,
	                       run->sigint_ev, run->sigterm_ev};
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i] != NULL)
			event_free(evs[i]);
	if (run->ssl_ctx != NULL)
		SSL_CTX_free(run->ssl_ctx);
	if (run->base != NULL)
		event_base_free(run->base);
}

/* Sets up everything but the connections; false (reported) on failure. */
static bool
idle_run_init(struct idle_run *run)
{
	run->conns = calloc((size_t)run->opts.count, sizeof(*run->conns));
	run->base = event_base_new();
	if (run->conns == NULL || run->base == NULL) {
		fputs("idle_conns: out of memory\n", stderr);
		return false;
	}
	if (run->opts.tls && (run->ssl_ctx = idle_ssl_ctx_new()) == NULL) {
		fputs("idle_conns: cannot create the TLS context\n", stderr);
		return false;
	}
	if (!idle_events_add(run)) {
		fputs("idle_conns: cannot create events\n", stderr);
		return false;
	}
	return true;
}

int
main(int argc, char **argv)
{
	struct idle_run run = {0};

	int rc = idle_opts_parse(&run.opts, argc, argv);
	if (rc != 0) {
		idle_usage(rc > 0 ? stdout : stderr);
		return rc > 0 ? 0 : 2;
	}
	if (!idle_addr_resolve(&run)) {
		fprintf(stderr,
		        "idle_conns: refusing host '%s': only 127.0.0.1"
		        " and ::1 are allowed\n",
		        run.opts.host);
		return 2;
	}
	if (!idle_nofile_raise(run.opts.count))
		return 2;
	/* Line-buffered so a script can wait for the summary line. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (!idle_run_init(&run)) {
		idle_run_free(&run);
		return 1;
	}
	gettimeofday(&run.t_start, NULL);
	event_base_dispatch(run.base);
	idle_stats_print(&run, "final");
	bool all = run.opts.expect_greeting
	               ? run.st.greeted == run.opts.count
	               : run.st.connected == run.opts.count;
	idle_run_free(&run);
	return all ? 0 : 1;
}
