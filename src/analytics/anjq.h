/*
 * anjq: JQ paths of live analytics (".cpu", ".host", ".ts") evaluated with libjq on the JSON
 * values of a record. A record may hold several JSON values (NDJSON): each is a point.
 * Threads: a compiled program and a document are used by one thread at a time.
 */
#ifndef HY_ANJQ_H
#define HY_ANJQ_H

#include <stddef.h>

struct anjq;
struct anjq_doc;
struct anjq_parser;
struct buf;

/* Compile program. 0 and *out; HY_EINVAL with jq's message in err (truncated to cap) for a
 * program jq refuses or one longer than 1024 bytes; HY_ENOMEM. */
int anjq_compile(const char *program, struct anjq **out, char *err, size_t cap);
void anjq_free(struct anjq *q);

/* 1 if q is a plain chain of fields (".a", ".m.cpu"), which the fast parser can evaluate. */
int anjq_simple(const struct anjq *q);

/* Iterate the JSON values of one record (len bytes, borrowed until anjq_parser_free). With
 * fast (only when every program used on its documents is anjq_simple), cJSON parses them.
 * NULL on allocation failure or a record over 2 GiB. */
struct anjq_parser *anjq_parser_new(const void *data, size_t len, int fast);
/* 1 with the next value in *doc (free with anjq_doc_free), 0 at the end, HY_EBADMSG when the
 * rest is not JSON (iteration ends), HY_ENOMEM. */
int anjq_parser_next(struct anjq_parser *p, struct anjq_doc **doc);
void anjq_parser_free(struct anjq_parser *p);

/* The program's first output on doc as a finite number (a JSON number, or a string holding
 * one). 0, or HY_EBADMSG (no output, an error, null, or not a number). */
int anjq_number(struct anjq *q, const struct anjq_doc *doc, double *out);
/* Append the first output as JSON text (compact) to out; with raw, a string's bytes without
 * quotes. 0, HY_ENOTFOUND (no output or null), HY_EBADMSG (jq error), HY_E2BIG/HY_ENOMEM. */
int anjq_json(struct anjq *q, const struct anjq_doc *doc, int raw, struct buf *out);
void anjq_doc_free(struct anjq_doc *doc);

#endif
