#include "pop3/maildrop.h"

#include <stdlib.h>

int
pop3_maildrop_init(struct pop3_maildrop *md, struct store_msg *msgs,
                   size_t count, uint32_t uidvalidity)
{
	md->msgs = msgs;
	md->count = count;
	md->uidvalidity = uidvalidity;
	md->deleted = NULL;
	if (count > 0) {
		md->deleted = calloc(count, sizeof(*md->deleted));
		if (md->deleted == NULL) {
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
	free(md->deleted);
	md->msgs = NULL;
	md->deleted = NULL;
	md->count = 0;
}

enum pop3_msg_lookup
pop3_maildrop_get(const struct pop3_maildrop *md, uint32_t n,
                  const struct store_msg **msg_r)
{
	if (n == 0 || n > md->count)
		return POP3_MSG_NONE;
	if (md->deleted[n - 1])
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
		md->deleted[n - 1] = true;
	return r;
}

void
pop3_maildrop_reset(struct pop3_maildrop *md)
{
	for (size_t i = 0; i < md->count; i++)
		md->deleted[i] = false;
}

void
pop3_maildrop_stat(const struct pop3_maildrop *md, size_t *count_r,
                   uint64_t *size_r)
{
	*count_r = 0;
	*size_r = 0;
	for (size_t i = 0; i < md->count; i++) {
		if (md->deleted[i])
			continue;
		(*count_r)++;
		*size_r += md->msgs[i].size;
	}
}

int
pop3_maildrop_deleted_uids(const struct pop3_maildrop *md, uint32_t **uids_r,
                           size_t *count_r)
{
	size_t n = 0;

	*uids_r = NULL;
	*count_r = 0;
	for (size_t i = 0; i < md->count; i++)
		n += md->deleted[i] ? 1 : 0;
	if (n == 0)
		return 0;
	*uids_r = malloc(n * sizeof(**uids_r));
	if (*uids_r == NULL)
		return -1;
	for (size_t i = 0; i < md->count; i++)
		if (md->deleted[i])
			(*uids_r)[(*count_r)++] = md->msgs[i].uid;
	return 0;
}
