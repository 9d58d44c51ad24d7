#include "proto/sasl.h"

#include <string.h>

#include <openssl/evp.h>

int
sasl_base64_decode(const char *text, size_t n, struct buf *out)
{
	size_t pad = 0;
	int got;

	if (n == 1 && text[0] == '=')
		return 0;
	if (n % 4 != 0 || n > 16 * 1024 * 1024)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char ch = text[i];
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '+' || ch == '/') {
			if (pad > 0)
				return -1; /* data after padding */
			continue;
		}
		if (ch == '=' && i >= n - 2) {
			pad++;
			continue;
		}
		return -1;
	}
	if (n == 0)
		return 0;
	if (buf_reserve(out, n / 4 * 3) < 0)
		return -1;
	got = EVP_DecodeBlock((unsigned char *)out->data + out->len,
	                      (const unsigned char *)text, (int)n);
	if (got < 0)
		return -1;
	/* EVP_DecodeBlock counts the padding as zero bytes; drop them. */
	out->len += (size_t)got - pad;
	out->data[out->len] = '\0';
	return 0;
}

int
sasl_base64_encode(const void *data, size_t n, struct buf *out)
{
	size_t need = (n + 2) / 3 * 4;
	int got;

	if (buf_reserve(out, need) < 0)
		return -1;
	got = EVP_EncodeBlock((unsigned char *)out->data + out->len,
	                      (const unsigned char *)data, (int)n);
	if (got < 0)
		return -1;
	out->len += (size_t)got;
	out->data[out->len] = '\0';
	return 0;
}

int
sasl_plain_parse(char *msg, size_t len, const char **authcid_r,
                 const char **passwd_r)
{
	char *nul1, *nul2;
	const char *authzid, *authcid, *passwd;

	nul1 = memchr(msg, '\0', len);
	if (nul1 == NULL)
		return -1;
	nul2 = memchr(nul1 + 1, '\0', len - (size_t)(nul1 + 1 - msg));
	if (nul2 == NULL)
		return -1;
	/* The password runs to the end and must not contain another NUL. */
	if (memchr(nul2 + 1, '\0', len - (size_t)(nul2 + 1 - msg)) != NULL)
		return -1;
	authzid = msg;
	authcid = nul1 + 1;
	passwd = nul2 + 1;
	if (authcid[0] == '\0' || passwd[0] == '\0')
		return -1;
	if (authzid[0] != '\0' && strcmp(authzid, authcid) != 0)
		return -1;
	*authcid_r = authcid;
	*passwd_r = passwd;
	return 0;
}
