/*
 * postamt serve: run every service in the foreground until SIGTERM/SIGINT.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "auth/auth.h"
#include "cli/cli.h"
#include "http/http.h"
#include "imap/imap.h"
#include "net/server.h"
#include "pop3/lock.h"
#include "pop3/pop3.h"
#include "proto/services.h"
#include "smtp/queue.h"
#include "smtp/smtp.h"
#include "store/store.h"

static const char serve_usage[] =
    "usage: postamt serve [--data DIR] [--port-offset N]\n"
    "\n"
    "Serves SMTP, submission, IMAP and POP3 from DIR (default " CLI_DEFAULT_DATA
    ")\n"
    "in the foreground, logging to standard error (or syslog, see\n"
    "log_syslog).  --port-offset N binds 127.0.0.1 only and adds N to\n"
    "every port: the way tests and `make run` run without root.\n"
    "Signals: SIGTERM/SIGINT stop gracefully, SIGHUP reloads the TLS\n"
    "certificate and key.\n";

/*
 * Idle connections are cheap; file descriptors should not be the limit.
 * A logged-in session holds its socket and its user's index (SQLite: the
 * database, -wal and -shm files), so 10,000 sessions need over 40,000.
 * Root may raise the hard limit itself; others get the hard limit.
 */
#define SERVE_WANT_FDS 262144

static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_max < SERVE_WANT_FDS) {
		struct rlimit more = {SERVE_WANT_FDS, SERVE_WANT_FDS};
		if (setrlimit(RLIMIT_NOFILE, &more) == 0)
			return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
serve_protocols(const struct proto_ops *ops[SVC_COUNT])
{
	for (int i = 0; i < SVC_COUNT; i++)
		ops[i] = NULL;
	ops[SVC_SMTP] = &smtp_proto;
	ops[SVC_SUBMISSION] = &smtp_proto;
	ops[SVC_SUBMISSIONS] = &smtp_proto;
	ops[SVC_IMAP] = &imap_proto;
	ops[SVC_IMAPS] = &imap_proto;
	ops[SVC_POP3] = &pop3_proto;
	ops[SVC_POP3S] = &pop3_proto;
	ops[SVC_HTTP] = &http_proto;
	ops[SVC_HTTPS] = &http_proto;
}

static int
serve_run(const struct config *cfg, int port_offset)
{
	const struct proto_ops *ops[SVC_COUNT];
	struct services svc = {.store = NULL};
	struct buf errors = BUF_INIT;
	struct server *srv = NULL;
	struct smtp_queue_runner *queue = NULL;
	struct err err;
	int rc = CLI_FAILED;

	if (auth_open(cfg->data_dir, &svc.auth, &err) < 0 ||
	    store_open(cfg->data_dir, &svc.store, &err) < 0) {
		fprintf(stderr, "postamt serve: %s\n", err.msg);
		goto out;
	}
	store_set_inline_max(svc.store, (size_t)cfg->store_inline_max);
	store_set_disk_reserve(svc.store, (size_t)cfg->store_disk_reserve);
	auth_set_throttle_limits(svc.auth, &(struct auth_throttle_limits){
	                                       cfg->auth_fail_max_per_ip,
	                                       cfg->auth_fail_max_per_user,
	                                       cfg->auth_fail_window,
	                                       cfg->auth_fail_cooldown});
	if (pop3_locks_new(&svc.pop3_locks, cfg->pop3_login_delay) < 0) {
		fprintf(stderr, "postamt serve: out of memory\n");
		goto out;
	}
	serve_protocols(ops);
	srv = server_new(cfg, ops, &svc, &errors);
	if (srv == NULL || server_listen(srv, port_offset, &errors) < 0) {
		fputs(buf_cstr(&errors), stderr);
		rc = CLI_USAGE;
		goto out;
	}
	/* The outbound queue runs on the same event loop as the sessions. */
	if (smtp_queue_runner_new(server_event_base(srv), cfg, &svc, &queue,
	                          &err) < 0) {
		fprintf(stderr, "postamt serve: %s\n", err.msg);
		rc = err.kind == ERR_SYNTAX ? CLI_USAGE : CLI_FAILED;
		goto out;
	}
	rc = server_run(srv) == 0 ? CLI_OK : CLI_FAILED;
out:
	smtp_queue_runner_free(&queue);
	server_free(&srv);
	store_close(&svc.store);
	auth_close(&svc.auth);
	pop3_locks_free(&svc.pop3_locks);
	buf_free(&errors);
	return rc;
}

int
cli_serve(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, 'd'},
	    {"port-offset", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *data = CLI_DEFAULT_DATA;
	long offset = 0;
	struct config cfg;
	enum log_level level;
	char *end;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			data = optarg;
			break;
		case 'p':
			errno = 0;
			offset = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || offset < 0 ||
			    offset > 64000)
				return cli_usage_error(
				    "serve", "--port-offset wants 0 to 64000");
			break;
		case 'h':
			fputs(serve_usage, stdout);
			return CLI_OK;
		default:
			return cli_usage_error("serve", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("serve", "unexpected argument \"%s\"",
		                       argv[optind]);
	if (cli_load_config(data, &cfg, true) < 0) {
		config_free(&cfg);
		return CLI_USAGE;
	}
	if (log_level_parse(cfg.log_level, &level) < 0)
		level = LOG_LVL_INFO;
	log_setup(cfg.log_syslog, level);
	raise_fd_limit();
	rc = serve_run(&cfg, (int)offset);
	config_free(&cfg);
	return rc;
}
