/*
 * postamt init: create a data directory ready to serve.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth.h"
#include "cli/cli.h"
#include "net/tls_cert.h"
#include "store/store.h"

static const char init_usage[] =
    "usage: postamt init [--data DIR] [--hostname HOST] [--domain DOMAIN]\n"
    "\n"
    "Creates DIR (default " CLI_DEFAULT_DATA ") with postamt.conf (every key\n"
    "commented, with its default), the accounts database, the mail store\n"
    "and a self-signed TLS certificate for HOST.  DOMAIN becomes the first\n"
    "local mail domain.  Refuses to touch a DIR that already has a config.\n";

static int
mkdir_p(const char *path, mode_t mode)
{
	char *copy = strdup(path);
	int rc = 0;

	if (copy == NULL)
		return -1;
	for (char *p = copy + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, mode) != 0 && errno != EEXIST)
			rc = -1;
		*p = '/';
	}
	if (rc == 0 && mkdir(copy, mode) != 0 && errno != EEXIST)
		rc = -1;
	free(copy);
	return rc;
}

static int
init_write_config(const struct config *cfg, const char *path)
{
	FILE *f = fopen(path, "wx");
	int rc;

	if (f == NULL)
		return -1;
	rc = config_write(cfg, f);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

static int
init_tls(const struct config *cfg)
{
	struct buf dir = BUF_INIT, cert = BUF_INIT, key = BUF_INIT;
	struct err err;
	int rc = 0;

	buf_printf(&dir, "%s/tls", cfg->data_dir);
	buf_printf(&cert, "%s/%s", cfg->data_dir, cfg->tls_cert);
	buf_printf(&key, "%s/%s", cfg->data_dir, cfg->tls_key);
	if (access(cert.data, F_OK) != 0) {
		if (mkdir_p(dir.data, 0700) != 0 ||
		    tls_cert_make_self_signed(cfg->hostname, cert.data,
		                              key.data, &err) < 0) {
			fprintf(stderr, "postamt init: certificate: %s\n",
			        errno != 0 ? strerror(errno) : err.msg);
			rc = -1;
		}
	}
	buf_free(&dir);
	buf_free(&cert);
	buf_free(&key);
	return rc;
}

static int
init_databases(const struct config *cfg)
{
	struct auth *auth = NULL;
	struct store *store = NULL;
	struct err err;
	int rc = -1;

	if (auth_open(cfg->data_dir, &auth, &err) < 0 ||
	    (auth_domain_add(auth, cfg->domain, &err) < 0 &&
	     err.kind != ERR_EXISTS) ||
	    store_open(cfg->data_dir, &store, &err) < 0) {
		fprintf(stderr, "postamt init: %s\n", err.msg);
		goto out;
	}
	rc = 0;
out:
	store_close(&store);
	auth_close(&auth);
	return rc;
}

static int
init_run(const char *data, const char *hostname, const char *domain)
{
	struct config cfg;
	char *path = cli_config_path(data);
	int rc = CLI_FAILED;

	config_defaults(&cfg, data);
	if (hostname != NULL) {
		free(cfg.hostname);
		cfg.hostname = strdup(hostname);
	}
	if (domain != NULL) {
		free(cfg.domain);
		cfg.domain = strdup(domain);
	}
	if (access(path, F_OK) == 0) {
		fprintf(stderr,
		        "postamt init: %s already exists; edit it, or choose "
		        "another --data directory\n",
		        path);
		goto out;
	}
	if (mkdir_p(data, 0700) != 0 || init_write_config(&cfg, path) != 0) {
		fprintf(stderr, "postamt init: cannot write %s: %s\n", path,
		        strerror(errno));
		goto out;
	}
	if (init_tls(&cfg) < 0 || init_databases(&cfg) < 0)
		goto out;
	printf("initialised %s for %s (domain %s)\nnext: postamt user add "
	       "USER@%s --data %s\n",
	       data, cfg.hostname, cfg.domain, cfg.domain, data);
	rc = CLI_OK;
out:
	config_free(&cfg);
	free(path);
	return rc;
}

int
cli_init(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, 'd'},
	    {"hostname", required_argument, NULL, 'H'},
	    {"domain", required_argument, NULL, 'D'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *data = CLI_DEFAULT_DATA, *hostname = NULL, *domain = NULL;
	int ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			data = optarg;
			break;
		case 'H':
			hostname = optarg;
			break;
		case 'D':
			domain = optarg;
			break;
		case 'h':
			fputs(init_usage, stdout);
			return CLI_OK;
		default:
			return cli_usage_error("init", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("init", "unexpected argument \"%s\"",
		                       argv[optind]);
	return init_run(data, hostname, domain);
}
