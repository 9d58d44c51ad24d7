/*
 * seqset: parsing and testing IMAP sequence sets (see seqset.h).
 */
#include "imap/seqset.h"

#include <stdlib.h>

#include "util/buf.h"

/* seq-number = nz-number / "*"; reads one at *pos. */
static int
seq_number(const char *text, size_t len, size_t *pos, uint32_t *n_r)
{
	uint64_t n = 0;
	size_t i = *pos;

	if (i < len && text[i] == '*') {
		*n_r = IMAP_SEQ_STAR;
		*pos = i + 1;
		return 0;
	}
	/* nz-number: no leading zero (RFC 9051 9). */
	if (i >= len || text[i] < '1' || text[i] > '9')
		return -1;
	while (i < len && text[i] >= '0' && text[i] <= '9') {
		n = n * 10 + (uint64_t)(text[i] - '0');
		if (n >= IMAP_SEQ_STAR) /* over 2^32 - 2 collides with "*" */
			return -1;
		i++;
	}
	*n_r = (uint32_t)n;
	*pos = i;
	return 0;
}

static int
range_add(struct imap_seqset *set, uint32_t lo, uint32_t hi)
{
	struct imap_seq_range *r;

	if (set->count >= IMAP_SEQSET_MAX_RANGES)
		return -1;
	r = realloc(set->ranges, (set->count + 1) * sizeof(*r));
	if (r == NULL)
		return -1;
	set->ranges = r;
	r[set->count].lo = lo;
	r[set->count].hi = hi;
	set->count++;
	return 0;
}

int
imap_seqset_parse(const char *text, size_t len, struct imap_seqset *set)
{
	size_t pos = 0;

	set->ranges = NULL;
	set->count = 0;
	for (;;) {
		uint32_t lo, hi;

		if (seq_number(text, len, &pos, &lo) < 0)
			return -1;
		hi = lo;
		if (pos < len && text[pos] == ':') {
			pos++;
			if (seq_number(text, len, &pos, &hi) < 0)
				return -1;
		}
		if (range_add(set, lo, hi) < 0)
			return -1;
		if (pos == len)
			return 0;
		if (text[pos] != ',')
			return -1;
		pos++;
	}
}

void
imap_seqset_resolve(struct imap_seqset *set, uint32_t star)
{
	for (size_t i = 0; i < set->count; i++) {
		struct imap_seq_range *r = &set->ranges[i];

		if (r->lo == IMAP_SEQ_STAR)
			r->lo = star;
		if (r->hi == IMAP_SEQ_STAR)
			r->hi = star;
		if (r->lo > r->hi) {
			uint32_t t = r->lo;

			r->lo = r->hi;
			r->hi = t;
		}
	}
}

uint32_t
imap_seqset_max(const struct imap_seqset *set)
{
	uint32_t max = 0;

	for (size_t i = 0; i < set->count; i++)
		if (set->ranges[i].hi > max)
			max = set->ranges[i].hi;
	return max;
}

bool
imap_seqset_contains(const struct imap_seqset *set, uint32_t n)
{
	for (size_t i = 0; i < set->count; i++)
		if (n >= set->ranges[i].lo && n <= set->ranges[i].hi)
			return true;
	return false;
}

void
imap_seqset_free(struct imap_seqset *set)
{
	free(set->ranges);
	set->ranges = NULL;
	set->count = 0;
}

int
imap_seqset_write(struct buf *out, const uint32_t *v, size_t n)
{
	size_t i = 0;
	int rc = 0;

	while (i < n && rc == 0) {
		size_t j = i;

		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		if (i > 0)
			rc = buf_append(out, ",", 1);
		if (rc == 0 && j == i)
			rc = buf_printf(out, "%u", v[i]);
		else if (rc == 0)
			rc = buf_printf(out, "%u:%u", v[i], v[j]);
		i = j + 1;
	}
	return rc < 0 ? -1 : 0;
}

int
imap_seqset_from(struct imap_seqset *set, const uint32_t *v, size_t n)
{
	size_t i = 0;

	set->ranges = NULL;
	set->count = 0;
	while (i < n) {
		size_t j = i;
		struct imap_seq_range *r;

		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		/* No range cap here: the numbers come from the server. */
		r = reallocarray(set->ranges, set->count + 1, sizeof(*r));
		if (r == NULL)
			return -1;
		set->ranges = r;
		r[set->count].lo = v[i];
		r[set->count].hi = v[j];
		set->count++;
		i = j + 1;
	}
	return 0;
}
