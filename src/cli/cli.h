/*
 * cli: the `postamt` subcommands.  Each takes argc/argv starting at the
 * subcommand name and returns the process exit status.
 */
#ifndef POSTAMT_CLI_CLI_H
#define POSTAMT_CLI_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "util/config.h"

/* Exit statuses shared by every subcommand. */
enum cli_exit {
	CLI_OK = 0,     /* done */
	CLI_FAILED = 1, /* a runtime failure */
	CLI_USAGE = 2,  /* bad arguments or an invalid configuration */
};

#define CLI_DEFAULT_DATA "./postamt-data"

int cli_init(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_user(int argc, char **argv);
int cli_queue(int argc, char **argv);
int cli_alias(int argc, char **argv);
int cli_domain(int argc, char **argv);
int cli_backup(int argc, char **argv);
int cli_restore(int argc, char **argv);

/*
 * Prints "postamt SUB: message" to stderr plus a hint to run --help, and
 * returns CLI_USAGE.
 */
int cli_usage_error(const char *sub, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Path of the config file in data_dir, malloc()ed. */
char *cli_config_path(const char *data_dir);

/*
 * Parses the options every accounts subcommand shares, --data DIR and
 * --help (printing usage), leaving optind at the first positional
 * argument.  Returns -1 to go on, or the exit status to return now.
 */
int cli_parse_data_options(const char *sub, const char *usage, int argc,
                           char **argv, const char **data_r);

struct auth;

/*
 * Opens the accounts database of data, which `postamt init` must have
 * made.  Prints what to do and returns CLI_FAILED if it cannot; 0 if
 * *auth_r is open.
 */
int cli_open_accounts(const char *sub, const char *data, struct auth **auth_r);

/*
 * Prints "postamt SUB: message"; returns CLI_USAGE for ERR_SYNTAX,
 * CLI_FAILED otherwise.
 */
struct err;
int cli_fail(const char *sub, const struct err *e);

/*
 * Loads DATA/postamt.conf into cfg (defaults first).  On any error prints
 * every "file:line: problem, fix" line to stderr and returns -1 (exit
 * CLI_USAGE).  check_files also checks the TLS files exist.
 */
int cli_load_config(const char *data_dir, struct config *cfg, bool check_files);

#endif
