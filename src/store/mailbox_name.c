/*
 * mailbox_name: validation of mailbox names that come from clients.
 *
 * Names are never used as paths, but they are shown to other clients and
 * stored in the index, so they must be valid UTF-8 (RFC 9051 5.1 requires
 * Net-Unicode for 8-bit names) and free of control characters, which
 * RFC 9051 5.1 allows servers to refuse.
 */
#include "store/store.h"

#include <string.h>
#include <strings.h>

/*
 * Decodes one UTF-8 sequence at s (n bytes available).  Returns its length
 * and the code point in *cp, or 0 for an invalid, overlong or surrogate
 * sequence or one past U+10FFFF.
 */
static size_t
utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len, i;
	uint32_t c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xE0) == 0xC0) {
		len = 2, c = s[0] & 0x1F, min = 0x80;
	} else if ((s[0] & 0xF0) == 0xE0) {
		len = 3, c = s[0] & 0x0F, min = 0x800;
	} else if ((s[0] & 0xF8) == 0xF0) {
		len = 4, c = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

/* C0 controls, DEL and C1 controls (Unicode category Cc). */
static bool
is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

/* Checks one hierarchy level: not empty, not "." and not "..". */
static int
check_level(const char *name, const char *p, size_t len, struct err *err)
{
	if (len == 0)
		return err_set(err, ERR_SYNTAX,
		               "mailbox name \"%.80s\" has an empty level "
		               "(leading, trailing or doubled '%c')",
		               name, STORE_MAILBOX_SEP);
	if ((len == 1 && p[0] == '.') ||
	    (len == 2 && p[0] == '.' && p[1] == '.'))
		return err_set(err, ERR_SYNTAX,
		               "mailbox name \"%.80s\" has a \".\" or \"..\" "
		               "level",
		               name);
	return 0;
}

int
store_mailbox_name_check(const char *name, struct err *err)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t n, i, len, level = 0;
	uint32_t cp;

	if (name == NULL || name[0] == '\0')
		return err_set(err, ERR_SYNTAX, "mailbox name is empty");
	n = strnlen(name, STORE_MAILBOX_NAME_MAX + 1);
	if (n > STORE_MAILBOX_NAME_MAX)
		return err_set(err, ERR_SYNTAX,
		               "mailbox name is longer than %d bytes",
		               STORE_MAILBOX_NAME_MAX);
	for (i = 0; i < n; i += len) {
		len = utf8_decode(s + i, n - i, &cp);
		if (len == 0)
			return err_set(err, ERR_SYNTAX,
			               "mailbox name is not valid UTF-8");
		if (is_control(cp))
			return err_set(err, ERR_SYNTAX,
			               "mailbox name contains a control "
			               "character");
		if (cp == STORE_MAILBOX_SEP) {
			if (check_level(name, name + level, i - level, err) < 0)
				return -1;
			level = i + 1;
		}
	}
	return check_level(name, name + level, n - level, err);
}

const char *
store_mailbox_name_canon(const char *name)
{
	/* RFC 9051 5.1: "The case-insensitive mailbox name INBOX". */
	if (name != NULL && strcasecmp(name, "INBOX") == 0)
		return "INBOX";
	return name;
}
