#include "pop3/resp.h"

#include <stddef.h>

struct resp_row {
	const char *code;
	const char *text;
};

/*
 * RFC 3206 4: SYS/TEMP is a problem that may go away if the client tries
 * again later; SYS/PERM one that will not.  Disk, database and internal
 * failures are treated as temporary: an administrator can fix them without
 * the client changing anything.
 */
static const struct resp_row resp_rows[] = {
    [ERR_OK] = {"SYS/TEMP", "Unexpected failure; try again later"},
    [ERR_TEMP] = {"SYS/TEMP", "Temporary failure; try again later"},
    [ERR_PERM] = {"SYS/PERM", "Permanent failure"},
    [ERR_NOTFOUND] = {NULL, "Message no longer exists"},
    [ERR_EXISTS] = {"SYS/PERM", "Already exists"},
    [ERR_QUOTA] = {"SYS/PERM", "Over quota"},
    [ERR_LIMIT] = {"SYS/PERM", "A server limit was exceeded"},
    [ERR_SYNTAX] = {"SYS/PERM", "Invalid data in the mail store"},
    [ERR_IO] = {"SYS/TEMP", "Storage failure; try again later"},
    [ERR_INTERNAL] = {"SYS/TEMP", "Internal error; try again later"},
};

#define RESP_NROWS (sizeof(resp_rows) / sizeof(resp_rows[0]))

const char *
pop3_resp_code(enum err_kind kind)
{
	if ((unsigned)kind >= RESP_NROWS)
		return "SYS/TEMP";
	return resp_rows[kind].code;
}

const char *
pop3_resp_text(enum err_kind kind)
{
	if ((unsigned)kind >= RESP_NROWS)
		return "Unexpected failure; try again later";
	return resp_rows[kind].text;
}
