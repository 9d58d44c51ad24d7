/*
 * sasl_scram: the server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as a
 * state machine without I/O.  Messages in and out are the decoded SASL
 * messages; the protocol does base64 and framing.
 *
 *   C: client-first   -> sasl_scram_client_first() gives the user name;
 *                        the caller looks its keys up (auth_scram_lookup)
 *   S: server-first   <- sasl_scram_server_first()
 *   C: client-final   -> sasl_scram_client_final() checks the proof
 *   S: server-final   <- (its output, on success)
 *
 * No channel binding: the server offers SCRAM-SHA-256 only, never -PLUS,
 * so a client-first asking for binding ("p=") is refused.  No SASLprep:
 * the user name is an ASCII address and passwords are used as given.
 */
#ifndef POSTAMT_PROTO_SASL_SCRAM_H
#define POSTAMT_PROTO_SASL_SCRAM_H

#include <stddef.h>

#include "auth/auth.h"
#include "util/buf.h"

/* Longest client message taken (both are short: names, nonce, proof). */
#define SASL_SCRAM_MSG_MAX 2048
/* Bytes of randomness in the server's nonce (base64: 4/3 as many). */
#define SASL_SCRAM_NONCE_BYTES 18

struct sasl_scram;

enum sasl_scram_result {
	SASL_SCRAM_OK,        /* proof valid: out holds the server-final */
	SASL_SCRAM_MALFORMED, /* not a valid message for this step */
	SASL_SCRAM_BAD_PROOF, /* wrong password, or no such user */
};

/* A new exchange, or NULL when out of memory.  Free with _free(). */
struct sasl_scram *sasl_scram_new(void);
/* Wipes and frees; *st becomes NULL. */
void sasl_scram_free(struct sasl_scram **st);

/*
 * Takes the client-first message (len bytes).  Returns 0 with *user_r
 * pointing at the decoded user name (valid until _free), or -1 if it is
 * malformed, asks for channel binding or a mandatory extension, or names
 * an authorization identity other than the user.
 */
int sasl_scram_client_first(struct sasl_scram *st, const char *msg, size_t len,
                            const char **user_r);

/*
 * Appends the server-first message to out, using keys (copied) for the
 * user.  nonce is the server's part of the nonce: NULL makes a random one
 * (tests pass a fixed one).  Returns 0 or -1 (out of memory, bad state).
 */
int sasl_scram_server_first(struct sasl_scram *st,
                            const struct auth_scram_keys *keys,
                            const char *nonce, struct buf *out);

/*
 * Takes the client-final message and checks the nonce, the channel
 * binding echo and the proof.  On SASL_SCRAM_OK appends the server-final
 * message ("v=...") to out.
 */
enum sasl_scram_result sasl_scram_client_final(struct sasl_scram *st,
                                               const char *msg, size_t len,
                                               struct buf *out);

#endif
