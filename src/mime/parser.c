/*
 * parser: the streaming MIME structure parser (see mime.h for the
 * contract).
 *
 * Line-driven: bytes are cut at LF; a line of a header block is kept whole
 * (up to MIME_MAX_HEADER_BYTES), a body line only as far as a boundary
 * could reach, so memory does not grow with the body.  A stack holds the
 * nodes from the root to the one being read; each open multipart on it
 * may end the nodes above it with a boundary line (RFC 2046 5.1.1).
 * Line counts come from one global LF counter noted at each body start,
 * so no per-line work grows with the depth except boundary matching,
 * which only lines starting with "--" pay.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime/mime_private.h"

/* Bytes of a body line kept: enough for "--" boundary "--" and blanks. */
#define LINE_KEEP (MIME_MAX_BOUNDARY + 8)

struct level {
	struct mime_part *node;
	uint64_t body_nl;                  /* LFs before the body */
	char bound[MIME_MAX_BOUNDARY + 1]; /* for an open multipart */
	size_t bound_len;
	struct mime_part *last; /* last child so far */
	bool closed;            /* close-delimiter seen: epilogue follows */
	bool digest;            /* multipart/digest */
};

struct mime_parser {
	struct mime_part *root;
	struct level *stack; /* MIME_MAX_DEPTH entries */
	size_t depth;
	bool in_header; /* the top node's header is being read */
	uint64_t off, nl;
	/* The current line. */
	struct buf line;
	uint64_t line_start, line_nl, line_total;
	bool line_cut, tail_ws;
	char b0, b1; /* the line's last two bytes so far */
	/* The previous line: content length and terminator length. */
	uint64_t prev_len, prev_term;
	/* The header block being read. */
	uint64_t hdr_bytes, hdr_lines;
	int cur_field;
	struct buf fieldval;
	size_t nparts, kept;
	bool failed;
};

static const char *const field_names[MIME_F_COUNT] = {
    [MIME_F_CONTENT_TYPE] = "Content-Type",
    [MIME_F_CONTENT_TRANSFER_ENCODING] = "Content-Transfer-Encoding",
    [MIME_F_CONTENT_ID] = "Content-ID",
    [MIME_F_CONTENT_DESCRIPTION] = "Content-Description",
    [MIME_F_CONTENT_DISPOSITION] = "Content-Disposition",
    [MIME_F_CONTENT_LANGUAGE] = "Content-Language",
    [MIME_F_CONTENT_LOCATION] = "Content-Location",
    [MIME_F_CONTENT_MD5] = "Content-MD5",
    [MIME_F_DATE] = "Date",
    [MIME_F_SUBJECT] = "Subject",
    [MIME_F_FROM] = "From",
    [MIME_F_SENDER] = "Sender",
    [MIME_F_REPLY_TO] = "Reply-To",
    [MIME_F_TO] = "To",
    [MIME_F_CC] = "Cc",
    [MIME_F_BCC] = "Bcc",
    [MIME_F_IN_REPLY_TO] = "In-Reply-To",
    [MIME_F_MESSAGE_ID] = "Message-ID",
};

bool
mime_word_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

/* A new node after *last (NULL: the first child) of parent. */
static struct mime_part *
part_new(struct mime_parser *p, struct mime_part *parent,
         struct mime_part **last, uint64_t hdr_off)
{
	struct mime_part *n = calloc(1, sizeof(*n));

	if (n == NULL) {
		p->failed = true;
		return NULL;
	}
	n->hdr_off = n->body_off = n->end = hdr_off;
	n->parent = parent;
	p->nparts++;
	if (parent != NULL) {
		if (*last != NULL)
			(*last)->next = n;
		else
			parent->child = n;
		*last = n;
		parent->nchildren++;
	}
	return n;
}

/* Pushes a node whose header starts at hdr_off. */
static void
push_header(struct mime_parser *p, struct mime_part *n, bool digest)
{
	struct level *l = &p->stack[p->depth++];

	memset(l, 0, sizeof(*l));
	l->node = n;
	n->default_rfc822 = digest;
	p->in_header = true;
	p->hdr_bytes = p->hdr_lines = 0;
	p->cur_field = -1;
	buf_reset(&p->fieldval);
}

/* Stores the field being read (trimmed, NUL-free) if room is left. */
static void
field_flush(struct mime_parser *p)
{
	struct mime_part *n = p->stack[p->depth - 1].node;
	const char *v = buf_cstr(&p->fieldval);
	size_t len = p->fieldval.len, k = 0;
	char *copy;

	if (p->cur_field < 0)
		return;
	while (len > 0 && (*v == ' ' || *v == '\t'))
		v++, len--;
	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (p->kept + len > MIME_MAX_KEPT_BYTES)
		goto done;
	copy = malloc(len + 1);
	if (copy == NULL) {
		p->failed = true;
		goto done;
	}
	for (size_t i = 0; i < len; i++)
		if (v[i] != '\0')
			copy[k++] = v[i];
	copy[k] = '\0';
	n->field[p->cur_field] = copy;
	n->field_len[p->cur_field] = k;
	p->kept += k;
done:
	p->cur_field = -1;
	buf_reset(&p->fieldval);
}

/* A "name: value" line starts a field; keeps it if it is one we want. */
static void
field_start(struct mime_parser *p, const char *s, size_t len)
{
	struct mime_part *n = p->stack[p->depth - 1].node;
	const char *colon = memchr(s, ':', len);
	size_t nlen;

	if (colon == NULL)
		return;
	nlen = (size_t)(colon - s);
	while (nlen > 0 && (s[nlen - 1] == ' ' || s[nlen - 1] == '\t'))
		nlen--;
	for (int f = 0; f < MIME_F_COUNT; f++) {
		if (!mime_word_is(s, nlen, field_names[f]))
			continue;
		if (n->field[f] != NULL)
			return; /* the first occurrence wins */
		p->cur_field = f;
		if (buf_append(&p->fieldval, colon + 1,
		               len - (size_t)(colon + 1 - s)) < 0)
			p->cur_field = -1;
		return;
	}
}

static void
header_line(struct mime_parser *p, const char *s, size_t len)
{
	p->hdr_lines++;
	p->hdr_bytes += p->line_total;
	if (p->hdr_lines > MIME_MAX_HEADER_LINES ||
	    p->hdr_bytes > MIME_MAX_HEADER_BYTES) {
		field_flush(p);
		return;
	}
	if (len > 0 && (s[0] == ' ' || s[0] == '\t')) {
		/* RFC 5322 2.2.3: unfolding removes the CRLF only. */
		if (p->cur_field >= 0 && buf_append(&p->fieldval, s, len) < 0)
			field_flush(p);
		return;
	}
	field_flush(p);
	field_start(p, s, len);
}

static bool
ctype_is(const struct mime_ctype *ct, const char *type, const char *sub)
{
	return mime_word_is(ct->type, ct->type_len, type) &&
	       (sub == NULL || mime_word_is(ct->subtype, ct->subtype_len, sub));
}

/* A message/rfc822 body in base64 or quoted-printable is not descended
 * into (RFC 2046 5.2.1 forbids those encodings there). */
static bool
cte_is_identity(const struct mime_part *n)
{
	return mime_part_cte(n) == MIME_CTE_IDENTITY;
}

/* Decides what the node is once its header is complete. */
static void
header_end(struct mime_parser *p, uint64_t body_off, bool descend)
{
	struct level *l = &p->stack[p->depth - 1];
	struct mime_part *n = l->node;
	const char *v;
	struct mime_ctype ct;
	bool room = p->depth < MIME_MAX_DEPTH && p->nparts < MIME_MAX_PARTS;
	bool is_multi, is_msg;

	field_flush(p);
	v = n->field[MIME_F_CONTENT_TYPE];
	p->in_header = false;
	n->body_off = n->end = body_off;
	l->body_nl = p->nl;
	if (v == NULL) {
		is_multi = false;
		is_msg = n->default_rfc822;
	} else if (mime_ctype_parse(v, n->field_len[MIME_F_CONTENT_TYPE], true,
	                            &ct) < 0) {
		n->flattened = true; /* RFC 2045 5.2: invalid is text/plain */
		return;
	} else {
		const struct mime_param *b = mime_ctype_param(&ct, "boundary");

		is_multi = ctype_is(&ct, "multipart", NULL);
		is_msg = ctype_is(&ct, "message", "rfc822") ||
		         ctype_is(&ct, "message", "global");
		if (is_multi && b != NULL && b->value_len > 0 &&
		    b->value_len <= MIME_MAX_BOUNDARY) {
			memcpy(l->bound, b->value, b->value_len);
			l->bound_len = b->value_len;
			l->digest = ctype_is(&ct, "multipart", "digest");
		} else if (is_multi) {
			n->flattened = true;
			is_multi = false;
		}
		mime_ctype_free(&ct);
	}
	if (is_multi) {
		n->kind = MIME_MULTIPART;
		if (!room || !descend) {
			n->kind = MIME_LEAF;
			n->flattened = true;
		}
	} else if (is_msg && cte_is_identity(n)) {
		if (!room || !descend) {
			n->flattened = true;
			return;
		}
		n->kind = MIME_MESSAGE;
		struct mime_part *c = part_new(p, n, &l->last, body_off);
		if (c != NULL)
			push_header(p, c, false);
	}
}

/* Sets where the top node ends and pops it. */
static void
level_close(struct mime_parser *p, uint64_t end, uint64_t nl_end,
            bool last_partial)
{
	struct level *l = &p->stack[p->depth - 1];
	struct mime_part *n = l->node;

	if (p->in_header) {
		header_end(p, end > n->hdr_off ? end : n->hdr_off, false);
		l = &p->stack[p->depth - 1];
	}
	n->end = end > n->body_off ? end : n->body_off;
	if (n->end > n->body_off && nl_end >= l->body_nl)
		n->body_lines = nl_end - l->body_nl + (last_partial ? 1 : 0);
	if (n->kind == MIME_MULTIPART && n->nchildren == 0) {
		/* No boundary was found: the body is all there is. */
		n->kind = MIME_LEAF;
		n->flattened = true;
	}
	p->depth--;
}

/* The level of the open multipart whose boundary line this is, or -1. */
static int
boundary_match(struct mime_parser *p, const char *s, size_t len, bool *close_r)
{
	if (len < 3 || s[0] != '-' || s[1] != '-')
		return -1;
	for (size_t i = p->depth; i-- > 0;) {
		struct level *l = &p->stack[i];
		size_t k = 2 + l->bound_len;

		if (l->node->kind != MIME_MULTIPART || l->closed || len < k ||
		    memcmp(s + 2, l->bound, l->bound_len) != 0)
			continue;
		*close_r = len >= k + 2 && s[k] == '-' && s[k + 1] == '-';
		if (*close_r)
			k += 2;
		while (k < len && (s[k] == ' ' || s[k] == '\t'))
			k++;
		if (k == len && (!p->line_cut || p->tail_ws))
			return (int)i;
	}
	return -1;
}

static void
boundary_line(struct mime_parser *p, size_t lvl, bool close)
{
	uint64_t end = p->line_start - p->prev_term;
	struct level *l;

	while (p->depth > lvl + 1)
		level_close(p, end, p->line_nl - (p->prev_term > 0),
		            p->prev_len > 0);
	l = &p->stack[lvl];
	p->in_header = false;
	if (close) {
		l->closed = true;
		return;
	}
	struct mime_part *c = part_new(p, l->node, &l->last, p->off);
	if (c != NULL)
		push_header(p, c, l->digest);
}

static void
line_done(struct mime_parser *p, bool has_lf)
{
	const char *s = buf_cstr(&p->line);
	size_t len = p->line.len, content;
	bool close = false, cr = has_lf && p->b1 == '\r';
	int lvl;

	/* The line without its LF and one CR before it. */
	if (has_lf && len > 0 && s[len - 1] == '\n')
		len--;
	if (cr && len > 0 && s[len - 1] == '\r')
		len--;
	content = (size_t)p->line_total - (has_lf ? 1 : 0) - (cr ? 1 : 0);
	lvl = boundary_match(p, s, len, &close);
	if (lvl >= 0 && (close || p->nparts < MIME_MAX_PARTS))
		boundary_line(p, (size_t)lvl, close);
	else if (p->in_header && content == 0)
		header_end(p, p->off, true);
	else if (p->in_header)
		header_line(p, s, len);
	p->prev_len = content;
	p->prev_term = has_lf ? (cr ? 2 : 1) : 0;
	buf_reset(&p->line);
	p->line_start = p->off;
	p->line_nl = p->nl;
	p->line_total = 0;
	p->line_cut = false;
	p->tail_ws = true;
	p->b0 = p->b1 = 0;
}

/* Adds a piece of the current line, keeping only what may matter. */
static void
line_add(struct mime_parser *p, const char *d, size_t n)
{
	size_t keep = p->in_header ? MIME_MAX_HEADER_BYTES : LINE_KEEP;
	size_t room = p->line.len < keep ? keep - p->line.len : 0;
	size_t take = n < room ? n : room;

	if (take > 0 && buf_append(&p->line, d, take) < 0)
		p->failed = true;
	for (size_t i = take; i < n; i++) {
		p->line_cut = true;
		if (d[i] != ' ' && d[i] != '\t' && d[i] != '\r' && d[i] != '\n')
			p->tail_ws = false;
	}
	if (n >= 2) {
		p->b1 = d[n - 2];
		p->b0 = d[n - 1];
	} else if (n == 1) {
		p->b1 = p->b0;
		p->b0 = d[0];
	}
	p->line_total += n;
}

int
mime_parser_feed(struct mime_parser *p, const void *data, size_t len)
{
	const char *d = data;

	while (len > 0 && !p->failed) {
		const char *lf = memchr(d, '\n', len);
		size_t n = lf != NULL ? (size_t)(lf - d) + 1 : len;

		line_add(p, d, n);
		p->off += n;
		if (lf != NULL) {
			p->nl++;
			line_done(p, true);
		}
		d += n;
		len -= n;
	}
	return p->failed ? -1 : 0;
}

struct mime_parser *
mime_parser_new(void)
{
	struct mime_parser *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->stack = calloc(MIME_MAX_DEPTH, sizeof(*p->stack));
	p->root = p->stack != NULL ? part_new(p, NULL, NULL, 0) : NULL;
	if (p->root == NULL) {
		free(p->stack);
		free(p);
		return NULL;
	}
	buf_init(&p->line, MIME_MAX_HEADER_BYTES);
	buf_init(&p->fieldval, MIME_MAX_HEADER_BYTES);
	p->tail_ws = true;
	push_header(p, p->root, false);
	return p;
}

void
mime_parser_free(struct mime_parser **pp)
{
	struct mime_parser *p = *pp;

	if (p == NULL)
		return;
	mime_part_free(&p->root);
	buf_free(&p->line);
	buf_free(&p->fieldval);
	free(p->stack);
	free(p);
	*pp = NULL;
}

struct mime_part *
mime_parser_finish(struct mime_parser **pp)
{
	struct mime_parser *p = *pp;
	struct mime_part *root;
	bool partial;

	if (p->line_total > 0)
		line_done(p, false);
	/* The last line counts if it has bytes but no LF. */
	partial = p->prev_term == 0 && p->prev_len > 0;
	while (p->depth > 0 && !p->failed)
		level_close(p, p->off, p->nl, partial);
	if (p->failed) {
		mime_parser_free(pp);
		return NULL;
	}
	root = p->root;
	p->root = NULL;
	mime_parser_free(pp);
	return root;
}

struct mime_part *
mime_parse(const void *data, size_t len)
{
	struct mime_parser *p = mime_parser_new();

	if (p == NULL)
		return NULL;
	if (mime_parser_feed(p, data, len) < 0) {
		mime_parser_free(&p);
		return NULL;
	}
	return mime_parser_finish(&p);
}

void
mime_part_free(struct mime_part **rootp)
{
	struct mime_part *n = *rootp;

	/* Iterative, so a deep tree cannot exhaust the stack: each child
	 * list is spliced after its parent before the parent is freed. */
	while (n != NULL) {
		struct mime_part *next = n->next;

		if (n->child != NULL) {
			struct mime_part *last = n->child;

			while (last->next != NULL)
				last = last->next;
			last->next = next;
			next = n->child;
		}
		for (int f = 0; f < MIME_F_COUNT; f++)
			free(n->field[f]);
		free(n);
		n = next;
	}
	*rootp = NULL;
}

uint64_t
mime_part_body_size(const struct mime_part *part)
{
	return part->end - part->body_off;
}

bool
mime_header_complete(const char *msg, size_t len, size_t from)
{
	const char *p = msg + from, *end = msg + len;

	/* No header at all: the message starts with the blank line. */
	if ((len >= 1 && msg[0] == '\n') ||
	    (len >= 2 && msg[0] == '\r' && msg[1] == '\n'))
		return true;
	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if ((end - p > 1 && p[1] == '\n') ||
		    (end - p > 2 && p[1] == '\r' && p[2] == '\n'))
			return true;
		p++;
	}
	return false;
}
