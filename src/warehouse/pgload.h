/*
 * pgload: one staged batch into PostgreSQL with libpq, exactly once. In one transaction: the
 * batch's manifest key goes into hydrant_loads (a key already there means the batch committed
 * before, e.g. before a kill -9, and nothing is loaded again), then COPY table (cols) FROM STDIN;
 * if PostgreSQL rejects rows (data exception or constraint: SQLSTATE classes 22 and 23) the
 * batch is loaded again line by line, each in a savepoint, and each rejected line is recorded in
 * hydrant_load_errors (the STL_LOAD_ERRORS analogue) while the rest commits.
 */
#ifndef HY_PGLOAD_H
#define HY_PGLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "warehouse/copyopts.h"

struct pgload;

struct pgload_target {
    struct jdbc_url url;
    const char *user;
    const char *password;
    const char *table;   /* DataTableName, schema.table allowed */
    const char *columns; /* DataTableColumns, comma separated; NULL or "" = all */
    struct copyopts opts;
};

struct pgload_result {
    uint64_t rows;   /* lines loaded */
    uint64_t errors; /* lines recorded in hydrant_load_errors */
    int already;     /* the manifest was loaded before: nothing done */
};

struct pgload *pgload_new(void);
void pgload_free(struct pgload *p);
/* Load the batch data (uncompressed) staged as file_url under manifest key. 0 with *res, or -1
 * (retry later: connection, missing table, ...) with err (size n) describing why. */
int pgload_batch(struct pgload *p, const struct pgload_target *t, const char *manifest,
                 const char *file_url, const char *data, size_t len, struct pgload_result *res,
                 char *err, size_t n);
/* Build one COPY input line for a JSON object line, columns in DataTableColumns order (CSV with
 * ',' and '"'; missing or null keys are NULL). 0, or -1 (not a JSON object). Exposed for tests. */
struct buf;
int pgload_json_line(const char *line, size_t len, const char *columns, struct buf *out);

#endif
