/*
 * sasl_login: the worker-pool password login and the SCRAM driver shared
 * by SMTP, IMAP and POP3 (see sasl_login.h).
 */
#include "proto/sasl_login.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "proto/sasl.h"
#include "proto/sasl_scram.h"

static void
sasl_secret_free(char **s)
{
	if (*s != NULL) {
		OPENSSL_cleanse(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

struct sasl_login *
sasl_login_new(struct conn *c, struct auth *a, const char *user,
               const char *pass, const char *tag)
{
	struct sasl_login *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->auth = a;
	snprintf(l->ip, sizeof(l->ip), "%s", conn_remote(c));
	l->user = strdup(user);
	l->pass = strdup(pass);
	l->tag = tag != NULL ? strdup(tag) : NULL;
	if (l->user == NULL || l->pass == NULL ||
	    (tag != NULL && l->tag == NULL))
		sasl_login_free(&l);
	return l;
}

void
sasl_login_free(struct sasl_login **lp)
{
	struct sasl_login *l = *lp;

	if (l == NULL)
		return;
	sasl_secret_free(&l->user);
	sasl_secret_free(&l->pass);
	free(l->tag);
	free(l);
	*lp = NULL;
}

/* On a worker thread: touches only l and the thread-safe struct auth. */
static void
sasl_login_work(void *arg)
{
	struct sasl_login *l = arg;

	err_clear(&l->err);
	l->rc = auth_login(l->auth, l->ip, l->user, l->pass, &l->err);
	/* The password is not needed any more: do not keep it around. */
	sasl_secret_free(&l->pass);
}

void
sasl_login_start(struct conn *c, void *session, struct sasl_login *l,
                 void (*done)(void *session, void *arg))
{
	if (conn_run_blocking(c, sasl_login_work, done, l) == 0)
		return;
	/* No pool (or it is full of trouble): block, but still answer. */
	sasl_login_work(l);
	done(session, l);
}

/* ---- SCRAM ---- */

enum sasl_run_step { RUN_FIRST, RUN_FINAL, RUN_ACK, RUN_OVER };

struct sasl_scram_run {
	enum sasl_run_step step;
	struct sasl_scram *scram;
	char user[AUTH_ADDRESS_MAX + 1];
};

struct sasl_scram_run *
sasl_scram_run_new(void)
{
	struct sasl_scram_run *r = calloc(1, sizeof(*r));

	if (r != NULL && (r->scram = sasl_scram_new()) == NULL) {
		free(r);
		r = NULL;
	}
	return r;
}

void
sasl_scram_run_free(struct sasl_scram_run **rp)
{
	if (*rp == NULL)
		return;
	sasl_scram_free(&(*rp)->scram);
	free(*rp);
	*rp = NULL;
}

const char *
sasl_scram_run_user(const struct sasl_scram_run *r)
{
	return r->user;
}

/* client-first: the user, the throttle, the keys, the server-first. */
static enum sasl_run_result
sasl_run_first(struct sasl_scram_run *r, struct auth *a, const char *ip,
               const struct buf *msg, struct buf *out, struct err *err)
{
	struct auth_scram_keys keys;
	struct buf sf = BUF_INIT;
	const char *user;
	bool found;
	int rc;

	if (sasl_scram_client_first(r->scram, msg->data, msg->len, &user) < 0)
		return SASL_RUN_MALFORMED;
	if (auth_address_normalize(user, r->user, NULL) < 0)
		snprintf(r->user, sizeof(r->user), "%s", user);
	if (auth_throttle_blocked(a, ip, r->user, NULL))
		return SASL_RUN_THROTTLED;
	if (auth_scram_lookup(a, r->user, &keys, &found, err) < 0)
		return SASL_RUN_ERROR;
	buf_init(&sf, SASL_SCRAM_MSG_MAX * 2);
	rc = sasl_scram_server_first(r->scram, &keys, NULL, &sf);
	OPENSSL_cleanse(&keys, sizeof(keys));
	if (rc == 0)
		rc = sasl_base64_encode(sf.data, sf.len, out);
	buf_free(&sf);
	if (rc < 0) {
		err_set(err, ERR_TEMP, "scram: out of memory");
		return SASL_RUN_ERROR;
	}
	r->step = RUN_FINAL;
	return SASL_RUN_CHALLENGE;
}

/* client-final: the proof decides; the server-final is the challenge. */
static enum sasl_run_result
sasl_run_final(struct sasl_scram_run *r, struct auth *a, const char *ip,
               const struct buf *msg, struct buf *out, struct err *err)
{
	struct buf sf = BUF_INIT;
	enum sasl_scram_result res;
	int rc;

	buf_init(&sf, SASL_SCRAM_MSG_MAX);
	res = sasl_scram_client_final(r->scram, msg->data, msg->len, &sf);
	auth_throttle_record(a, ip, r->user, res == SASL_SCRAM_OK);
	if (res != SASL_SCRAM_OK) {
		buf_free(&sf);
		return res == SASL_SCRAM_BAD_PROOF ? SASL_RUN_FAILED
		                                   : SASL_RUN_MALFORMED;
	}
	rc = sasl_base64_encode(sf.data, sf.len, out);
	buf_free(&sf);
	if (rc < 0) {
		err_set(err, ERR_TEMP, "scram: out of memory");
		return SASL_RUN_ERROR;
	}
	r->step = RUN_ACK;
	return SASL_RUN_CHALLENGE;
}

enum sasl_run_result
sasl_scram_run_step(struct sasl_scram_run *r, struct auth *a, const char *ip,
                    const char *b64, size_t len, struct buf *out,
                    struct err *err)
{
	struct buf msg;
	enum sasl_run_step step = r->step;
	enum sasl_run_result res = SASL_RUN_MALFORMED;

	r->step = RUN_OVER; /* unless a step below moves it on */
	buf_init(&msg, SASL_SCRAM_MSG_MAX);
	if (sasl_base64_decode(b64, len, &msg) < 0 ||
	    (step != RUN_ACK && msg.len == 0))
		step = RUN_OVER;
	switch (step) {
	case RUN_FIRST:
		res = sasl_run_first(r, a, ip, &msg, out, err);
		break;
	case RUN_FINAL:
		res = sasl_run_final(r, a, ip, &msg, out, err);
		break;
	case RUN_ACK:
		/* RFC 4422 3: the response to additional data is empty. */
		res = msg.len == 0 ? SASL_RUN_SUCCESS : SASL_RUN_MALFORMED;
		break;
	case RUN_OVER:
	default:
		break;
	}
	if (msg.data != NULL)
		OPENSSL_cleanse(msg.data, msg.cap);
	buf_free(&msg);
	return res;
}
