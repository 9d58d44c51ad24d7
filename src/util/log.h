/*
 * log: one line per event, "time level service conn=ID remote=ADDR user=U
 * message", to stderr or syslog.
 *
 * The destination and threshold are set once at start-up by log_setup() and
 * are the only process-wide logging state; every line is written with a
 * single call, so lines from different threads never interleave.
 */
#ifndef POSTAMT_UTIL_LOG_H
#define POSTAMT_UTIL_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

/* Who an event concerns.  Any field may be NULL / 0 ("-" in the line). */
struct log_ctx {
	const char *service; /* "smtp", "imaps", "server", ... */
	uint64_t conn_id;
	const char *remote;
	const char *user;
};

/* Chooses stderr (use_syslog false) or syslog and the lowest level shown. */
void log_setup(bool use_syslog, enum log_level threshold);

/* Parses "debug", "info", "warn", "error".  Returns 0 or -1. */
int log_level_parse(const char *s, enum log_level *level_r);

void log_event(enum log_level level, const struct log_ctx *ctx, const char *fmt,
               ...) __attribute__((format(printf, 3, 4)));
void log_eventv(enum log_level level, const struct log_ctx *ctx,
                const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Shorthands for events that concern the whole server. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
