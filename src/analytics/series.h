/*
 * series: one NAB-format time series in memory ("timestamp,value" CSV, header line first).
 * Owns the timestamps (text as written, up to SERIES_TS_MAX-1 bytes each) and the values.
 * Hand-written: the format is two columns and Debian's CSV libraries (libcsv) would still leave
 * the number and timestamp checks to us. Not thread-safe; one owner.
 */
#ifndef HY_SERIES_H
#define HY_SERIES_H

#include <stddef.h>

#define SERIES_TS_MAX 32

struct series {
    size_t n;
    char (*ts)[SERIES_TS_MAX]; /* n NUL-terminated timestamps */
    double *value;             /* n values */
};

/* Parse CSV text (header "timestamp,value" required, CRLF accepted, blank last line ignored).
 * Returns 0, HY_EBADMSG with *why set (static text, *line the 1-based line) or HY_ENOMEM.
 * The caller frees the result with series_fini. */
int series_parse(const char *text, size_t len, struct series *out, const char **why, size_t *line);
/* Read and parse a file; -errno for I/O errors, else as series_parse. */
int series_read(const char *path, struct series *out, const char **why, size_t *line);
/* Index of the first row whose timestamp starts with ts (up to its first '.'), or -1. */
long series_find(const struct series *s, const char *ts);
void series_fini(struct series *s);

#endif
