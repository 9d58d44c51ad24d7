/*
 * postamt alias: add, delete and list aliases (address -> local users) and
 * per-domain catch-alls ("@domain").
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "cli/cli.h"

static const char alias_usage[] =
    "usage: postamt alias add ADDRESS USER... [--data DIR]\n"
    "       postamt alias del ADDRESS [USER] [--data DIR]\n"
    "       postamt alias list [--data DIR]\n"
    "\n"
    "add    deliver mail for ADDRESS to each USER (existing local users).\n"
    "       ADDRESS \"@domain\" is the domain's catch-all: it receives mail\n"
    "       for addresses of the domain that match no user or alias.\n"
    "       Users may also send as their aliases (not as a catch-all).\n"
    "del    remove ADDRESS -> USER, or every target of ADDRESS\n"
    "list   print \"ADDRESS USER\" lines\n"
    "\n"
    "--data DIR   the data directory (default " CLI_DEFAULT_DATA ")\n"
    "\n"
    "Exit status: 0 ok, 1 runtime failure (e.g. no such user), 2 usage\n"
    "error.\n";

static void
alias_print(const char *address, const char *target, void *arg)
{
	(void)arg;
	printf("%s %s\n", address, target);
}

static int
alias_fail(const struct err *e)
{
	return cli_fail("alias", e);
}

static int
alias_run(struct auth *a, const char *action, int npos, char **pos)
{
	struct err e;

	if (strcmp(action, "list") == 0)
		return auth_alias_list(a, alias_print, NULL, &e) < 0
		           ? alias_fail(&e)
		           : CLI_OK;
	if (strcmp(action, "del") == 0) {
		if (auth_alias_del(a, pos[0], npos > 1 ? pos[1] : NULL, &e) < 0)
			return alias_fail(&e);
		printf("deleted %s%s%s\n", pos[0], npos > 1 ? " -> " : "",
		       npos > 1 ? pos[1] : "");
		return CLI_OK;
	}
	for (int i = 1; i < npos; i++) {
		if (auth_alias_add(a, pos[0], pos[i], &e) < 0)
			return alias_fail(&e);
		printf("added %s -> %s\n", pos[0], pos[i]);
	}
	return CLI_OK;
}

static int
alias_check(const char *action, int npos)
{
	if (action == NULL)
		return cli_usage_error("alias",
		                       "missing action (add, del or list)");
	if (strcmp(action, "list") == 0)
		return npos == 1
		           ? CLI_OK
		           : cli_usage_error("alias", "list takes no argument");
	if (strcmp(action, "add") == 0)
		return npos >= 3
		           ? CLI_OK
		           : cli_usage_error("alias", "add takes an "
		                                      "address and users");
	if (strcmp(action, "del") == 0)
		return npos == 2 || npos == 3
		           ? CLI_OK
		           : cli_usage_error("alias", "del takes an address "
		                                      "and optionally a user");
	return cli_usage_error("alias", "unknown action \"%s\"", action);
}

int
cli_alias(int argc, char **argv)
{
	const char *data;
	struct auth *a;
	int npos, rc;

	if ((rc = cli_parse_data_options("alias", alias_usage, argc, argv,
	                                 &data)) >= 0)
		return rc;
	npos = argc - optind;
	if ((rc = alias_check(npos > 0 ? argv[optind] : NULL, npos)) != 0)
		return rc;
	if ((rc = cli_open_accounts("alias", data, &a)) != 0)
		return rc;
	rc = alias_run(a, argv[optind], npos - 1, argv + optind + 1);
	auth_close(&a);
	return rc;
}
