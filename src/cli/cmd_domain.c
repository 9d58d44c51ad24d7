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
	return cli_fail("domain", e);
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
	const char *data;
	struct auth *a;
	int npos, rc;

	if ((rc = cli_parse_data_options("domain", domain_usage, argc, argv,
	                                 &data)) >= 0)
		return rc;
	npos = argc - optind;
	if ((rc = domain_check(npos > 0 ? argv[optind] : NULL, npos)) != 0)
		return rc;
	if ((rc = cli_open_accounts("domain", data, &a)) != 0)
		return rc;
	rc = domain_run(a, argv[optind], npos > 1 ? argv[optind + 1] : NULL);
	auth_close(&a);
	return rc;
}
