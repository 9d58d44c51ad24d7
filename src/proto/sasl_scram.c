/*
 * sasl_scram: SCRAM-SHA-256, server side (RFC 5802 5 and 7, RFC 7677).
 *
 * Messages are parsed forwards over (pointer, length) with the grammar of
 * RFC 5802 7; anything outside it is MALFORMED.  The proof is checked as
 * RFC 5802 3 says: ClientKey = ClientProof XOR HMAC(StoredKey,
 * AuthMessage), and H(ClientKey) must equal StoredKey (compared in
 * constant time).
 */
#include "proto/sasl_scram.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "proto/sasl.h"

/* Longest GS2 header kept: "n,a=" + an escaped address + ",". */
#define SCRAM_GS2_MAX (AUTH_ADDRESS_MAX * 3 + 8)

enum scram_step {
	SCRAM_START,      /* waiting for client-first */
	SCRAM_GOT_FIRST,  /* client-first parsed; server-first next */
	SCRAM_SENT_FIRST, /* waiting for client-final */
	SCRAM_DONE,       /* finished, either way */
};

struct sasl_scram {
	enum scram_step step;
	char user[AUTH_ADDRESS_MAX + 1];
	struct buf gs2;          /* GS2 header, e.g. "n,," */
	struct buf first_bare;   /* client-first-message-bare */
	struct buf server_first; /* server-first-message */
	struct buf nonce;        /* client nonce, then + server nonce */
	struct auth_scram_keys keys;
};

struct sasl_scram *
sasl_scram_new(void)
{
	struct sasl_scram *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	buf_init(&st->gs2, SCRAM_GS2_MAX);
	buf_init(&st->first_bare, SASL_SCRAM_MSG_MAX);
	buf_init(&st->server_first, SASL_SCRAM_MSG_MAX * 2);
	buf_init(&st->nonce, SASL_SCRAM_MSG_MAX);
	return st;
}

void
sasl_scram_free(struct sasl_scram **stp)
{
	struct sasl_scram *st = *stp;

	if (st == NULL)
		return;
	buf_free(&st->gs2);
	buf_free(&st->first_bare);
	buf_free(&st->server_first);
	buf_free(&st->nonce);
	OPENSSL_cleanse(st, sizeof(*st));
	free(st);
	*stp = NULL;
}

/* A cursor over one message. */
struct scram_in {
	const char *p, *end;
};

/* The value of attribute name ("n=") up to the next ',' or the end. */
static bool
scram_attr(struct scram_in *in, char name, const char **v_r, size_t *len_r)
{
	const char *comma;

	if (in->end - in->p < 2 || in->p[0] != name || in->p[1] != '=')
		return false;
	in->p += 2;
	comma = memchr(in->p, ',', (size_t)(in->end - in->p));
	*v_r = in->p;
	*len_r = (size_t)((comma != NULL ? comma : in->end) - in->p);
	in->p += *len_r;
	return true;
}

/* Skips the ',' after an attribute; false at the end or on other text. */
static bool
scram_comma(struct scram_in *in)
{
	if (in->p >= in->end || *in->p != ',')
		return false;
	in->p++;
	return true;
}

/*
 * Decodes a saslname (RFC 5802 7: "=2C" is ',', "=3D" is '=', no other
 * '=') into out (max bytes with the NUL).  False if invalid or too long.
 */
static bool
scram_saslname(const char *v, size_t len, char *out, size_t max)
{
	size_t n = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = v[i];

		if (c == '=') {
			if (len - i < 3)
				return false;
			if (v[i + 1] == '2' && v[i + 2] == 'C')
				c = ',';
			else if (v[i + 1] == '3' && v[i + 2] == 'D')
				c = '=';
			else
				return false;
			i += 2;
		}
		if (n + 1 >= max)
			return false;
		out[n++] = c;
	}
	out[n] = '\0';
	return true;
}

/* RFC 5802 7: a nonce is printable ASCII except ','. */
static bool
scram_nonce_ok(const char *v, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (v[i] < 0x21 || v[i] > 0x7E || v[i] == ',')
			return false;
	return true;
}

/*
 * The optional extensions up to the end: *("," ALPHA "=" value), RFC
 * 5802 7.  Allowed and ignored.
 */
static bool
scram_extensions(struct scram_in *in)
{
	while (in->p < in->end) {
		const char *v;
		size_t len;
		char c;

		if (!scram_comma(in) || in->p >= in->end)
			return false;
		c = *in->p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) ||
		    !scram_attr(in, c, &v, &len))
			return false;
	}
	return true;
}

/*
 * Parses the GS2 header (RFC 5802 7: gs2-cbind-flag "," [authzid] ",")
 * and stores it.  Binding ("p=") is refused: it is never offered.
 */
static bool
scram_gs2(struct sasl_scram *st, struct scram_in *in, char *authz,
          size_t authz_max)
{
	const char *start = in->p, *v;
	size_t len;

	if (in->p >= in->end || (*in->p != 'n' && *in->p != 'y'))
		return false;
	in->p++;
	if (!scram_comma(in))
		return false;
	authz[0] = '\0';
	if (in->p < in->end && *in->p == 'a') {
		if (!scram_attr(in, 'a', &v, &len) ||
		    !scram_saslname(v, len, authz, authz_max))
			return false;
	}
	if (!scram_comma(in))
		return false;
	return buf_append(&st->gs2, start, (size_t)(in->p - start)) == 0;
}

int
sasl_scram_client_first(struct sasl_scram *st, const char *msg, size_t len,
                        const char **user_r)
{
	struct scram_in in = {msg, msg + len};
	char authz[AUTH_ADDRESS_MAX + 1];
	const char *v, *bare;
	size_t vlen;

	if (st->step != SCRAM_START || len > SASL_SCRAM_MSG_MAX ||
	    memchr(msg, '\0', len) != NULL ||
	    !scram_gs2(st, &in, authz, sizeof(authz)))
		return -1;
	bare = in.p;
	/* "m=" (a mandatory extension) is unknown to us: fail (RFC 5802 7). */
	if (!scram_attr(&in, 'n', &v, &vlen) ||
	    !scram_saslname(v, vlen, st->user, sizeof(st->user)) ||
	    !scram_comma(&in) || !scram_attr(&in, 'r', &v, &vlen) ||
	    !scram_nonce_ok(v, vlen))
		return -1;
	if (!scram_extensions(&in))
		return -1;
	/* We do not act for others: an authzid must be the user itself. */
	if (authz[0] != '\0' && strcmp(authz, st->user) != 0)
		return -1;
	if (buf_append(&st->nonce, v, vlen) < 0 ||
	    buf_append(&st->first_bare, bare, (size_t)(in.end - bare)) < 0)
		return -1;
	st->step = SCRAM_GOT_FIRST;
	*user_r = st->user;
	return 0;
}

int
sasl_scram_server_first(struct sasl_scram *st,
                        const struct auth_scram_keys *keys, const char *nonce,
                        struct buf *out)
{
	unsigned char rnd[SASL_SCRAM_NONCE_BYTES];
	struct buf *sf = &st->server_first;

	if (st->step != SCRAM_GOT_FIRST)
		return -1;
	st->keys = *keys;
	if (nonce != NULL) {
		if (buf_append_str(&st->nonce, nonce) < 0)
			return -1;
	} else if (RAND_bytes(rnd, sizeof(rnd)) != 1 ||
	           sasl_base64_encode(rnd, sizeof(rnd), &st->nonce) < 0) {
		return -1;
	}
	if (buf_append_str(sf, "r=") < 0 ||
	    buf_append(sf, st->nonce.data, st->nonce.len) < 0 ||
	    buf_append_str(sf, ",s=") < 0 ||
	    sasl_base64_encode(keys->salt, keys->salt_len, sf) < 0 ||
	    buf_printf(sf, ",i=%u", keys->iterations) < 0 ||
	    buf_append(out, sf->data, sf->len) < 0)
		return -1;
	st->step = SCRAM_SENT_FIRST;
	return 0;
}

/*
 * Checks c= (the GS2 header echoed in base64) and r= (the whole nonce)
 * at the start of client-final-message-without-proof.
 */
static bool
scram_final_head(struct sasl_scram *st, struct scram_in *in)
{
	struct buf cb;
	const char *v;
	size_t len;
	bool ok;

	if (!scram_attr(in, 'c', &v, &len))
		return false;
	buf_init(&cb, SCRAM_GS2_MAX);
	ok = sasl_base64_decode(v, len, &cb) == 0 && cb.len == st->gs2.len &&
	     memcmp(cb.data, st->gs2.data, cb.len) == 0;
	buf_free(&cb);
	return ok && scram_comma(in) && scram_attr(in, 'r', &v, &len) &&
	       len == st->nonce.len && memcmp(v, st->nonce.data, len) == 0;
}

/* The proof: the last attribute, ",p=" + base64 of 32 bytes. */
static bool
scram_final_proof(const char *msg, size_t len, size_t *without_r,
                  unsigned char proof[AUTH_SCRAM_KEY_LEN])
{
	struct buf raw;
	size_t i = len;
	bool ok;

	while (i > 0 && msg[i - 1] != ',')
		i--;
	if (i == 0 || len - i < 2 || msg[i] != 'p' || msg[i + 1] != '=')
		return false;
	*without_r = i - 1;
	buf_init(&raw, 64);
	ok = sasl_base64_decode(msg + i + 2, len - i - 2, &raw) == 0 &&
	     raw.len == AUTH_SCRAM_KEY_LEN;
	if (ok)
		memcpy(proof, raw.data, AUTH_SCRAM_KEY_LEN);
	buf_free(&raw);
	return ok;
}

/* HMAC-SHA-256 of the AuthMessage under key into out. */
static bool
scram_hmac(const unsigned char *key, const struct buf *auth_msg,
           unsigned char out[AUTH_SCRAM_KEY_LEN])
{
	unsigned int len = AUTH_SCRAM_KEY_LEN;

	return HMAC(EVP_sha256(), key, AUTH_SCRAM_KEY_LEN,
	            (const unsigned char *)auth_msg->data, auth_msg->len, out,
	            &len) != NULL;
}

/* RFC 5802 3: recovers ClientKey from the proof and checks it. */
static bool
scram_verify(struct sasl_scram *st, const struct buf *auth_msg,
             unsigned char proof[AUTH_SCRAM_KEY_LEN])
{
	unsigned char sig[AUTH_SCRAM_KEY_LEN], stored[AUTH_SCRAM_KEY_LEN];
	bool ok = scram_hmac(st->keys.stored_key, auth_msg, sig);

	for (size_t i = 0; i < AUTH_SCRAM_KEY_LEN; i++)
		proof[i] ^= sig[i]; /* now ClientKey */
	ok = ok && EVP_Digest(proof, AUTH_SCRAM_KEY_LEN, stored, NULL,
	                      EVP_sha256(), NULL) == 1;
	ok = ok && CRYPTO_memcmp(stored, st->keys.stored_key,
	                         AUTH_SCRAM_KEY_LEN) == 0;
	OPENSSL_cleanse(sig, sizeof(sig));
	OPENSSL_cleanse(stored, sizeof(stored));
	return ok;
}

/* Appends "v=" + base64(HMAC(ServerKey, AuthMessage)). */
static int
scram_server_final(struct sasl_scram *st, const struct buf *auth_msg,
                   struct buf *out)
{
	unsigned char sig[AUTH_SCRAM_KEY_LEN];

	if (!scram_hmac(st->keys.server_key, auth_msg, sig) ||
	    buf_append_str(out, "v=") < 0 ||
	    sasl_base64_encode(sig, sizeof(sig), out) < 0)
		return -1;
	return 0;
}

enum sasl_scram_result
sasl_scram_client_final(struct sasl_scram *st, const char *msg, size_t len,
                        struct buf *out)
{
	struct scram_in in = {msg, msg + len};
	unsigned char proof[AUTH_SCRAM_KEY_LEN];
	struct buf auth_msg;
	size_t without;
	enum sasl_scram_result res = SASL_SCRAM_MALFORMED;

	if (st->step != SCRAM_SENT_FIRST || len > SASL_SCRAM_MSG_MAX ||
	    memchr(msg, '\0', len) != NULL)
		return SASL_SCRAM_MALFORMED;
	st->step = SCRAM_DONE;
	if (!scram_final_proof(msg, len, &without, proof))
		return SASL_SCRAM_MALFORMED;
	in.end = msg + without;
	if (!scram_final_head(st, &in) || !scram_extensions(&in))
		return SASL_SCRAM_MALFORMED;
	/* AuthMessage = client-first-bare "," server-first "," final-wo. */
	buf_init(&auth_msg, SASL_SCRAM_MSG_MAX * 4);
	if (buf_append(&auth_msg, st->first_bare.data, st->first_bare.len) ==
	        0 &&
	    buf_append_str(&auth_msg, ",") == 0 &&
	    buf_append(&auth_msg, st->server_first.data,
	               st->server_first.len) == 0 &&
	    buf_append_str(&auth_msg, ",") == 0 &&
	    buf_append(&auth_msg, msg, without) == 0) {
		res = SASL_SCRAM_BAD_PROOF;
		if (scram_verify(st, &auth_msg, proof) &&
		    scram_server_final(st, &auth_msg, out) == 0)
			res = SASL_SCRAM_OK;
	}
	OPENSSL_cleanse(proof, sizeof(proof));
	buf_free(&auth_msg);
	return res;
}
