#include "net/tls_cert.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/buf.h"

#define CERT_DAYS (10 * 365)

static int
cert_add_san(X509 *x, const char *hostname)
{
	struct buf san = BUF_INIT;
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int rc = -1;

	buf_printf(&san, "DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", hostname);
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
	                          buf_cstr(&san));
	if (ext != NULL && X509_add_ext(x, ext, -1) == 1)
		rc = 0;
	X509_EXTENSION_free(ext);
	buf_free(&san);
	return rc;
}

static X509 *
cert_build(EVP_PKEY *key, const char *hostname)
{
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char serial[16];
	BIGNUM *bn;

	if (x == NULL || RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f; /* a positive serial number */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), (long)CERT_DAYS * 86400);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
	                           (const unsigned char *)"Postamt", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	                           (const unsigned char *)hostname, -1, -1, 0);
	X509_set_issuer_name(x, name);
	if (cert_add_san(x, hostname) < 0 ||
	    X509_sign(x, key, EVP_sha256()) == 0)
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

static int
write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *x)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	FILE *f;
	int ok;

	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	ok = key != NULL
	         ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
	         : PEM_write_X509(f, x);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		ok = 0;
	if (fclose(f) != 0)
		ok = 0;
	return ok == 1 ? 0 : -1;
}

int
tls_cert_make_self_signed(const char *hostname, const char *cert_path,
                          const char *key_path, struct err *err)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = NULL;
	int rc = -1;

	if (key == NULL || (x = cert_build(key, hostname)) == NULL) {
		err_set(err, ERR_INTERNAL, "cannot generate a certificate");
		goto out;
	}
	if (write_pem(key_path, 0600, key, NULL) < 0) {
		err_set(err, ERR_IO, "cannot write %s", key_path);
		goto out;
	}
	if (write_pem(cert_path, 0644, NULL, x) < 0) {
		err_set(err, ERR_IO, "cannot write %s", cert_path);
		goto out;
	}
	rc = 0;
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}
