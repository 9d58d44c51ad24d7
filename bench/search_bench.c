/*
 * search_bench: SEARCH BODY and FETCH BODYSTRUCTURE on a large mailbox,
 * through the store directly (issue 3's targets: a rare word in 100,000
 * messages under 100 ms; BODYSTRUCTURE of 10,000 messages under 0.5 s).
 *
 *   search_bench DATA_DIR [MESSAGES]
 *
 * Fills INBOX of bench@example.test up to MESSAGES (default 100000)
 * messages of about 1.5 KiB with store_deliver(), once; later runs on the
 * same DATA_DIR reuse them.  Every 20,000th message holds the rare word.
 * store_deliver() fsyncs every message, so fill a tmpfs directory
 * (/dev/shm) unless you have time to spare.
 *
 *   search_bench -b DATA_DIR [MESSAGES [THREADS [RATE]]]
 *
 * Burst mode: THREADS (default 4) threads deliver MESSAGES (default 1000)
 * messages into a fresh user at once, as the worker pool does (group
 * commit), then SEARCH BODY for a word only the last one holds is timed
 * right away: what the background indexer left for the search to do.
 * RATE (deliveries/s, default 0: as fast as possible) paces the threads.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mime/mime.h"
#include "store/search.h"
#include "store/store.h"

#define RARE "xylophonequartz"
#define RARE_EVERY 20000
#define FETCH_COUNT 10000
#define RUNS 5

static const char *const words[] = {
    "meeting", "report", "budget",  "project", "deadline", "review",
    "team",    "client", "invoice", "server",  "update",   "schedule",
    "lunch",   "coffee", "monday",  "friday",  "release",  "draft",
    "quarter", "sales",  "office",  "holiday", "travel",   "question"};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A plain or two-part message, about 1.5 KiB, deterministic in i. */
static void
make_message(struct buf *b, size_t i)
{
	unsigned r = (unsigned)i * 2654435761u;

	buf_reset(b);
	buf_printf(b,
	           "Date: Mon, 02 Jan 2023 10:%02zu:00 +0100\r\n"
	           "From: Sender %zu <sender%zu@example.test>\r\n"
	           "To: bench@example.test\r\n"
	           "Subject: Re: %s %s %zu\r\n"
	           "Message-ID: <%zu@bench.example>\r\n"
	           "MIME-Version: 1.0\r\n",
	           i % 60, i % 500, i % 500, words[r % NWORDS],
	           words[(r >> 8) % NWORDS], i, i);
	if (i % 2 == 0)
		buf_printf(b,
		           "Content-Type: multipart/alternative; "
		           "boundary=\"b\"\r\n\r\n--b\r\n"
		           "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	else
		buf_printf(b,
		           "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	for (size_t w = 0; b->len < 1400; w++) {
		r = r * 1103515245u + 12345u;
		buf_printf(b, "%s%s", words[(r >> 16) % NWORDS],
		           w % 12 == 11 ? "\r\n" : " ");
	}
	if (i % RARE_EVERY == 0)
		buf_printf(b, "\r\nthe " RARE " is here\r\n");
	if (i % 2 == 0)
		buf_printf(b, "\r\n--b\r\nContent-Type: text/html\r\n\r\n"
		              "<p>hello</p>\r\n--b--\r\n");
}

static int
fill(struct store_user *u, size_t want)
{
	struct store_mailbox_status st;
	struct buf b = BUF_INIT;
	struct err err;
	double t0;
	size_t have;

	if (store_mailbox_status(u, "INBOX", &st, &err) < 0)
		return fprintf(stderr, "status: %s\n", err.msg), -1;
	have = st.messages;
	t0 = now_ms();
	for (size_t i = have; i < want; i++) {
		make_message(&b, i);
		if (store_deliver(u, "INBOX", b.data, b.len, 0, NULL, &err) <
		    0) {
			buf_free(&b);
			return fprintf(stderr, "deliver: %s\n", err.msg), -1;
		}
	}
	if (want > have)
		printf("filled %zu messages in %.1f s (%.0f/s)\n", want - have,
		       (now_ms() - t0) / 1e3,
		       (double)(want - have) * 1e3 / (now_ms() - t0));
	buf_free(&b);
	return 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
bench_search(struct store_user *u, enum store_search_op op, const char *v)
{
	struct store_search_key k = {.op = op, .value = v};
	double t[RUNS];
	size_t n = 0;
	struct err err;

	for (int r = 0; r < RUNS; r++) {
		uint32_t *uids;
		double t0 = now_ms();

		if (store_search(u, "INBOX", &k, &uids, &n, &err) < 0) {
			fprintf(stderr, "search: %s\n", err.msg);
			return;
		}
		t[r] = now_ms() - t0;
		free(uids);
	}
	qsort(t, RUNS, sizeof(t[0]), cmp_double);
	printf("SEARCH %s \"%s\": %zu hits, median %.2f ms (min %.2f, max "
	       "%.2f)\n",
	       op == SS_BODY   ? "BODY"
	       : op == SS_TEXT ? "TEXT"
	                       : "SUBJECT",
	       v, n, t[RUNS / 2], t[0], t[RUNS - 1]);
}

/* FETCH 1:10000 BODYSTRUCTURE: the response text, from the cache. */
static void
bench_fetch(struct store_user *u, bool parse)
{
	struct buf out = BUF_INIT, msg = BUF_INIT;
	struct err err;
	double t0 = now_ms();

	for (uint32_t uid = 1; uid <= FETCH_COUNT; uid++) {
		struct store_msg_cache c;

		buf_reset(&out);
		buf_printf(&out, "* %u FETCH (BODYSTRUCTURE ", uid);
		if (!parse &&
		    store_msg_cache_get(u, "INBOX", uid, &c, &err) == 0) {
			buf_append_str(&out, c.bodystructure);
			store_msg_cache_free(&c);
		} else {
			struct mime_part *root;

			buf_reset(&msg);
			if (store_msg_read(u, "INBOX", uid, &msg, &err) < 0)
				break;
			root = mime_parse(msg.data, msg.len);
			mime_bodystructure_write(&out, root, true);
			mime_part_free(&root);
		}
		buf_append_str(&out, ")\r\n");
	}
	printf("FETCH 1:%d BODYSTRUCTURE (%s): %.1f ms\n", FETCH_COUNT,
	       parse ? "read + parse" : "cached", now_ms() - t0);
	buf_free(&out);
	buf_free(&msg);
}

struct burst {
	struct store *store;
	size_t first, count;
	int rc;
	long pause_ns; /* between two deliveries of a thread */
};

/* One delivering thread of the burst, with its own handle. */
static void *
burst_thread(void *arg)
{
	struct burst *b = arg;
	struct store_user *u;
	struct buf msg = BUF_INIT;
	struct err err;

	if (store_user_open(b->store, "burst@example.test", &u, &err) < 0) {
		b->rc = -1;
		return NULL;
	}
	for (size_t i = b->first; i < b->first + b->count && b->rc == 0; i++) {
		make_message(&msg, i);
		buf_printf(&msg, "tail%zuword\r\n", i);
		b->rc =
		    store_deliver(u, "INBOX", msg.data, msg.len, 0, NULL, &err);
		if (b->pause_ns > 0) {
			struct timespec ts = {b->pause_ns / 1000000000L,
			                      b->pause_ns % 1000000000L};

			nanosleep(&ts, NULL);
		}
	}
	buf_free(&msg);
	store_user_close(&u);
	return NULL;
}

static int
bench_burst(const char *dir, size_t n, int threads, long rate)
{
	struct burst b[64];
	pthread_t tid[64];
	struct store *store;
	struct store_user *u;
	struct store_search_key k = {.op = SS_BODY};
	char word[64];
	uint32_t *uids;
	size_t hits = 0;
	struct err err;
	double t0, t1, t2;

	if (threads < 1 || threads > 64 || store_open(dir, &store, &err) < 0 ||
	    store_user_open(store, "burst@example.test", &u, &err) < 0)
		return fprintf(stderr, "burst: cannot open %s\n", dir), 1;
	t0 = now_ms();
	for (int t = 0; t < threads; t++) {
		b[t] = (struct burst){
		    store, n * (size_t)t / (size_t)threads,
		    n * (size_t)(t + 1) / (size_t)threads -
		        n * (size_t)t / (size_t)threads,
		    0, rate > 0 ? 1000000000L * threads / rate : 0};
		pthread_create(&tid[t], NULL, burst_thread, &b[t]);
	}
	for (int t = 0; t < threads; t++)
		pthread_join(tid[t], NULL);
	t1 = now_ms();
	/* The last message of the last thread. */
	snprintf(word, sizeof(word), "tail%zuword", n - 1);
	k.value = word;
	if (store_search(u, "INBOX", &k, &uids, &hits, &err) < 0)
		return fprintf(stderr, "search: %s\n", err.msg), 1;
	t2 = now_ms();
	free(uids);
	printf("burst: %zu deliveries from %d threads in %.0f ms (%.0f/s); "
	       "SEARCH BODY right after: %zu hit(s) in %.1f ms\n",
	       n, threads, t1 - t0, (double)n * 1e3 / (t1 - t0), hits, t2 - t1);
	store_user_close(&u);
	store_close(&store);
	return 0;
}

int
main(int argc, char **argv)
{
	struct store *store;
	struct store_user *u;
	struct err err;
	size_t want = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;
	double t0;

	if (argc >= 3 && strcmp(argv[1], "-b") == 0)
		return bench_burst(
		    argv[2], argc > 3 ? strtoul(argv[3], NULL, 10) : 1000,
		    argc > 4 ? atoi(argv[4]) : 4, argc > 5 ? atol(argv[5]) : 0);
	if (argc < 2)
		return fprintf(stderr, "usage: search_bench DIR [N] | -b DIR "
		                       "[N [THREADS]]\n"),
		       2;
	if (store_open(argv[1], &store, &err) < 0 ||
	    store_user_open(store, "bench@example.test", &u, &err) < 0)
		return fprintf(stderr, "open: %s\n", err.msg), 1;
	if (fill(u, want) < 0)
		return 1;
	t0 = now_ms();
	bench_search(u, SS_SUBJECT, "warm-up");
	printf("first search (cache fill check) %.1f ms\n", now_ms() - t0);
	bench_search(u, SS_BODY, RARE);
	bench_search(u, SS_BODY, "nonexistentword");
	bench_search(u, SS_TEXT, RARE);
	bench_search(u, SS_SUBJECT, "budget review 4242");
	bench_search(u, SS_BODY, "zq"); /* under 3 characters: a scan */
	if (want >= FETCH_COUNT) {
		bench_fetch(u, false);
		bench_fetch(u, true);
	}
	store_user_close(&u);
	store_close(&store);
	return 0;
}
