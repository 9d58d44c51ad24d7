/*
 * mime_private: what the files of src/mime share and nobody else uses.
 */
#ifndef POSTAMT_MIME_MIME_PRIVATE_H
#define POSTAMT_MIME_MIME_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "mime/mime.h"
#include "util/buf.h"

/* RFC 2046 5.1.1: a boundary is 1 to 70 characters; longer is broken. */
#define MIME_MAX_BOUNDARY 200

/* One parameter after RFC 2231 continuations were joined. */
struct mime_param {
	char *name;  /* malloc()ed; ends in '*' for an extended value */
	char *value; /* malloc()ed, unquoted; extended stays percent-encoded */
	size_t value_len;
};

/*
 * A parsed Content-Type ("type/subtype; params") or Content-Disposition
 * ("type; params", no subtype).  type and subtype point into the field.
 */
struct mime_ctype {
	const char *type, *subtype;
	size_t type_len, subtype_len;
	struct mime_param params[MIME_MAX_PARAMS];
	size_t nparams;
};

/*
 * Parses a Content-Type (with_subtype) or Content-Disposition value.
 * Returns 0, or -1 if the type (or subtype) is missing or memory ran out
 * (ct is then empty).  Parameters that do not parse are skipped; the
 * first MIME_MAX_PARAMS are kept.  Free with mime_ctype_free().
 */
int mime_ctype_parse(const char *v, size_t len, bool with_subtype,
                     struct mime_ctype *ct);
void mime_ctype_free(struct mime_ctype *ct);

/* The value of parameter name (no '*'), or NULL. */
const struct mime_param *mime_ctype_param(const struct mime_ctype *ct,
                                          const char *name);

/* True if the len bytes at s equal word, ignoring ASCII case. */
bool mime_word_is(const char *s, size_t len, const char *word);

/*
 * IMAP output helpers: nstring (NIL when s is NULL), as a quoted string
 * when possible, else a literal (RFC 9051 4.3).
 */
int mime_imap_nstring(struct buf *out, const char *s, size_t len);

#endif
