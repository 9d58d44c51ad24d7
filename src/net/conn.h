/*
 * conn: the seam between the network layer and a protocol session.
 *
 * The network layer owns sockets, TLS and timers.  A protocol registers a
 * struct proto_ops per service; the network layer calls it when a connection
 * opens, when input arrives, when TLS comes up after STARTTLS, on timeout,
 * on server shutdown, and when the connection goes away.  Protocols read and
 * write only through the functions below and never call read(), write() or
 * SSL_*() themselves.
 *
 * All calls for one connection happen on the thread of its event loop.
 */
#ifndef POSTAMT_NET_CONN_H
#define POSTAMT_NET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/config.h"
#include "util/log.h"

struct conn;

struct proto_ops {
	/*
	 * Creates the session for a new connection and writes the greeting.
	 * For implicit-TLS services this is called once the handshake is done.
	 * Returns the session (passed back to every other hook) or NULL to
	 * refuse the connection (it is then closed).
	 */
	void *(*open)(struct conn *c);
	/*
	 * Input is waiting.  Read every complete command that is there (clients
	 * pipeline), and return.  Not called while the session has asked for
	 * STARTTLS or for the connection to be closed.
	 */
	void (*input)(void *session);
	/* TLS is up after conn_starttls(); reset what RFC 3207 4.2 says to. */
	void (*tls_ready)(void *session);
	/*
	 * The idle timer fired.  Write a farewell if the protocol has one
	 * (421, "* BYE", "-ERR"); the connection is closed afterwards.
	 */
	void (*timeout)(void *session);
	/*
	 * The server is stopping.  Write a farewell and call conn_close(), or,
	 * with a command in flight, finish it first and close then.
	 */
	void (*shutdown)(void *session);
	/* The connection is gone; free the session. */
	void (*close)(void *session);
	/*
	 * Optional: the output asked for with conn_wait_drained() has gone
	 * down to CONN_OUTPUT_LOW bytes; write the next part of a large
	 * response.
	 */
	void (*drained)(void *session);
	/*
	 * Line sent (plain services only) to a client refused because the
	 * server or its address has too many connections, e.g. "421 4.7.0
	 * Too many connections\r\n".  NULL: just close.
	 */
	const char *busy_reply;
};

enum conn_line {
	CONN_LINE_OK,       /* *line_r holds a complete line */
	CONN_LINE_MORE,     /* no complete line yet */
	CONN_LINE_TOO_LONG, /* the buffered bytes already exceed max */
};

/* How lines end.  Commands may end in LF or CRLF; DATA only in CRLF. */
enum conn_eol { CONN_EOL_LF_OR_CRLF, CONN_EOL_CRLF_STRICT };

/*
 * Takes the next line off the input, without its terminator.  *line_r is
 * malloc()ed and NUL-terminated (the line may contain NULs; *len_r is its
 * length); the caller frees it.  A line longer than max bytes, or max bytes
 * buffered without a terminator, gives CONN_LINE_TOO_LONG and the input is
 * left as it was: the protocol then replies and usually closes.
 */
enum conn_line conn_read_line(struct conn *c, size_t max, enum conn_eol eol,
                              char **line_r, size_t *len_r);

/* Bytes waiting in the input buffer. */
size_t conn_input_len(const struct conn *c);

/*
 * Moves up to n bytes of input into dst.  Returns the number moved.  Input
 * is buffered only up to about max_line_length + 64 KiB; a protocol reading
 * a larger block (an IMAP literal, a BDAT chunk) must take what is there on
 * each input() call rather than wait for the whole block to be buffered.
 */
size_t conn_read(struct conn *c, void *dst, size_t n);

/*
 * The first contiguous piece of the input, *len_r bytes, to be read in
 * place and then dropped with conn_discard(); NULL when there is none
 * (or input waits, as for conn_input_len()).  A piece may end anywhere,
 * even inside a line.
 */
const char *conn_peek(struct conn *c, size_t *len_r);

/* Drops up to n bytes of input.  Returns the number dropped. */
size_t conn_discard(struct conn *c, size_t n);

/* Queues output.  Returns 0, or -1 if the connection is closing or broken. */
int conn_write(struct conn *c, const void *data, size_t n);
int conn_printf(struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Bytes queued straight from a file, sent with sendfile(): no copy through
 * user space (POP3 RETR of large messages).  conn_file_new() returns NULL
 * where that cannot work (a TLS connection: the bytes must be encrypted)
 * or on failure; the caller then copies.  It takes a dup() of fd, so the
 * queued ranges stay valid after the caller closes fd; conn_file_free()
 * drops the caller's reference (the queue keeps its own).
 */
struct conn_file;
struct conn_file *conn_file_new(struct conn *c, int fd, uint64_t size);
int conn_write_file(struct conn *c, struct conn_file *f, uint64_t off,
                    uint64_t len);
void conn_file_free(struct conn_file **f);

/* Bytes queued but not yet sent (for back-pressure on large responses). */
size_t conn_output_len(const struct conn *c);

/*
 * Back-pressure for large responses (FETCH of big bodies, POP3 RETR): write
 * until conn_output_len() passes CONN_OUTPUT_HIGH, call conn_wait_drained()
 * and return; ops->drained() is called once the client has read the queue
 * down to CONN_OUTPUT_LOW, and the response goes on from there.  Input is
 * not read while waiting, so commands stay in order.  Memory per
 * connection stays bounded however slowly the client reads.
 */
#define CONN_OUTPUT_HIGH (256 * 1024)
#define CONN_OUTPUT_LOW (64 * 1024)
void conn_wait_drained(struct conn *c);

/*
 * Asks for TLS: once the output queued so far (the "go ahead" reply) is
 * sent, every byte the client sent after its STARTTLS command is discarded
 * (CVE-2011-0411), and the handshake starts.  ops->tls_ready() follows.
 * Returns -1 if already in TLS or no certificate is loaded.
 */
int conn_starttls(struct conn *c);

/*
 * Runs work(arg) on a worker thread, then done(session, arg) on the loop
 * thread as a hook (it may write replies and close).  Input is not read
 * meanwhile, so commands stay in order.  If the client goes away first,
 * done still runs (its writes are dropped) so arg can be freed, and the
 * session is freed only after it.  Returns 0, or -1 if the job could not
 * be queued (the caller then runs the work inline).
 */
int conn_run_blocking(struct conn *c, void (*work)(void *arg),
                      void (*done)(void *session, void *arg), void *arg);

/*
 * Asks for COMPRESS=DEFLATE (RFC 4978): once the output queued so far (the
 * tagged OK) is sent, everything read and written is raw DEFLATE.  Returns
 * -1 if the connection is already compressed or closing.
 */
int conn_compress(struct conn *c);
bool conn_is_compressed(const struct conn *c);

/* Flushes queued output, then closes.  reason goes to the log. */
void conn_close(struct conn *c, const char *reason);

/* Sets the idle timeout in seconds (0 disables it). */
void conn_set_timeout(struct conn *c, uint64_t secs);

/*
 * Stops (false) or resumes (true) reading input, for sessions waiting on
 * something else.  Resuming calls ops->input() again if input is waiting.
 */
void conn_set_reading(struct conn *c, bool on);

bool conn_is_tls(const struct conn *c);
/* True when the peer is 127.0.0.0/8 or ::1. */
bool conn_is_loopback(const struct conn *c);
const char *conn_remote(const struct conn *c);
uint64_t conn_id(const struct conn *c);
enum service conn_service(const struct conn *c);

/*
 * The port clients reach svc on (the configured port plus --port-offset),
 * or 0 if svc is not served.  For telling clients where to connect.
 */
int conn_service_port(const struct conn *c, enum service svc);

/* Records the logged-in user for log lines (copied). */
void conn_set_user(struct conn *c, const char *user);

/* The configuration this connection was accepted under (read only). */
const struct config *conn_config(const struct conn *c);

/*
 * The context pointer the server was created with: the shared services
 * (struct services in proto/services.h) that sessions use.
 */
void *conn_context(const struct conn *c);

/* Logs an event with this connection's service, id, address and user. */
void conn_log(const struct conn *c, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
