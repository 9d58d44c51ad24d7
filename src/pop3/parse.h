/*
 * pop3 parse: splits one POP3 command line into keyword and arguments
 * (RFC 1939 3, RFC 2449 3).  Pure: no I/O, no allocation.
 */
#ifndef POSTAMT_POP3_PARSE_H
#define POSTAMT_POP3_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 2449 4: a command is at most 255 octets including its CRLF. */
#define POP3_COMMAND_MAX 255

/* No POP3 command we implement takes more than two arguments. */
#define POP3_MAX_ARGS 2

struct pop3_arg {
	const char *p; /* points into the line; not NUL-terminated */
	size_t len;
};

struct pop3_cmdline {
	char verb[5]; /* keyword, upper-cased, NUL-terminated */
	struct pop3_arg args[POP3_MAX_ARGS]; /* the first POP3_MAX_ARGS */
	size_t nargs;         /* how many arguments there were in all */
	bool args_valid;      /* every argument is 1*VCHAR (RFC 2449 3) */
	struct pop3_arg rest; /* everything after "KEYWORD ", raw (PASS) */
};

enum pop3_parse {
	POP3_PARSE_OK,
	POP3_PARSE_BAD_VERB, /* no keyword of 3 or 4 letters or digits */
};

/*
 * Parses line (len bytes, without its terminator; it may contain NULs)
 * into *cmd, whose pointers point into line.  Arguments are separated by
 * single spaces; trailing spaces are ignored for them (clients send "LIST "),
 * but rest keeps every byte so a password may hold spaces (RFC 1939 7,
 * PASS).  An empty or unprintable argument leaves args_valid false; which
 * argument counts are acceptable is the command table's business.
 */
enum pop3_parse pop3_parse_command(const char *line, size_t len,
                                   struct pop3_cmdline *cmd);

/*
 * Parses a decimal number of 1 to 10 digits (no sign, no spaces) that fits
 * in 32 bits.  Returns true and sets *n_r, or false.
 */
bool pop3_parse_number(const struct pop3_arg *arg, uint32_t *n_r);

/* True if arg equals the NUL-terminated word s, ignoring ASCII case. */
bool pop3_parse_arg_is(const struct pop3_arg *arg, const char *s);

#endif
