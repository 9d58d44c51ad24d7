/*
 * config: the server configuration, read from DATA/postamt.conf.
 *
 * The file is "key = value" lines; '#' starts a comment; blank lines are
 * ignored.  Every key is described once in the table in config.c (name,
 * type, default, help text); `postamt init` writes the file from that table
 * so every key appears with its comment and default.  Sizes take K, M and G
 * suffixes (powers of 1024); durations take s, m, h and d.
 *
 * A loaded config is immutable: reloading builds a new struct.
 */
#ifndef POSTAMT_UTIL_CONFIG_H
#define POSTAMT_UTIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/buf.h"

/* The services of DESIGN.md's port table, in a fixed order. */
enum service {
	SVC_SMTP,
	SVC_SUBMISSION,
	SVC_SUBMISSIONS,
	SVC_IMAP,
	SVC_IMAPS,
	SVC_POP3,
	SVC_POP3S,
	SVC_HTTP,
	SVC_HTTPS,
	SVC_COUNT
};

struct config {
	char *path; /* the file this came from */
	char *data_dir;

	/* identity */
	char *hostname;
	char *domain;

	/* network */
	char *listen_address;
	int port[SVC_COUNT]; /* 0 disables the service */
	uint64_t worker_threads;
	uint64_t max_connections;
	uint64_t max_connections_per_ip;

	/* TLS */
	char *tls_cert; /* absolute after config_load() */
	char *tls_key;

	/* failed-login throttling (auth/throttle.c) */
	uint64_t auth_fail_max_per_ip;
	uint64_t auth_fail_max_per_user;
	uint64_t auth_fail_window;
	uint64_t auth_fail_cooldown;

	/* limits and timeouts (durations in seconds) */
	uint64_t max_line_length;
	uint64_t max_message_size;
	uint64_t store_inline_max;   /* store_set_inline_max() */
	uint64_t store_disk_reserve; /* store_set_disk_reserve() */
	uint64_t handshake_timeout;
	uint64_t smtp_timeout;
	uint64_t imap_timeout;
	uint64_t pop3_timeout;
	uint64_t pop3_login_delay; /* seconds; 0: none */
	uint64_t http_timeout;
	uint64_t shutdown_timeout;
	uint64_t memory_trim_interval; /* seconds; 0: never (net/memtrim.c) */
	bool plaintext_auth_on_loopback;

	/* SMTP delivery */
	char *relay_host; /* "host:port" or "none" */
	uint64_t queue_lifetime;
	char *dns_resolver; /* "address[@port]" or "system" */
	int mx_port;
	uint64_t delay_warning_time;
	uint64_t max_recipients;
	char *smtp_bare_lf; /* "reject" or "normalize" */
	bool sender_must_match;

	/* logging */
	bool log_syslog;
	char *log_level;

	/* line of each key in the file, 0 if absent (see config_key_line()) */
	int key_line[64];
};

/* Short name of a service, as used in logs and config keys ("imaps"). */
const char *service_name(enum service svc);

/* True for services whose connections start in TLS (465, 993, 995, 443). */
bool service_is_implicit_tls(enum service svc);

/* Fills cfg with the built-in defaults (hostname from gethostname()). */
void config_defaults(struct config *cfg, const char *data_dir);

/*
 * Reads path into cfg (which config_defaults() has filled).  Every problem
 * found is appended to errors as "path:line: what is wrong, what to do\n";
 * reading goes on after an error so one run reports them all.  Returns 0 if
 * the file was valid, -1 otherwise (then cfg is partly filled).
 */
int config_load(struct config *cfg, const char *path, struct buf *errors);

/*
 * Checks what can only be checked outside the file itself: that the
 * certificate and key files exist and are readable.  Appends errors like
 * config_load() and returns 0 or -1.
 */
int config_check_files(const struct config *cfg, struct buf *errors);

/* Writes a complete, commented config file with cfg's values. */
int config_write(const struct config *cfg, FILE *out);

/* The line of path where key was set, or 0 if the file did not set it. */
int config_key_line(const struct config *cfg, const char *key);

/* The name of the config key that sets the port of svc ("port_imaps"). */
const char *service_port_key(enum service svc);

/* Frees the strings of cfg. */
void config_free(struct config *cfg);

/* Parses "10", "64K", "50M", "2G".  Returns 0 or -1. */
int parse_size(const char *s, uint64_t *size_r);

/* Parses "30", "30s", "5m", "2h", "1d" into seconds.  Returns 0 or -1. */
int parse_duration(const char *s, uint64_t *secs_r);

#endif
