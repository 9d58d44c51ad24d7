/*
 * mime: the bounded streaming MIME structure parser (RFC 2045, 2046, 5322)
 * and what IMAP computes from it (RFC 9051 7.5.2, RFC 3501 7.4.2):
 * ENVELOPE, BODY, BODYSTRUCTURE and the byte ranges of every section.
 *
 * Pure code, no I/O: feed the message's bytes in chunks of any size, then
 * take the tree.  Every dimension is bounded by a named limit, so hostile
 * input (deep nesting, huge part counts, endless headers) costs bounded
 * memory and linear time; past a limit the structure is best-effort
 * (see the limits below for what happens).
 */
#ifndef POSTAMT_MIME_MIME_H
#define POSTAMT_MIME_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/*
 * Named limits (each becomes a config key once the parser is configurable).
 * MIME_MAX_DEPTH: multipart and message/rfc822 nesting; a part nested
 * deeper is described as text/plain (RFC 2045 5.2's default) and its body
 * is not descended into.
 */
#define MIME_MAX_DEPTH 50
/* Parts in one message; later boundaries are taken as body text. */
#define MIME_MAX_PARTS 10000
/* Bytes of one header block; fields after it are not kept. */
#define MIME_MAX_HEADER_BYTES (1024 * 1024)
/* Lines of one header block; fields after it are not kept. */
#define MIME_MAX_HEADER_LINES 10000
/* Field bytes kept over the whole message; later fields are dropped. */
#define MIME_MAX_KEPT_BYTES (4 * 1024 * 1024)
/* Parameters read from one Content-Type or Content-Disposition field. */
#define MIME_MAX_PARAMS 64

/* The header fields the parser keeps (first occurrence wins). */
enum mime_field {
	MIME_F_CONTENT_TYPE,
	MIME_F_CONTENT_TRANSFER_ENCODING,
	MIME_F_CONTENT_ID,
	MIME_F_CONTENT_DESCRIPTION,
	MIME_F_CONTENT_DISPOSITION,
	MIME_F_CONTENT_LANGUAGE,
	MIME_F_CONTENT_LOCATION,
	MIME_F_CONTENT_MD5,
	MIME_F_DATE,
	MIME_F_SUBJECT,
	MIME_F_FROM,
	MIME_F_SENDER,
	MIME_F_REPLY_TO,
	MIME_F_TO,
	MIME_F_CC,
	MIME_F_BCC,
	MIME_F_IN_REPLY_TO,
	MIME_F_MESSAGE_ID,
	MIME_F_COUNT
};

enum mime_kind {
	MIME_LEAF,      /* any single part */
	MIME_MULTIPART, /* children are the body parts */
	MIME_MESSAGE,   /* message/rfc822 or message/global: one child */
};

/*
 * One node.  The root is the message itself; a message/rfc822 part has one
 * child, the encapsulated message.  Offsets are from the start of the
 * message: the header is [hdr_off, body_off), the body [body_off, end).
 * For a part of a multipart, end stops before the CRLF that precedes the
 * next boundary (RFC 2046 5.1.1: that CRLF belongs to the boundary).
 * Field values are unfolded (CR and LF removed), trimmed, NUL-free.
 */
struct mime_part {
	enum mime_kind kind;
	uint64_t hdr_off, body_off, end;
	uint64_t body_lines; /* lines of text in the body */
	char *field[MIME_F_COUNT];
	size_t field_len[MIME_F_COUNT];
	bool
	    default_rfc822; /* in multipart/digest: default type (2046 5.1.5) */
	bool flattened;     /* too deep or malformed: described as text/plain */
	struct mime_part *parent, *child, *next;
	size_t nchildren;
};

struct mime_parser;

/* Returns a new parser, or NULL if out of memory. */
struct mime_parser *mime_parser_new(void);

/*
 * Feeds the next len bytes of the message.  Returns 0, or -1 if out of
 * memory (the parser is then unusable; free it).
 */
int mime_parser_feed(struct mime_parser *p, const void *data, size_t len);

/*
 * Ends the input and returns the tree (owned by the caller, freed with
 * mime_part_free()), or NULL if out of memory.  Frees the parser.
 */
struct mime_part *mime_parser_finish(struct mime_parser **p);

/* Frees the parser without a result (after an error). */
void mime_parser_free(struct mime_parser **p);

/* Parses a whole message at once.  NULL if out of memory. */
struct mime_part *mime_parse(const void *data, size_t len);

/*
 * Whether msg[0, len) holds the blank line that ends the top-level header
 * as the parser sees it (a line of nothing but LF or CRLF), looking from
 * offset from on (a caller reading in chunks passes where the last chunk
 * ended, less 3).  Then mime_parse() of just those bytes gives the same
 * header as of the whole message.
 */
bool mime_header_complete(const char *msg, size_t len, size_t from);

/* Frees a tree from mime_parser_finish(); *root becomes NULL. */
void mime_part_free(struct mime_part **root);

/* Octets of a part's body (end - body_off), as BODYSTRUCTURE reports. */
uint64_t mime_part_body_size(const struct mime_part *part);

/*
 * Appends the ENVELOPE of message node msg (the root or the child of a
 * message/rfc822 part), RFC 9051 7.5.2: raw field values, addresses split
 * per RFC 5322 3.4.  Returns 0 or -1 (buffer limit or memory).
 */
int mime_envelope_write(struct buf *out, const struct mime_part *msg);

/*
 * Appends the BODYSTRUCTURE (extended true) or BODY (false) of the body of
 * message node msg.  Returns 0 or -1.
 */
int mime_bodystructure_write(struct buf *out, const struct mime_part *msg,
                             bool extended);

/* Section texts, RFC 9051 6.4.5 "section-msgtext" / "section-text". */
enum mime_section_text {
	MIME_SEC_NONE,          /* BODY[1.2]: the part's body */
	MIME_SEC_HEADER,        /* BODY[1.2.HEADER] */
	MIME_SEC_HEADER_FIELDS, /* ... with a list of names */
	MIME_SEC_HEADER_FIELDS_NOT,
	MIME_SEC_TEXT, /* BODY[1.2.TEXT] */
	MIME_SEC_MIME, /* BODY[1.2.MIME] */
};

/*
 * Resolves the part numbers nums[0..n) (n may be 0: the whole message)
 * and a section text to a node, following RFC 9051 6.4.5: part 1 of a
 * non-multipart message is its body; HEADER, TEXT and HEADER.FIELDS need
 * the root or a message/rfc822 part (they then address the encapsulated
 * message); MIME needs part numbers.  *part_r gets the node whose range is
 * meant and *header_r whether its header (true) or body is meant.
 * Returns 0, or -1 if the section does not exist.
 */
int mime_section_find(const struct mime_part *root, const uint32_t *nums,
                      size_t n, enum mime_section_text text,
                      const struct mime_part **part_r, bool *header_r);

/*
 * Whether a message's header (up to the first empty line, or all of it if
 * there is none) is ASCII only: what POP3 (RFC 6856 2.1) and IMAP APPEND
 * (RFC 6855 4) must know before UTF-8 in a header is allowed.  The scan
 * takes the message in pieces: feed them in order until
 * mime_header_scan_feed() returns true (the header ended or had an 8-bit
 * byte); then, or after the last piece, ascii holds the answer.
 */
struct mime_header_scan {
	size_t line_len; /* bytes of the current line, CR not counted */
	bool done;
	bool ascii;
};
void mime_header_scan_init(struct mime_header_scan *hs);
bool mime_header_scan_feed(struct mime_header_scan *hs, const char *p,
                           size_t n);
bool mime_header_is_ascii(const char *msg, size_t len);

/*
 * Appends the fields of header block hdr (len bytes, ending with its blank
 * line or not) whose names are (not, when exclude) among names[0..count),
 * compared without case, followed by CRLF (RFC 9051 6.4.5: the blank line
 * is part of the result).  Returns 0 or -1.
 */
int mime_header_filter(struct buf *out, const char *hdr, size_t len,
                       const char *const *names, size_t count, bool exclude);

/* Content-Transfer-Encodings BINARY can undo (RFC 3516 4.2). */
enum mime_cte {
	MIME_CTE_IDENTITY, /* 7bit, 8bit, binary or none */
	MIME_CTE_BASE64,
	MIME_CTE_QP,
	MIME_CTE_UNKNOWN, /* BINARY answers NO [UNKNOWN-CTE] */
};

/* The encoding of a part from its Content-Transfer-Encoding field. */
enum mime_cte mime_part_cte(const struct mime_part *part);

/*
 * Appends the decoded form of len bytes in encoding cte.  Bad base64
 * characters are skipped (RFC 2045 6.8); a broken quoted-printable escape
 * is kept as it is (RFC 2045 6.7 note 1).  Returns 0 or -1 (buffer limit,
 * memory, or MIME_CTE_UNKNOWN).
 */
int mime_decode_cte(struct buf *out, enum mime_cte cte, const char *in,
                    size_t len);

/*
 * Appends text (a header value) with its RFC 2047 encoded-words decoded to
 * UTF-8 through iconv; whitespace between adjacent encoded-words is dropped
 * (6.2).  An encoded-word that cannot be decoded (unknown charset, bad
 * encoding) is kept as it is.  Returns 0 or -1 (buffer limit or memory).
 */
int mime_header_decode(struct buf *out, const char *text, size_t len);

/*
 * Appends the RFC 2231 extended value "charset'lang'%xx..." decoded to
 * UTF-8.  An unknown charset or bad escape keeps the raw bytes.
 * Returns 0 or -1.
 */
int mime_param_decode(struct buf *out, const char *value, size_t len);

/*
 * Converts len bytes in charset to UTF-8 (iconv; invalid sequences become
 * U+FFFD).  Returns 0, 1 if the charset is unknown (nothing appended), or
 * -1 on a buffer limit or memory error.
 */
int mime_charset_to_utf8(struct buf *out, const char *charset, const char *in,
                         size_t len);

/*
 * The searchable text of a message (text.c), for the full-text index:
 * into hdr every header field of the message's top-level header as
 * "name: value\n" with folding undone and RFC 2047 words decoded; into
 * body the text of every part of type text (and the headers of encapsulated
 * messages), transfer encoding undone and converted from its charset to
 * UTF-8.  hdr stops at hdr_cap bytes and body at body_cap (on a UTF-8
 * character boundary); a text part beyond body_cap is not decoded where
 * its bytes are its text.  msg is the message parsed into root.  Returns
 * 0 or -1 (memory).
 */
int mime_search_text(const char *msg, size_t len, const struct mime_part *root,
                     size_t hdr_cap, size_t body_cap, struct buf *hdr,
                     struct buf *body);

/*
 * True if the body text mime_search_text() gives for root is the message's
 * body as it is, and a newline: one text part, no transfer encoding to
 * undo, a charset that is UTF-8 already (most plain mail).
 */
bool mime_text_is_raw(const struct mime_part *root);

/*
 * Appends the unfolded raw value of the first field called name in the
 * header block hdr (len bytes), without leading blanks.  Returns 1 if the
 * field was found, 0 if not, -1 on a buffer error.
 */
int mime_header_get(struct buf *out, const char *hdr, size_t len,
                    const char *name);

/*
 * Appends the RFC 5256 2.1 base subject of a raw Subject value (decoded to
 * UTF-8, "Re:", "Fwd:", "[blob]" leaders and "(fwd)" trailers removed,
 * blanks collapsed).  Returns 0 or -1.
 */
int mime_base_subject(struct buf *out, const char *subject, size_t len);

/*
 * Parses an RFC 5322 3.3 date-time (obsolete forms too: two-digit years,
 * named zones, missing seconds).  *utc_r gets the instant in seconds since
 * the epoch and *day_r the start (00:00 UTC) of the calendar date as
 * written, which SENTBEFORE/SENTON/SENTSINCE compare (RFC 9051 6.4.4).
 * Returns 0, or -1 if s is not a date.
 */
int mime_date_parse(const char *s, size_t len, int64_t *utc_r, int64_t *day_r);

/*
 * The first mailbox of an address list (groups are entered): its local
 * part into local (RFC 5256 addr-mailbox) and into display its display
 * name decoded from RFC 2047, or "local@domain" if it has none (RFC 5957).
 * Returns 1 if there was one, 0 if not, -1 on a buffer error.
 */
int mime_addr_first(const char *v, size_t len, struct buf *local,
                    struct buf *display);

#endif
