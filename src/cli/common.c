#include "cli/cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>

#include <getopt.h>
#include <unistd.h>

#include "auth/auth.h"
#include "util/buf.h"

int
cli_usage_error(const char *sub, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "postamt %s: ", sub);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nRun `postamt %s --help` for usage.\n", sub);
	return CLI_USAGE;
}

char *
cli_config_path(const char *data_dir)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "%s/postamt.conf", data_dir);
	return buf_steal(&b);
}

int
cli_parse_data_options(const char *sub, const char *usage, int argc,
                       char **argv, const char **data_r)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	opterr = 0;
	optind = 0; /* glibc: start afresh, even if getopt ran before */
	*data_r = CLI_DEFAULT_DATA;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'd')
			*data_r = optarg;
		else if (ch == 'h')
			return fputs(usage, stdout) < 0 ? CLI_FAILED : CLI_OK;
		else
			return cli_usage_error(sub,
			                       "unknown option or missing "
			                       "value: \"%s\"",
			                       argv[optind - 1]);
	}
	return -1;
}

int
cli_open_accounts(const char *sub, const char *data, struct auth **auth_r)
{
	char *conf = cli_config_path(data);
	struct err e;

	if (conf == NULL || access(conf, F_OK) < 0) {
		fprintf(stderr,
		        "postamt %s: %s/postamt.conf not found; run "
		        "`postamt init --data %s` first\n",
		        sub, data, data);
		free(conf);
		return CLI_FAILED;
	}
	free(conf);
	if (auth_open(data, auth_r, &e) < 0)
		return cli_fail(sub, &e);
	return 0;
}

int
cli_fail(const char *sub, const struct err *e)
{
	fprintf(stderr, "postamt %s: %s\n", sub, e->msg);
	return e->kind == ERR_SYNTAX ? CLI_USAGE : CLI_FAILED;
}

int
cli_load_config(const char *data_dir, struct config *cfg, bool check_files)
{
	struct buf errors = BUF_INIT;
	char *path = cli_config_path(data_dir);
	int rc = 0;

	config_defaults(cfg, data_dir);
	if (config_load(cfg, path, &errors) < 0)
		rc = -1;
	else if (check_files && config_check_files(cfg, &errors) < 0)
		rc = -1;
	if (rc < 0)
		fputs(buf_cstr(&errors), stderr);
	buf_free(&errors);
	free(path);
	return rc;
}
