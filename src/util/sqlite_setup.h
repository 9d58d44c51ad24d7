/*
 * sqlite_setup: SQLite's process-wide settings, made once before the
 * first connection of any layer (auth and store both open databases).
 */
#ifndef POSTAMT_UTIL_SQLITE_SETUP_H
#define POSTAMT_UTIL_SQLITE_SETUP_H

/* Idempotent and thread-safe; call before opening a database. */
void sqlite_setup(void);

#endif
