/*
 * cmd_append: APPEND (RFC 9051 6.3.12) with UIDPLUS (RFC 4315 3:
 * [APPENDUID]), APPENDLIMIT (RFC 7889) and quota refusals (RFC 9208).
 *
 * The message literal reaches the parser in pieces as the network layer
 * receives them (session.c), so the connection's input buffer never holds
 * more than a piece.  A literal larger than max_message_size (advertised
 * as APPENDLIMIT) or than the quota leaves is refused at its header,
 * before the client sends the bytes.  The store call runs on a worker
 * thread (conn_run_blocking()), so its fsyncs do not stall other sessions
 * and concurrent APPENDs share them (group commit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap/cmd.h"
#include "imap/resp.h"
#include "imap/sync.h"
#include "mime/mime.h"

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

/* Keyword names in one APPEND (each distinct one needs a bit anyway). */
#define APPEND_KEYWORDS_MAX 64

/* The keywords of an APPEND's flag-list, turned into bits afterwards. */
struct append_keywords {
	const char *name[APPEND_KEYWORDS_MAX];
	size_t n;
};

/* flag-list: system flags as bits, keyword names collected into kw. */
static int
append_parse_flags(const struct imap_arg *list, uint32_t *flags_r,
                   struct append_keywords *kw)
{
	*flags_r = 0;
	for (const struct imap_arg *a = list->child; a != NULL; a = a->next) {
		uint32_t bit;

		if (a->type != IMAP_ARG_ATOM)
			return -1;
		if (a->str[0] != '\\') {
			if (!store_keyword_valid(a->str) ||
			    kw->n == APPEND_KEYWORDS_MAX)
				return -1;
			kw->name[kw->n++] = a->str;
			continue;
		}
		if ((bit = imap_flag_parse(a->str)) == 0)
			return -1; /* \Recent and unknown system flags */
		*flags_r |= bit;
	}
	return 0;
}

/*
 * Fills msg from the arguments after the mailbox name; *utf8_r if the
 * message came as RFC 6855 4's utf8-literal, "UTF8" SP "(" literal8 ")".
 * A bare literal8 (RFC 3516 4.4: BINARY) is taken like a literal: the
 * store keeps any bytes as they are.
 */
static int
append_parse(const struct imap_arg *a, struct store_append *msg,
             struct append_keywords *kw, bool *utf8_r)
{
	const char *date;

	memset(msg, 0, sizeof(*msg));
	kw->n = 0;
	*utf8_r = false;
	if (a->type == IMAP_ARG_LIST) {
		if (append_parse_flags(a, &msg->flags, kw) < 0)
			return -1;
		a = a->next;
	}
	if (a != NULL && a->type == IMAP_ARG_QUOTED) {
		date = a->str;
		if (append_parse_date(date, &msg->internaldate) < 0)
			return -1;
		a = a->next;
	}
	if (a != NULL && a->type == IMAP_ARG_ATOM &&
	    strcasecmp(a->str, "UTF8") == 0) {
		a = a->next;
		if (a == NULL || a->type != IMAP_ARG_LIST || a->next != NULL ||
		    a->child == NULL || !a->child->literal8)
			return -1;
		a = a->child;
		*utf8_r = true;
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

/*
 * An APPEND running on a worker thread: the blob fsync and the index
 * commit must not stall the event loop.  The job owns copies of what the
 * parser held, since the parser is reset when the handler returns.
 */
struct append_job {
	struct store_user *user; /* the session's; idle on the loop meanwhile */
	char *tag, *name;
	struct store_append msg; /* msg.data is owned */
	uint32_t uidvalidity, uid;
	int rc;
	struct err err;
};

static void
append_job_free(struct append_job *job)
{
	free(job->tag);
	free(job->name);
	free((void *)job->msg.data);
	free(job);
}

static struct append_job *
append_job_new(struct imap_session *s, const struct imap_cmd_ctx *cx,
               const char *name, const struct store_append *msg)
{
	struct append_job *job = calloc(1, sizeof(*job));
	void *data;

	if (job == NULL)
		return NULL;
	job->user = s->user;
	job->msg = *msg;
	job->tag = strdup(cx->tag);
	job->name = strdup(name);
	/* +1: an empty literal still gets a non-NULL pointer. */
	data = malloc(msg->len + 1);
	if (data != NULL)
		memcpy(data, msg->data, msg->len);
	job->msg.data = data;
	if (job->tag == NULL || job->name == NULL || data == NULL) {
		append_job_free(job);
		return NULL;
	}
	return job;
}

/* On a worker thread: touches only the job and the session's handle. */
static void
append_work(void *arg)
{
	struct append_job *job = arg;

	job->rc = store_append(job->user, job->name, &job->msg,
	                       &job->uidvalidity, &job->uid, &job->err);
}

/*
 * On the loop thread.  Runs even when the client went away meanwhile (the
 * replies are then dropped); the session is freed only after it.
 */
static void
append_done(void *session, void *arg)
{
	struct imap_session *s = session;
	struct append_job *job = arg;
	struct imap_cmd_ctx cx = {.tag = job->tag, .name = "APPEND"};
	char code[48];

	/* Changes of other sessions first, in commit order (store.h). */
	store_flush_changes(s->svc->store);
	if (job->rc < 0) {
		append_fail(s, &cx, &job->err);
	} else {
		if (s->state == IMAP_STATE_SELECTED &&
		    strcmp(job->name, s->box.name) == 0) {
			struct store_msg m = {
			    .uid = job->uid,
			    .flags = job->msg.flags,
			    .size = job->msg.len,
			    .internaldate = job->msg.internaldate != 0
			                        ? job->msg.internaldate
			                        : (int64_t)time(NULL),
			};

			imap_sync_add_new(s, &m);
		}
		snprintf(code, sizeof(code), "APPENDUID %u %u",
		         job->uidvalidity, job->uid);
		imap_resp_tagged(s, job->tag, IMAP_OK, code,
		                 "APPEND completed");
	}
	append_job_free(job);
}

void
imap_cmd_append(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	const char *name = imap_box_name(cx->args);
	struct append_keywords kw;
	struct store_append msg;
	struct append_job *job;
	uint32_t bits = 0;
	struct err err;
	bool utf8;

	if (name == NULL ||
	    append_parse(cx->args->next, &msg, &kw, &utf8) < 0) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "Invalid APPEND arguments");
		return;
	}
	/*
	 * RFC 6855 4: without ENABLE UTF8=ACCEPT, 8-bit header fields are
	 * refused; they come in the UTF8 form.  IMAP4rev2 allows them in
	 * any APPEND (RFC 9051 6.3.12).
	 */
	if (!utf8 && !s->utf8_accept && !s->rev2 &&
	    !mime_header_is_ascii(msg.data, msg.len)) {
		imap_resp_tagged(s, cx->tag, IMAP_NO, NULL,
		                 "8-bit header fields need ENABLE UTF8=ACCEPT "
		                 "and APPEND UTF8 (RFC 6855)");
		return;
	}
	/* On this thread: a short transaction only when keywords are new. */
	if (kw.n > 0 &&
	    store_keyword_bits(s->user, kw.name, kw.n, true, &bits, &err) < 0) {
		imap_resp_err(s, cx->tag, &err);
		return;
	}
	msg.flags |= bits;
	if ((job = append_job_new(s, cx, name, &msg)) == NULL) {
		imap_resp_tagged(s, cx->tag, IMAP_NO, "SERVERBUG",
		                 "Out of memory");
		return;
	}
	/* No worker pool (or it is stopping): the same job, inline. */
	if (conn_run_blocking(s->c, append_work, append_done, job) < 0) {
		append_work(job);
		append_done(s, job);
	}
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
