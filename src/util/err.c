#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>

int
err_set(struct err *e, enum err_kind kind, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return -1;
	e->kind = kind;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

void
err_clear(struct err *e)
{
	if (e == NULL)
		return;
	e->kind = ERR_OK;
	e->msg[0] = '\0';
}

const char *
err_kind_name(enum err_kind kind)
{
	static const char *const names[] = {
	    [ERR_OK] = "ok",         [ERR_TEMP] = "temp",
	    [ERR_PERM] = "perm",     [ERR_NOTFOUND] = "notfound",
	    [ERR_EXISTS] = "exists", [ERR_QUOTA] = "quota",
	    [ERR_LIMIT] = "limit",   [ERR_SYNTAX] = "syntax",
	    [ERR_IO] = "io",         [ERR_INTERNAL] = "internal",
	};

	if ((unsigned)kind >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[kind];
}
