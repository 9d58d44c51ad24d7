/*
 * queue_file: reading and writing the durable queue files (see queue.h).
 *
 * Header lines, in this order (unknown keys are an error, so a file from a
 * newer version is not half understood):
 *   version 1 | created T | attempts N | next T | from ADDR | envid X |
 *   ret hdrs | warned 1 | rcpt ADDR | notify BITS | orcpt X
 * ("warned 1": the delay DSN was sent.)
 * notify and orcpt apply to the rcpt line before them.
 */
#include "smtp/queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_VERSION 1

int
smtp_queue_dir(const char *data_dir, struct buf *out, struct err *err)
{
	if (buf_printf(out, "%s/queue", data_dir) < 0)
		return err_set(err, ERR_TEMP, "queue: out of memory");
	if (mkdir(buf_cstr(out), 0700) < 0 && errno != EEXIST)
		return err_set(err, ERR_IO, "queue: mkdir %s: %s",
		               buf_cstr(out), strerror(errno));
	return 0;
}

bool
smtp_queue_id_is_valid(const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0'; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		      (name[i] >= 'a' && name[i] <= 'f')) ||
		    i >= 16)
			return false;
	return i == 16;
}

void
smtp_queue_new_id(char id[17])
{
	unsigned char rnd[8] = {0};
	uint64_t v = 0;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		v = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 40;
	for (size_t i = 0; i < sizeof(rnd); i++)
		v = v << 8 | rnd[i];
	snprintf(id, 17, "%016" PRIx64, v);
}

int
smtp_queue_msg_add_rcpt(struct smtp_queue_msg *m, const char *addr,
                        const char *orcpt, unsigned notify)
{
	struct smtp_queue_rcpt *r;

	r = realloc(m->rcpts, (m->nrcpts + 1) * sizeof(*r));
	if (r == NULL)
		return -1;
	m->rcpts = r;
	r = &m->rcpts[m->nrcpts];
	memset(r, 0, sizeof(*r));
	r->addr = strdup(addr);
	r->orcpt = orcpt != NULL ? strdup(orcpt) : NULL;
	r->notify = notify;
	if (r->addr == NULL || (orcpt != NULL && r->orcpt == NULL)) {
		free(r->addr);
		free(r->orcpt);
		return -1;
	}
	m->nrcpts++;
	return 0;
}

void
smtp_queue_msg_free(struct smtp_queue_msg *m)
{
	free(m->from);
	free(m->envid);
	for (size_t i = 0; i < m->nrcpts; i++) {
		free(m->rcpts[i].addr);
		free(m->rcpts[i].orcpt);
		free(m->rcpts[i].reply);
	}
	free(m->rcpts);
	buf_free(&m->body);
	memset(m, 0, sizeof(*m));
}

static bool
queue_value_ok(const char *v)
{
	return v == NULL || strpbrk(v, "\r\n") == NULL;
}

/* The header text of m; -1 if a value cannot be stored. */
static int
queue_header(const struct smtp_queue_msg *m, struct buf *b)
{
	int rc = 0;

	if (!queue_value_ok(m->from) || !queue_value_ok(m->envid))
		return -1;
	rc |= buf_printf(b,
	                 "version %d\ncreated %" PRId64 "\nattempts %u\n"
	                 "next %" PRId64 "\nfrom %s\n",
	                 QUEUE_VERSION, m->created, m->attempts,
	                 m->next_attempt, m->from != NULL ? m->from : "");
	if (m->envid != NULL)
		rc |= buf_printf(b, "envid %s\n", m->envid);
	if (m->ret_hdrs)
		rc |= buf_printf(b, "ret hdrs\n");
	if (m->delay_notified)
		rc |= buf_printf(b, "warned 1\n");
	for (size_t i = 0; i < m->nrcpts; i++) {
		const struct smtp_queue_rcpt *r = &m->rcpts[i];

		if (!queue_value_ok(r->addr) || !queue_value_ok(r->orcpt))
			return -1;
		rc |= buf_printf(b, "rcpt %s\n", r->addr);
		if (r->notify != 0)
			rc |= buf_printf(b, "notify %u\n", r->notify);
		if (r->orcpt != NULL)
			rc |= buf_printf(b, "orcpt %s\n", r->orcpt);
	}
	rc |= buf_append(b, "\n", 1);
	return rc < 0 ? -1 : 0;
}

/* Writes every byte of data to fd. */
static int
queue_write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
queue_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
smtp_queue_write(const char *dir, const struct smtp_queue_msg *m,
                 struct err *err)
{
	struct buf head = BUF_INIT, tmp = BUF_INIT, path = BUF_INIT;
	int fd = -1, rc = -1;

	if (queue_header(m, &head) < 0) {
		buf_free(&head);
		return err_set(err, ERR_SYNTAX,
		               "queue: an envelope value has a line break");
	}
	if (buf_printf(&tmp, "%s/tmp.%s", dir, m->id) < 0 ||
	    buf_printf(&path, "%s/%s", dir, m->id) < 0) {
		err_set(err, ERR_TEMP, "queue: out of memory");
		goto out;
	}
	fd = open(buf_cstr(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	          0600);
	if (fd < 0 || queue_write_all(fd, head.data, head.len) < 0 ||
	    queue_write_all(fd, m->body.data, m->body.len) < 0 ||
	    fsync(fd) < 0) {
		err_set(err, errno == ENOSPC ? ERR_TEMP : ERR_IO,
		        "queue: write %s: %s", buf_cstr(&tmp), strerror(errno));
		goto out;
	}
	if (rename(buf_cstr(&tmp), buf_cstr(&path)) < 0 ||
	    queue_sync_dir(dir) < 0) {
		err_set(err, ERR_IO, "queue: commit %s: %s", buf_cstr(&path),
		        strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(buf_cstr(&tmp));
	buf_free(&head);
	buf_free(&tmp);
	buf_free(&path);
	return rc;
}

/* Applies one header line ("key value", NUL-terminated) to m. */
static int
queue_parse_line(struct smtp_queue_msg *m, char *line)
{
	char *v = strchr(line, ' ');
	struct smtp_queue_rcpt *last =
	    m->nrcpts > 0 ? &m->rcpts[m->nrcpts - 1] : NULL;

	if (v == NULL)
		return -1;
	*v++ = '\0';
	if (strcmp(line, "version") == 0)
		return atoi(v) == QUEUE_VERSION ? 0 : -1;
	if (strcmp(line, "created") == 0)
		m->created = strtoll(v, NULL, 10);
	else if (strcmp(line, "attempts") == 0)
		m->attempts = (unsigned)strtoul(v, NULL, 10);
	else if (strcmp(line, "next") == 0)
		m->next_attempt = strtoll(v, NULL, 10);
	else if (strcmp(line, "from") == 0)
		return (m->from = strdup(v)) != NULL ? 0 : -1;
	else if (strcmp(line, "envid") == 0)
		return (m->envid = strdup(v)) != NULL ? 0 : -1;
	else if (strcmp(line, "ret") == 0)
		m->ret_hdrs = strcmp(v, "hdrs") == 0;
	else if (strcmp(line, "warned") == 0)
		m->delay_notified = strcmp(v, "1") == 0;
	else if (strcmp(line, "rcpt") == 0)
		return m->nrcpts < SMTP_QUEUE_RCPTS_MAX
		           ? smtp_queue_msg_add_rcpt(m, v, NULL, 0)
		           : -1;
	else if (strcmp(line, "notify") == 0 && last != NULL)
		last->notify = (unsigned)strtoul(v, NULL, 10);
	else if (strcmp(line, "orcpt") == 0 && last != NULL)
		return (last->orcpt = strdup(v)) != NULL ? 0 : -1;
	else
		return -1;
	return 0;
}

/* Reads header lines up to the blank line. */
static int
queue_read_header(FILE *f, struct smtp_queue_msg *m)
{
	char line[SMTP_QUEUE_LINE_MAX];

	while (fgets(line, sizeof(line), f) != NULL) {
		size_t len = strlen(line);

		if (len == 0 || line[len - 1] != '\n')
			return -1; /* too long or truncated */
		line[len - 1] = '\0';
		if (len == 1)
			return m->from != NULL ? 0 : -1;
		if (queue_parse_line(m, line) < 0)
			return -1;
	}
	return -1;
}

static int
queue_read_body(FILE *f, struct buf *body)
{
	char chunk[65536];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(body, chunk, n) < 0)
			return -1;
	return ferror(f) ? -1 : 0;
}

int
smtp_queue_read(const char *dir, const char *id, bool with_body,
                struct smtp_queue_msg *m, struct err *err)
{
	struct buf path = BUF_INIT;
	FILE *f;
	int rc = 0;

	memset(m, 0, sizeof(*m));
	if (!smtp_queue_id_is_valid(id))
		return err_set(err, ERR_NOTFOUND, "queue: no message %s", id);
	snprintf(m->id, sizeof(m->id), "%s", id);
	if (buf_printf(&path, "%s/%s", dir, id) < 0)
		return err_set(err, ERR_TEMP, "queue: out of memory");
	if ((f = fopen(buf_cstr(&path), "re")) == NULL) {
		rc = err_set(err, errno == ENOENT ? ERR_NOTFOUND : ERR_IO,
		             "queue: open %s: %s", buf_cstr(&path),
		             strerror(errno));
	} else if (queue_read_header(f, m) < 0) {
		rc = err_set(err, ERR_IO, "queue: %s is corrupt",
		             buf_cstr(&path));
	} else if (with_body && queue_read_body(f, &m->body) < 0) {
		rc = err_set(err, ERR_IO, "queue: cannot read %s",
		             buf_cstr(&path));
	}
	if (f != NULL)
		fclose(f);
	buf_free(&path);
	if (rc < 0)
		smtp_queue_msg_free(m);
	return rc;
}

int
smtp_queue_remove(const char *dir, const char *id, struct err *err)
{
	struct buf path = BUF_INIT;
	int rc = 0;

	if (!smtp_queue_id_is_valid(id))
		return err_set(err, ERR_NOTFOUND, "no queued message %s", id);
	if (buf_printf(&path, "%s/%s", dir, id) < 0)
		return err_set(err, ERR_TEMP, "queue: out of memory");
	if (unlink(buf_cstr(&path)) < 0)
		rc = err_set(err, errno == ENOENT ? ERR_NOTFOUND : ERR_IO,
		             "no queued message %s: %s", id, strerror(errno));
	else
		queue_sync_dir(dir);
	buf_free(&path);
	return rc;
}

int
smtp_queue_each(const char *dir, int (*fn)(const char *id, void *arg),
                void *arg, struct err *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = 0;

	if (d == NULL)
		return err_set(err, ERR_IO, "queue: opendir %s: %s", dir,
		               strerror(errno));
	while (rc == 0 && (de = readdir(d)) != NULL)
		if (smtp_queue_id_is_valid(de->d_name))
			rc = fn(de->d_name, arg);
	closedir(d);
	return rc;
}
