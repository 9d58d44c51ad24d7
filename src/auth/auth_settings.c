/*
 * auth_settings: per-user settings (protocols, quota, POP3 behaviour).
 */
#include "auth/auth_private.h"

#include <stdlib.h>
#include <string.h>

#include "util/config.h"

enum setting_type { SET_BOOL, SET_SIZE, SET_COUNT, SET_WORD };

struct setting {
	const char *key;
	const char *column; /* constant text: never from user input */
	enum setting_type type;
	const char *const *words; /* SET_WORD: allowed values, in enum order */
};

static const char *const after_retrieve_words[] = {"keep", "mark-read",
                                                   "archive", NULL};
static const char *const on_delete_words[] = {"expunge", "trash", NULL};

static const struct setting settings[] = {
    {"active", "active", SET_BOOL, NULL},
    {"imap", "imap", SET_BOOL, NULL},
    {"pop3", "pop3", SET_BOOL, NULL},
    {"submission", "submission", SET_BOOL, NULL},
    {"save_sent", "save_sent", SET_BOOL, NULL},
    {"quota", "quota_bytes", SET_SIZE, NULL},
    {"quota_messages", "quota_messages", SET_COUNT, NULL},
    {"pop3_after_retrieve", "pop3_after_retrieve", SET_WORD,
     after_retrieve_words},
    {"pop3_on_delete", "pop3_on_delete", SET_WORD, on_delete_words},
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

const char *const auth_user_setting_keys[] = {
    "active",         "imap",  "pop3",           "submission",
    "save_sent",      "quota", "quota_messages", "pop3_after_retrieve",
    "pop3_on_delete", NULL,
};

static int
word_index(const char *const *words, const char *w)
{
	for (int i = 0; words[i] != NULL; i++)
		if (strcmp(words[i], w) == 0)
			return i;
	return -1;
}

static void
info_from_row(sqlite3_stmt *st, struct auth_user_info *info)
{
	const char *after = (const char *)sqlite3_column_text(st, 7);
	const char *del = (const char *)sqlite3_column_text(st, 8);
	int i;

	info->active = sqlite3_column_int(st, 0) != 0;
	info->imap = sqlite3_column_int(st, 1) != 0;
	info->pop3 = sqlite3_column_int(st, 2) != 0;
	info->submission = sqlite3_column_int(st, 3) != 0;
	info->save_sent = sqlite3_column_int(st, 4) != 0;
	info->quota_bytes = (uint64_t)sqlite3_column_int64(st, 5);
	info->quota_messages = (uint64_t)sqlite3_column_int64(st, 6);
	i = after != NULL ? word_index(after_retrieve_words, after) : -1;
	info->pop3_after_retrieve =
	    i < 0 ? AUTH_POP3_KEEP : (enum auth_pop3_after_retrieve)i;
	i = del != NULL ? word_index(on_delete_words, del) : -1;
	info->pop3_on_delete =
	    i < 0 ? AUTH_POP3_EXPUNGE : (enum auth_pop3_on_delete)i;
}

int
auth_user_info(struct auth *a, const char *address,
               struct auth_user_info *info_r, struct err *err)
{
	char addr[AUTH_ADDRESS_MAX + 1];
	const char *args[] = {addr, NULL};
	sqlite3_stmt *st = NULL;
	int rc;

	if (auth_address_normalize(address, addr, err) < 0)
		return -1;
	pthread_mutex_lock(&a->lock);
	if (auth_db_prepare(
	        a,
	        "SELECT active, imap, pop3, submission, save_sent, quota_bytes,"
	        " quota_messages, pop3_after_retrieve, pop3_on_delete"
	        " FROM users WHERE address = ?1",
	        args, &st, err) < 0) {
		pthread_mutex_unlock(&a->lock);
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		info_from_row(st, info_r);
	else if (rc == SQLITE_DONE)
		err_set(err, ERR_NOTFOUND, "no user %s", addr);
	else
		auth_db_error(a, rc, "user settings", err);
	auth_db_done(a, st);
	pthread_mutex_unlock(&a->lock);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Checks value for s and writes its stored form into out. */
static int
setting_value(const struct setting *s, const char *value, char *out,
              size_t size, struct err *err)
{
	uint64_t n;

	switch (s->type) {
	case SET_BOOL:
		if (strcmp(value, "yes") == 0 || strcmp(value, "no") == 0) {
			snprintf(out, size, "%d", value[0] == 'y');
			return 0;
		}
		return err_set(err, ERR_SYNTAX, "%s wants yes or no", s->key);
	case SET_SIZE:
	case SET_COUNT:
		if (parse_size(value, &n) < 0 || n > INT64_MAX ||
		    (s->type == SET_COUNT && strpbrk(value, "KMGkmg") != NULL))
			return err_set(
			    err, ERR_SYNTAX,
			    "%s wants a number%s (0: no limit)", s->key,
			    s->type == SET_SIZE ? " with an optional K, M or G"
			                        : "");
		snprintf(out, size, "%llu", (unsigned long long)n);
		return 0;
	case SET_WORD:
		if (word_index(s->words, value) >= 0) {
			snprintf(out, size, "%s", value);
			return 0;
		}
		return err_set(err, ERR_SYNTAX, "%s wants %s", s->key,
		               s->words == after_retrieve_words
		                   ? "keep, mark-read or archive"
		                   : "expunge or trash");
	}
	return err_set(err, ERR_INTERNAL, "unknown setting type");
}

int
auth_user_set(struct auth *a, const char *address, const char *key,
              const char *value, struct err *err)
{
	char addr[AUTH_ADDRESS_MAX + 1], stored[32], sql[128];
	const char *args[] = {stored, addr, NULL};
	const struct setting *s = NULL;
	int changes = 0, r;

	for (size_t i = 0; i < NSETTINGS; i++)
		if (strcmp(settings[i].key, key) == 0)
			s = &settings[i];
	if (s == NULL)
		return err_set(err, ERR_SYNTAX, "unknown setting \"%s\"", key);
	if (auth_address_normalize(address, addr, err) < 0 ||
	    setting_value(s, value, stored, sizeof(stored), err) < 0)
		return -1;
	snprintf(sql, sizeof(sql),
	         "UPDATE users SET %s = ?1 WHERE address = ?2", s->column);
	pthread_mutex_lock(&a->lock);
	r = auth_db_exec(a, sql, args, &changes, err);
	pthread_mutex_unlock(&a->lock);
	if (r == 0 && changes == 0)
		return err_set(err, ERR_NOTFOUND, "no user %s", addr);
	return r;
}
