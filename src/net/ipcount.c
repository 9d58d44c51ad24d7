#include "net/ipcount.h"

#include <stdlib.h>
#include <string.h>

#define IPCOUNT_BUCKETS 4096

struct ip_entry {
	struct ip_entry *next;
	uint64_t count;
	char addr[]; /* NUL-terminated text form */
};

struct ipcount {
	struct ip_entry *bucket[IPCOUNT_BUCKETS];
};

static unsigned
ip_hash(const char *s)
{
	unsigned h = 2166136261u; /* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % IPCOUNT_BUCKETS;
}

struct ipcount *
ipcount_new(void)
{
	return calloc(1, sizeof(struct ipcount));
}

void
ipcount_free(struct ipcount **tp)
{
	struct ipcount *t = *tp;

	if (t == NULL)
		return;
	for (int i = 0; i < IPCOUNT_BUCKETS; i++) {
		struct ip_entry *e = t->bucket[i], *next;
		for (; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(t);
	*tp = NULL;
}

static struct ip_entry **
ip_find(struct ipcount *t, const char *addr)
{
	struct ip_entry **pp = &t->bucket[ip_hash(addr)];

	while (*pp != NULL && strcmp((*pp)->addr, addr) != 0)
		pp = &(*pp)->next;
	return pp;
}

int
ipcount_acquire(struct ipcount *t, const char *addr, uint64_t limit)
{
	struct ip_entry **pp = ip_find(t, addr);
	size_t n;

	if (*pp != NULL) {
		if ((*pp)->count >= limit)
			return -1;
		(*pp)->count++;
		return 0;
	}
	if (limit == 0)
		return -1;
	n = strlen(addr) + 1;
	if ((*pp = malloc(sizeof(struct ip_entry) + n)) == NULL)
		return -1;
	(*pp)->next = NULL;
	(*pp)->count = 1;
	memcpy((*pp)->addr, addr, n);
	return 0;
}

void
ipcount_release(struct ipcount *t, const char *addr)
{
	struct ip_entry **pp = ip_find(t, addr), *e = *pp;

	if (e == NULL)
		return;
	if (--e->count == 0) {
		*pp = e->next;
		free(e);
	}
}

uint64_t
ipcount_get(const struct ipcount *t, const char *addr)
{
	struct ip_entry **pp = ip_find((struct ipcount *)t, addr);

	return *pp != NULL ? (*pp)->count : 0;
}
