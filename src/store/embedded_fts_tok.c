/*
 * embedded_fts_tok: the tokenizer of fts.db's msg_text, "pa_trigram":
 * SQLite's trigram tokenizer, with each trigram given once per value.
 *
 * The index keeps no positions (detail=none, embedded_fts.c), so a
 * trigram that comes again in the same text adds nothing to it, yet FTS5
 * pays for every token it is handed (about 60 ns each here): 35 KB of
 * English prose are 35,000 tokens but 3,144 distinct ones (measured
 * 2.13 ms to index against 0.28 ms for the distinct ones), a 100 KB
 * repetitive body 90,000 tokens and 39 distinct ones.  So a document's
 * tokens (FTS5_TOKENIZE_DOCUMENT: inserting and the 'delete' command
 * alike, so both see the same set) pass through a set first; a query's
 * are left as they are.  The set is bounded: past FTS_TOK_SLOTS / 2
 * distinct tokens the rest pass unfiltered, which is correct, only
 * slower.
 *
 * Most text is ASCII, and there the trigram tokenizer's own work (UTF-8
 * decoding and Unicode case folding of every character, about 40 % of a
 * 100 KiB delivery's CPU with the set's hashing) is a lower-casing of
 * bytes.  So a document of ASCII bytes other than NUL is cut into
 * trigrams here: the same tokens the trigram tokenizer gives (with no
 * arguments: folded, each 3-byte window [i, i + 3)), each once, found in
 * a bit per possible trigram (7 bits a byte: 2^21 bits).  Any other
 * document, or a tokenizer made with arguments, goes the general way.
 */
#include "store/embedded_private.h"

#include <stdlib.h>
#include <string.h>

/* Open-addressing slots of the per-value set (16 bytes each). */
#define FTS_TOK_SLOTS (128 * 1024)
/* A trigram is 3 characters of at most 4 bytes of UTF-8. */
#define FTS_TOK_KEY 15

struct fts_tok_slot {
	uint8_t len; /* 0: empty */
	char key[FTS_TOK_KEY];
};

/* Bits of the ASCII set: one per 3 x 7-bit trigram. */
#define FTS_TOK_ASCII_BITS (1u << 21)
/* Set bits remembered for clearing; past that the set is cleared whole. */
#define FTS_TOK_ASCII_SEEN 4096

struct fts_tok {
	fts5_tokenizer inner;    /* the trigram tokenizer's methods */
	Fts5Tokenizer *inner_tk; /* and its instance */
	bool ascii_ok;           /* made without arguments: the fast path */
	uint64_t *bits;          /* the ASCII set, allocated on first use */
	uint32_t seen[FTS_TOK_ASCII_SEEN];
};

/* One xTokenize() call: where the tokens go, and the set. */
struct fts_tok_call {
	void *ctx;
	int (*token)(void *, int, const char *, int, int, int);
	struct fts_tok_slot *slots;
	size_t used, cap;
};

/* True the first time key is seen in this call (or the set is full). */
static bool
fts_tok_first(struct fts_tok_call *c, const char *key, int len)
{
	uint32_t h = 2166136261u;
	size_t i;

	if (len <= 0 || len > FTS_TOK_KEY || c->used >= c->cap / 2)
		return true;
	for (int k = 0; k < len; k++)
		h = (h ^ (uint8_t)key[k]) * 16777619u;
	for (i = h & (c->cap - 1); c->slots[i].len != 0;
	     i = (i + 1) & (c->cap - 1))
		if (c->slots[i].len == len &&
		    memcmp(c->slots[i].key, key, (size_t)len) == 0)
			return false;
	c->slots[i].len = (uint8_t)len;
	memcpy(c->slots[i].key, key, (size_t)len);
	c->used++;
	return true;
}

static int
fts_tok_token(void *arg, int tflags, const char *token, int len, int start,
              int end)
{
	struct fts_tok_call *c = arg;

	if (!fts_tok_first(c, token, len))
		return SQLITE_OK;
	return c->token(c->ctx, tflags, token, len, start, end);
}

/* Slots for a text of n bytes: a power of two, at most FTS_TOK_SLOTS. */
static size_t
fts_tok_cap(int n)
{
	size_t cap = 64;

	while (cap < FTS_TOK_SLOTS && cap < (size_t)n * 2)
		cap *= 2;
	return cap;
}

/* True if text is all ASCII and has no NUL (which ends the tokenizer's). */
static bool
fts_tok_is_ascii(const char *text, int n)
{
	const uint64_t ones = 0x0101010101010101u, highs = ones << 7;
	int i = 0;

	/* Eight bytes at a time: a high bit set, or a zero byte. */
	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, text + i, sizeof(w));
		if ((w & highs) != 0 || ((w - ones) & ~w & highs) != 0)
			return false;
	}
	for (; i < n; i++)
		if ((uint8_t)text[i] - 1u >= 0x7fu)
			return false;
	return true;
}

/* The trigram tokenizer's folding of an ASCII byte, without a branch. */
static inline uint32_t
fts_tok_fold(uint8_t ch)
{
	return ch + ((uint32_t)((uint32_t)ch - 'A' < 26u) << 5);
}

/* Marks a trigram seen (for clearing) and hands it on; the rare path. */
static __attribute__((noinline)) int
fts_tok_ascii_new(struct fts_tok *t, size_t *nseen, uint32_t key, int end,
                  void *ctx,
                  int (*token)(void *, int, const char *, int, int, int))
{
	char tri[3];

	t->bits[key >> 6] |= (uint64_t)1 << (key & 63);
	if (*nseen < FTS_TOK_ASCII_SEEN)
		t->seen[*nseen] = key;
	(*nseen)++;
	tri[0] = (char)(key >> 14);
	tri[1] = (char)(key >> 7 & 0x7f);
	tri[2] = (char)(key & 0x7f);
	return token(ctx, 0, tri, 3, end - 3, end);
}

/*
 * An ASCII document's distinct trigrams, each handed on once.  The loop
 * is the cost of a large text (a 100 KiB body is 100 KiB of it, nearly
 * every trigram one seen before): one shift, fold and bit test a byte,
 * with the new-trigram work kept out of it so its values stay in
 * registers (11 % of a 100 KiB SMTP delivery's CPU before).
 */
static int
fts_tok_ascii(struct fts_tok *t, void *ctx, const char *text, int n,
              int (*token)(void *, int, const char *, int, int, int))
{
	const uint8_t *p = (const uint8_t *)text;
	const uint64_t *bits = t->bits;
	size_t nseen = 0;
	uint32_t key;
	int rc = SQLITE_OK;

	if (n < 3)
		return SQLITE_OK;
	key = fts_tok_fold(p[0]) << 7 | fts_tok_fold(p[1]);
	for (int i = 2; i < n; i++) {
		key = ((key << 7) | fts_tok_fold(p[i])) &
		      (FTS_TOK_ASCII_BITS - 1);
		if (__builtin_expect((bits[key >> 6] >> (key & 63)) & 1, 1))
			continue;
		rc = fts_tok_ascii_new(t, &nseen, key, i + 1, ctx, token);
		if (rc != SQLITE_OK)
			break;
	}
	if (nseen > FTS_TOK_ASCII_SEEN)
		memset(t->bits, 0, FTS_TOK_ASCII_BITS / 8);
	else
		for (size_t k = 0; k < nseen; k++)
			t->bits[t->seen[k] >> 6] = 0;
	return rc;
}

static int
fts_tok_tokenize(Fts5Tokenizer *tk, void *ctx, int flags, const char *text,
                 int n, int (*token)(void *, int, const char *, int, int, int))
{
	struct fts_tok *t = (struct fts_tok *)tk;
	struct fts_tok_call c = {.ctx = ctx, .token = token};
	int rc;

	if (!(flags & FTS5_TOKENIZE_DOCUMENT))
		return t->inner.xTokenize(t->inner_tk, ctx, flags, text, n,
		                          token);
	if (t->ascii_ok && fts_tok_is_ascii(text, n)) {
		if (t->bits == NULL &&
		    (t->bits = calloc(FTS_TOK_ASCII_BITS / 64,
		                      sizeof(*t->bits))) == NULL)
			return SQLITE_NOMEM;
		return fts_tok_ascii(t, ctx, text, n, token);
	}
	c.cap = fts_tok_cap(n);
	if ((c.slots = calloc(c.cap, sizeof(*c.slots))) == NULL)
		return SQLITE_NOMEM;
	rc = t->inner.xTokenize(t->inner_tk, &c, flags, text, n, fts_tok_token);
	free(c.slots);
	return rc;
}

static void
fts_tok_delete(Fts5Tokenizer *tk)
{
	struct fts_tok *t = (struct fts_tok *)tk;

	if (t == NULL)
		return;
	if (t->inner_tk != NULL)
		t->inner.xDelete(t->inner_tk);
	free(t->bits);
	free(t);
}

/* The trigram tokenizer, made with the arguments given to ours. */
static int
fts_tok_create(void *arg, const char **av, int ac, Fts5Tokenizer **out)
{
	fts5_api *api = arg;
	struct fts_tok *t = calloc(1, sizeof(*t));
	void *data = NULL;
	int rc;

	*out = NULL;
	if (t == NULL)
		return SQLITE_NOMEM;
	rc = api->xFindTokenizer(api, "trigram", &data, &t->inner);
	if (rc == SQLITE_OK)
		rc = t->inner.xCreate(data, av, ac, &t->inner_tk);
	if (rc != SQLITE_OK) {
		t->inner_tk = NULL;
		fts_tok_delete((Fts5Tokenizer *)t);
		return rc;
	}
	t->ascii_ok = ac == 0;
	*out = (Fts5Tokenizer *)t;
	return SQLITE_OK;
}

int
embedded_fts_tok_register(sqlite3 *db, struct err *err)
{
	static fts5_tokenizer methods = {fts_tok_create, fts_tok_delete,
	                                 fts_tok_tokenize};
	fts5_api *api = NULL;
	fts5_tokenizer found;
	void *data;
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL);

	if (rc != SQLITE_OK)
		return err_set(err, ERR_IO, "store: no FTS5: %s",
		               sqlite3_errmsg(db));
	sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
	sqlite3_step(st);
	sqlite3_finalize(st);
	if (api == NULL)
		return err_set(err, ERR_IO, "store: no FTS5 API");
	/* Once per connection (each registration would add an entry). */
	if (api->xFindTokenizer(api, "pa_trigram", &data, &found) == SQLITE_OK)
		return 0;
	rc = api->xCreateTokenizer(api, "pa_trigram", api, &methods, NULL);
	return rc == SQLITE_OK ? 0
	                       : err_set(err, ERR_IO, "store: tokenizer: %s",
	                                 sqlite3_errstr(rc));
}
