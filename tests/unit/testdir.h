/*
 * testdir: temporary directories for unit tests (mkdtemp under /tmp and a
 * recursive removal), so every test that needs a data directory makes and
 * removes it the same way.
 */
#ifndef POSTAMT_TESTS_TESTDIR_H
#define POSTAMT_TESTS_TESTDIR_H

#include <stddef.h>

/*
 * Makes /tmp/postamt-NAME-XXXXXX in out (size >= 64).  Returns 0, or -1
 * (with out unchanged) if the name is too long or mkdtemp() fails.
 */
int testdir_make(const char *name, char *out, size_t size);

/* Removes dir and everything below it; errors are ignored. */
void testdir_remove(const char *dir);

#endif
