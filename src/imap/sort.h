/*
 * sort: what SORT and THREAD (RFC 5256) share: the matching messages of a
 * search with their sort information (cmd_sort.c), and the REFERENCES
 * threading algorithm (thread_refs.c).
 */
#ifndef POSTAMT_IMAP_SORT_H
#define POSTAMT_IMAP_SORT_H

#include <stddef.h>
#include <stdint.h>

#include "store/search.h"
#include "util/buf.h"

/* One matching message. */
struct imap_sort_msg {
	const struct store_sort_info *info;
	uint32_t num; /* what the answer names: sequence number or UID */
	uint32_t seq;
};

/*
 * Appends the THREAD=REFERENCES answer body ("(1 2)(3 (4)(5))") for the
 * n messages (in mailbox order).  Returns 0 or -1 (out of memory).
 */
int imap_thread_references(const struct imap_sort_msg *msgs, size_t n,
                           struct buf *out);

/* Message-IDs taken from one References field (a named limit). */
#define IMAP_THREAD_MAX_REFS 64

#endif
