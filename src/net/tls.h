/*
 * tls: the server's OpenSSL context.  TLS 1.2 and 1.3 only, forward-secret
 * AEAD ciphers, no compression or renegotiation, buffers released while a
 * connection is idle (SSL_MODE_RELEASE_BUFFERS) to keep idle TLS cheap.
 */
#ifndef POSTAMT_NET_TLS_H
#define POSTAMT_NET_TLS_H

#include <openssl/ssl.h>

#include "util/buf.h"
#include "util/config.h"

/*
 * Builds a context from cfg's tls_cert and tls_key.  Returns NULL and
 * appends "file:line: problem, fix" to errors on failure.
 */
SSL_CTX *tls_ctx_new(const struct config *cfg, struct buf *errors);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384" for logs. */
void tls_describe(SSL *ssl, char *out, size_t size);

#endif
