/*
 * postamt: one binary, one subcommand per task.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
    {"init", cli_init, "create a data directory, config and certificate"},
    {"serve", cli_serve, "run the server in the foreground"},
    {"check", cli_check, "validate the configuration"},
    {"user", cli_user, "add, delete, list users and set passwords"},
    {"alias", cli_alias, "add, delete and list aliases and catch-alls"},
    {"domain", cli_domain, "add, delete and list local domains"},
    {"queue", cli_queue, "list, flush or delete outbound mail"},
    {"backup", cli_backup, "copy the data directory while the server runs"},
    {"restore", cli_restore, "make a data directory from a backup"},
};

#define NSUB (sizeof(subcommands) / sizeof(subcommands[0]))

static void
usage(FILE *out)
{
	fprintf(out, "usage: postamt COMMAND [--data DIR] [options]\n\n"
	             "Commands:\n");
	for (size_t i = 0; i < NSUB; i++)
		fprintf(out, "  %-8s %s\n", subcommands[i].name,
		        subcommands[i].summary);
	fprintf(out,
	        "\nEvery command takes --data DIR (default %s) and "
	        "--help.\nExit status: 0 ok, 1 runtime failure, 2 usage "
	        "or configuration error.\n",
	        CLI_DEFAULT_DATA);
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return CLI_OK;
	}
	for (size_t i = 0; i < NSUB; i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "postamt: unknown command \"%s\"\n\n", argv[1]);
	usage(stderr);
	return CLI_USAGE;
}
