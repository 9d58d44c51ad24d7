/*
 * cmd_fetch: FETCH and UID FETCH (RFC 9051 6.4.5, 6.4.9, 7.5.2; BINARY
 * from RFC 3516, part of IMAP4rev2).
 *
 * Items: FLAGS, UID, RFC822.SIZE, INTERNALDATE, ENVELOPE, BODY,
 * BODYSTRUCTURE, RFC822, RFC822.HEADER, RFC822.TEXT, BODY[section]<p>,
 * BODY.PEEK[section]<p>, BINARY[part]<p>, BINARY.PEEK[part]<p>,
 * BINARY.SIZE[part] and the macros ALL, FAST and FULL.
 *
 * ENVELOPE, BODYSTRUCTURE and BODY come from the store's cache, computed
 * when the message arrived (store_msg_cache_get()), so a FETCH of only
 * those never reads or parses a message; sections and BINARY parse it
 * with src/mime from store_msg_read(), and so does a message the cache
 * has no row for.
 * Memory is bounded per message, not per command: each message's response
 * is written and freed before the next is read, and section bytes go to
 * the connection straight from the message buffer, never copied into one
 * response string.  When the only body items are the whole message
 * (BODY[], BODY.PEEK[], RFC822, with or without <partial>) the message is
 * not read at all: it is streamed from the store (store_msg_open()) a
 * chunk at a time as the client takes it, so a session holds a bounded
 * amount however large the message (issue 5: "large FETCH responses are
 * streamed").  Those literals come last in their FETCH response, which
 * RFC 9051 7.5.2 allows (the data items are in no set order).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap/cmd.h"
#include "imap/condstore.h"
#include "imap/mailbox.h"
#include "imap/resp.h"
#include "mime/mime.h"

#define FETCH_MAX_ITEMS 64
/* Part numbers in one section ("1.2.3..."); deeper than MIME nesting. */
#define FETCH_MAX_PART_DEPTH (2 * MIME_MAX_DEPTH + 2)
/* Names in one HEADER.FIELDS list. */
#define FETCH_MAX_FIELDS 100

enum fetch_kind {
	FETCH_FLAGS,
	FETCH_UID,
	FETCH_SIZE,
	FETCH_INTERNALDATE,
	FETCH_MODSEQ, /* RFC 7162 3.1.4.1 */
	FETCH_ENVELOPE,
	FETCH_BODYSTRUCTURE,
	FETCH_BODY_SHAPE, /* BODY without a section */
	FETCH_SECTION,    /* BODY[...] and the RFC822 forms */
	FETCH_BINARY,
	FETCH_BINARY_SIZE,
	FETCH_SAVEDATE, /* RFC 8514 4.1 */
	FETCH_EMAILID,  /* RFC 8474 5.1 */
	FETCH_THREADID, /* RFC 8474 5.2 */
};

struct fetch_item {
	enum fetch_kind kind;
	bool peek;         /* does not set \Seen */
	const char *alias; /* "RFC822", ... or NULL for BODY[...] */
	const char *spec;  /* the section text as sent, for the reply */
	size_t spec_len;
	uint32_t nums[FETCH_MAX_PART_DEPTH];
	size_t nnums;
	enum mime_section_text text;
	char *names_buf; /* HEADER.FIELDS: the names, NUL-separated */
	const char *names[FETCH_MAX_FIELDS];
	size_t nnames;
	bool partial;
	uint64_t off, len;
};

struct fetch_req {
	struct fetch_item *items; /* FETCH_MAX_ITEMS */
	size_t count;
	bool has_flags, has_modseq, needs_body, needs_shape, sets_seen;
	bool body_is_whole;  /* every body item is the whole message */
	bool body_is_header; /* every body item is of the top-level header */
};

/* Bytes of a streamed literal read and queued at a time. */
#define FETCH_STREAM_CHUNK (64 * 1024)
/* Untagged FETCH responses gathered before one conn_write(). */
#define FETCH_OUT_BATCH (16 * 1024)

/*
 * The streamed end of one message's response: the whole-message literals
 * still to write, and how far the current one is.
 */
struct fetch_tail {
	struct store_stream *msg; /* open while a tail is in progress */
	size_t item;              /* the next request item to look at */
	bool wrote_item;          /* an item precedes: write a space */
	bool in_literal;          /* bytes [pos, end) are still to send */
	uint64_t pos, end;
	struct buf chunk;
};

/* Result of writing one message. */
enum fetch_rc { FETCH_OK, FETCH_ERR, FETCH_UNKNOWN_CTE };

static void
fetch_req_free(struct fetch_req *req)
{
	for (size_t i = 0; req->items != NULL && i < req->count; i++)
		free(req->items[i].names_buf);
	free(req->items);
	req->items = NULL;
}

/* BODY[], BODY.PEEK[] and RFC822, partial or not: no part, no MIME. */
static bool
fetch_item_is_whole(const struct fetch_item *it)
{
	return it->kind == FETCH_SECTION && it->nnums == 0 &&
	       it->text == MIME_SEC_NONE;
}

/*
 * BODY[HEADER], BODY[HEADER.FIELDS (...)], BODY[HEADER.FIELDS.NOT (...)]
 * and RFC822.HEADER, partial or not: only the bytes up to the blank line.
 */
static bool
fetch_item_is_header(const struct fetch_item *it)
{
	return it->kind == FETCH_SECTION && it->nnums == 0 &&
	       (it->text == MIME_SEC_HEADER ||
	        it->text == MIME_SEC_HEADER_FIELDS ||
	        it->text == MIME_SEC_HEADER_FIELDS_NOT);
}

/* The items served from the message's bytes. */
static bool
fetch_kind_reads_body(enum fetch_kind kind)
{
	return kind == FETCH_SECTION || kind == FETCH_BINARY ||
	       kind == FETCH_BINARY_SIZE;
}

static int
fetch_add(struct fetch_req *req, const struct fetch_item *it)
{
	bool body = fetch_kind_reads_body(it->kind);

	if (req->count >= FETCH_MAX_ITEMS)
		return -1;
	req->items[req->count++] = *it;
	if (it->kind == FETCH_FLAGS)
		req->has_flags = true;
	if (it->kind == FETCH_MODSEQ)
		req->has_modseq = true;
	if (body)
		req->needs_body = true;
	if (body && !fetch_item_is_header(it))
		req->body_is_header = false;
	if (body && !fetch_item_is_whole(it))
		req->body_is_whole = false;
	else if (!body && it->kind >= FETCH_ENVELOPE &&
	         it->kind <= FETCH_BODY_SHAPE)
		req->needs_shape = true;
	if ((it->kind == FETCH_SECTION || it->kind == FETCH_BINARY) &&
	    !it->peek)
		req->sets_seen = true;
	return 0;
}

/* Parses "<off.len>" (RFC 9051 9 "partial") at s; "" is no partial. */
static int
fetch_parse_partial(const char *s, struct fetch_item *it)
{
	char *end;

	if (*s == '\0')
		return 0;
	if (s[0] != '<' || s[1] < '0' || s[1] > '9')
		return -1;
	it->off = strtoull(s + 1, &end, 10);
	if (*end != '.' || end[1] < '1' || end[1] > '9')
		return -1;
	it->len = strtoull(end + 1, &end, 10);
	if (end[0] != '>' || end[1] != '\0')
		return -1;
	it->partial = true;
	return 0;
}

/* section-part: nz-number *("." nz-number); stops before ".TEXT" etc. */
static const char *
fetch_parse_nums(const char *s, struct fetch_item *it)
{
	while (*s >= '1' && *s <= '9') {
		char *end;
		unsigned long long v = strtoull(s, &end, 10);

		if (v > UINT32_MAX || it->nnums >= FETCH_MAX_PART_DEPTH)
			return NULL;
		it->nums[it->nnums++] = (uint32_t)v;
		s = end;
		if (s[0] != '.' || s[1] < '1' || s[1] > '9')
			break;
		s++;
	}
	if (it->nnums > 0 && *s == '.' && s[1] != ']')
		s++;
	else if (it->nnums > 0 && *s != ']')
		return NULL;
	return s;
}

/* header-list: "(" astring *(SP astring) ")"; returns after ')'. */
static const char *
fetch_parse_names(const char *s, struct fetch_item *it)
{
	struct buf b = BUF_INIT;
	size_t starts[FETCH_MAX_FIELDS];

	if (*s++ != '(')
		return NULL;
	while (*s != ')') {
		if (it->nnames >= FETCH_MAX_FIELDS || *s == '\0')
			goto fail;
		starts[it->nnames++] = b.len;
		if (*s == '"') {
			for (s++; *s != '"'; s++) {
				if (*s == '\\' && s[1] != '\0')
					s++;
				if (*s == '\0' || buf_append(&b, s, 1) < 0)
					goto fail;
			}
			s++;
		} else {
			size_t n = strcspn(s, " ()\"]");

			if (n == 0 || buf_append(&b, s, n) < 0)
				goto fail;
			s += n;
		}
		if (buf_append(&b, "", 1) < 0)
			goto fail;
		if (*s == ' ' && s[1] != ')')
			s++;
		else if (*s != ')')
			goto fail;
	}
	if (it->nnames == 0)
		goto fail;
	it->names_buf = buf_steal(&b);
	for (size_t i = 0; i < it->nnames && it->names_buf != NULL; i++)
		it->names[i] = it->names_buf + starts[i];
	return it->names_buf != NULL ? s + 1 : NULL;
fail:
	buf_free(&b);
	return NULL;
}

/* The section text after the part numbers; returns after it. */
static const char *
fetch_parse_text(const char *s, struct fetch_item *it)
{
	if (strncasecmp(s, "HEADER.FIELDS.NOT ", 18) == 0) {
		it->text = MIME_SEC_HEADER_FIELDS_NOT;
		return fetch_parse_names(s + 18, it);
	}
	if (strncasecmp(s, "HEADER.FIELDS ", 14) == 0) {
		it->text = MIME_SEC_HEADER_FIELDS;
		return fetch_parse_names(s + 14, it);
	}
	if (strncasecmp(s, "HEADER", 6) == 0) {
		it->text = MIME_SEC_HEADER;
		return s + 6;
	}
	if (strncasecmp(s, "TEXT", 4) == 0) {
		it->text = MIME_SEC_TEXT;
		return s + 4;
	}
	if (strncasecmp(s, "MIME", 4) == 0 && it->nnums > 0) {
		it->text = MIME_SEC_MIME;
		return s + 4;
	}
	return *s == ']' ? s : NULL;
}

/* "[" section "]" partial, s after '['; binary allows part numbers only. */
static int
fetch_parse_section(const char *s, struct fetch_item *it, bool binary)
{
	const char *p = fetch_parse_nums(s, it);

	if (p != NULL && !binary)
		p = fetch_parse_text(p, it);
	if (p == NULL || *p != ']')
		return -1;
	it->spec = s;
	it->spec_len = (size_t)(p - s);
	if (it->kind == FETCH_BINARY_SIZE)
		return p[1] == '\0' ? 0 : -1;
	return fetch_parse_partial(p + 1, it);
}

static const struct {
	const char *prefix;
	enum fetch_kind kind;
	bool peek;
} section_items[] = {
    {"BODY[", FETCH_SECTION, false},
    {"BODY.PEEK[", FETCH_SECTION, true},
    {"BINARY[", FETCH_BINARY, false},
    {"BINARY.PEEK[", FETCH_BINARY, true},
    {"BINARY.SIZE[", FETCH_BINARY_SIZE, true},
};

static const struct {
	const char *name;
	struct fetch_item it;
} simple_items[] = {
    {"FLAGS", {.kind = FETCH_FLAGS}},
    {"UID", {.kind = FETCH_UID}},
    {"RFC822.SIZE", {.kind = FETCH_SIZE}},
    {"INTERNALDATE", {.kind = FETCH_INTERNALDATE}},
    {"MODSEQ", {.kind = FETCH_MODSEQ}},
    {"SAVEDATE", {.kind = FETCH_SAVEDATE}},
    {"EMAILID", {.kind = FETCH_EMAILID}},
    {"THREADID", {.kind = FETCH_THREADID}},
    {"ENVELOPE", {.kind = FETCH_ENVELOPE}},
    {"BODYSTRUCTURE", {.kind = FETCH_BODYSTRUCTURE}},
    {"BODY", {.kind = FETCH_BODY_SHAPE}},
    {"RFC822", {.kind = FETCH_SECTION, .alias = "RFC822"}},
    {"RFC822.HEADER",
     {.kind = FETCH_SECTION,
      .peek = true,
      .alias = "RFC822.HEADER",
      .text = MIME_SEC_HEADER}},
    {"RFC822.TEXT",
     {.kind = FETCH_SECTION, .alias = "RFC822.TEXT", .text = MIME_SEC_TEXT}},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int
fetch_parse_item(struct fetch_req *req, const char *s)
{
	struct fetch_item *it = calloc(1, sizeof(*it));
	int rc = -1;

	if (it == NULL)
		return -1;
	for (size_t i = 0; i < NELEM(simple_items); i++)
		if (strcasecmp(s, simple_items[i].name) == 0) {
			*it = simple_items[i].it;
			rc = 0;
		}
	for (size_t i = 0; i < NELEM(section_items) && rc < 0; i++) {
		size_t n = strlen(section_items[i].prefix);

		if (strncasecmp(s, section_items[i].prefix, n) != 0)
			continue;
		it->kind = section_items[i].kind;
		it->peek = section_items[i].peek;
		rc = fetch_parse_section(s + n, it, it->kind != FETCH_SECTION);
		break;
	}
	if (rc == 0)
		rc = fetch_add(req, it);
	if (rc < 0)
		free(it->names_buf);
	free(it);
	return rc;
}

/* The macros of RFC 9051 6.4.5. */
static bool
fetch_parse_macro(struct fetch_req *req, const char *s, int *rc_r)
{
	static const char *const fast[] = {"FLAGS", "INTERNALDATE",
	                                   "RFC822.SIZE", "ENVELOPE", "BODY"};
	size_t n;

	if (strcasecmp(s, "FAST") == 0)
		n = 3;
	else if (strcasecmp(s, "ALL") == 0)
		n = 4;
	else if (strcasecmp(s, "FULL") == 0)
		n = 5;
	else
		return false;
	*rc_r = 0;
	for (size_t i = 0; i < n; i++)
		*rc_r |= fetch_parse_item(req, fast[i]);
	return true;
}

static int
fetch_parse(struct fetch_req *req, const struct imap_arg *a, bool uid)
{
	int rc = 0;

	memset(req, 0, sizeof(*req));
	req->body_is_whole = true;
	req->body_is_header = true;
	req->items = calloc(FETCH_MAX_ITEMS, sizeof(*req->items));
	if (req->items == NULL)
		return -1;
	/* RFC 9051 6.4.9: UID FETCH always reports the UID. */
	if (uid)
		fetch_parse_item(req, "UID");
	if (a->type == IMAP_ARG_ATOM) {
		if (fetch_parse_macro(req, a->str, &rc) ||
		    (uid && strcasecmp(a->str, "UID") == 0))
			return rc;
		return fetch_parse_item(req, a->str);
	}
	if (a->type != IMAP_ARG_LIST || a->child == NULL)
		return -1;
	for (a = a->child; a != NULL; a = a->next) {
		if (a->type != IMAP_ARG_ATOM)
			return -1;
		if (uid && strcasecmp(a->str, "UID") == 0)
			continue;
		if (fetch_parse_item(req, a->str) < 0)
			return -1;
	}
	return 0;
}

/* INTERNALDATE as date-time (RFC 9051 9), in UTC. */
static int
fetch_date(struct buf *out, const char *name, int64_t when)
{
	static const char months[][4] = {"Jan", "Feb", "Mar", "Apr",
	                                 "May", "Jun", "Jul", "Aug",
	                                 "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)when;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	return buf_printf(out, "%s \"%02d-%s-%04d %02d:%02d:%02d +0000\"", name,
	                  tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
	                  tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* What one message offers the item writers. */
struct fetch_msg {
	struct imap_session *s;
	struct buf *out; /* the response so far */
	const struct buf *raw;
	const struct mime_part *root;
	const struct store_msg_cache *cache; /* or NULL: use root */
	size_t index;                        /* the message's seq - 1 */
	const struct imap_fetch_mods *mods;  /* CHANGEDSINCE, VANISHED */
	struct fetch_tail *tail; /* streaming: whole sections go there */
};

/*
 * Writes a literal: its header goes into the response, which is then
 * flushed, and the bytes go to the connection without another copy.
 * literal8 ("~{n}", RFC 3516 4.3) when BINARY data holds a NUL.
 */
static int
fetch_literal(struct fetch_msg *fm, const char *data, size_t len, bool bin)
{
	bool nul = bin && len > 0 && memchr(data, '\0', len) != NULL;

	if (buf_printf(fm->out, "%s{%zu}\r\n", nul ? "~" : "", len) < 0)
		return -1;
	imap_resp_flush(fm->s, fm->out);
	if (len > 0)
		conn_write(fm->s->c, data, len);
	return 0;
}

/* Writes "NAME[spec]<off> " (the origin only when partial, 6.4.5). */
static int
fetch_section_name(struct buf *out, const struct fetch_item *it)
{
	static const char *const names[] = {[FETCH_SECTION] = "BODY",
	                                    [FETCH_BINARY] = "BINARY",
	                                    [FETCH_BINARY_SIZE] =
	                                        "BINARY.SIZE"};

	if (it->alias != NULL)
		return buf_printf(out, "%s ", it->alias);
	if (buf_printf(out, "%s[%.*s]", names[it->kind], (int)it->spec_len,
	               it->spec) < 0)
		return -1;
	if (it->partial &&
	    buf_printf(out, "<%llu>", (unsigned long long)it->off) < 0)
		return -1;
	return buf_append(out, " ", 1);
}

/* The bytes an item's section means; false if it does not exist. */
static bool
fetch_span(const struct fetch_msg *fm, const struct fetch_item *it,
           const struct mime_part **part_r, bool *header_r)
{
	if (it->nnums == 0 && it->text == MIME_SEC_NONE) {
		*part_r = NULL; /* the whole message */
		return true;
	}
	return mime_section_find(fm->root, it->nums, it->nnums, it->text,
	                         part_r, header_r) == 0;
}

/* RFC 9051 6.4.5: the bytes <off.len> leaves of size, from *off_r. */
static uint64_t
fetch_partial_range(const struct fetch_item *it, uint64_t size, uint64_t *off_r)
{
	*off_r = 0;
	if (!it->partial)
		return size;
	if (it->off >= size)
		return 0;
	*off_r = it->off;
	return size - it->off < it->len ? size - it->off : it->len;
}

/* Applies <off.len> to [*data, *data + *len). */
static void
fetch_cut(const struct fetch_item *it, const char **data, size_t *len)
{
	uint64_t off;

	*len = (size_t)fetch_partial_range(it, *len, &off);
	*data += off;
}

static int
fetch_write_section(struct fetch_msg *fm, const struct fetch_item *it)
{
	const struct mime_part *part;
	bool header = false;
	const char *data = fm->raw->data != NULL ? fm->raw->data : "";
	size_t len = fm->raw->len;
	struct buf tmp = BUF_INIT;
	int rc;

	if (fetch_section_name(fm->out, it) < 0)
		return -1;
	if (!fetch_span(fm, it, &part, &header))
		return buf_append_str(fm->out, "NIL");
	if (part != NULL) {
		uint64_t from = header ? part->hdr_off : part->body_off;
		uint64_t to = header ? part->body_off : part->end;

		data += from;
		len = (size_t)(to - from);
	}
	if (it->text == MIME_SEC_HEADER_FIELDS ||
	    it->text == MIME_SEC_HEADER_FIELDS_NOT) {
		if (mime_header_filter(&tmp, data, len, it->names, it->nnames,
		                       it->text == MIME_SEC_HEADER_FIELDS_NOT) <
		    0) {
			buf_free(&tmp);
			return -1;
		}
		data = buf_cstr(&tmp);
		len = tmp.len;
	}
	fetch_cut(it, &data, &len);
	rc = fetch_literal(fm, data, len, false);
	buf_free(&tmp);
	return rc;
}

/* BINARY and BINARY.SIZE: the part's body with its CTE undone. */
static enum fetch_rc
fetch_write_binary(struct fetch_msg *fm, const struct fetch_item *it)
{
	const struct mime_part *part;
	bool header;
	struct buf dec = BUF_INIT;
	const char *data;
	size_t len;
	int rc;

	if (fetch_section_name(fm->out, it) < 0)
		return FETCH_ERR;
	if (!fetch_span(fm, it, &part, &header))
		return buf_append_str(fm->out, it->kind == FETCH_BINARY_SIZE
		                                   ? "0"
		                                   : "NIL") < 0
		           ? FETCH_ERR
		           : FETCH_OK;
	if (part == NULL) {
		rc = fm->raw->len > 0
		         ? buf_append(&dec, fm->raw->data, fm->raw->len)
		         : 0;
	} else {
		enum mime_cte cte = mime_part_cte(part);

		if (cte == MIME_CTE_UNKNOWN)
			return FETCH_UNKNOWN_CTE;
		rc = mime_decode_cte(&dec, cte, fm->raw->data + part->body_off,
		                     (size_t)mime_part_body_size(part));
	}
	if (rc == 0 && it->kind == FETCH_BINARY_SIZE) {
		rc = buf_printf(fm->out, "%zu", dec.len);
	} else if (rc == 0) {
		data = buf_cstr(&dec);
		len = dec.len;
		fetch_cut(it, &data, &len);
		rc = fetch_literal(fm, data, len, true);
	}
	buf_free(&dec);
	return rc < 0 ? FETCH_ERR : FETCH_OK;
}

/* ENVELOPE, BODYSTRUCTURE and BODY: cached if possible, else parsed. */
static int
fetch_write_shape(struct fetch_msg *fm, enum fetch_kind kind)
{
	const struct store_msg_cache *c = fm->cache;

	switch (kind) {
	case FETCH_ENVELOPE:
		if (buf_append_str(fm->out, "ENVELOPE ") < 0)
			return -1;
		return c != NULL ? buf_append_str(fm->out, c->envelope)
		                 : mime_envelope_write(fm->out, fm->root);
	case FETCH_BODYSTRUCTURE:
		if (buf_append_str(fm->out, "BODYSTRUCTURE ") < 0)
			return -1;
		return c != NULL
		           ? buf_append_str(fm->out, c->bodystructure)
		           : mime_bodystructure_write(fm->out, fm->root, true);
	default:
		if (buf_append_str(fm->out, "BODY ") < 0)
			return -1;
		return c != NULL
		           ? buf_append_str(fm->out, c->body)
		           : mime_bodystructure_write(fm->out, fm->root, false);
	}
}

/* SAVEDATE (RFC 8514 4.1) or EMAILID (RFC 8474 5.1) from the index. */
static int
fetch_write_ids(struct fetch_msg *fm, enum fetch_kind kind,
                const struct store_msg *m)
{
	struct store_msg_ids ids;
	struct err err;

	/* Expunged meanwhile: the item is unknown (NIL), not an error. */
	if (store_msg_ids_get(fm->s->user, fm->s->box.name, m->uid, &ids,
	                      &err) < 0)
		return buf_append_str(fm->out, kind == FETCH_SAVEDATE
		                                   ? "SAVEDATE NIL"
		                                   : "EMAILID NIL");
	if (kind == FETCH_SAVEDATE)
		return fetch_date(fm->out, "SAVEDATE", ids.savedate);
	return buf_printf(fm->out, "EMAILID (%s)", ids.emailid);
}

static enum fetch_rc
fetch_item_write(struct fetch_msg *fm, const struct fetch_item *it,
                 const struct store_msg *m)
{
	struct buf *out = fm->out;
	int rc = -1;

	switch (it->kind) {
	case FETCH_FLAGS:
		rc = buf_append_str(out, "FLAGS ") < 0
		         ? -1
		         : imap_resp_flags_kw(out, fm->s->user, m->flags);
		break;
	case FETCH_UID:
		rc = buf_append_str(out, "UID ") < 0
		         ? -1
		         : buf_append_u64(out, m->uid);
		break;
	case FETCH_SIZE:
		rc = buf_printf(out, "RFC822.SIZE %llu",
		                (unsigned long long)m->size);
		break;
	case FETCH_INTERNALDATE:
		rc = fetch_date(out, "INTERNALDATE", m->internaldate);
		break;
	case FETCH_MODSEQ:
		rc = imap_condstore_modseq_write(fm->s, fm->index, out);
		break;
	case FETCH_ENVELOPE:
	case FETCH_BODYSTRUCTURE:
	case FETCH_BODY_SHAPE:
		rc = fetch_write_shape(fm, it->kind);
		break;
	case FETCH_SECTION:
		rc = fetch_write_section(fm, it);
		break;
	case FETCH_BINARY:
	case FETCH_BINARY_SIZE:
		return fetch_write_binary(fm, it);
	case FETCH_SAVEDATE:
	case FETCH_EMAILID:
		rc = fetch_write_ids(fm, it->kind, m);
		break;
	case FETCH_THREADID:
		/* RFC 8474 5.2: NIL from a server without thread ids. */
		rc = buf_append_str(out, "THREADID NIL");
		break;
	}
	return rc < 0 ? FETCH_ERR : FETCH_OK;
}

/* BINARY of a part whose encoding is unknown fails the whole command
 * (RFC 3516 4.3), so it is checked before anything is written. */
static bool
fetch_cte_ok(const struct fetch_req *req, const struct mime_part *root)
{
	for (size_t k = 0; k < req->count; k++) {
		const struct fetch_item *it = &req->items[k];
		const struct mime_part *part;
		bool header;

		if ((it->kind == FETCH_BINARY ||
		     it->kind == FETCH_BINARY_SIZE) &&
		    it->nnums > 0 &&
		    mime_section_find(root, it->nums, it->nnums, MIME_SEC_NONE,
		                      &part, &header) == 0 &&
		    mime_part_cte(part) == MIME_CTE_UNKNOWN)
			return false;
	}
	return true;
}

/* Sets \Seen when a body item without PEEK asks for it (6.4.5). */
static int
fetch_mark_seen(struct imap_session *s, const struct fetch_req *req,
                struct store_msg *m, bool *changed_r, struct err *err)
{
	*changed_r = false;
	if (!req->sets_seen || s->box.readonly ||
	    (m->flags & STORE_FLAG_SEEN) != 0)
		return 0;
	struct store_flags_change ch = {.uid = m->uid};

	if (store_flags_update(s->user, s->box.name, 1, STORE_FLAG_SEEN,
	                       UINT64_MAX, &ch, 1, err) < 0)
		return -1;
	if (ch.missing)
		return 0; /* expunged meanwhile: report what the map holds */
	m->flags = ch.flags;
	m->modseq = ch.modseq;
	*changed_r = true;
	return 0;
}

static enum fetch_rc
fetch_items(struct fetch_msg *fm, const struct fetch_req *req,
            const struct store_msg *m, bool changed)
{
	enum fetch_rc rc = FETCH_OK;
	bool wrote = false;

	for (size_t k = 0; k < req->count && rc == FETCH_OK; k++) {
		/* Streamed after the rest (fetch_tail_pump()). */
		if (fm->tail != NULL && fetch_item_is_whole(&req->items[k]))
			continue;
		if (wrote && buf_append(fm->out, " ", 1) < 0)
			return FETCH_ERR;
		rc = fetch_item_write(fm, &req->items[k], m);
		wrote = true;
	}
	if (rc == FETCH_OK && changed && !req->has_flags &&
	    (buf_append_str(fm->out, wrote ? " FLAGS " : "FLAGS ") < 0 ||
	     imap_resp_flags_kw(fm->out, fm->s->user, m->flags) < 0))
		rc = FETCH_ERR;
	wrote = wrote || (changed && !req->has_flags);
	/* RFC 7162 3.1.4.1 and 3.2: MODSEQ with CHANGEDSINCE, and with a
	 * flag change the FETCH itself made under CONDSTORE. */
	if (rc == FETCH_OK && !req->has_modseq &&
	    (imap_condstore_fetch_wants_modseq(fm->mods) ||
	     (changed && fm->s->condstore))) {
		if ((wrote && buf_append(fm->out, " ", 1) < 0) ||
		    imap_condstore_modseq_write(fm->s, fm->index, fm->out) < 0)
			rc = FETCH_ERR;
		wrote = true;
	}
	if (fm->tail != NULL) {
		/* The literals and ")" follow from the tail. */
		fm->tail->wrote_item = wrote;
		return rc;
	}
	if (rc == FETCH_OK && buf_append_str(fm->out, ")\r\n") < 0)
		rc = FETCH_ERR;
	return rc;
}

/*
 * Whether message i's response streams its whole-message sections (see
 * the top): only the whole message is asked for, and any shape item is
 * served by the cache.  Opens the stream in tail then.
 */
static bool
fetch_streams(struct imap_session *s, const struct fetch_req *req,
              const struct store_msg *m, const struct store_msg_cache *cache,
              struct fetch_tail *tail, struct err *err)
{
	if (!req->needs_body || !req->body_is_whole ||
	    (req->needs_shape && cache == NULL))
		return false;
	tail->item = 0;
	tail->in_literal = false;
	return store_msg_open(s->user, s->box.name, m->uid, &tail->msg, err) ==
	       0;
}

/*
 * Reads message m into msg, up to the end of its header when that is all
 * the request needs (have_cache: its shape items come from the cache):
 * a client listing a folder fetches HEADER.FIELDS of every message, and
 * each of a 20 MB attachment's bytes read, then parsed, was wasted.  The
 * blank line is looked for in chunks up to MIME_MAX_HEADER_BYTES (the
 * parser's own bound, so the header it sees is the same); without one
 * there, the rest of the message follows.
 */
#define FETCH_HEAD_CHUNK (16 * 1024)
static int
fetch_read(struct imap_session *s, const struct fetch_req *req,
           const struct store_msg *m, bool have_cache, struct buf *msg,
           struct err *err)
{
	struct store_stream *st = NULL;
	bool head = true;
	uint64_t size;
	ssize_t n = 0;

	if (!req->body_is_header || (req->needs_shape && !have_cache))
		return store_msg_read(s->user, s->box.name, m->uid, msg, err);
	if (store_msg_open(s->user, s->box.name, m->uid, &st, err) < 0)
		return -1;
	size = store_stream_size(st);
	while (msg->len < size) {
		size_t from = msg->len > 3 ? msg->len - 3 : 0;
		size_t want =
		    head ? FETCH_HEAD_CHUNK : (size_t)(size - msg->len);

		if (size > SIZE_MAX / 2 || buf_reserve(msg, want + 1) < 0) {
			n = err_set(err, ERR_TEMP, "out of memory");
			break;
		}
		n = store_stream_read(st, msg->len, msg->data + msg->len, want,
		                      err);
		if (n <= 0) {
			n = n < 0 ? -1
			          : err_set(err, ERR_IO, "message is short");
			break;
		}
		msg->len += (size_t)n;
		msg->data[msg->len] = '\0';
		if (head && mime_header_complete(msg->data, msg->len, from))
			break;
		head = head && msg->len <= MIME_MAX_HEADER_BYTES;
	}
	store_stream_close(&st);
	return n < 0 ? -1 : 0;
}

/* Writes "* n FETCH (...)" for message index i; with tail->msg open on
 * return its streamed end is still to come (fetch_tail_pump()). */
static enum fetch_rc
fetch_one(struct imap_session *s, const struct fetch_req *req,
          const struct imap_fetch_mods *mods, size_t i, struct buf *msg,
          struct buf *out, struct fetch_tail *tail, struct err *err)
{
	struct store_msg *m = &s->box.msgs[i];
	struct fetch_msg fm = {s, out, msg, NULL, NULL, i, mods, NULL};
	size_t start = out->len;
	struct store_msg_cache cache = {NULL, NULL, NULL};
	struct mime_part *root = NULL;
	enum fetch_rc rc;
	bool changed;

	buf_reset(msg);
	/* Without a cached row (or on any error) the parse below serves. */
	if (req->needs_shape &&
	    (!req->needs_body || req->body_is_whole || req->body_is_header) &&
	    store_msg_cache_get(s->user, s->box.name, m->uid, &cache, err) == 0)
		fm.cache = &cache;
	err_clear(err);
	if (fetch_streams(s, req, m, fm.cache, tail, err)) {
		fm.tail = tail;
	} else if (err->kind != ERR_OK) {
		store_msg_cache_free(&cache);
		return FETCH_ERR;
	} else if (req->needs_body || (req->needs_shape && fm.cache == NULL)) {
		if (fetch_read(s, req, m, fm.cache != NULL, msg, err) < 0) {
			store_msg_cache_free(&cache);
			return FETCH_ERR;
		}
		root = mime_parse(msg->data != NULL ? msg->data : "", msg->len);
		if (root == NULL) {
			store_msg_cache_free(&cache);
			err_set(err, ERR_INTERNAL, "out of memory");
			return FETCH_ERR;
		}
		if (!fetch_cte_ok(req, root)) {
			mime_part_free(&root);
			store_msg_cache_free(&cache);
			return FETCH_UNKNOWN_CTE;
		}
	}
	fm.root = root;
	if (fetch_mark_seen(s, req, m, &changed, err) < 0) {
		store_stream_close(&tail->msg);
		mime_part_free(&root);
		store_msg_cache_free(&cache);
		return FETCH_ERR;
	}
	rc = buf_append_str(out, "* ") < 0 || buf_append_u64(out, i + 1) < 0 ||
	             buf_append_str(out, " FETCH (") < 0
	         ? FETCH_ERR
	         : fetch_items(&fm, req, m, changed);
	/*
	 * Responses are gathered up to FETCH_OUT_BATCH: one conn_write() per
	 * message cost more than the message's own work for FETCH 1:*
	 * (FLAGS) of a large mailbox.
	 */
	if (rc == FETCH_OK && (fm.tail != NULL || out->len >= FETCH_OUT_BATCH))
		imap_resp_flush(s, out);
	else if (rc == FETCH_ERR)
		err_set(err, ERR_INTERNAL, "out of memory");
	if (rc != FETCH_OK) {
		out->len = start; /* the complete ones before it still go */
		store_stream_close(&tail->msg);
	}
	mime_part_free(&root);
	store_msg_cache_free(&cache);
	return rc;
}

/*
 * Starts the next whole-message literal of the tail (1), or ends the
 * response (0); -1 if out of memory.
 */
static int
fetch_tail_next(struct imap_session *s, const struct fetch_req *req,
                struct fetch_tail *tail)
{
	struct buf out = BUF_INIT;
	const struct fetch_item *it;
	uint64_t len;
	int rc = 1;

	while (tail->item < req->count &&
	       !fetch_item_is_whole(&req->items[tail->item]))
		tail->item++;
	if (tail->item == req->count) {
		conn_write(s->c, ")\r\n", 3);
		store_stream_close(&tail->msg);
		return 0;
	}
	it = &req->items[tail->item++];
	len = fetch_partial_range(it, store_stream_size(tail->msg), &tail->pos);
	tail->end = tail->pos + len;
	if ((tail->wrote_item && buf_append(&out, " ", 1) < 0) ||
	    fetch_section_name(&out, it) < 0 ||
	    buf_printf(&out, "{%llu}\r\n", (unsigned long long)len) < 0)
		rc = -1;
	else
		imap_resp_flush(s, &out);
	tail->wrote_item = true;
	tail->in_literal = rc == 1;
	buf_free(&out);
	return rc;
}

/*
 * Writes the tail until the output is full (1) or the response is
 * complete (0).  -1 if the message cannot be read: half a literal cannot
 * be taken back, so the caller closes the connection.
 */
static int
fetch_tail_pump(struct imap_session *s, const struct fetch_req *req,
                struct fetch_tail *tail, struct err *err)
{
	while (tail->msg != NULL) {
		int next = tail->in_literal ? 1 : fetch_tail_next(s, req, tail);

		if (next <= 0)
			return next < 0
			           ? err_set(err, ERR_INTERNAL, "out of memory")
			           : 0;
		while (tail->pos < tail->end) {
			uint64_t want = tail->end - tail->pos;
			ssize_t n;

			if (conn_output_len(s->c) >= CONN_OUTPUT_HIGH)
				return 1;
			if (want > FETCH_STREAM_CHUNK)
				want = FETCH_STREAM_CHUNK;
			buf_reset(&tail->chunk);
			if (buf_reserve(&tail->chunk, (size_t)want) < 0)
				return err_set(err, ERR_INTERNAL,
				               "out of memory");
			n = store_stream_read(tail->msg, tail->pos,
			                      tail->chunk.data, (size_t)want,
			                      err);
			if (n <= 0)
				return n < 0 ? -1
				             : err_set(err, ERR_IO,
				                       "message is short");
			conn_write(s->c, tail->chunk.data, (size_t)n);
			tail->pos += (uint64_t)n;
		}
		tail->in_literal = false;
	}
	return 0;
}

/*
 * A FETCH in progress.  When the queued output passes CONN_OUTPUT_HIGH the
 * FETCH stops after the current message and goes on from the network
 * layer's drained() hook, so a FETCH of many large bodies to a slow client
 * holds about one message in memory, not all of them.
 */
struct imap_fetch_job {
	char *tag;
	bool uid;
	bool no_expunge;
	struct imap_fetch_mods mods;
	struct fetch_req req;
	struct imap_seqset set;
	size_t next; /* index of the next message to look at */
	struct buf msg;
	struct buf out;         /* responses not yet handed to the connection */
	struct fetch_tail tail; /* the streamed end of the current message */
};

void
imap_fetch_job_free(struct imap_fetch_job **jobp)
{
	struct imap_fetch_job *job = *jobp;

	if (job == NULL)
		return;
	imap_seqset_free(&job->set);
	buf_free(&job->msg);
	buf_free(&job->out);
	store_stream_close(&job->tail.msg);
	buf_free(&job->tail.chunk);
	fetch_req_free(&job->req);
	free(job->tag);
	free(job);
	*jobp = NULL;
}

/* Runs the job until it is done or the output is full. */
void
imap_fetch_resume(struct imap_session *s)
{
	struct imap_fetch_job *job = s->fetch_job;
	struct imap_cmd_ctx cx = {.tag = job->tag, .uid = job->uid};
	enum fetch_rc rc = FETCH_OK;
	struct err err;

	while (rc == FETCH_OK &&
	       (job->tail.msg != NULL || job->next < s->box.count)) {
		size_t i;
		int pumped;

		if (job->tail.msg != NULL) {
			pumped =
			    fetch_tail_pump(s, &job->req, &job->tail, &err);
			if (pumped < 0) {
				conn_log(s->c, LOG_LVL_ERROR,
				         "FETCH broken off: %s", err.msg);
				imap_fetch_job_free(&s->fetch_job);
				imap_session_close(s, "cannot read message");
				return;
			}
			if (pumped == 1) {
				conn_wait_drained(s->c);
				return;
			}
			continue;
		}
		i = job->next++;
		if (!imap_mailbox_in_set(s, &cx, &job->set, i) ||
		    imap_condstore_fetch_skip(s, &job->mods, i))
			continue;
		rc = fetch_one(s, &job->req, &job->mods, i, &job->msg,
		               &job->out, &job->tail, &err);
		if (rc == FETCH_OK && job->tail.msg == NULL &&
		    conn_output_len(s->c) > CONN_OUTPUT_HIGH) {
			imap_resp_flush(s, &job->out);
			conn_wait_drained(s->c);
			return;
		}
	}
	imap_resp_flush(s, &job->out);
	/* RFC 9051 7.4.1 holds until the tagged reply, however late. */
	s->no_expunge = job->no_expunge;
	if (rc == FETCH_UNKNOWN_CTE)
		imap_resp_tagged(s, job->tag, IMAP_NO, "UNKNOWN-CTE",
		                 "Cannot decode this part's transfer encoding");
	else if (rc == FETCH_ERR)
		imap_resp_err(s, job->tag, &err);
	else
		imap_resp_tagged(s, job->tag, IMAP_OK, NULL, "%s completed",
		                 job->uid ? "UID FETCH" : "FETCH");
	s->no_expunge = false;
	imap_fetch_job_free(&s->fetch_job);
}

void
imap_cmd_fetch(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	struct imap_fetch_job *job;
	struct err err;

	if ((job = calloc(1, sizeof(*job))) == NULL ||
	    (job->tag = strdup(cx->tag)) == NULL) {
		free(job);
		imap_resp_tagged(s, cx->tag, IMAP_NO, "SERVERBUG",
		                 "Out of memory");
		return;
	}
	job->uid = cx->uid;
	job->no_expunge = s->no_expunge;
	s->fetch_job = job;
	if (fetch_parse(&job->req, cx->args->next, cx->uid) < 0) {
		imap_fetch_job_free(&s->fetch_job);
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "Invalid or unsupported fetch item");
		return;
	}
	/* Answers BAD itself. */
	if (imap_condstore_fetch_parse(s, cx, cx->args->next->next,
	                               &job->mods) < 0) {
		imap_fetch_job_free(&s->fetch_job);
		return;
	}
	if (job->req.has_modseq)
		imap_condstore_enable(s);
	if (imap_mailbox_set(s, cx, cx->args, &job->set) < 0) {
		imap_fetch_job_free(&s->fetch_job);
		return;
	}
	if (cx->uid &&
	    imap_condstore_fetch_vanished(s, &job->mods, &job->set, &err) < 0) {
		imap_resp_err(s, cx->tag, &err);
		imap_fetch_job_free(&s->fetch_job);
		return;
	}
	imap_fetch_resume(s);
}
