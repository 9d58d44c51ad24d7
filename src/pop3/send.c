/*
 * pop3 send: the multi-line responses of RETR and TOP (RFC 1939 7).
 *
 * The message is opened as a stream (store_msg_open()) and read, stuffed
 * and queued SEND_CHUNK bytes at a time, only while the connection's
 * output is below CONN_OUTPUT_HIGH.  Then the session waits for the
 * drained hook, reading no further commands meanwhile (pipelined commands
 * stay in order).  So a session holds two chunks plus a bounded amount of
 * output, however large the message and however slow the client.
 */
#include <string.h>

#include "mime/mime.h"
#include "pop3/session.h"
#include "store/store.h"

#define SEND_CHUNK (64 * 1024)
/*
 * Runs of clean lines (pop3_dotstuff_clean_run()) at least this long go
 * by sendfile() on plain connections; shorter ones are not worth a
 * segment of their own.
 */
#define SEND_FILE_RUN_MIN (4 * 1024)

void
pop3_send_free(struct pop3_session *s)
{
	conn_file_free(&s->send.file);
	store_stream_close(&s->send.msg);
	buf_free(&s->send.in);
	buf_free(&s->send.out);
	s->send.active = false;
}

/* The response is fully queued: mark the download, resume commands. */
static void
send_done(struct pop3_session *s)
{
	if (s->send.is_retr)
		pop3_maildrop_retrieved(&s->md, s->send.n);
	pop3_send_free(s);
	if (s->stop_after_send) {
		pop3_session_err(s, "Server shutting down");
		pop3_session_close(s, "server shutdown");
	}
}

/*
 * The chunk at sd->pos in sd->in: its length, 0 at the end.  The header
 * check leaves the first chunk there, so RETR does not read it twice.
 */
static ssize_t
send_read(struct pop3_send *sd, struct err *err)
{
	ssize_t n;

	if (sd->in.len > 0 && sd->in_off == sd->pos)
		return (ssize_t)sd->in.len;
	buf_reset(&sd->in);
	if (buf_reserve(&sd->in, SEND_CHUNK) < 0)
		return err_set(err, ERR_TEMP, "out of memory");
	n = store_stream_read(sd->msg, sd->pos, sd->in.data, SEND_CHUNK, err);
	if (n > 0) {
		sd->in.len = (size_t)n;
		sd->in_off = sd->pos;
	}
	return n;
}

/*
 * Queues the chunk in sd->in, stuffed through sd->out.  With sd->file (a
 * plain connection) long clean runs go by sendfile() from the message's
 * file instead: they need no stuffing, and the copy into the socket is
 * most of RETR's CPU.  Order is kept: sd->out is queued before each run.
 */
static int
send_chunk(struct pop3_session *s, struct pop3_send *sd)
{
	const char *p = sd->in.data, *lf;
	size_t n = sd->in.len, i = 0, run, end;

	while (i < n && !pop3_dotstuff_is_done(&sd->ds)) {
		run = sd->file != NULL
		          ? pop3_dotstuff_clean_run(&sd->ds, p + i, n - i)
		          : 0;
		if (run >= SEND_FILE_RUN_MIN) {
			if (conn_write(s->c, sd->out.data, sd->out.len) < 0 ||
			    conn_write_file(s->c, sd->file, sd->in_off + i,
			                    run) < 0)
				return -1;
			buf_reset(&sd->out);
			i += run;
			continue;
		}
		/* The short run and the line after it (all, without a file). */
		lf = sd->file != NULL ? memchr(p + i + run, '\n', n - i - run)
		                      : NULL;
		end = lf != NULL ? (size_t)(lf - p) + 1 : n;
		if (pop3_dotstuff_feed(&sd->ds, &sd->out, p + i, end - i) < 0)
			return -1;
		i = end;
	}
	return conn_write(s->c, sd->out.data, sd->out.len);
}

/* Stuffs and queues chunks until the output is full (1) or all is sent
 * (0); -1 if the message cannot be read or the connection is closing. */
static int
send_chunks(struct pop3_session *s, struct err *err)
{
	struct pop3_send *sd = &s->send;
	ssize_t n;

	while (!pop3_dotstuff_is_done(&sd->ds)) {
		if (conn_output_len(s->c) >= CONN_OUTPUT_HIGH)
			return 1;
		if ((n = send_read(sd, err)) <= 0)
			return (int)n;
		buf_reset(&sd->out);
		if (send_chunk(s, sd) < 0)
			return err_set(err, ERR_TEMP, "cannot queue output");
		sd->pos += (uint64_t)n;
	}
	return 0;
}

void
pop3_send_pump(struct pop3_session *s)
{
	struct pop3_send *sd = &s->send;
	struct err err;
	int rc;

	err_clear(&err);
	rc = send_chunks(s, &err);
	if (rc == 1) {
		conn_wait_drained(s->c);
		return;
	}
	if (rc == 0) {
		buf_reset(&sd->out);
		if (pop3_dotstuff_finish(&sd->ds, &sd->out) < 0 ||
		    conn_write(s->c, sd->out.data, sd->out.len) < 0)
			rc = -1;
	}
	if (rc < 0) {
		/* Half a response cannot be taken back. */
		conn_log(s->c, LOG_LVL_ERROR, "RETR/TOP broken off: %s",
		         err.msg[0] != '\0' ? err.msg : "cannot write");
		pop3_send_free(s);
		pop3_session_close(s, "cannot write response");
		return;
	}
	send_done(s);
}

/*
 * RFC 6856 2.1, 5: whether the header is ASCII, read chunk by chunk up to
 * its end (usually within the first).  1 yes, 0 no, -1 read error.
 */
static int
send_header_is_ascii(struct pop3_send *sd, struct err *err)
{
	struct mime_header_scan hs;
	ssize_t n;

	mime_header_scan_init(&hs);
	for (sd->pos = 0; (n = send_read(sd, err)) > 0; sd->pos += (uint64_t)n)
		if (mime_header_scan_feed(&hs, sd->in.data, sd->in.len))
			break;
	sd->pos = 0;
	return n < 0 ? -1 : hs.ascii;
}

void
pop3_send_start(struct pop3_session *s, uint32_t n, const struct store_msg *msg,
                int64_t body_lines)
{
	struct pop3_send *sd = &s->send;
	struct err err;
	int ascii = 1;

	err_clear(&err);
	pop3_send_free(s);
	if (store_msg_open(s->mail, POP3_MAILBOX, msg->uid, &sd->msg, &err) <
	        0 ||
	    (!s->utf8 && (ascii = send_header_is_ascii(sd, &err)) < 0)) {
		pop3_session_fail(s, &err, "read message");
		pop3_send_free(s);
		return;
	}
	if (!ascii) {
		pop3_session_err(s, "[UTF8] Message has a UTF-8 header; "
		                    "send UTF8 first");
		pop3_send_free(s);
		return;
	}
	pop3_session_ok(s, "%llu octets",
	                (unsigned long long)store_stream_size(sd->msg));
	sd->active = true;
	sd->n = n;
	sd->is_retr = body_lines == POP3_DOTSTUFF_ALL;
	sd->pos = 0;
	/* Only RETR's body has runs to send as they are; not worth it small. */
	if (sd->is_retr && store_stream_size(sd->msg) >= 2 * SEND_CHUNK)
		sd->file = conn_file_new(s->c, store_stream_fd(sd->msg),
		                         store_stream_size(sd->msg));
	pop3_dotstuff_init(&sd->ds, body_lines);
	pop3_send_pump(s);
}
