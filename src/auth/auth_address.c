/*
 * auth_address: the one validator for account addresses.  A single failure
 * path, no fix-ups: an address that is not valid is refused, never
 * completed (the lesson of OpenSMTPD CVE-2020-7247, see STYLE.md).
 */
#include "auth/auth_private.h"

#include <string.h>

int
auth_address_normalize(const char *address, char *out, struct err *err)
{
	size_t len = strnlen(address, AUTH_ADDRESS_MAX + 1), at = len;

	if (len == 0)
		return err_set(err, ERR_SYNTAX, "empty address");
	if (len > AUTH_ADDRESS_MAX)
		return err_set(err, ERR_SYNTAX, "address longer than %d bytes",
		               AUTH_ADDRESS_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)address[i];

		if (c <= ' ' || c == 0x7F)
			return err_set(err, ERR_SYNTAX,
			               "address contains a space or a control "
			               "character");
		if (c == '@') {
			if (at != len)
				return err_set(err, ERR_SYNTAX,
				               "address has more than one '@'");
			at = i;
		}
		out[i] =
		    (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : (char)c;
	}
	out[len] = '\0';
	if (at == len)
		return err_set(err, ERR_SYNTAX, "address has no '@'");
	if (at == 0 || at == len - 1)
		return err_set(err, ERR_SYNTAX,
		               "address needs a local part and a domain");
	return 0;
}
