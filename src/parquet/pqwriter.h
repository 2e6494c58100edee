/*
 * pqwriter: a streaming Parquet file writer for tables of Hive-typed, nullable columns.
 * Debian packages no Parquet library (Arrow's C++ library is not in bookworm), so the format is
 * written here from ../shared/specs/parquet-writer.md: Thrift compact footer, data page v1 or v2,
 * PLAIN values, RLE/bit-packed definition levels, RLE_DICTIONARY with a PLAIN fallback when the
 * dictionary grows past 1 MiB or does not pay, per-chunk statistics (min, max, null count, NaN
 * count) and UNCOMPRESSED/SNAPPY/GZIP/ZSTD page codecs.
 *
 * Nested columns (list, map, struct) are shredded into leaf columns with definition and
 * repetition levels (Parquet's three-level LIST and MAP layouts).
 *
 * Use: set each column's value for a row (pqwriter_set_*; unset columns are null), then
 * pqwriter_row_end to commit it or pqwriter_row_abort to drop it. Rows are buffered in memory until
 * their estimated plain size reaches block_size; then the row group is written through the
 * caller's write function. Memory is bounded by about one row group. pqwriter_finish writes the
 * last row group and the footer. Not thread-safe; one writer per output object.
 *
 * Physical mapping: boolean BOOLEAN; tinyint/smallint INT32 + INT(8|16); int INT32; bigint INT64;
 * float FLOAT; double DOUBLE; decimal(p,s) INT32 (p<=9), INT64 (p<=18) or FIXED_LEN_BYTE_ARRAY;
 * string BYTE_ARRAY + STRING; binary BYTE_ARRAY; date INT32 + DATE (days since 1970-01-01);
 * timestamp INT64 + TIMESTAMP(MICROS, adjusted to UTC).
 */
#ifndef HY_PQWRITER_H
#define HY_PQWRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pqwriter_type {
    PQWRITER_BOOLEAN,
    PQWRITER_TINYINT,
    PQWRITER_SMALLINT,
    PQWRITER_INT,
    PQWRITER_BIGINT,
    PQWRITER_FLOAT,
    PQWRITER_DOUBLE,
    PQWRITER_DECIMAL,
    PQWRITER_STRING,
    PQWRITER_BINARY,
    PQWRITER_DATE,
    PQWRITER_TIMESTAMP,
    PQWRITER_LIST,   /* children[0]: the element */
    PQWRITER_MAP,    /* children[0]: the key (never null), children[1]: the value */
    PQWRITER_STRUCT, /* children: the fields */
};

/* Parquet CompressionCodec ids. */
enum pqwriter_codec {
    PQWRITER_UNCOMPRESSED = 0,
    PQWRITER_SNAPPY = 1,
    PQWRITER_GZIP = 2,
    PQWRITER_ZSTD = 6,
};

struct pqwriter_column {
    const char *name; /* copied */
    enum pqwriter_type type;
    int precision;                          /* decimal only: 1..38 */
    int scale;                              /* decimal only: 0..precision */
    const struct pqwriter_column *children; /* list, map, struct; names of list/map parts unused */
    size_t nchildren;
};

/* A value for pqwriter_set_value. Lists hold their elements, maps their entries as key, value,
 * key, value..., structs one item per field in schema order. Borrowed until the row ends. */
enum pqwriter_vkind {
    PQWRITER_V_NULL,
    PQWRITER_V_BOOL,
    PQWRITER_V_INT,
    PQWRITER_V_DOUBLE,
    PQWRITER_V_BYTES,
    PQWRITER_V_DECIMAL,
    PQWRITER_V_ITEMS,
};

struct pqwriter_value {
    enum pqwriter_vkind kind;
    bool b;
    int64_t i;
    double d;
    __int128 dec;
    const void *p;
    size_t len; /* bytes: length; items: count */
    const struct pqwriter_value *items;
};

struct pqwriter_opts {
    size_t block_size; /* row group cut, plain bytes; 0 = 256 MiB (Firehose's default) */
    size_t page_size;  /* page cut, plain bytes; 0 = 1 MiB */
    enum pqwriter_codec codec;
    bool dictionary;  /* RLE_DICTIONARY where it pays */
    int page_version; /* 1 or 2; 0 = 1 */
};

/* Output callback: write all len bytes or return a negative HY_E code. */
typedef int (*pqwriter_write_fn)(void *ctx, const void *p, size_t len);

struct pqwriter;

/* NULL on allocation failure or a bad column (decimal precision/scale out of range, no name).
 * Writes the leading magic at the first row group or at finish. Caller frees with pqwriter_free. */
struct pqwriter *pqwriter_new(const struct pqwriter_column *cols, size_t ncols,
                              const struct pqwriter_opts *opts, pqwriter_write_fn fn, void *ctx);
void pqwriter_free(struct pqwriter *w);

/* Stage a value for column col of the current row. HY_EINVAL when the setter does not fit the
 * column type: set_int takes tinyint..bigint (range-checked), date (days) and timestamp (micros);
 * set_double takes float and double; set_bytes takes string and binary (borrowed until row end);
 * set_decimal takes the unscaled value, checked against the precision. */
/* Stage a whole (possibly nested) value for top-level column col; HY_EINVAL when it does not fit
 * the column's type (the column is then null for this row). */
int pqwriter_set_value(struct pqwriter *w, size_t col, const struct pqwriter_value *v);
int pqwriter_set_null(struct pqwriter *w, size_t col);
int pqwriter_set_bool(struct pqwriter *w, size_t col, bool v);
int pqwriter_set_int(struct pqwriter *w, size_t col, int64_t v);
int pqwriter_set_double(struct pqwriter *w, size_t col, double v);
int pqwriter_set_bytes(struct pqwriter *w, size_t col, const void *p, size_t len);
int pqwriter_set_decimal(struct pqwriter *w, size_t col, __int128 unscaled);

/* Commit the staged row (0, or a write/allocation error: the writer is then unusable). */
int pqwriter_row_end(struct pqwriter *w);
/* Forget the staged values. */
void pqwriter_row_abort(struct pqwriter *w);
/* Flush the open row group and write the footer. No row calls after this. */
int pqwriter_finish(struct pqwriter *w);

uint64_t pqwriter_rows(const struct pqwriter *w);
uint64_t pqwriter_row_groups(const struct pqwriter *w);
/* Bytes written so far through the callback. */
uint64_t pqwriter_offset(const struct pqwriter *w);

#endif
