/*
 * seqset: IMAP sequence sets ("1:4,7,9:*", RFC 9051 9 "sequence-set").
 *
 * A set is parsed once into ranges; "*" is kept symbolic and resolved
 * against the mailbox when the set is used, because its value depends on
 * whether the set holds sequence numbers or UIDs.
 */
#ifndef POSTAMT_IMAP_SEQSET_H
#define POSTAMT_IMAP_SEQSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A bound on ranges per set, so a hostile set costs bounded memory. */
#define IMAP_SEQSET_MAX_RANGES 1024

/* "*" inside a range; resolved by imap_seqset_resolve(). */
#define IMAP_SEQ_STAR UINT32_MAX

struct imap_seq_range {
	uint32_t lo, hi; /* lo <= hi after imap_seqset_resolve() */
};

struct imap_seqset {
	struct imap_seq_range *ranges; /* malloc()ed */
	size_t count;
};

/*
 * Parses text (len bytes, no NUL needed).  Returns 0, or -1 if the text is
 * not a sequence set (empty, zero, a number over 4294967295, a stray
 * character, more than IMAP_SEQSET_MAX_RANGES ranges) or out of memory.
 * Free set with imap_seqset_free() in both cases.
 */
int imap_seqset_parse(const char *text, size_t len, struct imap_seqset *set);

/* Replaces "*" by star and orders every range (RFC 9051 9: "2:4" = "4:2"). */
void imap_seqset_resolve(struct imap_seqset *set, uint32_t star);

/* The largest number in a resolved set (0 if empty). */
uint32_t imap_seqset_max(const struct imap_seqset *set);

/* True if the resolved set holds n. */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n);

void imap_seqset_free(struct imap_seqset *set);

/*
 * Appends the ascending numbers v[0..n) as a compact sequence set
 * ("1:3,5"), as ESEARCH ALL and VANISHED use it.  Returns 0 or -1.
 */
struct buf;
int imap_seqset_write(struct buf *out, const uint32_t *v, size_t n);

/* Builds a set of the ascending numbers v[0..n) (ranges coalesced). */
int imap_seqset_from(struct imap_seqset *set, const uint32_t *v, size_t n);

#endif
