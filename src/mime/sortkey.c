/*
 * sortkey: the RFC 5256 base subject and the RFC 5322 date, the two
 * computed keys of SORT and THREAD (and of SENTBEFORE/SENTSINCE).
 */
#include <string.h>
#include <strings.h>

#include "mime/mime_private.h"

/* Collapses every run of blanks (tabs included) to one space (5256 2.1 1). */
static void
subj_collapse(struct buf *b)
{
	size_t w = 0;

	for (size_t r = 0; r < b->len; r++) {
		char c = b->data[r] == '\t' ? ' ' : b->data[r];

		if (c == '\r' || c == '\n')
			c = ' ';
		if (c == ' ' && w > 0 && b->data[w - 1] == ' ')
			continue;
		b->data[w++] = c;
	}
	if (b->data != NULL)
		b->data[w] = '\0';
	b->len = w;
}

/* Removes trailing blanks and "(fwd)" (subj-trailer, 5256 2.1 step 2). */
static void
subj_trailers(const char *s, size_t *start, size_t *end)
{
	for (;;) {
		if (*end > *start && s[*end - 1] == ' ')
			(*end)--;
		else if (*end - *start >= 5 &&
		         strncasecmp(s + *end - 5, "(fwd)", 5) == 0)
			*end -= 5;
		else
			return;
	}
}

/* subj-blob = "[" *BLOBCHAR "]" *WSP; returns its length or 0. */
static size_t
subj_blob(const char *s, size_t len)
{
	size_t i = 1;

	if (len == 0 || s[0] != '[')
		return 0;
	while (i < len && s[i] != '[' && s[i] != ']')
		i++;
	if (i >= len || s[i] != ']')
		return 0;
	for (i++; i < len && s[i] == ' '; i++)
		;
	return i;
}

/* *subj-blob subj-refwd, refwd = ("re" / "fw" ["d"]) *WSP [blob] ":". */
static size_t
subj_leader(const char *s, size_t len)
{
	size_t i = 0, n;

	while ((n = subj_blob(s + i, len - i)) > 0)
		i += n;
	if (len - i >= 2 && strncasecmp(s + i, "re", 2) == 0)
		i += 2;
	else if (len - i >= 3 && strncasecmp(s + i, "fwd", 3) == 0)
		i += 3;
	else if (len - i >= 2 && strncasecmp(s + i, "fw", 2) == 0)
		i += 2;
	else
		return 0;
	while (i < len && s[i] == ' ')
		i++;
	i += subj_blob(s + i, len - i);
	return i < len && s[i] == ':' ? i + 1 : 0;
}

/* Steps 3 to 5: leaders and leading blobs, until nothing changes. */
static void
subj_leaders(const char *s, size_t *start, size_t end)
{
	bool changed = true;

	while (changed) {
		size_t n;

		changed = false;
		if (*start < end && s[*start] == ' ') {
			(*start)++;
			changed = true;
		} else if ((n = subj_leader(s + *start, end - *start)) > 0) {
			*start += n;
			changed = true;
		} else if ((n = subj_blob(s + *start, end - *start)) > 0 &&
		           *start + n < end) {
			*start += n; /* step 4: only if something remains */
			changed = true;
		}
	}
}

int
mime_base_subject(struct buf *out, const char *subject, size_t len)
{
	struct buf t = BUF_INIT;
	size_t start = 0, end;
	int rc;

	buf_init(&t, MIME_MAX_HEADER_BYTES);
	if (mime_header_decode(&t, subject, len) < 0) {
		buf_free(&t);
		return -1;
	}
	subj_collapse(&t);
	end = t.len;
	for (;;) {
		subj_trailers(t.data, &start, &end);
		subj_leaders(t.data, &start, end);
		/* Step 6: "[fwd:" ... "]" is unwrapped and examined again. */
		if (end - start >= 6 &&
		    strncasecmp(t.data + start, "[fwd:", 5) == 0 &&
		    t.data[end - 1] == ']') {
			start += 5;
			end--;
			continue;
		}
		break;
	}
	rc = buf_append(out, t.data != NULL ? t.data + start : "", end - start);
	buf_free(&t);
	return rc;
}

struct dcur {
	const char *s;
	size_t len, i;
};

/* Skips blanks, commas and comments (CFWS, leniently). */
static void
date_skip(struct dcur *c)
{
	unsigned depth = 0;

	while (c->i < c->len) {
		char ch = c->s[c->i];

		if (ch == '(')
			depth++;
		else if (ch == ')' && depth > 0)
			depth--;
		else if (depth == 0 && ch != ' ' && ch != '\t' && ch != ',' &&
		         ch != '\r' && ch != '\n')
			return;
		c->i++;
	}
}

/* Up to max digits as a number; *n_r gets how many were read. */
static long
date_num(struct dcur *c, int max, int *n_r)
{
	long v = 0;

	*n_r = 0;
	while (c->i < c->len && *n_r < max && c->s[c->i] >= '0' &&
	       c->s[c->i] <= '9') {
		v = v * 10 + (c->s[c->i++] - '0');
		(*n_r)++;
	}
	return v;
}

/* A run of letters, at most cap - 1 kept. */
static size_t
date_word(struct dcur *c, char *w, size_t cap)
{
	size_t n = 0;

	while (c->i < c->len && ((c->s[c->i] | 0x20) >= 'a') &&
	       ((c->s[c->i] | 0x20) <= 'z')) {
		if (n + 1 < cap)
			w[n++] = c->s[c->i];
		c->i++;
	}
	w[n] = '\0';
	return n;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's). */
static int64_t
date_days(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The zone offset in seconds east of UTC (RFC 5322 3.3, 4.3). */
static long
date_zone(struct dcur *c)
{
	static const struct {
		const char *name;
		int hours;
	} zones[] = {{"UT", 0},   {"GMT", 0},  {"Z", 0},    {"EST", -5},
	             {"EDT", -4}, {"CST", -6}, {"CDT", -5}, {"MST", -7},
	             {"MDT", -6}, {"PST", -8}, {"PDT", -7}};
	char w[8];
	int n;

	date_skip(c);
	if (c->i < c->len && (c->s[c->i] == '+' || c->s[c->i] == '-')) {
		long sign = c->s[c->i++] == '-' ? -1 : 1;
		long v = date_num(c, 4, &n);

		return n == 4 ? sign * ((v / 100) * 3600 + (v % 100) * 60) : 0;
	}
	date_word(c, w, sizeof(w));
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		if (strcasecmp(w, zones[i].name) == 0)
			return zones[i].hours * 3600L;
	return 0; /* unknown zones count as UTC (4.3) */
}

/* The month from its English abbreviation, 1..12, or 0. */
static int
date_month(const char *w)
{
	static const char names[][4] = {"jan", "feb", "mar", "apr",
	                                "may", "jun", "jul", "aug",
	                                "sep", "oct", "nov", "dec"};

	for (int i = 0; i < 12; i++)
		if (strncasecmp(w, names[i], 3) == 0)
			return i + 1;
	return 0;
}

int
mime_date_parse(const char *s, size_t len, int64_t *utc_r, int64_t *day_r)
{
	struct dcur c = {s, len, 0};
	long day, year, hh, mm, ss = 0;
	int n, month;
	char w[16];

	date_skip(&c);
	if (date_word(&c, w, sizeof(w)) > 0) /* day-of-week */
		date_skip(&c);
	day = date_num(&c, 2, &n);
	if (n == 0)
		return -1;
	date_skip(&c);
	if (c.i < c.len && c.s[c.i] == '-') /* "12-Jan-2024" */
		c.i++;
	date_word(&c, w, sizeof(w));
	if ((month = date_month(w)) == 0 || day < 1 || day > 31)
		return -1;
	if (c.i < c.len && c.s[c.i] == '-')
		c.i++;
	date_skip(&c);
	year = date_num(&c, 4, &n);
	if (n == 0)
		return -1;
	if (n == 2) /* obs-year, RFC 5322 4.3 */
		year += year < 50 ? 2000 : 1900;
	else if (n == 3)
		year += 1900;
	date_skip(&c);
	hh = date_num(&c, 2, &n);
	if (n == 0 || c.i >= c.len || c.s[c.i++] != ':')
		return -1;
	mm = date_num(&c, 2, &n);
	if (n == 0 || hh > 23 || mm > 59)
		return -1;
	if (c.i < c.len && c.s[c.i] == ':') {
		c.i++;
		ss = date_num(&c, 2, &n);
		if (n == 0 || ss > 60)
			return -1;
	}
	*day_r = date_days(year, month, day) * 86400;
	*utc_r = *day_r + hh * 3600 + mm * 60 + ss - date_zone(&c);
	return 0;
}
