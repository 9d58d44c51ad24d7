/*
 * mutf7: modified UTF-7 (RFC 3501 5.1.3) <-> UTF-8 for mailbox names.
 */
#include "imap/mutf7.h"

#include <stdint.h>

/* Modified base64: RFC 2045 base64 with "," instead of "/", no padding. */
static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

/*
 * Reads one code point of UTF-8 at in[*i]; advances *i.  Returns the code
 * point, or -1 for invalid UTF-8 (RFC 3629 4: shortest form only, no
 * surrogates, at most U+10FFFF).
 */
static long
utf8_next(const unsigned char *in, size_t len, size_t *i)
{
	static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
	unsigned char c = in[*i];
	size_t n = c < 0x80                 ? 1
	           : c >= 0xc2 && c <= 0xdf ? 2
	           : (c & 0xf0) == 0xe0     ? 3
	           : c >= 0xf0 && c <= 0xf4 ? 4
	                                    : 0;
	uint32_t cp = n == 1   ? c
	              : n == 2 ? c & 0x1f
	              : n == 3 ? c & 0x0f
	                       : c & 7;

	if (n == 0 || len - *i < n)
		return -1;
	for (size_t k = 1; k < n; k++) {
		if ((in[*i + k] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (in[*i + k] & 0x3f);
	}
	if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i += n;
	return (long)cp;
}

static int
utf8_put(struct buf *out, uint32_t cp)
{
	unsigned char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | cp >> 6);
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | cp >> 12);
		b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | cp >> 18);
		b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(out, b, n);
}

bool
imap_utf8_name_check(const char *in, size_t len, const char **why)
{
	const unsigned char *u = (const unsigned char *)in;

	for (size_t i = 0; i < len;) {
		long cp = utf8_next(u, len, &i);

		if (cp < 0) {
			*why = "Mailbox name is not valid UTF-8";
			return false;
		}
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 ||
		    cp == 0x2029) {
			*why = "Control characters are not allowed in mailbox "
			       "names";
			return false;
		}
	}
	return true;
}

/* The UTF-16 units of one "&...-" run; returns 0 or -1 with *why. */
struct dec16 {
	uint32_t bits; /* pending bits, the low nbits of them */
	unsigned nbits;
	uint32_t high; /* a high surrogate waiting for its pair, or 0 */
};

static int
dec16_unit(struct dec16 *d, uint32_t u, struct buf *out, const char **why)
{
	uint32_t cp = u;

	if (d->high != 0) {
		if (u < 0xdc00 || u > 0xdfff)
			goto bad_pair;
		cp = 0x10000 + ((d->high - 0xd800) << 10) + (u - 0xdc00);
		d->high = 0;
	} else if (u >= 0xd800 && u <= 0xdbff) {
		d->high = u;
		return 0;
	} else if (u >= 0xdc00 && u <= 0xdfff) {
		goto bad_pair;
	}
	/* RFC 3501 5.1.3: printable US-ASCII must represent itself. */
	if (cp >= 0x20 && cp <= 0x7e) {
		*why = "Modified UTF-7 encodes a printable US-ASCII character";
		return -1;
	}
	return utf8_put(out, cp) < 0 ? (*why = "Out of memory", -1) : 0;
bad_pair:
	*why = "Modified UTF-7 holds an unpaired UTF-16 surrogate";
	return -1;
}

/* Decodes the base64 of one run in[0..n); returns 0 or -1 with *why. */
static int
dec_run(const char *in, size_t n, struct buf *out, const char **why)
{
	struct dec16 d = {0, 0, 0};

	for (size_t i = 0; i < n; i++) {
		int v = b64_value((unsigned char)in[i]);

		if (v < 0) {
			*why = "Invalid character in modified UTF-7 base64";
			return -1;
		}
		d.bits = (d.bits << 6 | (uint32_t)v) & 0x3fffff;
		d.nbits += 6;
		if (d.nbits >= 16) {
			d.nbits -= 16;
			if (dec16_unit(&d, d.bits >> d.nbits & 0xffff, out,
			               why) < 0)
				return -1;
		}
	}
	/* Only the zero bits that pad the last unit may be left. */
	if (d.nbits >= 6 || (d.bits & ((1u << d.nbits) - 1)) != 0 ||
	    d.high != 0 || n == 0) {
		*why = d.high != 0 ? "Modified UTF-7 holds an unpaired UTF-16 "
		                     "surrogate"
		                   : "Invalid modified UTF-7 base64 padding";
		return -1;
	}
	return 0;
}

int
imap_mutf7_decode(const char *in, size_t len, struct buf *out, const char **why)
{
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)in[i];
		size_t end;

		if (c < 0x20 || c > 0x7e) {
			*why = "Mailbox names must be modified UTF-7 "
			       "(RFC 3501 5.1.3) unless UTF8=ACCEPT is enabled";
			return -1;
		}
		if (c != '&') {
			if (buf_append(out, &c, 1) < 0)
				return *why = "Out of memory", -1;
			i++;
			continue;
		}
		for (end = i + 1; end < len && in[end] != '-'; end++)
			;
		if (end == len) {
			*why = "Modified UTF-7 run not closed by \"-\"";
			return -1;
		}
		if (end == i + 1) { /* "&-" is "&" */
			if (buf_append(out, "&", 1) < 0)
				return *why = "Out of memory", -1;
		} else if (dec_run(in + i + 1, end - i - 1, out, why) < 0) {
			return -1;
		} else if (end + 1 < len && in[end + 1] == '&' &&
		           (end + 2 >= len || in[end + 2] != '-')) {
			/* RFC 3501 5.1.3: null shifts are not permitted. */
			*why = "Modified UTF-7 null shift \"-&\"";
			return -1;
		}
		i = end + 1;
	}
	return 0;
}

/* Flushes the UTF-16 run as base64 and closes it with "-". */
static int
enc_flush(struct buf *out, uint32_t bits, unsigned nbits)
{
	char c;

	if (nbits > 0) {
		c = b64[bits << (6 - nbits) & 0x3f];
		if (buf_append(out, &c, 1) < 0)
			return -1;
	}
	return buf_append(out, "-", 1);
}

static int
enc_unit(struct buf *out, uint32_t u, uint32_t *bits, unsigned *nbits)
{
	char c;

	*bits = (*bits << 16 | u) & 0x3fffff;
	*nbits += 16;
	while (*nbits >= 6) {
		*nbits -= 6;
		c = b64[*bits >> *nbits & 0x3f];
		if (buf_append(out, &c, 1) < 0)
			return -1;
	}
	return 0;
}

int
imap_mutf7_encode(const char *in, size_t len, struct buf *out)
{
	const unsigned char *u = (const unsigned char *)in;
	bool run = false;
	uint32_t bits = 0;
	unsigned nbits = 0;

	for (size_t i = 0; i < len;) {
		long cp = utf8_next(u, len, &i);
		int rc = 0;

		if (cp < 0)
			return -1;
		if (cp >= 0x20 && cp <= 0x7e) {
			if (run && enc_flush(out, bits, nbits) < 0)
				return -1;
			run = false;
			if (cp == '&') {
				rc = buf_append(out, "&-", 2);
			} else {
				char ch = (char)cp;

				rc = buf_append(out, &ch, 1);
			}
		} else {
			if (!run && buf_append(out, "&", 1) < 0)
				return -1;
			if (!run)
				bits = nbits = 0;
			run = true;
			if (cp >= 0x10000) {
				cp -= 0x10000;
				rc =
				    enc_unit(out, 0xd800 + ((uint32_t)cp >> 10),
				             &bits, &nbits);
				cp = 0xdc00 + (cp & 0x3ff);
			}
			if (rc == 0)
				rc = enc_unit(out, (uint32_t)cp, &bits, &nbits);
		}
		if (rc < 0)
			return -1;
	}
	return run ? enc_flush(out, bits, nbits) : 0;
}
