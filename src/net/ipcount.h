/*
 * ipcount: connections per remote address, for max_connections_per_ip.
 * A small chained hash table; entries exist only while count > 0.
 */
#ifndef POSTAMT_NET_IPCOUNT_H
#define POSTAMT_NET_IPCOUNT_H

#include <stdint.h>

struct ipcount;

struct ipcount *ipcount_new(void);
void ipcount_free(struct ipcount **t);

/*
 * Adds one connection from addr if it has fewer than limit.  Returns 0, or
 * -1 if addr is at the limit or memory is exhausted.
 */
int ipcount_acquire(struct ipcount *t, const char *addr, uint64_t limit);

/* Removes one connection from addr. */
void ipcount_release(struct ipcount *t, const char *addr);

/* Current count for addr (for tests). */
uint64_t ipcount_get(const struct ipcount *t, const char *addr);

#endif
