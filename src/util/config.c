#include "util/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

enum key_type {
	KT_STRING,
	KT_PATH,
	KT_PORT,
	KT_INT,
	KT_SIZE,
	KT_DURATION,
	KT_BOOL,
	KT_LEVEL
};

struct key_def {
	const char *name;
	enum key_type type;
	size_t offset;
	const char *help;
};

/* String keys that take one of a few words ("a|b"). */
static const struct {
	const char *key;
	const char *words;
} key_choices[] = {
    {"smtp_bare_lf", "reject|normalize"},
};

#define OFF(field) offsetof(struct config, field)

/* Every configuration key.  Order is the order of the written file. */
static const struct key_def keys[] = {
    {"hostname", KT_STRING, OFF(hostname),
     "Name this server gives itself in greetings and Received: headers."},
    {"domain", KT_STRING, OFF(domain),
     "The first mail domain served here (more with `postamt domain add`)."},
    {"listen_address", KT_STRING, OFF(listen_address),
     "Address every listener binds to (--port-offset forces 127.0.0.1)."},
    {"port_smtp", KT_PORT, OFF(port[SVC_SMTP]),
     "SMTP for mail from other servers (MX), STARTTLS offered; 0 disables."},
    {"port_submission", KT_PORT, OFF(port[SVC_SUBMISSION]),
     "Submission for your users' mail programs, STARTTLS required."},
    {"port_submissions", KT_PORT, OFF(port[SVC_SUBMISSIONS]),
     "Submission over implicit TLS."},
    {"port_imap", KT_PORT, OFF(port[SVC_IMAP]),
     "IMAP with STARTTLS; logins refused until TLS is up."},
    {"port_imaps", KT_PORT, OFF(port[SVC_IMAPS]), "IMAP over implicit TLS."},
    {"port_pop3", KT_PORT, OFF(port[SVC_POP3]),
     "POP3 with STLS; logins refused until TLS is up."},
    {"port_pop3s", KT_PORT, OFF(port[SVC_POP3S]), "POP3 over implicit TLS."},
    {"port_http", KT_PORT, OFF(port[SVC_HTTP]),
     "HTTP: autoconfiguration and health checks."},
    {"port_https", KT_PORT, OFF(port[SVC_HTTPS]), "HTTPS, same content."},
    {"worker_threads", KT_INT, OFF(worker_threads),
     "Threads for work that blocks (password hashing, fsync), so it does "
     "not stall other connections; concurrent deliveries share one fsync "
     "(group commit), so more threads than cores pay off; 0 runs it on the "
     "event loop."},
    {"max_connections", KT_INT, OFF(max_connections),
     "Connections served at once, all services together; more are refused."},
    {"max_connections_per_ip", KT_INT, OFF(max_connections_per_ip),
     "Connections at once from one remote address."},
    {"tls_cert", KT_PATH, OFF(tls_cert),
     "PEM certificate chain (relative paths are under the data directory)."},
    {"tls_key", KT_PATH, OFF(tls_key), "PEM private key for tls_cert."},
    {"auth_fail_max_per_ip", KT_INT, OFF(auth_fail_max_per_ip),
     "Failed logins from one address (within auth_fail_window) before its "
     "logins are refused for auth_fail_cooldown; 0 turns this off."},
    {"auth_fail_max_per_user", KT_INT, OFF(auth_fail_max_per_user),
     "Failed logins for one account, from anywhere, before the same."},
    {"auth_fail_window", KT_DURATION, OFF(auth_fail_window),
     "The window in which failed logins are counted."},
    {"auth_fail_cooldown", KT_DURATION, OFF(auth_fail_cooldown),
     "How long logins stay refused once a limit is reached."},
    {"max_line_length", KT_SIZE, OFF(max_line_length),
     "Longest command line accepted from a client; longer ones are refused."},
    {"max_message_size", KT_SIZE, OFF(max_message_size),
     "Largest message accepted by SMTP and IMAP APPEND."},
    {"store_inline_max", KT_SIZE, OFF(store_inline_max),
     "Messages up to this size are kept inside the user's index instead "
     "of a file each (0: always a file)."},
    {"store_disk_reserve", KT_SIZE, OFF(store_disk_reserve),
     "Space kept free on the data directory's disk (a preallocated file) "
     "so that mail can still be deleted when the disk is full; 0: none."},
    {"handshake_timeout", KT_DURATION, OFF(handshake_timeout),
     "Time a client has to complete a TLS handshake."},
    {"smtp_timeout", KT_DURATION, OFF(smtp_timeout),
     "Idle time before an SMTP client is disconnected (RFC 5321 4.5.3.2.7)."},
    {"imap_timeout", KT_DURATION, OFF(imap_timeout),
     "Idle time before an IMAP client is logged out (RFC 9051 5.4)."},
    {"pop3_timeout", KT_DURATION, OFF(pop3_timeout),
     "Idle time before a POP3 client is disconnected (RFC 1939 3)."},
    {"pop3_login_delay", KT_DURATION, OFF(pop3_login_delay),
     "Least time between two POP3 logins of one user, advertised as "
     "LOGIN-DELAY and enforced with -ERR [LOGIN-DELAY] (RFC 2449 6.5); "
     "0 allows any rate."},
    {"http_timeout", KT_DURATION, OFF(http_timeout),
     "Time an HTTP client has to send its request."},
    {"shutdown_timeout", KT_DURATION, OFF(shutdown_timeout),
     "On SIGTERM, time given to commands in flight before exiting."},
    {"memory_trim_interval", KT_DURATION, OFF(memory_trim_interval),
     "How often memory freed by closed or idle sessions is given back to "
     "the system, if connections came or went meanwhile; 0: never."},
    {"plaintext_auth_on_loopback", KT_BOOL, OFF(plaintext_auth_on_loopback),
     "Allow logins without TLS from 127.0.0.1 and ::1 (never elsewhere)."},
    {"relay_host", KT_STRING, OFF(relay_host),
     "Send all outbound mail through this host:port (a smarthost); "
     "\"none\" delivers by MX lookup."},
    {"queue_lifetime", KT_DURATION, OFF(queue_lifetime),
     "How long outbound mail is retried before it bounces."},
    {"dns_resolver", KT_STRING, OFF(dns_resolver),
     "DNS server for MX lookups, address[@port]; \"system\" uses "
     "/etc/resolv.conf."},
    {"mx_port", KT_PORT, OFF(mx_port),
     "Port of other servers' MX hosts (25; other values are for tests)."},
    {"delay_warning_time", KT_DURATION, OFF(delay_warning_time),
     "Tell the sender once when outbound mail is still queued after this "
     "long (RFC 3464 delayed); 0 never."},
    {"max_recipients", KT_INT, OFF(max_recipients),
     "Recipients accepted per SMTP message (RFC 5321 4.5.3.1.8: at "
     "least 100)."},
    {"smtp_bare_lf", KT_STRING, OFF(smtp_bare_lf),
     "A bare LF or CR in SMTP DATA: reject (defends against SMTP "
     "smuggling) or normalize."},
    {"sender_must_match", KT_BOOL, OFF(sender_must_match),
     "Submission: MAIL FROM and From: must be the user's own address or "
     "alias."},
    {"log_syslog", KT_BOOL, OFF(log_syslog),
     "Log to syslog (mail facility) instead of standard error."},
    {"log_level", KT_LEVEL, OFF(log_level),
     "Lowest level logged: debug, info, warn or error."},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const char *const svc_names[SVC_COUNT] = {
    "smtp", "submission", "submissions", "imap",  "imaps",
    "pop3", "pop3s",      "http",        "https",
};

static const int svc_default_ports[SVC_COUNT] = {25,  587, 465, 143, 993,
                                                 110, 995, 80,  443};

const char *
service_name(enum service svc)
{
	return (unsigned)svc < SVC_COUNT ? svc_names[svc] : "?";
}

bool
service_is_implicit_tls(enum service svc)
{
	return svc == SVC_SUBMISSIONS || svc == SVC_IMAPS || svc == SVC_POP3S ||
	       svc == SVC_HTTPS;
}

const char *
service_port_key(enum service svc)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].type == KT_PORT &&
		    keys[i].offset == OFF(port[0]) + svc * sizeof(int))
			return keys[i].name;
	return "?";
}

void
config_defaults(struct config *cfg, const char *data_dir)
{
	char host[256];

	memset(cfg, 0, sizeof(*cfg));
	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	cfg->data_dir = strdup(data_dir);
	cfg->hostname = strdup(host);
	cfg->domain = strdup(strchr(host, '.') ? strchr(host, '.') + 1 : host);
	cfg->listen_address = strdup("0.0.0.0");
	for (int i = 0; i < SVC_COUNT; i++)
		cfg->port[i] = svc_default_ports[i];
	cfg->worker_threads = 16;
	cfg->max_connections = 20000;
	cfg->max_connections_per_ip = 100;
	cfg->tls_cert = strdup("tls/cert.pem");
	cfg->tls_key = strdup("tls/key.pem");
	cfg->auth_fail_max_per_ip = 10;
	cfg->auth_fail_max_per_user = 10;
	cfg->auth_fail_window = 600;
	cfg->auth_fail_cooldown = 300;
	cfg->max_line_length = 64 * 1024;
	cfg->max_message_size = 50 * 1024 * 1024;
	cfg->store_inline_max = 64 * 1024; /* STORE_INLINE_MAX_DEFAULT */
	cfg->store_disk_reserve =
	    16 * 1024 * 1024; /* STORE_DISK_RESERVE_DEFAULT */
	cfg->handshake_timeout = 10;
	cfg->smtp_timeout = 300;
	cfg->imap_timeout = 30 * 60;
	cfg->pop3_timeout = 10 * 60;
	cfg->http_timeout = 30;
	cfg->relay_host = strdup("none");
	cfg->queue_lifetime = 5 * 86400;
	cfg->dns_resolver = strdup("system");
	cfg->mx_port = 25;
	cfg->delay_warning_time = 4 * 3600;
	cfg->max_recipients = 100;
	cfg->smtp_bare_lf = strdup("reject");
	cfg->sender_must_match = true;
	cfg->shutdown_timeout = 10;
	cfg->memory_trim_interval = 10;
	cfg->plaintext_auth_on_loopback = false;
	cfg->log_syslog = false;
	cfg->log_level = strdup("info");
}

int
parse_size(const char *s, uint64_t *size_r)
{
	unsigned long long v;
	uint64_t mult = 1;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'K':
		mult = 1024ULL;
		end++;
		break;
	case 'M':
		mult = 1024ULL * 1024;
		end++;
		break;
	case 'G':
		mult = 1024ULL * 1024 * 1024;
		end++;
		break;
	default:
		return -1;
	}
	if (*end != '\0' || v > UINT64_MAX / mult)
		return -1;
	*size_r = v * mult;
	return 0;
}

int
parse_duration(const char *s, uint64_t *secs_r)
{
	unsigned long long v;
	uint64_t mult = 1;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		mult = 60;
		break;
	case 'h':
		mult = 3600;
		break;
	case 'd':
		mult = 86400;
		break;
	default:
		return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	if (v > UINT64_MAX / mult)
		return -1;
	*secs_r = v * mult;
	return 0;
}

static int
parse_bool(const char *s, bool *b_r)
{
	if (strcmp(s, "yes") == 0 || strcmp(s, "true") == 0 ||
	    strcmp(s, "on") == 0) {
		*b_r = true;
		return 0;
	}
	if (strcmp(s, "no") == 0 || strcmp(s, "false") == 0 ||
	    strcmp(s, "off") == 0) {
		*b_r = false;
		return 0;
	}
	return -1;
}

static const struct key_def *
key_find(const char *name, size_t *index_r)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].name, name) == 0) {
			*index_r = i;
			return &keys[i];
		}
	}
	return NULL;
}

static void
set_string(struct config *cfg, size_t offset, const char *value)
{
	char **field = (char **)((char *)cfg + offset);

	free(*field);
	*field = strdup(value);
}

/* False if key takes one of a few words and value is none of them. */
static bool
choice_ok(const char *key, const char *value)
{
	const char *choices = NULL;
	size_t n = strlen(value);

	for (size_t i = 0; i < sizeof(key_choices) / sizeof(key_choices[0]);
	     i++)
		if (strcmp(key_choices[i].key, key) == 0)
			choices = key_choices[i].words;
	if (choices == NULL)
		return true;
	for (const char *p = choices; *p != '\0';) {
		size_t w = strcspn(p, "|");
		if (w == n && strncmp(p, value, n) == 0)
			return true;
		p += w;
		if (*p == '|')
			p++;
	}
	return false;
}

/*
 * Stores value for key k.  Returns NULL on success, or the advice to print
 * after "path:line: " when the value has the wrong type.
 */
static const char *
key_set(struct config *cfg, const struct key_def *k, const char *value)
{
	void *field = (char *)cfg + k->offset;
	uint64_t u;
	enum log_level lvl;

	switch (k->type) {
	case KT_STRING:
	case KT_PATH:
		if (value[0] == '\0')
			return "empty value, give a value or delete the line";
		if (!choice_ok(k->name, value))
			return "not an allowed value, write one of the words "
			       "the comment above the key lists";
		set_string(cfg, k->offset, value);
		return NULL;
	case KT_PORT:
		if (parse_size(value, &u) < 0 || u > 65535 ||
		    strpbrk(value, "KMGkmg") != NULL)
			return "not a port number, use 0 to 65535 (0 disables)";
		*(int *)field = (int)u;
		return NULL;
	case KT_INT:
		if (parse_size(value, &u) < 0 || u > INT_MAX)
			return "not a whole number, write digits such as 100";
		*(uint64_t *)field = u;
		return NULL;
	case KT_SIZE:
		if (parse_size(value, &u) < 0)
			return "not a size, write a number with an optional "
			       "K, M or G suffix such as 64K";
		*(uint64_t *)field = u;
		return NULL;
	case KT_DURATION:
		if (parse_duration(value, &u) < 0)
			return "not a duration, write a number with an "
			       "optional "
			       "s, m, h or d suffix such as 30s";
		*(uint64_t *)field = u;
		return NULL;
	case KT_BOOL:
		if (parse_bool(value, (bool *)field) < 0)
			return "not a yes/no value, write yes or no";
		return NULL;
	case KT_LEVEL:
		if (log_level_parse(value, &lvl) < 0)
			return "not a log level, write debug, info, warn or "
			       "error";
		set_string(cfg, k->offset, value);
		return NULL;
	}
	return "unsupported key type";
}

static char *
trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* Parses one line; appends an error for it if it is wrong. */
static int
config_line(struct config *cfg, const char *path, int lineno, char *line,
            struct buf *errors)
{
	char *eq, *key, *value, *hash;
	const struct key_def *k;
	const char *advice;
	size_t idx;

	if ((hash = strchr(line, '#')) != NULL)
		*hash = '\0';
	line = trim(line);
	if (line[0] == '\0')
		return 0;
	if ((eq = strchr(line, '=')) == NULL) {
		buf_printf(errors,
		           "%s:%d: no '=' in \"%s\", write key = value\n", path,
		           lineno, line);
		return -1;
	}
	*eq = '\0';
	key = trim(line);
	value = trim(eq + 1);
	if ((k = key_find(key, &idx)) == NULL) {
		buf_printf(errors,
		           "%s:%d: unknown key \"%s\", remove it or check the "
		           "spelling against `postamt init --help`\n",
		           path, lineno, key);
		return -1;
	}
	if ((advice = key_set(cfg, k, value)) != NULL) {
		buf_printf(errors, "%s:%d: %s = \"%s\": %s\n", path, lineno,
		           key, value, advice);
		return -1;
	}
	cfg->key_line[idx] = lineno;
	return 0;
}

static char *
path_under(const char *dir, const char *p)
{
	struct buf b = BUF_INIT;

	if (p[0] == '/')
		return strdup(p);
	buf_printf(&b, "%s/%s", dir, p);
	return buf_steal(&b);
}

int
config_load(struct config *cfg, const char *path, struct buf *errors)
{
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0, rc = 0;
	char *abs;
	FILE *f;

	free(cfg->path);
	cfg->path = strdup(path);
	if ((f = fopen(path, "r")) == NULL) {
		buf_printf(errors,
		           "%s: cannot open: %s; run `postamt init --data %s` "
		           "first\n",
		           path, strerror(errno), cfg->data_dir);
		return -1;
	}
	while (getline(&line, &cap, f) > 0) {
		lineno++;
		if (config_line(cfg, path, lineno, line, errors) < 0)
			rc = -1;
	}
	free(line);
	fclose(f);
	abs = path_under(cfg->data_dir, cfg->tls_cert);
	free(cfg->tls_cert);
	cfg->tls_cert = abs;
	abs = path_under(cfg->data_dir, cfg->tls_key);
	free(cfg->tls_key);
	cfg->tls_key = abs;
	return rc;
}

int
config_key_line(const struct config *cfg, const char *key)
{
	size_t idx;

	if (key_find(key, &idx) == NULL)
		return 0;
	return cfg->key_line[idx];
}

int
config_check_files(const struct config *cfg, struct buf *errors)
{
	static const char *const names[] = {"tls_cert", "tls_key"};
	const char *files[] = {cfg->tls_cert, cfg->tls_key};
	int rc = 0;

	for (int i = 0; i < 2; i++) {
		if (access(files[i], R_OK) == 0)
			continue;
		buf_printf(errors,
		           "%s:%d: %s = \"%s\": %s; point %s at a readable PEM "
		           "file\n",
		           cfg->path, config_key_line(cfg, names[i]), names[i],
		           files[i], strerror(errno), names[i]);
		rc = -1;
	}
	return rc;
}

static void
write_value(const struct config *cfg, const struct key_def *k, FILE *out)
{
	const void *field = (const char *)cfg + k->offset;

	switch (k->type) {
	case KT_STRING:
	case KT_PATH:
	case KT_LEVEL:
		fprintf(out, "%s", *(char *const *)field);
		break;
	case KT_PORT:
		fprintf(out, "%d", *(const int *)field);
		break;
	case KT_INT:
	case KT_SIZE:
	case KT_DURATION:
		fprintf(out, "%llu",
		        (unsigned long long)*(const uint64_t *)field);
		break;
	case KT_BOOL:
		fprintf(out, "%s", *(const bool *)field ? "yes" : "no");
		break;
	}
}

int
config_write(const struct config *cfg, FILE *out)
{
	struct config def;

	config_defaults(&def, cfg->data_dir);
	fprintf(out,
	        "# Postamt configuration.  Format: key = value; '#' starts a "
	        "comment.\n"
	        "# Sizes take K, M, G suffixes; durations take s, m, h, d.\n"
	        "# Check it with `postamt check`; reload TLS files with "
	        "SIGHUP.\n");
	for (size_t i = 0; i < NKEYS; i++) {
		fprintf(out, "\n# %s\n# default: ", keys[i].help);
		write_value(&def, &keys[i], out);
		fprintf(out, "\n%s = ", keys[i].name);
		write_value(cfg, &keys[i], out);
		fputc('\n', out);
	}
	config_free(&def);
	return ferror(out) ? -1 : 0;
}

void
config_free(struct config *cfg)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].type == KT_STRING || keys[i].type == KT_PATH ||
		    keys[i].type == KT_LEVEL) {
			char **f = (char **)((char *)cfg + keys[i].offset);
			free(*f);
			*f = NULL;
		}
	}
	free(cfg->path);
	free(cfg->data_dir);
	cfg->path = NULL;
	cfg->data_dir = NULL;
}
