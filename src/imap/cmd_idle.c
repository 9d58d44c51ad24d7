/*
 * cmd_idle: IDLE (RFC 2177, RFC 9051 6.3.13).
 *
 * While a session idles, the change feed reports other sessions' changes
 * to it at once (sync.c); the session reads no commands, only the "DONE"
 * line that ends the IDLE.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/cmd.h"
#include "imap/resp.h"
#include "imap/sync.h"
#include "util/log.h"

void
imap_cmd_idle(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	s->idle_tag = strdup(cx->tag);
	if (s->idle_tag == NULL) {
		imap_resp_tagged(s, cx->tag, IMAP_NO, "SERVERBUG",
		                 "Out of memory");
		return;
	}
	conn_printf(s->c, "+ idling\r\n");
	/* What was waiting goes out now: EXPUNGE is allowed while idling. */
	imap_sync_report(s, true);
	imap_idle_rest(s);
}

void
imap_idle_rest(struct imap_session *s)
{
	/*
	 * An idling session may wait for hours: its handle gives up its
	 * database connection (store_user_rest()), so 10,000 of them hold
	 * neither SQLite's memory nor three descriptors each.  Reports of
	 * other sessions' changes need none (keyword names excepted, which
	 * wake it: then it rests again after each report).
	 */
	if (s->user != NULL)
		store_user_rest(s->user);
}

void
imap_cmd_idle_done(struct imap_session *s, const char *line, size_t len)
{
	char *tag = s->idle_tag;
	struct err err;

	s->idle_tag = NULL;
	if (s->user != NULL && store_user_wake(s->user, &err) < 0) {
		log_warn("imap: %s: %s", s->username, err.msg);
		imap_resp_untagged(s, "BYE [UNAVAILABLE] Storage unavailable");
		imap_session_close(s, "store unavailable");
		free(tag);
		return;
	}
	if (len == 4 && strncasecmp(line, "DONE", 4) == 0)
		imap_resp_tagged(s, tag, IMAP_OK, NULL, "IDLE terminated");
	else
		imap_resp_tagged(s, tag, IMAP_BAD, NULL,
		                 "Expected DONE to end IDLE");
	free(tag);
}
