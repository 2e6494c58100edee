/*
 * jqextract: Firehose's MetadataExtraction processor (firehose-reference.md section 1.7):
 * a JQ query (JsonParsingEngine JQ-1.6, run with Debian's libjq 1.6) applied to each record,
 * whose result is an object mapping partition key names to string values, used by
 * !{partitionKeyFromQuery:<name>} in the prefix.
 *
 * A record fails extraction (it goes to the error output) when it is not exactly one JSON value,
 * when the query raises an error or yields nothing, or when the result is not an object of
 * strings. Numbers and booleans are refused too: hydrant does not guess how Firehose would print
 * them. One jqextract is used by one thread at a time (libjq state is not thread-safe).
 */
#ifndef HY_JQEXTRACT_H
#define HY_JQEXTRACT_H

#include <stddef.h>

struct buf;
struct jqextract;

#define JQEXTRACT_QUERY_MAX 4096 /* Firehose: ProcessorParameterValue is at most 5120 chars */

/* Compile query. 0 and *out (caller frees with jqextract_free), HY_EINVAL with *reason (static
 * text) for a query libjq does not compile, or HY_ENOMEM. */
int jqextract_new(const char *query, struct jqextract **out, const char **reason);
void jqextract_free(struct jqextract *jx);

/* Run the query on one record. On 0, keys holds the result as "name\0value\0" pairs (appended;
 * *n_keys counts them). HY_EBADMSG with *reason (static) when the record fails extraction;
 * HY_ENOMEM or HY_E2BIG from keys. */
int jqextract_run(struct jqextract *jx, const void *data, size_t len, struct buf *keys,
                  size_t *n_keys, const char **reason);

/* The value of key name in a "name\0value\0" list of n pairs, or NULL. */
const char *jqextract_key(const char *keys, size_t n, const char *name, size_t name_len);

#endif
