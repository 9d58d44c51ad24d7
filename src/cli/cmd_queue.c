/*
 * postamt queue: look at and act on the outbound SMTP queue (DATA/queue/).
 *
 * Works on the files directly, so it needs no connection to the server:
 * "flush" leaves a request file that the running server's queue runner
 * picks up at once (smtp/queue.h); "delete" removes a message file.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcntl.h>

#include "cli/cli.h"
#include "smtp/queue.h"

static const char queue_usage[] =
    "usage: postamt queue list [--data DIR]\n"
    "       postamt queue flush [--data DIR]\n"
    "       postamt queue delete ID [--data DIR]\n"
    "\n"
    "list     print one line per queued message: id, age, attempts, next\n"
    "         attempt, sender and recipients\n"
    "flush    ask the running server to try every queued message now\n"
    "delete   remove a message from the queue (no bounce is sent)\n"
    "\n"
    "--data DIR   the data directory (default " CLI_DEFAULT_DATA ")\n"
    "\n"
    "Exit status: 0 ok, 1 runtime failure (e.g. no such message), 2 usage\n"
    "error.\n";

struct queue_list {
	const char *dir;
	size_t count;
};

static int
queue_list_one(const char *id, void *arg)
{
	struct queue_list *ql = arg;
	struct smtp_queue_msg m;
	struct err e;
	time_t now = time(NULL);

	if (smtp_queue_read(ql->dir, id, false, &m, &e) < 0) {
		if (e.kind != ERR_NOTFOUND)
			fprintf(stderr, "postamt queue: %s\n", e.msg);
		return 0;
	}
	printf(
	    "%s age=%" PRId64 "s attempts=%u next=%" PRId64 "s from=<%s> to=",
	    m.id, (int64_t)now - m.created, m.attempts,
	    m.next_attempt > now ? m.next_attempt - (int64_t)now : 0, m.from);
	for (size_t i = 0; i < m.nrcpts; i++)
		printf("%s<%s>", i > 0 ? "," : "", m.rcpts[i].addr);
	printf("\n");
	ql->count++;
	smtp_queue_msg_free(&m);
	return 0;
}

static int
queue_flush(const char *dir)
{
	struct buf path = BUF_INIT;
	int fd;

	buf_printf(&path, "%s/%s", dir, SMTP_QUEUE_FLUSH_FILE);
	fd = open(buf_cstr(&path), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	buf_free(&path);
	if (fd < 0) {
		perror("postamt queue: cannot write the flush request");
		return CLI_FAILED;
	}
	close(fd);
	printf("flush requested; the running server retries every message "
	       "now\n");
	return CLI_OK;
}

static int
queue_run(const char *data, const char *action, const char *id)
{
	struct buf dir = BUF_INIT;
	struct queue_list ql = {NULL, 0};
	struct err e;
	int rc = CLI_OK;

	if (smtp_queue_dir(data, &dir, &e) < 0) {
		fprintf(stderr, "postamt queue: %s\n", e.msg);
		buf_free(&dir);
		return CLI_FAILED;
	}
	ql.dir = buf_cstr(&dir);
	if (strcmp(action, "list") == 0) {
		if (smtp_queue_each(ql.dir, queue_list_one, &ql, &e) < 0) {
			fprintf(stderr, "postamt queue: %s\n", e.msg);
			rc = CLI_FAILED;
		} else if (ql.count == 0) {
			printf("queue is empty\n");
		}
	} else if (strcmp(action, "flush") == 0) {
		rc = queue_flush(ql.dir);
	} else if (smtp_queue_remove(ql.dir, id, &e) < 0) {
		fprintf(stderr, "postamt queue: %s\n", e.msg);
		rc = CLI_FAILED;
	} else {
		printf("deleted %s\n", id);
	}
	buf_free(&dir);
	return rc;
}

int
cli_queue(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *data = CLI_DEFAULT_DATA, *action;
	int ch, npos;

	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'd') {
			data = optarg;
		} else if (ch == 'h') {
			fputs(queue_usage, stdout);
			return CLI_OK;
		} else {
			return cli_usage_error("queue",
			                       "unknown option or missing "
			                       "value: \"%s\"",
			                       argv[optind - 1]);
		}
	}
	npos = argc - optind;
	action = npos > 0 ? argv[optind] : NULL;
	if (action == NULL)
		return cli_usage_error("queue", "missing action (list, flush "
		                                "or delete)");
	if (strcmp(action, "delete") == 0) {
		if (npos != 2)
			return cli_usage_error("queue", "delete takes one ID");
	} else if (strcmp(action, "list") == 0 ||
	           strcmp(action, "flush") == 0) {
		if (npos != 1)
			return cli_usage_error("queue", "%s takes no argument",
			                       action);
	} else {
		return cli_usage_error("queue", "unknown action \"%s\"",
		                       action);
	}
	if (access(data, F_OK) < 0) {
		fprintf(stderr,
		        "postamt queue: %s not found; run `postamt init "
		        "--data %s` first\n",
		        data, data);
		return CLI_FAILED;
	}
	return queue_run(data, action, npos == 2 ? argv[optind + 1] : NULL);
}
