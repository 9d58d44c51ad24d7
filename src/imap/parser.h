/*
 * parser: an incremental, bounded parser of one IMAP command
 * (RFC 9051 2.2.1 and 9; literals per RFC 9051 4.3 and RFC 7888).
 *
 * The session feeds bytes (normally one line with its CRLF at a time, then
 * the raw bytes of a literal); the parser never reads a socket itself.  It
 * produces the tag, the command name and a tree of arguments: atoms, quoted
 * strings, literals and parenthesized lists.  Every dimension is bounded by
 * the limits it was created with, so hostile input costs bounded memory.
 *
 * An atom that contains '[' runs to the matching ']' even across spaces and
 * parentheses, so FETCH items such as BODY[HEADER.FIELDS (From)]<0.10> stay
 * one atom, as the command grammar expects.
 */
#ifndef POSTAMT_IMAP_PARSER_H
#define POSTAMT_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum imap_parse_result {
	PARSE_MORE,  /* all bytes consumed, the command is not complete */
	PARSE_DONE,  /* a complete command; see *used_r for bytes consumed */
	PARSE_ERROR, /* see imap_parser_error(); reset before reuse */
};

enum imap_parse_error {
	IMAP_PARSE_ERR_NONE,
	IMAP_PARSE_ERR_SYNTAX,          /* malformed command */
	IMAP_PARSE_ERR_TOO_LONG,        /* a line passed max_line */
	IMAP_PARSE_ERR_TOO_DEEP,        /* lists nested deeper than max_depth */
	IMAP_PARSE_ERR_TOO_MANY,        /* more than max_args arguments */
	IMAP_PARSE_ERR_LITERAL_TOO_BIG, /* a literal announced > max_literal */
};

enum imap_arg_type {
	IMAP_ARG_ATOM,
	IMAP_ARG_QUOTED,
	IMAP_ARG_LITERAL,
	IMAP_ARG_LIST,
};

/*
 * One argument.  str is NUL-terminated (len excludes the NUL; literals may
 * contain NULs).  A list has its children in child, linked by next; str is
 * NULL for lists.  Arguments belong to the parser and live until the next
 * imap_parser_reset() or imap_parser_free().
 */
struct imap_arg {
	enum imap_arg_type type;
	char *str;
	size_t len;
	struct imap_arg *child;
	struct imap_arg *next;
	struct imap_arg *parent; /* while parsing; NULL at top level */
	bool literal8;           /* a literal sent as "~{n}" */
};

struct imap_parser_limits {
	size_t max_line;      /* bytes per line, literals not counted */
	uint64_t max_literal; /* bytes per literal */
	unsigned max_depth;   /* nesting of parenthesized lists */
	unsigned max_args;    /* arguments in the whole command, lists count */
};

struct imap_parser;

/* Returns a new parser, or NULL if out of memory. */
struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits);
/* Frees the parser and its arguments; *p becomes NULL. */
void imap_parser_free(struct imap_parser **p);
/* Forgets the current command (after DONE or ERROR) to parse the next. */
void imap_parser_reset(struct imap_parser *p);

/*
 * Feeds len bytes.  *used_r gets how many were consumed: all of them for
 * MORE; up to and including the final LF for DONE; up to the bad byte for
 * ERROR.  A literal header "{n}" or "{n+}" at the end of a line stops the
 * feed right after its LF, so the session can answer it (see below) before
 * feeding the literal's bytes.
 */
enum imap_parse_result imap_parser_feed(struct imap_parser *p, const char *data,
                                        size_t len, size_t *used_r);

/* What went wrong after PARSE_ERROR. */
enum imap_parse_error imap_parser_error(const struct imap_parser *p);

/* The tag, or NULL if it is not complete (yet). */
const char *imap_parser_tag(const struct imap_parser *p);

/* The command name as sent, or NULL before it is complete. */
const char *imap_parser_name(const struct imap_parser *p);

/* The first top-level argument (NULL if none), after PARSE_DONE. */
const struct imap_arg *imap_parser_args(const struct imap_parser *p);

/*
 * Returns true once for each literal header just parsed, with its size and
 * whether it was non-synchronizing ("{n+}", RFC 7888).  For a synchronizing
 * literal the session must send a continuation request before the client
 * sends the bytes.  Also true after PARSE_ERROR with LITERAL_TOO_BIG, so the
 * session can tell whether the client is already sending the bytes.
 */
bool imap_parser_take_literal(struct imap_parser *p, uint64_t *size_r,
                              bool *nonsync_r);

/* Bytes of the current literal still expected (0 when not in a literal). */
uint64_t imap_parser_literal_remaining(const struct imap_parser *p);

#endif
