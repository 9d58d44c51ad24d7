/*
 * buf: the one growable byte buffer of Postamt.
 *
 * A buffer carries its length, its capacity and a hard maximum: growth past
 * the maximum fails instead of allocating, so hostile input costs bounded
 * memory.  The contents are always NUL-terminated (the NUL is not counted in
 * len), so text can be handed to C functions without copying.  Appends work
 * in place through a pointer to the buffer; nothing is reassigned.
 */
#ifndef POSTAMT_UTIL_BUF_H
#define POSTAMT_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	char *data; /* NULL until the first append */
	size_t len; /* bytes in use, not counting the trailing NUL */
	size_t cap; /* bytes allocated */
	size_t max; /* hard limit on len; 0 means SIZE_MAX / 2 */
};

#define BUF_INIT                                                               \
	{                                                                      \
		NULL, 0, 0, 0                                                  \
	}

/* Sets an empty buffer with the given maximum (0: effectively unlimited). */
void buf_init(struct buf *b, size_t max);

/* Frees the storage; the buffer is empty and reusable afterwards. */
void buf_free(struct buf *b);

/* Empties the buffer but keeps its storage. */
void buf_reset(struct buf *b);

/*
 * Makes room for n more bytes.  Returns 0, or -1 if len + n would pass the
 * maximum or memory is exhausted (the buffer is then unchanged).
 */
int buf_reserve(struct buf *b, size_t n);

/* Appends n bytes.  Returns 0 or -1 as buf_reserve(). */
int buf_append(struct buf *b, const void *p, size_t n);

/* Appends a NUL-terminated string. */
int buf_append_str(struct buf *b, const char *s);
/* Appends v in decimal (no printf: FETCH writes one per message). */
int buf_append_u64(struct buf *b, uint64_t v);

/* Appends formatted text.  Returns 0 or -1 (limit, memory or bad format). */
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Removes the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);

/* Returns the contents as a C string ("" for an empty buffer). */
const char *buf_cstr(const struct buf *b);

/*
 * Hands the storage to the caller (who frees it with free()) and leaves the
 * buffer empty.  Returns a NUL-terminated string, never NULL unless out of
 * memory.
 */
char *buf_steal(struct buf *b);

#endif
