/*
 * pop3 resp: what a POP3 client is told when the store or auth layer
 * fails.  One table maps each struct err kind to an RFC 2449 8 / RFC 3206
 * response code and a generic text; the details go to the log only.
 */
#ifndef POSTAMT_POP3_RESP_H
#define POSTAMT_POP3_RESP_H

#include "util/err.h"

/*
 * The response code for kind, without brackets ("SYS/TEMP", "SYS/PERM"),
 * or NULL if the failure is not the system's (RFC 3206 4 keeps the SYS
 * codes for server trouble).
 */
const char *pop3_resp_code(enum err_kind kind);

/* A short generic text for kind, meant for the client (static storage). */
const char *pop3_resp_text(enum err_kind kind);

#endif
