#include "pop3/maildrop.h"

#include <stdlib.h>

int
pop3_maildrop_init(struct pop3_maildrop *md, struct store_msg *msgs,
                   size_t count, uint32_t uidvalidity)
{
	md->msgs = msgs;
	md->count = count;
	md->uidvalidity = uidvalidity;
	md->marks = NULL;
	if (count > 0) {
		md->marks = calloc(count, sizeof(*md->marks));
		if (md->marks == NULL) {
			pop3_maildrop_free(md);
			return -1;
		}
	}
	return 0;
}

void
pop3_maildrop_free(struct pop3_maildrop *md)
{
	free(md->msgs);
	free(md->marks);
	md->msgs = NULL;
	md->marks = NULL;
	md->count = 0;
}

enum pop3_msg_lookup
pop3_maildrop_get(const struct pop3_maildrop *md, uint32_t n,
                  const struct store_msg **msg_r)
{
	if (n == 0 || n > md->count)
		return POP3_MSG_NONE;
	if (md->marks[n - 1] & POP3_MARK_DELETED)
		return POP3_MSG_DELETED;
	*msg_r = &md->msgs[n - 1];
	return POP3_MSG_OK;
}

enum pop3_msg_lookup
pop3_maildrop_delete(struct pop3_maildrop *md, uint32_t n)
{
	const struct store_msg *msg;
	enum pop3_msg_lookup r = pop3_maildrop_get(md, n, &msg);

	if (r == POP3_MSG_OK)
		md->marks[n - 1] |= POP3_MARK_DELETED;
	return r;
}

void
pop3_maildrop_retrieved(struct pop3_maildrop *md, uint32_t n)
{
	if (n >= 1 && n <= md->count)
		md->marks[n - 1] |= POP3_MARK_RETRIEVED;
}

void
pop3_maildrop_reset(struct pop3_maildrop *md)
{
	for (size_t i = 0; i < md->count; i++)
		md->marks[i] &= (uint8_t)~POP3_MARK_DELETED;
}

void
pop3_maildrop_stat(const struct pop3_maildrop *md, size_t *count_r,
                   uint64_t *size_r)
{
	*count_r = 0;
	*size_r = 0;
	for (size_t i = 0; i < md->count; i++) {
		if (md->marks[i] & POP3_MARK_DELETED)
			continue;
		(*count_r)++;
		*size_r += md->msgs[i].size;
	}
}

static bool
maildrop_matches(const struct pop3_maildrop *md, size_t i, unsigned mask,
                 unsigned want, uint32_t skip_flags)
{
	if ((md->marks[i] & mask) != want)
		return false;
	return skip_flags == 0 ||
	       (md->msgs[i].flags & skip_flags) != skip_flags;
}

int
pop3_maildrop_uids(const struct pop3_maildrop *md, unsigned mask, unsigned want,
                   uint32_t skip_flags, uint32_t **uids_r, size_t *count_r)
{
	size_t n = 0;

	*uids_r = NULL;
	*count_r = 0;
	for (size_t i = 0; i < md->count; i++)
		n += maildrop_matches(md, i, mask, want, skip_flags) ? 1 : 0;
	if (n == 0)
		return 0;
	*uids_r = malloc(n * sizeof(**uids_r));
	if (*uids_r == NULL)
		return -1;
	for (size_t i = 0; i < md->count; i++)
		if (maildrop_matches(md, i, mask, want, skip_flags))
			(*uids_r)[(*count_r)++] = md->msgs[i].uid;
	return 0;
}

int
pop3_maildrop_deleted_uids(const struct pop3_maildrop *md, uint32_t **uids_r,
                           size_t *count_r)
{
	return pop3_maildrop_uids(md, POP3_MARK_DELETED, POP3_MARK_DELETED, 0,
	                          uids_r, count_r);
}
