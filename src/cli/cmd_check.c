/*
 * postamt check: validate the configuration and report every problem as
 * "file:line: what is wrong, what to do".
 */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "net/tls.h"

static const char check_usage[] =
    "usage: postamt check [--data DIR]\n"
    "\n"
    "Reads DIR/postamt.conf (default " CLI_DEFAULT_DATA "), checks every\n"
    "key, that the TLS certificate and key load and match, and that no\n"
    "two services share a port.  Prints each problem as\n"
    "file:line: what is wrong, what to do.  Exit status 0 if valid, 2 if\n"
    "not.\n";

static int
check_ports(const struct config *cfg)
{
	int rc = 0;

	for (int a = 0; a < SVC_COUNT; a++) {
		for (int b = a + 1; b < SVC_COUNT; b++) {
			const char *kb = service_port_key((enum service)b);
			if (cfg->port[a] == 0 || cfg->port[a] != cfg->port[b])
				continue;
			fprintf(stderr,
			        "%s:%d: %s = %d is also %s; give each service "
			        "its own port\n",
			        cfg->path, config_key_line(cfg, kb), kb,
			        cfg->port[b],
			        service_port_key((enum service)a));
			rc = -1;
		}
	}
	return rc;
}

static int
check_run(const char *data)
{
	struct config cfg;
	struct buf errors = BUF_INIT;
	SSL_CTX *ctx = NULL;
	int rc = CLI_USAGE;

	if (cli_load_config(data, &cfg, true) < 0)
		goto out;
	if (check_ports(&cfg) < 0)
		goto out;
	if ((ctx = tls_ctx_new(&cfg, &errors)) == NULL) {
		fputs(buf_cstr(&errors), stderr);
		goto out;
	}
	printf("%s: ok\n", cfg.path);
	rc = CLI_OK;
out:
	SSL_CTX_free(ctx);
	buf_free(&errors);
	config_free(&cfg);
	return rc;
}

int
cli_check(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *data = CLI_DEFAULT_DATA;
	int ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			data = optarg;
			break;
		case 'h':
			fputs(check_usage, stdout);
			return CLI_OK;
		default:
			return cli_usage_error("check", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("check", "unexpected argument \"%s\"",
		                       argv[optind]);
	return check_run(data);
}
