/*
 * tls_cert: a self-signed certificate for a fresh installation, so TLS (and
 * therefore logins) work from the first start.  Real deployments point
 * tls_cert / tls_key at a CA-issued pair.
 */
#ifndef POSTAMT_NET_TLS_CERT_H
#define POSTAMT_NET_TLS_CERT_H

#include "util/err.h"

/*
 * Writes a P-256 key (mode 0600) and a certificate for hostname (also valid
 * for localhost and 127.0.0.1), valid for ten years.  Returns 0 or -1.
 */
int tls_cert_make_self_signed(const char *hostname, const char *cert_path,
                              const char *key_path, struct err *err);

#endif
