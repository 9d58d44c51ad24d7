/*
 * postamt domain: add, delete and list the local domains (those whose
 * mail is delivered here rather than relayed).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "cli/cli.h"

static const char domain_usage[] =
    "usage: postamt domain add DOMAIN [--data DIR]\n"
    "       postamt domain del DOMAIN [--data DIR]\n"
    "       postamt domain list [--data DIR]\n"
    "\n"
    "add    serve DOMAIN here (`postamt user add` does it for a user's\n"
    "       domain; aliases need it first)\n"
    "del    stop serving DOMAIN; refused while it has users or aliases\n"
    "list   print every local domain\n"
    "\n"
    "--data DIR   the data directory (default " CLI_DEFAULT_DATA ")\n"
    "\n"
    "Exit status: 0 ok, 1 runtime failure, 2 usage error.\n";

static void
domain_print(const char *domain, void *arg)
{
	(void)arg;
	printf("%s\n", domain);
}

static int
domain_fail(const struct err *e)
{
	fprintf(stderr, "postamt domain: %s\n", e->msg);
	return e->kind == ERR_SYNTAX ? CLI_USAGE : CLI_FAILED;
}

static int
domain_run(struct auth *a, const char *action, const char *domain)
{
	struct err e;
	int r;

	if (strcmp(action, "list") == 0)
		r = auth_domain_list(a, domain_print, NULL, &e);
	else if (strcmp(action, "add") == 0)
		r = auth_domain_add(a, domain, &e);
	else
		r = auth_domain_del(a, domain, &e);
	if (r < 0)
		return domain_fail(&e);
	if (strcmp(action, "list") != 0)
		printf("%s %s\n",
		       strcmp(action, "add") == 0 ? "added" : "deleted",
		       domain);
	return CLI_OK;
}

static int
domain_check(const char *action, int npos)
{
	if (action == NULL)
		return cli_usage_error("domain",
		                       "missing action (add, del or list)");
	if (strcmp(action, "list") == 0)
		return npos == 1 ? CLI_OK
		                 : cli_usage_error("domain",
		                                   "list takes no argument");
	if (strcmp(action, "add") == 0 || strcmp(action, "del") == 0)
		return npos == 2 ? CLI_OK
		                 : cli_usage_error(
		                       "domain", "%s takes one domain", action);
	return cli_usage_error("domain", "unknown action \"%s\"", action);
}

int
cli_domain(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *data = CLI_DEFAULT_DATA;
	struct auth *a;
	struct err e;
	char *conf;
	int ch, npos, rc;

	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'd')
			data = optarg;
		else if (ch == 'h')
			return fputs(domain_usage, stdout) < 0 ? CLI_FAILED
			                                       : CLI_OK;
		else
			return cli_usage_error("domain",
			                       "unknown option or missing "
			                       "value: \"%s\"",
			                       argv[optind - 1]);
	}
	npos = argc - optind;
	if ((rc = domain_check(npos > 0 ? argv[optind] : NULL, npos)) != 0)
		return rc;
	conf = cli_config_path(data);
	if (conf == NULL || access(conf, F_OK) < 0) {
		fprintf(stderr,
		        "postamt domain: %s/postamt.conf not found; run "
		        "`postamt init --data %s` first\n",
		        data, data);
		free(conf);
		return CLI_FAILED;
	}
	free(conf);
	if (auth_open(data, &a, &e) < 0)
		return domain_fail(&e);
	rc = domain_run(a, argv[optind], npos > 1 ? argv[optind + 1] : NULL);
	auth_close(&a);
	return rc;
}
