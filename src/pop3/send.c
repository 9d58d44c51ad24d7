/*
 * pop3 send: the multi-line responses of RETR and TOP (RFC 1939 7).
 *
 * The store hands a message over in one buffer (store_msg_read()); from
 * there the dot-stuffed form is produced CHUNK bytes of message at a time
 * and queued only while the connection's output is below
 * CONN_OUTPUT_HIGH.  Then the session waits for the drained hook, reading
 * no further commands meanwhile (pipelined commands stay in order).  So a
 * session holds the stored message plus a bounded amount of output,
 * however large the message and however slow the client.
 */
#include "pop3/session.h"
#include "store/store.h"

#define SEND_CHUNK (64 * 1024)

void
pop3_send_free(struct pop3_session *s)
{
	buf_free(&s->send.raw);
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

void
pop3_send_pump(struct pop3_session *s)
{
	struct pop3_send *sd = &s->send;
	struct buf chunk = BUF_INIT;
	int rc = 0;

	while (rc == 0 && sd->pos < sd->raw.len &&
	       !pop3_dotstuff_is_done(&sd->ds)) {
		size_t n = sd->raw.len - sd->pos;

		if (conn_output_len(s->c) >= CONN_OUTPUT_HIGH) {
			buf_free(&chunk);
			conn_wait_drained(s->c);
			return;
		}
		if (n > SEND_CHUNK)
			n = SEND_CHUNK;
		buf_reset(&chunk);
		rc = pop3_dotstuff_feed(&sd->ds, &chunk, sd->raw.data + sd->pos,
		                        n);
		if (rc == 0 && conn_write(s->c, chunk.data, chunk.len) < 0)
			rc = -1; /* the connection is closing */
		sd->pos += n;
	}
	buf_reset(&chunk);
	if (rc == 0 && (rc = pop3_dotstuff_finish(&sd->ds, &chunk)) == 0)
		conn_write(s->c, chunk.data, chunk.len);
	buf_free(&chunk);
	if (rc < 0) {
		/* Half a response cannot be taken back. */
		pop3_send_free(s);
		pop3_session_close(s, "cannot write response");
		return;
	}
	send_done(s);
}

void
pop3_send_start(struct pop3_session *s, uint32_t n, const struct store_msg *msg,
                int64_t body_lines)
{
	struct pop3_send *sd = &s->send;
	struct err err;

	err_clear(&err);
	buf_free(&sd->raw);
	if (store_msg_read(s->mail, POP3_MAILBOX, msg->uid, &sd->raw, &err) <
	    0) {
		pop3_session_fail(s, &err, "read message");
		pop3_send_free(s);
		return;
	}
	/* RFC 6856 2.1, 5: no UTF-8 header to a client not in UTF-8 mode. */
	if (!s->utf8 &&
	    !pop3_dotstuff_header_is_ascii(sd->raw.data, sd->raw.len)) {
		pop3_session_err(s, "[UTF8] Message has a UTF-8 header; "
		                    "send UTF8 first");
		pop3_send_free(s);
		return;
	}
	pop3_session_ok(s, "%llu octets", (unsigned long long)sd->raw.len);
	sd->active = true;
	sd->n = n;
	sd->is_retr = body_lines == POP3_DOTSTUFF_ALL;
	sd->pos = 0;
	pop3_dotstuff_init(&sd->ds, body_lines);
	pop3_send_pump(s);
}
