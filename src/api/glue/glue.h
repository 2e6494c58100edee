/*
 * glue: a Glue-compatible Data Catalog front (AWS JSON 1.1, X-Amz-Target "AWSGlue.<Op>"), holding
 * the databases and tables that record format conversion takes its schemas from. Operations:
 * CreateDatabase, GetDatabase, GetDatabases, DeleteDatabase, CreateTable, GetTable, GetTables,
 * UpdateTable, DeleteTable. Only what conversion needs is kept: the DatabaseInput and TableInput
 * members as given (names lower-cased, as Glue does), plus CreateTime, UpdateTime and VersionId.
 * Storage: <data-dir>/glue/<hex of the database name>.json, one document per database with its
 * tables, rewritten atomically (temp file, fsync, rename, directory fsync) before the answer, so
 * an acknowledged change survives kill -9. One mutex serialises the operations (they are small);
 * any loop thread may call.
 */
#ifndef HY_GLUE_H
#define HY_GLUE_H

#include <stddef.h>

struct cJSON;
struct glue;
struct http_exchange;
struct http_request;

/* Load every database under <data_dir>/glue (created if missing). 0 and *out, or a negative
 * error (a damaged file is refused, not skipped). Caller frees with glue_free. Blocks on disk. */
int glue_open(const char *data_dir, const char *account_id, struct glue **out);
void glue_free(struct glue *g);
/* The http_handler_fn; ud is the struct glue *. Answers every request exactly once. */
void glue_handle(struct http_exchange *ex, const struct http_request *req, void *ud);
/* A copy of the stored table (GetTable's "Table" member); 0 and *out (caller frees with
 * cJSON_Delete), HY_ENOENT-like -ENOENT when the database or table is missing, or HY_ENOMEM. */
int glue_table_get(struct glue *g, const char *db, const char *table, struct cJSON **out);

#endif
