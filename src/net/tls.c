#include "net/tls.h"

#include <stdio.h>

#include <openssl/err.h>

/* TLS 1.2 suites: ECDHE key exchange with AEAD only (Mozilla "intermediate").
 */
#define TLS12_CIPHERS                                                          \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"           \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"           \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

static void
tls_error(struct buf *errors, const struct config *cfg, const char *key,
          const char *file, const char *what)
{
	char detail[256];
	unsigned long e = ERR_get_error();

	ERR_error_string_n(e, detail, sizeof(detail));
	ERR_clear_error();
	buf_printf(errors, "%s:%d: %s = \"%s\": %s (%s); %s\n", cfg->path,
	           config_key_line(cfg, key), key, file, what,
	           e != 0 ? detail : "no detail",
	           "point it at a readable PEM file, or run `postamt init` "
	           "to create a self-signed one");
}

SSL_CTX *
tls_ctx_new(const struct config *cfg, struct buf *errors)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		buf_printf(errors, "%s: cannot create a TLS context\n",
		           cfg->path);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	                             SSL_OP_NO_RENEGOTIATION |
	                             SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* Tickets resume sessions; a server-side cache would cost memory. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1)
		goto fail_ciphers;
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
		tls_error(errors, cfg, "tls_cert", cfg->tls_cert,
		          "cannot load the certificate");
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) !=
	    1) {
		tls_error(errors, cfg, "tls_key", cfg->tls_key,
		          "cannot load the private key");
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_error(errors, cfg, "tls_key", cfg->tls_key,
		          "the key does not match tls_cert");
		goto fail;
	}
	return ctx;
fail_ciphers:
	buf_printf(errors, "%s: the TLS library refused the cipher list\n",
	           cfg->path);
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

void
tls_describe(SSL *ssl, char *out, size_t size)
{
	snprintf(out, size, "%s %s", SSL_get_version(ssl),
	         SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)));
}
