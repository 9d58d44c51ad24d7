#include "util/log.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

/*
 * Set once by log_setup() before any thread starts; read-only afterwards.
 * This is the one deliberate piece of process-wide state besides the config.
 */
static bool log_to_syslog;
static enum log_level log_threshold = LOG_LVL_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void
log_setup(bool use_syslog, enum log_level threshold)
{
	log_to_syslog = use_syslog;
	log_threshold = threshold;
	if (use_syslog)
		openlog("postamt", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

int
log_level_parse(const char *s, enum log_level *level_r)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]);
	     i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*level_r = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

static int
syslog_priority(enum log_level level)
{
	switch (level) {
	case LOG_LVL_DEBUG:
		return LOG_DEBUG;
	case LOG_LVL_INFO:
		return LOG_INFO;
	case LOG_LVL_WARN:
		return LOG_WARNING;
	case LOG_LVL_ERROR:
		break;
	}
	return LOG_ERR;
}

void
log_eventv(enum log_level level, const struct log_ctx *ctx, const char *fmt,
           va_list ap)
{
	char msg[1024], stamp[40];
	struct timespec ts;
	struct tm tm;

	if (level < log_threshold)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* Control characters from peers never reach the log verbatim. */
	for (char *p = msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (log_to_syslog) {
		syslog(syslog_priority(level),
		       "%s conn=%llu remote=%s user=%s %s",
		       ctx && ctx->service ? ctx->service : "server",
		       ctx ? (unsigned long long)ctx->conn_id : 0ULL,
		       ctx && ctx->remote ? ctx->remote : "-",
		       ctx && ctx->user ? ctx->user : "-", msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s %s conn=%llu remote=%s user=%s %s\n",
	        stamp, ts.tv_nsec / 1000000, level_names[level],
	        ctx && ctx->service ? ctx->service : "server",
	        ctx ? (unsigned long long)ctx->conn_id : 0ULL,
	        ctx && ctx->remote ? ctx->remote : "-",
	        ctx && ctx->user ? ctx->user : "-", msg);
}

void
log_event(enum log_level level, const struct log_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_eventv(level, ctx, fmt, ap);
	va_end(ap);
}

#define LOG_SHORTHAND(name, level)                                             \
	void name(const char *fmt, ...)                                        \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		log_eventv(level, NULL, fmt, ap);                              \
		va_end(ap);                                                    \
	}

LOG_SHORTHAND(log_info, LOG_LVL_INFO)
LOG_SHORTHAND(log_warn, LOG_LVL_WARN)
LOG_SHORTHAND(log_error, LOG_LVL_ERROR)
