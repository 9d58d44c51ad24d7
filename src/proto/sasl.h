/*
 * sasl: the pieces of SASL that every protocol shares (RFC 4422).
 *
 * Protocols carry SASL exchanges in their own syntax (SMTP "334 ...", IMAP
 * "+ ...", POP3 "+ ..."); these helpers do the encoding and the parsing of
 * the mechanisms' messages, never I/O.
 */
#ifndef POSTAMT_PROTO_SASL_H
#define POSTAMT_PROTO_SASL_H

#include <stddef.h>

#include "util/buf.h"

/*
 * Decodes base64 text of length n into out (appended).  Whitespace is not
 * allowed; "=" alone (RFC 4954 4) decodes to nothing.  Returns 0 or -1.
 */
int sasl_base64_decode(const char *text, size_t n, struct buf *out);

/* Appends the base64 encoding of n bytes to out.  Returns 0 or -1. */
int sasl_base64_encode(const void *data, size_t n, struct buf *out);

/*
 * Splits a decoded PLAIN message (RFC 4616 2: authzid NUL authcid NUL
 * passwd) in place.  Pointers point into msg, which must hold len bytes plus
 * a trailing NUL (as struct buf does).
 * Returns 0, or -1 if the message is malformed or the authzid is given and
 * differs from the authcid (we do not support acting as another user).
 */
int sasl_plain_parse(char *msg, size_t len, const char **authcid_r,
                     const char **passwd_r);

#endif
