/*
 * BDAT: CHUNKING (RFC 3030).  "BDAT size [LAST]" is followed by exactly
 * size octets of message, with no dot-stuffing and no line structure.
 *
 * The octets are read as they arrive (conn_read() straight into the
 * body), never by waiting for a whole chunk: the network layer buffers
 * only about max_line_length + 64 KiB.  Every BDAT with a readable size
 * has its octets read, even when the command is refused, because
 * otherwise the message would be run as commands (RFC 3030 2: "accept and
 * discard the associated message data before sending the appropriate 5XX
 * or 4XX code").
 *
 * Replies: 250 for every chunk taken, then after BDAT LAST the same single
 * reply DATA gives (data.c), which stands for every recipient: as with
 * DATA, RFC 3030 has one reply per message, not one per recipient (only
 * LMTP has those).  A chunk that takes the message past its size limit is
 * answered 552 5.3.4 at once; the chunks the client had already pipelined
 * behind it are read, dropped and answered the same, and the transaction
 * ends at their LAST (or RSET).  A BDAT whose size cannot be read loses
 * the framing of the stream: 501 and the connection is closed.
 *
 * The message is binary-clean: bare CR and LF are kept as sent (the
 * smuggling rules of DATA are about where DATA ends, and BDAT's end is a
 * count).  A message with bare CR or LF for a remote recipient is refused,
 * because the relay sends it on with DATA.  BODY=BINARYMIME is not
 * offered: the relay could not pass such a message on unchanged.
 */
#include "smtp/session.h"

#include <string.h>
#include <strings.h>

/* RFC 3030 2: chunk-size ::= 1*DIGIT; 20 digits overflow uint64_t. */
#define SMTP_BDAT_SIZE_DIGITS 19

/* Parses "size" or "size LAST"; false if it is neither. */
static bool
smtp_bdat_parse(const char *arg, size_t len, uint64_t *size_r, bool *last_r)
{
	size_t i = 0;
	uint64_t v = 0;

	while (i < len && arg[i] >= '0' && arg[i] <= '9') {
		if (i == SMTP_BDAT_SIZE_DIGITS)
			return false;
		v = v * 10 + (uint64_t)(arg[i] - '0');
		i++;
	}
	if (i == 0)
		return false;
	*size_r = v;
	*last_r = false;
	if (i == len)
		return true;
	if (len - i == 5 && strncasecmp(arg + i, " LAST", 5) == 0) {
		*last_r = true;
		return true;
	}
	return false;
}

/* The sequence error for a BDAT outside a transaction with recipients. */
static const char *
smtp_bdat_bad_seq(const struct smtp_session *s)
{
	switch (s->state) {
	case SMTP_STATE_GREETED:
		return "503 5.5.1 Send EHLO/HELO first";
	case SMTP_STATE_READY:
		return "503 5.5.1 Need MAIL command first";
	case SMTP_STATE_MAIL:
		return "503 5.5.1 Need RCPT command first";
	default:
		return NULL;
	}
}

/* Decides what the chunk's octets are for; s->chunk.size is set. */
static void
smtp_bdat_plan(struct smtp_session *s)
{
	struct smtp_chunk *ch = &s->chunk;
	struct smtp_txn *t = &s->txn;

	ch->error = smtp_bdat_bad_seq(s);
	ch->count_error = ch->error != NULL;
	if (ch->error != NULL)
		return;
	if (t->bdat_error != NULL) {
		/* Already in the pipeline after a failed chunk. */
		ch->error = t->bdat_error;
		return;
	}
	if (!t->bdat && smtp_data_begin(s) < 0) {
		ch->error = t->bdat_error =
		    "452 4.3.1 Insufficient system storage";
		return;
	}
	t->bdat = true;
	ch->take = true;
	smtp_session_set_state(s, SMTP_STATE_CHUNKS);
}

void
smtp_cmd_bdat(struct smtp_session *s, const char *arg, size_t len)
{
	struct smtp_chunk *ch = &s->chunk;
	uint64_t size;
	bool last;

	if (!smtp_bdat_parse(arg, len, &size, &last)) {
		smtp_reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		smtp_session_close(s, "BDAT without a readable size");
		return;
	}
	memset(ch, 0, sizeof(*ch));
	ch->active = true;
	ch->last = last;
	ch->size = ch->left = size;
	smtp_bdat_plan(s);
}

/* A non-LAST chunk is in: 250, or the error that fails the transaction. */
static void
smtp_bdat_chunk_taken(struct smtp_session *s)
{
	const struct smtp_body *b = &s->txn.body;
	struct smtp_txn *t = &s->txn;

	if (b->too_big) {
		conn_log(s->c, LOG_LVL_INFO,
		         "rejected id=%s: size %llu over %llu (BDAT)", t->id,
		         (unsigned long long)b->size,
		         (unsigned long long)b->max);
		t->bdat_error = "552 5.3.4 Message too big";
	} else if (b->nomem) {
		conn_log(s->c, LOG_LVL_ERROR, "rejected id=%s: out of memory",
		         t->id);
		t->bdat_error = "452 4.3.1 Insufficient system storage";
	}
	if (t->bdat_error != NULL)
		smtp_reply(s, "%s", t->bdat_error);
	else
		smtp_reply(s, "250 2.0.0 %llu octets received",
		           (unsigned long long)s->chunk.size);
}

/* A refused chunk is read: its reply; LAST ends a failed transaction. */
static void
smtp_bdat_chunk_refused(struct smtp_session *s)
{
	struct smtp_chunk *ch = &s->chunk;

	if (ch->count_error) {
		smtp_reply_error(s, "%s", ch->error);
		return;
	}
	smtp_reply(s, "%s", ch->error);
	if (ch->last && s->txn.bdat_error != NULL) {
		smtp_txn_reset(s);
		smtp_session_set_state(s, SMTP_STATE_READY);
	}
}

/* The chunk's octets are all read: reply, or deliver after LAST. */
static void
smtp_bdat_chunk_done(struct smtp_session *s)
{
	struct smtp_chunk *ch = &s->chunk;

	ch->active = false;
	if (!ch->take) {
		smtp_bdat_chunk_refused(s);
	} else if (!ch->last) {
		smtp_bdat_chunk_taken(s);
	} else {
		smtp_body_raw_end(&s->txn.body);
		/*
		 * The message is complete; while it is delivered the
		 * session is in the state DATA is in then, so a server
		 * stop waits for the reply (session.c smtp_shutdown).
		 */
		smtp_session_set_state(s, SMTP_STATE_DATA);
		smtp_data_complete(s);
		return; /* data.c handles shutting_down */
	}
	if (s->shutting_down && s->state != SMTP_STATE_CLOSED) {
		smtp_reply(s, "421 4.3.2 Server shutting down");
		smtp_session_close(s, "server shutdown");
	}
}

/* Moves up to n octets of input into the body (or drops them). */
static size_t
smtp_bdat_take(struct smtp_session *s, size_t n)
{
	struct smtp_body *b = &s->txn.body;
	size_t room, got;
	char *p;

	if (!s->chunk.take)
		return conn_discard(s->c, n);
	if ((p = smtp_body_raw_room(b, n, &room)) == NULL) {
		got = conn_discard(s->c, n);
		smtp_body_raw_skip(b, got);
		return got;
	}
	got = conn_read(s->c, p, room);
	smtp_body_raw_commit(b, got);
	return got;
}

bool
smtp_bdat_input(struct smtp_session *s)
{
	struct smtp_chunk *ch = &s->chunk;

	while (ch->left > 0) {
		size_t have = conn_input_len(s->c);
		size_t n = have < ch->left ? have : (size_t)ch->left;
		size_t got;

		if (n == 0 || (got = smtp_bdat_take(s, n)) == 0)
			return false;
		ch->left -= got;
	}
	smtp_bdat_chunk_done(s);
	return true;
}
