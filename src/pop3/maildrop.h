/*
 * pop3 maildrop: the INBOX as one POP3 session sees it (RFC 1939 5).
 *
 * The list of messages is fixed when the session logs in: message number n
 * is the n-th message in UID order at that moment, for the whole session,
 * whatever other sessions do.  DELE and RETR only mark; the marks are
 * applied by QUIT (in the UPDATE state) or forgotten.  Pure: no I/O.
 */
#ifndef POSTAMT_POP3_MAILDROP_H
#define POSTAMT_POP3_MAILDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct pop3_maildrop {
	struct store_msg *msgs; /* UID order; number n is msgs[n - 1] */
	uint8_t *marks;         /* POP3_MARK_* bits per message */
	size_t count;
	uint32_t uidvalidity;
};

/* What happened to a message in this session. */
enum pop3_mark {
	POP3_MARK_DELETED = 1 << 0,   /* DELE (RSET clears it) */
	POP3_MARK_RETRIEVED = 1 << 1, /* RETR sent it (RSET keeps it) */
};

enum pop3_msg_lookup {
	POP3_MSG_OK,
	POP3_MSG_NONE,    /* no message with that number */
	POP3_MSG_DELETED, /* marked by DELE in this session */
};

/*
 * Takes ownership of msgs (malloc()ed, count entries, may be NULL when
 * count is 0).  Returns 0, or -1 when out of memory (msgs is then freed).
 */
int pop3_maildrop_init(struct pop3_maildrop *md, struct store_msg *msgs,
                       size_t count, uint32_t uidvalidity);

/* Frees what init took; md is empty and reusable afterwards. */
void pop3_maildrop_free(struct pop3_maildrop *md);

/* Looks message number n up; *msg_r is set only for POP3_MSG_OK. */
enum pop3_msg_lookup pop3_maildrop_get(const struct pop3_maildrop *md,
                                       uint32_t n,
                                       const struct store_msg **msg_r);

/* Marks message n deleted.  Returns what pop3_maildrop_get() would. */
enum pop3_msg_lookup pop3_maildrop_delete(struct pop3_maildrop *md, uint32_t n);

/* Marks message n retrieved (it must exist and not be deleted). */
void pop3_maildrop_retrieved(struct pop3_maildrop *md, uint32_t n);

/* Unmarks every deleted message (RSET, RFC 1939 5). */
void pop3_maildrop_reset(struct pop3_maildrop *md);

/* Counts and sums the sizes of the messages not marked deleted (STAT). */
void pop3_maildrop_stat(const struct pop3_maildrop *md, size_t *count_r,
                        uint64_t *size_r);

/*
 * Collects the UIDs of the marked messages into *uids_r (malloc()ed, the
 * caller frees it; NULL when *count_r is 0).  Returns 0, or -1 when out of
 * memory.
 */
int pop3_maildrop_deleted_uids(const struct pop3_maildrop *md,
                               uint32_t **uids_r, size_t *count_r);

/*
 * Collects the UIDs of the messages whose marks, masked by mask, equal
 * want (e.g. mask DELETED|RETRIEVED, want RETRIEVED: retrieved and not
 * deleted), in message order, into *uids_r as pop3_maildrop_deleted_uids()
 * does.  If skip_flags is not 0, messages whose snapshot flags contain all
 * of them are left out.  Returns 0, or -1 when out of memory.
 */
int pop3_maildrop_uids(const struct pop3_maildrop *md, unsigned mask,
                       unsigned want, uint32_t skip_flags, uint32_t **uids_r,
                       size_t *count_r);

#endif
