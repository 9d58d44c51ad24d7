/*
 * server: listeners, the event loop, signals and the connection table.
 *
 * One event loop (libevent) serves every connection; blocking work is kept
 * short (see ARCHITECTURE.md for what still runs inline).  SIGTERM and
 * SIGINT stop accepting, let each session finish its command and say
 * goodbye, and exit within shutdown_timeout; SIGHUP reloads the TLS
 * certificate and key without dropping connections.
 */
#ifndef POSTAMT_NET_SERVER_H
#define POSTAMT_NET_SERVER_H

#include "net/conn.h"
#include "util/buf.h"
#include "util/config.h"

struct server;

/*
 * Creates a server for cfg (which must outlive it).  ops[svc] is the
 * protocol of each service, NULL for services not served.  context is
 * handed to sessions through conn_context().  Loads the TLS certificate;
 * on failure appends "file:line: problem, fix" lines to errors and returns
 * NULL.
 */
struct server *server_new(const struct config *cfg,
                          const struct proto_ops *const ops[SVC_COUNT],
                          void *context, struct buf *errors);

/*
 * Binds every served service's port plus port_offset; with a non-zero
 * offset the address is 127.0.0.1.  Returns 0, or -1 with a
 * "file:line: problem, fix" line in errors (e.g. a port in use).
 */
int server_listen(struct server *srv, int port_offset, struct buf *errors);

/* Runs until shut down by a signal.  Returns 0 after a clean shutdown. */
int server_run(struct server *srv);

void server_free(struct server **srv);

/*
 * The event loop of srv, for work that runs beside the sessions on the same
 * loop (the SMTP queue runner's timers and outbound connections).
 */
struct event_base;
struct event_base *server_event_base(struct server *srv);

#endif
