/*
 * deliver_bench: deliveries per second into the store, with fsync on,
 * called directly (no network), from several threads at once the way the
 * worker pool runs them (issue 3 "Benchmark").
 *
 *   deliver_bench [-t threads] [-n messages] [-u users] [-s size] [-w warm]
 *                 [-o] DIR
 *
 * Each thread delivers its share of n messages of size bytes (default
 * 4 KiB) into INBOX, round-robin over u users (default 1: one mailbox).
 * -o opens and closes the user for every delivery, as SMTP does; otherwise
 * each thread keeps one handle per user, as an IMAP session does.  DIR must
 * not exist yet (a fresh data directory is created and left for
 * inspection).  -w delivers warm messages per user first, untimed, on the
 * same handles: a user's WAL then has its working size, as on a server that
 * has run for a while, instead of growing with every commit of the run.
 * Prints deliveries/s and the latency percentiles.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

#define BENCH_MAX_THREADS 256
#define BENCH_MAX_USERS 10000

struct bench {
	struct store *store;
	char *msg;
	size_t size;
	int threads, users;
	long messages;
	long warm; /* untimed deliveries per user before the run */
	bool open_each;
	pthread_barrier_t start; /* every thread warm, and the clock */
};

struct bench_thread {
	struct bench *b;
	int id;
	long count;
	double *lat; /* seconds, one per delivery */
	long failed;
	pthread_t th;
};

static double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
bench_user(char *out, size_t size, int n)
{
	snprintf(out, size, "user%d@bench.test", n);
}

static int
bench_deliver(struct bench_thread *t, struct store_user **handles, long i)
{
	struct bench *b = t->b;
	int un = (int)((t->id + i * b->threads) % b->users);
	struct store_user *u = handles[un];
	char name[64];
	uint32_t uid;
	struct err err;
	int rc;

	if (b->open_each) {
		bench_user(name, sizeof(name), un);
		if (store_user_open(b->store, name, &u, &err) < 0) {
			fprintf(stderr, "open: %s\n", err.msg);
			return -1;
		}
	}
	rc = store_deliver(u, "INBOX", b->msg, b->size, 0, &uid, &err);
	if (rc < 0)
		fprintf(stderr, "deliver: %s\n", err.msg);
	if (b->open_each)
		store_user_close(&u);
	return rc;
}

static void *
bench_thread_main(void *arg)
{
	struct bench_thread *t = arg;
	struct bench *b = t->b;
	struct store_user **handles =
	    calloc((size_t)b->users, sizeof(*handles));
	char name[64];
	struct err err;

	for (int i = 0; handles != NULL && !b->open_each && i < b->users; i++) {
		bench_user(name, sizeof(name), i);
		if (store_user_open(b->store, name, &handles[i], &err) < 0) {
			fprintf(stderr, "open: %s\n", err.msg);
			exit(1);
		}
	}
	/* Thread i warms users i, i + threads, ... so each is warmed once. */
	for (int un = t->id; handles != NULL && un < b->users; un += b->threads)
		for (long i = 0; i < b->warm; i++)
			if (store_deliver(handles[un], "INBOX", b->msg, b->size,
			                  0, NULL, &err) < 0) {
				fprintf(stderr, "warm: %s\n", err.msg);
				exit(1);
			}
	pthread_barrier_wait(&b->start);
	for (long i = 0; handles != NULL && i < t->count; i++) {
		double t0 = bench_now();

		if (bench_deliver(t, handles, i) < 0)
			t->failed++;
		t->lat[i] = bench_now() - t0;
	}
	for (int i = 0; handles != NULL && i < b->users; i++)
		store_user_close(&handles[i]);
	free(handles);
	return NULL;
}

static int
bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Creates every user first, so the run measures deliveries only. */
static void
bench_create_users(struct bench *b)
{
	char name[64];
	struct store_user *u;
	struct err err;

	for (int i = 0; i < b->users; i++) {
		bench_user(name, sizeof(name), i);
		if (store_user_open(b->store, name, &u, &err) < 0) {
			fprintf(stderr, "open: %s\n", err.msg);
			exit(1);
		}
		store_user_close(&u);
	}
}

static void
bench_report(struct bench *b, struct bench_thread *t, double secs)
{
	double *all = malloc((size_t)b->messages * sizeof(*all));
	long n = 0, failed = 0;

	if (all == NULL)
		exit(1);
	for (int i = 0; i < b->threads; i++) {
		memcpy(all + n, t[i].lat, (size_t)t[i].count * sizeof(*all));
		n += t[i].count;
		failed += t[i].failed;
	}
	qsort(all, (size_t)n, sizeof(*all), bench_cmp);
	printf("deliveries=%ld failed=%ld threads=%d users=%d size=%zu "
	       "open_each=%d warm=%ld\n",
	       n, failed, b->threads, b->users, b->size, b->open_each, b->warm);
	printf("seconds=%.3f deliveries_per_s=%.0f\n", secs, (double)n / secs);
	printf("latency_ms p50=%.2f p90=%.2f p99=%.2f max=%.2f\n",
	       all[n / 2] * 1e3, all[n * 9 / 10] * 1e3, all[n * 99 / 100] * 1e3,
	       all[n - 1] * 1e3);
	free(all);
}

static void
bench_usage(void)
{
	fprintf(stderr, "usage: deliver_bench [-t threads] [-n messages] "
	                "[-u users] [-s size] [-w warm] [-o] DIR\n");
	exit(2);
}

static void
bench_options(struct bench *b, int argc, char **argv)
{
	int c;

	while ((c = getopt(argc, argv, "t:n:u:s:w:o")) != -1) {
		switch (c) {
		case 't':
			b->threads = atoi(optarg);
			break;
		case 'n':
			b->messages = atol(optarg);
			break;
		case 'u':
			b->users = atoi(optarg);
			break;
		case 's':
			b->size = (size_t)atol(optarg);
			break;
		case 'w':
			b->warm = atol(optarg);
			break;
		case 'o':
			b->open_each = true;
			break;
		default:
			bench_usage();
		}
	}
	if (optind != argc - 1 || b->threads < 1 ||
	    b->threads > BENCH_MAX_THREADS || b->messages < b->threads ||
	    b->users < 1 || b->users > BENCH_MAX_USERS || b->warm < 0 ||
	    (b->warm > 0 && b->open_each) || b->size < 64 ||
	    b->size > 64 * 1024 * 1024)
		bench_usage();
}

/* A message of b->size bytes: headers, then lines of text. */
static void
bench_message(struct bench *b)
{
	static const char head[] = "From: bench@bench.test\r\n"
	                           "To: user@bench.test\r\n"
	                           "Subject: delivery benchmark\r\n\r\n";
	size_t n = sizeof(head) - 1;

	if ((b->msg = malloc(b->size)) == NULL)
		exit(1);
	memcpy(b->msg, head, n);
	for (size_t i = n; i < b->size; i++)
		b->msg[i] = (i - n) % 72 == 70   ? '\r'
		            : (i - n) % 72 == 71 ? '\n'
		                                 : (char)('a' + i % 26);
}

int
main(int argc, char **argv)
{
	struct bench b = {
	    .threads = 16, .messages = 20000, .users = 1, .size = 4096};
	struct bench_thread *t;
	struct err err;
	double t0, secs;

	bench_options(&b, argc, argv);
	if (mkdir(argv[optind], 0700) < 0) {
		fprintf(stderr, "mkdir %s: %s (it must not exist)\n",
		        argv[optind], strerror(errno));
		return 1;
	}
	if (store_open(argv[optind], &b.store, &err) < 0) {
		fprintf(stderr, "store: %s\n", err.msg);
		return 1;
	}
	bench_message(&b);
	bench_create_users(&b);
	t = calloc((size_t)b.threads, sizeof(*t));
	if (t == NULL ||
	    pthread_barrier_init(&b.start, NULL, (unsigned)b.threads + 1) != 0)
		return 1;
	for (int i = 0; i < b.threads; i++) {
		t[i].b = &b;
		t[i].id = i;
		t[i].count = b.messages / b.threads +
		             (i < b.messages % b.threads ? 1 : 0);
		t[i].lat = calloc((size_t)t[i].count, sizeof(double));
		if (t[i].lat == NULL ||
		    pthread_create(&t[i].th, NULL, bench_thread_main, &t[i]) !=
		        0)
			return 1;
	}
	pthread_barrier_wait(&b.start);
	t0 = bench_now();
	for (int i = 0; i < b.threads; i++)
		pthread_join(t[i].th, NULL);
	secs = bench_now() - t0;
	bench_report(&b, t, secs);
	/* The change feed's queue, as the loop would empty it. */
	store_flush_changes(b.store);
	for (int i = 0; i < b.threads; i++)
		free(t[i].lat);
	free(t);
	pthread_barrier_destroy(&b.start);
	free(b.msg);
	store_close(&b.store);
	return 0;
}
