/*
 * pop3_stream: issue 6's bandwidth figure, "at least half of loopback
 * bandwidth for large messages", measured with a client that is not the
 * limit, next to loopback itself.
 *
 *   pop3_stream --port P --user U [--pass PW] [--min-size B] [--window W]
 *   pop3_stream --loopback FILE
 *
 * The first form: USER, PASS, LIST, then RETR of every message of at
 * least B octets (default 1000000) with W (8) commands in flight, read
 * with plain blocking recv() into one 4 MiB buffer; a reply ends at the
 * first "\r\n.\r\n" (found by memchr() for '.', which bodies rarely
 * hold).  pop3_download's libevent reader costs ~1.7 ms of CPU per MiB,
 * more than the server now does, so it measured itself.  The second form
 * is the reference: FILE sent with sendfile() by a thread to the same
 * receive loop over 127.0.0.1 (what a server could do at best).  Both
 * print "MB_per_s=" (10^6 bytes on the wire per second).
 *
 * Loopback only: the address is 127.0.0.1, fixed.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"

#define PS_BUF (4 * 1024 * 1024)
#define PS_MSGS_MAX 1000000

struct ps_conn {
	int fd;
	char *buf; /* PS_BUF bytes */
	size_t len, off;
};

static int
ps_connect(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("pop3_stream: connect");
		exit(2);
	}
	return fd;
}

static void
ps_send(struct ps_conn *c, const char *s)
{
	size_t n = strlen(s);

	if (send(c->fd, s, n, 0) != (ssize_t)n) {
		perror("pop3_stream: send");
		exit(2);
	}
}

/* One line of the status part of the dialogue (small, so simply). */
static void
ps_line(struct ps_conn *c, char *out, size_t cap)
{
	size_t n = 0;

	for (;;) {
		if (c->off == c->len) {
			ssize_t r = recv(c->fd, c->buf, PS_BUF, 0);
			if (r <= 0) {
				fputs("pop3_stream: connection closed\n",
				      stderr);
				exit(2);
			}
			c->len = (size_t)r;
			c->off = 0;
		}
		char ch = c->buf[c->off++];
		if (ch == '\n')
			break;
		if (ch != '\r' && n + 1 < cap)
			out[n++] = ch;
	}
	out[n] = '\0';
}

static void
ps_ok(struct ps_conn *c, const char *what)
{
	char line[512];

	ps_line(c, line, sizeof(line));
	if (strncmp(line, "+OK", 3) != 0) {
		fprintf(stderr, "pop3_stream: %s: %s\n", what, line);
		exit(2);
	}
}

/*
 * Counts the ends of replies ("\r\n.\r\n") in the bytes arriving until
 * there were n_want; more(arg) after each one (to send the next RETR).
 * Returns the bytes received (those already buffered included), -1 if
 * the connection closed first.
 */
static long long
ps_receive(struct ps_conn *c, long n_want, void (*more)(void *), void *arg)
{
	long long bytes = (long long)(c->len - c->off);
	size_t checked; /* dots before this index are decided */
	long done = 0;

	memmove(c->buf, c->buf + c->off, c->len - c->off);
	c->len -= c->off;
	c->off = 0;
	checked = 0;
	while (done < n_want) {
		bool pending = false; /* a dot too near the end to decide */
		char *d;

		while (done < n_want && checked < c->len &&
		       (d = memchr(c->buf + checked, '.', c->len - checked)) !=
		           NULL) {
			size_t at = (size_t)(d - c->buf);

			if (at + 3 > c->len) {
				checked =
				    at; /* decided once 2 more bytes come */
				pending = true;
				break;
			}
			checked = at + 1;
			if (at >= 2 && memcmp(d - 2, "\r\n.\r\n", 5) == 0) {
				done++;
				more(arg);
			}
		}
		if (done == n_want)
			break;
		if (!pending)
			checked = c->len;
		/* Keep the 2 bytes before the first undecided one. */
		size_t start = checked >= 2 ? checked - 2 : 0;
		memmove(c->buf, c->buf + start, c->len - start);
		c->len -= start;
		checked -= start;
		ssize_t r = recv(c->fd, c->buf + c->len, PS_BUF - c->len, 0);
		if (r <= 0)
			return -1;
		c->len += (size_t)r;
		bytes += r;
	}
	return bytes;
}

struct ps_retr {
	struct ps_conn *c;
	long *nums;
	long n, sent;
};

static void
ps_retr_next(void *arg)
{
	struct ps_retr *r = arg;
	char cmd[64];

	if (r->sent == r->n)
		return;
	snprintf(cmd, sizeof(cmd), "RETR %ld\r\n", r->nums[r->sent++]);
	ps_send(r->c, cmd);
}

static void
ps_nothing(void *arg)
{
	(void)arg;
}

static int
ps_pop3(int port, const char *user, const char *pass, long min_size,
        long window)
{
	struct ps_conn c = {.fd = ps_connect(port), .buf = malloc(PS_BUF)};
	struct ps_retr r = {.c = &c,
	                    .nums = malloc(PS_MSGS_MAX * sizeof(long))};
	char line[512];
	int64_t t0;
	long long bytes;

	if (c.buf == NULL || r.nums == NULL)
		return 2;
	ps_ok(&c, "greeting");
	snprintf(line, sizeof(line), "USER %s\r\n", user);
	ps_send(&c, line);
	ps_ok(&c, "USER");
	snprintf(line, sizeof(line), "PASS %s\r\n", pass);
	ps_send(&c, line);
	ps_ok(&c, "PASS");
	ps_send(&c, "LIST\r\n");
	ps_ok(&c, "LIST");
	for (;;) {
		long num, size;

		ps_line(&c, line, sizeof(line));
		if (strcmp(line, ".") == 0)
			break;
		if (sscanf(line, "%ld %ld", &num, &size) == 2 &&
		    size >= min_size && r.n < PS_MSGS_MAX)
			r.nums[r.n++] = num;
	}
	t0 = bench_now_usec();
	for (long i = 0; i < window; i++)
		ps_retr_next(&r);
	bytes = ps_receive(&c, r.n, ps_retr_next, &r);
	double secs = (double)(bench_now_usec() - t0) / 1e6;
	ps_send(&c, "QUIT\r\n");
	close(c.fd);
	if (bytes < 0) {
		fputs("pop3_stream: connection closed early\n", stderr);
		return 1;
	}
	printf("pop3_stream mode=pop3 msgs=%ld bytes=%lld secs=%.3f "
	       "MB_per_s=%.1f\n",
	       r.n, bytes, secs, (double)bytes / secs / 1e6);
	return 0;
}

struct ps_sender {
	int listen_fd, file_fd;
	off_t size;
};

static void *
ps_sender_main(void *arg)
{
	struct ps_sender *s = arg;
	int fd = accept(s->listen_fd, NULL, NULL);
	off_t off = 0;

	while (fd >= 0 && off < s->size)
		if (sendfile(fd, s->file_fd, &off, (size_t)(s->size - off)) <=
		    0)
			break;
	/* The receiver counts "\r\n.\r\n" once: send one at the end. */
	if (fd >= 0)
		send(fd, "\r\n.\r\n", 5, 0);
	close(fd);
	return NULL;
}

static int
ps_loopback(const char *file)
{
	struct ps_sender s = {.file_fd = open(file, O_RDONLY)};
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	struct ps_conn c = {.buf = malloc(PS_BUF)};
	struct stat st;
	pthread_t th;
	int64_t t0;
	long long bytes;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (s.file_fd < 0 || fstat(s.file_fd, &st) < 0 || c.buf == NULL) {
		perror("pop3_stream: file");
		return 2;
	}
	s.size = st.st_size;
	s.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(s.listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(s.listen_fd, 1) < 0 ||
	    getsockname(s.listen_fd, (struct sockaddr *)&a, &alen) < 0) {
		perror("pop3_stream: listen");
		return 2;
	}
	pthread_create(&th, NULL, ps_sender_main, &s);
	c.fd = ps_connect(ntohs(a.sin_port));
	t0 = bench_now_usec();
	bytes = ps_receive(&c, 1, ps_nothing, NULL);
	double secs = (double)(bench_now_usec() - t0) / 1e6;
	pthread_join(th, NULL);
	printf("pop3_stream mode=loopback bytes=%lld secs=%.3f MB_per_s=%.1f\n",
	       bytes, secs, (double)bytes / secs / 1e6);
	return bytes < 0;
}

struct ps_opts {
	const char *user, *pass, *loop;
	long port, min_size, window;
};

static bool
ps_opt_value(void *ctx, const char *o, const char *v)
{
	struct ps_opts *p = ctx;

	if (strcmp(o, "--port") == 0)
		return bench_num_parse(v, 1, 65535, &p->port);
	if (strcmp(o, "--user") == 0)
		return (p->user = v) != NULL;
	if (strcmp(o, "--pass") == 0)
		return (p->pass = v) != NULL;
	if (strcmp(o, "--min-size") == 0)
		return bench_num_parse(v, 0, 1L << 40, &p->min_size);
	if (strcmp(o, "--window") == 0)
		return bench_num_parse(v, 1, 1000, &p->window);
	if (strcmp(o, "--loopback") == 0)
		return (p->loop = v) != NULL;
	return false;
}

int
main(int argc, char **argv)
{
	struct ps_opts o = {.pass = "pass", .min_size = 1000000, .window = 8};
	bool tls = false;
	int rc = bench_opts_loop("pop3_stream", argc, argv, &tls, ps_opt_value,
	                         &o, NULL, NULL);

	if (rc == 0 && o.loop != NULL)
		return ps_loopback(o.loop);
	if (rc != 0 || tls || o.port == 0 || o.user == NULL) {
		fputs("usage: pop3_stream --port P --user U [--pass PW] "
		      "[--min-size B] [--window W] | --loopback FILE "
		      "(plain only)\n",
		      stderr);
		return 2;
	}
	return ps_pop3((int)o.port, o.user, o.pass, o.min_size, o.window);
}
