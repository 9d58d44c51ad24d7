/*
 * parser: the IMAP command parser (see parser.h for the contract).
 *
 * A byte-driven state machine: each byte moves it on, so a command split
 * at any point parses the same as one fed whole.  Memory is bounded by the
 * limits: one line buffer of max_line bytes per token, max_literal bytes per
 * literal and max_args nodes.
 */
#include "imap/parser.h"

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

enum pstate {
	S_TAG,
	S_NAME,
	S_ARGS,  /* at the start of a token (or end of a list / line) */
	S_AFTER, /* right after a token: SP, ')' or end of line */
	S_ATOM,
	S_QUOTED,
	S_QUOTED_ESC,
	S_LITLEN,    /* inside "{...}" */
	S_LIT_CLOSE, /* after '}': CRLF must follow */
	S_LIT_LF,    /* after '}' CR */
	S_LITERAL,   /* raw literal bytes */
	S_CR,        /* CR seen at the end of a line */
	S_DONE,
	S_ERROR,
};

struct imap_parser {
	struct imap_parser_limits lim;
	enum pstate state;
	enum imap_parse_error error;
	struct buf tag, name, tok;
	bool tag_done, name_done;
	size_t line_len;  /* bytes on this line so far */
	unsigned depth;   /* open lists */
	unsigned nargs;   /* nodes allocated */
	unsigned bracket; /* '[' depth inside the current atom */
	uint64_t lit_size, lit_left;
	bool lit_nonsync, lit_event, lit_digits;
	bool lit8;             /* "~{n}": a literal8 (RFC 3516 4.2, RFC 4466) */
	struct imap_arg *head; /* first top-level argument */
	struct imap_arg *parent; /* the open list, NULL at top level */
	struct imap_arg **tails; /* last child per depth, max_depth + 1 */
};

struct imap_parser *
imap_parser_new(const struct imap_parser_limits *limits)
{
	struct imap_parser *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->lim = *limits;
	p->tails = calloc((size_t)limits->max_depth + 1, sizeof(*p->tails));
	if (p->tails == NULL) {
		free(p);
		return NULL;
	}
	buf_init(&p->tag, limits->max_line);
	buf_init(&p->name, limits->max_line);
	buf_init(&p->tok, limits->max_line);
	return p;
}

static void
imap_arg_free_all(struct imap_arg *a)
{
	while (a != NULL) {
		struct imap_arg *next = a->next;

		/* Recursion is bounded by max_depth. */
		imap_arg_free_all(a->child);
		free(a->str);
		free(a);
		a = next;
	}
}

void
imap_parser_reset(struct imap_parser *p)
{
	imap_arg_free_all(p->head);
	p->head = NULL;
	p->parent = NULL;
	memset(p->tails, 0, ((size_t)p->lim.max_depth + 1) * sizeof(*p->tails));
	buf_reset(&p->tag);
	buf_reset(&p->name);
	buf_free(&p->tok);
	buf_init(&p->tok, p->lim.max_line);
	p->state = S_TAG;
	p->error = IMAP_PARSE_ERR_NONE;
	p->tag_done = p->name_done = false;
	p->line_len = 0;
	p->depth = p->nargs = p->bracket = 0;
	p->lit_size = p->lit_left = 0;
	p->lit_nonsync = p->lit_event = p->lit_digits = false;
}

void
imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;

	if (p == NULL)
		return;
	imap_parser_reset(p);
	buf_free(&p->tag);
	buf_free(&p->name);
	buf_free(&p->tok);
	free(p->tails);
	free(p);
	*pp = NULL;
}

static enum imap_parse_result
fail(struct imap_parser *p, enum imap_parse_error e)
{
	p->state = S_ERROR;
	p->error = e;
	return PARSE_ERROR;
}

/* Links a new node under the open list.  Returns it, or NULL (limit). */
static struct imap_arg *
node_add(struct imap_parser *p, enum imap_arg_type type)
{
	struct imap_arg *a;

	if (p->nargs >= p->lim.max_args)
		return NULL;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	p->nargs++;
	a->type = type;
	a->parent = p->parent;
	if (p->tails[p->depth] != NULL)
		p->tails[p->depth]->next = a;
	else if (p->parent != NULL)
		p->parent->child = a;
	else
		p->head = a;
	p->tails[p->depth] = a;
	return a;
}

/* Turns the token buffer into a string node. */
static enum imap_parse_result
token_finish(struct imap_parser *p, enum imap_arg_type type)
{
	struct imap_arg *a = node_add(p, type);

	if (a == NULL)
		return fail(p, IMAP_PARSE_ERR_TOO_MANY);
	a->len = p->tok.len;
	a->literal8 = type == IMAP_ARG_LITERAL && p->lit8;
	a->str = buf_steal(&p->tok);
	buf_init(&p->tok, p->lim.max_line);
	if (a->str == NULL)
		return fail(p, IMAP_PARSE_ERR_TOO_MANY);
	p->state = S_AFTER;
	return PARSE_MORE;
}

/* After "{" (or "~{"): the literal's length follows. */
static void
literal_start(struct imap_parser *p, bool lit8)
{
	p->lit_size = 0;
	p->lit_nonsync = p->lit_digits = false;
	p->lit8 = lit8;
	p->state = S_LITLEN;
}

static bool
is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* ATOM-CHAR of RFC 9051 9, relaxed to allow list wildcards and ']'. */
static bool
is_atom_char(unsigned char c)
{
	return !is_ctl(c) && c != ' ' && c != '(' && c != ')' && c != '{' &&
	       c != '"';
}

/* tag = 1*<any ASTRING-CHAR except "+"> (RFC 9051 9). */
static bool
is_tag_char(unsigned char c)
{
	return is_atom_char(c) && c < 0x80 && c != '+' && c != '%' &&
	       c != '*' && c != '\\';
}

static enum imap_parse_result
line_end(struct imap_parser *p)
{
	if (p->depth != 0 || !p->name_done)
		return fail(p, IMAP_PARSE_ERR_SYNTAX);
	p->state = S_DONE;
	return PARSE_DONE;
}

static enum imap_parse_result
step_tag(struct imap_parser *p, unsigned char c)
{
	if (c == ' ' && p->tag.len > 0) {
		p->tag_done = true;
		p->state = S_NAME;
		return PARSE_MORE;
	}
	if (!is_tag_char(c))
		return fail(p, IMAP_PARSE_ERR_SYNTAX);
	if (buf_append(&p->tag, &c, 1) < 0)
		return fail(p, IMAP_PARSE_ERR_TOO_LONG);
	return PARSE_MORE;
}

static enum imap_parse_result
step_name(struct imap_parser *p, unsigned char c)
{
	if (c == ' ' || c == '\r' || c == '\n') {
		if (p->name.len == 0)
			return fail(p, IMAP_PARSE_ERR_SYNTAX);
		p->name_done = true;
		if (c == '\n')
			return line_end(p);
		p->state = c == ' ' ? S_ARGS : S_CR;
		return PARSE_MORE;
	}
	if (!is_atom_char(c) || c >= 0x80)
		return fail(p, IMAP_PARSE_ERR_SYNTAX);
	if (buf_append(&p->name, &c, 1) < 0)
		return fail(p, IMAP_PARSE_ERR_TOO_LONG);
	return PARSE_MORE;
}

static enum imap_parse_result
list_open(struct imap_parser *p)
{
	struct imap_arg *a;

	if (p->depth >= p->lim.max_depth)
		return fail(p, IMAP_PARSE_ERR_TOO_DEEP);
	a = node_add(p, IMAP_ARG_LIST);
	if (a == NULL)
		return fail(p, IMAP_PARSE_ERR_TOO_MANY);
	p->parent = a;
	p->depth++;
	p->tails[p->depth] = NULL;
	p->state = S_ARGS;
	return PARSE_MORE;
}

static enum imap_parse_result
list_close(struct imap_parser *p)
{
	if (p->depth == 0)
		return fail(p, IMAP_PARSE_ERR_SYNTAX);
	p->parent = p->parent->parent;
	p->depth--;
	p->state = S_AFTER;
	return PARSE_MORE;
}

/* At the start of a token. */
static enum imap_parse_result
step_args(struct imap_parser *p, unsigned char c)
{
	switch (c) {
	case '(':
		return list_open(p);
	case ')':
		return list_close(p);
	case '"':
		p->state = S_QUOTED;
		return PARSE_MORE;
	case '{':
		literal_start(p, false);
		return PARSE_MORE;
	case '\r':
		/* Tolerates one trailing space before the end of line. */
		p->state = S_CR;
		return PARSE_MORE;
	case '\n':
		return line_end(p);
	default:
		if (!is_atom_char(c))
			return fail(p, IMAP_PARSE_ERR_SYNTAX);
		p->bracket = 0;
		p->state = S_ATOM;
		return PARSE_MORE; /* the byte is taken by step_atom */
	}
}

/* After a token: what may separate or end it. */
static enum imap_parse_result
step_after(struct imap_parser *p, unsigned char c)
{
	switch (c) {
	case ' ':
		p->state = S_ARGS;
		return PARSE_MORE;
	case ')':
		return list_close(p);
	case '\r':
		p->state = S_CR;
		return PARSE_MORE;
	case '\n':
		return line_end(p);
	default:
		return fail(p, IMAP_PARSE_ERR_SYNTAX);
	}
}

/*
 * Returns true if c belongs to the atom.  Inside "[...]" spaces and
 * parentheses do too (fetch-att section, RFC 9051 9 "section").
 */
static bool
atom_takes(struct imap_parser *p, unsigned char c)
{
	if (c == '[') {
		p->bracket++;
		return true;
	}
	if (p->bracket > 0) {
		if (c == ']')
			p->bracket--;
		return !is_ctl(c);
	}
	return is_atom_char(c);
}

static enum imap_parse_result
step_atom(struct imap_parser *p, unsigned char c, bool *reprocess_r)
{
	/* "~" directly before "{" opens a literal8, not an atom. */
	if (c == '{' && p->bracket == 0 && p->tok.len == 1 &&
	    p->tok.data[0] == '~') {
		buf_reset(&p->tok);
		literal_start(p, true);
		return PARSE_MORE;
	}
	if (atom_takes(p, c)) {
		if (buf_append(&p->tok, &c, 1) < 0)
			return fail(p, IMAP_PARSE_ERR_TOO_LONG);
		return PARSE_MORE;
	}
	if (p->bracket > 0)
		return fail(p, IMAP_PARSE_ERR_SYNTAX); /* unclosed '[' */
	*reprocess_r = true;
	return token_finish(p, IMAP_ARG_ATOM);
}

static enum imap_parse_result
step_quoted(struct imap_parser *p, unsigned char c)
{
	if (p->state == S_QUOTED_ESC) {
		/* Only quoted-specials may be escaped (RFC 9051 9). */
		if (c != '"' && c != '\\')
			return fail(p, IMAP_PARSE_ERR_SYNTAX);
		p->state = S_QUOTED;
	} else if (c == '\\') {
		p->state = S_QUOTED_ESC;
		return PARSE_MORE;
	} else if (c == '"') {
		return token_finish(p, IMAP_ARG_QUOTED);
	} else if (c == '\r' || c == '\n' || c == '\0') {
		return fail(p, IMAP_PARSE_ERR_SYNTAX);
	}
	if (buf_append(&p->tok, &c, 1) < 0)
		return fail(p, IMAP_PARSE_ERR_TOO_LONG);
	return PARSE_MORE;
}

/* "{" number ["+"] "}" CRLF (RFC 9051 9 "literal", RFC 7888 "literal8"). */
static enum imap_parse_result
step_litlen(struct imap_parser *p, unsigned char c)
{
	if (c >= '0' && c <= '9' && !p->lit_nonsync) {
		/* 20 digits would overflow; anything near that is too big. */
		if (p->lit_size > UINT64_MAX / 10 - 10)
			return fail(p, IMAP_PARSE_ERR_LITERAL_TOO_BIG);
		p->lit_size = p->lit_size * 10 + (uint64_t)(c - '0');
		p->lit_digits = true;
		return PARSE_MORE;
	}
	if (c == '+' && p->lit_digits && !p->lit_nonsync) {
		p->lit_nonsync = true;
		return PARSE_MORE;
	}
	if (c != '}' || !p->lit_digits)
		return fail(p, IMAP_PARSE_ERR_SYNTAX);
	if (p->lit_size > p->lim.max_literal) {
		p->lit_event = true; /* the session needs nonsync to decide */
		return fail(p, IMAP_PARSE_ERR_LITERAL_TOO_BIG);
	}
	p->state = S_LIT_CLOSE;
	return PARSE_MORE;
}

/* The LF after a literal header: the literal's bytes come next. */
static enum imap_parse_result
literal_begin(struct imap_parser *p)
{
	buf_free(&p->tok);
	buf_init(&p->tok, (size_t)p->lit_size);
	p->lit_left = p->lit_size;
	p->lit_event = true;
	p->line_len = 0;
	if (p->lit_size == 0)
		return token_finish(p, IMAP_ARG_LITERAL);
	p->state = S_LITERAL;
	return PARSE_MORE;
}

static enum imap_parse_result
step_lit_close(struct imap_parser *p, unsigned char c)
{
	if (p->state == S_LIT_CLOSE && c == '\r') {
		p->state = S_LIT_LF;
		return PARSE_MORE;
	}
	if (c != '\n')
		return fail(p, IMAP_PARSE_ERR_SYNTAX);
	return literal_begin(p);
}

/* Moves literal bytes; returns how many of len were taken. */
static size_t
literal_take(struct imap_parser *p, const char *data, size_t len,
             enum imap_parse_result *r)
{
	size_t n = len;

	if ((uint64_t)n > p->lit_left)
		n = (size_t)p->lit_left;
	if (buf_append(&p->tok, data, n) < 0) {
		*r = fail(p, IMAP_PARSE_ERR_LITERAL_TOO_BIG);
		return 0;
	}
	p->lit_left -= n;
	*r = p->lit_left == 0 ? token_finish(p, IMAP_ARG_LITERAL) : PARSE_MORE;
	return n;
}

static enum imap_parse_result
step(struct imap_parser *p, unsigned char c, bool *reprocess_r)
{
	switch (p->state) {
	case S_TAG:
		return step_tag(p, c);
	case S_NAME:
		return step_name(p, c);
	case S_ARGS:
		if (step_args(p, c) == PARSE_ERROR)
			return PARSE_ERROR;
		*reprocess_r = p->state == S_ATOM;
		return PARSE_MORE;
	case S_AFTER:
		return step_after(p, c);
	case S_ATOM:
		return step_atom(p, c, reprocess_r);
	case S_QUOTED:
	case S_QUOTED_ESC:
		return step_quoted(p, c);
	case S_LITLEN:
		return step_litlen(p, c);
	case S_LIT_CLOSE:
	case S_LIT_LF:
		return step_lit_close(p, c);
	case S_CR:
		return c == '\n' ? line_end(p) : fail(p, IMAP_PARSE_ERR_SYNTAX);
	default:
		/* S_DONE, S_ERROR (S_LITERAL is handled by the caller). */
		return fail(p, IMAP_PARSE_ERR_SYNTAX);
	}
}

enum imap_parse_result
imap_parser_feed(struct imap_parser *p, const char *data, size_t len,
                 size_t *used_r)
{
	enum imap_parse_result r = PARSE_MORE;
	size_t i = 0;

	while (i < len && r == PARSE_MORE) {
		bool reprocess = false, was_litlen;

		if (p->state == S_LITERAL) {
			i += literal_take(p, data + i, len - i, &r);
			continue;
		}
		if (++p->line_len > p->lim.max_line) {
			r = fail(p, IMAP_PARSE_ERR_TOO_LONG);
			break;
		}
		was_litlen = p->state == S_LIT_CLOSE || p->state == S_LIT_LF;
		r = step(p, (unsigned char)data[i], &reprocess);
		if (reprocess) {
			p->line_len--;
			continue;
		}
		i++;
		/* Stop after a literal header so the session can answer it. */
		if (was_litlen && data[i - 1] == '\n' && r == PARSE_MORE)
			break;
	}
	*used_r = i;
	return r;
}

enum imap_parse_error
imap_parser_error(const struct imap_parser *p)
{
	return p->error;
}

const char *
imap_parser_tag(const struct imap_parser *p)
{
	return p->tag_done ? buf_cstr(&p->tag) : NULL;
}

const char *
imap_parser_name(const struct imap_parser *p)
{
	return p->name_done ? buf_cstr(&p->name) : NULL;
}

const struct imap_arg *
imap_parser_args(const struct imap_parser *p)
{
	return p->state == S_DONE ? p->head : NULL;
}

bool
imap_parser_take_literal(struct imap_parser *p, uint64_t *size_r,
                         bool *nonsync_r)
{
	if (!p->lit_event)
		return false;
	p->lit_event = false;
	*size_r = p->lit_size;
	*nonsync_r = p->lit_nonsync;
	return true;
}

uint64_t
imap_parser_literal_remaining(const struct imap_parser *p)
{
	return p->state == S_LITERAL ? p->lit_left : 0;
}
