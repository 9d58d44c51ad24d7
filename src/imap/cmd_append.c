/*
 * cmd_append: APPEND (RFC 9051 6.3.12) with UIDPLUS (RFC 4315 3:
 * [APPENDUID]), APPENDLIMIT (RFC 7889) and quota refusals (RFC 9208).
 *
 * The message literal reaches the parser in pieces as the network layer
 * receives them (session.c), so the connection's input buffer never holds
 * more than a piece.  A literal larger than max_message_size (advertised
 * as APPENDLIMIT) or than the quota leaves is refused at its header,
 * before the client sends the bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap/cmd.h"
#include "imap/resp.h"
#include "imap/sync.h"

static int
append_digits(const char *s, size_t n, int *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/*
 * date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time
 * SP zone DQUOTE (RFC 9051 9), e.g. " 7-Feb-1994 21:52:25 -0800".
 */
static int
append_parse_date(const char *s, int64_t *t_r)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct tm tm;
	int day, year, hh, mm, ss, zh, zm, sign;
	const char *m;

	if (strlen(s) != 26 || s[2] != '-' || s[6] != '-' || s[11] != ' ' ||
	    s[14] != ':' || s[17] != ':' || s[20] != ' ' ||
	    (s[21] != '+' && s[21] != '-'))
		return -1;
	if (append_digits(s[0] == ' ' ? s + 1 : s, s[0] == ' ' ? 1 : 2, &day) <
	        0 ||
	    append_digits(s + 7, 4, &year) < 0 ||
	    append_digits(s + 12, 2, &hh) < 0 ||
	    append_digits(s + 15, 2, &mm) < 0 ||
	    append_digits(s + 18, 2, &ss) < 0 ||
	    append_digits(s + 22, 2, &zh) < 0 ||
	    append_digits(s + 24, 2, &zm) < 0)
		return -1;
	for (m = months; *m != '\0'; m += 3)
		if (strncasecmp(m, s + 3, 3) == 0)
			break;
	if (*m == '\0' || day < 1 || day > 31 || hh > 23 || mm > 59 ||
	    ss > 60 || zm > 59)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mday = day;
	tm.tm_mon = (int)(m - months) / 3;
	tm.tm_year = year - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	sign = s[21] == '-' ? -1 : 1;
	/* The zone says how far local time is ahead of UTC. */
	*t_r = (int64_t)timegm(&tm) - sign * (int64_t)(zh * 3600 + zm * 60);
	return *t_r > 0 ? 0 : -1;
}

/* flag-list of system flags; keywords are accepted and not kept. */
static int
append_parse_flags(const struct imap_arg *list, uint32_t *flags_r)
{
	*flags_r = 0;
	for (const struct imap_arg *a = list->child; a != NULL; a = a->next) {
		uint32_t bit;

		if (a->type != IMAP_ARG_ATOM)
			return -1;
		if (a->str[0] != '\\')
			continue;
		if ((bit = imap_flag_parse(a->str)) == 0)
			return -1; /* \Recent and unknown system flags */
		*flags_r |= bit;
	}
	return 0;
}

/* Fills msg from the arguments after the mailbox name. */
static int
append_parse(const struct imap_arg *a, struct store_append *msg)
{
	const char *date;

	memset(msg, 0, sizeof(*msg));
	if (a->type == IMAP_ARG_LIST) {
		if (append_parse_flags(a, &msg->flags) < 0)
			return -1;
		a = a->next;
	}
	if (a != NULL && a->type == IMAP_ARG_QUOTED) {
		date = a->str;
		if (append_parse_date(date, &msg->internaldate) < 0)
			return -1;
		a = a->next;
	}
	if (a == NULL || a->type != IMAP_ARG_LITERAL || a->next != NULL)
		return -1;
	msg->data = a->str;
	msg->len = a->len;
	return 0;
}

static void
append_fail(struct imap_session *s, const struct imap_cmd_ctx *cx,
            const struct err *err)
{
	/* RFC 9051 6.3.12: the client may create the mailbox and retry. */
	if (err->kind == ERR_NOTFOUND)
		imap_resp_tagged(s, cx->tag, IMAP_NO, "TRYCREATE",
		                 "No such mailbox");
	else
		imap_resp_err(s, cx->tag, err);
}

void
imap_cmd_append(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	const char *name = imap_box_name(cx->args);
	struct store_append msg;
	uint32_t uidvalidity, uid;
	char code[48];
	struct err err;

	if (name == NULL || append_parse(cx->args->next, &msg) < 0) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "Invalid APPEND arguments");
		return;
	}
	if (store_append(s->user, name, &msg, &uidvalidity, &uid, &err) < 0) {
		append_fail(s, cx, &err);
		return;
	}
	if (s->state == IMAP_STATE_SELECTED && strcmp(name, s->box.name) == 0) {
		struct store_msg m = {
		    .uid = uid,
		    .flags = msg.flags,
		    .size = msg.len,
		    .internaldate = msg.internaldate != 0 ? msg.internaldate
		                                          : (int64_t)time(NULL),
		};

		imap_sync_add_new(s, &m);
	}
	snprintf(code, sizeof(code), "APPENDUID %u %u", uidvalidity, uid);
	imap_resp_tagged(s, cx->tag, IMAP_OK, code, "APPEND completed");
}

bool
imap_append_precheck(struct imap_session *s, const char *tag, uint64_t size)
{
	struct store_quota q;
	struct err err;

	if (s->user == NULL || store_quota_get(s->user, &q, &err) < 0)
		return false; /* the append itself will tell */
	if ((q.bytes_limit != 0 && q.bytes_used + size > q.bytes_limit) ||
	    (q.messages_limit != 0 && q.messages_used + 1 > q.messages_limit)) {
		imap_resp_tagged(s, tag, IMAP_NO, "OVERQUOTA",
		                 "Quota exceeded");
		return true;
	}
	return false;
}
