#include "testdir.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

int
testdir_make(const char *name, char *out, size_t size)
{
	char tmpl[256];
	int n = snprintf(tmpl, sizeof(tmpl), "/tmp/postamt-%s-XXXXXX", name);

	if (n < 0 || (size_t)n >= sizeof(tmpl) || (size_t)n >= size ||
	    mkdtemp(tmpl) == NULL)
		return -1;
	snprintf(out, size, "%s", tmpl);
	return 0;
}

static int
testdir_rm_entry(const char *path, const struct stat *st, int flag,
                 struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
testdir_remove(const char *dir)
{
	nftw(dir, testdir_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
