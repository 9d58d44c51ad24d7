/*
 * user_path: where a user's mail lives on disk.
 *
 * The address comes from the network (a login or an RCPT TO), so it is
 * never used as a path as it is: every byte outside a small safe set is
 * hex-escaped, which also keeps the mapping one-to-one ('%' itself is
 * escaped).  The shard spreads users over 256 directories so no single
 * directory grows huge.
 */
#include "store/embedded_private.h"

#include <string.h>

#include <openssl/evp.h>

/* The longest address accepted (RFC 5321 4.5.3.1.3 path limit minus <>). */
#define USER_ADDRESS_MAX 254
/* NAME_MAX on the file systems we run on. */
#define USER_NAME_MAX 255

static bool
user_byte_is_safe(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '_' || c == '@' || c == '+' || c == '-';
}

/* Rejects what must never reach a path, even escaped. */
static int
user_address_check(const char *address, size_t len, struct err *err)
{
	if (len == 0)
		return err_set(err, ERR_SYNTAX, "store: empty user address");
	if (len > USER_ADDRESS_MAX)
		return err_set(err, ERR_SYNTAX, "store: user address too long");
	if (strcmp(address, ".") == 0 || strcmp(address, "..") == 0)
		return err_set(err, ERR_SYNTAX, "store: invalid user address");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)address[i];

		if (c == '/' || c < 0x20 || c == 0x7F)
			return err_set(err, ERR_SYNTAX,
			               "store: user address contains '/' or a "
			               "control character");
	}
	return 0;
}

/* Appends the two hex digits of the first byte of SHA-256(lower). */
static int
user_shard(const char *lower, size_t len, struct buf *path)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	if (EVP_Digest(lower, len, md, &md_len, EVP_sha256(), NULL) != 1 ||
	    md_len < 1)
		return -1;
	return buf_printf(path, "%02x/", md[0]);
}

int
store_user_path(const char *address, struct buf *path, struct err *err)
{
	char lower[USER_ADDRESS_MAX + 1];
	size_t len = strnlen(address, USER_ADDRESS_MAX + 1), start;

	if (user_address_check(address, len, err) < 0)
		return -1;
	/* ASCII only: bytes of UTF-8 addresses are escaped as they are. */
	for (size_t i = 0; i < len; i++) {
		char c = address[i];

		lower[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	lower[len] = '\0';
	if (user_shard(lower, len, path) < 0)
		return err_set(err, ERR_INTERNAL, "store: SHA-256 failed");
	start = path->len;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)lower[i];
		int r = user_byte_is_safe(c) ? buf_append(path, &lower[i], 1)
		                             : buf_printf(path, "%%%02x", c);

		if (r < 0)
			return err_set(err, ERR_TEMP, "store: out of memory");
	}
	if (path->len - start > USER_NAME_MAX)
		return err_set(err, ERR_SYNTAX,
		               "store: user address too long once escaped");
	return 0;
}
