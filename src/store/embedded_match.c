/*
 * embedded_match: the SQL functions search uses where the FTS5 trigram
 * index cannot answer alone (embedded_search.c):
 *
 *   pa_contains(text, needle)        needle is a case-insensitive
 *                                    substring of text (needles under 3
 *                                    characters, which trigrams cannot
 *                                    look up)
 *   pa_header_has(hdr, name, value)  a field called name in hdr (the
 *                                    "name: value\n" lines of msg_cache.
 *                                    t_hdr) contains value; "" means the
 *                                    field exists (RFC 9051 6.4.4)
 *
 * Case folding covers ASCII, Latin-1, Latin Extended-A, Greek and
 * Cyrillic, the scripts FTS5's own folding is most often asked about;
 * anything else compares exactly.
 */
#include "store/embedded_cache.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Decodes one UTF-8 character at s (n > 0 bytes); bad bytes are taken as
 * Latin-1 so that every input advances. */
static uint32_t
match_utf8(const unsigned char *s, size_t n, size_t *used_r)
{
	uint32_t c = s[0];
	size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;

	*used_r = 1;
	if (need == 1 || need > n)
		return c;
	c &= 0xFF >> (need + 1);
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return s[0];
		c = c << 6 | (s[i] & 0x3F);
	}
	*used_r = need;
	return c;
}

static uint32_t
match_fold_cp(uint32_t c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7) ||
	    (c >= 0x391 && c <= 0x3A9) || (c >= 0x410 && c <= 0x42F))
		return c + 0x20;
	if (c >= 0x400 && c <= 0x40F)
		return c + 0x50;
	if (c >= 0x100 && c <= 0x17F && c != 0x130 && c != 0x131 &&
	    !(c >= 0x138 && c <= 0x148) && c < 0x178)
		return c | 1; /* pairs: even upper, odd lower */
	if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
		return (c & 1) ? c + 1 : c; /* odd upper, even lower */
	return c;
}

/* Appends text case-folded as UTF-8. */
static int
match_fold(struct buf *out, const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, used;

	if (buf_reserve(out, len) < 0)
		return -1;
	while (i < len) {
		uint32_t c = match_fold_cp(match_utf8(s + i, len - i, &used));
		unsigned char b[4];
		size_t n = 0;

		if (used == 1) {
			b[n++] = s[i] < 0x80
			             ? (unsigned char)match_fold_cp(s[i])
			             : s[i];
		} else if (c < 0x800) {
			b[n++] = (unsigned char)(0xC0 | c >> 6);
			b[n++] = (unsigned char)(0x80 | (c & 0x3F));
		} else if (c < 0x10000) {
			b[n++] = (unsigned char)(0xE0 | c >> 12);
			b[n++] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
			b[n++] = (unsigned char)(0x80 | (c & 0x3F));
		} else {
			b[n++] = (unsigned char)(0xF0 | c >> 18);
			b[n++] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
			b[n++] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
			b[n++] = (unsigned char)(0x80 | (c & 0x3F));
		}
		if (buf_append(out, b, n) < 0)
			return -1;
		i += used;
	}
	return 0;
}

bool
embedded_match_contains(const char *text, size_t len, const char *needle,
                        size_t nlen)
{
	struct buf t = BUF_INIT, n = BUF_INIT;
	bool found;

	if (nlen == 0)
		return true;
	if (match_fold(&t, text, len) < 0 || match_fold(&n, needle, nlen) < 0)
		found = false;
	else
		found = t.len >= n.len && memmem(buf_cstr(&t), t.len,
		                                 buf_cstr(&n), n.len) != NULL;
	buf_free(&t);
	buf_free(&n);
	return found;
}

bool
embedded_match_header(const char *hdr, size_t len, const char *name,
                      const char *value, size_t vlen)
{
	size_t nlen = strlen(name), i = 0;

	while (i < len) {
		const char *line = hdr + i;
		const char *nl = memchr(line, '\n', len - i);
		size_t n = nl != NULL ? (size_t)(nl - line) : len - i;

		i += n + 1;
		if (n < nlen + 1 || line[nlen] != ':' ||
		    strncasecmp(line, name, nlen) != 0)
			continue;
		if (embedded_match_contains(line + nlen + 1, n - nlen - 1,
		                            value, vlen))
			return true;
	}
	return false;
}

static void
match_fn_contains(sqlite3_context *cx, int argc, sqlite3_value **v)
{
	const char *t = (const char *)sqlite3_value_text(v[0]);
	const char *n = (const char *)sqlite3_value_text(v[1]);

	(void)argc;
	sqlite3_result_int(cx, t != NULL && n != NULL &&
	                           embedded_match_contains(
	                               t, (size_t)sqlite3_value_bytes(v[0]), n,
	                               (size_t)sqlite3_value_bytes(v[1])));
}

static void
match_fn_header(sqlite3_context *cx, int argc, sqlite3_value **v)
{
	const char *h = (const char *)sqlite3_value_text(v[0]);
	const char *name = (const char *)sqlite3_value_text(v[1]);
	const char *val = (const char *)sqlite3_value_text(v[2]);

	(void)argc;
	sqlite3_result_int(
	    cx, h != NULL && name != NULL && val != NULL &&
	            embedded_match_header(h, (size_t)sqlite3_value_bytes(v[0]),
	                                  name, val,
	                                  (size_t)sqlite3_value_bytes(v[2])));
}

int
embedded_match_register(struct embedded_user *u, struct err *err)
{
	int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY;
	int rc =
	    sqlite3_create_function_v2(u->db, "pa_contains", 2, flags, NULL,
	                               match_fn_contains, NULL, NULL, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_create_function_v2(u->db, "pa_header_has", 3,
		                                flags, NULL, match_fn_header,
		                                NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0
	                       : embedded_db_error(u, rc, "search setup", err);
}
