/*
 * mutf7: mailbox names on the wire.  IMAP4rev1 clients send and receive
 * them in modified UTF-7 (RFC 3501 5.1.3); IMAP4rev2 and UTF8=ACCEPT
 * clients in UTF-8 (RFC 9051 5.1, RFC 6855 3).  The store keeps UTF-8.
 * Pure functions, no session: unit-tested in mutf7_test.c.
 */
#ifndef POSTAMT_IMAP_MUTF7_H
#define POSTAMT_IMAP_MUTF7_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

/*
 * Appends the UTF-8 form of the modified UTF-7 name in (len bytes) to out.
 * Strict: only printable US-ASCII outside "&...-" runs, base64 that
 * decodes to whole UTF-16 units with zero padding bits, paired
 * surrogates, no printable ASCII encoded in base64, no null shift "-&",
 * every run closed by "-".  Returns 0, or -1 with *why set to a short
 * reason (the client's NO text) and out unchanged in meaning.
 */
int imap_mutf7_decode(const char *in, size_t len, struct buf *out,
                      const char **why);

/*
 * Appends the modified UTF-7 form of the UTF-8 name in to out.  in must be
 * valid UTF-8 (imap_utf8_name_check()).  Returns 0 or -1 (out of memory
 * or invalid UTF-8).
 */
int imap_mutf7_encode(const char *in, size_t len, struct buf *out);

/*
 * True if in is a name RFC 6855 3 allows: valid UTF-8 (RFC 3629: no
 * overlong forms, surrogates or code points past U+10FFFF) without
 * control characters (U+0000-U+001F, U+007F-U+009F) or the line and
 * paragraph separators U+2028, U+2029.  *why gets the reason if not.
 */
bool imap_utf8_name_check(const char *in, size_t len, const char **why);

#endif
