/*
 * smtp addr: the bounded parser for the arguments of MAIL and RCPT.
 *
 * Pure functions over (pointer, length): no I/O, no session.  The cursor
 * only moves forward and never passes n, so a hostile line costs at most
 * one pass over its bytes (see STYLE.md section 3 on CVE-2020-28022).
 */
#ifndef POSTAMT_SMTP_ADDR_H
#define POSTAMT_SMTP_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 5321 4.5.3.1.1-3: the sizes a server must accept, and no more. */
#define SMTP_ADDR_LOCAL_MAX 64
#define SMTP_ADDR_DOMAIN_MAX 255
#define SMTP_ADDR_PATH_MAX 256

enum smtp_parse {
	SMTP_PARSE_OK,
	SMTP_PARSE_SYNTAX,    /* malformed command or path */
	SMTP_PARSE_TOO_LONG,  /* a path part over the RFC 5321 4.5.3.1 sizes */
	SMTP_PARSE_UNKNOWN,   /* a parameter we do not support */
	SMTP_PARSE_BAD_VALUE, /* a known parameter with a bad value */
	SMTP_PARSE_NOMEM,
};

enum smtp_body_type { SMTP_BODY_DEFAULT, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME };

struct smtp_mail_args {
	char *addr;               /* malloc()ed; "" for the null path <> */
	bool addr_8bit;           /* the address has non-ASCII (UTF-8) bytes */
	bool has_size;            /* SIZE= was given (RFC 1870) */
	uint64_t size;            /* its value, UINT64_MAX if it overflowed */
	enum smtp_body_type body; /* BODY= (RFC 6152) */
	bool smtputf8;            /* SMTPUTF8 was given (RFC 6531 3.4) */
	bool ret_hdrs;            /* RET=HDRS (RFC 3461 4.3) */
	bool has_ret;             /* RET= was given */
	char *envid;              /* ENVID= xtext as given, or NULL */
};

/* RFC 3461 4.4: ENVID is at most 100 characters; 4.2: ORCPT 500. */
#define SMTP_ADDR_ENVID_MAX 100
#define SMTP_ADDR_ORCPT_MAX 500

struct smtp_rcpt_args {
	char *addr; /* malloc()ed; "Postmaster" may come without a domain */
	bool addr_8bit;
	unsigned
	    notify;  /* RFC 3461 NOTIFY bits (enum smtp_notify), 0 if none */
	char *orcpt; /* ORCPT= "addr-type;xtext" as given, or NULL */
};

/*
 * Parses what follows "MAIL " on the command line: "FROM:<path>" and
 * optional ESMTP parameters (SIZE, BODY, SMTPUTF8, AUTH, and RET and
 * ENVID of RFC 3461).  On SMTP_PARSE_OK a->addr (and a->envid if given)
 * are owned by the caller (smtp_mail_args_free()); on any other result
 * nothing is allocated.
 */
enum smtp_parse smtp_addr_parse_mail(const char *s, size_t n,
                                     struct smtp_mail_args *a);

/*
 * Parses what follows "RCPT " on the command line: "TO:<path>" and the
 * RFC 3461 parameters NOTIFY and ORCPT; any other gives
 * SMTP_PARSE_UNKNOWN.  The null path is refused; "<Postmaster>" without a
 * domain is accepted (RFC 5321 4.5.1).  On SMTP_PARSE_OK a->addr (and
 * a->orcpt) are owned by the caller (smtp_rcpt_args_free()).
 */
enum smtp_parse smtp_addr_parse_rcpt(const char *s, size_t n,
                                     struct smtp_rcpt_args *a);

void smtp_mail_args_free(struct smtp_mail_args *a);
void smtp_rcpt_args_free(struct smtp_rcpt_args *a);

/*
 * True if the n bytes at s are RFC 3461 4 xtext: printable ASCII except
 * "+" and "=", or "+" and two upper-case hex digits.
 */
bool smtp_addr_xtext_is_valid(const char *s, size_t n);

/* The domain part of an address (after the last '@'), or NULL if none. */
const char *smtp_addr_domain(const char *addr);

/*
 * True if the n bytes at s are a usable EHLO/HELO argument: a domain or
 * address literal made of printable, non-space ASCII or UTF-8 bytes.  It is
 * later written into the Received: header, so control bytes must not pass.
 */
bool smtp_addr_helo_is_valid(const char *s, size_t n);

#endif
