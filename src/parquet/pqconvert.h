/*
 * pqconvert: JSON records to Parquet rows, the way Firehose's record format conversion reads them
 * (OpenX JSON SerDe by default, Hive JSON SerDe optionally), against a table's columns given as
 * Glue/Hive type strings ("bigint", "decimal(10,2)", "array<struct<a:int,b:string>>", ...).
 * JSON is parsed here by a small scanner of our own that keeps numbers as text, because cJSON
 * turns every number into a double (bigints past 2^53 and decimals would lose digits).
 *
 * Rules: a missing key or JSON null gives a null column; numbers may also come as strings; an
 * integer out of its type's range, a fraction for an integer type, a decimal with more digits
 * than its precision (after rounding half up to the scale), a wrong JSON kind for the type, or a
 * record that is not a JSON object fails the record with a reason (Firehose's
 * format-conversion-failed). Timestamps: "yyyy-MM-dd HH:mm:ss[.f...]", ISO 8601 with T and an
 * optional Z or +hh:mm offset, or a number of epoch seconds (epoch milliseconds when the Hive
 * SerDe's TimestampFormats lists "millis"). Dates: "yyyy-MM-dd". Not thread-safe; one per writer.
 */
#ifndef HY_PQCONVERT_H
#define HY_PQCONVERT_H

#include <stdbool.h>
#include <stddef.h>

#include "parquet/pqwriter.h"

struct pqconvert_opts {
    bool case_sensitive;            /* OpenX CaseInsensitive=false */
    bool dots_to_underscores;       /* OpenX ConvertDotsInJsonKeysToUnderscores */
    const char *const *map_columns; /* OpenX ColumnToJsonKeyMappings: column -> JSON key */
    const char *const *map_keys;
    size_t nmap;
    bool millis; /* Hive JSON SerDe TimestampFormats holds "millis" */
};

struct pqconvert;

/* Columns as Glue gives them (names, Hive type strings). NULL with err filled on a type that does
 * not parse or is not supported; err names the column. Caller frees with pqconvert_free. */
struct pqconvert *pqconvert_new(const char *const *names, const char *const *types, size_t n,
                                const struct pqconvert_opts *opts, char *err, size_t err_len);
void pqconvert_free(struct pqconvert *c);
/* The writer's column tree; borrowed, valid until pqconvert_free. */
const struct pqwriter_column *pqconvert_columns(const struct pqconvert *c, size_t *n);
/* Convert one JSON record and commit it as a row of w. 0; HY_EBADMSG with *reason (static text)
 * when the record cannot be converted (the row is aborted, w stays usable); or the writer's
 * error. */
int pqconvert_row(struct pqconvert *c, struct pqwriter *w, const char *json, size_t len,
                  const char **reason);

#endif
