/*
 * SCRAM-SHA-256 server state machine against the RFC 7677 3 example
 * (user "user", password "pencil"), and the ways a client can get it
 * wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/sasl.h"
#include "proto/sasl_scram.h"

#define V_CLIENT_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define V_SERVER_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define V_SERVER_FIRST                                                         \
	"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"                \
	"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define V_CLIENT_FINAL                                                         \
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"         \
	"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define V_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static void
vector_keys(const char *password, struct auth_scram_keys *keys)
{
	struct buf salt = BUF_INIT;
	struct err err;

	assert_int_equal(
	    sasl_base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, &salt), 0);
	assert_int_equal(auth_scram_derive(password,
	                                   (const unsigned char *)salt.data,
	                                   salt.len, 4096, keys, &err),
	                 0);
	buf_free(&salt);
}

/* Runs client-first and server-first; returns the state. */
static struct sasl_scram *
start(const char *client_first, const char *password)
{
	struct sasl_scram *st = sasl_scram_new();
	struct auth_scram_keys keys;
	struct buf out = BUF_INIT;
	const char *user;

	assert_non_null(st);
	assert_int_equal(sasl_scram_client_first(st, client_first,
	                                         strlen(client_first), &user),
	                 0);
	assert_string_equal(user, "user");
	vector_keys(password, &keys);
	assert_int_equal(
	    sasl_scram_server_first(st, &keys, V_SERVER_NONCE, &out), 0);
	assert_string_equal(buf_cstr(&out), V_SERVER_FIRST);
	buf_free(&out);
	return st;
}

static void
test_rfc7677_vector(void **state)
{
	struct sasl_scram *st = start(V_CLIENT_FIRST, "pencil");
	struct buf out = BUF_INIT;

	(void)state;
	assert_int_equal(sasl_scram_client_final(st, V_CLIENT_FINAL,
	                                         strlen(V_CLIENT_FINAL), &out),
	                 SASL_SCRAM_OK);
	assert_string_equal(buf_cstr(&out), V_SERVER_FINAL);
	/* One exchange, one answer: a replay is refused. */
	assert_int_equal(sasl_scram_client_final(st, V_CLIENT_FINAL,
	                                         strlen(V_CLIENT_FINAL), &out),
	                 SASL_SCRAM_MALFORMED);
	buf_free(&out);
	sasl_scram_free(&st);
	assert_null(st);
}

static void
test_wrong_password(void **state)
{
	struct sasl_scram *st = start(V_CLIENT_FIRST, "pencil2");
	struct buf out = BUF_INIT;

	(void)state;
	assert_int_equal(sasl_scram_client_final(st, V_CLIENT_FINAL,
	                                         strlen(V_CLIENT_FINAL), &out),
	                 SASL_SCRAM_BAD_PROOF);
	assert_int_equal(out.len, 0);
	buf_free(&out);
	sasl_scram_free(&st);
}

static void
test_bad_client_final(void **state)
{
	static const char *const bad[] = {
	    /* wrong nonce */
	    "c=biws,r=rOprNGfwEbeRWgbNEkqO,"
	    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	    /* binding echo differs from the GS2 header ("y,,") */
	    "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	    /* no proof */
	    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
	    /* short proof */
	    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "p=dHzb",
	    "",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sasl_scram *st = start(V_CLIENT_FIRST, "pencil");
		struct buf out = BUF_INIT;

		assert_int_equal(
		    sasl_scram_client_final(st, bad[i], strlen(bad[i]), &out),
		    SASL_SCRAM_MALFORMED);
		buf_free(&out);
		sasl_scram_free(&st);
	}
}

static void
test_bad_client_first(void **state)
{
	static const char *const bad[] = {
	    "p=tls-unique,,n=user,r=abc", /* channel binding: not offered */
	    "x,,n=user,r=abc",            /* not a GS2 flag */
	    "n,,m=ext,n=user,r=abc",      /* mandatory extension */
	    "n,,n=,r=abc",                /* empty name */
	    "n,,n=us=2Xer,r=abc",         /* bad escape */
	    "n,,n=user,r=a,b",            /* junk after nonce */
	    "n,a=other,n=user,r=abc",     /* acting as someone else */
	    "n,,n=user",                  /* no nonce */
	    "n,,n=user,r=",               /* empty nonce */
	    "n,,n=user,r=ab\x01",         /* nonce not printable */
	    "",
	};
	const char *user;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sasl_scram *st = sasl_scram_new();

		int r =
		    sasl_scram_client_first(st, bad[i], strlen(bad[i]), &user);

		sasl_scram_free(&st);
		if (r != -1)
			fail_msg("accepted: %s", bad[i]);
	}
}

static void
test_escaped_names(void **state)
{
	struct sasl_scram *st = sasl_scram_new();
	const char msg[] = "y,a=a=3Db=2Cc,n=a=3Db=2Cc,r=xyz,e=ext";
	const char *user;

	(void)state;
	assert_int_equal(
	    sasl_scram_client_first(st, msg, sizeof(msg) - 1, &user), 0);
	assert_string_equal(user, "a=b,c");
	sasl_scram_free(&st);
}

static void
test_derive_limits(void **state)
{
	struct auth_scram_keys keys;
	struct err err;
	const unsigned char salt[4] = {1, 2, 3, 4};

	(void)state;
	assert_int_equal(auth_scram_derive("", salt, 4, 4096, &keys, &err), -1);
	assert_int_equal(auth_scram_derive("x", salt, 4, 100, &keys, &err), -1);
	assert_int_equal(auth_scram_derive("x", salt, 0, 4096, &keys, &err),
	                 -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc7677_vector),
	    cmocka_unit_test(test_wrong_password),
	    cmocka_unit_test(test_bad_client_final),
	    cmocka_unit_test(test_bad_client_first),
	    cmocka_unit_test(test_escaped_names),
	    cmocka_unit_test(test_derive_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
