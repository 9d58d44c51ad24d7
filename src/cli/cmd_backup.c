/*
 * postamt backup / postamt restore: a copy of a data directory, taken
 * while the server runs, and a new data directory made from one.
 *
 * What a backup holds: postamt.conf and tls/ (copied), accounts.db (an
 * online-backup snapshot), queue/ (the outbound messages, copied), and
 * every user's mail (store/backup.h: the index as a snapshot, the blob
 * files hard-linked).  Not fts.db (rebuilt at the first open) nor
 * store.reserve (made again at start).  A file BACKUP names it as one;
 * restore refuses a directory without it, and a DATA that exists.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "store/backup.h"
#include "util/buf.h"

/* The first line of the BACKUP file. */
#define BACKUP_MAGIC "postamt-backup 1"

static const char backup_usage[] =
    "usage: postamt backup [--data DIR] DEST\n"
    "\n"
    "Copies the data directory DIR (default " CLI_DEFAULT_DATA ") into\n"
    "DEST, a new directory, while the server may keep running: the\n"
    "configuration, certificate, accounts, outbound queue and every\n"
    "user's mail.  Mail indexes are consistent snapshots; message files\n"
    "are hard-linked when DEST is on the same file system (they never\n"
    "change), else copied.  The full-text index is rebuilt after a\n"
    "restore.  `postamt restore` makes a data directory from DEST.\n"
    "\n"
    "Exit status: 0 ok, 1 runtime failure, 2 usage error.\n";

static const char restore_usage[] =
    "usage: postamt restore [--data DIR] SRC\n"
    "\n"
    "Makes the data directory DIR (default " CLI_DEFAULT_DATA "), which\n"
    "must not exist, from SRC, a directory written by `postamt backup`.\n"
    "Every index is checked first; a damaged backup is refused.  Then\n"
    "start the server with `postamt serve --data DIR`.\n"
    "\n"
    "Exit status: 0 ok, 1 runtime failure, 2 usage error.\n";

/* Which way the files go. */
struct backup_job {
	const char *sub; /* "backup" or "restore", for messages */
	const char *from, *to;
	bool restore;
	struct store_backup_stats st;
	struct err err;
};

static const char *
job_path(struct buf *b, const char *dir, const char *name)
{
	buf_reset(b);
	buf_printf(b, "%s/%s", dir, name);
	return buf_cstr(b);
}

/* Copies the files of from/name into to/name (both flat directories). */
static int
job_copy_dir(struct backup_job *j, const char *name)
{
	struct buf sdir = BUF_INIT, ddir = BUF_INIT, s = BUF_INIT, d = BUF_INIT;
	DIR *dir = opendir(job_path(&sdir, j->from, name));
	struct dirent *de;
	int rc = 0;

	if (dir == NULL && errno == ENOENT)
		goto out; /* nothing queued, say */
	if (dir == NULL || mkdir(job_path(&ddir, j->to, name), 0700) < 0) {
		rc = err_set(&j->err, ERR_IO, "%s: %s", buf_cstr(&sdir),
		             strerror(errno));
		goto out;
	}
	while (rc == 0 && (de = readdir(dir)) != NULL) {
		struct stat sb;

		/* A write in progress (tmp.*) is not a file yet. */
		if (de->d_name[0] == '.' || strncmp(de->d_name, "tmp.", 4) == 0)
			continue;
		if (stat(job_path(&s, buf_cstr(&sdir), de->d_name), &sb) < 0 ||
		    !S_ISREG(sb.st_mode))
			continue; /* gone since readdir(), or not a file */
		rc = store_backup_copy(
		    buf_cstr(&s), job_path(&d, buf_cstr(&ddir), de->d_name),
		    &j->err);
		if (rc == 0)
			j->st.files_copied++;
	}
out:
	if (dir != NULL)
		closedir(dir);
	buf_free(&sdir);
	buf_free(&ddir);
	buf_free(&s);
	buf_free(&d);
	return rc;
}

/* One user directory, the way the job goes. */
static int
job_user(struct backup_job *j, const char *src, const char *dst)
{
	return j->restore ? store_restore_user(src, dst, &j->st, &j->err)
	                  : store_backup_user(src, dst, &j->st, &j->err);
}

/* Every users/<shard>/<user> directory. */
static int
job_users(struct backup_job *j)
{
	struct buf root = BUF_INIT, droot = BUF_INIT, shard = BUF_INIT,
	           dshard = BUF_INIT, s = BUF_INIT, d = BUF_INIT;
	DIR *top = opendir(job_path(&root, j->from, "users"));
	struct dirent *de;
	int rc = 0;

	if ((top == NULL && errno != ENOENT) ||
	    mkdir(job_path(&droot, j->to, "users"), 0700) < 0) {
		rc = err_set(&j->err, ERR_IO, "%s: %s", buf_cstr(&root),
		             strerror(errno));
		goto out;
	}
	while (rc == 0 && top != NULL && (de = readdir(top)) != NULL) {
		DIR *in;
		struct dirent *ue;

		if (de->d_name[0] == '.')
			continue;
		job_path(&shard, buf_cstr(&root), de->d_name);
		if ((in = opendir(buf_cstr(&shard))) == NULL)
			continue; /* not a shard directory */
		if (mkdir(job_path(&dshard, buf_cstr(&droot), de->d_name),
		          0700) < 0)
			rc = err_set(&j->err, ERR_IO, "%s: %s",
			             buf_cstr(&dshard), strerror(errno));
		while (rc == 0 && (ue = readdir(in)) != NULL)
			if (ue->d_name[0] != '.')
				rc = job_user(
				    j,
				    job_path(&s, buf_cstr(&shard), ue->d_name),
				    job_path(&d, buf_cstr(&dshard),
				             ue->d_name));
		closedir(in);
	}
out:
	if (top != NULL)
		closedir(top);
	buf_free(&root);
	buf_free(&droot);
	buf_free(&shard);
	buf_free(&dshard);
	buf_free(&s);
	buf_free(&d);
	return rc;
}

/* The top-level files: the configuration and the accounts. */
static int
job_top(struct backup_job *j)
{
	struct buf s = BUF_INIT, d = BUF_INIT;
	int rc =
	    store_backup_copy(job_path(&s, j->from, "postamt.conf"),
	                      job_path(&d, j->to, "postamt.conf"), &j->err);

	if (rc == 0) {
		job_path(&s, j->from, "accounts.db");
		job_path(&d, j->to, "accounts.db");
		/* A restore copies a snapshot; a backup takes one. */
		rc = store_backup_db(buf_cstr(&s), buf_cstr(&d), &j->err);
	}
	if (rc == 0)
		j->st.files_copied += 2;
	buf_free(&s);
	buf_free(&d);
	return rc;
}

/* Writes the BACKUP file, then makes everything written durable. */
static int
job_finish(struct backup_job *j)
{
	struct buf path = BUF_INIT;
	FILE *f = NULL;
	int fd = -1, rc = -1;

	if (!j->restore) {
		f = fopen(job_path(&path, j->to, "BACKUP"), "wx");
		if (f == NULL ||
		    fprintf(f,
		            BACKUP_MAGIC "\ncreated %" PRId64 "\nusers %" PRIu64
		                         "\nmessages %" PRIu64 "\n",
		            (int64_t)time(NULL), j->st.users,
		            j->st.messages) < 0 ||
		    fclose(f) != 0) {
			err_set(&j->err, ERR_IO, "%s: %s", buf_cstr(&path),
			        strerror(errno));
			goto out;
		}
	}
	/* One flush for every file and directory written. */
	fd = open(j->to, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || syncfs(fd) < 0) {
		err_set(&j->err, ERR_IO, "%s: %s", j->to, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	buf_free(&path);
	return rc;
}

/* True if dir holds a BACKUP file that starts as one of ours. */
static bool
backup_is_ours(const char *dir)
{
	struct buf path = BUF_INIT;
	char line[64] = "";
	FILE *f = fopen(job_path(&path, dir, "BACKUP"), "r");
	bool ok = f != NULL && fgets(line, sizeof(line), f) != NULL &&
	          strncmp(line, BACKUP_MAGIC "\n", sizeof(BACKUP_MAGIC)) == 0;

	if (f != NULL)
		fclose(f);
	buf_free(&path);
	return ok;
}

static int
job_run(struct backup_job *j)
{
	err_clear(&j->err);
	if (mkdir(j->to, 0700) < 0) {
		fprintf(stderr, "postamt %s: cannot create %s: %s%s\n", j->sub,
		        j->to, strerror(errno),
		        errno == EEXIST ? " (give a new directory)" : "");
		return CLI_FAILED;
	}
	if (job_top(j) < 0 || job_copy_dir(j, "tls") < 0 ||
	    job_copy_dir(j, "queue") < 0 || job_users(j) < 0 ||
	    job_finish(j) < 0) {
		fprintf(stderr,
		        "postamt %s: %s\n(%s is incomplete: remove it before "
		        "trying again)\n",
		        j->sub, j->err.msg, j->to);
		return CLI_FAILED;
	}
	printf("%s %s -> %s: %" PRIu64 " users, %" PRIu64 " messages; %" PRIu64
	       " files linked, %" PRIu64 " copied\n",
	       j->sub, j->from, j->to, j->st.users, j->st.messages,
	       j->st.files_linked, j->st.files_copied);
	return CLI_OK;
}

/* Parses [--data DIR] ONE-ARGUMENT; -1 to go on. */
static int
job_args(const char *sub, const char *usage, int argc, char **argv,
         const char **data_r, const char **arg_r)
{
	int rc = cli_parse_data_options(sub, usage, argc, argv, data_r);

	if (rc >= 0)
		return rc;
	if (optind != argc - 1)
		return cli_usage_error(sub, "give exactly one directory");
	*arg_r = argv[optind];
	return -1;
}

int
cli_backup(int argc, char **argv)
{
	struct backup_job j = {.sub = "backup"};
	struct buf conf = BUF_INIT;
	int rc = job_args("backup", backup_usage, argc, argv, &j.from, &j.to);

	if (rc >= 0)
		return rc;
	if (access(job_path(&conf, j.from, "postamt.conf"), R_OK) < 0) {
		fprintf(stderr,
		        "postamt backup: %s is not a data directory (no "
		        "postamt.conf); give it with --data\n",
		        j.from);
		buf_free(&conf);
		return CLI_FAILED;
	}
	buf_free(&conf);
	return job_run(&j);
}

int
cli_restore(int argc, char **argv)
{
	struct backup_job j = {.sub = "restore", .restore = true};
	int rc = job_args("restore", restore_usage, argc, argv, &j.to, &j.from);

	if (rc >= 0)
		return rc;
	if (!backup_is_ours(j.from)) {
		fprintf(stderr,
		        "postamt restore: %s is not a backup made by `postamt "
		        "backup` (no BACKUP file)\n",
		        j.from);
		return CLI_FAILED;
	}
	return job_run(&j);
}
