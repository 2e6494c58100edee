/*
 * buf: growable byte buffer with a hard cap. Fields are public for reading; change them only
 * through these calls. An append past `max` fails with HY_E2BIG and leaves the buffer unchanged;
 * an allocation failure gives HY_ENOMEM, also unchanged. data is NUL-terminated after every
 * successful call (the NUL is not counted in len), so text can be used as a C string.
 * Not thread-safe; the owner serialises access.
 */
#ifndef HY_BUF_H
#define HY_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* largest len allowed */
};

void buf_init(struct buf *b, size_t max);
void buf_fini(struct buf *b);
/* Make room for n more bytes; returns 0 or HY_E2BIG/HY_ENOMEM. */
int buf_reserve(struct buf *b, size_t n);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Append s as a JSON string literal, quotes included, escaping as RFC 8259 requires. */
int buf_append_json_str(struct buf *b, const char *s, size_t n);
void buf_reset(struct buf *b);
/* Drop everything after the first len bytes (no-op when len >= b->len); stays NUL-terminated. */
void buf_truncate(struct buf *b, size_t len);

#endif
