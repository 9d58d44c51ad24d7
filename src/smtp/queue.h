/*
 * smtp queue: the outbound queue, one durable file per message under
 * DATA/queue/ (DESIGN.md), its runner and the relay client.
 *
 * A queue file is named by its 16-hex-digit id and holds a text header of
 * "key value" lines (the envelope and the retry state), a blank line, and
 * the message exactly as it will be sent.  It is written to "tmp.<id>",
 * fsynced, renamed into place and the directory fsynced (queue_file.c), so
 * a crash leaves no file or a complete one.  Whoever writes a file is done
 * with it: the runner (queue_run.c) notices new files through inotify,
 * delivers them through relay.c, rewrites the file with the recipients
 * still to try and the next attempt time, and removes it when done.
 *
 * `postamt queue flush` creates DATA/queue/flush; the running server sees
 * it, removes it and tries every message now.  `postamt queue delete ID`
 * removes the file; an attempt in flight then ends without rewriting it.
 */
#ifndef POSTAMT_SMTP_QUEUE_H
#define POSTAMT_SMTP_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/services.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/err.h"

/* The name of the flush request file in the queue directory. */
#define SMTP_QUEUE_FLUSH_FILE "flush"
/* Longest header line of a queue file (an address is at most 256). */
#define SMTP_QUEUE_LINE_MAX 2048
/* Most recipient lines one queue file may hold. */
#define SMTP_QUEUE_RCPTS_MAX 10000

enum smtp_rcpt_status {
	SMTP_RCPT_PENDING, /* not tried in this attempt (yet) */
	SMTP_RCPT_OK,      /* accepted by the next hop */
	SMTP_RCPT_TEMP,    /* 4xx or connection failure: try again */
	SMTP_RCPT_PERM,    /* 5xx: bounce */
};

/* RFC 3461 4.1 NOTIFY bits; 0 means "not given" (default: FAILURE). */
enum smtp_notify {
	SMTP_NOTIFY_NEVER = 1 << 0,
	SMTP_NOTIFY_SUCCESS = 1 << 1,
	SMTP_NOTIFY_FAILURE = 1 << 2,
	SMTP_NOTIFY_DELAY = 1 << 3,
};

struct smtp_queue_rcpt {
	char *addr;
	char *orcpt;     /* RFC 3461 ORCPT value (xtext as given) or NULL */
	unsigned notify; /* enum smtp_notify bits, 0 if not given */
	/* Filled by a delivery attempt, not stored: */
	enum smtp_rcpt_status status;
	char *reply;     /* the reply or failure text, malloc()ed, or NULL */
	bool dsn_passed; /* the next hop took NOTIFY (it speaks DSN) */
};

struct smtp_queue_msg {
	char id[17];
	char *from; /* reverse-path, "" for the null sender */
	int64_t created;
	int64_t next_attempt;
	unsigned attempts;
	char *envid;         /* RFC 3461 ENVID or NULL */
	bool ret_hdrs;       /* RFC 3461 RET=HDRS: bounce only the headers */
	bool delay_notified; /* the delay DSN was sent (once per message) */
	struct smtp_queue_rcpt *rcpts;
	size_t nrcpts;
	struct buf body; /* the message; empty if read without it */
};

/* Writes DATA/queue into out (appended); creates the directory. */
int smtp_queue_dir(const char *data_dir, struct buf *out, struct err *err);

/* True if name is a queue id (16 lower-case hex digits). */
bool smtp_queue_id_is_valid(const char *name);

/* Writes a fresh random id into id (17 bytes). */
void smtp_queue_new_id(char id[17]);

/* Adds a recipient (copies the strings).  Returns 0 or -1 (memory). */
int smtp_queue_msg_add_rcpt(struct smtp_queue_msg *m, const char *addr,
                            const char *orcpt, unsigned notify);

/*
 * Writes m to dir/<m->id> durably (see above).  Values with a CR or LF are
 * refused (ERR_SYNTAX).  Returns 0 once the file and its name are on disk.
 */
int smtp_queue_write(const char *dir, const struct smtp_queue_msg *m,
                     struct err *err);

/*
 * Reads dir/<id> into m (which the caller then frees with
 * smtp_queue_msg_free()).  with_body false skips the message.  ERR_NOTFOUND
 * if the file is gone, ERR_IO if it cannot be read or is corrupt.
 */
int smtp_queue_read(const char *dir, const char *id, bool with_body,
                    struct smtp_queue_msg *m, struct err *err);

/* Removes dir/<id>.  ERR_NOTFOUND if there is no such message. */
int smtp_queue_remove(const char *dir, const char *id, struct err *err);

/*
 * Calls fn for every queue id in dir (unordered).  Stops and returns -1 if
 * fn does; returns 0 after the last one.
 */
int smtp_queue_each(const char *dir, int (*fn)(const char *id, void *arg),
                    void *arg, struct err *err);

void smtp_queue_msg_free(struct smtp_queue_msg *m);

/* ---- the runner (queue_run.c) ---- */

struct event_base;
struct smtp_queue_runner;

/*
 * Starts the queue runner on base: loads the queue, delivers what is due,
 * and watches the directory for new files and flush requests.  cfg and svc
 * must outlive the runner.  relay_host "none" means MX delivery (mx.c):
 * the recipients are grouped by domain and each domain's MX hosts are
 * tried in preference order; messages to one destination share an SMTP
 * session (relay.c).
 */
int smtp_queue_runner_new(struct event_base *base, const struct config *cfg,
                          struct services *svc, struct smtp_queue_runner **r_r,
                          struct err *err);

/* Stops the runner; attempts in flight are abandoned and retried later. */
void smtp_queue_runner_free(struct smtp_queue_runner **r);

/* ---- delivery status notifications (bounce.c) ---- */

/*
 * Sends the sender of m a DSN (RFC 3464 multipart/report) for every
 * recipient of m with status SMTP_RCPT_PERM whose NOTIFY asks for it.  A
 * local sender gets it in INBOX; a remote one through a new queue file.
 * Nothing for the null sender (RFC 5321 6.1: no bounce loops).  remote_mta
 * names the host that answered (or NULL).
 */
int smtp_bounce_send(const struct config *cfg, struct services *svc,
                     const char *queue_dir, const struct smtp_queue_msg *m,
                     const char *remote_mta, struct err *err);

/* What one DSN reports (RFC 3464 2.3.3 Action). */
enum smtp_dsn_action {
	SMTP_DSN_FAILED,    /* status PERM, NOTIFY FAILURE or none */
	SMTP_DSN_DELAYED,   /* status TEMP, NOTIFY DELAY or none */
	SMTP_DSN_DELIVERED, /* status OK, NOTIFY SUCCESS: local delivery */
	SMTP_DSN_RELAYED,   /* status OK, NOTIFY SUCCESS, !dsn_passed */
};

/*
 * Like smtp_bounce_send() for any action: one DSN to the sender of m for
 * the recipients the action applies to, if any; NOTIFY=NEVER silences a
 * recipient, the null sender gets nothing.  Everything but a failure
 * returns only the message header (RFC 3461 4.3).
 */
int smtp_dsn_send(const struct config *cfg, struct services *svc,
                  const char *queue_dir, const struct smtp_queue_msg *m,
                  enum smtp_dsn_action kind, const char *remote_mta,
                  struct err *err);

#endif
