#include "cli/cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>

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
