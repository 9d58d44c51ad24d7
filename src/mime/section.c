/*
 * section: which bytes a FETCH section means (RFC 9051 6.4.5) and the
 * HEADER.FIELDS filter.
 */
#include <string.h>
#include <strings.h>

#include "mime/mime_private.h"

/* The n-th (1-based) child of a multipart, or NULL. */
static const struct mime_part *
nth_child(const struct mime_part *n, uint32_t k)
{
	const struct mime_part *c = n->child;

	for (uint32_t i = 1; c != NULL && i < k; i++)
		c = c->next;
	return k == 0 ? NULL : c;
}

/*
 * One step of a part specifier inside message context ctx: the k-th body
 * part of a multipart, or part 1 of a single-part message (its body).
 */
static const struct mime_part *
step(const struct mime_part *ctx, uint32_t k)
{
	if (ctx->kind == MIME_MULTIPART)
		return nth_child(ctx, k);
	return k == 1 ? ctx : NULL;
}

int
mime_section_find(const struct mime_part *root, const uint32_t *nums, size_t n,
                  enum mime_section_text text, const struct mime_part **part_r,
                  bool *header_r)
{
	const struct mime_part *ctx = root, *target = root;

	for (size_t i = 0; i < n; i++) {
		target = step(ctx, nums[i]);
		if (target == NULL)
			return -1;
		if (i + 1 == n)
			break;
		/* Deeper numbers go into a multipart or an rfc822 message. */
		if (target->kind == MIME_MESSAGE && target->child != NULL)
			ctx = target->child;
		else if (target->kind == MIME_MULTIPART)
			ctx = target;
		else
			return -1; /* a single part has no subparts */
	}
	*header_r = false;
	switch (text) {
	case MIME_SEC_NONE:
		*part_r = target;
		return 0;
	case MIME_SEC_MIME:
		if (n == 0)
			return -1;
		*part_r = target;
		*header_r = true;
		return 0;
	default:
		break;
	}
	/* HEADER, HEADER.FIELDS and TEXT address a message. */
	if (n > 0) {
		if (target->kind != MIME_MESSAGE || target->child == NULL)
			return -1;
		target = target->child;
	}
	*part_r = target;
	*header_r = text != MIME_SEC_TEXT;
	return 0;
}

static bool
name_listed(const char *s, size_t len, const char *const *names, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (strlen(names[i]) == len &&
		    strncasecmp(s, names[i], len) == 0)
			return true;
	return false;
}

int
mime_header_filter(struct buf *out, const char *hdr, size_t len,
                   const char *const *names, size_t count, bool exclude)
{
	bool keep = false;

	while (len > 0) {
		const char *lf = memchr(hdr, '\n', len);
		size_t n = lf != NULL ? (size_t)(lf - hdr) + 1 : len;

		if (n <= 2 && (hdr[0] == '\r' || hdr[0] == '\n'))
			break; /* the blank line ends the header */
		if (hdr[0] != ' ' && hdr[0] != '\t') {
			const char *colon = memchr(hdr, ':', n);
			size_t nlen = colon != NULL ? (size_t)(colon - hdr) : 0;

			while (nlen > 0 &&
			       (hdr[nlen - 1] == ' ' || hdr[nlen - 1] == '\t'))
				nlen--;
			keep = colon != NULL &&
			       name_listed(hdr, nlen, names, count) != exclude;
		}
		if (keep && buf_append(out, hdr, n) < 0)
			return -1;
		hdr += n;
		len -= n;
	}
	return buf_append(out, "\r\n", 2);
}

void
mime_header_scan_init(struct mime_header_scan *hs)
{
	hs->line_len = 0;
	hs->done = false;
	hs->ascii = true;
}

bool
mime_header_scan_feed(struct mime_header_scan *hs, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !hs->done; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch >= 0x80) {
			hs->ascii = false;
			hs->done = true;
		} else if (ch == '\n') {
			/* RFC 5322 2.1: an empty line ends the header. */
			hs->done = hs->line_len == 0;
			hs->line_len = 0;
		} else if (ch != '\r') {
			hs->line_len++;
		}
	}
	return hs->done;
}

bool
mime_header_is_ascii(const char *msg, size_t len)
{
	struct mime_header_scan hs;

	mime_header_scan_init(&hs);
	mime_header_scan_feed(&hs, msg, len);
	return hs.ascii;
}
