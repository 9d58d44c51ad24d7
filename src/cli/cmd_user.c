/*
 * postamt user: add, delete and list users, set their passwords, and
 * import users with their hashes from a Dovecot passwd-file.
 *
 * Passwords never appear on the command line (where `ps` would show
 * them): they are read from stdin with --password-stdin, or generated.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth/auth.h"
#include "cli/cli.h"

static const char user_usage[] =
    "usage: postamt user add ADDRESS [--password-stdin] [--data DIR]\n"
    "       postamt user del ADDRESS [--data DIR]\n"
    "       postamt user list [--data DIR]\n"
    "       postamt user passwd ADDRESS [--password-stdin] [--data DIR]\n"
    "       postamt user set ADDRESS KEY=VALUE... [--data DIR]\n"
    "       postamt user show ADDRESS [--data DIR]\n"
    "       postamt user import FILE [--data DIR]\n"
    "\n"
    "add      create a user; its domain becomes a local domain.  Without\n"
    "         --password-stdin a password is generated and printed as\n"
    "         \"password: ...\".\n"
    "del      remove a user (the mail stays on disk)\n"
    "list     print every user, one address per line\n"
    "passwd   set a new password (generated unless --password-stdin)\n"
    "set      change settings: active, imap, pop3, submission, save_sent\n"
    "         (yes/no), quota (size, 0 = none), quota_messages,\n"
    "         pop3_after_retrieve (keep, mark-read, archive),\n"
    "         pop3_on_delete (expunge, trash)\n"
    "show     print a user's settings as KEY=VALUE lines\n"
    "import   create users from a Dovecot passwd-file, keeping their\n"
    "         hashes: lines \"user@domain:{SCHEME}hash:...\" with BLF-CRYPT,\n"
    "         SHA512-CRYPT, SHA256-CRYPT, MD5-CRYPT or CRYPT, or a bare\n"
    "         crypt hash ($y$, $2b$, $6$...).  {PLAIN} passwords are refused.\n"
    "\n"
    "SCRAM-SHA-256 logins need keys made from the password itself: users\n"
    "get them from add and passwd.  Imported users, and users created by\n"
    "a Postamt before SCRAM, have none until their password is set again;\n"
    "until then SCRAM fails for them like a wrong password, while PLAIN\n"
    "and LOGIN (which check the hash) work.\n"
    "\n"
    "--password-stdin  read the password from the first line of stdin\n"
    "--data DIR        the data directory (default " CLI_DEFAULT_DATA ")\n"
    "\n"
    "Exit status: 0 ok, 1 runtime failure, 2 usage error.\n";

/* The longest password line read from stdin (libxcrypt's own limit). */
#define USER_PASSWORD_MAX 511

struct user_args {
	const char *data;
	const char *action;
	const char *address;
	char **settings; /* set: the KEY=VALUE arguments */
	int nsettings;
	bool password_stdin;
};

static int user_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Prints "postamt user: message" and returns CLI_FAILED. */
static int
user_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("postamt user: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_FAILED;
}

/*
 * Reads one line of stdin into out (size bytes), without CR/LF.  Returns 0,
 * or -1 after printing why.
 */
static int
user_read_password(char *out, size_t size)
{
	size_t len;

	if (fgets(out, (int)size, stdin) == NULL) {
		user_fail("no password on stdin");
		return -1;
	}
	len = strlen(out);
	if (len > 0 && out[len - 1] != '\n' && !feof(stdin))
		len = size; /* the line goes on: too long */
	while (len > 0 && len < size &&
	       (out[len - 1] == '\n' || out[len - 1] == '\r'))
		out[--len] = '\0';
	if (len == 0 || len > USER_PASSWORD_MAX) {
		OPENSSL_cleanse(out, size);
		if (len == 0)
			user_fail("empty password on stdin");
		else
			user_fail("password longer than %d bytes",
			          USER_PASSWORD_MAX);
		return -1;
	}
	return 0;
}

/*
 * Fills password from stdin or generates one (then *generated_r is set).
 * Returns 0, or -1 after printing why.
 */
static int
user_password(const struct user_args *args, char *password, size_t size,
              bool *generated_r)
{
	*generated_r = false;
	if (args->password_stdin)
		return user_read_password(password, size);
	if (auth_generate_password(password, size) < 0) {
		user_fail("cannot generate a password");
		return -1;
	}
	*generated_r = true;
	return 0;
}

static void
user_print(const char *address, void *arg)
{
	(void)arg;
	printf("%s\n", address);
}

/* Runs a password-setting action (add or passwd). */
static int
user_set_password(struct auth *a, const struct user_args *args,
                  const char *addr, struct err *err)
{
	char password[USER_PASSWORD_MAX + 2];
	bool generated;
	int r;

	if (user_password(args, password, sizeof(password), &generated) < 0)
		return CLI_FAILED;
	if (strcmp(args->action, "add") == 0)
		r = auth_user_add(a, addr, password, err);
	else
		r = auth_user_passwd(a, addr, password, err);
	if (r == 0) {
		/* First line: scripts read it (scripts/run.sh, tests). */
		if (generated)
			printf("password: %s\n", password);
		printf("%s %s\n",
		       strcmp(args->action, "add") == 0 ? "added"
		                                        : "password set for",
		       addr);
	}
	OPENSSL_cleanse(password, sizeof(password));
	return r < 0 ? user_fail("%s", err->msg) : CLI_OK;
}

static int
user_set(struct auth *a, const struct user_args *args, const char *addr)
{
	struct err err;

	for (int i = 0; i < args->nsettings; i++) {
		char *kv = args->settings[i], *eq = strchr(kv, '=');

		if (eq == NULL)
			return cli_usage_error("user",
			                       "\"%s\" is not KEY=VALUE", kv);
		*eq = '\0';
		if (auth_user_set(a, addr, kv, eq + 1, &err) < 0) {
			if (err.kind == ERR_SYNTAX)
				return cli_usage_error("user", "%s", err.msg);
			return user_fail("%s", err.msg);
		}
		printf("%s: %s = %s\n", addr, kv, eq + 1);
	}
	return CLI_OK;
}

static int
user_show(struct auth *a, const char *addr)
{
	static const char *const after[] = {"keep", "mark-read", "archive"};
	static const char *const del[] = {"expunge", "trash"};
	struct auth_user_info in;
	struct err err;

	if (auth_user_info(a, addr, &in, &err) < 0)
		return user_fail("%s", err.msg);
	printf("address=%s\nactive=%s\nimap=%s\npop3=%s\nsubmission=%s\n"
	       "save_sent=%s\nquota=%llu\nquota_messages=%llu\n"
	       "pop3_after_retrieve=%s\npop3_on_delete=%s\n",
	       addr, in.active ? "yes" : "no", in.imap ? "yes" : "no",
	       in.pop3 ? "yes" : "no", in.submission ? "yes" : "no",
	       in.save_sent ? "yes" : "no", (unsigned long long)in.quota_bytes,
	       (unsigned long long)in.quota_messages,
	       after[in.pop3_after_retrieve], del[in.pop3_on_delete]);
	return CLI_OK;
}

/* The longest passwd-file line read (Dovecot's lines are short). */
#define USER_IMPORT_LINE_MAX 4096

/* Dovecot schemes whose hashes are crypt(3) strings libxcrypt checks. */
static const char *const user_import_schemes[] = {
    "BLF-CRYPT", "SHA512-CRYPT", "SHA256-CRYPT", "MD5-CRYPT", "CRYPT",
};

/* Dovecot schemes that keep the password itself. */
static const char *const user_import_clear[] = {
    "PLAIN",
    "CLEAR",
    "CLEARTEXT",
    "PLAIN-TRUNC",
};

static bool
user_import_is(const char *scheme, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(scheme, list[i]) == 0)
			return true;
	return false;
}

#define USER_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Splits a passwd-file line "user:password[:uid:gid:...]" in place: the
 * password is "{SCHEME}hash" or a bare crypt hash.  Returns NULL with
 * *user_r and *hash_r set, or why the line is refused.
 */
static const char *
user_import_parse(char *line, char **user_r, char **hash_r)
{
	char *colon = strchr(line, ':'), *pw, *end, *close;

	if (colon == NULL)
		return "no ':' after the user name";
	*colon = '\0';
	pw = colon + 1;
	if ((end = strchr(pw, ':')) != NULL)
		*end = '\0'; /* uid, gid, home, extra fields: not used */
	*user_r = line;
	*hash_r = pw;
	if (pw[0] != '{')
		return pw[0] == '\0' ? "no password hash" : NULL;
	if ((close = strchr(pw, '}')) == NULL)
		return "unterminated {SCHEME}";
	*close = '\0';
	if (user_import_is(pw + 1, user_import_clear,
	                   USER_NELEM(user_import_clear)))
		return "clear-text passwords ({PLAIN}) are not imported; "
		       "set one with `postamt user passwd`";
	if (!user_import_is(pw + 1, user_import_schemes,
	                    USER_NELEM(user_import_schemes)))
		return "unsupported scheme (BLF-CRYPT, SHA512-CRYPT, "
		       "SHA256-CRYPT, MD5-CRYPT and CRYPT are)";
	*hash_r = close + 1;
	return NULL;
}

/* Imports one line; false (after printing why) if it was refused. */
static bool
user_import_line(struct auth *a, const char *file, size_t n, char *line)
{
	struct err err;
	const char *why;
	char *user, *hash;

	why = user_import_parse(line, &user, &hash);
	if (why == NULL && auth_user_add_hash(a, user, hash, &err) < 0)
		why = err.msg;
	if (why != NULL) {
		fprintf(stderr, "postamt user: %s:%zu: %s\n", file, n, why);
		return false;
	}
	printf("imported %s\n", user);
	return true;
}

/* `postamt user import FILE`: every line, reporting each refusal. */
static int
user_import(struct auth *a, const char *file)
{
	FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
	char line[USER_IMPORT_LINE_MAX + 2];
	size_t n = 0, done = 0, failed = 0;

	if (f == NULL)
		return user_fail("%s: %s", file, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t len = strlen(line);

		n++;
		if (len > 0 && line[len - 1] != '\n' && !feof(f)) {
			fprintf(stderr,
			        "postamt user: %s:%zu: line longer than "
			        "%d bytes\n",
			        file, n, USER_IMPORT_LINE_MAX);
			failed++;
			while (len > 0 && line[len - 1] != '\n' &&
			       fgets(line, sizeof(line), f) != NULL)
				len = strlen(line);
			continue;
		}
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (user_import_line(a, file, n, line))
			done++;
		else
			failed++;
	}
	if (f != stdin)
		fclose(f);
	printf("imported %zu users, %zu refused\n", done, failed);
	return failed > 0 ? CLI_FAILED : CLI_OK;
}

static int
user_run(struct auth *a, const struct user_args *args)
{
	char addr[AUTH_ADDRESS_MAX + 1];
	struct err err;

	if (strcmp(args->action, "list") == 0) {
		if (auth_user_list(a, user_print, NULL, &err) < 0)
			return user_fail("%s", err.msg);
		return CLI_OK;
	}
	if (strcmp(args->action, "import") == 0)
		return user_import(a, args->address);
	if (auth_address_normalize(args->address, addr, &err) < 0)
		return user_fail("invalid address: %s", err.msg);
	if (strcmp(args->action, "set") == 0)
		return user_set(a, args, addr);
	if (strcmp(args->action, "show") == 0)
		return user_show(a, addr);
	if (strcmp(args->action, "del") == 0) {
		if (auth_user_del(a, addr, &err) < 0)
			return user_fail("%s", err.msg);
		printf("deleted %s\n", addr);
		return CLI_OK;
	}
	return user_set_password(a, args, addr, &err);
}

/* Checks the action and the number of positional arguments. */
static int
user_check_args(struct user_args *args, int npos, char **pos)
{
	static const char *const actions[] = {"add", "del",  "list",  "passwd",
	                                      "set", "show", "import"};
	bool known = false;

	if (npos == 0)
		return cli_usage_error("user", "missing action (add, del, "
		                               "list, passwd, set, show or "
		                               "import)");
	args->action = pos[0];
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		known = known || strcmp(pos[0], actions[i]) == 0;
	if (!known)
		return cli_usage_error("user", "unknown action \"%s\"", pos[0]);
	if (strcmp(args->action, "list") == 0) {
		if (npos != 1)
			return cli_usage_error("user", "list takes no address");
	} else if (strcmp(args->action, "set") == 0) {
		if (npos < 3)
			return cli_usage_error("user",
			                       "set takes an address "
			                       "and KEY=VALUE settings");
		args->address = pos[1];
		args->settings = pos + 2;
		args->nsettings = npos - 2;
	} else if (npos != 2) {
		return cli_usage_error(
		    "user", "%s takes exactly one %s", args->action,
		    strcmp(args->action, "import") == 0 ? "file" : "address");
	} else {
		args->address = pos[1];
	}
	if (args->password_stdin && strcmp(args->action, "add") != 0 &&
	    strcmp(args->action, "passwd") != 0)
		return cli_usage_error("user", "--password-stdin is only for "
		                               "add and passwd");
	return CLI_OK;
}

/* Parses the options; returns -1 to go on, or an exit status. */
static int
user_parse(int argc, char **argv, struct user_args *args)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, 'd'},
	    {"password-stdin", no_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	opterr = 0;
	optind = 0; /* glibc: start afresh, even if getopt ran before */
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			args->data = optarg;
			break;
		case 'p':
			args->password_stdin = true;
			break;
		case 'h':
			fputs(user_usage, stdout);
			return CLI_OK;
		default:
			return cli_usage_error("user",
			                       "unknown option or "
			                       "missing value: \"%s\"",
			                       argv[optind - 1]);
		}
	}
	return user_check_args(args, argc - optind, argv + optind) == CLI_OK
	           ? -1
	           : CLI_USAGE;
}

int
cli_user(int argc, char **argv)
{
	struct user_args args = {.data = CLI_DEFAULT_DATA};
	struct auth *a;
	int r = user_parse(argc, argv, &args);

	if (r >= 0)
		return r;
	if ((r = cli_open_accounts("user", args.data, &a)) != 0)
		return r;
	r = user_run(a, &args);
	auth_close(&a);
	return r;
}
