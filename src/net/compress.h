/*
 * compress: raw DEFLATE (RFC 1951) on a connection, for IMAP
 * COMPRESS=DEFLATE (RFC 4978).  A libevent filter bufferevent stacked on
 * the connection's (plain or TLS) bufferevent.
 */
#ifndef POSTAMT_NET_COMPRESS_H
#define POSTAMT_NET_COMPRESS_H

#include <event2/bufferevent.h>

/*
 * Returns a filter bufferevent over underlying that inflates what it reads
 * and deflates what it writes, flushing at the end of every write so each
 * response reaches the client at once (RFC 4978 4).  The filter owns
 * underlying.  NULL if out of memory.
 */
struct bufferevent *compress_bev_new(struct bufferevent *underlying);

#endif
